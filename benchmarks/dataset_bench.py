"""How fast a Dataset hashes, reads, loads and writes its cases, next to plain loops.

Run from the repository root, in the environment circus_nb is installed in::

    python benchmarks/dataset_bench.py [--cases 50] [--slices 100] [--size 512]
                                       [--rounds 3] [--workdir DIR] [--profile]
                                       [--out benchmarks/results/dataset_bench.json]

The script writes ``--cases`` synthetic CT series of ``--slices`` slices of ``--size``
x ``--size`` (uncompressed 16-bit DICOM: about 2.5 GB at the defaults) into a
temporary folder (under ``--workdir`` when given; deleted at the end), imports them
into a new store there with ``mode="reference"`` (the store reads the files where
they were written, nothing is copied) and makes one project with one case per series.
Each case is saved with two labels on its series entry: a voxel label "nodule" (a
sphere) and a geometric label "box" (``Label.cuboid``, rasterised on every read), so
that reading a case measures unpacking and rasterising as well. The two labels do not
overlap. Then, in one run, with the store opened as its admin:

* **dataset**: ``store.dataset(project_id, progress=False)`` (choosing the cases and
  their revisions, and hashing every image file with sha256 in the package's threads),
  against a plain sequential loop of ``hashlib.file_digest(f, "sha256")`` over the
  same files;
* **materialise**: ``for item in ds`` over all cases (each item dropped before the next
  one is read), against the plain loop ``for case in cases: v = case.volume(0); masks
  = {label.name: label_ops.rasterise(label, v.shape, v.affine) for label in
  case.latest.series[0].labels}``. One untimed pass of each comes first, so both read
  the files from the page cache; then ``--rounds`` rounds, each one measured pass and
  one baseline pass. Medians per pass and, over every case of every round, per case.
  Target: ratio (baseline time / measured time) >= 0.9;
* **first call in a fresh process**: a child Python process that imports circus_nb,
  opens the store, ``Dataset.load(store, manifest)`` and reads ``ds[0]``, against a
  child that imports circus_nb, opens the store and reads ``store.case(id).volume(0)``
  plus its masks as above. Each child times itself from before ``import circus_nb`` to
  after the store is closed and prints it as JSON; the parent also times the child's
  wall time (interpreter start-up included). Children of both kinds alternate, 5 each;
  medians. The files are in the page cache;
* **to_nifti**: ``ds.to_nifti(folder, progress=False)`` (which writes cases side by
  side in ``min(4, os.cpu_count())`` threads), against a sequential plain loop that
  reads each case as the materialise baseline does (not from arrays held in memory)
  and writes it with nibabel: ``nibabel.save(Nifti1Image(image.astype(int16)
  .transpose(2, 1, 0), ras_affine), "<case>.nii.gz")`` and a uint8 label map (1
  "nodule", 2 "box") likewise. The baseline's nibabel writes alone are summed too.
  2 rounds, each one of both, after no warm-up (the files are already cached); each
  output folder is deleted after its pass. The first case's files of both are
  compared (same voxels, same affine);
* **verify**: ``ds.verify()`` (re-reading the revisions and re-hashing every file,
  sequentially; its progress bar, which has no off switch, goes to a discarded
  stderr), against the plain hash loop again; 3 rounds after a warm-up.

Ratios are baseline time / measured time (above 1: faster than the baseline). Only the
materialise ratio has a target; the others are reported. Other busy processes skew the
figures: the load average is recorded. ``--profile`` prints where one measured and one
baseline materialise pass spend their time (cProfile, top functions by own time). The
table says PASS or FAIL; the JSON file holds every run, ratio and target plus facts
about the machine. A failed target does not change the exit status: this is a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
from _report import aligned, machine, phase, print_notes, print_verdict_and_save, rounds, timed_s

import circus_nb as cnb
from circus_nb import label_ops
from circus_nb.dicom.sample import write_ct_series
from circus_nb.formats.nifti import ras_affine

SEED = 20251201
HASH_ROUNDS = 3
NIFTI_ROUNDS = 2
VERIFY_ROUNDS = 3
FRESH_ROUNDS = 5
PROFILE_LINES = 18
LABEL_VALUES = {"nodule": 1, "box": 2}  # the label map of the NIfTI baseline
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "dataset_bench.json"
PACKAGES = ("circus-nb", "numpy", "nibabel", "pydicom", "duckdb")
TARGETS = {"materialise": 0.9}  # measurement -> the ratio must be at least this
NOTES = (
    "ratio: baseline time / measured time (above 1: faster than the baseline)",
    "materialise: one untimed pass of each loop first, so both read the DICOM files from"
    " the page cache; then rounds of one measured and one baseline pass; medians",
    "store.dataset and verify hash in 4 threads, to_nifti reads the next case while one"
    " thread compresses the last; their baselines are sequential loops",
    "to_nifti baseline: each case read by the materialise baseline loop, then written"
    " with nibabel (int16 image, uint8 label map, .nii.gz at nibabel's default level)",
    "fresh process: in-child time from before `import circus_nb` to the store closed;"
    " wall time of the child includes the interpreter's start-up",
)


@dataclass(frozen=True)
class Measurement:
    label: str
    value: float
    unit: str  # "s" or "ms" (lower is better)
    runs: list[float] = field(repr=False)  # in ``unit``, one per pass or call
    baseline: str | None = None  # the measurement the ratio compares with


# ---------------------------------------------------------------- helpers


def median_of(label: str, runs: list[float], unit: str, baseline: str | None = None
              ) -> Measurement:
    return Measurement(label, statistics.median(runs), unit, runs, baseline)


def timed_items(items: Iterable[Any]) -> list[float]:
    """Seconds to produce each item of ``items``; each is dropped before the next."""
    times, it = [], iter(items)
    while True:
        start = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return times
        times.append(time.perf_counter() - start)
        del item


def plain_hashes(files: list[Path]) -> list[str]:
    digests = []
    for path in files:
        with open(path, "rb") as f:
            digests.append(hashlib.file_digest(f, "sha256").hexdigest())
    return digests


def plain_items(cases: list[cnb.Case]) -> Iterator[tuple[cnb.Volume, dict[str, np.ndarray]]]:
    """The baseline reader: each case's volume and its labels' masks, plainly."""
    for case in cases:
        v = case.volume(0)
        masks = {label.name: label_ops.rasterise(label, v.shape, v.affine)
                 for label in case.latest.series[0].labels}
        yield v, masks


# ---------------------------------------------------------------- the store


@dataclass
class Setup:
    store: cnb.Store
    project_id: str
    case_ids: list[str]
    files: list[Path]  # every image file of every case, in case and range order


def sphere(shape: tuple[int, int, int], centre: tuple[int, int, int], radius: int) -> np.ndarray:
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= radius**2


def box_corners(affine: np.ndarray, slices: int, size: int) -> tuple[list[float], list[float]]:
    """Patient corners (x, y, z mm) of a box over indexes z 1/4..1/2, y and x 1/8..3/8."""
    low = np.array([slices // 4, size // 8, size // 8, 1], float)
    high = np.array([max(slices // 2, slices // 4), 3 * size // 8, 3 * size // 8, 1], float)
    return (affine @ low)[:3].tolist(), (affine @ high)[:3].tolist()


def make_store(root: Path, args: argparse.Namespace) -> Setup:
    rng = np.random.default_rng(SEED)
    written = [write_ct_series(root / "dicom" / f"series-{i + 1:03d}", n=args.slices,
                               size=args.size, seed=i, description=f"Dataset bench {i + 1}",
                               patient_id=f"DSBENCH-{i + 1}") for i in range(args.cases)]
    store = cnb.Store.create(root / "store")
    store.import_dicom(root / "dicom", mode="reference", progress=False)
    project = store.create_project("Dataset bench")
    shape = (args.slices, args.size, args.size)
    affine = store.series(written[0].series_uid).volume(written[0].auto).affine
    low, high = box_corners(affine, args.slices, args.size)  # the series share a geometry
    radius = max(1, min(args.slices // 3, args.size // 10))
    case_ids, files = [], []
    for s in written:
        jitter = rng.integers(-(args.size // 40), args.size // 40 + 1, 2)
        centre = (args.slices // 2, 3 * args.size // 4 + int(jitter[0]),
                  3 * args.size // 4 + int(jitter[1]))
        labels = (cnb.Label.voxel(sphere(shape, centre, radius), name="nodule"),
                  cnb.Label.cuboid(low, high, name="box"))
        case = store.create_case(project.project_id, [s.series_uid])
        case.save("Nodule and box.", series=[cnb.SeriesEntry(
            s.series_uid, cnb.PartialVolume(*s.auto), labels)])
        case_ids.append(case.case_id)
        numbers = cnb.PartialVolume(*s.auto).to_list()
        files.extend(s.folder / f"IM{n:05d}.dcm" for n in numbers)
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise RuntimeError(f"expected the sample's files to be named IM<n>.dcm: no {missing[0]}")
    return Setup(store, project.project_id, case_ids, files)


def check_same_items(ds: cnb.Dataset, cases: list[cnb.Case]) -> None:
    """The dataset's first case reads as the baseline reads it."""
    item = ds[0]
    volume, masks = next(plain_items(cases[:1]))
    if not np.array_equal(item["image"], volume.array) or item["labels"].keys() != masks.keys():
        raise RuntimeError("ds[0] and the plain loop disagree on the image or the label names")
    if not all(np.array_equal(item["labels"][k], masks[k]) for k in masks):
        raise RuntimeError("ds[0] and the plain loop disagree on a mask")
    if any(not m.any() for m in masks.values()):
        raise RuntimeError(f"an empty label mask: {[k for k, m in masks.items() if not m.any()]}")


