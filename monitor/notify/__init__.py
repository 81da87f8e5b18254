"""Alerts out: rendering (no I/O) and one notifier per channel behind one Protocol."""

from __future__ import annotations

from typing import Protocol

from monitor.models import Alert


class Notifier(Protocol):
    """Delivers one alert to one target of its channel.

    ``target`` is a Slack channel (``#desk``; ignored by webhooks), a
    comma-separated list of email addresses, or ``-`` for the console.
    Raises DeliveryError on failure, with ``retryable`` set truthfully.
    """

    channel: str

    def send(self, alert: Alert, target: str) -> None: ...
