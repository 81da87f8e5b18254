"""Matching: the golden cases in tests/cases/ plus the details of an explanation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.matching.engine import match_story
from monitor.matching.normalize import normalize, plain_text, term_words
from monitor.models import Match, Rule, Story
from monitor.rules import parse_rule

CASES_DIR = Path(__file__).parent / "cases"
STORY_KEYS = {"title", "summary", "body", "expect", "note", "matched"}
MATCH_KEYS = {"kind", "term", "text", "field"}
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    file: str
    rule: Rule
    story: Story
    expect: bool
    note: str
    matched: tuple[dict[str, str], ...]


def make_story(title: str = "", summary: str = "", body: str = "") -> Story:
    return Story(
        source="test",
        url="https://example.org/story",
        guid="guid-1",
        title=title,
        summary=summary,
        body=body,
        published_at=WHEN,
        fetched_at=WHEN,
    )


def make_rule(text: str) -> Rule:
    rule, problems = parse_rule(text, "rule.yaml", "rule")
    assert rule is not None, [str(p) for p in problems]
    return rule


def load_case_file(path: Path) -> list[Case]:
    """One topic file -> its cases; a malformed file fails loudly, naming the story."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and set(data) == {"rule", "stories"}, (
        f"{path.name}: a case file has exactly two keys, rule and stories"
    )
    rule, problems = parse_rule(yaml.safe_dump(data["rule"]), str(path), path.stem)
    assert rule is not None, f"{path.name}: invalid rule: {[str(p) for p in problems]}"
    cases = []
    for number, story in enumerate(data["stories"], start=1):
        where = f"{path.name} story {number}"
        assert isinstance(story, dict), f"{where}: a story is a mapping"
        unknown = set(story) - STORY_KEYS
        assert not unknown, f"{where}: unknown keys {sorted(unknown)}; use {sorted(STORY_KEYS)}"
        assert isinstance(story.get("expect"), bool), f"{where}: expect must be true or false"
        assert story.get("note"), f"{where}: say in note why the answer is what it is"
        matched = tuple(story.get("matched", ()))
        for entry in matched:
            assert set(entry) <= MATCH_KEYS, f"{where}: matched entries use {sorted(MATCH_KEYS)}"
        cases.append(
            Case(
                file=path.stem,
                rule=rule,
                story=make_story(
                    str(story.get("title", "")),
                    str(story.get("summary", "")),
                    str(story.get("body", "")),
                ),
                expect=story["expect"],
                note=str(story["note"]),
                matched=matched,
            )
        )
    return cases


def case_id(number: int, case: Case) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", case.note.lower()).strip("-")
    return f"{case.file}:{number:02d}:{words[:50]}"


def all_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for number, case in enumerate(load_case_file(path), start=1):
            params.append(pytest.param(case, id=case_id(number, case)))
    return params


CASES = all_cases()


def test_the_case_folder_is_not_empty() -> None:
    # A glob that finds nothing would otherwise pass silently with zero cases.
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: Case) -> None:
    hits = match_story([case.rule], case.story)
    assert bool(hits) is case.expect, case.note
    if not hits:
        return
    (hit,) = hits
    assert hit.rule is case.rule
    for match in hit.matches:
        assert plain_text(getattr(case.story, match.field))[match.start : match.end] == match.text
    for wanted in case.matched:
        assert any(
            all(getattr(match, key) == value for key, value in wanted.items())
            for match in hit.matches
        ), f"no match like {wanted} in {hit.matches}"


# --- explanations ---------------------------------------------------------------

SYRIA = """
title: Russia and Syria bases
entities:
  - name: Bashar al-Assad
    aliases: [Assad, Bashar Assad]
phrases: [Tartus naval base]
keywords: {terms: [military base, airbase], threshold: 85, min: 1}
exclude: [football]
"""


def matches_of(rule_text: str, **fields: str) -> tuple[Match, ...]:
    hits = match_story([make_rule(rule_text)], make_story(**fields))
    assert len(hits) == 1
    return hits[0].matches


def test_explanation_reports_every_group_with_canonical_terms_and_offsets() -> None:
    body = "<p>Ships at the Tartus <b>naval</b> base.</p><p>ASSAD\u2019s military\u2011bases.</p>"
    matches = matches_of(SYRIA, title="Coast news", body=body)
    assert plain_text(body) == "Ships at the Tartus naval base. ASSAD\u2019s military\u2011bases."
    assert matches == (
        Match("entity", "Bashar al-Assad", "ASSAD", "body", 32, 37, 100.0),
        Match("phrase", "Tartus naval base", "Tartus naval base", "body", 13, 30, 100.0),
        Match("keyword", "military base", "military\u2011bases", "body", 40, 54, 96.3),
    )


