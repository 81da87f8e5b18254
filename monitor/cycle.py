"""One poll of one source, end to end: fetch -> match -> store.

The daemon schedules this per source and ``run --once`` calls it for all of
them; delivery is a separate step (notify.outbox) that reads what was stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx

from monitor.config import Settings, SourceConfig
from monitor.dedupe import content_hash, signature
from monitor.log import event
from monitor.matching.compiled import CompiledRules
from monitor.models import Hit, Story
from monitor.notify.ops import send_ops
from monitor.notify.outbox import build_notifiers, routes_for
from monitor.sources import FetchResult, fetch_source
from monitor.sources.base import is_backdated
from monitor.sources.fulltext import add_full_text
from monitor.store import Store
from monitor.store.clusters import Known
from monitor.timeutil import isoformat, utcnow

#: How many sources one process fetches at once.
FETCH_CONCURRENCY = 20

#: A story to store: (story, the stored one it updates, content hash, backdated, hits, signature).
Matched = tuple[Story, Known | None, str, bool, list[Hit], bytes | None]


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
    matcher: CompiledRules,
    store: Store,
    client: httpx.AsyncClient,
) -> PollReport:
    """Fetch one source, match its new (or changed) stories and store them with their hits.

    A story already stored (same guid or canonical URL) is skipped unless its
    feed text changed; then it is re-matched and only rules that have not hit
    its cluster yet fire. A copy of a stored story (syndication) joins that
    story's cluster, so rules that hit the cluster do not fire again.
    Backdated stories are stored without matching. ``client`` comes with the
    ``[http]`` settings applied by whoever built it (the daemon, on reload too).
    """
    state = store.source_state(source.name)
    if state.not_before and utcnow() < state.not_before:
        reason = f"backing off after {state.failures} failures until {isoformat(state.not_before)}"
        event("fetch_deferred", source=source.name, reason=reason)
        return PollReport(source.name, ok=False, error=reason)
    result = await fetch_source(client, source, state)
    if not result.ok:
        store.record_fetch(result, source.url, 0)
        event("fetch_failed", logging.WARNING, source=source.name, reason=result.error)
        await _health(store, source, settings, result)
        return PollReport(source.name, ok=False, error=result.error)
    if result.warning:
        event("feed_warning", logging.WARNING, source=source.name, reason=result.warning)
    routes = {rule.id: routes_for(rule, settings) for rule in matcher.rules}
    new_stories = new_hits = 0
    fresh = []
    # Feeds list newest first; store oldest first so ids follow publication.
    for story in reversed(result.stories):
        known = store.known(story)
        digest = content_hash(story.title, story.summary, story.body)
        if known and (known.source != source.name or _unchanged(known, digest)):
            # Seen before. Another feed's copy of a stored story (same link or guid)
            # is a second sighting, not an edit: taking its text would swap the two
            # copies back and forth on every poll, and match the story again.
            continue
        fresh.append((story, known, digest))
    if fresh and (source.full_text or source.type == "page"):
        texts = await add_full_text(
            client, [story for story, _, _ in fresh], source.timeout.total_seconds()
        )
        fresh = [
            (text, known, digest) for text, (_, known, digest) in zip(texts, fresh, strict=True)
        ]
    matched: list[Matched] = []
    for story, known, digest in fresh:
        # Published long before first seen (re-surfaced or backdated): stored, not alerted.
        backdated = is_backdated(story, source.max_age)
        hits = [] if backdated else matcher.match_story(story, source.tags)
        matched.append(
            (story, known, digest, backdated, hits, signature(story.body or story.summary))
        )
    if matched:
        new_stories, new_hits = store_stories(store, source.name, matched, routes)
    store.record_fetch(result, source.url, new_stories)
    await _health(store, source, settings, result)
    event(
        "fetched",
        source=source.name,
        status=result.status,
        items=len(result.stories),
        new=new_stories,
        hits=new_hits,
    )
    return PollReport(source.name, ok=True, new_stories=new_stories, new_hits=new_hits)


def _unchanged(known: Known, digest: str) -> bool:
    """Whether a stored story's text is what its feed now says (stories stored before
    content hashes existed have none: never "changed")."""
    return not known.content_hash or known.content_hash == digest


def store_stories(
    store: Store, source: str, matched: list[Matched], routes: dict[str, list[tuple[str, str]]]
) -> tuple[int, int]:
    """Store a poll's matched stories; returns (new stories, new hits).

    The storing half of ``poll_source``, public so that bench/history.py times
    the daemon's own path. One transaction for the poll, with the stories
    matched beforehand so the write lock is held for the rows alone: a commit
    costs more than a story. A duplicate (stored meanwhile by another feed)
    skips only itself and counts for nothing; any other error rolls the whole
    poll back (see ``Store.batch``). A hit the store did not keep, because its
    rule had hit the cluster already (an update, a syndicated copy), is logged
    as ``hit_suppressed``, the others as ``hit``.
    """
    new_stories = new_hits = 0
    with store.batch():
        for story, known, digest, backdated, hits, sig in matched:
            where = story.url or story.guid
            if known:
                saved = store.update(known, story, digest, hits, routes, sig)
                event("story_updated", source=source, story=where)
            else:
                saved = store.save(
                    story,
                    hits,
                    routes,
                    cluster_id=store.find_cluster(story, sig),
                    signature=sig,
                    content_hash=digest,
                    backdated=backdated,
                )
                if saved.story_id is None:
                    continue  # another feed stored it first, this poll: its hits are that feed's
                new_stories += 1
            new_hits += len(saved.hits)
            for hit in hits:
                if hit.rule.id in saved.hits:
                    event("hit", rule=hit.rule.id, source=source, story=where)
                else:
                    event(
                        "hit_suppressed",
                        logging.DEBUG,
                        rule=hit.rule.id,
                        source=source,
                        story=where,
                        cluster=saved.cluster_id,
                    )
    return new_stories, new_hits


async def _health(
    store: Store, source: SourceConfig, settings: Settings, result: FetchResult
) -> None:
    """Backoff and stale-source ops alerts: one when it goes stale, one when it recovers."""
    change = store.record_outcome(result, source.interval, source.stale_after)
    if change is None:
        return
    since = isoformat(change.failing_since)
    if change.kind == "stale":
        text = (
            f"monitor: source {source.name} has been failing since {since} "
            f"({change.error}); `monitor sources` shows its state."
        )
        event("source_stale", logging.WARNING, source=source.name, since=since, error=change.error)
    else:
        text = f"monitor: source {source.name} is back (it had been failing since {since})."
        event("source_recovered", logging.WARNING, source=source.name, since=since)
    # The ops channel (console and Slack, whichever are configured); slack-sdk blocks.
    await asyncio.to_thread(send_ops, build_notifiers(settings).values(), text)


async def poll_all(
    settings: Settings, matcher: CompiledRules, store: Store, client: httpx.AsyncClient
) -> list[PollReport]:
    """Poll every source concurrently (bounded); one failure never stops the others."""
    # The client bounds requests in flight (settings.http.concurrency); this bounds
    # sources in progress, so a few more than that keep the client busy.
    gate = asyncio.Semaphore(max(FETCH_CONCURRENCY, settings.http.concurrency * 2))

    async def one(source: SourceConfig) -> PollReport:
        async with gate:
            return await poll_source(source, settings, matcher, store, client)

    return list(await asyncio.gather(*(one(source) for source in settings.sources)))
