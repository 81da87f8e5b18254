"""A story's fields read once for the compiled engine: folded words now, offsets on demand.

The words, their order and their offsets are exactly those of
``document.prepare`` (the tests compare them on arbitrary text), but a typical
story is read several times faster. Most news text has only ASCII letters and
digits inside its words (curly quotes and dashes are not word characters), and
for such text one byte-level ``translate`` folds and splits every word at once;
offsets, needed only to quote a match, are found on first use. Words with
other letters are folded one by one by ``normalize.fold``; text with combining
marks is split by ``normalize.tokenize`` and markup goes through
``normalize.plain_text``, so there is one definition of a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from monitor.matching.document import FIELDS, Field
from monitor.matching.evaluate import _fold_accents  # the case-sensitive folding itself
from monitor.matching.normalize import Token, fold, plain_text, tokenize
from monitor.models import Story

#: Stands for a space inside one word in ``JoinedWords``: a few letters fold to
#: several words ("ﷺ"), which stay one word, as in ``document.prepare``.
SPACE_IN_WORD = "\x00"

#: Where words begin and end: a list, or an array when found with NumPy (read item by item).
Edges = list[int] | npt.NDArray[np.intp]

_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789" + _ASCII_LETTERS)
# Every byte that is not a letter or digit becomes a space; the first table also folds case.
_FOLD_TABLE = bytes(
    (b + 32 if 65 <= b <= 90 else b) if b in _ASCII_WORD else 32 for b in range(256)
)
_KEEP_TABLE = bytes(b if b in _ASCII_WORD else 32 for b in range(256))
# The same over UTF-8, leaving the bytes of non-ASCII characters alone.
_FOLD_UTF8 = _FOLD_TABLE[:128] + bytes(range(128, 256))
_KEEP_UTF8 = _KEEP_TABLE[:128] + bytes(range(128, 256))
_ASCII_BYTES = bytes(range(128))
# Deleting these from ASCII bytes leaves the whitespace other than " " (and DEL, harmless).
_NOT_SPACE_CONTROLS = bytes(b for b in range(256) if not (9 <= b <= 13 or 28 <= b <= 31))
_staying: dict[str, bool] = {}
# Without combining marks in the text, normalize's word pattern reduces to this.
_SIMPLE_WORD = re.compile(r"[^\W_]+")
_INVISIBLES = ("\u00ad", "\u2060", "\ufeff")
_inside_words: dict[str, bool] = {}


def _can_be_in_a_word(char: str) -> bool:
    """Whether ``char`` is a letter, digit or combining mark (memoised; few distinct chars)."""
    known = _inside_words.get(char)
    if known is None:
        known = char.isalnum() or unicodedata.category(char)[0] == "M"
        _inside_words[char] = known
    return known


def fast_plain_text(markup: str) -> str:
    """``normalize.plain_text``, with a shortcut for text that has no markup or entities.

    ``str.split`` and ``\\s`` agree on what whitespace is, so joining the split
    words is the same as collapsing runs of whitespace and stripping the ends.
    """
    if "<" in markup or "&" in markup:
        return plain_text(markup)
    if markup.isascii():
        text = markup  # already NFC, and no invisible character is ASCII
    else:
        text = unicodedata.normalize("NFC", markup)
        if any(char in text for char in _INVISIBLES):
            return plain_text(markup)
    # Printable text has no whitespace but " " (every other whitespace character is
    # a control, separator or format character), so with no run of two spaces and
    # none at either end it is already on one line of single spaces.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


class FieldView:
    """One field of a story: its plain text and folded words; offsets computed on demand."""

    __slots__ = (
        "_edges",
        "_exact",
        "_lowered",
        "_raw",
        "_spans",
        "_wide",
        "index",
        "name",
        "norms",
        "text",
    )

    def __init__(
        self,
        index: int,
        name: str,
        text: str,
        norms: list[str],
        spans: list[tuple[int, int]] | None,
        wide: bool,
        raw: bytes = b"",
        lowered: bytes | str = b"",
    ) -> None:
        self.index = index
        self.name = name
        self.text = text
        self.norms = norms
        self._spans = spans
        #: Whether some word holds a non-ASCII character (so folding was done word by word).
        self._wide = wide
        #: The text as bytes, one byte per character when not ``wide`` (UTF-8 if it
        #: is), with every non-ASCII character that is not a letter or digit a space
        #: or "?"; empty when the words came from ``normalize.tokenize``.
        self._raw = raw
        #: The text with ASCII letters lower-cased and every character that is not a
        #: letter or digit a space, character for character (made while reading; the
        #: edges are found in it): bytes, or a str when ``wide``.
        self._lowered = lowered
        self._exact: list[str] | None = None
        self._edges: Edges | None = None

    def edges(self) -> Edges:
        """Where words begin and end in ``text``: word i is ``text[e[2 * i] : e[2 * i + 1]]``."""
        if self._edges is None:
            if self._spans is not None:
                self._edges = [offset for span in self._spans for offset in span]
            elif self._lowered:
                # Words are the runs of word characters: find where they begin and end.
                # A space (not a word) on either side, so that edge i is where
                # character i begins or ends a word.
                lowered = self._lowered
                if isinstance(lowered, str):  # wide: one code point per character
                    codes = np.frombuffer((" " + lowered + " ").encode("utf-32-le"), np.uint32)
                else:
                    codes = np.frombuffer(b" " + lowered + b" ", dtype=np.uint8)
                inside = codes != 32
                # Left as an array: a quote reads two of its items, the rest are never needed.
                # (``nonzero`` itself: ``np.flatnonzero`` wraps it in Python, ~1 us more.)
                self._edges = (inside[1:] != inside[:-1]).nonzero()[0]
            else:
                self._edges = [
                    offset for m in _SIMPLE_WORD.finditer(self.text) for offset in m.span()
                ]
        return self._edges

    def spans(self) -> list[tuple[int, int]]:
        """Where each word stands in ``text``."""
        if self._spans is None:
            found = self.edges()
            edges = found.tolist() if isinstance(found, np.ndarray) else list(found)
            self._spans = list(zip(edges[0::2], edges[1::2], strict=True))
        return self._spans

    def exact_words(self) -> list[str]:
        """The words with accents folded but capitals kept, for case-sensitive names."""
        if self._exact is None:
            if not self._raw:
                text = self.text
                self._exact = [_fold_accents(text[s:e]) for s, e in self.spans()]
            elif self._wide:
                words = self._raw.translate(_KEEP_UTF8).decode("utf-8").split()
                self._exact = [w if w.isascii() else _fold_accents(w) for w in words]
            else:
                self._exact = self._raw.translate(_KEEP_TABLE).decode("ascii").split()
        return self._exact

    def ascii_words(self) -> bool:
        """Whether the words are all ASCII: then ``norms`` are ``exact_words`` lower-cased."""
        return bool(self._raw) and not self._wide

    def quote(self, first: int, last: int) -> tuple[str, int, int]:
        """The story's own text spanning words ``first`` to ``last`` (inclusive)."""
        edges = self.edges()
        start, end = int(edges[2 * first]), int(edges[2 * last + 1])
        return self.text[start:end], start, end

    def as_field(self) -> Field:
        """The same field as ``document.prepare`` builds it (for the simple evaluator)."""
        tokens = tuple(
            Token(norm, start, end)
            for norm, (start, end) in zip(self.norms, self.spans(), strict=True)
        )
        return Field(self.name, self.text, tokens, tuple(self.norms))


