"""Hot reload of the rule folder: edits apply within seconds, broken edits change nothing.

The daemon runs as a real subprocess (see harness.py);
the rule file is edited on disk exactly as an analyst's editor would.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

from harness import (
    ASSAD_RULE,
    DaemonProcess,
    NotifySocket,
    alerting_config,
    feed,
    wait_for,
    write_config,
)
from servers import FeedServer, SlackServer

from monitor.rules.watch import RuleWatcher

PUTIN_TOO = (
    "title: Assad watch\n"
    "entities:\n"
    "  - {name: Bashar al-Assad, aliases: [Assad]}\n"
    "  - {name: Vladimir Putin, aliases: [Putin]}\n"
)


ERDOGAN_ONLY = "title: Assad watch\nentities: [{name: Recep Tayyip Erdoğan, aliases: [Erdogan]}]\n"

#: Enough rule files that reading and compiling them takes a good part of a second
#: (about 1.6 ms a file), so a reload is long next to the watchdog's 0.1 s pings.
MANY = 400


def texts(slack: SlackServer) -> list[str]:
    return [m.get("text", "") for m in slack.messages]


def add_many_rules(folder: Path, count: int = MANY) -> None:
    for n in range(count):
        (folder / f"desk-{n:04d}.yaml").write_text(
            f"title: Desk {n}\n"
            f"entities: [{{name: Person{n} Surname{n}, aliases: [Alias{n}]}}]\n"
            f"phrases: [harbour{n} strike]\n"
            f"keywords: [shipping{n} terminal]\n"
        )


def hit_titles(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT s.title FROM hits h JOIN stories s ON s.id = h.story_id")
        return {title for (title,) in rows}


def test_a_reload_leaves_the_event_loop_free_then_switches(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
    slack_server: SlackServer,
    notify_socket: NotifySocket,
) -> None:
    config = alerting_config(tmp_path, feed_server, slack_server)
    add_many_rules(tmp_path / "rules")
    seen = notify_socket.seen
    # WatchdogSec=0.3s: a ping every 0.1 s, from a job on the event loop.
    daemon = start(config, env={**notify_socket.env, "WATCHDOG_USEC": "300000"})
    assert wait_for(lambda: seen("READY=1"))
    assert wait_for(lambda: len(slack_server.messages) == 1)

    (tmp_path / "rules" / "assad.yaml").write_text(PUTIN_TOO)
    daemon.process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: seen("READY=1", count=2))
    assert daemon.wait_for_event("reloaded")  # stderr may come later than the socket

    # Reading and compiling the rules took the loop's time on a thread: the watchdog
    # kept pinging between RELOADING=1 and the READY=1 that ends the reload.
    received = notify_socket.received
    reloading = received.index("RELOADING=1")
    ready = received.index("READY=1", reloading)
    assert "WATCHDOG=1" in received[reloading:ready]
    assert f"rules={MANY + 1}" in daemon.events("reloaded")[0]
    assert daemon.wait_for_polls_after("reloaded"), daemon.log  # no poll left on the old rules
    feed_server.route("/feed", feed("Assad speaks", "Putin visits Tartus"))
    assert wait_for(lambda: any("Putin visits Tartus" in t for t in texts(slack_server)))
    assert daemon.running


def test_of_two_overlapping_reloads_the_later_one_wins(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
) -> None:
    feed_server.route("/feed", feed("Assad speaks"))
    config = write_config(tmp_path, {"feed": feed_server.url("/feed")})
    add_many_rules(tmp_path / "rules")
    rule_file = tmp_path / "rules" / "assad.yaml"
    daemon = start(config)
    assert daemon.wait_for_event("fetched")

    rule_file.write_text(PUTIN_TOO)
    assert daemon.wait_for_event("rules_changed")  # the folder reload has begun
    # Saved as editors save (a new file renamed over the old one): the folder reload
    # still reading reads the old text or the new one, never half of it.
    saved = rule_file.with_suffix(".tmp")
    saved.write_text(ERDOGAN_ONLY)
    os.replace(saved, rule_file)
    daemon.process.send_signal(signal.SIGHUP)  # while that reload still reads and compiles
    assert daemon.wait_for_event("reloaded")

    lines = daemon.lines
    folder_done = next(i for i, line in enumerate(lines) if " event=rules_reloaded " in line)
    sighup_done = next(i for i, line in enumerate(lines) if " event=reloaded " in line)
    assert folder_done < sighup_done  # the SIGHUP reload waited its turn, then read the new file
    assert daemon.wait_for_polls_after("reloaded"), daemon.log  # no poll left on the old rules
    feed_server.route("/feed", feed("Assad speaks", "Putin visits Tartus", "Erdogan visits"))
    assert wait_for(lambda: "Erdogan visits" in hit_titles(tmp_path / "monitor.db"))
    assert hit_titles(tmp_path / "monitor.db") == {"Assad speaks", "Erdogan visits"}
    assert daemon.running


def test_a_rule_edit_applies_without_restart(
    tmp_path: Path, alerted: DaemonProcess, feed_server: FeedServer, slack_server: SlackServer
) -> None:
    daemon = alerted
    (tmp_path / "rules" / "assad.yaml").write_text(PUTIN_TOO)
    assert daemon.wait_for_event("rules_reloaded")
    assert daemon.wait_for_polls_after("rules_reloaded"), daemon.log  # none on the old rules
    feed_server.route("/feed", feed("Assad speaks", "Putin visits Tartus"))

    assert wait_for(lambda: any("Putin visits Tartus" in t for t in texts(slack_server)))
    assert len(slack_server.messages) == 2  # the old story is not alerted again
    assert daemon.running


def test_a_broken_edit_keeps_the_last_good_rules_and_says_so_once(
    tmp_path: Path, alerted: DaemonProcess, feed_server: FeedServer, slack_server: SlackServer
) -> None:
    daemon = alerted
    rule_file = tmp_path / "rules" / "assad.yaml"

    rule_file.write_text("title: Assad watch\nentities: [{name: Bashar al-Assad, aliasez: []}]\n")
    assert daemon.wait_for_event("reload_failed")
    rule_file.write_text("title: Assad watch\nentities: [{name: Bashar al-Assad, aliasez: [x]}]\n")
    assert daemon.wait_for_event("reload_failed", count=2)

    problems = daemon.events("reload_problem")
    assert any(f"{rule_file}:2:" in line and "aliasez" in line for line in problems)
    ops = [t for t in texts(slack_server) if "rule reload failed" in t]
    assert len(ops) == 1  # one message for the broken state, not one per save
    # The last good rule set still runs: a new Assad story alerts.
    feed_server.route("/feed", feed("Assad speaks", "Assad meets envoy"))
    assert wait_for(lambda: any("Assad meets envoy" in t for t in texts(slack_server)))

    rule_file.write_text(PUTIN_TOO)
    assert daemon.wait_for_event("rules_reloaded")
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
