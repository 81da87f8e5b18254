"""Shared fixtures: the real local servers the integration tests talk to (see servers.py),
a temp SQLite store, and daemons run as subprocesses (see harness.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import DaemonProcess, NotifySocket, alerting_config, wait_for
from hypothesis import settings
from servers import FeedServer, SlackServer, SmtpServer

from monitor.store import Store

# Property tests draw the same examples on every run, so `make test` (and CI) passes or
# fails the same way each time. `make explore` draws fresh random examples: run it after
# touching the matcher or the rule parser, and turn each failure it prints into a named test.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True)
def _loopback_bypasses_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep test traffic on 127.0.0.1 even on a machine with HTTP(S)_PROXY set.

    httpx and urllib (slack-sdk) both honour proxy variables and would otherwise send requests
    for our local servers to the proxy.
    """
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in a temp file, at the current schema."""
    opened = Store.open(tmp_path / "monitor.db")
    yield opened
    opened.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """``start(config, *args, env=...)`` runs a daemon that is killed after the test."""
    started: list[DaemonProcess] = []

    def run(config: Path, *args: str, env: dict[str, str] | None = None) -> DaemonProcess:
        daemon = DaemonProcess(config, *args, env=env)
        started.append(daemon)
        return daemon

    yield run
    for daemon in started:
        daemon.close()


@pytest.fixture
def alerted(
    tmp_path: Path,
    start: Callable[..., DaemonProcess],
    feed_server: FeedServer,
    slack_server: SlackServer,
) -> DaemonProcess:
    """A daemon on ``harness.alerting_config`` that has sent its first alert, "Assad speaks"."""
    daemon = start(alerting_config(tmp_path, feed_server, slack_server))
    assert wait_for(lambda: len(slack_server.messages) == 1), daemon.log
    return daemon


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    listener = NotifySocket(tmp_path / "notify.sock")
    yield listener
    listener.close()
