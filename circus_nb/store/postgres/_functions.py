"""The rights of the connected user, as SQL functions the policies call.

They mirror :class:`circus_nb.domain.privileges.Rights`: the union over the user's
groups; ``manageServer`` holds every project role on every project; domains come from
groups only, never from ``manageServer``.

Who is asking: each function takes ``who`` (a role name) defaulting to
``current_user``. The default is evaluated by the caller, before the function
switches to its owner (``SECURITY DEFINER``, needed to read the account tables that
user roles may not read in full), so a policy asks for the role the query runs as,
whether it logged in or was reached by ``SET ROLE``. Asking for someone else gives
nothing: the mapping is only used when the session may act as ``who``. Functions
calling one another pass ``who`` on, since inside them ``current_user`` is the owner.
"""

from __future__ import annotations

from ...domain.privileges import PROJECT_ROLES
from ._sql import USERS_ROLE, identifier, text_array

# name(arguments) -> (returns, body). All are STABLE SECURITY DEFINER SQL functions with
# the search_path pinned to the catalog schema; arrays come sorted as Python sorts
# (COLLATE "C"), so they compare equal to sorted() of the api's sets.
_WHO = "who name DEFAULT current_user"
FUNCTIONS: dict[str, tuple[str, str]] = {
    f"circus_email({_WHO})": ("VARCHAR", """
        SELECT ur.email FROM user_roles ur JOIN pg_roles r ON r.rolname = ur.role
        WHERE ur.role = who AND pg_has_role(session_user, r.oid, 'USAGE')"""),
    f"circus_groups({_WHO})": ("VARCHAR[]", """
        SELECT coalesce(array_agg(group_name ORDER BY group_name COLLATE "C"), '{}')
        FROM group_members WHERE email = circus_email(who)"""),
    f"circus_privileges({_WHO})": ("VARCHAR[]", """
        SELECT coalesce(array_agg(DISTINCT p COLLATE "C" ORDER BY p COLLATE "C"), '{}')
        FROM group_members m JOIN groups g ON g.name = m.group_name, unnest(g.privileges) p
        WHERE m.email = circus_email(who)"""),
    f"circus_domains({_WHO})": ("VARCHAR[]", """
        SELECT coalesce(array_agg(DISTINCT d COLLATE "C" ORDER BY d COLLATE "C"), '{}')
        FROM group_members m JOIN groups g ON g.name = m.group_name, unnest(g.domains) d
        WHERE m.email = circus_email(who)"""),
    f"circus_is_admin({_WHO})": ("BOOLEAN", """
        SELECT 'manageServer' = ANY(circus_privileges(who))"""),
    # The server enforces the global privilege only: the user's own preference and a
    # project's viewPersonalInfo role (for cases) stay with the api, which hides more.
    f"circus_may_view_patient({_WHO})": ("BOOLEAN", """
        SELECT 'personalInfoView' = ANY(circus_privileges(who))"""),
    f"circus_project_roles(p_project VARCHAR, {_WHO})": ("VARCHAR[]", f"""
        SELECT CASE WHEN circus_is_admin(who) THEN {text_array(tuple(sorted(PROJECT_ROLES)))}
               ELSE (SELECT coalesce(array_agg(DISTINCT r COLLATE "C"
                                               ORDER BY r COLLATE "C"), '{{}}')
                     FROM project_roles pr, unnest(pr.roles) r
                     WHERE pr.project_id = p_project
                       AND pr.group_name = ANY(circus_groups(who))) END"""),
    f"circus_has_role(p_project VARCHAR, p_role VARCHAR, {_WHO})": ("BOOLEAN", """
        SELECT p_role = ANY(circus_project_roles(p_project, who))"""),
    # As projects.readable_ids: an administrator reads every project.
    f"circus_readable_projects({_WHO})": ("VARCHAR[]", """
        SELECT CASE WHEN circus_is_admin(who)
               THEN (SELECT coalesce(array_agg(project_id ORDER BY project_id COLLATE "C"),
                                     '{}') FROM projects)
               ELSE (SELECT coalesce(array_agg(DISTINCT project_id COLLATE "C"
                                               ORDER BY project_id COLLATE "C"), '{}')
                     FROM project_roles
                     WHERE 'read' = ANY(roles) AND group_name = ANY(circus_groups(who))) END"""),
    # Storing a label mask (blobs) needs write on some project.
    f"circus_may_write({_WHO})": ("BOOLEAN", """
        SELECT circus_is_admin(who) OR EXISTS (
            SELECT FROM project_roles
            WHERE 'write' = ANY(roles) AND group_name = ANY(circus_groups(who)))"""),
    f"circus_may_open_series(p_series VARCHAR, {_WHO})": ("BOOLEAN", """
        SELECT EXISTS (SELECT FROM series
                       WHERE series_uid = p_series AND domain = ANY(circus_domains(who)))"""),
    # Whether the revision before ``p_idx`` of a case has the series: a policy on
    # revision_series cannot ask revision_series itself (that recursion is refused).
    # (Only of a case the asker can read: it tells nothing about the others.)
    f"circus_kept_entry(p_case VARCHAR, p_idx INTEGER, p_series VARCHAR, {_WHO})": (
        "BOOLEAN", """
        SELECT EXISTS (SELECT FROM revision_series rs JOIN cases c USING (case_id)
                       WHERE rs.case_id = p_case AND rs.idx = p_idx - 1
                         AND rs.series_uid = p_series
                         AND c.project_id = ANY(circus_readable_projects(who)))"""),
    # Whether ``p_date`` is the date of the revision before ``p_idx`` of a case (NULL
    # before revision 0): a revision's previous_date, checked by a policy that cannot
    # ask revisions itself. (Only of a case the asker can read.)
    f"circus_follows(p_case VARCHAR, p_idx INTEGER, p_date TIMESTAMPTZ, {_WHO})": (
        "BOOLEAN", """
        SELECT p_date IS NOT DISTINCT FROM (
            SELECT r.date FROM revisions r JOIN cases c USING (case_id)
            WHERE r.case_id = p_case AND r.idx = p_idx - 1
              AND c.project_id = ANY(circus_readable_projects(who)))"""),
    # The lists a user sees: their own and those shared with one of their groups. A
    # function, since the policies of item_lists and list_editors would otherwise
    # refer to each other (a recursion the server refuses).
    f"circus_visible_lists({_WHO})": ("VARCHAR[]", """
        SELECT coalesce(array_agg(l.list_id ORDER BY l.list_id COLLATE "C"), '{}')
        FROM item_lists l
        WHERE l.owner = circus_email(who) OR EXISTS (
            SELECT FROM list_editors e
            WHERE e.list_id = l.list_id AND e.group_name = ANY(circus_groups(who)))"""),
}

