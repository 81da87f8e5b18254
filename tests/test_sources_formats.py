"""Formats: RSS, Atom, JSON Feed, news sitemaps, listing pages; dates; language; fast path.

The fast lxml path must give exactly the stories feedparser gives: every
document in CORPUS (and the demo feeds) is read both ways and compared.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import FeedServer

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.language import detect
from monitor.sources import FetchResult, SourceState, fastfeed, feed, fetch_source, jsonfeed
from monitor.sources.dates import parse_date
from monitor.sources.http import build_client
from monitor.sources.sniff import decode

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parent.parent / "examples" / "feeds"

RSS_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
    "<link>https://news.example.org/</link><language>en-GB</language>"
)
ATOM_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
    'xml:lang="de"><title>T</title><id>urn:t</id><updated>2026-11-24T10:00:00Z</updated>'
)

CORPUS = {
    "rss-plain": RSS_HEAD + "<item><title>Port reopens after storm</title>"
    "<link>https://news.example.org/port</link><guid>https://news.example.org/port</guid>"
    "<pubDate>Tue, 24 Nov 2026 10:00:00 +0000</pubDate>"
    "<description>The port reopened on Tuesday.</description></item></channel></rss>",
    "rss-cdata-html-content": RSS_HEAD + "<item><title>AT&amp;T &lt;b&gt;bold&lt;/b&gt;</title>"
    "<link>/world/1</link><guid isPermaLink='false'>id-1</guid>"
    "<description><![CDATA[<p>Ships &amp; cranes <a href='/x'>more</a></p>]]></description>"
    "<content:encoded><![CDATA[<p>Full text &#8211; here.</p>]]></content:encoded>"
    "<dc:creator>Desk</dc:creator><category>World</category><category>Ports</category>"
    "<pubDate>Tue, 24 Nov 2026 10:00:00 EST</pubDate></item></channel></rss>",
    "rss-content-only": RSS_HEAD + "<item><title>Only content</title>"
    "<link>https://news.example.org/c</link>"
    "<content:encoded>&lt;p&gt;Body only&lt;/p&gt;</content:encoded>"
    "<dc:date>2026-11-24T08:00:00+01:00</dc:date></item></channel></rss>",
    "rss-whitespace-and-zones": RSS_HEAD + "<item><title>\n  Spaced   title \n</title>"
    "<link>\n https://news.example.org/s \n</link>"
    "<description>\n  text  \n</description>"
    "<pubDate>Tue, 24 Nov 2026 10:00:00 CET</pubDate></item>"
    "<item><title>India time</title><link>https://news.example.org/i</link>"
    "<pubDate>Tue, 24 Nov 2026 10:00:00 +0530</pubDate></item>"
    "<item><title>No date</title><link>https://news.example.org/n</link></item>"
    "</channel></rss>",
    "rss-unicode": RSS_HEAD + "<item><title>Türkiye’s lira 📉 falls</title>"
    "<link>https://news.example.org/tr?utm_source=rss</link>"
    "<description>الليرة التركية تنخفض</description></item></channel></rss>",
    "rss-0.92": '<?xml version="1.0"?><rss version="0.92"><channel><title>Old</title>'
    "<item><title>Old style</title><link>https://old.example.org/1</link>"
    "<description>An item.</description></item></channel></rss>",
    "rss-guid-permalink-no-link": RSS_HEAD + "<item><title>Guid only</title>"
    "<guid>https://news.example.org/g</guid></item></channel></rss>",
    "rss-itunes": RSS_HEAD.replace(
        "<rss ", '<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    )
    + "<item><title>Episode</title><link>https://pod.example.org/1</link>"
    "<itunes:summary>Podcast summary</itunes:summary></item></channel></rss>",
    "atom-html": ATOM_HEAD + "<entry><title type='html'>A &amp;amp; B</title>"
    "<link rel='alternate' type='text/html' href='/a/1'/><link rel='enclosure' href='/e.mp3'/>"
    "<id>urn:1</id><summary type='html'>&lt;p&gt;Summary&lt;/p&gt;</summary>"
    "<content type='html'>&lt;p&gt;Content&lt;/p&gt;</content>"
    "<published>2026-11-24T12:30:00+02:00</published>"
    "<updated>2026-11-24T13:30:00+02:00</updated></entry>"
    "<entry><title>Updated only</title><link href='https://b.example.com/2'/><id>urn:2</id>"
    "<content>Plain content</content><updated>2026-11-24T09:00:00Z</updated></entry></feed>",
    "atom-xhtml": ATOM_HEAD + "<entry><title>X</title><link href='https://b.example.com/x'/>"
    "<id>urn:x</id><content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>"
    "<p>Hi</p></div></content></entry></feed>",
    "atom-no-alternate": ATOM_HEAD + "<entry><title>R</title>"
    "<link rel='related' href='https://b.example.com/r'/><id>urn:r</id></entry></feed>",
    "atom-0.3": '<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">'
    "<title>Old atom</title><entry><title>Zero three</title>"
    "<link rel='alternate' type='text/html' href='https://old.example.org/03'/>"
    "<id>urn:03</id><issued>2026-11-24T10:00:00Z</issued>"
    "<summary>Old summary</summary></entry></feed>",
    "rss-1.0-rdf": '<?xml version="1.0"?><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="https://r.example.org/">'
    "<title>RDF</title><dc:language>es</dc:language></channel>"
    "<item rdf:about='https://r.example.org/1'><title>Uno</title>"
    "<link>https://r.example.org/1</link><description>El puerto reabre hoy.</description>"
    "<dc:date>2026-11-24T10:00:00Z</dc:date></item></rdf:RDF>",
}
FAST = {"rss-plain", "rss-cdata-html-content", "rss-content-only", "rss-whitespace-and-zones"}
FAST |= {"rss-unicode", "rss-0.92", "atom-html"}


def corpus() -> list[tuple[str, bytes]]:
    documents = [(name, text.encode()) for name, text in CORPUS.items()]
    documents += [(path.name, path.read_bytes()) for path in sorted(EXAMPLES.iterdir())]
    return documents


@pytest.mark.parametrize(("name", "raw"), corpus(), ids=[name for name, _ in corpus()])
def test_fast_path_gives_the_same_stories_as_feedparser(name: str, raw: bytes) -> None:
    data = decode("t", raw).data
    url = "https://news.example.org/feeds/world.xml"

    fast = feed.parse("t", data, url, NOW)
    slow = feed.parse_slow("t", data, url, NOW)

    assert fast == slow
    assert fast, "every corpus document has items"
    if name in FAST or name in ("world.xml", "wire.xml", "business.atom"):
        assert fastfeed.parse(data) is not None, "this document should take the fast path"


def test_fields_of_a_plain_rss_item() -> None:
    data = decode("t", CORPUS["rss-cdata-html-content"].encode()).data

    [story] = feed.parse("t", data, "https://news.example.org/feeds/world.xml", NOW)

    assert story.url == "https://news.example.org/world/1"  # relative link resolved
    assert story.guid == "id-1"
    assert story.title == "AT&T <b>bold</b>"
    assert story.summary == "<p>Ships &amp; cranes <a href='/x'>more</a></p>"
    assert story.body == "<p>Full text &#8211; here.</p>"  # CDATA: kept as written
    assert story.published_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # EST is -5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 24 Nov 2026 10:00:00 +0000", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 10:00:00 GMT", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 10:00:00 CET", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 10:00:00 EDT", datetime(2026, 11, 24, 14, 0, tzinfo=UTC)),
        ("24 Nov 2026 10:00 +0530", datetime(2026, 11, 24, 4, 30, tzinfo=UTC)),
        ("2026-11-24T12:30:00+02:00", datetime(2026, 11, 24, 10, 30, tzinfo=UTC)),
        ("2026-11-24T10:30:00Z", datetime(2026, 11, 24, 10, 30, tzinfo=UTC)),
        ("2026-11-24T10:30:00.123456Z", datetime(2026, 11, 24, 10, 30, tzinfo=UTC)),
        ("2026-11-24", datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),
        ("2026-11-24 10:30:00", datetime(2026, 11, 24, 10, 30, tzinfo=UTC)),  # no zone: UTC
        ("Tue Nov 24 10:00:00 2026", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("24 novembre 2026, 14:05 CET", datetime(2026, 11, 24, 13, 5, tzinfo=UTC)),
        ("November 24, 2026 10:00 AM EST", datetime(2026, 11, 24, 15, 0, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        ("1 Jan 1970 00:00:00 +0000", None),  # an epoch placeholder, not a date
    ],
)
def test_dates_in_any_format_and_zone_become_utc(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "hint", "language"),
    [
        ("The president met the envoy in Damascus on Monday to discuss the port.", "", "en"),
        ("Le président a rencontré l'envoyé à Damas lundi pour parler du port.", "en", "fr"),
        ("Der Präsident traf den Gesandten am Montag in Damaskus, um zu sprechen.", "", "de"),
        ("El presidente se reunió con el enviado en Damasco el lunes para hablar.", "", "es"),
        ("O presidente encontrou o enviado em Damasco na segunda-feira para discutir.", "", "pt"),
        ("Президент встретился с посланником в Дамаске в понедельник.", "", "ru"),
        ("Президент зустрівся з посланцем у Дамаску в понеділок.", "", "uk"),
        ("التقى الرئيس بالمبعوث في دمشق يوم الاثنين لمناقشة إعادة إعمار الميناء.", "", "ar"),
        ("总统周一在大马士革会见了特使，讨论港口重建问题。", "", "zh"),
        ("大統領は月曜日、ダマスカスで特使と会談した。", "", "ja"),
        ("Port reopens", "en", "en"),  # too little to overrule the feed
        ("Port reopens", "", ""),  # ...or to guess at all
    ],
)
def test_language_is_detected_per_story(text: str, hint: str, language: str) -> None:
    assert detect(text, hint) == language


def test_a_story_in_another_language_than_its_feed_is_detected() -> None:
    body = (
        RSS_HEAD + "<item><title>Le port rouvre après la tempête</title>"
        "<link>https://news.example.org/fr</link><description>Le port a rouvert mardi "
        "selon les autorités, qui ont annoncé la fin des travaux.</description></item>"
        "<item><title>Port reopens</title><link>https://news.example.org/en</link></item>"
        "</channel></rss>"
    )

    french, english = feed.parse("t", body.encode(), "https://news.example.org/rss", NOW)

    assert (french.language, english.language) == ("fr", "en")  # the feed says en-GB


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON news",
    "language": "en-US",
    "items": [
        {
            "id": 7,
            "url": "/stories/7",
            "title": "Grid repairs speed up",
            "summary": "Engineers restored power.",
            "content_html": "<p>Engineers restored power to the east on Monday.</p>",
            "date_published": "2026-11-24T09:00:00-05:00",
        },
        {"id": "x", "content_text": "No title, no url, no date."},
        "not an item",
    ],
}


def fetch(url: str, kind: str = "feed") -> FetchResult:
    source = SourceConfig(name="test", url=url, timeout=timedelta(seconds=2), type=kind)

    async def go() -> FetchResult:
        async with build_client("monitor-tests/1.0") as client:
            return await fetch_source(client, source, SourceState())

    return asyncio.run(go())


def test_json_feed_is_detected_from_content_not_content_type(feed_server: FeedServer) -> None:
    feed_server.route("/feed", json.dumps(JSON_FEED), content_type="text/plain")

    result = fetch(feed_server.url("/feed"))

    assert result.ok, result.error
    first, second = result.stories
    assert first.url == feed_server.url("/stories/7") and first.guid == "7"
    assert first.summary == "Engineers restored power."
    assert first.body == "<p>Engineers restored power to the east on Monday.</p>"
    assert first.published_at == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert first.language == "en"
    assert second.summary == "No title, no url, no date." and second.guid == "x"


def test_json_feed_1_0_reads_too() -> None:
    document = {**JSON_FEED, "version": "https://jsonfeed.org/version/1"}
    stories = jsonfeed.parse("t", json.dumps(document).encode(), "https://j.example.org/", NOW)
    assert [s.title for s in stories] == ["Grid repairs speed up", ""]


@pytest.mark.parametrize("body", ['{"items": []}', "[1, 2]", '{"version": 1'])
def test_json_that_is_not_a_json_feed_is_refused(body: str) -> None:
    with pytest.raises(SourceError, match="not a JSON Feed"):
        jsonfeed.parse("t", body.encode(), "https://j.example.org/", NOW)


def test_rss_served_as_html_is_still_read(feed_server: FeedServer) -> None:
    feed_server.route("/rss", CORPUS["rss-plain"], content_type="text/html")

    result = fetch(feed_server.url("/rss"))

    assert result.ok and [s.title for s in result.stories] == ["Port reopens after storm"]


NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://news.example.org/world/ceasefire</loc>
    <news:news><news:publication><news:name>Example News</news:name>
      <news:language>fr</news:language></news:publication>
      <news:publication_date>2026-11-24T10:00:00+01:00</news:publication_date>
      <news:title>Le cessez-le-feu tient</news:title></news:news></url>
  <url><loc>https://news.example.org/world/port</loc>
    <lastmod>2026-11-24T12:00:00Z</lastmod></url>
</urlset>"""


