"""systemd's notify protocol: one datagram of ``KEY=value`` lines to ``$NOTIFY_SOCKET``.

Enough of sd_notify(3) for ``Type=notify`` with ``WatchdogSec=``; no libsystemd
needed. Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op, and a
notification that cannot be sent is logged, never raised: systemd's opinion of
the daemon must not be what stops it from alerting.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from datetime import timedelta

from monitor.log import event


class SystemdNotifier:
    """Tells the service manager READY, RELOADING, STOPPING, WATCHDOG and STATUS."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace, spelled with a leading NUL.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._watchdog = _watchdog_interval(environ)
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    @property
    def watchdog_interval(self) -> timedelta | None:
        """How often systemd expects WATCHDOG=1 (``WatchdogSec=``), or None when it does not."""
        return self._watchdog

    def ready(self, status: str = "") -> None:
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match READY to this reload.
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def send(self, *lines: str) -> bool:
        """Send one notification; True when it went out."""
        if not self._address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Sent from the event loop: a stalled manager (its queue full) holds it a
                # second at most, then the send fails like any other.
                sock.settimeout(1.0)
                sock.connect(self._address)
                sock.sendall("\n".join(lines).encode("utf-8"))
        except OSError as exc:
            if not self._warned:  # once: a broken socket stays broken, say so without spam
                self._warned = True
                event("sd_notify_failed", logging.WARNING, reason=str(exc))
            return False
        return True


def _watchdog_interval(environ: Mapping[str, str]) -> timedelta | None:
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = environ.get("WATCHDOG_PID", "")
    if pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process (we were started by the real main PID)
    return timedelta(microseconds=int(usec))
