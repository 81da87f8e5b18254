"""Every exact term of a rule set found in one pass over a story's words.

A term is a sequence of folded words (entity names and aliases, phrases,
exclusions, context and ``near`` terms, short keywords), optionally with a
trailing ``*`` on its last word, optionally case-sensitive. Every occurrence
is reported, nested and overlapping ones included: "white house" inside
"white house press secretary" is found along with the longer phrase.

Terms are whole words, so most are found at the word level: a hash of one
word of each term (its rarest, the *anchor*) gives, at each position of the story, the few
terms that can stand there, and each is compared word by word exactly as
``evaluate.find_all`` compares them. A character-level automaton (pyahocorasick) was measured at
about 125 ns per character with 86,000 terms (its nodes search their children
linearly, and news words share prefixes), several times the cost of the hash.
It stays for what needs characters: one-word terms ending in ``*`` ("sanction*"),
whose stems it finds in the words joined by spaces.

Case-sensitive terms are compared with the story's words with accents folded
but capitals kept (``evaluate._case_words``); everything else with the folded words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain, compress
from typing import Any, NamedTuple

import ahocorasick

from monitor.matching.textview import FieldView

#: term id -> its occurrences as (field index, first word, last word), in story order.
Occurrences = dict[int, list[tuple[int, int, int]]]


def find_one(term: ExactTerm, fields: Sequence[FieldView]) -> list[tuple[int, int, int]]:
    """Every occurrence of one term, as ``evaluate.find_all`` yields them.

    For the terms only some rules need: looked for only in the stories where
    such a rule is a candidate, by ``list.index`` (a scan in C) on its first word.
    """
    words, prefix = list(term.words), term.prefix
    size = len(words)
    head, last = words[:-1], words[-1]
    found: list[tuple[int, int, int]] = []
    for field in fields:
        story = field.exact_words() if term.case_sensitive else field.norms
        if prefix and size == 1:
            found.extend((field.index, i, i) for i, w in enumerate(story) if w.startswith(last))
            continue
        first_word = words[0]
        if first_word not in field.distinct(term.case_sensitive):
            continue
        end = len(story) - size  # the last position a term can start at
        start = 0
        for _ in range(story.count(first_word)):  # no search that fails, no exception
            i = story.index(first_word, start)
            if i > end:
                break
            start = i + 1
            if story[i : i + size - 1] != head:
                continue
            if story[i + size - 1] == last or (prefix and story[i + size - 1].startswith(last)):
                found.append((field.index, i, i + size - 1))
    return found


class ExactTerm(NamedTuple):
    words: tuple[str, ...]
    case_sensitive: bool
    prefix: bool  # the last word may be followed by more letters (a trailing ``*``)


#: (term id, anchor's position in the term, the term's words unless it is that one
#: word, whether its last word is a stem, where a second word stands from the
#: anchor, and that word)
_Entry = tuple[int, int, list[str] | None, bool, int, str]


class _Mode:
    """The terms compared with one spelling of the story's words (folded, or case kept).

    Each term is found through one of its words, its *anchor*: the word fewest
    terms contain (longest on a tie), since a word common among terms is common
    in text too ("v" in "V. Tokoni" starts thousands of aliases, "tokoni" one).
    A ``*`` word cannot anchor, being a stem.
    """

    def __init__(self, terms: Sequence[tuple[int, ExactTerm]]) -> None:
        usage = Counter(chain.from_iterable(set(term.words) for _, term in terms))
        #: anchor word -> (term id, anchor's position in the term, the term's words
        #: unless it is that one word, whether its last word is a stem, where a
        #: second word stands from the anchor, and that word)
        anchors: dict[str, list[tuple[int, int, list[str] | None, bool, int, str]]] = {}
        stems: dict[str, list[int]] = {}
        for term_id, (words, _, prefix) in terms:
            if len(words) == 1:
                if prefix:
                    stems.setdefault(" " + words[0], []).append(term_id)
                else:
                    anchors.setdefault(words[0], []).append((term_id, 0, None, False, 0, words[0]))
                continue
            whole = words[:-1] if prefix else words
            # The rarest whole word anchors; the next rarest is checked first, as it
            # rejects most near misses before a full compare.
            ranked = sorted(range(len(whole)), key=lambda i: (usage[whole[i]], -len(whole[i])))
            offset = ranked[0]
            probe = ranked[1] if len(ranked) > 1 else offset
            entry = (term_id, offset, list(words), prefix, probe - offset, whole[probe])
            anchors.setdefault(whole[offset], []).append(entry)
        self.anchors = {word: tuple(ids) for word, ids in anchors.items()}
        #: anchor word -> the second word of its one term, for anchors of one term.
        self.single = {word: ids[0][5] for word, ids in anchors.items() if len(ids) == 1}
        #: The other anchors (of several terms).
        self.multi = frozenset(word for word, ids in anchors.items() if len(ids) > 1)
        #: The anchors, lower-cased: an ASCII story word equal to one, lower-cased, is among these.
        self.lowered = frozenset(word.lower() for word in self.anchors)
        self.stems: Any = None
        if stems:
            self.stems = ahocorasick.Automaton()
            for key, ids in stems.items():
                self.stems.add_word(key, (len(key), tuple(ids)))
            self.stems.make_automaton()


class ExactIndex:
    """Finds every occurrence of every term, each under its caller's id."""

    def __init__(self, terms: Sequence[tuple[int, ExactTerm]]) -> None:
        self.terms = dict(terms)
        self._words = {term_id: list(term.words) for term_id, term in terms}
        modes: dict[bool, list[tuple[int, ExactTerm]]] = {False: [], True: []}
        for pair in terms:
            modes[pair[1].case_sensitive].append(pair)
        self._folded = _Mode(modes[False])
        self._cased = _Mode(modes[True])
        self._any_cased = bool(modes[True])

    def find(self, fields: Sequence[FieldView]) -> Occurrences:
        found: Occurrences = {}
        for field in fields:
            if not field.norms:
                continue
            distinct = field.distinct(False)
            self._scan(self._folded, field, field.norms, False, found)
            if not self._any_cased:
                continue
            cased = self._cased
            if field.ascii_words() and cased.stems is None and cased.lowered.isdisjoint(distinct):
                continue  # no word of the field is an anchor with its capitals changed
            self._scan(cased, field, field.exact_words(), True, found)
        return found

    def _scan(
        self, mode: _Mode, field: FieldView, words: list[str], exact: bool, found: Occurrences
    ) -> None:
        count = len(words)
        index = field.index
        anchors = mode.anchors
        # The big table is consulted once per distinct word (a set operation in C),
        # and a term stays in play only if its second word is in the story too.
        distinct = field.distinct(exact)
        # Most anchor words in a story stand there for no term (news words and names
        # share syllables). An anchor of one term is kept if that term's second word
        # is in the story too, checked in C (``compress``); one of several terms, if
        # some of theirs is.
        present = list(anchors.keys() & distinct)
        live: dict[str, Sequence[_Entry]] = {
            word: anchors[word]
            for word in compress(present, map(distinct.__contains__, map(mode.single.get, present)))
        }
        if present:
            for word in mode.multi.intersection(present):
                kept = [entry for entry in anchors[word] if entry[5] in distinct]
                if kept:
                    live[word] = kept
        # Each live word's positions by ``list.index`` (a scan in C); a term has one
        # anchor, so its occurrences still come in story order.
        for word, entries in live.items():
            position = -1
            for _ in range(words.count(word)):
                position = words.index(word, position + 1)
                for term_id, offset, wanted, prefix, probe, probe_word in entries:
                    if wanted is None:  # one whole word: the anchor itself
                        found.setdefault(term_id, []).append((index, position, position))
                        continue
                    first = position - offset
                    last = first + len(wanted) - 1
                    if first < 0 or last >= count or words[position + probe] != probe_word:
                        continue
                    if prefix:
                        if words[first:last] != wanted[:-1] or not words[last].startswith(
                            wanted[-1]
                        ):
                            continue
                    elif words[first : last + 1] != wanted:
                        continue
                    found.setdefault(term_id, []).append((index, first, last))
        if mode.stems is not None:
            joined = " " + " ".join(words) + " "
            for end, (length, ids) in mode.stems.iter(joined):
                at = field.token_at(end - length + 2, exact)
                if at is None:
                    continue
                for term_id in ids:
                    if words[at].startswith(self._words[term_id][0]):
                        found.setdefault(term_id, []).append((index, at, at))
