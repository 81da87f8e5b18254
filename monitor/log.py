"""One line per event on stderr: ``key=value`` for people, JSON for log shippers.

``event()`` is how monitor reports anything. Besides the log line, each event
goes to the listeners subscribed with ``subscribe()`` (the Prometheus metrics
count events), whatever the log level, so every number on ``/metrics`` has a
kind of log line behind it.

Secrets registered with ``redact()`` (tokens, passwords, webhook URLs) are
replaced by ``***`` in every line, ours and the libraries', as a last line of
defence behind the notifiers' own care.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER = logging.getLogger("monitor")
LEVELS = ("debug", "info", "warning", "error")
#: Shorter secrets would "match" inside ordinary words; real tokens are far longer.
MIN_SECRET_LENGTH = 6
_HANDLER_NAME = "monitor-stderr"

Listener = Callable[[str, Mapping[str, Any]], None]
_listeners: list[Listener] = []
_secrets: set[str] = set()


def redact(secrets: Iterable[str]) -> None:
    """Never print these strings again in this process."""
    _secrets.update(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    # Longest first, so a webhook URL is hidden whole rather than around a shorter secret.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener(name, fields)`` for every event; returns the unsubscribe function."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _parts(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """The event name and fields; another library's record becomes a ``log`` event."""
    fields: dict[str, Any] | None = getattr(record, "fields", None)
    if fields is not None:
        return record.getMessage(), fields
    extra: dict[str, Any] = {"logger": record.name, "message": record.getMessage()}
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        extra["error"] = f"{type(error).__name__}: {error}"
    return "log", extra


def _moment(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        name, fields = _parts(record)
        parts = [_moment(record), f"level={record.levelname.lower()}", f"event={name}"]
        for key, value in fields.items():
            text = scrub(str(value))  # before quoting, which could split a secret up
            if not text or any(c in text for c in ' "=') or "\n" in text:
                text = json.dumps(text, ensure_ascii=False)
            parts.append(f"{key}={text}")
        return " ".join(parts)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        name, fields = _parts(record)
        payload: dict[str, Any] = {
            "time": _moment(record),
            "level": record.levelname.lower(),
            "event": name,
        }
        for key, value in fields.items():
            if value is None or isinstance(value, bool | int | float):
                payload[key] = value
            else:  # scrubbed before JSON escaping could split a secret up
                payload[key] = scrub(str(value))
        return json.dumps(payload, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is now: click's CliRunner and pytest swap it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(level: str = "info", fmt: str = "keyvalue") -> None:
    """Send monitor's events, and other libraries' warnings, to stderr (idempotent).

    The handler sits on the root logger so that APScheduler's and asyncio's
    warnings come out in the same one-line format; other libraries' chatter
    below WARNING (httpx logs every request URL at INFO) stays quiet.
    """
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER_NAME]
    root.addHandler(handler)
    LOGGER.handlers.clear()
    LOGGER.propagate = True
    set_level(level)


def set_level(level: str) -> None:
    """Change monitor's own log level (a reload may)."""
    LOGGER.setLevel(level.upper())


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with its fields: ``event("fetched", source="world", new=3)``."""
    for listener in list(_listeners):
        try:
            listener(name, fields)
        except Exception as exc:  # a metrics bug must not break polling or delivery
            LOGGER.warning(
                "listener_failed", extra={"fields": {"for_event": name, "error": repr(exc)}}
            )
    LOGGER.log(level, name, extra={"fields": fields})
