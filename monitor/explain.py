"""Why a rule matched a story or did not: every clause's result and every matched text.

The verdict always comes from the compiled engine the daemon uses, so an
explanation can never disagree with what the daemon would do; the clause
breakdown beside it re-evaluates each group and each node of the ``match:``
tree without short-circuiting, so an analyst sees every part, including the
ones the engine never had to look at. Pure: no I/O; the caller decides how
highlights look (terminal colours, or ``[[...]]`` markers in a pipe).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from monitor.matching.compiled import CompiledRules, compile_rules
from monitor.matching.document import Document, prepare
from monitor.matching.engine import in_scope
from monitor.matching.evaluate import evaluate, keyword_matches, restrict
from monitor.models import (
    And,
    Condition,
    Entity,
    EntityLeaf,
    KeywordSet,
    KeywordsLeaf,
    Match,
    Near,
    Not,
    Or,
    PhraseLeaf,
    RegexLeaf,
    Rule,
    Story,
)
from monitor.timeutil import isoformat

#: Characters of context shown on each side of a matched text.
SNIPPET_CONTEXT = 60

#: ``style(text, role)`` decorates output; role is ``match``, ``true`` or ``false``.
Style = Callable[[str, str], str]


def plain_style(text: str, role: str) -> str:
    """Highlights as ``[[...]]`` markers: readable in a pipe, a log or a test."""
    return f"[[{text}]]" if role == "match" else text


@dataclass(frozen=True)
class Clause:
    """One part of a rule and whether it holds on the story.

    ``kind`` is a shorthand group (``entities``, ``phrases``, ``keywords``,
    ``exclude``) or a node of the match tree (``all``, ``any``, ``not``,
    ``entity``, ``phrase``, ``keywords``, ``regex``, ``near``), or one term of
    a keyword set (``keyword``). The ``exclude`` group holds when none of its
    terms appear; each of its children holds when its term does.
    """

    kind: str
    label: str
    result: bool
    matches: tuple[Match, ...] = ()
    children: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class RuleExplanation:
    """One rule against one story.

    ``matched`` is the engine's verdict on the text, scope aside; the rule
    alerts only when it is also ``in_scope``. ``matches`` are the engine's
    matches when it matched, else whatever the clauses did find (exclusions
    included, as kind ``exclude``), since that is what an analyst needs then.
    """

    rule: Rule
    matched: bool
    in_scope: bool
    out_of_scope: tuple[str, ...]
    clauses: tuple[Clause, ...]
    matches: tuple[Match, ...]

    @property
    def alerts(self) -> bool:
        return self.matched and self.in_scope


@dataclass(frozen=True)
class StoryExplanation:
    """Every selected rule against one story, with the story's text to quote from."""

    story: Story
    doc: Document
    rules: tuple[RuleExplanation, ...]

    def field_text(self, name: str) -> str:
        return next((f.text for f in self.doc.fields if f.name == name), "")


def select_rules(rules: Sequence[Rule], ids: Iterable[str]) -> tuple[Rule, ...]:
    """The rules with these ids (all of them when none are given), in rule-set order.

    Raises ValueError naming the unknown ids and the known ones.
    """
    wanted = tuple(ids)
    if not wanted:
        return tuple(rules)
    known = {rule.id for rule in rules}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise ValueError(
            f"no rule with id {', '.join(map(repr, unknown))}; "
            f"the rules are: {', '.join(sorted(known)) or '(none)'}"
        )
    return tuple(rule for rule in rules if rule.id in wanted)


def scope_reasons(rule: Rule, story: Story, source_tags: Iterable[str] = ()) -> tuple[str, ...]:
    """Why ``in_scope`` would skip ``rule`` for ``story``; empty when it applies."""
    tags = tuple(source_tags)
    reasons = []
    if not rule.enabled:
        reasons.append("the rule is disabled (enabled: false)")
    if rule.sources and not ({story.source, *tags} & set(rule.sources)):
        tagged = f" (tags: {', '.join(tags)})" if tags else ""
        reasons.append(
            f"source {story.source!r}{tagged} is not among the rule's sources: "
            f"{', '.join(rule.sources)}"
        )
    if rule.languages and story.language and story.language not in rule.languages:
        reasons.append(
            f"language {story.language!r} is not among the rule's languages: "
            f"{', '.join(rule.languages)}"
        )
    if rule.max_age and story.fetched_at - story.published_at > rule.max_age:
        age = _duration(story.fetched_at - story.published_at)
        limit = _duration(rule.max_age)
        reasons.append(f"published {age} before it was fetched; max_age is {limit}")
    if not reasons and not in_scope(rule, story, tags):
        reasons.append("out of scope")  # the engine gained a check this module does not know
    return tuple(reasons)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def explain_story(
    rules: Iterable[Rule] | CompiledRules, story: Story, source_tags: Iterable[str] = ()
) -> StoryExplanation:
    """Explain every rule on ``story``: in scope or not, every rule is evaluated.

    The verdicts come from the compiled engine the daemon uses; pass a
    ``CompiledRules`` when explaining many stories, to compile once.
    """
    matcher = rules if isinstance(rules, CompiledRules) else compile_rules(tuple(rules))
    doc = prepare(story)
    tags = tuple(source_tags)
    verdicts = matcher.match_rules(story)
    return StoryExplanation(
        story,
        doc,
        tuple(
            explain_rule(rule, doc, story, tags, verdict)
            for rule, verdict in zip(matcher.rules, verdicts, strict=True)
        ),
    )


