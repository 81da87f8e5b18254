"""Real local servers for integration tests: feeds over HTTP, a Slack-shaped API, and SMTP.

The house rule is "fakes at the boundary, real parts in integration tests": the code under test
talks to these over real sockets with its real clients (httpx, slack-sdk, smtplib), so a test
exercises timeouts, status codes, headers and retries exactly as production would meet them.

Every server binds 127.0.0.1 on an ephemeral port and runs in a daemon thread, so a forgotten
``close()`` can never keep the interpreter alive. Anything a test can make the server wait for
(a delayed route) is interruptible, so ``close()`` returns promptly.

Recorded data (``requests``, ``messages``, ...) is read through properties that return a copy
taken under a lock: handler threads append while the test thread reads.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import itertools
import json
import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NamedTuple, Self
from urllib.parse import parse_qsl, urlsplit

from aiosmtpd.controller import Controller

__all__ = [
    "LOOPBACK",
    "FeedServer",
    "ReceivedMail",
    "RecordedRequest",
    "Route",
    "ServedFailure",
    "SlackServer",
    "SmtpServer",
    "free_port",
]

LOOPBACK = "127.0.0.1"

# Short, so that close() (which waits for serve_forever to notice) costs at most this long.
_POLL_INTERVAL = 0.05


class RecordedRequest(NamedTuple):
    """One request as the server saw it; header names are lower-cased for easy lookup."""

    method: str
    path: str
    headers: dict[str, str]
    #: When it arrived (``time.monotonic()``): for tests of what waited for what.
    at: float = 0.0


class _LoopbackHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows when it is closing, so handlers can stop waiting.

    Errors raised while closing are dropped: they are the sockets we just closed, and
    socketserver would print a traceback for each, burying the output of the failing test.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler], owner: Any) -> None:
        super().__init__((LOOPBACK, 0), handler)
        self.closing = threading.Event()
        # Handlers reach the FeedServer/SlackServer that owns them through this.
        self.owner = owner

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(), a reverse DNS lookup that can
        # leave the machine; the name is only used for logging, so skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = LOOPBACK
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.closing.is_set():
            return
        super().handle_error(request, client_address)


class _QuietHandler(BaseHTTPRequestHandler):
    """Shared plumbing: no access log on stderr, tolerant of clients that went away."""

    server: _LoopbackHTTPServer
    # HTTP/1.0 closes each connection after one response: no idle keep-alive threads left
    # blocked in readline() when the test ends.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        # Silenced: an access line per request on stderr drowns out the failing assertion.
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionError:
            # The client gave up (usually its timeout fired first); nothing left to answer.
            self.close_connection = True

    def recorded(self) -> RecordedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        return RecordedRequest(self.command, self.path, headers, time.monotonic())

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        extra = dict(headers or {})
        if content_type and not any(k.lower() == "content-type" for k in extra):
            self.send_header("Content-Type", content_type)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


class _BackgroundServer:
    """Start/stop and URL handling shared by the two HTTP servers."""

    def __init__(self, handler: type[_QuietHandler]) -> None:
        self._httpd = _LoopbackHTTPServer(handler, owner=self)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, wake any sleeping handler, release the port; safe to call twice."""
        self._httpd.closing.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Feeds


@dataclass(frozen=True)
class Route:
    """What a GET to one path answers; replaced wholesale by ``FeedServer.route``."""

    body: bytes
    status: int = 200
    headers: Mapping[str, str] | None = None
    content_type: str | None = "application/rss+xml; charset=utf-8"
    delay: float = 0.0
    etag: str | None = None


class _FeedHandler(_QuietHandler):
    def do_GET(self) -> None:
        owner: FeedServer = self.server.owner
        request = self.recorded()
        owner._record(request)
        route = owner._lookup(self.path)
        if route is None:
            self.respond(404, b"not found\n", "text/plain; charset=utf-8")
            return
        # Waiting on the closing event rather than time.sleep lets close() end the test now
        # instead of after the full delay; a closing server answers nothing at all.
        if route.delay > 0 and self.server.closing.wait(route.delay):
            self.close_connection = True
            return
        headers = dict(route.headers or {})
        if route.etag is not None:
            headers["ETag"] = route.etag
            if route.status == 200 and _etag_matches(
                request.headers.get("if-none-match"), route.etag
            ):
                self.respond(304, b"", None, headers)
                return
        self.respond(route.status, route.body, route.content_type, headers)

    do_HEAD = do_GET


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): ignore any W/ prefix."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


