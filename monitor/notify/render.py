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
from datetime import datetime
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
    "relative",
    "slack_escape",
    "slack_message",
    "snippet",
]

ELLIPSIS = "…"
SLACK_HEADER_LIMIT = 150  # header block plain_text
SLACK_TEXT_LIMIT = 3000  # section text, context element text
SLACK_MAX_BLOCKS = 50
#: All the text of one message together; Slack refuses messages past 40,000 characters.
SLACK_TOTAL_LIMIT = 36_000
EMAIL_SUBJECT_LIMIT = 200
SNIPPET_WIDTH = 280
SEVERITY_ICONS = {"high": ":rotating_light:", "normal": ":bell:", "info": ":information_source:"}

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


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _published(alert: Alert) -> str:
    return isoformat(alert.published_at)


def relative(moment: datetime, now: datetime) -> str:
    """``5 min ago``, ``3 h ago``, ``2 days ago`` (``in 5 min`` for a clock ahead of ours)."""
    seconds = int((now - moment).total_seconds())
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 2 * 86400:
        amount = f"{seconds // 3600} h"
    else:
        amount = f"{seconds // 86400} days"
    return f"in {amount}" if ahead else f"{amount} ago"


def _when(alert: Alert, now: datetime | None) -> str:
    absolute = _published(alert)
    return f"{absolute} ({relative(alert.published_at, now)})" if now else absolute


# --- snippet ---------------------------------------------------------------------------


def _spans(text: str, matches: Iterable[Match], field: str) -> list[tuple[int, int]]:
    """Where the matches stand in ``text``: their own offsets when those still fit, else found."""
    spans = []
    folded = text.casefold()
    for m in matches:
        if m.field != field or not m.text.strip():
            continue
        if 0 <= m.start < m.end <= len(text) and text[m.start : m.end].casefold() == (
            m.text.casefold()
        ):
            spans.append((m.start, m.end))
            continue
        at = folded.find(m.text.casefold())
        if at != -1 and len(folded) == len(text):
            spans.append((at, at + len(m.text)))
    return sorted(set(spans))


def snippet(alert: Alert, width: int = SNIPPET_WIDTH) -> list[tuple[str, bool]]:
    """A window of the story's text around its first match, as (text, is_match) pieces.

    The summary comes first, then the body; a story matched in its title alone
    has no snippet (the title is shown anyway). Each piece is on one line.
    """
    for field in ("summary", "body"):
        raw = getattr(alert, field)
        text = " ".join(raw.split())
        # Re-spaced text no longer fits the matches' offsets: search for their words instead.
        matches = alert.matches if raw == text else [_unplaced(m) for m in alert.matches]
        if spans := _spans(text, matches, field):
            break
    else:
        return []
    first = spans[0][0]
    start = max(0, first - width // 3)
    while 0 < start < first and not text[start - 1].isspace():
        start += 1  # start at a word
    end = min(len(text), start + width)
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, cursor), min(span_end, end)
        if span_start >= span_end:
            continue
        if span_start > cursor:
            pieces.append((text[cursor:span_start], False))
        pieces.append((text[span_start:span_end], True))
        cursor = span_end
    if cursor < end:
        pieces.append((text[cursor:end], False))
    if end < len(text):
        pieces.append(("…", False))
    # The text is on one line already; only control characters are left to drop.
    return [("".join(ch for ch in p if unicodedata.category(ch) != "Cc"), b) for p, b in pieces]


def _unplaced(match: Match) -> Match:
    # Offsets are useless here (the text was re-spaced): -1 makes _spans search for it.
    return Match(match.kind, match.term, match.text, match.field, -1, -1, match.score)


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


