"""The ``monitor`` command. Thin: parse arguments, call the stages, format output.

Errors from the stages are MonitorError; they are turned into a message and
exit code 1 in one place (``_fail``). Bad usage exits 2 (click's own).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from monitor import __version__
from monitor.config import Settings, default_config_path, load_config
from monitor.daemon import Daemon
from monitor.errors import MonitorError, RuleError
from monitor.log import configure, event
from monitor.models import Rule
from monitor.output import emit, output_option
from monitor.rules import load_rules
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
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format", type=click.Choice(["keyvalue", "json"]), default="keyvalue", show_default=True
)
def run(config_path: Path | None, once: bool, log_level: str, log_format: str) -> None:
    """Run the daemon in the foreground until SIGINT/SIGTERM (or one cycle with --once).

    With --once the exit code is 0 when the cycle ran, even if some sources
    failed (each failure is logged with the source's name and reason).
    """
    configure(log_level, log_format)
    try:
        settings, rules = _load(config_path)
        daemon = Daemon(settings, rules)
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
        rules = load_rules(settings.rules, settings.channels)
    except RuleError as error:
        for problem in error.problems:
            click.echo(str(problem))
        errors = sum(1 for p in error.problems if p.severity == "error")
        click.echo(f"{errors} problem(s) found; nothing was loaded", err=True)
        sys.exit(1)
    click.echo(
        f"ok: {settings.path}: {len(settings.sources)} sources, {len(rules)} rules "
        f"from {settings.rules}, alerts to {', '.join(settings.channels)}"
    )




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
