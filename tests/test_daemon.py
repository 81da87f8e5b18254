"""The daemon as a real subprocess, against the local feed, Slack and SMTP servers.

Each test starts `python -m monitor run` with a 1 s interval and watches what
it does from outside: requests to the feed server, messages on the Slack
server, lines in its stderr, datagrams on a notify socket, rows in its
database. Waits are bounded; a test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from feedtext import Item, rss
from harness import (
    PATIENCE,
    DaemonProcess,
    NotifySocket,
    alerting_config,
    feed,
    slack_table,
    wait_for,
    write_config,
)
from servers import FeedServer, SlackServer, SmtpServer

from monitor.cli import cli
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.rules import load_rules
from monitor.timeutil import isoformat, utcnow

PUTIN_RULE = "title: Assad watch\nentities: [Vladimir Putin, Putin]\n"


@pytest.fixture
def config(tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer) -> Path:
    return alerting_config(tmp_path, feed_server, slack_server)


def test_new_item_alerts_within_one_interval(
    alerted: DaemonProcess, feed_server: FeedServer, slack_server: SlackServer
) -> None:
    feed_server.route("/feed", feed("Assad travels to Moscow", "Assad speaks"))

    # The interval is 1 s (plus up to 0.1 s of jitter); delivery follows the poll at once.
    assert wait_for(lambda: len(slack_server.messages) == 2, timeout=3)  # 1.1 s + slack for load
    assert "Assad travels to Moscow" in slack_server.messages[1]["text"]
    time.sleep(1.5)  # another poll or two: nothing is sent twice
    assert len(slack_server.messages) == 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_daemon_cleanly(alerted: DaemonProcess, signum: int) -> None:
    daemon = alerted

    code, elapsed = daemon.stop(signum)

    assert code == 0
    assert elapsed < 10
    assert daemon.events("started") and daemon.events("stopped")
    # The database was closed cleanly: SQLite folded the WAL back and removed it.
    assert not (daemon.config.parent / "monitor.db-wal").exists()


def test_startup_line_names_config_database_sources_and_rules(
    config: Path, start: Callable[..., DaemonProcess]
) -> None:
    daemon = start(config, "--log-format", "json")
    assert wait_for(lambda: '"event": "fetched"' in daemon.log)

    records = [json.loads(line) for line in daemon.lines]

    started = next(r for r in records if r["event"] == "started")
    assert started["config"] == str(config)
    assert started["database"] == str(config.parent / "monitor.db")
    assert (started["sources"], started["rules"]) == (1, 1)
    assert {r["level"] for r in records} <= {"debug", "info", "warning", "error"}


def test_sighup_applies_a_rule_edit_without_restart(
    alerted: DaemonProcess, feed_server: FeedServer, slack_server: SlackServer
) -> None:
    daemon = alerted
    (daemon.config.parent / "rules" / "assad.yaml").write_text(PUTIN_RULE)

    daemon.process.send_signal(signal.SIGHUP)
    assert daemon.wait_for_event("reloaded")
    assert daemon.wait_for_polls_after("reloaded"), daemon.log  # no poll left on the old rules
    feed_server.route("/feed", feed("Putin visits Damascus", "Assad thanks allies"))

    assert wait_for(lambda: len(slack_server.messages) == 2)
    time.sleep(1.2)
    texts = [m["text"] for m in slack_server.messages]
    assert len(texts) == 2 and "Putin visits Damascus" in texts[1]
    assert daemon.running
    assert len(daemon.events("started")) == 1


def test_sighup_with_a_broken_config_or_rule_keeps_the_old_ones_running(
    alerted: DaemonProcess, feed_server: FeedServer, slack_server: SlackServer
) -> None:
    daemon, config = alerted, alerted.config
    good_config = config.read_text()
    config.write_text(good_config + "\nintervall = 3\ntimout = 4\n")

    daemon.process.send_signal(signal.SIGHUP)

    assert daemon.wait_for_event("reload_failed")
    failure = daemon.events("reload_failed")[0]
    assert "2 problem(s) in the config" in failure and "kept the running config" in failure
    problems = daemon.events("reload_problem")  # one line each, located
    assert len(problems) == 2
    assert f"{config}:" in problems[0] and "intervall" in problems[0]
    assert f"{config}:" in problems[1] and "timout" in problems[1]
    config.write_text(good_config)
    (config.parent / "rules" / "assad.yaml").write_text("title: [unclosed\n")
    daemon.process.send_signal(signal.SIGHUP)
    assert daemon.wait_for_event("reload_failed", count=2)
    assert any("assad.yaml:" in line for line in daemon.events("reload_problem"))

    # Still running, still with the Assad rule.
    feed_server.route("/feed", feed("Assad thanks allies", "Assad speaks"))
    assert wait_for(lambda: len(slack_server.messages) == 2)
    assert daemon.running and not daemon.events("reloaded")


def test_reload_adds_and_removes_exactly_the_changed_sources(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
) -> None:
    for path in ("/a", "/b", "/c"):
        feed_server.route(path, rss([Item(f"Story {path}", f"https://news.example.org{path}")]))
    urls = {name: feed_server.url("/" + name) for name in "abc"}
    config = write_config(tmp_path, {"a": urls["a"], "b": urls["b"]})
    daemon = start(config)
    assert wait_for(lambda: len(feed_server.requests_for("/b")) >= 2), daemon.log

    write_config(tmp_path, {"a": urls["a"], "c": urls["c"]})
    daemon.process.send_signal(signal.SIGHUP)

    assert daemon.wait_for_event("reloaded")
    reloaded = daemon.events("reloaded")[0]
    assert "added=c" in reloaded and "removed=b" in reloaded and "changed=-" in reloaded
    a_before, b_before = len(feed_server.requests_for("/a")), len(feed_server.requests_for("/b"))
    assert wait_for(
        lambda: (
            len(feed_server.requests_for("/c")) >= 2
            and len(feed_server.requests_for("/a")) >= a_before + 2
        )
    )
    assert len(feed_server.requests_for("/b")) <= b_before + 1  # at most one was in flight


def test_a_second_daemon_on_the_same_database_refuses_to_start(
    config: Path, start: Callable[..., DaemonProcess]
) -> None:
    first = start(config)
    assert first.wait_for_event("started")

    second = start(config)

    assert second.process.wait(timeout=PATIENCE) == 1
    second.close()
    assert "already running" in second.log
    assert f"pid {first.process.pid}" in second.log
    assert first.running


def test_ready_watchdog_reloading_and_stopping_reach_the_notify_socket(
    config: Path, start: Callable[..., DaemonProcess], notify_socket: NotifySocket
) -> None:
    seen = notify_socket.seen
    daemon = start(config, env={**notify_socket.env, "WATCHDOG_USEC": "600000"})
    assert wait_for(lambda: seen("READY=1"))
    assert wait_for(lambda: seen("WATCHDOG=1", count=3), timeout=3)

    daemon.process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: seen("RELOADING=1"))
    assert wait_for(lambda: seen("READY=1", count=2))

    daemon.process.send_signal(signal.SIGTERM)
    assert wait_for(lambda: seen("STOPPING=1"))
    assert daemon.process.wait(timeout=PATIENCE) == 0
    received = notify_socket.received
    assert received.index("READY=1") < received.index("RELOADING=1") < received.index("STOPPING=1")


def test_a_hung_source_delays_no_other_and_sigterm_abandons_it_safely(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
    slack_server: SlackServer,
) -> None:
    feed_server.route("/hung", rss([Item("Assad hangs", "https://news.example.org/h")]), delay=60)
    feed_server.route("/fast", rss([Item("Assad speaks", "https://news.example.org/1")]))
    urls = {"hung": feed_server.url("/hung"), "fast": feed_server.url("/fast")}
    # The email server accepts the connection and never says a word.
    with socket.socket() as silent_smtp:
        silent_smtp.bind(("127.0.0.1", 0))
        silent_smtp.listen()
        email = (
            f'[notify.email]\nhost = "127.0.0.1"\nport = {silent_smtp.getsockname()[1]}\n'
            'recipients = ["desk@example.org"]\ntimeout = "60s"\n'
        )
        config = write_config(tmp_path, urls, slack_table(slack_server) + email)
        daemon = start(config)

        # Slack is sent first; the email delivery then hangs, and polling goes on. (Waits
        # short of the sources' 30 s timeout: /hung must still be on its first fetch.)
        assert wait_for(lambda: len(slack_server.messages) == 1, timeout=15), daemon.log
        assert wait_for(lambda: len(feed_server.requests_for("/fast")) >= 2, timeout=10)
        assert len(feed_server.requests_for("/hung")) == 1

        code, elapsed = daemon.stop()

    assert code == 0
    assert elapsed < 10
    assert daemon.events("abandoned")
    with sqlite3.connect(config.parent / "monitor.db") as db:
        sources = dict(db.execute("SELECT source, count(*) FROM stories GROUP BY source"))
        states = dict(
            db.execute("SELECT channel, group_concat(DISTINCT status) FROM deliveries GROUP BY 1")
        )
    assert sources == {"fast": 1}  # the hung fetch stored nothing, not half a story
    assert states == {"email": "pending", "slack": "sent"}  # the cut-off email goes next time


def test_a_source_due_during_the_downtime_runs_promptly_once(
    tmp_path: Path, start: Callable[..., DaemonProcess], feed_server: FeedServer
) -> None:
    for path in ("/due", "/fresh"):
        feed_server.route(path, rss([Item(f"Story {path}", f"https://news.example.org{path}")]))
    sources = {"due": feed_server.url("/due"), "fresh": feed_server.url("/fresh")}
    config = write_config(tmp_path, sources, interval="1h")
    once = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert once.returncode == 0, once.stderr
    five_hours_ago = isoformat(utcnow() - timedelta(hours=5))
    with sqlite3.connect(config.parent / "monitor.db") as db:
        db.execute("UPDATE sources SET last_fetch_at = ? WHERE name = 'due'", [five_hours_ago])

    daemon = start(config)

    # Due at once: polled as the daemon starts (any wait here is far short of the hour
    # the interval would make it wait), however slowly the process itself starts.
    assert daemon.wait_for_event("started")
    assert wait_for(lambda: len(feed_server.requests_for("/due")) == 2), daemon.log
    time.sleep(1.5)
    assert len(feed_server.requests_for("/due")) == 2  # once, not once per missed interval
    assert len(feed_server.requests_for("/fresh")) == 1  # not due for another hour
    assert daemon.running


SECRET_TOKEN = "xoxb-1111-2222-SECRETTOKEN"
SECRET_HOOK = "/webhook/T000/B000/SECRETHOOKPATH"
SECRET_PASSWORD = "smtp-SECRET-password"


def test_secrets_never_appear_in_the_log(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
    slack_server: SlackServer,
    smtp_server: SmtpServer,
) -> None:
    feed_server.route("/feed", feed("Assad speaks"))
    notify = (
        '[notify.slack]\nwebhook_url = "${SLACK_WEBHOOK_URL}"\ntoken = "${SLACK_BOT_TOKEN}"\n'
        f'[notify.email]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
        'username = "monitor"\npassword = "${SMTP_PASSWORD}"\n'
        'recipients = ["desk@example.org"]\n'
    )
    config = write_config(tmp_path, {"feed": feed_server.url("/feed")}, notify)
    webhook_url = slack_server.url(SECRET_HOOK)
    env = {
        "SLACK_WEBHOOK_URL": webhook_url,
        "SLACK_BOT_TOKEN": SECRET_TOKEN,
        "SMTP_PASSWORD": SECRET_PASSWORD,
    }
    # A retryable error, then a permanent one naming the webhook; email fails at login
    # (the test server offers no AUTH).
    slack_server.fail_next("500")
    slack_server.fail_next("no_service")
    daemon = start(config, "--log-level", "debug", env=env)
    assert daemon.wait_for_event("delivery_failed", count=2)
    # A new hit sends the retry along with the new alerts.
    feed_server.route("/feed", feed("Assad thanks allies", "Assad speaks"))
    assert daemon.wait_for_event("delivery_failed", count=4)
    feed_server.route("/feed", "<rss><channel><title>cut", content_type="text/xml")
    assert daemon.wait_for_event("fetch_failed")
    config.write_text(config.read_text() + "\npasword = 1\n")
    daemon.process.send_signal(signal.SIGHUP)
    assert daemon.wait_for_event("reload_failed")

    code, _ = daemon.stop()

    assert code == 0
    log = daemon.log
    failures = daemon.events("delivery_failed")
    assert any("channel=slack" in line for line in failures)
    assert any("channel=email" in line for line in failures)
    for secret in (SECRET_TOKEN, webhook_url, SECRET_HOOK, "SECRETHOOKPATH", SECRET_PASSWORD):
        assert secret not in log


def test_status_command_sees_the_running_daemon_then_its_stop(
    config: Path, start: Callable[..., DaemonProcess]
) -> None:
    daemon = start(config)
    # The first poll stores the hit and records its cycle, then the delivery goes out on its
    # own task: `alert_sent` is logged only once the delivery is marked sent in the database.
    # Asked any earlier, status would rightly see that alert still pending.
    assert daemon.wait_for_event("fetched") and daemon.wait_for_event("alert_sent"), daemon.log
    runner = CliRunner()

    running = runner.invoke(cli, ["status", "--config", str(config)])
    as_json = runner.invoke(cli, ["status", "--config", str(config), "--json"])
    daemon.stop()
    stopped = runner.invoke(cli, ["status", "--config", str(config)])

    assert running.exit_code == 0, running.output
    assert f"running, pid {daemon.process.pid}" in running.output
    assert "sources:    1 ok, 0 failing" in running.output
    assert "rules:      1 loaded" in running.output
    report = json.loads(as_json.output)
    assert report["status"] == "ok" and report["uptime_seconds"] >= 0
    assert report["outbox"] == {"pending": 0, "failed": 0}
    assert report["last_cycle_at"] is not None
    assert stopped.exit_code == 2
    assert "status:     down: stopped at" in stopped.output


def test_health_endpoint_serves_healthz_and_metrics(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
    slack_server: SlackServer,
) -> None:
    feed_server.route("/feed", feed("Assad speaks"))
    feed_server.route("/gone", "not here", status=404, content_type="text/plain")
    sources = {"feed": feed_server.url("/feed"), "gone": feed_server.url("/gone")}
    # One poll each (interval 1 h), so the counters below hold still however slow the test.
    config = write_config(
        tmp_path,
        sources,
        slack_table(slack_server),
        extra='[health]\nlisten = "127.0.0.1:0"\n',
        interval="1h",
    )
    daemon = start(config, "--log-format", "json")
    assert wait_for(lambda: len(slack_server.messages) == 1)
    started = next(json.loads(line) for line in daemon.lines if '"started"' in line)

    with httpx.Client(base_url=f"http://{started['health']}", trust_env=False) as client:
        # Each stage counts as it finishes: the failed fetch, the alert once marked sent (after
        # Slack has it), and the outbox gauge once the delivery round is over.
        assert wait_for(
            lambda: all(
                sample in client.get("/metrics").text
                for sample in (
                    'monitor_fetch_errors_total{source="gone"}',
                    'monitor_alerts_sent_total{channel="slack"} 1.0',
                    "monitor_outbox_pending 0.0",
                )
            )
        ), daemon.log
        healthz = client.get("/healthz")
        metrics = client.get("/metrics").text
        missing = client.get("/other")

    assert healthz.status_code == 200  # degraded still answers 200; only "down" is 503
    assert healthz.json()["status"] == "degraded"
    assert "source gone failing" in healthz.json()["reasons"][0]
    for sample in (
        'monitor_stories_fetched_total{source="feed"} 1.0',
        'monitor_hits_total{rule="assad"} 1.0',
        'monitor_alerts_sent_total{channel="slack"} 1.0',
        "monitor_outbox_pending 0.0",
        "monitor_rules_loaded 1.0",
    ):
        assert sample in metrics
    assert 'monitor_fetch_errors_total{source="gone"}' in metrics
    assert 'monitor_fetch_duration_seconds_count{source="feed"}' in metrics
    assert "monitor_last_success_timestamp_seconds" in metrics
    assert missing.status_code == 404


def test_the_http_section_bounds_requests_from_the_first_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    for path in ("/slow-1", "/slow-2"):
        feed_server.route(path, rss([Item("Slow", f"https://news.example.org{path}")]), delay=2)
    feed_server.route("/fast", rss([Item("Fast", "https://news.example.org/fast")]))
    urls = {name: feed_server.url(f"/{name}") for name in ("slow-1", "slow-2", "fast")}
    http = "[http]\nconcurrency = 2\nper_host = 8\n"  # all three on one host: the pool bounds
    settings = load_config(write_config(tmp_path, urls, extra=http))
    daemon = Daemon(settings, load_rules(settings.rules))
    cycle = threading.Thread(target=asyncio.run, args=(daemon.run_once(),), daemon=True)

    cycle.start()
    cycle.join(timeout=30)

    assert not cycle.is_alive()
    slow = [r.at for r in feed_server.requests if r.path.startswith("/slow-")]
    fast = [r.at for r in feed_server.requests_for("/fast")]
    assert len(slow) == 2 and len(fast) == 1
    # The slow answers take 2 s and hold both connections: /fast went once one was free.
    assert fast[0] - min(slow) >= 1.9
