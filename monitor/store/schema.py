"""The schema, changed only through ordered migrations.

``PRAGMA user_version`` records how many migrations a database has had; at
open, the missing ones run in order, each in its own transaction, so an old
database is upgraded in place and never rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable

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


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_m1_initial,)


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this database has not had yet; returns the new version."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this monitor "
            f"({len(MIGRATIONS)}); upgrade monitor"
        )
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.conn:
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
