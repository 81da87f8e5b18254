"""The ``monitor`` command. Thin: parse arguments, call the stages, format output.

Errors from the stages are MonitorError; they are turned into a message and
exit code 1 in one place (``_fail``). Bad usage exits 2 (click's own).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from monitor import __version__, history
from monitor.config import Settings, default_config_path, load_config, read_config
from monitor.errors import MonitorError, Problem, RuleError
from monitor.log import LEVELS, configure, event, set_level
from monitor.models import Rule
from monitor.output import emit, output_option
from monitor.store import Store
from monitor.store.queries import SEVERITIES, HitQuery
from monitor.timeutil import parse_since, utcnow

#: The states of a delivery (monitor/store/outbox.py), for `monitor outbox --status`.
OUTBOX_STATUSES = ("pending", "held", "sending", "sent", "failed", "skipped")

# The daemon (scheduler, HTTP, notifiers), the systemd unit writer (it needs the
# daemon), the health endpoint and the rule loader are imported inside the
# commands that use them: together they cost ~250 ms at start, which `monitor
# hits` and `monitor stats` should not pay (their budget is 300 ms in all).

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file. Default: $MONITOR_CONFIG, then ./monitor.toml.",
)


def _fail(error: MonitorError, code: int = 1) -> NoReturn:
    """One ``error:`` line per problem (a config or rule folder can have many), then the hint."""
    for line in error.message.splitlines():
        click.echo(f"error: {line}", err=True)
    if error.hint:
        click.echo(f"  hint: {error.hint}", err=True)
    sys.exit(code)


def _config(config_path: Path | None) -> Settings:
    """The config (``--config``, else the default) for a command that sends nothing.

    Such commands work without the secrets that ``${VAR}``s under
    ``[notify.*]`` stand for (``sudo`` does not load the service's
    EnvironmentFile). Exits 1 saying what is wrong.
    """
    try:
        return load_config(config_path or default_config_path(), sending=False)
    except MonitorError as error:
        _fail(error)


def _load(config_path: Path | None) -> tuple[Settings, tuple[Rule, ...]]:
    from monitor.rules import load_rules

    settings = load_config(config_path or default_config_path(), sending=True)
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
        from monitor.service import user_unit

        click.echo(user_unit(config_path or default_config_path()), nl=False)
        return
    configure(log_level or "info", log_format)
    try:
        settings, rules = _load(config_path)
        if log_level is None and settings.log_level:
            set_level(settings.log_level)
        import asyncio

        from monitor.daemon import Daemon

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
    """Validate the config and every rule file, and run the rules' examples.

    Prints one `path:line:col: message` line per problem, config and rules
    alike, all in one run, and exits 1; or prints a one-line summary and exits 0.
    A `${VAR}` that is not set is a problem here even under [notify.*]: the
    daemon would stop on it.
    """
    try:
        settings, problems = read_config(config_path or default_config_path(), sending=True)
    except MonitorError as error:
        _fail(error)
    from monitor.rules import load_rule_set
    from monitor.rules.examples import run_examples

    found: list[Problem] = list(problems)
    rule_set = None
    if settings is not None:  # without the config (not TOML) there is no rule folder to read
        try:
            rule_set = load_rule_set(settings.rules, settings.channels)
        except RuleError as error:
            found.extend(error.problems)
    if rule_set is not None:
        found.extend(rule_set.warnings)
        found.extend(run_examples(rule_set.rules))
    for problem in found:
        click.echo(str(problem))
    errors = sum(1 for p in found if p.severity == "error")
    if errors or settings is None or rule_set is None:
        loaded = "" if rule_set is not None else "; nothing was loaded"
        click.echo(f"{errors} problem(s) found{loaded}", err=True)
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
    from monitor import health

    try:
        settings = load_config(config_path or default_config_path(), sending=False)
    except MonitorError as error:
        _fail(error, health.State.DOWN)  # without the config there is no database to look at
    verdict = health.check(settings)
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(health.render(verdict)))
    sys.exit(verdict.state)


@contextmanager
def _open_store(config_path: Path | None) -> Iterator[tuple[Settings, Store]]:
    """The config and the database it names, closed after; exits 1 saying what is wrong."""
    settings = _config(config_path)
    try:
        store = Store.open(settings.database)
    except MonitorError as error:
        _fail(error)
    try:
        yield settings, store
    finally:
        store.close()


def _moment(value: str | None, option: str) -> datetime | None:
    """A --since/--until value (24h, 7d, 2026-11-01) as a UTC time; bad input exits 2."""
    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _width(cap: int = 120) -> int:
    return min(shutil.get_terminal_size((cap, 24)).columns, cap)


class _HitsGroup(click.Group):
    """`monitor hits` lists hits itself; its one subcommand, `show ID`, shows one in full."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0].isdigit():
            raise click.UsageError(f"to see hit {args[0]}, run: monitor hits show {args[0]}", ctx)
        return super().resolve_command(ctx, args)