def test_every_name_found_is_reported_under_the_entity_name() -> None:
    rule = "title: t\nentities:\n  - name: Bashar al-Assad\n    aliases: [Assad, Bashar Assad]"
    matches = matches_of(rule, title="Bashar al-Assad", summary="Bashar Assad left")
    assert [(m.term, m.text, m.field, m.start, m.end) for m in matches] == [
        ("Bashar al-Assad", "Bashar al-Assad", "title", 0, 15),
        ("Bashar al-Assad", "Assad", "title", 10, 15),
        ("Bashar al-Assad", "Bashar Assad", "summary", 0, 12),
    ]


def test_text_is_quoted_as_found_in_the_story() -> None:
    (match,) = matches_of(
        "title: t\nentities: [Bashar al-Assad]", summary="Says BASHAR al\u2013Assad,"
    )
    assert match.text == "BASHAR al\u2013Assad"
    assert match.term == "Bashar al-Assad"
    assert (match.field, match.start, match.end) == ("summary", 5, 20)


def test_offsets_index_plain_text_after_entities_and_whitespace_collapse() -> None:
    body = "  A&amp;B\n\n  <i>met</i>   Erdogan  "
    (match,) = matches_of("title: t\nentities: [Erdoğan]", body=body)
    text = plain_text(body)
    assert text == "A&B met Erdogan"
    assert (match.start, match.end) == (8, 15)
    assert text[match.start : match.end] == "Erdogan"
    assert match.term == "Erdoğan"


def test_first_occurrence_is_quoted_and_title_comes_before_body() -> None:
    (match,) = matches_of(
        "title: t\nphrases: [naval base]", title="x naval base", body="naval base"
    )
    assert (match.field, match.start) == ("title", 2)


def test_keyword_score_is_the_fuzzy_ratio_rounded() -> None:
    (match,) = matches_of("title: t\nkeywords: [Tartus]", body="Ships left Tartous today")
    assert (match.kind, match.term, match.text, match.score) == (
        "keyword",
        "Tartus",
        "Tartous",
        92.3,
    )


def test_keyword_prefers_the_best_window_across_fields() -> None:
    (match,) = matches_of("title: t\nkeywords: [Tartus]", title="Tartous", body="Tartus")
    assert (match.field, match.text, match.score) == ("body", "Tartus", 100.0)


def test_exact_short_keyword_scores_100() -> None:
    (match,) = matches_of("title: t\nkeywords: [NATO]", body="the nato summit")
    assert (match.text, match.score, match.start, match.end) == ("nato", 100.0, 4, 8)


def test_duplicate_keyword_terms_count_once_towards_min() -> None:
    rule = make_rule("title: t\nkeywords: {terms: [Airbase, airbase, warship], min: 2}")
    assert match_story([rule], make_story(body="an airbase")) == []
    (hit,) = match_story([rule], make_story(body="an airbase and a warship"))
    assert [m.term for m in hit.matches] == ["Airbase", "warship"]


def test_match_story_returns_only_the_rules_that_fire_in_order() -> None:
    first = make_rule("title: one\nphrases: [Tartus]")
    second = make_rule("title: two\nphrases: [Latakia]")
    third = make_rule("title: three\nentities: [Assad]")
    story = make_story(title="Assad in Tartus")
    hits = match_story([first, second, third], story)
    assert [hit.rule for hit in hits] == [first, third]
    assert all(hit.story is story for hit in hits)


def test_a_story_with_empty_fields_matches_nothing() -> None:
    assert match_story([make_rule(SYRIA)], make_story()) == []


# --- normalisation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "words"),
    [
        ("Erdoğan", ("erdogan",)),
        ("ERDOĞAN", ("erdogan",)),
        ("Erdog\u0306an", ("erdogan",)),
        ("al-Assad", ("al", "assad")),
        ("al\u2011Assad", ("al", "assad")),
        ("Assad\u2019s", ("assad", "s")),
        ("Łódź", ("lodz",)),
        ("Straße", ("strasse",)),
        ("ﬁnal", ("final",)),
        ("Tar\u00adtus", ("tartus",)),
        ("Procter &amp; Gamble", ("procter", "gamble")),
        ("mil_base", ("mil", "base")),
        ("بَشَّار", ("بشار",)),
        ("मोदी", ("मोदी",)),
        ("---", ()),
    ],
)
def test_term_words(term: str, words: tuple[str, ...]) -> None:
    assert term_words(term) == words


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Tartus <b>naval</b> base", "Tartus naval base"),
        ("<p>one</p><p>two</p>", "one two"),
        ("a<br>b", "a b"),
        ("Tar<i>tus</i>", "Tartus"),
        ("x &lt;b&gt; y", "x <b> y"),
        ("rates <5% and >3", "rates <5% and >3"),
        ("a<!-- note -->b", "ab"),
        ("  a \n\t b\u00a0c  ", "a b c"),
        ("A&amp;B&nbsp;C", "A&B C"),
    ],
)
def test_plain_text(markup: str, text: str) -> None:
    assert plain_text(markup) == text


def test_normalize_joins_folded_words() -> None:
    assert normalize("  Bashar   al\u2013ASSAD\u2019s ") == "bashar al assad s"
