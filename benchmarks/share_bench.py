"""How circus_nb fares when work is shared out: imports whose headers a Dask cluster reads.

Run from the repository root, in the environment circus_nb is installed in (with
``distributed``, from the test extra)::

    python benchmarks/share_bench.py [--n 2000] [--repeats 3] [--section import]
                                     [--json benchmarks/results/share_bench.json]
                                     [--workdir DIR]

Sections (each a function taking the arguments and returning its measurements):

* import: ``store.import_dicom(folder, mode="reference")`` of ``--n`` synthetic
  512 x 512 CT slices in 5 series (as ``import_bench.py`` writes them), in files/s,
  with the built-in worker pool (``executor=None``) and with a Dask
  ``LocalCluster`` of 2 worker processes of 1 thread each
  (``executor=client.get_executor()``), each run into a fresh store. The files are
  read once before timing (page cache warm); the pool and the cluster are started,
  and each does one untimed import, before timing; runs alternate between the two,
  the median of ``--repeats`` is reported.

The table shows each figure and its ratio to the built-in pool; the JSON file
holds every run plus facts about the machine. This is a measurement, not a test:
the exit status does not depend on the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path

from _report import aligned, machine, print_notes
from import_bench import dicom_files, remove, warm_page_cache, write_data

from circus_nb import Store

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "share_bench.json"
PACKAGES = ("circus-nb", "pydicom", "duckdb", "distributed")
DASK_WORKERS = 2
HEADER = ("measurement", "value", "unit", "ratio")
NOTES = (
    "page cache warm: every file was read once before timing started",
    "import: mode='reference', a fresh store per run; the built-in pool and the Dask"
    f" cluster ({DASK_WORKERS} processes x 1 thread) are started and warmed by one untimed"
    " import each; runs alternate; medians",
)


def import_once(folder: Path, scratch: Path, files: int, executor: Executor | None) -> float:
    target = scratch / "store-import"
    store = Store.create(target)
    try:
        start = time.perf_counter()
        report = store.import_dicom(folder, mode="reference", progress=False,
                                    executor=executor)
        seconds = time.perf_counter() - start
    finally:
        store.close()
    if report.counts["imported"] != files:
        raise RuntimeError(f"expected {files} imported files, got {report.counts}")
    remove(target)
    return seconds


def bench_import(args: argparse.Namespace) -> list[dict]:
    """Import throughput: the built-in worker pool against a Dask LocalCluster."""
    import distributed

    root = args.root / "import"
    print(f"import: writing {args.n} slices...", flush=True)
    folder = write_data(root, args.n)[0]
    paths = dicom_files(folder)
    warm_page_cache(paths)
    scratch = root / "scratch"
    scratch.mkdir(exist_ok=True)
    files = len(paths)
    with distributed.LocalCluster(n_workers=DASK_WORKERS, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = client.get_executor()
        actions: dict[str, Callable[[], float]] = {
            "built-in worker pool (executor=None)": lambda: import_once(folder, scratch, files,
                                                                        None),
            f"Dask LocalCluster, {DASK_WORKERS} workers": lambda: import_once(
                folder, scratch, files, dask),
        }
        print("import: warming up...", flush=True)
        for action in actions.values():
            action()
        runs: dict[str, list[float]] = {label: [] for label in actions}
        for k in range(args.repeats):
            print(f"import: round {k + 1} of {args.repeats}...", flush=True)
            for label, action in actions.items():
                runs[label].append(action())
    return [{"section": "import", "measurement": label, "value": files / statistics.median(r),
             "unit": "files/s", "runs": r, "files": files} for label, r in runs.items()]


SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict]]] = {"import": bench_import}


def table(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        first = next(r for r in rows if r["section"] == row["section"])
        ratio = row["value"] / first["value"]
        lines.append((f"{row['section']}: {row['measurement']}", f"{row['value']:.1f}",
                      row["unit"], f"{ratio:.2f} x {first['measurement'].split(' (')[0]}"))
    return aligned(lines, HEADER)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="slices to import (default 2000)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each measurement (default 3)")
    parser.add_argument("--section", action="append", choices=list(SECTIONS),
                        help="a section to run (repeatable; default: every section)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON,
                        help="JSON results file (default benchmarks/results/share_bench.json)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the generated files here (default: a temporary folder,"
                        " deleted at the end)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    sections = args.section or list(SECTIONS)
    load = os.getloadavg()
    args.root = args.workdir or Path(tempfile.mkdtemp(prefix="circus-nb-share-bench-"))
    args.root.mkdir(parents=True, exist_ok=True)
    try:
        rows = [row for name in sections for row in SECTIONS[name](args)]
    finally:
        if args.workdir is None:
            shutil.rmtree(args.root, ignore_errors=True)
    print()
    print(table(rows))
    print()
    print_notes(NOTES, load)
    data = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": {"n": args.n, "repeats": args.repeats, "sections": sections,
                         "dask_workers": DASK_WORKERS, "load_average_at_start": load},
            "notes": list(NOTES), "machine": machine(PACKAGES), "measurements": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"\nResults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
