"""Compiled rules: the simple engine's logic, run on a story's precomputed hits.

Each function here mirrors one in ``evaluate.py`` or ``engine.match_rule``
line for line, with ``find_all`` replaced by a look-up in the story's
occurrences (``automaton``) and ``find_keyword`` by a look-up in its best
fuzzy windows (``fuzzyindex``). The order of the checks, of the matches and
of the fields is the simple engine's, so both return equal tuples of Match.
A field set is a tuple of field indices in ``document.FIELDS`` order: the
rule's ``fields`` intersected with a leaf's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import chain

from rapidfuzz import fuzz, process

from monitor.matching.automaton import LazyTerm, Occurrences, find_one
from monitor.matching.evaluate import compile_regex
from monitor.matching.fuzzyindex import Best, FuzzyTerm, windows_of
from monitor.matching.textview import FieldView, JoinedWords
from monitor.models import Match

Fields = tuple[int, ...]
_NONE: list[tuple[int, int, int]] = []


@dataclass(slots=True)
class StoryHits:
    """What every rule is evaluated on: the story's fields, exact occurrences, fuzzy bests.

    ``occurrences`` and ``fuzzy`` hold what the first pass found: the terms
    rules are found by. The other terms (``lazy_exact``, ``lazy``) are looked
    for on first use, so only in stories where a rule that needs them is a
    candidate; ``occurrences`` then keeps what was found (empty lists too).
    """

    fields: tuple[FieldView, ...]
    joined: JoinedWords  # the words of all fields, where terms are looked for
    words: set[str]  # the distinct folded words of all fields
    occurrences: Occurrences
    fuzzy: list[Best]
    lazy: Mapping[int, FuzzyTerm]
    #: Indexed by exact term id (None: a term of the first pass). A list, not a
    #: dict: one memory read instead of two in a table too big for the caches.
    lazy_exact: Sequence[LazyTerm | None]
    _scored: dict[int, list[tuple[int, float] | None]] = dataclass_field(default_factory=dict)
    _windows: dict[int, list[list[str]]] = dataclass_field(default_factory=dict)
    _exact_words: set[str] | None = None

    def _found(self, term: int) -> list[tuple[int, int, int]]:
        found = self.occurrences.get(term)
        if found is not None:
            return found
        lazy = self.lazy_exact[term]
        found = _NONE
        if lazy is not None and self._may_stand(lazy):
            found = find_one(lazy, self.joined)
        self.occurrences[term] = found
        return found

    def _may_stand(self, term: LazyTerm) -> bool:
        """Whether ``term``'s first word (and its last, unless a stem) is in the story.

        find_one finds nothing otherwise. A case-sensitive word in ASCII is
        first looked for lower-cased among the folded words, at hand: the words
        with capitals kept are split out only if it is there.
        """
        if not self.words.issuperset(term.folded):
            return False
        return not term.cased or self.cased_words().issuperset(term.cased)

    def cased_words(self) -> set[str]:
        """The distinct words of all fields with capitals kept (``words`` are folded)."""
        if self._exact_words is None:
            words = chain.from_iterable(field.exact_words() for field in self.fields)
            self._exact_words = set(words)
        return self._exact_words

    def spans(self, term: int | None, fields: Fields) -> list[tuple[int, int, int]]:
        """Occurrences of ``term`` in ``fields`` (``find_all``), in story order."""
        if term is None:
            return _NONE
        found = self._found(term)
        if len(fields) == len(self.fields):
            return found
        return [span for span in found if span[0] in fields]

    def first(self, term: int | None, fields: Fields) -> tuple[int, int, int] | None:
        for span in self._found(term) if term is not None else _NONE:
            if span[0] in fields:
                return span
        return None

    def best(self, key: int, index: int) -> tuple[int, float] | None:
        """Field ``index``'s best window of fuzzy term ``key``: (first word, score)."""
        term = self.lazy.get(key)
        if term is None:
            return self.fuzzy[index].get(key)
        scored = self._scored.get(key)
        if scored is None:
            scored = self._scored[key] = self._score(term)
        return scored[index]

    def present(self, key: int) -> bool:
        """Whether term ``key`` (exact or fuzzy) is found in some field."""
        if key >= 0:
            return bool(self._found(key))
        return any(self.best(key, index) for index in range(len(self.fields)))

    def _score(self, term: FuzzyTerm) -> list[tuple[int, float] | None]:
        """``document.find_keyword`` for one field at a time (fields are combined later)."""
        size = len(term.words)
        text = " ".join(term.words)
        windows = self._windows.get(size)
        if windows is None:
            windows = self._windows[size] = [windows_of(field.norms, size) for field in self.fields]
        found: list[tuple[int, float] | None] = []
        for field_windows in windows:
            hit = process.extractOne(
                text, field_windows, scorer=fuzz.ratio, score_cutoff=term.threshold
            )
            found.append((hit[2], float(hit[1])) if hit else None)
        return found

    def match(
        self, span: tuple[int, int, int], kind: str, term: str, score: float = 100.0
    ) -> Match:
        field = self.fields[span[0]]
        text, start, end = field.quote(span[1], span[2])
        return Match(kind, term, text, field.name, start, end, score)


