"""How fast circus_nb creates, saves, compares and searches cases, next to plain SQL.

Run from the repository root, in the environment circus_nb is installed in::

    python benchmarks/case_bench.py [--cases 1000] [--revisions 10000]
                                    [--search-cases 100000]
                                    [--out benchmarks/results/case_bench.json]

The script writes 3 small synthetic CT series (20 slices of 32 x 32) into a temporary
folder (deleted at the end), imports them into a new store there and creates a
project whose case attributes schema has 4 properties (integer, string enum, boolean,
number). Then, in one run, with the store opened as its admin:

* ``store.create_case`` for ``--cases`` cases, each timed (median);
* ``case.save(...)`` ``--revisions`` times, each timed (median, 95th percentile, and
  the medians of the first and last 1,000 saves, to show growth as the tables fill).
  Every save changes the attributes and the status; about one in four also changes
  the range of the case's series. One case gets 999 of the saves (so it has 1,000
  revisions); the rest are spread over the others in a shuffled order. Every 50th save
  is followed by a baseline save on one extra case: the same three statements the
  package runs (``INSERT`` into ``revisions`` and ``revision_series``, ``UPDATE
  cases``) in one transaction through the store's connection, without any check;
* ``case.history()`` on the case with 1,000 revisions (median of 20), against the
  same ``SELECT`` run directly through the store's connection;
* ``case.diff(a, b)`` (median of 50, 50 pairs of revisions of that case differing in
  attributes and range), against plain ``SELECT``s of both revisions and their entries;
* ``store.search_cases(...)`` over ``--search-cases`` cases (median of 20, after one
  warm-up call): no filter (default sort, newest created first), a project plus a tag,
  a case id substring (one case matches), and ``as_of=`` a past time. Creating that
  many cases through the API would take far too long, so the cases missing to reach
  ``--search-cases`` are bulk-loaded: synthetic rows for ``cases``, ``revisions`` and
  ``revision_series`` built as pandas DataFrames and copied in with DuckDB
  ``INSERT ... SELECT`` through the store's own connection, inside one store
  transaction (``store._write()``). This bypasses the API for speed only: it writes
  exactly the rows the API writes (a first revision ``Created new case.``, status
  ``draft``, attributes ``{}`` and the ``auto`` range; later revisions with
  attributes valid under the project schema and ranges inside the series; case heads
  pointing at the latest revision; ULID-style ids from the creation time), spread over
  4 projects, 1 to 5 revisions each, created in the past year. A ``CHECKPOINT``
  follows the load, as a store that had grown this big would have had. Baselines run
  through the same connection: ``SELECT * FROM cases ORDER BY created_at DESC LIMIT
  200`` and ``SELECT count(*) FROM cases``.

The history, diff and search measurements run in rounds, each round running every
measurement and its baseline once, so a slow spell of the machine hits them alike.
Ratios are baseline time / measured time (above 1: faster than the baseline). Other
busy processes skew the figures: the load average is recorded. The table compares each
figure with its target and says PASS or FAIL; the JSON file holds every run, ratio and
target plus facts about the machine. A failed target does not change the exit status:
this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _report import (
    aligned,
    machine,
    phase,
    print_notes,
    print_verdict_and_save,
    rounds,
    timed_ms,
)

from circus_nb import Store
from circus_nb.api.cases import Case
from circus_nb.dicom.sample import write_ct_series

SEED = 20240611
SERIES = 3
SERIES_SLICES = 20
SLICE_SIZE = 32
PROJECTS = 4  # the first holds the API-made cases; synthetic cases spread over all
TAGS = ("nodule", "follow-up", "reviewed", "teaching", "excluded")
TAG_SHARE = 0.3  # each tag is on about this share of the cases
STATUSES = ("draft", "in review", "approved", "rejected")
FINDINGS = ("solid", "part-solid", "ground-glass", "calcified")
SCHEMA = {
    "type": "object",
    "required": ["grade"],
    "properties": {
        "grade": {"type": "integer", "minimum": 1, "maximum": 5},
        "finding": {"type": "string", "enum": list(FINDINGS)},
        "confirmed": {"type": "boolean"},
        "diameter_mm": {"type": "number", "minimum": 0, "maximum": 100},
    },
}
HISTORY_REVISIONS = 1000
RANGE_SHARE = 0.25  # share of saves that also change the series range
GROWTH_WINDOW = 1000  # saves in the "first" and "last" medians
BASELINE_EVERY = 50  # one plain-SQL save after every 50th API save
HISTORY_REPEATS = 20
DIFF_REPEATS = 50
SEARCH_REPEATS = 20
MAX_SYNTHETIC_REVISIONS = 5
LATE_SHARE = 0.1  # synthetic cases revised weeks or months later (up to now), not in a week
MIN_REVISIONS = 100
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"  # the alphabet of circus_nb's ids
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "case_bench.json"
PACKAGES = ("circus-nb", "duckdb", "pandas", "numpy")
NOTES = (
    "ratio: baseline time / measured time (above 1: faster than the baseline)",
    "baselines run the same kind of SQL directly through the store's connection,"
    " without privilege checks or Python objects",
    "search: the cases beyond those made through the API are bulk-loaded rows, exactly as"
    " the API lays them out (INSERT ... SELECT from DataFrames, then CHECKPOINT)",
    "history, diff and search run in rounds (each measurement and its baseline once per"
    " round); medians",
)

SCALE_NOTES = (
    "values: medians in ms at each scale (cases in the store); ratio: baseline / measured"
    " at the largest scale (above 1: faster than the baseline)",
    "baselines: search_* and count: SELECT * FROM cases ORDER BY created_at DESC NULLS LAST,"
    " case_id LIMIT 200 (the searches' order);"
    " dataset: its SQL query alone; history, revision, diff: the same SELECTs run directly",
    "cases bulk-loaded as the API lays them out; the 10,000-revision case made through the"
    " API, its later revisions bulk-loaded",
)


@dataclass(frozen=True)
class Measurement:
    label: str
    value: float
    unit: str  # "ms" (lower is better)
    runs: list[float] = field(repr=False)  # ms per call; [] when another row holds them
    baseline: str | None = None  # the measurement the ratio compares with


TARGETS = {  # measurement -> the median must stay below this many ms
    "save_median": 10.0,
    "history": 20.0,
    "search_default": 50.0,
    "search_project_tags": 50.0,
    "search_case_id": 50.0,
    "search_as_of": 50.0,
}


# ---------------------------------------------------------------- helpers


def median_of(label: str, runs: list[float], baseline: str | None = None) -> Measurement:
    return Measurement(label, statistics.median(runs), "ms", runs, baseline)


def random_attributes(rng: random.Random) -> dict[str, Any]:
    return {"grade": rng.randint(1, 5), "finding": rng.choice(FINDINGS),
            "confirmed": rng.random() < 0.5, "diameter_mm": round(rng.uniform(3, 30), 1)}


def changed_range(auto: tuple[int, int, int], rng: random.Random) -> tuple[int, int, int]:
    """A range inside the ``auto`` one (a head-first run, delta 1), not always equal to it."""
    start, end, delta = auto
    return start + rng.randint(0, 4), end - rng.randint(1, 4), delta


def ulid(ms: int, randomness: int) -> str:
    """A 26-character id the way ``circus_nb.domain.values.new_id`` makes one."""
    number = (ms << 80) | randomness
    chars = []
    for _ in range(26):
        number, digit = divmod(number, 32)
        chars.append(CROCKFORD[digit])
    return "".join(reversed(chars))


def table_count(store: Store, table: str) -> int:
    return store._db().execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------- store and API cases


@dataclass
class Setup:
    store: Store
    project_ids: list[str]
    series: list[tuple[str, tuple[int, int, int]]]  # (uid, auto range)


def make_store(root: Path, target: str | None = None) -> Setup:
    """Three imported series and four projects, in a new store in ``root`` (or at the
    PostgreSQL URL ``target``, its files in ``root``)."""
    written = [write_ct_series(root / "dicom" / f"series-{i + 1}", n=SERIES_SLICES,
                               size=SLICE_SIZE, seed=i, description=f"Bench CT {i + 1}",
                               patient_id=f"BENCH-{i + 1}") for i in range(SERIES)]
    store = (Store.create(root / "store") if target is None
             else Store.create(target, data_dir=root / "pg-data"))
    store.import_dicom(root / "dicom", mode="reference", progress=False)
    for s in written:
        if s.auto[2] != 1:
            raise RuntimeError(f"expected a head-first series, got auto={s.auto}")
    project_ids = [store.create_project(f"Bench cases {i + 1}", tags=list(TAGS),
                                        case_attributes_schema=SCHEMA).project_id
                   for i in range(PROJECTS)]
    return Setup(store, project_ids, [(s.series_uid, tuple(s.auto)) for s in written])


def create_cases(setup: Setup, n: int, rng: random.Random) -> tuple[list[Case], list[float]]:
    cases, runs = [], []
    for i in range(n):
        uid = setup.series[i % SERIES][0]
        tags = [t for t in TAGS if rng.random() < TAG_SHARE]
        start = time.perf_counter()
        case = setup.store.create_case(setup.project_ids[0], [uid], tags=tags)
        runs.append(1000 * (time.perf_counter() - start))
        cases.append(case)
    return cases, runs


def save_targets(n_cases: int, revisions: int, rng: random.Random) -> list[int]:
    """Which case (by position) each save goes to: case 0 gets up to 999, the rest spread."""
    long_saves = revisions if n_cases == 1 else min(HISTORY_REVISIONS - 1, revisions)
    rest = revisions - long_saves
    targets = [0] * long_saves + [1 + i % (n_cases - 1) for i in range(rest)]
    rng.shuffle(targets)
    return targets


class PlainSaver:
    """The baseline: one revision written as plain SQL, the statements the package runs."""

    def __init__(self, store: Store, case: Case, uid: str, auto: tuple[int, int, int]):
        self.con = store._db()
        self.case_id, self.uid, self.auto, self.user = case.case_id, uid, auto, store.user
        self.index, self.date = 0, case.latest.date

    def save(self, attributes: dict, status: str) -> None:
        self.index += 1
        now = datetime.now(UTC)
        con = self.con
        con.execute("BEGIN")
        con.execute("INSERT INTO revisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [self.case_id, self.index, self.user, now, "Baseline save.", status,
                     json.dumps(attributes), self.date, self.uid])
        con.execute("INSERT INTO revision_series VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [self.case_id, self.index, 0, self.uid, *self.auto, "[]"])
        con.execute("UPDATE cases SET latest = ?, status = ?, description = ?,"
                    " first_series_uid = ?, updated_at = ?, saved_at = ? WHERE case_id = ?",
                    [self.index, status, "Baseline save.", self.uid, now, now, self.case_id])
        con.execute("COMMIT")
        self.date = now


@dataclass
class SaveRuns:
    api: list[float]
    with_range: list[float]
    plain: list[float]
    long_plan: list[tuple[dict, tuple[int, int, int]]]  # case 0: (attributes, range) per index


def save_revisions(setup: Setup, cases: list[Case], revisions: int, rng: random.Random
                   ) -> SaveRuns:
    uid_of = [setup.series[i % SERIES] for i in range(len(cases))]
    extra = setup.store.create_case(setup.project_ids[0], [setup.series[0][0]])
    plain = PlainSaver(setup.store, extra, *setup.series[0])
    runs = SaveRuns([], [], [], [({}, uid_of[0][1])])
    for i, target in enumerate(save_targets(len(cases), revisions, rng)):
        uid, auto = uid_of[target]
        attributes, status = random_attributes(rng), rng.choice(STATUSES)
        new_range = changed_range(auto, rng) if rng.random() < RANGE_SHARE else None
        series = None if new_range is None else [(uid, new_range)]
        ms = timed_ms(lambda c=cases[target], a=attributes, s=status, e=series, n=i:
                      c.save(f"Bench save {n}.", attributes=a, status=s, series=e))
        runs.api.append(ms)
        if new_range is not None:
            runs.with_range.append(ms)
        if target == 0:
            runs.long_plan.append((attributes, new_range or runs.long_plan[-1][1]))
        if i % BASELINE_EVERY == 0:
            runs.plain.append(timed_ms(lambda a=attributes, s=status: plain.save(a, s)))
    return runs


def save_measurements(creates: list[float], saves: SaveRuns) -> dict[str, Measurement]:
    api, window = saves.api, min(len(saves.api), GROWTH_WINDOW)
    results = {
        "create_case": median_of("store.create_case, median", creates),
        "save_median": median_of("Case.save, median", api, "save_plain"),
        "save_p95": Measurement("Case.save, p95", float(np.percentile(api, 95)), "ms", []),
        "save_first": Measurement(f"Case.save, median of the first {window}",
                                  statistics.median(api[:window]), "ms", []),
        "save_last": Measurement(f"Case.save, median of the last {window}",
                                 statistics.median(api[-window:]), "ms", []),
    }
    if saves.with_range:
        results["save_with_range"] = median_of("Case.save changing the range, median",
                                               saves.with_range)
    results["save_plain"] = median_of("plain save: INSERT x2 + UPDATE, one transaction",
                                      saves.plain)
    return results


# ---------------------------------------------------------------- history and diff


def diff_pairs(plan: list[tuple[dict, tuple]], n: int, rng: random.Random
               ) -> list[tuple[int, int]]:
    """``n`` pairs of revision indexes whose attributes and ranges both differ."""
    candidates = [(a, b) for a in range(1, len(plan)) for b in range(a + 1, min(a + 20,
                  len(plan))) if plan[a][0] != plan[b][0] and plan[a][1] != plan[b][1]]
    if not candidates:
        raise RuntimeError("no pair of revisions differs in both attributes and range")
    return rng.sample(candidates, min(n, len(candidates)))


def plain_revisions(con, case_id: str, a: int, b: int) -> list:
    rows = []
    for index in (a, b):
        rows.append(con.execute("SELECT creator, date, description, status, attributes FROM"
                                " revisions WHERE case_id = ? AND idx = ?",
                                [case_id, index]).fetchone())
        rows.append(con.execute("SELECT series_uid, range_start, range_end, range_delta,"
                                " labels FROM revision_series WHERE case_id = ? AND idx = ?"
                                " ORDER BY position", [case_id, index]).fetchall())
    return rows


def check_diff(frame: pd.DataFrame) -> None:
    fields = set(frame["field"])
    if not any(f.startswith("attributes.") for f in fields) or "series[0].range" not in fields:
        raise RuntimeError(f"expected attribute and range differences, got {sorted(fields)}")


def measure_history_and_diff(store: Store, case: Case, plan: list, rng: random.Random
                             ) -> dict[str, Measurement]:
    con = store._db()
    revisions = len(case.history())
    pairs = diff_pairs(plan, DIFF_REPEATS, rng)
    check_diff(case.diff(*pairs[0]))
    history_sql = ("SELECT idx AS index, date, creator, description, status FROM revisions"
                   " WHERE case_id = ? ORDER BY idx")
    history = rounds({
        "history": case.history,
        "history_plain": lambda: con.execute(history_sql, [case.case_id]).df(),
    }, HISTORY_REPEATS)
    cycle = iter(pairs * (1 + (DIFF_REPEATS + 1) // len(pairs)))
    plain_cycle = iter(pairs * (1 + (DIFF_REPEATS + 1) // len(pairs)))
    diff = rounds({
        "diff": lambda: case.diff(*next(cycle)),
        "diff_plain": lambda: plain_revisions(con, case.case_id, *next(plain_cycle)),
    }, DIFF_REPEATS)
    return {
        "history": median_of(f"Case.history, {revisions} revisions, median", history["history"],
                             "history_plain"),
        "history_plain": median_of("plain history: the same SELECT, .df()",
                                   history["history_plain"]),
        "diff": median_of(f"Case.diff(a, b), {len(pairs)} pairs, median", diff["diff"],
                          "diff_plain"),
        "diff_plain": median_of("plain diff: SELECT both revisions and entries",
                                diff["diff_plain"]),
    }


# ---------------------------------------------------------------- bulk load for search


def synthetic_frames(setup: Setup, n: int, now: datetime, seed: int
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Rows for ``cases``, ``revisions`` and ``revision_series``, as the API writes them:
    created over the year up to 30 days before ``now``, revised up to a week apart (a
    tenth of them up to ``now``), the revisions in save order."""
    rng, prng = np.random.default_rng(seed), random.Random(seed)
    end_ms = int((now - timedelta(days=30)).timestamp() * 1000)
    created = np.sort(rng.integers(end_ms - 365 * 86_400_000, end_ms, n))
    case_ids = [ulid(int(ms), prng.getrandbits(80)) for ms in created]
    series_of = rng.integers(0, SERIES, n)
    counts = rng.integers(1, MAX_SYNTHETIC_REVISIONS + 1, n)
    gap = rng.integers(60_000, 7 * 86_400_000, n)  # between revisions of a case
    room = (int(now.timestamp() * 1000) - created) // np.maximum(counts - 1, 1)
    late = rng.random(n) < LATE_SHARE
    gap[late] = rng.integers(60_000, room[late])
    row_case = np.repeat(np.arange(n), counts)
    idx = np.arange(len(row_case)) - np.repeat(np.cumsum(counts) - counts, counts)
    dates = pd.to_datetime(created[row_case] + idx * gap[row_case], unit="ms", utc=True)
    first = idx == 0
    status = np.where(first, "draft", rng.choice(STATUSES, len(idx)))
    description = np.where(first, "Created new case.", [f"Bench save {i}." for i in idx])
    attributes = ["{}" if i == 0 else json.dumps(random_attributes(prng)) for i in idx]
    ranges = [setup.series[series_of[c]][1] if i == 0
              else changed_range(setup.series[series_of[c]][1], prng)
              for c, i in zip(row_case, idx, strict=True)]
    uids = np.array([uid for uid, _ in setup.series])[series_of]
    row_ids = np.array(case_ids)[row_case]
    previous = pd.Series(dates).shift(1).where(~first)  # the date of revision idx - 1
    revisions = pd.DataFrame({"case_id": row_ids, "idx": idx, "creator": setup.store.user,
                              "date": dates, "description": description, "status": status,
                              "attributes": attributes, "previous_date": previous,
                              "first_series_uid": uids[row_case]})
    revision_series = pd.DataFrame({
        "case_id": row_ids, "idx": idx, "series_uid": uids[row_case],
        "range_start": [r[0] for r in ranges], "range_end": [r[1] for r in ranges],
        "range_delta": [r[2] for r in ranges]})
    # in save order, as the API appends them: a case's revisions lie apart
    by_date = np.argsort(dates.asi8, kind="stable")
    revisions, revision_series = (frame.iloc[by_date].reset_index(drop=True)
                                  for frame in (revisions, revision_series))
    last = np.cumsum(counts) - 1
    tag_mask = rng.random((n, len(TAGS))) < TAG_SHARE
    cases = pd.DataFrame({
        "case_id": case_ids, "project_id": rng.choice(setup.project_ids, n),
        "tags": ["|".join(t for t, on in zip(TAGS, row, strict=True) if on) for row in tag_mask],
        "latest": counts - 1, "status": status[last], "description": description[last],
        "first_series_uid": uids, "created_at": dates[first], "updated_at": dates[last],
        "saved_at": dates[last]})
    return cases, revisions, revision_series


