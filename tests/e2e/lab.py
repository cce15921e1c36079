"""A JupyterLab server and headless Chromium for the end-to-end tests and the browser
benchmark: no fixtures here, so a script can use them too."""

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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SETTINGS = {  # no news toast, no kernel dialog
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
}
SERVER_START_TIMEOUT = 60  # seconds


def find_chromium() -> str | None:
    """``$CHROMIUM``, else ``chromium`` (or ``chromium-browser``) on the PATH or in /usr/bin."""
    candidates = [os.environ.get("CHROMIUM"), shutil.which("chromium"),
                  shutil.which("chromium-browser"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def free_port() -> int:
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
        """Whether the kernels run (one per open notebook), idle, each with a browser
        connected to it."""
        try:
            kernels = self.api("GET", "kernels")
        except urllib.error.HTTPError:  # a kernel still starting can make the list fail
            return False
        return bool(kernels) and all(k["connections"] > 0 and k["execution_state"] == "idle"
                                     for k in kernels)

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


def jupyter_environment(home: Path) -> dict[str, str]:
    """This process's environment with Jupyter's config, data and runtime folders (and
    IPython's, matplotlib's) in ``home``: a server started with it finds nothing of the
    machine's own settings."""
    env = dict(os.environ)
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                      ("MPLCONFIGDIR", "mpl"), ("JUPYTERLAB_SETTINGS_DIR", "user-settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")]:
        env[name] = str(home / sub)
    env.pop("JUPYTER_PATH", None)
    return env


@contextmanager
def jupyterlab(root_dir: Path, home: Path) -> Iterator[Server]:
    """A fresh JupyterLab serving ``root_dir`` on a free port, its own config, data and
    runtime folders in ``home``; stopped on exit."""
    settings = home / "app-settings"
    settings.mkdir(parents=True)
    (settings / "overrides.json").write_text(json.dumps(SETTINGS))
    env = jupyter_environment(home)
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root_dir}",
               f"--LabApp.app_settings_dir={settings}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=root_dir)
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
