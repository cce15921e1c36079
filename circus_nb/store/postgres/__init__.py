"""The PostgreSQL side of the store: the catalog schema translated from the DuckDB
migrations (:mod:`.schema`) and server-enforced privileges for user roles
(:mod:`.security`). Nothing here imports psycopg at import time."""
