"""Boolean query strings, as analysts write them in Meltwater, Talkwalker or
Google Alerts, compiled to the same condition tree as a YAML ``match:`` tree.

A query is the short form of a ``match:`` tree: ``parse_query(text)`` returns
the :data:`~monitor.models.Condition` the YAML would have built, so the matcher
never needs to know which form a rule used.

Terms
-----
``Putin``
    A bare word: the word itself, anywhere in the story (``PhraseLeaf``).
    Hyphens and apostrophes stay inside the word: ``al-Assad``, ``Kremlin's``.
``"Tartus naval base"``
    A quoted phrase: these words, in this order. Typographic quotes (“ ” „)
    work like ``"``; a phrase runs from one quote mark to the next. Quote an
    operator word to search for it: ``"OR"``.
``sanction*``
    A trailing wildcard: any word that starts with ``sanction``. The ``*`` may
    only end a term (``"economic sanction*"`` is fine) and needs at least three
    letters before it, because ``sa*`` would match half the dictionary.

Operators, tightest first
-------------------------
===================  ==========================================================
``A NEAR/n B``       both terms within ``n`` words of each other; plain ``NEAR``
                     means ``NEAR/10``. Both sides must be terms (words, quoted
                     phrases or wildcards), not groups. A chain with one distance,
                     ``A NEAR/5 B NEAR/5 C``, keeps all three within 5 words;
                     mixing distances in a chain is an error (write
                     ``(A NEAR/5 B) AND (B NEAR/10 C)``).
``NOT A``, ``-A``    A must not appear. ``-A`` is the Google spelling; the word
                     must follow the ``-`` directly.
``A AND B``          both. ``A B`` (no operator, Google style) means the same, and
                     so ``Tartus naval base`` is three words anywhere, not a
                     phrase: quote phrases. ``A NOT B`` and ``A AND NOT B`` both
                     mean A without B.
``A OR B``           either.
===================  ==========================================================

So ``A OR B AND C`` means ``A OR (B AND C)`` and ``NOT A OR B`` means
``(NOT A) OR B``, as in most search tools. Tools disagree at the edges, so
analysts should write the parentheses rather than rely on precedence.

Operators are upper-case words, as Meltwater requires: ``and``, ``or``,
``not`` and ``near`` are ordinary words to search for (so ``Putin or Assad``
needs all three words). ``near/5`` is rejected, since it can only be a mistyped
operator. ``&&``, ``||`` and ``+`` are not operators.

Parentheses group: ``(Tartus OR Hmeimim) AND Russia``.

Field prefixes
--------------
``title:Assad``, ``title:"Bashar al-Assad"`` and ``title:(Assad OR Putin)``
limit every term inside to the story's title. The fields are ``title``,
``summary`` and ``body``; ``text:`` means the rule's own fields (the default).
The term or ``(`` follows the colon directly. An inner prefix wins over an
outer one. A prefix cannot sit on one side of a NEAR; put it in front of the
whole NEAR: ``title:(Putin NEAR/10 Assad)``.

The tree
--------
Nested ANDs and ORs are flattened and a group of one is unwrapped, so equal
queries give equal trees: ``(A AND B) AND C`` is ``And((A, B, C))`` and
``(A)`` is ``A``.

Errors
------
A malformed query raises :class:`QuerySyntaxError` with a 1-based ``column``
(the character offset in the query string plus one, newlines counting as one
character) and a message that says what was expected, e.g. ``expected ')' to
close '(' opened at column 5``. A problem at the end of the query points just
past its last non-blank character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from monitor.matching.normalize import term_words
from monitor.models import And, Condition, Near, Not, Or, PhraseLeaf

__all__ = ["DEFAULT_NEAR", "FIELDS", "QuerySyntaxError", "parse_query"]

#: Words apart for a plain ``NEAR`` without ``/n``.
DEFAULT_NEAR = 10
#: Field prefixes and the story fields they limit a term to (None: the rule's own).
FIELDS: dict[str, tuple[str, ...] | None] = {
    "title": ("title",),
    "summary": ("summary",),
    "body": ("body",),
    "text": None,
}
#: Letters (after folding) a wildcard needs before its ``*``.
WILDCARD_MIN = 3

_QUOTES = '"“”„'
_WORD = re.compile(r'[^\s()"“”„]+')
_FIELD = re.compile(r"([A-Za-z]+):")
_NEAR_DISTANCE = re.compile(r"[0-9]+")


class QuerySyntaxError(ValueError):
    """A query string that does not parse; ``column`` (1-based) points at the problem."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


