"""Notifiers: rendering (pure) and delivery to real local Slack-shaped and SMTP servers."""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from servers import SlackServer, SmtpServer, free_port

from monitor.config import EmailConfig, SlackConfig
from monitor.errors import DeliveryError
from monitor.models import Alert, Match
from monitor.notify import Notifier
from monitor.notify.console import ConsoleNotifier
from monitor.notify.email import EmailNotifier, build_message, message_id
from monitor.notify.render import (
    SLACK_TOTAL_LIMIT,
    email_html,
    email_subject,
    fit_blocks,
    plain_text,
    slack_message,
)
from monitor.notify.slack import SlackNotifier

HOSTILE = "<!channel> & <@U123> @here"
ZWJ = "\u200d"


def make_alert(**changes: Any) -> Alert:
    alert = Alert(
        hit_id=42,
        rule_id="syria",
        rule_title="Syria watch",
        story_title="Assad meets envoy in Damascus",
        story_url="https://news.example.org/world/assad-envoy?id=7&lang=en",
        source="example-news",
        published_at=datetime(2026, 11, 3, 9, 30, 5, tzinfo=UTC),
        matches=(
            Match("entity", "Bashar al-Assad", "Assad", "title", 0, 5),
            Match("keyword", "ceasefire", "cease-fire", "body", 10, 20, score=91.5),
            Match("phrase", "peace talks", "Peace talks", "body", 30, 41),
        ),
    )
    return replace(alert, **changes)


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


# --- plain text -------------------------------------------------------------------------


def test_plain_text_names_rule_story_and_why() -> None:
    text = plain_text(make_alert())

    assert text.splitlines() == [
        "Rule: Syria watch [syria]",
        "Story: Assad meets envoy in Damascus",
        "URL: https://news.example.org/world/assad-envoy?id=7&lang=en",
        "Source: example-news",
        "Published: 2026-11-03T09:30:05+00:00",
        'Matched: entity "Bashar al-Assad" as "Assad", '
        'keyword "ceasefire" as "cease-fire" (score 92), phrase "peace talks"',
    ]


