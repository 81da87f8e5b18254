"""The test servers behave like the real services they stand in for, and never hang a test."""

from __future__ import annotations

import smtplib
import socket
import time
from email.message import EmailMessage

import httpx
import pytest
from servers import FeedServer, ServedFailure, SlackServer, SmtpServer
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError

RSS = "<?xml version='1.0'?><rss version='2.0'><channel><title>World</title></channel></rss>"


def _mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "monitor@example.test"
    message["To"] = "desk@example.test"
    message["Subject"] = subject
    message.set_content("Body of " + subject)
    return message


def _send(server: SmtpServer, message: EmailMessage) -> None:
    # local_hostname avoids smtplib's socket.getfqdn(), a DNS lookup.
    with smtplib.SMTP(server.host, server.port, local_hostname="localhost", timeout=5) as smtp:
        smtp.send_message(message)


# Feeds


def test_feed_route_and_unknown_path(feed_server: FeedServer) -> None:
    url = feed_server.route("/world.xml", RSS, headers={"X-Test": "1"})
    assert url == feed_server.url("world.xml")
    assert url.startswith("http://127.0.0.1:")

    response = httpx.get(url, timeout=2)
    missing = httpx.get(feed_server.url("/nope.xml"), timeout=2)

    assert response.status_code == 200
    assert response.text == RSS
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert response.headers["x-test"] == "1"
    assert missing.status_code == 404
    assert [(r.method, r.path) for r in feed_server.requests] == [
        ("GET", "/world.xml"),
        ("GET", "/nope.xml"),
    ]
    assert "user-agent" in feed_server.requests[0].headers


def test_feed_route_can_be_replaced_and_serve_errors(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed", RSS)
    feed_server.route("/feed", "oops", status=503, content_type="text/plain")

    response = httpx.get(url + "?page=2", timeout=2)

    assert (response.status_code, response.text) == (503, "oops")
    assert len(feed_server.requests_for("/feed")) == 1


def test_feed_etag_conditional_get(feed_server: FeedServer) -> None:
    url = feed_server.route("/world.xml", RSS, etag=True)
    first = httpx.get(url, timeout=2)
    etag = first.headers["etag"]

    again = httpx.get(url, headers={"If-None-Match": etag}, timeout=2)
    feed_server.route("/world.xml", RSS + "<!-- changed -->", etag=True)
    changed = httpx.get(url, headers={"If-None-Match": etag}, timeout=2)

    assert first.status_code == 200
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert feed_server.requests[1].headers["if-none-match"] == etag


def test_feed_delay_outlasts_client_timeout_and_close_is_prompt() -> None:
    server = FeedServer()
    server.start()
    url = server.route("/slow.xml", RSS, delay=30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=0.2)

    started = time.monotonic()
    server.close()

    assert time.monotonic() - started < 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=0.5)


# Slack


def test_web_client_post_message_is_recorded(slack_server: SlackServer) -> None:
    client = WebClient(token=slack_server.token, base_url=slack_server.api_url, timeout=5)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hit*"}}]

    first = client.chat_postMessage(channel="#alerts", text="Hit", blocks=blocks)
    second = client.chat_postMessage(channel="#alerts", text="Another")

    assert first["ok"] is True
    assert first["channel"] == "C123"
    assert float(first["ts"]) < float(second["ts"])
    assert first["message"]["blocks"] == blocks
    messages = slack_server.messages
    assert [m["_endpoint"] for m in messages] == ["chat.postMessage"] * 2
    assert messages[0]["blocks"] == blocks
    assert messages[0]["channel"] == "#alerts"


def test_web_client_with_wrong_token_is_refused(slack_server: SlackServer) -> None:
    client = WebClient(token="xoxb-wrong", base_url=slack_server.api_url, timeout=5)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="#alerts", text="Hit")

    assert raised.value.response["error"] == "invalid_auth"
    assert slack_server.messages == []


def test_web_client_sees_injected_failures(slack_server: SlackServer) -> None:
    client = WebClient(token=slack_server.token, base_url=slack_server.api_url, timeout=5)
    slack_server.fail_next("429", retry_after=7)
    slack_server.fail_next("channel_not_found")

    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="#alerts", text="Hit")
    with pytest.raises(SlackApiError) as missing:
        client.chat_postMessage(channel="#alerts", text="Hit")
    client.chat_postMessage(channel="#alerts", text="Hit")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert missing.value.response.status_code == 200
    assert missing.value.response["error"] == "channel_not_found"
    assert slack_server.failures_served == [
        ServedFailure("429", "chat.postMessage"),
        ServedFailure("channel_not_found", "chat.postMessage"),
    ]
    assert len(slack_server.messages) == 1


