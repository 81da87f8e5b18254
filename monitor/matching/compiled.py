"""The compiled engine: thousands of rules at near-constant cost per story.

Same answers as ``engine.match_story`` (hits, matches and their order), which
stays the executable specification; the tests compare the two on generated
rules and stories. Compiling a rule set (``compile_rules``):

* every term of every rule gets a small integer key: exact terms (entity
  names and aliases, phrases, exclusions, context and ``near`` terms, short
  keywords) 0, 1, 2...; fuzzy keywords -1, -2, -3...;
* each rule becomes a plan (``plans``) that evaluates it on a story's hits,
  and a list of *requirements*: sets of keys of which at least one (or
  ``min``, for a keyword set) must be present for the rule to have any chance
  (a ``not`` or a ``regex`` requires nothing, so such a rule is always tried);
* one requirement per rule is indexed (exact terms preferred, then the
  fewest keys): an inverted index maps each of its keys to the rule.

Matching a story reads it once (``textview``) and looks for the indexed terms
only: exact ones in one pass over its words (``automaton``), fuzzy ones with
the shared rapidfuzz index (``fuzzyindex``). Each rule with an indexed term
present is a candidate; its other requirements are checked, cheapest first,
and its other terms looked for on first use (memoised for the story), so a
term only some rules need costs nothing in stories where none of them is a
candidate. Candidates are evaluated in rule order.

A compiled set is immutable, so a reload compiles the new rules aside and
swaps one reference; the fuzzy cache lives and dies with its compiled set.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from monitor.matching.automaton import ExactIndex, ExactTerm, first_words, lazy_term
from monitor.matching.document import FIELDS, FUZZY_MIN_LENGTH
from monitor.matching.engine import always_in_scope, in_scope
from monitor.matching.evaluate import WILDCARD
from monitor.matching.fuzzyindex import CACHE_SIZE, THRESHOLD_FLOOR, FuzzyIndex, FuzzyTerm
from monitor.matching.plans import (
    EntityPlan,
    Fields,
    KeywordPlan,
    KeywordTerm,
    Leaf,
    Node,
    RulePlan,
    StoryHits,
    Tree,
)
from monitor.matching.textview import JoinedWords, read_story, term_words
from monitor.models import (
    And,
    Condition,
    Entity,
    EntityLeaf,
    Hit,
    KeywordSet,
    KeywordsLeaf,
    Match,
    Not,
    Or,
    PhraseLeaf,
    RegexLeaf,
    Rule,
    Story,
)

#: At least ``count`` of ``keys`` must be present in the story.
Requirement = tuple[frozenset[int], int]


@dataclass(frozen=True)
class CompileStats:
    rules: int
    exact_terms: int
    fuzzy_terms: int
    always_tried: int  # rules with no requirement (a top-level ``not``, a ``regex``, ...)


class _Compiler:
    """Turns rules into plans, collecting their terms under integer keys.

    Exact terms are keyed 0, 1, 2...; fuzzy terms -1, -2, -3... so both share
    one set of present keys per story.
    """

    def __init__(self) -> None:
        self.exact: dict[ExactTerm, int] = {}
        self.by_id: list[ExactTerm] = []
        self.fuzzy: dict[FuzzyTerm, int] = {}
        self._words: dict[tuple[str, bool], tuple[str, ...]] = {}

    def words(self, text: str, case_sensitive: bool = False) -> tuple[str, ...]:
        key = (text, case_sensitive)
        found = self._words.get(key)
        if found is None:
            found = term_words(text, case_sensitive)
            self._words[key] = found
        return found

    def term(self, text: str, case_sensitive: bool = False) -> int | None:
        """An ``evaluate.find_all`` term: whole words, a trailing ``*`` matches any ending."""
        words = self.words(text, case_sensitive)
        prefix = text.rstrip().endswith(WILDCARD)
        return self._exact(ExactTerm(words, case_sensitive, prefix)) if words else None

    def _exact(self, term: ExactTerm) -> int:
        key = self.exact.setdefault(term, len(self.exact))
        if key == len(self.by_id):
            self.by_id.append(term)
        return key

    def firsts(self, terms: Iterable[int | None]) -> frozenset[str] | None:
        """``first_words`` of ``terms`` (term ids; None, a term without words, is skipped)."""
        return first_words(self.by_id[key] for key in terms if key is not None)

    def entity(self, entity: Entity) -> EntityPlan:
        names = tuple(self.term(name, entity.is_case_sensitive(name)) for name in entity.names)
        context = entity.context
        if context is None:
            return EntityPlan(entity.name, names, self.firsts(names))
        return EntityPlan(
            entity.name,
            names,
            self.firsts(names),
            tuple(self.term(t) for t in context.require_any),
            tuple(self.term(t) for t in context.forbid),
            context.within,
        )

    def keywords(self, keywords: KeywordSet) -> KeywordPlan:
        items = []
        seen: set[tuple[str, ...]] = set()
        for term in keywords.terms:
            words = self.words(term)
            if words in seen:
                continue
            seen.add(words)
            exact = fuzzy = None
            if not words:
                pass  # nothing to find
            elif len(" ".join(words)) < FUZZY_MIN_LENGTH:
                exact = self._exact(ExactTerm(words, False, False))
            else:
                key = FuzzyTerm(words, keywords.threshold)
                fuzzy = -1 - self.fuzzy.setdefault(key, len(self.fuzzy))
            items.append(KeywordTerm(term, words, len(words), exact, fuzzy))
        return KeywordPlan(tuple(items), keywords.threshold, keywords.min)

    def tree(self, condition: Condition, fields: Fields) -> Tree:
        if isinstance(condition, And | Or):
            op = "and" if isinstance(condition, And) else "or"
            return Node(op, tuple(self.tree(child, fields) for child in condition.children))
        if isinstance(condition, Not):
            return Node("not", (self.tree(condition.child, fields),))
        scoped = _restrict(fields, condition.fields)
        if isinstance(condition, EntityLeaf):
            return Leaf("entity", scoped, entity=self.entity(condition.entity))
        if isinstance(condition, PhraseLeaf):
            return Leaf("phrase", scoped, text=condition.text, term=self.term(condition.text))
        if isinstance(condition, KeywordsLeaf):
            return Leaf("keywords", scoped, keywords=self.keywords(condition.keywords))
        if isinstance(condition, RegexLeaf):
            return Leaf("regex", scoped, text=condition.pattern)
        near_terms = tuple(self.term(t) for t in condition.terms)
        return Leaf(
            "near",
            scoped,
            near_texts=condition.terms,
            near_terms=near_terms,
            within=condition.within,
        )

    def rule(self, rule: Rule) -> RulePlan:
        fields = _restrict(tuple(range(len(FIELDS))), rule.fields)
        exclude = tuple(self.term(t) for t in rule.exclude)
        return RulePlan(
            fields=fields,
            exclude=exclude,
            exclude_firsts=self.firsts(exclude),
            entities=tuple(self.entity(e) for e in rule.entities),
            phrases=tuple((p, self.term(p)) for p in rule.phrases),
            keywords=self.keywords(rule.keywords) if rule.keywords else None,
            tree=self.tree(rule.match, fields) if rule.match is not None else None,
        )


def _restrict(fields: Fields, names: tuple[str, ...] | None) -> Fields:
    """``evaluate.restrict``: keep the fields named (all when None), in story order."""
    if names is None:
        return fields
    return tuple(i for i in fields if FIELDS[i] in names)


def _keys(terms: Iterable[int | None]) -> frozenset[int]:
    return frozenset(t for t in terms if t is not None)


def _keyword_requirements(plan: KeywordPlan) -> list[Requirement]:
    if plan.min <= 0:
        return []  # holds with nothing found
    keys = [t.exact if t.exact is not None else t.fuzzy for t in plan.terms]
    return [(_keys(keys), plan.min)]


def requirements(tree: Tree) -> list[Requirement]:
    """What must be present for ``tree`` to hold: all of these (empty: nothing known)."""
    if isinstance(tree, Node):
        if tree.op == "and":
            return [r for child in tree.children for r in requirements(child)]
        if tree.op == "not":
            return []
        found = [requirements(child) for child in tree.children]
        if any(not r for r in found):
            return []
        # One of the children holds, so one of the keys of its narrowest set is present.
        union = frozenset().union(*(min(r, key=lambda x: len(x[0]))[0] for r in found))
        return [(union, 1)]
    if tree.kind == "entity":
        assert tree.entity is not None
        return [(_keys(tree.entity.names), 1)]
    if tree.kind == "phrase":
        return [(_keys((tree.term,)), 1)]
    if tree.kind == "keywords":
        assert tree.keywords is not None
        return _keyword_requirements(tree.keywords)
    if tree.kind == "near":
        return [(_keys((term,)), 1) for term in tree.near_terms]
    return []


def rule_requirements(plan: RulePlan) -> list[Requirement] | None:
    """All the requirements of a rule; None when it can never fire."""
    found: list[Requirement] = []
    if plan.entities:
        found.append((_keys(n for e in plan.entities for n in e.names), 1))
    if plan.phrases:
        found.append((_keys(t for _, t in plan.phrases), 1))
    if plan.keywords:
        found.extend(_keyword_requirements(plan.keywords))
    if plan.tree is not None:
        found.extend(requirements(plan.tree))
    elif not (plan.entities or plan.phrases or plan.keywords):
        return None  # no group and no tree: match_rule returns None
    for keys, count in found:
        if len(keys) < count:
            return None
    return found


@dataclass(frozen=True, slots=True)
class _Need:
    """A requirement split into keys known from the first pass and fuzzy keys scored lazily."""

    known: frozenset[int]
    lazy: tuple[int, ...]
    count: int
    #: When every lazy key is an exact term: folded words one of which must be in
    #: the story for any of them to be found (their first words); else None.
    words: frozenset[str] | None = None


def _met(needs: list[_Need], present: set[int], story: StoryHits) -> bool:
    for need in needs:
        count = need.count
        if count == 1:
            # The usual requirement: one of a few keys (no key known: ``isdisjoint``
            # of an empty set is true at once, and no set is built).
            if not present.isdisjoint(need.known):
                continue
            found = 0
        else:
            found = len(present.intersection(need.known))
            if found >= count:
                continue
        if need.words is not None and story.words.isdisjoint(need.words):
            return False  # none of the lazy terms can be found
        for key in need.lazy:
            found += story.present(key)
            if found >= count:
                break
        else:
            return False
    return True


def _index_cost(requirement: Requirement, fuzzy: dict[int, FuzzyTerm]) -> tuple[int, int]:
    """Which requirement to find a rule by: exact terms first, then few keys.

    Fuzzy keys are indexed only with a threshold of at least THRESHOLD_FLOOR
    (below it nearly every word is a hit); a requirement with others cannot
    serve (cost 2), and a rule with no other is tried on every story.
    """
    keys, _ = requirement
    if all(key >= 0 for key in keys):
        return 0, len(keys)
    if all(key >= 0 or fuzzy[key].threshold >= THRESHOLD_FLOOR for key in keys):
        return 1, len(keys)
    return 2, len(keys)


class CompiledRules:
    """A rule set compiled for matching; build with ``compile_rules``.

    Matching updates the fuzzy caches, so one instance serves one thread at a
    time (the daemon's event loop, a replay); it never changes its answers.
    """

    def __init__(self, rules: Sequence[Rule], cache_size: int = CACHE_SIZE) -> None:
        self.rules = tuple(rules)
        compiler = _Compiler()
        self._plans = [compiler.rule(rule) for rule in self.rules]
        fuzzy = {-1 - position: term for term, position in compiler.fuzzy.items()}
        self._index: dict[int, list[int]] = {}
        self._always: list[int] = []
        chosen: list[list[Requirement] | None] = []
        for position, plan in enumerate(self._plans):
            needs = rule_requirements(plan)
            if needs is None:
                chosen.append(None)
                continue
            best = min(needs, key=lambda r: _index_cost(r, fuzzy), default=None)
            if best is None or _index_cost(best, fuzzy)[0] == 2:
                self._always.append(position)
                chosen.append(needs)
                continue
            for key in best[0]:
                self._index.setdefault(key, []).append(position)
            # A candidate through one of these keys meets a requirement of one key:
            # not checked again.
            chosen.append([need for need in needs if need is not best or best[1] > 1])
        # Terms that find rules are looked for in every story; the others only
        # when a rule that needs them is a candidate.
        shared = set(self._index)
        exact = compiler.by_id  # exact term id -> term
        self._exact = ExactIndex([(k, exact[k]) for k in sorted(shared) if k >= 0])
        self._fuzzy = FuzzyIndex([(k, fuzzy[k]) for k in sorted(shared) if k < 0], cache_size)
        self._lazy_exact = [
            None if key in shared else lazy_term(term) for key, term in enumerate(compiler.by_id)
        ]
        self._lazy = {key: term for key, term in fuzzy.items() if key not in shared}
        #: The rules ``in_scope`` may rule out (others apply to every story: the check
        #: is skipped, and their Rule not read until they fire).
        self._scoped = frozenset(
            position for position, rule in enumerate(self.rules) if not always_in_scope(rule)
        )
        self._needs = [
            None if needs is None else self._split(needs, shared, exact) for needs in chosen
        ]
        self.stats = CompileStats(
            len(self.rules), len(compiler.exact), len(compiler.fuzzy), len(self._always)
        )

    @staticmethod
    def _split(
        needs: list[Requirement], shared: set[int], exact: Sequence[ExactTerm]
    ) -> list[_Need]:
        split = []
        for keys, count in needs:
            lazy = tuple(k for k in keys if k not in shared)
            # A negative key is a fuzzy term: no first word known.
            words = first_words(exact[k] if k >= 0 else None for k in lazy) if lazy else None
            split.append(_Need(frozenset(k for k in keys if k in shared), lazy, count, words))
        return sorted(split, key=lambda need: len(need.lazy) > 0)  # cheap checks first

    def hits(self, story: Story) -> StoryHits:
        """Every term of the rule set found in ``story`` (lazy fuzzy terms: when asked)."""
        fields = read_story(story)
        joined = JoinedWords(fields)
        vocabulary = set(fields[-1].norms)  # the body first: the longest
        for field in fields[:-1]:
            vocabulary.update(field.norms)
        return StoryHits(
            fields,
            joined,
            vocabulary,
            self._exact.find(fields, joined, vocabulary),
            self._fuzzy.best(fields, vocabulary),
            self._lazy,
            self._lazy_exact,
        )

    def _candidates(self, found: StoryHits) -> tuple[list[int], set[int]]:
        present = set(found.occurrences)  # the first pass keeps only terms it found
        for field_best in found.fuzzy:
            present.update(field_best)
        candidates = set(self._always)
        index = self._index
        for key in present:
            rules = index.get(key)
            if rules:
                candidates.update(rules)
        return sorted(candidates), present

    def match_story(self, story: Story, source_tags: Iterable[str] = ()) -> list[Hit]:
        """``engine.match_story(rules, story, source_tags)`` for the compiled rules."""
        found = self.hits(story)
        candidates, present = self._candidates(found)
        tags = tuple(source_tags)
        hits = []
        scoped = self._scoped
        for position in candidates:
            needs = self._needs[position]
            if needs is None:
                continue
            rule = self.rules[position]
            if position in scoped and not in_scope(rule, story, tags):
                continue
            if not _met(needs, present, found):
                continue
            matches = self._plans[position].run(found)
            if matches is not None:
                hits.append(Hit(rule=rule, story=story, matches=matches))
        return hits

    def match_rules(self, story: Story) -> list[tuple[Match, ...] | None]:
        """``engine.match_rule`` for every rule, in scope or not, aligned with ``rules``."""
        found = self.hits(story)
        candidates, present = self._candidates(found)
        verdicts: list[tuple[Match, ...] | None] = [None] * len(self.rules)
        for position in candidates:
            needs = self._needs[position]
            if needs is not None and _met(needs, present, found):
                verdicts[position] = self._plans[position].run(found)
        return verdicts

    def cached_windows(self) -> int:
        """Windows in the fuzzy cache now (for benchmarks and metrics)."""
        return self._fuzzy.cached()


def compile_rules(
    rules: Sequence[Rule], cache_size: int = CACHE_SIZE, long_lived: bool = False
) -> CompiledRules:
    """Compile ``rules`` once (about a second for 10,000); match many stories with the result.

    The cyclic garbage collector is paused meanwhile: compiling allocates a few
    hundred thousand small tuples and lists, none of them in a cycle, and the
    collections they would set off (each walking every object of the process)
    took more than half the compile time.

    ``long_lived`` (the daemon, a replay): the set is then kept out of later
    collections (``exempt_from_collections``).
    """
    with collector_paused():
        compiled = CompiledRules(rules, cache_size)
    if long_lived:
        exempt_from_collections()
    return compiled


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside the block (back on after, if it was on).

    For building large acyclic structures (a compiled rule set, a loaded rule
    folder): the collections their growth sets off walk every object of the
    process and find nothing to free.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def exempt_from_collections() -> None:
    """Move every object alive now out of the cyclic garbage collector's reach.

    A compiled set of 10,000 rules is about a million objects that live until
    the next reload, and every full collection walked them all: matching a
    stream of stories (which leave objects behind: hits, stored rows) spent
    about a fifth of its time there. ``gc.freeze`` moves what is alive into a
    generation collections skip; reference counting still frees it, so an old
    rule set goes when the last reference to it does (it holds no cycles).
    What an earlier freeze kept is first given back and collected, so garbage
    cycles are never frozen for good.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
