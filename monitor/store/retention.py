"""Retention: forget old stories, keep what alerted (unless told otherwise).

Older than the cutoff (by ``fetched_at`` for stories, ``matched_at`` for hits):

* with ``keep_hits=False``, hits are deleted with their deliveries;
* stories whose cluster has no (remaining) hit are deleted, with their
  search index entries, and clusters left empty go with them;
* the stories that stay (they explain a hit) lose their body: title, summary,
  URL and the hit's explanation remain.

Work goes in small transactions so the daemon, writing beside us, never
waits long for the lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.store.tx import immediate
from monitor.timeutil import isoformat, utcnow

BATCH = 1000

# Stories whose cluster keeps no hit; ":doomed_hits" makes the same predicate
# count what a real run would leave (dry run) or what it has left (real run).
_STORY_GOES = """
    s.fetched_at < :cutoff AND NOT EXISTS (
        SELECT 1 FROM hits h WHERE h.cluster_id = s.cluster_id
        AND NOT (:doomed_hits AND h.matched_at < :cutoff)
    )
"""


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or, with ``dry_run``, would remove)."""

    cutoff: datetime
    dry_run: bool
    keep_hits: bool
    stories_deleted: int = 0
    bodies_cleared: int = 0
    clusters_deleted: int = 0
    hits_deleted: int = 0
    deliveries_deleted: int = 0


def prune(
    conn: sqlite3.Connection,
    retention_days: int,
    keep_hits: bool = True,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneReport:
    """Apply the retention policy to everything older than ``retention_days``."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    params = {"cutoff": isoformat(cutoff), "doomed_hits": not keep_hits}
    if dry_run:
        return _count(conn, cutoff, keep_hits, params)
    hits = deliveries = stories = clusters = bodies = 0
    # Each batch is chosen inside its own transaction, so nothing the daemon
    # writes meanwhile (a new hit on an old cluster) can slip between choice and delete.
    while not keep_hits:
        with immediate(conn):
            ids = _ids(conn, "SELECT id FROM hits WHERE matched_at < :cutoff", params)
            deliveries += _delete(conn, "deliveries", "hit_id", ids)
            hits += _delete(conn, "hits", "id", ids)
        if not ids:
            break
    while True:
        with immediate(conn):
            ids = _ids(conn, f"SELECT s.id FROM stories s WHERE {_STORY_GOES}", params)
            cluster_ids = _ids(
                conn, f"SELECT DISTINCT cluster_id FROM stories WHERE id IN ({_marks(ids)})", ids
            )
            stories += _delete(conn, "stories", "id", ids)
            clusters += conn.execute(
                f"""
                DELETE FROM clusters WHERE id IN ({_marks(cluster_ids)})
                AND NOT EXISTS (SELECT 1 FROM stories WHERE cluster_id = clusters.id)
                AND NOT EXISTS (SELECT 1 FROM hits WHERE cluster_id = clusters.id)
                """,
                cluster_ids,
            ).rowcount
        if not ids:
            break
    while True:
        with immediate(conn):
            ids = _ids(
                conn, "SELECT id FROM stories WHERE body != '' AND fetched_at < :cutoff", params
            )
            bodies += conn.execute(
                f"UPDATE stories SET body = '' WHERE id IN ({_marks(ids)})", ids
            ).rowcount
        if not ids:
            break
    with immediate(conn):
        for table, column in (
            ("daily_hits_by_rule", "hits"),
            ("daily_hits_by_source", "hits"),
            ("daily_deliveries", "deliveries"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE {column} <= 0")
    conn.execute("PRAGMA optimize")
    return PruneReport(cutoff, False, keep_hits, stories, bodies, clusters, hits, deliveries)


def _ids(
    conn: sqlite3.Connection, select: str, params: Sequence[Any] | dict[str, Any]
) -> list[int]:
    return [row[0] for row in conn.execute(f"{select} LIMIT {BATCH}", params)]


def _marks(values: list[int]) -> str:
    return ", ".join("?" for _ in values)


def _delete(conn: sqlite3.Connection, table: str, column: str, ids: list[int]) -> int:
    if not ids:
        return 0
    return int(conn.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(ids)})", ids).rowcount)


def _count(
    conn: sqlite3.Connection, cutoff: datetime, keep_hits: bool, params: dict[str, Any]
) -> PruneReport:
    def one(sql: str) -> int:
        return int(conn.execute(sql, params).fetchone()[0])

    hits = deliveries = 0
    if not keep_hits:
        hits = one("SELECT count(*) FROM hits WHERE matched_at < :cutoff")
        deliveries = one(
            "SELECT count(*) FROM deliveries d JOIN hits h ON h.id = d.hit_id "
            "WHERE h.matched_at < :cutoff"
        )
    stories = one(f"SELECT count(*) FROM stories s WHERE {_STORY_GOES}")
    bodies = one(
        f"SELECT count(*) FROM stories s WHERE s.body != '' AND s.fetched_at < :cutoff "
        f"AND NOT ({_STORY_GOES})"
    )
    clusters = one(
        f"""
        SELECT count(DISTINCT s.cluster_id) FROM stories s WHERE {_STORY_GOES}
        AND NOT EXISTS (
            SELECT 1 FROM stories t WHERE t.cluster_id = s.cluster_id AND t.id != s.id
            AND NOT (t.fetched_at < :cutoff AND NOT EXISTS (
                SELECT 1 FROM hits h WHERE h.cluster_id = t.cluster_id
                AND NOT (:doomed_hits AND h.matched_at < :cutoff)
            ))
        )
        """
    )
    return PruneReport(cutoff, True, keep_hits, stories, bodies, clusters, hits, deliveries)
