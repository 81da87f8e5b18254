"""The outbox: who gets an alert (routing), when (planning), and getting it there.

Deliveries are rows in SQLite, written as pending together with their hit
(store/db.py); every other read and write is in store/outbox.py. One
delivery run (``Courier.deliver``, the daemon's deliver job):

1. recovers, once per process, the sends a crash cut off (``in_doubt``);
2. plans new deliveries (notify/schedule.py: backfill, digest, cooldown,
   hourly cap, quiet hours), storing each plan so restarts keep it;
3. groups what is due into messages: one per batch, one per single alert,
   or one digest when more than ``backlog`` singles wait for one place;
4. sends each message: lanes (a Slack channel, the webhook) run side by side,
   each paced to ``PACE_SECONDS`` between messages and parked after a long
   429; a send is claimed in its own commit before the network call and
   recorded right after the answer;
5. posts "+1 outlet" thread replies under Slack alerts (bot token only).

Exactly once, as far as it can be had: a message the server acknowledged is
recorded as sent in the commit right after the acknowledgement. If the
process dies between the two (or a send times out), the delivery is *in
doubt*. The next try keeps the attempt's key: with a Slack bot token it
first looks for a message carrying that key in the channel's history and
records it as sent if found; email goes again with the same Message-ID,
which mail clients fold into one; a webhook or the console cannot check and
sends again. docs/alerts.md spells out what this does and does not promise.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Settings
from monitor.errors import DeliveryError
from monitor.log import event
from monitor.models import Digest, Rule
from monitor.notify import Notifier, Receipt, threads
from monitor.notify.console import ConsoleNotifier
from monitor.notify.digest import reply_text
from monitor.notify.email import EmailNotifier
from monitor.notify.schedule import Lookup, Planner, Policy, backoff, batch_reason
from monitor.notify.slack import SlackNotifier
from monitor.store import Store
from monitor.store import outbox as box
from monitor.timeutil import isoformat, utcnow

CONSOLE_TARGET = "-"
#: Messages in one lane (one Slack channel, or the webhook) start at least this far apart.
PACE_SECONDS = 1.0
#: An in-doubt attempt's message is looked for from this long before it was claimed.
LOOKUP_SLACK = timedelta(minutes=5)


def routes_for(rule: Rule, settings: Settings) -> list[tuple[str, str]]:
    """The (channel, target) pairs one hit of ``rule`` is delivered to.

    A rule's ``notify`` overrides the channel's default target; ``slack: false``
    or ``email: []`` switches that channel off for the rule.
    """
    routes: list[tuple[str, str]] = []
    if settings.slack:
        slack = rule.notify.slack
        if slack is not False:
            routes.append(("slack", slack if isinstance(slack, str) else settings.slack.channel))
    if settings.email:
        email = rule.notify.email
        recipients = settings.email.recipients if email is None else email
        if recipients:
            routes.append(("email", ",".join(recipients)))
    if not settings.slack and not settings.email:
        routes.append(("console", CONSOLE_TARGET))
    return routes


def build_notifiers(settings: Settings) -> dict[str, Notifier]:
    """One notifier per configured channel; the console when none is configured."""
    notifiers: dict[str, Notifier] = {"console": ConsoleNotifier()}
    if settings.slack:
        notifiers["slack"] = SlackNotifier(settings.slack)
    if settings.email:
        notifiers["email"] = EmailNotifier(settings.email)
    return notifiers


def policy_of(settings: Settings) -> Policy:
    """The planner's policy from the config's ``[delivery]`` and per-channel digests."""
    delivery = settings.delivery
    digests = {
        name: cadence
        for name, cadence in (
            ("slack", settings.slack.digest if settings.slack else None),
            ("email", settings.email.digest if settings.email else None),
        )
        if cadence is not None
    }
    return Policy(
        backfill=delivery.backfill,
        max_per_hour=delivery.max_per_hour,
        backlog=delivery.backlog,
        zone=ZoneInfo(delivery.timezone),
        quiet_hours=delivery.quiet_hours,
        quiet_bypass=delivery.quiet_bypass,
        channel_digest=digests,
    )


@dataclass
class DeliveryReport:
    """What one delivery run did, counted in deliveries (a digest of 5 is 5 sent)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0  # planned for later (digest, cooldown, cap, quiet hours)
    skipped: int = 0  # older than backfill: stored, never alerted
    confirmed: int = 0  # in doubt after a crash, found already posted: not sent again
    messages: int = 0
    replies: int = 0