class FeedServer(_BackgroundServer):
    """Serves whatever the test routes: feeds, pages, errors, slow answers, conditional GETs.

    Paths match exactly; a route registered without a query string also answers requests
    that carry one, so ``route("/feed")`` serves ``/feed?page=2`` unless that is routed too.
    """

    def __init__(self) -> None:
        super().__init__(_FeedHandler)
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []

    def route(
        self,
        path: str,
        body: bytes | str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = "application/rss+xml; charset=utf-8",
        delay: float = 0.0,
        *,
        etag: bool = False,
    ) -> str:
        """Set what GET ``path`` answers and return its full URL.

        ``delay`` holds the answer back (to outlast a client timeout); ``etag=True`` sends
        an ETag derived from the body and answers 304 when the client presents it again.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        tag = f'"{hashlib.sha256(data).hexdigest()[:16]}"' if etag else None
        path = path if path.startswith("/") else "/" + path
        with self._lock:
            self._routes[path] = Route(data, status, dict(headers or {}), content_type, delay, tag)
        return self.url(path)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Requests whose path (query string ignored) is ``path``."""
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _lookup(self, raw_path: str) -> Route | None:
        with self._lock:
            return self._routes.get(raw_path) or self._routes.get(urlsplit(raw_path).path)


# --------------------------------------------------------------------------------------------
# Slack

# Limits Slack enforces on Block Kit payloads (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_MESSAGE_TEXT = 40000

# HTTP statuses Incoming Webhooks use for error strings; anything else is a 400.
_WEBHOOK_ERROR_STATUS = {
    "invalid_token": 403,
    "action_prohibited": 403,
    "channel_not_found": 404,
    "no_service": 404,
    "channel_is_archived": 410,
}


@dataclass(frozen=True)
class ServedFailure:
    """An injected failure and the endpoint (``chat.postMessage`` or ``webhook``) that got it."""

    kind: str
    endpoint: str


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] | None = None


def _json_reply(
    payload: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)


def _text_reply(text: str, status: int, headers: Mapping[str, str] | None = None) -> _Reply:
    return _Reply(status, text.encode(), "text/plain; charset=utf-8", headers)


def _block_error(payload: Mapping[str, Any]) -> str | None:
    """Return Slack's error code for a message Slack would refuse, or None if it is fine."""
    text = payload.get("text")
    blocks = payload.get("blocks")
    if not text and not blocks:
        return "no_text"
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        return "msg_too_long"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    return None if all(_block_ok(block) for block in blocks) else "invalid_blocks"


