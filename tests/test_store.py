"""The hit history store: migrations, indexes, counts, retention, on real temp SQLite files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from monitor.datasette import metadata_for
from monitor.errors import StoreError
from monitor.models import Hit, Match, Rule, Story
from monitor.store import Saved, Store, outbox
from monitor.store.queries import HitQuery, list_sql
from monitor.store.schema import MIGRATIONS

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SYRIA = Rule(id="syria", title="Syria bases", path="syria.yaml", severity="high")
ENERGY = Rule(id="energy", title="Ukraine energy", path="energy.yaml")
ROUTES = {"syria": [("slack", "#desk"), ("email", "a@example.org")], "energy": [("slack", "#e")]}


def story(n: int, source: str = "world", title: str = "", body: str = "") -> Story:
    return Story(
        source=source,
        url=f"https://news.example.org/{n}",
        guid=f"urn:test:{n}",
        title=title or f"Story {n}",
        summary=f"Summary of story {n}.",
        body=body,
        published_at=NOW - timedelta(hours=1),
        fetched_at=NOW,
    )


def hit(rule: Rule, of: Story, term: str = "Assad") -> Hit:
    start = of.title.find(term)
    return Hit(rule, of, (Match("entity", term, term, "title", start, start + len(term)),))


def plan(store: Store, sql: str, params: list[object]) -> str:
    return "\n".join(row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "monitor.db")
    yield opened
    opened.close()


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO stories (source, url, canonical_url, guid, title, summary, body, "
        "published_at, fetched_at) VALUES ('world', 'u', 'https://x.org/u', 'g', "
        "'Assad meets envoy', 's', 'b', '2026-11-01T09:00:00+00:00', '2026-11-01T10:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO hits (rule, rule_title, story_id, matches, matched_at) "
        "VALUES ('syria', 'Syria', 1, '[]', '2026-11-01T10:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO deliveries (hit_id, channel, target, status, attempts, created_at) "
        "VALUES (1, 'slack', '#desk', 'sent', 1, '2026-11-01T10:00:00+00:00')"
    )
    conn.close()

    store = Store.open(path)

    conn = store.conn
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT id, cluster_id, source, title FROM stories").fetchall() == [
        (1, 1, "world", "Assad meets envoy")
    ]
    assert conn.execute("SELECT id, cluster_id, severity FROM hits").fetchall() == [
        (1, 1, "normal")
    ]
    assert conn.execute("SELECT name FROM sources").fetchall() == [("world",)]
    assert store.hits(HitQuery(search="assad"))[0]["id"] == 1
    assert conn.execute("SELECT * FROM daily_hits_by_rule").fetchall() == [
        ("2026-11-01", "syria", 1)
    ]
    assert conn.execute("SELECT * FROM daily_deliveries").fetchall() == [
        ("2026-11-01", "slack", "sent", 1)
    ]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    store.close()


def test_the_database_works_with_sqlite_utils_and_datasette(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 32000
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == -64_000  # KiB: a poll's pages
    db = sqlite_utils.Database(str(store.path))
    assert {"sources", "clusters", "stories", "hits", "deliveries"} <= set(db.table_names())
    assert db.table("stories").detect_fts() == "stories_fts"
    declared = {
        (fk.table, fk.column, fk.other_table)
        for table in ("stories", "hits", "deliveries")
        for fk in db.table(table).foreign_keys
    }
    assert {
        ("stories", "cluster_id", "clusters"),
        ("stories", "source", "sources"),
        ("hits", "story_id", "stories"),
        ("hits", "cluster_id", "clusters"),
        ("deliveries", "hit_id", "hits"),
    } <= declared


def test_every_canned_datasette_query_runs(store: Store) -> None:
    store.save(story(1, title="Assad meets envoy"), [hit(SYRIA, story(1))], ROUTES)
    queries = metadata_for(Path("history.db"))["databases"]["history"]["queries"]

    assert {"latest_hits", "hits_by_rule", "failed_deliveries"} <= set(queries)
    for name, query in queries.items():
        store.conn.execute(query["sql"], {"rule": "syria"}).fetchall()  # raises if broken
        assert query["title"], name


@pytest.mark.parametrize(
    "query",
    [
        HitQuery(),
        HitQuery(rules=("syria",), since=NOW),
        HitQuery(rules=("syria", "energy"), since=NOW),
        HitQuery(since=NOW, until=NOW),
        HitQuery(severities=("high",)),
        HitQuery(sources=("world",)),
        HitQuery(published_since=NOW),
        HitQuery(search="Assad"),
    ],
)
def test_every_hits_filter_is_backed_by_an_index(store: Store, query: HitQuery) -> None:
    steps = plan(store, *list_sql(query))

    # "SCAN h" alone would read every hit; "SCAN h USING INDEX" walks an index in order,
    # "SCAN stories_fts VIRTUAL TABLE INDEX 0:M..." is the full-text MATCH and
    # "SCAN picked" reads the (at most --limit) ids picked in the first step.
    bare_scans = [
        line
        for line in steps.splitlines()
        if line.startswith("SCAN")
        and "USING" not in line
        and "VIRTUAL TABLE" not in line
        and line != "SCAN picked"
    ]
    assert bare_scans == [], steps


def test_known_story_lookups_use_the_indexes(store: Store) -> None:
    assert "SCAN" not in plan(
        store,
        "SELECT 1 FROM stories WHERE guid = ? UNION ALL "
        "SELECT 1 FROM stories WHERE canonical_url = ? AND canonical_url != '' LIMIT 1",
        ["g", "u"],
    )
    first = story(1)
    store.save(first, [], {})
    assert store.is_known(first)
    assert store.is_known(replace(first, guid="other"))  # the same canonical URL
    assert not store.is_known(story(2))


def test_save_stores_story_hits_and_deliveries_in_one_transaction(store: Store) -> None:
    first = story(1, title="Assad meets envoy")
    # A rule routed twice to the same place breaks the deliveries' unique index
    # after the story and its hit were written: nothing of it may stay.
    broken = {"syria": [("slack", "#desk"), ("slack", "#desk")]}

    with pytest.raises(sqlite3.IntegrityError):
        store.save(first, [hit(SYRIA, first)], broken)

    assert not store.is_known(first)
    assert store.conn.execute("SELECT count(*) FROM hits").fetchone()[0] == 0
    saved = store.save(first, [hit(SYRIA, first)], ROUTES)
    assert saved.story_id == 1 and list(saved.hits) == ["syria"]
    again = store.save(first, [hit(SYRIA, first)], ROUTES)
    assert (again.story_id, again.hits) == (None, {})  # already stored


def test_a_rule_hits_a_cluster_once(store: Store) -> None:
    first, copy = story(1, title="Assad meets envoy"), story(2, "wire", "Assad meets envoy")
    store.save(first, [hit(SYRIA, first)], ROUTES)
    cluster = store.conn.execute("SELECT cluster_id FROM stories WHERE id = 1").fetchone()[0]

    saved = store.save(copy, [hit(SYRIA, copy), hit(ENERGY, copy)], ROUTES, cluster_id=cluster)

    rows = store.conn.execute("SELECT rule, story_id, cluster_id FROM hits ORDER BY id").fetchall()
    assert rows == [("syria", 1, cluster), ("energy", 2, cluster)]
    assert (saved.story_id, saved.cluster_id, saved.hits) == (2, cluster, {"energy": 2})
    assert store.hit(1)["outlets"][0]["source"] == "wire"  # type: ignore[index]


def test_an_update_says_which_rules_it_stored_and_keeps_the_stored_source(store: Store) -> None:
    first = story(1, title="Assad meets envoy")
    store.save(first, [hit(SYRIA, first)], ROUTES)
    known = store.known(replace(first, source="wire"))  # the same URL, from another feed
    assert known is not None and known.source == "world"
    changed = replace(first, source="wire", title="Assad meets envoy on energy")

    saved = store.update(
        known, changed, "changed", [hit(SYRIA, changed), hit(ENERGY, changed)], ROUTES
    )

    assert saved == Saved(1, 1, {"energy": 2})
    assert store.conn.execute("SELECT source FROM stories").fetchall() == [("world",)]
    assert store.conn.execute("SELECT source, hits FROM daily_hits_by_source").fetchall() == [
        ("world", 2)
    ]


def test_a_batch_is_one_transaction_and_a_duplicate_skips_only_itself(store: Store) -> None:
    with store.batch():
        store.save(story(1), [], {})
        assert store.save(story(1), [], {}).story_id is None
        store.save(story(2), [], {})
        assert store.conn.in_transaction

    assert not store.conn.in_transaction
    assert store.conn.execute("SELECT count(*) FROM stories").fetchone()[0] == 2


def search(store: Store, text: str) -> list[str]:
    return [
        row[0]
        for row in store.conn.execute(
            "SELECT s.guid FROM stories_fts f JOIN stories s ON s.id = f.rowid "
            "WHERE stories_fts MATCH ? ORDER BY s.id",
            [text],
        )
    ]


def test_a_batch_is_searchable_once_it_ends(store: Store) -> None:
    with store.batch():
        store.save(story(1, title="Assad meets envoy"), [], {})
        assert store.save(story(1, title="Assad meets envoy"), [], {}).story_id is None
        assert search(store, "Assad") == []
        store.save(story(3, title="Assad in Moscow"), [], {})

    assert search(store, "Assad") == ["urn:test:1", "urn:test:3"]
    store.conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('integrity-check')")


def test_a_failed_save_spoils_its_batch_even_when_caught(store: Store) -> None:
    store.save(story(1, title="Assad meets envoy"), [hit(SYRIA, story(1))], ROUTES)
    before = _recount(store)
    broken = {"syria": [("slack", "#desk"), ("slack", "#desk")]}

    with pytest.raises(StoreError, match="UNIQUE constraint failed") as raised, store.batch():
        store.save(story(2, title="Assad again"), [hit(SYRIA, story(2))], ROUTES)
        failing = story(3, title="Assad in Moscow")
        with pytest.raises(sqlite3.IntegrityError):
            store.save(failing, [hit(SYRIA, failing)], broken)  # its story and hit are in
        store.save(story(4, title="Assad in Geneva"), [], {})

    assert isinstance(raised.value.__cause__, sqlite3.IntegrityError)
    assert not store.conn.in_transaction
    assert store.conn.execute("SELECT guid FROM stories").fetchall() == [("urn:test:1",)]
    assert store.conn.execute("SELECT count(*) FROM clusters").fetchone()[0] == 1
    assert search(store, "Assad") == ["urn:test:1"]
    assert _recount(store) == before
    store.conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('integrity-check')")
    with store.batch():  # the next batch is not spoiled
        store.save(story(2, title="Assad again"), [hit(SYRIA, story(2))], ROUTES)
    assert search(store, "Assad") == ["urn:test:1", "urn:test:2"]


def test_a_duplicate_in_a_batch_leaves_no_cluster_behind(store: Store) -> None:
    with store.batch():
        store.save(story(1), [], {})
        assert store.save(replace(story(1), guid="other"), [], {}).story_id is None  # same URL
        assert store.save(replace(story(2), guid="urn:test:1"), [], {}).story_id is None  # guid

    assert store.conn.execute("SELECT id FROM clusters").fetchall() == [(1,)]


def test_a_story_updated_in_the_batch_that_stored_it_is_indexed_once(store: Store) -> None:
    first = story(1, title="Assad meets envoy")
    with store.batch():
        store.save(first, [], {})
        known = store.known(first)
        assert known is not None
        store.update(known, replace(first, title="Putin meets envoy"), "changed", [], {})

    assert search(store, "Assad") == [] and search(store, "Putin") == ["urn:test:1"]
    store.conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('integrity-check')")


def test_a_rolled_back_batch_leaves_nothing_to_index(store: Store) -> None:
    with pytest.raises(RuntimeError), store.batch():
        store.save(story(1, title="Assad meets envoy"), [], {})
        raise RuntimeError("poll failed")
    store.save(story(2, title="Assad again"), [], {})

    assert search(store, "Assad") == ["urn:test:2"]
    store.conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('integrity-check')")


def test_hits_carry_the_rule_severity_and_filter_on_it(store: Store) -> None:
    a, b = story(1, title="Assad meets envoy"), story(2, title="Assad again")
    store.save(a, [hit(SYRIA, a)], ROUTES)
    store.save(b, [hit(ENERGY, b)], ROUTES)

    assert [h["rule"] for h in store.hits(HitQuery(severities=("high",)))] == ["syria"]
    assert [h["severity"] for h in store.hits()] == ["normal", "high"]


def test_a_malformed_search_is_a_value_error(store: Store) -> None:
    with pytest.raises(ValueError, match="not a valid full-text query"):
        store.hits(HitQuery(search='"unclosed'))


def _recount(store: Store) -> tuple[list[list[tuple[object, ...]]], ...]:
    """The per-day tables as the triggers kept them, and as a fresh GROUP BY says."""
    conn = store.conn
    kept = [
        conn.execute(f"SELECT * FROM {table} WHERE {column} != 0 ORDER BY 1, 2, 3").fetchall()
        for table, column in (
            ("daily_hits_by_rule", "hits"),
            ("daily_hits_by_source", "hits"),
            ("daily_deliveries", "deliveries"),
        )
    ]
    fresh = [
        conn.execute(sql).fetchall()
        for sql in (
            "SELECT substr(matched_at, 1, 10), rule, count(*) FROM hits "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            "SELECT substr(matched_at, 1, 10), source, count(*) FROM hits "
            "JOIN stories ON stories.id = story_id GROUP BY 1, 2 ORDER BY 1, 2",
            "SELECT substr(created_at, 1, 10), channel, status, count(*) FROM deliveries "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
    ]
    return kept, fresh


def _pending_ids(store: Store) -> list[int]:
    """The ids of the deliveries still pending, oldest first."""
    return [
        row[0]
        for row in store.conn.execute(
            "SELECT id FROM deliveries WHERE status = 'pending' ORDER BY id"
        )
    ]


def test_the_daily_counts_stay_exact(store: Store) -> None:
    for n in range(1, 5):
        s = story(n, "world" if n % 2 else "wire", title="Assad meets envoy")
        store.save(s, [hit(SYRIA, s), hit(ENERGY, s)], ROUTES)
    pending, now = _pending_ids(store), datetime.now(UTC)
    outbox.mark_sent(store.conn, pending[:1], now)
    outbox.mark_retry(store.conn, pending[1:2], "HTTP 500", now, now)  # stays pending
    outbox.mark_failed(store.conn, pending[2:3], "bad token", now)

    kept, fresh = _recount(store)
    assert kept == fresh
    assert kept[2] and all(row[-1] > 0 for row in kept[2])

    store.prune(retention_days=1, keep_hits=False, now=datetime.now(UTC) + timedelta(days=30))

    assert _recount(store) == ([[], [], []], [[], [], []])


def test_the_daily_counts_stay_exact_through_batches_updates_replays_and_rollbacks(
    store: Store,
) -> None:
    first, copy = story(1, "world", "Assad meets envoy"), story(2, "wire", "Assad meets envoy")
    with store.batch():
        store.save(first, [hit(SYRIA, first)], ROUTES)
        # A copy from another feed joins the cluster: only the rule new to it counts.
        store.save(copy, [hit(SYRIA, copy), hit(ENERGY, copy)], ROUTES, cluster_id=1)
        # An update found under the first story's URL counts under the stored source.
        known = store.known(replace(first, source="wire"))
        assert known is not None
        store.update(known, replace(first, source="wire", title="Assad"), "new", [], ROUTES)
        # a status change mid-batch
        outbox.mark_sent(store.conn, _pending_ids(store)[:1], datetime.now(UTC))
    with pytest.raises(RuntimeError), store.batch():
        store.save(story(3, title="Assad again"), [hit(SYRIA, story(3))], ROUTES)
        raise RuntimeError("poll failed")
    third = story(4, "world", "Assad in Moscow")
    store.save(third, [], {})
    stored = store.known(third)
    assert stored is not None
    replayed = [(stored.story_id, stored.cluster_id, hit(ENERGY, third))]
    assert store.add_hits(replayed) == 1  # no deliveries: history, not news

    kept, fresh = _recount(store)
    assert kept == fresh
    assert kept[0] == [(fresh[0][0][0], "energy", 2), (fresh[0][0][0], "syria", 1)]
    with store.batch():  # retention inside a batch sees this batch's rows counted
        store.save(story(5, title="Assad"), [hit(SYRIA, story(5))], ROUTES)
        store.prune(retention_days=1, keep_hits=False, now=datetime.now(UTC) + timedelta(days=30))
    assert _recount(store) == ([[], [], []], [[], [], []])


def test_a_version_9_database_is_upgraded_to_count_new_rows_in_the_store(tmp_path: Path) -> None:
    path = tmp_path / "v9.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migration in MIGRATIONS[:9]:
        migration(db)
    conn.execute("PRAGMA user_version = 9")
    conn.execute("INSERT INTO sources (name) VALUES ('world')")
    conn.execute("INSERT INTO clusters (id, title, first_seen_at) VALUES (1, 't', 'now')")
    conn.execute(
        "INSERT INTO stories (cluster_id, source, guid, published_at, fetched_at) "
        "VALUES (1, 'world', 'g', '2026-11-01T09:00:00+00:00', '2026-11-01T10:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO hits (rule, story_id, cluster_id, matched_at) "
        "VALUES ('syria', 1, 1, '2026-11-01T10:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO deliveries (hit_id, channel, target, created_at) "
        "VALUES (1, 'slack', '#desk', '2026-11-01T10:00:00+00:00')"
    )
    conn.close()

    store = Store.open(path)
    s = story(2, title="Assad meets envoy")
    store.save(s, [hit(SYRIA, s)], ROUTES)

    kept, fresh = _recount(store)
    assert kept == fresh and kept[0][0] == ("2026-11-01", "syria", 1)
    schema = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master")}
    assert {"hits_counted", "deliveries_counted", "idx_deliveries_attempt"} & schema == set()
    assert {"hits_uncounted", "deliveries_recounted", "deliveries_uncounted"} <= schema
    merges = "SELECT k, v FROM stories_fts_config WHERE k LIKE '%merge' ORDER BY k"
    assert store.conn.execute(merges).fetchall() == [("automerge", 16), ("crisismerge", 64)]
    store.close()


def test_stats_read_hits_per_rule_per_day_sources_and_deliveries(store: Store) -> None:
    for n in range(1, 4):
        s = story(n, "wire" if n == 1 else "world", title="Assad meets envoy")
        store.save(s, [hit(SYRIA, s)] + ([hit(ENERGY, s)] if n == 1 else []), ROUTES)
    pending, now = _pending_ids(store), datetime.now(UTC)
    for delivery_id in pending[:3]:
        outbox.mark_sent(store.conn, [delivery_id], now)
    outbox.mark_failed(store.conn, pending[3:4], "HTTP 500", now)
    today = datetime.now(UTC).date()

    stats = store.stats(today - timedelta(days=6), today).to_json()

    assert stats["days"][-1] == today.isoformat() and len(stats["days"]) == 7
    assert stats["hits_per_rule_per_day"] == [
        {"rule": "energy", "hits": 1, "per_day": [0] * 6 + [1]},
        {"rule": "syria", "hits": 3, "per_day": [0] * 6 + [3]},
    ]
    assert stats["top_sources"] == [{"source": "wire", "hits": 2}, {"source": "world", "hits": 2}]
    assert stats["deliveries"]["sent"] == 3
    assert stats["deliveries"]["failed"] == 1
    assert stats["deliveries"]["success_rate"] == 0.75
    assert stats["noisiest_rules"][0] == {
        "rule": "syria",
        "hits": 3,
        "share": 0.75,
        "peak_day": today.isoformat(),
        "peak_hits": 3,
    }


def _old(store: Store, story_ids: list[int], days: int) -> None:
    """Make stories (and their hits) look ``days`` old."""
    then = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    marks = ", ".join("?" for _ in story_ids)
    store.conn.execute(
        f"UPDATE stories SET fetched_at = ? WHERE id IN ({marks})", [then, *story_ids]
    )


def test_prune_keeps_hits_and_their_stories_without_the_body(store: Store) -> None:
    old_hit = story(1, title="Assad meets envoy", body="Long body about Assad.")
    old_plain, new_plain = story(2, body="Old body."), story(3, body="New body.")
    store.save(old_hit, [hit(SYRIA, old_hit)], ROUTES)
    store.save(old_plain, [], {})
    store.save(new_plain, [], {})
    _old(store, [1, 2], days=100)

    dry = store.prune(retention_days=90, dry_run=True)
    report = store.prune(retention_days=90)

    assert (dry.stories_deleted, dry.bodies_cleared, dry.clusters_deleted) == (1, 1, 1)
    assert (report.stories_deleted, report.bodies_cleared, report.clusters_deleted) == (1, 1, 1)
    assert report.hits_deleted == report.deliveries_deleted == 0
    rows = store.conn.execute("SELECT id, body FROM stories ORDER BY id").fetchall()
    assert rows == [(1, ""), (3, "New body.")]
    assert store.hit(1)["matches"]  # type: ignore[index]
    assert store.hits(HitQuery(search="Assad"))  # the title is still searchable
    assert not store.hits(HitQuery(search='"Long body"'))
    assert store.prune(retention_days=90).stories_deleted == 0  # nothing left to do


def test_prune_without_keep_hits_deletes_old_hits_and_deliveries(store: Store) -> None:
    old, new = story(1, title="Assad meets envoy"), story(2, title="Assad again")
    store.save(old, [hit(SYRIA, old)], ROUTES)
    store.save(new, [hit(SYRIA, new)], ROUTES)
    _old(store, [1], days=100)
    then = (datetime.now(UTC) - timedelta(days=100)).isoformat(timespec="seconds")
    store.conn.execute("UPDATE hits SET matched_at = ? WHERE story_id = 1", [then])

    dry = store.prune(retention_days=90, keep_hits=False, dry_run=True)
    report = store.prune(retention_days=90, keep_hits=False)

    expected = (1, 2, 1, 1)  # hits, deliveries, stories, clusters
    assert (
        dry.hits_deleted,
        dry.deliveries_deleted,
        dry.stories_deleted,
        dry.clusters_deleted,
    ) == expected
    got = (
        report.hits_deleted,
        report.deliveries_deleted,
        report.stories_deleted,
        report.clusters_deleted,
    )
    assert got == expected
    assert [h["story_id"] for h in store.hits()] == [2]
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_json_matches_round_trip_unchanged(store: Store) -> None:
    s = story(1, title="Assad meets envoy")
    store.save(s, [hit(SYRIA, s)], ROUTES)

    (row,) = store.hits()

    assert row["matches"] == [
        {
            "kind": "entity",
            "term": "Assad",
            "text": "Assad",
            "field": "title",
            "start": 0,
            "end": 5,
            "score": 100.0,
        }
    ]
    assert json.loads(json.dumps(row)) == row


def test_the_outbox_lookups_of_earlier_messages_use_an_index(store: Store) -> None:
    s = story(1, title="Assad meets envoy")
    store.save(s, [hit(SYRIA, s)], ROUTES)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    outbox.known_slack_channel(store.conn, "#desk")
    outbox.last_message(store.conn, "syria", "slack", "#desk", NOW)
    outbox.recent_messages(store.conn, "slack", "#desk", NOW)
    store.conn.set_trace_callback(None)

    assert len(statements) == 3
    for sql in statements:
        steps = plan(store, sql, [])
        scans = [s for s in steps.splitlines() if s.startswith("SCAN") and "CONSTANT" not in s]
        assert scans == [], steps