def test_web_client_oversized_blocks_are_rejected(slack_server: SlackServer) -> None:
    client = WebClient(token=slack_server.token, base_url=slack_server.api_url, timeout=5)
    header = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="#alerts", text="Hit", blocks=header)

    assert raised.value.response["error"] == "invalid_blocks"
    assert slack_server.messages == []
    assert slack_server.rejected[0]["_error"] == "invalid_blocks"


def test_form_encoded_api_call_is_accepted(slack_server: SlackServer) -> None:
    response = httpx.post(
        slack_server.api_url + "chat.postMessage",
        data={"channel": "C123", "text": "Hit", "blocks": '[{"type": "divider"}]'},
        headers={"Authorization": f"Bearer {slack_server.token}"},
        timeout=2,
    )

    assert response.json()["ok"] is True
    assert slack_server.messages[0]["blocks"] == [{"type": "divider"}]


def test_webhook_send_is_recorded(slack_server: SlackServer) -> None:
    client = WebhookClient(slack_server.webhook_url, timeout=5)

    response = client.send(text="Hit", blocks=[{"type": "divider"}])

    assert (response.status_code, response.body) == (200, "ok")
    assert slack_server.messages == [
        {"text": "Hit", "blocks": [{"type": "divider"}], "_endpoint": "webhook"}
    ]


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"blocks": []}, "no_text"),
        ({"text": "Hit", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        (
            {"text": "Hit", "blocks": [{"type": "section", "text": {"text": "x" * 3001}}]},
            "invalid_blocks",
        ),
    ],
)
def test_webhook_rejects_what_slack_rejects(
    slack_server: SlackServer, payload: dict[str, object], error: str
) -> None:
    response = httpx.post(slack_server.webhook_url, json=payload, timeout=2)

    assert (response.status_code, response.text) == (400, error)
    assert slack_server.messages == []
    assert [r["_error"] for r in slack_server.rejected] == [error]


def test_webhook_injected_failures(slack_server: SlackServer) -> None:
    client = WebhookClient(slack_server.webhook_url, timeout=5)
    slack_server.fail_next("429", retry_after=3)
    slack_server.fail_next("500")
    slack_server.fail_next("channel_not_found")

    statuses = [client.send(text="Hit") for _ in range(4)]

    assert [(r.status_code, r.body) for r in statuses] == [
        (429, "rate_limited"),
        (500, "internal_error"),
        (404, "channel_not_found"),
        (200, "ok"),
    ]
    assert statuses[0].headers["retry-after"] == "3"
    assert [f.kind for f in slack_server.failures_served] == ["429", "500", "channel_not_found"]


def test_unserved_failures_can_be_cleared(slack_server: SlackServer) -> None:
    slack_server.fail_next("500", count=5)
    WebhookClient(slack_server.webhook_url, timeout=5).send(text="Hit")

    assert slack_server.clear_failures() == 4
    assert WebhookClient(slack_server.webhook_url, timeout=5).send(text="Hit").status_code == 200


# SMTP


def test_smtp_records_message_and_envelope(smtp_server: SmtpServer) -> None:
    _send(smtp_server, _mail("First hit"))

    [mail] = smtp_server.messages
    assert mail.mail_from == "monitor@example.test"
    assert mail.rcpt_tos == ("desk@example.test",)
    assert mail.message["Subject"] == "First hit"
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().strip() == "Body of First hit"


def test_smtp_stop_and_restart_on_same_port(smtp_server: SmtpServer) -> None:
    port = smtp_server.port
    _send(smtp_server, _mail("Before"))

    smtp_server.stop()
    with pytest.raises(ConnectionRefusedError):
        _send(smtp_server, _mail("While down"))
    smtp_server.start()
    _send(smtp_server, _mail("After"))

    assert smtp_server.port == port
    assert [m.message["Subject"] for m in smtp_server.messages] == ["Before", "After"]


# All together


def test_servers_resolve_nothing_but_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """No name lookup or connection may leave 127.0.0.1, even during start-up."""
    lookups: list[object] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    def refusing_getfqdn(name: str = "") -> str:
        lookups.append(f"getfqdn({name})")
        return name

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    monkeypatch.setattr(socket, "getfqdn", refusing_getfqdn)
    with FeedServer() as feeds, SlackServer() as slack, SmtpServer() as smtp:
        httpx.get(feeds.route("/a.xml", RSS), timeout=2)
        client = WebClient(token=slack.token, base_url=slack.api_url, timeout=5)
        client.chat_postMessage(channel="C1", text="Hit")
        _send(smtp, _mail("Hit"))

    assert lookups
    assert set(lookups) == {"127.0.0.1"}
