"""Alerts out: rendering (no I/O) and one notifier per channel behind one Protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from monitor.errors import DeliveryError
from monitor.models import Alert, Digest


@dataclass(frozen=True)
class Receipt:
    """What the server said it did with a message: Slack's channel id and ``ts``.

    Empty for channels that say nothing (webhooks, email, the console).
    """

    channel_id: str = ""
    ts: str = ""


class SendFailed(DeliveryError):
    """A retryable failure that says more: how long the server asked us to wait,
    and whether the message may have got through anyway (a timeout after sending).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        maybe_sent: bool = False,
        hint: str = "",
    ) -> None:
        super().__init__(message, retryable=True, hint=hint)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class Notifier(Protocol):
    """Delivers one alert (or one digest of alerts) to one target of its channel.

    ``target`` is a Slack channel (``#desk``; ignored by webhooks), a
    comma-separated list of email addresses, or ``-`` for the console.
    ``key`` names the send attempt; it is the same when an attempt in doubt
    is made again, so a server that keeps it (Slack's message metadata, an
    email's Message-ID) can tell the two apart. Raises DeliveryError on
    failure, with ``retryable`` set truthfully.
    """

    channel: str

    def send(self, alert: Alert, target: str, key: str = "") -> Receipt: ...

    def send_digest(self, digest: Digest, target: str) -> Receipt: ...

    def lane(self, target: str) -> str:
        """Messages with the same lane are paced (Slack: one channel); "" is never paced."""
        ...


class Threaded(Protocol):
    """A notifier that can find what it sent and reply in threads (Slack with a bot token)."""

    def find_sent(
        self, target: str, key: str, since: float, channel_id: str = ""
    ) -> Receipt | None:
        """The message sent under ``key`` since ``since`` (Unix time), or None if there is none.

        Raises DeliveryError when it cannot tell (no permission to read history).
        """
        ...

    def reply(self, channel_id: str, thread_ts: str, text: str) -> Receipt: ...


def threads(notifier: object) -> Threaded | None:
    """``notifier`` as a Threaded one when it can thread (a bot token), else None."""
    if getattr(notifier, "can_thread", False):
        return notifier  # type: ignore[return-value]
    return None


__all__ = ["Notifier", "Receipt", "SendFailed", "Threaded", "threads"]
