"""One poll of one source, end to end: fetch -> match -> store.

The daemon schedules this per source and ``run --once`` calls it for all of
them; delivery is a separate step (notify.outbox) that reads what was stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from monitor.config import Settings, SourceConfig
from monitor.log import event
from monitor.matching.engine import match_story
from monitor.models import Rule
from monitor.notify.outbox import routes_for
from monitor.sources import fetch_source
from monitor.store import Store

#: How many sources one process fetches at once.
FETCH_CONCURRENCY = 20


@dataclass(frozen=True)
class PollReport:
    source: str
    ok: bool
    new_stories: int = 0
    new_hits: int = 0
    error: str | None = None


async def poll_source(
    source: SourceConfig,
    settings: Settings,
    rules: Sequence[Rule],
    store: Store,
    client: httpx.AsyncClient,
) -> PollReport:
    """Fetch one source, match its new stories and store them with their hits."""
    result = await fetch_source(client, source, store.source_state(source.name))
    if not result.ok:
        store.record_fetch(result, source.url, 0)
        event("fetch_failed", logging.WARNING, source=source.name, reason=result.error)
        return PollReport(source.name, ok=False, error=result.error)
    if result.warning:
        event("feed_warning", logging.WARNING, source=source.name, reason=result.warning)
    routes = {rule.id: routes_for(rule, settings) for rule in rules}
    new_stories = new_hits = 0
    # Feeds list newest first; store oldest first so ids follow publication.
    for story in reversed(result.stories):
        if store.is_known(story):
            continue
        hits = match_story(rules, story, source.tags)
        hit_ids = store.save(story, hits, routes)
        new_stories += 1
        new_hits += len(hit_ids)
        for hit in hits:
            event("hit", rule=hit.rule.id, source=source.name, story=story.url or story.guid)
    store.record_fetch(result, source.url, new_stories)
    event(
        "fetched",
        source=source.name,
        status=result.status,
        items=len(result.stories),
        new=new_stories,
        hits=new_hits,
    )
    return PollReport(source.name, ok=True, new_stories=new_stories, new_hits=new_hits)


async def poll_all(
    settings: Settings, rules: Sequence[Rule], store: Store, client: httpx.AsyncClient
) -> list[PollReport]:
    """Poll every source concurrently (bounded); one failure never stops the others."""
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def one(source: SourceConfig) -> PollReport:
        async with gate:
            return await poll_source(source, settings, rules, store, client)

    return list(await asyncio.gather(*(one(source) for source in settings.sources)))