def plain_text(alert: Alert, now: datetime | None = None) -> str:
    """The alert as a few labelled lines, for the console and the email text part.

    With ``now`` the published time also says how long ago that was, and the
    snippet and other outlets (when there are any) get a line each.
    """
    matched = ", ".join(_plain_match(m) for m in _distinct(alert.matches)) or "-"
    lines = [
        f"Rule: {one_line(alert.rule_title)} [{one_line(alert.rule_id)}]",
        f"Story: {one_line(alert.story_title)}",
        f"URL: {one_line(alert.story_url)}",
        f"Source: {one_line(alert.source)}",
        f"Published: {_when(alert, now)}",
        f"Matched: {matched}",
    ]
    if now is not None:
        if alert.severity != "normal":
            lines.insert(1, f"Severity: {one_line(alert.severity)}")
        if pieces := snippet(alert):
            lines.append(f"Text: {''.join(text for text, _ in pieces)}")
        if alert.outlets:
            lines.append(f"Also at: {one_line(', '.join(alert.outlets))}")
    return "\n".join(lines)


# --- Slack -----------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Make ``text`` literal in Slack: no mentions, no links, no broadcasts."""
    text = one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + _ZWJ, text)


def fit(escaped: str, limit: int) -> str:
    """Truncate already-escaped text without cutting an ``&amp;``-style entity in half."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - len(ELLIPSIS)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def pack_lines(lines: Iterable[str], limit: int, first: str = "") -> list[str]:
    """``first`` and ``lines`` joined by newlines into as few pieces of ``limit`` as they go.

    A line is never split: fit each line to ``limit`` (less the heading) first.
    """
    chunks: list[str] = []
    current = first
    for line in lines:
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def slack_url(url: str) -> str:
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
    url = slack_url(alert.story_url)
    room = SLACK_TEXT_LIMIT - len(url) - len("*<|>*")
    # A link needs room for a readable title; an absurdly long URL is dropped.
    if url and room >= 40:
        return _section(f"*<{url}|{fit(title, room)}>*")
    return _section(f"*{fit(title, SLACK_TEXT_LIMIT - 2)}*")


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
    lines = [fit(_slack_match(m), room) for m in _distinct(alert.matches)]
    return [_section(chunk) for chunk in pack_lines(lines, SLACK_TEXT_LIMIT, heading)]


def slack_date(moment: datetime) -> str:
    """A date Slack shows in each reader's time zone, relative and absolute.

    ``<!date^...>`` is Slack's own syntax (the one ``<`` we write on purpose);
    the text after ``|`` is what older clients show instead.
    """
    return (
        f"<!date^{int(moment.timestamp())}^{{ago}} ({{date_short_pretty}} {{time}})"
        f"|{isoformat(moment)}>"
    )


def slack_snippet(alert: Alert) -> str:
    """The snippet as mrkdwn: escaped, with the matched words in bold."""
    parts = []
    for text, bold in snippet(alert):
        escaped = slack_escape(text)  # one_line() inside drops the edge spaces: put them back
        lead, trail = " " * text.startswith(" "), " " * text.endswith(" ")
        parts.append(lead + (f"*{escaped}*" if bold and escaped else escaped) + trail)
    return "".join(parts)


def slack_header(title: str, severity: str) -> dict[str, Any]:
    icon = SEVERITY_ICONS.get(severity, SEVERITY_ICONS["normal"])
    label = f"{icon} {title} · {slack_escape(severity)}"
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": fit(label, SLACK_HEADER_LIMIT), "emoji": True},
    }


def slack_context(parts: Iterable[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(fit(p, SLACK_TEXT_LIMIT)) for p in parts]}


def fit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks and ``SLACK_TOTAL_LIMIT`` characters of text; the cut is marked."""
    kept: list[dict[str, Any]] = []
    total = 0
    for index, block in enumerate(blocks):
        size = len(json_text(block))
        if len(kept) == SLACK_MAX_BLOCKS - 1 and index < len(blocks) - 1:
            break
        if total + size > SLACK_TOTAL_LIMIT:
            break
        kept.append(block)
        total += size
    left_out = len(blocks) - len(kept)
    if left_out:
        kept.append(slack_context([f"{ELLIPSIS} ({left_out} more)"]))
    return kept


