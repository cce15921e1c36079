"""The ``circus-nb`` console script: a thin shell over the Python API.

    circus-nb demo [--path DIR] [--headless]
    circus-nb info DIR [--user EMAIL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .api import Store
from .demo import add_demo_accounts
from .errors import CircusError

DEFAULT_DEMO_PATH = "circus-nb-demo"


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if (path / "catalog.duckdb").exists():
        print(f"Using the demo store already at {path.resolve()}")
    else:
        with Store.create(path) as store:
            add_demo_accounts(store)
        print(f"Made a demo store at {path.resolve()}")
    with Store.open(path, user="alice@example.org", read_only=True) as store:
        print(store)
        print(store.projects()[["project_id", "name", "tags"]].to_string(index=False))
    print("The sample images and the quickstart notebook are not part of the demo yet;"
          " open the store in Python with cnb.Store.open(path, user='alice@example.org').")
    return 0


def _info(args: argparse.Namespace) -> int:
    with Store.open(args.path, user=args.user, read_only=True) as store:
        print(store)
        print(store.projects()[["project_id", "name", "roles"]].to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="circus-nb", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="make (or reuse) a demo store and show it")
    demo.add_argument("--path", default=DEFAULT_DEMO_PATH,
                      help="store folder (default: %(default)s)")
    demo.add_argument("--headless", action="store_true", help="run without opening JupyterLab")
    demo.set_defaults(run=_demo)
    info = commands.add_parser("info", help="describe a store")
    info.add_argument("path", help="store folder")
    info.add_argument("--user", default="admin@example.org", help="open as (default: %(default)s)")
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
