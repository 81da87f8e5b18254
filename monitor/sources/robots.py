"""robots.txt, honoured for the article pages we fetch for full text.

Feeds are published to be polled and are not checked; an article page is a
page a crawler would fetch, so its site's robots.txt decides. RFC 9309: a
robots.txt that is missing (any 4xx) allows everything; one that cannot be
fetched (5xx, network error) disallows everything, for a shorter while.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from monitor.errors import SourceError
from monitor.sources.http import HttpClient, get

#: How long a robots.txt is trusted, and how long an unreachable one blocks.
TTL_SECONDS = 24 * 3600
UNREACHABLE_TTL_SECONDS = 600
MAX_ROBOTS_BYTES = 512 * 1024


@dataclass
class _Rules:
    parser: RobotFileParser | None  # None: everything allowed
    disallow_all: bool
    expires: float


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups name: ``monitor/0.1 (+...)`` -> ``monitor``."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


async def _load(client: httpx.AsyncClient, origin: str, timeout: float) -> _Rules:
    now = time.monotonic()
    try:
        response = await get(
            client, "robots.txt", origin + "/robots.txt", timeout, max_bytes=MAX_ROBOTS_BYTES
        )
    except SourceError as exc:
        if "HTTP 4" in exc.reason:
            return _Rules(None, False, now + TTL_SECONDS)
        return _Rules(None, True, now + UNREACHABLE_TTL_SECONDS)
    parser = RobotFileParser()
    parser.parse(response.body.decode("utf-8", errors="replace").splitlines())
    return _Rules(parser, False, now + TTL_SECONDS)


async def allowed(client: httpx.AsyncClient, url: str, timeout: float = 10.0) -> bool:
    """Whether the site's robots.txt lets our User-Agent fetch ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    origin = f"{parts.scheme}://{parts.netloc}"
    caches = client.caches if isinstance(client, HttpClient) else {}
    cache: dict[str, _Rules] = caches.setdefault("robots", {})
    locks: dict[str, asyncio.Lock] = caches.setdefault("robots_locks", {})
    # One load per site, however many of its articles are waiting for it.
    async with locks.setdefault(origin, asyncio.Lock()):
        rules = cache.get(origin)
        if rules is None or rules.expires < time.monotonic():
            rules = cache[origin] = await _load(client, origin, timeout)
    if rules.disallow_all:
        return False
    if rules.parser is None:
        return True
    agent = agent_token(client.headers.get("User-Agent", ""))
    return rules.parser.can_fetch(agent, url)
