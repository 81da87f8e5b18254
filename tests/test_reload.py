"""Hot reload of the rule folder: edits apply within seconds, broken edits change nothing.

The daemon runs as a real subprocess (see test_daemon.py for the harness);
the rule file is edited on disk exactly as an analyst's editor would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from feedtext import Item, rss
from servers import FeedServer, SlackServer
from test_daemon import ASSAD_RULE, DaemonProcess, slack_table, start, wait_for, write_config

from monitor.rules.watch import RuleWatcher

__all__ = ["start"]  # the fixture, shared with test_daemon.py

PUTIN_TOO = (
    "title: Assad watch\n"
    "entities:\n"
    "  - {name: Bashar al-Assad, aliases: [Assad]}\n"
    "  - {name: Vladimir Putin, aliases: [Putin]}\n"
)


def feed(*titles: str) -> str:
    return rss([Item(t, f"https://news.example.org/{i}") for i, t in enumerate(titles)])


def texts(slack: SlackServer) -> list[str]:
    return [m.get("text", "") for m in slack.messages]


def test_a_rule_edit_applies_without_restart(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
    slack_server: SlackServer,
) -> None:
    feed_server.route("/feed", feed("Assad speaks"))
    config = write_config(tmp_path, {"feed": feed_server.url("/feed")}, slack_table(slack_server))
    daemon = start(config)
    assert wait_for(lambda: len(slack_server.messages) == 1)

    (tmp_path / "rules" / "assad.yaml").write_text(PUTIN_TOO)
    assert daemon.wait_for_event("rules_reloaded", timeout=10)
    feed_server.route("/feed", feed("Assad speaks", "Putin visits Tartus"))

    assert wait_for(lambda: any("Putin visits Tartus" in t for t in texts(slack_server)))
    assert len(slack_server.messages) == 2  # the old story is not alerted again
    assert daemon.running


def test_a_broken_edit_keeps_the_last_good_rules_and_says_so_once(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
    slack_server: SlackServer,
) -> None:
    feed_server.route("/feed", feed("Assad speaks"))
    config = write_config(tmp_path, {"feed": feed_server.url("/feed")}, slack_table(slack_server))
    daemon = start(config)
    assert wait_for(lambda: len(slack_server.messages) == 1)
    rule_file = tmp_path / "rules" / "assad.yaml"

    rule_file.write_text("title: Assad watch\nentities: [{name: Bashar al-Assad, aliasez: []}]\n")
    assert daemon.wait_for_event("reload_failed", timeout=10)
    rule_file.write_text("title: Assad watch\nentities: [{name: Bashar al-Assad, aliasez: [x]}]\n")
    assert daemon.wait_for_event("reload_failed", count=2, timeout=10)

    problems = daemon.events("reload_problem")
    assert any(f"{rule_file}:2:" in line and "aliasez" in line for line in problems)
    ops = [t for t in texts(slack_server) if "rule reload failed" in t]
    assert len(ops) == 1  # one message for the broken state, not one per save
    # The last good rule set still runs: a new Assad story alerts.
    feed_server.route("/feed", feed("Assad speaks", "Assad meets envoy"))
    assert wait_for(lambda: any("Assad meets envoy" in t for t in texts(slack_server)))

    rule_file.write_text(PUTIN_TOO)
    assert daemon.wait_for_event("rules_reloaded", timeout=10)
    assert wait_for(lambda: any("valid again" in t for t in texts(slack_server)))
    assert daemon.running


def test_watcher_waits_for_the_save_burst_to_settle(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ASSAD_RULE)
    watcher = RuleWatcher(tmp_path, settle=1.0)
    assert watcher.poll(0.0) is False  # nothing changed

    (tmp_path / "a.yaml").write_text(PUTIN_TOO)
    assert watcher.poll(10.0) is False  # just changed: wait
    assert watcher.poll(10.5) is False  # still settling
    (tmp_path / ".a.yaml.swp").write_text("editor noise")
    assert watcher.poll(10.8) is False  # hidden files do not count, but time has not passed
    assert watcher.poll(11.2) is True  # still for a second: reload
    assert watcher.poll(12.5) is False  # reported once


def test_watcher_sees_new_and_removed_files(tmp_path: Path) -> None:
    watcher = RuleWatcher(tmp_path, settle=0.0)
    (tmp_path / "b.yml").write_text(ASSAD_RULE)
    assert watcher.poll(1.0) is False
    assert watcher.poll(1.0) is True
    (tmp_path / "b.yml").unlink()
    assert watcher.poll(2.0) is False
    assert watcher.poll(2.0) is True
