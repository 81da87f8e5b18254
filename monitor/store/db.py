"""Reads and writes of the SQLite store.

Every multi-row write (a story with its cluster, hits and their pending
deliveries) is one transaction, so a crash leaves either all of it or none of
it. The connection runs in autocommit mode and every write takes the lock up
front (``tx.immediate``), which is what lets the daemon write while `monitor
hits` and friends read, with no "database is locked" errors.

A transaction's new stories enter the full-text index, and its new hits and
deliveries the per-day counts, once, just before it commits (store/owed.py;
migrations 9 and 10), not row by row from triggers. Inside a ``batch`` (one
poll) a story is no savepoint of its own: a duplicate skips itself through
``ON CONFLICT DO NOTHING``, and any other failure rolls the batch back.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import StoreError
from monitor.models import Hit, Match, Story
from monitor.store import clusters, queries, retention, sources, stats
from monitor.store.owed import Owed
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
#: The page cache of a connection, at most (``PRAGMA cache_size``), in KiB.
CACHE_KIB = 64_000


# json.dumps(..., ensure_ascii=False) builds an encoder at every call.
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


@lru_cache(maxsize=2)
def _second(second: int) -> str:
    return isoformat(datetime.fromtimestamp(second, UTC))


def _stamp_now() -> str:
    """``isoformat(utcnow())``, worked out once a second (it is to the second anyway)."""
    return _second(int(time.time()))


def matches_to_json(matches: Iterable[Match]) -> str:
    # vars(), not dataclasses.asdict: asdict deep-copies every field, a third of
    # the Python time of storing a hit. The keys are the Match fields, in order.
    return _encode_json([vars(m) for m in matches])


def matches_from_json(text: str | None) -> tuple[Match, ...]:
    return tuple(Match(**item) for item in json.loads(text or "[]"))


@cache  # a story has a handful of hits: a few counts ever
def _hit_values(count: int) -> str:
    return ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * count)


# A poll's stories share their fetch time.
_fetched_at = lru_cache(maxsize=4)(isoformat)


@dataclass(frozen=True)
class Saved:
    """What a ``save`` or ``update`` stored, for the caller's counts and log events.

    ``story_id`` is None when the story was not stored: another feed stored
    it first (same guid or canonical URL). ``hits`` maps each rule whose hit
    was stored to the new hit's id; a rule that had hit the story's cluster
    already is not in it (its hit was suppressed).
    """

    story_id: int | None
    cluster_id: int | None
    hits: dict[str, int]


class Store:
    """The monitor database. Open one per thread; SQLite's WAL lets readers run beside us."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # What the open transaction owes before it commits, and how deep in our
        # own writes we are (see ``_write``).
        self._owed = Owed()
        self._depth = 0
        # The first error of a save inside the open batch, if any (see ``batch``).
        self._spoiled: BaseException | None = None
        # Sources known to have a row (committed): no per-story INSERT OR IGNORE.
        # Nothing deletes a source.
        self._sources: set[str] = set()
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
            # Checkpoint every 32,000 pages (128 MB of WAL), not 1,000: a poll's commit
            # writes a few hundred pages, most of them the same hot pages each time,
            # which a checkpoint copies (and syncs) once however often they were written.
            conn.execute("PRAGMA wal_autocheckpoint = 32000")
            # Statement and savepoint journals in memory, not temporary files: they
            # spill past 64 KiB, which one statement's index pages can exceed.
            conn.execute("PRAGMA temp_store = MEMORY")
            # A page cache of up to 64 MB, not 2 MB: a poll's transaction touches more
            # pages than 2 MB holds (the end of each index, one place per source and per
            # rule in others, the full-text segments), so they were read again from the
            # operating system at every poll. A 20,000-story cycle made 60,000-80,000
            # reads of 4 KB, now about 20,000 (docs/performance.md). Pages are cached
            # as they are read: a command that reads little uses little.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
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
        """Make the writes inside one transaction.

        A commit costs far more than a story's rows: storing one poll's new
        stories in one batch is what keeps a 20,000-story cycle within seconds.
        Keep awaits out of the block; the write lock is held until it ends.
        Full-text search sees the batch's stories once it ends.

        A story already stored (same guid or canonical URL) skips only itself.
        Any other failure of a ``save`` spoils the whole batch, even if the
        caller catches it: the batch then rolls back and raises StoreError, so
        no half-stored story is ever committed. (A savepoint per story would
        let the others go on, at about a tenth of a cycle's time.)
        """
        with self._write():
            yield
            if self._spoiled is not None:
                raise StoreError(
                    f"a story could not be stored ({self._spoiled}), so none of its "
                    "batch was: the whole batch is rolled back",
                    hint="the error above is the cause; the next poll stores these stories again",
                ) from self._spoiled

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction of ours (a savepoint inside another).

        The outermost one pays what it owes (store/owed.py: full-text entries
        and per-day counts of its new rows) before it commits. One that fails
        forgets what its rollback undoes: its share of what is owed and, if it
        changed the in-memory band index, that index (built again on next use).
        """
        outermost = self._depth == 0
        owed = self._owed
        mark, bands = owed.mark(), self._bands.version
        self._depth += 1
        try:
            with immediate(self.conn):
                if outermost:
                    self._spoiled = None
                    self._bands.begin()
                yield
                if outermost:
                    owed.pay(self.conn)
            if outermost:
                self._sources.update(owed.sources)
                owed.sources.clear()
        except BaseException:
            owed.rollback(mark)
            if self._bands.version != bands:
                self._bands.forget()
            raise
        finally:
            self._depth -= 1
            if outermost:
                self._spoiled = None
                self._bands.end()

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
        return self.known(story) is not None

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
    ) -> Saved:
        """Store an updated story's new text and the hits of rules that had not hit it yet."""
        now = utcnow()
        # The index's update trigger deletes the old text from the index: a story
        # of this batch must be in it first. Outside our savepoint, which may roll back.
        self._owed.index_stories(self.conn)
        with self._write():
            clusters.update_story(self.conn, known.story_id, story, content_hash, now)
            clusters.add_signature(self.conn, self._bands, known.story_id, signature)
            # Hits count under the stored story's source (the update may come from another feed).
            stored = self._save_hits(
                known.story_id, known.cluster_id, known.source, hits, routes, isoformat(now)
            )
        return Saved(known.story_id, known.cluster_id, stored)

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
    ) -> Saved:
        """Store a new story, its hits and one pending delivery per route, atomically.

        ``routes`` maps a rule id to its (channel, target) pairs. Returns what
        was stored; an already-known story stores nothing (``story_id`` None).
        The story starts its own cluster unless ``cluster_id`` names the one
        it is a copy of. A rule fires once per cluster: a hit on a cluster
        that already has one for the rule is not stored again. Atomic: its own
        transaction, or inside a ``batch`` all or nothing with the batch.
        """
        args = (story, hits, routes, cluster_id, signature, content_hash, backdated)
        if not self._depth:
            with self._write():
                return self._insert(*args)
        # Inside a batch, no savepoint per story (see ``batch``): a failure spoils the batch.
        try:
            return self._insert(*args)
        except BaseException as exc:
            self._spoiled = self._spoiled or exc
            raise

    def _insert(
        self,
        story: Story,
        hits: Iterable[Hit],
        routes: dict[str, list[tuple[str, str]]],
        cluster_id: int | None,
        signature: bytes | None,
        content_hash: str,
        backdated: bool,
    ) -> Saved:
        """The writes of ``save``, inside the caller's transaction."""
        now = _stamp_now()
        url = clusters.canonical_url(story.url) if story.url else ""
        conn = self.conn
        if story.source not in self._sources and story.source not in self._owed.sources:
            conn.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", [story.source])
            self._owed.sources.append(story.source)
        new_cluster = cluster_id is None
        if cluster_id is None:
            cluster_id = conn.execute(
                "INSERT INTO clusters (title, first_seen_at) VALUES (?, ?)", [story.title, now]
            ).lastrowid
        cursor = conn.execute(
            """
            INSERT INTO stories (cluster_id, source, url, canonical_url, guid, title, summary,
                                 body, published_at, fetched_at, language, content_hash,
                                 backdated, extract_error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
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
                _fetched_at(story.fetched_at),
                story.language,
                content_hash,
                int(backdated),
                story.extract_error,
            ],
        )
        if not cursor.rowcount:
            # Stored meanwhile under the same URL or guid (another feed in the same cycle):
            # only a unique index can say no here, and the new cluster goes again.
            if new_cluster:
                conn.execute("DELETE FROM clusters WHERE id = ?", [cluster_id])
            return Saved(None, None, {})
        story_id = cursor.lastrowid or 0
        self._owed.stories.append(story_id)
        clusters.add_signature(conn, self._bands, story_id, signature, new=True)
        stored = self._save_hits(story_id, cluster_id or 0, story.source, hits, routes, now)
        return Saved(story_id, cluster_id, stored)

    def _save_hits(
        self,
        story_id: int,
        cluster_id: int,
        source: str,
        hits: Iterable[Hit],
        routes: dict[str, list[tuple[str, str]]],
        now: str,
    ) -> dict[str, int]:
        """The hits and deliveries of ``save``, inside its transaction: rule -> new hit id.

        ``source`` is the stored story's, for the per-day counts.
        """
        rows = [
            (
                hit.rule.id,
                hit.rule.title,
                story_id,
                cluster_id,
                # Rules gain a severity in a later change; until then every hit is normal.
                getattr(hit.rule, "severity", "normal"),
                matches_to_json(hit.matches),
                now,
            )
            for hit in hits
        ]
        if not rows:
            return {}
        # One statement for the story's hits: the ids come back by rule (a rule
        # hits a cluster once, so a rule's second hit is skipped like any other).
        stored = dict(
            self.conn.execute(
                "INSERT INTO hits (rule, rule_title, story_id, cluster_id, severity, matches, "
                f"matched_at) VALUES {_hit_values(len(rows))} "
                "ON CONFLICT (cluster_id, rule) DO NOTHING RETURNING rule, id",
                [value for row in rows for value in row],
            ).fetchall()
        )
        day = now[:10]  # what substr(matched_at, 1, 10) says
        hit_ids: dict[str, int] = {}
        deliveries = []
        for row in rows:
            hit_id = stored.pop(row[0], None)
            if hit_id is None:
                continue
            hit_ids[row[0]] = hit_id
            self._owed.hits.append((day, row[0], source))
            deliveries += [(hit_id, ch, target, now, now) for ch, target in routes.get(row[0], [])]
        if deliveries:
            self.conn.executemany(
                "INSERT INTO deliveries (hit_id, channel, target, status, attempts, "
                "created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                deliveries,
            )
            self._owed.deliveries += [(day, row[1]) for row in deliveries]
        return hit_ids

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
        # Inside a batch: the delete trigger needs them indexed, and retention drops
        # count rows that reach zero, which must not happen before they are counted.
        self._owed.pay(self.conn)
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
        ``save``. Returns how many were stored. Each hit's story is the stored
        one (a replay reads it back), so its source is the stored story's.
        """
        now = isoformat(utcnow())
        stored = 0
        with self._write():
            for story_id, cluster_id, hit in hits:
                found = self._save_hits(story_id, cluster_id, hit.story.source, [hit], {}, now)
                stored += len(found)
        return stored
