"""The questions analysts ask of the hit history: a filtered list, one hit in full, an export.

Rows come out as plain JSON-ready dicts in the shape `monitor hits --format
json` prints, because that shape is the contract. Every filter is backed by
an index (see schema.py); ``--search`` goes through the FTS5 index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.timeutil import isoformat

SEVERITIES = ("info", "normal", "high")

_HIT_COLUMNS = """
    h.id, h.rule, h.rule_title, h.severity, h.story_id, h.cluster_id, s.title, s.url, s.source,
    s.published_at, h.matched_at, h.matches
"""


@dataclass(frozen=True)
class HitQuery:
    """Which hits to list. Empty tuples and None mean "no filter"."""

    rules: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    since: datetime | None = None  # matched_at >= since
    until: datetime | None = None  # matched_at < until
    published_since: datetime | None = None
    search: str | None = None  # an FTS5 query over title, summary and body
    limit: int | None = 50


def _where(query: HitQuery) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []

    def any_of(column: str, values: tuple[str, ...]) -> None:
        if values:
            where.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)

    any_of("h.rule", query.rules)
    any_of("s.source", query.sources)
    any_of("h.severity", query.severities)
    for clause, moment in (
        ("h.matched_at >= ?", query.since),
        ("h.matched_at < ?", query.until),
        ("s.published_at >= ?", query.published_since),
    ):
        if moment is not None:
            where.append(clause)
            params.append(isoformat(moment))
    if query.search:
        where.append("h.story_id IN (SELECT rowid FROM stories_fts WHERE stories_fts MATCH ?)")
        params.append(query.search)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def _execute(
    conn: sqlite3.Connection, sql: str, params: list[Any], search: str | None
) -> sqlite3.Cursor:
    try:
        return conn.execute(sql, params)
    except sqlite3.OperationalError as exc:
        # FTS5 reports a bad query as "fts5: syntax error...", "unterminated string",
        # "no such column: x" (for "x:word")...; a locked or broken database is not one.
        if search and not any(word in str(exc) for word in ("locked", "no such table", "disk")):
            raise ValueError(
                f"{search!r} is not a valid full-text query ({exc}); quote phrases and words "
                "with punctuation: '\"al-Assad\"', and write operators in capitals: "
                "'Assad AND Putin', 'Assad NOT football', 'Tartu*'"
            ) from None
        raise


def _row_to_hit(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "rule": row[1],
        "rule_title": row[2],
        "severity": row[3],
        "story_id": row[4],
        "cluster_id": row[5],
        "title": row[6],
        "url": row[7],
        "source": row[8],
        "published_at": row[9],
        "matched_at": row[10],
        # Stored as json.dumps of the Match dataclasses: kind, term, text, field, start, end, score.
        "matches": json.loads(row[11] or "[]"),
    }


def list_sql(query: HitQuery) -> tuple[str, list[Any]]:
    """The SQL and parameters of ``list_hits`` (tests check its query plan).

    Two steps: pick the ids of the newest matching hits, then read those rows
    in full. Picking needs only indexes (``idx_hits_story`` holds matched_at),
    so a search matching 20,000 stories sorts their hits without reading them.
    """
    where, params = _where(query)
    join = ""
    if query.sources or query.published_since:
        join = "JOIN stories s ON s.id = h.story_id"
    limit = ""
    if query.limit is not None:
        limit = "LIMIT ?"
        params.append(query.limit)
    sql = f"""
        SELECT {_HIT_COLUMNS}
        FROM (
            SELECT h.id FROM hits h {join} {where}
            ORDER BY h.matched_at DESC, h.id DESC {limit}
        ) AS picked
        JOIN hits h ON h.id = picked.id JOIN stories s ON s.id = h.story_id
        ORDER BY h.matched_at DESC, h.id DESC
    """
    return sql, params


def list_hits(conn: sqlite3.Connection, query: HitQuery) -> list[dict[str, Any]]:
    """Hits matching ``query``, newest first (by ``matched_at``, then id).

    Raises ValueError for a malformed ``search`` (FTS5 syntax).
    """
    sql, params = list_sql(query)
    return [_row_to_hit(row) for row in _execute(conn, sql, params, query.search)]


def export_hits(conn: sqlite3.Connection, query: HitQuery) -> Iterator[dict[str, Any]]:
    """Every hit matching ``query``, oldest first, streamed (an export can be large).

    The query runs before this returns, so a malformed search raises here.
    """
    where, params = _where(query)
    cursor = _execute(
        conn,
        f"""
        SELECT {_HIT_COLUMNS} FROM hits h JOIN stories s ON s.id = h.story_id
        {where} ORDER BY h.matched_at, h.id
        """,
        params,
        query.search,
    )

    def rows() -> Iterator[dict[str, Any]]:
        while batch := cursor.fetchmany(1000):
            yield from (_row_to_hit(row) for row in batch)

    return rows()


def hit_detail(conn: sqlite3.Connection, hit_id: int) -> dict[str, Any] | None:
    """One hit in full: the story's text, the cluster's other outlets, every delivery."""
    row = conn.execute(
        f"""
        SELECT {_HIT_COLUMNS}, s.summary, s.body, s.guid, s.fetched_at
        FROM hits h JOIN stories s ON s.id = h.story_id WHERE h.id = ?
        """,
        [hit_id],
    ).fetchone()
    if row is None:
        return None
    hit = _row_to_hit(row)
    hit.update(summary=row[12] or "", body=row[13] or "", guid=row[14], fetched_at=row[15])
    hit["outlets"] = [
        {"story_id": r[0], "source": r[1], "title": r[2], "url": r[3], "published_at": r[4]}
        for r in conn.execute(
            "SELECT id, source, title, url, published_at FROM stories "
            "WHERE cluster_id = ? AND id != ? ORDER BY published_at, id",
            [hit["cluster_id"], hit["story_id"]],
        )
    ]
    hit["deliveries"] = [
        {
            "id": r[0],
            "channel": r[1],
            "target": r[2],
            "status": r[3],
            "attempts": r[4],
            "last_error": r[5],
            "created_at": r[6],
            "updated_at": r[7],
            "sent_at": r[8],
        }
        for r in conn.execute(
            "SELECT id, channel, target, status, attempts, last_error, created_at, updated_at, "
            "sent_at FROM deliveries WHERE hit_id = ? ORDER BY id",
            [hit_id],
        )
    ]
    return hit