F = TypeVar("F", bound=Callable[..., Any])

_HIT_FILTERS = (
    click.option(
        "--rule", "rule_ids", multiple=True, help="Only hits of this rule id (repeatable)."
    ),
    click.option(
        "--source",
        "sources",
        multiple=True,
        help="Only hits on stories from this source (repeatable).",
    ),
    click.option("--since", default=None, help="Only hits recorded since: 24h, 7d or 2026-11-01."),
    click.option("--until", default=None, help="Only hits recorded before: 24h, 7d or 2026-11-01."),
)


def hit_filter_options(command: F) -> F:
    """--rule, --source, --since and --until, alike for every command that lists hits."""
    for option in reversed(_HIT_FILTERS):
        command = option(command)
    return command


@cli.group(cls=_HitsGroup, invoke_without_command=True, subcommand_metavar="[show ID]")
@config_option
@hit_filter_options
@click.option(
    "--published-since", default=None, help="Only stories published since: 24h, 7d or 2026-11-01."
)
@click.option(
    "--search",
    default=None,
    help="Full-text search of the stories (SQLite FTS5): Assad, '\"power grid\"', "
    "'Assad NOT football', 'Tart*'.",
)
@click.option(
    "--severity",
    "severities",
    multiple=True,
    type=click.Choice(SEVERITIES),
    help="Only hits of this severity (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@output_option()
@click.pass_context
def hits(
    ctx: click.Context,
    config_path: Path | None,
    rule_ids: tuple[str, ...],
    sources: tuple[str, ...],
    since: str | None,
    until: str | None,
    published_since: str | None,
    search: str | None,
    severities: tuple[str, ...],
    limit: int,
    fmt: str,
) -> None:
    """List stored hits, newest first; `monitor hits show ID` shows one in full.

    --since and --until filter on when the hit was recorded (UTC),
    --published-since on when the story was published.
    """
    if ctx.invoked_subcommand is not None:
        return
    query = HitQuery(
        rules=rule_ids,
        sources=sources,
        severities=severities,
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
        published_since=_moment(published_since, "--published-since"),
        search=search,
        limit=limit,
    )
    with _open_store(config_path) as (_settings, store):
        try:
            rows = store.hits(query)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--search") from None
    columns = history.CSV_COLUMNS if fmt == "csv" else history.TABLE_COLUMNS
    emit(rows, fmt, columns, table_cells=history.hit_cells, link=("title", "url"))


def text_or_json_option(for_people: str) -> Callable[[F], F]:
    """--format text|json, for a command that shows one thing rather than listing rows."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"text for people ({for_people}), json for tools.",
    )


@hits.command("show")
@click.argument("hit_id", metavar="ID", type=click.IntRange(min=1))
@config_option
@text_or_json_option("matches marked")
@click.pass_context
def hits_show(ctx: click.Context, hit_id: int, config_path: Path | None, fmt: str) -> None:
    """One hit in full: the story with its matches marked, every match with its
    field, the cluster's other outlets, every delivery with its status and error."""
    parent = ctx.parent.params.get("config_path") if ctx.parent else None
    with _open_store(config_path or parent) as (settings, store):
        hit = store.hit(hit_id)
    if hit is None:
        _fail(
            MonitorError(
                f"no hit with id {hit_id} in {settings.database}",
                hint="list the hits and their ids with `monitor hits`",
            )
        )
    if fmt == "json":
        click.echo(json.dumps(hit, ensure_ascii=False, indent=2))
        return
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def mark(text: str) -> str:
        return click.style(text, reverse=True) if colour else history.brackets(text)

    click.echo(history.render_hit(hit, _width(100), mark))


def _stats_start(since: str) -> date:
    """The first whole UTC day of the window: `--since 7d` is the last 7 days, today included."""
    moment = _moment(since, "--since")
    assert moment is not None
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.date() if moment == midnight else moment.date() + timedelta(days=1)


@cli.command()
@config_option
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="The window, in whole UTC days up to today: 30d, 12w or 2026-11-01.",
)
@output_option(formats=("table", "json"))
def stats(config_path: Path | None, since: str, fmt: str) -> None:
    """Hits per rule per day (with a sparkline), top sources, delivery success rate
    and the noisiest rules."""
    start = _stats_start(since)
    with _open_store(config_path) as (_settings, store):
        result = store.stats(start, max(start, utcnow().date()))
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(history.render_stats(result, _width()))


