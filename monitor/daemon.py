"""The daemon: APScheduler runs every source as its own job until a signal stops it.

Everything runs on one asyncio loop: fetches overlap, database writes do not
(they happen between awaits), and blocking notifier calls go to threads.

Jobs (all coroutines, so none of them touches the database from another thread)::

    source:<name>   one per source: its interval and jitter, max_instances=1,
                    coalesced, with a misfire grace of one interval
    deliver         the outbox: every 30 s for retries, and at once after a
                    poll stored new hits
    heartbeat       the row `monitor status` reads
    watchdog        WATCHDOG=1 to systemd, when WatchdogSec= asks for it
    maintenance     daily at 03:17 UTC: prune old history (retention_days),
                    checkpoint the WAL

Signals: SIGTERM and SIGINT stop it (no new runs; work in flight gets
``SHUTDOWN_GRACE_SECONDS``, then is cancelled); SIGHUP reloads the config and
the rules, validated first, keeping the running ones when the new are bad.

A reload (SIGHUP, or an edit of the rule folder) reads, validates and compiles
on a worker thread: 10,000 rules take seconds (mostly parsing their YAML),
which would otherwise stall every poll, delivery and watchdog ping. The loop
then switches to the result in one step, so a poll in flight finishes with the
rules it started with. Reloads take turns (``_reload_lock``), so the last one
to start is the last one applied, and it read the newest files.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Settings, SourceConfig, load_config
from monitor.cycle import PollReport, poll_all, poll_source
from monitor.endpoint import Endpoint
from monitor.errors import MonitorError, RuleError
from monitor.health import check
from monitor.lockfile import DaemonLock
from monitor.log import event, redact, set_level, subscribe
from monitor.matching.compiled import CompiledRules, compile_rules
from monitor.metrics import Metrics
from monitor.models import Rule
from monitor.notify import Notifier
from monitor.notify.ops import send_ops
from monitor.notify.outbox import Courier, DeliveryReport, build_notifiers
from monitor.rules import load_rules
from monitor.rules.watch import RuleWatcher, Signature, signature
from monitor.sdnotify import SystemdNotifier
from monitor.sources.http import HttpClient, build_client
from monitor.store import Store, heartbeat
from monitor.store.retention import PruneReport
from monitor.timeutil import utcnow

#: Pending deliveries (retries) are retried this often even when no source runs.
DELIVERY_INTERVAL = timedelta(seconds=30)
#: How often the daemon renews its heartbeat in the database.
HEARTBEAT_INTERVAL = timedelta(seconds=10)
#: How often the rule folder is checked for edits (a reload waits a further second
#: for the editor's save burst to settle).
RULE_WATCH_INTERVAL = timedelta(seconds=1)
#: How long in-flight work may take to finish after SIGTERM before it is abandoned.
SHUTDOWN_GRACE_SECONDS = 5.0
#: Sources sharing an interval are spread over up to a tenth of it, this much at most.
MAX_JITTER = timedelta(seconds=30)

P = ParamSpec("P")
T = TypeVar("T")


def secrets_of(settings: Settings) -> list[str]:
    """The config values that must never be printed."""
    found = []
    if settings.slack:
        found += [settings.slack.token, settings.slack.webhook_url]
    if settings.email:
        found.append(settings.email.password)
    return [s for s in found if s]


def source_job_id(name: str) -> str:
    return f"source:{name}"


def jitter_for(interval: timedelta) -> float:
    return min(interval / 10, MAX_JITTER).total_seconds()


def first_run(interval: timedelta, last_fetch_at: datetime | None, now: datetime) -> datetime:
    """When a source's first poll after (re)start is due.

    A source that came due while the daemon was down runs at once, and only
    once however many intervals were missed; one fetched recently waits for
    the rest of its interval instead of being fetched again at every restart.
    """
    if last_fetch_at is None:
        return now
    return max(now, last_fetch_at + interval)


@dataclass
class CycleReport:
    polls: list[PollReport] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class Daemon:
    """What `monitor run` runs: one cycle (``run_once``), or the service (``run_forever``)."""

    def __init__(
        self,
        settings: Settings,
        rules: Sequence[Rule],
        *,
        log_level: str | None = None,
        systemd: SystemdNotifier | None = None,
    ) -> None:
        redact(secrets_of(settings))
        self.settings = settings
        #: The rules compiled for matching; replaced whole (one reference) on reload.
        self.matcher = compile_rules(rules, long_lived=True)
        #: Sends the outbox; kept for the daemon's life (per-channel pacing, parked lanes).
        self.courier = Courier(build_notifiers(settings))
        self.systemd = systemd or SystemdNotifier()
        self.metrics = Metrics()
        #: Given on the command line, the log level wins over the config's, reloads included.
        self.log_level = log_level
        self._deliver_lock = asyncio.Lock()

    @property
    def notifiers(self) -> dict[str, Notifier]:
        """The courier's notifiers (ops messages go through the same ones)."""
        return self.courier.notifiers

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules ``matcher`` was compiled from: switched with it, never apart."""
        return self.matcher.rules

    async def deliver(self, store: Store, *, ignore_backoff: bool = False) -> DeliveryReport:
        """Send pending alerts; one delivery run at a time so nothing is sent twice."""
        async with self._deliver_lock:
            return await self.courier.deliver(
                store, self.settings, self.rules, ignore_backoff=ignore_backoff
            )

    async def run_once(self) -> CycleReport:
        """One full cycle: fetch every source, match, store, deliver."""
        with DaemonLock(self.settings.database):
            store = Store.open(self.settings.database)
            try:
                async with build_client(self.settings.user_agent, self.settings.http) as client:
                    polls = await poll_all(self.settings, self.matcher, store, client)
                # One cycle is one attempt at every retry: a cron job's interval is its backoff.
                delivery = await self.deliver(store, ignore_backoff=True)
                return CycleReport(polls, delivery)
            finally:
                store.close()

    async def run_forever(self) -> None:
        """Run until SIGINT or SIGTERM, then finish (or abandon) in-flight work and return."""
        asyncio.get_running_loop().set_default_executor(_DetachedThreads())
        with DaemonLock(self.settings.database):
            store = Store.open(self.settings.database)
            try:
                async with build_client(self.settings.user_agent, self.settings.http) as client:
                    await _Service(self, store, client).run()
            finally:
                store.close()


class _Service:
    """The live parts of one ``run_forever``: scheduler, jobs, signals, reload."""

    def __init__(self, daemon: Daemon, store: Store, client: HttpClient) -> None:
        self.daemon = daemon
        self.store = store
        self.conn = store.conn
        self.client = client
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.stop = asyncio.Event()
        self._delivering = False
        self._deliver_again = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.watcher = RuleWatcher(daemon.settings.rules)
        self._rules_broken = False
        self._reload_lock = asyncio.Lock()

    async def run(self) -> None:
        daemon, settings = self.daemon, self.daemon.settings
        loop = asyncio.get_running_loop()
        endpoint = None
        if settings.health:
            endpoint = Endpoint(
                settings.health, lambda: check(daemon.settings), daemon.metrics.render
            )
        unsubscribe = subscribe(daemon.metrics.observe)
        started, stopping = time.monotonic(), 0.0
        try:
            heartbeat.record_start(
                self.conn,
                settings.path,
                len(settings.sources),
                len(daemon.rules),
                HEARTBEAT_INTERVAL.total_seconds(),
            )
            daemon.metrics.loaded(len(settings.sources), len(daemon.rules))
            self._refresh_outbox()
            self._schedule()
            self.scheduler.start()
            if endpoint:
                endpoint.start()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self.stop.set)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            event(
                "started",
                config=settings.path,
                database=settings.database,
                sources=len(settings.sources),
                rules=len(daemon.rules),
                channels=",".join(settings.channels),
                health=endpoint.address if endpoint else "off",
                watchdog=_seconds(daemon.systemd.watchdog_interval),
            )
            daemon.systemd.ready(self._status())
            await self.stop.wait()
            stopping = time.monotonic()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            daemon.systemd.stopping()
            event("stopping")
            self._stopping = True
            # Pause, not shut down: shutting down cancels running jobs at once, and
            # they are to have their grace first.
            if self.scheduler.running:
                self.scheduler.pause()
            await _finish_in_flight(SHUTDOWN_GRACE_SECONDS)
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            heartbeat.record_stop(self.conn)
            if endpoint:
                endpoint.close()
            unsubscribe()
            now = time.monotonic()
            event(
                "stopped",
                uptime=f"{now - started:.1f}s",
                shutdown=f"{now - stopping:.1f}s" if stopping else "-",
            )

    def _status(self) -> str:
        settings = self.daemon.settings
        return f"watching {len(settings.sources)} sources with {len(self.daemon.rules)} rules"

    # Scheduling --------------------------------------------------------------

    def _schedule(self) -> None:
        now = utcnow()
        last = heartbeat.last_fetches(self.conn)
        for source in self.daemon.settings.sources:
            self._add_source(source, last.get(source.name), now)
        # next_run_time=now: whatever was left pending by the last run.
        self._every(DELIVERY_INTERVAL, self.deliver, "deliver", "deliver the outbox", now)
        self._every(RULE_WATCH_INTERVAL, self.watch_rules, "watch-rules", "watch the rule folder")
        self._every(HEARTBEAT_INTERVAL, self.beat, "heartbeat", "heartbeat")
        watchdog = self.daemon.systemd.watchdog_interval
        if watchdog:
            # A third of WatchdogSec: two pings may be late before systemd steps in.
            self._every(watchdog / 3, self.watchdog, "watchdog", "systemd watchdog", now)
        self.scheduler.add_job(
            self.maintain,
            CronTrigger(hour=3, minute=17, timezone=UTC),
            id="maintenance",
            name="daily maintenance",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )

    def _every(
        self,
        interval: timedelta,
        job: Callable[[], Any],
        job_id: str,
        name: str,
        first: datetime | None = None,
    ) -> None:
        """A housekeeping job: every ``interval``, one run at a time, missed runs coalesced.

        ``first`` is when it first runs; without it, one interval from now.
        """
        # APScheduler adds a job paused when given next_run_time=None: leave it out instead.
        when = {"next_run_time": first} if first else {}
        self.scheduler.add_job(
            job,
            IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC),
            id=job_id,
            name=name,
            max_instances=1,
            coalesce=True,
            **when,
        )

    def _add_source(
        self, source: SourceConfig, last_fetch_at: datetime | None, now: datetime
    ) -> None:
        interval = source.interval
        self.scheduler.add_job(
            self.poll,
            IntervalTrigger(
                seconds=interval.total_seconds(), jitter=jitter_for(interval), timezone=UTC
            ),
            args=[source],
            id=source_job_id(source.name),
            name=f"poll {source.name}",
            next_run_time=first_run(interval, last_fetch_at, now),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval.total_seconds())),
            replace_existing=True,
        )

    # Jobs --------------------------------------------------------------------

    async def poll(self, source: SourceConfig) -> None:
        daemon = self.daemon
        started = time.monotonic()
        try:
            report = await poll_source(
                source, daemon.settings, daemon.matcher, self.store, self.client
            )
            heartbeat.beat(self.conn, cycle=True)
        except Exception as exc:  # a bug or a database error: log it, keep the schedule
            event("poll_failed", logging.ERROR, source=source.name, error=_describe(exc))
            return
        except asyncio.CancelledError:
            # Only shutdown cancels a poll, and only mid-fetch, before anything is stored.
            # Not re-raised: APScheduler would log it as a crash, with a traceback.
            event("poll_abandoned", logging.WARNING, source=source.name)
            return
        daemon.metrics.poll_done(source.name, time.monotonic() - started, report.ok)
        self._refresh_outbox()
        if report.new_hits:
            self._wake_delivery()

    async def deliver(self) -> None:
        """The 30 s job: retries, and whatever a previous run left pending."""
        if self._delivering:
            self._deliver_again = True
            return
        self._delivering = True
        await self._deliver_rounds()

    def _wake_delivery(self) -> None:
        """Deliver new hits now, not at the next 30 s tick, and without holding up the poll.

        ``_delivering`` is set here, before any await, so two polls finishing
        together start one delivery, and the second makes it go round again.
        """
        if self._stopping:
            return  # stays pending; the next start delivers it
        if self._delivering:
            self._deliver_again = True
            return
        self._delivering = True
        self._spawn(self._deliver_rounds(), "deliver new hits")

    async def _deliver_rounds(self) -> None:
        """Deliver until no poll stored new hits meanwhile; the caller set ``_delivering``."""
        try:
            while True:
                self._deliver_again = False
                await self.daemon.deliver(self.store)
                self._refresh_outbox()
                if not self._deliver_again:
                    return
        except Exception as exc:
            event("delivery_run_failed", logging.ERROR, error=_describe(exc))
        except asyncio.CancelledError:
            # Shutdown, after the grace: the alert being sent stays pending, in doubt, and
            # the next start checks for it before sending again (notify/outbox.py).
            event("delivery_abandoned", logging.WARNING)
        finally:
            self._delivering = False

    async def beat(self) -> None:
        try:
            heartbeat.beat(self.conn)
        except Exception as exc:
            event("heartbeat_failed", logging.ERROR, error=_describe(exc))

    async def watchdog(self) -> None:
        self.daemon.systemd.watchdog()

    async def maintain(self) -> None:
        """Prune history past ``retention_days``, then tidy the database file.

        The prune runs on a thread with its own connection, in small
        transactions, so fetches, deliveries and the watchdog carry on meanwhile.
        """
        settings = self.daemon.settings
        try:
            report = await asyncio.to_thread(
                _prune, settings.database, settings.retention_days, settings.keep_hits
            )
            event(
                "pruned",
                retention_days=settings.retention_days,
                stories=report.stories_deleted,
                bodies=report.bodies_cleared,
                hits=report.hits_deleted,
                deliveries=report.deliveries_deleted,
            )
            self.conn.execute("PRAGMA optimize")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception as exc:
            event("maintenance_failed", logging.ERROR, error=_describe(exc))

    def _refresh_outbox(self) -> None:
        self.daemon.metrics.outbox_pending.set(heartbeat.outbox_pending(self.conn))

    # Reload ------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` as a task of its own, kept until done (or it may be collected mid-run)."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def watch_rules(self) -> None:
        """Start a reload once an edit of the rule folder has settled.

        The reload is a task of its own rather than awaited here: this job runs
        every second, and the scheduler warns about every run it has to skip.
        """
        if self.watcher.poll(time.monotonic()):
            event("rules_changed", folder=self.watcher.folder)
            self._spawn(self.reload_rules(), "reload the rule folder")

    async def reload_rules(self) -> None:
        """Load the rule folder again; a broken edit keeps the last good rules running."""
        async with self._reload_lock:
            settings = self.daemon.settings
            try:
                matcher = await asyncio.to_thread(_compile_folder, settings)
            except RuleError as error:
                await self._rules_failed(error)
                return
            except Exception as exc:  # a bug in loading or compiling: the old rules stay
                _reload_failed(_describe(exc), "report this as a bug; the old rules still run")
                return
            self.daemon.matcher = matcher
            self._record_loaded(settings)
            event("rules_reloaded", rules=len(matcher.rules), folder=settings.rules)
            await self._rules_fixed()

    def _record_loaded(self, settings: Settings) -> None:
        """What runs now, for `monitor status` and the metrics."""
        count = len(self.daemon.rules)
        heartbeat.record_loaded(self.conn, len(settings.sources), count)
        self.daemon.metrics.loaded(len(settings.sources), count)

    async def _ops(self, text: str) -> None:
        # On a thread: slack-sdk blocks, and a slow Slack must not stall the loop.
        await asyncio.to_thread(send_ops, self.daemon.notifiers.values(), text)

    async def _rules_failed(self, error: RuleError) -> None:
        _problems_failed([str(p) for p in error.problems], "the rule files", error.hint)
        if self._rules_broken:
            return  # one ops message per broken state, not one per save
        self._rules_broken = True
        first = error.problems[0] if error.problems else "unknown problem"
        await self._ops(
            f"monitor: rule reload failed ({len(error.problems)} problem(s), first: {first}); "
            f"still running the last good {len(self.daemon.rules)} rules. "
            "Run `monitor check` for the full list.",
        )

    async def _rules_fixed(self) -> None:
        if not self._rules_broken:
            return
        self._rules_broken = False
        await self._ops(
            f"monitor: rule files are valid again; {len(self.daemon.rules)} rules loaded."
        )

    def reload(self) -> None:
        """SIGHUP: load and check the config and rules; switch only if all of it is good."""
        self._spawn(self._reload_all(), "reload the config and rules")

    async def _reload_all(self) -> None:
        daemon = self.daemon
        daemon.systemd.reloading()
        event("reloading", config=daemon.settings.path)
        try:
            async with self._reload_lock:
                await self._reload()
        finally:
            if not self._stopping:
                daemon.systemd.ready(self._status())

    async def _reload(self) -> None:
        daemon, old = self.daemon, self.daemon.settings
        try:
            settings, matcher, seen = await asyncio.to_thread(_load_all, old.path)
        except RuleError as error:
            await self._rules_failed(error)
            return
        except MonitorError as error:
            lines = error.message.splitlines()
            if len(lines) > 1:  # a config with several problems: one log line each
                _problems_failed(lines, "the config", error.hint)
            else:
                _reload_failed(error.message, error.hint)
            return
        except Exception as exc:  # a bug in loading or compiling: the old ones stay
            _reload_failed(_describe(exc), "report this as a bug; the old config still runs")
            return
        redact(secrets_of(settings))
        if settings.database.resolve() != old.database.resolve():
            _reload_failed(
                "the database cannot change while the daemon runs",
                "restart the daemon to switch databases",
            )
            return
        # From here to the end nothing is awaited: no poll sees half of the switch.
        daemon.settings, daemon.matcher = settings, matcher
        if (settings.slack, settings.email) != (old.slack, old.email):
            daemon.courier.notifiers = build_notifiers(settings)
        if settings.user_agent != old.user_agent:
            self.client.headers["User-Agent"] = settings.user_agent
        if settings.http != old.http:
            self.client.apply(settings.http)
        if settings.health != old.health:
            event("reload_note", logging.WARNING, note="[health] changes apply at the next restart")
        set_level(daemon.log_level or settings.log_level or "info")
        self.watcher.reset(settings.rules, seen)
        added, removed, changed = self._sync_sources(old.sources, settings.sources)
        self._record_loaded(settings)
        event(
            "reloaded",
            sources=len(settings.sources),
            rules=len(daemon.rules),
            added=_names(added),
            removed=_names(removed),
            changed=_names(changed),
        )
        await self._rules_fixed()

    def _sync_sources(
        self, old: Sequence[SourceConfig], new: Sequence[SourceConfig]
    ) -> tuple[list[str], list[str], list[str]]:
        """Add, remove or replace exactly the jobs of the sources that changed."""
        before = {s.name: s for s in old}
        after = {s.name: s for s in new}
        added = [name for name in after if name not in before]
        removed = [name for name in before if name not in after]
        changed = [name for name in after if name in before and after[name] != before[name]]
        for name in removed:
            self.scheduler.remove_job(source_job_id(name))
        now = utcnow()
        last = heartbeat.last_fetches(self.conn)
        for name in added + changed:
            self._add_source(after[name], last.get(name), now)
        return added, removed, changed


def _compile_folder(settings: Settings) -> CompiledRules:
    """The rule folder, loaded and compiled (on a worker thread)."""
    return compile_rules(load_rules(settings.rules, settings.channels), long_lived=True)


def _load_all(config: Path) -> tuple[Settings, CompiledRules, Signature]:
    """The config and its compiled rules (on a worker thread), and how the folder looked.

    The folder's look is taken before it is read, so an edit saved meanwhile
    still counts as a change for the watcher.
    """
    settings = load_config(config)
    seen = signature(settings.rules)
    return settings, _compile_folder(settings), seen


def _prune(database: Path, retention_days: int, keep_hits: bool) -> PruneReport:
    store = Store.open(database)
    try:
        return store.prune(retention_days, keep_hits=keep_hits)
    finally:
        store.close()


def _problems_failed(problems: list[str], where: str, hint: str) -> None:
    """A reload refused for located problems: one ``reload_problem`` line each, then why."""
    for problem in problems:
        event("reload_problem", logging.ERROR, problem=problem)
    _reload_failed(f"{len(problems)} problem(s) in {where}", hint)


def _reload_failed(reason: str, hint: str) -> None:
    event(
        "reload_failed",
        logging.ERROR,
        reason=reason,
        hint=hint,
        action="kept the running config and rules",
    )


def _names(names: Iterable[str]) -> str:
    return ",".join(names) or "-"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _seconds(delta: timedelta | None) -> str:
    return f"{delta.total_seconds():g}s" if delta else "off"


async def _finish_in_flight(grace: float) -> None:
    """Give running jobs ``grace`` seconds, then cancel them.

    A cancelled poll stores nothing half-done: each story is saved in one
    transaction, and a fetch cut short has not been saved at all. A cancelled
    delivery stays pending and goes out after the restart.
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


class _DetachedThreads(concurrent.futures.ThreadPoolExecutor):
    """The loop's executor: each blocking call on a daemon thread of its own.

    A notifier stuck in a slow SMTP or Slack exchange must not hold the exit
    past systemd's stop timeout, and the standard pool waits for its threads
    at exit. Calls are few (one per delivery or DNS lookup), so a thread each
    costs nothing worth pooling.
    """

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=work, name="monitor-worker", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass  # nothing to wait for: threads still running are abandoned with the process
