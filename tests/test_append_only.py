"""Revisions are append-only: no statement in the package updates or deletes them,
except delete_case (the one, moderated, way to remove a case)."""

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "circus_nb"
APPEND_ONLY = ("revisions", "revision_series", "blobs")
WRITE = re.compile(r"\b(UPDATE|DELETE\s+FROM|INSERT\s+OR\s+REPLACE\s+INTO|TRUNCATE)\s+"
                   r"(\{?\w+\}?)", re.IGNORECASE)


def _in_server_delete_case(path, text: str, at: int) -> bool:
    """Whether ``at`` is inside the server's ``circus_delete_case``: delete_case's twin
    for users connected as their own PostgreSQL role (revisions are theirs to read only)."""
    start = text.rfind("CREATE OR REPLACE FUNCTION", 0, at)
    return path.name == "_functions.py" and "circus_delete_case" in text[start:at]


# Migration 7 fills the summary columns it adds, once, from the rows already there.
_MIGRATION_FILLS = ("UPDATE revisions SET previous_date = p.date FROM revisions p",
                    "UPDATE revisions SET first_series_uid = e.series_uid FROM revision_series e")


def _a_migration_fill(path, text: str, at: int) -> bool:
    return path.name == "migrations.py" and text.startswith(_MIGRATION_FILLS, at)


def test_no_code_path_updates_or_deletes_revisions():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for match in WRITE.finditer(text):
            table = match[2]
            if table.strip("{}") in APPEND_ONLY:
                if not (_in_server_delete_case(path, text, match.start())
                        or _a_migration_fill(path, text, match.start())):
                    offenders.append(f"{path.name}: {match[0]}")
            elif table.startswith("{"):  # a table chosen at run time: only delete_case may
                function = text.rfind("\ndef ", 0, match.start())
                name = text[function:function + 30].split("(")[0].split()[-1]
                if (path.name, name) != ("cases.py", "delete_case"):
                    offenders.append(f"{path.name}:{name}: {match[0]}")
    assert offenders == []


def test_the_scan_would_see_an_update():
    assert WRITE.search("con.execute('UPDATE revisions SET status = 1')")[2] == "revisions"
