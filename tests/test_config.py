"""Config loading: defaults, paths, ${VAR}, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import (
    DEFAULT_USER_AGENT,
    EmailConfig,
    Settings,
    SlackConfig,
    SourceConfig,
    default_config_path,
    load_config,
)
from monitor.errors import ConfigError


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ={} if environ is None else environ)


def error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)
    return caught.value


SOURCE = '[[sources]]\nname = "wire"\nurl = "https://example.org/rss.xml"\n'


# --- defaults and paths ------------------------------------------------------------


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, "")
    assert settings == Settings(
        path=tmp_path / "monitor.toml",
        database=tmp_path / "monitor.db",
        rules=tmp_path / "rules",
        sources=(),
        slack=None,
        email=None,
        user_agent=DEFAULT_USER_AGENT,
    )
    assert settings.channels == ("console",)


def test_source_defaults(tmp_path: Path) -> None:
    (source,) = load(tmp_path, SOURCE).sources
    assert source == SourceConfig(
        name="wire",
        url="https://example.org/rss.xml",
        interval=timedelta(minutes=10),
        timeout=timedelta(seconds=20),
        full_text=False,
    )


def test_every_source_key(tmp_path: Path) -> None:
    text = SOURCE + 'interval = "30s"\ntimeout = "1m"\nfull_text = true\n'
    (source,) = load(tmp_path, text).sources
    assert (source.interval, source.timeout, source.full_text) == (
        timedelta(seconds=30),
        timedelta(minutes=1),
        True,
    )


def test_sources_keep_their_order(tmp_path: Path) -> None:
    text = SOURCE + '[[sources]]\nname = "a_2-x"\nurl = "http://example.org/b"\n'
    assert [s.name for s in load(tmp_path, text).sources] == ["wire", "a_2-x"]


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    settings = load(tmp_path, 'database = "data/m.db"\nrules = "../shared-rules"\n')
    assert settings.database == tmp_path / "data" / "m.db"
    assert settings.rules == tmp_path / "../shared-rules"


def test_absolute_paths_stay(tmp_path: Path) -> None:
    settings = load(tmp_path, 'database = "/var/lib/monitor/m.db"\nrules = "/etc/monitor/rules"\n')
    assert settings.database == Path("/var/lib/monitor/m.db")
    assert settings.rules == Path("/etc/monitor/rules")


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("file://feeds/wire.xml", "feeds/wire.xml"),
        ("file://./feeds/wire.xml", "feeds/wire.xml"),
        ("file://feeds/my%20feed.xml", "feeds/my feed.xml"),
    ],
)
def test_relative_file_urls_resolve_against_the_config_folder(
    tmp_path: Path, url: str, local: str
) -> None:
    (source,) = load(tmp_path, f'[[sources]]\nname = "f"\nurl = "{url}"\n').sources
    assert source.url == (tmp_path / local).resolve().as_uri()
    assert source.url.startswith("file:///")


def test_absolute_file_urls_stay(tmp_path: Path) -> None:
    (source,) = load(tmp_path, '[[sources]]\nname = "f"\nurl = "file:///srv/feeds/a.xml"\n').sources
    assert source.url == "file:///srv/feeds/a.xml"


def test_user_agent(tmp_path: Path) -> None:
    assert load(tmp_path, 'user_agent = "newsroom-bot/2"\n').user_agent == "newsroom-bot/2"


def test_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml", environ={})
    assert f"config file {str(tmp_path / 'nope.toml')!r} not found" in caught.value.message
    assert "--config" in caught.value.hint


def test_default_config_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    assert default_config_path() == Path("monitor.toml")
    monkeypatch.setenv("MONITOR_CONFIG", "/etc/monitor/monitor.toml")
    assert default_config_path() == Path("/etc/monitor/monitor.toml")


# --- ${VAR} -------------------------------------------------------------------------


def test_variables_are_read_from_the_environment(tmp_path: Path) -> None:
    text = """
