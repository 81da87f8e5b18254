"""What one poll logs: the real cycle against the local FeedServer and a real SQLite file."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feedtext import Item, rss
from servers import FeedServer
from test_clusters import QUAKE, QUAKE_TRIMMED, poll, rule, source

from monitor import dedupe
from monitor.cycle import Matched, store_stories
from monitor.models import Hit, Match, Story
from monitor.store import Store


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[tuple[int, dict[str, object]]]:
    return [
        (r.levelno, getattr(r, "fields", {}))
        for r in caplog.records
        if r.name == "monitor" and r.getMessage() == name
    ]


def test_only_stored_hits_log_hit_and_a_syndicated_copy_logs_hit_suppressed(
    feed_server: FeedServer, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="monitor")
    feed_server.route(
        "/wire", rss([Item("Strong quake hits Japan", "https://wire.example/q", QUAKE)])
    )
    copy = Item("Tsunami warning after Japan earthquake", "https://paper.example/q", QUAKE_TRIMMED)
    feed_server.route("/paper", rss([copy]))
    rules = [rule("quake", "earthquake"), rule("tsunami", "tsunami warning")]

    poll(store, tmp_path, source(feed_server, "wire"), rules)
    wire_hits = events(caplog, "hit")
    caplog.clear()
    paper = poll(store, tmp_path, source(feed_server, "paper"), rules)

    assert sorted(str(fields["rule"]) for _, fields in wire_hits) == ["quake", "tsunami"]
    assert paper.new_hits == 0
    assert events(caplog, "hit") == []  # nothing stored, nothing alerted: no `hit`
    suppressed = events(caplog, "hit_suppressed")
    cluster = store.conn.execute("SELECT cluster_id FROM stories WHERE source = 'wire'").fetchone()
    assert sorted(str(fields["rule"]) for _, fields in suppressed) == ["quake", "tsunami"]
    assert {(level, fields["cluster"], fields["source"]) for level, fields in suppressed} == {
        (logging.DEBUG, cluster[0], "paper")
    }


def test_an_update_logs_hit_for_the_new_rule_and_hit_suppressed_for_the_old_one(
    feed_server: FeedServer, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="monitor")
    url = "https://news.example.org/port"
    feed_server.route("/news", rss([Item("Port closes", url, "The port closed at dawn.")]))
    rules = [rule("port", "port"), rule("strike", "dock strike")]
    poll(store, tmp_path, source(feed_server, "news"), rules)
    feed_server.route(
        "/news", rss([Item("Port closes", url, "The port closed at dawn as a dock strike began.")])
    )
    caplog.clear()

    updated = poll(store, tmp_path, source(feed_server, "news"), rules)

    (cluster,) = store.conn.execute("SELECT cluster_id FROM stories").fetchone()
    assert (updated.new_stories, updated.new_hits) == (0, 1)
    assert [fields["rule"] for _, fields in events(caplog, "hit")] == ["strike"]
    assert [
        (fields["rule"], fields["cluster"]) for _, fields in events(caplog, "hit_suppressed")
    ] == [("port", cluster)]


def test_a_story_another_feed_stored_first_in_the_cycle_counts_for_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Both feeds looked the story up before either stored it (full-text fetches
    # run in between); the second to store it finds it taken.
    caplog.set_level(logging.DEBUG, logger="monitor")
    now = datetime.now(UTC)
    quake = rule("quake", "earthquake")
    first = Story("wire", "https://news.example/q", "wire:q", "Quake", QUAKE, "", now, now)
    copy = replace(first, source="paper", guid="paper:q")  # the same canonical URL
    routes = {"quake": [("slack", "#desk")]}
    match = (Match("phrase", "earthquake", "earthquake", "summary", 4, 14),)

    def matched(story: Story) -> list[Matched]:
        sig = dedupe.signature(story.summary)
        return [(story, None, "digest", False, [Hit(quake, story, match)], sig)]

    assert store_stories(store, "wire", matched(first), routes) == (1, 1)
    caplog.clear()

    assert store_stories(store, "paper", matched(copy), routes) == (0, 0)
    assert events(caplog, "hit") == [] and events(caplog, "hit_suppressed") == []
    assert store.conn.execute("SELECT source FROM stories").fetchall() == [("wire",)]
    assert store.conn.execute("SELECT count(*) FROM clusters").fetchone()[0] == 1


def test_another_feeds_copy_of_a_stored_story_is_seen_not_swapped_in(
    feed_server: FeedServer, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Two feeds carry one article (the same link, tracking parameters aside) with their
    # own text. The first stored wins; the other is a second sighting, on every poll.
    caplog.set_level(logging.DEBUG, logger="monitor")
    url = "https://news.example.org/world/port-talks"
    world = Item("Port talks resume", url, "Officials met at the port on Monday.")
    wire = Item("Port talks resume", url + "?utm_source=wire", "Officials met. Talks go on.")
    feed_server.route("/world", rss([world]))
    feed_server.route("/wire", rss([wire]))
    rules = [rule("port", "port")]

    reports = [
        poll(store, tmp_path, source(feed_server, name), rules)
        for name in ("world", "wire", "world")
    ]
    late_rule = [*rules, rule("talks", "talks go on")]  # added later, e.g. by a reload
    reports += [poll(store, tmp_path, source(feed_server, "wire"), late_rule)]

    assert [(r.new_stories, r.new_hits) for r in reports] == [(1, 1), (0, 0), (0, 0), (0, 0)]
    assert events(caplog, "story_updated") == []
    (summary,) = store.conn.execute("SELECT summary FROM stories").fetchone()
    assert summary == "Officials met at the port on Monday."  # the stored copy's text stays
    assert [fields["rule"] for _, fields in events(caplog, "hit")] == ["port"]
