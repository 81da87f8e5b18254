"""The whole pipeline, end to end: `monitor run --once` as a real subprocess.

Feeds come from a local HTTP server, alerts go through slack-sdk to a local
Slack-shaped server and through SMTP to a local aiosmtpd server, and the
history lands in a real SQLite file.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from feedtext import HOUR_AGO, Item, atom, iso, rss
from harness import run_monitor
from servers import FeedServer, SlackServer, SmtpServer

from monitor.timeutil import isoformat

SYRIA_RULE = """\
title: Russia and Syria bases
entities:
  - name: Bashar al-Assad
    aliases: [Assad, Bashar Assad]
exclude: [football]
notify: {slack: "#syria-desk", email: [analyst@example.org]}
"""

ENERGY_RULE = """\
title: Ukraine energy
phrases: [power grid]
keywords: {terms: [electricity, substation], min: 1}
"""

WORLD_ITEMS = [
    Item(
        "Assad meets envoy in Damascus",
        "https://news.example.org/world/assad-envoy?utm_source=rss",
        "President Bashar al&#8209;Assad received the envoy on Monday.",
    ),
    Item("Cup final tickets sold out", "https://news.example.org/sport/final", "Football news."),
    Item(
        "Assad attends football final",
        "https://news.example.org/sport/assad-final",
        "An excluded story: the rule forbids football.",
    ),
]
BUSINESS_ITEMS = [
    Item(
        "Power grid repairs speed up",
        "https://markets.example.com/energy/grid",
        "Engineers restored electricity to the eastern region.",
        date=iso(HOUR_AGO - timedelta(hours=1)),
    ),
    # The same story as in the world feed, reached through a tracking link.
    Item(
        "Assad meets envoy in Damascus",
        "https://NEWS.example.org/world/assad-envoy?fbclid=abc#comments",
        "President Bashar al&#8209;Assad received the envoy on Monday.",
        guid="urn:markets:copy-1",
        date=iso(HOUR_AGO - timedelta(minutes=30)),
    ),
]


def write_config(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, smtp: SmtpServer, sources: list[str]
) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "syria.yaml").write_text(SYRIA_RULE)
    (rules / "energy.yaml").write_text(ENERGY_RULE)
    source_tables = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{feeds.url("/" + name)}"\n'
        f'interval = "1m"\ntimeout = "3s"\n\n'
        for name in sources
    )
    config = tmp_path / "monitor.toml"
    config.write_text(
        f"""
database = "monitor.db"
rules = "rules"

{source_tables}
[notify.slack]
token = "${{TEST_SLACK_TOKEN}}"
channel = "#media-alerts"
base_url = "{slack.api_url}"

