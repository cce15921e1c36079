"""How circus_nb fares when work is shared out: imports whose headers a Dask cluster reads,
and several processes saving and searching on one store.

Run from the repository root, in the environment circus_nb is installed in (with
``distributed``, from the test extra)::

    python benchmarks/share_bench.py [--n 2000] [--repeats 3] [--ops 100]
                                     [--processes 1,2,4] [--section import|saves]
                                     [--json benchmarks/results/share_bench.json]
                                     [--workdir DIR]

Every section runs by default; ``--section`` (repeatable) picks some.

Sections (each a function taking the arguments and returning its measurements):

* import: ``store.import_dicom(folder, mode="reference")`` of ``--n`` synthetic
  512 x 512 CT slices in 5 series (as ``import_bench.py`` writes them), in files/s,
  with the built-in worker pool (``executor=None``) and with a Dask
  ``LocalCluster`` of 2 worker processes of 1 thread each
  (``executor=client.get_executor()``), each run into a fresh store. The files are
  read once before timing (page cache warm); the pool and the cluster are started,
  and each does one untimed import, before timing; runs alternate between the two,
  the median of ``--repeats`` is reported.
* saves: several processes working on one store at once. The store is made first
  with one small imported series (10 slices of 32 x 32), a project and one case per
  process. For each backend (the embedded store, a folder; and PostgreSQL, a
  throw-away server from ``tests/pg_server.py``, skipped when PostgreSQL is not
  installed) and each N of ``--processes``, N worker processes (multiprocessing
  "spawn") each open the store themselves (``Store.open(path_or_url, user=...)``), do
  one untimed search, wait at a barrier, then do ``--ops`` operations alternating
  ``case.save("...")`` on their own case and ``store.search_cases(limit=50)``, each
  timed. Reported: operations per second of all processes together (all operations /
  from the first start to the last end), p50 and p95 of save and of search latency;
  the ops/s ratio is to the 1-process figure of the same backend in the same run.
  One run per backend and N (``--repeats`` does not apply). Then, in one fresh process
  on the embedded store, the cost of the per-operation connection handling of
  ``circus_nb.store.sharing``: median ``case.save``, ``case.history()`` and
  ``store.search_cases()`` latency (a) as the store works now (back-to-back calls),
  (b) with another process that has the store open and idle: before each timed call
  it does one untimed save, so it holds the file (lingering, LINGER = 1 s) and must let
  go of it when this process waits; against a baseline of the same calls with the
  file held open throughout (``sharing.LINGER = 1e9`` in this process: the
  connection never closes when idle). Baseline and (a) alternate call by call; each
  ratio is the median over the baseline median.

The table shows each figure and its ratio (to the built-in pool for imports; as
said for saves); the JSON file
holds every run plus facts about the machine. This is a measurement, not a test:
the exit status does not depend on the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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

import numpy as np
from _report import aligned, machine, print_notes
from import_bench import dicom_files, remove, warm_page_cache, write_data

from circus_nb import Store
from circus_nb.dicom.sample import write_ct_series
from circus_nb.store import sharing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package
from tests.pg_server import PostgresServer, find_bin_dir

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "share_bench.json"
PACKAGES = ("circus-nb", "pydicom", "duckdb", "distributed", "psycopg")
DASK_WORKERS = 2
HEADER = ("measurement", "value", "unit", "ratio")
NOTES = {  # section -> its footnotes, printed when it runs
    "import": (
        "page cache warm: every file was read once before timing started",
        "import: mode='reference', a fresh store per run; the built-in pool and the Dask"
        f" cluster ({DASK_WORKERS} processes x 1 thread) are started and warmed by one untimed"
        " import each; runs alternate; medians",
    ),
    "saves": (
        "saves, 'N processes: ops/s': saves + searches of all N processes per second of wall"
        " time (first start to last end); ratio to 1 process of the same backend",
        "saves, 'save p50/p95', 'search p50/p95': latency of each case.save / search_cases("
        "limit=50) call in those runs, over all processes",
        "saves, 'one process': median latency of one call; 'file held' is the baseline"
        " (sharing.LINGER = 1e9), 'as now' the default handling (back-to-back calls),"
        " 'another process lingering' the same with a second process that takes the file"
        " (one save) before each timed call and must let go of it",
    ),
}
ADMIN = "admin@example.org"
BARRIER_TIMEOUT = 300  # seconds workers wait for each other to be ready


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


# ---------------------------------------------------------------- saves


def make_share_store(target: str | Path, data_dir: Path | None, dicom: Path, uid: str,
                     cases: int) -> list[str]:
    """A store with one imported series, a project and ``cases`` cases; their ids."""
    store = Store.create(target, ADMIN, data_dir=data_dir)
    try:
        store.import_dicom(dicom, mode="reference", progress=False)
        project = store.create_project("Share bench")
        return [store.create_case(project.project_id, [uid]).case_id for _ in range(cases)]
    finally:
        store.close()


def save_worker(path: str, case_id: str, ops: int, barrier, queue) -> None:
    """One worker process: open, wait for the others, alternate save and search."""
    try:
        store = Store.open(path, user=ADMIN)
        try:
            case = store.case(case_id)
            store.search_cases(limit=50)
            barrier.wait(BARRIER_TIMEOUT)
            saves, searches = [], []
            start = time.monotonic()
            for i in range(ops):
                t = time.perf_counter()
                if i % 2 == 0:
                    case.save(f"Share bench save {i}.")
                    saves.append(1000 * (time.perf_counter() - t))
                else:
                    store.search_cases(limit=50)
                    searches.append(1000 * (time.perf_counter() - t))
            end = time.monotonic()
        finally:
            store.close()
        queue.put({"case_id": case_id, "start": start, "end": end, "saves_ms": saves,
                   "searches_ms": searches})
    except Exception as error:  # reported to the parent
        barrier.abort()
        queue.put({"case_id": case_id, "error": repr(error)})


def run_processes(path: str, case_ids: list[str], ops: int) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(len(case_ids)), context.Queue()
    workers = [context.Process(target=save_worker, args=(path, case_id, ops, barrier, queue))
               for case_id in case_ids]
    for worker in workers:
        worker.start()
    try:
        results = [queue.get(timeout=BARRIER_TIMEOUT + 600) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=60)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError(f"worker failed: {errors}")
    return results


def percentile(runs: list[float], q: float) -> float:
    return float(np.percentile(runs, q))


def bench_backend(backend: str, path: str, case_ids: list[str], args: argparse.Namespace
                  ) -> list[dict]:
    rows, single = [], None
    for n in args.processes:
        print(f"saves: {backend}, {n} process{'es' if n > 1 else ''}...", flush=True)
        runs = run_processes(path, case_ids[:n], args.ops)
        seconds = max(r["end"] for r in runs) - min(r["start"] for r in runs)
        rate = n * args.ops / seconds
        single = single if single is not None else (rate if n == 1 else None)
        saves = [ms for r in runs for ms in r["saves_ms"]]
        searches = [ms for r in runs for ms in r["searches_ms"]]
        label = f"{backend}, {n} process{'es' if n > 1 else ''}"
        rows.append({"section": "saves", "measurement": f"{label}: ops/s", "value": rate,
                     "unit": "ops/s", "ratio": None if single is None else rate / single,
                     "against": f"{backend}, 1 process", "processes": n, "seconds": seconds,
                     "runs": runs})
        for what, values in (("save", saves), ("search", searches)):
            if not values:
                continue
            for q in (50, 95):
                rows.append({"section": "saves", "measurement": f"{label}: {what} p{q}",
                             "value": percentile(values, q), "unit": "ms", "ratio": None,
                             "processes": n, "runs": []})
    return rows


def timed_call(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return 1000 * (time.perf_counter() - start)


def idle_worker(path: str, case_id: str, commands) -> None:
    """The other process of (b): on each command, one save (it then holds the file)."""
    store = Store.open(path, user=ADMIN)
    try:
        case = store.case(case_id)
        while commands.recv() == "take":
            case.save("Idle process takes the file.")
            commands.send("held")
    finally:
        store.close()


def cost_worker(path: str, case_id: str, other_id: str, repeats: int, queue) -> None:
    """In one fresh process: per-call latency, file held / as now / another process idle."""
    try:
        default = sharing.LINGER
        store = Store.open(path, user=ADMIN)
        calls: dict[str, Callable[[], object]] = {}
        try:
            case = store.case(case_id)
            calls = {"save": lambda: case.save("Cost bench save."),
                     "history()": case.history,
                     "search_cases()": lambda: store.search_cases(limit=50)}
            runs = {(mode, name): [] for mode in ("held", "now", "other") for name in calls}
            for action in calls.values():  # warm-up
                action()
            for _ in range(repeats):
                for mode, linger in (("held", 1e9), ("now", default)):
                    sharing.LINGER = linger
                    for name, action in calls.items():
                        runs[mode, name].append(timed_call(action))
            sharing.LINGER = default
            context = multiprocessing.get_context("spawn")
            mine, theirs = context.Pipe()
            other = context.Process(target=idle_worker, args=(path, other_id, theirs))
            other.start()
            try:
                for _ in range(repeats):
                    for name, action in calls.items():
                        mine.send("take")
                        if mine.recv() != "held":
                            raise RuntimeError("the idle process did not take the file")
                        runs["other", name].append(timed_call(action))
            finally:
                mine.send("stop")
                other.join(timeout=60)
        finally:
            store.close()
        queue.put({"runs": {f"{mode}|{name}": r for (mode, name), r in runs.items()}})
    except Exception as error:  # reported to the parent
        queue.put({"error": repr(error)})


def bench_cost(path: str, case_id: str, other_id: str, repeats: int) -> list[dict]:
    print("saves: one process, connection handling...", flush=True)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=cost_worker, args=(path, case_id, other_id, repeats, queue))
    worker.start()
    try:
        result = queue.get(timeout=1800)
    finally:
        worker.join(timeout=60)
    if "error" in result:
        raise RuntimeError(f"cost worker failed: {result['error']}")
    runs = result["runs"]
    rows = []
    labels = {"held": "file held (LINGER=1e9), baseline", "now": "as now",
              "other": "another process lingering"}
    for name in ("save", "history()", "search_cases()"):
        held = statistics.median(runs[f"held|{name}"])
        for mode, label in labels.items():
            values = runs[f"{mode}|{name}"]
            value = statistics.median(values)
            rows.append({"section": "saves",
                         "measurement": f"duckdb, one process: {name} median, {label}",
                         "value": value, "unit": "ms",
                         "ratio": None if mode == "held" else value / held,
                         "against": "file held", "runs": values})
    return rows


def bench_saves(args: argparse.Namespace) -> list[dict]:
    """N processes saving and searching on one store, embedded and on PostgreSQL."""
    root = args.root / "saves"
    dicom = root / "dicom"
    uid = write_ct_series(dicom, n=10, size=32).series_uid
    cases = max(args.processes)
    folder = root / "store"
    print("saves: making the embedded store...", flush=True)
    case_ids = make_share_store(folder, None, dicom, uid, cases + 2)
    rows = bench_backend("duckdb", str(folder), case_ids[:cases], args)
    rows += bench_cost(str(folder), case_ids[cases], case_ids[cases + 1],
                       max(args.ops // 2, 20))
    if find_bin_dir() is None:
        print("saves: PostgreSQL is not installed; skipping that backend", flush=True)
        rows.append({"section": "saves", "measurement": "postgresql: not installed, skipped",
                     "value": float("nan"), "unit": "", "ratio": None, "runs": []})
        return rows
    print("saves: starting PostgreSQL...", flush=True)
    with PostgresServer() as url:
        case_ids = make_share_store(url, root / "pg-data", dicom, uid, cases)
        rows += bench_backend("postgresql", url, case_ids, args)
    return rows


SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict]]] = {"import": bench_import,
                                                                   "saves": bench_saves}


def table(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        if "ratio" in row:  # the row says what it compares with
            ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f} x {row['against']}"
        else:
            first = next(r for r in rows if r["section"] == row["section"])
            ratio = (f"{row['value'] / first['value']:.2f} x"
                     f" {first['measurement'].split(' (')[0]}")
        value = "-" if row["value"] != row["value"] else f"{row['value']:.1f}"
        lines.append((f"{row['section']}: {row['measurement']}", value, row["unit"], ratio))
    return aligned(lines, HEADER)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="slices to import (default 2000)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each measurement (default 3)")
    parser.add_argument("--ops", type=int, default=100,
                        help="operations per process in the saves section (default 100)")
    parser.add_argument("--processes", default="1,2,4",
                        help="numbers of processes in the saves section (default 1,2,4)")
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
    if args.ops < 2:
        parser.error("--ops must be at least 2")
    try:
        args.processes = sorted({int(n) for n in args.processes.split(",")})
    except ValueError:
        parser.error("--processes must be numbers separated by commas, like 1,2,4")
    if args.processes[0] < 1:
        parser.error("--processes must be at least 1")
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
    notes = [note for name in sections for note in NOTES[name]]
    print_notes(notes, load)
    data = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": {"n": args.n, "repeats": args.repeats, "sections": sections,
                         "ops": args.ops, "processes": args.processes,
                         "dask_workers": DASK_WORKERS, "load_average_at_start": load},
            "notes": notes, "machine": machine(PACKAGES), "measurements": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"\nResults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
