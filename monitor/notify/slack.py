"""The Slack notifier: an Incoming Webhook, or a bot token and ``chat.postMessage``.

slack-sdk does the HTTP. A 429 whose ``Retry-After`` is short (at most
``MAX_INLINE_WAIT`` seconds) is waited out inside the send by slack-sdk's
``RateLimitErrorRetryHandler``; a longer one comes back as SendFailed with
``retry_after``, so the outbox parks that channel instead of a thread sleeping
for an hour. Connection errors are not retried here: a request that reached
Slack before the connection broke may have been posted, and the outbox's
retry (with the same attempt key) is the one place that knows how to check.

With a bot token every message carries Slack message metadata
(``event_type: monitor_alert``, ``event_payload.key``: the send attempt),
which is what ``find_sent`` looks for in the channel's history after a crash,
and the reply to ``chat.postMessage`` gives the ``ts`` that threads hang on.

``parse=none`` and ``link_names=false`` tell Slack not to turn names into
mentions or text into links on its side either; render.py escapes the rest.

The token and the webhook URL are secrets (the URL *is* the credential), so no
message built here contains them, and exceptions that might are not chained.
"""

from __future__ import annotations

import logging
import re
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from monitor.config import SlackConfig
from monitor.errors import DeliveryError
from monitor.log import event
from monitor.models import Alert, Digest
from monitor.notify import Receipt, SendFailed
from monitor.notify import templates as custom
from monitor.notify.digest import slack_digest
from monitor.notify.render import (
    SLACK_TEXT_LIMIT,
    fit,
    fit_blocks,
    pack_lines,
    slack_escape,
    slack_header,
    slack_message,
)
from monitor.timeutil import utcnow

TIMEOUT_SECONDS = 15
RATE_LIMIT_RETRIES = 3
#: A 429 asking for a longer wait than this is handed back to the outbox.
MAX_INLINE_WAIT = 5
METADATA_EVENT = "monitor_alert"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")

_TOKEN_HINT = (
    "notify.slack.token is not accepted; copy the Bot User OAuth Token (xoxb-...) from "
    "the Slack app's OAuth & Permissions page"
)
_REINSTALL_HINT = "reinstall the Slack app to the workspace and update notify.slack.token"
_SCOPE_HINT = "give the Slack app the chat:write scope, then reinstall it to the workspace"
_RENDER_HINT = "Slack refused the message itself; this is a bug in monitor, please report it"

# chat.postMessage error codes that waiting will not fix, and what to do instead.
# {channel} is filled in with the channel the message was for.
_API_HINTS = {
    "channel_not_found": "check the channel name in notify.slack.channel or the rule's "
    "notify.slack ({channel}); for a private channel, invite the bot first",
    "not_in_channel": "invite the bot to {channel} (type /invite @your-bot in the channel)",
    "is_archived": "{channel} is archived; unarchive it or send the rule somewhere else",
    "restricted_action": "the workspace does not let the bot post in {channel}; "
    "ask a Slack admin, or choose another channel",
    "invalid_auth": _TOKEN_HINT,
    "not_authed": _TOKEN_HINT,
    "token_revoked": _REINSTALL_HINT,
    "token_expired": _REINSTALL_HINT,
    "account_inactive": "the bot's user or workspace is deactivated; " + _REINSTALL_HINT,
    "no_permission": _SCOPE_HINT,
    "missing_scope": _SCOPE_HINT,
    "invalid_blocks": _RENDER_HINT,
    "msg_too_long": _RENDER_HINT,
    "too_many_attachments": _RENDER_HINT,
}
# Errors Slack documents as temporary.
_API_TRANSIENT = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
_WEBHOOK_HINTS = {
    "no_service": "the Incoming Webhook was removed or disabled; create a new one and "
    "update notify.slack.webhook_url",
    "channel_not_found": "the webhook's channel was deleted; create a new Incoming Webhook "
    "and update notify.slack.webhook_url",
    "channel_is_archived": "the webhook's channel is archived; unarchive it or create a "
    "new Incoming Webhook",
    "action_prohibited": "a Slack admin has restricted posting to the webhook's channel",
    "posting_to_general_channel_denied": "only admins may post in the webhook's channel; "
    "create the Incoming Webhook for another channel",
    "invalid_token": "the webhook URL is no longer valid; create a new Incoming Webhook",
    "team_disabled": "the Slack workspace is disabled",
    "invalid_payload": _RENDER_HINT,
    "no_text": _RENDER_HINT,
}


