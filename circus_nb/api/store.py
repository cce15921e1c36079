"""``Store``: one folder holding the DuckDB catalog and the managed DICOM files.

>>> store = Store.create(None)            # a throw-away store, opened as the admin
>>> store.add_group("readers", domains=["default"])
'readers'
>>> store.add_user("bob@example.org", groups=["readers"])
'bob@example.org'
>>> project = store.create_project("Lung nodules", tags=["nodule"])
>>> store.grant("readers", project.project_id, ["read"])
>>> with store.as_user("bob@example.org"):
...     list(store.projects()["name"])
['Lung nodules']
>>> store.update_project(project.project_id, tags=["nodule", "mass"]).tag_names
('nodule', 'mass')
>>> store.project(project.project_id).name
'Lung nodules'
>>> store.add_group("viewers", privileges=["personalInfoView"])
'viewers'
>>> store.set_user_groups("bob@example.org", ["readers", "viewers"])
>>> store.users().set_index("email").loc["bob@example.org", "groups"]
['readers', 'viewers']
>>> sorted(store.groups()["name"]), store.roles()["roles"].tolist()
(['admins', 'readers', 'viewers'], [['read']])
>>> with store.as_user("bob@example.org"):
...     store.set_preference("personal_info_view", True)
...     store.preferences(), store.may_view_patient_info()
({'personal_info_view': True}, True)
>>> store.close()
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pandas as pd

from .._repr import card_html, card_text
from ..domain.partial_volume import PartialVolume
from ..domain.privileges import (
    PROJECT_ROLES,
    Rights,
    check_domains,
    check_global_privileges,
    check_project_roles,
)
from ..domain.project import Project
from ..domain.values import check_email, check_names, check_text, new_id, shown
from ..domain.window import DEFAULT_WINDOW_PRIORITY
from ..errors import ValidationError
from ..store import accounts, projects
from ..store import search as search_sql
from ..store import series as series_sql
from ..store.catalog import DEFAULT_TIMEOUT, Catalog, is_server_url
from ..store.sharing import open_elsewhere
from . import collections
from ._checks import (
    PATIENT_COLUMNS,
    SERIES_FILTERS,
    check_filters,
    check_flag,
    check_id,
    check_page,
    check_path,
    check_sort,
    check_timeout,
    uses_patient_fields,
)
from .case_methods import CaseMethods
from .importing import ImportReport, import_dicom
from .series import Series

__all__ = ["Store"]

PREFERENCES = {"personal_info_view": bool}  # known keys and their types


class Store(CaseMethods):
    """A circus_nb store, opened as one user. Use :meth:`create` or :meth:`open`."""

    def __init__(self, catalog: Catalog, user: str):
        self._catalog = catalog
        self._user = user
        self._rights_read: tuple[tuple[str, int | None], Rights] | None = None

    # -- opening and closing -------------------------------------------------

    @classmethod
    def create(cls, path: str | Path | None = None, admin: str = "admin@example.org", *,
               data_dir: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> Store:
        """Make a new store and return it opened as ``admin``.

        ``path`` must not exist or be an empty folder. ``path=None`` makes a
        throw-away store in a temporary folder, deleted when it is closed. The
        admin is put in group ``admins``, which holds every global privilege and
        the domain ``default``. ``timeout``: see :meth:`open`.

        ``path`` may instead be the URL of an empty PostgreSQL database
        (``postgresql://user:password@host:port/database``, the user owning it): a
        lab's store, shared by everyone who reaches the server. Its managed DICOM
        files go to ``data_dir``, a new or empty folder every client reaches at that
        path (a shared filesystem). Each user added gets a login role on the server
        (see the README, "A lab's store on PostgreSQL").

        Raises
        ------
        ValidationError
            If the folder holds anything, ``path`` is not a path, or ``admin`` is not
            an e-mail address; for a server, if ``data_dir`` is missing or not empty.
        """
        check_email(admin)
        timeout = check_timeout(timeout)
        if is_server_url(path):
            if data_dir is None:
                raise ValidationError("A store on a PostgreSQL server needs data_dir=, the"
                                      " folder (reached by every client) for its DICOM files.",
                                      field="data_dir")
            folder = Path(check_path(data_dir, "data_dir"))
            return cls(Catalog.create_on_server(path, admin, folder), admin)
        if path is not None:
            check_path(path)
        if data_dir is not None:
            raise ValidationError("data_dir= is for a store on a PostgreSQL server; a store"
                                  " folder keeps its files in its own data/ folder.",
                                  field="data_dir", value=str(data_dir))
        return cls(Catalog.create(None if path is None else Path(path), admin, timeout), admin)

    @classmethod
    def open(cls, path: str | Path, user: str, read_only: bool = False, *,
             timeout: float = DEFAULT_TIMEOUT, data_dir: str | Path | None = None) -> Store:
        """Open an existing store as ``user``; migrate an older catalog.

        Any number of processes (notebooks, the CLI, scripts) may have one store open
        at once: each takes the catalog for one operation at a time, and waits for
        the others' turns, at most ``timeout`` seconds each time.

        ``path`` may be the URL of a store on a PostgreSQL server (see :meth:`create`);
        ``data_dir`` then overrides where this client reaches its files.

        Raises
        ------
        NotFoundError
            If there is no store at ``path``, or no such user in it.
        CircusError
            If another process keeps the store busy for longer than ``timeout``, the
            store was written by a newer circus_nb, or its catalog file is damaged.
        ValidationError
            If ``path`` is not a path, ``user`` not an e-mail address, or
            ``read_only`` not a bool.
        """
        check_email(user)
        check_flag(read_only, "read_only")
        timeout = check_timeout(timeout)
        if is_server_url(path):
            folder = None if data_dir is None else Path(check_path(data_dir, "data_dir"))
            catalog = Catalog.open_on_server(path, read_only=read_only, data_dir=folder)
        else:
            check_path(path)
            catalog = Catalog.open(path, read_only=read_only, timeout=timeout)
        try:
            accounts.require_user(catalog.con, user)
        except BaseException:
            catalog.close()
            raise
        return cls(catalog, user)

    @staticmethod
    def open_elsewhere(path: str | Path) -> str | None:
        """Who has the store at ``path`` open: ``"this process"``, ``"another process"``
        or ``None`` (then it is safe to delete the folder).

        >>> store = Store.create(None)
        >>> Store.open_elsewhere(store.path)
        'this process'
        >>> store.close()
        """
        return open_elsewhere(Path(check_path(path)).resolve())

    def _handed_to(self, user: str) -> Store:
        """This open store, as ``user`` from now on (for code that made it, like the demo)."""
        accounts.require_user(self._db(), user)
        return Store(self._catalog, user)

    def close(self) -> None:
        """Close the catalog; a closed store refuses further use. Safe to repeat."""
        self._catalog.close()

    @property
    def closed(self) -> bool:
        return self._catalog.closed

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- who and where -------------------------------------------------------

    @property
    def path(self) -> Path | str:
        """The store folder (or the URL of a store on a PostgreSQL server)."""
        return self._catalog.location

    @property
    def data_dir(self) -> Path:
        """Where copied DICOM files live."""
        return self._catalog.data_dir

    @property
    def user(self) -> str:
        """The e-mail of the user the store currently acts as."""
        return self._user

    @property
    def read_only(self) -> bool:
        return self._catalog.read_only

    @property
    def rights(self) -> Rights:
        """The current user's effective privileges, domains and project roles.

        Read before nearly every call, so kept until the catalog may have changed (a
        write, or another process's turn with the store folder); read every time on a
        server.
        """
        db = self._db()
        key = (self._user, db.generation())
        if key[1] is None or self._rights_read is None or self._rights_read[0] != key:
            self._rights_read = key, accounts.load_rights(db, self._user)
        return self._rights_read[1]

    @contextlib.contextmanager
    def as_user(self, email: str) -> Iterator[Store]:
        """Act as another user inside a ``with`` block (needs ``manageServer``).

        The privilege is the current user's: inside ``as_user("alice@...")`` the
        store acts as alice, so a nested ``as_user`` needs alice to hold it.

        Raises
        ------
        PermissionDenied
            If the current user lacks ``manageServer``.
        NotFoundError
            If there is no such user.
        """
        check_email(email)
        self.rights.require_global("manageServer", "Acting as another user (store.as_user)")
        accounts.require_user(self._db(), email)
        previous, self._user = self._user, email
        try:
            yield self
        finally:
            self._user = previous

    # -- plumbing ------------------------------------------------------------

    def _db(self):
        return self._catalog.con

    def _write(self):
        return self._catalog.transaction()

    def _require_admin(self, action: str) -> None:
        self.rights.require_global("manageServer", action)

    # -- users and groups ----------------------------------------------------

    def add_group(self, name: str, privileges: Iterable[str] = (),
                  domains: Iterable[str] = ("default",)) -> str:
        """Add a group granting global ``privileges`` and ``domains`` (``manageServer``).

        Project roles are given per project with :meth:`grant`.
        """
        self._require_admin("Adding a group")
        check_text(name, "group name", 64, line=True)
        privileges = check_global_privileges(privileges)
        domains = check_domains(domains)
        with self._write() as con:
            if name in accounts.group_names(con):
                raise ValidationError(f"A group named {shown(name)} already exists. Choose"
                                      " another name.", field="name", value=name)
            accounts.insert_group(con, name, privileges, domains)
        return name

    def add_user(self, email: str, groups: Iterable[str] = (),
                 display_name: str | None = None) -> str:
        """Add a user, keyed by e-mail, as a member of ``groups`` (``manageServer``)."""
        self._require_admin("Adding a user")
        check_email(email)
        groups = check_names(groups, "groups", 64, item="group name")
        if display_name is not None:
            check_text(display_name, "display_name", 128, line=True)
        with self._write() as con:
            if email in accounts.user_emails(con):
                raise ValidationError(f"A user {shown(email)} already exists.", field="email",
                                      value=email)
            accounts.require_groups(con, groups)
            accounts.insert_user(con, email, display_name)
            accounts.set_memberships(con, email, groups)
        return email

    def set_user_groups(self, email: str, groups: Iterable[str]) -> None:
        """Make ``groups`` exactly the groups of ``email`` (``manageServer``).

        A change that would leave no user holding ``manageServer`` is refused.
        """
        self._require_admin("Changing a user's groups")
        check_email(email)
        groups = check_names(groups, "groups", 64, item="group name")
        with self._write() as con:
            accounts.require_user(con, email)
            accounts.require_groups(con, groups)
            accounts.set_memberships(con, email, groups)
            if accounts.admin_count(con) == 0:
                raise ValidationError(
                    f"Taking {email} out of those groups would leave no user with"
                    " 'manageServer', and nobody could administer the store. Make another"
                    " user an administrator first.", field="groups", value=groups)

    def users(self) -> pd.DataFrame:
        """All users with their groups (``manageServer``)."""
        self._require_admin("Listing users")
        return accounts.users_frame(self._db())

    def groups(self) -> pd.DataFrame:
        """All groups with their privileges, domains and member counts (``manageServer``)."""
        self._require_admin("Listing groups")
        return accounts.groups_frame(self._db())

    def set_preference(self, key: str, value: Any) -> None:
        """Set one of the current user's preferences, such as ``personal_info_view``."""
        check_text(key, "key", 64, line=True)
        kind = PREFERENCES.get(key)
        if kind is None:
            raise accounts.not_found("preference", key, list(PREFERENCES),
                                     f"Known preferences: {', '.join(PREFERENCES)}.")
        if not isinstance(value, kind):
            raise ValidationError(f"Preference {shown(key)} must be a {kind.__name__}, got"
                                  f" {shown(value)}.", field=key, value=value)
        with self._write() as con:
            accounts.set_preference(con, self._user, key, value)

    def preferences(self) -> dict[str, Any]:
        """The current user's preferences, defaults filled in."""
        stored = accounts.preferences(self._db(), self._user)
        return {key: stored.get(key, kind()) for key, kind in PREFERENCES.items()}

    # -- projects ------------------------------------------------------------

    def create_project(self, name: str, description: str = "", tags: Iterable[Any] = (),
                       case_attributes_schema: dict | None = None,
                       label_attributes_schema: dict | None = None,
                       window_presets: Iterable[Any] = (), *,
                       window_priority: str = DEFAULT_WINDOW_PRIORITY) -> Project:
        """Create a project (``manageServer``).

        ``tags`` are names, ``(name, color)`` pairs or ``{"name", "color"}`` dicts;
        the schemas use the JSON-Schema subset of :mod:`circus_nb.domain.schema`.
        ``window_presets`` are ``(label, level, width)`` tuples or dicts;
        ``window_priority`` says where a viewer's first window comes from, one of
        ``"dicom,preset,auto"`` (the default, as in CIRCUS), ``"dicom,auto"``,
        ``"preset,dicom,auto"``, ``"preset,auto"`` or ``"auto"``.

        >>> store = Store.create(None)
        >>> store.create_project("Brain", window_presets=[("brain", 40, 80)],
        ...                      window_priority="preset,auto").window_priority
        'preset,auto'
        >>> store.close()

        Raises
        ------
        ValidationError
            For a duplicate name, a bad color, a schema outside the subset, an
            unknown window priority...
        """
        self._require_admin("Creating a project")
        project = Project(new_id(), name, description, _items(tags, "tags"),
                          case_attributes_schema, label_attributes_schema,
                          _items(window_presets, "window_presets"),
                          window_priority=window_priority)
        with self._write() as con:
            projects.insert_project(con, project)
        return self.project(project.project_id)

    def update_project(self, project_id: str, **changes: Any) -> Project:
        """Change fields of a project (``manageServer``), e.g. ``tags=[...]`` or
        ``window_priority="preset,auto"``; the fields are those of
        :meth:`create_project`. The changed project is checked whole before anything is
        written.

        Raises
        ------
        ValidationError
            For a field projects do not have, or a value :meth:`create_project` refuses.
        NotFoundError
            If there is no such project.
        """
        self._require_admin("Editing a project")
        check_id(project_id, "project_id")
        fields = {f.name for f in dataclasses.fields(Project)} - {"project_id", "created_at"}
        unknown = set(changes) - fields
        if unknown:
            raise ValidationError(f"Projects have no field {shown(sorted(unknown)[0])};"
                                  f" editable: {', '.join(sorted(fields))}.",
                                  value=sorted(unknown))
        for key in ("tags", "window_presets"):
            if key in changes:
                changes[key] = _items(changes[key], key)
        with self._write() as con:
            project = dataclasses.replace(projects.load_project(con, project_id), **changes)
            projects.update_project(con, project)
        return self.project(project_id)

    def project(self, project_id: str) -> Project:
        """One project (``read`` on it)."""
        check_id(project_id, "project_id")
        rights = self.rights
        project = projects.load_project(self._db(), project_id, rights)
        rights.require_role(project_id, "read", project.name)
        return project

    def projects(self, role: str = "read") -> pd.DataFrame:
        """The projects where the current user holds ``role``, by name.

        >>> Store.create(None).projects().columns.tolist()
        ['project_id', 'name', 'description', 'tags', 'roles', 'created_at', 'updated_at']
        """
        check_text(role, "role", 64)
        if role not in PROJECT_ROLES:
            raise ValidationError(f"Unknown project role {shown(role)}; roles are"
                                  f" {', '.join(PROJECT_ROLES)}.", field="role", value=role)
        rights = self.rights
        con = self._db()
        ids = None if rights.is_admin else [
            pid for pid, roles in rights.project_roles.items() if role in roles]
        frame = projects.projects_frame(con, ids)
        frame.insert(4, "roles", [sorted(rights.roles(pid)) for pid in frame["project_id"]])
        return frame

    def grant(self, group: str, project_id: str, roles: Iterable[str]) -> None:
        """Set exactly ``roles`` for ``group`` on a project; ``[]`` revokes (``manageServer``).

        Raises
        ------
        ValidationError
            For an unknown role, or a role other than ``read`` without ``read``.
        """
        self._require_admin("Granting project roles")
        check_text(group, "group", 64, line=True)
        check_id(project_id, "project_id")
        roles = check_project_roles(roles, project_id)
        with self._write() as con:
            accounts.require_groups(con, [group])
            projects.load_project(con, project_id)
            accounts.set_roles(con, group, project_id, roles)

    def roles(self, project_id: str | None = None) -> pd.DataFrame:
        """Which group holds which roles, on one project or all (``manageServer``)."""
        self._require_admin("Listing project roles")
        if project_id is not None:
            check_id(project_id, "project_id")
        return accounts.roles_frame(self._db(), project_id)

    # -- DICOM import and series ----------------------------------------------

    def import_dicom(self, paths: Any, domain: str = "default", mode: str = "copy",
                     progress: bool | Callable[[int, int], Any] = True,
                     executor: Executor | None = None) -> ImportReport:
        """Import files, folders (recursively), zip and tar.gz archives into ``domain``.

        ``mode="copy"`` copies files into the store; ``mode="reference"`` records
        them where they are (archive entries are always copied). Every input file
        gets a row in the report; a bad file never stops the others. Importing the
        same files again changes nothing. ``progress``: ``True`` (a bar), ``False``, or
        a function called ``progress(done, total)`` as files are processed.

        ``executor``: headers are read on this :class:`concurrent.futures.Executor`
        (threads, processes, or a Dask cluster's ``client.get_executor()``; its
        workers must see the files, and the store's folder where archive entries
        are unpacked, at the same paths) instead of circus_nb's own worker
        processes. It is left running. A file whose task fails twice (its worker
        died, the task raised) is reported ``unreadable``.

        >>> import tempfile, circus_nb as cnb
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> folder = cnb.sample.write_ct_series(tempfile.mkdtemp(), n=2, size=16).folder
        >>> store = cnb.Store.create(None)
        >>> with ThreadPoolExecutor(2) as pool:
        ...     store.import_dicom(folder, progress=False, executor=pool).counts["imported"]
        2
        >>> store.close()

        Raises
        ------
        PermissionDenied
            If ``domain`` is not among the current user's domains.
        NotFoundError
            If a path does not exist.
        ValidationError
            If ``paths`` are not paths, or ``domain``, ``mode``, ``progress`` or
            ``executor`` are of the wrong type.
        CircusError
            If ``executor`` refuses work (it was shut down, or broke).
        """
        paths = _paths(paths)
        check_text(domain, "domain", 64, line=True)
        check_text(mode, "mode", 16)
        self.rights.require_domain(domain, "Importing DICOM")
        self._catalog.require_writable()
        return import_dicom(self._catalog, paths, domain, mode, progress, executor)

    def series(self, series_uid: str) -> Series:
        """One series (its domain must be among the current user's domains).

        Raises
        ------
        NotFoundError
            If there is no such series; "did you mean" offers only series the user
            may open.
        PermissionDenied
            If the series' domain is not among the user's domains.
        """
        check_id(series_uid, "series_uid")
        rights = self.rights
        row = series_sql.load_series(self._db(), series_uid, sorted(rights.domains))
        rights.require_domain(row["domain"], f"Opening series {series_uid}")
        return Series(self, row)

    def resolve_auto(self, series_uid: str) -> PartialVolume:
        """The ``auto`` range of a series: its first consecutive run, head to feet."""
        return self.series(series_uid).resolve_auto()

    def related_series(self, series_uid: str) -> pd.DataFrame:
        """Series of the same study or the same patient (what Add Series offers).

        Patients are matched inside the catalog, so no patient information is shown.
        """
        series = self.series(series_uid)
        return series_sql.related(self._db(), series.series_uid, sorted(self.rights.domains))

    def search_series(self, modality: str | None = None, series_uid: str | None = None,
                      study_uid: str | None = None, description: str | None = None,
                      patient_id: str | None = None, patient_name: str | None = None,
                      sex: str | None = None, min_age: int | None = None,
                      max_age: int | None = None, date_from: Any = None, date_to: Any = None,
                      imported_from: Any = None, imported_to: Any = None,
                      sort: list[str] | None = None, limit: int = 200,
                      offset: int = 0, *, in_list: Any = None, preset: str | None = None
                      ) -> pd.DataFrame:
        """Series in the current user's domains, newest import first.

        Text filters match substrings (case-insensitive); dates take a ``date``,
        a ``datetime``, ISO text or a time relative to now (``"-7d"``, ``"today"``),
        and ``*_to`` dates include their whole day. ``in_list`` keeps the series of a
        list; ``preset`` starts from a saved search, which the other arguments
        override. Patient columns are ``None`` unless the user may see patient
        information.

        Raises
        ------
        PermissionDenied
            Filtering or sorting by a patient field without the global
            ``personalInfoView``.
        ValidationError
            A filter of the wrong type, ``limit`` above 200, more than 5 sort keys, an
            unknown sort column.
        """
        filters = collections.with_preset(self, "series", preset, {
            "modality": modality, "series_uid": series_uid, "study_uid": study_uid,
            "description": description, "patient_id": patient_id,
            "patient_name": patient_name, "sex": sex, "min_age": min_age,
            "max_age": max_age, "date_from": date_from, "date_to": date_to,
            "imported_from": imported_from, "imported_to": imported_to,
            "in_list": in_list, "sort": sort})
        sort = check_sort(filters.pop("sort") or [],
                          list(search_sql.SERIES_RESULT)) or ["-imported_at"]
        limit, offset = check_page(limit, offset)
        rights, filters = self._series_scope(filters, sort, "search_series")
        frame = search_sql.search_series(self._db(), filters, sorted(rights.domains), sort,
                                         limit, offset)
        if not self.may_view_patient_info():
            for column in PATIENT_COLUMNS:
                frame[column] = None
        return frame

    def count_series(self, **filters: Any) -> int:
        """How many series ``search_series(**filters)`` finds over all its pages.

        Takes the filters of :meth:`search_series` (``in_list`` and ``preset`` too,
        not ``sort``, ``limit`` or ``offset``), with the same checks.

        >>> import circus_nb as cnb
        >>> store = cnb.demo_store()
        >>> store.count_series(), store.count_series(modality="CT", description="lung")
        (5, 1)
        >>> store.close()

        Raises
        ------
        PermissionDenied
            Filtering by a patient field without the global ``personalInfoView``.
        ValidationError
            An unknown filter, or one of the wrong type.
        """
        filters = collections.with_preset(self, "series", filters.pop("preset", None),
                                          filters, ignore=("sort",))
        rights, checked = self._series_scope(filters, [], "count_series")
        return search_sql.count_series(self._db(), checked, sorted(rights.domains))

    def _series_scope(self, filters: dict[str, Any], sort: list[str], where: str
                      ) -> tuple[Rights, dict[str, Any]]:
        """The rights and the checked filters of a series search or count."""
        if filters.get("in_list") is not None:
            filters = {**filters,
                       "in_list": collections.resolve_list(self, filters["in_list"], "series")}
        filters = check_filters(filters, SERIES_FILTERS, where)
        rights = self.rights
        if uses_patient_fields(filters, sort):
            rights.require_patient_search()
        return rights, filters

    # -- saved searches and lists -------------------------------------------------

    def save_search(self, kind: str, name: str, **filters: Any) -> dict[str, Any]:
        """Keep the arguments of a search under ``name``, for the current user.

        ``kind`` is ``"cases"`` (the arguments of :meth:`search_cases`) or
        ``"series"`` (:meth:`search_series`), without ``limit`` or ``offset``. The
        search runs once to check them; they are kept as given, so a relative date
        (``updated_from="-7d"``) means "the last 7 days" whenever the search runs.
        Saving a name again replaces it. Run it with ``search_cases(preset=name)``
        (or ``search_series``, ``count_*``, ``case_facets``). Returns what was kept.

        Raises
        ------
        ValidationError
            A bad kind or name, or filters the search refuses.
        PermissionDenied
            As the search itself.
        """
        return collections.save_search(self, kind, name, filters)

    def searches(self, kind: str | None = None) -> pd.DataFrame:
        """The current user's saved searches (``kind, name, filters, created_at``).

        >>> import circus_nb as cnb
        >>> store = cnb.demo_store()
        >>> _ = store.save_search("cases", "this week", updated_from="-7d", tags=["nodule"])
        >>> store.searches("cases")[["name", "filters"]].values.tolist()
        [['this week', {'tags': ['nodule'], 'updated_from': '-7d'}]]
        >>> store.delete_search("cases", "this week")
        >>> len(store.searches())
        0
        >>> store.close()
        """
        return collections.searches(self, kind)

    def delete_search(self, kind: str, name: str) -> None:
        """Forget the current user's saved search ``name`` (``NotFoundError`` if none)."""
        collections.delete_search(self, kind, name)

    def create_list(self, kind: str, name: str, items: Iterable[str] = (),
                    editors: Iterable[str] = ()) -> collections.ItemList:
        """A new list of ``kind`` ``"cases"`` or ``"series"``, owned by the current user.

        ``items`` are case ids (of projects you can read) or series UIDs (of your
        domains); the members of the ``editors`` groups may see the list and add
        and remove items. A name is unique among your lists of one kind.

        >>> import circus_nb as cnb
        >>> store = cnb.demo_store()
        >>> review = store.create_list("cases", "to review", editors=["researchers"])
        >>> store.lists()[["name", "kind", "items", "editors"]].values.tolist()
        [['to review', 'cases', 0, ['researchers']]]
        >>> store.get_list("to review").name
        'to review'
        >>> store.delete_list("to review")
        >>> store.close()

        Raises
        ------
        ValidationError
            A bad kind or name, a name you already use, or bad ids.
        NotFoundError
            An unknown case, series or group.
        PermissionDenied
            A case of a project you cannot read, a series outside your domains.
        """
        return collections.create_list(self, kind, name, items, editors)

    def lists(self, kind: str | None = None) -> pd.DataFrame:
        """The lists you own or that are shared with one of your groups: ``list_id,
        kind, name, owner, editors, items, created_at``, yours first."""
        return collections.lists(self, kind)

    def get_list(self, name: str, kind: str | None = None) -> collections.ItemList:
        """Your list ``name`` (else one shared with you of that name), or the list
        with that id; ``kind`` narrows to lists of cases or of series.

        Raises
        ------
        NotFoundError
            No such list that you can see (with the closest name).
        """
        return collections.get_list(self, name, kind)

    def delete_list(self, name: str) -> None:
        """Delete one of your lists (its owner only: ``PermissionDenied`` for editors)."""
        collections.delete_list(self, name)

    def may_view_patient_info(self) -> bool:
        """Whether the current user sees patient information (privilege AND preference)."""
        return self.rights.may_view_patient_info(self.preferences()["personal_info_view"])

    def _series_access(self, series_uid: str, domain: str):
        """The connection, once the current user is checked against the series' domain."""
        self.rights.require_domain(domain, f"Reading series {series_uid}")
        return self._db()

    # -- reprs ---------------------------------------------------------------

    def _rows(self) -> list[tuple[str, Any]]:
        if self.closed:
            return [("path", self.path), ("state", "closed")]
        con = self._db()
        series, images = series_sql.counts(con)
        return [
            ("path", self.path),
            ("user", self._user),
            ("mode", "read-only" if self.read_only else "read-write"),
            ("projects", len(projects.all_project_ids(con))),
            ("series", f"{series} ({images} images, all domains)"),
        ]

    def __repr__(self) -> str:
        state = "closed" if self.closed else "read-only" if self.read_only else "read-write"
        return f"<Store '{self.path}' user={self._user} {state}>"

    def __str__(self) -> str:
        return card_text("circus_nb store", self._rows())

    def _repr_html_(self) -> str:
        return card_html("circus_nb store", self._rows())


def _items(values: Any, field: str) -> tuple[Any, ...]:
    """Tags or window presets as a tuple; a lone string or dict is one item."""
    if isinstance(values, str | dict):
        return (values,)
    if isinstance(values, bytes) or not isinstance(values, Iterable):
        raise ValidationError(f"{field} must be a list, got {shown(values)}.", field=field,
                              value=values)
    return tuple(values)


def _paths(paths: Any) -> list[Any]:
    """The paths to import: one path, or a list of them."""
    if isinstance(paths, str | os.PathLike):
        return [check_path(paths, "paths")]
    if isinstance(paths, bytes | dict) or not isinstance(paths, Iterable):
        raise ValidationError(f"paths must be a file or folder path, or a list of them, got"
                              f" {shown(paths)}.", field="paths", value=paths)
    return [check_path(path, "paths") for path in paths]