def table_frames(cases: pd.DataFrame, revisions: pd.DataFrame, entries: pd.DataFrame
                 ) -> dict[str, pd.DataFrame]:
    """The synthetic frames shaped as the tables are: columns named, tags as lists."""
    tags = [t.split("|") if t else [] for t in cases["tags"]]
    return {
        "cases": cases.assign(tags=tags, domains=[["default"]] * len(cases), description=(
            cases["description"].astype(object))),
        "revisions": revisions,
        "revision_series": entries.assign(position=0, labels="[]"),
    }


def bulk_load(setup: Setup, n: int, seed: int = SEED) -> dict[str, int]:
    """Add ``n`` synthetic cases. Bypasses the API for speed; the rows are those it writes.
    Each call that adds to the same store needs its own ``seed`` (the ids come from it)."""
    if n <= 0:
        return {"cases": 0, "revisions": 0, "revision_series": 0}
    frames = synthetic_frames(setup, n, datetime.now(UTC), seed)
    tables = table_frames(*frames)
    with setup.store._write() as db:  # one batch INSERT (DuckDB) or COPY (PostgreSQL) each
        for table, frame in tables.items():
            db.insert_frame(table, frame)
    settle(setup.store)
    check_synthetic(setup.store, frames[0].iloc[-1])
    return {table: len(frame) for table, frame in tables.items()}


