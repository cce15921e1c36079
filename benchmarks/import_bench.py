"""How fast circus_nb imports DICOM, builds volumes and serves thumbnails, next to baselines.

Run from the repository root, in the environment circus_nb is installed in::

    python benchmarks/import_bench.py [--n 2000] [--out benchmarks/results/import_bench.json]
                                      [--workdir DIR] [--scale 10000,100000,1000000]

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

With ``--scale 10000,100000,1000000`` (instance counts), the script instead grows one
store through those sizes and measures, at each, what must stay fast in a hospital's
store. Series of 200 instances each (so 1,000,000 instances are 5,000 series) are
bulk-loaded: synthetic ``series`` and ``instances`` rows laid out as the importer writes
them (``images`` range text and ``image_count``, managed ``data/<uid>/<number>.dcm``
paths for most series and absolute ones for the rest, size, mtime, positions,
orientation, rows and columns, patients with several studies, three modalities,
acquisitions spread over 2010-2024 and imports over three years, domain ``default``),
copied in with ``INSERT ... SELECT`` from DataFrames through the store's own connection
inside one store transaction, then a ``CHECKPOINT``. At each scale:

* ``store.search_series(...)`` for each filter form (none, modality, description,
  patient id and name, sex, an age range, an acquisition and an import date range, a
  study UID, a series UID substring, a list of up to 1,000 series), against ``SELECT *
  FROM series ORDER BY created_at DESC LIMIT 200`` (target < 50 ms each);
* ``store.series(uid)`` over different series (target < 5 ms), against the plain
  ``SELECT`` of its row, with two of its parts alone (``store.rights``, read on every
  call, and building the ``Series`` from its row), and ``Series.instances()``;
* the importer's look-ups for one transaction's files (``catalogued``: series and
  instances already stored, for files of new and of stored series; ``managed_paths``),
  no target;
* importing 2,000 new files (10 series of 64 x 64, mode ``reference``) into the big
  store, against other such files into an empty store (target >= 0.8 of its files/s),
  and importing the same 2,000 files again, all ``already_present`` (target < 1 s); 7
  rounds, the new rows deleted after each so the store keeps its size;
* ``Store.open`` + ``close`` (target < 200 ms), against ``duckdb.connect`` + ``close``,
  and the size of ``catalog.duckdb``.

At the largest scale, ``EXPLAIN ANALYZE`` of every search's SQL and of the importer's
look-ups goes to ``benchmarks/explain/import_*.txt``. Results go to
``benchmarks/results/import_scale.json`` unless ``--out`` says otherwise.

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
import hashlib
import itertools
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pydicom
from _report import aligned, machine, phase, print_notes, print_verdict_and_save, rounds

from circus_nb import PartialVolume, Store
from circus_nb.api.series import Series
from circus_nb.dicom.header import read_header
from circus_nb.dicom.sample import write_ct_series
from circus_nb.store import search as search_sql
from circus_nb.store import series as series_sql

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


# ---------------------------------------------------------------- --scale: a hospital's store

# One store grows through the scales; every synthetic series has this many instances.
PER_SERIES = 200
LOAD_CHUNK = 500  # series per INSERT ... SELECT (100,000 instances)
SCALE_SEED = 14
SCALE_IMPORT_FILES = 2000
SCALE_IMPORT_SERIES = 10  # of 200 slices each
SCALE_SLICE_SIZE = 64
SCALE_ROUNDS = 7  # import rounds (each imports new files into the big and an empty store)
SEARCH_REPEATS = 15
SERIES_LOOKUPS = 50
OPEN_REPEATS = 5
IN_LIST_ITEMS = 1000
IDEMPOTENCY_KEYS = 512  # one import transaction's files (COMMIT_EVERY)
ADMIN = "admin@example.org"
DEFAULT_SCALE_OUT = Path(__file__).resolve().parent / "results" / "import_scale.json"
EXPLAIN_DIR = Path(__file__).resolve().parent / "explain"
SEARCH_TARGET_MS = 50.0
SERIES_TARGET_MS = 5.0
REIMPORT_TARGET_S = 1.0
OPEN_TARGET_MS = 200.0
IMPORT_RATIO_TARGET = 0.8

# (modality, share, descriptions, body part, width x height, slice spacing, window)
MODALITIES = (
    ("CT", 0.55, ("Chest CT", "Abdomen CT 5mm", "Head CT", "CT Angio chest", "Chest CT lung"),
     "CHEST", 512, 2.5, (40.0, 400.0)),
    ("MR", 0.30, ("T1 axial brain", "T2 FLAIR", "Knee PD sag", "Chest MR", "Liver T1 dyn"),
     "BRAIN", 256, 5.0, (300.0, 600.0)),
    ("PT", 0.15, ("PET WB AC", "PET chest AC", "PET brain"), "WHOLEBODY", 128, 3.27,
     (5.0, 10.0)),
)
SURNAMES = ("Tanaka", "Suzuki", "Sato", "Smith", "Garcia", "Muller", "Rossi", "Kim", "Nguyen",
            "Silva", "Dubois", "Novak", "Ito", "Brown", "Lopez", "Jensen", "Kowalski")
GIVEN = ("Alex", "Yuki", "Maria", "Jan", "Aiko", "Sam", "Lea", "Ken", "Noor", "Ola", "Rin")
STATIONS = ("CT01", "CT02", "MR01", "MR02", "PET01")
MODELS = (("Phantom CT", "circus_nb sample"), ("Aquilion", "Canon"), ("Signa", "GE"),
          ("Biograph", "Siemens"))
# UID roots of several makers, the sample writer's among them: a hospital's series UIDs
# are interleaved, so no block of the catalog holds a narrow range of them.
UID_ROOTS = ("1.2.826.0.1.3680043.8.498.", "1.2.392.200036.9116.2.", "1.2.840.113619.2.",
             "1.3.12.2.1107.5.1.4.", "2.25.")
SCALE_NOTES = (
    "one store grows through the scales: series and instances rows bulk-loaded (INSERT ..."
    " SELECT from DataFrames in one store transaction, then CHECKPOINT) as the importer"
    f" lays them out, {PER_SERIES} instances a series, domain 'default'",
    f"searches: medians of {SEARCH_REPEATS} rounds after a warm-up, each round running every"
    " search and the baseline SELECT * FROM series ORDER BY created_at DESC LIMIT 200",
    f"store.series(uid): {SERIES_LOOKUPS} rounds over different series, against the plain"
    " SELECT of its row",
    f"imports: {SCALE_IMPORT_FILES} new files ({SCALE_IMPORT_SERIES} series of"
    f" {SCALE_SLICE_SIZE} x {SCALE_SLICE_SIZE}, page cache warm, mode=reference) into the"
    f" big store and other such files into an empty store, {SCALE_ROUNDS} rounds, medians;"
    " the big store's new rows are deleted after each round, so the scale stays",
    f"open: Store.open + close, median of {OPEN_REPEATS}, against duckdb.connect + close of"
    " the catalog file",
)


@dataclass(frozen=True)
class ScaleTarget:
    measurement: str
    baseline: str | None  # the ratio is reported against it (None: no ratio)
    below: float | None = None  # the value must stay below this (in its unit)
    at_least: float | None = None  # the ratio must reach this


SCALE_TARGETS_FIXED = (
    ScaleTarget("series_open", "plain_series_row", below=SERIES_TARGET_MS),
    ScaleTarget("series_instances", "plain_instances"),
    ScaleTarget("import_big", "import_empty", at_least=IMPORT_RATIO_TARGET),
    ScaleTarget("reimport_big", None, below=REIMPORT_TARGET_S),
    ScaleTarget("store_open", "plain_connect", below=OPEN_TARGET_MS),
)


def uid_of(kind: str, k: int) -> str:
    """A UID under one of :data:`UID_ROOTS`, the same for the same ``kind`` and ``k``."""
    number = int.from_bytes(hashlib.blake2b(f"{kind}-{k}".encode(), digest_size=16).digest(),
                            "big")
    root = UID_ROOTS[number % len(UID_ROOTS)]
    return (root + str(number))[:60]


def synthetic_series(start: int, stop: int, loaded_at: datetime) -> pd.DataFrame:
    """Series rows ``start..stop-1``: 3 series a study, 2 studies a patient, acquired
    2010-2024, imported over the 3 years before ``loaded_at``; 1 in 10 has a localizer
    then a gap (images ``1,3-201``), the rest ``1-200``."""
    rng = np.random.default_rng([SCALE_SEED, start])
    k = np.arange(start, stop)
    n = len(k)
    kinds = rng.choice(len(MODALITIES), n, p=[m[1] for m in MODALITIES])
    patients = k // 6
    birth = pd.to_datetime({"year": 1930 + (patients * 37) % 85, "month": patients % 12 + 1,
                            "day": patients % 28 + 1})
    study_day = pd.Timestamp("2010-01-01") + pd.to_timedelta(
        (k // 3 * 7919) % 5470, unit="D")  # every series of a study on its day
    series_date = pd.Series(study_day + pd.to_timedelta(rng.integers(8, 18, n) * 3600,
                                                        unit="s")).dt.tz_localize("UTC")
    created = pd.Series(pd.Timestamp(loaded_at) - pd.to_timedelta(
        rng.integers(0, 3 * 365 * 86400, n), unit="s"))  # loaded_at is in UTC
    gap = rng.random(n) < 0.1
    frame = pd.DataFrame({
        "k": k,
        "series_uid": [uid_of("series", i) for i in k],
        "study_uid": [uid_of("study", i // 3) for i in k],
        "domain": "default",
        "images": np.where(gap, f"1,3-{PER_SERIES + 1}", f"1-{PER_SERIES}"),
        "image_count": PER_SERIES,
        "width": [MODALITIES[m][4] for m in kinds],
        "series_date": series_date,
        "modality": [MODALITIES[m][0] for m in kinds],
        "series_description": [MODALITIES[m][2][i % len(MODALITIES[m][2])]
                               for i, m in zip(k, kinds, strict=True)],
        "body_part": [MODALITIES[m][3] for m in kinds],
        "station_name": [STATIONS[i % len(STATIONS)] for i in k],
        "model_name": [MODELS[i % len(MODELS)][0] for i in k],
        "manufacturer": [MODELS[i % len(MODELS)][1] for i in k],
        "patient_id": [f"PID{p:08d}" for p in patients],
        "patient_name": [f"{SURNAMES[p % len(SURNAMES)]}^{GIVEN[p // 7 % len(GIVEN)]}"
                         for p in patients],
        "birth_date": birth,
        "age": ((series_date.dt.tz_localize(None) - birth).dt.days // 365.25).astype(int),
        "sex": np.where(patients % 50 == 0, "O", np.where(patients % 2 == 0, "M", "F")),
        "patient_size": 1.5 + (patients % 45) / 100,
        "patient_weight": 45.0 + patients % 60,
        "created_at": created,
        "gap": gap,
        "managed": rng.random(n) < 0.7,  # the rest imported by reference
        "spacing": [MODALITIES[m][5] for m in kinds],
        "window_center": [MODALITIES[m][6][0] for m in kinds],
        "window_width": [MODALITIES[m][6][1] for m in kinds],
    })
    frame["height"] = frame["width"]
    frame["updated_at"] = frame["created_at"]
    frame["parameters"] = [parameters_json(row) for row in frame.itertuples()]
    return frame


def parameters_json(row: Any) -> str:
    """The ``parameters`` JSON of a series, with the keys the importer keeps for a CT."""
    fov = 360.0
    return json.dumps({
        "TransferSyntaxUID": "1.2.840.10008.1.2.1", "BodyPartExamined": row.body_part,
        "SliceThickness": row.spacing, "KVP": 120.0, "ReconstructionDiameter": fov,
        "GantryDetectorTilt": 0.0, "XRayTubeCurrent": 200, "ConvolutionKernel": "STANDARD",
        "PatientPosition": "HFS", "StudyInstanceUID": row.study_uid,
        "SeriesInstanceUID": row.series_uid, "StudyID": "1", "SeriesNumber": 1 + row.k % 9,
        "AcquisitionNumber": 1, "InstanceNumber": 1,
        "ImagePositionPatient": [-fov / 2, -fov / 2, 150.0],
        "ImageOrientationPatient": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        "FrameOfReferenceUID": uid_of("frame", row.k), "PositionReferenceIndicator": "",
        "SliceLocation": 150.0, "SamplesPerPixel": 1, "PhotometricInterpretation": "MONOCHROME2",
        "Rows": row.height, "Columns": row.width,
        "PixelSpacing": [round(fov / row.width, 6)] * 2, "BitsAllocated": 16,
        "BitsStored": 12, "HighBit": 11, "PixelRepresentation": 0,
        "WindowCenter": row.window_center, "WindowWidth": row.window_width,
        "RescaleIntercept": -1024.0, "RescaleSlope": 1.0, "RescaleType": "HU"})


def synthetic_instances(series: pd.DataFrame) -> pd.DataFrame:
    """Instance rows of ``series`` (vectorised): paths as the importer writes them
    (``data/<uid>/<number:08d>.dcm`` when managed, the file's absolute path when
    referenced), positions head to feet, the orientation as its 6 cosines (packed into
    a list by the INSERT)."""
    rng = np.random.default_rng([SCALE_SEED, int(series["k"].iloc[0]), 1])
    at = np.repeat(np.arange(len(series)), PER_SERIES)
    s = series.iloc[at].reset_index(drop=True)
    number = np.tile(np.arange(1, PER_SERIES + 1), len(series))
    number = np.where(s["gap"] & (number > 1), number + 1, number)
    padded = pd.Series(number).map("{:08d}".format)
    referenced = ("/archive/pacs/" + s["patient_id"] + "/" + s["series_date"].dt.strftime(
        "%Y%m%d") + "/" + s["series_uid"] + "/IM" + padded.str[-5:] + ".dcm")
    fov = 360.0
    z = 150.0 - (number - 1) * s["spacing"]
    created = (s["created_at"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return pd.DataFrame({
        "series_uid": s["series_uid"],
        "instance_number": number,
        "sop_instance_uid": s["series_uid"] + "." + pd.Series(number).astype(str),
        "path": np.where(s["managed"], "data/" + s["series_uid"] + "/" + padded + ".dcm",
                         referenced),
        "managed": s["managed"],
        "size": s["width"] * s["height"] * 2 + 1800 + rng.integers(0, 200, len(s)),
        "mtime": np.where(s["managed"], created, created - rng.integers(3600, 10**7, len(s))),
        "position_x": -fov / 2, "position_y": -fov / 2, "position_z": z,
        "o1": 1.0, "o2": 0.0, "o3": 0.0, "o4": 0.0, "o5": 1.0, "o6": 0.0,
        "slice_location": z,
        "rows": s["height"], "columns": s["width"],
        "transfer_syntax": "1.2.840.10008.1.2.1",
        "window_center": s["window_center"], "window_width": s["window_width"],
        "imported_at": s["created_at"],
    })


SCALE_BULK_SQL = (
    ("series", """INSERT INTO series (series_uid, study_uid, domain, images, image_count,
        width, height, series_date, modality, series_description, body_part, station_name,
        model_name, manufacturer, patient_id, patient_name, birth_date, age, sex,
        patient_size, patient_weight, parameters, created_at, updated_at)
        SELECT series_uid, study_uid, domain, images, image_count, width, height,
        series_date, modality, series_description, body_part, station_name, model_name,
        manufacturer, patient_id, patient_name, CAST(birth_date AS DATE), age, sex,
        patient_size, patient_weight, parameters, created_at, updated_at
        FROM bench_series"""),
    ("instances", """INSERT INTO instances (series_uid, instance_number, sop_instance_uid,
        path, managed, size, mtime, position_x, position_y, position_z, orientation,
        slice_location, rows, columns, transfer_syntax, window_center, window_width,
        imported_at)
        SELECT series_uid, instance_number, sop_instance_uid, path, managed, size, mtime,
        position_x, position_y, position_z, [o1, o2, o3, o4, o5, o6], slice_location,
        rows, columns, transfer_syntax, window_center, window_width, imported_at
        FROM bench_instances"""),
)


def grow(store: Store, have: int, want: int, loaded_at: datetime) -> None:
    """Bulk-load series ``have..want-1`` and their instances, then CHECKPOINT. Bypasses
    the API for speed only: the rows are those the importer writes."""
    with store._write() as db, db._hold(write=True) as con:  # DuckDB itself
        for start in range(have, want, LOAD_CHUNK):
            series = synthetic_series(start, min(start + LOAD_CHUNK, want), loaded_at)
            frames = {"series": series, "instances": synthetic_instances(series)}
            for table, sql in SCALE_BULK_SQL:
                con.register(f"bench_{table}", frames[table])
                try:
                    con.execute(sql)
                finally:
                    con.unregister(f"bench_{table}")
    store._db().execute("CHECKPOINT")
    check_loaded(store, uid_of("series", want - 1))


def check_loaded(store: Store, uid: str) -> None:
    """A loaded series reads back through the API like one the importer made."""
    series = store.series(uid)
    instances = series.instances()
    if len(series.images) != PER_SERIES or instances["instance_number"].tolist() != list(
            series.images):
        raise RuntimeError(f"synthetic series {uid} does not read back as written")


# ---------------------------------------------------------------- --scale: measurements


def ms_median(label: str, runs: list[float]) -> Measurement:
    return Measurement(label, statistics.median(runs), "ms", runs)


def search_forms(store: Store, scale: int) -> dict[str, dict[str, Any]]:
    """``search_series`` arguments, one filter form each, chosen so that each finds
    series (values taken from a series in the middle of the loaded ones)."""
    uid, study, patient_id, patient_name, acquired, imported = store._db().execute(
        "SELECT series_uid, study_uid, patient_id, patient_name, series_date, created_at"
        " FROM series WHERE series_uid = ?", [uid_of("series", scale // PER_SERIES // 2)]
    ).fetchone()
    listed = [r[0] for r in store._db().execute(
        "SELECT series_uid FROM series ORDER BY series_uid LIMIT ?",
        [min(IN_LIST_ITEMS, scale // PER_SERIES // 2)]).fetchall()]
    bench_list = store.create_list("series", f"scale bench {scale}", listed)
    return {
        "none": {},
        "modality": {"modality": "MR"},
        "description": {"description": "chest"},
        "patient_id": {"patient_id": patient_id[-5:]},
        "patient_name": {"patient_name": patient_name.split("^")[0].lower()},
        "sex": {"sex": "F"},
        "age": {"min_age": 40, "max_age": 60},
        "date_range": {"date_from": f"{acquired.year}-01-01",
                       "date_to": f"{acquired.year}-12-31"},
        "imported_range": {"imported_from": (imported - timedelta(days=90)).date().isoformat(),
                           "imported_to": (imported + timedelta(days=90)).date().isoformat()},
        "study_uid": {"study_uid": study},
        "series_uid": {"series_uid": uid[-12:]},
        "in_list": {"in_list": bench_list},
    }


def measure_searches_at(store: Store, forms: dict[str, dict[str, Any]]
                        ) -> dict[str, Measurement]:
    con = store._db()
    for name, filters in forms.items():
        if store.search_series(**filters).empty:
            raise RuntimeError(f"search_series form {name!r} ({filters}) found nothing")
    actions: dict[str, Callable[[], object]] = {
        f"search_{name}": (lambda f=filters: store.search_series(**f))
        for name, filters in forms.items()}
    actions["plain_search"] = lambda: con.execute(
        "SELECT * FROM series ORDER BY created_at DESC LIMIT 200").df()
    runs = rounds(actions, SEARCH_REPEATS)
    labels = {f"search_{name}": f"search_series, {name}" for name in forms}
    labels["plain_search"] = "plain: SELECT * FROM series ORDER BY created_at DESC LIMIT 200"
    return {name: ms_median(labels[name], runs[name]) for name in actions}


def measure_series_at(store: Store, scale: int) -> dict[str, Measurement]:
    """``store.series(uid)`` over different series, and ``Series.instances()``."""
    con = store._db()
    loaded = scale // PER_SERIES
    uids = [uid_of("series", i * loaded // SERIES_LOOKUPS) for i in range(SERIES_LOOKUPS)]
    pick = itertools.cycle(uids).__next__  # each call another series
    opened = store.series(uids[0])
    row = series_sql.load_series(con, opened.series_uid, [opened.domain])
    runs = rounds({
        "series_open": lambda: store.series(pick()),
        "plain_series_row": lambda: con.execute("SELECT * FROM series WHERE series_uid = ?",
                                                [pick()]).fetchone(),
        "store_rights": lambda: store.rights,
        "series_object": lambda: Series(store, row),
        "series_instances": opened.instances,
        "plain_instances": lambda: con.execute(
            "SELECT * FROM instances WHERE series_uid = ? ORDER BY instance_number",
            [opened.series_uid]).df(),
    }, SERIES_LOOKUPS)
    return {
        "series_open": ms_median("store.series(uid)", runs["series_open"]),
        "plain_series_row": ms_median("plain: SELECT * FROM series WHERE series_uid = ?",
                                      runs["plain_series_row"]),
        "store_rights": ms_median("  of which store.rights (read by every call)",
                                  runs["store_rights"]),
        "series_object": ms_median("  of which Series(store, row): images, parameters",
                                   runs["series_object"]),
        "series_instances": ms_median(f"Series.instances(), {PER_SERIES} rows",
                                      runs["series_instances"]),
        "plain_instances": ms_median("plain: SELECT * FROM instances WHERE series_uid = ?",
                                     runs["plain_instances"]),
    }


def write_import_sets(root: Path) -> tuple[list[tuple[Path, list[str]]], ...]:
    """Per round, a folder of new files for the big store and one for an empty store
    (each ``SCALE_IMPORT_FILES`` slices in ``SCALE_IMPORT_SERIES`` series of their own),
    with their series UIDs; a warm-up folder too."""
    per_series = SCALE_IMPORT_FILES // SCALE_IMPORT_SERIES

    def one(name: str) -> tuple[Path, list[str]]:
        folder = root / name
        if len(dicom_files(folder)) == SCALE_IMPORT_FILES:  # an earlier run's, in --workdir
            return folder, [read_header(dicom_files(folder / f"s{i}")[0]).instance[
                "series_uid"] for i in range(SCALE_IMPORT_SERIES)]
        uids = [write_ct_series(folder / f"s{i}", n=per_series, size=SCALE_SLICE_SIZE, seed=i,
                                description=f"Scale {name} {i}",
                                patient_id=f"SCALE-{name}-{i}").series_uid
                for i in range(SCALE_IMPORT_SERIES)]
        return folder, uids
    return ([one(f"big{r}") for r in range(SCALE_ROUNDS)],
            [one(f"empty{r}") for r in range(SCALE_ROUNDS)], [one("warmup")])


def import_reference(store: Store, folder: Path, status: str) -> float:
    """Seconds to import ``folder`` by reference; every file must end as ``status``."""
    start = time.perf_counter()
    report = store.import_dicom(folder, mode="reference", progress=False)
    seconds = time.perf_counter() - start
    if report.counts[status] != SCALE_IMPORT_FILES:
        raise RuntimeError(f"importing {folder.name}: expected {SCALE_IMPORT_FILES} {status},"
                           f" got {report.counts}")
    return seconds


def forget(store: Store, uids: list[str]) -> None:
    """Delete the rows of series ``uids`` (not timed), so the store keeps its scale."""
    with store._write() as db:
        db.execute("DELETE FROM instances WHERE series_uid = ANY(?)", [uids])
        db.execute("DELETE FROM series WHERE series_uid = ANY(?)", [uids])
    store._db().execute("CHECKPOINT")


def measure_imports_at(store: Store, sets: tuple, scratch: Path) -> dict[str, Measurement]:
    """New files into the big store, the same files again, other files into an empty
    store: one of each per round."""
    big_sets, empty_sets, _ = sets
    runs: dict[str, list[float]] = {"import_big": [], "reimport_big": [], "import_empty": []}
    for (big, uids), (empty, _) in zip(big_sets, empty_sets, strict=True):
        runs["import_big"].append(import_reference(store, big, "imported"))
        runs["reimport_big"].append(import_reference(store, big, "already_present"))
        forget(store, uids)
        with Store.create(scratch / "empty-store") as fresh:
            runs["import_empty"].append(import_reference(fresh, empty, "imported"))
        remove(scratch / "empty-store")
    files = SCALE_IMPORT_FILES
    return {
        "import_big": throughput(f"import_dicom of {files} new files, mode=reference", files,
                                 runs["import_big"]),
        "import_empty": throughput("the same into an empty store", files,
                                   runs["import_empty"]),
        "reimport_big": Measurement(f"import_dicom of the same {files} files again",
                                    statistics.median(runs["reimport_big"]), "s",
                                    runs["reimport_big"]),
    }


def measure_open_at(path: Path) -> dict[str, Measurement]:
    """``Store.open`` + close, against opening and closing the catalog file with DuckDB."""
    def open_close() -> None:
        Store.open(path, ADMIN).close()

    catalog = str(path / "catalog.duckdb")
    runs = rounds({"store_open": open_close,
                      "plain_connect": lambda: duckdb.connect(catalog).close()}, OPEN_REPEATS)
    size = (path / "catalog.duckdb").stat().st_size
    return {
        "store_open": ms_median("Store.open(path, user) + close", runs["store_open"]),
        "plain_connect": ms_median("plain: duckdb.connect(catalog) + close",
                                   runs["plain_connect"]),
        "catalog_mb": Measurement("catalog.duckdb size", size / 1e6, "MB", [size]),
    }


# ---------------------------------------------------------------- --scale: EXPLAIN ANALYZE


class _Recorder:
    """A stand-in for the store's database that keeps each statement it runs."""

    def __init__(self, db: Any):
        self.db, self.statements = db, []

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.statements.append((sql, params))
        return self.db.execute(sql, params)


