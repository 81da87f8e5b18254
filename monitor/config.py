"""TOML config -> frozen settings.

Every problem is found in one pass and reported as ``path:line:col: key:
message; what to do`` (``sources[2].interval``); unknown keys get a
did-you-mean. ``${VAR}`` is read from the environment so secrets never have to
live in the file; a command that sends nothing does not need the ones under
``[notify.*]`` (see ``load_config``).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError, Problem
from monitor.models import Cadence
from monitor.notify.schedule import parse_cadence, parse_quiet_hours
from monitor.timeutil import parse_duration
from monitor.tomlkeys import Located, locate
from monitor.tomlkeys import Path as KeyPath

DEFAULT_USER_AGENT = "monitor/0.1 (+https://github.com/monitor-news/monitor)"
_SOURCE_NAME = re.compile(r"^[a-z0-9_-]+$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class SourceConfig:
    """One feed to poll."""

    name: str
    url: str
    interval: timedelta = timedelta(minutes=10)
    timeout: timedelta = timedelta(seconds=20)
    full_text: bool = False
    tags: tuple[str, ...] = ()  # rules may scope to a tag instead of naming each source
    type: str = "feed"  # feed (RSS, Atom, JSON Feed: detected) | sitemap | page
    max_age: timedelta = timedelta(days=7)  # published longer before first seen: not alerted
    stale_after: timedelta = timedelta(hours=6)  # failing this long: one ops alert


SOURCE_TYPES = ("feed", "sitemap", "page")


@dataclass(frozen=True)
class HttpConfig:
    """How hard the fetcher may hit the web (``[http]``); see monitor/sources/http.py."""

    concurrency: int = 64  # requests in flight, all sources together
    per_host: int = 2  # requests in flight to one host
    host_delay: float = 0.5  # seconds between the starts of two requests to one host
    max_bytes: int = 10 * 1024 * 1024  # a larger response is aborted


@dataclass(frozen=True)
class SlackConfig:
    """Slack through an Incoming Webhook, or a bot token and a default channel."""

    webhook_url: str = ""
    token: str = ""
    channel: str = ""
    base_url: str = "https://slack.com/api/"
    digest: Cadence | None = None  # every Slack alert in one summary per period


@dataclass(frozen=True)
class EmailConfig:
    """An SMTP relay and the default recipients."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str = ""
    password: str = ""
    sender: str = "monitor@localhost"
    recipients: tuple[str, ...] = ()
    timeout: timedelta = timedelta(seconds=30)
    digest: Cadence | None = None  # every email alert in one summary per period


@dataclass(frozen=True)
class DeliveryConfig:
    """How alerts go out (the ``[delivery]`` table): retries, backfill and noise control."""

    give_up_after: timedelta = timedelta(hours=24)  # a delivery still failing is marked failed
    backfill: timedelta = timedelta(hours=24)  # stories published earlier: stored, not alerted
    max_per_hour: int = 30  # messages per channel and target; over it: a digest (0: no cap)
    backlog: int = 10  # more alerts than this due at once for one place: one digest
    timezone: str = "UTC"  # for quiet_hours and digests at a time of day
    quiet_hours: tuple[int, int] | None = None  # (start, end) minutes after local midnight
    quiet_bypass: tuple[str, ...] = ("high",)  # severities that ignore quiet hours


