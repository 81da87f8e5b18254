"""What one poll logs: the real cycle against the local FeedServer and a real SQLite file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from feedtext import Item, rss
from servers import FeedServer
from test_clusters import QUAKE, QUAKE_TRIMMED, poll, rule, source

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