# ---------------------------------------------------------------- the measurements


def measure_dataset(setup: Setup) -> tuple[dict[str, Measurement], cnb.Dataset]:
    store, files = setup.store, setup.files
    ds = store.dataset(setup.project_id, progress=False)
    if len(ds) != len(setup.case_ids) or sum(ds.cases["images"]) != len(files):
        raise RuntimeError(f"the dataset has {len(ds)} cases and {sum(ds.cases['images'])}"
                           f" images, not {len(setup.case_ids)} and {len(files)}")
    runs = rounds({"dataset": lambda: store.dataset(setup.project_id, progress=False),
                   "hash_plain": lambda: plain_hashes(files)}, HASH_ROUNDS, timed_s)
    n = len(files)
    return {
        "dataset": median_of(f"store.dataset, {len(ds)} cases, {n} files hashed",
                             runs["dataset"], "s", "hash_plain"),
        "hash_plain": median_of(f"plain loop: hashlib.file_digest sha256 of the {n} files",
                                runs["hash_plain"], "s"),
    }, ds


def measure_materialise(ds: cnb.Dataset, cases: list[cnb.Case], rounds: int
                        ) -> dict[str, Measurement]:
    per_case: dict[str, list[float]] = {"materialise": [], "materialise_plain": []}
    passes: dict[str, list[float]] = {"materialise": [], "materialise_plain": []}
    readers = {"materialise": lambda: ds, "materialise_plain": lambda: plain_items(cases)}
    for reader in readers.values():  # warm-up: every file into the page cache
        timed_items(reader())
    for _ in range(rounds):
        for name, reader in readers.items():
            times = timed_items(reader())
            per_case[name].extend(times)
            passes[name].append(sum(times))
    n = len(ds)
    return {
        "materialise": median_of(f"for item in ds, {n} cases, per pass", passes["materialise"],
                                 "s", "materialise_plain"),
        "materialise_case": median_of("for item in ds, per case", [
            1000 * t for t in per_case["materialise"]], "ms", "materialise_plain_case"),
        "materialise_plain": median_of("plain loop: case.volume(0) + rasterise, per pass",
                                       passes["materialise_plain"], "s"),
        "materialise_plain_case": median_of("plain loop: case.volume(0) + rasterise, per case",
                                            [1000 * t for t in per_case["materialise_plain"]],
                                            "ms"),
    }