@dataclass(frozen=True)
class HealthConfig:
    """Where the optional ``/healthz`` and ``/metrics`` endpoint listens (port 0: any free)."""

    host: str = "127.0.0.1"
    port: int = 9108

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    """The whole config, paths resolved against the config file's folder."""

    path: Path
    database: Path
    rules: Path
    sources: tuple[SourceConfig, ...]
    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    user_agent: str = DEFAULT_USER_AGENT
    health: HealthConfig | None = None
    log_level: str = ""  # empty: the command line's, else info
    retention_days: int = 90  # stories older than this are pruned (see monitor/store/retention.py)
    keep_hits: bool = True  # ...but hits, their explanation and their story's title stay
    http: HttpConfig = HttpConfig()
    delivery: DeliveryConfig = DeliveryConfig()

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured alert channels; the console stands in when there are none."""
        names = []
        if self.slack:
            names.append("slack")
        if self.email:
            names.append("email")
        return tuple(names) or ("console",)


#: Every key the config accepts, by table ("" is the top level, "sources" each
#: [[sources]] table). config.example.toml shows each one (a test holds it to that).
KEYS: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            "database",
            "rules",
            "sources",
            "notify",
            "user_agent",
            "health",
            "log_level",
            "retention_days",
            "keep_hits",
            "http",
            "delivery",
        }
    ),
    "sources": frozenset(
        {
            "name",
            "url",
            "interval",
            "timeout",
            "full_text",
            "tags",
            "type",
            "max_age",
            "stale_after",
        }
    ),
    "notify": frozenset({"slack", "email"}),
    "notify.slack": frozenset({"webhook_url", "token", "channel", "base_url", "digest"}),
    "notify.email": frozenset(
        {
            "host",
            "port",
            "security",
            "username",
            "password",
            "sender",
            "recipients",
            "timeout",
            "digest",
        }
    ),
    "http": frozenset({"concurrency", "per_host", "host_delay", "max_body_mb"}),
    "health": frozenset({"listen"}),
    "delivery": frozenset(
        {
            "give_up_after",
            "backfill",
            "max_per_hour",
            "backlog",
            "timezone",
            "quiet_hours",
            "quiet_bypass",
        }
    ),
}
LOG_LEVELS = ("debug", "info", "warning", "error")
_SEVERITIES = ("info", "normal", "high")
_SECURITY = ("none", "starttls", "tls")
#: Where tomllib's messages say where the syntax went wrong.
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)$")


def default_config_path() -> Path:
    """``$MONITOR_CONFIG``, else ``./monitor.toml``."""
    return Path(os.environ.get("MONITOR_CONFIG") or "monitor.toml")


def load_config(
    path: Path, environ: Mapping[str, str] | None = None, *, sending: bool = True
) -> Settings:
    """Read and validate the config file at ``path``; ConfigError lists every problem.

    ``sending=False`` is for commands that send nothing (status, hits, ...): a
    ``${VAR}`` under ``[notify.*]`` that is not set is then left as written
    instead of being an error, since only sending reads those values. Secrets
    live there, and ``sudo monitor status`` does not see the service's
    EnvironmentFile.
    """
    settings, problems = read_config(path, environ, sending=sending)
    if problems or settings is None:
        raise ConfigError("\n".join(str(p) for p in problems))
    return settings


def read_config(
    path: Path, environ: Mapping[str, str] | None = None, *, sending: bool = True
) -> tuple[Settings | None, tuple[Problem, ...]]:
    """The settings and every problem found in the file, for `monitor check`.

    The settings are a best effort when there are problems (a bad value reads
    as its default), so the rules can still be checked against them; None when
    the file is not valid TOML. A file that cannot be read at all raises
    ConfigError.
    """
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} not found",
            hint="pass --config PATH, set MONITOR_CONFIG, or copy config.example.toml "
            "to monitor.toml",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, (_syntax_problem(path, text, exc),)
    reader = _Reader(path, text, environ, sending)
    settings = reader.settings(raw)
    return settings, tuple(sorted(reader.problems, key=lambda p: (p.line, p.col)))


def _syntax_problem(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    """tomllib's message, with the position it names moved to the front."""
    message = str(exc)
    if found := _TOML_AT.search(message):
        line, col = int(found.group(1)), int(found.group(2))
        message = message[: found.start()]
    else:
        lines = text.split("\n")
        line, col = len(lines), len(lines[-1]) + 1
        message = _TOML_AT_END.sub("", message)
    return Problem(str(path), line, col, f"invalid TOML: {message}; fix the syntax there")


