"""Groups, users, as_user, preferences: allowed and refused, and nothing written when refused."""

import pytest

import circus_nb as cnb
from tests.conftest import ROLE_USERS, snapshot


def test_add_group_and_user(store):
    assert store.add_group("radiologists", ["personalInfoView"], ["default", "hosp-b"]) == \
        "radiologists"
    store.add_user("ann@example.org", groups=["radiologists"], display_name="Ann")
    users = store.users().set_index("email")
    assert users.loc["ann@example.org", "display_name"] == "Ann"
    assert list(users.loc["ann@example.org", "groups"]) == ["radiologists"]
    groups = store.groups().set_index("name")
    assert sorted(groups.loc["radiologists", "domains"]) == ["default", "hosp-b"]
    assert groups.loc["radiologists", "members"] == 1
    with store.as_user("ann@example.org"):
        rights = store.rights
    assert rights.global_privileges == {"personalInfoView"}
    assert rights.domains == {"default", "hosp-b"}


def test_dates_are_utc_aware(store):
    created = store.users()["created_at"]
    assert str(created.dtype).endswith("UTC]")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.add_group("admins"), cnb.ValidationError, "A group named 'admins' already"),
        (lambda s: s.add_group(""), cnb.ValidationError, "group name must have 1 to 64"),
        (lambda s: s.add_group("g", ["root"]), cnb.ValidationError,
         "Unknown global privilege 'root'"),
        (lambda s: s.add_group("g", domains=["bad domain"]), cnb.ValidationError,
         "Invalid domain name 'bad domain'"),
        (lambda s: s.add_user("admin@example.org"), cnb.ValidationError,
         "A user 'admin@example.org' already exists."),
        (lambda s: s.add_user("bob"), cnb.ValidationError, "e-mail address such as"),
        (lambda s: s.add_user("bob@example.org", groups=["admin"]), cnb.NotFoundError,
         "No group 'admin'. Did you mean 'admins'?"),
        (lambda s: s.add_user("bob@example.org", groups=[1]), cnb.ValidationError,
         "group name must be text, got 1"),
        (lambda s: s.set_user_groups("nobody@example.org", []), cnb.NotFoundError,
         "No user 'nobody@example.org'"),
        (lambda s: s.set_user_groups("admin@example.org", []), cnb.ValidationError,
         "would leave no user with 'manageServer'"),
        (lambda s: s.set_preference("personal_info_veiw", True), cnb.NotFoundError,
         "Did you mean 'personal_info_view'?"),
        (lambda s: s.set_preference("personal_info_view", "yes"), cnb.ValidationError,
         "must be a bool, got 'yes'"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(store, call, error, message):
    before = snapshot(store)
    with pytest.raises(error, match=message):
        call(store)
    assert snapshot(store) == before


def test_set_user_groups(store):
    store.add_group("a")
    store.add_group("b")
    store.add_user("bob@example.org", groups=["a"])
    store.set_user_groups("bob@example.org", ["b", "a"])
    with store.as_user("bob@example.org"):
        assert store.rights.groups == ("a", "b")
    store.set_user_groups("bob@example.org", [])
    with store.as_user("bob@example.org"):
        assert store.rights.groups == ()


ADMIN_ONLY = [
    ("add_group", lambda s: s.add_group("g2"), "Adding a group"),
    ("add_user", lambda s: s.add_user("x@example.org"), "Adding a user"),
    ("set_user_groups", lambda s: s.set_user_groups("reader@example.org", []),
     "Changing a user's groups"),
    ("users", lambda s: s.users(), "Listing users"),
    ("groups", lambda s: s.groups(), "Listing groups"),
    ("roles", lambda s: s.roles(), "Listing project roles"),
    ("create_project", lambda s: s.create_project("New"), "Creating a project"),
    ("update_project", lambda s: s.update_project(s.project_id, name="Renamed"),
     "Editing a project"),
    ("grant", lambda s: s.grant("readers", s.project_id, ["read", "write"]),
     "Granting project roles"),
]


@pytest.mark.parametrize("email", [f"{name}@example.org" for name in ROLE_USERS])
@pytest.mark.parametrize(("name", "call", "action"), ADMIN_ONLY, ids=[a[0] for a in ADMIN_ONLY])
def test_administration_needs_manage_server_whatever_the_project_role(
        populated, email, name, call, action):
    before = snapshot(populated)
    with populated.as_user(email), pytest.raises(
            cnb.PermissionDenied, match=f"{action} requires the global privilege 'manageServer',"
                                        f" which user {email} does not hold"):
        call(populated)
    assert snapshot(populated) == before


@pytest.mark.parametrize(("name", "call", "action"), ADMIN_ONLY, ids=[a[0] for a in ADMIN_ONLY])
def test_administration_is_allowed_with_manage_server(populated, name, call, action):
    call(populated)


def test_a_second_admin_may_administer(populated):
    populated.add_user("root@example.org", groups=["admins"])
    with populated.as_user("root@example.org"):
        populated.add_group("made-by-root")
    assert "made-by-root" in set(populated.groups()["name"])


def test_as_user_needs_manage_server_of_the_user_who_opened_the_store(populated):
    populated.close()
    with cnb.Store.open(populated.path, user="writer@example.org") as writer:
        denied = pytest.raises(cnb.PermissionDenied, match=r"Acting as another user"
                               r" \(store.as_user\) requires the global privilege")
        with denied, writer.as_user("reader@example.org"):
            pass
        assert writer.user == "writer@example.org"


def test_as_user_checks_the_current_user_so_nesting_cannot_climb_back(populated):
    populated.add_user("root@example.org", groups=["admins"])
    with populated.as_user("writer@example.org"):
        for email in ("admin@example.org", "root@example.org", "reader@example.org"):
            denied = pytest.raises(cnb.PermissionDenied, match=r"requires the global privilege"
                                   r" 'manageServer', which user writer@example.org does not")
            with denied, populated.as_user(email):
                pass
            assert populated.user == "writer@example.org"
    with populated.as_user("root@example.org"), populated.as_user("reader@example.org"):
        assert populated.user == "reader@example.org"  # an administrator may nest
    assert populated.user == "admin@example.org"


def test_as_user_restores_the_user_even_after_an_error(populated):
    with pytest.raises(RuntimeError), populated.as_user("reader@example.org"):
        assert populated.user == "reader@example.org"
        raise RuntimeError
    assert populated.user == "admin@example.org"
    missing = pytest.raises(cnb.NotFoundError, match="No user 'ghost@example.org'")
    with missing, populated.as_user("ghost@example.org"):
        pass


def test_preferences_are_per_user_with_defaults(populated):
    assert populated.preferences() == {"personal_info_view": False}
    populated.set_preference("personal_info_view", True)
    assert populated.preferences() == {"personal_info_view": True}
    with populated.as_user("reader@example.org"):
        assert populated.preferences() == {"personal_info_view": False}
        populated.set_preference("personal_info_view", True)  # any user sets their own
        assert populated.preferences()["personal_info_view"] is True
    populated.set_preference("personal_info_view", False)
    assert populated.preferences() == {"personal_info_view": False}
