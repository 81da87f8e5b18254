"""Rule files -> Rule objects, reporting every problem in every file at once.

Loading is all or nothing: if any file has an error, ``load_rules`` raises a
RuleError listing each problem as ``path:line:col: message`` and returns no
rules, so a running daemon can keep its last good rule set.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any

import yaml

from monitor.errors import Problem, RuleError
from monitor.matching.normalize import term_words
from monitor.models import Entity, KeywordSet, Notify, Rule
from monitor.rules.yamlnodes import Located, Path, load_located

RULE_KEYS = ("id", "title", "entities", "phrases", "keywords", "exclude", "notify")
ENTITY_KEYS = ("name", "aliases")
KEYWORD_KEYS = ("terms", "threshold", "min")
NOTIFY_KEYS = ("slack", "email")
DEFAULT_THRESHOLD = 85.0
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _FileChecker:
    """Validates one rule document, collecting problems instead of stopping at the first."""

    def __init__(self, path: str, doc: Located, channels: Iterable[str] | None) -> None:
        self.path = path
        self.doc = doc
        self.channels = None if channels is None else set(channels)
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

    def text(self, value: Any, where: Path, what: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(where, f"{what} must be a non-empty string, got {value!r}")
            return None
        if not term_words(value):
            self.problem(where, f"{what} {value!r} has no letters or digits to match")
            return None
        return value.strip()

    def text_list(self, value: Any, where: Path, what: str, item: str) -> tuple[str, ...]:
        """A list of terms (``what``, each one an ``item``); a lone string is a list of one."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(where, f"{what} must be a list of strings")
            return ()
        if not value:
            self.problem(where, f"{what} is empty; add at least one term or remove the key")
            return ()
        found = [self.text(entry, (*where, i), item) for i, entry in enumerate(value)]
        return tuple(entry for entry in found if entry)

    def entity(self, value: Any, where: Path) -> Entity | None:
        if isinstance(value, str):
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
        aliases = (
            self.text_list(value["aliases"], (*where, "aliases"), "aliases", "alias")
            if "aliases" in value
            else ()
        )
        return Entity(name, aliases) if name else None

    def keywords(self, value: Any, where: Path) -> KeywordSet | None:
        if isinstance(value, list):
            value = {"terms": value}
        if not isinstance(value, dict):
            self.problem(where, "keywords must be a mapping: {terms: [...], threshold: 85, min: 1}")
            return None
        self.check_keys(value, KEYWORD_KEYS, where)
        terms = self.text_list(value.get("terms"), (*where, "terms"), "terms", "term")
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
        else:
            # Terms that normalise alike ("Airbase", "airbase") count once when matching.
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
        if not any(key in raw for key in ("entities", "phrases", "keywords")):
            self.problem((), "rule needs at least one of entities, phrases or keywords to match on")
        if self.problems:
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
        )


def parse_rule(
    text: str, path: str, default_id: str, channels: Iterable[str] | None = None
) -> tuple[Rule | None, list[Problem]]:
    """Parse one rule file's text; returns the rule (or None) and every problem found."""
    try:
        doc = load_located(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(path, line, col, f"invalid YAML: {reason}")]
    checker = _FileChecker(path, doc, channels)
    rule = checker.rule(default_id)
    return rule, checker.problems


def rule_files(folder: FsPath) -> list[FsPath]:
    """The rule files in a folder, in a stable order."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rules(folder: FsPath, channels: Iterable[str] | None = None) -> tuple[Rule, ...]:
    """Load every rule in ``folder``; raise RuleError listing every problem if any."""
    if not folder.is_dir():
        problem = Problem(
            str(folder),
            1,
            1,
            "rules folder not found; set `rules` in the config to a folder of *.yaml files",
        )
        raise RuleError([problem])
    channel_set = None if channels is None else tuple(channels)
    rules: list[Rule] = []
    problems: list[Problem] = []
    first_seen: dict[str, str] = {}
    for file in rule_files(folder):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), 1, 1, f"cannot read rule file: {exc}"))
            continue
        rule, found = parse_rule(text, str(file), file.stem, channel_set)
        problems.extend(found)
        if rule is None:
            continue
        if rule.id in first_seen:
            # Point at the `id:` value when there is one (else the top of the rule).
            line, col = load_located(text).position(("id",))
            problems.append(
                Problem(
                    str(file),
                    line,
                    col,
                    f"duplicate rule id {rule.id!r}: also used by {first_seen[rule.id]}; "
                    "rename the file or set a different `id:`",
                )
            )
            continue
        first_seen[rule.id] = str(file)
        rules.append(rule)
    if problems:
        raise RuleError(problems)
    return tuple(rules)