def _block_ok(block: object) -> bool:
    """Check the limits our renderer can break; other block types pass unexamined."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return False
    if block["type"] == "header":
        text = block.get("text")
        return (
            isinstance(text, dict)
            and text.get("type") == "plain_text"
            and _text_len(text) <= MAX_HEADER_TEXT
        )
    if block["type"] == "section":
        text, fields = block.get("text"), block.get("fields", [])
        if text is None and not fields:
            return False
        if text is not None and (not isinstance(text, dict) or _text_len(text) > MAX_SECTION_TEXT):
            return False
        return (
            isinstance(fields, list)
            and len(fields) <= MAX_SECTION_FIELDS
            and all(isinstance(f, dict) and _text_len(f) <= MAX_FIELD_TEXT for f in fields)
        )
    return True


def _text_len(text_object: dict[str, Any]) -> int:
    return len(str(text_object.get("text", "")))


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any] | None:
    """Decode a JSON or form body as Slack does; blocks may arrive as a JSON-encoded string."""
    try:
        if content_type.startswith("application/json"):
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                return None
        else:
            data = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        for key in ("blocks", "attachments", "metadata"):
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
    except (ValueError, UnicodeDecodeError):
        return None
    return data


class _SlackHandler(_QuietHandler):
    def do_POST(self) -> None:
        owner: SlackServer = self.server.owner
        raw = self.read_body()
        content_type = self.headers.get("Content-Type", "")
        path = urlsplit(self.path).path
        if path.startswith("/webhook/"):
            reply = owner._handle_webhook(content_type, raw)
        elif path.startswith("/api/"):
            method = path.removeprefix("/api/")
            auth = self.headers.get("Authorization", "")
            reply = owner._handle_api(method, auth, content_type, raw)
        else:
            reply = _text_reply("not found", 404)
        self.respond(reply.status, reply.body, reply.content_type, reply.headers)


class SlackServer(_BackgroundServer):
    """Speaks the parts of Slack that slack-sdk's WebClient and WebhookClient use.

    ``WebClient(token=server.token, base_url=server.api_url)`` posts to ``chat.postMessage``;
    ``WebhookClient(server.webhook_url)`` posts to the Incoming Webhook. Messages Slack would
    accept land in ``messages``; those it would refuse land in ``rejected`` and get Slack's
    error. ``fail_next`` makes the next requests fail the way Slack fails under load.
    """

    def __init__(self, token: str = "xoxb-test-token", channel_id: str = "C123") -> None:
        super().__init__(_SlackHandler)
        self.token = token
        self.channel_id = channel_id
        self._messages: list[dict[str, Any]] = []
        self._rejected: list[dict[str, Any]] = []
        self._failures: list[tuple[str, int]] = []
        self._served: list[ServedFailure] = []
        self._ts = itertools.count(1)

    @property
    def api_url(self) -> str:
        return self.url("/api/")

    @property
    def webhook_url(self) -> str:
        return self.url("/webhook/T000/B000/XXXX")

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._rejected)

    @property
    def failures_served(self) -> list[ServedFailure]:
        with self._lock:
            return list(self._served)

    def fail_next(self, kind: str, count: int = 1, retry_after: int = 1) -> None:
        """Make the next ``count`` message requests fail.

        ``kind`` is ``"429"`` (rate limited, with ``Retry-After: retry_after``), ``"500"``, or
        a Slack error string such as ``"channel_not_found"``. Failures queue up in order and
        each is used up by one request to either endpoint.
        """
        with self._lock:
            self._failures.extend([(kind, retry_after)] * count)

    def clear_failures(self) -> int:
        """Drop the failures not yet served ("Slack is back") and return how many there were."""
        with self._lock:
            dropped = len(self._failures)
            self._failures.clear()
            return dropped

    def _next_failure(self, endpoint: str) -> tuple[str, int] | None:
        with self._lock:
            if not self._failures:
                return None
            kind, retry_after = self._failures.pop(0)
            self._served.append(ServedFailure(kind, endpoint))
            return kind, retry_after

    def _next_ts(self) -> str:
        micros = 100 * next(self._ts)
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _accept(self, payload: dict[str, Any], endpoint: str) -> None:
        with self._lock:
            self._messages.append({**payload, "_endpoint": endpoint})

    def _reject(self, payload: dict[str, Any], endpoint: str, error: str) -> None:
        with self._lock:
            self._rejected.append({**payload, "_endpoint": endpoint, "_error": error})

    def _handle_api(self, method: str, auth: str, content_type: str, raw: bytes) -> _Reply:
        if method not in ("chat.postMessage", "auth.test"):
            return _json_reply({"ok": False, "error": "unknown_method"}, status=404)
        payload = _parse_body(content_type, raw)
        if payload is None:
            return _json_reply({"ok": False, "error": "invalid_json"})
        # Slack also accepts the token as a form field; slack-sdk always sends the header.
        # Popped either way so that no token ends up among the recorded messages.
        form_token = payload.pop("token", None)
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else form_token
        if method == "chat.postMessage":
            failure = self._next_failure("chat.postMessage")
            if failure is not None:
                return self._api_failure(*failure)
        if not token:
            return _json_reply({"ok": False, "error": "not_authed"})
        if token != self.token:
            return _json_reply({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return _json_reply(
                {
                    "ok": True,
                    "url": self.url("/"),
                    "team": "Test Team",
                    "user": "monitor",
                    "team_id": "T000",
                    "user_id": "U000",
                    "bot_id": "B000",
                }
            )
        error = "channel_not_found" if not payload.get("channel") else _block_error(payload)
        if error is not None:
            self._reject(payload, "chat.postMessage", error)
            return _json_reply({"ok": False, "error": error})
        self._accept(payload, "chat.postMessage")
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": "U000",
            "bot_id": "B000",
            "ts": ts,
            "text": payload.get("text", ""),
        }
        if "blocks" in payload:
            message["blocks"] = payload["blocks"]
        return _json_reply({"ok": True, "channel": self.channel_id, "ts": ts, "message": message})

    @staticmethod
    def _api_failure(kind: str, retry_after: int) -> _Reply:
        if kind == "429":
            retry = {"Retry-After": str(retry_after)}
            return _json_reply({"ok": False, "error": "ratelimited"}, 429, retry)
        if kind == "500":
            return _json_reply({"ok": False, "error": "fatal_error"}, status=500)
        return _json_reply({"ok": False, "error": kind})

    def _handle_webhook(self, content_type: str, raw: bytes) -> _Reply:
        failure = self._next_failure("webhook")
        if failure is not None:
            kind, retry_after = failure
            if kind == "429":
                return _text_reply("rate_limited", 429, {"Retry-After": str(retry_after)})
            if kind == "500":
                return _text_reply("internal_error", 500)
            return _text_reply(kind, _WEBHOOK_ERROR_STATUS.get(kind, 400))
        payload = _parse_body(content_type, raw)
        # The legacy form shape wraps the JSON in a single `payload` field.
        if payload is not None and isinstance(payload.get("payload"), str):
            try:
                payload = json.loads(payload["payload"])
            except ValueError:
                payload = None
        if not isinstance(payload, dict):
            return _text_reply("invalid_payload", 400)
        error = _block_error(payload)
        if error is not None:
            self._reject(payload, "webhook", error)
            return _text_reply(error, 400)
        self._accept(payload, "webhook")
        return _text_reply("ok", 200)


# --------------------------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One delivered message with its SMTP envelope (which may differ from To:/From:)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class _RecordingHandler:
    """aiosmtpd handler: parse and keep every message; outlives server restarts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[ReceivedMail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message)
        with self.lock:
            self.messages.append(mail)
        return "250 Message accepted for delivery"