#: Stands between two fields in ``JoinedWords``: no needle holds it, so no term is
#: found across two fields.
FIELD_BREAK = "\x01"


class JoinedWords:
    """The words of every field of a story in one string, folded or with capitals kept.

    Each field's words are joined by single spaces, with a space at each end
    (nothing for a field without words), and ``FIELD_BREAK`` between two
    fields: " title words \x01 summary words \x01 body words ". A term stands
    in a field where its *needle* (``automaton.needle``) stands in the field's
    part, and the spaces from the start of the part to a place count the
    field's words before it. One string for the story, not one per field,
    makes looking for a term one ``str.find`` instead of three (with the
    Python around each); made on first use.
    """

    __slots__ = ("_fields", "_made")

    def __init__(self, fields: Sequence[FieldView]) -> None:
        self._fields = fields
        self._made: list[tuple[str, tuple[int, ...]] | None] = [None, None]

    def get(self, exact: bool = False) -> tuple[str, tuple[int, ...]]:
        """The words joined (capitals kept if ``exact``), and where each field's part starts."""
        made = self._made[exact]
        if made is None:
            made = self._made[exact] = _join(self._fields, exact)
        return made


def _join(fields: Sequence[FieldView], exact: bool) -> tuple[str, tuple[int, ...]]:
    parts = []
    starts = []
    at = 0
    for field in fields:
        starts.append(at)
        words = field.exact_words() if exact else field.norms
        part = ""  # no space at all for a field without words: nothing can be found there
        if words:
            part = " ".join(["", *words, ""])
            # A letter folded to words ("ﷺ"); words folded byte by byte have no space.
            if not field.ascii_words() and part.count(" ") != len(words) + 1:
                part = " ".join(["", *(word.replace(" ", SPACE_IN_WORD) for word in words), ""])
        parts.append(part)
        at += len(part) + len(FIELD_BREAK)
    return FIELD_BREAK.join(parts), tuple(starts)


