"""`monitor stats`: hits per rule per day, top sources, delivery success, noisiest rules.

Read from the per-day count tables that triggers keep (schema migration 4),
so the cost depends on days x rules, never on how many hits are stored.
Days are UTC dates.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

TOP_SOURCES = 10
NOISIEST_RULES = 5
#: Delivery status -> how stats count it. Held (digest, quiet hours) and
#: sending are not finished yet; skipped ones (backfill) were never meant to go.
_STATES = {
    "sent": "sent",
    "failed": "failed",
    "pending": "pending",
    "held": "pending",
    "sending": "pending",
}


@dataclass(frozen=True)
class RuleActivity:
    """One rule's hits in the window, ``per_day`` aligned with ``Stats.days``."""

    rule: str
    hits: int
    per_day: tuple[int, ...]


@dataclass(frozen=True)
class SourceActivity:
    source: str
    hits: int


@dataclass(frozen=True)
class DeliveryTally:
    """Deliveries created in the window, by their status now."""

    channel: str
    sent: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def success_rate(self) -> float | None:
        """Sent out of finished (sent or failed); None before anything finished."""
        done = self.sent + self.failed
        return round(self.sent / done, 4) if done else None


@dataclass(frozen=True)
class Stats:
    since: date
    until: date
    days: tuple[str, ...]
    rules: tuple[RuleActivity, ...]  # by rule id
    top_sources: tuple[SourceActivity, ...]  # most hits first
    channels: tuple[DeliveryTally, ...]  # by channel

    @property
    def total_hits(self) -> int:
        return sum(rule.hits for rule in self.rules)

    @property
    def deliveries(self) -> DeliveryTally:
        return DeliveryTally(
            "all",
            sent=sum(c.sent for c in self.channels),
            failed=sum(c.failed for c in self.channels),
            pending=sum(c.pending for c in self.channels),
        )

    def noisiest(self, count: int = NOISIEST_RULES) -> tuple[RuleActivity, ...]:
        ranked = sorted(self.rules, key=lambda rule: (-rule.hits, rule.rule))
        return tuple(rule for rule in ranked[:count] if rule.hits)

    def to_json(self) -> dict[str, Any]:
        """The shape `monitor stats --format json` prints."""
        total = self.total_hits

        def tally(t: DeliveryTally) -> dict[str, Any]:
            return {
                "sent": t.sent,
                "failed": t.failed,
                "pending": t.pending,
                "success_rate": t.success_rate,
            }

        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "days": list(self.days),
            "total_hits": total,
            "hits_per_rule_per_day": [
                {"rule": r.rule, "hits": r.hits, "per_day": list(r.per_day)} for r in self.rules
            ],
            "top_sources": [{"source": s.source, "hits": s.hits} for s in self.top_sources],
            "deliveries": {
                **tally(self.deliveries),
                "by_channel": [{"channel": c.channel, **tally(c)} for c in self.channels],
            },
            "noisiest_rules": [
                {
                    "rule": r.rule,
                    "hits": r.hits,
                    "share": round(r.hits / total, 4),
                    "peak_day": self.days[r.per_day.index(max(r.per_day))],
                    "peak_hits": max(r.per_day),
                }
                for r in self.noisiest()
            ],
        }


def read_stats(conn: sqlite3.Connection, since: date, until: date) -> Stats:
    """Stats for the UTC days ``since`` to ``until``, both included."""
    days = tuple((since + timedelta(days=n)).isoformat() for n in range((until - since).days + 1))
    window = [since.isoformat(), until.isoformat()]
    index = {day: n for n, day in enumerate(days)}
    per_rule: dict[str, list[int]] = {}
    for day, rule, hits in conn.execute(
        "SELECT day, rule, hits FROM daily_hits_by_rule WHERE day BETWEEN ? AND ? AND hits > 0",
        window,
    ):
        per_rule.setdefault(rule, [0] * len(days))[index[day]] += hits
    sources = conn.execute(
        """
        SELECT source, sum(hits) AS total FROM daily_hits_by_source
        WHERE day BETWEEN ? AND ? GROUP BY source HAVING total > 0
        ORDER BY total DESC, source LIMIT ?
        """,
        [*window, TOP_SOURCES],
    ).fetchall()
    channels: dict[str, dict[str, int]] = {}
    for channel, status, count in conn.execute(
        "SELECT channel, status, sum(deliveries) FROM daily_deliveries "
        "WHERE day BETWEEN ? AND ? GROUP BY channel, status",
        window,
    ):
        state = _STATES.get(status)
        if state:
            tally = channels.setdefault(channel, {})
            tally[state] = tally.get(state, 0) + count
    return Stats(
        since=since,
        until=until,
        days=days,
        rules=tuple(
            RuleActivity(rule, sum(counts), tuple(counts))
            for rule, counts in sorted(per_rule.items())
        ),
        top_sources=tuple(SourceActivity(source, total) for source, total in sources),
        channels=tuple(DeliveryTally(name, **counts) for name, counts in sorted(channels.items())),
    )
