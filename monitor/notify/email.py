"""The email notifier: one multipart/alternative message per alert, over SMTP.

The Message-ID is derived from the hit and the recipients (a digest's from
its send attempt), so an alert sent again after a crash (SMTP has no way to
ask whether the first try got through) carries the same Message-ID and mail
clients fold the two together. ``List-Id`` (one per rule) and the
``X-Monitor-Rule``/``X-Monitor-Severity`` headers are there for filters.
Every header value is one line with no control characters.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from monitor.config import EmailConfig
from monitor.errors import DeliveryError
from monitor.log import event
from monitor.models import Alert, Digest
from monitor.notify import Receipt
from monitor.notify import templates as custom
from monitor.notify.digest import digest_html, digest_subject, digest_text
from monitor.notify.render import email_html, email_subject, one_line, plain_text
from monitor.timeutil import utcnow

_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_NOT_DOMAIN = re.compile(r"[^A-Za-z0-9.-]+")
_ADDRESS_HINT = "fix the address in notify.email.recipients or in the rule's notify.email"


def recipients_for(target: str, config: EmailConfig) -> list[str]:
    """The addresses in ``target`` (comma-separated), or the configured default ones."""
    addresses = [one_line(a) for a in target.split(",")]
    return [a for a in addresses if a] or [one_line(a) for a in config.recipients if one_line(a)]


def message_id(hit_id: int, recipients: Sequence[str], sender: str) -> str:
    """``<monitor.hit-42.<digest>@<sender's domain>>``, the same for the same hit and recipients."""
    digest = hashlib.sha256(
        ",".join(sorted(a.casefold() for a in recipients)).encode("utf-8")
    ).hexdigest()[:16]
    domain = _NOT_DOMAIN.sub("", sender.rpartition("@")[2]).strip(".") or "monitor.localhost"
    return f"<monitor.hit-{hit_id}.{digest}@{domain}>"


def digest_message_id(key: str, sender: str) -> str:
    """``<monitor.digest-<attempt>@<sender's domain>>``: the same for a resent attempt."""
    domain = _NOT_DOMAIN.sub("", sender.rpartition("@")[2]).strip(".") or "monitor.localhost"
    return f"<monitor.digest-{_NOT_ATEXT.sub('-', key)}@{domain}>"


def list_id(rule_id: str) -> str:
    """``<rule-id.monitor>``: lets people filter one rule's alerts into a folder."""
    return f"<{_NOT_ATEXT.sub('-', rule_id).strip('-') or 'rule'}.monitor>"