def retry_after(headers: dict[str, Any] | None) -> float | None:
    """The ``Retry-After`` seconds of a response's headers (any case, list or str), if any."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


class _ShortRateLimits(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, for short waits only; longer ones go back to the outbox."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response.headers)
        return wait is None or wait <= MAX_INLINE_WAIT


def _retry_handlers() -> list[RetryHandler]:
    return [_ShortRateLimits(max_retry_count=RATE_LIMIT_RETRIES)]


class SlackNotifier:
    """Posts alerts as Block Kit messages.

    With ``webhook_url`` the message goes to the webhook's own channel and
    ``target`` is ignored; with a bot token it goes to ``target`` or, when that
    is empty, to ``notify.slack.channel``.
    """

    channel = "slack"

    def __init__(self, config: SlackConfig) -> None:
        self._config = config
        self._secrets = tuple(s for s in (config.token, config.webhook_url) if s)
        self._webhook: WebhookClient | None = None
        self._client: WebClient | None = None
        self._channel_ids: dict[str, str] = {}
        if config.webhook_url:
            self._webhook = WebhookClient(
                url=config.webhook_url,
                timeout=TIMEOUT_SECONDS,
                retry_handlers=_retry_handlers(),
            )
        else:
            self._client = WebClient(
                token=config.token,
                base_url=config.base_url,
                timeout=TIMEOUT_SECONDS,
                retry_handlers=_retry_handlers(),
            )

    @property
    def can_thread(self) -> bool:
        """Only a bot token gets a ``ts`` back and may read the channel's history."""
        return self._client is not None

    def lane(self, target: str) -> str:
        if self._webhook is not None:
            return "webhook"
        return target.strip() or self._config.channel

    def send(self, alert: Alert, target: str, key: str = "") -> Receipt:
        text, blocks = self.layout(alert)
        return self._post(target, text, blocks, key)

    def send_digest(self, digest: Digest, target: str) -> Receipt:
        text, blocks = slack_digest(digest)
        return self._post(target, text, blocks, digest.key)

    def layout(self, alert: Alert) -> tuple[str, list[dict[str, Any]]]:
        """The default Block Kit message, or the rule's own template in its body."""
        text, blocks = slack_message(alert)
        if not alert.templates.slack:
            return text, blocks
        try:
            body = custom.render("slack", alert.templates.slack, alert, utcnow())
        except custom.TemplateError as exc:
            event(
                "template_failed",
                logging.WARNING,
                rule=alert.rule_id,
                template="slack",
                reason=str(exc),
                action="sent with the default layout",
            )
            return text, blocks
        sections = [
            {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
            for chunk in _chunks(body, SLACK_TEXT_LIMIT)
        ]
        return text, fit_blocks(
            [slack_header(slack_escape(alert.rule_title), alert.severity), *sections]
        )

    def notice(self, text: str) -> None:
        """An operations message (plain text, escaped) to the default channel."""
        safe = slack_escape(text)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": safe[:SLACK_TEXT_LIMIT]}}]
        self._post(self._config.channel, safe, blocks, "")

    def reply(self, channel_id: str, thread_ts: str, text: str) -> Receipt:
        """A reply in the thread of message ``thread_ts`` (bot token only)."""
        assert self._client is not None
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        return self._post_message(self._client, channel_id, text, blocks, "", thread_ts)

    def find_sent(
        self, target: str, key: str, since: float, channel_id: str = ""
    ) -> Receipt | None:
        """Look for the message of attempt ``key`` in the channel's history since ``since``.

        Needs the ``channels:history`` (``groups:history`` for private
        channels) scope, and ``channels:read`` to find a channel by name the
        first time; without them this raises and the outbox sends again.
        """
        client = self._client
        if client is None:
            raise DeliveryError("a webhook cannot look up what it posted", retryable=False)
        channel = channel_id or self._channel_id(client, target.strip() or self._config.channel)
        try:
            cursor = ""
            while True:
                response = client.api_call(
                    "conversations.history",
                    data={
                        "channel": channel,
                        "oldest": f"{since:.6f}",
                        "include_all_metadata": "true",
                        "limit": 200,
                        **({"cursor": cursor} if cursor else {}),
                    },
                )
                for message in response.get("messages") or []:
                    metadata = message.get("metadata") or {}
                    payload = metadata.get("event_payload") or {}
                    if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                        return Receipt(channel, str(message.get("ts", "")))
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
                if not cursor:
                    return None
        except SlackApiError as exc:
            raise self._api_error(exc, channel, "conversations.history") from self._safe_cause(exc)
        except (SlackClientError, HTTPException, OSError, ValueError) as exc:
            raise self._connection_error(exc) from self._safe_cause(exc)

    def _channel_id(self, client: WebClient, name: str) -> str:
        """``C0123ABC`` for ``#desk``: the history API wants ids, chat.postMessage takes both."""
        if _CHANNEL_ID.match(name):
            return name
        bare = name.lstrip("#")
        if bare in self._channel_ids:
            return self._channel_ids[bare]
        try:
            cursor = ""
            while True:
                response = client.api_call(
                    "conversations.list",
                    data={
                        "types": "public_channel,private_channel",
                        "exclude_archived": "true",
                        "limit": 1000,
                        **({"cursor": cursor} if cursor else {}),
                    },
                )
                for found in response.get("channels") or []:
                    self._channel_ids[str(found.get("name", ""))] = str(found.get("id", ""))
                if bare in self._channel_ids:
                    return self._channel_ids[bare]
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
                if not cursor:
                    raise DeliveryError(f"no Slack channel named {name!r}", retryable=False)
        except SlackApiError as exc:
            raise self._api_error(exc, name, "conversations.list") from self._safe_cause(exc)
        except (SlackClientError, HTTPException, OSError, ValueError) as exc:
            raise self._connection_error(exc) from self._safe_cause(exc)

    def remember_channel(self, name: str, channel_id: str) -> None:
        """An id learnt from an earlier post (the outbox keeps them), to skip conversations.list."""
        if name and channel_id:
            self._channel_ids[name.strip().lstrip("#")] = channel_id

    def _post(self, target: str, text: str, blocks: list[dict[str, Any]], key: str) -> Receipt:
        if self._webhook is not None:
            self._send_webhook(self._webhook, text, blocks)
            return Receipt()
        assert self._client is not None
        channel = target.strip() or self._config.channel
        return self._post_message(self._client, channel, text, blocks, key)

    def _send_webhook(self, client: WebhookClient, text: str, blocks: list[dict[str, Any]]) -> None:
        try:
            response = client.send(text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)
        except (SlackClientError, HTTPException, OSError, ValueError) as exc:
            raise self._connection_error(exc) from self._safe_cause(exc)
        if response.status_code == 200:
            return
        status = response.status_code
        body = self._redact(str(response.body or "").strip())[:200]
        where = f"Slack webhook answered HTTP {status}" + (f" {body}" if body else "")
        if status == 429:
            raise SendFailed(
                f"{where}: rate limited", retry_after=retry_after(dict(response.headers or {}))
            )
        if status >= 500:
            raise DeliveryError(f"{where}: Slack is having trouble, will retry")
        hint = _WEBHOOK_HINTS.get(
            body,
            "check notify.slack.webhook_url; if the webhook was deleted, create a new one",
        )
        raise DeliveryError(f"{where}: message rejected", retryable=False, hint=hint)

    def _post_message(
        self,
        client: WebClient,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        key: str,
        thread_ts: str | None = None,
    ) -> Receipt:
        if not channel:
            raise DeliveryError(
                "no Slack channel to post to",
                retryable=False,
                hint='set notify.slack.channel (like "#media-alerts") or the rule\'s notify.slack',
            )
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": key}} if key else None
        try:
            response = client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                parse="none",
                link_names=False,
                metadata=metadata,
            )
        except SlackApiError as exc:
            raise self._api_error(exc, channel) from self._safe_cause(exc)
        except (SlackClientError, HTTPException, OSError, ValueError) as exc:
            raise self._connection_error(exc) from self._safe_cause(exc)
        receipt = Receipt(str(response.get("channel") or ""), str(response.get("ts") or ""))
        self.remember_channel(channel, receipt.channel_id)
        return receipt

    def _api_error(
        self, exc: SlackApiError, channel: str, method: str = "chat.postMessage"
    ) -> DeliveryError:
        status = int(exc.response.status_code)
        data = exc.response.data
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        code = self._redact(code)[:200]
        where = f"Slack {method} to {channel!r} failed (HTTP {status}" + (
            f", {code})" if code else ")"
        )
        if status == 429 or code == "ratelimited":
            headers = exc.response.headers
            return SendFailed(
                f"{where}: rate limited",
                retry_after=retry_after(dict(headers) if headers else None),
            )
        if status >= 500 or code in _API_TRANSIENT:
            return DeliveryError(f"{where}: Slack is having trouble, will retry")
        hint = _API_HINTS.get(
            code, "see https://api.slack.com/methods/chat.postMessage#errors for this error"
        )
        return DeliveryError(where, retryable=False, hint=hint.format(channel=channel))

    def _connection_error(self, exc: BaseException) -> DeliveryError:
        if isinstance(exc, SlackRequestError):  # a malformed URL or proxy: waiting won't help
            return DeliveryError(
                f"cannot send to Slack: {self._redact(str(exc))}",
                retryable=False,
                hint="notify.slack.webhook_url and base_url must be full https:// URLs",
            )
        reason = self._redact(str(getattr(exc, "reason", None) or exc or type(exc).__name__))
        # Refused or unresolvable: the request never left. Anything else (a timeout, a
        # dropped connection) may have happened after Slack posted the message.
        refused = isinstance(getattr(exc, "reason", None), ConnectionRefusedError) or isinstance(
            exc, ConnectionRefusedError
        )
        if isinstance(exc, TimeoutError) or "timed out" in reason:
            reason = f"no answer within {TIMEOUT_SECONDS}s ({reason})"
        return SendFailed(
            f"cannot reach Slack: {reason}",
            maybe_sent=not refused and "Name or service not known" not in reason,
            hint="check the network and notify.slack.base_url; will retry",
        )

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _safe_cause(self, exc: BaseException) -> BaseException | None:
        """``exc`` unless its text holds a secret: a chained cause ends up in logs too."""
        return None if self._redact(str(exc)) != str(exc) else exc


def _chunks(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, split between lines where possible."""
    lines = [fit(line, limit) for line in text.strip().splitlines()]
    return pack_lines(lines, limit) or [" "]