[notify.email]
host = "{smtp.host}"
port = {smtp.port}
sender = "monitor@example.org"
recipients = ["desk@example.org"]
"""
    )
    return config


def run_with_token(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEST_SLACK_TOKEN": "xoxb-test-token", "NO_PROXY": "127.0.0.1"}
    return run_monitor(*args, "--config", str(config), env=env)


@pytest.fixture
def config(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer, smtp_server: SmtpServer
) -> Path:
    feed_server.route("/world", rss(WORLD_ITEMS))
    feed_server.route("/business", atom(BUSINESS_ITEMS), content_type="application/atom+xml")
    feed_server.route("/broken", "server error", status=500, content_type="text/plain")
    # Well past the sources' timeout (3 s, which a busy machine's local fetches keep clear of).
    feed_server.route("/slow", rss(WORLD_ITEMS), delay=6.0)
    feed_server.route("/malformed", "<rss><channel><item><title>cut off", content_type="text/xml")
    names = ["world", "business", "broken", "slow", "malformed"]
    return write_config(tmp_path, feed_server, slack_server, smtp_server, names)


def test_once_delivers_each_alert_to_slack_and_email(
    config: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    result = run_with_token(config, "run", "--once")

    assert result.returncode == 0, result.stderr
    slack_texts = sorted((m["channel"], m["text"].splitlines()[0]) for m in slack_server.messages)
    assert [channel for channel, _ in slack_texts] == ["#media-alerts", "#syria-desk"]
    assert (
        "Assad meets envoy in Damascus"
        in slack_server.messages[0]["text"] + slack_server.messages[1]["text"]
    )
    recipients = sorted(tuple(mail.rcpt_tos) for mail in smtp_server.messages)
    assert recipients == [("analyst@example.org",), ("desk@example.org",)]
    subjects = sorted(mail.message["Subject"] for mail in smtp_server.messages)
    assert subjects == [
        "[monitor] Russia and Syria bases: Assad meets envoy in Damascus",
        "[monitor] Ukraine energy: Power grid repairs speed up",
    ]


def test_failing_sources_are_reported_and_skipped(config: Path) -> None:
    result = run_with_token(config, "run", "--once")

    assert result.returncode == 0
    failures = [line for line in result.stderr.splitlines() if "event=fetch_failed" in line]
    reasons = {line.split("source=")[1].split()[0]: line for line in failures}
    assert set(reasons) == {"broken", "slow", "malformed"}
    assert "HTTP 500" in reasons["broken"]
    assert "timed out" in reasons["slow"]
    assert "malformed" in reasons["malformed"] or "not an RSS" in reasons["malformed"]


def test_second_run_over_unchanged_feeds_sends_nothing(
    config: Path, slack_server: SlackServer, smtp_server: SmtpServer
) -> None:
    assert run_with_token(config, "run", "--once").returncode == 0
    slack_before, mail_before = len(slack_server.messages), len(smtp_server.messages)

    second = run_with_token(config, "run", "--once")

    assert second.returncode == 0
    assert "hits=0" in second.stderr.splitlines()[-1]
    assert len(slack_server.messages) == slack_before == 2
    assert len(smtp_server.messages) == mail_before == 2


def test_hits_json_lists_what_was_stored(config: Path) -> None:
    run_with_token(config, "run", "--once")

    listed = run_with_token(config, "hits", "--format", "json")

    assert listed.returncode == 0, listed.stderr
    hits = json.loads(listed.stdout)
    assert sorted(h["rule"] for h in hits) == ["energy", "syria"]
    syria = next(h for h in hits if h["rule"] == "syria")
    assert syria["title"] == "Assad meets envoy in Damascus"
    # Both feeds carry the story; whichever is stored first is the one copy kept.
    first_seen = {
        "world": ("https://news.example.org/world/assad-envoy?utm_source=rss", HOUR_AGO),
        "business": (
            "https://NEWS.example.org/world/assad-envoy?fbclid=abc#comments",
            HOUR_AGO - timedelta(minutes=30),
        ),
    }
    url, published = first_seen[syria["source"]]
    assert syria["url"] == url
    assert syria["published_at"] == isoformat(published)
    assert {"id", "matched_at"} <= set(syria)
    found = {(m["kind"], m["term"], m["text"]) for m in syria["matches"]}
    assert ("entity", "Bashar al-Assad", "Assad") in found
    assert ("entity", "Bashar al-Assad", "Bashar al\u2011Assad") in found


def test_failed_slack_delivery_stays_pending_and_goes_out_next_cycle(
    config: Path, slack_server: SlackServer
) -> None:
    slack_server.fail_next("500", count=2)

    first = run_with_token(config, "run", "--once")

    assert first.returncode == 0
    assert slack_server.messages == []
    assert len(slack_server.failures_served) == 2
    assert "event=delivery_failed" in first.stderr

    second = run_with_token(config, "run", "--once")

    assert second.returncode == 0
    assert len(slack_server.messages) == 2


def test_bad_config_exits_non_zero_with_a_fix(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('database = "x.db"\nrulez = "rules"\n')

    result = run_with_token(config, "run", "--once")

    assert result.returncode == 1
    assert "rulez" in result.stderr and "did you mean 'rules'" in result.stderr
