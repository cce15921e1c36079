"""``case_bench.py --scale``: how case searches, datasets and history grow with the store.

One store grows through the scales given (e.g. 10,000, 100,000 and 1,000,000 cases): the
cases are bulk-loaded as ``case_bench.bulk_load`` lays them out (1-5 revisions each,
created over the year up to 30 days ago, revised up to a week apart, a tenth of them up
to now, the revisions appended in save order). One case made
through the API has 10,000 revisions (its 9,999 later ones bulk-loaded the same way,
each with valid attributes and a range inside its series). At each scale, after a
``CHECKPOINT``, in one run:

* every ``search_cases`` form of :data:`FORMS` (median of rounds), against the plain
  ``SELECT * FROM cases ORDER BY created_at DESC NULLS LAST, case_id LIMIT 200`` (the
  searches' order) run in the same rounds;
  ``as_of`` is the median revision date (about half the cases existed then);
* ``store.dataset(project, tags=["frozen"])`` over 10,000 cases of one project carrying
  that tag (fewer at a scale with fewer cases in the project), against the dataset
  query alone through the store's connection;
* ``history()``, ``revision(i)`` and ``diff(a, b)`` of the 10,000-revision case,
  against the same ``SELECT`` s run directly; ``history()`` and ``revision(0)`` of
  cases of 1-5 revisions picked at random;
* ``Store.open`` + ``close`` (median of 5), the first ``search_cases()`` in a fresh
  process (Python start and imports not timed), and the catalog file's size.

At the largest scale the ``EXPLAIN ANALYZE`` of every search form's SQL is written to
``benchmarks/explain/case_<form>.txt``.
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from _report import aligned, rounds, target_cells, timed_ms
from case_bench import (  # it runs this module for --scale; its own top imports nothing here
    STATUSES,
    bulk_load,
    changed_range,
    random_attributes,
    table_count,
)

from circus_nb import Store
from circus_nb.store.catalog import CATALOG

HERE = Path(__file__).resolve().parent
EXPLAIN_DIR = HERE / "explain"
LONG_REVISIONS = 10_000
DATASET_CASES = 10_000
DATASET_TAG = "frozen"
BULK_TAGS = 1000  # cases per store.bulk_tags call, its limit
OPEN_REPEATS = 5
ROUNDS = 15
REVISION_REPEATS = 50

# form -> search_cases arguments; "{as_of}", "{project}" and "{case_id}" are filled in
FORMS: dict[str, dict[str, Any]] = {
    "none": {},
    "project_tag": {"project_id": "{project}", "tags": ["reviewed"]},
    "case_id": {"case_id": "{case_id}"},
    "status": {"status": "approved"},
    "updated_from": {"updated_from": "{recent}"},
    "sort_revision": {"sort": ["-revision"]},
    "sort_patient": {"sort": ["patient_name", "-created_at"]},
    "as_of": {"as_of": "{as_of}"},
    "as_of_project_tag": {"as_of": "{as_of}", "project_id": "{project}", "tags": ["reviewed"]},
    "as_of_status": {"as_of": "{as_of}", "status": "approved"},
    "as_of_sort_revision": {"as_of": "{as_of}", "sort": ["-revision"]},
    "as_of_sort_updated": {"as_of": "{as_of}", "sort": ["-updated_at"]},
    "as_of_sort_patient": {"as_of": "{as_of}", "sort": ["patient_name", "-created_at"]},
}
# the baseline of the searches: the newest 200 case rows, in the searches' own order
PLAIN_LIMIT = "SELECT * FROM cases ORDER BY created_at DESC NULLS LAST, case_id LIMIT 200"
TARGETS_MS = {**{f"search_{form}": 50.0 for form in FORMS}, "dataset": 1000.0,
              "history": 20.0, "revision": 5.0, "diff": 20.0, "open": 200.0}


def median_ms(runs: list[float]) -> float:
    return statistics.median(runs)


# ---------------------------------------------------------------- the long case


def long_case_frames(store: Store, case_id: str, uid: str, auto: tuple[int, int, int],
                     n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Revisions 1..n of one case, a minute apart from now on, as the API writes them."""
    rng = random.Random(seed)
    first = store.case(case_id).latest.date
    dates = [first + timedelta(minutes=i) for i in range(n + 1)]
    revisions = pd.DataFrame({
        "case_id": case_id, "idx": range(1, n + 1), "creator": store.user,
        "date": dates[1:], "description": [f"Bench save {i}." for i in range(1, n + 1)],
        "status": [rng.choice(STATUSES) for _ in range(n)],
        "attributes": [json.dumps(random_attributes(rng)) for _ in range(n)],
        "previous_date": dates[:-1], "first_series_uid": uid})
    ranges = [changed_range(auto, rng) for _ in range(n)]
    entries = pd.DataFrame({"case_id": case_id, "idx": range(1, n + 1), "position": 0,
                            "series_uid": uid, "range_start": [r[0] for r in ranges],
                            "range_end": [r[1] for r in ranges],
                            "range_delta": [r[2] for r in ranges], "labels": "[]"})
    return revisions, entries