def settle(store: Store) -> None:
    """What a store that had grown this big would have done: DuckDB writes its tables
    to the file, PostgreSQL gathers the planner's statistics."""
    store._db().execute("CHECKPOINT" if store._db().kind == "duckdb" else "ANALYZE")


def check_synthetic(store: Store, row: pd.Series) -> None:
    """A loaded case reads back through the API like one the API made."""
    case = store.case(row["case_id"])
    latest, history = case.latest, case.history()
    expected_tags = [t for t in row["tags"].split("|") if t]
    if (latest.index != row["latest"] or len(history) != row["latest"] + 1
            or case.tags != expected_tags or latest.status != row["status"]):
        raise RuntimeError(f"synthetic case {row['case_id']} does not read back as written")


def past_time(store: Store) -> datetime:
    """The median revision date: about half of the cases existed then."""
    return store._db().execute("SELECT quantile_disc(date, 0.5) FROM revisions").fetchone()[0]


def check_searches(store: Store, project_id: str, case_id_part: str, as_of: datetime) -> None:
    default = store.search_cases()
    tagged = store.search_cases(project_id=project_id, tags=[TAGS[2]])
    by_id = store.search_cases(case_id=case_id_part)
    past = store.search_cases(as_of=as_of)
    if len(default) != 200 or len(past) != 200 or len(by_id) < 1:
        raise RuntimeError(f"unexpected search sizes: {len(default)}, {len(by_id)}, {len(past)}")
    if tagged.empty or not all(TAGS[2] in tags for tags in tagged["tags"]):
        raise RuntimeError("the project + tag search returned no or wrong cases")


