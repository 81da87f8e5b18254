"""The daemon: APScheduler runs each source on its own interval until a signal stops it.

Everything runs on one asyncio loop: fetches overlap, database writes do not
(they happen between awaits), and blocking notifier calls go to a thread.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Settings, SourceConfig
from monitor.cycle import PollReport, poll_all, poll_source
from monitor.log import event
from monitor.models import Rule
from monitor.notify import Notifier
from monitor.notify.outbox import DeliveryReport, build_notifiers, deliver_pending
from monitor.sources.http import build_client
from monitor.store import Store
from monitor.timeutil import utcnow

#: Pending deliveries (retries) are retried this often even when no source runs.
DELIVERY_INTERVAL = timedelta(seconds=30)
#: How long in-flight work may take to finish after SIGTERM before it is abandoned.
SHUTDOWN_GRACE_SECONDS = 8.0


@dataclass
class CycleReport:
    polls: list[PollReport] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class Daemon:
    """Owns the long-lived parts (store, HTTP client, notifiers) for one run."""

    def __init__(self, settings: Settings, rules: Sequence[Rule]) -> None:
        self.settings = settings
        self.rules = tuple(rules)
        self.notifiers: dict[str, Notifier] = build_notifiers(settings)
        self._deliver_lock = asyncio.Lock()

    async def deliver(self, store: Store) -> DeliveryReport:
        """Send pending alerts; one delivery run at a time so nothing is sent twice."""
        async with self._deliver_lock:
            return await deliver_pending(store, self.notifiers)

    async def run_once(self) -> CycleReport:
        """One full cycle: fetch every source, match, store, deliver."""
        store = Store.open(self.settings.database)
        try:
            async with build_client(self.settings.user_agent) as client:
                polls = await poll_all(self.settings, self.rules, store, client)
            delivery = await self.deliver(store)
            return CycleReport(polls, delivery)
        finally:
            store.close()

    async def run_forever(self) -> None:
        """Run until SIGINT or SIGTERM, then finish in-flight work and return."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        store = Store.open(self.settings.database)
        client = build_client(self.settings.user_agent)
        scheduler = AsyncIOScheduler(timezone="UTC")

        async def poll_job(source: SourceConfig) -> None:
            await poll_source(source, self.settings, self.rules, store, client)
            await self.deliver(store)

        async def deliver_job() -> None:
            await self.deliver(store)

        now = utcnow()
        for source in self.settings.sources:
            scheduler.add_job(
                poll_job,
                "interval",
                args=[source],
                id=f"source:{source.name}",
                seconds=source.interval.total_seconds(),
                next_run_time=now,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(source.interval.total_seconds()),
            )
        scheduler.add_job(
            deliver_job,
            "interval",
            id="deliver",
            seconds=DELIVERY_INTERVAL.total_seconds(),
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        event(
            "started",
            config=self.settings.path,
            database=self.settings.database,
            sources=len(self.settings.sources),
            rules=len(self.rules),
            channels=",".join(self.settings.channels),
        )
        try:
            await stop.wait()
        finally:
            event("stopping")
            scheduler.shutdown(wait=False)
            await _finish_in_flight(SHUTDOWN_GRACE_SECONDS)
            await client.aclose()
            store.close()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            event("stopped")


async def _finish_in_flight(grace: float) -> None:
    """Give running jobs ``grace`` seconds, then cancel them.

    A cancelled poll stores nothing half-done: each story is saved in one
    transaction, and a fetch cut short has not been saved at all.
    """
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        event("abandoned", logging.WARNING, tasks=len(pending))
        await asyncio.gather(*pending, return_exceptions=True)
