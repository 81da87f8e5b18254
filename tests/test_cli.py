"""`monitor check` and config errors through click's CliRunner, on real temp files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from harness import write_project

from monitor.cli import cli

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
