"""The DuckDB catalog: connection, schema migrations and the SQL of every table.

All DuckDB-specific code lives in this package, so another backend can replace it.
It checks no privileges: :mod:`circus_nb.api` does, then calls in here.
"""

from .catalog import Catalog

__all__ = ["Catalog"]
