"""Alert -> message text for each channel. Pure functions, no I/O.

Everything about a story (title, source, the text a term matched, even the
URL) was written by whoever runs the feed, so it is treated as hostile:

* Slack mrkdwn: ``&``, ``<`` and ``>`` are escaped, so ``<!channel>``,
  ``<@U123>`` or ``<https://evil|click>`` in a title show as text instead of
  pinging people or forming links, and a zero-width joiner after the ``@`` of
  ``@here``/``@channel``/``@everyone`` keeps those inert even where Slack
  parses bare names. Slack's size limits are respected by truncating with "…".
* Email: header values lose CR, LF and every other control character (no
  header injection); the HTML part is ``html.escape``d throughout.
* Console/plain text: control characters are dropped and each field is kept on
  one line, so a title cannot move the cursor or forge extra "lines" of alert.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from monitor.models import Alert, Match
from monitor.timeutil import isoformat

__all__ = [
    "EMAIL_SUBJECT_LIMIT",
    "SLACK_HEADER_LIMIT",
    "SLACK_MAX_BLOCKS",
    "SLACK_TEXT_LIMIT",
    "email_html",
    "email_subject",
    "one_line",
    "plain_text",
    "slack_escape",
    "slack_message",
]

ELLIPSIS = "…"
SLACK_HEADER_LIMIT = 150  # header block plain_text
SLACK_TEXT_LIMIT = 3000  # section text, context element text
SLACK_MAX_BLOCKS = 50
EMAIL_SUBJECT_LIMIT = 200

# No word boundary on purpose: "@here_now" is neutralised too; over-escaping is harmless.
_BROADCAST = re.compile(r"@(?=here|channel|everyone)", re.IGNORECASE)
_ZWJ = "\u200d"
_SAFE_SCHEMES = ("http://", "https://")


# --- shared helpers -------------------------------------------------------------------


def one_line(text: str) -> str:
    """``text`` as a single line: whitespace runs become one space, controls go.

    Used for every header value and every plain-text field. Splitting on
    whitespace also catches ``\\r``, ``\\n``, ``\\x0b``, ``\\x0c``, ``\\x85`` and
    U+2028/U+2029, which some mail and terminal software treat as line breaks.
    """
    joined = " ".join(text.split())
    return "".join(ch for ch in joined if unicodedata.category(ch) != "Cc")


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _published(alert: Alert) -> str:
    return isoformat(alert.published_at)


def _differs(match: Match) -> bool:
    # Case alone is not worth showing: "Ceasefire" at the start of a sentence
    # matching the term "ceasefire" would only add noise.
    return one_line(match.text).casefold() != one_line(match.term).casefold()


def _distinct(matches: Iterable[Match]) -> list[Match]:
    """One entry per (kind, term, text): a name repeated ten times is one reason."""
    seen: set[tuple[str, str, str]] = set()
    result: list[Match] = []
    for match in matches:
        key = (match.kind, match.term.casefold(), match.text.casefold())
        if key not in seen:
            seen.add(key)
            result.append(match)
    return result


def _score(match: Match) -> str:
    return f" (score {match.score:.0f})" if match.score < 100 else ""


# --- plain text (console, email text part) ---------------------------------------------


def _plain_match(match: Match) -> str:
    line = f'{one_line(match.kind)} "{one_line(match.term)}"'
    if _differs(match):
        line += f' as "{one_line(match.text)}"'
    return line + _score(match)


def plain_text(alert: Alert) -> str:
    """The alert as a few labelled lines, for the console and the email text part."""
    matched = ", ".join(_plain_match(m) for m in _distinct(alert.matches)) or "-"
    return "\n".join(
        [
            f"Rule: {one_line(alert.rule_title)} [{one_line(alert.rule_id)}]",
            f"Story: {one_line(alert.story_title)}",
            f"URL: {one_line(alert.story_url)}",
            f"Source: {one_line(alert.source)}",
            f"Published: {_published(alert)}",
            f"Matched: {matched}",
        ]
    )


# --- Slack -----------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Make ``text`` literal in Slack: no mentions, no links, no broadcasts."""
    text = one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + _ZWJ, text)