# Revisions are append-only for user roles, so deleting a case (revisions included),
# which the api allows a project's moderators, goes through this function: it checks
# the rule and removes the rows as the owner. Volatile, and plpgsql for its errors.
_DELETE_CASE = """
CREATE OR REPLACE FUNCTION {s}.circus_delete_case(p_case VARCHAR, {who})
RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {s}, pg_temp
AS $$
DECLARE
  project VARCHAR;
BEGIN
  SELECT c.project_id INTO project FROM cases c WHERE c.case_id = p_case;
  IF project IS NULL OR NOT project = ANY(circus_readable_projects(who)) THEN
    RAISE EXCEPTION 'No case %', p_case USING ERRCODE = 'no_data_found';
  END IF;
  IF NOT circus_has_role(project, 'moderate', who) THEN
    RAISE EXCEPTION 'Deleting case % needs the role moderate on project %', p_case, project
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  DELETE FROM revision_series WHERE case_id = p_case;
  DELETE FROM revisions WHERE case_id = p_case;
  DELETE FROM cases WHERE case_id = p_case;
END $$"""


def _signature(declaration: str) -> str:
    """``f(a TYPE, who name DEFAULT x)`` -> ``f(TYPE, name)``: what GRANT names."""
    name, arguments = declaration.split("(", 1)
    types = [a.split()[1] for a in arguments.rstrip(")").split(",") if a.strip()]
    return f"{name}({', '.join(types)})"


def function_statements(schema: str) -> list[str]:
    """``CREATE OR REPLACE`` of every function, executable by user roles only."""
    s = identifier(schema)
    statements = [
        f"""CREATE OR REPLACE FUNCTION {s}.{declaration} RETURNS {returns}
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {s}, pg_temp
            AS $$ {body} $$"""
        for declaration, (returns, body) in FUNCTIONS.items()
    ]
    statements.append(_DELETE_CASE.format(s=s, who=_WHO))
    for declaration in [*FUNCTIONS, f"circus_delete_case(p_case VARCHAR, {_WHO})"]:
        signature = f"{s}.{_signature(declaration)}"
        # Functions are executable by PUBLIC by default; these only by circus users.
        statements.append(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        statements.append(f"GRANT EXECUTE ON FUNCTION {signature} TO {USERS_ROLE}")
    return statements
