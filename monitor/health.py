"""Is the daemon healthy? One judgement, shared by `monitor status` and ``/healthz``.

The judgement is made from the database alone (see store/heartbeat.py), so it
works from any shell that can read the database, whether or not the daemon
answers:

- **down** (exit 2): no daemon has run here, it stopped, or its heartbeat is
  older than ``STALE_BEATS`` beats (it crashed or hangs);
- **degraded** (exit 1): running, but some source's last fetch failed, an
  alert failed for good in the last 24 hours, or an alert has waited in the
  outbox longer than ``OUTBOX_STUCK``;
- **ok** (exit 0): running, and none of the above.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from monitor.config import Settings, SourceConfig
from monitor.errors import StoreError
from monitor.store.heartbeat import Beat, Outbox, Snapshot, SourceRow, read_snapshot
from monitor.timeutil import isoformat, utcnow

#: A heartbeat this many beats old means the daemon is gone or stuck.
STALE_BEATS = 3
#: A pending alert older than this means deliveries are not getting through.
OUTBOX_STUCK = timedelta(minutes=30)


class State(IntEnum):
    """The three answers, valued as `monitor status` exit codes."""

    OK = 0
    DEGRADED = 1
    DOWN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class SourceHealth:
    name: str
    state: str  # ok | failing | pending (not fetched yet)
    last_fetch_at: datetime | None = None
    failures: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Health:
    """The verdict, the reasons for it, and the facts behind them."""

    state: State
    reasons: tuple[str, ...]
    running: bool
    database: str
    config: str
    beat: Beat | None = None
    sources: tuple[SourceHealth, ...] = ()
    outbox: Outbox = field(default_factory=Outbox)
    checked_at: datetime = field(default_factory=utcnow)

    @property
    def uptime(self) -> timedelta | None:
        if not self.running or self.beat is None:
            return None
        return self.checked_at - self.beat.started_at

    def to_dict(self) -> dict[str, Any]:
        """The shape of `monitor status --json` and of ``/healthz``."""
        beat = self.beat
        uptime = self.uptime
        return {
            "status": self.state.label,
            "reasons": list(self.reasons),
            "running": self.running,
            "pid": beat.pid if beat else None,
            "host": beat.host if beat else None,
            "version": beat.version if beat else None,
            "config": self.config,
            "database": self.database,
            "started_at": _iso(beat.started_at) if beat else None,
            "uptime_seconds": int(uptime.total_seconds()) if uptime is not None else None,
            "heartbeat_at": _iso(beat.beat_at) if beat else None,
            "stopped_at": _iso(beat.stopped_at) if beat else None,
            "last_cycle_at": _iso(beat.last_cycle_at) if beat else None,
            "rules": beat.rules if beat else None,
            "sources": [
                {
                    "name": s.name,
                    "state": s.state,
                    "last_fetch_at": _iso(s.last_fetch_at),
                    "failures": s.failures,
                    "error": s.error,
                }
                for s in self.sources
            ],
            "outbox": {"pending": self.outbox.pending, "failed": self.outbox.failed},
        }


def _iso(moment: datetime | None) -> str | None:
    return isoformat(moment) if moment else None


def _process_gone(beat: Beat) -> bool:
    """True only when the heartbeat's process surely no longer exists (same host, no PID)."""
    if beat.host != socket.gethostname():
        return False
    try:
        os.kill(beat.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, under another user (the service's)
        return False
    return False


def check(settings: Settings) -> Health:
    """Read the database and judge; a database that cannot be read counts as down."""
    try:
        snapshot = read_snapshot(settings.database)
    except StoreError as error:
        return Health(
            State.DOWN, (error.message,), False, str(settings.database), str(settings.path)
        )
    return assess(settings, snapshot)


def assess(settings: Settings, snapshot: Snapshot | None, now: datetime | None = None) -> Health:
    """Judge ``snapshot`` (None: no database) against the sources ``settings`` configures."""
    now = now or utcnow()
    database, config = str(settings.database), str(settings.path)
    if snapshot is None:
        missing = f"no database at {database}: the daemon has never run with this config"
        return Health(State.DOWN, (missing,), False, database, config, checked_at=now)
    beat = snapshot.beat
    sources = _sources(settings.sources, snapshot.sources)
    down = _down_reason(beat, now)
    if down:
        return Health(
            State.DOWN, (down,), False, database, config, beat, sources, snapshot.outbox, now
        )
    reasons = [
        f"source {s.name} failing ({s.failures} in a row): {s.error}"
        for s in sources
        if s.state == "failing"
    ]
    outbox = snapshot.outbox
    if outbox.failed_recently:
        reasons.append(f"{outbox.failed_recently} alert(s) failed for good in the last 24h")
    if outbox.oldest_pending_at and now - outbox.oldest_pending_at > OUTBOX_STUCK:
        waited = _span(now - outbox.oldest_pending_at)
        reasons.append(f"an alert has waited {waited} in the outbox")
    state = State.DEGRADED if reasons else State.OK
    return Health(state, tuple(reasons), True, database, config, beat, sources, outbox, now)


def _down_reason(beat: Beat | None, now: datetime) -> str:
    if beat is None:
        return "no daemon has run on this database"
    if beat.stopped_at is not None:
        return f"stopped at {isoformat(beat.stopped_at)}"
    age = now - beat.beat_at
    if age > beat.interval * STALE_BEATS:
        return f"no heartbeat for {_span(age)} (pid {beat.pid} on {beat.host} crashed or hangs)"
    if _process_gone(beat):
        return f"pid {beat.pid} is gone without stopping cleanly (crashed or killed)"
    return ""


def _sources(
    configured: Sequence[SourceConfig], rows: dict[str, SourceRow]
) -> tuple[SourceHealth, ...]:
    result = []
    for source in configured:
        row = rows.get(source.name)
        if row is None or row.last_fetch_at is None:
            result.append(SourceHealth(source.name, "pending"))
        elif row.consecutive_failures > 0:
            result.append(
                SourceHealth(
                    source.name,
                    "failing",
                    row.last_fetch_at,
                    row.consecutive_failures,
                    row.last_error,
                )
            )
        else:
            result.append(SourceHealth(source.name, "ok", row.last_fetch_at))
    return tuple(result)


def _span(delta: timedelta) -> str:
    """``3d 4h``, ``2h 05m``, ``4m 10s``, ``12s``: short and exact enough."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def render(health: Health) -> list[str]:
    """`monitor status` for people: one fact per line, the verdict last."""
    beat = health.beat
    now = health.checked_at
    lines = []
    if health.running and beat is not None:
        lines.append(
            f"daemon:     running, pid {beat.pid} on {beat.host}, "
            f"up {_span(now - beat.started_at)} (monitor {beat.version})"
        )
    else:
        lines.append("daemon:     not running")
    lines.append(f"config:     {health.config}")
    lines.append(f"database:   {health.database}")
    if beat is not None:
        last = beat.last_cycle_at
        lines.append(
            "last cycle: " + (f"{_clock(last)} ({_span(now - last)} ago)" if last else "none yet")
        )
        lines.append(f"rules:      {beat.rules} loaded")
    counts = {
        state: sum(1 for s in health.sources if s.state == state)
        for state in ("ok", "failing", "pending")
    }
    lines.append(
        f"sources:    {counts['ok']} ok, {counts['failing']} failing"
        + (f", {counts['pending']} not fetched yet" if counts["pending"] else "")
    )
    for source in health.sources:
        if source.state == "failing":
            lines.append(f"  {source.name}: {source.failures} failure(s): {source.error}")
    lines.append(f"outbox:     {health.outbox.pending} pending, {health.outbox.failed} failed")
    verdict = health.state.label
    if health.reasons:
        verdict += ": " + "; ".join(health.reasons)
    lines.append(f"status:     {verdict}")
    return lines


def _clock(moment: datetime) -> str:
    return isoformat(moment).replace("T", " ").removesuffix("+00:00") + " UTC"
