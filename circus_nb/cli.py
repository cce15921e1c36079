"""The ``circus-nb`` command: a thin shell over the Python API.

Each subcommand opens a store, calls one or two methods of :class:`circus_nb.Store`
and prints the result. Errors are printed as one ``circus-nb: ...`` line on stderr
with exit status 1; argparse's usage errors exit with 2. Problems that only a shell
user meets (a store folder that is not there, a relative path) are checked here,
before anything starts, so their messages speak of commands rather than of Python.

>>> build_parser().parse_args(["create", "my-store"]).admin
'admin@example.org'
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from . import app
from ._version import __version__
from .api import Store
from .demo import demo_store
from .errors import CircusError, NotFoundError

DEFAULT_DEMO_PATH = "circus-nb-demo"
DEFAULT_NOTEBOOK = "notebooks/01_quickstart.ipynb"
STORE_VARIABLE = app.STORE_VARIABLE
ADMIN = "admin@example.org"
CATALOG = "catalog.duckdb"
DESCRIPTION = """Curate medical-imaging cases from DICOM files: make a store, import
DICOM into it, list and export its cases, open the demo in JupyterLab, or serve the
widgets tour as a teaching app. Every command is a shell over the Python API
(import circus_nb as cnb)."""
EPILOG = """examples:
  circus-nb create my-store
  circus-nb import my-store path/to/dicom archive.zip
  circus-nb cases my-store --tag nodule
  circus-nb export my-store CASE_ID --to cases.zip --format nifti
  circus-nb demo --headless --fresh
  circus-nb app --store my-store --user ann@example.org"""
APP_DESCRIPTION = """Serve the widgets tour (the notebook 08_widgets_tour, shipped with the
package) on http://127.0.0.1:N/ with Voila: its text and widgets, no code. Needs Voila:
pip install "circus-nb[app]"."""


# -- checks that speak of the shell ----------------------------------------------------------


def _store_folder(text: str) -> Path:
    """The folder of an existing store, or a ``NotFoundError`` worded for a shell."""
    path = Path(text)
    if not (path / CATALOG).is_file():
        what = "no such folder" if not path.exists() else f"no {CATALOG} in it"
        raise NotFoundError(f"No store at '{text}' ({what}). Make one with: circus-nb create"
                            f" {text}", field="store", value=text)
    return path


def _open(args: argparse.Namespace, read_only: bool = False) -> Store:
    return Store.open(_store_folder(args.store), user=args.user, read_only=read_only)


# -- the commands ------------------------------------------------------------------------------


def _create(args: argparse.Namespace) -> int:
    with Store.create(args.path, admin=args.admin) as store:
        print(f"Made a store at {store.path}, administered by {store.user}.")
    print(f"Import DICOM into it with: circus-nb import {args.path} PATH...")
    return 0


def _import(args: argparse.Namespace) -> int:
    with _open(args) as store:
        report = store.import_dicom(args.paths, domain=args.domain, mode=args.mode,
                                    progress=not args.quiet)
    print(report)
    problems = report.problems()
    if not problems.empty:
        print(problems[["path", "status", "reason"]].to_string(index=False))
    counts = report.counts
    if counts["imported"] + counts["already_present"] == 0:
        print("circus-nb: no DICOM file was imported.", file=sys.stderr)
        return 1
    refused = len(problems) - counts["not_dicom"]
    if args.strict and refused:
        print(f"circus-nb: {refused} DICOM file(s) were not imported (--strict).",
              file=sys.stderr)
        return 1
    return 0


def _info(args: argparse.Namespace) -> int:
    with _open(args, read_only=True) as store:
        print(store)
        print(store.projects()[["project_id", "name", "roles"]].to_string(index=False))
    return 0


CASE_COLUMNS = ["case_id", "project", "revision", "status", "tags", "updated_at"]


def _cases(args: argparse.Namespace) -> int:
    with _open(args, read_only=True) as store:
        found = store.search_cases(project_id=args.project, tags=args.tag or None,
                                   limit=args.limit)
        projects = store.projects()
    names = dict(zip(projects["project_id"], projects["name"], strict=True))
    if found.empty:
        print("No cases.")
        return 0
    table = found.assign(project=found["project_id"].map(names),
                         tags=[", ".join(tags) for tags in found["tags"]],
                         updated_at=pd.to_datetime(found["updated_at"]).dt.strftime(
                             "%Y-%m-%d %H:%M"))
    print(table[CASE_COLUMNS].to_string(index=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    with _open(args, read_only=True) as store:
        written = store.export_cases(args.case_ids, args.to, format=args.format,
                                     labels=args.labels, archive=args.archive,
                                     revision=args.revision)
    print(f"Wrote {written}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.path).resolve()
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        raise NotFoundError(f"No notebook at {notebook}; run the demo from the repository"
                            " folder or give --notebook PATH.", field="notebook",
                            value=str(notebook))
    fresh = args.fresh or args.headless  # a headless run is a check: it starts known
    print(_prepare_demo_store(path, fresh))
    os.environ[STORE_VARIABLE] = str(path)  # the quickstart opens this store
    if args.headless:
        return _run_headless(notebook, path)
    command = [sys.executable, "-m", "jupyterlab", str(notebook)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root otherwise
    print(f"Opening JupyterLab on {notebook.name} (Ctrl+C stops it)...")
    return subprocess.call(command)


def _prepare_demo_store(path: Path, fresh: bool) -> str:
    """Make the demo store (again, when ``fresh``); say what was done."""
    if (path / CATALOG).exists() and not fresh:
        return (f"Using the demo store already at {path} (add --fresh to start it again"
                " from the sample data).")
    if path.exists() and any(path.iterdir()):
        if not (path / CATALOG).exists():
            raise CircusError(f"'{path}' holds files but no store, so it is not remade. Give"
                              " another --path.", field="path", value=str(path))
        holder = Store.open_elsewhere(path)
        if holder:
            raise CircusError(f"The demo store at '{path}' is in use ({holder} has it open), so"
                              " it is not remade. Close it there first (store.close(), or shut"
                              " the notebook's kernel down).", field="path", value=str(path))
        shutil.rmtree(path)
    demo_store(path).close()
    return f"Made a demo store at {path}"


def _run_headless(notebook: Path, store: Path) -> int:
    done = _execute(notebook, store.parent / f"{notebook.stem}.executed.ipynb")
    with Store.open(store, user="alice@example.org", read_only=True) as opened:
        print(opened)
        print(f"{len(opened.search_cases())} case(s) in the demo project.")
    print(f"Ran {notebook.name} end to end; the executed copy is {done}.")
    print(f"The store is at {store}: cnb.Store.open({str(store)!r}, user='alice@example.org')")
    return 0


def _execute(notebook: Path, out: Path) -> Path:
    """Run every cell of ``notebook`` in a fresh kernel of this Python; stop at an error
    (as JupyterLab's Run All does: cells tagged ``raises-exception`` may fail)."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    # No kernel folders: the native kernel is this interpreter, never one found elsewhere.
    kernel = KernelManager(kernel_name="python3",
                           kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    try:
        NotebookClient(nb, km=kernel, timeout=600,
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    except CellExecutionError as e:
        nbformat.write(nb, out)
        raise CircusError(f"{notebook.name} stopped at an error ({e.ename}: {e.evalue}); the"
                          f" cells run so far are in {out}.", value=str(out)) from None
    nbformat.write(nb, out)
    return out


def _app(args: argparse.Namespace) -> int:
    try:
        import voila  # noqa: F401  (only to know it is there: Voila runs in its own process)
    except ImportError:
        raise CircusError('circus-nb app needs Voila, which is not installed. Install it with:'
                          ' pip install "circus-nb[app]"', field="voila") from None
    if args.store is not None:
        return _serve(args, _store_folder(args.store).resolve(), args.user)
    if args.user != app.DEMO_USER:
        raise CircusError(f"--user names a user of --store; without --store the app opens a"
                          f" fresh demo store as {app.DEMO_USER}. Give --store PATH too.",
                          field="user", value=args.user)
    # a folder of its own: two apps at once do not share (or delete) each other's store
    with tempfile.TemporaryDirectory(prefix="circus-nb-app-", ignore_cleanup_errors=True) as tmp:
        store = Path(tmp) / "demo"
        demo_store(store).close()
        return _serve(args, store, app.DEMO_USER, what="a fresh demo store")


def _serve(args: argparse.Namespace, store: Path, user: str, what: str = "") -> int:
    port = args.port or app.free_port()
    command = app.voila_command(port, open_browser=not args.no_browser)
    print(f"Serving the widgets tour on {what or 'the store'} {store} as {user} at"
          f" http://{app.HOST}:{port}/ (Ctrl+C stops it)...", flush=True)
    # Stopped by a signal (kill, a service manager), end as after Ctrl+C: subprocess.call
    # stops Voila, and the demo store's temporary folder is removed on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return subprocess.call(command, env=app.environment(str(store), user, os.environ))
    except KeyboardInterrupt:
        return 0


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


# -- the parser ----------------------------------------------------------------------------------


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, got {text!r}")
    return int(text)


def _user_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", default=ADMIN,
                        help="the user to act as (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="circus-nb", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"circus-nb {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser("create", help="make a new, empty store")
    create.add_argument("path", help="the store folder to make (new or empty)")
    create.add_argument("--admin", default=ADMIN,
                        help="e-mail of the store's first administrator (default: %(default)s)")
    create.set_defaults(run=_create)

    load = commands.add_parser("import", help="import DICOM files, folders or archives")
    load.add_argument("store", help="the store folder")
    load.add_argument("paths", nargs="+", help="files, folders, .zip or .tar.gz")
    _user_option(load)
    load.add_argument("--domain", default="default",
                      help="the domain of new series (default: %(default)s)")
    load.add_argument("--mode", choices=["copy", "reference"], default="copy",
                      help="copy files into the store, or record where they are"
                           " (default: %(default)s)")
    load.add_argument("--strict", action="store_true",
                      help="exit with status 1 when any DICOM file was not imported")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(run=_import)

    info = commands.add_parser("info", help="describe a store and its projects")
    info.add_argument("store", help="the store folder")
    _user_option(info)
    info.set_defaults(run=_info)

    cases = commands.add_parser("cases", help="list the cases the user can read")
    cases.add_argument("store", help="the store folder")
    _user_option(cases)
    cases.add_argument("--project", help="only this project id")
    cases.add_argument("--tag", action="append",
                       help="only cases with this tag (repeat for several: all must match)")
    cases.add_argument("--limit", type=int, default=200,
                       help="at most this many cases, newest first (default: %(default)s)")
    cases.set_defaults(run=_cases)

    export = commands.add_parser("export", help="export cases as volumes and labels")
    export.add_argument("store", help="the store folder")
    export.add_argument("case_ids", nargs="+", metavar="CASE_ID", help="the cases to export")
    export.add_argument("--to", required=True,
                        help="the archive to write, or an existing folder to write it in")
    _user_option(export)
    export.add_argument("--format", choices=["mhd", "nifti"], default="mhd",
                        help="volume format (default: %(default)s)")
    export.add_argument("--labels", choices=["isolated", "combined"], default="isolated",
                        help="one file per voxel label, or one for all (default: %(default)s)")
    export.add_argument("--archive", choices=["zip", "tar.gz"], default="zip",
                        help="archive type (default: %(default)s)")
    export.add_argument("--revision", type=int,
                        help="export this revision of every case (default: the latest)")
    export.set_defaults(run=_export)

    demo = commands.add_parser("demo", help="make the demo store and open it in JupyterLab")
    demo.add_argument("--path", default=DEFAULT_DEMO_PATH,
                      help="the demo store folder (default: %(default)s)")
    demo.add_argument("--fresh", action="store_true",
                      help="make the demo store again from the sample data")
    demo.add_argument("--headless", action="store_true",
                      help="run the quickstart notebook in a fresh demo store instead of"
                           " opening JupyterLab")
    demo.add_argument("--notebook", default=DEFAULT_NOTEBOOK,
                      help="the notebook to open or run (default: %(default)s)")
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("app", help="serve the widgets tour as a teaching app (Voila:"
                                            " a page of widgets, no code shown)",
                                description=APP_DESCRIPTION)
    serve.add_argument("--store", metavar="PATH",
                       help="a store folder to open (default: a fresh demo store in a"
                            " temporary folder, deleted when the app stops)")
    serve.add_argument("--user", default=app.DEMO_USER, metavar="EMAIL",
                       help="the user to act as in --store (default: %(default)s)")
    serve.add_argument("--port", type=_port, metavar="N", help="the port of http://127.0.0.1:N/"
                                                  " (default: a free one)")
    serve.add_argument("--no-browser", action="store_true",
                       help="print the address only; open no browser")
    serve.set_defaults(run=_app)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CircusError as e:
        print(f"circus-nb: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