def _non_ascii(text: str) -> set[str]:
    """The distinct non-ASCII characters of ``text``: dropping every ASCII byte of its
    UTF-8 leaves only theirs (about twice as fast as NumPy over its UTF-16, measured)."""
    data = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
    return set(data.decode("utf-8", "surrogatepass"))


def _stays(char: str) -> bool:
    """Whether ``plain_text`` leaves ``char`` as it is wherever it stands (memoised).

    Not whitespace, not one of the invisible characters it removes, and NFC
    whatever surrounds it: unchanged by NFC on its own, not reordered (a
    combining mark), and not the second of a pair NFC composes (combining
    marks, and the Hangul vowel and final consonant jamo).
    """
    known = _staying.get(char)
    if known is None:
        known = _staying[char] = stays_in_plain_text(char)
    return known


def stays_in_plain_text(char: str) -> bool:
    """``_stays`` without the memo (the tests check it on every character)."""
    code = ord(char)
    return not (
        char.isspace()
        or char in _INVISIBLES
        or unicodedata.normalize("NFC", char) != char
        or unicodedata.category(char)[0] == "M"
        or 0x1160 <= code <= 0x11FF
        or 0xD7B0 <= code <= 0xD7FF
    )


def _one_line(text: str, raw: bytes) -> bool:
    """Whether ``text`` (whose non-ASCII whitespace is ruled out; ``raw``, its ASCII bytes
    with "?" for the others) is on one line of single spaces: ``" ".join(text.split())``."""
    return (
        not raw.translate(None, _NOT_SPACE_CONTROLS)
        and "  " not in text
        and text[:1] != " "
        and text[-1:] != " "
    )


def _plain(markup: str) -> tuple[str, set[str], bytes]:
    """``normalize.plain_text(markup)``, its non-ASCII characters, and its ASCII bytes (with
    "?" for other characters) when they were needed on the way (else empty).

    Text with no markup, no entities and no character that NFC, collapsing
    whitespace or the removal of invisible characters would change is its own
    plain text once its ASCII whitespace is collapsed, and most news text is
    such: that is checked on its few distinct non-ASCII characters (``_stays``),
    not character by character.
    """
    if "<" in markup or "&" in markup:
        return _plain_slowly(markup)
    others: set[str] = set()
    if not markup.isascii():
        others = _non_ascii(markup)
        if not all(map(_stays, others)):
            return _plain_slowly(markup)
    raw = markup.encode("ascii", "replace")
    if _one_line(markup, raw):
        return markup, others, raw
    return " ".join(markup.split()), others, b""