def _fit(escaped: str, limit: int) -> str:
    """Truncate already-escaped text without cutting an ``&amp;``-style entity in half."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - len(ELLIPSIS)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def _slack_url(url: str) -> str:
    """The URL made safe for ``<url|title>``, or "" when it should not be linked.

    Only http(s) is linked. ``|`` would end the URL early and let the rest pose
    as link text, so it is dropped; ``&<>`` are escaped as Slack requires.
    """
    url = "".join(url.split())
    url = "".join(ch for ch in url if unicodedata.category(ch) != "Cc")
    if not url.lower().startswith(_SAFE_SCHEMES):
        return ""
    return url.replace("|", "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _title_section(alert: Alert) -> dict[str, Any]:
    title = slack_escape(alert.story_title) or "(untitled)"
    url = _slack_url(alert.story_url)
    room = SLACK_TEXT_LIMIT - len(url) - len("*<|>*")
    # A link needs room for a readable title; an absurdly long URL is dropped.
    if url and room >= 40:
        return _section(f"*<{url}|{_fit(title, room)}>*")
    return _section(f"*{_fit(title, SLACK_TEXT_LIMIT - 2)}*")


def _slack_match(match: Match) -> str:
    line = f"• *{slack_escape(match.term)}* ({slack_escape(match.kind)})"
    if _differs(match):
        line += f" as “{slack_escape(match.text)}”"
    return line + _score(match)


def _why_sections(alert: Alert) -> list[dict[str, Any]]:
    """Matched terms packed into as few sections as the 3,000-character limit allows."""
    heading = "*Why:*"
    # Every line fits under the heading, so the heading never stands alone.
    room = SLACK_TEXT_LIMIT - len(heading) - 1
    lines = [_fit(_slack_match(m), room) for m in _distinct(alert.matches)]
    chunks: list[str] = [heading]
    for line in lines:
        if len(chunks[-1]) + 1 + len(line) <= SLACK_TEXT_LIMIT:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return [_section(chunk) for chunk in chunks]


def slack_message(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """Fallback ``text`` (notifications, old clients) and Block Kit ``blocks``."""
    rule_title = slack_escape(alert.rule_title) or slack_escape(alert.rule_id)
    text = _fit(f"{rule_title}: {slack_escape(alert.story_title)}", SLACK_TEXT_LIMIT)
    context = (
        f"Source: *{slack_escape(alert.source)}*",
        f"Published: {_published(alert)}",
        f"Rule: `{slack_escape(alert.rule_id)}`",
    )
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _fit(rule_title, SLACK_HEADER_LIMIT)},
        },
        _title_section(alert),
        {
            "type": "context",
            "elements": [_mrkdwn(_fit(part, SLACK_TEXT_LIMIT)) for part in context],
        },
        *_why_sections(alert),
    ]
    if len(blocks) > SLACK_MAX_BLOCKS:
        left_out = len(blocks) - (SLACK_MAX_BLOCKS - 1)
        blocks = blocks[: SLACK_MAX_BLOCKS - 1]
        blocks.append({"type": "context", "elements": [_mrkdwn(f"{ELLIPSIS} ({left_out} more)")]})
    return text, blocks


# --- email -----------------------------------------------------------------------------


def email_subject(alert: Alert) -> str:
    """``[monitor] <rule title>: <story title>``, one line, at most 200 characters."""
    subject = f"[monitor] {one_line(alert.rule_title)}: {one_line(alert.story_title)}"
    return _truncate(subject, EMAIL_SUBJECT_LIMIT)


def _html_match(match: Match) -> str:
    item = f"{html.escape(match.kind)} <strong>{html.escape(match.term)}</strong>"
    if _differs(match):
        item += f" as “{html.escape(match.text)}”"
    return f"<li>{item}{html.escape(_score(match))}</li>"


def email_html(alert: Alert) -> str:
    """A small HTML body; every value is escaped, and only http(s) URLs become links."""
    title = html.escape(one_line(alert.story_title)) or "(untitled)"
    url = one_line(alert.story_url)
    if url.lower().startswith(_SAFE_SCHEMES):
        story = f'<a href="{html.escape(url)}">{title}</a>'
    else:
        story = f"{title}<br>{html.escape(url)}"
    matches = "\n".join(_html_match(m) for m in _distinct(alert.matches))
    return f"""\
<!DOCTYPE html>
<html>
<body>
<p><strong>{html.escape(one_line(alert.rule_title))}</strong>
<small>({html.escape(one_line(alert.rule_id))})</small></p>
<p style="font-size: larger">{story}</p>
<p>Source: {html.escape(one_line(alert.source))}<br>
Published: {html.escape(_published(alert))}</p>
<p>Matched:</p>
<ul>
{matches}
</ul>
</body>
</html>
"""
