"""How fast the CaseViewer opens, changes slices and saves a large mask, next to baselines.

Run from the repository root, in the environment circus_nb is installed in::

    python benchmarks/viewer_bench.py [--slices 300] [--out benchmarks/results/viewer_bench.json]

It writes one CT series of ``--slices`` 512 x 512 slices, imports it (reference mode),
makes a case of it and measures, in this process:

* **open**: from ``CaseViewer(store, case_id)`` to the first slice sent to the browser
  (the volume read, the window chosen, the labels opened, the first message built), the
  first time in this fresh process and the median of 3 more; baseline ``case.volume()``
  alone in the same run;
* **slice change**: from setting the slice to its message sent (pixels and the label
  overlay of a slice a label cuts), median over the whole stack; the browser then draws
  it (the end-to-end test checks it is drawn; the drawing itself is a canvas
  ``putImageData``);
* **save** of a revision whose voxel label is a sphere in a 512 x 512 x ``--slices``
  mask; baseline ``np.packbits`` of the same mask;
* with ``--browser``, **slice change seen in the browser**: the viewer in a real
  JupyterLab in headless Chromium (the end-to-end tests' harness), from an ArrowUp
  key on the image to the next animation frame after the new slice is drawn, for
  every slice of the stack.

Targets: open < 1.5 s, slice change < 50 ms (median), save < 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _report import aligned, machine, print_verdict_and_save, target_cells

from circus_nb import Store
from circus_nb.dicom.sample import write_ct_series
from circus_nb.widgets import CaseViewer

DEFAULT_OUT = Path("benchmarks/results/viewer_bench.json")
PACKAGES = ("circus-nb", "anywidget", "numpy", "scipy")
TARGETS = {"open_first": 1500.0, "slice_median": 50.0, "browser_median": 50.0,
           "save_median": 300.0}


@dataclass
class Measurement:
    label: str
    value: float
    baseline: float | None = None
    unit: str = "ms"


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def timed_open(store: Store, case_id: str) -> tuple[float, CaseViewer]:
    start = time.perf_counter()
    viewer = CaseViewer(store, case_id)
    return ms(start), viewer


def sphere(shape: tuple[int, int, int], radius: int) -> np.ndarray:
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    centre = [s // 2 for s in shape]
    return ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= radius**2


# keydown on the canvas -> the new slice drawn -> the next frame; ms per change
KEY_TO_FRAME = """async (count) => {
  const view = document.querySelector('.cnb-slice-view');
  const canvas = view.querySelector('canvas');
  const frame = () => new Promise(done => requestAnimationFrame(() => done()));
  const times = [];
  for (let i = 0; i < count; i++) {
    const before = view.dataset.shown, start = performance.now();
    const drawn = new Promise(done => {
      const watch = new MutationObserver(() => {
        if (view.dataset.shown !== before) { watch.disconnect(); done(); }
      });
      watch.observe(view, { attributes: true, attributeFilter: ['data-shown'] });
    });
    canvas.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowUp', bubbles: true }));
    await drawn;
    await frame();
    times.push(performance.now() - start);
  }
  return times;
}"""


def browser_slice_changes(root: Path, case_id: str, count: int) -> list[float] | str:
    """Slice changes timed in the page, or why they could not be measured here."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.e2e.conftest import write_notebook
    from tests.e2e.lab import CHROMIUM_ARGS, find_chromium, jupyterlab
    from tests.e2e.test_jupyterlab import run_notebook

    chromium = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright is not installed"
    if chromium is None:
        return "Chromium is not installed"
    write_notebook(root / "viewer.ipynb", [
        "import circus_nb as cnb\nfrom circus_nb.widgets import CaseViewer",
        'store = cnb.Store.open("store", user="admin@example.org")',
        f'viewer = CaseViewer(store, "{case_id}"); viewer'])
    with jupyterlab(root, root / "jupyter") as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1700, "height": 1100})
        run_notebook(page, server, "viewer.ipynb")
        page.locator(".cnb-slice-view[data-shown]").wait_for(timeout=120_000)
        canvas = page.locator("canvas.cnb-slice-canvas")
        canvas.click()
        canvas.press("Home")
        page.locator('.cnb-slice-view[data-shown="axial:0"]').wait_for()
        times = page.evaluate(KEY_TO_FRAME, count)
        browser.close()
        server.shutdown_kernels()
    return times


