"""One fetch of one source, whatever its kind: bytes in, stories (or a reason) out.

The kind of document is read from the document (sniff.py), not from the URL
or the Content-Type: a "feed" may be RSS, Atom or JSON Feed, a feed URL that
serves a news sitemap is read as one, and an HTML page becomes stories only
for a ``type = "page"`` source.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.models import Story
from monitor.sources import feed, jsonfeed, page, sitemap
from monitor.sources.base import FetchResult, SourceState, file_path
from monitor.sources.http import MAX_BODY_BYTES, RetryLater, get
from monitor.sources.sniff import decode
from monitor.timeutil import utcnow


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


async def _sitemap_index(
    client: httpx.AsyncClient, source: SourceConfig, data: bytes, url: str
) -> tuple[Story, ...]:
    stories: list[Story] = []
    for child in sitemap.children(source.name, data, url):
        response = await get(client, source.name, child, source.timeout.total_seconds())
        document = decode(source.name, response.body, response.content_type)
        stories.extend(sitemap.parse(source.name, document.data, response.url, utcnow()))
    return tuple(stories)


async def parse_document(
    client: httpx.AsyncClient, source: SourceConfig, data: bytes, url: str, content_type: str
) -> tuple[tuple[Story, ...], str | None]:
    """The stories in a fetched document, and a warning when it was read leniently."""
    document = decode(source.name, data, content_type)
    fetched_at = utcnow()
    kind = document.kind
    if kind == "json":
        stories = jsonfeed.parse(source.name, document.data, url, fetched_at)
    elif kind == "sitemap" and sitemap.is_index(document.data):
        stories = await _sitemap_index(client, source, document.data, url)
    elif kind == "sitemap":
        stories = sitemap.parse(source.name, document.data, url, fetched_at)
    elif kind == "html" and source.type == "page":
        stories = page.parse(source.name, document.data, url, fetched_at)
    elif kind == "html":
        raise SourceError(
            source.name,
            "not an RSS or Atom feed (got an HTML page; "
            'type = "page" reads a listing page\'s article links)',
        )
    else:
        stories = feed.parse(source.name, document.data, url, fetched_at)
    return stories, document.warning


async def fetch_source(
    client: httpx.AsyncClient, source: SourceConfig, state: SourceState
) -> FetchResult:
    """Fetch and parse one source. Never raises: failures come back in ``error``."""
    try:
        if source.url.startswith("file://"):
            data = await asyncio.to_thread(_read_file, source.name, source.url)
            stories, warning = await parse_document(
                client, source, data, source.url, "application/xml"
            )
            return FetchResult(source.name, stories, status=200, state=state, warning=warning)
        response = await get(
            client,
            source.name,
            source.url,
            timeout=source.timeout.total_seconds(),
            etag=state.etag,
            last_modified=state.last_modified,
        )
        new_state = replace(state, etag=response.etag, last_modified=response.last_modified)
        if response.status == 304:
            return FetchResult(source=source.name, status=304, state=new_state)
        stories, warning = await parse_document(
            client, source, response.body, response.url, response.content_type
        )
        return FetchResult(
            source=source.name,
            stories=stories,
            status=response.status,
            state=new_state,
            warning=warning,
        )
    except RetryLater as exc:
        return FetchResult(source=source.name, error=exc.reason, state=state, retry_at=exc.until)
    except SourceError as exc:
        return FetchResult(source=source.name, error=exc.reason, state=state)
    except Exception as exc:  # one bad feed must never stop the others
        return FetchResult(source=source.name, error=f"{type(exc).__name__}: {exc}", state=state)