def add_long_case(setup: Any, n: int) -> str:
    """A case made through the API, then ``n`` more revisions bulk-loaded; its id."""
    uid, auto = setup.series[0]
    case = setup.store.create_case(setup.project_ids[0], [uid])
    revisions, entries = long_case_frames(setup.store, case.case_id, uid, auto, n, seed=7)
    last = revisions.iloc[-1]
    with setup.store._write() as db:
        db.insert_frame("revisions", revisions)
        db.insert_frame("revision_series", entries)
        db.execute("UPDATE cases SET latest = ?, status = ?, description = ?, updated_at = ?,"
                   " saved_at = ? WHERE case_id = ?",
                   [n, last["status"], last["description"], last["date"], last["date"],
                    case.case_id])
    if len(setup.store.case(case.case_id).history()) != n + 1:
        raise RuntimeError("the long case does not read back as written")
    return case.case_id


# ---------------------------------------------------------------- what is measured


def filled(arguments: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` with the ``"{name}"`` placeholders replaced by ``values``."""
    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{"):
            return values[value.strip("{}")]
        return value
    return {key: fill(value) for key, value in arguments.items()}


def search_values(store: Store, project_id: str) -> dict[str, Any]:
    con = store._db()
    as_of, recent = con.execute(
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY date),"
        " percentile_disc(0.99) WITHIN GROUP (ORDER BY date) FROM revisions").fetchone()
    case_id = con.execute("SELECT case_id FROM cases ORDER BY created_at LIMIT 1"
                          " OFFSET (SELECT count(*) / 3 FROM cases)").fetchone()[0]
    return {"as_of": as_of, "project": project_id, "case_id": case_id[-10:], "recent": recent}


def measure_searches(store: Store, values: dict[str, Any]) -> dict[str, list[float]]:
    con = store._db()
    searches = {form: filled(arguments, values) for form, arguments in FORMS.items()}
    actions: dict[str, Callable[[], object]] = {
        f"search_{form}": (lambda a=arguments: store.search_cases(**a))
        for form, arguments in searches.items()}
    actions["count_as_of"] = lambda: store.count_cases(as_of=values["as_of"])
    actions["plain_limit"] = lambda: con.execute(PLAIN_LIMIT).df()
    for form, arguments in searches.items():  # each finds something
        if store.search_cases(**arguments).empty:
            raise RuntimeError(f"search form {form} found no case")
    return rounds(actions, ROUNDS)


def tag_dataset_cases(store: Store, project_id: str) -> int:
    """Top the cases of ``project_id`` tagged ``frozen`` up to 10,000 (through the API)."""
    have = store.count_cases(project_id=project_id, tags=[DATASET_TAG])
    ids = [row[0] for row in store._db().execute(
        "SELECT case_id FROM cases WHERE project_id = ? AND NOT (? = ANY(tags))"
        " ORDER BY case_id LIMIT ?", [project_id, DATASET_TAG, DATASET_CASES - have]).fetchall()]
    for start in range(0, len(ids), BULK_TAGS):
        store.bulk_tags(ids[start:start + BULK_TAGS], "add", [DATASET_TAG])
    return have + len(ids)


def measure_dataset(store: Store, project_id: str) -> dict[str, list[float]]:
    from circus_nb.store.datasets import dataset_query

    sql, params = dataset_query(project_id, [DATASET_TAG], None, None)
    con = store._db()
    return rounds({
        "dataset": lambda: store.dataset(project_id, tags=[DATASET_TAG], progress=False),
        "dataset_plain": lambda: con.execute(sql, params).fetchall(),
    }, 5)


def measure_long_case(store: Store, case_id: str) -> dict[str, list[float]]:
    con, case, rng = store._db(), store.case(case_id), random.Random(3)
    picks = [rng.randrange(LONG_REVISIONS) for _ in range(3 * REVISION_REPEATS)]
    indexes, plain_indexes = itertools.cycle(picks), itertools.cycle(picks)

    def plain_revision(index: int) -> object:
        return (con.execute("SELECT * FROM revisions WHERE case_id = ? AND idx = ?",
                            [case_id, index]).fetchone(),
                con.execute("SELECT * FROM revision_series WHERE case_id = ? AND idx = ?",
                            [case_id, index]).fetchall())

    return rounds({
        "history": case.history,
        "history_plain": lambda: con.execute(
            "SELECT idx AS index, date, creator, description, status FROM revisions"
            " WHERE case_id = ? ORDER BY idx", [case_id]).df(),
        "revision": lambda: case.revision(next(indexes)),
        "diff": lambda: case.diff(next(indexes), next(indexes)),
        "revision_plain": lambda: plain_revision(next(plain_indexes)),
    }, REVISION_REPEATS)


def measure_typical_cases(store: Store) -> dict[str, list[float]]:
    """``history()`` and ``revision(0)`` of cases of 1-5 revisions picked at random: what
    opening a case costs (the long case's rows lie together, at the start of the file)."""
    ids = [row[0] for row in store._db().execute(
        "SELECT case_id FROM cases ORDER BY random() LIMIT 50").fetchall()]
    cases = itertools.cycle([store.case(case_id) for case_id in ids])
    return rounds({"typical_history": lambda: next(cases).history(),
                   "typical_revision": lambda: next(cases).revision(0)}, REVISION_REPEATS)


def measure_open(path: Path, user: str) -> dict[str, list[float]]:
    def open_close() -> None:
        Store.open(path, user).close()
    return {"open": [timed_ms(open_close) for _ in range(OPEN_REPEATS)]}


FRESH = """
import sys, time
from circus_nb import Store
start = time.perf_counter()
store = Store.open(sys.argv[1], sys.argv[2])
store.search_cases()
print(1000 * (time.perf_counter() - start))
"""


def first_search_in_fresh_process(path: Path, user: str) -> dict[str, list[float]]:
    """``Store.open`` and the first ``search_cases()`` of a new process (imports not timed)."""
    out = subprocess.run([sys.executable, "-c", FRESH, str(path), user], check=True,
                         capture_output=True, text=True).stdout
    return {"fresh_first_search": [float(out.strip().splitlines()[-1])]}


def explained_calls(store: Store, long_case: str, values: dict[str, Any]
                    ) -> dict[str, tuple[str, Callable[[], object]]]:
    """name -> (the call as text, the call) for each call whose SQL is explained."""
    case, project = store.case(long_case), values["project"]
    calls = {f"search_{form}": (f"search_cases({', '.join(f'{k}={v!r}' for k, v in a.items())})",
                                lambda a=a: store.search_cases(**a))
             for form, a in ((f, filled(t, values)) for f, t in FORMS.items())}
    calls["count_as_of"] = (f"count_cases(as_of={values['as_of']!r})",
                            lambda: store.count_cases(as_of=values["as_of"]))
    calls["dataset"] = (f"dataset({project!r}, tags=[{DATASET_TAG!r}])", lambda: store.dataset(
        project, tags=[DATASET_TAG], progress=False))
    calls["history"] = ("case.history()", case.history)
    calls["revision"] = ("case.revision(5000)", lambda: case.revision(5000))
    return calls


def explain(run: Callable[..., Any], sql: str, params: list) -> str:
    # DuckDB answers one row (kind, the tree), PostgreSQL a row per line
    return "\n".join(row[-1] for row in run("EXPLAIN ANALYZE " + sql, params).fetchall())


def recording(method: Callable[..., Any], seen: list) -> Callable[..., Any]:
    def recorded(sql: str, params: Any = ()) -> Any:
        seen.append((sql, list(params)))
        return method(sql, params)
    return recorded


def write_explains(store: Store, long_case: str, values: dict[str, Any]) -> None:
    """``EXPLAIN ANALYZE`` of every statement each call runs, as the store runs it (the
    privilege look-ups included), one file per call."""
    db = store._db()
    seen: list[tuple[str, list]] = []
    run = db.execute
    for method in ("execute", "frame"):  # record each statement, then run it as usual
        setattr(db, method, recording(getattr(db, method), seen))
    cases = run("SELECT count(*) FROM cases").fetchone()[0]
    try:
        for name, (text, call) in explained_calls(store, long_case, values).items():
            seen.clear()
            call()
            statements = list(seen)
            body = "\n\n".join(
                f"-- statement {i + 1} of {len(statements)}\n{sql}\n\n{explain(run, sql, params)}"
                for i, (sql, params) in enumerate(statements))
            (EXPLAIN_DIR / f"case_{db.kind}_{name}.txt").write_text(
                f"-- store.{text}, {cases:,} cases, {db.kind}\n\n{body}\n")
    finally:
        del db.execute, db.frame


# ---------------------------------------------------------------- one scale, all scales


def measure_scale(setup: Any, long_case: str, values: dict[str, Any]) -> dict[str, Any]:
    store = setup.store
    runs = measure_searches(store, values)
    runs |= measure_dataset(store, setup.project_ids[1])
    runs |= measure_long_case(store, long_case)
    runs |= measure_typical_cases(store)
    return runs


def grow(setup: Any, scales: list[int], loaded: Callable[[int, int], None]) -> None:
    """Bulk-load up to each scale in turn, calling ``loaded(scale, step)`` after each."""
    for step, scale in enumerate(scales):
        print(f"Bulk-loading up to {scale:,} cases...", flush=True)
        bulk_load(setup, scale - table_count(setup.store, "cases"), seed=1000 + step)
        loaded(scale, step)


def catalog_bytes(store: Store) -> int:
    if store._db().kind == "duckdb":
        return (Path(store.path) / CATALOG).stat().st_size
    return store._db().execute("SELECT pg_database_size(current_database())").fetchone()[0]


def run_scales(setup: Any, scales: list[int]) -> dict[str, Any]:
    """Every measurement at every scale: ``{scale: {name: [ms, ...]}}`` plus sizes."""
    long_case = add_long_case(setup, LONG_REVISIONS - 1)
    results: dict[str, Any] = {}
    store_path, user = setup.store.path, setup.store.user

    def at(scale: int, step: int) -> None:
        print(f"Measuring at {scale:,} cases...", flush=True)
        frozen = tag_dataset_cases(setup.store, setup.project_ids[1])
        values = search_values(setup.store, setup.project_ids[1])
        runs = measure_scale(setup, long_case, values)
        if step == len(scales) - 1:
            EXPLAIN_DIR.mkdir(exist_ok=True)
            write_explains(setup.store, long_case, values)
        setup.store.close()  # the other process and the opens need the file to themselves
        runs |= measure_open(store_path, user)
        runs |= first_search_in_fresh_process(store_path, user)
        setup.store = Store.open(store_path, user)
        results[str(scale)] = {"runs": runs, "dataset_cases": frozen,
                               "catalog_bytes": catalog_bytes(setup.store)}

    grow(setup, scales, at)
    return results


# ---------------------------------------------------------------- report

BASELINES = {"dataset": "dataset_plain", "history": "history_plain",
             "revision": "revision_plain", "diff": "revision_plain"}


def baseline_of(name: str) -> str | None:
    if name.startswith("search_") or name == "count_as_of":
        return "plain_limit"
    return BASELINES.get(name)


def scale_table(results: dict[str, Any]) -> tuple[str, list[dict]]:
    """Rows ``measurement, value at each scale, ratio at the largest, target, verdict``."""
    scales = list(results)
    largest = results[scales[-1]]["runs"]
    names = [n for n in largest if not n.endswith("_plain") and n != "plain_limit"]
    header = ("measurement", *(f"{int(s):,}" for s in scales), "ratio", "target", "result")
    lines, checks = [], []
    for name in [*names, *(n for n in largest if n not in names)]:
        values = [median_ms(results[s]["runs"][name]) for s in scales]
        base = baseline_of(name)
        ratio = "" if base is None else f"{median_ms(largest[base]) / values[-1]:.2f}"
        target, verdict = target_cells(values[-1], TARGETS_MS.get(name))
        if name in TARGETS_MS:
            checks.append({"measurement": name, "threshold_ms": TARGETS_MS[name],
                           "value_ms": values[-1], "passed": values[-1] < TARGETS_MS[name]})
        lines.append((name, *(f"{v:.1f}" for v in values), ratio, target, verdict))
    sizes = [results[s]["catalog_bytes"] / 2**20 for s in scales]
    lines.append(("catalog file, MiB", *(f"{v:.0f}" for v in sizes), "", "", ""))
    lines.append(("dataset cases", *(f"{results[s]['dataset_cases']}" for s in scales),
                  "", "", ""))
    return aligned(lines, header), checks


def scale_report(results: dict[str, Any], checks: list[dict], machine: dict) -> dict:
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "kind": "scale",
            "forms": FORMS, "machine": machine, "targets": checks,
            "scales": {s: {**r, "medians_ms": {n: median_ms(v) for n, v in r["runs"].items()}}
                       for s, r in results.items()}}