DATASET_CHILD = """
import time
start = time.perf_counter()
import circus_nb as cnb
store = cnb.Store.open(STORE, user=USER)
ds = cnb.Dataset.load(store, MANIFEST)
item = ds[0]
shape = item["image"].shape
store.close()
print(json.dumps({"ms": 1000 * (time.perf_counter() - start), "shape": shape}))
"""

PLAIN_CHILD = """
import time
start = time.perf_counter()
import circus_nb as cnb
from circus_nb import label_ops
store = cnb.Store.open(STORE, user=USER)
case = store.case(CASE_ID)
v = case.volume(0)
masks = {label.name: label_ops.rasterise(label, v.shape, v.affine)
         for label in case.latest.series[0].labels}
shape = v.shape
store.close()
print(json.dumps({"ms": 1000 * (time.perf_counter() - start), "shape": shape}))
"""


def child_code(body: str, **values: str) -> str:
    head = "import json\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    return head + textwrap.dedent(body)


def run_child(code: str) -> tuple[float, float]:
    """(ms inside the child, ms of the child's wall time)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    wall = 1000 * (time.perf_counter() - start)
    if done.returncode != 0:
        raise RuntimeError(f"the child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["ms"], wall


def measure_fresh(store_path: Path, user: str, manifest: Path, case_id: str
                  ) -> dict[str, Measurement]:
    codes = {"fresh": child_code(DATASET_CHILD, STORE=str(store_path), USER=user,
                                 MANIFEST=str(manifest)),
             "fresh_plain": child_code(PLAIN_CHILD, STORE=str(store_path), USER=user,
                                       CASE_ID=case_id)}
    inside: dict[str, list[float]] = {name: [] for name in codes}
    wall: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(FRESH_ROUNDS):
        for name, code in codes.items():
            ms, ms_wall = run_child(code)
            inside[name].append(ms)
            wall[name].append(ms_wall)
    return {
        "fresh": median_of("fresh process: import, open, Dataset.load, ds[0]", inside["fresh"],
                           "ms", "fresh_plain"),
        "fresh_wall": median_of("  the same, wall time of the child", wall["fresh"], "ms",
                                "fresh_plain_wall"),
        "fresh_plain": median_of("fresh process: import, open, case.volume(0) + rasterise",
                                 inside["fresh_plain"], "ms"),
        "fresh_plain_wall": median_of("  the same, wall time of the child", wall["fresh_plain"],
                                      "ms"),
    }


def nibabel_write(path: Path, array_xyz: np.ndarray, affine: np.ndarray) -> None:
    nibabel.save(nibabel.Nifti1Image(array_xyz, affine), path)


def plain_nifti(cases: list[cnb.Case], folder: Path, writes: list[float]) -> None:
    """The baseline: read each case plainly, write image and label map with nibabel."""
    for sub in ("imagesTr", "labelsTr"):
        (folder / sub).mkdir(parents=True)
    for case, (volume, masks) in zip(cases, plain_items(cases), strict=True):
        start = time.perf_counter()
        labels = np.zeros(volume.shape, np.uint8)
        for name, mask in masks.items():
            labels[mask] = LABEL_VALUES[name]
        affine = ras_affine(volume.affine)
        name = f"{case.case_id}.nii.gz"
        nibabel_write(folder / "imagesTr" / name,
                      volume.array.astype(np.int16).transpose(2, 1, 0), affine)
        nibabel_write(folder / "labelsTr" / name, labels.transpose(2, 1, 0), affine)
        writes.append(time.perf_counter() - start)


def check_same_nifti(ours: Path, plain: Path, case_id: str) -> None:
    for sub in ("imagesTr", "labelsTr"):
        a = nibabel.load(ours / sub / f"{case_id}.nii.gz")
        b = nibabel.load(plain / sub / f"{case_id}.nii.gz")
        if not (np.array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj))
                and np.allclose(a.affine, b.affine)):
            raise RuntimeError(f"to_nifti and the nibabel loop wrote other {sub} for {case_id}")


def measure_nifti(ds: cnb.Dataset, cases: list[cnb.Case], root: Path
                  ) -> dict[str, Measurement]:
    runs: dict[str, list[float]] = {"to_nifti": [], "nifti_plain": [], "nifti_plain_writes": []}
    for k in range(NIFTI_ROUNDS):
        ours, plain = root / f"nifti-{k}", root / f"nifti-plain-{k}"
        runs["to_nifti"].append(timed_s(lambda f=ours: ds.to_nifti(f, progress=False)))
        writes: list[float] = []
        runs["nifti_plain"].append(timed_s(lambda f=plain, w=writes: plain_nifti(cases, f, w)))
        runs["nifti_plain_writes"].append(sum(writes))
        if k == 0:
            check_same_nifti(ours, plain, cases[0].case_id)
        shutil.rmtree(ours)
        shutil.rmtree(plain)
    n = len(ds)
    return {
        "to_nifti": median_of(f"ds.to_nifti, {n} cases", runs["to_nifti"], "s", "nifti_plain"),
        "nifti_plain": median_of("plain loop: read + nibabel.save image and label map",
                                 runs["nifti_plain"], "s"),
        "nifti_plain_writes": median_of("  of which the nibabel writes", runs[
            "nifti_plain_writes"], "s"),
    }


def quiet_verify(ds: cnb.Dataset) -> bool:
    """``ds.verify()`` with its progress bar (drawn from 20 cases on) sent nowhere."""
    with contextlib.redirect_stderr(io.StringIO()):
        return ds.verify()


def measure_verify(ds: cnb.Dataset, files: list[Path]) -> dict[str, Measurement]:
    runs = rounds({"verify": lambda: quiet_verify(ds),
                   "verify_plain": lambda: plain_hashes(files)}, VERIFY_ROUNDS, timed_s)
    return {
        "verify": median_of(f"ds.verify, {len(files)} files", runs["verify"], "s",
                            "verify_plain"),
        "verify_plain": median_of("plain loop: hashlib.file_digest sha256 of the files",
                                  runs["verify_plain"], "s"),
    }


def profile(ds: cnb.Dataset, cases: list[cnb.Case]) -> dict[str, str]:
    """The top functions by own time of one measured and one baseline materialise pass."""
    texts = {}
    for name, items in (("materialise", lambda: ds), ("materialise_plain",
                                                       lambda: plain_items(cases))):
        profiler = cProfile.Profile()
        profiler.enable()
        timed_items(items())
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(PROFILE_LINES)
        texts[name] = out.getvalue()
    return texts


# ---------------------------------------------------------------- verdicts and report


def ratio(results: dict[str, Measurement], name: str) -> float | None:
    """Baseline time / measured time (above 1: faster than the baseline)."""
    baseline = results[name].baseline
    return None if baseline is None else results[baseline].value / results[name].value


def verdicts(results: dict[str, Measurement]) -> list[dict]:
    return [{"measurement": name, "min_ratio": target, "ratio": ratio(results, name),
             "passed": ratio(results, name) >= target}
            for name, target in TARGETS.items() if name in results]


def table(results: dict[str, Measurement], checks: list[dict]) -> str:
    by_name = {check["measurement"]: check for check in checks}
    lines = []
    for name, m in results.items():
        times = ratio(results, name)
        check = by_name.get(name)
        lines.append((m.label, f"{m.value:.3f}", m.unit,
                      "" if times is None else f"{times:.3f}",
                      "" if check is None else f">= {check['min_ratio']:g}",
                      "" if check is None else "PASS" if check["passed"] else "FAIL  <<<"))
    return aligned(lines)


def report(results: dict[str, Measurement], checks: list[dict], settings: dict,
           profiles: dict[str, str]) -> dict:
    measurements = {name: {**asdict(m), "runs": [round(r, 5) for r in m.runs],
                           "ratio": ratio(results, name)} for name, m in results.items()}
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "notes": list(NOTES),
        "machine": machine(PACKAGES),
        "measurements": measurements,
        "targets": checks,
        "profiles": profiles,
    }


# ---------------------------------------------------------------- main


def run(root: Path, args: argparse.Namespace
        ) -> tuple[dict[str, Measurement], dict, dict[str, str]]:
    load, phases, profiles = os.getloadavg(), {}, {}
    setup = phase(f"Writing, importing and labelling {args.cases} series of {args.slices}"
                  f" x {args.size} x {args.size}", phases, lambda: make_store(root, args))
    store = setup.store
    try:
        cases = [store.case(case_id) for case_id in setup.case_ids]
        results, ds = phase("Measuring store.dataset (hashing)", phases,
                            lambda: measure_dataset(setup))
        check_same_items(ds, cases)
        manifest = ds.save(root / "dataset.json")
        results |= phase(f"Measuring materialise ({args.rounds} rounds)", phases,
                         lambda: measure_materialise(ds, cases, args.rounds))
        if args.profile:
            profiles = phase("Profiling one materialise pass of each", phases,
                             lambda: profile(ds, cases))
        results |= phase("Measuring to_nifti", phases, lambda: measure_nifti(ds, cases, root))
        results |= phase("Measuring verify", phases, lambda: measure_verify(ds, setup.files))
        user, store_path = store.user, store.path
    finally:
        store.close()
    results |= phase("Measuring the first call in fresh processes", phases, lambda:
                     measure_fresh(Path(store_path), user, manifest, setup.case_ids[0]))
    dicom_bytes = sum(f.stat().st_size for f in setup.files)
    settings = {"cases": args.cases, "slices": args.slices, "size": args.size,
                "rounds": args.rounds, "hash_rounds": HASH_ROUNDS, "nifti_rounds": NIFTI_ROUNDS,
                "verify_rounds": VERIFY_ROUNDS, "fresh_rounds": FRESH_ROUNDS,
                "files": len(setup.files), "dicom_bytes": dicom_bytes,
                "workdir": str(root.parent), "phase_seconds": phases, "seed": SEED,
                "load_average_at_start": load}
    return results, settings, profiles


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=50, help="cases, one series each (50)")
    parser.add_argument("--slices", type=int, default=100, help="slices per series (100)")
    parser.add_argument("--size", type=int, default=512, help="rows and columns (512)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="materialise rounds, each a measured and a baseline pass (3)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the temporary data (default: the system's temp)")
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile's top functions of one materialise pass of each")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON results file (default benchmarks/results/dataset_bench.json)")
    args = parser.parse_args()
    if args.cases < 1 or args.slices < 2 or args.size < 16 or args.rounds < 1:
        parser.error("need --cases >= 1, --slices >= 2, --size >= 16 and --rounds >= 1")
    return args


def main() -> int:
    args = parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="circus-nb-dataset-bench-", dir=args.workdir))
    try:
        results, settings, profiles = run(root, args)
    finally:
        shutil.rmtree(root)
    checks = verdicts(results)
    for name, text in profiles.items():
        print(f"\ncProfile of one {name} pass (top {PROFILE_LINES} by own time):")
        print("\n".join(line for line in text.splitlines() if line.strip()))
    print()
    print(table(results, checks))
    print()
    print_notes(NOTES, settings["load_average_at_start"])
    print(f"* {settings['files']} DICOM files, {settings['dicom_bytes'] / 1e9:.2f} GB;"
          f" {len(os.sched_getaffinity(0))} CPUs usable")
    print("* seconds per phase: " + ", ".join(f"{k.split(' (')[0].lower()} {v:.1f}"
                                              for k, v in settings["phase_seconds"].items()))
    failed = [c["measurement"] for c in checks if not c["passed"]]
    print_verdict_and_save(len(checks), failed, args.out,
                           report(results, checks, settings, profiles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
