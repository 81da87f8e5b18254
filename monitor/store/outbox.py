"""The outbox in SQLite: every read and write of deliveries and thread replies.

A delivery's life (``status``)::

    pending ──plan──> pending (due now) ─┐            ┌─> sent
       (new)    ├───> held (until due_at)┴─claim─> sending ─┼─> pending (retry, next_attempt_at)
                └───> skipped (backfill)                    └─> failed (permanent, or gave up)

Rows are inserted as ``pending`` with their hit (Store.save) and planned once
(``planned_at``, see notify/schedule.py). A send is *claimed* first: the rows
become ``sending`` under a fresh ``attempt_id``, committed before the network
call, and become ``sent`` in the commit right after the server's answer. A
``sending`` row found at start-up belongs to a process that died between the
two commits: ``recover`` makes it ``pending`` again with ``in_doubt`` set and
its attempt id kept, so the next try can look for that attempt's message
before sending it again (see notify/outbox.py).

Every write is one short ``BEGIN IMMEDIATE`` transaction on the caller's
thread; none spans a network call.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.models import Alert
from monitor.store import clusters
from monitor.store.db import matches_from_json
from monitor.store.tx import immediate
from monitor.timeutil import isoformat

__all__ = [
    "LISTED",
    "STATUSES",
    "DueDelivery",
    "DueReply",
    "Unplanned",
]

STATUSES = ("pending", "held", "sending", "sent", "failed", "skipped")
#: What `monitor outbox` shows when no --status is given: everything not yet done.
LISTED = ("pending", "held", "sending", "failed")
#: Later copies of a story are replied to for this long after its alert.
REPLY_WINDOW = clusters.WINDOW


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _marks(ids: Sequence[object]) -> str:
    return ", ".join("?" for _ in ids)


# --- planning ------------------------------------------------------------------------


@dataclass(frozen=True)
class Unplanned:
    """A delivery stored with its hit and not yet planned."""

    id: int
    rule: str
    severity: str
    channel: str
    target: str
    published_at: datetime


def unplanned(conn: sqlite3.Connection, limit: int = 10_000) -> list[Unplanned]:
    rows = conn.execute(
        """
        SELECT d.id, h.rule, h.severity, d.channel, d.target, s.published_at
        FROM deliveries d JOIN hits h ON h.id = d.hit_id JOIN stories s ON s.id = h.story_id
        WHERE d.planned_at IS NULL ORDER BY d.id LIMIT ?
        """,
        [limit],
    ).fetchall()
    return [Unplanned(r[0], r[1], r[2] or "normal", r[3], r[4], _parse(r[5])) for r in rows]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def save_plans(
    conn: sqlite3.Connection,
    plans: Iterable[tuple[int, str, datetime, str, str]],
    now: datetime,
) -> None:
    """Store (id, status, due_at, batch, reason) plans, all in one transaction."""
    stamp = isoformat(now)
    with immediate(conn):
        conn.executemany(
            "UPDATE deliveries SET status = ?, due_at = ?, batch = ?, reason = ?, "
            "planned_at = ?, updated_at = ? WHERE id = ? AND planned_at IS NULL",
            [
                (status, isoformat(due_at), batch, reason, stamp, stamp, id_)
                for id_, status, due_at, batch, reason in plans
            ],
        )


def last_message(
    conn: sqlite3.Connection, rule: str, channel: str, target: str, now: datetime
) -> datetime | None:
    """When ``rule``'s latest message to (channel, target) went, or is due to go."""
    # Sent ones through the (channel, target, sent_at) index (unary + keeps the planner
    # off the rule's every hit), the rest through status: the unfinished ones are few,
    # though table statistics cannot tell the planner so.
    sent, planned = conn.execute(
        """
        SELECT
          (SELECT max(d.sent_at) FROM deliveries d JOIN hits h ON h.id = d.hit_id
           WHERE d.channel = :channel AND d.target = :target AND d.sent_at >= :since
             AND +h.rule = :rule AND d.status = 'sent'),
          (SELECT max(coalesce(d.due_at, d.planned_at))
           FROM deliveries d INDEXED BY idx_deliveries_status JOIN hits h ON h.id = d.hit_id
           WHERE d.status IN ('pending', 'held', 'sending') AND d.planned_at IS NOT NULL
             AND d.channel = :channel AND d.target = :target AND h.rule = :rule)
        """,
        {
            "channel": channel,
            "target": target,
            "rule": rule,
            "since": isoformat(now - timedelta(days=7)),
        },
    ).fetchone()
    found = [m for m in (_moment(sent), _moment(planned)) if m]
    return max(found) if found else None


