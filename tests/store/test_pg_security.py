"""Server-enforced privileges: connected as a user's own role, raw SQL sees and changes
only what circus_nb's rules allow (tests/store/pg_catalog.py says who holds what)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

psycopg = pytest.importorskip("psycopg")

from circus_nb.domain.privileges import PROJECT_ROLES  # noqa: E402
from circus_nb.store.postgres.security import (  # noqa: E402
    role_name,
    security_statements,
    set_password_statement,
    user_role_statements,
)
from tests.pg_server import database  # noqa: E402
from tests.store.pg_catalog import (  # noqa: E402
    BLOB_1,
    BLOB_2,
    MASK,
    NOW,
    USERS,
    build,
    connect_as,
    email,
    labels,
    python_rights,
)

Denied = psycopg.errors.InsufficientPrivilege  # also "violates row-level security policy"


@pytest.fixture(scope="module")
def template(postgres_server):
    """The catalog of pg_catalog.py, built once; each test gets a copy of it."""
    with database(postgres_server) as url:
        build(url)
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def db(postgres_server, template):
    with database(postgres_server, template) as url:
        yield url


def column(con, sql, params=()):
    return sorted(row[0] for row in con.execute(sql, params).fetchall())


# -- rights: the SQL functions agree with circus_nb.domain.privileges -------------------


@pytest.mark.parametrize("user", USERS)
def test_rights_functions_mirror_the_python_rules(db, user):
    rights = python_rights(user)
    with connect_as(db, user) as con:
        got = con.execute("SELECT circus_email(), circus_privileges(), circus_domains(),"
                          " circus_project_roles('p1'), circus_project_roles('p2'),"
                          " circus_readable_projects()").fetchone()
    readable = ["p1", "p2"] if rights.is_admin else sorted(
        p for p, roles in rights.project_roles.items() if "read" in roles)
    assert got == (email(user), sorted(rights.global_privileges), sorted(rights.domains),
                   sorted(rights.roles("p1")), sorted(rights.roles("p2")), readable)


def test_the_package_load_rights_query_gives_the_same_rights(db):
    """accounts.load_rights runs as a user role and finds the user's own groups."""
    with connect_as(db, "adder") as con:
        rows = con.execute("""SELECT g.name, g.privileges, g.domains FROM groups g
                              JOIN group_members m ON m.group_name = g.name
                              WHERE m.email = %s ORDER BY g.name""",
                           [email("adder")]).fetchall()
        roles = con.execute("SELECT project_id, roles FROM project_roles WHERE group_name"
                            " = 'adders'").fetchall()
    assert [r[0] for r in rows] == ["adders", "b"]
    assert roles == [("p1", ["read", "write", "addSeries"])]


def test_nobody_can_ask_for_another_users_rights(db):
    with connect_as(db, "reader") as con:
        other = role_name(email("admin"))
        assert con.execute("SELECT circus_email(%s), circus_domains(%s), circus_is_admin(%s)",
                           [other, other, other]).fetchone() == (None, [], False)


def test_set_role_from_a_superuser_session_acts_as_that_role(db):
    with psycopg.connect(db) as con:
        con.execute(f"SET ROLE {role_name(email('reader'))}")
        assert con.execute("SELECT circus_email()").fetchone()[0] == email("reader")
        assert column(con, "SELECT case_id FROM cases") == ["c1", "c3"]


# -- reading ---------------------------------------------------------------------------


def test_a_reader_sees_its_projects_cases_revisions_only(db):
    with connect_as(db, "reader") as con:
        assert column(con, "SELECT project_id FROM projects") == ["p1"]
        # the api shows every case of a readable project (the case's domains are not
        # checked on read); case_domains=True hides c3 too, see the next test
        assert column(con, "SELECT case_id FROM cases") == ["c1", "c3"]
        assert column(con, "SELECT case_id FROM revisions") == ["c1", "c3"]
        assert column(con, "SELECT case_id FROM revision_series") == ["c1", "c3"]
        assert con.execute("SELECT count(*) FROM cases WHERE case_id = 'c2'").fetchone() == (0,)
        assert column(con, "SELECT hash FROM blobs") == [BLOB_1]


