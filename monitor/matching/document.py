"""A story prepared for matching, and the two primitive searches over it.

Each field is normalised and tokenised once (``prepare``) and shared by every
rule; ``find_phrase`` and ``find_keyword`` are the exact and fuzzy searches
that every condition is built from.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from monitor.matching.normalize import Token, plain_text, tokenize
from monitor.models import Story

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