class _StoreLookup(Lookup):
    def __init__(self, store: Store, now: datetime) -> None:
        self.conn = store.conn
        self.now = now

    def last_message(self, rule: str, channel: str, target: str) -> datetime | None:
        return box.last_message(self.conn, rule, channel, target, self.now)

    def recent_messages(self, channel: str, target: str, since: datetime) -> list[datetime]:
        return box.recent_messages(self.conn, channel, target, since)


@dataclass(frozen=True)
class _Message:
    """Deliveries that go out as one message (a single alert when there is one row)."""

    channel: str
    target: str
    lane: str
    rows: tuple[box.DueDelivery, ...]
    key: str
    batch: str = ""
    reason: str = ""
    in_doubt: bool = False

    @property
    def ids(self) -> list[int]:
        return [row.id for row in self.rows]

    @property
    def label(self) -> str:
        """The delivery ids for a log line: ``12,13,14``."""
        return ",".join(map(str, self.ids))

    @property
    def first_due(self) -> datetime:
        return min(row.first_due for row in self.rows)


def _new_key() -> str:
    return uuid.uuid4().hex[:20]


@dataclass
class Courier:
    """Delivers the outbox; one per daemon, so pacing and parked lanes outlive a run.

    ``clock`` is the time the plans and the bookkeeping use, and ``pace`` the
    seconds between two messages in one lane (tests move the one, shorten the other).
    """

    notifiers: dict[str, Notifier]
    clock: Callable[[], datetime] = utcnow
    pace: float = PACE_SECONDS
    _last_start: dict[tuple[str, str], float] = field(default_factory=dict)
    _parked: dict[tuple[str, str], float] = field(default_factory=dict)
    _recovered: bool = False

    async def deliver(
        self,
        store: Store,
        settings: Settings,
        rules: Sequence[Rule],
        *,
        ignore_backoff: bool = False,
    ) -> DeliveryReport:
        """Plan what is new, then send what is due. Run one at a time (the daemon's lock).

        ``ignore_backoff`` (``run --once``) tries every failed-but-retryable
        delivery now: a cron job's interval is its backoff. Plans (digests,
        cooldowns, quiet hours) are honoured either way.
        """
        report = DeliveryReport()
        now = self.clock()
        if not self._recovered:
            self._recovered = True
            if recovered := box.recover(store.conn, now):
                event("outbox_recovered", logging.WARNING, in_doubt=recovered)
        by_id = {rule.id: rule for rule in rules}
        self._plan(store, settings, by_id, now, report)
        box.discover_replies(store.conn, now)
        messages = self._messages(box.due(store.conn, now, ignore_backoff), settings, by_id)
        lanes: dict[tuple[str, str], list[_Message]] = {}
        for message in messages:
            lanes.setdefault((message.channel, message.lane), []).append(message)
        await asyncio.gather(
            *(self._run_lane(store, lane, queue, settings, report) for lane, queue in lanes.items())
        )
        await self._replies(store, settings, ignore_backoff, report)
        return report

    # Planning ----------------------------------------------------------------

    def _plan(
        self,
        store: Store,
        settings: Settings,
        rules: dict[str, Rule],
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        items = box.unplanned(store.conn)
        if not items:
            return
        planner = Planner(policy_of(settings), _StoreLookup(store, now), now)
        plans = []
        for item in items:
            rule = rules.get(item.rule)
            plan = planner.plan(
                rule=item.rule,
                severity=item.severity,
                channel=item.channel,
                target=item.target,
                published_at=item.published_at,
                cooldown=rule.cooldown if rule else None,
                digest=rule.digest if rule else None,
            )
            plans.append((item.id, plan.status, plan.due_at, plan.batch, plan.reason))
            if plan.status == "held":
                report.held += 1
                event(
                    "delivery_held",
                    delivery=item.id,
                    channel=item.channel,
                    rule=item.rule,
                    reason=plan.reason,
                    until=isoformat(plan.due_at),
                )
            elif plan.status == "skipped":
                report.skipped += 1
        box.save_plans(store.conn, plans, now)
        if report.skipped:
            # One line for a whole backfill (a new feed brings fifty old items at once).
            event(
                "deliveries_skipped",
                deliveries=report.skipped,
                reason=f"published before the backfill window ({settings.delivery.backfill})",
            )

    # Grouping ----------------------------------------------------------------

    def _messages(
        self,
        rows: list[box.DueDelivery],
        settings: Settings,
        rules: dict[str, Rule],
    ) -> list[_Message]:
        places: dict[tuple[str, str], list[box.DueDelivery]] = {}
        for row in rows:
            rule = rules.get(row.alert.rule_id)
            if rule is not None:
                row = replace(row, alert=replace(row.alert, templates=rule.templates))
            places.setdefault((row.channel, row.target), []).append(row)
        messages: list[_Message] = []
        for (channel, target), items in places.items():
            notifier = self.notifiers.get(channel)
            if notifier is None:
                # The channel was removed from the config: keep the deliveries, so they
                # go out if the channel comes back, and say so.
                event(
                    "delivery_skipped",
                    logging.WARNING,
                    deliveries=len(items),
                    channel=channel,
                    reason="channel is not configured; kept pending",
                )
                continue
            place = (channel, target, notifier.lane(target))
            doubtful: dict[str, list[box.DueDelivery]] = {}
            batches: dict[str, list[box.DueDelivery]] = {}
            singles: list[box.DueDelivery] = []
            for item in items:
                if item.in_doubt and item.attempt_id:
                    doubtful.setdefault(item.attempt_id, []).append(item)
                elif item.batch:
                    batches.setdefault(item.batch, []).append(item)
                else:
                    singles.append(item)
            for key, group in doubtful.items():
                reason = batch_reason(r.reason for r in group)
                messages.append(
                    _Message(*place, tuple(group), key, group[0].batch, reason, in_doubt=True)
                )
            for batch, group in batches.items():
                reason = batch_reason(r.reason for r in group)
                messages.append(_Message(*place, tuple(group), _new_key(), batch, reason))
            backlog = settings.delivery.backlog
            if backlog and len(singles) > backlog:
                key = _new_key()
                event(
                    "backlog_digest",
                    channel=channel,
                    target=target,
                    alerts=len(singles),
                    backlog=backlog,
                )
                messages.append(_Message(*place, tuple(singles), key, f"backlog:{key}", "backlog"))
            else:
                messages.extend(_Message(*place, (single,), _new_key()) for single in singles)
        messages.sort(key=lambda m: min(m.ids))
        return messages

    # Sending -----------------------------------------------------------------

    async def _run_lane(
        self,
        store: Store,
        lane: tuple[str, str],
        queue: list[_Message],
        settings: Settings,
        report: DeliveryReport,
    ) -> None:
        for message in queue:
            if self._parked.get(lane, 0.0) > time.monotonic():
                return  # Slack asked us to wait: the rest stays due for a later run
            await self._send(store, message, settings, report)

    async def _pace(self, lane: tuple[str, str]) -> None:
        if not lane[1]:
            return
        last = self._last_start.get(lane)
        if last is not None:
            wait = last + self.pace - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_start[lane] = time.monotonic()

    def _sent_now(self, lane: tuple[str, str]) -> None:
        # A send that waited out a 429 inside slack-sdk reached Slack at its end, not its
        # start: the next message keeps its distance from that.
        if lane[1]:
            self._last_start[lane] = time.monotonic()

    async def _send(
        self, store: Store, message: _Message, settings: Settings, report: DeliveryReport
    ) -> None:
        notifier = self.notifiers[message.channel]
        conn = store.conn
        await self._pace((message.channel, message.lane))
        box.claim(conn, message.ids, message.key, message.batch, self.clock())
        try:
            receipt = await self._look_first(store, notifier, message)
            if receipt is not None:
                box.mark_sent(conn, message.ids, self.clock(), receipt.channel_id, receipt.ts)
                report.confirmed += len(message.rows)
                event(
                    "delivery_confirmed",
                    logging.WARNING,
                    deliveries=message.label,
                    channel=message.channel,
                    ts=receipt.ts,
                    action="found already posted after a crash; not sent again",
                )
                return
            receipt = await asyncio.to_thread(self._transmit, notifier, message)
        except DeliveryError as exc:
            self._failed(store, message, exc, settings, report)
            return
        except asyncio.CancelledError:
            # Shutdown cut the send off: it may or may not have got through.
            box.release(conn, message.ids, self.clock())
            raise
        finally:
            self._sent_now((message.channel, message.lane))
        box.mark_sent(conn, message.ids, self.clock(), receipt.channel_id, receipt.ts)
        report.sent += len(message.rows)
        report.messages += 1
        first = message.rows[0].alert
        event(
            "alert_sent",
            delivery=message.label,
            channel=message.channel,
            rule=first.rule_id if len(message.rows) == 1 else "-",
            story=first.story_url if len(message.rows) == 1 else "-",
            alerts=len(message.rows),
            kind="alert" if len(message.rows) == 1 else f"digest ({message.reason})",
        )

    async def _look_first(
        self, store: Store, notifier: Notifier, message: _Message
    ) -> Receipt | None:
        """For an attempt in doubt: the message it posted, if the channel can tell."""
        if not message.in_doubt:
            return None
        threaded = threads(notifier)
        if threaded is None:
            how = "with the same Message-ID" if message.channel == "email" else "unverified"
            event(
                "delivery_in_doubt",
                logging.WARNING,
                deliveries=message.label,
                channel=message.channel,
                action=f"sending again ({how})",
            )
            return None
        claimed = [r.claimed_at for r in message.rows if r.claimed_at] or [message.first_due]
        since = (min(claimed) - LOOKUP_SLACK).timestamp()
        known = box.known_slack_channel(store.conn, message.target) or ""
        try:
            return await asyncio.to_thread(
                threaded.find_sent, message.target, message.key, since, known
            )
        except DeliveryError as exc:
            event(
                "delivery_in_doubt",
                logging.WARNING,
                deliveries=message.label,
                channel=message.channel,
                action="sending again (could not check the channel's history)",
                reason=exc.message,
            )
            return None

    @staticmethod
    def _transmit(notifier: Notifier, message: _Message) -> Receipt:
        alerts = tuple(row.alert for row in message.rows)
        if len(alerts) == 1:
            return notifier.send(alerts[0], message.target, message.key)
        digest = Digest(alerts, message.reason or "digest", message.key)
        return notifier.send_digest(digest, message.target)

    def _failed(
        self,
        store: Store,
        message: _Message,
        exc: DeliveryError,
        settings: Settings,
        report: DeliveryReport,
    ) -> None:
        now = self.clock()
        ids = message.ids
        give_up = settings.delivery.give_up_after
        gave_up = exc.retryable and now - message.first_due >= give_up
        final = not exc.retryable or gave_up
        reason = exc.message
        if not exc.retryable and exc.hint:
            reason = f"{exc.message} (fix: {exc.hint})"
        elif gave_up:
            reason = f"gave up after {give_up}: {exc.message}"
        if final:
            box.mark_failed(store.conn, ids, reason, now)
            report.failed += len(ids)
        else:
            attempts = max(row.attempts for row in message.rows) + 1
            wait = backoff(attempts)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:
                wait = max(wait, timedelta(seconds=retry_after))
                self._parked[(message.channel, message.lane)] = time.monotonic() + retry_after
            in_doubt = bool(getattr(exc, "maybe_sent", False)) or message.in_doubt
            box.mark_retry(store.conn, ids, exc.message, now, now + wait, in_doubt)
            report.retrying += len(ids)
        event(
            "delivery_failed",
            logging.WARNING,
            delivery=message.label,
            channel=message.channel,
            rule=message.rows[0].alert.rule_id,
            retry="no" if final else "yes",
            reason=reason,
        )

    # Thread replies ----------------------------------------------------------

    async def _replies(
        self, store: Store, settings: Settings, ignore_backoff: bool, report: DeliveryReport
    ) -> None:
        notifier = self.notifiers.get("slack")
        threaded = threads(notifier)
        conn = store.conn
        for reply in box.due_replies(conn, self.clock(), ignore_backoff):
            if threaded is None or notifier is None:
                box.update_reply(conn, reply.id, "skipped", self.clock(), error="no bot token")
                continue
            lane = ("slack", notifier.lane(reply.target))
            if self._parked.get(lane, 0.0) > time.monotonic():
                continue
            await self._pace(lane)
            box.update_reply(conn, reply.id, "sending", self.clock())
            text = reply_text(reply.source, reply.title, reply.url)
            try:
                receipt = await asyncio.to_thread(
                    threaded.reply, reply.slack_channel, reply.thread_ts, text
                )
            except DeliveryError as exc:
                now = self.clock()
                if exc.retryable and now - reply.first_due < settings.delivery.give_up_after:
                    later = now + backoff(reply.attempts + 1)
                    box.update_reply(
                        conn, reply.id, "pending", now, error=exc.message, next_attempt_at=later
                    )
                else:
                    box.update_reply(conn, reply.id, "failed", now, error=exc.message)
                event("reply_failed", logging.WARNING, reply=reply.id, reason=exc.message)
                continue
            except asyncio.CancelledError:
                box.update_reply(conn, reply.id, "pending", self.clock())
                raise
            finally:
                self._sent_now(lane)
            box.update_reply(conn, reply.id, "sent", self.clock(), slack_ts=receipt.ts)
            report.replies += 1
            event("reply_sent", reply=reply.id, source=reply.source, thread=reply.thread_ts)
