"""Text normalisation shared by rules and stories, so both sides fold the same way.

A story field becomes plain text (HTML tags stripped, entities decoded), then a
list of word tokens. Each token keeps its span in the plain text, so a match can
always quote the story's own characters back to the user. Folding happens per
word: case, diacritics (Erdoğan = Erdogan) and a few letters Unicode does not
decompose. Punctuation never joins a word, which is what makes hyphen vs space
("al-Assad" = "al Assad"), typographic dashes and apostrophes fold for free.
"""

from __future__ import annotations

import html
import itertools
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

# Only ``<`` followed by a letter, ``/``, ``!`` or ``?`` opens a tag, so the text in
# "rates <5% ... >3" is not swallowed as if it were one long tag.
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|br|div|li|h[1-6]|tr|td|blockquote)\b[^>]*>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Invisible characters that sit inside words: the soft hyphen (German and Dutch
# publishers put hyphenation hints in feeds), the word joiner and a stray BOM.
# Left in, they would split "Tar\u00adtus" into two words.
_INVISIBLE = re.compile("[\u00ad\u2060\ufeff]")
# Where a word can start: a letter or a digit (``\w`` without the underscore).
_WORD_START = re.compile(r"[^\W_]")
_EXTRA_FOLDS = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"}
)


def plain_text(markup: str) -> str:
    """HTML or plain text -> readable plain text on one line of single spaces."""
    if "<" in markup:
        markup = _BLOCK_TAG.sub(" ", markup)
        markup = _TAG.sub("", markup)
    text = html.unescape(markup)
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    return _SPACE.sub(" ", text).strip()


@cache
def _word_pattern() -> re.Pattern[str]:
    """A word: letters and digits, with any combining marks they carry.

    ``re`` has no ``\\p{M}``, and marks are not ``\\w``: without them Arabic
    harakat, Hebrew points or Devanagari vowel signs would cut a word in pieces
    (and a pointed spelling would never match an unpointed one). The class is
    built from ``unicodedata`` on first use (a few tens of ms) rather than at
    import; planes 2-13 hold no marks and are skipped.
    """
    marks = [
        code
        for code in itertools.chain(range(0x20000), range(0xE0000, sys.maxunicode + 1))
        if unicodedata.category(chr(code))[0] == "M"
    ]
    ranges = []
    for _, run in itertools.groupby(enumerate(marks), key=lambda pair: pair[1] - pair[0]):
        codes = [code for _, code in run]
        ranges.append(f"\\U{codes[0]:08x}-\\U{codes[-1]:08x}")
    return re.compile(rf"(?:[^\W_][{''.join(ranges)}]*)+")


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """One word, case- and accent-folded: ``Erdoğan`` -> ``erdogan``."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.translate(_EXTRA_FOLDS)


@dataclass(frozen=True)
class Token:
    """A word of a field: its folded form and where it stands in the plain text."""

    norm: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split plain text into folded word tokens with their spans."""
    return [Token(fold(m.group()), m.start(), m.end()) for m in _word_pattern().finditer(text)]


def term_words(term: str) -> tuple[str, ...]:
    """A rule term as the folded words it must match, in order."""
    return tuple(token.norm for token in tokenize(plain_text(term)))


def has_words(term: str) -> bool:
    """``bool(term_words(term))``, without building the words.

    Every letter or digit of the plain text starts or continues a word, and
    folding never drops a word, so one search answers. Rule checking asks this
    of every term, and folding them all was most of the time a large rule
    folder took to check. ASCII without ``<`` or ``&`` is its own plain text.
    """
    if not (term.isascii() and "<" not in term and "&" not in term):
        term = plain_text(term)
    return _WORD_START.search(term) is not None


def normalize(text: str) -> str:
    """Folded words joined by single spaces: the canonical form of a term."""
    return " ".join(term_words(text))
