"""The console notifier: alerts on stdout, for trying rules out and for setups with no channel."""

from __future__ import annotations

import sys
from typing import TextIO

from monitor.errors import DeliveryError
from monitor.models import Alert, Digest
from monitor.notify import Receipt
from monitor.notify.digest import digest_text
from monitor.notify.render import one_line, plain_text
from monitor.timeutil import utcnow


class ConsoleNotifier:
    """Prints each alert as plain text followed by a blank line; ``target`` is ignored."""

    channel = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        # Resolved at call time rather than as a default argument, so a stream
        # swapped in later (pytest's capsys, a redirected stdout) is honoured.
        self._stream = stream

    def notice(self, text: str) -> None:
        """An operations message, marked so it is not mistaken for an alert."""
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(f"[monitor] {one_line(text)}\n\n")
            stream.flush()
        except OSError as exc:
            raise DeliveryError(f"cannot write to the console: {exc}") from exc

    def lane(self, target: str) -> str:
        return ""

    def send(self, alert: Alert, target: str, key: str = "") -> Receipt:
        self._write(plain_text(alert) + "\n\n")
        return Receipt()

    def send_digest(self, digest: Digest, target: str) -> Receipt:
        self._write(digest_text(digest, utcnow()) + "\n\n")
        return Receipt()

    def _write(self, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except OSError as exc:  # a closed pipe (monitor run | head) or a full disk
            raise DeliveryError(f"cannot write the alert to the console: {exc}") from exc