_Kind = Literal[
    "WORD", "PHRASE", "LPAREN", "RPAREN", "AND", "OR", "NOT", "NEAR", "FIELD", "MINUS", "END"
]
_OPERATORS: dict[str, _Kind] = {"AND": "AND", "OR": "OR", "NOT": "NOT"}
_OPERAND_START: frozenset[_Kind] = frozenset({"WORD", "PHRASE", "LPAREN", "FIELD", "NOT", "MINUS"})


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    raw: str  # as written, for messages
    column: int
    term: str = ""  # WORD and PHRASE: the text to search for
    within: int = 0  # NEAR: the distance
    fields: tuple[str, ...] | None = None  # FIELD: what the prefix limits terms to

    @property
    def shown(self) -> str:
        if self.kind == "END":
            return "end of query"
        return f"'{self.raw}'" if self.kind in ("LPAREN", "RPAREN", "MINUS") else self.raw


def parse_query(text: str) -> Condition:
    """Compile a Boolean query string to a condition tree; see the module docstring."""
    return _Parser(_tokenize(text)).parse()


def _tokenize(text: str) -> list[_Token]:
    end = len(text.rstrip()) + 1
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch, column = text[i], i + 1
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token("LPAREN" if ch == "(" else "RPAREN", ch, column))
            i += 1
        elif ch in _QUOTES:
            close = next((j for j in range(i + 1, len(text)) if text[j] in _QUOTES), -1)
            if close == -1:
                raise QuerySyntaxError(
                    f"expected a closing quote for the phrase opened at column {column}", end
                )
            raw = text[i + 1 : close]
            phrase = " ".join(raw.split())
            if not phrase:
                raise QuerySyntaxError("empty phrase: put words between the quotes", column)
            _check_term(raw, column, column + 1, shown=text[i : close + 1])
            tokens.append(_Token("PHRASE", text[i : close + 1], column, term=phrase))
            i = close + 1
        elif ch == "-":
            if i + 1 == len(text) or text[i + 1].isspace():
                raise QuerySyntaxError(
                    "put the word to exclude right after '-', as in -football", column
                )
            tokens.append(_Token("MINUS", ch, column))
            i += 1
        elif field := _FIELD.match(text, i):
            tokens.append(_field(field, text))
            i = field.end()
        else:
            word = _WORD.match(text, i)
            assert word is not None  # ch is none of the characters a word cannot start with
            tokens.append(_word(word.group(), column))
            i = word.end()
    tokens.append(_Token("END", "", end))
    return tokens


def _field(match: re.Match[str], text: str) -> _Token:
    name, column = match.group(1), match.start() + 1
    if name.lower() not in FIELDS:
        *others, last = (f"{f}:" for f in FIELDS)
        raise QuerySyntaxError(f"unknown field {name!r}: use {', '.join(others)} or {last}", column)
    after = match.end()
    if after == len(text) or text[after].isspace():
        raise QuerySyntaxError(
            f"put the term right after {name}: with no space, "
            f'as in {name}:Assad or {name}:"Bashar al-Assad"',
            after + 1,
        )
    return _Token("FIELD", match.group(), column, fields=FIELDS[name.lower()])


def _word(word: str, column: int) -> _Token:
    if word in _OPERATORS:
        return _Token(_OPERATORS[word], word, column)
    if word == "NEAR":
        return _Token("NEAR", word, column, within=DEFAULT_NEAR)
    if word.startswith("NEAR/"):
        distance = word[len("NEAR/") :]
        if not _NEAR_DISTANCE.fullmatch(distance):
            raise QuerySyntaxError("NEAR/n needs a number: NEAR/10", column + len("NEAR/"))
        if int(distance) < 1:
            raise QuerySyntaxError(
                "NEAR/n needs a distance of at least 1 word: NEAR/10", column + len("NEAR/")
            )
        return _Token("NEAR", word, column, within=int(distance))
    if word.lower().startswith("near/"):
        raise QuerySyntaxError(f"operators are upper-case: write NEAR{word[4:]}", column)
    _check_term(word, column, column, shown=f"'{word}'")
    return _Token("WORD", word, column, term=word)


