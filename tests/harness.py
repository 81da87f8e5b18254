"""What the integration tests set up: projects on disk, and the daemon as a subprocess.

Importable like servers.py and feedtext.py; the fixtures built on it (``start``, ``alerted``,
``notify_socket``) are in conftest.py.
"""

from __future__ import annotations

import contextlib
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


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
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

    def wait_for_event(self, name: str, count: int = 1, timeout: float = 10.0) -> bool:
        return wait_for(lambda: len(self.events(name)) >= count, timeout)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send ``signum``; return the exit code and how long the exit took."""
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        elapsed = time.monotonic() - started
        self.close()
        return code, elapsed

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class NotifySocket:
    """A datagram socket standing in for systemd's: collects what the daemon notifies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path)}

    def seen(self, message: str, count: int = 1) -> bool:
        """Read what has come (waiting 0.2 s at most); has ``message`` come ``count`` times?"""
        with contextlib.suppress(TimeoutError):
            self.received.extend(self._sock.recv(4096).decode().split("\n"))
        return self.received.count(message) >= count

    def close(self) -> None:
        self._sock.close()


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