def explain(store: Store, name: str, sql: str, params: list[Any]) -> Path:
    """EXPLAIN ANALYZE of one statement, written to ``explain/import_<name>.txt``."""
    rows = store._db().execute("EXPLAIN ANALYZE " + sql, params).fetchall()
    shown_params = [f"<{len(p)} values, first {p[:2]!r}>" if isinstance(p, list) and len(p) > 4
                    else repr(p) for p in params]
    text = (f"-- {name}, at {instance_count(store):,} instances\n"
            f"-- params: {', '.join(shown_params)}\n{' '.join(sql.split())}\n\n"
            + "\n".join(str(row[-1]) for row in rows))
    EXPLAIN_DIR.mkdir(exist_ok=True)
    out = EXPLAIN_DIR / f"import_{name}.txt"
    out.write_text(text + "\n")
    return out


def instance_count(store: Store) -> int:
    return store._db().execute("SELECT count(*) FROM instances").fetchone()[0]


def explain_searches(store: Store, forms: dict[str, dict[str, Any]]) -> list[Path]:
    """The SQL each search form runs, as ``search_series`` builds it (its checked filters
    are caught on their way to :func:`circus_nb.store.search.search_series`)."""
    caught: list[tuple] = []
    original = search_sql.search_series

    def spy(con: Any, *args: Any) -> pd.DataFrame:
        caught.append(args)
        return original(con, *args)

    search_sql.search_series = spy
    try:
        for filters in forms.values():
            store.search_series(**filters)
    finally:
        search_sql.search_series = original
    return [explain(store, f"search_{name}", *search_sql.series_query(*args))
            for name, args in zip(forms, caught, strict=True)]


