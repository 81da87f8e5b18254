"""Evaluate a rule's condition tree on a prepared story, collecting why it matched.

Leaves find every occurrence of their terms (not just the first), because
``near`` and entity ``context`` need positions, and explanations list all
matched text. Case-sensitive names compare the story's own letters, with
accents folded but capitals kept, so "US" never matches "us".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import re2

from monitor.matching.document import Document, Field, find_keyword
from monitor.matching.normalize import term_words
from monitor.models import (
    And,
    Condition,
    Entity,
    EntityLeaf,
    KeywordSet,
    KeywordsLeaf,
    Match,
    Near,
    Not,
    Or,
    PhraseLeaf,
    RegexLeaf,
)

WILDCARD = "*"


@dataclass(frozen=True)
class Span:
    """Tokens ``first`` to ``last`` (inclusive) of one field."""

    field: Field
    first: int
    last: int

    def match(self, kind: str, term: str, score: float = 100.0) -> Match:
        text, start, end = self.field.quote(self.first, self.last)
        return Match(kind, term, text, self.field.name, start, end, score)


@lru_cache(maxsize=100_000)
def _fold_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _exact_words(field: Field, index: int) -> str:
    token = field.tokens[index]
    return _fold_accents(field.text[token.start : token.end])


def _case_words(term: str) -> tuple[str, ...]:
    """A case-sensitive term as words with accents folded but capitals kept."""
    from monitor.matching.normalize import plain_text, tokenize

    text = plain_text(term)
    return tuple(_fold_accents(text[t.start : t.end]) for t in tokenize(text))


def restrict(doc: Document, fields: tuple[str, ...] | None) -> Document:
    """The document with only ``fields`` (all of them when None)."""
    if fields is None:
        return doc
    return Document(tuple(f for f in doc.fields if f.name in fields))


def find_all(doc: Document, term: str, case_sensitive: bool = False) -> Iterator[Span]:
    """Every place ``term`` appears as whole words; a trailing ``*`` matches any ending."""
    prefix = term.rstrip().endswith(WILDCARD)
    words = _case_words(term) if case_sensitive else term_words(term)
    if not words:
        return
    size = len(words)
    head, last = words[:-1], words[-1]
    for field in doc.fields:
        norms = field.norms
        for index in range(len(norms) - size + 1):
            if case_sensitive:
                candidate = tuple(_exact_words(field, i) for i in range(index, index + size))
            else:
                candidate = norms[index : index + size]
            if candidate[:-1] != head:
                continue
            if candidate[-1] == last or (prefix and candidate[-1].startswith(last)):
                yield Span(field, index, index + size - 1)


def _near_ok(doc: Document, span: Span, context: tuple[str, ...], within: int) -> bool:
    """Does any of ``context`` appear within ``within`` words of ``span``?"""
    for term in context:
        for other in find_all(Document((span.field,)), term):
            if other.first <= span.last + within and other.last >= span.first - within:
                return True
    return False


def entity_matches(entity: Entity, doc: Document) -> list[Match]:
    """For each of the entity's names, its first mention that the context allows."""
    found: list[Match] = []
    for name in entity.names:
        for span in find_all(doc, name, entity.is_case_sensitive(name)):
            context = entity.context
            if context:
                if context.forbid and _near_ok(doc, span, context.forbid, context.within):
                    continue
                if context.require_any and not _near_ok(
                    doc, span, context.require_any, context.within
                ):
                    continue
            found.append(span.match("entity", entity.name))
            break
    return found


def keyword_matches(keywords: KeywordSet, doc: Document) -> list[Match]:
    """The best match of each keyword term found (fuzzy for terms of 5+ characters)."""
    found = []
    seen: set[tuple[str, ...]] = set()
    for term in keywords.terms:
        words = term_words(term)
        if words in seen:
            continue
        seen.add(words)
        hit = find_keyword(doc, words, keywords.threshold)
        if hit:
            field, first, last, score = hit
            found.append(Span(field, first, last).match("keyword", term, round(score, 1)))
    return found


@lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> re2._Regexp:
    """Compile with RE2 (linear time, so no catastrophic backtracking); case-insensitive.

    Raises ``re2.error`` for an invalid pattern or one RE2 does not support
    (backreferences, lookaround).
    """
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    return re2.compile(pattern, options)


def regex_matches(pattern: str, doc: Document) -> list[Match]:
    compiled = compile_regex(pattern)
    found = []
    for field in doc.fields:
        for hit in compiled.finditer(field.text):
            if hit.end() > hit.start():
                text = field.text[hit.start() : hit.end()]
                found.append(Match("phrase", pattern, text, field.name, hit.start(), hit.end()))
    return found


def near_matches(near: Near, doc: Document) -> list[Match]:
    """Matches for every term when all terms stand within ``near.within`` words, else [].

    Distance is counted between the first words of the terms, so
    ``Putin NEAR/10 Assad`` accepts up to nine words between them.
    """
    for field in doc.fields:
        single = Document((field,))
        spans = [list(find_all(single, term)) for term in near.terms]
        if any(not found for found in spans):
            continue
        events = sorted((s.first, i, s) for i, found in enumerate(spans) for s in found)
        best: dict[int, Span] = {}
        for first, index, span in events:
            best[index] = span
            if len(best) == len(near.terms):
                low = min(s.first for s in best.values())
                if first - low <= near.within:
                    return [best[i].match("phrase", near.terms[i]) for i in sorted(best)]
    return []


def evaluate(condition: Condition, doc: Document) -> tuple[bool, list[Match]]:
    """Whether ``condition`` holds on ``doc``, and the matches that make it hold."""
    if isinstance(condition, And):
        matches: list[Match] = []
        for child in condition.children:
            ok, found = evaluate(child, doc)
            if not ok:
                return False, []
            matches.extend(found)
        return True, matches
    if isinstance(condition, Or):
        matches = []
        for child in condition.children:
            ok, found = evaluate(child, doc)
            if ok:
                matches.extend(found)
        return bool(matches) or any(evaluate(c, doc)[0] for c in condition.children), matches
    if isinstance(condition, Not):
        ok, _ = evaluate(condition.child, doc)
        return not ok, []
    scoped = restrict(doc, condition.fields)
    if isinstance(condition, EntityLeaf):
        found = entity_matches(condition.entity, scoped)
    elif isinstance(condition, PhraseLeaf):
        span = next(find_all(scoped, condition.text), None)
        found = [span.match("phrase", condition.text)] if span else []
    elif isinstance(condition, KeywordsLeaf):
        found = keyword_matches(condition.keywords, scoped)
        return len(found) >= condition.keywords.min, found
    elif isinstance(condition, RegexLeaf):
        found = regex_matches(condition.pattern, scoped)
    else:
        found = near_matches(condition, scoped)
    return bool(found), found