def _envelope(
    sender: str, recipients: Sequence[str], subject: str, message_id_: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = parse_address(sender, "notify.email.sender")
    message["To"] = [parse_address(a) for a in recipients]
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id_
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    return message


def _bodies(alert: Alert, now: datetime) -> tuple[str, str]:
    """The text and HTML parts: the rule's templates where it has them, else the default."""
    text, page = plain_text(alert, now), email_html(alert, now)
    for kind, source in (
        ("email_text", alert.templates.email_text),
        ("email_html", alert.templates.email_html),
    ):
        if not source:
            continue
        try:
            rendered = custom.render(kind, source, alert, now)
        except custom.TemplateError as exc:
            event(
                "template_failed",
                logging.WARNING,
                rule=alert.rule_id,
                template=kind,
                reason=str(exc),
                action="sent with the default layout",
            )
            continue
        if kind == "email_text":
            text = rendered
        else:
            page = rendered
    return text, page


def build_message(alert: Alert, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The alert as an email; raises DeliveryError (not retryable) for a bad address."""
    message = _envelope(
        sender, recipients, email_subject(alert), message_id(alert.hit_id, recipients, sender)
    )
    message["List-Id"] = list_id(alert.rule_id)
    message["X-Monitor-Rule"] = one_line(alert.rule_id)
    message["X-Monitor-Severity"] = one_line(alert.severity)
    text, page = _bodies(alert, utcnow())
    message.set_content(text.rstrip("\n") + "\n")
    message.add_alternative(page, subtype="html")
    return message


def build_digest(digest: Digest, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A digest as one email; List-Id when every alert in it is of one rule."""
    message = _envelope(
        sender, recipients, digest_subject(digest), digest_message_id(digest.key, sender)
    )
    rules = sorted({a.rule_id for a in digest.alerts})
    if len(rules) == 1:
        message["List-Id"] = list_id(rules[0])
        message["X-Monitor-Rule"] = one_line(rules[0])
    message["X-Monitor-Digest"] = str(len(digest.alerts))
    now = utcnow()
    message.set_content(digest_text(digest, now) + "\n")
    message.add_alternative(digest_html(digest, now), subtype="html")
    return message


def parse_address(text: str, key: str = "") -> Address:
    """``desk@example.org`` or ``Desk <desk@example.org>``, checked, on one line."""
    name, addr = parseaddr(one_line(text))
    try:
        if "@" not in addr:
            raise ValueError("no @")
        return Address(display_name=one_line(name), addr_spec=addr)
    except (ValueError, IndexError) as exc:  # the email parser raises both
        raise DeliveryError(
            f"{one_line(text)!r} is not a valid email address",
            retryable=False,
            hint=f"fix {key}" if key else _ADDRESS_HINT,
        ) from exc


class EmailNotifier:
    """Sends each alert to ``target`` (comma-separated addresses) or the default recipients."""

    channel = "email"

    def __init__(self, config: EmailConfig) -> None:
        self._config = config

    def lane(self, target: str) -> str:
        return ""  # the SMTP server paces us itself (4xx when it wants us slower)

    def send(self, alert: Alert, target: str, key: str = "") -> Receipt:
        recipients = self._recipients(target)
        self._transmit(build_message(alert, self._config.sender, recipients), recipients)
        return Receipt()

    def send_digest(self, digest: Digest, target: str) -> Receipt:
        recipients = self._recipients(target)
        self._transmit(build_digest(digest, self._config.sender, recipients), recipients)
        return Receipt()

    def _recipients(self, target: str) -> list[str]:
        recipients = recipients_for(target, self._config)
        if not recipients:
            raise DeliveryError(
                "no email recipients for this alert",
                retryable=False,
                hint="set notify.email.recipients, or email in the rule's notify section",
            )
        return recipients

    def _transmit(self, message: EmailMessage, recipients: list[str]) -> None:
        sender = parse_address(self._config.sender, "notify.email.sender").addr_spec
        envelope = [parse_address(a).addr_spec for a in recipients]
        try:
            refused = self._deliver(message, sender, envelope)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(exc) from exc
        if refused:
            raise DeliveryError(
                f"the SMTP server refused {self._refusals(refused)}; "
                "the other recipients got the alert",
                retryable=False,
                hint=_ADDRESS_HINT,
            )

    def _deliver(
        self, message: EmailMessage, sender: str, recipients: list[str]
    ) -> dict[str, tuple[int, bytes]]:
        config = self._config
        timeout = config.timeout.total_seconds()
        smtp: smtplib.SMTP
        if config.security == "tls":
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                smtp.login(config.username, config.password)
            return smtp.send_message(message, from_addr=sender, to_addrs=recipients)

    def _server(self) -> str:
        return f"SMTP server {self._config.host}:{self._config.port}"

    def _redact(self, text: str) -> str:
        # A password of a few characters would "match" inside ordinary words; servers do
        # not echo passwords anyway, so this only guards against the long ones leaking.
        password = self._config.password
        return text.replace(password, "***") if len(password) >= 4 else text

    def _reply(self, code: int, reply: bytes | str) -> str:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        return f"{code} {self._redact(one_line(text))}"

    def _refusals(self, refused: dict[str, tuple[int, bytes]]) -> str:
        return ", ".join(f"{addr} ({self._reply(*reply)})" for addr, reply in refused.items())

    def _error(self, exc: BaseException) -> DeliveryError:
        """Sort an SMTP failure into "wait and retry" and "a person must fix something"."""
        server = self._server()
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return DeliveryError(
                f"{server} rejected the login of {self._config.username!r}: "
                f"{self._reply(exc.smtp_code, exc.smtp_error)}",
                retryable=False,
                hint="check notify.email.username and notify.email.password",
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            # 4xx here is greylisting or a full mailbox: temporary by definition.
            temporary = bool(codes) and all(400 <= code < 500 for code in codes)
            return DeliveryError(
                f"{server} refused every recipient: {self._refusals(exc.recipients)}",
                retryable=temporary,
                hint="" if temporary else _ADDRESS_HINT,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            if "AUTH" in str(exc):
                hint = (
                    "the server offers no login here: many only do after STARTTLS (set "
                    'notify.email.security = "starttls"); a relay that needs none wants '
                    "notify.email.username left empty"
                )
            else:
                hint = (
                    "set notify.email.security to match the server: "
                    '"starttls" for port 587, "tls" for 465, "none" for a local relay'
                )
            return DeliveryError(f"{server}: {self._redact(str(exc))}", retryable=False, hint=hint)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return DeliveryError(f"{server} closed the connection: {self._redact(str(exc))}")
        if isinstance(exc, smtplib.SMTPResponseException):
            temporary = exc.smtp_code < 500
            hint = ""
            if isinstance(exc, smtplib.SMTPSenderRefused) and not temporary:
                hint = "the server does not accept notify.email.sender; use an allowed address"
            elif not temporary:
                hint = "read the server's reply above; it says what it refused"
            return DeliveryError(
                f"{server} refused the message: {self._reply(exc.smtp_code, exc.smtp_error)}",
                retryable=temporary,
                hint=hint,
            )
        if isinstance(exc, ssl.SSLError):
            return DeliveryError(
                f"TLS with {server} failed: {self._redact(str(exc))}",
                retryable=False,
                hint="check notify.email.security and port (tls for 465, starttls for 587) "
                "and that the server's certificate is valid for notify.email.host",
            )
        if isinstance(exc, TimeoutError):
            return DeliveryError(
                f"{server} did not answer within {self._config.timeout.total_seconds():g}s"
            )
        return DeliveryError(
            f"cannot reach {server}: {self._redact(str(exc)) or type(exc).__name__}",
            hint="check notify.email.host and port, and that the server is running",
        )