def run(root: Path, slices: int, browser: bool = False) -> dict[str, Measurement]:
    print(f"Writing and importing {slices} slices of 512 x 512...", flush=True)
    sample = write_ct_series(root / "series", n=slices, size=512, description="Viewer bench")
    with Store.create(root / "store") as store:
        store.import_dicom(root / "series", mode="reference", progress=False)
        project = store.create_project("Bench")
        case = store.create_case(project.project_id, [sample.series_uid])
        first, viewer = timed_open(store, case.case_id)
        opens = [timed_open(store, case.case_id)[0] for _ in range(3)]
        start = time.perf_counter()
        case.volume(0)
        volume_alone = ms(start)

        mask = sphere(viewer.layers.shape, radius=min(slices, 512) // 3)
        viewer.add_voxel_label("sphere")
        viewer.layers.replace_mask(mask, "a sphere")
        print("Moving through every slice...", flush=True)
        changes = []
        for k in range(slices):
            start = time.perf_counter()
            viewer.set_slice(k)
            changes.append(ms(start))
        saves, packs = [], []
        for i in range(3):
            viewer.paint(slices // 2, 10, 10 + 3 * i, 1)  # a change to save each time
            start = time.perf_counter()
            viewer.save(f"Save {i}.")
            saves.append(ms(start))
            start = time.perf_counter()
            np.packbits(mask)
            packs.append(ms(start))
    results = {
        "open_first": Measurement("CaseViewer open, first in a fresh process", first,
                                  volume_alone),
        "open_median": Measurement("CaseViewer open, median of 3 more", statistics.median(opens),
                                   volume_alone),
        "slice_median": Measurement("slice change to message sent, median",
                                    statistics.median(changes)),
        "slice_max": Measurement("slice change to message sent, max", max(changes)),
        "save_median": Measurement(f"save, 512 x 512 x {slices} mask, median",
                                   statistics.median(saves), statistics.median(packs)),
    }
    if browser:  # the store is closed: the notebook's kernel opens it
        print("Changing slices in JupyterLab in headless Chromium...", flush=True)
        seen = browser_slice_changes(root, case.case_id, slices - 1)
        if isinstance(seen, str):
            print(f"* no browser figures: {seen}")
        else:
            results["browser_median"] = Measurement(
                "slice change seen in the browser (key to frame), median",
                statistics.median(seen), statistics.median(changes))
            results["browser_p95"] = Measurement("the same, p95", percentile(seen, 0.95))
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rows(results: dict[str, Measurement]) -> list[tuple[str, ...]]:
    lines = []
    for name, m in results.items():
        ratio = "" if m.baseline is None else f"{m.value / m.baseline:.2f} x baseline" + (
            f" ({m.baseline:.1f} ms)")
        lines.append((m.label, f"{m.value:.1f}", m.unit, ratio,
                      *target_cells(m.value, TARGETS.get(name))))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--browser", action="store_true",
                        help="also time slice changes in JupyterLab in headless Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="circus-nb-viewer-bench-") as folder:
        results = run(Path(folder), args.slices, args.browser)
    print()
    print(aligned(rows(results)))
    print("* baselines: case.volume() alone for the opens, np.packbits of the mask for saves")
    failed = [name for name, target in TARGETS.items()
              if name in results and results[name].value >= target]
    measured = sum(name in results for name in TARGETS)
    print_verdict_and_save(measured, failed, args.out, {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"slices": args.slices, "slice_size": 512},
        "machine": machine(PACKAGES),
        "measurements": {name: asdict(m) for name, m in results.items()},
        "targets_ms": TARGETS,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