def lookup_cases(store: Store, new_keys: list[tuple[str, int]]
                 ) -> dict[str, tuple[str, Callable[[Any], object]]]:
    """The importer's look-ups (``catalogued``, as ``import_dicom`` makes them before
    deciding) for one transaction's files: of new series, of a few stored series (a
    re-import), of many stored series (32 files each); and ``managed_paths`` of the
    paths a crashed import's journal would list. Name -> (label, call on a database)."""
    con, n = store._db(), IDEMPOTENCY_KEYS
    stored = con.execute(
        "SELECT series_uid, instance_number, path FROM instances WHERE managed"
        " ORDER BY series_uid, instance_number LIMIT ?", [n]).fetchall()
    many = [tuple(row) for row in con.execute(
        "SELECT series_uid, instance_number FROM instances WHERE instance_number <= 32"
        " ORDER BY series_uid, instance_number LIMIT ?", [n]).fetchall()]
    return {
        "lookups_new": (f"importer look-ups, {n} files of new series",
                        lambda db: series_sql.catalogued(db, new_keys)),
        "lookups_present": (f"importer look-ups, {n} files stored, few series",
                            lambda db: series_sql.catalogued(
                                db, [(uid, k) for uid, k, _ in stored])),
        "lookups_many_series": (f"importer look-ups, {n} files stored, {n // 32} series",
                                lambda db: series_sql.catalogued(db, many)),
        "managed_paths": (f"managed_paths, {n} paths",
                          lambda db: series_sql.managed_paths(db, [p for _, _, p in stored])),
    }


