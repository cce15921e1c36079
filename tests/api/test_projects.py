"""Projects and project roles in the store."""

import pytest

import circus_nb as cnb
from circus_nb.domain import PROJECT_ROLES
from tests.conftest import ROLE_USERS, as_user, snapshot

SCHEMA = {"type": "object", "properties": {"grade": {"type": "integer", "minimum": 1}}}


def test_create_project_round_trips_every_field(store):
    p = store.create_project(
        "Lung nodules", "CT screening", tags=["nodule", ("ggo", "#00aa00")],
        case_attributes_schema=SCHEMA,
        label_attributes_schema={"properties": {"kind": {"type": "string", "enum": ["a"]}}},
        window_presets=[("lung", -600, 1500)], window_priority="preset,dicom,auto",
    )
    assert len(p.project_id) == 26
    again = store.project(p.project_id)
    assert again == p
    assert again.tag_names == ("nodule", "ggo")
    assert again.case_attributes_schema == SCHEMA
    assert again.window_presets[0].width == 1500
    assert again.window_priority == "preset,dicom,auto"
    assert again.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "lung nodules"}, cnb.ValidationError,
         "A project named 'Lung nodules' already exists"),
        ({"name": " Lung Nodules "}, cnb.ValidationError, "unique regardless of case"),
        ({"name": "x" * 65}, cnb.ValidationError, "project name must have 1 to 64"),
        ({"name": "New", "tags": [("a", "#FFFFFF")]}, cnb.ValidationError,
         "Write it as '#ffffff'"),
        ({"name": "New", "case_attributes_schema": {"properties": {"x": {"type": "object"}}}},
         cnb.ValidationError, "properties.x.type: must be one of"),
        ({"name": "New", "window_presets": [("w", 40, -1)]}, cnb.ValidationError, "width must be"),
        ({"name": "New", "window_presets": [("w", float("nan"), 400)]}, cnb.ValidationError,
         r"Window preset 'w': level must be a finite number, got nan"),
        ({"name": "New", "window_presets": [{"label": "w", "level": 40,
                                             "width": float("inf")}]},
         cnb.ValidationError, r"width must be a finite number, got inf"),
        ({"name": "New", "window_presets": None}, cnb.ValidationError,
         "window_presets must be a list, got None"),
        ({"name": "New", "tags": ["two\nlines"]}, cnb.ValidationError,
         r"tag name must be one line of printable text, but it holds the control character"),
        ({"name": "Lung\x00"}, cnb.ValidationError, "project name must be one line"),
        ({"name": "New", "window_priority": "preset"}, cnb.ValidationError,
         r"window_priority must be one of 'dicom,preset,auto', .*, got 'preset'\."),
        ({"name": "New", "window_priority": None}, cnb.ValidationError,
         "window_priority must be one of"),
    ],
)
def test_bad_projects_are_refused_and_nothing_is_written(store, kwargs, error, message):
    store.create_project("Lung nodules")
    before = snapshot(store)
    with pytest.raises(error, match=message):
        store.create_project(**kwargs)
    assert snapshot(store) == before


def test_update_project_refuses_non_finite_presets(store):
    project = store.create_project("Lung", window_presets=[("lung", -600, 1500)])
    before = snapshot(store)
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(cnb.ValidationError, match="level must be a finite number"):
            store.update_project(project.project_id, window_presets=[("lung", value, 1500)])
    assert snapshot(store) == before


@pytest.mark.parametrize("priority", cnb.domain.WINDOW_PRIORITIES)
def test_every_window_priority_round_trips_through_create_update_and_reopen(store, priority):
    made = store.create_project(f"P {priority}", window_priority=priority)
    assert made.window_priority == priority == store.project(made.project_id).window_priority
    other = next(p for p in cnb.domain.WINDOW_PRIORITIES if p != priority)
    changed = store.update_project(made.project_id, window_priority=other)
    assert changed.window_priority == other and changed.name == made.name
    store.close()
    with cnb.Store.open(store.path, user="admin@example.org", read_only=True) as again:
        assert again.project(made.project_id).window_priority == other


def test_a_project_made_without_a_priority_gets_circus_s_default(store):
    assert store.create_project("Plain").window_priority == "dicom,preset,auto"
    p = store.create_project("Tagged", tags=["x"])
    assert store.update_project(p.project_id, tags=["y"]).window_priority == "dicom,preset,auto"


@pytest.mark.parametrize("bad", ["preset", "Dicom,Auto", "", None, 1, ("auto",)])
def test_update_project_refuses_a_bad_priority_and_writes_nothing(store, bad):
    project = store.create_project("Lung", window_priority="dicom,auto")
    before = snapshot(store)
    with pytest.raises(cnb.ValidationError, match="window_priority must be one of") as info:
        store.update_project(project.project_id, window_priority=bad, description="changed")
    assert info.value.field == "window_priority"
    assert snapshot(store) == before
    assert store.project(project.project_id).window_priority == "dicom,auto"