def explain_rule(
    rule: Rule,
    doc: Document,
    story: Story,
    source_tags: Iterable[str],
    found: tuple[Match, ...] | None,
) -> RuleExplanation:
    """One rule's clauses on ``doc``; ``found`` is the engine's verdict (None: no match)."""
    reasons = scope_reasons(rule, story, source_tags)
    scoped = restrict(doc, rule.fields)
    clauses: list[Clause] = []
    if rule.entities:
        children = tuple(_node(EntityLeaf(entity), scoped) for entity in rule.entities)
        ok = any(c.result for c in children)
        clauses.append(Clause("entities", "entities", ok, (), children))
    if rule.phrases:
        children = tuple(_node(PhraseLeaf(phrase), scoped) for phrase in rule.phrases)
        ok = any(c.result for c in children)
        clauses.append(Clause("phrases", "phrases", ok, (), children))
    if rule.keywords:
        clauses.append(_keywords(rule.keywords, scoped, "keywords"))
    if rule.exclude:
        children = tuple(_exclusion(phrase, scoped) for phrase in rule.exclude)
        clauses.append(
            Clause("exclude", "exclude", not any(c.result for c in children), (), children)
        )
    if rule.match is not None:
        clauses.append(_node(rule.match, scoped))
    matches = found if found is not None else _evidence(clauses)
    return RuleExplanation(
        rule=rule,
        matched=found is not None,
        in_scope=not reasons,
        out_of_scope=reasons,
        clauses=tuple(clauses),
        matches=tuple(matches),
    )


def _node(condition: Condition, doc: Document) -> Clause:
    """One node of the match tree, every child evaluated (no short-circuit)."""
    if isinstance(condition, And | Or):
        children = tuple(_node(child, doc) for child in condition.children)
        results = [c.result for c in children]
        if isinstance(condition, And):
            return Clause("all", "all", all(results), (), children)
        return Clause("any", "any", any(results), (), children)
    if isinstance(condition, Not):
        child = _node(condition.child, doc)
        return Clause("not", "not", not child.result, (), (child,))
    if isinstance(condition, KeywordsLeaf):
        scoped = restrict(doc, condition.fields)
        return _keywords(condition.keywords, scoped, "keywords" + _in(condition.fields))
    ok, found = evaluate(condition, doc)
    return Clause(_kind(condition), _label(condition), ok, tuple(found))


def _keywords(keywords: KeywordSet, doc: Document, label: str) -> Clause:
    found = keyword_matches(keywords, doc)
    children = []
    for term in keywords.terms:
        one = keyword_matches(KeywordSet((term,), keywords.threshold, 1), doc)
        children.append(Clause("keyword", f"keyword {term!r}", bool(one), tuple(one)))
    label = (
        f"{label} (at least {keywords.min} of {len(keywords.terms)}, "
        f"threshold {keywords.threshold:g})"
    )
    return Clause("keywords", label, len(found) >= keywords.min, (), tuple(children))


def _exclusion(phrase: str, doc: Document) -> Clause:
    ok, found = evaluate(PhraseLeaf(phrase), doc)
    marked = tuple(dataclasses.replace(m, kind="exclude") for m in found)
    return Clause("phrase", f"phrase {phrase!r}", ok, marked)


def _kind(condition: Condition) -> str:
    if isinstance(condition, EntityLeaf):
        return "entity"
    if isinstance(condition, PhraseLeaf):
        return "phrase"
    if isinstance(condition, RegexLeaf):
        return "regex"
    return "near"


def _label(condition: Condition) -> str:
    if isinstance(condition, EntityLeaf):
        return f"entity {_entity(condition.entity)}" + _in(condition.fields)
    if isinstance(condition, PhraseLeaf):
        return f"phrase {condition.text!r}" + _in(condition.fields)
    if isinstance(condition, RegexLeaf):
        return f"regex /{condition.pattern}/" + _in(condition.fields)
    assert isinstance(condition, Near)
    terms = ", ".join(repr(t) for t in condition.terms)
    return f"near/{condition.within} {terms}" + _in(condition.fields)


def _entity(entity: Entity) -> str:
    aliases = f" (aliases: {', '.join(entity.aliases)})" if entity.aliases else ""
    return f"{entity.name!r}{aliases}"


