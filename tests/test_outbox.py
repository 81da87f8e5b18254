"""The outbox: planning (pure), then delivery runs against a real SQLite file and real servers.

Time is the Courier's ``clock``, moved on by the test, so a 30-minute
cooldown or a daily digest takes milliseconds. Nothing of ours is patched.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from servers import SlackServer, SmtpServer

from monitor.cli import cli
from monitor.config import DeliveryConfig, EmailConfig, Settings, SlackConfig
from monitor.errors import RuleError
from monitor.models import Cadence, Hit, Match, Rule, Story, Templates
from monitor.notify.outbox import Courier, DeliveryReport, build_notifiers
from monitor.notify.schedule import (
    Lookup,
    Planner,
    Policy,
    backoff,
    next_boundary,
    parse_cadence,
    parse_quiet_hours,
    quiet_end,
)
from monitor.rules import load_rules
from monitor.store import Saved, Store
from monitor.timeutil import utcnow

UTC_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


# --- schedule: pure ----------------------------------------------------------------------


def test_parse_cadence_and_quiet_hours() -> None:
    assert parse_cadence("1h") == Cadence(every=timedelta(hours=1))
    assert parse_cadence("08:00") == Cadence(at=8 * 60)
    assert parse_quiet_hours("22:00-07:30") == (22 * 60, 7 * 60 + 30)
    for bad in ("hourly", "25:00", "8"):
        with pytest.raises(ValueError, match=r"08:00|1h"):
            parse_cadence(bad)
    with pytest.raises(ValueError, match="22:00-07:00"):
        parse_quiet_hours("22:00")


def test_next_boundary_counts_from_local_midnight_or_a_time_of_day() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # UTC+1 in March
    at = datetime(2026, 3, 2, 12, 20, tzinfo=UTC)
    assert next_boundary(Cadence(every=timedelta(hours=1)), at, UTC) == at.replace(
        hour=13, minute=0
    )
    assert next_boundary(Cadence(every=timedelta(days=1)), at, berlin) == datetime(
        2026, 3, 2, 23, 0, tzinfo=UTC
    )
    assert next_boundary(Cadence(at=8 * 60), at, berlin) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    early = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    assert next_boundary(Cadence(at=8 * 60), early, berlin) == datetime(2026, 3, 2, 7, tzinfo=UTC)


def test_quiet_end_over_midnight() -> None:
    window = (22 * 60, 7 * 60)
    assert quiet_end(UTC_NOON, window, UTC) is None
    late = datetime(2026, 3, 2, 23, 15, tzinfo=UTC)
    assert quiet_end(late, window, UTC) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    early = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    assert quiet_end(early, window, UTC) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)


def test_backoff_doubles_with_jitter_up_to_an_hour() -> None:
    assert backoff(1, lambda: 0.0) == timedelta(seconds=15)
    assert backoff(1, lambda: 1.0) == timedelta(seconds=30)
    assert backoff(3, lambda: 1.0) == timedelta(minutes=2)
    assert backoff(30, lambda: 1.0) == timedelta(hours=1)
    assert timedelta(minutes=1) <= backoff(3) <= timedelta(minutes=2)


class Remembered(Lookup):
    def __init__(self, last: datetime | None = None, recent: list[datetime] | None = None) -> None:
        self.last, self.recent = last, recent or []

    def last_message(self, rule: str, channel: str, target: str) -> datetime | None:
        return self.last

    def recent_messages(self, channel: str, target: str, since: datetime) -> list[datetime]:
        return list(self.recent)


def plan(planner: Planner, **changes: Any) -> tuple[str, datetime, str, str]:
    item: dict[str, Any] = {
        "rule": "syria",
        "severity": "normal",
        "channel": "slack",
        "target": "#desk",
        "published_at": planner.now,
    }
    found = planner.plan(**{**item, **changes})
    return found.status, found.due_at, found.batch, found.reason


def test_planner_cooldown_sends_the_first_and_batches_the_rest() -> None:
    planner = Planner(Policy(), Remembered(), UTC_NOON)
    half_hour = timedelta(minutes=30)

    first = plan(planner, cooldown=half_hour)
    second = plan(planner, cooldown=half_hour)
    third = plan(planner, cooldown=half_hour)

    assert first[:2] == ("pending", UTC_NOON)
    assert second[0] == "held" and second[1] == UTC_NOON + half_hour
    assert second == third  # one batch, one message
    assert second[3] == "cooldown"


def test_planner_skips_what_is_older_than_backfill() -> None:
    planner = Planner(Policy(backfill=timedelta(hours=24)), Remembered(), UTC_NOON)
    old = UTC_NOON - timedelta(hours=25)
    assert plan(planner, published_at=old)[0::3] == ("skipped", "backfill")
    assert plan(planner, published_at=UTC_NOON - timedelta(hours=23))[0] == "pending"


def test_planner_caps_messages_per_hour_into_a_batch() -> None:
    sent = [UTC_NOON - timedelta(minutes=m) for m in (50, 40, 30)]
    planner = Planner(Policy(max_per_hour=4), Remembered(recent=sent), UTC_NOON)

    assert plan(planner)[0] == "pending"  # the fourth this hour
    status, due, batch, reason = plan(planner)

    assert (status, reason) == ("held", "hourly cap")
    assert due == UTC_NOON + timedelta(hours=1)  # the next full hour
    assert plan(planner)[2] == batch


def test_planner_quiet_hours_hold_but_high_severity_bypasses() -> None:
    night = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    planner = Planner(Policy(quiet_hours=(22 * 60, 7 * 60)), Remembered(), night)

    assert plan(planner, severity="high")[0] == "pending"
    status, due, batch, reason = plan(planner)
    assert (status, due, reason) == ("held", datetime(2026, 3, 3, 7, tzinfo=UTC), "quiet hours")
    assert batch.startswith("quiet:")


def test_planner_digest_of_the_rule_or_the_channel() -> None:
    policy = Policy(channel_digest={"email": Cadence(at=8 * 60)})
    planner = Planner(policy, Remembered(), UTC_NOON)

    rule_digest = plan(planner, digest=Cadence(every=timedelta(hours=1)))
    channel_digest = plan(planner, channel="email", target="desk@example.org")

    assert rule_digest[:3] == ("held", UTC_NOON + timedelta(hours=1), rule_digest[2])
    assert rule_digest[2].startswith("digest:syria:")
    assert channel_digest[1] == datetime(2026, 3, 3, 8, tzinfo=UTC)
    assert channel_digest[2].startswith("digest:*:")


# --- delivery runs against real servers ----------------------------------------------------


class Clock:
    """The Courier's time; starts at the real now (rows are stamped with it too)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


