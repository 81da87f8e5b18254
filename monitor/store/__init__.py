"""The SQLite store: schema and migrations (schema.py), reads and writes (db.py)."""

from monitor.store.db import Store

__all__ = ["Store"]
