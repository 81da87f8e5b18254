"""Reads and writes of the SQLite store.

Every multi-row write (a story with its cluster, hits and their pending
deliveries) is one transaction, so a crash leaves either all of it or none of
it. The connection runs in autocommit mode and every write takes the lock up
front (``tx.immediate``), which is what lets the daemon write while `monitor
hits` and friends read, with no "database is locked" errors.

New stories enter the full-text index at the end of their transaction (one
statement for a whole ``batch``), not row by row from a trigger (migration 9):
FTS5 writes its pending terms out as a new segment whenever a savepoint opens,
and SQLite opens one for each story's ``save`` and for every statement that
writes through a trigger, so the trigger made a segment, and soon a merge,
for every story of a poll.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import StoreError
from monitor.models import Alert, Hit, Match, Story
from monitor.store import clusters, queries, retention, sources, stats
from monitor.store.queries import HitQuery
from monitor.store.retention import PruneReport
from monitor.store.schema import migrate
from monitor.store.stats import Stats
from monitor.store.tx import immediate
from monitor.timeutil import isoformat, utcnow

if TYPE_CHECKING:
    import sqlite_utils

    from monitor.sources.feed import FetchResult, SourceState

BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class PendingDelivery:
    """A delivery waiting to go out, with everything needed to render its alert."""

    id: int
    channel: str
    target: str
    attempts: int
    alert: Alert


# json.dumps(..., ensure_ascii=False) builds an encoder at every call.
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def matches_to_json(matches: Iterable[Match]) -> str:
    # vars(), not dataclasses.asdict: asdict deep-copies every field, a third of
    # the Python time of storing a hit. The keys are the Match fields, in order.
    return _encode_json([vars(m) for m in matches])


def matches_from_json(text: str | None) -> tuple[Match, ...]:
    return tuple(Match(**item) for item in json.loads(text or "[]"))


class _AlreadyStored(Exception):
    """The story's guid or canonical URL is already in the database."""


