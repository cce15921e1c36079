"""How fast the RangeEditor's thumbnails follow its slider, next to a redrawn figure.

Run from the repository root, in the environment circus_nb is installed in::

    python benchmarks/widget_bench.py [--slices 300] [--out benchmarks/results/widget_bench.json]

It writes one CT series of ``--slices`` 512 x 512 slices, imports it, opens a
:class:`circus_nb.widgets.RangeEditor` on it and moves the slider's lower end
over every image, twice. Each step is timed from setting the slider's value
to the moment the three thumbnails hold their new PNG bytes; ipywidgets calls
observers synchronously, so that is the duration of the assignment. That is the
kernel-side latency; the browser adds the transfer of ~10 KB of PNG.

* first pass: thumbnails not cached yet: each new image is read from its DICOM
  file, windowed, downsampled, stored in the catalog and encoded once;
* second pass: thumbnails in the editor's memory cache;
* baseline: the classic way, a matplotlib figure redrawn with ``imshow`` of the
  three slices on every event (the slices already in memory, so only the drawing
  is measured).

Targets (median and 95th percentile of the first pass): under 30 ms and 60 ms.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _report import aligned, machine, print_verdict_and_save, target_cells

from circus_nb import Store
from circus_nb.dicom.sample import write_ct_series
from circus_nb.widgets import RangeEditor

DEFAULT_OUT = Path("benchmarks/results/widget_bench.json")
PACKAGES = ("circus-nb", "ipywidgets", "matplotlib", "numpy")
TARGETS = {"first_median": 30.0, "first_p95": 60.0}


@dataclass
class Measurement:
    label: str
    value: float
    unit: str = "ms"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def sweep(editor: RangeEditor, last: int) -> list[float]:
    """Move the lower end over every image, one step at a time; ms per step."""
    times = []
    for low in range(2, last):
        start = time.perf_counter()
        editor.slider.value = (low, last)
        times.append((time.perf_counter() - start) * 1000)
    return times


def redraw_baseline(editor: RangeEditor, last: int, steps: int) -> list[float]:
    """A figure of three slices redrawn per event, rendered to PNG as a notebook would."""
    volume = editor.series.volume((1, last, 1)).array
    figure, axes = plt.subplots(1, 3, figsize=(6, 2))
    times = []
    for low in range(1, min(steps, last - 1) + 1):
        start = time.perf_counter()
        for ax, index in zip(axes, (low - 1, (low + last) // 2 - 1, last - 1), strict=True):
            ax.clear()
            ax.imshow(volume[index], cmap="gray")
            ax.set_axis_off()
        figure.savefig(io.BytesIO(), format="png")
        times.append((time.perf_counter() - start) * 1000)
    plt.close(figure)
    return times


def run(root: Path, slices: int) -> dict[str, Measurement]:
    print(f"Writing and importing {slices} slices of 512 x 512...", flush=True)
    sample = write_ct_series(root / "series", n=slices, size=512, description="Widget bench")
    with Store.create(root / "store") as store:
        store.import_dicom(root / "series", mode="reference", progress=False)
        editor = RangeEditor(store, sample.series_uid, (1, slices, 1))
        print("Moving the slider...", flush=True)
        first, second = sweep(editor, slices), sweep(editor, slices)
        baseline = redraw_baseline(editor, slices, 60)
    return {
        "first_median": Measurement("slider -> thumbnails, first pass, median",
                                    statistics.median(first)),
        "first_p95": Measurement("slider -> thumbnails, first pass, p95", percentile(first, 0.95)),
        "cached_median": Measurement("slider -> thumbnails, cached, median",
                                     statistics.median(second)),
        "cached_p95": Measurement("slider -> thumbnails, cached, p95", percentile(second, 0.95)),
        "redraw_median": Measurement("baseline: matplotlib redraw per event, median",
                                     statistics.median(baseline)),
    }


def rows(results: dict[str, Measurement]) -> list[tuple[str, ...]]:
    baseline = results["redraw_median"].value
    lines = []
    for name, m in results.items():
        times = "" if name == "redraw_median" or "median" not in name else (
            f"{baseline / m.value:.1f} x redraw")
        lines.append((m.label, f"{m.value:.2f}", m.unit, times,
                      *target_cells(m.value, TARGETS.get(name))))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="circus-nb-widget-bench-") as folder:
        results = run(Path(folder), args.slices)
    print()
    print(aligned(rows(results)))
    failed = [name for name, target in TARGETS.items() if results[name].value >= target]
    print_verdict_and_save(len(TARGETS), failed, args.out, {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"slices": args.slices, "slice_size": 512, "thumbnail_size": 128},
        "machine": machine(PACKAGES),
        "measurements": {name: asdict(m) for name, m in results.items()},
        "targets_ms": TARGETS,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
