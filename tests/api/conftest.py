"""The api tests run on both backends: the embedded DuckDB store and PostgreSQL.

``store`` (and every fixture built on it) is parametrized; ``postgresql`` stores are made
in a fresh database of the session's throw-away server, their files in ``tmp_path``.
"""

from __future__ import annotations

import pytest

import circus_nb as cnb


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request, tmp_path):
    """A new store opened as its admin, on each backend."""
    if request.param == "duckdb":
        with cnb.Store.create(tmp_path / "store") as s:
            yield s
        return
    url = request.getfixturevalue("postgres_database")
    with cnb.Store.create(url, data_dir=tmp_path / "store") as s:
        yield s
