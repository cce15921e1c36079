"""The catalog schema, as numbered migrations recorded in the database.

Opening a store applies the migrations it lacks, in one transaction; a store
whose schema is newer than this package is refused rather than misread.
Migrations are only ever appended to :data:`MIGRATIONS`, never edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .._version import __version__
from ..errors import CircusError
from .database import Database


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    # Run on DuckDB only: indexes PostgreSQL has anyway (its primary keys are B-trees).
    duckdb_only: tuple[str, ...] = ()

    def statements_for(self, kind: str) -> tuple[str, ...]:
        """What this migration runs on a ``kind`` of :class:`Database`."""
        return self.statements + self.duckdb_only if kind == "duckdb" else self.statements


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "users, groups, preferences, projects and project roles",
        (
            """CREATE TABLE users (
                email VARCHAR PRIMARY KEY,
                display_name VARCHAR,
                created_at TIMESTAMPTZ NOT NULL)""",
            """CREATE TABLE groups (
                name VARCHAR PRIMARY KEY,
                privileges VARCHAR[] NOT NULL,
                domains VARCHAR[] NOT NULL,
                created_at TIMESTAMPTZ NOT NULL)""",
            """CREATE TABLE group_members (
                group_name VARCHAR NOT NULL,
                email VARCHAR NOT NULL,
                PRIMARY KEY (group_name, email))""",
            """CREATE TABLE preferences (
                email VARCHAR NOT NULL,
                key VARCHAR NOT NULL,
                value VARCHAR NOT NULL,  -- JSON
                PRIMARY KEY (email, key))""",
            """CREATE TABLE projects (
                project_id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL,
                name_key VARCHAR NOT NULL UNIQUE,  -- casefolded name: names are unique
                description VARCHAR NOT NULL,
                tags VARCHAR NOT NULL,  -- JSON list of {name, color}
                case_attributes_schema VARCHAR,  -- JSON
                label_attributes_schema VARCHAR,  -- JSON
                window_presets VARCHAR NOT NULL,  -- JSON list of {label, level, width}
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL)""",
            """CREATE TABLE project_roles (
                group_name VARCHAR NOT NULL,
                project_id VARCHAR NOT NULL,
                roles VARCHAR[] NOT NULL,
                PRIMARY KEY (group_name, project_id))""",
        ),
    ),
    Migration(
        2,
        "series, instances and thumbnails",
        (
            """CREATE TABLE series (
                series_uid VARCHAR PRIMARY KEY,
                study_uid VARCHAR,
                domain VARCHAR NOT NULL,
                images VARCHAR NOT NULL,  -- canonical range text of the instance numbers
                image_count INTEGER NOT NULL,
                width INTEGER,
                height INTEGER,
                series_date TIMESTAMPTZ,
                modality VARCHAR,
                series_description VARCHAR,
                body_part VARCHAR,
                station_name VARCHAR,
                model_name VARCHAR,
                manufacturer VARCHAR,
                patient_id VARCHAR,
                patient_name VARCHAR,
                birth_date DATE,
                age INTEGER,
                sex VARCHAR,
                patient_size DOUBLE,
                patient_weight DOUBLE,
                parameters VARCHAR NOT NULL,  -- JSON, DICOM keywords as keys
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL)""",
            """CREATE TABLE instances (
                series_uid VARCHAR NOT NULL,
                instance_number INTEGER NOT NULL,
                sop_instance_uid VARCHAR,
                path VARCHAR NOT NULL,  -- relative to the store folder when managed
                managed BOOLEAN NOT NULL,
                size BIGINT NOT NULL,
                mtime DOUBLE NOT NULL,
                position_x DOUBLE,
                position_y DOUBLE,
                position_z DOUBLE,
                orientation DOUBLE[],
                slice_location DOUBLE,
                rows INTEGER,
                columns INTEGER,
                transfer_syntax VARCHAR,
                window_center DOUBLE,
                window_width DOUBLE,
                imported_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (series_uid, instance_number))""",
            """CREATE TABLE thumbnails (
                series_uid VARCHAR NOT NULL,
                instance_number INTEGER NOT NULL,
                size INTEGER NOT NULL,
                height INTEGER NOT NULL,
                width INTEGER NOT NULL,
                pixels BLOB NOT NULL,  -- uint8, row-major
                PRIMARY KEY (series_uid, instance_number, size))""",
        ),
    ),
    Migration(
        3,
        "cases, append-only revisions with their series entries, label blobs",
        (
            # The head of each case: what changes (tags, the latest revision) lives here.
            """CREATE TABLE cases (
                case_id VARCHAR PRIMARY KEY,
                project_id VARCHAR NOT NULL,
                tags VARCHAR[] NOT NULL,
                domains VARCHAR[] NOT NULL,
                latest INTEGER NOT NULL,  -- index of the latest revision
                status VARCHAR NOT NULL,  -- of the latest revision, for searching
                description VARCHAR NOT NULL,
                first_series_uid VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL)""",
            # Append-only: rows are inserted, never updated; only delete_case removes them.
            """CREATE TABLE revisions (
                case_id VARCHAR NOT NULL,
                idx INTEGER NOT NULL,
                creator VARCHAR NOT NULL,
                date TIMESTAMPTZ NOT NULL,
                description VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                attributes VARCHAR NOT NULL,  -- JSON
                PRIMARY KEY (case_id, idx))""",
            """CREATE TABLE revision_series (
                case_id VARCHAR NOT NULL,
                idx INTEGER NOT NULL,
                position INTEGER NOT NULL,
                series_uid VARCHAR NOT NULL,
                range_start INTEGER NOT NULL,
                range_end INTEGER NOT NULL,
                range_delta INTEGER NOT NULL,
                labels VARCHAR NOT NULL,  -- JSON list; voxel masks by blob hash
                PRIMARY KEY (case_id, idx, position))""",
            """CREATE TABLE blobs (
                hash VARCHAR PRIMARY KEY,  -- sha256 of data: identical masks are stored once
                data BLOB NOT NULL)""",
        ),
    ),
    Migration(
        4,
        "projects: window_priority (where a viewer's first window comes from)",
        (
            # Existing projects get CIRCUS's default; the package always writes a value.
            """ALTER TABLE projects
                ADD COLUMN window_priority VARCHAR DEFAULT 'dicom,preset,auto'""",
        ),
    ),
    Migration(
        5,
        "settings of the store itself (where a server store keeps its files)",
        ("""CREATE TABLE settings (
                key VARCHAR PRIMARY KEY,
                value VARCHAR NOT NULL)""",),
    ),
    Migration(
        6,
        "saved searches and lists of cases or series, per user, shared with groups",
        (
            """CREATE TABLE saved_searches (
                email VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,  -- 'cases' or 'series'
                name VARCHAR NOT NULL,
                filters VARCHAR NOT NULL,  -- JSON: the search's arguments as given
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (email, kind, name))""",
            """CREATE TABLE item_lists (
                list_id VARCHAR PRIMARY KEY,
                owner VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,  -- 'cases' or 'series'
                name VARCHAR NOT NULL,  -- unique per owner and kind (checked on create)
                created_at TIMESTAMPTZ NOT NULL)""",
            # Members of these groups may see the list and add or remove its items.
            """CREATE TABLE list_editors (
                list_id VARCHAR NOT NULL,
                group_name VARCHAR NOT NULL,
                PRIMARY KEY (list_id, group_name))""",
            """CREATE TABLE list_items (
                list_id VARCHAR NOT NULL,
                item VARCHAR NOT NULL,  -- a case id or a series UID
                added_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (list_id, item))""",
        ),
    ),
    Migration(
        7,
        "summary columns that find a case's revision at a past time without grouping"
        " every revision (cases.saved_at, revisions.previous_date and first_series_uid)",
        (
            # the date of the latest revision (updated_at moves with tags too)
            "ALTER TABLE cases ADD COLUMN saved_at TIMESTAMPTZ",
            # the date of the revision this one follows (NULL for revision 0)
            "ALTER TABLE revisions ADD COLUMN previous_date TIMESTAMPTZ",
            # the series of its entry 0, whose patient a search shows
            "ALTER TABLE revisions ADD COLUMN first_series_uid VARCHAR",
            # Filled once from the rows already there (derived values, no content
            # changes); every revision written from now on carries them.
            """UPDATE cases SET saved_at = r.date FROM revisions r
                WHERE r.case_id = cases.case_id AND r.idx = cases.latest""",
            """UPDATE revisions SET previous_date = p.date FROM revisions p
                WHERE p.case_id = revisions.case_id AND p.idx = revisions.idx - 1""",
            """UPDATE revisions SET first_series_uid = e.series_uid FROM revision_series e
                WHERE e.case_id = revisions.case_id AND e.idx = revisions.idx
                AND e.position = 0""",
        ),
    ),
    Migration(
        8,
        "indexes that find a case's revisions without reading every revision (DuckDB)",
        (),
        # Revisions are appended in save order, so one case's lie in many row groups.
        # DuckDB finds rows through an index only by a one-column key, and only while it
        # matches at most index_scan_max_count rows: see cases.of_revision.
        duckdb_only=(
            "CREATE INDEX IF NOT EXISTS revisions_case ON revisions (case_id)",
            "CREATE INDEX IF NOT EXISTS revision_series_case ON revision_series (case_id)",
        ),
    ),
]

_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL,
    package_version VARCHAR NOT NULL)"""


