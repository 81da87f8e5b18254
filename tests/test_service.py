"""Running as a service: the systemd units, the notify protocol, the one-daemon lock.

The unit checks use the real ``systemd-analyze`` and skip where it is missing
(``make test`` installs it as root on Debian; CI does).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.daemon import first_run, jitter_for
from monitor.errors import StoreError
from monitor.lockfile import DaemonLock
from monitor.sdnotify import SystemdNotifier

UNIT = Path(__file__).parent.parent / "systemd" / "monitor.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
#: `systemd-analyze security` rates 0 (locked down) to 10 (exposed); 2.0 and below is "OK".
MAX_EXPOSURE = 2.0


def analyze(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", **(env or {})},
        timeout=60,
        check=False,
    )


def installed_unit(tmp_path: Path, text: str, name: str = "monitor.service") -> Path:
    """``text`` with ExecStart pointing at this checkout's monitor, as after `pip install`."""
    executable = Path(sys.executable).parent / "monitor"
    if not executable.exists():
        executable = Path(sys.executable)
    unit = tmp_path / name
    unit.write_text(text.replace("/usr/local/bin/monitor", str(executable)))
    return unit


# The system unit ------------------------------------------------------------


@needs_analyze
def test_system_unit_exposure_is_ok(tmp_path: Path) -> None:
    result = analyze("security", "--offline=true", str(UNIT), cwd=tmp_path)

    found = re.search(r"Overall exposure level for monitor\.service: ([\d.]+) (\w+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout
    assert found.group(2) == "OK"


@needs_analyze
def test_system_unit_verifies_clean(tmp_path: Path) -> None:
    unit = installed_unit(tmp_path, UNIT.read_text())

    result = analyze("verify", str(unit), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_system_unit_has_the_service_contract() -> None:
    settings = dict(
        line.split("=", 1)
        for line in UNIT.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert settings["Type"] == "notify"
    assert settings["WatchdogSec"] and settings["Restart"] == "on-failure"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["StateDirectory"] == "monitor"
    assert settings["EnvironmentFile"].startswith("-/etc/monitor/")
    assert settings["DynamicUser"] == "yes"
    assert settings["CapabilityBoundingSet"] == ""
    assert settings["RestrictAddressFamilies"] == "AF_INET AF_INET6 AF_UNIX"
    assert "@system-service" in UNIT.read_text()


def test_env_example_lists_every_secret_the_readme_names() -> None:
    example = (UNIT.parent / "monitor.env.example").read_text()
    for name in ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "SMTP_PASSWORD"):
        assert f"{name}=" in example


# The user unit --------------------------------------------------------------


@pytest.fixture
def user_unit_text(tmp_path: Path) -> str:
    config = tmp_path / "my config.toml"
    result = CliRunner().invoke(cli, ["run", "--user-systemd", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result.output


def test_user_unit_runs_this_installation_with_an_absolute_config(
    tmp_path: Path, user_unit_text: str
) -> None:
    exec_start = next(line for line in user_unit_text.splitlines() if line.startswith("ExecStart="))

    assert "Type=notify" in user_unit_text
    assert "WatchdogSec=" in user_unit_text
    assert "WantedBy=default.target" in user_unit_text
    assert f"run --config '{tmp_path / 'my config.toml'}'" in exec_start
    assert exec_start.removeprefix("ExecStart=").startswith("/")


@needs_analyze
def test_user_unit_verifies_clean(tmp_path: Path, user_unit_text: str) -> None:
    unit = tmp_path / "monitor.service"
    unit.write_text(user_unit_text)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)

    result = analyze(
        "--user", "verify", str(unit), cwd=tmp_path, env={"XDG_RUNTIME_DIR": str(runtime)}
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


# sd_notify ------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        yield sock, str(path)


def test_notifier_sends_each_state_as_one_datagram(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})

    notifier.ready("watching 3 sources")
    notifier.watchdog()
    notifier.reloading()
    notifier.stopping()

    assert sock.recv(4096) == b"READY=1\nSTATUS=watching 3 sources"
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sock.recv(4096).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"


def test_notifier_reaches_an_abstract_socket() -> None:
    name = f"monitor-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)

        assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).send("READY=1")
        assert sock.recv(4096) == b"READY=1"


def test_notifier_outside_systemd_does_nothing() -> None:
    notifier = SystemdNotifier({})

    assert not notifier.enabled
    assert not notifier.send("READY=1")
    assert notifier.watchdog_interval is None


def test_notifier_that_cannot_send_carries_on(tmp_path: Path) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})

    assert not notifier.send("READY=1")
    assert not notifier.send("WATCHDOG=1")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, timedelta(seconds=30)),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, timedelta(seconds=30)),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_comes_from_the_environment(
    environ: dict[str, str], expected: timedelta | None
) -> None:
    assert SystemdNotifier(environ).watchdog_interval == expected


# One daemon per database ------------------------------------------------------


def test_second_lock_on_a_database_names_the_holder(tmp_path: Path) -> None:
    database = tmp_path / "monitor.db"
    with DaemonLock(database):
        with pytest.raises(StoreError) as caught:
            DaemonLock(database).acquire()
        assert f"pid {os.getpid()}" in str(caught.value)
        assert "systemctl stop monitor" in str(caught.value)
    with DaemonLock(database):  # released: the next one gets it
        pass


def test_run_once_refuses_while_a_daemon_holds_the_database(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    config = tmp_path / "monitor.toml"
    config.write_text('database = "monitor.db"\nrules = "rules"\n')

    with DaemonLock(tmp_path / "monitor.db"):
        result = CliRunner().invoke(cli, ["run", "--once", "--config", str(config)])

    assert result.exit_code == 1
    assert "already running" in result.output


# Scheduling ------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("last_fetch_at", "expected"),
    [
        (None, NOW),  # never fetched: now
        (NOW - 5 * HOUR, NOW),  # missed five runs while down: now, once
        (NOW - HOUR, NOW),  # due exactly now
        (NOW - 10 * timedelta(minutes=1), NOW + 50 * timedelta(minutes=1)),  # not due yet
    ],
)
def test_first_run_after_a_restart(last_fetch_at: datetime | None, expected: datetime) -> None:
    assert first_run(HOUR, last_fetch_at, NOW) == expected


def test_jitter_is_a_tenth_of_the_interval_at_most_thirty_seconds() -> None:
    assert jitter_for(timedelta(seconds=10)) == 1
    assert jitter_for(timedelta(minutes=10)) == 30
    assert jitter_for(timedelta(days=1)) == 30
