"""The ``monitor`` command. Thin: parse arguments, call the stages, format output.

Errors from the stages are MonitorError; they are turned into a message and
exit code 1 in one place (``_fail``). Bad usage exits 2 (click's own).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from monitor import __version__, health
from monitor.config import Settings, default_config_path, load_config
from monitor.daemon import Daemon
from monitor.errors import MonitorError, RuleError
from monitor.log import LEVELS, configure, event, set_level
from monitor.models import Rule
from monitor.output import emit, output_option
from monitor.rules import load_rule_set, load_rules
from monitor.rules.examples import run_examples
from monitor.service import user_unit
from monitor.store import Store
from monitor.timeutil import parse_since

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file. Default: $MONITOR_CONFIG, then ./monitor.toml.",
)


def _fail(error: MonitorError) -> NoReturn:
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


def _load(config_path: Path | None) -> tuple[Settings, tuple[Rule, ...]]:
    settings = load_config(config_path or default_config_path())
    rules = load_rules(settings.rules, settings.channels)
    return settings, rules


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
def cli() -> None:
    """Watch news feeds, match stories against watch rules, alert on Slack or email."""


@cli.command()
@config_option
@click.option("--once", is_flag=True, help="Run one full cycle, then exit.")
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default=None,
    help="Default: log_level in the config, else info.",
)
@click.option(
    "--log-format",
    type=click.Choice(["keyvalue", "json"]),
    default="keyvalue",
    show_default=True,
    help="One line per event on stderr: key=value for people, json for log shippers.",
)
@click.option(
    "--user-systemd",
    is_flag=True,
    help="Print a systemd user unit that runs this daemon (no root needed), then exit.",
)
def run(
    config_path: Path | None,
    once: bool,
    log_level: str | None,
    log_format: str,
    user_systemd: bool,
) -> None:
    """Run the daemon in the foreground until SIGINT/SIGTERM (or one cycle with --once).

    SIGHUP reloads the config and the rules; if they have errors, the daemon
    logs each one and keeps running with the old ones. A second daemon on the
    same database refuses to start.

    With --once the exit code is 0 when the cycle ran, even if some sources
    failed (each failure is logged with the source's name and reason).
    """
    if user_systemd:
        click.echo(user_unit(config_path or default_config_path()), nl=False)
        return
    configure(log_level or "info", log_format)
    try:
        settings, rules = _load(config_path)
        if log_level is None and settings.log_level:
            set_level(settings.log_level)
        daemon = Daemon(settings, rules, log_level=log_level)
        if once:
            report = asyncio.run(daemon.run_once())
            failed = [p for p in report.polls if not p.ok]
            event(
                "cycle_done",
                sources=len(report.polls),
                failed=len(failed),
                new_stories=sum(p.new_stories for p in report.polls),
                hits=sum(p.new_hits for p in report.polls),
                sent=report.delivery.sent,
                retrying=report.delivery.retrying,
                undeliverable=report.delivery.failed,
            )
        else:
            asyncio.run(daemon.run_forever())
    except MonitorError as error:
        _fail(error)


@cli.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate the config and every rule file.

    Prints one `path:line:col: message` line per problem and exits 1, or a
    one-line summary and exits 0.
    """
    try:
        settings = load_config(config_path or default_config_path())
    except MonitorError as error:
        _fail(error)
    try:
        rule_set = load_rule_set(settings.rules, settings.channels)
    except RuleError as error:
        for problem in error.problems:
            click.echo(str(problem))
        click.echo(f"{len(error.problems)} problem(s) found; nothing was loaded", err=True)
        sys.exit(1)
    for warning in rule_set.warnings:
        click.echo(str(warning))
    failures = run_examples(rule_set.rules)
    for problem in failures:
        click.echo(str(problem))
    if failures:
        click.echo(f"{len(failures)} rule example(s) failed", err=True)
        sys.exit(1)
    examples = sum(len(r.examples_match) + len(r.examples_no_match) for r in rule_set.rules)
    click.echo(
        f"ok: {settings.path}: {len(settings.sources)} sources, {len(rule_set.rules)} rules "
        f"({examples} examples passed) from {settings.rules}, "
        f"alerts to {', '.join(settings.channels)}"
    )


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status(config_path: Path | None, as_json: bool) -> None:
    """Is the daemon running and healthy? Exit 0 ok, 1 degraded, 2 down.

    Reads the heartbeat the daemon keeps in the database, so it needs only
    read access to it (often: sudo). Down: not running, stopped, or silent
    for three heartbeats. Degraded: some source's last fetch failed, an alert
    failed for good in the last 24 hours, or one has waited 30 minutes.
    """
    try:
        settings = load_config(config_path or default_config_path())
    except MonitorError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(health.State.DOWN)  # without the config there is no database to look at
    verdict = health.check(settings)
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(health.render(verdict)))
    sys.exit(verdict.state)


def _hit_cells(row: dict[str, Any]) -> dict[str, str]:
    terms = ", ".join(sorted({m["term"] for m in row["matches"]}))
    return {
        "id": str(row["id"]),
        "matched_at": row["matched_at"].replace("T", " ")[:16],
        "rule": row["rule"],
        "source": row["source"],
        "terms": terms,
        "title": row["title"] or row["url"],
    }


@cli.command()
@config_option
@click.option("--rule", "rule_ids", multiple=True, help="Only hits of this rule id (repeatable).")
@click.option("--since", default=None, help="Only hits recorded since: 24h, 7d or 2026-11-01.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@output_option()
def hits(
    config_path: Path | None, rule_ids: tuple[str, ...], since: str | None, limit: int, fmt: str
) -> None:
    """List stored hits, newest first."""
    try:
        settings = load_config(config_path or default_config_path())
        since_at = parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    except MonitorError as error:
        _fail(error)
    try:
        store = Store.open(settings.database)
    except MonitorError as error:
        _fail(error)
    try:
        rows = list(store.hits(rule_ids, since_at, limit))
    finally:
        store.close()
    columns: tuple[str, ...] = ("id", "matched_at", "rule", "source", "terms", "title")
    if fmt == "csv":
        columns = ("id", "matched_at", "published_at", "rule", "source", "title", "url")
    emit(rows, fmt, columns, table_cells=_hit_cells)


def main() -> None:
    """Console-script entry point."""
    cli()