def measure_searches(setup: Setup, rng: random.Random) -> dict[str, Measurement]:
    store, con = setup.store, setup.store._db()
    project_id = setup.project_ids[1]
    ids = [row[0] for row in con.execute("SELECT case_id FROM cases").fetchall()]
    case_id_part = rng.choice(ids)[-10:]
    as_of = past_time(store)
    check_searches(store, project_id, case_id_part, as_of)
    runs = rounds({
        "search_default": store.search_cases,
        "search_project_tags": lambda: store.search_cases(project_id=project_id,
                                                          tags=[TAGS[2]]),
        "search_case_id": lambda: store.search_cases(case_id=case_id_part),
        "search_as_of": lambda: store.search_cases(as_of=as_of),
        "plain_limit": lambda: con.execute("SELECT * FROM cases ORDER BY created_at DESC"
                                           " LIMIT 200").df(),
        "plain_count": lambda: con.execute("SELECT count(*) FROM cases").fetchone(),
    }, SEARCH_REPEATS)
    n = len(ids)
    return {
        "search_default": median_of(f"search_cases, {n} cases, no filter", runs[
            "search_default"], "plain_limit"),
        "search_project_tags": median_of("search_cases, project + tag", runs[
            "search_project_tags"], "plain_limit"),
        "search_case_id": median_of("search_cases, case_id substring", runs[
            "search_case_id"], "plain_limit"),
        "search_as_of": median_of("search_cases, as_of a past time", runs["search_as_of"],
                                  "plain_limit"),
        "plain_limit": median_of("plain LIMIT 200: SELECT * ORDER BY created_at DESC",
                                 runs["plain_limit"]),
        "plain_count": median_of("plain count: SELECT count(*) FROM cases",
                                 runs["plain_count"]),
    }