def recent_messages(
    conn: sqlite3.Connection, channel: str, target: str, since: datetime
) -> list[datetime]:
    """When each message to (channel, target) since ``since`` went or is due to go.

    A message is an attempt (sent) or a batch (planned): a digest of ten
    alerts is one message.
    """
    rows = conn.execute(
        """
        SELECT min(sent_at) FROM deliveries
        WHERE channel = ? AND target = ? AND sent_at >= ? AND status = 'sent'
        GROUP BY coalesce(attempt_id, id)
        UNION ALL
        SELECT min(coalesce(due_at, planned_at)) FROM deliveries INDEXED BY idx_deliveries_status
        WHERE status IN ('pending', 'held', 'sending') AND planned_at IS NOT NULL
          AND channel = ? AND target = ? AND coalesce(due_at, planned_at) >= ?
        GROUP BY CASE WHEN batch = '' THEN 'row:' || id ELSE batch END
        """,
        [channel, target, isoformat(since)] * 2,
    ).fetchall()
    return [m for (text,) in rows if (m := _moment(text))]


# --- sending -------------------------------------------------------------------------


@dataclass(frozen=True)
class DueDelivery:
    """A delivery whose time has come, with the alert it carries."""

    id: int
    channel: str
    target: str
    batch: str
    reason: str
    attempt_id: str | None
    claimed_at: datetime | None
    in_doubt: bool
    attempts: int
    first_due: datetime  # give_up_after counts from here
    alert: Alert


def recover(conn: sqlite3.Connection, now: datetime) -> int:
    """Start-up: claims a dead process left behind become pending, in doubt."""
    with immediate(conn):
        return (
            conn.execute(
                "UPDATE deliveries SET status = 'pending', in_doubt = 1, updated_at = ? "
                "WHERE status = 'sending'",
                [isoformat(now)],
            ).rowcount
            + conn.execute(
                "UPDATE replies SET status = 'pending', updated_at = ? WHERE status = 'sending'",
                [isoformat(now)],
            ).rowcount
        )


def due(conn: sqlite3.Connection, now: datetime, ignore_backoff: bool = False) -> list[DueDelivery]:
    """Planned deliveries due by ``now`` (and past their retry backoff), oldest first."""
    stamp = isoformat(now)
    rows = conn.execute(
        """
        SELECT d.id, d.channel, d.target, d.batch, d.reason, d.attempt_id, d.claimed_at,
               d.in_doubt, d.attempts, coalesce(d.due_at, d.created_at),
               h.id, h.rule, h.rule_title, h.severity, h.matches, h.cluster_id,
               s.id, s.title, s.url, s.source, s.published_at, s.summary, s.body
        FROM deliveries d JOIN hits h ON h.id = d.hit_id JOIN stories s ON s.id = h.story_id
        WHERE d.status IN ('pending', 'held') AND d.planned_at IS NOT NULL
          AND coalesce(d.due_at, '') <= :now
          AND (:ignore OR d.next_attempt_at IS NULL OR d.next_attempt_at <= :now)
        ORDER BY d.id
        """,
        {"now": stamp, "ignore": int(ignore_backoff)},
    ).fetchall()
    outlets: dict[tuple[int, int], tuple[str, ...]] = {}
    result = []
    for r in rows:
        key = (r[15] or 0, r[16])
        if key not in outlets:
            outlets[key] = tuple(clusters.outlets(conn, *key)) if key[0] else ()
        alert = Alert(
            hit_id=r[10],
            rule_id=r[11],
            rule_title=r[12] or r[11],
            story_title=r[17] or "",
            story_url=r[18] or "",
            source=r[19],
            published_at=_parse(r[20]),
            matches=matches_from_json(r[14]),
            severity=r[13] or "normal",
            summary=r[21] or "",
            body=r[22] or "",
            outlets=tuple(o for o in outlets[key] if o != r[19]),
        )
        result.append(
            DueDelivery(
                id=r[0],
                channel=r[1],
                target=r[2],
                batch=r[3] or "",
                reason=r[4] or "",
                attempt_id=r[5],
                claimed_at=_moment(r[6]),
                in_doubt=bool(r[7]),
                attempts=r[8],
                first_due=_parse(r[9]),
                alert=alert,
            )
        )
    return result


def claim(
    conn: sqlite3.Connection, ids: Sequence[int], attempt_id: str, batch: str, now: datetime
) -> None:
    """Mark ``ids`` as being sent now, as one message (committed before any network call).

    A resend of an in-doubt attempt keeps its first ``claimed_at``: the
    lookup for that attempt's message searches from there.
    """
    stamp = isoformat(now)
    with immediate(conn):
        conn.execute(
            f"""
            UPDATE deliveries SET status = 'sending',
                claimed_at = CASE WHEN attempt_id IS ? AND claimed_at IS NOT NULL
                                  THEN claimed_at ELSE ? END,
                attempt_id = ?, batch = CASE WHEN batch = '' THEN ? ELSE batch END,
                updated_at = ?
            WHERE id IN ({_marks(ids)})
            """,
            [attempt_id, stamp, attempt_id, batch, stamp, *ids],
        )