def explain_idempotency(store: Store, new_keys: list[tuple[str, int]]) -> list[Path]:
    """EXPLAIN ANALYZE of every statement of each :func:`lookup_cases` case."""
    written = []
    for name, (_, call) in lookup_cases(store, new_keys).items():
        recorder = _Recorder(store._db())
        call(recorder)
        for k, (sql, params) in enumerate(recorder.statements):
            suffix = f"_{k + 1}" if len(recorder.statements) > 1 else ""
            written.append(explain(store, name + suffix, sql, list(params)))
    return written


def idempotency_keys(folder: Path) -> list[tuple[str, int]]:
    """The keys of up to one transaction's files of ``folder`` (new to the store)."""
    headers = [read_header(p) for p in dicom_files(folder)[:IDEMPOTENCY_KEYS]]
    return [(h.instance["series_uid"], h.instance["instance_number"]) for h in headers]


def measure_idempotency_at(store: Store, new_keys: list[tuple[str, int]]
                           ) -> dict[str, Measurement]:
    """Each :func:`lookup_cases` case alone, in rounds (no target)."""
    con = store._db()
    cases = lookup_cases(store, new_keys)
    runs = rounds({name: (lambda c=call: c(con)) for name, (_, call) in cases.items()},
                     SEARCH_REPEATS)
    return {name: ms_median(label, runs[name]) for name, (label, _) in cases.items()}