def dotted(path: KeyPath) -> str:
    """``("sources", 2, "interval")`` as the user reads it: ``sources[2].interval``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


class _Reader:
    """Walks the parsed TOML, checking keys and types; collects every problem.

    A bad value is reported and read as its default, so one mistake does not
    hide the next. Positions are looked up in the text only when a problem
    needs one.
    """

    def __init__(self, path: Path, text: str, environ: Mapping[str, str], sending: bool) -> None:
        self.path = path
        self.base = path.parent
        self.text = text
        self.environ = environ
        self.sending = sending
        self.problems: list[Problem] = []
        #: Keys holding a ${VAR} that is not set: their value says nothing more.
        self.unset: set[KeyPath] = set()

    @cached_property
    def located(self) -> Located:
        return locate(self.text)

    def problem(self, at: KeyPath, message: str, hint: str = "", key: bool = False) -> None:
        if at in self.unset:
            return  # `'${FEED}/rss' is not a URL` would only repeat the missing variable
        line, col = self.located.position(at, key=key)
        text = f"{dotted(at)}: {message}" if at else message
        self.problems.append(
            Problem(str(self.path), line, col, f"{text}; {hint}" if hint else text)
        )

    def check_keys(self, table: Mapping[str, Any], allowed: frozenset[str], at: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"did you mean {close[0]!r}?" if close else ""
                hint = hint or f"known keys here: {', '.join(sorted(allowed))}"
                self.problem((*at, key), "unknown key", hint, key=True)

    def string(self, table: Mapping[str, Any], key: str, at: KeyPath, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            self.problem((*at, key), f"expected a string, got {value!r}")
            return default
        return self.expand(value, (*at, key))

    def expand(self, value: str, at: KeyPath) -> str:
        """``${VAR}`` from the environment; one that is not set stays as written."""
        missing = [name for name in _VAR.findall(value) if name not in self.environ]
        if self.sending or at[:1] != ("notify",):
            for name in dict.fromkeys(missing):
                self.problem(
                    at,
                    f"environment variable {name} is not set",
                    hint=f"export {name}=... (or put it in the systemd EnvironmentFile)",
                )
        if missing:
            self.unset.add(at)
        return _VAR.sub(lambda found: self.environ.get(found.group(1), found.group()), value)

    def duration(self, table: Mapping[str, Any], key: str, at: KeyPath, default: str) -> timedelta:
        text = self.string(table, key, at, default)
        try:
            value = parse_duration(text)
        except ValueError as exc:
            self.problem((*at, key), str(exc))
            return parse_duration(default)
        if value < timedelta(seconds=1):
            self.problem((*at, key), "must be at least 1s")
            return parse_duration(default)
        return value

    def boolean(self, table: Mapping[str, Any], key: str, at: KeyPath, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem((*at, key), f"expected true or false, got {value!r}")
            return default
        return value

    def number(
        self, table: Mapping[str, Any], key: str, at: KeyPath, default: int, low: int, what: str
    ) -> int:
        """A whole number of at least ``low``; ``what`` says what it counts."""
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            self.problem((*at, key), f"expected {what} ({low} or more), got {value!r}")
            return default
        return value

    def table(self, parent: Mapping[str, Any], key: str, at: KeyPath) -> Mapping[str, Any] | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem((*at, key), "expected a table")
            return None
        return value

    def settings(self, raw: Mapping[str, Any]) -> Settings:
        self.check_keys(raw, KEYS[""], ())
        notify = self.table(raw, "notify", ()) or {}
        self.check_keys(notify, KEYS["notify"], ("notify",))
        return Settings(
            path=self.path,
            database=self.base / self.string(raw, "database", (), "monitor.db"),
            rules=self.base / self.string(raw, "rules", (), "rules"),
            sources=self.sources(raw.get("sources", [])),
            slack=self.slack(self.table(notify, "slack", ("notify",))),
            email=self.email(self.table(notify, "email", ("notify",))),
            user_agent=self.string(raw, "user_agent", (), DEFAULT_USER_AGENT),
            health=self.health(self.table(raw, "health", ())),
            log_level=self.log_level(raw),
            retention_days=self.number(raw, "retention_days", (), 90, 1, "a whole number of days"),
            keep_hits=self.boolean(raw, "keep_hits", (), True),
            http=self.http(self.table(raw, "http", ())),
            delivery=self.delivery(self.table(raw, "delivery", ()) or {}),
        )

    def delivery(self, table: Mapping[str, Any]) -> DeliveryConfig:
        at: KeyPath = ("delivery",)
        self.check_keys(table, KEYS["delivery"], at)
        zone = self.string(table, "timezone", at, "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(
                (*at, "timezone"),
                f"unknown time zone {zone!r}",
                hint='use an IANA name like "Europe/Berlin" or "UTC"',
            )
            zone = "UTC"
        quiet = None
        if "quiet_hours" in table:
            try:
                quiet = parse_quiet_hours(self.string(table, "quiet_hours", at, ""))
            except ValueError as exc:
                self.problem((*at, "quiet_hours"), str(exc))
        bypass = table.get("quiet_bypass", ["high"])
        if not isinstance(bypass, list) or not all(b in _SEVERITIES for b in bypass):
            self.problem(
                (*at, "quiet_bypass"),
                f"expected a list of severities ({', '.join(_SEVERITIES)}), got {bypass!r}",
                hint='quiet_bypass = ["high"] lets high-severity alerts through; [] holds all',
            )
            bypass = ["high"]
        return DeliveryConfig(
            give_up_after=self.duration(table, "give_up_after", at, "24h"),
            backfill=self.duration(table, "backfill", at, "24h"),
            max_per_hour=self.number(table, "max_per_hour", at, 30, 0, "a whole number"),
            backlog=self.number(table, "backlog", at, 10, 0, "a whole number"),
            timezone=zone,
            quiet_hours=quiet,
            quiet_bypass=tuple(bypass),
        )

    def cadence(self, table: Mapping[str, Any], at: KeyPath) -> Cadence | None:
        if "digest" not in table:
            return None
        try:
            return parse_cadence(self.string(table, "digest", at, ""))
        except ValueError as exc:
            self.problem((*at, "digest"), str(exc))
            return None

    def log_level(self, raw: Mapping[str, Any]) -> str:
        level = self.string(raw, "log_level", (), "")
        if level and level not in LOG_LEVELS:
            self.problem(("log_level",), f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
            return ""
        return level

    def health(self, table: Mapping[str, Any] | None) -> HealthConfig | None:
        if table is None:
            return None
        self.check_keys(table, KEYS["health"], ("health",))
        listen = self.string(table, "listen", ("health",), "127.0.0.1:9108")
        host, colon, port = listen.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not colon or not host or not port.isdigit() or int(port) > 65535:
            self.problem(
                ("health", "listen"),
                f"{listen!r} is not an address and port",
                hint='write it like "127.0.0.1:9108" (keep it on localhost unless a firewall '
                "guards the port)",
            )
            return HealthConfig()
        return HealthConfig(host, int(port))

    def sources(self, raw: Any) -> tuple[SourceConfig, ...]:
        if not isinstance(raw, list):
            self.problem(("sources",), "expected [[sources]] tables")
            return ()
        result: list[SourceConfig] = []
        seen: set[str] = set()
        for index, table in enumerate(raw):
            at: KeyPath = ("sources", index)
            if not isinstance(table, dict):
                self.problem(at, "expected a table")
                continue
            self.check_keys(table, KEYS["sources"], at)
            name = self.string(table, "name", at, "")
            if not _SOURCE_NAME.match(name):
                self.problem(
                    (*at, "name"),
                    f"{name!r} is not a valid source name",
                    hint="use lower-case letters, digits, '_' and '-' only",
                )
            elif name in seen:
                self.problem((*at, "name"), f"source {name!r} is defined twice")
            seen.add(name)
            url = self.string(table, "url", at, "")
            if not url.startswith(("http://", "https://", "file://")):
                self.problem(
                    (*at, "url"),
                    f"{url!r} is not an http(s):// or file:// URL",
                    hint="write the full address, like https://example.org/rss.xml",
                )
            if url.startswith("file://"):
                url = self.file_url(url)
            result.append(
                SourceConfig(
                    name=name,
                    url=url,
                    interval=self.duration(table, "interval", at, "10m"),
                    timeout=self.duration(table, "timeout", at, "20s"),
                    full_text=self.boolean(table, "full_text", at, False),
                    tags=self.tags(table, at),
                    type=self.source_type(table, at),
                    max_age=self.duration(table, "max_age", at, "7d"),
                    stale_after=self.duration(table, "stale_after", at, "6h"),
                )
            )
        return tuple(result)

    def source_type(self, table: Mapping[str, Any], at: KeyPath) -> str:
        kind = self.string(table, "type", at, "feed")
        if kind not in SOURCE_TYPES:
            self.problem(
                (*at, "type"),
                f"{kind!r} is not one of {', '.join(SOURCE_TYPES)}",
                hint="feed reads RSS, Atom and JSON Feed alike; sitemap reads news sitemaps; "
                "page turns a section front's article links into stories",
            )
            return "feed"
        return kind

    def http(self, table: Mapping[str, Any] | None) -> HttpConfig:
        if table is None:
            return HttpConfig()
        at: KeyPath = ("http",)
        self.check_keys(table, KEYS["http"], at)
        numbers: dict[str, float] = {}
        for key, default, low in (
            ("concurrency", 64, 1),
            ("per_host", 2, 1),
            ("host_delay", 0.5, 0),
            ("max_body_mb", 10, 1),
        ):
            value = table.get(key, default)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < low:
                self.problem((*at, key), f"expected a number of at least {low}, got {value!r}")
                value = default
            numbers[key] = value
        return HttpConfig(
            concurrency=int(numbers["concurrency"]),
            per_host=int(numbers["per_host"]),
            host_delay=float(numbers["host_delay"]),
            max_bytes=int(numbers["max_body_mb"] * 1024 * 1024),
        )

    def tags(self, table: Mapping[str, Any], at: KeyPath) -> tuple[str, ...]:
        value = table.get("tags", [])
        if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
            self.problem((*at, "tags"), 'expected a list of tag names, like ["mena", "wires"]')
            return ()
        return tuple(value)

    def file_url(self, url: str) -> str:
        """``file://feeds/x.xml`` is relative to the config's folder, like other paths."""
        local = Path(unquote(url.removeprefix("file://")))
        return (self.base / local).resolve().as_uri()

    def slack(self, table: Mapping[str, Any] | None) -> SlackConfig | None:
        """The Slack settings; kept when they have a problem, so rules naming Slack still check."""
        if table is None:
            return None
        at: KeyPath = ("notify", "slack")
        self.check_keys(table, KEYS["notify.slack"], at)
        config = SlackConfig(
            webhook_url=self.string(table, "webhook_url", at, ""),
            token=self.string(table, "token", at, ""),
            channel=self.string(table, "channel", at, ""),
            base_url=self.string(table, "base_url", at, SlackConfig.base_url),
            digest=self.cadence(table, at),
        )
        if not config.webhook_url and not config.token:
            self.problem(
                at,
                "needs webhook_url or token",
                hint="set webhook_url to an Incoming Webhook, or token and channel for a bot",
                key=True,
            )
        elif config.token and not config.webhook_url and not config.channel:
            self.problem(
                (*at, "channel"),
                "a bot token needs a default channel",
                hint='add channel = "#media-alerts"',
            )
        return config

    def email(self, table: Mapping[str, Any] | None) -> EmailConfig | None:
        if table is None:
            return None
        at: KeyPath = ("notify", "email")
        self.check_keys(table, KEYS["notify.email"], at)
        port = table.get("port", 25)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            self.problem((*at, "port"), f"expected a port number, got {port!r}")
            port = 25
        security = self.string(table, "security", at, "none")
        if security not in _SECURITY:
            self.problem((*at, "security"), f"{security!r} is not one of {', '.join(_SECURITY)}")
            security = "none"
        recipients = table.get("recipients", [])
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            self.problem((*at, "recipients"), "expected a list of addresses")
            recipients = []
        return EmailConfig(
            host=self.string(table, "host", at, "localhost"),
            port=port,
            security=security,
            username=self.string(table, "username", at, ""),
            password=self.string(table, "password", at, ""),
            sender=self.string(table, "sender", at, "monitor@localhost"),
            recipients=tuple(
                self.expand(r, (*at, "recipients", i)) for i, r in enumerate(recipients)
            ),
            timeout=self.duration(table, "timeout", at, "30s"),
            digest=self.cadence(table, at),
        )