# ---------------------------------------------------------------- verdicts and report


def ratio(results: dict[str, Measurement], name: str) -> float | None:
    """Baseline time / measured time (above 1: faster than the baseline)."""
    baseline = results[name].baseline
    return None if baseline is None else results[baseline].value / results[name].value


def verdicts(results: dict[str, Measurement]) -> list[dict]:
    return [{"measurement": name, "threshold_ms": threshold,
             "value_ms": results[name].value, "passed": results[name].value < threshold}
            for name, threshold in TARGETS.items() if name in results]


def table(results: dict[str, Measurement], checks: list[dict]) -> str:
    by_name = {check["measurement"]: check for check in checks}
    lines = []
    for name, m in results.items():
        times = ratio(results, name)
        against = "" if m.baseline is None else results[m.baseline].label.split(":")[0]
        check = by_name.get(name)
        lines.append((m.label, f"{m.value:.3f}", m.unit,
                      "" if times is None else f"{times:.3f} x {against}",
                      "" if check is None else f"< {check['threshold_ms']:g} ms",
                      "" if check is None else "PASS" if check["passed"] else "FAIL  <<<"))
    return aligned(lines)


def report(results: dict[str, Measurement], checks: list[dict], settings: dict) -> dict:
    measurements = {name: {**asdict(m), "runs": [round(r, 4) for r in m.runs],
                           "ratio": ratio(results, name)} for name, m in results.items()}
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "notes": list(NOTES),
        "machine": machine(PACKAGES),
        "measurements": measurements,
        "targets": checks,
    }


