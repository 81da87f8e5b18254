"""Reads and writes of the SQLite store.

Every multi-row write (a story with its hits and their pending deliveries) is
one transaction, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.dedupe import canonical_url
from monitor.errors import StoreError
from monitor.models import Alert, Hit, Match, Story
from monitor.sources.feed import FetchResult, SourceState
from monitor.store.schema import migrate
from monitor.timeutil import isoformat, utcnow

BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class PendingDelivery:
    """A delivery waiting to go out, with everything needed to render its alert."""

    id: int
    channel: str
    target: str
    attempts: int
    alert: Alert


def matches_to_json(matches: Iterable[Match]) -> str:
    return json.dumps([asdict(m) for m in matches], ensure_ascii=False)


def matches_from_json(text: str | None) -> tuple[Match, ...]:
    return tuple(Match(**item) for item in json.loads(text or "[]"))


class Store:
    """The monitor database. Open one per thread; SQLite's WAL lets readers run beside us."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating or upgrading) the database at ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys = ON")
            migrate(db)
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            raise StoreError(
                f"cannot open database {str(path)!r}: {exc}",
                hint="check the folder exists and is writable, or set `database` in the config",
            ) from exc
        return cls(db, path)

    def close(self) -> None:
        self.db.conn.close()

    # Sources -----------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        row = self.db.execute(
            "SELECT etag, last_modified FROM sources WHERE name = ?", [name]
        ).fetchone()
        return SourceState(*row) if row else SourceState()

    def record_fetch(self, result: FetchResult, url: str, new_items: int) -> None:
        """Remember how a fetch went, for conditional GET and for `monitor sources`."""
        now = isoformat(utcnow())
        with self.db.conn:
            self.db.execute(
                """
                INSERT INTO sources (name, url, etag, last_modified, last_fetch_at, last_status,
                                     last_error, consecutive_failures, new_items)
                VALUES (:name, :url, :etag, :lm, :now, :status, :error, :failed, :new)
                ON CONFLICT(name) DO UPDATE SET
                    url = excluded.url,
                    etag = excluded.etag,
                    last_modified = excluded.last_modified,
                    last_fetch_at = excluded.last_fetch_at,
                    last_status = excluded.last_status,
                    last_error = excluded.last_error,
                    consecutive_failures = CASE WHEN excluded.last_error IS NULL THEN 0
                        ELSE sources.consecutive_failures + 1 END,
                    new_items = excluded.new_items
                """,
                {
                    "name": result.source,
                    "url": url,
                    "etag": result.state.etag,
                    "lm": result.state.last_modified,
                    "now": now,
                    "status": result.status,
                    "error": result.error,
                    "failed": 0 if result.ok else 1,
                    "new": new_items,
                },
            )

    # Stories and hits --------------------------------------------------------

    def is_known(self, story: Story) -> bool:
        """True when the story (by canonical URL or guid) is already stored."""
        url = canonical_url(story.url) if story.url else ""
        row = self.db.execute(
            "SELECT 1 FROM stories WHERE guid = ? OR (? != '' AND canonical_url = ?) LIMIT 1",
            [story.guid, url, url],
        ).fetchone()
        return row is not None

    def save(
        self, story: Story, hits: Iterable[Hit], routes: dict[str, list[tuple[str, str]]]
    ) -> list[int]:
        """Store a new story, its hits and one pending delivery per route, atomically.

        ``routes`` maps a rule id to its (channel, target) pairs. Returns the
        new hit ids; an already-known story stores nothing and returns [].
        """
        now = isoformat(utcnow())
        url = canonical_url(story.url) if story.url else ""
        try:
            with self.db.conn:
                cursor = self.db.execute(
                    """
                    INSERT INTO stories (source, url, canonical_url, guid, title, summary, body,
                                         published_at, fetched_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        story.source,
                        story.url,
                        url,
                        story.guid,
                        story.title,
                        story.summary,
                        story.body,
                        isoformat(story.published_at),
                        isoformat(story.fetched_at),
                    ],
                )
                story_id = cursor.lastrowid
                hit_ids = []
                for hit in hits:
                    cursor = self.db.execute(
                        "INSERT INTO hits (rule, rule_title, story_id, matches, matched_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [hit.rule.id, hit.rule.title, story_id, matches_to_json(hit.matches), now],
                    )
                    hit_id = int(cursor.lastrowid or 0)
                    hit_ids.append(hit_id)
                    for channel, target in routes.get(hit.rule.id, []):
                        self.db.execute(
                            "INSERT INTO deliveries (hit_id, channel, target, status, attempts, "
                            "created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                            [hit_id, channel, target, now, now],
                        )
        except sqlite3.IntegrityError:
            # Stored meanwhile under the same URL or guid (another feed in the same cycle).
            return []
        return hit_ids

    # Deliveries --------------------------------------------------------------

    def pending_deliveries(self, channels: Iterable[str] | None = None) -> list[PendingDelivery]:
        """Deliveries still to send, oldest first."""
        rows = self.db.execute(
            """
            SELECT d.id, d.channel, d.target, d.attempts, h.id, h.rule, h.rule_title, h.matches,
                   s.title, s.url, s.source, s.published_at
            FROM deliveries d JOIN hits h ON h.id = d.hit_id JOIN stories s ON s.id = h.story_id
            WHERE d.status = 'pending' ORDER BY d.id
            """
        ).fetchall()
        wanted = None if channels is None else set(channels)
        return [
            PendingDelivery(
                id=row[0],
                channel=row[1],
                target=row[2],
                attempts=row[3],
                alert=Alert(
                    hit_id=row[4],
                    rule_id=row[5],
                    rule_title=row[6] or row[5],
                    story_title=row[8] or "",
                    story_url=row[9] or "",
                    source=row[10],
                    published_at=datetime.fromisoformat(row[11]),
                    matches=matches_from_json(row[7]),
                ),
            )
            for row in rows
            if wanted is None or row[1] in wanted
        ]

    def mark_sent(self, delivery_id: int) -> None:
        now = isoformat(utcnow())
        with self.db.conn:
            self.db.execute(
                "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                "updated_at = ?, last_error = NULL WHERE id = ?",
                [now, now, delivery_id],
            )

    def mark_failed(self, delivery_id: int, error: str, permanent: bool) -> None:
        """Record a failed attempt; a permanent failure stops retries, others stay pending."""
        with self.db.conn:
            self.db.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_error = ?, "
                "updated_at = ? WHERE id = ?",
                ["failed" if permanent else "pending", error, isoformat(utcnow()), delivery_id],
            )

    # Queries -----------------------------------------------------------------

    def hits(
        self, rules: Iterable[str] = (), since: datetime | None = None, limit: int = 50
    ) -> Iterator[dict[str, Any]]:
        """Stored hits, newest first, in the shape `monitor hits --format json` prints."""
        where, params = [], []
        rules = list(rules)
        if rules:
            where.append(f"h.rule IN ({', '.join('?' for _ in rules)})")
            params.extend(rules)
        if since is not None:
            where.append("h.matched_at >= ?")
            params.append(isoformat(since))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.execute(
            f"""
            SELECT h.id, h.rule, h.rule_title, s.title, s.url, s.source, s.published_at,
                   h.matched_at, h.matches
            FROM hits h JOIN stories s ON s.id = h.story_id
            {clause}
            ORDER BY h.matched_at DESC, h.id DESC LIMIT ?
            """,
            [*params, limit],
        )
        for row in rows:
            yield {
                "id": row[0],
                "rule": row[1],
                "rule_title": row[2],
                "title": row[3],
                "url": row[4],
                "source": row[5],
                "published_at": row[6],
                "matched_at": row[7],
                "matches": [
                    {
                        "kind": m.kind,
                        "term": m.term,
                        "text": m.text,
                        "field": m.field,
                        "start": m.start,
                        "end": m.end,
                        "score": m.score,
                    }
                    for m in matches_from_json(row[8])
                ],
            }
