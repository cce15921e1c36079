"""What one CaseBrowser search costs over many cases, next to plain SQL.

Run from the repository root, in the environment circus_nb is installed in::

    python benchmarks/browser_bench.py [--cases 100000] [--recent 300] [--rounds 30]
                                       [--out benchmarks/results/browser_bench.json]

The store is built the way ``benchmarks/case_bench.py`` builds the one it searches
(its code, imported): 3 small synthetic CT series imported into a new store in a
temporary folder (deleted at the end), 4 projects with 5 tags, then ``--recent``
cases made through ``store.create_case`` now (in the first project, random tags: the
cases a team touched this week) and the rest of ``--cases`` bulk-loaded exactly as the
API lays them out (case_bench's ``bulk_load``: created in the year up to 30 days ago, 1
to 5 revisions, statuses ``draft``, ``in review``, ``approved``, ``rejected``), then a
``CHECKPOINT``. A list of 1,000 random cases (``store.create_list``) and a saved search
(project + tag, ``store.save_search``) are made through the API.

A CaseBrowser search is ``store.search_cases(**f, limit=50)`` (the page) plus
``store.case_facets(**f)`` (counts by project, status, modality and tag; the total is
the sum of the project counts). It is timed, with the store opened as its admin, for the
filter forms ``f``: no filter, a project, a project + a tag, a tag + a status, a case id
substring (one case matches), ``updated_from="-7d"``, ``in_list=`` the list's name,
``preset=`` the saved search, and ``as_of=`` a past time (the median revision date).

Each form has a baseline in the same run, on the store's own connection: the same work
written by hand as plain SQL, without privilege checks, argument checks or name
look-ups: the page (``SELECT`` of the same columns, the same joins and ``WHERE``,
``ORDER BY created_at DESC, case_id LIMIT 50``) and one ``GROUP BY`` count query over
the same rows (``GROUP BY project_id, status, modality, tags``: every facet can be
summed from its rows), both read into DataFrames. Before timing, each form's page and
total are checked to be those of its baseline.

Timing runs in ``--rounds`` rounds after one untimed warm-up, each round running every
search and every baseline once, so a slow spell of the machine hits them alike; medians
and 95th percentiles. Ratios are baseline time / measured time (above 1: faster than
the baseline). Also measured:

* ``CaseBrowser(store)``: building the widget (ipywidgets controls, the project and tag
  look-ups) and its first search, unfiltered; median of 10 after a warm-up;
* the first call in a fresh process: a child Python process imports circus_nb, opens the
  store (the parent has closed it), runs one unfiltered search + facets, a second one,
  then imports the widgets and builds a ``CaseBrowser``; it times each step itself and
  prints them as JSON. Its baseline is a child that imports duckdb, opens the catalog
  file read-only and runs the no-filter baseline SQL. Children of both kinds
  alternate, 5 each; medians.

Target: every form's median below 100 ms (issue 13). The table says PASS or FAIL; the
JSON file holds every run, ratio and target plus facts about the machine. A failed
target does not change the exit status: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _report import (
    aligned,
    machine,
    phase,
    print_notes,
    print_verdict_and_save,
    target_cells,
    timed_ms,
)
from case_bench import (
    SEED,
    TAGS,
    Setup,
    bulk_load,
    create_cases,
    make_store,
    past_time,
    table_count,
)

from circus_nb import Store
from circus_nb.store.catalog import CATALOG
from circus_nb.widgets import CaseBrowser

PAGE = 50  # CaseBrowser's default page size
LIST_SIZE = 1000
WIDGET_REPEATS = 10
FRESH_ROUNDS = 5
TARGET_MS = 100.0  # every form's median (issue 13)
LIST_NAME = "bench list"
PRESET_NAME = "bench preset"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "browser_bench.json"
PACKAGES = ("circus-nb", "duckdb", "pandas", "ipywidgets")
NOTES = (
    "a search: search_cases(**f, limit=50) + case_facets(**f), what CaseBrowser.search runs",
    "baseline: the same page and one GROUP BY count query written by hand, run on the"
    " store's connection (no privilege or argument checks, no name look-ups)",
    "ratio: baseline time / measured time (above 1: faster than the baseline)",
    "rounds: every search and baseline once per round, after one warm-up; median (p95)",
    "cases beyond --recent are bulk-loaded rows, laid out as the API lays them out"
    " (case_bench.bulk_load)",
    "fresh process: times taken inside the child; the parent's store is closed",
)


@dataclass(frozen=True)
class Measurement:
    label: str
    value: float  # median, ms
    p95: float | None
    runs: list[float] = field(repr=False)
    baseline: str | None = None  # the measurement the ratio compares with
    target: float | None = None


def measured(label: str, runs: list[float], baseline: str | None = None,
             target: float | None = None) -> Measurement:
    p95 = float(np.percentile(runs, 95)) if len(runs) > 1 else None
    return Measurement(label, statistics.median(runs), p95, runs, baseline, target)


# ---------------------------------------------------------------- the forms and baselines

# The page's columns, as search_cases returns them, for the latest revisions ...
LATEST_COLUMNS = """c.case_id, c.project_id, c.tags, c.created_at, s.patient_id,
    s.patient_name, s.age, s.sex, c.updated_at, c.latest AS revision, c.status,
    c.description"""
LATEST_FROM = "cases c LEFT JOIN series s ON s.series_uid = c.first_series_uid"
# ... and for the revisions current at a time.
AS_OF_COLUMNS = """c.case_id, c.project_id, c.tags, c.created_at, s.patient_id,
    s.patient_name, s.age, s.sex, r.date AS updated_at, r.idx AS revision, r.status,
    r.description"""
AS_OF_FROM = """cases c
    JOIN (SELECT case_id, max(idx) AS idx FROM revisions WHERE date <= $as_of
          GROUP BY case_id) cur ON cur.case_id = c.case_id
    JOIN revisions r ON r.case_id = c.case_id AND r.idx = cur.idx
    JOIN revision_series rs ON rs.case_id = c.case_id AND rs.idx = cur.idx
                           AND rs.position = 0
    LEFT JOIN series s ON s.series_uid = rs.series_uid"""


@dataclass(frozen=True)
class Form:
    name: str
    label: str
    filters: dict[str, Any]  # for search_cases and case_facets
    where: str  # the baseline's WHERE, with $named parameters
    params: dict[str, Any]
    as_of: bool = False

    def baseline_sql(self) -> tuple[str, str]:
        columns, source = (AS_OF_COLUMNS, AS_OF_FROM) if self.as_of else (LATEST_COLUMNS,
                                                                          LATEST_FROM)
        status = "r.status" if self.as_of else "c.status"
        page = (f"SELECT {columns} FROM {source} WHERE {self.where}"
                f" ORDER BY c.created_at DESC, c.case_id LIMIT {PAGE}")
        counts = (f"SELECT c.project_id, {status} AS status, s.modality, c.tags,"
                  f" count(*) AS n FROM {source} WHERE {self.where}"
                  f" GROUP BY c.project_id, {status}, s.modality, c.tags")
        return page, counts


@dataclass
class Fixtures:
    project_id: str
    case_id_part: str
    list_id: str
    as_of: datetime


def forms(fx: Fixtures) -> list[Form]:
    recent = "-7d"
    since = datetime.now(UTC) - timedelta(days=7)
    pid = {"pid": fx.project_id}
    return [
        Form("none", "no filter", {}, "true", {}),
        Form("project", "a project", {"project_id": fx.project_id}, "c.project_id = $pid",
             pid),
        Form("project_tag", "project + tag", {"project_id": fx.project_id, "tags": [TAGS[2]]},
             "c.project_id = $pid AND list_contains(c.tags, $tag)", {**pid, "tag": TAGS[2]}),
        Form("tag_status", "tag + status", {"tags": [TAGS[0]], "status": "approved"},
             "list_contains(c.tags, $tag) AND c.status = $status",
             {"tag": TAGS[0], "status": "approved"}),
        Form("case_id", "case id substring", {"case_id": fx.case_id_part},
             "contains(c.case_id, $part)", {"part": fx.case_id_part}),
        Form("updated_recent", 'updated_from="-7d"', {"updated_from": recent},
             "c.updated_at >= $since", {"since": since}),
        Form("in_list", f"in_list, a list of {LIST_SIZE:,}", {"in_list": LIST_NAME},
             "c.case_id IN (SELECT item FROM list_items WHERE list_id = $list)",
             {"list": fx.list_id}),
        Form("preset", "preset (project + tag)", {"preset": PRESET_NAME},
             "c.project_id = $pid AND list_contains(c.tags, $tag)", {**pid, "tag": TAGS[2]}),
        Form("as_of", "as_of a past time", {"as_of": fx.as_of}, "true", {"as_of": fx.as_of},
             as_of=True),
    ]


def browser_search(store: Store, filters: dict[str, Any], parts: dict[str, list[float]]
                   ) -> tuple[Any, Any]:
    """What CaseBrowser.search asks the store; the time of each half goes into ``parts``."""
    start = time.perf_counter()
    page = store.search_cases(**filters, limit=PAGE)
    middle = time.perf_counter()
    facets = store.case_facets(**filters)
    parts["page"].append(1000 * (middle - start))
    parts["facets"].append(1000 * (time.perf_counter() - middle))
    return page, facets


def plain_search(con, form: Form) -> tuple[Any, Any]:
    page_sql, counts_sql = form.baseline_sql()
    return con.execute(page_sql, form.params).df(), con.execute(counts_sql, form.params).df()


def check_form(store: Store, form: Form) -> dict[str, int]:
    """The search finds the page and the total of its baseline, or the figures mean nothing."""
    page, facets = store.search_cases(**form.filters, limit=PAGE), store.case_facets(
        **form.filters)
    plain_page, plain_counts = plain_search(store._db(), form)
    total = int(facets.loc[facets["facet"] == "project", "count"].sum())
    plain_total = int(plain_counts["n"].sum())
    if list(page["case_id"]) != list(plain_page["case_id"]) or total != plain_total:
        raise RuntimeError(f"{form.name}: the search and its baseline differ ({len(page)} /"
                           f" {len(plain_page)} rows, {total} / {plain_total} cases)")
    if total == 0:
        raise RuntimeError(f"{form.name}: no case matches; the measurement would mean little")
    return {"page_rows": len(page), "total": total}


# ---------------------------------------------------------------- the store


def prepare(setup: Setup, cases: int, recent: int, rng: random.Random) -> Fixtures:
    """The API-made recent cases, the bulk-loaded rest, the list and the saved search."""
    create_cases(setup, recent, rng)
    bulk_load(setup, cases - table_count(setup.store, "cases"))
    store = setup.store
    ids = [row[0] for row in store._db().execute(
        "SELECT case_id FROM cases ORDER BY case_id").fetchall()]
    the_list = store.create_list("cases", LIST_NAME, rng.sample(ids, LIST_SIZE))
    project_id = setup.project_ids[1]
    store.save_search("cases", PRESET_NAME, project_id=project_id, tags=[TAGS[2]])
    return Fixtures(project_id, rng.choice(ids)[-10:], the_list.list_id, past_time(store))


def measure_searches(store: Store, all_forms: list[Form], rounds: int
                     ) -> tuple[dict[str, Measurement], dict[str, dict[str, int]]]:
    con = store._db()
    sizes = {form.name: check_form(store, form) for form in all_forms}
    parts = {form.name: {"page": [], "facets": []} for form in all_forms}
    actions: dict[str, Callable[[], object]] = {}
    for form in all_forms:
        actions[form.name] = lambda f=form: browser_search(store, f.filters, parts[f.name])
        actions[f"{form.name}_plain"] = lambda f=form: plain_search(con, f)
    for action in actions.values():  # warm-up
        action()
    for part in parts.values():
        part["page"].clear()
        part["facets"].clear()
    runs: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            runs[name].append(timed_ms(action))
    results: dict[str, Measurement] = {}
    for form in all_forms:
        n = sizes[form.name]["total"]
        results[form.name] = measured(f"search + facets, {form.label} ({n:,} found)",
                                      runs[form.name], f"{form.name}_plain", TARGET_MS)
        results[f"{form.name}_page"] = measured("  of which search_cases(limit=50)",
                                                parts[form.name]["page"])
        results[f"{form.name}_facets"] = measured("  of which case_facets",
                                                  parts[form.name]["facets"])
        results[f"{form.name}_plain"] = measured("  plain: page + GROUP BY counts",
                                                 runs[f"{form.name}_plain"])
    return results, sizes


def measure_widget(store: Store) -> dict[str, Measurement]:
    browser = CaseBrowser(store)  # warm-up
    if browser.total != table_count(store, "cases") or len(browser.results) != PAGE:
        raise RuntimeError(f"CaseBrowser shows {len(browser.results)} of {browser.total}")
    runs = [timed_ms(lambda: CaseBrowser(store)) for _ in range(WIDGET_REPEATS)]
    return {"widget": measured("CaseBrowser(store): controls + first search", runs, "none")}


# ---------------------------------------------------------------- fresh processes

FRESH_CHILD = """
start = time.perf_counter()
import circus_nb as cnb
imported = time.perf_counter()
store = cnb.Store.open(STORE, user=USER)
opened = time.perf_counter()
store.search_cases(limit=50), store.case_facets()
first = time.perf_counter()
store.search_cases(limit=50), store.case_facets()
second = time.perf_counter()
from circus_nb.widgets import CaseBrowser
CaseBrowser(store)
widget = time.perf_counter()
store.close()
ms = {"import": imported - start, "open": opened - imported, "first": first - opened,
      "second": second - first, "widget": widget - second, "total": widget - start}