def current_version(db: Database) -> int:
    """The highest migration recorded in the catalog (0 for an empty one)."""
    if "schema_migrations" not in db.tables():
        return 0
    return db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def _check_known(version: int, where: str) -> None:
    newest = MIGRATIONS[-1].version
    if version > newest:
        raise CircusError(
            f"The store at '{where}' has schema version {version}, newer than this circus_nb"
            f" {__version__} understands (up to {newest}). Upgrade circus_nb to open it"
            " (pip install -U circus-nb).",
            value=version,
        )


def migrate(db: Database, read_only: bool, where: str,
            translate: Callable[[str], str] = str) -> int:
    """Bring the catalog up to the newest schema; return the version it is at.

    ``translate`` turns a statement into the backend's dialect (types, mostly).
    """
    newest = MIGRATIONS[-1].version
    version = current_version(db)
    _check_known(version, where)
    if version == newest:
        return version
    pending = [m for m in MIGRATIONS if m.version > version]
    if (read_only or db.user_role) and not any(m.statements_for(db.kind) for m in pending):
        return version  # nothing to change here: the owner's next open records them
    if read_only:
        raise CircusError(
            f"The store at '{where}' has schema version {version} and needs migrating to"
            f" {newest}, which a read-only open cannot do. Open it once with read_only=False.",
            value=version,
        )
    with db.transaction():
        version = current_version(db)  # another process may have migrated meanwhile
        db.execute(translate(_LEDGER))
        for m in (m for m in MIGRATIONS if m.version > version):
            for statement in m.statements_for(db.kind):
                db.execute(translate(statement))
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                       [m.version, m.description, datetime.now(UTC), __version__])
    return newest