database = "${STATE}/monitor.db"
[notify.slack]
token = "${SLACK_TOKEN}"
channel = "#${DESK}-${DESK}"
[notify.email]
password = "${SMTP_PASSWORD}"
recipients = ["${ANALYST}", "desk@example.org"]
"""
    environ = {
        "STATE": "/var/lib/monitor",
        "SLACK_TOKEN": "xoxb-1",
        "DESK": "syria",
        "SMTP_PASSWORD": "p$w{x}",
        "ANALYST": "a@example.org",
    }
    settings = load(tmp_path, text, environ)
    assert settings.database == Path("/var/lib/monitor/monitor.db")
    assert settings.slack == SlackConfig(token="xoxb-1", channel="#syria-syria")
    assert settings.email is not None
    assert settings.email.password == "p$w{x}"
    assert settings.email.recipients == ("a@example.org", "desk@example.org")


def test_only_braced_variables_expand(tmp_path: Path) -> None:
    settings = load(tmp_path, 'user_agent = "bot $HOME ${ NOPE } ${1X}"\n', {"HOME": "/root"})
    assert settings.user_agent == "bot $HOME ${ NOPE } ${1X}"


def test_the_process_environment_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_TEST_UA", "from-env")
    path = tmp_path / "monitor.toml"
    path.write_text('user_agent = "${MONITOR_TEST_UA}"\n', encoding="utf-8")
    assert load_config(path).user_agent == "from-env"


@pytest.mark.parametrize(
    ("text", "key", "var"),
    [
        (
            '[notify.slack]\ntoken = "${SLACK_TOKEN}"\nchannel = "#a"\n',
            "notify.slack.token",
            "SLACK_TOKEN",
        ),
        ('database = "${STATE}/m.db"\n', "database", "STATE"),
        ('[notify.email]\nrecipients = ["${TO}"]\n', "notify.email.recipients", "TO"),
        (SOURCE.replace("https://example.org", "${FEED_HOST}"), "sources[0].url", "FEED_HOST"),
    ],
)
def test_a_missing_variable_names_the_key(tmp_path: Path, text: str, key: str, var: str) -> None:
    caught = error(tmp_path, text)
    assert (
        caught.message
        == f"{tmp_path / 'monitor.toml'}: {key}: environment variable {var} is not set"
    )
    assert caught.hint.startswith(f"export {var}=")


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ('databse = "m.db"\n', "databse", "did you mean 'database'?"),
        ("[[source]]\n", "source", "did you mean 'sources'?"),
        (SOURCE + 'intervall = "1m"\n', "sources[0].intervall", "did you mean 'interval'?"),
        ('[notify.slak]\ntoken = "x"\n', "notify.slak", "did you mean 'slack'?"),
        ('[notify.slack]\nwebhook = "x"\n', "notify.slack.webhook", "did you mean 'webhook_url'?"),
        (
            '[notify.email]\nrecipient = ["a@b.c"]\n',
            "notify.email.recipient",
            "did you mean 'recipients'?",
        ),
        ("[notify.sms]\n", "notify.sms", "known keys here: email, slack"),
    ],
)
def test_unknown_keys_get_a_did_you_mean(tmp_path: Path, text: str, key: str, hint: str) -> None:
    caught = error(tmp_path, text)
    assert caught.message == f"{tmp_path / 'monitor.toml'}: {key}: unknown key"
    assert caught.hint == hint


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"10 minutes"', "'10 minutes' is not a duration; write a number and a unit"),
        ('"1.5h"', "'1.5h' is not a duration"),
        ('"10"', "'10' is not a duration"),
        ('"-5m"', "'-5m' is not a duration"),
        ('"0s"', "must be at least 1s"),
        ("600", "expected a string, got 600"),
    ],
)
def test_bad_interval(tmp_path: Path, value: str, message: str) -> None:
    caught = error(tmp_path, SOURCE + f"interval = {value}\n")
    assert caught.message.startswith(f"{tmp_path / 'monitor.toml'}: sources[0].interval: {message}")


def test_bad_timeout_names_its_key(tmp_path: Path) -> None:
    caught = error(tmp_path, SOURCE + 'timeout = "soon"\n')
    assert ": sources[0].timeout: 'soon' is not a duration" in caught.message


@pytest.mark.parametrize("name", ["Reuters", "my feed", "wire.xml", "", "é"])
def test_bad_source_name(tmp_path: Path, name: str) -> None:
    caught = error(tmp_path, f'[[sources]]\nname = "{name}"\nurl = "https://example.org"\n')
    assert caught.message.endswith(f"sources[0].name: {name!r} is not a valid source name")
    assert caught.hint == "use lower-case letters, digits, '_' and '-' only"


def test_missing_source_name(tmp_path: Path) -> None:
    caught = error(tmp_path, '[[sources]]\nurl = "https://example.org"\n')
    assert caught.message.endswith("sources[0].name: '' is not a valid source name")


def test_duplicate_source_names(tmp_path: Path) -> None:
    caught = error(tmp_path, SOURCE + SOURCE)
    assert caught.message.endswith("sources[1].name: source 'wire' is defined twice")


@pytest.mark.parametrize("url", ["ftp://example.org/rss", "example.org/rss.xml", "", "feeds/a.xml"])
def test_bad_source_url(tmp_path: Path, url: str) -> None:
    caught = error(tmp_path, f'[[sources]]\nname = "a"\nurl = "{url}"\n')
    assert caught.message.endswith(f"sources[0].url: {url!r} is not an http(s):// or file:// URL")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources = 5\n", "sources: expected [[sources]] tables"),
        ("sources = [1]\n", "sources[0]: expected a table"),
        ('notify = "slack"\n', "notify: expected a table"),
        ("[notify]\nslack = 1\n", "notify.slack: expected a table"),
        ("rules = 5\n", "rules: expected a string, got 5"),
        (SOURCE + 'full_text = "yes"\n', "sources[0].full_text: expected true or false, got 'yes'"),
    ],
)
def test_wrong_types_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text).message == f"{tmp_path / 'monitor.toml'}: {message}"


def test_toml_syntax_error_gives_file_and_line(tmp_path: Path) -> None:
    caught = error(tmp_path, 'database = "m.db"\nrules = [1,\n\n[[sources]]\n')
    assert caught.message.startswith(f"{tmp_path / 'monitor.toml'}: ")
    assert "line 4" in caught.message
    assert caught.hint == "fix the TOML syntax at that line"


def test_toml_error_on_a_duplicate_key(tmp_path: Path) -> None:
    caught = error(tmp_path, 'database = "a"\ndatabase = "b"\n')
    assert "line 2" in caught.message


# --- notifiers ----------------------------------------------------------------------


def test_slack_webhook(tmp_path: Path) -> None:
    settings = load(tmp_path, '[notify.slack]\nwebhook_url = "https://hooks.slack.com/x"\n')
    assert settings.slack == SlackConfig(webhook_url="https://hooks.slack.com/x")
    assert settings.channels == ("slack",)


def test_slack_token_and_channel_with_base_url(tmp_path: Path) -> None:
    text = (
        '[notify.slack]\ntoken = "xoxb"\nchannel = "#desk"\nbase_url = "http://127.0.0.1:9/api/"\n'
    )
    assert load(tmp_path, text).slack == SlackConfig(
        token="xoxb", channel="#desk", base_url="http://127.0.0.1:9/api/"
    )


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("[notify.slack]\n", "notify.slack", "set webhook_url"),
        ('[notify.slack]\nchannel = "#desk"\n', "notify.slack", "set webhook_url"),
        (
            '[notify.slack]\ntoken = "xoxb"\n',
            "notify.slack.channel",
            'add channel = "#media-alerts"',
        ),
    ],
)
def test_slack_needs_a_webhook_or_a_token_and_channel(
    tmp_path: Path, text: str, key: str, hint: str
) -> None:
    caught = error(tmp_path, text)
    assert caught.message.startswith(f"{tmp_path / 'monitor.toml'}: {key}: ")
    assert caught.hint.startswith(hint)


def test_email_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, "[notify.email]\n")
    assert settings.email == EmailConfig()
    assert settings.channels == ("email",)


def test_email_every_key(tmp_path: Path) -> None:
    text = """
