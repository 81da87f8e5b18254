"""Source health: backoff that survives restarts, one ops alert when stale and one on recovery,
and `monitor sources`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from feedtext import Item, rss
from servers import FeedServer

from monitor.cli import cli
from monitor.config import HttpConfig, Settings, SourceConfig
from monitor.cycle import PollReport, poll_source
from monitor.log import subscribe
from monitor.matching.compiled import compile_rules
from monitor.sources.http import backoff_delay, build_client
from monitor.store import Store


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    unsubscribe = subscribe(lambda name, fields: seen.append((name, dict(fields))))
    yield seen
    unsubscribe()


def poll(db: Path, source: SourceConfig) -> PollReport:
    settings = Settings(
        path=db.parent / "monitor.toml",
        database=db,
        rules=db.parent / "rules",
        sources=(source,),
        http=HttpConfig(host_delay=0.0),
    )

    async def go() -> PollReport:
        store = Store.open(db)  # a new "process" each time: state must come from the file
        try:
            async with build_client("monitor-tests/1.0", settings.http) as client:
                return await poll_source(source, settings, compile_rules([]), store, client)
        finally:
            store.close()

    return asyncio.run(go())


def sql(db: Path, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    store = Store.open(db)
    try:
        return store.conn.execute(statement, params).fetchall()
    finally:
        store.close()


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    interval = timedelta(minutes=10)
    cap = timedelta(hours=6)

    assert backoff_delay(1, interval, cap) is None  # the first failure keeps the schedule
    for failures, full in ((2, 20), (3, 40), (4, 80)):
        delays = {backoff_delay(failures, interval, cap) for _ in range(20)}
        assert all(timedelta(minutes=full / 2) <= d <= timedelta(minutes=full) for d in delays)
        assert len(delays) > 1  # jittered
    assert backoff_delay(30, interval, cap) <= cap  # type: ignore[operator]


def test_backoff_survives_a_restart(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.route("/down", "oops", status=500, content_type="text/plain")
    db = tmp_path / "monitor.db"
    source = SourceConfig(name="down", url=feed_server.url("/down"))

    poll(db, source)
    poll(db, source)
    third = poll(db, source)  # a new Store and client: only the database remembers

    assert len(feed_server.requests_for("/down")) == 2
    assert not third.ok and "backing off after 2 failures" in (third.error or "")
    [(failures, next_attempt)] = sql(
        db, "SELECT consecutive_failures, next_attempt_at FROM sources WHERE name = 'down'"
    )
    assert failures == 2
    wait = datetime.fromisoformat(next_attempt) - datetime.now(UTC)
    assert timedelta(minutes=9) < wait <= timedelta(minutes=20)


def test_retry_after_sets_the_next_attempt(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.route("/busy", "busy", status=429, headers={"Retry-After": "3600"})
    db = tmp_path / "monitor.db"

    poll(db, SourceConfig(name="busy", url=feed_server.url("/busy")))

    [(next_attempt,)] = sql(db, "SELECT next_attempt_at FROM sources")
    wait = datetime.fromisoformat(next_attempt) - datetime.now(UTC)
    assert timedelta(minutes=59) < wait <= timedelta(hours=1)


def test_one_ops_alert_when_stale_and_one_on_recovery(
    feed_server: FeedServer,
    tmp_path: Path,
    events: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server.route("/flaky", "oops", status=503, content_type="text/plain")
    db = tmp_path / "monitor.db"
    source = SourceConfig(
        name="flaky", url=feed_server.url("/flaky"), stale_after=timedelta(hours=6)
    )

    def poll_now() -> None:
        sql(db, "UPDATE sources SET next_attempt_at = NULL")  # as if the backoff had passed
        poll(db, source)

    poll_now()
    sql(db, "UPDATE sources SET failing_since = '2020-01-01T00:00:00+00:00'")
    poll_now()
    poll_now()
    feed_server.route("/flaky", rss([Item("Back", "https://f.example/1")]))
    poll_now()
    poll_now()

    names = [name for name, _ in events if name in ("source_stale", "source_recovered")]
    assert names == ["source_stale", "source_recovered"]
    stale = next(fields for name, fields in events if name == "source_stale")
    assert stale["source"] == "flaky" and "HTTP 503" in stale["error"]
    printed = capsys.readouterr().out
    assert printed.count("[monitor] monitor: source flaky") == 2
    assert "has been failing since 2020-01-01" in printed and "flaky is back" in printed


def test_sources_command_lists_health(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.route("/good", rss([Item("A", "https://g.example/a")]))
    feed_server.route("/bad", "oops", status=500, content_type="text/plain")
    config = tmp_path / "monitor.toml"
    config.write_text(
        'database = "monitor.db"\n'
        f'[[sources]]\nname = "good"\nurl = "{feed_server.url("/good")}"\n'
        f'[[sources]]\nname = "bad"\nurl = "{feed_server.url("/bad")}"\n'
        f'[[sources]]\nname = "new"\nurl = "{feed_server.url("/new")}"\ntype = "sitemap"\n'
    )
    db = tmp_path / "monitor.db"
    poll(db, SourceConfig(name="good", url=feed_server.url("/good")))
    poll(db, SourceConfig(name="bad", url=feed_server.url("/bad")))

    result = CliRunner().invoke(cli, ["sources", "--config", str(config), "--format", "json"])

    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["good"]["status"] == 200 and rows["good"]["new_items"] == 1
    assert rows["good"]["failures"] == 0 and rows["good"]["last_error"] is None
    assert rows["bad"]["failures"] == 1 and "HTTP 500" in rows["bad"]["last_error"]
    assert rows["new"]["last_fetch_at"] is None and rows["new"]["type"] == "sitemap"
    assert all(row["next_run_at"] for row in rows.values())

    table = CliRunner().invoke(cli, ["sources", "--config", str(config)])
    assert table.exit_code == 0
    assert "never" in table.output and "HTTP 500" in table.output
