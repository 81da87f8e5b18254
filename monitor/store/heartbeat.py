"""The daemon's heartbeat row, and the read-only snapshot `monitor status` is built from.

The running daemon keeps one row (id 1) in the ``heartbeat`` table up to date:
when it started, when it last beat, when its last poll finished and what it
has loaded. Anyone who can read the database can then tell whether a daemon is
alive, without signals, PID files or a socket, and from another host on shared
storage too.

The writers take the store's connection; each is one statement, so each is
atomic in autocommit mode and committed by ``with conn`` otherwise.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import __version__
from monitor.errors import StoreError
from monitor.timeutil import isoformat, utcnow


@dataclass(frozen=True)
class Beat:
    """What the heartbeat row says about the last daemon to run on this database."""

    pid: int
    host: str
    version: str
    config: str
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None
    interval: timedelta
    sources: int
    rules: int
    last_cycle_at: datetime | None


@dataclass(frozen=True)
class SourceRow:
    """One source's last fetch, as recorded by ``Store.record_fetch``."""

    name: str
    last_fetch_at: datetime | None
    last_error: str | None
    consecutive_failures: int


@dataclass(frozen=True)
class Outbox:
    """Deliveries by state; ``oldest_pending_at`` tells a stuck outbox from a busy one."""

    pending: int = 0
    failed: int = 0
    failed_recently: int = 0
    oldest_pending_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything `monitor status` and ``/healthz`` judge, read in one transaction."""

    beat: Beat | None
    sources: dict[str, SourceRow]
    outbox: Outbox


def _moment(text: str | None) -> datetime | None:
    """A stored timestamp; one written by hand without an offset is taken as UTC."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_start(
    conn: sqlite3.Connection, config: Path, sources: int, rules: int, interval: float
) -> None:
    """Claim the heartbeat row for this process (the lock file makes it the only one)."""
    now = isoformat(utcnow())
    with conn:
        conn.execute(
            """
            INSERT OR REPLACE INTO heartbeat (id, pid, host, version, config, started_at,
                beat_at, stopped_at, interval_seconds, sources, rules, last_cycle_at)
            VALUES (1, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?,
                    (SELECT last_cycle_at FROM heartbeat WHERE id = 1))
            """,
            [
                os.getpid(),
                socket.gethostname(),
                __version__,
                str(config),
                now,
                now,
                interval,
                sources,
                rules,
            ],
        )


def beat(conn: sqlite3.Connection, *, cycle: bool = False) -> None:
    """Say "still alive"; ``cycle`` also records that a poll has just finished."""
    now = isoformat(utcnow())
    with conn:
        conn.execute(
            "UPDATE heartbeat SET beat_at = :now, "
            "last_cycle_at = CASE WHEN :cycle THEN :now ELSE last_cycle_at END WHERE id = 1",
            {"now": now, "cycle": cycle},
        )


def record_loaded(conn: sqlite3.Connection, sources: int, rules: int) -> None:
    """After a reload: what the daemon is running with now."""
    with conn:
        conn.execute("UPDATE heartbeat SET sources = ?, rules = ? WHERE id = 1", [sources, rules])


def record_stop(conn: sqlite3.Connection) -> None:
    """A clean exit: `monitor status` reports "stopped" at once instead of waiting."""
    now = isoformat(utcnow())
    with conn:
        conn.execute(
            "UPDATE heartbeat SET stopped_at = ?, beat_at = ? WHERE id = 1 AND pid = ?",
            [now, now, os.getpid()],
        )


def last_fetches(conn: sqlite3.Connection) -> dict[str, datetime]:
    """When each source was last fetched, to schedule the first poll after a restart."""
    rows = conn.execute(
        "SELECT name, last_fetch_at FROM sources WHERE last_fetch_at IS NOT NULL"
    ).fetchall()
    return {name: moment for name, at in rows if (moment := _moment(at))}


def outbox_pending(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()
    return int(row[0])


def read_snapshot(database: Path, recent: timedelta = timedelta(hours=24)) -> Snapshot | None:
    """Read the snapshot without writing, creating or upgrading anything.

    Returns None when there is no database yet. A database from before the
    heartbeat existed reads as "no daemon has run here".
    """
    if not database.exists():
        return None
    # Even a read-only connection creates -wal and -shm files when they are missing, and
    # left behind owned by root (`sudo monitor status`) they would lock the service's own
    # user out. No -wal file means no daemon has the database open: read it as immutable,
    # which touches nothing. With one, the files exist already and are only read.
    wal = database.with_name(database.name + "-wal")
    query = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{database.resolve().as_uri()}?{query}", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {str(database)!r}: {exc}") from exc
    try:
        with conn:  # one read transaction: a consistent picture
            conn.execute("BEGIN")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            beat_row = None
            if "heartbeat" in tables:
                beat_row = conn.execute(
                    "SELECT pid, host, version, config, started_at, beat_at, stopped_at, "
                    "interval_seconds, sources, rules, last_cycle_at FROM heartbeat WHERE id = 1"
                ).fetchone()
            sources: dict[str, SourceRow] = {}
            if "sources" in tables:
                for name, at, error, failures in conn.execute(
                    "SELECT name, last_fetch_at, last_error, consecutive_failures FROM sources"
                ):
                    sources[name] = SourceRow(name, _moment(at), error, int(failures or 0))
            outbox = Outbox()
            if "deliveries" in tables:
                since = isoformat(utcnow() - recent)
                pending, failed, failed_recently, oldest = conn.execute(
                    """
                    SELECT count(*) FILTER (WHERE status = 'pending'),
                           count(*) FILTER (WHERE status = 'failed'),
                           count(*) FILTER (WHERE status = 'failed' AND updated_at >= ?),
                           min(created_at) FILTER (WHERE status = 'pending')
                    FROM deliveries
                    """,
                    [since],
                ).fetchone()
                outbox = Outbox(pending, failed, failed_recently, _moment(oldest))
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot read database {str(database)!r}: {exc}",
            hint="run `monitor status` as a user who can read the database (often with sudo)",
        ) from exc
    finally:
        conn.close()
    beat_value = None
    if beat_row is not None:
        started_at, beat_at = _moment(beat_row[4]), _moment(beat_row[5])
        assert started_at is not None and beat_at is not None  # NOT NULL in the schema
        beat_value = Beat(
            pid=beat_row[0],
            host=beat_row[1],
            version=beat_row[2],
            config=beat_row[3],
            started_at=started_at,
            beat_at=beat_at,
            stopped_at=_moment(beat_row[6]),
            interval=timedelta(seconds=beat_row[7]),
            sources=beat_row[8],
            rules=beat_row[9],
            last_cycle_at=_moment(beat_row[10]),
        )
    return Snapshot(beat_value, sources, outbox)