class Store:
    """The monitor database. Open one per thread; SQLite's WAL lets readers run beside us."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # Stories stored in the open transaction and not yet in the full-text
        # index, and how deep in our own writes we are (see ``_write``).
        self._unindexed: list[int] = []
        self._depth = 0
        self._bands = clusters.band_index()

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating or upgrading) the database at ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,
            )
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL is still crash-safe; it only skips an fsync per commit.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Savepoint journals (a batch's stories) in memory, not temporary files:
            # they spill past 64 KiB, which one story's index pages exceed.
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            raise StoreError(
                f"cannot open database {str(path)!r}: {exc}",
                hint="check the folder exists and is writable, or set `database` in the config",
            ) from exc
        return cls(conn, path)

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The same connection through sqlite-utils, made on first use (its import is slow)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes inside one transaction (each ``save`` becomes a savepoint).

        A commit costs far more than a story's rows: storing one poll's new
        stories in one batch is what keeps a 20,000-story cycle within seconds.
        Keep awaits out of the block; the write lock is held until it ends.
        Full-text search sees the batch's stories once it ends.
        """
        with self._write():
            yield

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction of ours (a savepoint inside another).

        The outermost one indexes its new stories for full-text search before
        it commits. One that fails forgets what its rollback undoes: its
        stories' place in the queue for the full-text index and, if it changed
        the in-memory band index, that index (built again on next use).
        """
        outermost = self._depth == 0
        mark, bands = len(self._unindexed), self._bands.version
        self._depth += 1
        try:
            with immediate(self.conn):
                yield
                if outermost:
                    self._index_new_stories()
        except BaseException:
            del self._unindexed[mark:]
            if self._bands.version != bands:
                self._bands.forget()
            raise
        finally:
            self._depth -= 1

    def _index_new_stories(self) -> None:
        """Add the stories stored since the last call to the full-text index.

        ``stories_fts`` has external content: the text is read from ``stories``.
        """
        ids = self._unindexed[:]
        self._unindexed.clear()
        for start in range(0, len(ids), 500):  # stay well under SQLite's variable limit
            chunk = ids[start : start + 500]
            self.conn.execute(
                "INSERT INTO stories_fts (rowid, title, summary, body) "
                "SELECT id, title, summary, body FROM stories "
                f"WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )

    # Sources -----------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        """Conditional-GET validators and backoff (see store/sources.py)."""
        return sources.load_state(self.conn, name)

    def record_outcome(
        self, result: FetchResult, interval: timedelta, stale_after: timedelta
    ) -> sources.HealthChange | None:
        """After ``record_fetch``: backoff, staleness, and whether an ops alert is due."""
        return sources.record_outcome(self.conn, result, interval, stale_after, utcnow())

    def source_rows(self) -> dict[str, dict[str, Any]]:
        """Every source's fetch history row, by name (`monitor sources`)."""
        return sources.listing(self.conn)

    def record_fetch(self, result: FetchResult, url: str, new_items: int) -> None:
        """Remember how a fetch went, for conditional GET and for `monitor sources`."""
        now = isoformat(utcnow())
        with immediate(self.conn):
            self.conn.execute(
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
        url = clusters.canonical_url(story.url) if story.url else ""
        # Two lookups, not one OR: the partial index on canonical_url is only
        # usable when the query repeats its condition (canonical_url != ''), and
        # an OR made SQLite scan every story.
        row = self.conn.execute(
            "SELECT 1 FROM stories WHERE guid = ? UNION ALL "
            "SELECT 1 FROM stories WHERE canonical_url = ? AND canonical_url != '' LIMIT 1",
            [story.guid, url],
        ).fetchone()
        return row is not None

    def known(self, story: Story) -> clusters.Known | None:
        """The stored story with ``story``'s guid or canonical URL, if any."""
        return clusters.known(self.conn, story)

    def find_cluster(self, story: Story, signature: bytes | None) -> int | None:
        """The cluster a new story is a copy of (syndication), or None."""
        return clusters.find_cluster(self.conn, self._bands, story, signature, utcnow())

    def update(
        self,
        known: clusters.Known,
        story: Story,
        content_hash: str,
        hits: Iterable[Hit],
        routes: dict[str, list[tuple[str, str]]],
        signature: bytes | None = None,
    ) -> list[int]:
        """Store an updated story's new text and the hits of rules that had not hit it yet."""
        now = utcnow()
        # The index's update trigger deletes the old text from the index: a story
        # of this batch must be in it first. Outside our savepoint, which may roll back.
        self._index_new_stories()
        with self._write():
            clusters.update_story(self.conn, known.story_id, story, content_hash, now)
            clusters.add_signature(self.conn, self._bands, known.story_id, signature)
            return self._save_hits(known.story_id, known.cluster_id, hits, routes, isoformat(now))

    def save(
        self,
        story: Story,
        hits: Iterable[Hit],
        routes: dict[str, list[tuple[str, str]]],
        *,
        cluster_id: int | None = None,
        signature: bytes | None = None,
        content_hash: str = "",
        backdated: bool = False,
    ) -> list[int]:
        """Store a new story, its hits and one pending delivery per route, atomically.

        ``routes`` maps a rule id to its (channel, target) pairs. Returns the
        new hit ids; an already-known story stores nothing and returns [].
        The story starts its own cluster unless ``cluster_id`` names the one
        it is a copy of. A rule fires once per cluster: a hit on a cluster
        that already has one for the rule is not stored again.
        """
        now = isoformat(utcnow())
        url = clusters.canonical_url(story.url) if story.url else ""
        conn = self.conn
        try:
            with self._write():
                conn.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", [story.source])
                if cluster_id is None:
                    cluster_id = conn.execute(
                        "INSERT INTO clusters (title, first_seen_at) VALUES (?, ?)",
                        [story.title, now],
                    ).lastrowid
                try:
                    story_id = conn.execute(
                        """
                        INSERT INTO stories (cluster_id, source, url, canonical_url, guid, title,
                                             summary, body, published_at, fetched_at, language,
                                             content_hash, backdated, extract_error)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            cluster_id,
                            story.source,
                            story.url,
                            url,
                            story.guid,
                            story.title,
                            story.summary,
                            story.body,
                            isoformat(story.published_at),
                            isoformat(story.fetched_at),
                            story.language,
                            content_hash,
                            int(backdated),
                            story.extract_error,
                        ],
                    ).lastrowid
                except sqlite3.IntegrityError as exc:
                    raise _AlreadyStored from exc
                story_id = story_id or 0
                self._unindexed.append(story_id)
                clusters.add_signature(conn, self._bands, story_id, signature, new=True)
                return self._save_hits(story_id, cluster_id or 0, hits, routes, now)
        except _AlreadyStored:
            # Stored meanwhile under the same URL or guid (another feed in the same cycle).
            return []

    def _save_hits(
        self,
        story_id: int,
        cluster_id: int,
        hits: Iterable[Hit],
        routes: dict[str, list[tuple[str, str]]],
        now: str,
    ) -> list[int]:
        """The hits and deliveries of ``save``, inside its transaction."""
        conn = self.conn
        hit_ids = []
        deliveries = []
        for hit in hits:
            cursor = conn.execute(
                "INSERT INTO hits (rule, rule_title, story_id, cluster_id, severity, matches, "
                "matched_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (cluster_id, rule) DO NOTHING",
                [
                    hit.rule.id,
                    hit.rule.title,
                    story_id,
                    cluster_id,
                    # Rules gain a severity in a later change; until then every hit is normal.
                    getattr(hit.rule, "severity", "normal"),
                    matches_to_json(hit.matches),
                    now,
                ],
            )
            if not cursor.rowcount:
                continue
            hit_id = int(cursor.lastrowid or 0)
            hit_ids.append(hit_id)
            deliveries += [
                (hit_id, ch, target, now, now) for ch, target in routes.get(hit.rule.id, [])
            ]
        if deliveries:
            conn.executemany(
                "INSERT INTO deliveries (hit_id, channel, target, status, attempts, "
                "created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                deliveries,
            )
        return hit_ids

    # Deliveries --------------------------------------------------------------

    def pending_deliveries(self, channels: Iterable[str] | None = None) -> list[PendingDelivery]:
        """Deliveries still to send, oldest first."""
        rows = self.conn.execute(
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
        with immediate(self.conn):
            self.conn.execute(
                "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                "updated_at = ?, last_error = NULL WHERE id = ?",
                [now, now, delivery_id],
            )

    def mark_failed(self, delivery_id: int, error: str, permanent: bool) -> None:
        """Record a failed attempt; a permanent failure stops retries, others stay pending."""
        with immediate(self.conn):
            self.conn.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_error = ?, "
                "updated_at = ? WHERE id = ?",
                ["failed" if permanent else "pending", error, isoformat(utcnow()), delivery_id],
            )

    # History -----------------------------------------------------------------

    def hits(self, query: HitQuery | None = None) -> list[dict[str, Any]]:
        """Stored hits, newest first, in the shape `monitor hits --format json` prints.

        Raises ValueError for a malformed full-text ``query.search``.
        """
        return queries.list_hits(self.conn, query or HitQuery())

    def export(self, query: HitQuery) -> Iterator[dict[str, Any]]:
        """Every hit matching ``query`` (its limit ignored), oldest first, streamed."""
        return queries.export_hits(self.conn, query)

    def hit(self, hit_id: int) -> dict[str, Any] | None:
        """One hit in full (story text, other outlets, deliveries), or None."""
        return queries.hit_detail(self.conn, hit_id)

    def stats(self, since: date, until: date) -> Stats:
        """Hits per rule per day, top sources and delivery outcomes, UTC days inclusive."""
        return stats.read_stats(self.conn, since, until)

    def prune(
        self,
        retention_days: int,
        keep_hits: bool = True,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> PruneReport:
        """Apply the retention policy (the daemon runs this daily; `monitor prune` by hand).

        Deletes stories older than ``retention_days`` that no hit needs, clears
        the bodies of the old stories that stay, and with ``keep_hits=False``
        deletes old hits and their deliveries first. ``dry_run`` only counts.
        """
        self._index_new_stories()  # the delete trigger needs them indexed (inside a batch)
        try:
            return retention.prune(self.conn, retention_days, keep_hits, dry_run, now)
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"cannot prune {str(self.path)!r}: {exc}",
                hint="another process held the database for more than "
                f"{BUSY_TIMEOUT_MS // 1000} s; run `monitor prune` again",
            ) from exc

    # Replay (`monitor replay`) -------------------------------------------------

    def stories_since(
        self, since: datetime, after_id: int = 0, limit: int = 500
    ) -> list[tuple[int, int, Story]]:
        """Up to ``limit`` stories fetched since ``since`` with id > ``after_id``, by id.

        Each comes as (story id, cluster id, story); page on with the last id.
        The language is not stored, so it comes back empty.
        """
        rows = self.conn.execute(
            "SELECT id, cluster_id, source, url, guid, title, summary, body, published_at, "
            "fetched_at FROM stories WHERE fetched_at >= ? AND id > ? ORDER BY id LIMIT ?",
            [isoformat(since), after_id, limit],
        ).fetchall()
        return [
            (
                row[0],
                row[1],
                Story(
                    source=row[2],
                    url=row[3] or "",
                    guid=row[4],
                    title=row[5] or "",
                    summary=row[6] or "",
                    body=row[7] or "",
                    published_at=datetime.fromisoformat(row[8]),
                    fetched_at=datetime.fromisoformat(row[9]),
                ),
            )
            for row in rows
        ]

    def hit_keys(self, cluster_ids: Iterable[int]) -> set[tuple[int, str]]:
        """The (cluster id, rule id) pairs that already have a hit, among ``cluster_ids``."""
        ids = list(set(cluster_ids))
        found: set[tuple[int, str]] = set()
        for start in range(0, len(ids), 500):  # stay well under SQLite's variable limit
            chunk = ids[start : start + 500]
            found.update(
                self.conn.execute(
                    f"SELECT cluster_id, rule FROM hits WHERE cluster_id IN "
                    f"({', '.join('?' for _ in chunk)})",
                    chunk,
                ).fetchall()
            )
        return found

    def add_hits(self, hits: Iterable[tuple[int, int, Hit]]) -> int:
        """Store (story id, cluster id, hit) triples in one transaction, with NO deliveries.

        For replayed hits: they are history, not news, so no alert goes out.
        A rule's hit on a cluster that has one already is skipped, as in
        ``save``. Returns how many were stored.
        """
        now = isoformat(utcnow())
        stored = 0
        with immediate(self.conn):
            for story_id, cluster_id, hit in hits:
                stored += len(self._save_hits(story_id, cluster_id, [hit], {}, now))
        return stored