# ---------------------------------------------------------------- main


def run(root: Path, args: argparse.Namespace) -> tuple[dict[str, Measurement], dict]:
    load, rng, phases = os.getloadavg(), random.Random(SEED), {}
    setup = phase("Writing and importing 3 series", phases, lambda: make_store(root))
    try:
        cases, creates = phase(f"Creating {args.cases} cases", phases,
                               lambda: create_cases(setup, args.cases, rng))
        saves = phase(f"Saving {args.revisions} revisions", phases,
                      lambda: save_revisions(setup, cases, args.revisions, rng))
        results = save_measurements(creates, saves)
        results |= phase("Measuring history and diff", phases, lambda: measure_history_and_diff(
            setup.store, cases[0], saves.long_plan, rng))
        missing = args.search_cases - table_count(setup.store, "cases")
        loaded = phase(f"Bulk-loading {max(missing, 0)} synthetic cases", phases,
                       lambda: bulk_load(setup, missing))
        results |= phase("Measuring search_cases", phases, lambda: measure_searches(setup, rng))
        tables = {t: table_count(setup.store, t) for t in ("cases", "revisions",
                                                           "revision_series")}
    finally:
        setup.store.close()
    settings = {"cases": args.cases, "revisions": args.revisions,
                "search_cases": args.search_cases, "series": SERIES,
                "series_slices": SERIES_SLICES, "slice_size": SLICE_SIZE, "projects": PROJECTS,
                "case_attributes_schema": SCHEMA, "range_share": RANGE_SHARE,
                "baseline_saves": len(saves.plain), "saves_changing_range": len(
                    saves.with_range), "history_revisions": len(saves.long_plan),
                "bulk_loaded_rows": loaded, "table_rows_at_end": tables,
                "phase_seconds": phases, "seed": SEED, "load_average_at_start": load}
    return results, settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1000,
                        help="cases created through the API (default 1000)")
    parser.add_argument("--revisions", type=int, default=10000,
                        help="revisions saved through the API (default 10000)")
    parser.add_argument("--search-cases", type=int, default=100000,
                        help="cases in the store when searching (default 100000)")
    parser.add_argument("--scale", type=scales, default=None,
                        help="instead: grow one store through these case counts, e.g."
                        " 10000,100000,1000000, and measure at each (see case_scale.py)")
    parser.add_argument("--backend", choices=("duckdb", "postgresql"), default="duckdb",
                        help="with --scale: the catalog's backend (postgresql: a throw-away"
                        " server, as the tests start one)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON results file (default benchmarks/results/case_bench.json,"
                        " or case_scale.json with --scale)")
    args = parser.parse_args()
    stem = f"case_scale_{args.backend}" if args.scale else "case_bench"
    args.out = args.out or DEFAULT_OUT.with_stem(stem)
    if args.cases < 2:
        parser.error("--cases must be at least 2")
    if args.revisions < MIN_REVISIONS:
        parser.error(f"--revisions must be at least {MIN_REVISIONS} (the diff needs them)")
    return args