def test_case_domains_hides_cases_outside_the_users_domains(postgres_database):
    build(postgres_database, case_domains=True)
    with connect_as(postgres_database, "reader") as con:
        assert column(con, "SELECT case_id FROM cases") == ["c1"]
        assert column(con, "SELECT case_id FROM revisions") == ["c1"]
    with connect_as(postgres_database, "adder") as con:  # holds hospital-b
        assert column(con, "SELECT case_id FROM cases") == ["c1", "c3"]


def test_series_are_those_of_the_users_domains_with_patient_columns_masked(db):
    with connect_as(db, "reader") as con:
        rows = con.execute("SELECT * FROM series").fetchall()
        names = [d.name for d in con.execute("SELECT * FROM series").description]
        assert [r[0] for r in rows] == ["s-a"]
        row = dict(zip(names, rows[0], strict=True))
        for patient_column in ("patient_id", "patient_name", "birth_date", "age", "sex",
                               "patient_size", "patient_weight"):
            assert row[patient_column] is None, patient_column
        assert row["modality"] == "CT" and row["domain"] == "default"
        # the case search's join reads the same masked view
        assert con.execute("SELECT s.patient_name FROM cases c LEFT JOIN series s"
                           " ON s.series_uid = c.first_series_uid WHERE c.case_id = 'c1'"
                           ).fetchone() == (None,)
        # a filter on a masked column finds nothing: no way to probe for a name
        assert con.execute("SELECT count(*) FROM series WHERE strpos(lower(patient_name),"
                           " lower('doe')) > 0").fetchone() == (0,)
        assert column(con, "SELECT series_uid FROM instances") == ["s-a", "s-a"]
        assert column(con, "SELECT series_uid FROM thumbnails") == ["s-a"]


def test_the_real_series_table_is_not_readable_by_a_user_role(db):
    with connect_as(db, "reader") as con, pytest.raises(Denied):
        con.execute("SELECT patient_name FROM public.series")
    with connect_as(db, "reader") as con:
        con.execute("SET search_path = public")  # no way round the view
        with pytest.raises(Denied):
            con.execute("SELECT * FROM series")


def test_personal_info_view_unmasks_patient_columns_of_its_domains(db):
    with connect_as(db, "writer") as con:
        assert con.execute("SELECT series_uid, patient_name, age FROM series").fetchall() == [
            ("s-a", "DOE^JANE", 64)]


def test_an_administrator_reads_everything_its_domains_allow(db):
    with connect_as(db, "admin") as con:
        assert column(con, "SELECT project_id FROM projects") == ["p1", "p2"]
        assert column(con, "SELECT case_id FROM cases") == ["c1", "c2", "c3"]
        assert column(con, "SELECT email FROM users") == sorted(email(u) for u in USERS)
        # manageServer gives every role, not domains: admins is default, b hospital-b
        assert column(con, "SELECT series_uid FROM series") == ["s-a", "s-b"]
        assert con.execute("SELECT patient_name FROM series").fetchone() == (None,)
    with connect_as(db, "nobody") as con:
        assert column(con, "SELECT project_id FROM projects") == []
        assert column(con, "SELECT case_id FROM cases") == []
        assert column(con, "SELECT series_uid FROM series") == ["s-a"]


def test_accounts_show_only_the_users_own_rows(db):
    with connect_as(db, "reader") as con:
        assert column(con, "SELECT email FROM users") == [email("reader")]
        assert column(con, "SELECT name FROM groups") == ["readers"]
        assert column(con, "SELECT email FROM group_members") == [email("reader")]
        assert column(con, "SELECT email FROM preferences") == []
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 4
        with pytest.raises(Denied):
            con.execute("SELECT * FROM user_roles")


