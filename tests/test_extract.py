"""Full text: the article's own words, fetched politely, without the page furniture."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from feedtext import Item, rss
from servers import FeedServer

from monitor.config import HttpConfig, SourceConfig
from monitor.extract import extract_article
from monitor.models import Story
from monitor.sources import FetchResult, SourceState, fetch_source
from monitor.sources.fulltext import add_full_text
from monitor.sources.http import build_client
from monitor.sources.page import article_links

ARTICLE_TEXT = [
    "Dock workers at the northern port walked out on Tuesday after talks over pay broke down, "
    "leaving dozens of container ships waiting at anchor outside the harbour.",
    "The union said the strike would last at least three days unless the operator improved "
    "its offer, which it called an insult to people who had kept the port running through "
    "the storms of last winter.",
    "The operator said it regretted the walkout and remained open to talks, adding that "
    "perishable cargo would be diverted to the southern terminal in the meantime.",
]
FURNITURE = [
    "Advertisement",
    "Follow us on social media",
    "We use cookies to improve your experience. Accept all cookies",
    "Related: Ten best beaches to visit this summer",
    "Home World Business Sport Culture",
]


def article_page(title: str = "Dock strike halts port") -> str:
    paragraphs = "".join(f"<p>{text}</p>" for text in ARTICLE_TEXT)
    return f"""<!doctype html><html lang="en"><head><title>{title} | Example News</title></head>
