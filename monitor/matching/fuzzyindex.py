"""The fuzzy keywords that find rules, scored against a story at once (rapidfuzz).

``document.find_keyword`` compares a term of k words with every run of k
consecutive words (a *window*) of a field and keeps the best-scoring one, the
first on a tie. The score depends only on the two strings, so the index scores
each distinct window once against all terms of its word count, and only
against those whose length allows the threshold at all: ``fuzz.ratio`` can
never exceed ``200 * shorter / (both lengths)``. Matrices from ``cdist`` only
propose candidates; each proposed score is recomputed with ``fuzz.ratio``
itself, the very number the simple engine compares and rounds.

The compiler gives this index only the keywords of rules that have nothing
exact to be found by (see ``compiled``); the others are scored per rule, when
the rule is a candidate.

One-word terms: the story's distinct words are looked up in a bounded cache of
word -> hits shared by all stories (news vocabulary is small), and the words
not in it are scored in one ``cdist`` call.

Terms of several words: windows hardly repeat, so caching them does not pay,
and scoring every window against every term costs too much. They are matched
through their component words instead, with a bound that is exact: a window's
longest common subsequence with a term is at most the sum of its words' own
LCS with the term, plus the spaces between them. Each word's LCS with every
term is computed once and cached (a row of a matrix), so a story needs one
vectorised sum per window length and a comparison with the LCS each length
needs; only windows that pass are scored, and passing is necessary, not
sufficient, so nothing is lost.

The caches live until the rules are compiled again. The word cache holds two
generations: a lookup promotes from the old to the young one, and when the
young one is full the old one is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from monitor.matching.textview import FieldView

#: A window's hits: (term key, score) for every term scoring at least its threshold.
Hits = tuple[tuple[int, float], ...]
#: Per field: term key -> (first word of its best window, score).
Best = dict[int, tuple[int, float]]
#: Words remembered across stories (one-word terms: their hits).
CACHE_SIZE = 200_000
#: Memory for the words' LCS rows against the terms of several words, per word count.
LCS_CACHE_BYTES = 96 * 1024 * 1024
#: Keywords with a threshold under this do not find rules (nearly every window would
#: be a hit): their rules are found by other terms, or tried on every story.
THRESHOLD_FLOOR = 50.0
_MARGIN = 0.01  # float32 scores from cdist may sit just under the true one
_NO_HITS: Hits = ()


class FuzzyTerm(NamedTuple):
    words: tuple[str, ...]
    threshold: float


class _Memo:
    """A bounded cache in two generations: nearly LRU, at the cost of a dict lookup."""

    def __init__(self, size: int) -> None:
        self.half = max(1, size // 2)
        self.young: dict[str, Hits] = {}
        self.old: dict[str, Hits] = {}

    def get(self, key: str) -> Hits | None:
        found = self.young.get(key)
        if found is None:
            found = self.old.get(key)
            if found is not None:
                self.put(key, found)
        return found

    def put(self, key: str, hits: Hits) -> None:
        if len(self.young) >= self.half:
            self.old, self.young = self.young, {}
        self.young[key] = hits

    def __len__(self) -> int:
        return len(self.young) + len(self.old)


class _Group:
    """The terms of one word count; each distinct text once, sorted by length (a range is a slice).

    The same words under several thresholds (rules differ) are one text to score.
    """

    def __init__(self, size: int, members: list[tuple[int, FuzzyTerm]], cache_size: int) -> None:
        by_text: dict[str, list[tuple[int, float]]] = {}
        for term_id, term in members:
            by_text.setdefault(" ".join(term.words), []).append((term_id, term.threshold))
        self.size = size
        self.texts = sorted(by_text, key=len)
        self.terms = [tuple(by_text[text]) for text in self.texts]
        self.lengths = np.array([len(text) for text in self.texts])
        self.lowest = min(term.threshold for _, term in members)
        self.cutoff = max(self.lowest - _MARGIN, 0.0)
        self.memo = _Memo(cache_size)
        self.min_length, self.max_length = self.bounds(int(self.lengths[0]), int(self.lengths[-1]))

    def bounds(self, shortest: int, longest: int) -> tuple[int, int]:
        """Window lengths that can reach the lowest threshold against terms of these lengths."""
        t = self.lowest
        return math.floor(shortest * t / (200 - t)), math.ceil(longest * (200 - t) / t)

    def slice(self, length: int) -> tuple[int, int]:
        """The terms whose length lets a window of ``length`` reach the lowest threshold."""
        low, high = self.bounds(length, length)
        start = int(np.searchsorted(self.lengths, low, "left"))
        end = int(np.searchsorted(self.lengths, high, "right"))
        return start, end

    def hits(self, windows: Iterable[str]) -> dict[str, Hits]:
        """The distinct ``windows`` that have hits, with them; scores those not cached."""
        found: dict[str, Hits] = {}
        missing: list[str] = []
        memo = self.memo
        young, old = memo.young, memo.old
        shortest, longest = self.min_length, self.max_length
        for window in windows:
            hits = young.get(window)
            if hits is None:
                hits = old.get(window)
                if hits is None:
                    if shortest <= len(window) <= longest:
                        missing.append(window)
                    continue
                memo.put(window, hits)
            if hits:
                found[window] = hits
        if missing:
            for window, hits in zip(missing, self._score(missing), strict=True):
                memo.put(window, hits)
                if hits:
                    found[window] = hits
        return found

    def _score(self, batch: list[str]) -> list[Hits]:
        """Score new windows in one call: its fixed cost outweighs finer length blocks."""
        start = self.slice(min(map(len, batch)))[0]
        end = self.slice(max(map(len, batch)))[1]
        if start >= end:
            return [_NO_HITS] * len(batch)
        texts = self.texts[start:end]
        scores = process.cdist(
            batch, texts, scorer=fuzz.ratio, score_cutoff=self.cutoff, dtype=np.float32, workers=1
        )
        found: list[list[tuple[int, float]]] = [[] for _ in batch]
        rows, cols = np.divmod(np.flatnonzero(scores), scores.shape[1])
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            index = start + col
            score = fuzz.ratio(self.texts[index], batch[row])
            found[row].extend((term, score) for term, least in self.terms[index] if score >= least)
        return [tuple(hits) if hits else _NO_HITS for hits in found]


class _PhraseGroup:
    """Terms of ``size`` words, matched through their component words (see the module doc).

    ``lcs[row, j]`` is a cached word's LCS with text j; ``needed[L, j]`` the sum
    of word LCS a window of L characters must reach to score ``lowest[j]``
    against text j (the bound adds the spaces between words; one less for
    rounding; impossible lengths need the unreachable).
    """

    def __init__(self, size: int, members: list[tuple[int, FuzzyTerm]], rows: int) -> None:
        by_text: dict[str, list[tuple[int, float]]] = {}
        for term_id, term in members:
            by_text.setdefault(" ".join(term.words), []).append((term_id, term.threshold))
        self.size = size
        self.texts = list(by_text)
        self.terms = [tuple(by_text[text]) for text in self.texts]
        lengths = np.array([len(text) for text in self.texts], dtype=np.int64)
        lowest = np.array([min(t for _, t in terms) for terms in self.terms])
        self.longest = math.ceil(int(lengths.max()) * (200 - lowest.min()) / lowest.min()) + 1
        window = np.arange(self.longest + 1, dtype=np.float64)[:, None]
        total = window + lengths[None, :]
        reachable = 200 * np.minimum(window, lengths[None, :]) >= lowest[None, :] * total - 1e-6
        need = np.ceil(lowest[None, :] * total / 200 - 1e-9) - 1 - (size - 1)
        # An LCS is at most the text's length: one byte per value when texts are short.
        wide = int(lengths.max()) * size > 250
        self.dtype = np.uint16 if wide else np.uint8
        unreachable = np.iinfo(self.dtype).max
        self.needed = np.where(reachable, np.maximum(need, 0), unreachable).astype(self.dtype)
        self.needed[-1, :] = unreachable  # the row for every longer window
        self.cutoff = max(float(lowest.min()) - _MARGIN, 0.0)
        width = len(self.texts) * np.dtype(self.dtype).itemsize
        self.rows = max(1, min(rows, LCS_CACHE_BYTES // width))
        self.lcs = np.zeros((self.rows, len(self.texts)), dtype=self.dtype)
        self.row_of: dict[str, int] = {}
        self.word_at: list[str | None] = [None] * self.rows
        self.next_row = 0

    def _row_indices(self, words: set[str]) -> dict[str, int]:
        """The cache row of each word, computing the rows of words not seen (or evicted)."""
        missing = [word for word in words if word not in self.row_of]
        if not missing:
            return self.row_of
        scores = process.cdist(
            missing, self.texts, scorer=LCSseq.similarity, dtype=np.int32, workers=1
        )
        for word, row in zip(missing, scores, strict=True):
            slot = self.next_row
            while self.word_at[slot] in words:  # needed by this story: keep it
                slot = (slot + 1) % self.rows
            self.next_row = (slot + 1) % self.rows
            evicted = self.word_at[slot]
            if evicted is not None:
                del self.row_of[evicted]
            self.word_at[slot] = word
            self.row_of[word] = slot
            self.lcs[slot] = row
        return self.row_of

    def best(self, fields: Sequence[FieldView], best: list[Best]) -> None:
        size = self.size
        long_enough = [field for field in fields if len(field.norms) >= size]
        words = {word for field in long_enough for word in field.norms}
        if not words:
            return
        if 2 * len(words) > self.rows:  # a story too big for the cache: score it directly
            pairs = [
                (field.index, first, text)
                for field in long_enough
                for first in range(len(field.norms) - size + 1)
                for text in range(len(self.texts))
            ]
        else:
            pairs = self._candidates(long_enough, self._row_indices(words))
        if not pairs:
            return
        windows = [" ".join(fields[index].norms[first : first + size]) for index, first, _ in pairs]
        texts = [self.texts[text] for _, _, text in pairs]
        # A vectorised first pass; the scores kept are recomputed by the scorer itself.
        rough = process.cpdist(
            windows, texts, scorer=fuzz.ratio, score_cutoff=self.cutoff, workers=1
        )
        for (index, first, text), window, score in zip(pairs, windows, rough.tolist(), strict=True):
            if not score:
                continue
            score = fuzz.ratio(self.texts[text], window)
            field_best = best[index]
            for term_id, least in self.terms[text]:
                if score >= least:
                    current = field_best.get(term_id)
                    # Windows come in order, so on a tie the first one stays.
                    if current is None or score > current[1]:
                        field_best[term_id] = (first, score)

    def _candidates(
        self, fields: list[FieldView], rows: dict[str, int]
    ) -> list[tuple[int, int, int]]:
        """(field index, first word, text) of the windows whose bound allows a hit, in order.

        The fields' words are laid end to end, so one pass of array operations
        covers them all; windows across a field boundary are dropped.
        """
        size = self.size
        norms = [word for field in fields for word in field.norms]
        index = np.array(list(map(rows.__getitem__, norms)), dtype=np.intp)
        lengths = np.array(list(map(len, norms)), dtype=np.intp)
        count = len(norms) - size + 1
        per_word = self.lcs[index]  # one gather; windows overlap
        bound = per_word[:count]
        chars = lengths[:count] + (size - 1)
        for step in range(1, size):
            bound = bound + per_word[step : step + count]
            chars += lengths[step : step + count]
        passing = bound >= self.needed[np.minimum(chars, self.longest)]
        # flatnonzero and divmod: several times faster than a 2-D nonzero, same order.
        windows, texts = np.divmod(np.flatnonzero(passing), passing.shape[1])
        if not len(windows):
            return []
        starts = np.cumsum([0] + [len(field.norms) for field in fields])
        owner = np.searchsorted(starts, windows, side="right") - 1
        firsts = windows - starts[owner]
        # Windows that run into the next field are not windows.
        fits = firsts + size <= starts[owner + 1] - starts[owner]
        owners = [fields[i].index for i in owner[fits].tolist()]
        return list(zip(owners, firsts[fits].tolist(), texts[fits].tolist(), strict=True))


class FuzzyIndex:
    """Best window of every fuzzy term in each field of a story, each under its caller's key."""

    def __init__(
        self, terms: Sequence[tuple[int, FuzzyTerm]], cache_size: int = CACHE_SIZE
    ) -> None:
        self.terms = dict(terms)
        by_size: dict[int, list[tuple[int, FuzzyTerm]]] = {}
        for key, term in terms:
            by_size.setdefault(len(term.words), []).append((key, term))
        self._words = _Group(1, by_size.pop(1), cache_size) if 1 in by_size else None
        self._phrases = [
            _PhraseGroup(size, members, cache_size) for size, members in sorted(by_size.items())
        ]

    def cached(self) -> int:
        """How many words the caches hold now."""
        found = len(self._words.memo) if self._words else 0
        return found + sum(len(group.row_of) for group in self._phrases)

    def best(self, fields: Sequence[FieldView], vocabulary: set[str]) -> list[Best]:
        """Per field, each term's best window (first on a tie) among those over its threshold.

        ``vocabulary`` is the distinct words of all ``fields``.
        """
        best: list[Best] = [{} for _ in fields]
        if self._words is not None:
            self._best_words(self._words, fields, vocabulary, best)
        for group in self._phrases:
            group.best(fields, best)
        return best

    @staticmethod
    def _best_words(
        group: _Group, fields: Sequence[FieldView], vocabulary: set[str], best: list[Best]
    ) -> None:
        hits = group.hits(vocabulary)
        if not hits:
            return
        for field_best, field in zip(best, fields, strict=True):
            words = field.norms
            present = set(words)
            for word, word_hits in hits.items():
                if word not in present:
                    continue
                first = words.index(word)
                for term_id, score in word_hits:
                    current = field_best.get(term_id)
                    if (
                        current is None
                        or score > current[1]
                        or (score == current[1] and first < current[0])
                    ):
                        field_best[term_id] = (first, score)


def windows_of(norms: list[str], size: int) -> list[str]:
    """Every run of ``size`` consecutive words, joined as ``find_keyword`` joins them."""
    if size == 1:
        return norms
    if size == 2:
        return [a + " " + b for a, b in pairwise(norms)]
    return [" ".join(norms[i : i + size]) for i in range(len(norms) - size + 1)]