RULE = Rule(id="syria", title="Syria watch", path="syria.yaml", phrases=("assad",))


class World:
    """A store, settings and a courier over the local servers."""

    def __init__(self, tmp_path: Path, slack: SlackServer | None, smtp: SmtpServer | None):
        self.slack = slack
        self.settings = Settings(
            path=tmp_path / "monitor.toml",
            database=tmp_path / "monitor.db",
            rules=tmp_path,
            sources=(),
            slack=SlackConfig(token=slack.token, channel="#desk", base_url=slack.api_url)
            if slack
            else None,
            email=EmailConfig(
                host=smtp.host,
                port=smtp.port,
                sender="monitor@example.org",
                recipients=("desk@example.org",),
                timeout=timedelta(seconds=5),
            )
            if smtp
            else None,
        )
        self.store = Store.open(self.settings.database)
        self.clock = Clock()
        # No pacing here: tests/test_alerts.py measures it.
        self.courier = Courier(build_notifiers(self.settings), clock=self.clock, pace=0)
        self.count = 0

    def configure(self, **delivery: Any) -> None:
        self.settings = replace(self.settings, delivery=DeliveryConfig(**delivery))

    def hit(
        self,
        rule: Rule = RULE,
        title: str = "",
        published: datetime | None = None,
        source: str = "wire",
        cluster_id: int | None = None,
        body: str = "President Assad spoke on Monday.",
        routes: list[tuple[str, str]] | None = None,
    ) -> Saved:
        self.count += 1
        now = utcnow()
        story = Story(
            source=source,
            url=f"https://news.example.org/{self.count}",
            guid=f"guid-{self.count}",
            title=title or f"Assad story {self.count}",
            summary=body,
            body="",
            published_at=published or now,
            fetched_at=now,
        )
        at = body.find("Assad")
        match = Match("phrase", "assad", "Assad", "summary", at, at + 5)
        return self.store.save(
            story,
            [Hit(rule, story, (match,))],
            {rule.id: routes or [("slack", "#desk")]},
            cluster_id=cluster_id,
        )

    def deliver(self, *rules: Rule, ignore_backoff: bool = False) -> DeliveryReport:
        return asyncio.run(
            self.courier.deliver(
                self.store, self.settings, rules or (RULE,), ignore_backoff=ignore_backoff
            )
        )

    def rows(self, *columns: str) -> list[tuple[Any, ...]]:
        return self.store.conn.execute(
            f"SELECT {', '.join(columns)} FROM deliveries ORDER BY id"
        ).fetchall()


