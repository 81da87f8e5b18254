"""Durations ("10m", "1d") and UTC timestamps, written one way everywhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``30s``, ``10m``, ``1h``, ``1d`` or ``2w`` into a timedelta.

    Raises ValueError with a message that shows the accepted forms.
    """
    found = _DURATION.match(text)
    if not found:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit, like 30s, 10m, 1h or 1d"
        )
    return timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2)])


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``-free ``+00:00`` offset, to the second.

    Stored timestamps are all written by this one function, so they sort and
    compare correctly as text in SQLite. A naive datetime is taken to be UTC
    already (as ``parse_since`` does), not the machine's local time, so the
    stored value does not depend on the server's time zone.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A ``--since`` value: a duration back from now (``24h``) or a date (``2026-11-01``)."""
    now = now or utcnow()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (24h, 7d) nor a date (2026-11-01)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
