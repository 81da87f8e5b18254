"""TOML config -> frozen settings.

Every problem names the key it is about (``sources[2].interval``), unknown keys
get a did-you-mean, and ``${VAR}`` is read from the environment so secrets
never have to live in the file.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError
from monitor.models import Cadence
from monitor.notify.schedule import parse_cadence, parse_quiet_hours
from monitor.timeutil import parse_duration

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


_TOP_KEYS = {
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
_HTTP_KEYS = {"concurrency", "per_host", "host_delay", "max_body_mb"}
_HEALTH_KEYS = {"listen"}
LOG_LEVELS = ("debug", "info", "warning", "error")
_SOURCE_KEYS = {
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
_NOTIFY_KEYS = {"slack", "email"}
_DELIVERY_KEYS = {
    "give_up_after",
    "backfill",
    "max_per_hour",
    "backlog",
    "timezone",
    "quiet_hours",
    "quiet_bypass",
}
_SLACK_KEYS = {"webhook_url", "token", "channel", "base_url", "digest"}
_EMAIL_KEYS = {
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
_SEVERITIES = ("info", "normal", "high")
_SECURITY = ("none", "starttls", "tls")


def default_config_path() -> Path:
    """``$MONITOR_CONFIG``, else ``./monitor.toml``."""
    return Path(os.environ.get("MONITOR_CONFIG") or "monitor.toml")


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the config file at ``path``."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} not found",
            hint="pass --config PATH, set MONITOR_CONFIG, or copy config.example.toml "
            "to monitor.toml",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}", hint="fix the TOML syntax at that line") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from exc
    reader = _Reader(path, environ)
    return reader.settings(raw)


class _Reader:
    """Walks the parsed TOML, checking keys and types, naming each key in errors."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.base = path.parent
        self.environ = environ

    def fail(self, key: str, message: str, hint: str = "") -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}", hint=hint)

    def check_keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"did you mean {close[0]!r}?" if close else ""
                hint = hint or f"known keys here: {', '.join(sorted(allowed))}"
                raise self.fail(f"{where}{key}", "unknown key", hint)

    def string(self, table: Mapping[str, Any], key: str, where: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(f"{where}{key}", f"expected a string, got {value!r}")
        return self.expand(value, f"{where}{key}")

    def expand(self, value: str, key: str) -> str:
        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name not in self.environ:
                raise self.fail(
                    key,
                    f"environment variable {name} is not set",
                    hint=f"export {name}=... (or put it in the systemd EnvironmentFile)",
                )
            return self.environ[name]

        return _VAR.sub(replace, value)

    def duration(self, table: Mapping[str, Any], key: str, where: str, default: str) -> timedelta:
        text = self.string(table, key, where, default)
        try:
            value = parse_duration(text)
        except ValueError as exc:
            raise self.fail(f"{where}{key}", str(exc)) from None
        if value < timedelta(seconds=1):
            raise self.fail(f"{where}{key}", "must be at least 1s")
        return value

    def boolean(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}{key}", f"expected true or false, got {value!r}")
        return value

    def table(self, parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", "expected a table")
        return value

    def settings(self, raw: Mapping[str, Any]) -> Settings:
        self.check_keys(raw, _TOP_KEYS, "")
        notify = self.table(raw, "notify", "") or {}
        self.check_keys(notify, _NOTIFY_KEYS, "notify.")
        return Settings(
            path=self.path,
            database=self.base / self.string(raw, "database", "", "monitor.db"),
            rules=self.base / self.string(raw, "rules", "", "rules"),
            sources=self.sources(raw.get("sources", [])),
            slack=self.slack(self.table(notify, "slack", "notify.")),
            email=self.email(self.table(notify, "email", "notify.")),
            user_agent=self.string(raw, "user_agent", "", DEFAULT_USER_AGENT),
            health=self.health(self.table(raw, "health", "")),
            log_level=self.log_level(raw),
            retention_days=self.retention_days(raw),
            keep_hits=self.boolean(raw, "keep_hits", "", True),
            http=self.http(self.table(raw, "http", "")),
            delivery=self.delivery(self.table(raw, "delivery", "") or {}),
        )

    def delivery(self, notify: Mapping[str, Any]) -> DeliveryConfig:
        where = "delivery."
        self.check_keys(notify, _DELIVERY_KEYS, where)
        counts: dict[str, int] = {}
        for key, default in (("max_per_hour", 30), ("backlog", 10)):
            value = notify.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise self.fail(
                    f"{where}{key}", f"expected a whole number (0 or more), got {value!r}"
                )
            counts[key] = value
        zone = self.string(notify, "timezone", where, "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                f"{where}timezone",
                f"unknown time zone {zone!r}",
                hint='use an IANA name like "Europe/Berlin" or "UTC"',
            ) from None
        quiet = None
        if "quiet_hours" in notify:
            try:
                quiet = parse_quiet_hours(self.string(notify, "quiet_hours", where, ""))
            except ValueError as exc:
                raise self.fail(f"{where}quiet_hours", str(exc)) from None
        bypass = notify.get("quiet_bypass", ["high"])
        if not isinstance(bypass, list) or not all(b in _SEVERITIES for b in bypass):
            raise self.fail(
                f"{where}quiet_bypass",
                f"expected a list of severities ({', '.join(_SEVERITIES)}), got {bypass!r}",
                hint='quiet_bypass = ["high"] lets high-severity alerts through; [] holds all',
            )
        return DeliveryConfig(
            give_up_after=self.duration(notify, "give_up_after", where, "24h"),
            backfill=self.duration(notify, "backfill", where, "24h"),
            max_per_hour=counts["max_per_hour"],
            backlog=counts["backlog"],
            timezone=zone,
            quiet_hours=quiet,
            quiet_bypass=tuple(bypass),
        )

    def cadence(self, table: Mapping[str, Any], where: str) -> Cadence | None:
        if "digest" not in table:
            return None
        try:
            return parse_cadence(self.string(table, "digest", where, ""))
        except ValueError as exc:
            raise self.fail(f"{where}digest", str(exc)) from None

    def retention_days(self, raw: Mapping[str, Any]) -> int:
        days = raw.get("retention_days", 90)
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise self.fail(
                "retention_days",
                f"expected a whole number of days (1 or more), got {days!r}",
                hint="write it like retention_days = 90",
            )
        return days

    def log_level(self, raw: Mapping[str, Any]) -> str:
        level = self.string(raw, "log_level", "", "")
        if level and level not in LOG_LEVELS:
            raise self.fail("log_level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    def health(self, table: Mapping[str, Any] | None) -> HealthConfig | None:
        if table is None:
            return None
        self.check_keys(table, _HEALTH_KEYS, "health.")
        listen = self.string(table, "listen", "health.", "127.0.0.1:9108")
        host, colon, port = listen.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not colon or not host or not port.isdigit() or int(port) > 65535:
            raise self.fail(
                "health.listen",
                f"{listen!r} is not an address and port",
                hint='write it like "127.0.0.1:9108" (keep it on localhost unless a firewall '
                "guards the port)",
            )
        return HealthConfig(host, int(port))

    def sources(self, raw: Any) -> tuple[SourceConfig, ...]:
        if not isinstance(raw, list):
            raise self.fail("sources", "expected [[sources]] tables")
        result: list[SourceConfig] = []
        seen: set[str] = set()
        for index, table in enumerate(raw):
            where = f"sources[{index}]."
            if not isinstance(table, dict):
                raise self.fail(f"sources[{index}]", "expected a table")
            self.check_keys(table, _SOURCE_KEYS, where)
            name = self.string(table, "name", where, "")
            if not _SOURCE_NAME.match(name):
                raise self.fail(
                    f"{where}name",
                    f"{name!r} is not a valid source name",
                    hint="use lower-case letters, digits, '_' and '-' only",
                )
            if name in seen:
                raise self.fail(f"{where}name", f"source {name!r} is defined twice")
            seen.add(name)
            url = self.string(table, "url", where, "")
            if not url.startswith(("http://", "https://", "file://")):
                raise self.fail(
                    f"{where}url",
                    f"{url!r} is not an http(s):// or file:// URL",
                    hint="write the full address, like https://example.org/rss.xml",
                )
            if url.startswith("file://"):
                url = self.file_url(url)
            result.append(
                SourceConfig(
                    name=name,
                    url=url,
                    interval=self.duration(table, "interval", where, "10m"),
                    timeout=self.duration(table, "timeout", where, "20s"),
                    full_text=self.boolean(table, "full_text", where, False),
                    tags=self.tags(table.get("tags", []), f"{where}tags"),
                    type=self.source_type(table, where),
                    max_age=self.duration(table, "max_age", where, "7d"),
                    stale_after=self.duration(table, "stale_after", where, "6h"),
                )
            )
        return tuple(result)

    def source_type(self, table: Mapping[str, Any], where: str) -> str:
        kind = self.string(table, "type", where, "feed")
        if kind not in SOURCE_TYPES:
            raise self.fail(
                f"{where}type",
                f"{kind!r} is not one of {', '.join(SOURCE_TYPES)}",
                hint="feed reads RSS, Atom and JSON Feed alike; sitemap reads news sitemaps; "
                "page turns a section front's article links into stories",
            )
        return kind

    def http(self, table: Mapping[str, Any] | None) -> HttpConfig:
        if table is None:
            return HttpConfig()
        self.check_keys(table, _HTTP_KEYS, "http.")
        numbers: dict[str, float] = {}
        for key, default, low in (
            ("concurrency", 64, 1),
            ("per_host", 2, 1),
            ("host_delay", 0.5, 0),
            ("max_body_mb", 10, 1),
        ):
            value = table.get(key, default)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < low:
                raise self.fail(
                    f"http.{key}", f"expected a number of at least {low}, got {value!r}"
                )
            numbers[key] = value
        return HttpConfig(
            concurrency=int(numbers["concurrency"]),
            per_host=int(numbers["per_host"]),
            host_delay=float(numbers["host_delay"]),
            max_bytes=int(numbers["max_body_mb"] * 1024 * 1024),
        )

    def tags(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
            raise self.fail(key, 'expected a list of tag names, like ["mena", "wires"]')
        return tuple(value)

    def file_url(self, url: str) -> str:
        """``file://feeds/x.xml`` is relative to the config's folder, like other paths."""
        local = Path(unquote(url.removeprefix("file://")))
        return (self.base / local).resolve().as_uri()

    def slack(self, table: Mapping[str, Any] | None) -> SlackConfig | None:
        if table is None:
            return None
        where = "notify.slack."
        self.check_keys(table, _SLACK_KEYS, where)
        config = SlackConfig(
            webhook_url=self.string(table, "webhook_url", where, ""),
            token=self.string(table, "token", where, ""),
            channel=self.string(table, "channel", where, ""),
            base_url=self.string(table, "base_url", where, SlackConfig.base_url),
            digest=self.cadence(table, where),
        )
        if not config.webhook_url and not config.token:
            raise self.fail(
                "notify.slack",
                "needs webhook_url or token",
                hint="set webhook_url to an Incoming Webhook, or token and channel for a bot",
            )
        if config.token and not config.webhook_url and not config.channel:
            raise self.fail(
                "notify.slack.channel",
                "a bot token needs a default channel",
                hint='add channel = "#media-alerts"',
            )
        return config

    def email(self, table: Mapping[str, Any] | None) -> EmailConfig | None:
        if table is None:
            return None
        where = "notify.email."
        self.check_keys(table, _EMAIL_KEYS, where)
        port = table.get("port", 25)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise self.fail(f"{where}port", f"expected a port number, got {port!r}")
        security = self.string(table, "security", where, "none")
        if security not in _SECURITY:
            raise self.fail(
                f"{where}security", f"{security!r} is not one of {', '.join(_SECURITY)}"
            )
        recipients = table.get("recipients", [])
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise self.fail(f"{where}recipients", "expected a list of addresses")
        return EmailConfig(
            host=self.string(table, "host", where, "localhost"),
            port=port,
            security=security,
            username=self.string(table, "username", where, ""),
            password=self.string(table, "password", where, ""),
            sender=self.string(table, "sender", where, "monitor@localhost"),
            recipients=tuple(self.expand(r, f"{where}recipients") for r in recipients),
            timeout=self.duration(table, "timeout", where, "30s"),
            digest=self.cadence(table, where),
        )
