"""``monitor run --user-systemd``: a systemd user unit for people without root.

The system unit (systemd/monitor.service) is a file to copy; a user unit has
to name this installation's interpreter and config by absolute path, so it is
printed to fit. Only the sandboxing that works without privileges is in it:
seccomp filters (NoNewPrivileges makes them allowed), not mount namespaces.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from monitor.daemon import SHUTDOWN_GRACE_SECONDS

#: systemd restarts the daemon when it has not sent WATCHDOG=1 for this long.
WATCHDOG_SECONDS = 60


def _command() -> list[str]:
    """How to start this very installation: its ``monitor`` script, else ``python -m``."""
    script = Path(sys.argv[0])
    if script.name == "monitor" and os.access(script, os.X_OK):
        return [str(script.resolve())]
    return [sys.executable, "-m", "monitor"]


def user_unit(config: Path) -> str:
    """The unit text for ``~/.config/systemd/user/monitor.service``."""
    config = config.expanduser().absolute()
    # systemd expands %specifiers in command lines; a literal % is written %%.
    command = shlex.join([*_command(), "run", "--config", str(config)]).replace("%", "%%")
    return f"""\
# monitor as a systemd user service (no root needed). Install:
#   mkdir -p ~/.config/systemd/user
#   monitor run --user-systemd --config {shlex.quote(str(config))} \\
#       > ~/.config/systemd/user/monitor.service
#   systemctl --user daemon-reload && systemctl --user enable --now monitor
#   loginctl enable-linger "$USER"    # keep it running while you are logged out
#   journalctl --user -u monitor -f   # its log; `monitor status` tells if it is healthy
# Secrets (SLACK_BOT_TOKEN, SMTP_PASSWORD, ...) go in ~/.config/monitor/monitor.env
# (chmod 600), one NAME=value a line; the config refers to them as "${{NAME}}".
[Unit]
Description=monitor: media-monitoring alerts
After=network-online.target

[Service]
Type=notify
ExecStart={command}
ExecReload=/bin/kill -HUP $MAINPID
EnvironmentFile=-%h/.config/monitor/monitor.env
Restart=on-failure
RestartSec=10s
WatchdogSec={WATCHDOG_SECONDS}s
TimeoutStopSec={int(SHUTDOWN_GRACE_SECONDS) + 10}s
UMask=0077
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources

[Install]
WantedBy=default.target
"""
