"""Rule files -> Rule objects, reporting every problem in every file at once.

Loading is all or nothing: if any file has an error, ``load_rules`` raises a
RuleError listing each problem as ``path:line:col: message`` and returns no
rules, so a running daemon can keep its last good rule set.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path as FsPath
from typing import Any

import yaml

from monitor.errors import Problem, RuleError
from monitor.matching.compiled import collector_paused
from monitor.matching.evaluate import compile_regex
from monitor.matching.normalize import has_words, term_words
from monitor.models import (
    And,
    Cadence,
    Condition,
    Context,
    Entity,
    EntityLeaf,
    KeywordSet,
    KeywordsLeaf,
    Near,
    Not,
    Notify,
    Or,
    PhraseLeaf,
    RegexLeaf,
    Rule,
    Templates,
)
from monitor.rules.query import WILDCARD_MIN, QuerySyntaxError, parse_query
from monitor.rules.yamlnodes import Located, Path, load_located
from monitor.timeutil import parse_duration

RULE_KEYS = (
    "id",
    "title",
    "entities",
    "phrases",
    "keywords",
    "exclude",
    "notify",
    "match",
    "query",
    "fields",
    "sources",
    "languages",
    "max_age",
    "enabled",
    "severity",
    "description",
    "owner",
    "examples",
    "cooldown",
    "digest",
    "template",
)
MATCH_GROUPS = ("entities", "phrases", "keywords", "match", "query")
ENTITY_KEYS = ("name", "aliases", "case_sensitive", "context")
ALIAS_KEYS = ("text", "case_sensitive")
CONTEXT_KEYS = ("require_any", "forbid", "within")
CONDITION_KEYS = ("all", "any", "not", "near", "entity", "phrase", "keywords", "regex")
NEAR_KEYS = ("terms", "within")
EXAMPLE_KEYS = ("match", "no_match")
FIELD_NAMES = ("title", "summary", "body")
SEVERITIES = ("info", "normal", "high")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
KEYWORD_KEYS = ("terms", "threshold", "min")
NOTIFY_KEYS = ("slack", "email")
TEMPLATE_KEYS = ("slack", "email_text", "email_html")
#: A template value ending like this (on one line) is a file, relative to the rule file.
TEMPLATE_FILES = (".j2", ".jinja", ".jinja2", ".txt", ".html", ".md")
DEFAULT_THRESHOLD = 85.0
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _wildcard_problem(term: str) -> str | None:
    """Why a ``*`` in ``term`` cannot work (the rule a query applies to its terms), or None.

    Without this check ``sanc*ion`` would quietly mean the two words "sanc ion".
    """
    star = term.find("*")
    if star == -1:
        return None
    if star != len(term) - 1:
        return "* can only end a term, as in sanction*"
    stem = term[:-1]
    words = term_words(stem) if stem[-1:].isalnum() else ()
    if not words or len(words[-1]) < WILDCARD_MIN:
        return f"a wildcard needs at least {WILDCARD_MIN} letters before *, as in sanction*"
    return None


class _FileChecker:
    """Validates one rule document, collecting problems instead of stopping at the first."""

    def __init__(
        self,
        path: str,
        doc: Located,
        channels: Iterable[str] | None,
        dictionary: dict[str, Entity] | None = None,
    ) -> None:
        self.path = path
        self.doc = doc
        self.channels = None if channels is None else set(channels)
        self.dictionary = dictionary or {}
        self.problems: list[Problem] = []

    def problem(self, where: Path, message: str, key: bool = False) -> None:
        line, col = self.doc.position(where, key=key)
        self.problems.append(Problem(self.path, line, col, message))

    def check_keys(self, table: dict[str, Any], allowed: tuple[str, ...], where: Path) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                tip = (
                    f"; did you mean {close[0]!r}?"
                    if close
                    else f"; expected one of {', '.join(allowed)}"
                )
                self.problem((*where, key), f"unknown key {key!r}{tip}", key=True)

    def text(self, value: Any, where: Path, what: str, wildcards: bool = True) -> str | None:
        """A term; ``wildcards=False`` where a ``*`` would be dropped unseen (keywords)."""
        if not isinstance(value, str) or not value.strip():
            self.problem(where, f"{what} must be a non-empty string, got {value!r}")
            return None
        if not has_words(value):
            self.problem(where, f"{what} {value!r} has no letters or digits to match")
            return None
        if not wildcards and "*" in value:
            term = value.strip()
            instead = term if term.endswith("*") and term.count("*") == 1 else "sanction*"
            self.problem(
                where,
                f"{what} {value!r}: keywords take no wildcards (they are fuzzy instead); "
                f"to match any ending, use a phrase with a trailing wildcard, "
                f"as in phrases: [{instead}]",
            )
            return None
        if wildcard := _wildcard_problem(value.strip()):
            self.problem(where, f"{what} {value!r}: {wildcard}")
            return None
        return value.strip()

    def text_list(
        self, value: Any, where: Path, what: str, item: str, wildcards: bool = True
    ) -> tuple[str, ...]:
        """A list of terms (``what``, each one an ``item``); a lone string is a list of one."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(where, f"{what} must be a list of strings")
            return ()
        if not value:
            self.problem(where, f"{what} is empty; add at least one term or remove the key")
            return ()
        found = [self.text(entry, (*where, i), item, wildcards) for i, entry in enumerate(value)]
        return tuple(entry for entry in found if entry)

    def entity(self, value: Any, where: Path, reference: bool = False) -> Entity | None:
        """An inline entity, or (a bare name) a reference to the shared dictionary.

        With ``reference`` (a ``match:`` leaf), a bare name must be in the
        dictionary; in the ``entities:`` shorthand it may be a plain name.
        """
        if isinstance(value, str):
            known = self.dictionary.get(value.strip().casefold())
            if known:
                return known
            if reference:
                close = difflib.get_close_matches(value, [e.name for e in self.dictionary.values()])
                tip = f"; did you mean {close[0]!r}?" if close else ""
                self.problem(
                    where,
                    f"unknown entity {value!r}{tip} (define it in rules/entities.yaml "
                    "or inline as {name: ..., aliases: [...]})",
                )
                return None
            name = self.text(value, where, "entity name")
            return Entity(name) if name else None
        if not isinstance(value, dict):
            self.problem(where, "an entity is a name, or a mapping with name and aliases")
            return None
        self.check_keys(value, ENTITY_KEYS, where)
        if "name" not in value:
            self.problem(where, "entity needs a name")
            return None
        name = self.text(value["name"], (*where, "name"), "entity name")
        all_case = self.flag(value, "case_sensitive", where, False)
        aliases: list[str] = []
        case_sensitive: set[str] = set()
        raw_aliases = value.get("aliases", None)
        if "aliases" in value:
            items = raw_aliases if isinstance(raw_aliases, list) else [raw_aliases]
            if not items:
                self.problem(
                    (*where, "aliases"), "aliases is empty; add at least one term or remove the key"
                )
            for index, item in enumerate(items):
                at = (*where, "aliases", index)
                if isinstance(item, dict):
                    self.check_keys(item, ALIAS_KEYS, at)
                    text = self.text(item.get("text"), (*at, "text"), "alias")
                    if text and self.flag(item, "case_sensitive", at, all_case):
                        case_sensitive.add(text)
                else:
                    text = self.text(item, at, "alias")
                    if text and all_case:
                        case_sensitive.add(text)
                if text:
                    aliases.append(text)
        if name and all_case:
            case_sensitive.add(name)
        context = (
            self.context(value["context"], (*where, "context")) if "context" in value else None
        )
        if not name:
            return None
        return Entity(name, tuple(aliases), frozenset(case_sensitive), context)

    def flag(self, table: dict[str, Any], key: str, where: Path, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem((*where, key), f"{key} must be true or false, got {value!r}")
            return default
        return value

    def context(self, value: Any, where: Path) -> Context | None:
        if not isinstance(value, dict):
            self.problem(where, "context must be a mapping: {require_any: [...], forbid: [...]}")
            return None
        self.check_keys(value, CONTEXT_KEYS, where)
        within = value.get("within", Context.within)
        if isinstance(within, bool) or not isinstance(within, int) or within < 1:
            self.problem((*where, "within"), f"within must be a number of words, got {within!r}")
            within = Context.within
        return Context(
            require_any=self.text_list(
                value["require_any"], (*where, "require_any"), "require_any", "term"
            )
            if "require_any" in value
            else (),
            forbid=self.text_list(value["forbid"], (*where, "forbid"), "forbid", "term")
            if "forbid" in value
            else (),
            within=within,
        )

    def condition(self, value: Any, where: Path) -> Condition | None:
        """One node of a ``match:`` tree: a mapping with exactly one operator or leaf key."""
        if not isinstance(value, dict) or len(value) != 1:
            self.problem(
                where,
                "a condition is a mapping with one key: " + ", ".join(CONDITION_KEYS),
            )
            return None
        self.check_keys(value, CONDITION_KEYS, where)
        [(key, inner)] = value.items()
        at = (*where, key)
        if key in ("all", "any"):
            if not isinstance(inner, list) or not inner:
                self.problem(at, f"{key} needs a non-empty list of conditions")
                return None
            children = [self.condition(child, (*at, i)) for i, child in enumerate(inner)]
            if any(c is None for c in children):
                return None
            kept = tuple(c for c in children if c is not None)
            return And(kept) if key == "all" else Or(kept)
        if key == "not":
            child = self.condition(inner, at)
            return Not(child) if child else None
        if key == "near":
            return self.near(inner, at)
        if key == "entity":
            entity = self.entity(inner, at, reference=True)
            return EntityLeaf(entity) if entity else None
        if key == "phrase":
            phrase = self.text(inner, at, "phrase")
            return PhraseLeaf(phrase) if phrase else None
        if key == "keywords":
            keywords = self.keywords(inner, at)
            return KeywordsLeaf(keywords) if keywords else None
        return self.regex(inner, at)

    def near(self, value: Any, where: Path) -> Near | None:
        if not isinstance(value, dict):
            self.problem(where, "near must be a mapping: {terms: [a, b], within: 10}")
            return None
        self.check_keys(value, NEAR_KEYS, where)
        terms = self.text_list(value.get("terms"), (*where, "terms"), "terms", "term")
        if len(terms) < 2:
            self.problem((*where, "terms"), "near needs at least two terms")
        within = value.get("within")
        if isinstance(within, bool) or not isinstance(within, int) or within < 1:
            self.problem((*where, "within"), f"within must be a number of words, got {within!r}")
            return None
        return Near(terms, within) if len(terms) >= 2 else None

    def regex(self, value: Any, where: Path) -> RegexLeaf | None:
        if not isinstance(value, str) or not value:
            self.problem(where, "regex must be a non-empty string")
            return None
        try:
            compile_regex(value)
        except Exception as exc:  # re2.error carries bytes; show it as text
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            self.problem(
                where,
                f"invalid regex {value!r}: {reason} (RE2 syntax: no backreferences or lookaround)",
            )
            return None
        return RegexLeaf(value)

    def query(self, value: Any, where: Path) -> Condition | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(where, "query must be a non-empty string")
            return None
        try:
            return parse_query(value)
        except QuerySyntaxError as exc:
            line, col = self.doc.position(where)
            raw_line = self.doc.line(line)
            quoted = raw_line[col - 1 : col] in ("'", '"')
            self.problems.append(
                Problem(
                    self.path, line, col + exc.column - 1 + int(quoted), f"query: {exc.message}"
                )
            )
            return None

    def names(
        self, raw: dict[str, Any], key: str, pattern: re.Pattern[str] | None
    ) -> tuple[str, ...]:
        if key not in raw:
            return ()
        values = self.text_list(raw[key], (key,), key, key[:-1])
        for index, item in enumerate(values):
            if pattern and not pattern.match(item):
                self.problem((key, index), f"{item!r} is not a valid {key[:-1]}")
        return values

    def examples(self, value: Any, where: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Example texts (or paths to story files, relative to the rule file)."""
        if not isinstance(value, dict):
            self.problem(where, "examples must be a mapping: {match: [...], no_match: [...]}")
            return (), ()
        self.check_keys(value, EXAMPLE_KEYS, where)
        found: list[tuple[str, ...]] = []
        for key in EXAMPLE_KEYS:
            items = value.get(key, [])
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                self.problem((*where, key), f"examples.{key} must be a list of texts or file paths")
                items = []
            found.append(tuple(self.example_text(item, (*where, key)) for item in items))
        return found[0], found[1]

    def example_text(self, item: str, where: Path) -> str:
        if "\n" in item or not item.endswith((".txt", ".html", ".htm", ".xml", ".md")):
            return item
        path = FsPath(self.path).parent / item
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            self.problem(where, f"cannot read example file {str(path)!r}: {exc.strerror}")
            return ""

    def keywords(self, value: Any, where: Path) -> KeywordSet | None:
        # The short form `keywords: [a, b]` has its terms right here, not under `terms`.
        terms_at = where if isinstance(value, list) else (*where, "terms")
        if isinstance(value, list):
            value = {"terms": value}
        if not isinstance(value, dict):
            self.problem(where, "keywords must be a mapping: {terms: [...], threshold: 85, min: 1}")
            return None
        self.check_keys(value, KEYWORD_KEYS, where)
        terms = self.text_list(
            value.get("terms"), terms_at, "terms", "keyword term", wildcards=False
        )
        threshold = value.get("threshold", DEFAULT_THRESHOLD)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0 <= threshold <= 100
        ):
            self.problem(
                (*where, "threshold"),
                f"threshold must be a number from 0 to 100, got {threshold!r}",
            )
            threshold = DEFAULT_THRESHOLD
        minimum = value.get("min", 1)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            self.problem(
                (*where, "min"), f"min must be a whole number of at least 1, got {minimum!r}"
            )
            minimum = 1
        elif minimum > 1:
            # Terms that normalise alike ("Airbase", "airbase") count once when matching.
            # (Each term has words, so with min: 1 there is nothing to count.)
            distinct = len({term_words(term) for term in terms})
            if terms and minimum > distinct:
                count = (
                    "is only 1 term" if distinct == 1 else f"are only {distinct} different terms"
                )
                self.problem((*where, "min"), f"min is {minimum} but there {count}")
        return KeywordSet(terms, float(threshold), minimum) if terms else None

    def notify(self, value: Any, where: Path) -> Notify:
        if not isinstance(value, dict):
            self.problem(
                where, 'notify must be a mapping like {slack: "#desk", email: [a@example.org]}'
            )
            return Notify()
        self.check_keys(value, NOTIFY_KEYS, where)
        invalid: set[str] = set()
        slack = value.get("slack")
        if slack is not None and not isinstance(slack, str | bool):
            self.problem((*where, "slack"), "slack must be a channel name or false")
            invalid.add("slack")
            slack = None
        if slack is True:
            slack = None
        email = value.get("email")
        if email is not None:
            if isinstance(email, str):
                email = [email]
            if not isinstance(email, list) or not all(
                isinstance(a, str) and "@" in a for a in email
            ):
                self.problem(
                    (*where, "email"), "email must be a list of addresses, or [] to turn email off"
                )
                invalid.add("email")
                email = None
            else:
                email = tuple(email)
        for channel in NOTIFY_KEYS:
            # An invalid value was reported above; "not configured" on top would be noise.
            wanted = channel not in invalid and value.get(channel) not in (None, False, [])
            if wanted and self.channels is not None and channel not in self.channels:
                self.problem(
                    (*where, channel),
                    f"notify.{channel} is set but the config has no [notify.{channel}] section; "
                    f"add one or remove this key",
                    key=True,
                )
        return Notify(slack=slack, email=email)

    def duration(self, raw: dict[str, Any], key: str) -> timedelta | None:
        if key not in raw:
            return None
        try:
            return parse_duration(str(raw[key]))
        except ValueError as exc:
            self.problem((key,), str(exc))
            return None

    def cadence(self, value: Any) -> Cadence | None:
        from monitor.notify.schedule import parse_cadence

        try:
            return parse_cadence(str(value))
        except ValueError as exc:
            self.problem(("digest",), str(exc))
            return None

    def templates(self, value: Any, where: Path) -> Templates:
        """``template: {slack: ..., email_text: ..., email_html: ...}``, each checked by Jinja2."""
        if not isinstance(value, dict) or not value:
            self.problem(
                where, "template must be a mapping like {slack: file.j2, email_html: file.html}"
            )
            return Templates()
        self.check_keys(value, TEMPLATE_KEYS, where)
        from monitor.notify import templates as jinja

        found: dict[str, str] = {}
        for kind in TEMPLATE_KEYS:
            if kind not in value:
                continue
            at = (*where, kind)
            source = value[kind]
            if not isinstance(source, str) or not source.strip():
                self.problem(at, f"template.{kind} must be a file name or the template text")
                continue
            if "\n" not in source and source.strip().endswith(TEMPLATE_FILES):
                path = FsPath(self.path).parent / source.strip()
                try:
                    source = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    self.problem(at, f"cannot read template file {str(path)!r}: {exc}")
                    continue
            if error := jinja.check(kind, source):
                self.problem(at, f"template.{kind}: {error}")
                continue
            found[kind] = source
        return Templates(**found)

    def rule(self, default_id: str) -> Rule | None:
        for where, (line, col) in self.doc.duplicates:
            self.problems.append(
                Problem(
                    self.path,
                    line,
                    col,
                    f"key {where[-1]!r} is written twice; only the last one would count, "
                    "so merge them into one",
                )
            )
        raw = self.doc.value
        if not isinstance(raw, dict):
            self.problem(
                (),
                "a rule file must be a mapping: a title and entities, phrases or keywords",
            )
            return None
        self.check_keys(raw, RULE_KEYS, ())
        rule_id = raw.get("id", default_id)
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            self.problem(("id",), f"rule id {rule_id!r} must be letters, digits, '.', '_' or '-'")
        title = raw.get("title")
        if title is None:
            self.problem((), "rule needs a title (one line that says what it watches)")
        elif not isinstance(title, str) or not title.strip():
            self.problem(("title",), "title must be a non-empty string")
        entities_raw = raw.get("entities", [])
        if not isinstance(entities_raw, list):
            entities_raw = [entities_raw]
        entities = tuple(
            e for i, item in enumerate(entities_raw) if (e := self.entity(item, ("entities", i)))
        )
        if "entities" in raw and not entities_raw:
            self.problem(("entities",), "entities is empty; add at least one or remove the key")
        phrases = (
            self.text_list(raw["phrases"], ("phrases",), "phrases", "phrase")
            if "phrases" in raw
            else ()
        )
        keywords = self.keywords(raw["keywords"], ("keywords",)) if "keywords" in raw else None
        exclude = (
            self.text_list(raw["exclude"], ("exclude",), "exclude", "exclude term")
            if "exclude" in raw
            else ()
        )
        notify = self.notify(raw["notify"], ("notify",)) if "notify" in raw else Notify()
        if not any(key in raw for key in MATCH_GROUPS):
            self.problem(
                (), "rule needs at least one of entities, phrases, keywords, match or query"
            )
        tree = [
            c
            for c in (
                self.condition(raw["match"], ("match",)) if "match" in raw else None,
                self.query(raw["query"], ("query",)) if "query" in raw else None,
            )
            if c is not None
        ]
        fields = self.names(raw, "fields", None) or FIELD_NAMES
        for index, name in enumerate(fields):
            if name not in FIELD_NAMES:
                self.problem(
                    ("fields", index), f"unknown field {name!r}; use title, summary or body"
                )
        max_age = None
        if "max_age" in raw:
            try:
                max_age = parse_duration(str(raw["max_age"]))
            except ValueError as exc:
                self.problem(("max_age",), str(exc))
        severity = raw.get("severity", "normal")
        if severity not in SEVERITIES:
            self.problem(("severity",), f"severity must be one of {', '.join(SEVERITIES)}")
        for key in ("description", "owner"):
            if key in raw and not isinstance(raw[key], str):
                self.problem((key,), f"{key} must be a string")
        match_examples, no_match_examples = (
            self.examples(raw["examples"], ("examples",)) if "examples" in raw else ((), ())
        )
        # Checked before the error test below, so a bad value cannot slip through.
        sources = self.names(raw, "sources", None)
        languages = self.names(raw, "languages", _LANGUAGE)
        enabled = self.flag(raw, "enabled", (), True)
        cooldown = self.duration(raw, "cooldown")
        digest = self.cadence(raw["digest"]) if "digest" in raw else None
        if cooldown and digest:
            self.problem(
                ("cooldown",),
                "cooldown and digest do not mix: a digest sends one message per period already",
                key=True,
            )
        templates = (
            self.templates(raw["template"], ("template",)) if "template" in raw else Templates()
        )
        if self.errors:
            return None
        return Rule(
            id=str(rule_id),
            title=str(title).strip(),
            path=self.path,
            entities=entities,
            phrases=phrases,
            keywords=keywords,
            exclude=exclude,
            notify=notify,
            match=tree[0] if len(tree) == 1 else And(tuple(tree)) if tree else None,
            fields=tuple(fields),
            sources=sources,
            languages=languages,
            max_age=max_age,
            enabled=enabled,
            severity=str(severity),
            description=str(raw.get("description", "")),
            owner=str(raw.get("owner", "")),
            examples_match=match_examples,
            examples_no_match=no_match_examples,
            cooldown=cooldown,
            digest=digest,
            templates=templates,
        )

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def parse_rule(
    text: str,
    path: str,
    default_id: str,
    channels: Iterable[str] | None = None,
    dictionary: dict[str, Entity] | None = None,
) -> tuple[Rule | None, list[Problem]]:
    """Parse one rule file's text; returns the rule (or None) and every problem found."""
    doc, problems = _parse_yaml(text, path)
    if doc is None:
        return None, problems
    return _check_rule(doc, path, default_id, channels, dictionary)


def _check_rule(
    doc: Located,
    path: str,
    default_id: str,
    channels: Iterable[str] | None,
    dictionary: dict[str, Entity] | None,
) -> tuple[Rule | None, list[Problem]]:
    checker = _FileChecker(path, doc, channels, dictionary)
    rule = checker.rule(default_id)
    return rule, checker.problems


def _parse_yaml(text: str, path: str) -> tuple[Located | None, list[Problem]]:
    try:
        return load_located(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(path, line, col, f"invalid YAML: {reason}")]


def declared_id(doc: Located, default_id: str) -> str | None:
    """The id a rule document claims, valid or not otherwise: its ``id:``, else the file stem.

    None when the document is not a mapping or its ``id:`` is not a valid id
    (a problem already reported for the file itself).
    """
    raw = doc.value
    if not isinstance(raw, dict):
        return None
    rule_id = raw.get("id", default_id)
    return rule_id if isinstance(rule_id, str) and _RULE_ID.match(rule_id) else None


def is_dictionary(doc: Located) -> bool:
    """A file with a top-level ``entities:`` list and no ``title`` is a shared dictionary."""
    raw = doc.value
    return isinstance(raw, dict) and "entities" in raw and "title" not in raw


def parse_dictionary(doc: Located, path: str) -> tuple[dict[str, Entity], list[Problem]]:
    """Entities defined once for many rules, keyed by their folded canonical name."""
    checker = _FileChecker(path, doc, None)
    raw = doc.value
    checker.check_keys(raw, ("entities",), ())
    items = raw["entities"]
    entities: dict[str, Entity] = {}
    if not isinstance(items, list) or not items:
        checker.problem(("entities",), "entities must be a non-empty list of entities")
        return {}, checker.problems
    for index, item in enumerate(items):
        if isinstance(item, str):
            checker.problem(("entities", index), "a dictionary entity needs name and aliases")
            continue
        entity = checker.entity(item, ("entities", index))
        if entity:
            entities[entity.name.casefold()] = entity
    return entities, checker.problems


@dataclass(frozen=True)
class RuleSet:
    """A loaded rule folder: the rules, the shared entities and any warnings."""

    rules: tuple[Rule, ...]
    entities: dict[str, Entity]
    warnings: tuple[Problem, ...] = ()


def rule_files(folder: FsPath) -> list[FsPath]:
    """The rule files in a folder, in a stable order."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rule_set(folder: FsPath, channels: Iterable[str] | None = None) -> RuleSet:
    """Load every rule in ``folder``; raise RuleError listing every problem if any.

    Dictionary files are read first, so rules may refer to entities defined in
    any of them, whatever the file order.

    The cyclic garbage collector is paused meanwhile, as ``compile_rules`` does:
    10,000 rule files parse into over a million small dicts, lists and tuples
    (values and their positions), none of them in a cycle, and the full
    collections their growth set off took a third of the time they took to load.
    """
    with collector_paused():
        return _load_rule_set(folder, channels)


def _load_rule_set(folder: FsPath, channels: Iterable[str] | None) -> RuleSet:
    if not folder.is_dir():
        problem = Problem(
            str(folder),
            1,
            1,
            "rules folder not found; set `rules` in the config to a folder of *.yaml files",
        )
        raise RuleError([problem])
    channel_set = None if channels is None else tuple(channels)
    problems: list[Problem] = []
    dictionary: dict[str, Entity] = {}
    # Parsed once: YAML parsing is a large share of the time a big rule folder takes.
    rule_docs: list[tuple[FsPath, Located]] = []
    for file in rule_files(folder):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), 1, 1, f"cannot read rule file: {exc}"))
            continue
        doc, found = _parse_yaml(text, str(file))
        problems.extend(found)
        if doc is not None and is_dictionary(doc):
            entities, found = parse_dictionary(doc, str(file))
            problems.extend(found)
            dictionary.update(entities)
        elif doc is not None:
            rule_docs.append((file, doc))
    rules: list[Rule] = []
    first_seen: dict[str, str] = {}
    for file, doc in rule_docs:
        rule, found = _check_rule(doc, str(file), file.stem, channel_set, dictionary)
        problems.extend(found)
        # A file with other problems still claims its id, so a clash with it is
        # reported in the same run rather than after those are fixed.
        rule_id = declared_id(doc, file.stem)
        if rule_id is not None and rule_id in first_seen:
            # Point at the `id:` value when there is one (else the top of the rule).
            line, col = doc.position(("id",))
            problems.append(
                Problem(
                    str(file),
                    line,
                    col,
                    f"duplicate rule id {rule_id!r}: also used by {first_seen[rule_id]}; "
                    "rename the file or set a different `id:`",
                )
            )
            continue
        if rule_id is not None:
            first_seen[rule_id] = str(file)
        if rule is not None:
            rules.append(rule)
            problems.extend(risky(rule))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RuleError(errors)
    return RuleSet(tuple(rules), dictionary, tuple(problems))


def load_rules(folder: FsPath, channels: Iterable[str] | None = None) -> tuple[Rule, ...]:
    """The rules of ``folder`` (see ``load_rule_set``)."""
    return load_rule_set(folder, channels).rules


#: Words too common to be a whole rule on their own.
COMMON_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "as",
        "is",
        "it",
        "this",
        "that",
        "be",
        "are",
        "was",
        "were",
        "new",
        "news",
        "says",
        "said",
        "today",
        "year",
        "people",
        "time",
        "world",
        "government",
        "state",
        "city",
        "report",
    ]
)


def risky(rule: Rule) -> list[Problem]:
    """Warnings (not errors) about rules that will likely be noisy or never fire."""
    warnings: list[Problem] = []

    def warn(message: str) -> None:
        warnings.append(Problem(rule.path, 1, 1, f"rule {rule.id!r}: {message}", "warning"))

    for entity in rule.entities:
        for name in entity.names:
            if len(name) < 4 and not entity.is_case_sensitive(name):
                warn(
                    f"{name!r} is under 4 characters and matches any capitalisation; "
                    "add case_sensitive: true if it is an acronym"
                )
    for phrase in rule.phrases:
        if len(phrase) < 4:
            warn(f"phrase {phrase!r} is under 4 characters; it will match often")
    terms = [*rule.phrases, *(n for e in rule.entities for n in e.names)]
    if rule.keywords:
        terms.extend(rule.keywords.terms)
        if rule.keywords.threshold < 75:
            warn(
                f"fuzzy threshold {rule.keywords.threshold:g} is under 75; "
                "unrelated words will match"
            )
    if len(terms) == 1 and terms[0].casefold() in COMMON_WORDS and rule.match is None:
        warn(f"the whole rule is the common word {terms[0]!r}; it will match most stories")
    if isinstance(rule.match, Not) and not terms:
        warn("the rule is only a `not`: it matches every story that lacks the term")
    return warnings
