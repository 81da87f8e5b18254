"""Write transactions that never fail with "database is locked" under normal load."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taking the write lock at ``BEGIN``.

    A plain ``BEGIN`` takes the lock at the first write, and if another process
    wrote in between SQLite fails at once with "database is locked" instead of
    waiting (the busy timeout cannot help a transaction that already read).
    ``BEGIN IMMEDIATE`` waits for the lock up front, within the busy timeout.
    The connection must be in autocommit mode (``isolation_level=None``).

    Inside an open transaction (``Store.batch``) this is a savepoint instead,
    so the inner work still rolls back alone when it fails.
    """
    nested = conn.in_transaction
    conn.execute("SAVEPOINT monitor_write" if nested else "BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # some errors have rolled back already
            conn.execute("ROLLBACK TO monitor_write" if nested else "ROLLBACK")
            if nested:
                conn.execute("RELEASE monitor_write")
        raise
    conn.execute("RELEASE monitor_write" if nested else "COMMIT")
