"""`monitor check`, config errors and secrets, through CliRunner and real processes, on real
temp files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from harness import run_monitor, write_project

from monitor.cli import cli
from monitor.store import Store, heartbeat

GOOD_RULE = "title: Assad\nentities: [{name: Bashar al-Assad, aliases: [Assad]}]\n"


def make_project(tmp_path: Path, rules: dict[str, str], extra: str = "") -> Path:
    return write_project(
        tmp_path, rules, f'[[sources]]\nname = "world"\nurl = "file://feed.xml"\n{extra}'
    )


def test_check_summarises_a_valid_setup(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"assad.yaml": GOOD_RULE})

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 0
    assert result.output.startswith(f"ok: {config}: 1 sources, 1 rules")


def test_check_lists_every_problem_with_its_position(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            "a.yaml": "title: A\nphrasez: [x]\n",
            "b.yaml": "title: B\nkeywords: {terms: [power grid], threshold: 150}\n",
            "c.yaml": GOOD_RULE,
        },
    )

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    rules = tmp_path / "rules"
    assert f"{rules / 'a.yaml'}:2:1: unknown key 'phrasez'; did you mean 'phrases'?" in lines
    assert any(line.startswith(f"{rules / 'b.yaml'}:2:") and "threshold" in line for line in lines)


def test_rule_naming_an_unconfigured_channel_is_an_error(tmp_path: Path) -> None:
    rule = GOOD_RULE + 'notify: {slack: "#desk"}\n'
    config = make_project(tmp_path, {"assad.yaml": rule})

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 1
    assert "[notify.slack]" in result.stdout


def test_config_defaults_to_the_environment_variable(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"assad.yaml": GOOD_RULE})

    result = CliRunner(env={"MONITOR_CONFIG": str(config)}).invoke(cli, ["check"])

    assert result.exit_code == 0, result.output


def test_missing_config_says_how_to_fix_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--config", str(tmp_path / "none.toml")])

    assert result.exit_code == 1
    assert "not found" in result.stderr and "config.example.toml" in result.stderr


def test_missing_environment_variable_names_the_key(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {"assad.yaml": GOOD_RULE},
        extra='[notify.slack]\nwebhook_url = "${MONITOR_TEST_UNSET_HOOK}"\n',
    )

    result = CliRunner().invoke(cli, ["run", "--once", "--config", str(config)])

    assert result.exit_code == 1
    assert "notify.slack.webhook_url" in result.stderr
    assert "MONITOR_TEST_UNSET_HOOK" in result.stderr


def test_format_help_names_only_the_formats_a_command_takes() -> None:
    for command in ("hits", "stats", "export", "outbox"):
        help_text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
        offered = help_text.split("--format [", 1)[1].split("]", 1)[0].split("|")
        described = help_text.split("How to print the results: ", 1)[1].split(".", 1)[0]
        words = described.replace("a table for people", "table").replace("/", " ").replace(",", " ")
        for fmt in ("table", "json", "ndjson", "csv"):
            said = fmt in words.split()
            assert said == (fmt in offered), (command, fmt, described)


# --- secrets: only the commands that send need them ----------------------------------

HOOK = "MONITOR_TEST_UNSET_HOOK"
SMTP = "MONITOR_TEST_UNSET_SMTP"
SECRETS = f"""
[notify.slack]
webhook_url = "${{{HOOK}}}"
[notify.email]
password = "${{{SMTP}}}"
recipients = ["desk@example.org"]
"""


def monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`monitor ARGS` as a real process, with neither secret in its environment."""
    environ = {k: v for k, v in os.environ.items() if k not in (HOOK, SMTP)}
    return run_monitor(*args, env={**environ, **(env or {})})


@pytest.fixture
def secret_project(tmp_path: Path) -> Path:
    """A project whose config names two secrets, with a database a daemon is beating in."""
    config = make_project(tmp_path, {"assad.yaml": GOOD_RULE}, extra=SECRETS)
    store = Store.open(tmp_path / "monitor.db")
    try:
        # This process's pid on this host: status sees a live daemon.
        heartbeat.record_start(store.conn, config, sources=1, rules=1, interval=10)
        heartbeat.beat(store.conn, cycle=True)
    finally:
        store.close()
    return config


def test_status_and_hits_work_without_the_notify_secrets(secret_project: Path) -> None:
    status = monitor("status", "--config", str(secret_project))
    hits = monitor("hits", "--config", str(secret_project), "--format", "json")

    assert status.returncode == 0, status.stderr
    assert "status:     ok" in status.stdout
    assert (hits.returncode, json.loads(hits.stdout), hits.stderr) == (0, [], "")


