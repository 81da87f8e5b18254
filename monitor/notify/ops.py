"""Operations messages: the daemon telling its operators about itself.

A broken rule edit, a source that has failed for hours: people must hear of
it where they already look (the console and Slack), once per change of state,
never as a flood. Unlike alerts these are not stored in the outbox: the state
they report is re-checked and re-announced after a restart anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from monitor.errors import DeliveryError
from monitor.log import event


@runtime_checkable
class OpsNotifier(Protocol):
    """A notifier that can also carry plain operations messages."""

    channel: str

    def notice(self, text: str) -> None: ...


def send_ops(notifiers: Iterable[object], text: str) -> int:
    """Send ``text`` through every notifier that carries ops messages; returns how many did."""
    sent = 0
    for notifier in notifiers:
        if not isinstance(notifier, OpsNotifier):
            continue
        try:
            notifier.notice(text)
            sent += 1
        except DeliveryError as exc:
            event(
                "ops_message_failed", logging.WARNING, channel=notifier.channel, reason=exc.message
            )
    return sent
