"""One exception tree for everything that can go wrong in front of a user.

::

    MonitorError            every error carries a hint that says what to do
    ├── ConfigError         the TOML config (names the key)
    ├── RuleError           a watch-rule file (path:line:col per problem)
    ├── SourceError         one source failed to fetch or parse (names the source)
    ├── StoreError          the SQLite database
    └── DeliveryError       one alert could not be delivered (retryable or not)

Library code raises these, wrapping the underlying exception with ``from``;
only the CLI turns them into exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass


class MonitorError(Exception):
    """Base class: ``str()`` is the message, ``hint`` tells the user what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(MonitorError):
    """The config file is missing, unreadable or has a wrong key or value."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a rule file, located so editors can jump to it."""

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.path}:{self.line}:{self.col}: {prefix}{self.message}"


class RuleError(MonitorError):
    """One or more watch rules are invalid; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(
            "\n".join(str(p) for p in errors),
            hint="fix the rule files above, then run `monitor check`",
        )
        self.problems = problems


class SourceError(MonitorError):
    """A source could not be fetched or parsed; the other sources carry on."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"source {source!r}: {reason}")
        self.source = source
        self.reason = reason


class StoreError(MonitorError):
    """The SQLite database could not be opened or written."""


class DeliveryError(MonitorError):
    """An alert could not be delivered.

    ``retryable`` is False for errors that will not heal by waiting (an unknown
    channel, a rejected token), so the outbox can stop retrying them.
    """

    def __init__(self, message: str, retryable: bool = True, hint: str = "") -> None:
        super().__init__(message, hint)
        self.retryable = retryable