def _plain_slowly(markup: str) -> tuple[str, set[str], bytes]:
    text = fast_plain_text(markup)
    return text, (set() if text.isascii() else _non_ascii(text)), b""


def read_field(index: int, name: str, markup: str) -> FieldView:
    text, others, raw = _plain(markup)
    inside = [char for char in others if _can_be_in_a_word(char)]
    if not inside:
        # ASCII, or with non-ASCII characters that are all punctuation or symbols: one
        # "?" each keeps every offset, and "?" is not a word character either.
        raw = raw or text.encode("ascii", "replace")
        folded = raw.translate(_FOLD_TABLE)
        norms = folded.decode("ascii").split()
        return FieldView(index, name, text, norms, None, False, raw, folded)
    if any(unicodedata.category(char)[0] == "M" for char in inside):
        tokens = tokenize(text)
        norms = [t.norm for t in tokens]
        return FieldView(index, name, text, norms, [(t.start, t.end) for t in tokens], True)
    # Accented or non-Latin letters but no combining marks: blank the non-ASCII
    # punctuation, fold ASCII bytes at once, and fold word by word only the
    # words that hold a non-ASCII letter.
    spaced = text
    for char in others:
        if char not in inside:
            spaced = spaced.replace(char, " ")
    raw = spaced.encode("utf-8")
    lowered = raw.translate(_FOLD_UTF8).decode("utf-8")
    letters = _fold_letters(lowered, inside)
    if letters is not None:
        norms = letters.split()
    else:
        norms = [w if w.isascii() else fold(w) for w in lowered.split()]
    return FieldView(index, name, text, norms, None, True, raw, lowered)


def _fold_letters(text: str, letters: list[str]) -> str | None:
    """``text`` with each letter folded, when that folds each word as ``fold`` does; else None.

    ``fold`` works character by character (case folding has no context, and the
    marks it strips are the only characters canonical ordering moves), so a
    word's folding is its letters' foldings; splitting afterwards gives the same
    words unless a letter folds to nothing or to something with a space in it.
    Each letter is replaced in turn, which is one pass unless a letter folds
    into another that is replaced: then None too.
    """
    pairs = [(char, fold(char)) for char in letters]
    pairs = [(char, folded) for char, folded in pairs if folded != char]
    replaced = {char for char, _ in pairs}
    for _, folded in pairs:
        if folded.split() != [folded] or not replaced.isdisjoint(folded):
            return None
    for char, folded in pairs:
        text = text.replace(char, folded)
    return text


def term_words(term: str, case_sensitive: bool = False) -> tuple[str, ...]:
    """``normalize.term_words`` (or, case-sensitive, ``evaluate._case_words``), faster."""
    if term.isascii() and "<" not in term and "&" not in term:
        table = _KEEP_TABLE if case_sensitive else _FOLD_TABLE
        return tuple(term.encode("ascii").translate(table).decode("ascii").split())
    view = read_field(0, "", term)
    return tuple(view.exact_words() if case_sensitive else view.norms)


def read_story(story: Story) -> tuple[FieldView, ...]:
    """Every field of ``story``, in ``document.FIELDS`` order."""
    return tuple(read_field(i, name, getattr(story, name)) for i, name in enumerate(FIELDS))


__all__ = [
    "FIELD_BREAK",
    "SPACE_IN_WORD",
    "FieldView",
    "JoinedWords",
    "fast_plain_text",
    "read_field",
    "read_story",
    "term_words",
]
