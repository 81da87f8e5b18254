"""Every exact term of a rule set found in one pass over a story's words.

A term is a sequence of folded words (entity names and aliases, phrases,
exclusions, context and ``near`` terms, short keywords), optionally with a
trailing ``*`` on its last word, optionally case-sensitive. Every occurrence
is reported, nested and overlapping ones included: "white house" inside
"white house press secretary" is found along with the longer phrase.

A field's words joined by single spaces, with a space at each end, hold a
term exactly where its *needle* stands: its words joined the same way, between
two spaces (no space after a ``*`` stem). ``str.find`` looks for a needle in
C, much faster than comparing words one by one in Python (``list.count`` and
``list.index`` compare every word of the field through the object protocol),
and the spaces before a place count the words before it. All the fields of a
story are joined into one string (``textview.JoinedWords``), so one search
looks in all of them. Looking for each of 90,000 terms in every story would still be
90,000 searches, so each term is searched only where it may stand: it has an
*anchor*, its word fewest terms share, and one set intersection of the story's
distinct words with the anchors (in C) gives the few terms in play; a term is
kept only if a second word of it is in the story too.

A character-level automaton (pyahocorasick) was measured at about 125 ns per
character with 86,000 terms (its nodes search their children linearly, and
news words share prefixes), several times the cost of the above. It stays for
one-word terms ending in ``*`` ("sanction*"), which have no whole word to anchor.

Case-sensitive terms are compared with the story's words with accents folded
but capitals kept (``evaluate._case_words``); everything else with the folded words.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain, compress
from typing import Any, NamedTuple

import ahocorasick

from monitor.matching.textview import SPACE_IN_WORD, FieldView, JoinedWords

#: term id -> its occurrences as (field index, first word, last word), in story order.
Occurrences = dict[int, list[tuple[int, int, int]]]


def needle(words: Sequence[str], prefix: bool) -> str:
    """What stands in ``JoinedWords`` where the term stands: a space, its words, a space.

    A stem (``prefix``) has no space after it: more letters may follow.
    """
    joined = " ".join(word.replace(" ", SPACE_IN_WORD) for word in words)
    return " " + joined + ("" if prefix else " ")


def search(
    joined: tuple[str, tuple[int, ...]],
    needle: str,
    size: int,
    start: int,
    found: list[tuple[int, int, int]],
) -> None:
    """Append each place of ``needle`` (of ``size`` words) in ``joined`` (``JoinedWords.get``).

    ``start`` is the first place (found by the caller). Overlapping places
    count: each next search starts one character on. The words before a place
    in its field are the spaces before it from the start of the field's part,
    counted on from the last place in the same field.
    """
    text, starts = joined
    field = bisect_right(starts, start) - 1
    first = text.count(" ", starts[field], start)
    while True:
        found.append((field, first, first + size - 1))
        following = text.find(needle, start + 1)
        if following < 0:
            return
        if field + 1 < len(starts) and following >= starts[field + 1]:
            field = bisect_right(starts, following) - 1
            first = text.count(" ", starts[field], following)
        else:
            first += text.count(" ", start, following)
        start = following


def find_one(term: LazyTerm, joined: JoinedWords) -> list[tuple[int, int, int]]:
    """Every occurrence of one term, as ``evaluate.find_all`` yields them.

    For the terms only some rules need: looked for only in the stories where
    such a rule is a candidate.
    """
    found: list[tuple[int, int, int]] = []
    text = joined.get(term.case_sensitive)
    start = text[0].find(term.needle)
    if start >= 0:
        search(text, term.needle, term.size, start, found)
    return found


class ExactTerm(NamedTuple):
    words: tuple[str, ...]
    case_sensitive: bool
    prefix: bool  # the last word may be followed by more letters (a trailing ``*``)


class LazyTerm(NamedTuple):
    """An exact term looked for on demand (``find_one``), and the words it needs.

    It can stand in a story only if its first word is there, and its last
    unless it is a stem: ``folded`` holds them as they must be among the
    story's folded words (for a case-sensitive term, only those in ASCII,
    lower-cased; an ASCII word lower-cased is its folding), ``cased`` as they
    must be among its words with capitals kept (case-sensitive terms only).
    Both are empty for a one-word stem. Looking the words up in the story's
    sets settles most lazy terms (two in three) without reading a field, and
    keeping them with the needle makes a lazy term one look-up, not two.
    """

    needle: str
    size: int
    case_sensitive: bool
    folded: tuple[str, ...]
    cased: tuple[str, ...]


def lazy_term(term: ExactTerm) -> LazyTerm:
    words, case_sensitive, prefix = term
    ends: tuple[str, ...] = ()
    if not (prefix and len(words) == 1):
        ends = (words[0],) if prefix else (words[0], words[-1])
    text = needle(words, prefix)
    if not case_sensitive:
        return LazyTerm(text, len(words), False, ends, ())
    lowered = tuple(word.lower() for word in ends if word.isascii())
    return LazyTerm(text, len(words), True, lowered, ends)


def first_folded(term: ExactTerm | None) -> str | None:
    """The folded word that must be in a story for ``term`` to be found there; None if unknown.

    Unknown for fuzzy terms (None), one-word stems, and case-sensitive terms
    whose first word is not ASCII (an ASCII word lower-cased is its folding).
    """
    if term is None or (term.prefix and len(term.words) == 1):
        return None
    first = term.words[0]
    if not term.case_sensitive:
        return first
    return first.lower() if first.isascii() else None


def first_words(terms: Iterable[ExactTerm | None]) -> frozenset[str] | None:
    """Folded words one of which a story must hold for any of ``terms`` to be found there.

    None when that is not known for one of them (``first_folded``); empty for no terms.
    """
    words = set()
    for term in terms:
        word = first_folded(term)
        if word is None:
            return None
        words.add(word)
    return frozenset(words)


#: (term id, its needle, its number of words)
_Entry = tuple[int, str, int]


def _packed(words: Iterable[str]) -> dict[str, str]:
    """A copy of each of ``words``, all made one after another so that they share few pages.

    The words of the terms were made while the rules were read, among a
    million other objects: the anchors and probes of 10,000 rules lay on about
    13,000 memory pages, and the few hundred a story looks up mostly missed
    the caches and the TLB. Copied in one go they fill about 650 pages.
    """
    copies: dict[str, str] = {}
    for word in words:
        if word not in copies:
            # Decoding makes a new string; ``str(word)`` or a slice would return ``word``.
            copies[word] = word.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    return copies


class _Mode:
    """The terms compared with one spelling of the story's words (folded, or case kept).

    Each term is found through one of its words, its *anchor*: the word fewest
    terms contain (longest on a tie), since a word common among terms is common
    in text too ("v" in "V. Tokoni" starts thousands of aliases, "tokoni" one).
    A ``*`` word cannot anchor, being a stem. Its *probe* is the next rarest
    word (the anchor itself for a one-word term).
    """

    def __init__(self, terms: Sequence[tuple[int, ExactTerm]]) -> None:
        usage = Counter(chain.from_iterable(set(term.words) for _, term in terms))
        anchors: dict[str, list[tuple[_Entry, str]]] = {}
        stems: dict[str, list[int]] = {}
        for term_id, (words, _, prefix) in terms:
            if len(words) == 1 and prefix:
                stems.setdefault(needle(words, prefix), []).append(term_id)
                continue
            whole = words[:-1] if prefix else words
            ranked = sorted(range(len(whole)), key=lambda i: (usage[whole[i]], -len(whole[i])))
            probe = whole[ranked[1] if len(ranked) > 1 else ranked[0]]
            entry = (term_id, needle(words, prefix), len(words))
            anchors.setdefault(whole[ranked[0]], []).append((entry, probe))
        # Every story looks up a few hundred anchors and probes: copies packed together.
        own = _packed(chain(anchors, (probe for pairs in anchors.values() for _, probe in pairs)))
        anchors = {
            own[word]: [(e, own[probe]) for e, probe in pairs] for word, pairs in anchors.items()
        }
        #: anchor word -> its terms.
        self.anchors = {word: tuple(entry for entry, _ in pairs) for word, pairs in anchors.items()}
        #: anchor word -> the word that must be in the story too: the probe of its one
        #: term, or for an anchor of several terms the anchor itself (each term's own
        #: probe is checked afterwards).
        self.probe = {
            word: pairs[0][1] if len(pairs) == 1 else word for word, pairs in anchors.items()
        }
        #: The anchor words (a set's table is smaller than a dict's, and the story's
        #: words are looked up in it).
        self.words = frozenset(self.anchors)
        #: anchor word -> (term, probe) pairs, for anchors of several terms.
        self.multi = {word: tuple(pairs) for word, pairs in anchors.items() if len(pairs) > 1}
        #: The anchors, lower-cased: an ASCII story word equal to one, lower-cased, is among these.
        self.lowered = frozenset(word.lower() for word in self.anchors)
        self.stems: Any = None
        if stems:
            self.stems = ahocorasick.Automaton()
            for key, ids in stems.items():
                self.stems.add_word(key, (len(key), tuple(ids)))
            self.stems.make_automaton()

    def live(self, vocabulary: set[str]) -> list[_Entry]:
        """The terms that may stand in a story whose distinct words are ``vocabulary``.

        Most anchor words in a story stand there for no term (news words and
        names share syllables), so a term is kept only if its probe is in the
        story too. The anchors present are one set intersection, their probes
        one pass in C (``compress`` over ``map``).
        """
        # A set unchanged between two passes yields its items in the same order.
        present = self.words.intersection(vocabulary)
        probes = map(vocabulary.__contains__, map(self.probe.__getitem__, present))
        live: list[_Entry] = []
        for word in compress(present, probes):
            entries = self.anchors[word]
            if len(entries) == 1:
                live.append(entries[0])
            else:
                live.extend(entry for entry, probe in self.multi[word] if probe in vocabulary)
        return live


class ExactIndex:
    """Finds every occurrence of every term, each under its caller's id."""

    def __init__(self, terms: Sequence[tuple[int, ExactTerm]]) -> None:
        modes: dict[bool, list[tuple[int, ExactTerm]]] = {False: [], True: []}
        for pair in terms:
            modes[pair[1].case_sensitive].append(pair)
        self._folded = _Mode(modes[False])
        self._cased = _Mode(modes[True])
        self._any_cased = bool(modes[True])

    def find(
        self, fields: Sequence[FieldView], joined: JoinedWords, vocabulary: set[str]
    ) -> Occurrences:
        """Every occurrence of every term in ``fields`` (``joined``: their words joined);
        ``vocabulary`` is their folded words."""
        found: Occurrences = {}
        folded = self._folded
        live = folded.live(vocabulary)
        if live or folded.stems is not None:
            self._scan(folded, live, joined.get(False), found)
        if not self._any_cased:
            return found
        cased = self._cased
        if (
            cased.stems is None
            and all(field.ascii_words() for field in fields if field.norms)
            and cased.lowered.isdisjoint(vocabulary)
        ):
            return found  # no word of the story is an anchor with its capitals changed
        exact = set(chain.from_iterable(field.exact_words() for field in fields))
        live = cased.live(exact)
        if live or cased.stems is not None:
            self._scan(cased, live, joined.get(True), found)
        return found

    @staticmethod
    def _scan(
        mode: _Mode,
        live: list[_Entry],
        joined: tuple[str, tuple[int, ...]],
        found: Occurrences,
    ) -> None:
        # A term has one anchor, so its occurrences come in story order: field by
        # field, and in each by position.
        text, starts = joined
        for term_id, term_needle, size in live:
            start = text.find(term_needle)
            if start >= 0:
                search(joined, term_needle, size, start, found.setdefault(term_id, []))
        if mode.stems is not None:
            for end, (length, ids) in mode.stems.iter(text):
                place = end - length + 1  # its space
                field = bisect_right(starts, place) - 1
                at = text.count(" ", starts[field], place)  # the words before it in its field
                for term_id in ids:
                    found.setdefault(term_id, []).append((field, at, at))
