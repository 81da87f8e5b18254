"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 -> Stories.

Plain RSS 2.0 and Atom 1.0 go through the lxml fast path (fastfeed.py);
everything else, and everything the fast path is unsure of, through
feedparser, which knows every dialect. Both hand the same raw items to
``make_story``, so a story does not depend on which path read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax import SAXException

import feedparser

from monitor.errors import SourceError
from monitor.models import Story
from monitor.sources import fastfeed
from monitor.sources.base import (
    MAX_ITEMS,
    FetchResult,
    SourceState,
    file_path,
    language_code,
    make_story,
)
from monitor.sources.fastfeed import RawItem
from monitor.sources.sniff import decode
from monitor.timeutil import utcnow

__all__ = ["FetchResult", "SourceState", "file_path", "parse", "parse_feed", "parse_slow"]


def _raw(entry: Any) -> RawItem:
    summary = (entry.get("summary") or "").strip()
    contents = entry.get("content") or []
    body = "\n".join(
        value for value in ((c.get("value") or "").strip() for c in contents) if value != summary
    )
    date = entry.get("published") or entry.get("updated") or entry.get("created")
    return RawItem(
        link=(entry.get("link") or "").strip(),
        guid=(entry.get("id") or "").strip(),
        title=(entry.get("title") or "").strip(),
        summary=summary,
        body=body,
        date=date,
    )


def _feedparser(source: str, data: bytes, url: str) -> tuple[list[RawItem], str]:
    parsed = feedparser.parse(
        data,
        response_headers={
            "content-location": url,
            "content-type": "application/xml; charset=utf-8",
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if parsed.bozo:
        problem = parsed.get("bozo_exception")
        if isinstance(problem, SAXException):
            # Broken XML: what a lenient parse salvages may be half an item, so skip it all.
            raise SourceError(source, f"malformed XML: {problem}")
        if not parsed.entries:
            raise SourceError(source, f"not an RSS or Atom feed ({problem})")
    elif not parsed.get("version") and not parsed.entries:
        raise SourceError(source, "not an RSS or Atom feed (no channel or feed element found)")
    language = parsed.get("feed", {}).get("language") or ""
    return [_raw(entry) for entry in parsed.entries[:MAX_ITEMS]], language


def _stories(
    source: str, items: list[RawItem], language: str, url: str, fetched_at: datetime
) -> tuple[Story, ...]:
    declared = language_code(language)
    return tuple(
        make_story(
            source,
            fetched_at,
            base_url=url,
            url=item.link,
            guid=item.guid,
            title=item.title,
            summary=item.summary,
            body=item.body,
            date=item.date,
            language=declared,
        )
        for item in items[:MAX_ITEMS]
    )


def parse(source: str, data: bytes, url: str, fetched_at: datetime) -> tuple[Story, ...]:
    """Sniffed UTF-8 feed bytes -> stories; the fast path when it can, feedparser when not."""
    fast = fastfeed.parse(data)
    items, language = fast if fast is not None else _feedparser(source, data, url)
    return _stories(source, items, language, url, fetched_at)


def parse_slow(source: str, data: bytes, url: str, fetched_at: datetime) -> tuple[Story, ...]:
    """The same, always through feedparser (to check the fast path against)."""
    items, language = _feedparser(source, data, url)
    return _stories(source, items, language, url, fetched_at)


def parse_feed(source: str, data: bytes, url: str, content_type: str = "") -> FetchResult:
    """Raw feed bytes (any encoding) -> a FetchResult; an unreadable feed raises SourceError."""
    document = decode(source, data, content_type)
    stories = parse(source, document.data, url, utcnow())
    return FetchResult(source=source, stories=stories, status=200, warning=document.warning)