# ---------------------------------------------------------------- --scale: report


def scale_targets(forms: Iterable[str]) -> tuple[ScaleTarget, ...]:
    searches = tuple(ScaleTarget(f"search_{name}", "plain_search", below=SEARCH_TARGET_MS)
                     for name in forms)
    return searches + SCALE_TARGETS_FIXED


def scale_checks(results: dict[str, Measurement], targets: Iterable[ScaleTarget]
                 ) -> list[dict]:
    """Each target's ratio (baseline time / measured time, or throughput over the
    baseline's) and whether it is met."""
    rows = []
    for target in targets:
        m = results[target.measurement]
        times = None if target.baseline is None else ratio(m, results[target.baseline])
        passed = ((target.below is None or m.value < target.below)
                  and (target.at_least is None or times >= target.at_least))
        rows.append({**asdict(target), "value": m.value, "ratio": times, "passed": passed,
                     "has_target": target.below is not None or target.at_least is not None})
    return rows


def scale_table(by_scale: dict[int, dict[str, Measurement]],
                checks: dict[int, list[dict]]) -> str:
    """One row per measurement and scale, the scales of a measurement together."""
    first = next(iter(by_scale.values()))
    width = max(len(f"{s:,}") for s in by_scale)
    lines = []
    for name, m in first.items():
        for k, scale in enumerate(by_scale):
            now = by_scale[scale][name]
            check = next((c for c in checks[scale] if c["measurement"] == name), None)
            value = f"{now.value:.1f}" if now.unit in ("files/s", "MB") else f"{now.value:.3f}"
            lines.append((m.label if k == 0 else "", value, now.unit,
                          f"{scale:,}".rjust(width), *scale_cells(check, now.unit)))
    return aligned(lines, ("measurement", "value", "unit", "instances", "ratio", "target",
                           "result"))