def _in(fields: tuple[str, ...] | None) -> str:
    return f" in {'/'.join(fields)}" if fields else ""


def _evidence(clauses: Iterable[Clause]) -> list[Match]:
    """Every match any clause found, each once, in clause order."""
    found: list[Match] = []
    for clause in clauses:
        for match in (*clause.matches, *_evidence(clause.children)):
            if match not in found:
                found.append(match)
    return found


# Rendering -------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """A matched text with up to ``SNIPPET_CONTEXT`` characters of its field either side."""

    before: str
    text: str
    after: str

    def render(self, style: Style = plain_style) -> str:
        return f"{self.before}{style(self.text, 'match')}{self.after}"


def snippet(field_text: str, start: int, end: int, context: int = SNIPPET_CONTEXT) -> Snippet:
    """Cut at word boundaries where possible, with "…" where the field goes on."""
    low, high = max(0, start - context), min(len(field_text), end + context)
    before, after = field_text[low:start], field_text[end:high]
    if low > 0:
        space = before.find(" ")
        before = "…" + (before[space + 1 :] if 0 <= space < len(before) - 1 else before)
    if high < len(field_text):
        space = after.rfind(" ")
        after = (after[:space] if space > 0 else after) + "…"
    return Snippet(before, field_text[start:end], after)


def match_dict(match: Match, explanation: StoryExplanation) -> dict[str, Any]:
    """A match as JSON: the Match fields plus ``snippet`` with ``[[...]]`` around the text."""
    cut = snippet(explanation.field_text(match.field), match.start, match.end)
    return {**dataclasses.asdict(match), "snippet": cut.render()}


def _clause_dict(clause: Clause, explanation: StoryExplanation) -> dict[str, Any]:
    found: dict[str, Any] = {
        "clause": clause.kind,
        "label": clause.label,
        "result": clause.result,
    }
    if clause.matches:
        found["matches"] = [match_dict(m, explanation) for m in clause.matches]
    if clause.children:
        found["children"] = [_clause_dict(c, explanation) for c in clause.children]
    return found


def to_dict(explanation: StoryExplanation) -> dict[str, Any]:
    """One story's explanation as JSON-ready data (what `monitor match --format json` prints)."""
    story = explanation.story
    return {
        "title": story.title,
        "url": story.url,
        "guid": story.guid,
        "source": story.source,
        "language": story.language,
        "published_at": isoformat(story.published_at),
        "rules": [
            {
                "rule": result.rule.id,
                "title": result.rule.title,
                "matched": result.matched,
                "in_scope": result.in_scope,
                "out_of_scope": list(result.out_of_scope),
                "alerts": result.alerts,
                "clauses": [_clause_dict(c, explanation) for c in result.clauses],
                "matches": [match_dict(m, explanation) for m in result.matches],
            }
            for result in explanation.rules
        ],
    }


def render_text(explanations: Sequence[StoryExplanation], style: Style = plain_style) -> str:
    """The explanations for people: one block per story, one per rule inside it."""
    blocks = []
    for number, explanation in enumerate(explanations, 1):
        story = explanation.story
        head = f"story {number}/{len(explanations)}: {story.title or '(no title)'}"
        where = ", ".join(x for x in (f"source {story.source}", story.url) if x)
        lines = [head, f"  {where}"]
        if not explanation.rules:
            lines.append("  (no rules selected)")
        for result in explanation.rules:
            lines.extend(_rule_lines(result, explanation, style))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _rule_lines(result: RuleExplanation, explanation: StoryExplanation, style: Style) -> list[str]:
    verdict = style("MATCHED", "true") if result.matched else style("not matched", "false")
    lines = [f"  rule {result.rule.id} ({result.rule.title}): {verdict}"]
    for reason in result.out_of_scope:
        lines.append(f"    out of scope: {reason} (evaluated anyway; it would not alert)")
    for clause in result.clauses:
        lines.extend(_clause_lines(clause, 2, style))
    if result.matches:
        lines.append("    matches:" if result.matched else "    found (the rule did not match):")
    for match in result.matches:
        score = f", score {match.score:g}" if match.score < 100 else ""
        text = "" if match.text.casefold() == match.term.casefold() else f" as {match.text!r}"
        cut = snippet(explanation.field_text(match.field), match.start, match.end)
        lines.append(
            f"      {match.kind} {match.term!r}{text} in {match.field} "
            f"[{match.start}:{match.end}{score}]"
        )
        lines.append(f"        {cut.render(style)}")
    return lines


def _clause_lines(clause: Clause, depth: int, style: Style) -> list[str]:
    result = style("true", "true") if clause.result else style("false", "false")
    lines = [f"{'  ' * depth}{clause.label}: {result}"]
    for child in clause.children:
        lines.extend(_clause_lines(child, depth + 1, style))
    return lines