@cli.command()
@config_option
@hit_filter_options
@output_option(default="csv", formats=("csv", "ndjson"))
def export(
    config_path: Path | None,
    rule_ids: tuple[str, ...],
    sources: tuple[str, ...],
    since: str | None,
    until: str | None,
    fmt: str,
) -> None:
    """Write every hit with its story and explanation to stdout, oldest first:
    csv for spreadsheets, ndjson (one `monitor hits` JSON object a line) for notebooks.

    \b
        monitor export --since 30d --format csv > hits.csv
    """
    query = HitQuery(
        rules=rule_ids,
        sources=sources,
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
        limit=None,
    )
    with _open_store(config_path) as (_settings, store):
        try:
            rows = store.export(query)
            if fmt == "csv":
                emit(map(history.export_row, rows), fmt, history.EXPORT_CSV_COLUMNS)
            else:
                emit(rows, fmt, ())
            sys.stdout.flush()
        except BrokenPipeError:
            # `monitor export | head`: the reader has gone. Point stdout at devnull
            # so the interpreter's final flush does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
def prune(config_path: Path | None, dry_run: bool) -> None:
    """Apply the retention policy now (the daemon does it daily) and report what went.

    Stories fetched more than retention_days ago (config; default 90) are
    deleted unless a hit needs them; those that stay lose their body. Hits and
    their explanation are kept, unless the config says keep_hits = false.
    """
    with _open_store(config_path) as (settings, store):
        try:
            report = store.prune(settings.retention_days, settings.keep_hits, dry_run)
        except MonitorError as error:
            _fail(error)
    click.echo(history.render_prune(report, settings.retention_days))


OUTBOX_COLUMNS = ("id", "status", "channel", "target", "rule", "title", "attempts", "when", "note")