def test_run_and_check_still_name_the_missing_secret_and_its_key(secret_project: Path) -> None:
    run = monitor("run", "--once", "--config", str(secret_project))
    check = monitor("check", "--config", str(secret_project))

    config = secret_project
    missing = [
        f"{config}:7:15: notify.slack.webhook_url: environment variable {HOOK} is not set; "
        f"export {HOOK}=... (or put it in the systemd EnvironmentFile)",
        f"{config}:9:12: notify.email.password: environment variable {SMTP} is not set; "
        f"export {SMTP}=... (or put it in the systemd EnvironmentFile)",
    ]
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"error: {line}" for line in missing]
    assert check.returncode == 1
    assert check.stdout.splitlines() == missing
    assert check.stderr == "2 problem(s) found\n"


@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["export"],
        ["outbox"],
        ["prune", "--dry-run"],
        ["sources"],
        ["replay", "--since", "7d"],
        ["match", "-"],
    ],
    ids=lambda args: args[0],
)
def test_every_command_that_sends_nothing_works_without_the_secrets(
    secret_project: Path, args: list[str]
) -> None:
    result = CliRunner(env={HOOK: None, SMTP: None}).invoke(
        cli, [*args, "--config", str(secret_project)], input="Assad speaks\nIn Damascus.\n"
    )

    assert result.exit_code == 0, result.output
    assert "is not set" not in result.stderr


def test_hits_show_gets_past_the_config_without_the_secrets(secret_project: Path) -> None:
    result = CliRunner(env={HOOK: None}).invoke(
        cli, ["hits", "show", "7", "--config", str(secret_project)]
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: no hit with id 7 in ")


def test_secret_values_stay_out_of_the_output(secret_project: Path) -> None:
    secrets = {HOOK: "https://hooks.slack.com/services/T000/B000/s3cr3t-hook", SMTP: "s3cr3t-pw"}
    outputs = [
        monitor(*args, "--config", str(secret_project), env=secrets)
        for args in (["check"], ["status"], ["status", "--json"])
    ]

    assert [result.returncode for result in outputs] == [0, 0, 0]
    for result in outputs:
        for secret in secrets.values():
            assert secret not in result.stdout + result.stderr


# --- config problems: all at once, with their positions ------------------------------

BROKEN_CONFIG = """\
rules = "rules"
databse = "m.db"

[[sources]]
name = "World News"
url = "https://example.org/rss"
interval = "0s"
timout = "20s"
"""


def test_check_prints_every_config_and_rule_problem_in_one_run(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "d.yaml": "title: D\nphrases: [Damascus]\n",
            "e.yaml": "title: E\nid: d\nphrases: [Tartus]\nseverity: urgent\n",
            "f.yaml": "title: F\nphrases: [Homs]\nphrasez: [x]\n",
        },
        "",
    )
    config = tmp_path / "monitor.toml"
    config.write_text(BROKEN_CONFIG)
    rules = tmp_path / "rules"

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{config}:2:1: databse: unknown key; did you mean 'database'?",
        f"{config}:5:8: sources[0].name: 'World News' is not a valid source name; "
        "use lower-case letters, digits, '_' and '-' only",
        f"{config}:7:12: sources[0].interval: must be at least 1s",
        f"{config}:8:1: sources[0].timout: unknown key; did you mean 'timeout'?",
        f"{rules / 'e.yaml'}:4:11: severity must be one of info, normal, high",
        f"{rules / 'e.yaml'}:2:5: duplicate rule id 'd': also used by {rules / 'd.yaml'}; "
        "rename the file or set a different `id:`",
        f"{rules / 'f.yaml'}:3:1: unknown key 'phrasez'; did you mean 'phrases'?",
    ]
    assert result.stderr == "7 problem(s) found; nothing was loaded\n"


def test_check_gives_a_toml_syntax_error_its_position(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('database = "m.db"\n[[sources]\n')

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 1
    assert result.stdout == (
        f"{config}:2:10: invalid TOML: Expected ']]' at the end of an array declaration; "
        "fix the syntax there\n"
    )


def test_other_commands_give_one_error_line_per_config_problem(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(BROKEN_CONFIG)

    hits = CliRunner().invoke(cli, ["hits", "--config", str(config)])
    status = monitor("status", "--config", str(config))

    for stderr in (hits.stderr, status.stderr):
        lines = stderr.splitlines()
        assert len(lines) == 4 and all(line.startswith(f"error: {config}:") for line in lines)
        assert "did you mean 'timeout'?" in lines[3]
    assert (hits.exit_code, status.returncode) == (1, 2)
