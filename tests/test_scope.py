"""Rule scope: which stories a rule looks at before any term is matched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.matching.engine import match_story
from monitor.models import Rule, Story
from monitor.rules import parse_rule

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def story(
    source: str = "world", language: str = "", age: timedelta = timedelta(0), title: str = ""
) -> Story:
    return Story(
        source=source,
        url="https://news.example.org/1",
        guid="g1",
        title=title or "Assad meets envoy",
        summary="",
        body="",
        published_at=NOW - age,
        fetched_at=NOW,
        language=language,
    )


def rule(extra: str) -> Rule:
    parsed, problems = parse_rule(f"title: t\nphrases: [Assad]\n{extra}", "r.yaml", "r")
    assert problems == [] and parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("extra", "kwargs", "tags", "fires"),
    [
        ("sources: [world]", {"source": "world"}, (), True),
        ("sources: [world]", {"source": "business"}, (), False),
        ("sources: [mena]", {"source": "business"}, ("mena",), True),
        ("languages: [en]", {"language": "en"}, (), True),
        ("languages: [en]", {"language": "fr"}, (), False),
        ("languages: [en]", {"language": ""}, (), True),  # unknown language: not filtered out
        ("max_age: 3d", {"age": timedelta(days=2)}, (), True),
        ("max_age: 3d", {"age": timedelta(days=4)}, (), False),
        ("enabled: false", {}, (), False),
        ("fields: [summary, body]", {}, (), False),  # the name is only in the title
    ],
    ids=[
        "source-named",
        "source-not-named",
        "source-by-tag",
        "language-listed",
        "language-not-listed",
        "language-unknown",
        "young-enough",
        "too-old",
        "disabled",
        "field-not-read",
    ],
)
def test_scope(extra: str, kwargs: dict[str, Any], tags: tuple[str, ...], fires: bool) -> None:
    hits = match_story([rule(extra)], story(**kwargs), tags)

    assert bool(hits) is fires
