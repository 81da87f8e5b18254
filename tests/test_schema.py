"""The JSON Schema for editors: valid, shipped, and in agreement with the loader.

The loader is the authority on what a rule may say; the schema must accept
every rule the docs and the example folder show, reject what the loader
rejects wherever a schema can tell, and name every key the loader knows.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from test_docs_rules import YAML as DOC_YAML
from test_docs_rules import docs_dictionary

from monitor.cli import cli
from monitor.models import Context
from monitor.rules import loader, parse_rule
from monitor.rules.schema import load_schema, schema_text
from monitor.rules.yamlnodes import load_located

ROOT = Path(__file__).parent.parent
SCHEMA = load_schema()
DEFS = SCHEMA["$defs"]
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def schema_errors(document: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


def loader_errors(text: str) -> list[str]:
    rule, problems = parse_rule(text, "r.yaml", "r", dictionary=docs_dictionary())
    errors = [str(p) for p in problems if p.severity == "error"]
    assert (rule is None) == bool(errors), "a rule comes back exactly when there is no error"
    return errors


# --- the schema itself ---------------------------------------------------------------


def test_the_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_monitor_schema_prints_it() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == SCHEMA
    assert result.output == schema_text()


def test_it_ships_as_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "rules/schema.json" in pyproject["tool"]["setuptools"]["package-data"]["monitor"]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object inside ``node``."""
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in ("properties", "$defs"):
                yield from walk(value)
            else:
                for child in value.values():
                    yield from walk(child)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# What JSON Schema draft 7 also understands: editors that implement only draft 7
# (some versions of VS Code's YAML extension) must still get everything.
DRAFT_7_KEYWORDS = {
    "$schema", "$ref", "$defs", "title", "description", "default", "type", "enum",
    "pattern", "minLength", "minimum", "maximum", "minItems", "items", "properties",
    "additionalProperties", "required", "minProperties", "maxProperties", "anyOf", "oneOf",
}  # fmt: skip


def test_it_uses_only_keywords_that_draft_7_shares() -> None:
    used = {key for node in walk(SCHEMA) for key in node}
    assert used <= DRAFT_7_KEYWORDS


def described(node: dict[str, Any]) -> bool:
    if "description" in node:
        return True
    ref = node.get("$ref")
    return isinstance(ref, str) and "description" in DEFS[ref.rsplit("/", 1)[-1]]


def test_every_key_has_hover_help() -> None:
    for node in walk(SCHEMA):
        for name, child in node.get("properties", {}).items():
            assert described(child), f"property {name!r} has no description"


def keys(definition: str) -> set[str]:
    node = DEFS[definition]
    for branch in node.get("anyOf", ()):
        if "properties" in branch:
            node = branch
    return set(node["properties"])


def test_it_names_every_key_the_loader_accepts() -> None:
    assert keys("rule") == set(loader.RULE_KEYS)
    assert keys("entity_object") == set(loader.ENTITY_KEYS)
    assert keys("alias") == set(loader.ALIAS_KEYS)
    assert keys("context") == set(loader.CONTEXT_KEYS)
    assert keys("condition") == set(loader.CONDITION_KEYS)
    assert keys("near") == set(loader.NEAR_KEYS)
    assert keys("keywords") == set(loader.KEYWORD_KEYS)
    assert set(DEFS["rule"]["properties"]["notify"]["properties"]) == set(loader.NOTIFY_KEYS)
    assert set(DEFS["rule"]["properties"]["examples"]["properties"]) == set(loader.EXAMPLE_KEYS)
    assert DEFS["rule"]["properties"]["severity"]["enum"] == list(loader.SEVERITIES)
    assert DEFS["field"]["enum"] == list(loader.FIELD_NAMES)
    assert [{"required": [group]} for group in loader.MATCH_GROUPS] == DEFS["rule"]["anyOf"]
    assert keys("dictionary") == {"entities"}


def test_its_defaults_are_the_loaders() -> None:
    threshold = DEFS["keywords"]["anyOf"][1]["properties"]["threshold"]
    assert threshold["default"] == loader.DEFAULT_THRESHOLD
    assert DEFS["context"]["properties"]["within"]["default"] == Context.within


# --- agreement with the loader ----------------------------------------------------------


def rule_files() -> list[Path]:
    return sorted((ROOT / "rules").glob("*.yaml"))


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_every_example_rule_file_validates(path: Path) -> None:
    assert schema_errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    "block", [b for b in DOC_YAML if "invalid" not in b.flags], ids=lambda b: f"rules.md:{b.line}"
)
def test_every_rule_in_the_docs_validates(block: Any) -> None:
    assert schema_errors(yaml.safe_load(block.text)) == []


