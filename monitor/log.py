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
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER = logging.getLogger("monitor")
LEVELS = ("debug", "info", "warning", "error")
#: Shorter secrets would "match" inside ordinary words; real tokens are far longer.
MIN_SECRET_LENGTH = 6
_HANDLER_NAME = "monitor-stderr"
#: A key=value value with one of these (or none at all) is written as a JSON string.
_NEEDS_QUOTES = re.compile(r'[ "=\n]')

Listener = Callable[[str, Mapping[str, Any]], None]
_listeners: list[Listener] = []
#: Longest first, so a webhook URL is hidden whole rather than around a shorter secret.
_secrets: tuple[str, ...] = ()


def redact(secrets: Iterable[str]) -> None:
    """Never print these strings again in this process."""
    global _secrets
    known = set(_secrets).union(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)
    _secrets = tuple(sorted(known, key=len, reverse=True))


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _secrets:
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


_clock: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def _moment(record: logging.LogRecord) -> str:
    """The record's time to the second, UTC (formatted once a second: a busy poll logs
    thousands of lines in one)."""
    global _clock
    second = int(record.created)
    if _clock[0] != second:
        _clock = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _clock[1]


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        name, fields = _parts(record)
        parts = [_moment(record), f"level={record.levelname.lower()}", f"event={name}"]
        for key, value in fields.items():
            text = scrub(str(value))  # before quoting, which could split a secret up
            if not text or _NEEDS_QUOTES.search(text):
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
    # Neither format prints a record's thread or process: do not look them up per line.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
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
    if LOGGER.isEnabledFor(level):
        # makeRecord, not LOGGER.log: the caller's file and line (which log() finds by
        # walking the stack, a fifth of the cost of a line) are never printed.
        record = LOGGER.makeRecord(
            LOGGER.name, level, "", 0, name, (), None, None, {"fields": fields}
        )
        LOGGER.handle(record)
