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
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_TAG = re.compile(r"<[^>]*>")
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|br|div|li|h[1-6]|tr|td|blockquote)\b[^>]*>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# A word: letters and digits, with any combining marks they carry.
_WORD = re.compile(r"(?:[^\W_][\u0300-\u036f]*)+")
_EXTRA_FOLDS = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"}
)


def plain_text(markup: str) -> str:
    """HTML or plain text -> readable plain text on one line of single spaces."""
    if "<" in markup:
        markup = _BLOCK_TAG.sub(" ", markup)
        markup = _TAG.sub("", markup)
    text = html.unescape(markup)
    text = unicodedata.normalize("NFC", text)
    return _SPACE.sub(" ", text).strip()


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
    return [Token(fold(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


def term_words(term: str) -> tuple[str, ...]:
    """A rule term as the folded words it must match, in order."""
    return tuple(token.norm for token in tokenize(plain_text(term)))


def normalize(text: str) -> str:
    """Folded words joined by single spaces: the canonical form of a term."""
    return " ".join(term_words(text))
