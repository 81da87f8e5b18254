"""News sitemaps (``<urlset>`` with ``news:`` entries) and sitemap indexes -> Stories.

Each ``<url>`` is a story: its ``news:title`` (if any), its publication date
(``news:publication_date``, else ``lastmod``) and its ``news:language``. A
sitemap index names other sitemaps; the fetcher reads the newest few of them
(``children``), since an index of a big site can list thousands.
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from monitor.errors import SourceError
from monitor.models import Story
from monitor.sources.base import MAX_ITEMS, language_code, make_story
from monitor.sources.fastfeed import _PARSER

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
#: How many child sitemaps of an index are read per fetch (the most recently modified).
MAX_CHILDREN = 5


def _root(source: str, data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(source, f"malformed XML: {exc}") from None


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    local: str = tag.rsplit("}", 1)[-1]
    return local


def _find(element: etree._Element, *paths: str) -> str:
    for path in paths:
        found = element.find(path)
        text = str(found.text or "").strip() if found is not None else ""
        if text:
            return text
    return ""


def is_index(data: bytes) -> bool:
    return b"sitemapindex" in data[:2048]


def children(source: str, data: bytes, url: str) -> list[str]:
    """The child sitemaps of an index, most recently modified first, at most MAX_CHILDREN."""
    from urllib.parse import urljoin

    root = _root(source, data)
    if _local(root.tag) != "sitemapindex":
        raise SourceError(source, "not a sitemap index")
    entries = []
    for position, node in enumerate(root):
        if _local(node.tag) != "sitemap":
            continue
        loc = _find(node, SM + "loc", "loc")
        if loc:
            # Unknown lastmod sorts last; among equals, document order.
            entries.append((_find(node, SM + "lastmod", "lastmod"), -position, urljoin(url, loc)))
    entries.sort(reverse=True)
    return [loc for _, _, loc in entries[:MAX_CHILDREN]]


def parse(source: str, data: bytes, url: str, fetched_at: datetime) -> tuple[Story, ...]:
    """A ``<urlset>``'s URLs as stories, newest first."""
    root = _root(source, data)
    if _local(root.tag) != "urlset":
        raise SourceError(source, f"not a sitemap (root element <{_local(root.tag)}>)")
    stories = []
    for node in root:
        if _local(node.tag) != "url":
            continue
        loc = _find(node, SM + "loc", "loc")
        if not loc:
            continue
        news = node.find(NEWS + "news")
        title = date = language = ""
        if news is not None:
            title = _find(news, NEWS + "title")
            date = _find(news, NEWS + "publication_date")
            language = _find(news, f"{NEWS}publication/{NEWS}language")
        stories.append(
            make_story(
                source,
                fetched_at,
                base_url=url,
                url=loc,
                title=title,
                summary=_find(news, NEWS + "keywords") if news is not None else "",
                date=date or _find(node, SM + "lastmod", "lastmod"),
                language=language_code(language),
            )
        )
    stories.sort(key=lambda story: story.published_at, reverse=True)
    return tuple(stories[:MAX_ITEMS])
