"""The demo: a store with sample studies, users and a project to try circus_nb on.

>>> store = demo_store()
>>> store.user, len(store.search_series())
('alice@example.org', 5)
>>> store.close()
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .api import Store
from .dicom.sample import write_sample_studies
from .domain.project import Project

SECOND_DOMAIN = "hospital-b"
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
DEMO_LABEL_SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["solid", "part-solid", "ground-glass"],
                 "title": "Kind"},
        "malignant": {"type": "boolean", "title": "Malignant"},
    },
}


def add_demo_accounts(store: Store) -> Project:
    """Add alice (read + write), bob (read only) and the demo project to an admin's store."""
    project = store.create_project(
        DEMO_PROJECT,
        "Synthetic chest CT and MR studies for trying circus_nb.",
        tags=[("nodule", "#e6194b"), ("follow-up", "#4363d8"), ("teaching", "#3cb44b")],
        case_attributes_schema=DEMO_SCHEMA,
        label_attributes_schema=DEMO_LABEL_SCHEMA,
        window_presets=[("lung", -600, 1500), ("mediastinum", 40, 400), ("bone", 400, 1800)],
    )
    store.add_group("researchers", domains=["default"])
    store.add_group("students", domains=["default"])
    store.add_user("alice@example.org", ["researchers"], display_name="Alice")
    store.add_user("bob@example.org", ["students"], display_name="Bob")
    store.grant("researchers", project.project_id, ["read", "write"])
    store.grant("students", project.project_id, ["read"])
    return project


def demo_store(path: str | Path | None = None, seed: int = 0) -> Store:
    """A store with the generated sample studies imported, opened as alice.

    Users: ``admin@example.org`` (everything, and the domain ``hospital-b``),
    ``alice@example.org`` (read and write on the demo project) and
    ``bob@example.org`` (read only). One sample series is imported into
    ``hospital-b``, which alice and bob cannot see. ``path=None`` makes a
    throw-away store, deleted when it is closed.
    """
    admin = Store.create(path)
    try:
        add_demo_accounts(admin)
        admin.add_group(SECOND_DOMAIN, domains=[SECOND_DOMAIN])
        admin.set_user_groups("admin@example.org", ["admins", SECOND_DOMAIN])
        with tempfile.TemporaryDirectory(prefix="circus-nb-samples-") as folder:
            write_sample_studies(folder, seed=seed)
            patients = sorted(p for p in Path(folder).iterdir() if p.name != SECOND_DOMAIN)
            admin.import_dicom(patients, progress=False)
            admin.import_dicom(Path(folder) / SECOND_DOMAIN, domain=SECOND_DOMAIN,
                               progress=False)
    except BaseException:
        admin.close()
        raise
    return admin._handed_to("alice@example.org")