def scale_cells(check: dict | None, unit: str) -> tuple[str, str, str]:
    if check is None:
        return "", "", ""
    times = "" if check["ratio"] is None else f"{check['ratio']:.2f}"
    if check["below"] is not None:
        target = f"< {check['below']:g} {unit}"
    elif check["at_least"] is not None:
        target = f">= {check['at_least']:.2f} x"
    else:
        return times, "", ""
    return times, target, "PASS" if check["passed"] else "FAIL  <<<"


def per_million(by_scale: dict[int, dict[str, Measurement]]) -> dict[int, float]:
    """Catalog MB per million instances at each scale."""
    return {scale: r["catalog_mb"].value / (scale / 1e6) for scale, r in by_scale.items()}


# ---------------------------------------------------------------- --scale: run


def measure_scale(store: Store, scale: int, sets: tuple, scratch: Path,
                  new_keys: list[tuple[str, int]]) -> tuple[dict[str, Measurement], dict]:
    """Every --scale measurement at the store's present size; the store is left open
    (reopened after the open measurements) and returned with the search forms."""
    forms = search_forms(store, scale)
    print(f"  searches ({len(forms)} forms)...", flush=True)
    results = measure_searches_at(store, forms)
    print("  store.series()...", flush=True)
    results |= measure_series_at(store, scale)
    print("  importer look-ups...", flush=True)
    results |= measure_idempotency_at(store, new_keys)
    print("  imports...", flush=True)
    results |= measure_imports_at(store, sets, scratch)
    return results, forms


