import pytest

from circus_nb import PermissionDenied, ValidationError
from circus_nb.domain import PROJECT_ROLES, GroupGrant, Rights
from circus_nb.domain.privileges import (
    check_domains,
    check_global_privileges,
    check_project_roles,
)


def rights(*grants):
    return Rights.combine("u@example.org", grants)


def test_rights_are_the_union_over_groups():
    r = rights(
        GroupGrant("a", {"downloadVolume"}, {"default"}, {"p1": {"read"}}),
        GroupGrant("b", {"personalInfoView"}, {"other"}, {"p1": {"read", "write"}, "p2": {"read"}}),
    )
    assert r.global_privileges == {"downloadVolume", "personalInfoView"}
    assert r.domains == {"default", "other"}
    assert r.roles("p1") == {"read", "write"}
    assert r.roles("p2") == {"read"}
    assert r.roles("p3") == frozenset()
    assert r.groups == ("a", "b")


def test_manage_server_holds_every_role_but_no_extra_domain():
    r = rights(GroupGrant("admins", {"manageServer"}, {"default"}, {}))
    assert r.is_admin
    assert r.roles("anything") == set(PROJECT_ROLES)
    assert r.domains == {"default"}  # domains are never implied


@pytest.mark.parametrize("role", ["write", "moderate", "addSeries", "viewPersonalInfo"])
def test_require_role_uses_the_original_wording(role):
    r = rights(GroupGrant("g", (), (), {"p1": {"read"}}))
    with pytest.raises(PermissionDenied) as info:
        r.require_role("p1", role, "Lung")
    text = str(info.value)
    expected = {
        "write": "You do not have write privilege for this project.",
        "moderate": 'You do not have "moderate" privilege of this project.',
    }.get(role, f'"{role}" privilege')
    assert expected in text
    assert "holds read on project 'Lung' (p1)" in text
    assert f"grant {role!r}" in text
    r.require_role("p1", "read")  # allowed: no exception


def test_require_global_and_domain():
    r = rights(GroupGrant("g", (), {"default"}, {}))
    with pytest.raises(PermissionDenied, match="requires the global privilege 'manageServer'"):
        r.require_global("manageServer", "Creating a project")
    with pytest.raises(PermissionDenied, match=r"domain 'x', which is not among .* \(default\)"):
        r.require_domain("x", "Importing")
    r.require_domain("default", "Importing")


def test_patient_info_needs_privilege_preference_and_project_role():
    plain = rights(GroupGrant("g", (), (), {"p": {"read", "viewPersonalInfo"}}))
    viewer = rights(GroupGrant("g", {"personalInfoView"}, (), {"p": {"read", "viewPersonalInfo"}}))
    reader = rights(GroupGrant("g", {"personalInfoView"}, (), {"p": {"read"}}))
    assert not plain.may_view_patient_info(True)
    assert not viewer.may_view_patient_info(False)
    assert viewer.may_view_patient_info(True)
    assert viewer.may_view_patient_info(True, "p")
    assert not reader.may_view_patient_info(True, "p")
    with pytest.raises(PermissionDenied, match="You cannot search using patient information."):
        plain.require_patient_search()
    viewer.require_patient_search()


def test_roles_other_than_read_need_read_and_the_message_names_the_project():
    with pytest.raises(ValidationError, match=r"Roles without 'read' on project\(s\) p9: "
                       r"moderate, write\. .*add 'read'"):
        check_project_roles(["write", "moderate"], "p9")
    assert check_project_roles(["read", "write"], "p9") == {"read", "write"}
    assert check_project_roles([], "p9") == frozenset()


def test_unknown_names_get_a_suggestion():
    with pytest.raises(ValidationError, match="Unknown project role 'wirte'. Did you mean 'write'"):
        check_project_roles(["read", "wirte"], "p")
    with pytest.raises(ValidationError, match="Did you mean 'downloadVolume'"):
        check_global_privileges("downloadvolume")
    assert check_global_privileges("manageServer") == {"manageServer"}  # one string, not letters


@pytest.mark.parametrize("bad", ["", "has space", "-lead", "x" * 65, 3])
def test_domain_names(bad):
    with pytest.raises(ValidationError):
        check_domains([bad])
    assert check_domains(["default", "hospital-B.2"]) == {"default", "hospital-B.2"}
