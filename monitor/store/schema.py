"""The schema, changed only through ordered migrations.

``PRAGMA user_version`` records how many migrations a database has had; at
open, the missing ones run in order, each in its own transaction, so an old
database is upgraded in place and never rebuilt. Append new migrations at the
end of ``MIGRATIONS``; never edit one that has shipped.

The tables, for readers with ``sqlite3``, sqlite-utils or Datasette::

    sources     one row per configured feed: conditional-GET state, last fetch,
                backoff (next_attempt_at) and health (failing_since)
    clusters    copies of one story across outlets (syndication)
    stories     one row per story; stories_fts indexes title, summary and body
    story_minhash
                each story's MinHash signature (syndication clusters; the band
                keys are indexed in memory, see store/bands.py)
    hits        one per rule and cluster; ``matches`` is the explanation (JSON)
    deliveries  one per hit and (channel, target): pending, held (until due_at),
                sending, sent, failed or skipped (see store/outbox.py)
    replies     "+1 outlet" thread replies under a posted Slack alert
    heartbeat   one row: the running daemon's pid, start, last beat and last poll
    daily_hits_by_rule, daily_hits_by_source, daily_deliveries
                per-day counts, so `monitor stats` reads a few hundred rows
                instead of every hit: the store adds new hits and deliveries
                as it commits them, triggers follow updates and deletions
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported for real only when a migration runs: it costs ~100 ms, which
    # every read-only command would otherwise pay at start.
    import sqlite_utils


def _m1_initial(db: sqlite_utils.Database) -> None:
    db.table("sources").create(
        {
            "name": str,
            "url": str,
            "etag": str,
            "last_modified": str,
            "last_fetch_at": str,
            "last_status": int,
            "last_error": str,
            "consecutive_failures": int,
            "new_items": int,
        },
        pk="name",
        defaults={"consecutive_failures": 0, "new_items": 0},
    )
    db.table("stories").create(
        {
            "id": int,
            "source": str,
            "url": str,
            "canonical_url": str,
            "guid": str,
            "title": str,
            "summary": str,
            "body": str,
            "published_at": str,
            "fetched_at": str,
        },
        pk="id",
        not_null={"source", "guid", "published_at", "fetched_at"},
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_stories_canonical_url ON stories(canonical_url) "
        "WHERE canonical_url != ''"
    )
    db.execute("CREATE UNIQUE INDEX idx_stories_guid ON stories(guid)")
    db.table("hits").create(
        {
            "id": int,
            "rule": str,
            "rule_title": str,
            "story_id": int,
            "matches": str,
            "matched_at": str,
        },
        pk="id",
        foreign_keys=[("story_id", "stories", "id")],
        not_null={"rule", "story_id", "matched_at"},
    )
    db.execute("CREATE UNIQUE INDEX idx_hits_rule_story ON hits(rule, story_id)")
    db.execute("CREATE INDEX idx_hits_matched_at ON hits(matched_at)")
    db.table("deliveries").create(
        {
            "id": int,
            "hit_id": int,
            "channel": str,
            "target": str,
            "status": str,
            "attempts": int,
            "last_error": str,
            "created_at": str,
            "updated_at": str,
            "sent_at": str,
        },
        pk="id",
        foreign_keys=[("hit_id", "hits", "id")],
        not_null={"hit_id", "channel", "target", "status"},
        defaults={"status": "pending", "attempts": 0},
    )
    db.execute("CREATE UNIQUE INDEX idx_deliveries_once ON deliveries(hit_id, channel, target)")
    db.execute("CREATE INDEX idx_deliveries_status ON deliveries(status)")


def _m2_clusters_and_severity(db: sqlite_utils.Database) -> None:
    """Clusters, a hit per rule and cluster, a severity per hit, declared foreign keys.

    Until syndication clustering lands every story is its own cluster; the
    stories already stored each get one, numbered like the story.
    """
    db.table("clusters").create(
        {"id": int, "title": str, "first_seen_at": str}, pk="id", not_null={"first_seen_at"}
    )
    db.execute(
        "INSERT INTO clusters (id, title, first_seen_at) SELECT id, title, fetched_at FROM stories"
    )
    # Every story's source becomes a row in sources, so the foreign key holds.
    db.execute("INSERT OR IGNORE INTO sources (name) SELECT DISTINCT source FROM stories")
    # SQLite cannot add a foreign key to an existing column: rebuild the table
    # (create, copy, drop, rename; migrate() turns foreign keys off meanwhile).
    db.table("stories_new").create(
        {
            "id": int,
            "cluster_id": int,
            "source": str,
            "url": str,
            "canonical_url": str,
            "guid": str,
            "title": str,
            "summary": str,
            "body": str,
            "published_at": str,
            "fetched_at": str,
        },
        pk="id",
        not_null={"cluster_id", "source", "guid", "published_at", "fetched_at"},
        foreign_keys=[("cluster_id", "clusters", "id"), ("source", "sources", "name")],
    )
    columns = "source, url, canonical_url, guid, title, summary, body, published_at, fetched_at"
    db.execute(
        f"INSERT INTO stories_new (id, cluster_id, {columns}) SELECT id, id, {columns} FROM stories"
    )
    db.execute("DROP TABLE stories")
    db.rename_table("stories_new", "stories")
    for sql in (
        "CREATE UNIQUE INDEX idx_stories_canonical_url ON stories(canonical_url) "
        "WHERE canonical_url != ''",
        "CREATE UNIQUE INDEX idx_stories_guid ON stories(guid)",
        "CREATE INDEX idx_stories_cluster ON stories(cluster_id)",
        "CREATE INDEX idx_stories_source_published_at ON stories(source, published_at)",
        "CREATE INDEX idx_stories_published_at ON stories(published_at)",
        "CREATE INDEX idx_stories_fetched_at ON stories(fetched_at)",
        # Retention clears bodies: only the stories that still have one are indexed.
        "CREATE INDEX idx_stories_body_kept ON stories(fetched_at) WHERE body != ''",
        "ALTER TABLE hits ADD COLUMN cluster_id INTEGER REFERENCES clusters(id)",
        "ALTER TABLE hits ADD COLUMN severity TEXT NOT NULL DEFAULT 'normal'",
        "UPDATE hits SET cluster_id = story_id",
        "DROP INDEX idx_hits_rule_story",
        # Cluster first: it also finds a cluster's hits (`hits show`, retention).
        "CREATE UNIQUE INDEX idx_hits_cluster_rule ON hits(cluster_id, rule)",
        # With matched_at, a search sorts its hits from the index alone.
        "CREATE INDEX idx_hits_story ON hits(story_id, matched_at)",
        "CREATE INDEX idx_hits_rule_matched_at ON hits(rule, matched_at)",
        "CREATE INDEX idx_hits_severity_matched_at ON hits(severity, matched_at)",
    ):
        db.execute(sql)


def _m3_full_text_search(db: sqlite_utils.Database) -> None:
    """FTS5 over the stories' title, summary and body, kept current by triggers.

    Written the way sqlite-utils' ``enable_fts`` writes it (``content=[stories]``,
    triggers ``stories_ai/_ad/_au``), so sqlite-utils and Datasette find the
    index; the update trigger fires only when an indexed column changes.
    """
    db.execute(
        "CREATE VIRTUAL TABLE [stories_fts] USING FTS5 (\n"
        "    [title], [summary], [body],\n"
        "    tokenize='unicode61 remove_diacritics 2',\n"
        "    content=[stories]\n)"
    )
    db.execute("INSERT INTO stories_fts (stories_fts) VALUES ('rebuild')")
    old = "old.rowid, old.title, old.summary, old.body"
    new = "new.rowid, new.title, new.summary, new.body"
    insert = f"INSERT INTO stories_fts (rowid, title, summary, body) VALUES ({new});"
    delete = (
        "INSERT INTO stories_fts (stories_fts, rowid, title, summary, body) "
        f"VALUES ('delete', {old});"
    )
    db.execute(f"CREATE TRIGGER stories_ai AFTER INSERT ON stories BEGIN {insert} END")
    db.execute(f"CREATE TRIGGER stories_ad AFTER DELETE ON stories BEGIN {delete} END")
    db.execute(
        "CREATE TRIGGER stories_au AFTER UPDATE OF title, summary, body ON stories "
        f"BEGIN {delete} {insert} END"
    )


#: Fill the per-day count tables from what is stored (migration 4; bulk loads).
DAILY_COUNTS_BACKFILL = (
    "INSERT INTO daily_hits_by_rule (day, rule, hits) "
    "SELECT substr(matched_at, 1, 10), rule, count(*) FROM hits GROUP BY 1, 2",
    "INSERT INTO daily_hits_by_source (day, source, hits) "
    "SELECT substr(h.matched_at, 1, 10), s.source, count(*) "
    "FROM hits h JOIN stories s ON s.id = h.story_id GROUP BY 1, 2",
    "INSERT INTO daily_deliveries (day, channel, status, deliveries) "
    "SELECT substr(created_at, 1, 10), channel, status, count(*) FROM deliveries "
    "GROUP BY 1, 2, 3",
)


def _m4_daily_counts(db: sqlite_utils.Database) -> None:
    """Per-day counts of hits (by rule, by source) and deliveries (by channel, status).

    Triggers keep them exact on every insert, delete and status change, so
    stats over months read a few hundred rows however many hits there are.
    A day is the UTC date of ``matched_at`` (hits) or ``created_at`` (deliveries).
    """
    db.table("daily_hits_by_rule").create(
        {"day": str, "rule": str, "hits": int}, pk=("day", "rule"), not_null={"hits"}
    )
    db.table("daily_hits_by_source").create(
        {"day": str, "source": str, "hits": int}, pk=("day", "source"), not_null={"hits"}
    )
    db.table("daily_deliveries").create(
        {"day": str, "channel": str, "status": str, "deliveries": int},
        pk=("day", "channel", "status"),
        not_null={"deliveries"},
    )
    for sql in DAILY_COUNTS_BACKFILL:
        db.execute(sql)

    def count_hit(ref: str, step: str) -> str:
        day = f"substr({ref}.matched_at, 1, 10)"
        return f"""
            INSERT INTO daily_hits_by_rule (day, rule, hits) VALUES ({day}, {ref}.rule, {step})
                ON CONFLICT (day, rule) DO UPDATE SET hits = hits + {step};
            INSERT INTO daily_hits_by_source (day, source, hits)
                SELECT {day}, source, {step} FROM stories WHERE id = {ref}.story_id
                ON CONFLICT (day, source) DO UPDATE SET hits = hits + {step};"""

    def count_delivery(ref: str, step: str) -> str:
        return f"""
            INSERT INTO daily_deliveries (day, channel, status, deliveries)
                VALUES (substr({ref}.created_at, 1, 10), {ref}.channel, {ref}.status, {step})
                ON CONFLICT (day, channel, status)
                DO UPDATE SET deliveries = deliveries + {step};"""

    for sql in (
        f"CREATE TRIGGER hits_counted AFTER INSERT ON hits BEGIN {count_hit('new', '1')} END",
        f"CREATE TRIGGER hits_uncounted AFTER DELETE ON hits BEGIN {count_hit('old', '-1')} END",
        "CREATE TRIGGER deliveries_counted AFTER INSERT ON deliveries "
        f"BEGIN {count_delivery('new', '1')} END",
        "CREATE TRIGGER deliveries_recounted AFTER UPDATE OF status ON deliveries "
        "WHEN old.status IS NOT new.status "
        f"BEGIN {count_delivery('old', '-1')} {count_delivery('new', '1')} END",
        "CREATE TRIGGER deliveries_uncounted AFTER DELETE ON deliveries "
        f"BEGIN {count_delivery('old', '-1')} END",
    ):
        db.execute(sql)


def _m5_heartbeat(db: sqlite_utils.Database) -> None:
    """One row (id 1) the running daemon keeps fresh; `monitor status` reads it."""
    db.execute(
        """
        CREATE TABLE heartbeat (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            version TEXT NOT NULL,
            config TEXT NOT NULL,
            started_at TEXT NOT NULL,
            beat_at TEXT NOT NULL,
            stopped_at TEXT,
            interval_seconds REAL NOT NULL,
            sources INTEGER NOT NULL,
            rules INTEGER NOT NULL,
            last_cycle_at TEXT
        )
        """
    )


def _m6_story_identity_and_source_health(db: sqlite_utils.Database) -> None:
    """Language, provenance and update tracking on stories; syndication signatures; backoff.

    ``story_minhash``/``story_bands`` hold each story's MinHash signature and
    its band keys (monitor/dedupe.py), so a copy of a story finds its cluster
    with one indexed lookup; both go with their story when retention deletes it.
    """
    for sql in (
        "ALTER TABLE stories ADD COLUMN language TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE stories ADD COLUMN content_hash TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE stories ADD COLUMN backdated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE stories ADD COLUMN extract_error TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE stories ADD COLUMN updated_at TEXT",
        "ALTER TABLE sources ADD COLUMN next_attempt_at TEXT",
        "ALTER TABLE sources ADD COLUMN failing_since TEXT",
        "ALTER TABLE sources ADD COLUMN last_success_at TEXT",
        "ALTER TABLE sources ADD COLUMN stale_alerted_at TEXT",
        """
        CREATE TABLE story_minhash (
            story_id INTEGER PRIMARY KEY REFERENCES stories(id) ON DELETE CASCADE,
            signature BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE story_bands (
            band INTEGER NOT NULL,
            story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE
        )
        """,
        "CREATE INDEX idx_story_bands_band ON story_bands(band)",
        "CREATE INDEX idx_story_bands_story ON story_bands(story_id)",
    ):
        db.execute(sql)


def _m7_outbox_scheduling(db: sqlite_utils.Database) -> None:
    """The outbox's bookkeeping (monitor/store/outbox.py): plans, attempts, receipts, replies.

    A delivery is planned once (``planned_at``): held until ``due_at`` in a
    ``batch`` (digest, cooldown, quiet hours, hourly cap), skipped (backfill),
    or due at once. Each send is claimed as ``sending`` with an ``attempt_id``
    in its own commit before the network call; ``in_doubt`` marks a claim a
    crash interrupted. ``slack_channel``/``slack_ts`` keep the posted message,
    for thread replies. Deliveries from before this migration count as planned.
    """
    for sql in (
        "ALTER TABLE deliveries ADD COLUMN planned_at TEXT",
        "ALTER TABLE deliveries ADD COLUMN due_at TEXT",
        "ALTER TABLE deliveries ADD COLUMN batch TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE deliveries ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE deliveries ADD COLUMN next_attempt_at TEXT",
        "ALTER TABLE deliveries ADD COLUMN attempt_id TEXT",
        "ALTER TABLE deliveries ADD COLUMN claimed_at TEXT",
        "ALTER TABLE deliveries ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE deliveries ADD COLUMN slack_channel TEXT",
        "ALTER TABLE deliveries ADD COLUMN slack_ts TEXT",
        "UPDATE deliveries SET planned_at = created_at",
        "CREATE INDEX idx_deliveries_unplanned ON deliveries(id) WHERE planned_at IS NULL",
        "CREATE INDEX idx_deliveries_target_sent ON deliveries(channel, target, sent_at)",
        "CREATE INDEX idx_deliveries_attempt ON deliveries(attempt_id)",
        # The few deliveries with a Slack thread, for "+1 outlet" replies.
        "CREATE INDEX idx_deliveries_thread ON deliveries(sent_at) WHERE slack_ts IS NOT NULL",
        """
        CREATE TABLE replies (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
            story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            slack_ts TEXT,
            UNIQUE (delivery_id, source)
        )
        """,
        "CREATE INDEX idx_replies_story ON replies(story_id)",
        "CREATE INDEX idx_replies_status ON replies(status)",
    ):
        db.execute(sql)


def _m8_band_keys_in_memory(db: sqlite_utils.Database) -> None:
    """``story_bands`` goes: the band keys are indexed in memory from ``story_minhash``.

    Every one of a story's 21 random keys was an index entry on a random page,
    so each story dirtied about fifteen pages that every commit wrote out, and
    the table kept the keys of every story ever stored though a lookup only
    wants the last 72 hours. store/bands.py builds the index from the
    signatures instead (``story_minhash`` is unchanged).
    """
    db.execute("DROP TABLE story_bands")


def _m9_full_text_index_filled_by_the_store(db: sqlite_utils.Database) -> None:
    """New stories enter ``stories_fts`` from the store, a transaction's worth at once.

    FTS5 writes out its pending terms as a new segment whenever a savepoint
    opens, and SQLite opens one for each story of a batch and for every
    statement that writes through a trigger: with the insert trigger, every
    story made an index segment of its own (and soon a merge). The store now
    indexes a transaction's new stories with one statement before it commits
    (see store/db.py). The update and delete triggers stay: they keep
    existing rows in step.
    """
    db.execute("DROP TRIGGER stories_ai")


def _m10_new_rows_counted_by_the_store(db: sqlite_utils.Database) -> None:
    """New hits and deliveries are counted per transaction; two outbox indexes shrink.

    The insert triggers of migration 4 ran two upserts for every hit (and a
    story lookup) and one for every delivery, and made SQLite open a
    statement journal for every such row. The store now adds a transaction's
    new rows to the per-day counts with one upsert per (day, key) just before
    it commits (see store/db.py); the update and delete triggers stay, so
    status changes, retention and hand deletions keep the counts exact.
    Adding is commutative, so the counts are exact at every commit.

    ``idx_deliveries_attempt`` served no query. ``idx_deliveries_target_sent``
    only ever answers questions about sent deliveries (``sent_at >= ?``,
    Slack channels of sent messages): it keeps those rows alone, so a new
    delivery is no entry in it. The full-text index merges its segments 16
    at a time instead of 4 (FTS5 ``automerge``, with ``crisismerge`` raised
    to match).
    """
    for sql in (
        "DROP TRIGGER hits_counted",
        "DROP TRIGGER deliveries_counted",
        "DROP INDEX idx_deliveries_attempt",
        "DROP INDEX idx_deliveries_target_sent",
        "CREATE INDEX idx_deliveries_target_sent ON deliveries(channel, target, sent_at) "
        "WHERE sent_at IS NOT NULL",
        # Each transaction adds a small segment to the full-text index; merging
        # 16 of them at a time instead of 4 rewrites each entry about half as often
        # (a search reads a few more segments, still in milliseconds). Those merges
        # stay incremental, a little work per write: only at 64 segments on one
        # level (not 16, which automerge would now reach first) does FTS5 merge a
        # whole level in one go (large segments: tens of seconds in one commit).
        "INSERT INTO stories_fts (stories_fts, rank) VALUES ('automerge', 16)",
        "INSERT INTO stories_fts (stories_fts, rank) VALUES ('crisismerge', 64)",
    ):
        db.execute(sql)


Migration = Callable[["sqlite_utils.Database"], None]

MIGRATIONS: tuple[Migration, ...] = (
    _m1_initial,
    _m2_clusters_and_severity,
    _m3_full_text_search,
    _m4_daily_counts,
    _m5_heartbeat,
    _m6_story_identity_and_source_health,
    _m7_outbox_scheduling,
    _m8_band_keys_in_memory,
    _m9_full_text_index_filled_by_the_store,
    _m10_new_rows_counted_by_the_store,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this database has not had yet; returns the new version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each
    migration runs in its own ``BEGIN IMMEDIATE`` transaction that re-reads the
    version first, so two processes starting at once upgrade the database once.
    Foreign keys are off while a migration rebuilds tables (SQLite's documented
    procedure) and checked with ``foreign_key_check`` before each commit.
    """
    version = _version(conn)
    if version == len(MIGRATIONS):
        return version
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = _version(conn)
                if version == len(MIGRATIONS):
                    conn.execute("COMMIT")
                    return version
                MIGRATIONS[version](db)
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"migration {version + 1} left {len(broken)} broken foreign key(s), "
                        f"first in table {broken[0][0]!r}"
                    )
                conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _version(conn: sqlite3.Connection) -> int:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this monitor "
            f"({len(MIGRATIONS)}); upgrade monitor"
        )
    return version
