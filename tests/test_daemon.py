"""The daemon as a real subprocess: it polls on schedule, alerts on new items, stops on signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from feedtext import Item, rss
from servers import FeedServer, SlackServer

RULE = "title: Assad watch\nentities: [{name: Bashar al-Assad, aliases: [Assad]}]\n"


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def daemon(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer
) -> Iterator[subprocess.Popen[str]]:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "assad.yaml").write_text(RULE)
    feed_server.route("/feed", rss([Item("Assad speaks", "https://news.example.org/1")]))
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'rules = "rules"\n[[sources]]\nname = "feed"\nurl = "{feed_server.url("/feed")}"\n'
        f'interval = "1s"\n[notify.slack]\nwebhook_url = "{slack_server.webhook_url}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)


def test_new_item_alerts_within_one_interval(
    daemon: subprocess.Popen[str], feed_server: FeedServer, slack_server: SlackServer
) -> None:
    assert wait_for(lambda: len(slack_server.messages) == 1)

    feed_server.route(
        "/feed",
        rss(
            [
                Item("Assad travels to Moscow", "https://news.example.org/2"),
                Item("Assad speaks", "https://news.example.org/1"),
            ]
        ),
    )

    assert wait_for(lambda: len(slack_server.messages) == 2, timeout=5)
    assert "Assad travels to Moscow" in slack_server.messages[1]["text"]
    time.sleep(1.5)  # another poll or two: nothing is sent twice
    assert len(slack_server.messages) == 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_daemon_cleanly(
    daemon: subprocess.Popen[str], slack_server: SlackServer, signum: int
) -> None:
    assert wait_for(lambda: len(slack_server.messages) == 1)
    started = time.monotonic()

    daemon.send_signal(signum)

    assert daemon.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
    _, stderr = daemon.communicate()
    assert "event=started" in stderr
    assert "event=stopped" in stderr