print(json.dumps({k: 1000 * v for k, v in ms.items()}))
"""

PLAIN_CHILD = """
start = time.perf_counter()
import duckdb
import pandas  # circus_nb imports it too; .df() would import it on the first query
imported = time.perf_counter()
con = duckdb.connect(CATALOG_FILE, read_only=True)
opened = time.perf_counter()
con.execute(PAGE_SQL).df(), con.execute(COUNTS_SQL).df()
first = time.perf_counter()
con.close()
ms = {"import": imported - start, "open": opened - imported, "first": first - opened,
      "total": first - start}
print(json.dumps({k: 1000 * v for k, v in ms.items()}))
"""


def child_code(body: str, **values: str) -> str:
    head = "import json, time\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    return head + textwrap.dedent(body)


def run_child(code: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_fresh(store_path: Path, user: str, unfiltered: Form) -> dict[str, Measurement]:
    page_sql, counts_sql = unfiltered.baseline_sql()
    codes = {"fresh": child_code(FRESH_CHILD, STORE=str(store_path), USER=user),
             "fresh_plain": child_code(PLAIN_CHILD, CATALOG_FILE=str(store_path / CATALOG),
                                       PAGE_SQL=page_sql, COUNTS_SQL=counts_sql)}
    times: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    for _ in range(FRESH_ROUNDS):
        for name, code in codes.items():
            times[name].append(run_child(code))

    def of(kind: str, step: str) -> list[float]:
        return [t[step] for t in times[kind]]

    return {
        "fresh_first": measured("fresh process: first search + facets, no filter",
                                of("fresh", "first"), "fresh_plain_first"),
        "fresh_second": measured("  its second search + facets", of("fresh", "second")),
        "fresh_open": measured("  before it: Store.open", of("fresh", "open")),
        "fresh_import": measured("  before it: import circus_nb", of("fresh", "import")),
        "fresh_widget": measured("  after it: import widgets + CaseBrowser(store)",
                                 of("fresh", "widget")),
        "fresh_total": measured("  all of the child's steps", of("fresh", "total"),
                                "fresh_plain_total"),
        "fresh_plain_first": measured("fresh process, plain: first page + counts",
                                      of("fresh_plain", "first")),
        "fresh_plain_total": measured("  import duckdb and pandas, connect, page + counts",
                                      of("fresh_plain", "total")),
    }


# ---------------------------------------------------------------- report


def ratio(results: dict[str, Measurement], name: str) -> float | None:
    baseline = results[name].baseline
    return None if baseline is None else results[baseline].value / results[name].value


def short(label: str) -> str:
    """A row's label as the ratio column names it."""
    return label.strip().split(":")[0].split(" (")[0]


