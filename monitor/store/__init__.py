"""The SQLite store: schema and migrations (schema.py), reads and writes (db.py)."""

from monitor.store.db import Saved, Store

__all__ = ["Saved", "Store"]
