"""The teaching app: the widgets tour notebook served by Voila as a page of its own.

``circus-nb app`` runs :func:`voila_command` with the variables of
:func:`environment`; the notebook (:data:`TOUR`, shipped with the package) reads them
to find its store: ``CIRCUS_NB_STORE`` (a store folder) and ``CIRCUS_NB_USER``. (Run
without them, in JupyterLab or as a test, the notebook makes a throw-away demo store.)

>>> env = environment("/data/store", "ann@example.org", {"LANG": "C"})
>>> env["CIRCUS_NB_STORE"], env["CIRCUS_NB_USER"], env["LANG"]
('/data/store', 'ann@example.org', 'C')
>>> env["JUPYTER_PATH"] == str(JUPYTER_DIR)  # where Voila finds the template circus-nb
True
>>> voila_command(8866, open_browser=False)[4:]  # after python -m voila NOTEBOOK
['--template=circus-nb', '--strip_sources=True', '--Voila.ip=127.0.0.1', '--port=8866',
 '--Voila.port_retries=0', '--no-browser']
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DEMO_USER", "HOST", "JUPYTER_DIR", "STORE_VARIABLE", "TEMPLATE", "TOUR",
           "USER_VARIABLE", "environment", "free_port", "voila_command"]

#: The widgets tour, shipped as package data (``notebooks/08_widgets_tour.ipynb`` links here).
TOUR = Path(__file__).with_name("widgets_tour.ipynb")
#: A Jupyter data folder holding the Voila template ``circus-nb``: the lab template
#: without the stylesheets it would fetch from a CDN.
JUPYTER_DIR = Path(__file__).with_name("jupyter")
TEMPLATE = "circus-nb"
STORE_VARIABLE = "CIRCUS_NB_STORE"
USER_VARIABLE = "CIRCUS_NB_USER"
#: Whom the tour acts as when nobody says: the demo's reader and writer.
DEMO_USER = "alice@example.org"
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port of ``127.0.0.1`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def environment(store: str, user: str, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` (the app's own environment) with the tour's variables naming ``store``
    and ``user``, and :data:`JUPYTER_DIR` first on ``JUPYTER_PATH``."""
    path = os.pathsep.join(p for p in (str(JUPYTER_DIR), base.get("JUPYTER_PATH")) if p)
    return {**base, STORE_VARIABLE: store, USER_VARIABLE: user, "JUPYTER_PATH": path}


def voila_command(port: int, open_browser: bool = True, notebook: Path = TOUR) -> list[str]:
    """The command that serves ``notebook`` on ``http://127.0.0.1:port/``: outputs only
    (no code cell is sent to the page), and no other port when that one is taken."""
    command = [sys.executable, "-m", "voila", str(notebook), f"--template={TEMPLATE}",
               "--strip_sources=True",
               f"--Voila.ip={HOST}", f"--port={port}", "--Voila.port_retries=0"]
    if not open_browser:
        command.append("--no-browser")
    return command