def test_plain_text_converts_published_time_to_utc() -> None:
    plus_two = datetime(2026, 11, 3, 13, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert "Published: 2026-11-03T11:30:05+00:00" in plain_text(make_alert(published_at=plus_two))


def test_plain_text_keeps_each_field_on_one_line_without_control_characters() -> None:
    text = plain_text(make_alert(story_title="Fake\nRule: other\x1b[2J\x07 title"))

    assert "Story: Fake Rule: other[2J title" in text
    assert len(text.splitlines()) == 6
    assert "\x1b" not in text and "\x07" not in text


def test_plain_text_lists_a_repeated_match_once() -> None:
    match = Match("entity", "Bashar al-Assad", "Assad", "body", 0, 5)
    alert = make_alert(matches=(match, replace(match, start=50, end=55)))
    assert plain_text(alert).endswith('Matched: entity "Bashar al-Assad" as "Assad"')


# --- Slack ------------------------------------------------------------------------------


def test_slack_message_blocks() -> None:
    text, blocks = slack_message(make_alert())

    assert text == "Syria watch: Assad meets envoy in Damascus"
    assert [b["type"] for b in blocks] == ["header", "section", "context", "section"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": ":bell: Syria watch · normal",
        "emoji": True,
    }
    assert blocks[1]["text"]["text"] == (
        "*<https://news.example.org/world/assad-envoy?id=7&amp;lang=en"
        "|Assad meets envoy in Damascus>*"
    )
    context = [e["text"] for e in blocks[2]["elements"]]
    assert context == [
        "Source: *example-news*",
        "Published: <!date^1793698205^{ago} ({date_short_pretty} {time})"
        "|2026-11-03T09:30:05+00:00>",
        "Rule: `syria`",
    ]
    assert blocks[3]["text"]["text"] == (
        "*Why:*\n"
        "• *Bashar al-Assad* (entity) as “Assad”\n"
        "• *ceasefire* (keyword) as “cease-fire” (score 92)\n"
        "• *peace talks* (phrase)"
    )


def test_slack_message_escapes_hostile_story_text() -> None:
    alert = make_alert(
        story_title=HOSTILE,
        source="<https://evil.example|src> @channel",
        matches=(Match("entity", "Bashar al-Assad", "<!everyone> @Everyone", "body", 0, 5),),
    )

    text, blocks = slack_message(alert)

    escaped_title = f"&lt;!channel&gt; &amp; &lt;@U123&gt; @{ZWJ}here"
    assert text == f"Syria watch: {escaped_title}"
    assert blocks[1]["text"]["text"].endswith(f"|{escaped_title}>*")
    assert blocks[2]["elements"][0]["text"] == (
        f"Source: *&lt;https://evil.example|src&gt; @{ZWJ}channel*"
    )
    assert f"“&lt;!everyone&gt; @{ZWJ}Everyone”" in blocks[3]["text"]["text"]
    # The only "<" left anywhere are the link and the date we made ourselves.
    payload = json.dumps([text, blocks], ensure_ascii=False)
    assert payload.count("<") == 2
    assert payload.count("<!") == 1 and "<!date^" in payload
    assert re.search(r"@(here|channel|everyone)", payload, re.IGNORECASE) is None


def test_slack_url_cannot_break_out_of_the_link() -> None:
    alert = make_alert(story_url="https://evil.example/a|<!channel>&x>y", story_title="t")
    _, blocks = slack_message(alert)
    assert blocks[1]["text"]["text"] == "*<https://evil.example/a&lt;!channel&gt;&amp;x&gt;y|t>*"


def test_slack_does_not_link_other_schemes() -> None:
    _, blocks = slack_message(make_alert(story_url="javascript:alert(1)", story_title="t"))
    assert blocks[1]["text"]["text"] == "*t*"


def test_slack_message_truncates_to_slack_limits() -> None:
    alert = make_alert(
        rule_title="R" * 10_000,
        story_title="T" * 10_000,
        source="S" * 10_000,
        matches=(Match("phrase", "p" * 5000, "q" * 5000, "body", 0, 1),),
    )

    text, blocks = slack_message(alert)

    header = blocks[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("R…")
    assert header.startswith(":bell: R")
    assert len(text) <= 3000
    for section in section_texts(blocks):
        assert len(section) <= 3000
        assert section.endswith("…") or section.endswith("…>*") or section.endswith("…*")
    assert blocks[1]["text"]["text"].startswith("*<https://news.example.org/")
    assert all(len(e["text"]) <= 3000 for e in blocks[2]["elements"])


def test_slack_truncation_never_splits_an_escape() -> None:
    _, blocks = slack_message(make_alert(rule_title="&" * 200))
    header = blocks[0]["text"]["text"]
    assert len(header) <= 150
    assert re.fullmatch(r":bell: (&amp;)+…", header)


def test_slack_message_caps_blocks_at_fifty() -> None:
    matches = tuple(
        Match("keyword", f"term-{i}-" + "x" * 200, f"text {i}", "body", 0, 1, score=90)
        for i in range(2000)
    )

    _, blocks = slack_message(make_alert(matches=matches))

    assert len(blocks) <= 50
    assert all(len(text) <= 3000 for text in section_texts(blocks))
    assert sum(len(text) for text in section_texts(blocks)) <= SLACK_TOTAL_LIMIT
    assert blocks[-1]["type"] == "context"
    assert re.fullmatch(r"… \(\d+ more\)", blocks[-1]["elements"][0]["text"])


def test_slack_message_caps_many_small_blocks_at_fifty() -> None:
    # Short lines, each its own block: the 50-block limit bites before the text limit.
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"line {i}"}} for i in range(80)
    ]

    fitted = fit_blocks(blocks)

    assert len(fitted) == 50
    assert fitted[-1]["elements"][0]["text"] == "… (31 more)"


# --- email rendering --------------------------------------------------------------------


