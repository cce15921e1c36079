"""End-to-end fixtures: a demo store, notebooks, a JupyterLab server and headless Chromium.

The tests skip (with the reason) only when Chromium or Playwright is missing; with the
environment variable ``CI`` set they fail instead, so CI never skips them silently.
``scripts/test.sh`` installs both.

Screenshots (the ``screenshot`` fixture) go to the test's own temporary folder; with
``CIRCUS_NB_SCREENSHOTS=1`` they refresh ``docs/screenshots/`` (the README's pictures).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

import circus_nb as cnb

from .lab import CHROMIUM_ARGS, Server, find_chromium, jupyterlab

USER = "alice@example.org"
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives JupyterLab in headless Chromium")


def missing_requirement() -> str | None:
    """Why the end-to-end tests cannot run here, or ``None`` when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; the test extra has it)"
    if find_chromium() is None:
        return ("Chromium is not installed (apt-get install chromium, or set $CHROMIUM;"
                " scripts/test.sh installs it when run as root)")
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    reason = missing_requirement()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so the end-to-end tests must run, but {reason}")
        pytest.skip(reason)
    return find_chromium()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True,
                                     args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def expect(chromium_path):
    """Playwright's ``expect`` (imported here: without playwright, the tests skip)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    return expect


# -- the store and the notebooks --------------------------------------------------------------


def write_notebook(path: Path, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def screenshot_folder(own: Path, environ: dict[str, str] | None = None) -> Path:
    """Where a test's screenshots go: ``docs/screenshots/`` when
    ``CIRCUS_NB_SCREENSHOTS=1``, else ``own`` (the test's temporary folder), so a test run
    leaves the working tree and the shared temporary folder alone."""
    environ = os.environ if environ is None else environ
    return DOCS_SCREENSHOTS if environ.get("CIRCUS_NB_SCREENSHOTS") == "1" else own


@pytest.fixture
def screenshot(tmp_path):
    """``screenshot(locator, name)`` saves a picture of ``locator`` and returns its path."""
    folder = screenshot_folder(tmp_path / "screenshots")

    def take(locator, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        locator.screenshot(path=folder / name)
        return folder / name

    return take


OPEN_STORE = ["import circus_nb as cnb",
              "from circus_nb.widgets import CaseEditor, CaseViewer, ImportPanel,"
              " NewCaseForm, SeriesBrowser",
              f'store = cnb.Store.open("store", user="{USER}")']


@dataclass
class Workspace:
    root: Path
    store: Path
    case_id: str  # a case made before the server starts, for the CaseEditor test
    ct_case_id: str  # a case of the demo's lung CT, for the CaseViewer test
    to_import: Path  # a folder of 4 DICOM files and a readme, for the ImportPanel test

    def open_store(self) -> cnb.Store:
        """The store, read only (only once every kernel holding it has been shut down)."""
        deadline = time.monotonic() + 15
        while True:
            try:
                return cnb.Store.open(self.store, user=USER, read_only=True)
            except Exception:  # still locked by a kernel on its way out
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory, chromium_path) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("e2e")
    store_path = root / "notebooks" / "store"
    store_path.parent.mkdir()
    cnb.demo_store(store_path).close()  # one process at a time may hold the store
    with cnb.Store.open(store_path, user=USER) as store:
        project_id = store.projects(role="write")["project_id"][0]
        uid = store.search_series(description="localizer")["series_uid"][0]
        case_id = store.create_case(project_id, [uid]).case_id
        ct_uid = store.search_series(description="lung")["series_uid"][0]
        ct_case_id = store.create_case(project_id, [ct_uid]).case_id
    notebooks = store_path.parent
    write_notebook(notebooks / "new_case.ipynb", [
        *OPEN_STORE,
        'uid = store.search_series(description="localizer")["series_uid"][0]',
        "form = NewCaseForm(store, uid); form"])
    write_notebook(notebooks / "case_editor.ipynb", [
        *OPEN_STORE,
        f'editor = CaseEditor(store, "{case_id}"); editor'])
    write_notebook(notebooks / "case_viewer.ipynb", [
        *OPEN_STORE,
        f'viewer = CaseViewer(store, "{ct_case_id}"); viewer'])
    to_import = root / "to_import"
    cnb.sample.write_ct_series(to_import, n=4, size=16, description="Imported in the browser")
    (to_import / "readme.txt").write_text("Notes that came with the images.")
    write_notebook(notebooks / "series_browser.ipynb", [  # a demo store of its own
        "import circus_nb as cnb",
        "from circus_nb.widgets import SeriesBrowser",
        "demo = cnb.demo_store()",
        "browser = SeriesBrowser(demo); browser"])
    write_notebook(notebooks / "browse_and_import.ipynb", [
        *OPEN_STORE,
        "browser = SeriesBrowser(store, page_size=2); browser",
        "panel = ImportPanel(store); panel"])
    yield Workspace(root, store_path, case_id, ct_case_id, to_import)
    shutil.rmtree(root, ignore_errors=True)


# -- the JupyterLab server ------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(workspace) -> Iterator[Server]:
    """A fresh JupyterLab (its own config, data and runtime folders) on a free port."""
    with jupyterlab(workspace.store.parent, workspace.root / "jupyter") as lab:
        yield lab


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture
def page(request, browser, server, tmp_path_factory):
    """A new browser page; every kernel is shut down afterwards (they hold the store).

    When the test fails, the page (screenshot, HTML) and the server log are kept in
    ``<pytest's basetemp>/e2e-failures/<test>``.
    """
    context = browser.new_context(viewport={"width": 1700, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        if getattr(request.node, "e2e_failed", False):
            keep = tmp_path_factory.getbasetemp() / "e2e-failures" / request.node.name
            keep.mkdir(parents=True, exist_ok=True)
            if not page.is_closed():
                page.screenshot(path=keep / "page.png", full_page=True)
                (keep / "page.html").write_text(page.content())
            shutil.copy(server.log, keep / "server.log")
            print(f"The failed page and the server log are in {keep}")
        context.close()
        server.shutdown_kernels()
