"""The ``circus-nb`` console script: a thin shell over the Python API.

    circus-nb demo [--path DIR] [--headless] [--notebook PATH]
    circus-nb import STORE PATH... [--user EMAIL] [--domain NAME] [--mode copy|reference]
    circus-nb info STORE [--user EMAIL]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .api import Store
from .demo import demo_store
from .errors import CircusError

DEFAULT_DEMO_PATH = "circus-nb-demo"
DEFAULT_NOTEBOOK = "notebooks/01_quickstart.ipynb"
STORE_VARIABLE = "CIRCUS_NB_STORE"
ADMIN = "admin@example.org"


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.path).resolve()
    if (path / "catalog.duckdb").exists():
        print(f"Using the demo store already at {path}")
    else:
        demo_store(path).close()
        print(f"Made a demo store at {path}")
    notebook = Path(args.notebook).resolve()
    os.environ[STORE_VARIABLE] = str(path)  # the quickstart opens this store
    if args.headless:
        done = _execute(notebook, path / f"{notebook.stem}.executed.ipynb")
        with Store.open(path, user="alice@example.org", read_only=True) as store:
            print(store)
            print(f"{len(store.search_cases())} case(s) in the demo project.")
        print(f"Ran {notebook.name} end to end; the executed copy is {done}.")
        print(f"The store is at {path}: cnb.Store.open({str(path)!r}, user='alice@example.org')")
        return 0
    command = [sys.executable, "-m", "jupyterlab", str(notebook)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root otherwise
    print(f"Opening JupyterLab on {notebook.name} (Ctrl+C stops it)...")
    return subprocess.call(command)


def _execute(notebook: Path, out: Path) -> Path:
    """Run every cell of ``notebook`` in a fresh kernel; stop at the first error."""
    import nbformat
    from nbclient import NotebookClient

    if not notebook.is_file():
        raise CircusError(f"No notebook at {notebook}; run the demo from the repository"
                          " folder or give --notebook PATH.")
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    nbformat.write(nb, out)
    return out


def _import(args: argparse.Namespace) -> int:
    with Store.open(args.store, user=args.user) as store:
        report = store.import_dicom(args.paths, domain=args.domain, mode=args.mode,
                                    progress=not args.quiet)
    print(report)
    problems = report.problems()
    if not problems.empty:
        print(problems[["path", "status", "reason"]].to_string(index=False))
    return 0


def _info(args: argparse.Namespace) -> int:
    with Store.open(args.store, user=args.user, read_only=True) as store:
        print(store)
        print(store.projects()[["project_id", "name", "roles"]].to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="circus-nb", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="make (or reuse) the demo store and show it")
    demo.add_argument("--path", default=DEFAULT_DEMO_PATH,
                      help="store folder (default: %(default)s)")
    demo.add_argument("--headless", action="store_true",
                      help="execute the quickstart notebook instead of opening JupyterLab")
    demo.add_argument("--notebook", default=DEFAULT_NOTEBOOK,
                      help="the notebook to open or run (default: %(default)s)")
    demo.set_defaults(run=_demo)
    load = commands.add_parser("import", help="import DICOM files, folders or archives")
    load.add_argument("store", help="store folder")
    load.add_argument("paths", nargs="+", help="files, folders, .zip or .tar.gz")
    load.add_argument("--user", default=ADMIN, help="import as (default: %(default)s)")
    load.add_argument("--domain", default="default", help="domain (default: %(default)s)")
    load.add_argument("--mode", choices=["copy", "reference"], default="copy")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(run=_import)
    info = commands.add_parser("info", help="describe a store")
    info.add_argument("store", help="store folder")
    info.add_argument("--user", default=ADMIN, help="open as (default: %(default)s)")
    info.set_defaults(run=_info)
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
