"""Source health in the database: backoff that survives restarts, stale alerts, the listing.

``record_fetch`` (db.py) keeps the per-fetch facts; this module keeps what
follows from a run of them: when a failing source may be tried again
(``next_attempt_at``: exponential backoff with jitter, or the server's
Retry-After), since when it has been failing, and whether the ops alert for
that has gone out, so there is exactly one alert when it goes stale and one
when it recovers, whatever restarts happen in between.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.store.tx import immediate
from monitor.timeutil import isoformat

if TYPE_CHECKING:
    from monitor.sources.base import FetchResult, SourceState

#: The longest a failing source waits between attempts, whatever its backoff says.
MAX_BACKOFF = timedelta(hours=6)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def load_state(conn: sqlite3.Connection, name: str) -> SourceState:
    from monitor.sources.base import SourceState

    row = conn.execute(
        "SELECT etag, last_modified, consecutive_failures, next_attempt_at FROM sources "
        "WHERE name = ?",
        [name],
    ).fetchone()
    if not row:
        return SourceState()
    return SourceState(row[0], row[1], row[2] or 0, _moment(row[3]))


@dataclass(frozen=True)
class HealthChange:
    """A source crossed ``stale_after`` (``stale``) or came back after that (``recovered``)."""

    kind: str
    source: str
    failing_since: datetime
    error: str


def record_outcome(
    conn: sqlite3.Connection,
    result: FetchResult,
    interval: timedelta,
    stale_after: timedelta,
    now: datetime,
) -> HealthChange | None:
    """Update backoff and staleness after ``record_fetch``; say if an ops alert is due."""
    from monitor.sources.http import backoff_delay

    with immediate(conn):
        row = conn.execute(
            "SELECT consecutive_failures, failing_since, stale_alerted_at, last_error "
            "FROM sources WHERE name = ?",
            [result.source],
        ).fetchone()
        failures, failing_since, alerted, last_error = row or (0, None, None, None)
        since = _moment(failing_since)
        if result.ok:
            conn.execute(
                "UPDATE sources SET next_attempt_at = NULL, failing_since = NULL, "
                "stale_alerted_at = NULL, last_success_at = ? WHERE name = ?",
                [isoformat(now), result.source],
            )
            if alerted and since:
                return HealthChange("recovered", result.source, since, "")
            return None
        since = since or now
        delay = backoff_delay(failures or 1, interval, MAX_BACKOFF)
        next_attempt = now + delay if delay else None
        if result.retry_at and (next_attempt is None or result.retry_at > next_attempt):
            next_attempt = result.retry_at
        stale = not alerted and now - since >= stale_after
        conn.execute(
            "UPDATE sources SET next_attempt_at = ?, failing_since = ?, stale_alerted_at = ? "
            "WHERE name = ?",
            [
                isoformat(next_attempt) if next_attempt else None,
                isoformat(since),
                isoformat(now) if stale else alerted,
                result.source,
            ],
        )
        if stale:
            return HealthChange("stale", result.source, since, last_error or result.error or "")
    return None


def listing(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Every source row by name, for `monitor sources`."""
    rows = conn.execute(
        "SELECT name, url, last_fetch_at, last_status, new_items, consecutive_failures, "
        "last_error, next_attempt_at, failing_since, last_success_at FROM sources"
    ).fetchall()
    keys = (
        "name",
        "url",
        "last_fetch_at",
        "last_status",
        "new_items",
        "consecutive_failures",
        "last_error",
        "next_attempt_at",
        "failing_since",
        "last_success_at",
    )
    return {row[0]: dict(zip(keys, row, strict=True)) for row in rows}
