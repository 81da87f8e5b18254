"""Full text: fetch each new story's article page and keep the article's own text.

Only stories not stored yet get here (the cycle checks first), each fetch
goes through the shared client (per-host limits and delay), robots.txt is
asked first, and extraction runs in a worker thread so the event loop keeps
serving the other sources. A failure never loses the story: it keeps its
summary and says why in ``extract_error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import httpx

from monitor.errors import SourceError
from monitor.extract import extract_article
from monitor.language import detect
from monitor.models import Story
from monitor.sources import robots
from monitor.sources.http import get
from monitor.sources.sniff import decode

#: Article pages are smaller than feeds can be; a bigger one is not an article.
MAX_ARTICLE_BYTES = 5 * 1024 * 1024
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


async def with_full_text(client: httpx.AsyncClient, story: Story, timeout: float) -> Story:
    """``story`` with its article text as ``body``, or with ``extract_error`` saying why not."""
    if not story.url.startswith(("http://", "https://")):
        return replace(story, extract_error="no article link to fetch")
    try:
        if not await robots.allowed(client, story.url, timeout):
            return replace(story, extract_error="robots.txt disallows fetching the article")
        response = await get(
            client,
            story.source,
            story.url,
            timeout,
            max_bytes=MAX_ARTICLE_BYTES,
            accept=ACCEPT_HTML,
        )
        page = decode(story.source, response.body, response.content_type)
    except SourceError as exc:
        return replace(story, extract_error=exc.reason)
    extraction = await asyncio.to_thread(extract_article, page.data, response.url)
    if not extraction.ok:
        return replace(story, extract_error=extraction.error)
    return replace(
        story,
        body=extraction.text,
        extract_error="",
        language=detect(f"{story.title}. {extraction.text}", story.language),
    )


async def add_full_text(
    client: httpx.AsyncClient, stories: Sequence[Story], timeout: float
) -> list[Story]:
    """Every story with its full text (or its reason), in the same order."""
    return list(await asyncio.gather(*(with_full_text(client, s, timeout) for s in stories)))