def table(results: dict[str, Measurement]) -> str:
    lines = []
    for name, m in results.items():
        times = ratio(results, name)
        against = "" if m.baseline is None else short(results[m.baseline].label)
        value = f"{m.value:.1f}" + ("" if m.p95 is None else f" ({m.p95:.1f})")
        lines.append((m.label, value, "ms", "" if times is None else f"{times:.2f} x {against}",
                      *target_cells(m.value, m.target)))
    return aligned(lines, ("measurement", "median (p95)", "unit", "ratio", "target", "result"))


def verdicts(results: dict[str, Measurement]) -> list[dict]:
    return [{"measurement": name, "threshold_ms": m.target, "value_ms": m.value,
             "passed": m.value < m.target} for name, m in results.items() if m.target]


def report(results: dict[str, Measurement], checks: list[dict], settings: dict) -> dict:
    measurements = {name: {**asdict(m), "runs": [round(r, 4) for r in m.runs],
                           "ratio": ratio(results, name)} for name, m in results.items()}
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "settings": settings,
            "notes": list(NOTES), "machine": machine(PACKAGES), "measurements": measurements,
            "targets": checks}


# ---------------------------------------------------------------- main


def run(root: Path, args: argparse.Namespace) -> tuple[dict[str, Measurement], dict]:
    load, rng, phases = os.getloadavg(), random.Random(SEED), {}
    setup = phase("Writing and importing 3 series", phases, lambda: make_store(root))
    store = setup.store
    try:
        fixtures = phase(f"Making {args.recent} cases and bulk-loading the rest of"
                         f" {args.cases}", phases,
                         lambda: prepare(setup, args.cases, args.recent, rng))
        all_forms = forms(fixtures)
        results, sizes = phase("Measuring the searches", phases,
                               lambda: measure_searches(store, all_forms, args.rounds))
        results |= phase("Measuring CaseBrowser(store)", phases, lambda: measure_widget(store))
        tables = {t: table_count(store, t) for t in ("cases", "revisions", "revision_series",
                                                     "list_items")}
        path, user = Path(store.path), store.user
    finally:
        store.close()
    results |= phase("Measuring the first search in fresh processes", phases,
                     lambda: measure_fresh(path, user, all_forms[0]))
    settings = {"cases": args.cases, "recent": args.recent, "rounds": args.rounds,
                "page": PAGE, "list_size": LIST_SIZE, "found": sizes,
                "filters": {f.name: f.filters for f in all_forms},
                "widget_repeats": WIDGET_REPEATS, "fresh_rounds": FRESH_ROUNDS,
                "table_rows": tables, "phase_seconds": phases, "seed": SEED,
                "load_average_at_start": load}
    return results, settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100000,
                        help="cases in the store (default 100000)")
    parser.add_argument("--recent", type=int, default=300,
                        help="of them, made through the API now (default 300)")
    parser.add_argument("--rounds", type=int, default=30,
                        help="timed rounds of every search (default 30)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON results file (default benchmarks/results/browser_bench.json)")
    args = parser.parse_args()
    if args.recent < 1 or args.cases < args.recent + 2 * LIST_SIZE:
        parser.error(f"need --recent >= 1 and --cases >= --recent + {2 * LIST_SIZE}")
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")
    return args


def main() -> int:
    args = parse_args()
    root = Path(tempfile.mkdtemp(prefix="circus-nb-browser-bench-"))
    try:
        results, settings = run(root, args)
    finally:
        shutil.rmtree(root)
    checks = verdicts(results)
    print()
    print(table(results))
    print()
    print_notes(NOTES, settings["load_average_at_start"])
    print("* seconds per phase: " + ", ".join(f"{k.lower()} {v:.1f}"
                                              for k, v in settings["phase_seconds"].items()))
    failed = [c["measurement"] for c in checks if not c["passed"]]
    print_verdict_and_save(len(checks), failed, args.out, report(results, checks, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
