"""Alerts end to end: exactly once across SIGKILL, and pacing against Slack's rate limits.

The Slack-shaped server here is tests/servers.py's, taught three more
things a crash test needs: the channel history (``conversations.history``
with message metadata, ``conversations.list``), the time each message
arrived, and holding its answer after accepting a message, so the daemon
can be killed after Slack has the message and before our bookkeeping does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from feedtext import Item, rss
from harness import DaemonProcess, wait_for, write_config
from servers import FeedServer, SlackServer, SmtpServer, _json_reply, _parse_body, _RecordingHandler

from monitor.config import Settings, SlackConfig
from monitor.models import Hit, Match, Rule, Story
from monitor.notify.outbox import Courier, build_notifiers
from monitor.store import Store
from monitor.timeutil import utcnow

HOLD_SECONDS = 20.0  # a held answer is released after this, whatever happens


class HistorySlack(SlackServer):
    """SlackServer plus history, arrival times, and a held answer on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.history: list[dict[str, Any]] = []
        self.hold_next = False
        self.release = threading.Event()

    def _accept(self, payload: dict[str, Any], endpoint: str) -> None:
        super()._accept(payload, endpoint)
        with self._lock:
            self.arrivals.append(time.monotonic())

    def _handle_api(self, method: str, auth: str, content_type: str, raw: bytes) -> Any:
        if method == "conversations.list":
            return _json_reply({"ok": True, "channels": [{"id": self.channel_id, "name": "desk"}]})
        if method == "conversations.history":
            asked = _parse_body(content_type, raw) or {}
            with self._lock:
                found = [m for m in self.history if float(m["ts"]) >= float(asked["oldest"])]
            return _json_reply({"ok": True, "messages": found[::-1], "has_more": False})
        reply = super()._handle_api(method, auth, content_type, raw)
        if method == "chat.postMessage" and reply.status == 200:
            answer = json.loads(reply.body)
            payload = _parse_body(content_type, raw) or {}
            if answer.get("ok"):
                with self._lock:
                    # Slack's ts is the time of posting; the base server counts from 2023.
                    answer["ts"] = f"{time.time():.6f}"
                    self.history.append({**answer["message"], "ts": answer["ts"], **_meta(payload)})
                    hold, self.hold_next = self.hold_next, False
                if hold:
                    self.release.wait(HOLD_SECONDS)
                reply = _json_reply(answer)
        return reply