# -- writing ---------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["writer", "admin"])
@pytest.mark.parametrize("statement", [
    "UPDATE revisions SET description = 'x'",
    "DELETE FROM revisions",
    "UPDATE revision_series SET labels = '[]'",
    "DELETE FROM revision_series",
    "DELETE FROM cases",
    "DELETE FROM blobs",
    "UPDATE blobs SET data = ''",
])
def test_revisions_are_append_only_even_for_writers(db, user, statement):
    with connect_as(db, user) as con, pytest.raises(Denied):
        con.execute(statement)


def _append(con, user: str, case: str, index: int, uid: str, blob: str | None = None,
            previous_date=NOW):
    """What cases.append_revision does, in its SQL."""
    con.execute("INSERT INTO revisions VALUES (%s, %s, %s, %s, 'saved', 'draft', '{}', %s, %s)",
                [case, index, email(user), NOW, previous_date, uid])
    con.execute("INSERT INTO revision_series VALUES (%s, %s, 0, %s, 1, 2, 1, %s)",
                [case, index, uid, labels(blob) if blob else "[]"])
    return con.execute("UPDATE cases SET latest = %s, status = 'draft', description = 'saved',"
                       " first_series_uid = %s, updated_at = now() WHERE case_id = %s",
                       [index, uid, case]).rowcount


def test_a_writer_appends_a_revision_and_moves_the_head(db):
    with connect_as(db, "writer") as con:
        assert _append(con, "writer", "c1", 1, "s-a") == 1
        con.execute("UPDATE cases SET tags = %s, updated_at = now() WHERE case_id = 'c1'",
                    [["t", "new"]])
        con.commit()
    with connect_as(db, "reader") as con:
        assert con.execute("SELECT latest, tags FROM cases WHERE case_id = 'c1'").fetchone() == (
            1, ["t", "new"])
        assert column(con, "SELECT idx FROM revisions WHERE case_id = 'c1'") == [0, 1]


@pytest.mark.parametrize("previous_date", [None, NOW - timedelta(seconds=1)])
def test_a_revision_names_the_date_of_the_one_it_follows(db, previous_date):
    """The search finds a case's revision at a past time by previous_date: a writer's
    own SQL cannot make it lie."""
    with connect_as(db, "writer") as con, pytest.raises(Denied):
        _append(con, "writer", "c1", 1, "s-a", previous_date=previous_date)


def test_a_reader_cannot_write_a_case(db):
    with connect_as(db, "reader") as con:
        with pytest.raises(Denied):
            _append(con, "reader", "c1", 1, "s-a")
        con.rollback()
        # an UPDATE its policy refuses changes no row (rather than failing)
        assert con.execute("UPDATE cases SET tags = '{}' WHERE case_id = 'c1'").rowcount == 0
        with pytest.raises(Denied):
            con.execute("INSERT INTO cases VALUES ('c9', 'p1', '{}', '{default}', 0, 'draft',"
                        " '', 's-a', now(), now())")


def test_a_revision_names_its_real_creator_and_a_readable_case(db):
    with connect_as(db, "writer") as con:
        with pytest.raises(Denied):
            _append(con, "reader", "c1", 1, "s-a")  # creator: someone else
        con.rollback()
        with pytest.raises(Denied):
            _append(con, "writer", "c2", 1, "s-a")  # a case of p2
        con.rollback()
        with pytest.raises(Denied):
            con.execute("UPDATE cases SET project_id = 'p2' WHERE case_id = 'c1'")


def test_adding_a_series_to_a_case_needs_add_series_and_its_domain(db):
    with connect_as(db, "writer") as con, pytest.raises(Denied):
        _append(con, "writer", "c1", 1, "s-b")  # new series, no addSeries
    with connect_as(db, "adder") as con:
        assert _append(con, "adder", "c1", 1, "s-b") == 1  # addSeries + hospital-b


def test_a_writer_creates_a_case_of_its_domains(db):
    with connect_as(db, "writer") as con:
        con.execute("INSERT INTO cases VALUES ('c9', 'p1', '{}', '{default}', 0, 'draft', '',"
                    " 's-a', now(), now())")
        _append(con, "writer", "c9", 0, "s-a", previous_date=None)
        con.commit()
        with pytest.raises(Denied):  # a domain the writer does not hold
            con.execute("INSERT INTO cases VALUES ('c8', 'p1', '{}', '{hospital-b}', 0, 'draft',"
                        " '', 's-b', now(), now())")


