"""The optional HTTP endpoint (``[health] listen``): ``/healthz`` and ``/metrics``.

It runs in its own threads, beside the event loop rather than on it, so that
a hung loop is exactly what ``/healthz`` can still report: the verdict comes
from the database heartbeat (health.py), which a hung loop stops renewing.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.config import HealthConfig
from monitor.errors import ConfigError
from monitor.health import Health, State


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        config: HealthConfig,
        health: Callable[[], Health],
        metrics: Callable[[], bytes],
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        self.health = health
        self.metrics = metrics
        super().__init__((config.host, config.port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up in DNS (getfqdn) just to log it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every 15 s would bury the daemon's own events

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            health = self.server.health()
            status = 503 if health.state is State.DOWN else 200
            body = json.dumps(health.to_dict(), ensure_ascii=False).encode("utf-8")
            self._answer(status, body, "application/json")
        elif path == "/metrics":
            self._answer(200, self.server.metrics(), CONTENT_TYPE_LATEST)
        else:
            self._answer(404, b"not found: try /healthz or /metrics\n", "text/plain")

    do_HEAD = do_GET

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Endpoint:
    """Serves the two paths until ``close()``."""

    def __init__(
        self,
        config: HealthConfig,
        health: Callable[[], Health],
        metrics: Callable[[], bytes],
    ) -> None:
        try:
            self._server = _Server(config, health, metrics)
        except OSError as exc:
            raise ConfigError(
                f"health.listen: cannot listen on {config.listen}: {exc.strerror or exc}",
                hint="choose a free port in [health] listen, or remove the [health] table",
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="monitor-endpoint",
            daemon=True,
        )

    @property
    def address(self) -> str:
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