def run_scales(root: Path, scales: list[int]) -> tuple[dict, dict, list[Path]]:
    load = os.getloadavg()
    phases: dict[str, float] = {}
    sets = phase(f"Writing {2 * SCALE_ROUNDS + 1} x {SCALE_IMPORT_FILES} slices of"
                 f" {SCALE_SLICE_SIZE} x {SCALE_SLICE_SIZE}", phases,
                 lambda: write_import_sets(root / "dicom"))
    for folder, _ in (*sets[0], *sets[1], *sets[2]):
        warm_page_cache(dicom_files(folder))
    new_keys = idempotency_keys(sets[0][0][0])
    scratch = root / "scratch"
    scratch.mkdir(exist_ok=True)
    path = root / "store"  # deleted at the end, --workdir or not: it is large
    if path.exists():  # left by an interrupted run
        shutil.rmtree(path)
    store = Store.create(path, ADMIN)
    with Store.create(scratch / "warmup-store") as warm:  # the worker pool starts here
        import_reference(warm, sets[2][0][0], "imported")
    remove(scratch / "warmup-store")
    by_scale: dict[int, dict[str, Measurement]] = {}
    checks: dict[int, list[dict]] = {}
    loads: dict[int, tuple[float, ...]] = {}
    explained: list[Path] = []
    have = 0
    loaded_at = datetime.now(UTC)
    try:
        for scale in scales:
            want = scale // PER_SERIES
            phase(f"Loading to {scale:,} instances ({want:,} series)", phases,
                  lambda s=store, h=have, w=want: grow(s, h, w, loaded_at))
            have = want
            loads[scale] = os.getloadavg()
            print(f"Measuring at {scale:,} instances...", flush=True)
            results, forms = measure_scale(store, scale, sets, scratch, new_keys)
            if scale == scales[-1]:
                explained = (explain_searches(store, forms)
                             + explain_idempotency(store, new_keys))
            store.close()
            results |= measure_open_at(path)
            store = Store.open(path, ADMIN)
            by_scale[scale] = results
            checks[scale] = scale_checks(results, scale_targets(forms))
    finally:
        store.close()
        shutil.rmtree(path)
    settings = {"scales": scales, "instances_per_series": PER_SERIES,
                "import_files": SCALE_IMPORT_FILES, "import_series": SCALE_IMPORT_SERIES,
                "import_slice_size": SCALE_SLICE_SIZE, "import_rounds": SCALE_ROUNDS,
                "search_repeats": SEARCH_REPEATS, "series_lookups": SERIES_LOOKUPS,
                "open_repeats": OPEN_REPEATS, "in_list_items": IN_LIST_ITEMS,
                "phases_seconds": phases, "load_average_at_start": load,
                "load_average_at_each_scale": loads,
                "catalog_mb_per_million_instances": per_million(by_scale)}
    return by_scale, {"checks": checks, "settings": settings}, explained


