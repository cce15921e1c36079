"""How fast circus_nb imports DICOM, builds volumes and serves thumbnails, next to baselines.

Run from the repository root, in the environment circus_nb is installed in::

    python benchmarks/import_bench.py [--n 2000] [--out benchmarks/results/import_bench.json]
                                      [--workdir DIR]

The script writes ``--n`` synthetic 512 x 512 CT slices, split into 5 series (each its
own study and description), into a work folder: a temporary one deleted at the end,
or ``--workdir``, which keeps the generated files (the copies made while measuring
are always deleted). Every file is read once more before timing starts, so all
measurements run with the files in the page cache. Then, in one run, on those files:

* import: ``store.import_dicom(folder, mode=...)`` with ``mode="reference"`` and
  ``mode="copy"``, each into a fresh store, in files/s (the package's own worker
  pool starts during the first import, which the median of 3 runs leaves out);
* the first import in a fresh process: a new Python process imports circus_nb,
  creates a store and times its first ``import_dicom(folder, mode="reference")``,
  worker start included (Python's start and imports are not timed), against the
  steady ``mode="reference"`` figure of the same run;
* baselines, in files/s: a naive loop (one process, ``pydicom.dcmread`` and one
  DuckDB ``INSERT`` per file, as a user would write it); the parsing ceiling (a
  2-process pool mapping ``dcmread(path, stop_before_pixels=True)`` over the files
  in chunks, doing nothing else; the pool is started with a trivial task before
  timing, so its start-up is excluded); a plain ``shutil.copytree`` of the folder;
* volume: ``series.volume(PartialVolume(1, 300, 1))`` against a loop of
  ``pydicom.dcmread(p).pixel_array`` plus ``np.stack`` over the same 300 files
  (median of 5 runs each; the series is imported in reference mode, so both read
  the same files);
* thumbnails: ``series.thumbnail(n, 128)`` for 50 instances fills the cache, then
  200 cached fetches are timed one by one (median and 95th percentile).

Imports and baselines run 3 times each (a fresh store or target each time), in
rounds that run every one of them once, so a slow spell of the machine or its disk
hits them all alike; the median is reported. ``os.sync()`` follows each run, outside
the timing. Other busy processes skew the figures: the load average is recorded.
The table compares each figure with its target and says PASS or FAIL; the JSON file
holds every run, ratio and target plus facts about the machine. A failed target
does not change the exit status: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pydicom
from _report import aligned, machine, print_notes, print_verdict_and_save

from circus_nb import PartialVolume, Store
from circus_nb.api.series import Series
from circus_nb.dicom.sample import write_ct_series

SERIES = 5
SLICE_SIZE = 512
REPEATS = 3
VOLUME_SLICES = 300
VOLUME_REPEATS = 5
THUMBNAIL_SIZE = 128
THUMBNAIL_INSTANCES = 50
THUMBNAIL_FETCHES = 200
CEILING_WORKERS = 2
CEILING_CHUNKSIZE = 32
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "import_bench.json"
PACKAGES = ("circus-nb", "pydicom", "duckdb", "numpy")
IMPORT_LABELS = {
    "import_reference": "import_dicom mode=reference",
    "import_first_call": "first import_dicom in a fresh process, mode=reference",
    "import_copy": "import_dicom mode=copy",
    "naive_loop": "naive loop: dcmread + INSERT per file",
    "parse_ceiling": f"parse ceiling: {CEILING_WORKERS} processes, headers only",
    "copytree": "shutil.copytree",
}
NOTES = (
    "page cache warm: every file was read once before timing started",
    "import: the package's worker pool starts during the first import run (median of 3)",
    "first import in a fresh process: a subprocess per run, only its first import_dicom"
    " call timed (worker start included, Python start and imports excluded)",
    f"parse ceiling: {CEILING_WORKERS}-process pool, chunked map of dcmread(path,"
    " stop_before_pixels=True); pool start-up excluded (warmed with a trivial task)",
    "imports and baselines run in 3 rounds of one run each; medians;"
    " os.sync() after each run, outside the timing",
)


@dataclass(frozen=True)
class Measurement:
    label: str
    value: float
    unit: str  # "files/s" (higher is better), "s" or "ms" (lower is better)
    runs: list[float]  # seconds per run, or ms per fetch for thumbnails


@dataclass(frozen=True)
class Target:
    measurement: str
    baseline: str | None  # None: the value itself must stay below the threshold
    threshold: float


TARGETS = (
    Target("import_reference", "parse_ceiling", 0.70),
    Target("import_first_call", "import_reference", 0.50),
    Target("import_reference", "naive_loop", 3.0),
    Target("import_copy", "copytree", 0.60),
    Target("volume", "volume_plain_loop", 0.70),
    Target("thumbnail_cached_median", None, 5.0),
)


# ---------------------------------------------------------------- data


def write_data(root: Path, n: int) -> tuple[Path, Path, str]:
    """The import folder (``n`` slices in up to 5 series), the folder of a series of at
    least 300 slices, and that series' UID."""
    imports = root / "dicom"
    sizes = [size for i in range(SERIES) if (size := n // SERIES + (i < n % SERIES))]
    written = [write_ct_series(imports / f"series-{i + 1}", n=size, size=SLICE_SIZE, seed=i,
                               description=f"Bench CT {i + 1}", patient_id=f"BENCH-{i + 1}")
               for i, size in enumerate(sizes)]
    if sizes[0] >= VOLUME_SLICES:
        return imports, written[0].folder, written[0].series_uid
    volume = write_ct_series(root / "volume", n=VOLUME_SLICES, size=SLICE_SIZE, seed=SERIES,
                             description="Bench CT volume", patient_id="BENCH-VOLUME")
    return imports, volume.folder, volume.series_uid


def dicom_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.dcm"))


def warm_page_cache(paths: list[Path]) -> int:
    """Read every file once; return the bytes read."""
    return sum(len(path.read_bytes()) for path in paths)


def remove(path: Path) -> None:
    shutil.rmtree(path)
    os.sync()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def throughput(label: str, files: int, runs: list[float]) -> Measurement:
    return Measurement(label, files / statistics.median(runs), "files/s", runs)


# ---------------------------------------------------------------- imports and baselines


def import_once(folder: Path, scratch: Path, mode: str, files: int) -> float:
    target = scratch / f"store-{mode}"
    store = Store.create(target)
    try:
        start = time.perf_counter()
        report = store.import_dicom(folder, mode=mode, progress=False)
        seconds = time.perf_counter() - start
    finally:
        store.close()
    if report.counts["imported"] != files:
        raise RuntimeError(f"mode={mode}: expected {files} imported files, got {report.counts}")
    remove(target)
    return seconds


FIRST_CALL = """
import sys, time
from pathlib import Path
from circus_nb import Store
store = Store.create(Path(sys.argv[1]))
start = time.perf_counter()
report = store.import_dicom(sys.argv[2], mode="reference", progress=False)
seconds = time.perf_counter() - start
store.close()
print(seconds, report.counts["imported"])
"""


def first_call_once(folder: Path, scratch: Path, files: int) -> float:
    """The first import of a fresh Python process, timed inside that process."""
    target = scratch / "store-first-call"
    done = subprocess.run([sys.executable, "-c", FIRST_CALL, str(target), str(folder)],
                          capture_output=True, text=True, check=True)
    seconds, imported = done.stdout.split()
    if int(imported) != files:
        raise RuntimeError(f"first call: expected {files} imported files, got {imported}")
    remove(target)
    return float(seconds)


def naive_loop_once(folder: Path, scratch: Path) -> float:
    target = scratch / "naive"
    target.mkdir()
    start = time.perf_counter()
    con = duckdb.connect(str(target / "catalog.duckdb"))
    con.execute("CREATE TABLE instances (path VARCHAR, series_uid VARCHAR,"
                " instance_number INTEGER, rows INTEGER, cols INTEGER)")
    for path in folder.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        con.execute("INSERT INTO instances VALUES (?, ?, ?, ?, ?)",
                    [str(path), ds.SeriesInstanceUID, int(ds.InstanceNumber), ds.Rows,
                     ds.Columns])
    con.close()
    seconds = time.perf_counter() - start
    remove(target)
    return seconds


def parse_header(path: str) -> None:
    pydicom.dcmread(path, stop_before_pixels=True)


def started_pool() -> ProcessPoolExecutor:
    """The ceiling's pool, its workers already running (start-up is not timed)."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(CEILING_WORKERS, mp_context=multiprocessing.get_context(method))
    list(pool.map(abs, range(CEILING_WORKERS)))
    return pool


def parse_ceiling_once(pool: ProcessPoolExecutor, paths: list[Path]) -> float:
    names = [str(path) for path in paths]
    return timed(lambda: list(pool.map(parse_header, names, chunksize=CEILING_CHUNKSIZE)))


def copytree_once(folder: Path, scratch: Path) -> float:
    target = scratch / "copytree"
    seconds = timed(lambda: shutil.copytree(folder, target))
    remove(target)
    return seconds


def measure_imports(folder: Path, scratch: Path, paths: list[Path]) -> dict[str, Measurement]:
    """Imports and baselines in rounds, each round running every one of them once, so a
    slow spell of the machine (or of its disk) hits them all alike."""
    files = len(paths)
    with started_pool() as pool:
        actions = {
            "import_reference": lambda: import_once(folder, scratch, "reference", files),
            "import_first_call": lambda: first_call_once(folder, scratch, files),
            "import_copy": lambda: import_once(folder, scratch, "copy", files),
            "naive_loop": lambda: naive_loop_once(folder, scratch),
            "parse_ceiling": lambda: parse_ceiling_once(pool, paths),
            "copytree": lambda: copytree_once(folder, scratch),
        }
        runs: dict[str, list[float]] = {name: [] for name in actions}
        for _ in range(REPEATS):
            for name, action in actions.items():
                runs[name].append(action())
    return {name: throughput(IMPORT_LABELS[name], files, runs[name]) for name in actions}


# ---------------------------------------------------------------- volume and thumbnails


def measure_volume(series: Series) -> dict[str, Measurement]:
    pv = PartialVolume(1, VOLUME_SLICES, 1)
    paths = series.instances().set_index("instance_number").loc[pv.to_list(), "path"].tolist()
    volume_runs = [timed(lambda: series.volume(pv)) for _ in range(VOLUME_REPEATS)]
    plain_runs = [timed(lambda: np.stack([pydicom.dcmread(p).pixel_array for p in paths]))
                  for _ in range(VOLUME_REPEATS)]
    return {
        "volume": Measurement(f"Series.volume, {VOLUME_SLICES} slices", statistics.median(
            volume_runs), "s", volume_runs),
        "volume_plain_loop": Measurement("plain loop: dcmread().pixel_array + stack",
                                         statistics.median(plain_runs), "s", plain_runs),
    }


def measure_thumbnails(series: Series) -> dict[str, Measurement]:
    numbers = list(series.images)[:THUMBNAIL_INSTANCES]
    for number in numbers:
        series.thumbnail(number, THUMBNAIL_SIZE)
    fetches = []
    for i in range(THUMBNAIL_FETCHES):
        number = numbers[i % len(numbers)]
        fetches.append(1000 * timed(lambda n=number: series.thumbnail(n, THUMBNAIL_SIZE)))
    return {
        "thumbnail_cached_median": Measurement("cached thumbnail, median", statistics.median(
            fetches), "ms", fetches),
        "thumbnail_cached_p95": Measurement("cached thumbnail, p95", float(np.percentile(
            fetches, 95)), "ms", fetches),
    }


def measure_series(folder: Path, series_uid: str, scratch: Path) -> dict[str, Measurement]:
    target = scratch / "store-volume"
    with Store.create(target) as store:
        store.import_dicom(folder, mode="reference", progress=False)
        series = store.series(series_uid)
        results = measure_volume(series) | measure_thumbnails(series)
    remove(target)
    return results


# ---------------------------------------------------------------- verdicts and report


def ratio(measurement: Measurement, baseline: Measurement) -> float:
    """How many times faster than the baseline (above 1: faster)."""
    if measurement.unit == "files/s":
        return measurement.value / baseline.value
    return baseline.value / measurement.value


def verdicts(results: dict[str, Measurement]) -> list[dict]:
    rows = []
    for target in TARGETS:
        value = results[target.measurement].value
        if target.baseline is None:
            rows.append({**asdict(target), "ratio": None, "passed": value < target.threshold})
        else:
            times = ratio(results[target.measurement], results[target.baseline])
            rows.append({**asdict(target), "ratio": times, "passed": times >= target.threshold})
    return rows


def table(results: dict[str, Measurement], checks: list[dict]) -> str:
    lines = []
    for name, m in results.items():
        mine = [c for c in checks if c["measurement"] == name] or [None]
        for k, check in enumerate(mine):
            first = (m.label, f"{m.value:.1f}" if m.unit == "files/s" else f"{m.value:.3f}",
                     m.unit) if k == 0 else ("", "", "")
            lines.append(first + verdict_cells(results, check, m.unit))
    return aligned(lines)


def verdict_cells(results: dict[str, Measurement], check: dict | None,
                  unit: str) -> tuple[str, str, str]:
    if check is None:
        return "", "", ""
    result = "PASS" if check["passed"] else "FAIL  <<<"
    if check["baseline"] is None:
        return "", f"< {check['threshold']:g} {unit}", result
    against = results[check["baseline"]].label.split(":")[0]
    return (f"{check['ratio']:.3f} x {against}", f">= {check['threshold']:.2f} x", result)


def report(results: dict[str, Measurement], checks: list[dict], settings: dict) -> dict:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "notes": list(NOTES),
        "machine": machine(PACKAGES),
        "measurements": {name: asdict(m) for name, m in results.items()},
        "targets": checks,
    }


# ---------------------------------------------------------------- main


def run(root: Path, n: int) -> tuple[dict[str, Measurement], dict]:
    load = os.getloadavg()
    print(f"Writing {n} slices of {SLICE_SIZE} x {SLICE_SIZE}...", flush=True)
    imports, volume_folder, volume_uid = write_data(root, n)
    paths = dicom_files(imports)
    data_bytes = warm_page_cache(paths) + warm_page_cache(dicom_files(volume_folder))
    scratch = root / "scratch"
    scratch.mkdir(exist_ok=True)
    print("Measuring imports and baselines...", flush=True)
    results = measure_imports(imports, scratch, paths)
    print("Measuring volume and thumbnails...", flush=True)
    results |= measure_series(volume_folder, volume_uid, scratch)
    settings = {"files": len(paths), "series": len(list(imports.iterdir())),
                "slice_size": SLICE_SIZE, "import_bytes": data_bytes, "repeats": REPEATS,
                "volume_slices": VOLUME_SLICES, "volume_repeats": VOLUME_REPEATS,
                "thumbnail_size": THUMBNAIL_SIZE, "thumbnail_instances": THUMBNAIL_INSTANCES,
                "thumbnail_fetches": THUMBNAIL_FETCHES, "load_average_at_start": load}
    return results, settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="slices to import (default 2000)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON results file (default benchmarks/results/import_bench.json)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the generated files here (default: a temporary folder,"
                        " deleted at the end)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="circus-nb-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        results, settings = run(root, args.n)
    finally:
        if args.workdir is None:
            shutil.rmtree(root)
    checks = verdicts(results)
    print()
    print(table(results, checks))
    print()
    print_notes(NOTES, settings["load_average_at_start"])
    failed = [c["measurement"] + (f" vs {c['baseline']}" if c["baseline"] else "")
              for c in checks if not c["passed"]]
    print_verdict_and_save(len(checks), failed, args.out, report(results, checks, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