def mark_sent(
    conn: sqlite3.Connection,
    ids: Sequence[int],
    now: datetime,
    slack_channel: str = "",
    slack_ts: str = "",
) -> None:
    stamp = isoformat(now)
    with immediate(conn):
        conn.execute(
            f"""
            UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?,
                updated_at = ?, last_error = NULL, in_doubt = 0, next_attempt_at = NULL,
                slack_channel = nullif(?, ''), slack_ts = nullif(?, '')
            WHERE id IN ({_marks(ids)})
            """,
            [stamp, stamp, slack_channel, slack_ts, *ids],
        )


def mark_retry(
    conn: sqlite3.Connection,
    ids: Sequence[int],
    error: str,
    now: datetime,
    next_attempt_at: datetime,
    in_doubt: bool = False,
) -> None:
    """A failure that may heal: pending again, not before ``next_attempt_at``."""
    stamp = isoformat(now)
    with immediate(conn):
        conn.execute(
            f"""
            UPDATE deliveries SET status = 'pending', attempts = attempts + 1, last_error = ?,
                next_attempt_at = ?, in_doubt = ?, updated_at = ?
            WHERE id IN ({_marks(ids)})
            """,
            [error, isoformat(next_attempt_at), int(in_doubt), stamp, *ids],
        )


def mark_failed(conn: sqlite3.Connection, ids: Sequence[int], error: str, now: datetime) -> None:
    """A failure waiting will not fix, or one that lasted past give_up_after."""
    stamp = isoformat(now)
    with immediate(conn):
        conn.execute(
            f"""
            UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = ?,
                in_doubt = 0, next_attempt_at = NULL, updated_at = ?
            WHERE id IN ({_marks(ids)})
            """,
            [error, stamp, *ids],
        )


def release(conn: sqlite3.Connection, ids: Sequence[int], now: datetime) -> None:
    """A send cut off mid-way (shutdown): pending again, in doubt, attempt id kept."""
    with immediate(conn):
        conn.execute(
            f"UPDATE deliveries SET status = 'pending', in_doubt = 1, updated_at = ? "
            f"WHERE id IN ({_marks(ids)}) AND status = 'sending'",
            [isoformat(now), *ids],
        )


def known_slack_channel(conn: sqlite3.Connection, target: str) -> str | None:
    """The Slack channel id an earlier message to ``target`` was posted in, if any."""
    row = conn.execute(
        # Only a sent message has a Slack channel; saying so lets the partial
        # index on (channel, target, sent_at) find it.
        "SELECT slack_channel FROM deliveries WHERE channel = 'slack' AND target = ? "
        "AND sent_at IS NOT NULL AND slack_channel IS NOT NULL ORDER BY id DESC LIMIT 1",
        [target],
    ).fetchone()
    return row[0] if row else None


# --- thread replies ------------------------------------------------------------------


@dataclass(frozen=True)
class DueReply:
    """A "+1 outlet" reply to post under a sent Slack alert."""

    id: int
    target: str
    slack_channel: str
    thread_ts: str
    source: str
    title: str
    url: str
    attempts: int
    first_due: datetime


def discover_replies(conn: sqlite3.Connection, now: datetime) -> int:
    """Queue a reply for each new outlet that carried an alerted story after its alert.

    Outlets seen before the alert went out are in its "also at" line already.
    """
    stamp = isoformat(now)
    with immediate(conn):
        return conn.execute(
            """
            INSERT OR IGNORE INTO replies (delivery_id, story_id, source, status, created_at,
                                           updated_at)
            SELECT d.id, min(s.id), s.source, 'pending', :now, :now
            FROM deliveries d
            JOIN hits h ON h.id = d.hit_id
            JOIN stories first ON first.id = h.story_id
            JOIN stories s ON s.cluster_id = h.cluster_id AND s.id != h.story_id
            WHERE d.slack_ts IS NOT NULL AND d.sent_at >= :since
              -- unary + keeps the planner on idx_deliveries_thread, not the status index
              AND +d.status = 'sent' AND +d.channel = 'slack' AND d.batch = ''
              AND s.fetched_at >= d.sent_at AND s.source != first.source
              AND NOT EXISTS (
                  SELECT 1 FROM stories o WHERE o.cluster_id = h.cluster_id
                  AND o.source = s.source AND o.fetched_at < d.sent_at)
            GROUP BY d.id, s.source
            """,
            {"now": stamp, "since": isoformat(now - REPLY_WINDOW)},
        ).rowcount


