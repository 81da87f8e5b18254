"""Feed sources against a real local HTTP server: formats, caching, and feeds that misbehave."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedtext import HOUR_AGO, Item, atom, rss
from servers import FeedServer

from monitor.config import SourceConfig
from monitor.sources import FetchResult, SourceState, fetch_source
from monitor.sources.feed import parse_feed
from monitor.sources.http import build_client


def fetch(url: str, state: SourceState | None = None, timeout: float = 2.0) -> FetchResult:
    source = SourceConfig(name="test", url=url, timeout=timedelta(seconds=timeout))

    async def go() -> FetchResult:
        async with build_client("monitor-tests/1.0") as client:
            return await fetch_source(client, source, state or SourceState())

    return asyncio.run(go())


def test_rss_items_become_stories(feed_server: FeedServer) -> None:
    feed_server.route(
        "/rss",
        rss([Item("Port reopens", "https://news.example.org/port", "<p>Ships &amp; cranes</p>")]),
    )

    result = fetch(feed_server.url("/rss"))

    assert result.ok and result.status == 200
    [story] = result.stories
    assert (story.source, story.title, story.url) == (
        "test",
        "Port reopens",
        "https://news.example.org/port",
    )
    assert story.guid == "https://news.example.org/port"
    assert story.summary == "<p>Ships &amp; cranes</p>"  # markup is kept; matching strips it
    assert story.published_at == HOUR_AGO


def test_atom_dates_in_any_zone_are_normalised_to_utc(feed_server: FeedServer) -> None:
    feed_server.route(
        "/atom",
        atom(
            [
                Item(
                    "Markets open",
                    "https://markets.example.com/open",
                    date="2026-11-24T12:30:00+02:00",
                )
            ]
        ),
        content_type="application/atom+xml",
    )

    [story] = fetch(feed_server.url("/atom")).stories

    assert story.published_at == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def test_user_agent_is_sent(feed_server: FeedServer) -> None:
    feed_server.route("/rss", rss([]))

    fetch(feed_server.url("/rss"))

    assert feed_server.requests_for("/rss")[0].headers["user-agent"] == "monitor-tests/1.0"


def test_unchanged_feed_answers_304_and_yields_no_work(feed_server: FeedServer) -> None:
    feed_server.route("/rss", rss([Item("A", "https://news.example.org/a")]), etag=True)
    first = fetch(feed_server.url("/rss"))
    assert first.state.etag

    second = fetch(feed_server.url("/rss"), first.state)

    assert second.ok and second.status == 304 and second.stories == ()
    assert feed_server.requests_for("/rss")[1].headers["if-none-match"] == first.state.etag


@pytest.mark.parametrize(
    ("body", "status", "content_type", "reason"),
    [
        ("oops", 500, "text/plain", "HTTP 500"),
        ("<html><body><h1>Welcome</h1></body></html>", 200, "text/html", "not an RSS or Atom feed"),
        (
            '<?xml version="1.0"?><rss version="2.0"><channel><item><title>cut',
            200,
            "text/xml",
            "malformed XML",
        ),
        ("", 200, "text/xml", "not an RSS or Atom feed"),
    ],
    ids=["server-error", "html-page", "truncated-xml", "empty-body"],
)
def test_broken_feeds_fail_with_a_reason(
    feed_server: FeedServer, body: str, status: int, content_type: str, reason: str
) -> None:
    feed_server.route("/bad", body, status=status, content_type=content_type)

    result = fetch(feed_server.url("/bad"))

    assert not result.ok
    assert reason in (result.error or "")


def test_a_server_that_never_answers_times_out(feed_server: FeedServer) -> None:
    feed_server.route("/slow", rss([]), delay=5)

    result = fetch(feed_server.url("/slow"), timeout=0.3)

    assert result.error == f"timed out after 0.3s fetching {feed_server.url('/slow')}"


def test_redirect_loop_is_cut_short(feed_server: FeedServer) -> None:
    feed_server.route("/a", "", status=302, headers={"Location": "/b"})
    feed_server.route("/b", "", status=302, headers={"Location": "/a"})

    result = fetch(feed_server.url("/a"))

    assert "redirects" in (result.error or "")


def test_oversized_body_is_aborted(feed_server: FeedServer) -> None:
    feed_server.route("/huge", b"<rss>" + b" " * (11 * 1024 * 1024))

    result = fetch(feed_server.url("/huge"))

    assert "byte cap" in (result.error or "")


def test_items_without_link_title_or_date_are_kept(feed_server: FeedServer) -> None:
    feed_server.route(
        "/sparse",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><description>Only a description here.</description></item></channel></rss>",
    )
    before = datetime.now(UTC).replace(microsecond=0)

    [story] = fetch(feed_server.url("/sparse")).stories

    assert story.url == "" and story.title == ""
    assert story.guid.startswith("sha1:")
    assert story.published_at >= before


def test_relative_links_resolve_against_the_feed(feed_server: FeedServer) -> None:
    feed_server.route("/section/rss", rss([Item("Rel", "/stories/1")]))

    [story] = fetch(feed_server.url("/section/rss")).stories

    assert story.url == feed_server.url("/stories/1")


def test_a_date_in_the_future_is_clamped_to_first_seen() -> None:
    body = rss(
        [Item("Future", "https://news.example.org/f", date="Sat, 01 Jan 2099 00:00:00 +0000")]
    )

    [story] = parse_feed("test", body.encode(), "https://news.example.org/rss").stories

    assert story.published_at == story.fetched_at


def test_file_urls_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(rss([Item("On disk", "https://news.example.org/disk")]))

    result = fetch(path.as_uri())

    assert result.ok and result.warning is None
    assert [s.title for s in result.stories] == ["On disk"]


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = fetch((tmp_path / "nope.xml").as_uri())

    assert "cannot read" in (result.error or "") and "nope.xml" in (result.error or "")
