"""A rule's own layouts: Jinja2 templates, rendered in a sandbox.

A rule may set ``template: {slack: ..., email_text: ..., email_html: ...}``
(docs/alerts.md). The templates see four variables:

* ``rule``: ``id``, ``title``, ``severity``
* ``story``: ``title``, ``url``, ``source``, ``published_at`` (ISO 8601, UTC),
  ``ago`` ("3 h ago"), ``link`` (the title linked to the URL) and ``snippet``
  (text around the first match, matched words in bold)
* ``matches``: a list of ``kind``, ``term``, ``text``, ``field``, ``score``
* ``cluster``: ``outlets`` (other sources that carried the story) and ``size``

Story text is hostile, so every value arrives escaped for the channel: Slack
values are Slack-escaped (no mentions, no links), ``email_text`` values are
single lines, and ``email_html`` runs with autoescape on (``link`` and
``snippet`` are safe HTML already). The sandbox keeps a template from
reaching Python internals; a template that fails at send time is logged and
the default layout goes out instead, so a template can never lose an alert.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from monitor.models import Alert, Match
from monitor.notify.render import (
    html_link,
    html_snippet,
    one_line,
    relative,
    slack_escape,
    slack_snippet,
    slack_url,
    snippet,
)
from monitor.timeutil import isoformat

__all__ = ["KINDS", "TemplateError", "check", "render"]

KINDS = ("slack", "email_text", "email_html")


@cache
def _environment(kind: str) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=kind == "email_html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _slack_link(alert: Alert) -> str:
    title = slack_escape(alert.story_title) or "(untitled)"
    url = slack_url(alert.story_url)
    return f"<{url}|{title}>" if url else title


def _context(kind: str, alert: Alert, now: datetime) -> dict[str, Any]:
    if kind == "slack":
        escape, link, quote = slack_escape, _slack_link(alert), slack_snippet(alert)
    elif kind == "email_html":
        escape = one_line
        # Safe HTML: html_link and html_snippet escape every piece of story text.
        link = Markup(html_link(alert.story_url, alert.story_title))
        quote = Markup(html_snippet(alert))
    else:
        escape, link = one_line, one_line(alert.story_url)
        quote = "".join(text for text, _ in snippet(alert))

    def match(m: Match) -> dict[str, Any]:
        return {
            "kind": m.kind,
            "term": escape(m.term),
            "text": escape(m.text),
            "field": m.field,
            "score": round(m.score, 1),
        }

    return {
        "rule": {
            "id": escape(alert.rule_id),
            "title": escape(alert.rule_title),
            "severity": alert.severity,
        },
        "story": {
            "title": escape(alert.story_title),
            "url": slack_url(alert.story_url) if kind == "slack" else one_line(alert.story_url),
            "source": escape(alert.source),
            "published_at": isoformat(alert.published_at),
            "ago": relative(alert.published_at, now),
            "link": link,
            "snippet": quote,
        },
        "matches": [match(m) for m in alert.matches],
        "cluster": {
            "outlets": [escape(o) for o in alert.outlets],
            "size": len(alert.outlets) + 1,
        },
    }


def render(kind: str, source: str, alert: Alert, now: datetime) -> str:
    """Render one template; raises jinja2's TemplateError (the sandbox's SecurityError too)."""
    template = _environment(kind).from_string(source)
    return template.render(_context(kind, alert, now))


_SAMPLE = Alert(
    hit_id=1,
    rule_id="sample",
    rule_title="Sample rule",
    story_title="Sample story",
    story_url="https://example.org/story",
    source="example",
    published_at=datetime(2026, 1, 1, tzinfo=UTC),
    matches=(Match("entity", "Sample", "sample", "summary", 0, 6),),
    summary="sample text of a story",
    outlets=("other",),
)


def check(kind: str, source: str) -> str | None:
    """Why ``source`` is not a usable ``kind`` template, or None when it is.

    Compiles it and renders it once with sample values, so a misspelt
    variable (``story.titel``) is caught when the rule loads, not at 3 a.m.
    """
    try:
        text = render(kind, source, _SAMPLE, _SAMPLE.published_at)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (template line {line})" if line else ""
        return f"{exc.message or type(exc).__name__}{where}"
    if not text.strip():
        return "renders to nothing; an alert needs some text"
    return None
