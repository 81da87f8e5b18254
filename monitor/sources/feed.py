"""RSS and Atom feeds -> Stories.

feedparser does the format work (RSS 0.9x/1.0/2.0, Atom, dates, encodings,
relative links); this module decides what counts as a broken feed and maps
entries onto our one Story shape.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax import SAXException

import feedparser
import httpx

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.models import Story
from monitor.sources.http import MAX_BODY_BYTES, get
from monitor.timeutil import utcnow


@dataclass(frozen=True)
class SourceState:
    """What we remember about a source between fetches (for conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One fetch of one source: its stories, or why it failed."""

    source: str
    stories: tuple[Story, ...] = ()
    status: int | None = None
    error: str | None = None
    state: SourceState = SourceState()
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def file_path(url: str) -> Path:
    """The local path of a ``file://`` URL."""
    parts = urlsplit(url)
    return Path(unquote(parts.netloc + parts.path))


def _read_file(source: str, url: str) -> bytes:
    path = file_path(url)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BODY_BYTES + 1)
    except OSError as exc:
        raise SourceError(source, f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BODY_BYTES:
        raise SourceError(source, f"{path} is over the {MAX_BODY_BYTES} byte cap")
    return data


def _timestamp(entry: Any, fetched_at: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            moment = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            # A date in the future is a publisher's clock or timezone mistake.
            return min(moment, fetched_at)
    return fetched_at


def _language(code: Any) -> str:
    """``en-US`` -> ``en``: rules scope on the primary language only."""
    return str(code or "").strip().lower().replace("_", "-").split("-")[0][:3]


def _entry_to_story(source: str, entry: Any, fetched_at: datetime, language: str = "") -> Story:
    title = entry.get("title", "") or ""
    summary = entry.get("summary", "") or ""
    contents = entry.get("content") or []
    body = "\n".join(c.get("value", "") for c in contents if c.get("value") != summary)
    url = (entry.get("link") or "").strip()
    guid = (entry.get("id") or "").strip() or url
    if not guid:
        # No link and no id: the text itself is the only identity the item has.
        guid = "sha1:" + hashlib.sha1(f"{title}\n{summary}".encode()).hexdigest()
    return Story(
        source=source,
        url=url,
        guid=guid,
        title=title,
        summary=summary,
        body=body,
        published_at=_timestamp(entry, fetched_at),
        fetched_at=fetched_at,
        language=_language(entry.get("language")) or language,
    )


def parse_feed(source: str, data: bytes, url: str, content_type: str = "") -> FetchResult:
    """Parse feed bytes; an unreadable feed raises SourceError naming the reason."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False)
    fetched_at = utcnow()
    warning = None
    if parsed.bozo:
        problem = parsed.get("bozo_exception")
        if isinstance(problem, SAXException):
            # Broken XML: what a lenient parse salvages may be half an item, so skip it all.
            raise SourceError(source, f"malformed XML: {problem}")
        if not parsed.entries:
            raise SourceError(source, f"not an RSS or Atom feed ({problem})")
        # A wrong content type or charset declaration: the entries are still good.
        warning = f"feed read leniently: {problem}"
    elif not parsed.get("version") and not parsed.entries:
        raise SourceError(source, "not an RSS or Atom feed (no channel or feed element found)")
    language = _language(parsed.get("feed", {}).get("language"))
    stories = tuple(
        _entry_to_story(source, entry, fetched_at, language) for entry in parsed.entries
    )
    return FetchResult(source=source, stories=stories, status=200, warning=warning)


async def fetch_source(
    client: httpx.AsyncClient, source: SourceConfig, state: SourceState
) -> FetchResult:
    """Fetch and parse one source. Never raises: failures come back in ``error``."""
    try:
        if source.url.startswith("file://"):
            data = await asyncio.to_thread(_read_file, source.name, source.url)
            return parse_feed(source.name, data, source.url, "application/xml")
        response = await get(
            client,
            source.name,
            source.url,
            timeout=source.timeout.total_seconds(),
            etag=state.etag,
            last_modified=state.last_modified,
        )
        new_state = SourceState(response.etag, response.last_modified)
        if response.status == 304:
            return FetchResult(source=source.name, status=304, state=new_state)
        result = parse_feed(source.name, response.body, response.url, response.content_type)
        return FetchResult(
            source=source.name,
            stories=result.stories,
            status=response.status,
            state=new_state,
            warning=result.warning,
        )
    except SourceError as exc:
        return FetchResult(source=source.name, error=exc.reason, state=state)
    except Exception as exc:  # one bad feed must never stop the others
        return FetchResult(source=source.name, error=f"{type(exc).__name__}: {exc}", state=state)