def test_email_subject() -> None:
    assert email_subject(make_alert()) == "[monitor] Syria watch: Assad meets envoy in Damascus"


def test_email_subject_is_one_line_without_controls() -> None:
    subject = email_subject(make_alert(story_title="Hello\r\nBcc: evil@example.org\x00\x1b"))
    assert subject == "[monitor] Syria watch: Hello Bcc: evil@example.org"


def test_email_subject_is_truncated() -> None:
    subject = email_subject(make_alert(story_title="T" * 10_000))
    assert len(subject) == 200 and subject.endswith("T…")


def test_email_html_escapes_everything() -> None:
    alert = make_alert(
        story_title="<script>alert(1)</script>",
        story_url='https://x.example/?a=1&b="><img src=x>',
        source="<b>src</b>",
    )

    body = email_html(alert)

    assert "<script>" not in body and "<img" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'href="https://x.example/?a=1&amp;b=&quot;&gt;&lt;img src=x&gt;"' in body
    assert "<strong>Bashar al-Assad</strong> as “Assad”" in body


def test_email_html_does_not_link_other_schemes() -> None:
    assert "href" not in email_html(make_alert(story_url="javascript:alert(1)"))


def test_email_message_headers() -> None:
    message = build_message(make_alert(), "Monitor <monitor@example.org>", ["desk@example.org"])

    assert message["From"] == "Monitor <monitor@example.org>"
    assert message["To"] == "desk@example.org"
    assert message["List-Id"] == "<syria.monitor>"
    assert message["Message-ID"] == message_id(42, ["desk@example.org"], "monitor@example.org")
    assert message["Message-ID"].endswith("@example.org>")
    assert message.get_content_type() == "multipart/alternative"


def test_message_id_is_stable_per_hit_and_recipients() -> None:
    first = message_id(42, ["a@example.org", "b@example.org"], "m@example.org")
    assert first == message_id(42, ["B@example.org", "a@example.org"], "m@example.org")
    assert first != message_id(43, ["a@example.org", "b@example.org"], "m@example.org")
    assert first != message_id(42, ["a@example.org"], "m@example.org")


def test_email_rejects_a_malformed_address() -> None:
    with pytest.raises(DeliveryError) as caught:
        build_message(make_alert(), "monitor@example.org", ["not an address"])
    assert caught.value.retryable is False
    assert "notify.email" in caught.value.hint


# --- console ----------------------------------------------------------------------------


def test_console_prints_plain_text_and_a_blank_line() -> None:
    stream = io.StringIO()
    notifier: Notifier = ConsoleNotifier(stream=stream)

    notifier.send(make_alert(), "-")

    assert notifier.channel == "console"
    assert stream.getvalue() == plain_text(make_alert()) + "\n\n"


# --- Slack delivery (real HTTP server) --------------------------------------------------


def bot(server: SlackServer, channel: str = "#media-alerts") -> SlackNotifier:
    return SlackNotifier(SlackConfig(token=server.token, channel=channel, base_url=server.api_url))


def webhook(server: SlackServer) -> SlackNotifier:
    return SlackNotifier(SlackConfig(webhook_url=server.webhook_url))


def assert_no_secrets(error: BaseException, *secrets: str) -> None:
    exc: BaseException | None = error
    while exc is not None:
        for text in (str(exc), repr(exc), getattr(exc, "hint", "")):
            for secret in secrets:
                assert secret not in text
        exc = exc.__cause__


def test_webhook_delivery(slack_server: SlackServer) -> None:
    alert = make_alert(story_title=HOSTILE)

    webhook(slack_server).send(alert, "#ignored-by-webhooks")

    [message] = slack_server.messages
    text, blocks = slack_message(alert)
    assert message["_endpoint"] == "webhook"
    assert message["text"] == text
    assert message["blocks"] == blocks
    assert message["unfurl_links"] is False
    assert slack_server.rejected == []


