"""Source health for people: one row per configured source, for `monitor sources`.

Pure: the store's rows and the config in, dicts in the shape
``--format json`` prints out. "Next run" is the later of the source's
schedule (last fetch + interval) and its backoff or Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from monitor.config import SourceConfig
from monitor.timeutil import isoformat

COLUMNS = (
    "name",
    "type",
    "last_fetch_at",
    "status",
    "new_items",
    "failures",
    "next_run_at",
    "last_error",
)


def rows(
    sources: Iterable[SourceConfig], stored: Mapping[str, Mapping[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Each configured source with how its fetches have gone (never fetched: empty fields)."""
    result = []
    for source in sources:
        row = stored.get(source.name, {})
        last = row.get("last_fetch_at")
        due = datetime.fromisoformat(last) + source.interval if last else now
        backoff = row.get("next_attempt_at")
        if backoff and datetime.fromisoformat(backoff) > due:
            due = datetime.fromisoformat(backoff)
        failures = row.get("consecutive_failures") or 0
        result.append(
            {
                "name": source.name,
                "type": source.type,
                "url": source.url,
                "last_fetch_at": last,
                "status": row.get("last_status"),
                "new_items": row.get("new_items"),
                "failures": failures,
                "failing_since": row.get("failing_since"),
                "last_success_at": row.get("last_success_at"),
                "last_error": row.get("last_error") if failures else None,
                "next_run_at": isoformat(max(due, now)),
            }
        )
    return result


def table_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """One row of the table: times to the minute, errors cut to fit."""

    def short(stamp: str | None) -> str:
        return (stamp or "").replace("T", " ")[:16]

    return {
        "name": row["name"],
        "type": row["type"],
        "last_fetch_at": short(row["last_fetch_at"]) or "never",
        "status": "" if row["status"] is None else str(row["status"]),
        "new_items": "" if row["new_items"] is None else str(row["new_items"]),
        "failures": str(row["failures"]),
        "next_run_at": short(row["next_run_at"]),
        "last_error": (row["last_error"] or "")[:80],
    }