def _outbox_row(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery with two summary fields: when it goes (or went), why it waits or failed."""
    when = row["next_attempt_at"] or row["due_at"] or row["sent_at"] or row["created_at"] or ""
    note = row["last_error"] or row["reason"] or ""
    if row["in_doubt"]:
        note = f"in doubt after a crash; {note}".rstrip("; ")
    return {**row, "when": when, "note": note}


@cli.command()
@config_option
@click.option(
    "--status",
    "wanted",
    type=click.Choice(OUTBOX_STATUSES),
    multiple=True,
    help="Only deliveries in this state (repeatable). Default: all not yet sent "
    "(pending, held, sending, failed).",
)
@click.option(
    "--retry",
    "retry_ids",
    type=click.IntRange(min=1),
    multiple=True,
    metavar="ID",
    help="Make delivery ID due now (failed, pending, held or skipped; repeatable).",
)
@click.option("--all", "retry_all", is_flag=True, help="Make every failed delivery due now.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@output_option()
def outbox(
    config_path: Path | None,
    wanted: tuple[str, ...],
    retry_ids: tuple[int, ...],
    retry_all: bool,
    limit: int,
    fmt: str,
) -> None:
    """Show the alert outbox: what waits (and why), what failed (and how to fix it).

    With --retry ID or --all, failed deliveries become due again at once
    (give_up_after counts from now); the running daemon sends them within
    30 seconds, or `monitor run --once` sends them now. A retried delivery is
    sent once more: use it when the cause is fixed.

    \b
        monitor outbox --status failed
        monitor outbox --retry 42 --retry 43
        monitor outbox --all
    """
    from monitor.store import outbox as box

    if retry_ids and retry_all:
        raise click.UsageError("give either --retry ID or --all, not both")
    with _open_store(config_path) as (_settings, store):
        if retry_ids or retry_all:
            changed = box.retry(store.conn, None if retry_all else list(retry_ids), utcnow())
            for missing in sorted(set(retry_ids) - set(changed)):
                state = box.statuses(store.conn, [missing]).get(missing)
                why = f"it is {state}" if state else "there is no such delivery"
                click.echo(f"delivery {missing} not retried: {why}", err=True)
            click.echo(f"{len(changed)} delivery(ies) due now", err=True)
            if retry_ids and not changed:
                sys.exit(1)
            return
        rows = box.listing(store.conn, wanted or box.LISTED, limit)
    emit([_outbox_row(row) for row in rows], fmt, OUTBOX_COLUMNS)


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
def ui(config_path: Path | None, host: str, port: int, open_browser: bool) -> None:
    """Browse the history in Datasette, read-only, with canned queries (latest hits,
    hits by rule, failed deliveries). Needs the extra: pip install 'monitor[ui]'."""
    import subprocess
    import tempfile

    from monitor.datasette import metadata_for, serve_command

    try:
        settings = load_config(config_path or default_config_path(), sending=False)
        with tempfile.TemporaryDirectory(prefix="monitor-ui-") as folder:
            metadata = Path(folder) / "metadata.json"
            metadata.write_text(json.dumps(metadata_for(settings.database)), encoding="utf-8")
            command = serve_command(settings.database, metadata, host, port, open_browser)
            try:
                code = subprocess.call(command)
            except KeyboardInterrupt:
                code = 0
    except MonitorError as error:
        _fail(error)
    sys.exit(code)


@cli.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of rule files, for editors.

    Save it and point your editor at it for completion, hover help and
    squiggles while you write rules: `monitor schema > rule.schema.json`,
    then see "Editor support" in docs/rules.md (VS Code's YAML extension).
    """
    from monitor.rules.schema import schema_text  # only this command needs it

    click.echo(schema_text(), nl=False)


def _terminal_style(text: str, role: str) -> str:
    """Highlights for a terminal: matched text bold yellow, true green, false red."""
    if role == "match":
        return click.style(text, fg="yellow", bold=True)
    return click.style(text, fg="green" if role == "true" else "red")


def _rule_selection(
    settings: Settings, rules_dir: Path | None, rule_ids: tuple[str, ...]
) -> tuple[Rule, ...]:
    """The configured (or ``--rules``) rule set, narrowed by ``--rule``; unknown ids exit 2."""
    from monitor.explain import select_rules
    from monitor.rules import load_rule_set

    rules = load_rule_set(rules_dir or settings.rules, settings.channels).rules
    try:
        return select_rules(rules, rule_ids)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rule") from None


rule_option = click.option(
    "--rule", "rule_ids", multiple=True, help="Only this rule id (repeatable)."
)
rules_dir_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Use this rules folder (a draft) instead of the configured one.",
)


