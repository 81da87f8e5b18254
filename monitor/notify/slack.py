"""The Slack notifier: an Incoming Webhook, or a bot token and ``chat.postMessage``.

slack-sdk does the HTTP and the waiting: ``RateLimitErrorRetryHandler`` sleeps
for the ``Retry-After`` of a 429 and tries again (up to three times), and
``ConnectionErrorRetryHandler`` retries once when the connection fails. Whatever
still fails becomes a DeliveryError whose ``retryable`` tells the outbox whether
waiting can help, and whose hint says what to fix when it cannot.

The token and the webhook URL are secrets (the URL *is* the credential), so no
message built here contains them, and exceptions that might are not chained.
"""

from __future__ import annotations

from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from monitor.config import SlackConfig
from monitor.errors import DeliveryError
from monitor.models import Alert
from monitor.notify.render import SLACK_TEXT_LIMIT, slack_escape, slack_message

TIMEOUT_SECONDS = 15
RATE_LIMIT_RETRIES = 3

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


def _retry_handlers() -> list[RetryHandler]:
    return [
        RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ConnectionErrorRetryHandler(),
    ]


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

    def send(self, alert: Alert, target: str) -> None:
        text, blocks = slack_message(alert)
        if self._webhook is not None:
            self._send_webhook(self._webhook, text, blocks)
        else:
            assert self._client is not None
            self._post_message(self._client, target.strip() or self._config.channel, text, blocks)

    def notice(self, text: str) -> None:
        """An operations message (plain text, escaped) to the default channel."""
        safe = slack_escape(text)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": safe[:SLACK_TEXT_LIMIT]}}]
        if self._webhook is not None:
            self._send_webhook(self._webhook, safe, blocks)
        else:
            assert self._client is not None
            self._post_message(self._client, self._config.channel, safe, blocks)

    def _send_webhook(self, client: WebhookClient, text: str, blocks: list[dict[str, Any]]) -> None:
        try:
            response = client.send(text=text, blocks=blocks, unfurl_links=False)
        except (SlackClientError, HTTPException, OSError, ValueError) as exc:
            raise self._connection_error(exc) from self._safe_cause(exc)
        if response.status_code == 200:
            return
        status = response.status_code
        body = self._redact(str(response.body or "").strip())[:200]
        where = f"Slack webhook answered HTTP {status}" + (f" {body}" if body else "")
        if status == 429:
            raise DeliveryError(f"{where}: still rate limited after {RATE_LIMIT_RETRIES} retries")
        if status >= 500:
            raise DeliveryError(f"{where}: Slack is having trouble, will retry")
        hint = _WEBHOOK_HINTS.get(
            body,
            "check notify.slack.webhook_url; if the webhook was deleted, create a new one",
        )
        raise DeliveryError(f"{where}: message rejected", retryable=False, hint=hint)

    def _post_message(
        self, client: WebClient, channel: str, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        if not channel:
            raise DeliveryError(
                "no Slack channel to post to",
                retryable=False,
                hint='set notify.slack.channel (like "#media-alerts") or the rule\'s notify.slack',
            )
        try:
            client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
        except SlackApiError as exc:
            raise self._api_error(exc, channel) from self._safe_cause(exc)
        except (SlackClientError, HTTPException, OSError, ValueError) as exc:
            raise self._connection_error(exc) from self._safe_cause(exc)

    def _api_error(self, exc: SlackApiError, channel: str) -> DeliveryError:
        status = int(exc.response.status_code)
        data = exc.response.data
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        code = self._redact(code)[:200]
        where = f"Slack chat.postMessage to {channel!r} failed (HTTP {status}" + (
            f", {code})" if code else ")"
        )
        if status == 429 or code == "ratelimited":
            return DeliveryError(f"{where}: still rate limited after {RATE_LIMIT_RETRIES} retries")
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
        if isinstance(exc, TimeoutError) or "timed out" in reason:
            reason = f"no answer within {TIMEOUT_SECONDS}s ({reason})"
        return DeliveryError(
            f"cannot reach Slack: {reason}",
            hint="check the network and notify.slack.base_url; will retry",
        )

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _safe_cause(self, exc: BaseException) -> BaseException | None:
        """``exc`` unless its text holds a secret: a chained cause ends up in logs too."""
        return None if self._redact(str(exc)) != str(exc) else exc
