"""Projects: the SQL side (rows <-> :class:`~circus_nb.domain.project.Project`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict

import pandas as pd

from ..domain.privileges import Rights
from ..domain.project import Project, Tag, WindowPreset
from ..errors import ValidationError
from .accounts import not_found, now
from .database import Database

Con = Database  # every function here runs on either backend

_COLUMNS = (
    "project_id, name, description, tags, case_attributes_schema, label_attributes_schema,"
    " window_presets, window_priority, created_at"
)
# What insert_project and update_project write, in the order of _values().
_WRITTEN = ("name", "name_key", "description", "tags", "case_attributes_schema",
            "label_attributes_schema", "window_presets", "window_priority")


def _dump(value: object) -> str | None:
    return None if value is None else json.dumps(value)


def _from_row(row: tuple) -> Project:
    pid, name, description, tags, case_schema, label_schema, presets, priority, created = row
    return Project(
        pid, name, description,
        tags=tuple(Tag(**t) for t in json.loads(tags)),
        case_attributes_schema=json.loads(case_schema) if case_schema else None,
        label_attributes_schema=json.loads(label_schema) if label_schema else None,
        window_presets=tuple(WindowPreset(**w) for w in json.loads(presets)),
        window_priority=priority,
        created_at=created,
    )


def _require_unique_name(con: Con, project: Project) -> None:
    clash = con.execute(
        "SELECT project_id, name FROM projects WHERE name_key = ? AND project_id <> ?",
        [project.name.casefold(), project.project_id],
    ).fetchone()
    if clash:
        raise ValidationError(
            f"A project named {clash[1]!r} already exists ({clash[0]}); project names are"
            " unique regardless of case. Choose another name.",
            field="name", value=project.name,
        )


def _values(project: Project) -> list:
    return [
        project.name,
        project.name.casefold(),
        project.description,
        json.dumps([asdict(t) for t in project.tags]),
        _dump(project.case_attributes_schema),
        _dump(project.label_attributes_schema),
        json.dumps([asdict(w) for w in project.window_presets]),
        project.window_priority,
    ]


def insert_project(con: Con, project: Project) -> None:
    _require_unique_name(con, project)
    stamp = now()
    columns = ("project_id", *_WRITTEN, "created_at", "updated_at")
    con.execute(f"INSERT INTO projects ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [project.project_id, *_values(project), stamp, stamp])


def update_project(con: Con, project: Project) -> None:
    _require_unique_name(con, project)
    assignments = ", ".join(f"{column} = ?" for column in (*_WRITTEN, "updated_at"))
    con.execute(f"UPDATE projects SET {assignments} WHERE project_id = ?",
                [*_values(project), now(), project.project_id])


def load_project(con: Con, project_id: str, rights: Rights | None = None) -> Project:
    """One project, or ``NotFoundError`` whose "did you mean" offers only projects that
    ``rights`` may read (any project when ``rights`` is ``None``)."""
    row = con.execute(f"SELECT {_COLUMNS} FROM projects WHERE project_id = ?",
                      [project_id]).fetchone()
    if row is None:
        known = all_project_ids(con) if rights is None else readable_ids(con, rights)
        raise not_found("project", project_id, known,
                        "List the projects you can use with store.projects().")
    return _from_row(row)


def all_project_ids(con: Con) -> list[str]:
    return [r[0] for r in con.execute("SELECT project_id FROM projects").fetchall()]


def project_names(con: Con, project_ids: Iterable[str]) -> dict[str, str]:
    """``project_id -> name`` for those projects."""
    rows = con.execute("SELECT project_id, name FROM projects WHERE project_id = ANY(?)",
                       [sorted(project_ids)]).fetchall()
    return dict(rows)


def projects_frame(con: Con, project_ids: Iterable[str] | None) -> pd.DataFrame:
    """Projects as a DataFrame: all of them, or those in ``project_ids``."""
    ids = None if project_ids is None else sorted(project_ids)
    where = "" if ids is None else "WHERE project_id = ANY(?)"
    frame = con.execute(
        f"""SELECT project_id, name, description, tags, created_at, updated_at
            FROM projects {where} ORDER BY name_key""",
        [] if ids is None else [ids],
    ).df()
    frame["tags"] = [[t["name"] for t in json.loads(tags)] for tags in frame["tags"]]
    return frame


def readable_ids(con: Con, rights: Rights) -> list[str]:
    """The ids of the projects ``rights`` may read."""
    if rights.is_admin:
        return all_project_ids(con)
    return [pid for pid, roles in rights.project_roles.items() if "read" in roles]