class _LoopbackController(Controller):
    """Controller that can bind port 0 and report the port it got.

    Stock Controller needs the port up front: its readiness probe connects to ``self.port``.
    We learn the real port from the bound socket before that probe runs.
    """

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and restarted on the same port.

    A Controller closes its event loop on stop, so each ``start()`` builds a new one; the
    handler (and so ``messages``) is kept across restarts. The port is chosen by the first
    start and reused after, so clients configured with it reconnect once the server is back.
    """

    # Given explicitly so that aiosmtpd does not call socket.getfqdn(), a DNS lookup.
    SERVER_HOSTNAME: ClassVar[str] = "smtp.test.invalid"

    def __init__(self, port: int = 0) -> None:
        self.host = LOOPBACK
        self.port = port
        self._handler = _RecordingHandler()
        self._controller: _LoopbackController | None = None

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = _LoopbackController(
            self._handler,
            hostname=self.host,
            port=self.port,
            loop=asyncio.new_event_loop(),
            ready_timeout=5.0,
            server_hostname=self.SERVER_HOSTNAME,
        )
        try:
            controller.start()
        except BaseException:
            # A failed start leaves a running loop thread only if binding succeeded; either
            # way the loop must be closed or it leaks (ResourceWarning under -W error).
            controller.stop(no_assert=True)
            _close_loop(controller.loop)
            raise
        self.port = controller.port
        self._controller = controller

    def stop(self) -> None:
        """Stop listening; the port is free afterwards (connections are refused)."""
        if self._controller is None:
            return
        controller, self._controller = self._controller, None
        controller.stop()
        _close_loop(controller.loop)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    if not loop.is_closed() and not loop.is_running():
        loop.close()


def free_port() -> int:
    """A port free on 127.0.0.1 right now, for tests that need a closed port to connect to."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
