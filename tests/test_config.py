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
    read_config,
)
from monitor.errors import ConfigError
from monitor.tomlkeys import locate


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
    ("text", "where", "var"),
    [
        (
            '[notify.slack]\ntoken = "${SLACK_TOKEN}"\nchannel = "#a"\n',
            "2:9: notify.slack.token",
            "SLACK_TOKEN",
        ),
        ('database = "${STATE}/m.db"\n', "1:12: database", "STATE"),
        ('[notify.email]\nrecipients = ["${TO}"]\n', "2:15: notify.email.recipients[0]", "TO"),
        (SOURCE.replace("https://example.org", "${FEED_HOST}"), "3:7: sources[0].url", "FEED_HOST"),
    ],
)
def test_a_missing_variable_names_the_key(tmp_path: Path, text: str, where: str, var: str) -> None:
    # One problem: the value left as written is not also "not a URL".
    assert error(tmp_path, text).message == (
        f"{tmp_path / 'monitor.toml'}:{where}: environment variable {var} is not set; "
        f"export {var}=... (or put it in the systemd EnvironmentFile)"
    )


def test_every_missing_variable_of_a_value_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path, 'database = "${A}/${B}/${A}"\n') == [
        "1:12: database: environment variable A is not set; "
        "export A=... (or put it in the systemd EnvironmentFile)",
        "1:12: database: environment variable B is not set; "
        "export B=... (or put it in the systemd EnvironmentFile)",
    ]


NOTIFY_SECRETS = """
[notify.slack]
webhook_url = "${MONITOR_TEST_HOOK}"
[notify.email]
password = "${MONITOR_TEST_SMTP}"
recipients = ["${MONITOR_TEST_TO}"]
"""