@pytest.mark.parametrize(
    "path", sorted((ROOT / "tests" / "cases").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_golden_case_rule_validates(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert schema_errors(case["rule"]) == []


def test_draft_7_editors_reach_the_same_verdicts() -> None:
    draft7 = jsonschema.Draft7Validator(SCHEMA)
    for path in rule_files():
        assert list(draft7.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))) == []
    for param in INVALID:
        (text,) = param.values
        assert list(draft7.iter_errors(yaml.safe_load(str(text)))), param.id


VALID = [
    pytest.param("title: t\nentities: Erdoğan\nphrases: Ankara\nkeywords: [x y z]\n", id="short"),
    pytest.param("title: t\nentities: {name: A B, aliases: C D}\n", id="one-entity-one-alias"),
    pytest.param("title: t\nkeywords: {terms: Tartus, threshold: 90.5, min: 1}\n", id="kw-map"),
    pytest.param("title: t\nphrases: [x]\nnotify: {slack: true, email: a@b.org}\n", id="notify"),
    pytest.param("title: t\nphrases: [x]\nnotify: {slack: false, email: []}\n", id="notify-off"),
    pytest.param("title: t\nquery: a OR b\nfields: title\nlanguages: en\n", id="single-scope"),
    pytest.param("title: t\nmatch: {entity: Tartus}\n", id="dictionary-ref"),
    pytest.param(
        "title: t\nmatch:\n  all:\n    - not: {any: [{phrase: a}, {regex: 'b+'}]}\n"
        "    - keywords: [c d e]\n    - near: {terms: [f, g, h], within: 2}\n"
        "    - entity: {name: I, case_sensitive: true, aliases: [{text: J}]}\n",
        id="every-condition",
    ),
    pytest.param("entities:\n  - {name: Tartus, aliases: [Tartous]}\n", id="dictionary"),
]


@pytest.mark.parametrize("text", VALID)
def test_what_the_loader_accepts_the_schema_accepts(text: str) -> None:
    if not loader.is_dictionary(load_located(text)):
        assert loader_errors(text) == []
    assert schema_errors(yaml.safe_load(text)) == []


INVALID = [
    pytest.param("title: t\nentites: [A]\n", id="unknown-key"),
    pytest.param("phrases: [x]\n", id="no-title"),
    pytest.param("title: t\n", id="no-group"),
    pytest.param("title: ''\nphrases: [x]\n", id="empty-title"),
    pytest.param("id: -x\ntitle: t\nphrases: [x]\n", id="bad-id"),
    pytest.param("title: t\nphrases: []\n", id="empty-phrases"),
    pytest.param("title: t\nphrases: 5\n", id="phrases-number"),
    pytest.param("title: t\nentities: [{aliases: [A]}]\n", id="entity-without-name"),
    pytest.param("title: t\nentities: [{name: A, alias: [B]}]\n", id="entity-unknown-key"),
    pytest.param("title: t\nentities: [{name: A, aliases: [{txt: B}]}]\n", id="alias-key"),
    pytest.param("title: t\nentities: [{name: A, case_sensitive: yes please}]\n", id="cs-text"),
    pytest.param("title: t\nentities: [{name: A, context: {within: 0}}]\n", id="within-0"),
    pytest.param("title: t\nkeywords: Tartus\n", id="keywords-string"),
    pytest.param("title: t\nkeywords: {terms: [a], threshold: 150}\n", id="threshold"),
    pytest.param("title: t\nkeywords: {terms: [a], min: 0}\n", id="min-0"),
    pytest.param("title: t\nkeywords: {threshold: 90}\n", id="keywords-no-terms"),
    pytest.param("title: t\nphrases: [x]\nnotify: {slack: 5}\n", id="slack-number"),
    pytest.param("title: t\nphrases: [x]\nnotify: {email: nobody}\n", id="email-no-at"),
    pytest.param("title: t\nphrases: [x]\nnotify: {teams: x}\n", id="notify-key"),
    pytest.param("title: t\nmatch: {phrase: a, regex: b}\n", id="two-keys"),
    pytest.param("title: t\nmatch: {}\n", id="no-key"),
    pytest.param("title: t\nmatch: {all: []}\n", id="empty-all"),
    pytest.param("title: t\nmatch: {near: {terms: [a, b]}}\n", id="near-no-within"),
    pytest.param("title: t\nmatch: {near: {terms: [a], within: 3}}\n", id="near-one-term"),
    pytest.param("title: t\nmatch: {regex: ''}\n", id="empty-regex"),
    pytest.param("title: t\nquery: ''\n", id="empty-query"),
    pytest.param("title: t\nphrases: [x]\nfields: [headline]\n", id="field"),
    pytest.param("title: t\nphrases: [x]\nsources: ['']\n", id="empty-source"),
    pytest.param("title: t\nphrases: [x]\nlanguages: [English]\n", id="language"),
    pytest.param("title: t\nphrases: [x]\nmax_age: 3 days\n", id="max-age"),
    pytest.param("title: t\nphrases: [x]\nenabled: yes please\n", id="enabled"),
    pytest.param("title: t\nphrases: [x]\nseverity: urgent\n", id="severity"),
    pytest.param("title: t\nphrases: [x]\nowner: 5\n", id="owner"),
    pytest.param("title: t\nphrases: [x]\nexamples: {match: x}\n", id="examples-string"),
    pytest.param("title: t\nphrases: [x]\nexamples: {matches: [x]}\n", id="examples-key"),
]


@pytest.mark.parametrize("text", INVALID)
def test_what_the_schema_rejects_the_loader_rejects(text: str) -> None:
    assert schema_errors(yaml.safe_load(text)) != []
    assert loader_errors(text) != []


def test_a_dictionary_entity_must_be_a_mapping() -> None:
    assert schema_errors({"entities": ["Tartus"]}) != []
    assert schema_errors({"entities": [{"name": "Tartus"}], "phrases": ["x"]}) != []


# Some checks need the matcher or the dictionary; a schema cannot make them.
ONLY_THE_LOADER = [
    pytest.param("title: t\nmatch: {regex: '(a)\\1'}\n", id="regex-backreference"),
    pytest.param("title: t\nquery: (Tartus OR\n", id="query-syntax"),
    pytest.param("title: t\nmatch: {entity: Tartu}\n", id="unknown-dictionary-name"),
    pytest.param("title: t\nphrases: ['sanc*ion']\n", id="wildcard-inside"),
    pytest.param("title: t\nkeywords: {terms: [a], min: 2}\n", id="min-above-terms"),
]


@pytest.mark.parametrize("text", ONLY_THE_LOADER)
def test_what_only_the_loader_can_check(text: str) -> None:
    assert schema_errors(yaml.safe_load(text)) == []
    assert loader_errors(text) != []
