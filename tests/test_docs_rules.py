"""docs/rules.md is executable: its rules load and its stories behave as it says.

The page's fenced blocks are the test data:

- ```` ```yaml ```` a rule (or an entity dictionary) that must load with no
  problem at all; its ``examples`` must pass as ``monitor check`` runs them.
- ```` ```yaml invalid ```` / ```` ```yaml warns ```` a rule whose errors (or
  warnings) are exactly the lines of the ```` ```text ```` block after it.
- ```` ```query ```` one query per line, each of which must parse.
- ```` ```stories ```` lines ``+ text`` (must match) and ``- text`` (must not),
  run against every rule of the nearest ``yaml`` or ``query`` block above.
  ``[title]``, ``[summary]`` and ``[body]`` put the text after them in that
  field; a line without them is the body.
"""

from __future__ import annotations

import re
import runpy
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.errors import Problem
from monitor.matching.engine import match_rule, prepare
from monitor.models import Entity, Rule, Story
from monitor.rules import load_rule_set, parse_rule
from monitor.rules.examples import run_examples
from monitor.rules.loader import is_dictionary, parse_dictionary, risky
from monitor.rules.query import parse_query
from monitor.rules.yamlnodes import load_located

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs" / "rules.md"
#: The path the page's error messages show.
DOC_PATH = "rules/example.yaml"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)

_FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<info>[^`]*)$")
_FIELD = re.compile(r"\[(title|summary|body)\]")


@dataclass(frozen=True)
class Block:
    """One fenced block of the page: its info string (``yaml invalid``), text and line."""

    info: str
    text: str
    line: int  # 1-based line of the opening fence

    @property
    def lang(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(self.info.split()[1:])


def read_blocks(markdown: str) -> list[Block]:
    """The fenced blocks of ``markdown``, indented ones (inside list items) included."""
    found: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        index += 1
        if not opening:
            continue
        indent, ticks = len(opening["indent"]), opening["ticks"]
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != ticks:
            body.append(lines[index][indent:])
            index += 1
        assert index < len(lines), f"rules.md:{index}: unclosed ``` block"
        found.append(Block(opening["info"].strip(), "\n".join(body) + "\n", index - len(body)))
        index += 1
    return found


BLOCKS = read_blocks(DOCS.read_text(encoding="utf-8"))
YAML = [b for b in BLOCKS if b.lang == "yaml"]


def is_dictionary_block(block: Block) -> bool:
    return is_dictionary(load_located(block.text))


@cache
def docs_dictionary() -> dict[str, Entity]:
    """Every entity the page defines in a dictionary block, as the loader reads them."""
    entities: dict[str, Entity] = {}
    for block in YAML:
        if is_dictionary_block(block):
            found, problems = parse_dictionary(load_located(block.text), DOC_PATH)
            assert problems == [], [str(p) for p in problems]
            entities.update(found)
    return entities


def parse(text: str) -> tuple[Rule | None, list[Problem]]:
    return parse_rule(text, DOC_PATH, "example", dictionary=docs_dictionary())


def query_rule_text(query: str) -> str:
    return yaml.safe_dump({"title": "a query from the docs", "query": query})


def the_text_after(block: Block) -> list[str]:
    following = BLOCKS[BLOCKS.index(block) + 1]
    assert following.lang == "text", f"rules.md:{block.line}: put the output in a text block"
    return following.text.splitlines()


# --- the blocks themselves -------------------------------------------------------


def test_the_page_has_examples_of_every_kind() -> None:
    # A renamed fence tag would otherwise turn every test below into zero tests.
    assert len([b for b in YAML if not b.flags]) >= 20
    assert len([b for b in BLOCKS if b.lang == "stories"]) >= 20
    assert [b for b in BLOCKS if b.lang == "query"]
    assert [b for b in YAML if "invalid" in b.flags]
    assert [b for b in YAML if "warns" in b.flags]
    assert docs_dictionary()


@pytest.mark.parametrize(
    "block", [b for b in YAML if not b.flags], ids=lambda b: f"rules.md:{b.line}"
)
def test_every_yaml_example_loads_without_a_problem(block: Block) -> None:
    if is_dictionary_block(block):
        return  # read by docs_dictionary(), which asserts it has no problem
    rule, problems = parse(block.text)
    assert [str(p) for p in problems] == []
    assert rule is not None
    assert run_examples([rule]) == []
    assert risky(rule) == [], "a docs example should not draw a warning unless it says so"


@pytest.mark.parametrize(
    "block", [b for b in YAML if "invalid" in b.flags], ids=lambda b: f"rules.md:{b.line}"
)
def test_an_invalid_example_prints_exactly_what_the_page_shows(block: Block) -> None:
    rule, problems = parse(block.text)
    assert rule is None
    assert [str(p) for p in problems] == the_text_after(block)


@pytest.mark.parametrize(
    "block", [b for b in YAML if "warns" in b.flags], ids=lambda b: f"rules.md:{b.line}"
)
def test_a_warning_example_prints_exactly_what_the_page_shows(block: Block) -> None:
    rule, problems = parse(block.text)
    assert problems == []
    assert rule is not None
    assert [str(p) for p in risky(rule)] == the_text_after(block)


QUERIES = [
    pytest.param(query, id=f"rules.md:{block.line}:{query}")
    for block in BLOCKS
    if block.lang == "query"
    for query in block.text.splitlines()
    if query.strip()
]


@pytest.mark.parametrize("query", QUERIES)
def test_every_query_example_parses(query: str) -> None:
    parse_query(query)


def test_equivalent_queries_in_one_block_compile_to_one_tree() -> None:
    for block in BLOCKS:
        # A NEAR written the other way round keeps its terms in that order: another
        # tree that matches the same stories, which the stories below it check.
        if block.lang == "query" and "NEAR" not in block.text:
            trees = {parse_query(q) for q in block.text.splitlines() if q.strip()}
            assert len(trees) == 1, f"rules.md:{block.line}: {trees}"


# --- the stories -----------------------------------------------------------------


@dataclass(frozen=True)
class StoryLine:
    rules: tuple[str, ...]  # YAML texts of the rules the line runs against
    expect: bool
    fields: tuple[tuple[str, str], ...]
    line: int


def story_lines() -> list[StoryLine]:
    found: list[StoryLine] = []
    rules: tuple[str, ...] = ()
    for block in BLOCKS:
        if block.lang == "yaml" and not is_dictionary_block(block):
            rules = () if "invalid" in block.flags else (block.text,)
        elif block.lang == "query":
            rules = tuple(query_rule_text(q) for q in block.text.splitlines() if q.strip())
        elif block.lang == "stories":
            assert rules, f"rules.md:{block.line}: stories need a yaml or query block above"
            for offset, raw in enumerate(block.text.splitlines(), start=1):
                text = raw.strip()
                if not text or text.startswith("#"):
                    continue
                assert text[:2] in ("+ ", "- "), (
                    f"rules.md:{block.line + offset}: start with + or -"
                )
                found.append(
                    StoryLine(rules, text[0] == "+", split_fields(text[2:]), block.line + offset)
                )
    return found


def split_fields(text: str) -> tuple[tuple[str, str], ...]:
    """``[title] A [body] B`` -> (("title", "A"), ("body", "B")); plain text is the body."""
    if not text.startswith("["):
        return (("body", text),)
    parts = _FIELD.split(text)
    assert parts[0] == "", f"text before the first [field]: {text!r}"
    pairs = zip(parts[1::2], parts[2::2], strict=True)
    return tuple((name, value.strip()) for name, value in pairs)


def make_story(fields: tuple[tuple[str, str], ...]) -> Story:
    values: dict[str, Any] = {"title": "", "summary": "", "body": ""}
    values.update(fields)
    return Story(source="docs", url="", guid="docs", published_at=WHEN, fetched_at=WHEN, **values)


def story_id(story: StoryLine) -> str:
    shown = " ".join(value for _, value in story.fields)
    return f"rules.md:{story.line}:{'+' if story.expect else '-'}{shown[:40]}"


STORIES = story_lines()


@pytest.mark.parametrize("story", STORIES, ids=story_id)
def test_every_story_matches_as_the_page_says(story: StoryLine) -> None:
    doc = prepare(make_story(story.fields))
    for text in story.rules:
        rule, problems = parse(text)
        assert rule is not None, [str(p) for p in problems]
        matched = match_rule(rule, doc) is not None
        assert matched is story.expect, f"{rule.title!r} on {story.fields}"


# --- what the page quotes from elsewhere -------------------------------------------


def test_the_dictionary_excerpt_is_the_example_dictionary() -> None:
    loaded = load_rule_set(ROOT / "rules").entities
    for key, entity in docs_dictionary().items():
        assert loaded.get(key) == entity, f"rules/entities.yaml defines {key!r} differently"


def test_the_example_rules_folder_loads_cleanly_and_its_examples_pass() -> None:
    rule_set = load_rule_set(ROOT / "rules")
    assert [str(w) for w in rule_set.warnings] == []
    assert run_examples(rule_set.rules) == []


def test_the_fuzzy_threshold_table_is_what_the_bench_measures() -> None:
    bench = runpy.run_path(str(ROOT / "bench" / "fuzzy_threshold.py"))
    page = DOCS.read_text(encoding="utf-8")
    start = page.index("<!-- fuzzy-table")
    table = page[page.index("\n", start) + 1 : page.index("<!-- end fuzzy-table -->")]
    assert table.strip() == bench["table"]().strip(), "rerun bench/fuzzy_threshold.py"


def test_query_golden_cases_equal_their_tree_twins() -> None:
    """The page says a query is the short form of a tree; tests/cases pairs prove it."""
    cases = ROOT / "tests" / "cases"
    pairs = sorted(cases.glob("*_tree_query.yaml"))
    assert pairs
    for query_file in pairs:
        tree_file = query_file.with_name(
            query_file.name.replace("_tree_query.yaml", "_tree_match.yaml")
        )
        query_case = yaml.safe_load(query_file.read_text(encoding="utf-8"))
        tree_case = yaml.safe_load(tree_file.read_text(encoding="utf-8"))
        assert query_case["stories"] == tree_case["stories"], f"{query_file.name}: keep in step"
        query_rule, _ = parse_rule(yaml.safe_dump(query_case["rule"]), "q.yaml", "q")
        tree_rule, _ = parse_rule(yaml.safe_dump(tree_case["rule"]), "t.yaml", "t")
        assert query_rule is not None and tree_rule is not None
        assert query_rule.match == tree_rule.match
