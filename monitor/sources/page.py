"""A section front or listing page -> one story per article it links to.

Which links are articles is a heuristic, tuned on how news sites lay out
their fronts: a link on the same site, outside navigation, header, footer and
asides, whose text reads like a headline (four words or more) and whose path
looks like an article (a date, a long slug or a numeric id), and not a tag,
author or section page. The story's text comes later, from the article
itself (page sources always fetch full text).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from monitor.dedupe import canonical_url
from monitor.errors import SourceError
from monitor.models import Story
from monitor.sources.base import language_code, make_story

#: A listing page rarely links to more articles than this; the rest is archive.
MAX_LINKS = 200
_FURNITURE = {"nav", "header", "footer", "aside", "form", "script", "style", "noscript"}
_NOT_ARTICLE = re.compile(
    r"/(tags?|topics?|category|categories|section|sections|author|authors|authors?|search|"
    r"login|signin|subscribe|newsletter|account|about|contact|privacy|terms|cookies?|feed|rss)"
    r"(/|$)",
    re.I,
)
_ARTICLE_PATH = re.compile(
    r"(/(19|20)\d\d[/-]\d\d?([/-]\d\d?)?/)|(\d{5,})|(/[^/]*[a-z0-9]+-[a-z0-9]+-[a-z0-9]+[^/]*/?$)",
    re.I,
)
_SPACE = re.compile(r"\s+")


def _site(host: str) -> str:
    host = host.lower().removeprefix("www.")
    return host


def _in_furniture(element: etree._Element) -> bool:
    for ancestor in element.iterancestors():
        tag = ancestor.tag if isinstance(ancestor.tag, str) else ""
        if tag in _FURNITURE:
            return True
        role = (ancestor.get("role") or "").lower()
        if role in ("navigation", "banner", "contentinfo", "complementary"):
            return True
    return False


def article_links(html: bytes, url: str) -> list[tuple[str, str]]:
    """(absolute URL, headline) for each article link on the page, in page order."""
    try:
        document = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise SourceError("page", f"cannot parse the page: {exc}") from None
    page = canonical_url(url)
    site = _site(urlsplit(url).hostname or "")
    seen = {page}
    found = []
    for anchor in document.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        target = urljoin(url, href)
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or _site(parts.hostname or "") != site:
            continue
        if _NOT_ARTICLE.search(parts.path) or not _ARTICLE_PATH.search(parts.path):
            continue
        text = _SPACE.sub(" ", anchor.text_content()).strip() or (anchor.get("title") or "")
        if len(text.split()) < 4 or _in_furniture(anchor):
            continue
        key = canonical_url(target)
        if key in seen:
            continue
        seen.add(key)
        found.append((target, text))
        if len(found) >= MAX_LINKS:
            break
    return found


def parse(source: str, data: bytes, url: str, fetched_at: datetime) -> tuple[Story, ...]:
    """The page's article links as stories (title only; the body comes from full text)."""
    try:
        links = article_links(data, url)
    except SourceError as exc:
        raise SourceError(source, exc.reason) from None
    language = ""
    head = re.search(rb"<html[^>]*\slang=[\"']?([A-Za-z-]+)", data[:4096], re.I)
    if head:
        language = language_code(head.group(1).decode("ascii"))
    return tuple(
        make_story(source, fetched_at, url=link, title=title, language=language)
        for link, title in links
    )
