"""The rule engine: does a rule match a story, and exactly why.

This is the straightforward engine: every rule, every term, one after another.
It is the executable specification of what a match is; a faster engine must
return the same hits.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.matching.document import (
    FIELDS,
    FUZZY_MIN_LENGTH,
    Document,
    Field,
    find_keyword,
    find_phrase,
    prepare,
)
from monitor.matching.evaluate import entity_matches, evaluate, find_all, keyword_matches, restrict
from monitor.models import Hit, Match, Rule, Story

__all__ = [
    "FIELDS",
    "FUZZY_MIN_LENGTH",
    "Document",
    "Field",
    "find_keyword",
    "find_phrase",
    "in_scope",
    "match_rule",
    "match_story",
    "prepare",
]


def match_rule(rule: Rule, doc: Document) -> tuple[Match, ...] | None:
    """The matches that make ``rule`` fire on ``doc``, or None when it does not.

    Every present group must match (any entity name or alias; any phrase; at
    least ``min`` distinct keyword terms), the ``match:``/``query:`` tree must
    hold, and no exclusion may appear. All matching terms are reported, not
    just the first, so alerts can explain.
    """
    doc = restrict(doc, rule.fields)
    for phrase in rule.exclude:
        if next(find_all(doc, phrase), None):
            return None
    matches: list[Match] = []
    if rule.entities:
        found = [m for entity in rule.entities for m in entity_matches(entity, doc)]
        if not found:
            return None
        matches.extend(found)
    if rule.phrases:
        found = []
        for phrase in rule.phrases:
            span = next(find_all(doc, phrase), None)
            if span:
                found.append(span.match("phrase", phrase))
        if not found:
            return None
        matches.extend(found)
    if rule.keywords:
        found = keyword_matches(rule.keywords, doc)
        if len(found) < rule.keywords.min:
            return None
        matches.extend(found)
    if rule.match is not None:
        ok, found = evaluate(rule.match, doc)
        if not ok:
            return None
        matches.extend(m for m in found if m not in matches)
    return tuple(matches) if matches or rule.match is not None else None


def in_scope(rule: Rule, story: Story, source_tags: Iterable[str] = ()) -> bool:
    """Whether ``rule`` applies to ``story`` at all (enabled, source, language, age)."""
    if not rule.enabled:
        return False
    if rule.sources and not ({story.source, *source_tags} & set(rule.sources)):
        return False
    if rule.languages and story.language and story.language not in rule.languages:
        return False
    return not (rule.max_age and story.fetched_at - story.published_at > rule.max_age)


def always_in_scope(rule: Rule) -> bool:
    """Whether ``in_scope`` holds for ``rule`` on every story (none of its checks applies),
    so a matcher may skip it."""
    return rule.enabled and not (rule.sources or rule.languages or rule.max_age)


def match_story(rules: Iterable[Rule], story: Story, source_tags: Iterable[str] = ()) -> list[Hit]:
    """Every rule that fires on ``story``, with its explanation."""
    doc = prepare(story)
    tags = tuple(source_tags)
    hits = []
    for rule in rules:
        if not in_scope(rule, story, tags):
            continue
        matches = match_rule(rule, doc)
        if matches is not None:
            hits.append(Hit(rule=rule, story=story, matches=matches))
    return hits
