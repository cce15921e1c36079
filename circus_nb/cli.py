"""The ``circus-nb`` console script: a thin shell over the Python API.

    circus-nb demo [--path DIR] [--headless]
    circus-nb import STORE PATH... [--user EMAIL] [--domain NAME] [--mode copy|reference]
    circus-nb info STORE [--user EMAIL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .api import Store
from .demo import demo_store
from .errors import CircusError

DEFAULT_DEMO_PATH = "circus-nb-demo"
ADMIN = "admin@example.org"


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if (path / "catalog.duckdb").exists():
        print(f"Using the demo store already at {path.resolve()}")
    else:
        demo_store(path).close()
        print(f"Made a demo store at {path.resolve()}")
    with Store.open(path, user="alice@example.org", read_only=True) as store:
        print(store)
        columns = ["modality", "series_description", "images", "series_date"]
        print(store.search_series()[columns].to_string(index=False))
    print("Open it in Python: cnb.Store.open(path, user='alice@example.org').")
    return 0


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
    demo.add_argument("--headless", action="store_true", help="run without opening JupyterLab")
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