def due_replies(
    conn: sqlite3.Connection, now: datetime, ignore_backoff: bool = False
) -> list[DueReply]:
    rows = conn.execute(
        """
        SELECT r.id, d.target, d.slack_channel, d.slack_ts, r.source, s.title, s.url,
               r.attempts, r.created_at
        FROM replies r JOIN deliveries d ON d.id = r.delivery_id JOIN stories s ON s.id = r.story_id
        WHERE r.status = 'pending'
          AND (:ignore OR r.next_attempt_at IS NULL OR r.next_attempt_at <= :now)
        ORDER BY r.id
        """,
        {"now": isoformat(now), "ignore": int(ignore_backoff)},
    ).fetchall()
    return [
        DueReply(r[0], r[1], r[2], r[3], r[4], r[5] or "", r[6] or "", r[7], _parse(r[8]))
        for r in rows
    ]


def update_reply(
    conn: sqlite3.Connection,
    reply_id: int,
    status: str,
    now: datetime,
    *,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    slack_ts: str = "",
) -> None:
    """Move a reply to ``status`` (sending, sent, pending for a retry, failed)."""
    stamp = isoformat(now)
    with immediate(conn):
        conn.execute(
            """
            UPDATE replies SET status = :status, updated_at = :now,
                attempts = attempts + (:status IN ('sent', 'pending', 'failed')),
                last_error = :error, next_attempt_at = :next,
                sent_at = CASE WHEN :status = 'sent' THEN :now ELSE sent_at END,
                slack_ts = coalesce(nullif(:ts, ''), slack_ts)
            WHERE id = :id
            """,
            {
                "status": status,
                "now": stamp,
                "error": error,
                "next": isoformat(next_attempt_at) if next_attempt_at else None,
                "ts": slack_ts,
                "id": reply_id,
            },
        )


# --- `monitor outbox` ----------------------------------------------------------------


def listing(
    conn: sqlite3.Connection, statuses: Sequence[str] = LISTED, limit: int = 100
) -> list[dict[str, Any]]:
    """Deliveries in ``statuses``, newest first, in the shape `monitor outbox` prints."""
    rows = conn.execute(
        f"""
        SELECT d.id, d.status, d.channel, d.target, h.rule, s.title, d.attempts, d.reason,
               d.batch, d.due_at, d.next_attempt_at, d.in_doubt, d.last_error, d.created_at,
               d.updated_at, d.sent_at, d.hit_id
        FROM deliveries d JOIN hits h ON h.id = d.hit_id JOIN stories s ON s.id = h.story_id
        WHERE d.status IN ({_marks(statuses)}) ORDER BY d.id DESC LIMIT ?
        """,
        [*statuses, limit],
    ).fetchall()
    keys = (
        "id",
        "status",
        "channel",
        "target",
        "rule",
        "title",
        "attempts",
        "reason",
        "batch",
        "due_at",
        "next_attempt_at",
        "in_doubt",
        "last_error",
        "created_at",
        "updated_at",
        "sent_at",
        "hit_id",
    )
    return [{**dict(zip(keys, row, strict=True)), "in_doubt": bool(row[11])} for row in rows]


def retry(conn: sqlite3.Connection, ids: Sequence[int] | None, now: datetime) -> list[int]:
    """Make deliveries due now: ``ids``, or (None) every failed one. Returns those changed.

    Sent and skipped ones are left alone (a skipped one is retried only by
    id). ``give_up_after`` counts again from now.
    """
    stamp = isoformat(now)
    allowed: tuple[str, ...] = ("failed",)
    where, args = "status = 'failed'", []
    if ids is not None:
        where, args = f"id IN ({_marks(ids)})", list(ids)
        allowed = ("failed", "pending", "held", "skipped")
    with immediate(conn):
        changed = [
            row[0]
            for row in conn.execute(
                f"SELECT id FROM deliveries WHERE {where} AND status IN ({_marks(allowed)})",
                [*args, *allowed],
            )
        ]
        conn.executemany(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = NULL, due_at = ?, "
            "planned_at = coalesce(planned_at, ?), updated_at = ? WHERE id = ?",
            [(stamp, stamp, stamp, id_) for id_ in changed],
        )
    return changed


def statuses(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
    """The status of each of ``ids`` that exists."""
    return dict(
        conn.execute(f"SELECT id, status FROM deliveries WHERE id IN ({_marks(ids)})", list(ids))
    )
