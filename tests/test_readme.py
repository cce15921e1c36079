"""Every example of the README runs as written.

Python blocks run top to bottom in a fresh namespace, in a temporary folder that holds
the sample studies where a block names ``path/to/dicom``. A comment that starts with a
value (``# (60, 256, 256), head to feet``) is a claim, and it is checked. The
``circus-nb`` lines of the shell blocks run too.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.cli import main
from circus_nb.dicom.sample import write_sample_studies

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def claimed(comment: str, namespace: dict) -> tuple[bool, object]:
    """``(True, value)`` when the comment starts with a Python value, else ``(False, None)``.

    >>> claimed("(60, 256, 256), head to feet", {})
    (True, (60, 256, 256))
    >>> claimed("every save is a revision", {})
    (False, None)
    """
    for end in range(len(comment), 0, -1):
        head = comment[:end]
        if not head.endswith((")", "]", "}", "'")):
            continue
        try:
            return True, eval(head, dict(namespace))  # README text, written by us
        except Exception:
            continue
    return False, None


def run_block(source: str) -> dict:
    """Run ``source`` statement by statement, checking each value a comment claims."""
    namespace: dict = {}
    lines = source.splitlines()
    for statement in ast.parse(source).body:
        code = ast.get_source_segment(source, statement)
        last = lines[statement.end_lineno - 1]
        comment = last.split("  # ", 1)[1].strip() if "  # " in last else ""
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), "README", "eval"), namespace)
            is_claim, expected = claimed(comment, {**namespace, **vars(cnb)})
            if is_claim:
                assert value == expected, f"README says {code} gives {expected!r}, not {value!r}"
        else:
            exec(compile(ast.Module([statement], []), "README", "exec"), namespace)
    return namespace


@pytest.fixture
def in_user_folder(tmp_path, monkeypatch):
    """A current folder with DICOM files at ``path/to/dicom``, as the README assumes."""
    write_sample_studies(tmp_path / "path" / "to" / "dicom", seed=0, ct_size=64)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_has_its_examples():
    assert len(blocks("python")) == 6
    assert any("circus-nb" in block for block in blocks("bash"))


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_block_runs_as_written(index, in_user_folder):
    namespace = run_block(blocks("python")[index])
    for value in namespace.values():  # leave nothing open behind
        if isinstance(value, cnb.Store):
            value.close()


def test_readme_claims_are_checked():
    with pytest.raises(AssertionError, match="README says 1 \\+ 1 gives 3"):
        run_block("1 + 1  # (3), wrong on purpose\n")


def test_shell_examples_run_as_written(in_user_folder, capsys):
    commands = [shlex.split(line.split("  #")[0]) for block in blocks("bash")
                for line in block.splitlines() if line.startswith("circus-nb ")]
    assert [c[1] for c in commands] == ["create", "import", "cases", "export"]
    case_id = None
    for argv in commands:
        if "CASE_ID" in argv:
            argv = [case_id if a == "CASE_ID" else a for a in argv]
        assert main(argv[1:]) == 0, capsys.readouterr().err
        if argv[1] == "import":  # make a case for the export line to use
            with cnb.Store.open(argv[2], user="admin@example.org") as store:
                project = store.create_project("README", tags=["nodule"])
                uid = store.search_series()["series_uid"][0]
                case_id = store.create_case(project.project_id, [uid],
                                            tags=["nodule"]).case_id
    assert Path("case.zip").is_file()
