"""Digest -> one message summarising many alerts. Pure functions, no I/O.

Alerts are grouped by rule (the rule with the most urgent alert first, then
the busiest) and, within a rule, the top stories come first: higher severity,
then carried by more outlets, then the newest. Story text is escaped exactly
as in single alerts (see render.py), and the same size limits hold.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.models import Alert, Digest
from monitor.notify.render import (
    EMAIL_SUBJECT_LIMIT,
    SLACK_TEXT_LIMIT,
    fit,
    fit_blocks,
    html_link,
    one_line,
    pack_lines,
    relative,
    slack_context,
    slack_escape,
    slack_header,
    slack_url,
    truncate,
)
from monitor.timeutil import isoformat

__all__ = [
    "REASONS",
    "digest_html",
    "digest_subject",
    "digest_text",
    "ranked",
    "reply_text",
    "slack_digest",
]

SEVERITY_RANK = {"high": 0, "normal": 1, "info": 2}
#: Why the alerts were held together, as the digest says it.
REASONS = {
    "digest": "Scheduled digest",
    "cooldown": "Held back by the rule's cooldown",
    "quiet hours": "Held during quiet hours",
    "hourly cap": "Over the hourly limit for this channel",
    "backlog": "Many alerts at once (a backlog), summarised",
}


def _rank(alert: Alert) -> tuple[int, int, float]:
    return (
        SEVERITY_RANK.get(alert.severity, 1),
        -len(alert.outlets),
        -alert.published_at.timestamp(),
    )


def ranked(digest: Digest) -> list[tuple[str, list[Alert]]]:
    """(rule title, alerts) per rule, most important rule and story first."""
    by_rule: dict[str, list[Alert]] = {}
    for alert in digest.alerts:
        by_rule.setdefault(alert.rule_id, []).append(alert)
    groups = [sorted(alerts, key=_rank) for alerts in by_rule.values()]
    groups.sort(key=lambda alerts: (_rank(alerts[0])[0], -len(alerts), alerts[0].rule_id))
    return [(alerts[0].rule_title or alerts[0].rule_id, alerts) for alerts in groups]


def _count(n: int) -> str:
    return f"{n} alert" if n == 1 else f"{n} alerts"


def _summary(digest: Digest) -> str:
    rules = ranked(digest)
    parts = ", ".join(f"{one_line(title)} ({len(alerts)})" for title, alerts in rules)
    return f"{_count(len(digest.alerts))}: {parts}"


def _severity(alerts: Sequence[Alert]) -> str:
    return min((a.severity for a in alerts), key=lambda s: SEVERITY_RANK.get(s, 1))


# --- Slack -----------------------------------------------------------------------------


def _slack_story(title: str, url: str, limit: int) -> str:
    """The story's title, escaped and cut to ``limit``, linked unless the URL is unsafe or huge."""
    escaped = fit(slack_escape(title) or "(untitled)", limit)
    link = slack_url(url)
    return f"<{link}|{escaped}>" if link and len(link) < 1500 else escaped


def _slack_line(alert: Alert) -> str:
    story = _slack_story(alert.story_title, alert.story_url, 300)
    when = f"<!date^{int(alert.published_at.timestamp())}^{{ago}}|{isoformat(alert.published_at)}>"
    line = f"• {story} — {slack_escape(alert.source)}, {when}"
    if alert.outlets:
        line += f" (+{len(alert.outlets)} outlets)"
    if alert.severity == "high":
        line += " :rotating_light:"
    return line


def slack_digest(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """Fallback ``text`` and Block Kit ``blocks`` for a digest."""
    text = fit(slack_escape(f"Digest: {_summary(digest)}"), SLACK_TEXT_LIMIT)
    blocks: list[dict[str, Any]] = [
        slack_header(f"Digest: {_count(len(digest.alerts))}", _severity(digest.alerts)),
        slack_context([slack_escape(REASONS.get(digest.reason, REASONS["digest"]))]),
    ]
    for title, alerts in ranked(digest):
        heading = f"*{fit(slack_escape(title), 200)}* · {_count(len(alerts))}"
        lines = [fit(_slack_line(alert), SLACK_TEXT_LIMIT - len(heading) - 1) for alert in alerts]
        blocks += [
            {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
            for chunk in pack_lines(lines, SLACK_TEXT_LIMIT, heading)
        ]
    return text, fit_blocks(blocks)


# --- email -----------------------------------------------------------------------------


def digest_subject(digest: Digest) -> str:
    """``[monitor] Digest: 12 alerts: Syria watch (9), Energy (3)``, one line, truncated."""
    return truncate(f"[monitor] Digest: {_summary(digest)}", EMAIL_SUBJECT_LIMIT)


def digest_text(digest: Digest, now: datetime) -> str:
    lines = [f"{REASONS.get(digest.reason, REASONS['digest'])}: {_count(len(digest.alerts))}."]
    for title, alerts in ranked(digest):
        lines += ["", f"{one_line(title)} ({_count(len(alerts))})"]
        for alert in alerts:
            extra = f", +{len(alert.outlets)} outlets" if alert.outlets else ""
            lines.append(
                f"- {one_line(alert.story_title) or '(untitled)'} "
                f"({one_line(alert.source)}, {relative(alert.published_at, now)}{extra})"
            )
            lines.append(f"  {one_line(alert.story_url)}")
    return "\n".join(lines)


def digest_html(digest: Digest, now: datetime) -> str:
    reason = html.escape(REASONS.get(digest.reason, REASONS["digest"]))
    parts = [
        "<!DOCTYPE html>",
        "<html>",
        "<body>",
        f"<p>{reason}: {_count(len(digest.alerts))}.</p>",
    ]
    for title, alerts in ranked(digest):
        parts.append(f"<h3>{html.escape(one_line(title))} ({_count(len(alerts))})</h3>")
        parts.append("<ul>")
        for alert in alerts:
            extra = f", +{len(alert.outlets)} outlets" if alert.outlets else ""
            when = relative(alert.published_at, now)
            parts.append(
                f"<li>{html_link(alert.story_url, alert.story_title)} "
                f"<small>({html.escape(one_line(alert.source))}, {when}{extra})</small></li>"
            )
        parts.append("</ul>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def reply_text(source: str, title: str, url: str) -> str:
    """The "+1 outlet" thread reply: escaped like everything else."""
    story = _slack_story(title, url, 500)
    return fit(f"+1 outlet: *{slack_escape(source)}* — {story}", SLACK_TEXT_LIMIT)
