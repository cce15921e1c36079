"""Every notebook reaches its end under Run All, as a class in JupyterLab sees it.

JupyterLab's Run All stops at the first cell that raises unless that cell carries the
tag ``raises-exception``; nbval honours the tag too, but also a comment marker that
JupyterLab ignores. nbclient with ``allow_errors=False`` stops exactly like Run All, so
these tests run each notebook that way. The kernel gets a temporary folder of its own
(``TMPDIR``), so a notebook that leaves a store behind is caught as well.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TAG = "raises-exception"


def _tagged(cell) -> bool:
    return TAG in cell.metadata.get("tags", [])


def _raised(cell) -> bool:
    return any(output.output_type == "error" for output in cell.get("outputs", []))


def run_all(path: Path, tmp: Path) -> nbformat.NotebookNode:
    """Execute ``path`` top to bottom in a fresh kernel of this Python; stop at an error."""
    nb = nbformat.read(path, as_version=4)
    # No kernel folders: the native kernel is this interpreter, never one found elsewhere.
    kernel = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(
        kernel_dirs=[]))
    env = {**os.environ, "TMPDIR": str(tmp), "MPLBACKEND": "agg"}
    env.pop("CIRCUS_NB_STORE", None)  # the quickstart makes its own store then
    client = NotebookClient(nb, km=kernel, timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return nb


def test_every_notebook_is_found():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07",
                                                  "08"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_run_all_reaches_the_last_cell_and_cleans_up(path, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    nb = run_all(path, tmp)  # raises CellExecutionError at an untagged error
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "a cell did not run"
    stale = [cell.source.splitlines()[0] for cell in code if _tagged(cell) and not _raised(cell)]
    assert stale == [], f"cells tagged {TAG!r} that no longer raise: {stale}"
    left = sorted(p.name for p in tmp.iterdir() if p.name.startswith("circus-nb"))
    assert left == [], f"{path.name} leaves temporary stores behind: {left}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_error_marker_without_the_tag_jupyterlab_honours(path):
    nb = nbformat.read(path, as_version=4)
    untagged = [cell.source.splitlines()[0] for cell in nb.cells
                if "NBVAL_RAISES_EXCEPTION" in cell.source and not _tagged(cell)]
    assert untagged == []
