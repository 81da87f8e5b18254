"""Rules carry their own tests: ``examples: {match: [...], no_match: [...]}``.

``monitor check`` runs them, so a rule folder kept in git fails CI like code
when an edit stops catching what it should (or starts catching what it must not).
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.errors import Problem
from monitor.matching.engine import match_rule, prepare
from monitor.models import Rule, Story
from monitor.timeutil import utcnow


def example_story(rule: Rule, text: str) -> Story:
    """An example text as a story, in a field the rule reads (the body when it can)."""
    now = utcnow()
    field = "body" if "body" in rule.fields else rule.fields[0]
    values = {"title": "", "summary": "", "body": ""}
    values[field] = text
    return Story(
        source="example",
        url="",
        guid="example",
        published_at=now,
        fetched_at=now,
        **values,
    )


def _shorten(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def run_examples(rules: Iterable[Rule]) -> list[Problem]:
    """One problem per example that does not behave as the rule says it should."""
    problems = []
    for rule in rules:
        cases = [(t, True) for t in rule.examples_match] + [
            (t, False) for t in rule.examples_no_match
        ]
        for text, expected in cases:
            matched = match_rule(rule, prepare(example_story(rule, text))) is not None
            if matched != expected:
                verb = "should match but does not" if expected else "should not match but does"
                problems.append(
                    Problem(
                        rule.path, 1, 1, f"rule {rule.id!r}: example {verb}: {_shorten(text)!r}"
                    )
                )
    return problems
