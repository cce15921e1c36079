"""Names and quoting shared by the security statements (no psycopg needed)."""

from __future__ import annotations

USERS_ROLE = "circus_users"  # the group role every user role is a member of
VIEW_SCHEMA = "circus_masked"  # where user roles find the masked views first

# The columns of ``series`` a user without personalInfoView reads as NULL
# (the api's PATIENT_FIELDS).
PATIENT_COLUMNS = ("patient_id", "patient_name", "birth_date", "age", "sex", "patient_size",
                   "patient_weight")


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier.

    >>> identifier('odd"name')
    '"odd""name"'
    """
    if "\0" in name:
        raise ValueError("An SQL identifier cannot hold a NUL character.")
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as an SQL string literal, whatever ``standard_conforming_strings`` is.

    >>> literal("o'hara"), literal("back\\\\slash")
    ("'o''hara'", "E'back\\\\\\\\slash'")
    """
    if "\0" in text:
        raise ValueError("An SQL string cannot hold a NUL character.")
    quoted = text.replace("'", "''")
    if "\\" in quoted:  # E'' reads backslashes the same way in every server setting
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


def text_array(values: tuple[str, ...]) -> str:
    """A ``VARCHAR[]`` literal, e.g. ``ARRAY['a', 'b']::VARCHAR[]``."""
    return f"ARRAY[{', '.join(literal(v) for v in values)}]::VARCHAR[]"
