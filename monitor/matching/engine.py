"""The rule engine: does a rule match a story, and exactly why.

This is the straightforward engine: every rule, every term, one after another.
It is the executable specification of what a match is; a faster engine must
return the same hits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from monitor.matching.normalize import Token, plain_text, term_words, tokenize
from monitor.models import Hit, Match, Rule, Story

#: Keyword terms shorter than this (in characters) are matched exactly, not fuzzily:
#: a short word is one typo away from many unrelated words.
FUZZY_MIN_LENGTH = 5
FIELDS = ("title", "summary", "body")


@dataclass(frozen=True)
class Field:
    """One field of a story, ready to match: plain text and its tokens."""

    name: str
    text: str
    tokens: tuple[Token, ...]
    norms: tuple[str, ...]

    def quote(self, first: int, last: int) -> tuple[str, int, int]:
        """The story's own text spanning tokens ``first`` to ``last`` (inclusive)."""
        start, end = self.tokens[first].start, self.tokens[last].end
        return self.text[start:end], start, end


@dataclass(frozen=True)
class Document:
    """A story prepared for matching: each field normalised and tokenised once."""

    fields: tuple[Field, ...]


def prepare(story: Story) -> Document:
    """Normalise and tokenise a story's fields once, for every rule to share."""
    fields = []
    for name in FIELDS:
        text = plain_text(getattr(story, name))
        tokens = tuple(tokenize(text))
        fields.append(Field(name, text, tokens, tuple(t.norm for t in tokens)))
    return Document(tuple(fields))


def find_phrase(doc: Document, words: tuple[str, ...]) -> tuple[Field, int, int] | None:
    """First place where ``words`` appear as consecutive whole words."""
    if not words:
        return None
    size = len(words)
    for field in doc.fields:
        norms = field.norms
        for index in range(len(norms) - size + 1):
            if norms[index] == words[0] and norms[index : index + size] == words:
                return field, index, index + size - 1
    return None


def find_keyword(
    doc: Document, words: tuple[str, ...], threshold: float
) -> tuple[Field, int, int, float] | None:
    """Best window of ``len(words)`` words scoring at least ``threshold``.

    Short terms must appear exactly; longer ones are compared with
    ``rapidfuzz.fuzz.ratio`` against every window of the same word count.
    """
    term = " ".join(words)
    if len(term) < FUZZY_MIN_LENGTH:
        exact = find_phrase(doc, words)
        return (*exact, 100.0) if exact else None
    size = len(words)
    best: tuple[Field, int, int, float] | None = None
    for field in doc.fields:
        windows = [" ".join(field.norms[i : i + size]) for i in range(len(field.norms) - size + 1)]
        found = process.extractOne(term, windows, scorer=fuzz.ratio, score_cutoff=threshold)
        if found and (best is None or found[1] > best[3]):
            _, score, index = found
            best = (field, index, index + size - 1, float(score))
            if score == 100:
                break
    return best


def _phrase_match(doc: Document, kind: str, term: str, canonical: str) -> Match | None:
    found = find_phrase(doc, term_words(term))
    if not found:
        return None
    field, first, last = found
    text, start, end = field.quote(first, last)
    return Match(kind=kind, term=canonical, text=text, field=field.name, start=start, end=end)


def match_rule(rule: Rule, doc: Document) -> tuple[Match, ...] | None:
    """The matches that make ``rule`` fire on ``doc``, or None when it does not.

    Every present group must match (any entity name or alias; any phrase; at
    least ``min`` distinct keyword terms) and no exclusion may appear. All
    matching terms are reported, not just the first, so alerts can explain.
    """
    for phrase in rule.exclude:
        if find_phrase(doc, term_words(phrase)):
            return None
    matches: list[Match] = []
    if rule.entities:
        found = [
            match
            for entity in rule.entities
            for name in entity.names
            if (match := _phrase_match(doc, "entity", name, entity.name))
        ]
        if not found:
            return None
        matches.extend(found)
    if rule.phrases:
        found = [m for p in rule.phrases if (m := _phrase_match(doc, "phrase", p, p))]
        if not found:
            return None
        matches.extend(found)
    if rule.keywords:
        found = []
        seen: set[tuple[str, ...]] = set()
        for term in rule.keywords.terms:
            words = term_words(term)
            # "Military base" and "military base" are one term: counting both
            # would let a single mention satisfy ``min: 2``.
            if words in seen:
                continue
            seen.add(words)
            hit = find_keyword(doc, words, rule.keywords.threshold)
            if hit:
                field, first, last, score = hit
                text, start, end = field.quote(first, last)
                found.append(Match("keyword", term, text, field.name, start, end, round(score, 1)))
        if len(found) < rule.keywords.min:
            return None
        matches.extend(found)
    return tuple(matches) if matches else None


def match_story(rules: Iterable[Rule], story: Story) -> list[Hit]:
    """Every rule that fires on ``story``, with its explanation."""
    doc = prepare(story)
    hits = []
    for rule in rules:
        matches = match_rule(rule, doc)
        if matches:
            hits.append(Hit(rule=rule, story=story, matches=matches))
    return hits
