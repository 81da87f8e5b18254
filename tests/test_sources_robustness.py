"""Sources that misbehave, each a crafted response from the local FeedServer.

One bad source must never stop or slow the others; every failure comes back
as a reason naming what was wrong.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from feedtext import Item, rss
from servers import FeedServer

from monitor.config import HttpConfig, SourceConfig
from monitor.sources import FetchResult, SourceState, fetch_source
from monitor.sources.http import HttpClient, build_client

FAST_TESTS = HttpConfig(host_delay=0.0, per_host=8)


def fetch(
    url: str,
    state: SourceState | None = None,
    timeout: float = 2.0,
    client: HttpClient | None = None,
) -> FetchResult:
    source = SourceConfig(name="test", url=url, timeout=timedelta(seconds=timeout))

    async def go() -> FetchResult:
        if client is not None:
            return await fetch_source(client, source, state or SourceState())
        async with build_client("monitor-tests/1.0", FAST_TESTS) as own:
            return await fetch_source(own, source, state or SourceState())

    return asyncio.run(go())


LATIN1_TITLE = "Café über Straße"


@pytest.mark.parametrize(
    ("body", "content_type", "warned"),
    [
        # Declared ISO-8859-1 in the XML declaration, but the bytes are UTF-8.
        (
            rss([Item(LATIN1_TITLE, "/a")]).replace("utf-8", "ISO-8859-1").encode(),
            "application/rss+xml",
            True,
        ),
        # Declared UTF-8, but the bytes are Windows-1252.
        (rss([Item(LATIN1_TITLE, "/a")]).encode("cp1252"), "text/xml; charset=utf-8", True),
        # No declaration anywhere, Latin-1 bytes.
        (
            rss([Item(LATIN1_TITLE, "/a")]).replace(' encoding="utf-8"', "").encode("latin-1"),
            "text/xml",
            True,
        ),
        # The HTTP header says one thing, the document another (right) one.
        (
            rss([Item(LATIN1_TITLE, "/a")])
            .replace('encoding="utf-8"', 'encoding="iso-8859-1"')
            .encode("latin-1"),
            "text/xml; charset=utf-8",
            False,
        ),
        # UTF-16 with a byte-order mark.
        (
            rss([Item(LATIN1_TITLE, "/a")]).replace("utf-8", "utf-16").encode("utf-16"),
            "text/xml",
            False,
        ),
    ],
    ids=[
        "utf8-declared-latin1",
        "cp1252-declared-utf8",
        "undeclared-latin1",
        "header-wrong",
        "utf16",
    ],
)
def test_wrong_or_missing_charset_still_reads_the_right_text(
    feed_server: FeedServer, body: bytes, content_type: str, warned: bool
) -> None:
    feed_server.route("/rss", body, content_type=content_type)

    result = fetch(feed_server.url("/rss"))

    assert result.ok, result.error
    assert [s.title for s in result.stories] == [LATIN1_TITLE]
    assert (result.warning is not None) == warned


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t</title>
<item><title>&lol9;</title><link>https://x.example.org/</link></item></channel></rss>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&xxe;</title><link>https://x.example.org/</link></item></channel></rss>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "xxe"])
def test_entity_declarations_are_refused(feed_server: FeedServer, body: str) -> None:
    feed_server.route("/rss", body)
    started = time.monotonic()

    result = fetch(feed_server.url("/rss"))

    assert "refused" in (result.error or "") and "entit" in (result.error or "")
    assert time.monotonic() - started < 1


def test_a_50_mb_body_is_refused_from_its_declared_length(feed_server: FeedServer) -> None:
    feed_server.route("/huge", b"<rss>" + b" " * (50 * 1024 * 1024))
    started = time.monotonic()

    result = fetch(feed_server.url("/huge"))

    assert "byte cap" in (result.error or "")
    assert time.monotonic() - started < 2


def test_a_compressed_bomb_is_aborted_mid_stream_at_the_cap(feed_server: FeedServer) -> None:
    # 50 MB of spaces gzip to ~50 kB: Content-Length is small, the decoded stream is not.
    bomb = gzip.compress(b"<rss>" + b" " * (50 * 1024 * 1024), compresslevel=9)
    feed_server.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})

    result = fetch(feed_server.url("/bomb"))

    assert "over the 10485760 byte cap; aborted" in (result.error or "")


def test_compressed_feeds_are_decoded(feed_server: FeedServer) -> None:
    body = gzip.compress(rss([Item("Zipped", "https://z.example.org/1")]).encode())
    feed_server.route("/gz", body, headers={"Content-Encoding": "gzip"})

    result = fetch(feed_server.url("/gz"))

    assert [s.title for s in result.stories] == ["Zipped"]
    assert "gzip" in feed_server.requests_for("/gz")[0].headers["accept-encoding"]


def test_last_modified_is_sent_back_and_304_is_no_work(feed_server: FeedServer) -> None:
    stamp = "Tue, 24 Nov 2026 10:00:00 GMT"
    feed_server.route("/rss", rss([Item("A", "/a")]), headers={"Last-Modified": stamp})
    first = fetch(feed_server.url("/rss"))
    assert first.state.last_modified == stamp
    feed_server.route("/rss", "", status=304, content_type=None)

    second = fetch(feed_server.url("/rss"), first.state)

    assert second.ok and second.status == 304 and second.stories == ()
    assert feed_server.requests_for("/rss")[1].headers["if-modified-since"] == stamp


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_for_the_whole_host(feed_server: FeedServer, status: int) -> None:
    feed_server.route("/a", "slow down", status=status, headers={"Retry-After": "120"})
    feed_server.route("/b", rss([Item("B", "/b")]))

    async def go() -> tuple[FetchResult, FetchResult]:
        async with build_client("monitor-tests/1.0", FAST_TESTS) as client:
            a = SourceConfig(name="a", url=feed_server.url("/a"))
            b = SourceConfig(name="b", url=feed_server.url("/b"))
            first = await fetch_source(client, a, SourceState())
            return first, await fetch_source(client, b, SourceState())

    before = datetime.now(UTC)
    first, second = asyncio.run(go())

    assert first.retry_at is not None
    assert timedelta(seconds=110) < first.retry_at - before < timedelta(seconds=130)
    assert f"HTTP {status}" in (first.error or "")
    # The same host is not asked again before then, by any source.
    assert "asked us to wait" in (second.error or "")
    assert feed_server.requests_for("/b") == []


def test_retry_after_as_an_http_date(feed_server: FeedServer) -> None:
    feed_server.route(
        "/a", "busy", status=503, headers={"Retry-After": "Wed, 25 Nov 2099 10:00:00 GMT"}
    )

    result = fetch(feed_server.url("/a"))

    assert result.retry_at is not None  # capped at a day, however far the server asks
    assert result.retry_at - datetime.now(UTC) <= timedelta(hours=24)


def test_per_host_concurrency_is_limited(feed_server: FeedServer) -> None:
    for index in range(4):
        feed_server.route(f"/f{index}", rss([]), delay=0.3)
    sources = [SourceConfig(name=f"f{i}", url=feed_server.url(f"/f{i}")) for i in range(4)]

    async def go() -> float:
        options = HttpConfig(per_host=2, host_delay=0.0)
        async with build_client("monitor-tests/1.0", options) as client:
            started = time.monotonic()
            await asyncio.gather(*(fetch_source(client, s, SourceState()) for s in sources))
            return time.monotonic() - started

    elapsed = asyncio.run(go())

    assert 0.6 <= elapsed < 1.2  # two at a time: two rounds of 0.3 s


def test_per_host_minimum_delay_spaces_requests() -> None:
    # The delay is skipped for loopback servers (they are ours), so this goes through
    # the pool's politeness directly, with a host name that is not loopback.
    async def go() -> list[float]:
        client = build_client("t", HttpConfig(per_host=4, host_delay=0.2))
        starts: list[float] = []

        async def one() -> None:
            async with client.member("news.example.org", "t"):
                starts.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(3)))
        await client.aclose()
        return starts

    starts = asyncio.run(go())

    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.19 for gap in gaps), gaps


def test_one_hung_source_does_not_slow_the_others(feed_server: FeedServer) -> None:
    feed_server.route("/hung", rss([]), delay=5)
    for index in range(5):
        feed_server.route(f"/ok{index}", rss([Item(f"Story {index}", f"/s/{index}")]))
    hung = SourceConfig(name="hung", url=feed_server.url("/hung"), timeout=timedelta(seconds=1))
    good = [SourceConfig(name=f"ok{i}", url=feed_server.url(f"/ok{i}")) for i in range(5)]
    done: dict[str, float] = {}

    async def go() -> None:
        async with build_client("monitor-tests/1.0", FAST_TESTS) as client:
            started = time.monotonic()

            async def one(source: SourceConfig) -> None:
                await fetch_source(client, source, SourceState())
                done[source.name] = time.monotonic() - started

            await asyncio.gather(one(hung), *(one(s) for s in good))

    asyncio.run(go())

    assert max(done[f"ok{i}"] for i in range(5)) < 0.5
    assert 0.9 < done["hung"] < 2


def test_a_server_that_never_answers_is_cut_off_by_the_overall_deadline(
    feed_server: FeedServer,
) -> None:
    feed_server.route("/never", rss([]), delay=30)
    started = time.monotonic()

    result = fetch(feed_server.url("/never"), timeout=0.3)

    assert "timed out after 0.3s" in (result.error or "")
    assert time.monotonic() - started < 1.5


def test_redirects_are_followed_a_few_times_only(feed_server: FeedServer) -> None:
    for hop in range(7):
        feed_server.route(f"/r{hop}", "", status=301, headers={"Location": f"/r{hop + 1}"})
    feed_server.route("/r7", rss([Item("Arrived", "/x")]))
    feed_server.route("/short", "", status=302, headers={"Location": "/r5"})

    assert "more than 5 redirects" in (fetch(feed_server.url("/r0")).error or "")
    assert [s.title for s in fetch(feed_server.url("/short")).stories] == ["Arrived"]


def test_relative_links_resolve_against_the_final_url_after_redirects(
    feed_server: FeedServer,
) -> None:
    feed_server.route("/old/rss", "", status=301, headers={"Location": "/new/section/rss"})
    feed_server.route("/new/section/rss", rss([Item("Moved", "story-1")]))

    [story] = fetch(feed_server.url("/old/rss")).stories

    assert story.url == feed_server.url("/new/section/story-1")


def test_items_without_link_title_or_date_get_an_identity_and_first_seen_time(
    feed_server: FeedServer,
) -> None:
    feed_server.route(
        "/sparse",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><description>First.</description></item>"
        "<item><description>Second.</description></item>"
        "<item><title>Title only</title></item></channel></rss>",
    )
    before = datetime.now(UTC).replace(microsecond=0)

    stories = fetch(feed_server.url("/sparse")).stories

    assert len({s.guid for s in stories}) == 3
    assert all(s.guid.startswith("sha1:") and s.url == "" for s in stories)
    assert all(s.published_at == s.fetched_at >= before for s in stories)