def scales(text: str) -> list[int]:
    """``"10000,100000"`` -> ``[10000, 100000]``, ascending, each at least 1,000."""
    values = sorted(int(v.replace("_", "")) for v in text.split(","))
    if values[0] < 1000:
        raise argparse.ArgumentTypeError("each scale is at least 1000 cases")
    return values


def main_scale(args: argparse.Namespace) -> int:
    from case_scale import run_scales, scale_report, scale_table

    load, root = os.getloadavg(), Path(tempfile.mkdtemp(prefix="circus-nb-case-scale-"))
    try:
        with contextlib.ExitStack() as stack:
            url = None
            if args.backend == "postgresql":
                sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/
                from tests.pg_server import PostgresServer
                url = stack.enter_context(PostgresServer())
            setup = make_store(root, url)
            try:
                results = run_scales(setup, args.scale)
            finally:
                setup.store.close()
    finally:
        shutil.rmtree(root)
    text, checks = scale_table(results)
    print(f"\n{text}\n")
    print_notes(SCALE_NOTES, load)
    failed = [c["measurement"] for c in checks if not c["passed"]]
    print_verdict_and_save(len(checks), failed, args.out,
                           scale_report(results, checks, machine(PACKAGES)))
    return 0


def main() -> int:
    args = parse_args()
    if args.scale:
        return main_scale(args)
    root = Path(tempfile.mkdtemp(prefix="circus-nb-case-bench-"))
    try:
        results, settings = run(root, args)
    finally:
        shutil.rmtree(root)
    checks = verdicts(results)
    print()
    print(table(results, checks))
    print()
    print_notes(NOTES, settings["load_average_at_start"])
    print("* seconds per phase: " + ", ".join(f"{k.lower()} {v:.1f}"
                                              for k, v in settings["phase_seconds"].items()))
    failed = [c["measurement"] for c in checks if not c["passed"]]
    print_verdict_and_save(len(checks), failed, args.out, report(results, checks, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
