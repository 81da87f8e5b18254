"""What the integration tests set up: projects on disk, and the daemon as a subprocess.

Importable like servers.py and feedtext.py; the fixtures built on it (``start``, ``alerted``,
``notify_socket``) are in conftest.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from feedtext import Item, rss
from servers import FeedServer, SlackServer

ASSAD_RULE = "title: Assad watch\nentities: [{name: Bashar al-Assad, aliases: [Assad]}]\n"

SYRIA_RULE = """\
title: Russia and Syria bases
entities:
  - name: Bashar al-Assad
    aliases: [Assad]
exclude: [football]
"""


#: The events that end a poll, whatever its outcome (monitor/cycle.py, monitor/daemon.py).
POLL_ENDS = ("fetched", "fetch_failed", "fetch_deferred", "poll_failed", "poll_abandoned")


#: How long a wait for something that should happen may take before the test fails. Generous:
#: a wait returns as soon as its condition holds, and a loaded 2-core CI machine may take a
#: few seconds just to start a daemon. A test whose point is a short delay gives its own.
PATIENCE = 30.0


def wait_for(condition: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class DaemonProcess:
    """`monitor run` in a subprocess; its stderr is collected line by line as it comes."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        assert self.process.stderr is not None and self.process.stdout is not None
        self._readers = [
            threading.Thread(target=self._collect, args=(self.process.stderr,), daemon=True),
            # stdout is drained (the console notifier writes there) so it never fills up.
            threading.Thread(target=self.process.stdout.read, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _collect(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def events(self, name: str) -> list[str]:
        return [line for line in self.lines if f" event={name} " in line + " "]

    def wait_for_event(self, name: str, count: int = 1, timeout: float = PATIENCE) -> bool:
        return wait_for(lambda: len(self.events(name)) >= count, timeout)

    def wait_for_polls_after(self, name: str, polls: int = 2, timeout: float = PATIENCE) -> bool:
        """Wait until ``polls`` polls have ended since the latest ``name`` event (one source).

        A poll takes the rules it matches with when it starts, so one in flight across a
        reload finishes with the old rules. The second poll to end after the reload began
        after it: from then on every poll matches with the new rules. A test that changes
        a feed right after a reload must wait for this, or an old-rules poll may fetch the
        new story, match it with the old rules and store it unalerted for good.
        """

        def ended() -> int:
            lines = self.lines
            marks = [i for i, line in enumerate(lines) if f" event={name} " in line + " "]
            if not marks:
                return 0
            after = lines[marks[-1] + 1 :]
            return sum(any(f" event={e} " in line + " " for e in POLL_ENDS) for line in after)

        return wait_for(lambda: ended() >= polls, timeout)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = PATIENCE) -> tuple[int, float]:
        """Send ``signum``; return the exit code and how long the exit took (tests bound it)."""
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        elapsed = time.monotonic() - started
        self.close()
        return code, elapsed

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=PATIENCE)
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class NotifySocket:
    """A datagram socket standing in for systemd's: collects what the daemon notifies.

    A thread reads it all the time, as systemd does. The kernel queues only a few
    datagrams for a reader (``net.unix.max_dgram_qlen``, often 10), and a daemon whose
    queue is full blocks in ``send`` with its event loop: with pings every 0.1 s, a test
    that stopped reading for a second would stall every poll and delivery it waits for.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._received: list[str] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closing.is_set():
            try:
                datagram = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            with self._lock:
                self._received.extend(datagram.decode().split("\n"))

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path)}

    @property
    def received(self) -> list[str]:
        """Every line received so far, in order."""
        with self._lock:
            return list(self._received)

    def seen(self, message: str, count: int = 1) -> bool:
        """Has ``message`` come ``count`` times?"""
        return self.received.count(message) >= count

    def close(self) -> None:
        self._closing.set()
        self._reader.join(timeout=5)
        self._sock.close()


def run_monitor(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`monitor ARGS` as a real process, to its end (bounded); ``env`` replaces the environment."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def write_config(
    tmp_path: Path,
    sources: dict[str, str],
    notify: str = "",
    extra: str = "",
    interval: str = "1s",
    rule: str = ASSAD_RULE,
) -> Path:
    """A config with ``sources`` (name -> URL), the Assad rule, and ``notify`` tables."""
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "assad.yaml").write_text(rule)
    tables = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{url}"\ninterval = "{interval}"\ntimeout = "30s"\n\n'
        for name, url in sources.items()
    )
    config = tmp_path / "monitor.toml"
    config.write_text(f'database = "monitor.db"\nrules = "rules"\n{extra}\n{tables}{notify}')
    return config


def slack_table(slack: SlackServer) -> str:
    return f'[notify.slack]\nwebhook_url = "{slack.webhook_url}"\n'


def feed(*titles: str) -> str:
    """An RSS feed of these stories, newest first; a story's URL comes from its title."""
    return rss(
        [Item(t, "https://news.example.org/" + re.sub(r"\W+", "-", t.lower())) for t in titles]
    )


def alerting_config(tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer) -> Path:
    """One source (``/feed``: "Assad speaks"), the Assad rule, alerts to the Slack server."""
    feed_server.route("/feed", feed("Assad speaks"))
    return write_config(tmp_path, {"feed": feed_server.url("/feed")}, slack_table(slack_server))


def write_project(folder: Path, rules: Mapping[str, str], config: str) -> Path:
    """``rules`` (file name -> text) in folder/rules, and a monitor.toml (``config``) naming it."""
    (folder / "rules").mkdir(exist_ok=True)
    for name, text in rules.items():
        (folder / "rules" / name).write_text(text)
    path = folder / "monitor.toml"
    path.write_text(f'rules = "rules"\n{config}')
    return path