def test_blobs_are_stored_by_writers_under_their_true_hash(db):
    data = b"new mask"
    digest = hashlib.sha256(data).hexdigest()
    with connect_as(db, "writer") as con:
        with pytest.raises(Denied):
            con.execute("INSERT INTO blobs VALUES (%s, %s)", [digest, b"other bytes"])
        con.rollback()
        con.execute("INSERT INTO blobs VALUES (%s, %s)", [digest, data])
        # a mask another project stored is invisible, yet saving the same one works
        assert column(con, "SELECT hash FROM blobs WHERE hash = %s", [BLOB_2]) == []
        con.execute("INSERT INTO blobs VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [BLOB_2, b"other"])
        _append(con, "writer", "c1", 1, "s-a", blob=digest)
        assert column(con, "SELECT hash FROM blobs") == sorted([BLOB_1, digest])
    with connect_as(db, "reader") as con, pytest.raises(Denied):
        con.execute("INSERT INTO blobs VALUES (%s, %s)", [BLOB_1[:-1] + "0", MASK])


def test_importing_writes_series_of_the_users_domains_only(db):
    """What store/series.py does on import, through the view."""
    with psycopg.connect(db) as owner:
        columns = [d.name for d in owner.execute("SELECT * FROM series LIMIT 0").description]
    values = dict.fromkeys(columns)
    values.update(series_uid="s-new", domain="default", images="", image_count=0,
                  patient_name="NEW^PATIENT", parameters="{}", created_at=NOW, updated_at=NOW)
    insert = (f"INSERT INTO series ({', '.join(columns)})"
              f" VALUES ({', '.join(['%s'] * len(columns))})")
    with connect_as(db, "reader") as con:
        con.execute(insert, list(values.values()))
        con.execute("INSERT INTO instances (series_uid, instance_number, path, managed, size,"
                    " mtime, imported_at) VALUES ('s-new', 1, 'x.dcm', true, 1, 0, now())")
        assert con.execute("UPDATE series SET images = '1', image_count = 1, updated_at = now()"
                           " WHERE series_uid = 's-new'").rowcount == 1
        con.execute("INSERT INTO thumbnails VALUES ('s-new', 1, 96, 1, 1, '\\x00')"
                    " ON CONFLICT (series_uid, instance_number, size) DO UPDATE"
                    " SET pixels = excluded.pixels")
        con.execute("INSERT INTO thumbnails VALUES ('s-new', 1, 96, 1, 1, '\\x01')"
                    " ON CONFLICT (series_uid, instance_number, size) DO UPDATE"
                    " SET pixels = excluded.pixels")
        con.commit()
        assert con.execute("SELECT image_count, patient_name FROM series"
                           " WHERE series_uid = 's-new'").fetchone() == (1, None)
        for refused in ("UPDATE series SET patient_name = 'X'",
                        "UPDATE series SET domain = 'hospital-b'",
                        "UPDATE series SET modality = 'MR'"):
            with pytest.raises((Denied, psycopg.errors.FeatureNotSupported)):
                con.execute(refused)  # (patient_name: a computed column of the view)
            con.rollback()
        values.update(series_uid="s-other", domain="hospital-b")
        with pytest.raises(Denied):
            con.execute(insert, list(values.values()))
        con.rollback()
        with pytest.raises(Denied):  # instances and thumbnails of series it cannot see
            con.execute("INSERT INTO instances (series_uid, instance_number, path, managed,"
                        " size, mtime, imported_at) VALUES ('s-b', 9, 'y', true, 1, 0, now())")
        con.rollback()
        with pytest.raises(Denied):
            con.execute("INSERT INTO thumbnails VALUES ('s-b', 2, 96, 1, 1, '\\x00')")
    with psycopg.connect(db) as owner:  # the patient name went in, unmasked, as given
        assert owner.execute("SELECT patient_name, images FROM series WHERE series_uid ="
                             " 's-new'").fetchone() == ("NEW^PATIENT", "1")


def test_preferences_are_the_users_own(db):
    with connect_as(db, "reader") as con:
        upsert = ("INSERT INTO preferences VALUES (%s, 'k', '1') ON CONFLICT (email, key)"
                  " DO UPDATE SET value = excluded.value")
        con.execute(upsert, [email("reader")])
        con.execute(upsert, [email("reader")])
        assert column(con, "SELECT email FROM preferences") == [email("reader")]
        with pytest.raises(Denied):
            con.execute(upsert, [email("writer")])


def test_only_administrators_change_accounts_and_projects(db):
    with connect_as(db, "reader") as con:
        with pytest.raises(Denied):
            con.execute("INSERT INTO groups VALUES ('mine', '{manageServer}', '{}', now())")
        con.rollback()
        assert con.execute("UPDATE projects SET name = 'x'").rowcount == 0
        assert con.execute("DELETE FROM group_members").rowcount == 0
        with pytest.raises(Denied):
            con.execute("CREATE TABLE public.mine (x int)")
    with connect_as(db, "admin") as con:
        con.execute("INSERT INTO group_members VALUES ('admins', %s)", [email("reader")])
        con.commit()
    with connect_as(db, "reader") as con:
        assert con.execute("SELECT circus_is_admin()").fetchone() == (True,)


def test_deleting_a_case_goes_through_the_moderate_check(db):
    with connect_as(db, "writer") as con, pytest.raises(Denied, match="moderate"):
        con.execute("SELECT circus_delete_case('c1')")
    with connect_as(db, "mod") as con:
        with pytest.raises(psycopg.errors.NoDataFound):
            con.execute("SELECT circus_delete_case('c2')")  # not readable: as if absent
        con.rollback()
        con.execute("SELECT circus_delete_case('c1')")
        con.commit()
    with psycopg.connect(db) as owner:
        assert owner.execute("SELECT (SELECT count(*) FROM cases WHERE case_id = 'c1'),"
                             " (SELECT count(*) FROM revisions WHERE case_id = 'c1')"
                             ).fetchone() == (0, 0)


# -- roles and setup -------------------------------------------------------------------


def test_role_names_are_valid_deterministic_and_distinct():
    names = {role_name(e) for e in ("a@x.org", "A@x.org", "a.x@org", "ä@x.org",
                                    "a" * 200 + "@x.org")}
    assert len(names) == 5
    assert all(len(n) <= 63 and n.isascii() and n.startswith("circus_") for n in names)
    assert role_name("a@x.org") == role_name("a@x.org")


def test_security_statements_can_run_again(db):
    with psycopg.connect(db) as con:
        for statement in (*security_statements(), *user_role_statements(email("reader"))):
            con.execute(statement)
    with connect_as(db, "reader") as con:
        assert column(con, "SELECT case_id FROM cases") == ["c1", "c3"]


def test_a_password_is_set_hashed_and_quoted(db):
    role = role_name(email("reader"))
    with psycopg.connect(db) as con:
        con.execute(set_password_statement(role, "it's a \\ secret", connection=con))
        stored = con.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                             [role]).fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$") and "secret" not in stored
        con.execute(set_password_statement(role, "plain 'quoted'"))  # hashed by the server
        con.execute(f"ALTER ROLE {role} PASSWORD NULL")


def test_user_roles_are_members_of_the_group_role_and_nothing_more(db):
    with psycopg.connect(db) as con:
        row = con.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,"
                          " rolcanlogin, pg_has_role(oid, 'circus_users', 'MEMBER')"
                          " FROM pg_roles WHERE rolname = %s",
                          [role_name(email("reader"))]).fetchone()
    assert row == (False, False, False, False, True, True)


def test_every_project_role_is_known_to_the_functions(db):
    with connect_as(db, "admin") as con:
        assert con.execute("SELECT circus_project_roles('any')").fetchone()[0] == sorted(
            PROJECT_ROLES)