def test_bot_delivery_to_default_and_rule_channel(slack_server: SlackServer) -> None:
    notifier = bot(slack_server)
    assert notifier.channel == "slack"

    notifier.send(make_alert(), "")
    notifier.send(make_alert(), "#desk")

    first, second = slack_server.messages
    assert first["_endpoint"] == "chat.postMessage"
    assert (first["channel"], second["channel"]) == ("#media-alerts", "#desk")
    assert first["blocks"] == slack_message(make_alert())[1]
    assert first["unfurl_links"] is False


def test_huge_alert_is_accepted_by_slack_limits(slack_server: SlackServer) -> None:
    matches = tuple(Match("keyword", f"t{i}" * 50, "x", "body", 0, 1) for i in range(2000))
    alert = make_alert(rule_title="R" * 10_000, story_title="T" * 10_000, matches=matches)

    bot(slack_server).send(alert, "")

    assert len(slack_server.messages) == 1
    assert slack_server.rejected == []


@pytest.mark.parametrize("make", [bot, webhook], ids=["bot", "webhook"])
def test_rate_limit_is_retried_after_retry_after(slack_server: SlackServer, make: Any) -> None:
    slack_server.fail_next("429", count=1, retry_after=1)

    started = time.monotonic()
    make(slack_server).send(make_alert(), "")

    assert time.monotonic() - started >= 1.0
    assert [f.kind for f in slack_server.failures_served] == ["429"]
    assert len(slack_server.messages) == 1


def test_rate_limit_beyond_retries_is_retryable(slack_server: SlackServer) -> None:
    slack_server.fail_next("429", count=4, retry_after=0)

    with pytest.raises(DeliveryError) as caught:
        bot(slack_server).send(make_alert(), "")

    assert caught.value.retryable is True
    assert "rate limited" in caught.value.message
    assert len(slack_server.failures_served) == 4
    assert slack_server.messages == []


@pytest.mark.parametrize("make", [bot, webhook], ids=["bot", "webhook"])
def test_channel_not_found_is_not_retryable(slack_server: SlackServer, make: Any) -> None:
    slack_server.fail_next("channel_not_found")

    with pytest.raises(DeliveryError) as caught:
        make(slack_server).send(make_alert(), "#gone")

    assert caught.value.retryable is False
    assert "channel_not_found" in caught.value.message
    assert "channel" in caught.value.hint
    assert_no_secrets(caught.value, slack_server.token, slack_server.webhook_url)


@pytest.mark.parametrize("make", [bot, webhook], ids=["bot", "webhook"])
def test_server_error_is_retryable(slack_server: SlackServer, make: Any) -> None:
    slack_server.fail_next("500")

    with pytest.raises(DeliveryError) as caught:
        make(slack_server).send(make_alert(), "")

    assert caught.value.retryable is True
    assert "HTTP 500" in caught.value.message
    assert_no_secrets(caught.value, slack_server.token, slack_server.webhook_url)


def test_not_in_channel_hint(slack_server: SlackServer) -> None:
    slack_server.fail_next("not_in_channel")

    with pytest.raises(DeliveryError) as caught:
        bot(slack_server).send(make_alert(), "#private")

    assert caught.value.retryable is False
    assert "/invite" in caught.value.hint and "#private" in caught.value.hint


def test_wrong_token_is_not_retryable_and_not_shown(slack_server: SlackServer) -> None:
    secret = "xoxb-wrong-secret-token"
    notifier = SlackNotifier(SlackConfig(token=secret, channel="#x", base_url=slack_server.api_url))

    with pytest.raises(DeliveryError) as caught:
        notifier.send(make_alert(), "")

    assert caught.value.retryable is False
    assert "invalid_auth" in caught.value.message
    assert "notify.slack.token" in caught.value.hint
    assert_no_secrets(caught.value, secret)


@pytest.mark.parametrize("kind", ["bot", "webhook"])
def test_unreachable_slack_is_retryable_and_secrets_stay_hidden(kind: str) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    token, hook = "xoxb-secret-token-123", f"{base}/webhook/T1/B1/very-secret-path"
    config = (
        SlackConfig(token=token, channel="#x", base_url=f"{base}/api/")
        if kind == "bot"
        else SlackConfig(webhook_url=hook)
    )

    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(config).send(make_alert(), "")

    assert caught.value.retryable is True
    assert "cannot reach Slack" in caught.value.message
    assert_no_secrets(caught.value, token, hook, "very-secret-path")


