"""Who may do what: global privileges, domains and per-project roles.

A user's rights are the union over their groups. ``manageServer`` holds every
project role on every project; domains are never implied, they come from
groups only.

>>> admins = GroupGrant("admins", {"manageServer"}, {"default"}, {})
>>> readers = GroupGrant("readers", (), {"default"}, {"p1": {"read"}})
>>> Rights.combine("bob@example.org", [readers]).has_role("p1", "write")
False
>>> Rights.combine("ann@example.org", [admins]).has_role("p1", "write")
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from types import MappingProxyType

from ..errors import PermissionDenied, ValidationError
from .values import check_names, shown

__all__ = [
    "GLOBAL_PRIVILEGES",
    "PROJECT_ROLES",
    "GroupGrant",
    "Rights",
    "check_domains",
    "check_global_privileges",
    "check_project_roles",
]

GLOBAL_PRIVILEGES = ("manageServer", "personalInfoView", "downloadVolume")
PROJECT_ROLES = ("read", "write", "moderate", "viewPersonalInfo", "addSeries")
_DOMAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# The original's wording, kept so its users recognise the refusals.
_ROLE_MESSAGES = {
    "read": "You do not have read privilege for this project.",
    "write": "You do not have write privilege for this project.",
    "moderate": 'You do not have "moderate" privilege of this project.',
    "addSeries": 'You do not have "addSeries" privilege of this project.',
    "viewPersonalInfo": 'You do not have "viewPersonalInfo" privilege of this project.',
}


def _check_known(values: Iterable[str] | str, known: tuple[str, ...], what: str,
                 field: str) -> frozenset[str]:
    names = check_names(values, field, 64, item=what)
    for name in names:
        if name not in known:
            close = get_close_matches(name, known, n=1)
            hint = f" Did you mean {shown(close[0])}?" if close else ""
            raise ValidationError(
                f"Unknown {what} {shown(name)}.{hint} Known: {', '.join(known)}.", field=field,
                value=name,
            )
    return frozenset(names)


def check_global_privileges(privileges: Iterable[str] | str) -> frozenset[str]:
    """Validate global privilege names.

    >>> check_global_privileges(["managServer"])
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Unknown global privilege 'managServer'. Did you mean ...
    """
    return _check_known(privileges, GLOBAL_PRIVILEGES, "global privilege", "privileges")


def check_project_roles(roles: Iterable[str] | str, project_id: str) -> frozenset[str]:
    """Validate role names; every role other than ``read`` needs ``read`` too.

    >>> check_project_roles(["write"], "p1")
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Roles without 'read' on project(s) p1: write. ...
    """
    checked = _check_known(roles, PROJECT_ROLES, "project role", "roles")
    if checked and "read" not in checked:
        raise ValidationError(
            f"Roles without 'read' on project(s) {project_id}: {', '.join(sorted(checked))}."
            " Every role other than 'read' requires 'read' on the same project; add 'read'.",
            field="roles",
            value=sorted(checked),
        )
    return checked


def check_domains(domains: Iterable[str] | str) -> frozenset[str]:
    """Validate domain names: 1-64 letters, digits, ``_``, ``.`` or ``-``."""
    names = check_names(domains, "domains", 64, item="domain")
    for name in names:
        if not _DOMAIN.match(name):
            raise ValidationError(
                f"Invalid domain name {shown(name)}: use 1-64 letters, digits, '_', '.' or '-',"
                " starting with a letter or digit.",
                field="domain",
                value=name,
            )
    return frozenset(names)


@dataclass(frozen=True)
class GroupGrant:
    """What one group grants: global privileges, domains, roles per project id."""

    name: str
    privileges: Iterable[str] = ()
    domains: Iterable[str] = ()
    project_roles: Mapping[str, Iterable[str]] = field(default_factory=dict)


def _frozen_roles(roles: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({pid: frozenset(r) for pid, r in roles.items()})


@dataclass(frozen=True)
class Rights:
    """The effective rights of one user: the union over the user's groups."""

    user: str
    global_privileges: frozenset[str]
    domains: frozenset[str]
    project_roles: Mapping[str, frozenset[str]]
    groups: tuple[str, ...] = ()

    @classmethod
    def combine(cls, user: str, grants: Iterable[GroupGrant]) -> Rights:
        """The union of what ``grants`` give."""
        privileges: set[str] = set()
        domains: set[str] = set()
        roles: dict[str, set[str]] = {}
        names = []
        for g in grants:
            names.append(g.name)
            privileges.update(g.privileges)
            domains.update(g.domains)
            for pid, r in g.project_roles.items():
                roles.setdefault(pid, set()).update(r)
        return cls(user, frozenset(privileges), frozenset(domains), _frozen_roles(roles),
                   tuple(names))

    @property
    def is_admin(self) -> bool:
        """Whether the user holds ``manageServer``."""
        return "manageServer" in self.global_privileges

    def roles(self, project_id: str) -> frozenset[str]:
        """The roles held on a project; an administrator holds all of them."""
        if self.is_admin:
            return frozenset(PROJECT_ROLES)
        return self.project_roles.get(project_id, frozenset())

    def has_role(self, project_id: str, role: str) -> bool:
        return role in self.roles(project_id)

    def require_role(self, project_id: str, role: str, project_name: str | None = None) -> None:
        """Raise ``PermissionDenied`` unless the user holds ``role`` on the project."""
        if self.has_role(project_id, role):
            return
        held = ", ".join(sorted(self.roles(project_id))) or "no role"
        label = f"{shown(project_name)} ({project_id})" if project_name else project_id
        raise PermissionDenied(
            f"{_ROLE_MESSAGES[role]} User {self.user} holds {held} on project {label}."
            f" Ask an administrator to grant {shown(role)} to one of your groups.",
            field="role",
            value=role,
        )

    def require_global(self, privilege: str, action: str) -> None:
        """Raise ``PermissionDenied`` unless the user holds a global privilege."""
        if privilege in self.global_privileges:
            return
        raise PermissionDenied(
            f"{action} requires the global privilege {shown(privilege)}, which user {self.user}"
            " does not hold. Ask an administrator to add you to a group that grants it.",
            field="privilege",
            value=privilege,
        )

    def require_domain(self, domain: str, action: str) -> None:
        """Raise ``PermissionDenied`` unless ``domain`` is among the user's domains."""
        if domain in self.domains:
            return
        mine = ", ".join(sorted(self.domains)) or "none"
        raise PermissionDenied(
            f"{action} needs the domain {shown(domain)}, which is not among the domains of user"
            f" {self.user} ({mine}). Ask an administrator for a group with that domain.",
            field="domain",
            value=domain,
        )

    def may_view_patient_info(self, preference: bool, project_id: str | None = None) -> bool:
        """Patient info shows with ``personalInfoView`` AND the user's preference
        (for a case, also the project's ``viewPersonalInfo`` role)."""
        if not (preference and "personalInfoView" in self.global_privileges):
            return False
        return project_id is None or self.has_role(project_id, "viewPersonalInfo")

    def require_patient_search(self) -> None:
        """Filtering by patient fields needs the global ``personalInfoView``."""
        if "personalInfoView" not in self.global_privileges:
            raise PermissionDenied(
                "You cannot search using patient information. It needs the global privilege"
                f" 'personalInfoView', which user {self.user} does not hold; search by other"
                " fields, or ask an administrator.",
                field="privilege",
                value="personalInfoView",
            )