def json_text(block: dict[str, Any]) -> str:
    """The text a block shows (what counts against Slack's size limits)."""
    texts = []
    if isinstance(block.get("text"), dict):
        texts.append(str(block["text"].get("text", "")))
    for element in block.get("elements", ()):
        if isinstance(element, dict):
            texts.append(str(element.get("text", "")))
    return "".join(texts)


def slack_message(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """Fallback ``text`` (notifications, old clients) and Block Kit ``blocks``."""
    rule_title = slack_escape(alert.rule_title) or slack_escape(alert.rule_id)
    text = fit(f"{rule_title}: {slack_escape(alert.story_title)}", SLACK_TEXT_LIMIT)
    context = [
        f"Source: *{slack_escape(alert.source)}*",
        f"Published: {slack_date(alert.published_at)}",
        f"Rule: `{slack_escape(alert.rule_id)}`",
    ]
    blocks: list[dict[str, Any]] = [
        slack_header(rule_title, alert.severity),
        _title_section(alert),
        slack_context(context),
    ]
    if quote := slack_snippet(alert):
        blocks.append(_section(fit(f"> {quote}", SLACK_TEXT_LIMIT)))
    blocks.extend(_why_sections(alert))
    if alert.outlets:
        also = ", ".join(slack_escape(o) for o in alert.outlets)
        blocks.append(slack_context([f"Also at: {also}"]))
    return text, fit_blocks(blocks)


# --- email -----------------------------------------------------------------------------


def email_subject(alert: Alert) -> str:
    """``[monitor] <rule title>: <story title>``, one line, at most 200 characters."""
    subject = f"[monitor] {one_line(alert.rule_title)}: {one_line(alert.story_title)}"
    return truncate(subject, EMAIL_SUBJECT_LIMIT)


def _html_match(match: Match) -> str:
    item = f"{html.escape(match.kind)} <strong>{html.escape(match.term)}</strong>"
    if _differs(match):
        item += f" as “{html.escape(match.text)}”"
    return f"<li>{item}{html.escape(_score(match))}</li>"


def html_link(url: str, title: str) -> str:
    """``<a href>`` for an http(s) URL; anything else is shown, not linked. Both escaped."""
    title = html.escape(one_line(title)) or "(untitled)"
    url = one_line(url)
    if url.lower().startswith(_SAFE_SCHEMES):
        return f'<a href="{html.escape(url)}">{title}</a>'
    return f"{title}<br>{html.escape(url)}" if url else title


def html_snippet(alert: Alert) -> str:
    return "".join(
        f"<strong>{html.escape(text)}</strong>" if bold else html.escape(text)
        for text, bold in snippet(alert)
    )


def email_html(alert: Alert, now: datetime | None = None) -> str:
    """A small HTML body; every value is escaped, and only http(s) URLs become links."""
    story = html_link(alert.story_url, alert.story_title)
    matches = "\n".join(_html_match(m) for m in _distinct(alert.matches))
    quote = html_snippet(alert)
    extra = f"<blockquote>{quote}</blockquote>\n" if quote else ""
    if alert.outlets:
        extra += f"<p>Also at: {html.escape(one_line(', '.join(alert.outlets)))}</p>\n"
    severity = f" &middot; {html.escape(one_line(alert.severity))}" if now else ""
    return f"""\
<!DOCTYPE html>
<html>
<body>
<p><strong>{html.escape(one_line(alert.rule_title))}</strong>
<small>({html.escape(one_line(alert.rule_id))}){severity}</small></p>
<p style="font-size: larger">{story}</p>
<p>Source: {html.escape(one_line(alert.source))}<br>
Published: {html.escape(_when(alert, now))}</p>
{extra}<p>Matched:</p>
<ul>
{matches}
</ul>
</body>
</html>
"""