def test_bad_webhook_url_does_not_leak_it() -> None:
    hook = "ftp://hooks.example/services/T1/B1/very-secret-path"

    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(SlackConfig(webhook_url=hook)).send(make_alert(), "")

    assert caught.value.retryable is False
    assert_no_secrets(caught.value, hook, "very-secret-path")


# --- email delivery (real aiosmtpd server) ----------------------------------------------


def email_config(server: SmtpServer, **changes: Any) -> EmailConfig:
    config = EmailConfig(
        host=server.host,
        port=server.port,
        sender="monitor@example.org",
        recipients=("desk@example.org",),
        timeout=timedelta(seconds=5),
    )
    return replace(config, **changes)


def test_email_delivery(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(email_config(smtp_server))
    assert notifier.channel == "email"

    notifier.send(make_alert(), "")

    [mail] = smtp_server.messages
    message = mail.message
    assert mail.mail_from == "monitor@example.org"
    assert mail.rcpt_tos == ("desk@example.org",)
    assert message["Subject"] == "[monitor] Syria watch: Assad meets envoy in Damascus"
    assert message["From"] == "monitor@example.org"
    assert message["To"] == "desk@example.org"
    assert message["Message-ID"] == message_id(42, ["desk@example.org"], "monitor@example.org")
    assert message["List-Id"] == "<syria.monitor>"
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    lines = parts["text/plain"].splitlines()
    expected = plain_text(make_alert()).splitlines()
    assert [line for line in lines if not line.startswith("Published:")] == [
        line for line in expected if not line.startswith("Published:")
    ]
    # In the email the published time also says how long ago that was.
    assert re.fullmatch(r"Published: 2026-11-03T09:30:05\+00:00 \(.+\)", lines[4])
    assert "<strong>Bashar al-Assad</strong>" in parts["text/html"]


def test_email_target_overrides_recipients_and_resend_keeps_message_id(
    smtp_server: SmtpServer,
) -> None:
    notifier = EmailNotifier(email_config(smtp_server))

    notifier.send(make_alert(), "a@example.org, Desk B <b@example.org>")
    notifier.send(make_alert(), "a@example.org, Desk B <b@example.org>")

    first, second = smtp_server.messages
    assert first.rcpt_tos == ("a@example.org", "b@example.org")
    assert first.message["To"] == "a@example.org, Desk B <b@example.org>"
    assert first.message["Message-ID"] == second.message["Message-ID"]


def test_email_subject_injection_stays_in_the_subject(smtp_server: SmtpServer) -> None:
    alert = make_alert(story_title="Hello\r\nBcc: evil@example.org")

    EmailNotifier(email_config(smtp_server)).send(alert, "")

    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ("desk@example.org",)
    assert mail.message["Bcc"] is None
    assert mail.message["Subject"] == "[monitor] Syria watch: Hello Bcc: evil@example.org"


def test_stopped_smtp_server_is_retryable(smtp_server: SmtpServer) -> None:
    smtp_server.stop()

    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(email_config(smtp_server)).send(make_alert(), "")

    assert caught.value.retryable is True
    assert f"{smtp_server.host}:{smtp_server.port}" in caught.value.message


def test_login_failure_is_not_retryable_and_hides_the_password(smtp_server: SmtpServer) -> None:
    # The test server offers no AUTH at all, which is a setup problem just like a bad password.
    config = email_config(smtp_server, username="monitor", password="hunter2-secret")

    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(config).send(make_alert(), "")

    assert caught.value.retryable is False
    assert_no_secrets(caught.value, "hunter2-secret")
    assert smtp_server.messages == []


def test_no_recipients_is_not_retryable(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(email_config(smtp_server, recipients=())).send(make_alert(), " , ")
    assert caught.value.retryable is False
