"""End-to-end fixtures: a demo store, notebooks, a JupyterLab server and headless Chromium.

The tests skip (with the reason) only when Chromium or Playwright is missing; with the
environment variable ``CI`` set they fail instead, so CI never skips them silently.
``scripts/test.sh`` installs both.

Screenshots (the ``screenshot`` fixture) go to the test's own temporary folder; with
``CIRCUS_NB_SCREENSHOTS=1`` they refresh ``docs/screenshots/`` (the README's pictures).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

import circus_nb as cnb

USER = "alice@example.org"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SETTINGS = {  # no news toast, no kernel dialog
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
}
SERVER_START_TIMEOUT = 60  # seconds
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives JupyterLab in headless Chromium")


def find_chromium() -> str | None:
    """``$CHROMIUM``, else ``chromium`` (or ``chromium-browser``) on the PATH or in /usr/bin."""
    candidates = [os.environ.get("CHROMIUM"), shutil.which("chromium"),
                  shutil.which("chromium-browser"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


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
    write_notebook(notebooks / "browse_and_import.ipynb", [
        *OPEN_STORE,
        "browser = SeriesBrowser(store, page_size=2); browser",
        "panel = ImportPanel(store); panel"])
    yield Workspace(root, store_path, case_id, ct_case_id, to_import)
    shutil.rmtree(root, ignore_errors=True)


# -- the JupyterLab server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    log: Path

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def notebook_url(self, name: str) -> str:
        # a workspace of its own: only this notebook, not the tabs of an earlier test
        return (f"{self.url}/lab/workspaces/{Path(name).stem}/tree/{name}"
                f"?token={self.token}")

    def kernel_connected(self) -> bool:
        """Whether one kernel runs, idle, with a browser connected to it."""
        try:
            kernels = self.api("GET", "kernels")
        except urllib.error.HTTPError:  # a kernel still starting can make the list fail
            return False
        return (len(kernels) == 1 and kernels[0]["connections"] > 0
                and kernels[0]["execution_state"] == "idle")

    def shutdown_kernels(self) -> None:
        """Shut every session and kernel down; their processes have ended on return."""
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")
        for kernel in self.api("GET", "kernels"):
            self.api("DELETE", f"kernels/{kernel['id']}")
        assert self.api("GET", "kernels") == []


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(workspace) -> Iterator[Server]:
    """A fresh JupyterLab (its own config, data and runtime folders) on a free port."""
    home = workspace.root / "jupyter"
    settings = home / "app-settings"
    settings.mkdir(parents=True)
    (settings / "overrides.json").write_text(json.dumps(SETTINGS))
    env = dict(os.environ)
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                      ("MPLCONFIGDIR", "mpl"), ("JUPYTERLAB_SETTINGS_DIR", "user-settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")]:
        env[name] = str(home / sub)
    env.pop("JUPYTER_PATH", None)
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={workspace.store.parent}",
               f"--LabApp.app_settings_dir={settings}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=workspace.store.parent)
    server = Server(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({process.returncode}):\n"
                                   + log.read_text()[-3000:])
            try:
                server.api("GET", "status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not answer:\n"
                                       + log.read_text()[-3000:]) from None
                time.sleep(0.25)
        yield server
    finally:
        _stop(process)


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