@pytest.fixture
def world(tmp_path: Path, slack_server: SlackServer) -> Iterator[World]:
    made = World(tmp_path, slack_server, None)
    yield made
    made.store.close()


def texts(slack: SlackServer) -> list[str]:
    return [m["text"] for m in slack.messages]


def all_text(message: dict[str, Any]) -> str:
    return str(message.get("blocks"))


def test_single_alert_goes_out_once_with_receipt(world: World, slack_server: SlackServer) -> None:
    world.hit()

    report = world.deliver()
    again = world.deliver()

    assert (report.sent, report.messages, again.sent) == (1, 1, 0)
    [message] = slack_server.messages
    assert message["channel"] == "#desk"
    assert message["metadata"]["event_type"] == "monitor_alert"
    assert message["parse"] == "none" and message["link_names"] is False
    [(status, ts, channel, attempt)] = world.rows(
        "status", "slack_ts", "slack_channel", "attempt_id"
    )
    assert (status, channel) == ("sent", "C123") and ts
    assert message["metadata"]["event_payload"] == {"key": attempt}


def test_cooldown_batches_hits_into_the_next_message(
    world: World, slack_server: SlackServer
) -> None:
    rule = replace(RULE, cooldown=timedelta(minutes=30))
    world.hit(rule)
    assert world.deliver(rule).sent == 1

    world.clock.advance(minutes=5)
    world.hit(rule, title="Second Assad story")
    world.hit(rule, title="Third Assad story")
    held = world.deliver(rule)
    world.clock.advance(minutes=20)
    still = world.deliver(rule)
    world.clock.advance(minutes=6)
    batch = world.deliver(rule)

    assert (held.held, held.sent, still.sent) == (2, 0, 0)
    assert (batch.sent, batch.messages) == (2, 1)
    assert len(slack_server.messages) == 2
    digest = slack_server.messages[1]
    assert digest["text"].startswith("Digest: 2 alerts")
    assert "cooldown" in all_text(digest)
    assert "Second Assad story" in all_text(digest) and "Third Assad story" in all_text(digest)


def test_digest_groups_by_rule_with_top_stories_first(
    world: World, slack_server: SlackServer
) -> None:
    hourly = Cadence(every=timedelta(hours=1))
    syria = replace(RULE, digest=hourly)
    energy = Rule(id="energy", title="Energy watch", path="e.yaml", phrases=("grid",))
    energy = replace(energy, digest=hourly, severity="high")
    world.hit(syria, title="Minor Assad note")
    world.hit(energy, title="Grid failure")
    urgent = replace(syria, severity="high")
    world.hit(urgent, title="Assad resigns")

    assert world.deliver(syria, energy).held == 3
    assert slack_server.messages == []
    world.clock.advance(hours=1, minutes=1)
    report = world.deliver(syria, energy)

    # Each rule's digest is its own batch: one message per rule and period.
    assert report.messages == 2 and report.sent == 3
    by_text = {m["text"].split(":")[1].strip(): m for m in slack_server.messages}
    syria_digest = all_text(slack_server.messages[0])
    assert syria_digest.index("Assad resigns") < syria_digest.index("Minor Assad note")
    assert len(by_text) == 2