def test_news_sitemap_urls_become_stories(feed_server: FeedServer) -> None:
    feed_server.route("/sitemap.xml", NEWS_SITEMAP, content_type="application/xml")

    result = fetch(feed_server.url("/sitemap.xml"), kind="sitemap")

    assert result.ok, result.error
    port, ceasefire = result.stories  # newest first
    assert ceasefire.url == "https://news.example.org/world/ceasefire"
    assert ceasefire.title == "Le cessez-le-feu tient" and ceasefire.language == "fr"
    assert ceasefire.published_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert port.title == "" and port.published_at == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_sitemap_index_reads_its_newest_child_sitemaps(feed_server: FeedServer) -> None:
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>/old.xml</loc><lastmod>2020-01-01</lastmod></sitemap>"
        "<sitemap><loc>/news.xml</loc><lastmod>2026-11-24</lastmod></sitemap>"
        + "".join(f"<sitemap><loc>/archive-{i}.xml</loc></sitemap>" for i in range(10))
        + "</sitemapindex>"
    )
    feed_server.route("/index.xml", index, content_type="application/xml")
    feed_server.route("/news.xml", NEWS_SITEMAP, content_type="application/xml")
    feed_server.route("/old.xml", NEWS_SITEMAP.replace("/world/", "/old/"))
    for i in range(10):
        feed_server.route(f"/archive-{i}.xml", "<urlset/>", content_type="application/xml")

    result = fetch(feed_server.url("/index.xml"), kind="sitemap")

    assert result.ok, result.error
    assert len(result.stories) == 4
    assert feed_server.requests_for("/news.xml") and feed_server.requests_for("/old.xml")
    assert sum(bool(feed_server.requests_for(f"/archive-{i}.xml")) for i in range(10)) == 3


def test_html_for_a_feed_source_says_what_to_do(feed_server: FeedServer) -> None:
    feed_server.route("/front", "<html><body><a href='/a'>x</a></body></html>", content_type=None)

    result = fetch(feed_server.url("/front"))

    assert "not an RSS or Atom feed" in (result.error or "")
    assert 'type = "page"' in (result.error or "")