[notify.email]
host = "smtp.example.org"
port = 587
security = "starttls"
username = "monitor"
password = "secret"
sender = "alerts@example.org"
recipients = ["a@example.org", "b@example.org"]
timeout = "10s"
"""
    assert load(tmp_path, text).email == EmailConfig(
        host="smtp.example.org",
        port=587,
        security="starttls",
        username="monitor",
        password="secret",
        sender="alerts@example.org",
        recipients=("a@example.org", "b@example.org"),
        timeout=timedelta(seconds=10),
    )


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_email_security_choices(tmp_path: Path, security: str) -> None:
    settings = load(tmp_path, f'[notify.email]\nsecurity = "{security}"\n')
    assert settings.email is not None
    assert settings.email.security == security


@pytest.mark.parametrize("security", ["ssl", "TLS", "", "starttls "])
def test_email_security_other_values(tmp_path: Path, security: str) -> None:
    caught = error(tmp_path, f'[notify.email]\nsecurity = "{security}"\n')
    assert caught.message.endswith(
        f"notify.email.security: {security!r} is not one of none, starttls, tls"
    )


@pytest.mark.parametrize("port", ['"25"', "0", "65536", "true", "-1"])
def test_email_port_must_be_a_port_number(tmp_path: Path, port: str) -> None:
    caught = error(tmp_path, f"[notify.email]\nport = {port}\n")
    assert ": notify.email.port: expected a port number, got " in caught.message


@pytest.mark.parametrize("recipients", ['"a@example.org"', "[1]"])
def test_email_recipients_must_be_a_list_of_strings(tmp_path: Path, recipients: str) -> None:
    caught = error(tmp_path, f"[notify.email]\nrecipients = {recipients}\n")
    assert caught.message.endswith("notify.email.recipients: expected a list of addresses")


def test_both_channels(tmp_path: Path) -> None:
    text = '[notify.slack]\nwebhook_url = "https://h"\n[notify.email]\n'
    assert load(tmp_path, text).channels == ("slack", "email")