def test_a_missing_project_hints_only_at_projects_the_user_can_read(populated):
    hidden = populated.create_project("Hidden").project_id
    typo = hidden[:-1] + ("x" if hidden[-1] != "x" else "y")
    with pytest.raises(cnb.NotFoundError, match=f"Did you mean '{hidden}'"):
        populated.project(typo)
    with as_user(populated, "reader"):
        for call in (lambda: populated.project(typo),
                     lambda: populated.search_cases(project_id=typo),
                     lambda: populated.create_case(typo, ["1.2.3"])):
            with pytest.raises(cnb.NotFoundError) as info:
                call()
            assert hidden not in str(info.value)


def test_update_project(store):
    p = store.create_project("A", tags=["x"])
    other = store.create_project("B")
    q = store.update_project(p.project_id, tags=["x", "y"], description="now with y")
    assert q.tag_names == ("x", "y") and q.description == "now with y" and q.name == "A"
    before = snapshot(store)
    with pytest.raises(cnb.ValidationError, match="A project named 'B' already exists"):
        store.update_project(p.project_id, name="b")
    with pytest.raises(cnb.ValidationError, match="Projects have no field 'owner'"):
        store.update_project(p.project_id, owner="me")
    with pytest.raises(cnb.NotFoundError, match="No project 'nope'"):
        store.update_project("nope", name="C")
    assert snapshot(store) == before
    assert store.update_project(other.project_id, name="B").name == "B"  # its own name is fine


def test_grant_sets_exactly_the_roles_and_empty_revokes(populated):
    pid = populated.project_id
    populated.grant("readers", pid, ["read", "write"])
    with populated.as_user("reader@example.org"):
        assert populated.rights.roles(pid) == {"read", "write"}
    populated.grant("readers", pid, ["read"])
    with populated.as_user("reader@example.org"):
        assert populated.rights.roles(pid) == {"read"}
    populated.grant("readers", pid, [])
    with populated.as_user("reader@example.org"):
        assert populated.rights.roles(pid) == frozenset()
    assert "readers" not in set(populated.roles(pid)["group_name"])


@pytest.mark.parametrize(
    ("group", "project", "roles", "error", "message"),
    [
        ("readers", "P", ["write"], cnb.ValidationError, r"Roles without 'read' on project\(s\)"),
        ("readers", "P", ["read", "admin"], cnb.ValidationError, "Unknown project role 'admin'"),
        ("ghosts", "P", ["read"], cnb.NotFoundError, "No group 'ghosts'"),
        ("readers", "nope", ["read"], cnb.NotFoundError, "No project 'nope'"),
    ],
)
def test_bad_grants_are_refused_and_nothing_is_written(populated, group, project, roles, error,
                                                       message):
    before = snapshot(populated)
    project = populated.project_id if project == "P" else project
    with pytest.raises(error, match=message):
        populated.grant(group, project, roles)
    assert snapshot(populated) == before


def test_the_read_message_names_the_project_ids(populated):
    with pytest.raises(cnb.ValidationError, match=populated.project_id):
        populated.grant("readers", populated.project_id, ["moderate", "write"])


@pytest.mark.parametrize("name", list(ROLE_USERS))
@pytest.mark.parametrize("role", PROJECT_ROLES)
def test_projects_lists_where_the_user_holds_the_role(populated, name, role):
    with populated.as_user(f"{name}@example.org"):
        frame = populated.projects(role=role)
    expected = [populated.project_id] if role in ROLE_USERS[name] else []
    assert list(frame["project_id"]) == expected
    assert list(frame.columns[:3]) == ["project_id", "name", "description"]


def test_admin_sees_every_project_with_every_role(populated):
    other = populated.create_project("Brain")
    frame = populated.projects(role="moderate")
    assert list(frame["name"]) == ["Brain", "Lung"]
    assert set(frame.iloc[0]["roles"]) == set(PROJECT_ROLES)
    assert frame.set_index("project_id").loc[other.project_id, "tags"] == []


def test_projects_refuses_an_unknown_role(populated):
    with pytest.raises(cnb.ValidationError, match="Unknown project role 'owner'"):
        populated.projects(role="owner")


@pytest.mark.parametrize("name", list(ROLE_USERS))
def test_opening_a_project_needs_read(populated, name):
    with populated.as_user(f"{name}@example.org"):
        if "read" in ROLE_USERS[name]:
            assert populated.project(populated.project_id).name == "Lung"
        else:
            with pytest.raises(cnb.PermissionDenied, match="You do not have read privilege for"
                                                           " this project. User nobody"):
                populated.project(populated.project_id)


def test_roles_accumulate_across_groups(populated):
    populated.set_user_groups("reader@example.org", ["readers", "moderators"])
    with populated.as_user("reader@example.org"):
        assert populated.rights.roles(populated.project_id) == {"read", "moderate"}
        assert list(populated.projects("moderate")["name"]) == ["Lung"]
