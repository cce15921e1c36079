"""Notebook 07_datasets under JupyterLab's own Run All, in headless Chromium.

nbval and tests/test_notebooks.py run it through a kernel alone; here the progress bars
are real ipywidgets in a real page (a bar's redraw once corrupted a dataset's hashes),
the deliberate error must stop nothing, and every cell must run.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from .test_jupyterlab import run_notebook

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "07_datasets.ipynb"


def test_run_all_reaches_the_end_with_its_bars_drawn(page, expect, server, workspace,
                                                     screenshot):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, workspace.store.parent / "07_datasets.ipynb")
    run_notebook(page, server, "07_datasets.ipynb")
    last = page.locator(".jp-CodeCell").last.locator(".jp-InputArea-prompt")
    expect(last).to_have_text(re.compile(r"\[\d+\]"), timeout=240_000)  # Run All got there
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                          ":has-text('CircusError')")
    expect(errors).to_have_count(1)  # the one tagged raises-exception
    errors.first.scroll_into_view_if_needed()  # the notebook draws only the cells in view
    # The overwritten copy is named: by its time when written 2 s or more after the
    # import, else by its content hash (a copy's clock has that slack: domain/series.py).
    text = errors.first.text_content()
    assert "no longer matches the store" in text and "(image 6 of series" in text, text
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    bar = page.locator(".widget-hbox:has(.widget-hprogress)").filter(
        has_text="Hashing image files").first
    bar.scroll_into_view_if_needed()
    expect(bar).to_contain_text("150/150")
    dataset = page.locator(".jp-OutputArea-output").filter(has_text="fingerprint").first
    dataset.scroll_into_view_if_needed()
    screenshot(dataset, "dataset_notebook.png")