@cli.command("match")
@config_option
@rule_option
@rules_dir_option
@click.option(
    "--source",
    "source_name",
    default=None,
    help="Take the story to come from this configured source (its name and tags), "
    "for rules scoped with `sources:`.",
)
@text_or_json_option("highlighted on a terminal")
@click.argument("target", metavar="FILE|URL|-")
def match_command(
    config_path: Path | None,
    rule_ids: tuple[str, ...],
    rules_dir: Path | None,
    source_name: str | None,
    fmt: str,
    target: str,
) -> None:
    """Show which rules match one story, and why: every clause and every matched text.

    FILE|URL|- is plain text (first line = title), an HTML page, or a feed
    (every item is a story); - reads stdin. Rules out of scope for the story
    (source, language, max_age, disabled) are evaluated anyway and say so.
    Exits 0 whether or not anything matched, 1 on unreadable input or rules.
    """
    from monitor.explain import Style, explain_story, plain_style, render_text, to_dict
    from monitor.matching.compiled import compile_rules
    from monitor.sources.adhoc import read_input

    try:
        settings = load_config(config_path or default_config_path(), sending=False)
        rules = _rule_selection(settings, rules_dir, rule_ids)
        found = read_input(
            target,
            settings.sources,
            settings.user_agent,
            sys.stdin.buffer,
            source_name,
            settings.http,
        )
    except MonitorError as error:
        _fail(error)
    matcher = compile_rules(rules)
    explained = [explain_story(matcher, story, found.source_tags) for story in found.stories]
    if fmt == "json":
        click.echo(json.dumps([to_dict(e) for e in explained], ensure_ascii=False, indent=2))
    else:
        style: Style = _terminal_style if sys.stdout.isatty() else plain_style
        click.echo(render_text(explained, style))


@cli.command("replay")
@config_option
@click.option(
    "--since", required=True, help="Replay the stories fetched since: 24h, 7d or 2026-11-01."
)
@rule_option
@rules_dir_option
@click.option(
    "--store",
    "store_new",
    is_flag=True,
    help="Store the new hits in the history. No alert is sent for them.",
)
@output_option()
def replay_command(
    config_path: Path | None,
    since: str,
    rule_ids: tuple[str, ...],
    rules_dir: Path | None,
    store_new: bool,
    fmt: str,
) -> None:
    """Backtest: run the rules (or a draft, --rules DIR) over stored stories.

    Lists the hits the rules would have produced on the stories fetched
    since --since, marking `new` those the history does not have yet, with
    counts per rule on stderr. Sends no alert and changes nothing unless
    --store is given; then only the new hits are stored, with no deliveries.
    """
    from monitor.replay import Replay, table_cells

    try:
        since_at = parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    try:
        settings = load_config(config_path or default_config_path(), sending=False)
        rules = _rule_selection(settings, rules_dir, rule_ids)
        store = Store.open(settings.database)
    except MonitorError as error:
        _fail(error)
    try:
        tags = {source.name: source.tags for source in settings.sources}
        replay = Replay(store, rules, since_at, tags, store_new=store_new)
        columns: tuple[str, ...] = ("new", "rule", "published_at", "source", "terms", "title")
        if fmt == "csv":
            columns = ("new", "rule", "published_at", "source", "title", "url")
        rows = (hit.to_row() for hit in replay.hits())
        emit(rows, fmt, columns, table_cells=table_cells)
    except MonitorError as error:
        _fail(error)
    finally:
        store.close()
    if fmt == "table":
        click.echo("\n".join(replay.summary()), err=True)
    if store_new:
        click.echo(f"stored {replay.stored} new hit(s); no alert was sent for them", err=True)


@cli.command()
@config_option
@output_option()
def sources(config_path: Path | None, fmt: str) -> None:
    """Each source's health: last fetch, HTTP status, new items, failures, next run.

    A failing source backs off (exponentially, with jitter) and the wait
    survives restarts; `next_run_at` shows when it will be tried again.
    """
    from monitor.sources import health as source_health

    with _open_store(config_path) as (settings, store):
        rows = source_health.rows(settings.sources, store.source_rows(), utcnow())
    emit(rows, fmt, source_health.COLUMNS, table_cells=source_health.table_cells)


def main() -> None:
    """Console-script entry point."""
    cli()