def scale_report(by_scale: dict, extra: dict, explained: list[Path]) -> dict:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": extra["settings"],
        "notes": list(SCALE_NOTES),
        "machine": machine(PACKAGES),
        "scales": {str(scale): {"measurements": {n: asdict(m) for n, m in results.items()},
                                "targets": extra["checks"][scale]}
                   for scale, results in by_scale.items()},
        "explain_files": [p.name for p in explained],
    }


def main_scale(args: argparse.Namespace) -> int:
    root = args.workdir or Path(tempfile.mkdtemp(prefix="circus-nb-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        by_scale, extra, explained = run_scales(root, args.scale)
    finally:
        if args.workdir is None:
            shutil.rmtree(root)
    print()
    print(scale_table(by_scale, extra["checks"]))
    print()
    for scale, mb in extra["settings"]["catalog_mb_per_million_instances"].items():
        print(f"* catalog.duckdb at {scale:,} instances: {mb:.1f} MB per million instances")
    print_notes(SCALE_NOTES, extra["settings"]["load_average_at_start"])
    print(f"* EXPLAIN ANALYZE at {args.scale[-1]:,} instances: {len(explained)} files in"
          f" benchmarks/explain/ (import_*.txt)")
    checks = [(scale, c) for scale, cs in extra["checks"].items() for c in cs
              if c["has_target"]]
    failed = [f"{c['measurement']} at {scale:,}" for scale, c in checks if not c["passed"]]
    out = args.out or DEFAULT_SCALE_OUT
    print_verdict_and_save(len(checks), failed, out, scale_report(by_scale, extra, explained))
    return 0


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
    parser.add_argument("--out", type=Path,
                        help="JSON results file (default benchmarks/results/import_bench.json,"
                        " with --scale import_scale.json)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the generated files here (default: a temporary folder,"
                        " deleted at the end)")
    parser.add_argument("--scale", type=scale_list,
                        help="instead: grow one store through these instance counts, e.g."
                        " 10000,100000,1000000, and measure searches, store.series, imports"
                        " and opening at each")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


def scale_list(text: str) -> list[int]:
    """``"10000,100000"`` as ascending instance counts, each a whole number of series."""
    scales = sorted({int(part) for part in text.split(",") if part.strip()})
    if not scales or scales[0] < 2 * PER_SERIES:
        raise argparse.ArgumentTypeError(f"give instance counts of at least {2 * PER_SERIES},"
                                         " separated by commas")
    return scales


def main() -> int:
    args = parse_args()
    if args.scale:
        return main_scale(args)
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
    print_verdict_and_save(len(checks), failed, args.out or DEFAULT_OUT,
                           report(results, checks, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