def test_a_command_that_sends_nothing_needs_no_notify_variable(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(NOTIFY_SECRETS, encoding="utf-8")

    settings = load_config(path, environ={}, sending=False)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    # Left as written (never sent), and so still counted as configured for the rules.
    assert settings.slack == SlackConfig(webhook_url="${MONITOR_TEST_HOOK}")
    assert settings.channels == ("slack", "email")
    assert caught.value.message.splitlines() == [
        f"{path}:3:15: notify.slack.webhook_url: environment variable MONITOR_TEST_HOOK is not "
        "set; export MONITOR_TEST_HOOK=... (or put it in the systemd EnvironmentFile)",
        f"{path}:5:12: notify.email.password: environment variable MONITOR_TEST_SMTP is not "
        "set; export MONITOR_TEST_SMTP=... (or put it in the systemd EnvironmentFile)",
        f"{path}:6:15: notify.email.recipients[0]: environment variable MONITOR_TEST_TO is not "
        "set; export MONITOR_TEST_TO=... (or put it in the systemd EnvironmentFile)",
    ]


def test_a_variable_outside_notify_is_needed_by_every_command(tmp_path: Path) -> None:
    caught = error(tmp_path, 'database = "${MONITOR_TEST_STATE}/m.db"\n' + NOTIFY_SECRETS)
    path = tmp_path / "monitor.toml"
    with pytest.raises(ConfigError) as lenient:
        load_config(path, environ={}, sending=False)

    assert len(caught.message.splitlines()) == 4
    assert lenient.value.message == (
        f"{path}:1:12: database: environment variable MONITOR_TEST_STATE is not set; "
        "export MONITOR_TEST_STATE=... (or put it in the systemd EnvironmentFile)"
    )


def test_a_set_variable_is_used_whether_or_not_the_command_sends(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text('[notify.slack]\nwebhook_url = "${HOOK}"\n', encoding="utf-8")

    for sending in (True, False):
        settings = load_config(path, environ={"HOOK": "https://h/1"}, sending=sending)
        assert settings.slack == SlackConfig(webhook_url="https://h/1")


# --- errors: every problem, each at its line and column ------------------------------


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    """Each problem as `line:col: message` (the path is the same for all)."""
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    _settings, found = read_config(path, environ={} if environ is None else environ)
    assert all(p.path == str(path) for p in found)
    return [f"{p.line}:{p.col}: {p.message}" for p in found]


def test_every_problem_is_reported_at_once_with_its_position(tmp_path: Path) -> None:
    text = (
        'databse = "m.db"\n'
        "[[sources]]\n"
        'name = "Reuters World"\n'
        'url = "https://example.org/rss"\n'
        'interval = "0s"\n'
        'timout = "5s"\n'
    )
    expected = [
        "1:1: databse: unknown key; did you mean 'database'?",
        "3:8: sources[0].name: 'Reuters World' is not a valid source name; "
        "use lower-case letters, digits, '_' and '-' only",
        "5:12: sources[0].interval: must be at least 1s",
        "6:1: sources[0].timout: unknown key; did you mean 'timeout'?",
    ]

    assert problems(tmp_path, text) == expected
    message = error(tmp_path, text).message
    assert message.splitlines() == [f"{tmp_path / 'monitor.toml'}:{line}" for line in expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('databse = "m.db"\n', "1:1: databse: unknown key; did you mean 'database'?"),
        ("\n[[source]]\n", "2:1: source: unknown key; did you mean 'sources'?"),
        (
            SOURCE + 'intervall = "1m"\n',
            "4:1: sources[0].intervall: unknown key; did you mean 'interval'?",
        ),
        ('[notify.slak]\ntoken = "x"\n', "1:1: notify.slak: unknown key; did you mean 'slack'?"),
        (
            '[notify.slack]\nwebhook_url = "https://h"\nwebhook = "x"\n',
            "3:1: notify.slack.webhook: unknown key; did you mean 'webhook_url'?",
        ),
        (
            '[notify.email]\nrecipient = ["a@b.c"]\n',
            "2:1: notify.email.recipient: unknown key; did you mean 'recipients'?",
        ),
        ("[notify.sms]\n", "1:1: notify.sms: unknown key; known keys here: email, slack"),
    ],
)
def test_unknown_keys_get_a_did_you_mean(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


LOCATED = [
    # The Nth [[sources]] table is sources[N-1], whatever lies between them.
    (
        SOURCE + '\n[http]\nper_host = 1\n\n[[sources]]\nname = "b"\nurl = "https://b"\n'
        '  # a comment\n  intervl = "1m"\n',
        "12:3: sources[1].intervl: unknown key; did you mean 'interval'?",
    ),
    # A dotted key, at the top level and inside a table.
    (
        'notify.slack.webhook_url = "https://h"\nnotify.slack.chanel = "#a"\n',
        "2:14: notify.slack.chanel: unknown key; did you mean 'channel'?",
    ),
    (
        '[notify]\nslack.webhook_url = "https://h"\nslack . "chanel" = 1\n',
        "3:9: notify.slack.chanel: unknown key; did you mean 'channel'?",
    ),
    # Inline tables, also in an array of them.
    (
        'notify = { slack = { webhook_url = "https://h", channl = "#a" } }\n',
        "1:49: notify.slack.channl: unknown key; did you mean 'channel'?",
    ),
    (
        'sources = [\n  { name = "a", url = "https://a" },\n'
        '  { name = "b", url = "https://b", interval = "0s" },\n]\n',
        "3:47: sources[1].interval: must be at least 1s",
    ),
    # Quoted keys and a header written with spaces.
    ('[ "http" ]\n"per host" = 1\n', "2:1: http.per host: unknown key; did you mean 'per_host'?"),
    # A value in an array.
    (
        '[[sources]]\nname = "a"\nurl = "https://a"\ntags = ["mena",\n  ""]\n',
        '4:8: sources[0].tags: expected a list of tag names, like ["mena", "wires"]',
    ),
    # Text that only looks like keys, inside strings and comments, is skipped.
    (
        'user_agent = """\n[[sources]]\nname = 1\n"""\n# databse = 1\n'
        "rules = '''x'''\nretention_days = 0\n",
        "7:18: retention_days: expected a whole number of days (1 or more), got 0",
    ),
    (
        'database = "a \\" # b"  # c = "d"\nkeep_hits = "yes"\n',
        "2:13: keep_hits: expected true or false, got 'yes'",
    ),
]


@pytest.mark.parametrize(("text", "expected"), LOCATED)
def test_problems_are_located_in_every_toml_form(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A key that is missing points at its table's header.
        (
            SOURCE + '\n[[sources]]\nurl = "https://b"\n',
            "5:1: sources[1].name: '' is not a valid source name; "
            "use lower-case letters, digits, '_' and '-' only",
        ),
        (
            '\n[notify.slack]\ntoken = "xoxb"\n',
            "2:1: notify.slack.channel: a bot token needs a default channel; "
            'add channel = "#media-alerts"',
        ),
        (
            '\n\n[notify.slack]\nchannel = "#desk"\n',
            "3:1: notify.slack: needs webhook_url or token; set webhook_url to an Incoming "
            "Webhook, or token and channel for a bot",
        ),
        # ...or where its inline table starts.
        (
            'notify.slack = { token = "xoxb" }\n',
            "1:16: notify.slack.channel: a bot token needs a default channel; "
            'add channel = "#media-alerts"',
        ),
    ],
)
def test_a_missing_key_points_at_its_table(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_a_key_the_scanner_cannot_reach_falls_back_to_the_first_line() -> None:
    # The scanner stops at what it does not follow; what it found before stays.
    located = locate('database = "a"\nrules.x = 1\n!keep_hits = 1\n')
    assert located.position(("database",)) == (1, 12)
    assert located.position(("rules", "x")) == (2, 11)
    assert located.position(("rules", "y"), key=True) == (2, 1)
    assert located.position(("keep_hits",)) == (1, 1)
    assert located.position(("sources", 3, "name")) == (1, 1)


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
    (found,) = problems(tmp_path, SOURCE + f"interval = {value}\n")
    assert found.startswith(f"4:12: sources[0].interval: {message}")


def test_bad_timeout_names_its_key(tmp_path: Path) -> None:
    assert problems(tmp_path, SOURCE + 'timeout = "soon"\n') == [
        "4:11: sources[0].timeout: 'soon' is not a duration; write a number and a unit, "
        "like 30s, 10m, 1h or 1d"
    ]


@pytest.mark.parametrize("name", ["Reuters", "my feed", "wire.xml", "", "é"])
def test_bad_source_name(tmp_path: Path, name: str) -> None:
    text = f'[[sources]]\nname = "{name}"\nurl = "https://example.org"\n'
    assert problems(tmp_path, text) == [
        f"2:8: sources[0].name: {name!r} is not a valid source name; "
        "use lower-case letters, digits, '_' and '-' only"
    ]


def test_duplicate_source_names(tmp_path: Path) -> None:
    assert problems(tmp_path, SOURCE + SOURCE) == [
        "5:8: sources[1].name: source 'wire' is defined twice"
    ]


@pytest.mark.parametrize("url", ["ftp://example.org/rss", "example.org/rss.xml", "", "feeds/a.xml"])
def test_bad_source_url(tmp_path: Path, url: str) -> None:
    assert problems(tmp_path, f'[[sources]]\nname = "a"\nurl = "{url}"\n') == [
        f"3:7: sources[0].url: {url!r} is not an http(s):// or file:// URL; "
        "write the full address, like https://example.org/rss.xml"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources = 5\n", "1:11: sources: expected [[sources]] tables"),
        ("sources = [1]\n", "1:12: sources[0]: expected a table"),
        ('notify = "slack"\n', "1:10: notify: expected a table"),
        ("[notify]\nslack = 1\n", "2:9: notify.slack: expected a table"),
        ("rules = 5\n", "1:9: rules: expected a string, got 5"),
        (
            SOURCE + 'full_text = "yes"\n',
            "4:13: sources[0].full_text: expected true or false, got 'yes'",
        ),
    ],
)
def test_wrong_types_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    assert problems(tmp_path, text) == [message]


def test_toml_syntax_error_gives_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    assert error(tmp_path, 'database = "m.db"\nrules = [1,\n\n[[sources]]\n').message == (
        f"{path}:4:3: invalid TOML: Invalid value; fix the syntax there"
    )


def test_toml_error_on_a_duplicate_key(tmp_path: Path) -> None:
    assert problems(tmp_path, 'database = "a"\ndatabase = "b"\n') == [
        "2:15: invalid TOML: Cannot overwrite a value; fix the syntax there"
    ]


def test_toml_error_at_the_end_of_the_file(tmp_path: Path) -> None:
    assert problems(tmp_path, 'database = "a"\nrules =') == [
        "2:8: invalid TOML: Invalid value; fix the syntax there"
    ]


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
    assert problems(tmp_path, f'[notify.email]\nsecurity = "{security}"\n') == [
        f"2:12: notify.email.security: {security!r} is not one of none, starttls, tls"
    ]


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