def _check_term(raw: str, column: int, first: int, shown: str) -> None:
    """Reject terms the matcher could not use. ``first`` is the column of ``raw[0]``."""
    body = raw.rstrip()
    star = body.find("*")
    if star != -1:
        if star != len(body) - 1:
            raise QuerySyntaxError("* can only end a term, as in sanction*", first + star)
        stem = body[:-1]
        words = term_words(stem) if stem[-1:].isalnum() else ()
        if not words or len(words[-1]) < WILDCARD_MIN:
            raise QuerySyntaxError(
                f"wildcard {shown} is too broad: put at least {WILDCARD_MIN} letters "
                "before *, as in sanction*",
                column,
            )
    elif not term_words(raw):
        raise QuerySyntaxError(
            f"{shown} has no letters or digits to match; "
            "the operators are AND, OR, NOT and NEAR/n, in capitals",
            column,
        )


class _Parser:
    """Recursive descent, one method per precedence level, loosest first.

    ``fields`` travels down from the nearest field prefix, so an inner prefix
    wins over an outer one without rewriting finished subtrees.
    """

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token:
        # A method, not a property: mypy would carry narrowing of ``peek.kind``
        # across advance() calls.
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Condition:
        if self.peek().kind == "END":
            raise QuerySyntaxError("empty query", 1)
        tree = self.or_(None)
        if self.peek().kind == "RPAREN":
            raise QuerySyntaxError("unexpected ')' with no '(' before it", self.peek().column)
        assert self.peek().kind == "END"  # every other token continues an expression
        return tree

    def or_(self, fields: tuple[str, ...] | None) -> Condition:
        children = [self.and_(fields)]
        while self.peek().kind == "OR":
            self.advance()
            children.append(self.and_(fields))
        return _join(Or, children)

    def and_(self, fields: tuple[str, ...] | None) -> Condition:
        # A NOT B and a bare A B are ANDs too: NOT and - then read as unary.
        children = [self.unary(fields)]
        while self.peek().kind == "AND" or self.peek().kind in _OPERAND_START:
            if self.peek().kind == "AND":
                self.advance()
            children.append(self.unary(fields))
        return _join(And, children)

    def unary(self, fields: tuple[str, ...] | None) -> Condition:
        if self.peek().kind in ("NOT", "MINUS"):
            self.advance()
            return Not(self.unary(fields))
        return self.near(fields)

    def near(self, fields: tuple[str, ...] | None) -> Condition:
        if not (
            self.peek().kind in ("WORD", "PHRASE") and self.tokens[self.pos + 1].kind == "NEAR"
        ):
            operand = self.primary(fields)
            if self.peek().kind == "NEAR":
                raise QuerySyntaxError(
                    f"{self.peek().raw} needs a word or quoted phrase on its left, not a group "
                    "or a field prefix; for one field write title:(Putin NEAR/10 Assad)",
                    self.peek().column,
                )
            return operand
        terms = [self.advance().term]
        first = self.peek()
        while self.peek().kind == "NEAR":
            op = self.advance()
            if op.within != first.within:
                raise QuerySyntaxError(
                    f"NEAR/{op.within} after NEAR/{first.within} at column {first.column}: "
                    "a chain of NEARs needs one distance; join pairs with AND, as in "
                    "(A NEAR/5 B) AND (B NEAR/10 C)",
                    op.column,
                )
            if self.peek().kind not in ("WORD", "PHRASE"):
                raise self.expected("a word or quoted phrase")
            terms.append(self.advance().term)
        return Near(tuple(terms), first.within, fields)

    def primary(self, fields: tuple[str, ...] | None) -> Condition:
        token = self.peek()
        if token.kind in ("WORD", "PHRASE"):
            self.advance()
            return PhraseLeaf(token.term, fields)
        if token.kind == "FIELD":
            self.advance()
            if self.peek().kind not in ("WORD", "PHRASE", "LPAREN"):
                raise self.expected()
            return self.primary(token.fields)
        if token.kind == "LPAREN":
            self.advance()
            group = self.or_(fields)
            if self.peek().kind != "RPAREN":
                raise QuerySyntaxError(
                    f"expected ')' to close '(' opened at column {token.column}",
                    self.peek().column,
                )
            self.advance()
            return group
        raise self.expected()

    def expected(self, what: str = "a word, quoted phrase or '('") -> QuerySyntaxError:
        token = self.peek()
        after = (
            f"after {self.tokens[self.pos - 1].shown}" if self.pos else "at the start of the query"
        )
        if token.kind == "END":
            return QuerySyntaxError(f"unexpected end of query {after}", token.column)
        return QuerySyntaxError(f"expected {what} {after}, found {token.shown}", token.column)


def _join(kind: type[And] | type[Or], children: list[Condition]) -> Condition:
    """One And/Or over ``children``, flattening nested ones of the same kind."""
    flat: list[Condition] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))