@dataclass(frozen=True, slots=True)
class EntityPlan:
    name: str
    names: tuple[int | None, ...]  # one exact term per name, canonical first
    #: Folded words one of which the story holds if any name stands in it (None: unknown).
    firsts: frozenset[str] | None
    require_any: tuple[int | None, ...] = ()
    forbid: tuple[int | None, ...] = ()
    within: int = 0

    def matches(self, story: StoryHits, fields: Fields) -> list[Match]:
        """``evaluate.entity_matches``: each name's first mention that the context allows."""
        found: list[Match] = []
        if self.firsts is not None and story.words.isdisjoint(self.firsts):
            return found  # no name can stand in the story: one look instead of one per name
        for name in self.names:
            for span in story.spans(name, fields):
                if self.forbid and _near_ok(story, span, self.forbid, self.within):
                    continue
                if self.require_any and not _near_ok(story, span, self.require_any, self.within):
                    continue
                found.append(story.match(span, "entity", self.name))
                break
        return found


def _near_ok(
    story: StoryHits, span: tuple[int, int, int], terms: tuple[int | None, ...], within: int
) -> bool:
    field, first, last = span
    for term in terms:
        for _, other_first, other_last in story.spans(term, (field,)):
            if other_first <= last + within and other_last >= first - within:
                return True
    return False


@dataclass(frozen=True, slots=True)
class KeywordTerm:
    term: str  # as written in the rule
    words: tuple[str, ...]
    size: int
    exact: int | None  # exact term id for terms under FUZZY_MIN_LENGTH
    fuzzy: int | None  # fuzzy term key (negative) otherwise; None when it has no words


@dataclass(frozen=True, slots=True)
class KeywordPlan:
    terms: tuple[KeywordTerm, ...]  # distinct by words, in rule order
    threshold: float
    min: int

    def matches(self, story: StoryHits, fields: Fields) -> list[Match]:
        """``evaluate.keyword_matches``: the best match of each distinct term."""
        found = []
        for item in self.terms:
            if item.exact is not None:
                span = story.first(item.exact, fields)
                if span:
                    found.append(story.match(span, "keyword", item.term, 100.0))
                continue
            if item.fuzzy is None:
                continue
            # find_keyword: the first field's best, replaced only by a strictly better one.
            best: tuple[int, int, float] | None = None
            for index in fields:
                candidate = story.best(item.fuzzy, index)
                if candidate and (best is None or candidate[1] > best[2]):
                    best = (index, candidate[0], candidate[1])
            if best:
                index, first, score = best
                span = (index, first, first + item.size - 1)
                found.append(story.match(span, "keyword", item.term, round(score, 1)))
        return found


@dataclass(frozen=True, slots=True)
class Leaf:
    """A leaf of the match tree with its field set; ``kind`` picks the evaluation."""

    kind: str  # entity | phrase | keywords | regex | near
    fields: Fields
    entity: EntityPlan | None = None
    text: str = ""  # phrase text or regex pattern
    term: int | None = None  # phrase term id
    keywords: KeywordPlan | None = None
    near_texts: tuple[str, ...] = ()
    near_terms: tuple[int | None, ...] = ()
    within: int = 0


