"""The outbox: who gets an alert (routing) and getting it there (delivery).

Deliveries are rows in SQLite, written as pending together with their hit.
This module sends them and records the outcome; a failure that may heal
stays pending for the next cycle, so no alert is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from monitor.config import Settings
from monitor.errors import DeliveryError
from monitor.log import event
from monitor.models import Rule
from monitor.notify import Notifier
from monitor.notify.console import ConsoleNotifier
from monitor.notify.email import EmailNotifier
from monitor.notify.slack import SlackNotifier
from monitor.store import Store

CONSOLE_TARGET = "-"


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


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


async def deliver_pending(store: Store, notifiers: dict[str, Notifier]) -> DeliveryReport:
    """Send every pending delivery once; record each outcome as it happens.

    Sending runs in a worker thread (the notifiers are blocking clients) while
    every database write stays on the caller's thread.
    """
    report = DeliveryReport()
    for pending in store.pending_deliveries():
        notifier = notifiers.get(pending.channel)
        if notifier is None:
            # The channel was removed from the config: keep the delivery pending,
            # so it goes out if the channel comes back, and say so.
            event(
                "delivery_skipped",
                logging.WARNING,
                delivery=pending.id,
                channel=pending.channel,
                reason="channel is not configured",
            )
            report.retrying += 1
            continue
        try:
            await asyncio.to_thread(notifier.send, pending.alert, pending.target)
        except DeliveryError as exc:
            store.mark_failed(pending.id, exc.message, permanent=not exc.retryable)
            if exc.retryable:
                report.retrying += 1
            else:
                report.failed += 1
            event(
                "delivery_failed",
                logging.WARNING,
                delivery=pending.id,
                channel=pending.channel,
                rule=pending.alert.rule_id,
                retry="yes" if exc.retryable else "no",
                reason=exc.message,
            )
            continue
        store.mark_sent(pending.id)
        report.sent += 1
        event(
            "alert_sent",
            delivery=pending.id,
            channel=pending.channel,
            rule=pending.alert.rule_id,
            story=pending.alert.story_url,
        )
    return report
