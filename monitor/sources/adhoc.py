"""A story named on the command line (`monitor match`): a file, a URL or stdin.

The input may be a feed (every item is a story), an HTML page (one story: its
title and its text) or plain text (first line the title, the rest the body).
The kind is sniffed from the content, not the file name, so ``curl ... |
monitor match -`` works for all three. HTML is reduced by a tag strip, not
article extraction: menus and footers stay in the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from monitor.config import HttpConfig, SourceConfig
from monitor.errors import MonitorError, SourceError
from monitor.matching.normalize import plain_text
from monitor.models import Story
from monitor.sources.feed import file_path, parse_feed
from monitor.sources.http import MAX_BODY_BYTES, build_client, get
from monitor.timeutil import utcnow

#: How long a URL may take to answer.
FETCH_TIMEOUT_SECONDS = 20.0
_HINT = "pass a file path, an http(s):// or file:// URL, or - to read stdin"
_SNIFF_BYTES = 4096
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE)
_HTML_TAG = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|h1|p|div|article)\b", re.I)
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.IGNORECASE)
_DESCRIPTION = re.compile(
    r"<meta\b(?=[^>]*\bname\s*=\s*[\"']description[\"'])[^>]*\bcontent\s*=\s*\"([^\"]*)\"",
    re.IGNORECASE,
)
# Text no reader sees: the head (title included, it is the title field), scripts, styles.
_HIDDEN = re.compile(
    r"<(head|script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Input:
    """What was read: its stories, and the tags of the source they are taken to come from."""

    stories: tuple[Story, ...]
    source_tags: tuple[str, ...] = ()


def read_input(
    target: str,
    sources: Sequence[SourceConfig],
    user_agent: str,
    stdin: BinaryIO,
    source: str | None = None,
    http: HttpConfig | None = None,
) -> Input:
    """Read ``target`` (a path, a URL or ``-``) into stories; raises MonitorError if unreadable.

    The stories' source is ``source`` when given, else the configured source
    whose URL is ``target``, else a name for the input (``stdin``, the file
    name or the URL's host); its tags come from the config when it has them.
    A URL is fetched as the daemon fetches, under the ``[http]`` settings ``http``.
    """
    url, content_type = "", ""
    if target == "-":
        data, name = _read_stream(stdin, "stdin"), "stdin"
    elif target.startswith(("http://", "https://")):
        url, data, content_type = _fetch(target, user_agent, http)
        name = urlsplit(url).hostname or "url"
    else:
        path = file_path(target) if target.startswith("file://") else Path(target)
        url = path.resolve().as_uri()
        data, name = _read_file(path), path.name
    configured = {s.name: s for s in sources}
    by_url = {s.url: s for s in sources}
    known = configured.get(source) if source else by_url.get(url) or by_url.get(target)
    name = source or (known.name if known else name)
    stories = stories_from_bytes(data, name, url, content_type)
    return Input(stories, known.tags if known else ())


def _read_stream(stream: BinaryIO, what: str) -> bytes:
    data = stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise MonitorError(f"{what} is over the {MAX_BODY_BYTES} byte cap", hint=_HINT)
    return data


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return _read_stream(handle, str(path))
    except OSError as exc:
        raise MonitorError(f"cannot read {str(path)!r}: {exc.strerror or exc}", hint=_HINT) from exc


def _fetch(url: str, user_agent: str, http: HttpConfig | None) -> tuple[str, bytes, str]:
    async def fetch() -> tuple[str, bytes, str]:
        async with build_client(user_agent, http) as client:
            response = await get(client, url, url, timeout=FETCH_TIMEOUT_SECONDS)
            return response.url, response.body, response.content_type

    try:
        return asyncio.run(fetch())
    except SourceError as exc:
        raise MonitorError(
            f"cannot fetch {url}: {exc.reason}", hint="check the URL opens in a browser"
        ) from exc


def stories_from_bytes(
    data: bytes, source: str, url: str = "", content_type: str = "", now: datetime | None = None
) -> tuple[Story, ...]:
    """The stories in ``data``: a feed's items, or one story from an HTML page or plain text."""
    now = now or utcnow()
    head = data[:_SNIFF_BYTES]
    kind = content_type.split(";")[0].strip().lower()
    if _FEED_ROOT.search(head) or kind.endswith(("rss+xml", "atom+xml")):
        try:
            feed = parse_feed(source, data, url or "file:///stdin", content_type)
        except SourceError as exc:
            raise MonitorError(
                f"{url or source} looks like a feed but cannot be read: {exc.reason}",
                hint="check the feed opens in a feed reader, or pass the article page instead",
            ) from exc
        if not feed.stories:
            raise MonitorError(f"{url or source} is a feed with no items; nothing to match")
        return feed.stories
    text = _decode(data, content_type)
    if kind == "text/html" or _HTML_TAG.search(head):
        return (_html_story(text, source, url, now),)
    return (_text_story(text, source, url, now),)


def _decode(data: bytes, content_type: str) -> str:
    declared = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
    for encoding in ("utf-8-sig", declared.group(1) if declared else None):
        if encoding:
            try:
                return data.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("utf-8", errors="replace")


def _guid(url: str, title: str, body: str) -> str:
    return url or "sha1:" + hashlib.sha1(f"{title}\n{body}".encode()).hexdigest()


def _html_story(page: str, source: str, url: str, now: datetime) -> Story:
    found = _TITLE.search(page) or _H1.search(page)
    title = plain_text(found.group(1)) if found else ""
    language = _LANG.search(page)
    description = _DESCRIPTION.search(page)
    body = plain_text(_HIDDEN.sub(" ", page))
    return Story(
        source=source,
        url=url,
        guid=_guid(url, title, body),
        title=title,
        summary=plain_text(description.group(1)) if description else "",
        body=body,
        published_at=now,
        fetched_at=now,
        language=language.group(1).lower() if language else "",
    )


def _text_story(text: str, source: str, url: str, now: datetime) -> Story:
    lines = text.strip().splitlines()
    title = lines[0].strip() if lines else ""
    body = "\n".join(lines[1:]).strip()
    return Story(
        source=source,
        url=url,
        guid=_guid(url, title, body),
        title=title,
        summary="",
        body=body,
        published_at=now,
        fetched_at=now,
    )