def _meta(payload: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": payload["metadata"]} if payload.get("metadata") else {}


class HoldingHandler(_RecordingHandler):
    """Keeps the mail, then holds the 250 until released (the server has it; we do not know)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_next = False
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        hold, self.hold_next = self.hold_next, False
        deadline = time.monotonic() + HOLD_SECONDS
        while hold and not self.release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return answer


@pytest.fixture
def slack() -> Iterator[HistorySlack]:
    with HistorySlack() as server:
        yield server
        server.release.set()


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpServer, HoldingHandler]]:
    server = SmtpServer()
    handler = HoldingHandler()
    server._handler = handler  # before start(): the controller is built around it
    with server:
        yield server, handler
        handler.release.set()


def deliveries(database: Path) -> list[tuple[str, str, int, str | None]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT channel, status, in_doubt, slack_ts FROM deliveries ORDER BY channel"
        ).fetchall()


def test_sigkill_between_send_and_bookkeeping_sends_nothing_twice(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: HistorySlack,
    smtp: tuple[SmtpServer, HoldingHandler],
    start: Callable[..., DaemonProcess],
) -> None:
    smtp_server, mail = smtp
    feed_server.route("/feed", rss([Item("Assad speaks", "https://news.example.org/1")]))
    notify = (
        f'[notify.slack]\ntoken = "${{TEST_SLACK_TOKEN}}"\nchannel = "#desk"\n'
        f'base_url = "{slack.api_url}"\n'
        f'[notify.email]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
        'sender = "monitor@example.org"\nrecipients = ["desk@example.org"]\n'
    )
    rule = "title: Assad watch\nphrases: [Assad]\n"
    config = write_config(tmp_path, {"feed": feed_server.url("/feed")}, notify, rule=rule)
    slack.hold_next = mail.hold_next = True
    env = {"TEST_SLACK_TOKEN": "xoxb-test-token"}
    first = start(config, env=env)

    # Both servers have the alert; neither has answered. Kill now: no chance to record it.
    assert wait_for(lambda: len(slack.messages) == 1 and len(smtp_server.messages) == 1, timeout=15)
    first.stop(signal.SIGKILL)
    slack.release.set()
    mail.release.set()
    database = tmp_path / "monitor.db"
    assert [row[:2] for row in deliveries(database)] == [("email", "sending"), ("slack", "sending")]

    second = start(config, env=env)
    assert wait_for(lambda: [r[1] for r in deliveries(database)] == ["sent", "sent"])
    time.sleep(1.5)  # a poll or two more: still nothing new
    second.stop()

    log = second.log
    assert "event=outbox_recovered" in log and "in_doubt=2" in log
    # Slack: found in the channel's history by its attempt key, not posted again.
    assert len(slack.messages) == 1
    assert "event=delivery_confirmed" in log
    [(_, _, _, slack_ts)] = [r for r in deliveries(database) if r[0] == "slack"]
    assert slack_ts == slack.history[0]["ts"]
    # Email: SMTP cannot be asked, so it went again, under the same Message-ID.
    ids = {m.message["Message-ID"] for m in smtp_server.messages}
    assert len(smtp_server.messages) == 2 and len(ids) == 1


# --- pacing (a delivery run in-process, real HTTP) ---------------------------------------


def courier_world(tmp_path: Path, slack: HistorySlack, stories: int) -> tuple[Store, Settings]:
    settings = Settings(
        path=tmp_path / "monitor.toml",
        database=tmp_path / "monitor.db",
        rules=tmp_path,
        sources=(),
        slack=SlackConfig(token=slack.token, channel="#desk", base_url=slack.api_url),
    )
    store = Store.open(settings.database)
    rule = Rule(id="syria", title="Syria watch", path="syria.yaml", phrases=("assad",))
    for n in range(stories):
        now = utcnow()
        story = Story("wire", f"https://x.example/{n}", f"g{n}", f"Assad {n}", "", "", now, now)
        match = Match("phrase", "assad", "Assad", "title", 0, 5)
        store.save(story, [Hit(rule, story, (match,))], {"syria": [("slack", "#desk")]})
    return store, settings


def test_messages_to_one_channel_are_paced_and_a_429_waits_retry_after(
    tmp_path: Path, slack: HistorySlack
) -> None:
    store, settings = courier_world(tmp_path, slack, stories=3)
    slack.fail_next("429", retry_after=1)  # the first try of the first message
    courier = Courier(build_notifiers(settings))

    started = time.monotonic()
    report = asyncio.run(courier.deliver(store, settings, ()))
    store.close()

    assert report.sent == 3 and [f.kind for f in slack.failures_served] == ["429"]
    arrivals = slack.arrivals
    assert arrivals[0] - started >= 1.0  # Retry-After honoured before the first got through
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(gap >= 0.9 for gap in gaps), gaps  # about one message a second, not a burst
    assert [m["text"] for m in slack.messages] == [
        "Syria watch: Assad 0",
        "Syria watch: Assad 1",
        "Syria watch: Assad 2",
    ]


def test_different_channels_are_not_held_up_by_each_other(
    tmp_path: Path, slack: HistorySlack
) -> None:
    store, settings = courier_world(tmp_path, slack, stories=0)
    rule = Rule(id="syria", title="Syria watch", path="syria.yaml", phrases=("assad",))
    for n, channel in enumerate(["#a", "#a", "#b", "#c"]):
        now = utcnow()
        story = Story("wire", f"https://x.example/{n}", f"g{n}", f"Assad {n}", "", "", now, now)
        match = Match("phrase", "assad", "Assad", "title", 0, 5)
        store.save(story, [Hit(rule, story, (match,))], {"syria": [("slack", channel)]})

    asyncio.run(Courier(build_notifiers(settings)).deliver(store, settings, ()))
    store.close()

    assert len(slack.messages) == 4
    arrived: dict[str, list[float]] = {}
    for message, at in zip(slack.messages, slack.arrivals, strict=True):
        arrived.setdefault(message["channel"], []).append(at)
    first_a, second_a = arrived["#a"]
    assert second_a - first_a >= 0.9  # #a is paced: its second message waits about 1 s
    # ... and #b and #c did not wait behind it (in one queue they would come after both).
    assert arrived["#b"][0] < second_a and arrived["#c"][0] < second_a