<body>
<div class="cookie-banner" id="cookie-consent">{FURNITURE[2]}</div>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a>
<a href="/sport">Sport</a> <a href="/culture">Culture</a></nav></header>
<main><article><h1>{title}</h1><p class="byline">By A. Reporter</p>
{paragraphs}
<div class="ad">{FURNITURE[0]}</div>
</article>
<aside class="related"><h3>Related</h3><ul>
<li><a href="/travel/beaches">{FURNITURE[3]}</a></li></ul></aside></main>
<footer><div class="social">{FURNITURE[1]}</div><p>© Example News</p></footer>
</body></html>"""


def test_extraction_keeps_the_article_and_drops_the_furniture() -> None:
    extraction = extract_article(article_page(), "https://news.example.org/port-strike")

    assert extraction.ok, extraction.error
    for text in ARTICLE_TEXT:
        assert text in extraction.text
    for text in FURNITURE:
        assert text not in extraction.text


def test_a_page_without_an_article_is_a_reason_not_an_exception() -> None:
    extraction = extract_article("<html><body><nav>Home</nav></body></html>")

    assert not extraction.ok and "no article text" in extraction.error


def full_text(stories: list[Story]) -> list[Story]:
    async def go() -> list[Story]:
        options = HttpConfig(host_delay=0.0)
        async with build_client("monitor-tests/1.0 (+ops@example.org)", options) as client:
            return await add_full_text(client, stories, 2.0)

    return asyncio.run(go())


def story(url: str, summary: str = "Feed summary.") -> Story:
    from monitor.timeutil import utcnow

    now = utcnow()
    return Story("test", url, url, "Dock strike halts port", summary, "", now, now, "en")


def test_full_text_becomes_the_body_and_the_summary_stays(feed_server: FeedServer) -> None:
    feed_server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type=None)
    feed_server.route("/news/strike", article_page(), content_type="text/html; charset=utf-8")

    [result] = full_text([story(feed_server.url("/news/strike"))])

    assert ARTICLE_TEXT[1] in result.body and "Advertisement" not in result.body
    assert result.summary == "Feed summary." and result.extract_error == ""
    request = feed_server.requests_for("/news/strike")[0]
    assert request.headers["user-agent"] == "monitor-tests/1.0 (+ops@example.org)"
    assert "text/html" in request.headers["accept"]


def test_robots_txt_is_honoured_and_read_once_per_site(feed_server: FeedServer) -> None:
    feed_server.route(
        "/robots.txt",
        "User-agent: monitor-tests\nDisallow: /private/\n\nUser-agent: *\nDisallow: /\n",
        content_type="text/plain",
    )
    feed_server.route("/private/a", article_page(), content_type="text/html")
    feed_server.route("/news/b", article_page(), content_type="text/html")

    blocked, allowed = full_text(
        [story(feed_server.url("/private/a")), story(feed_server.url("/news/b"))]
    )

    assert blocked.extract_error == "robots.txt disallows fetching the article"
    assert blocked.body == "" and blocked.summary == "Feed summary."
    assert feed_server.requests_for("/private/a") == []
    assert ARTICLE_TEXT[0] in allowed.body
    assert len(feed_server.requests_for("/robots.txt")) == 1


def test_a_missing_robots_txt_allows_and_a_failing_one_forbids(feed_server: FeedServer) -> None:
    feed_server.route("/news/c", article_page(), content_type="text/html")

    [allowed] = full_text([story(feed_server.url("/news/c"))])  # /robots.txt is a 404
    feed_server.route("/robots.txt", "down", status=503, content_type="text/plain")
    feed_server.route("/news/d", article_page(), content_type="text/html")
    [forbidden] = full_text([story(feed_server.url("/news/d"))])

    assert allowed.extract_error == "" and allowed.body
    assert forbidden.extract_error == "robots.txt disallows fetching the article"


def test_failed_extraction_keeps_the_summary_and_says_why(feed_server: FeedServer) -> None:
    feed_server.route("/news/gone", "gone", status=410, content_type="text/plain")
    feed_server.route("/news/empty", "<html><body></body></html>", content_type="text/html")

    gone, empty = full_text(
        [story(feed_server.url("/news/gone")), story(feed_server.url("/news/empty"))]
    )

    assert "HTTP 410" in gone.extract_error and gone.summary == "Feed summary."
    assert empty.extract_error == "no article text found on the page"


FRONT = """<!doctype html><html lang="en"><body>
<header><nav><a href="/world/2026/11/24/menu-link-that-looks-like-an-article">Menu link that
looks like an article</a></nav></header>
<main>
<h2><a href="/world/2026/11/24/dock-strike-halts-port">Dock strike halts the northern port</a></h2>
<h2><a href="/business/ecb-holds-rates-steady-again?utm_source=front">ECB holds rates steady
again</a></h2>
<a href="/world/2026/11/24/dock-strike-halts-port#comments">Read the comments on this story</a>
<a href="/tag/ports">All stories tagged ports and harbours</a>
<a href="/world/123456">Short</a>
<a href="https://elsewhere.example.com/2026/11/24/other-site-story">A story on another site</a>
</main>
<aside><a href="/travel/2026/11/24/ten-best-beaches">Ten best beaches to visit</a></aside>
</body></html>"""


def test_listing_page_article_links() -> None:
    links = article_links(FRONT.encode(), "https://news.example.org/world")

    assert links == [
        (
            "https://news.example.org/world/2026/11/24/dock-strike-halts-port",
            "Dock strike halts the northern port",
        ),
        (
            "https://news.example.org/business/ecb-holds-rates-steady-again?utm_source=front",
            "ECB holds rates steady again",
        ),
    ]


def test_page_source_turns_links_into_stories_with_full_text(feed_server: FeedServer) -> None:
    feed_server.route("/world", FRONT, content_type="text/html")
    feed_server.route("/world/2026/11/24/dock-strike-halts-port", article_page(), content_type=None)
    source = SourceConfig(
        name="front", url=feed_server.url("/world"), type="page", timeout=timedelta(seconds=2)
    )

    async def go() -> tuple[FetchResult, list[Story]]:
        async with build_client("monitor-tests/1.0", HttpConfig(host_delay=0.0)) as client:
            result = await fetch_source(client, source, SourceState())
            return result, await add_full_text(client, result.stories, 2.0)

    result, stories = asyncio.run(go())

    assert result.ok, result.error
    assert [s.title for s in result.stories] == [
        "Dock strike halts the northern port",
        "ECB holds rates steady again",
    ]
    assert ARTICLE_TEXT[2] in stories[0].body and stories[0].language == "en"
    assert "HTTP 404" in stories[1].extract_error


def test_full_text_feed_through_the_cycle(feed_server: FeedServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from monitor.config import Settings
    from monitor.cycle import poll_source
    from monitor.matching.compiled import compile_rules
    from monitor.models import Rule
    from monitor.store import Store

    feed_server.route("/rss", rss([Item("Port news", feed_server.url("/news/strike"), "Teaser.")]))
    feed_server.route("/news/strike", article_page(), content_type="text/html")
    source = SourceConfig(name="ft", url=feed_server.url("/rss"), full_text=True)
    settings = Settings(
        path=tmp_path / "m.toml", database=tmp_path / "m.db", rules=tmp_path, sources=(source,)
    )
    rules = [Rule(id="union", title="union", path="u.yaml", phrases=("the union said",))]
    store = Store.open(settings.database)

    async def go() -> int:
        async with build_client("monitor-tests/1.0") as client:
            matcher = compile_rules(rules)
            return (await poll_source(source, settings, matcher, store, client)).new_hits

    try:
        assert asyncio.run(go()) == 1  # matched in the article, not in the teaser
        summary, body = store.conn.execute("SELECT summary, body FROM stories").fetchone()
        assert summary == "Teaser." and ARTICLE_TEXT[1] in body
    finally:
        store.close()
