"""The demo: a store with users, groups and a project to try circus_nb on.

>>> store = Store.create(None)
>>> project = add_demo_accounts(store)
>>> sorted(store.users()["email"])
['admin@example.org', 'alice@example.org', 'bob@example.org']
>>> store.close()
"""

from __future__ import annotations

from .api import Store
from .domain.project import Project

DEMO_PROJECT = "Chest CT demo"
DEMO_SCHEMA = {
    "type": "object",
    "properties": {
        "finding": {"type": "string", "enum": ["normal", "nodule", "mass", "other"],
                    "title": "Finding"},
        "grade": {"type": "integer", "minimum": 1, "maximum": 5, "title": "Grade"},
        "size_mm": {"type": "number", "exclusiveMinimum": 0, "title": "Size (mm)"},
        "confirmed": {"type": "boolean", "title": "Confirmed"},
        "comment": {"type": "string", "maxLength": 200, "title": "Comment"},
    },
    "required": ["finding"],
}


def add_demo_accounts(store: Store) -> Project:
    """Add alice (read + write), bob (read only) and the demo project to an admin's store."""
    project = store.create_project(
        DEMO_PROJECT,
        "Synthetic chest CT and MR studies for trying circus_nb.",
        tags=[("nodule", "#e6194b"), ("follow-up", "#4363d8"), ("teaching", "#3cb44b")],
        case_attributes_schema=DEMO_SCHEMA,
        window_presets=[("lung", -600, 1500), ("mediastinum", 40, 400), ("bone", 400, 1800)],
    )
    store.add_group("researchers", domains=["default"])
    store.add_group("students", domains=["default"])
    store.add_user("alice@example.org", ["researchers"], display_name="Alice")
    store.add_user("bob@example.org", ["students"], display_name="Bob")
    store.grant("researchers", project.project_id, ["read", "write"])
    store.grant("students", project.project_id, ["read"])
    return project
