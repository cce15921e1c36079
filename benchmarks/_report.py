"""What the benchmark scripts share: machine facts and the aligned result table."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HEADER = ("measurement", "value", "unit", "ratio", "target", "result")


def machine(packages: Sequence[str]) -> dict:
    """Facts about this machine and the package versions measured."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_total_bytes": memory_total(),
        "load_average_at_end": os.getloadavg(),
        "packages": {name: importlib.metadata.version(name) for name in packages},
    }


def memory_total() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def aligned(lines: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    """Rows as a plain-text table: the value column right-aligned, a rule under the header."""
    rows = [tuple(header), *map(tuple, lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    text = ["  ".join(cell.rjust(w) if i == 1 else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]
    return "\n".join([text[0], "  ".join("-" * w for w in widths), *text[1:]])


def target_cells(value: float, target: float | None) -> tuple[str, str]:
    """The target and verdict columns of a row measured in ms (empty without a target).

    >>> target_cells(7.3, 30), target_cells(41.0, 30), target_cells(1.0, None)
    (('< 30 ms', 'PASS'), ('< 30 ms', 'FAIL  <<<'), ('', ''))
    """
    if target is None:
        return "", ""
    return f"< {target:g} ms", "PASS" if value < target else "FAIL  <<<"


def timed_s(action: Callable[[], object]) -> float:
    """How long one call of ``action`` takes, in seconds."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def timed_ms(action: Callable[[], object]) -> float:
    """How long one call of ``action`` takes, in ms."""
    return 1000 * timed_s(action)


def rounds(actions: dict[str, Callable[[], object]], repeats: int,
           timer: Callable[[Callable[[], object]], float] = timed_ms) -> dict[str, list[float]]:
    """Time every action once per round (``timer``: ms, or ``timed_s``), ``repeats``
    rounds, after one untimed warm-up each: a slow spell of the machine hits them alike."""
    for action in actions.values():
        action()
    runs: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            runs[name].append(timer(action))
    return runs


def phase(name: str, phases: dict[str, float], action: Callable[[], Any]) -> Any:
    """Run one step of a benchmark's set-up, saying so; its seconds go into ``phases``."""
    print(f"{name}...", flush=True)
    start = time.perf_counter()
    result = action()
    phases[name] = round(time.perf_counter() - start, 3)
    return result


def print_notes(notes: Sequence[str], load_at_start: Sequence[float]) -> None:
    """The footnotes under a table, with the load average that may have skewed it."""
    for note in notes:
        print(f"* {note}")
    print("* load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}; other busy processes"
          " skew the figures".format(*load_at_start))


def print_verdict_and_save(total: int, failed: Sequence[str], out: Path, data: dict) -> None:
    """``N of M targets met`` and the JSON results file."""
    print(f"\n{total - len(failed)} of {total} targets met"
          + (f"; FAIL: {', '.join(failed)}" if failed else "."))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"Results written to {out}")