@dataclass(frozen=True, slots=True)
class Node:
    op: str  # and | or | not
    children: tuple[Tree, ...]


Tree = Node | Leaf


def evaluate(tree: Tree, story: StoryHits) -> tuple[bool, list[Match]]:
    """``evaluate.evaluate``: whether the tree holds, and the matches that make it hold."""
    if isinstance(tree, Node):
        if tree.op == "and":
            matches: list[Match] = []
            for child in tree.children:
                ok, found = evaluate(child, story)
                if not ok:
                    return False, []
                matches.extend(found)
            return True, matches
        if tree.op == "or":
            matches = []
            holds = False
            for child in tree.children:
                ok, found = evaluate(child, story)
                if ok:
                    holds = True
                    matches.extend(found)
            return holds, matches
        ok, _ = evaluate(tree.children[0], story)
        return not ok, []
    if tree.kind == "entity":
        assert tree.entity is not None
        found = tree.entity.matches(story, tree.fields)
    elif tree.kind == "phrase":
        span = story.first(tree.term, tree.fields)
        found = [story.match(span, "phrase", tree.text)] if span else []
    elif tree.kind == "keywords":
        assert tree.keywords is not None
        found = tree.keywords.matches(story, tree.fields)
        return len(found) >= tree.keywords.min, found
    elif tree.kind == "regex":
        found = _regex(tree.text, story, tree.fields)
    else:
        found = _near(tree, story)
    return bool(found), found


def _regex(pattern: str, story: StoryHits, fields: Fields) -> list[Match]:
    compiled = compile_regex(pattern)
    found = []
    for index in fields:
        field = story.fields[index]
        for hit in compiled.finditer(field.text):
            if hit.end() > hit.start():
                text = field.text[hit.start() : hit.end()]
                found.append(Match("phrase", pattern, text, field.name, hit.start(), hit.end()))
    return found


def _near(leaf: Leaf, story: StoryHits) -> list[Match]:
    """``evaluate.near_matches``: the first place where all terms stand close together."""
    count = len(leaf.near_terms)
    for index in leaf.fields:
        spans = [story.spans(term, (index,)) for term in leaf.near_terms]
        if any(not found for found in spans):
            continue
        events = sorted((s[1], i, s) for i, found in enumerate(spans) for s in found)
        best: dict[int, tuple[int, int, int]] = {}
        for first, i, span in events:
            best[i] = span
            if len(best) == count:
                low = min(s[1] for s in best.values())
                if first - low <= leaf.within:
                    return [
                        story.match(best[i], "phrase", leaf.near_texts[i]) for i in sorted(best)
                    ]
    return []


@dataclass(frozen=True, slots=True)
class RulePlan:
    """``engine.match_rule`` for one rule."""

    fields: Fields
    exclude: tuple[int | None, ...]
    exclude_firsts: frozenset[str] | None  # as ``EntityPlan.firsts``, for the exclusions
    entities: tuple[EntityPlan, ...]
    phrases: tuple[tuple[str, int | None], ...]
    keywords: KeywordPlan | None
    tree: Tree | None

    def run(self, story: StoryHits) -> tuple[Match, ...] | None:
        fields = self.fields
        firsts = self.exclude_firsts
        if firsts is None or not story.words.isdisjoint(firsts):
            for term in self.exclude:
                if story.first(term, fields):
                    return None
        matches: list[Match] = []
        if self.entities:
            found = [m for entity in self.entities for m in entity.matches(story, fields)]
            if not found:
                return None
            matches.extend(found)
        if self.phrases:
            found = []
            for text, term in self.phrases:
                span = story.first(term, fields)
                if span:
                    found.append(story.match(span, "phrase", text))
            if not found:
                return None
            matches.extend(found)
        if self.keywords:
            found = self.keywords.matches(story, fields)
            if len(found) < self.keywords.min:
                return None
            matches.extend(found)
        if self.tree is not None:
            ok, found = evaluate(self.tree, story)
            if not ok:
                return None
            matches.extend(m for m in found if m not in matches)
        return tuple(matches) if matches or self.tree is not None else None