def test_channel_digest_summarises_every_rule_in_one_message(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    world = World(tmp_path, slack_server, None)
    assert world.settings.slack is not None
    slack = replace(world.settings.slack, digest=Cadence(every=timedelta(hours=1)))
    world.settings = replace(world.settings, slack=slack)
    energy = Rule(id="energy", title="Energy watch", path="e.yaml", phrases=("grid",))
    world.hit(RULE, title="Assad one")
    world.hit(RULE, title="Assad two")
    world.hit(energy, title="Grid down", body="The grid and Assad.")

    world.deliver(RULE, energy)
    world.clock.advance(hours=1, minutes=1)
    report = world.deliver(RULE, energy)

    assert (report.messages, report.sent) == (1, 3)
    [digest] = slack_server.messages
    assert digest["text"] == "Digest: 3 alerts: Syria watch (2), Energy watch (1)"
    body = all_text(digest)
    assert body.index("Syria watch") < body.index("Energy watch")
    world.store.close()


def test_backfill_is_stored_silently_and_a_backlog_goes_out_as_one_digest(
    world: World, slack_server: SlackServer
) -> None:
    world.configure(backlog=10)
    day_old = utcnow() - timedelta(hours=30)
    for _ in range(50):  # a new feed: 50 old items
        world.hit(published=day_old)
    for _ in range(12):  # and 12 from today
        world.hit()

    report = world.deliver()

    assert report.skipped == 50
    assert (report.messages, report.sent) == (1, 12)
    [digest] = slack_server.messages
    assert digest["text"].startswith("Digest: 12 alerts")
    assert "backlog" in all_text(digest)
    statuses = [status for (status,) in world.rows("status")]
    assert statuses.count("skipped") == 50 and statuses.count("sent") == 12
    hits = world.store.conn.execute("SELECT count(*) FROM hits").fetchone()[0]
    assert hits == 62  # every hit is history, alerted or not


def test_quiet_hours_hold_until_the_window_ends(world: World, slack_server: SlackServer) -> None:
    now = world.clock.now
    # A window around "now" whatever the time of day the test runs at.
    start = (now - timedelta(minutes=30)).strftime("%H:%M")
    end = (now + timedelta(minutes=30)).strftime("%H:%M")
    world.configure(quiet_hours=parse_quiet_hours(f"{start}-{end}"))
    world.hit(title="Quiet Assad")
    world.hit(replace(RULE, id="urgent", severity="high"), title="Loud Assad")

    report = world.deliver(RULE, replace(RULE, id="urgent", severity="high"))

    assert (report.sent, report.held) == (1, 1)
    assert "Loud Assad" in slack_server.messages[0]["text"]
    world.clock.advance(minutes=31)
    later = world.deliver()
    assert later.sent == 1 and "Quiet Assad" in slack_server.messages[1]["text"]


def test_over_the_hourly_cap_goes_into_a_digest(world: World, slack_server: SlackServer) -> None:
    world.configure(max_per_hour=2)
    for _ in range(2):
        world.hit()
        world.deliver()
    for _ in range(3):
        world.hit()

    assert world.deliver().held == 3
    world.clock.advance(hours=1)
    report = world.deliver()

    assert (report.messages, report.sent) == (1, 3)
    assert len(slack_server.messages) == 3
    assert "hourly limit" in all_text(slack_server.messages[-1])


def test_server_errors_back_off_then_give_up(world: World, slack_server: SlackServer) -> None:
    world.configure(give_up_after=timedelta(hours=2))
    world.hit()
    slack_server.fail_next("500", count=10)
    start = world.clock.now

    first = world.deliver()
    too_soon = world.deliver()
    [(next_attempt, attempts)] = world.rows("next_attempt_at", "attempts")
    world.clock.advance(minutes=1)
    second = world.deliver()
    world.clock.advance(hours=3)
    last = world.deliver()

    assert first.retrying == 1 and too_soon.retrying == 0  # waiting out the backoff
    assert attempts == 1
    waited = datetime.fromisoformat(next_attempt) - start
    assert timedelta(seconds=14) <= waited <= timedelta(seconds=30)  # 15-30 s, jittered
    assert second.retrying == 1
    assert last.failed == 1
    [(status, error)] = world.rows("status", "last_error")
    assert status == "failed" and error.startswith("gave up after 2:00:00")
    assert len(slack_server.failures_served) == 3 and slack_server.messages == []


def test_permanent_error_fails_fast_with_the_fix(world: World, slack_server: SlackServer) -> None:
    world.hit()
    slack_server.fail_next("channel_not_found")

    report = world.deliver()

    assert report.failed == 1
    [(status, error, attempts)] = world.rows("status", "last_error", "attempts")
    assert (status, attempts) == ("failed", 1)
    assert "channel_not_found" in error and "fix: check the channel name" in error


def test_a_long_retry_after_parks_the_channel(world: World, slack_server: SlackServer) -> None:
    world.hit()
    world.hit()
    slack_server.fail_next("429", retry_after=120)

    report = world.deliver()

    # The first gets the 429 and waits 2 minutes; the second is not even tried.
    assert report.retrying == 1 and report.sent == 0
    assert len(slack_server.failures_served) == 1
    [(first, _), (second, _)] = world.rows("next_attempt_at", "id")
    assert datetime.fromisoformat(first) >= world.clock.now + timedelta(seconds=119)
    assert second is None


def test_run_once_ignores_the_backoff(world: World, slack_server: SlackServer) -> None:
    world.hit()
    slack_server.fail_next("500")
    world.deliver()

    assert world.deliver(ignore_backoff=True).sent == 1


def test_email_in_doubt_is_resent_with_the_same_message_id(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    world = World(tmp_path, None, smtp_server)
    world.hit(routes=[("email", "desk@example.org")])
    world.deliver()
    # As a crash between SMTP's 250 and our commit leaves it:
    world.store.conn.execute("UPDATE deliveries SET status = 'sending'")
    world.courier = Courier(world.courier.notifiers, clock=world.clock, pace=0)  # a restart

    report = world.deliver()

    assert report.sent == 1
    first, second = smtp_server.messages
    assert first.message["Message-ID"] == second.message["Message-ID"]
    world.store.close()


def test_hostile_story_cannot_ping_or_inject_headers(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    world = World(tmp_path, slack_server, smtp_server)
    title = "Assad <!channel> <@U123> @here\r\nBcc: evil@example.org <https://evil.example|x>"
    body = "Assad says <!everyone> and @channel <#C999> \x1b[2J"
    world.hit(title=title, body=body, routes=[("slack", "#desk"), ("email", "desk@example.org")])

    assert world.deliver().sent == 2

    [message] = slack_server.messages
    payload = str(message["text"]) + str(message["blocks"])
    assert re.search(r"<[!@#]|@(here|channel|everyone)\b", payload.replace("<!date^", "")) is None
    assert "<https://evil" not in payload
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ("desk@example.org",) and mail.message["Bcc"] is None
    assert "\n" not in mail.message["Subject"] and "\x1b" not in mail.message.as_string()
    html = next(p for p in mail.message.iter_parts() if p.get_content_type() == "text/html")
    assert "<!channel>" not in html.get_content() and "&lt;!channel&gt;" in html.get_content()
    world.store.close()


def test_syndicated_copy_after_the_alert_is_a_thread_reply(
    world: World, slack_server: SlackServer
) -> None:
    world.hit(source="wire")
    world.deliver()
    cluster = world.store.conn.execute("SELECT cluster_id FROM hits").fetchone()[0]
    [(ts,)] = world.rows("slack_ts")

    # The copy joins the cluster; the rule does not fire again (one hit per cluster).
    world.clock.advance(seconds=1)
    assert world.hit(source="other-paper", cluster_id=cluster).hits == {}
    report = world.deliver()
    again = world.deliver()

    assert (report.sent, report.replies, again.replies) == (0, 1, 0)
    _alert, reply = slack_server.messages
    assert reply["thread_ts"] == ts and reply["channel"] == "C123"
    assert reply["text"].startswith("+1 outlet: *other-paper*")


def test_outbox_command_lists_and_retries(world: World, slack_server: SlackServer) -> None:
    world.hit()
    world.hit()
    slack_server.fail_next("channel_not_found")
    world.deliver()
    config = world.settings.path
    config.write_text(
        'database = "monitor.db"\nrules = "."\n[notify.slack]\ntoken = "x"\nchannel = "#desk"\n'
    )
    runner = CliRunner()

    listed = runner.invoke(cli, ["outbox", "--config", str(config), "--format", "json"])
    failed = runner.invoke(
        cli, ["outbox", "--config", str(config), "--status", "failed", "--format", "csv"]
    )
    retried = runner.invoke(cli, ["outbox", "--config", str(config), "--retry", "1"])
    sent_one = runner.invoke(cli, ["outbox", "--config", str(config), "--retry", "2"])
    both = runner.invoke(cli, ["outbox", "--config", str(config), "--retry", "1", "--all"])

    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["id"], row["status"], row["rule"]) == (1, "failed", "syria")
    assert "channel_not_found" in row["last_error"]
    assert "failed" in failed.output and "channel_not_found" in failed.output
    assert retried.exit_code == 0 and "1 delivery(ies) due now" in retried.output
    assert sent_one.exit_code == 1 and "it is sent" in sent_one.output
    assert both.exit_code == 2
    world.clock.advance(seconds=2)  # the command stamped "due now" with the real clock
    assert world.deliver().sent == 1
    assert len(slack_server.messages) == 2


# --- templates ---------------------------------------------------------------------------


def test_rule_templates_render_sandboxed_and_escaped(
    tmp_path: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    world = World(tmp_path, slack_server, smtp_server)
    templates = Templates(
        slack="*{{ rule.title }}* → {{ story.link }} ({{ cluster.size }} outlet)",
        email_html="<h1>{{ story.title }}</h1>{{ story.link }}",
        email_text="{{ story.title }} / {{ matches[0].term }}",
    )
    rule = replace(RULE, templates=templates)
    world.hit(rule, title="Assad <b>bold</b> <!here>", routes=[("slack", "#d"), ("email", "a@b.c")])

    assert world.deliver(rule).sent == 2

    [message] = slack_server.messages
    body = message["blocks"][1]["text"]["text"]
    assert body.startswith("*Syria watch* → <https://news.example.org/1|Assad &lt;b&gt;bold")
    assert "&lt;!here&gt;" in body
    [mail] = smtp_server.messages
    parts = {p.get_content_type(): p.get_content() for p in mail.message.iter_parts()}
    assert parts["text/html"].startswith("<h1>Assad &lt;b&gt;bold&lt;/b&gt; &lt;!here&gt;</h1>")
    assert parts["text/plain"].strip() == "Assad <b>bold</b> <!here> / assad"
    world.store.close()


def test_a_template_that_fails_at_send_time_falls_back_to_the_default(
    world: World, slack_server: SlackServer
) -> None:
    # Reaching for Python internals is refused by the sandbox; the alert still goes out.
    rule = replace(RULE, templates=Templates(slack="{{ story.title.__class__.__mro__ }}"))
    world.hit(rule)

    assert world.deliver(rule).sent == 1
    assert slack_server.messages[0]["blocks"][1]["text"]["text"].startswith("*<https://")


def test_template_errors_are_rule_problems(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "slack.j2").write_text("{{ story.titel }}")
    (rules / "a.yaml").write_text(
        "title: A\nphrases: [assad]\ncooldown: 30m\n"
        "template:\n  slack: slack.j2\n  email_html: '{% if %}'\n  pager: x\n"
    )
    (rules / "b.yaml").write_text("title: B\nphrases: [assad]\ndigest: soon\n")

    with pytest.raises(RuleError) as caught:
        load_rules(rules)

    messages = [p.message for p in caught.value.problems]
    assert any("template.slack" in m and "titel" in m for m in messages)
    assert any(m.startswith("template.email_html:") for m in messages)
    assert any("unknown key 'pager'" in m for m in messages)
    assert any("'soon' is not a digest cadence" in m for m in messages)


def test_rule_keys_load(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yaml").write_text(
        "title: A\nphrases: [assad]\ncooldown: 30m\n"
        "template: {slack: '*{{ story.title }}*', email_text: 't.txt'}\n"
    )
    (rules / "t.txt").write_text("{{ story.title }}\n{{ story.url }}\n")
    (rules / "b.yaml").write_text("title: B\nphrases: [assad]\ndigest: '08:00'\n")

    a, b = load_rules(rules)

    assert a.cooldown == timedelta(minutes=30) and a.digest is None
    assert a.templates.slack == "*{{ story.title }}*"
    assert a.templates.email_text.startswith("{{ story.title }}")
    assert b.digest == Cadence(at=480)


def test_a_huge_hostile_digest_stays_within_slack_limits(
    world: World, slack_server: SlackServer
) -> None:
    title = "Assad <!channel> " + "&<>" * 2000
    for _ in range(120):
        world.hit(title=title)

    report = world.deliver()

    assert (report.messages, report.sent) == (1, 120)
    assert slack_server.rejected == []
    [digest] = slack_server.messages
    assert len(digest["blocks"]) <= 50
    assert all(len(str(b.get("text", {}).get("text", ""))) <= 3000 for b in digest["blocks"])
    assert re.fullmatch(r"… \(\d+ more\)", digest["blocks"][-1]["elements"][0]["text"])
    assert "<!channel>" not in str(digest)
