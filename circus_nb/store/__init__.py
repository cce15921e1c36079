"""The DuckDB-backed store. All DuckDB-specific SQL lives in this package."""

from .store import Store

__all__ = ["Store"]
