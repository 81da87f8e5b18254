"""Shared fixtures: the real local servers the integration tests talk to (see servers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import FeedServer, SlackServer, SmtpServer


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
