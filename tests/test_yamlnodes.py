"""libyaml reads rule files exactly as the pure-Python parser does, or hands them over.

``load_located(text, libyaml=False)`` is the reference: what every rule error's
``path:line:col`` was measured against. The fast path must give the same values,
positions and duplicate keys, and for a file it cannot read, the same error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules.yamlnodes import _LIBYAML_DISAGREES, load_located

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.skipif(
    not yaml.__with_libyaml__, reason="PyYAML was built without libyaml"
)


def paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*path, index))
    return found


def reading(text: str, libyaml: bool) -> tuple[Any, ...]:
    """Everything the rule checker can see of a parse: values, positions, or the error."""
    try:
        doc = load_located(text, libyaml=libyaml)
    except yaml.YAMLError as error:
        marks = [getattr(error, name, None) for name in ("problem_mark", "context_mark")]
        where = [(mark.line, mark.column) if mark else None for mark in marks]
        return ("error", type(error).__name__, str(error), where)
    located = [(p, doc.position(p), doc.position(p, key=True)) for p in paths(doc.value)]
    return ("ok", repr(doc.value), located, doc.duplicates, [doc.line(n) for n in range(9)])


def parser_of(text: str) -> str:
    return load_located(text).parser


# (text, the parser that reads it). "pure" where libyaml would read the text
# otherwise than the pure parser, "rejected" where the pure parser fails on it
# (then the error must be its own, even where libyaml would have read the text).
CASES = [
    pytest.param("title: t\nphrases: [a, b]\n", "libyaml", id="flow-list"),
    pytest.param(
        "title: t\nmatch:\n  all:\n    - any:\n        - phrase: x\n"
        "        - near: {terms: [a, b], within: 3}\n    - not: {regex: 'a+'}\n",
        "libyaml",
        id="nested-keys",
    ),
    pytest.param(
        "# comment\n\ntitle: t  # trailing\n# between\nphrases:\n  - x # after\n",
        "libyaml",
        id="comments",
    ),
    pytest.param(
        "title: a plain\n  title on\n\n  three lines\ndescription: |\n  kept\n   as is\n"
        "owner: >-\n  folded\n  text\nphrases: ['it''s', \"\\u00e9\\t\\x41\", \"two\n  lines\"]\n",
        "libyaml",
        id="multi-line-strings",
    ),
    pytest.param(
        "title: Łódź Erdoğan 😀\nphrases: [żółć, 😀 x, Straße]\nenabled: nope\n",
        "libyaml",
        id="non-ascii-columns",
    ),
    pytest.param("\ufefftitle: t\nphrases: [x]\n", "libyaml", id="leading-bom"),
    pytest.param(
        "a: yes\nb: no\nc: on\nd: off\ne: 2024-01-01\nf: 0x1f\ng: 1_000\nh: ~\ni: .inf\nj: 012\n",
        "libyaml",
        id="implicit-types",
    ),
    pytest.param("a: &x [1, 2]\nb: *x\nc: *x\n", "libyaml", id="anchors-and-aliases"),
    pytest.param("a: 1\nb: 2\na: 3\n{x: 1}: 4\n[y]: 5\n", "libyaml", id="duplicate-and-odd-keys"),
    pytest.param("- a\n- b: c\n  d: e\n", "libyaml", id="top-level-list"),
    pytest.param("", "libyaml", id="empty"),
    pytest.param("# only a comment\n", "libyaml", id="only-a-comment"),
    pytest.param("title: t\nphrases: [x\n", "rejected", id="error-unclosed-list"),
    pytest.param("title: t\n  phrases: x\n", "rejected", id="error-indentation"),
    pytest.param("title: t\n---\ntitle: u\n", "rejected", id="error-two-documents"),
    pytest.param("a: *nothing\n", "rejected", id="error-undefined-alias"),
    pytest.param("a: &x 1\nb: &x 2\n", "rejected", id="error-duplicate-anchor"),
    pytest.param("a: !!python/name:os.system x\n", "rejected", id="error-unsafe-tag"),
    pytest.param("a: b\x07\n", "rejected", id="error-control-character"),
    pytest.param("a: b\ud800\n", "rejected", id="error-lone-surrogate"),
    pytest.param("a: '" + "x" * 2000 + "\n", "rejected", id="error-long-open-quote"),
    pytest.param("a:\tb\n", "rejected", id="tab-between-tokens"),
    pytest.param("a: [x,\t1]\n", "rejected", id="tab-in-flow"),
    pytest.param("a: 'x\ty'\n", "pure", id="tab-in-quotes"),
    pytest.param("a:\n\t- x\n", "rejected", id="tab-indent"),
    pytest.param("\na\ufeffb: c\n", "pure", id="inner-bom"),
    pytest.param("a: [Who?]\n", "rejected", id="question-in-flow-list"),
    pytest.param("a: {b?: c}\n", "rejected", id="question-in-flow-key"),
    pytest.param("a: [x, !!str, y]\n", "rejected", id="tag-before-comma"),
    pytest.param("a: !!str 1\n", "pure", id="tag"),
    pytest.param("a: |# note\n  x\n", "rejected", id="comment-after-block-indicator"),
    pytest.param("%YAML 1.1#\n---\na: b\n", "rejected", id="directive-then-comment"),
    pytest.param("%YAML 1.1\n---\na: b\n", "pure", id="directive"),
    pytest.param("a: {terms: , min: 2}\n", "pure", id="empty-value-in-flow"),
    pytest.param("a: [b: ]\n", "pure", id="empty-value-in-flow-pair"),
    pytest.param("a: 1\n?", "pure", id="empty-key-at-end"),
    pytest.param("title: t\nphrases:", "pure", id="empty-value-at-end"),
    pytest.param("a: " + "[" * 150 + "]" * 150 + "\n", "pure", id="deep-nesting"),
    pytest.param("a: " + "[" * 600 + "]" * 600 + "\n", "rejected", id="deeper-than-pure-can"),
    pytest.param("a: " + "[" * 1200 + "]" * 1200 + "\n", "rejected", id="deeper-than-libyaml-can"),
    pytest.param("a: Who?\nb: x ? y\nc: '[Who?]'\n", "libyaml", id="question-outside-flow"),
    pytest.param("a: Hi!\nb: x!y\n", "libyaml", id="exclamation-inside-text"),
    pytest.param("a: 2024-13-45\nb: 2024-11-26\nc: 2024-02-30 1:2:3\n", "libyaml", id="dates"),
    pytest.param("a: !!int x\n", "rejected", id="error-tag-rules-the-value-out"),
    pytest.param("a: !!bool maybe\n", "rejected", id="error-tag-bool"),
    pytest.param("a: [x, !x y]\n", "rejected", id="error-unknown-tag"),
    pytest.param("a: 0b_\n", "rejected", id="error-plain-value-reads-as-a-broken-int"),
    pytest.param("a: " + "9" * 5000 + "\n", "rejected", id="error-int-too-long"),
    pytest.param("a: &x [1, *x]\n", "rejected", id="error-alias-inside-its-anchor"),
    pytest.param("? &x [*x]\n: 1\n", "rejected", id="error-alias-inside-its-anchor-key"),
    pytest.param(
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"b{n}: &b{n} [{', '.join([f'*b{n - 1}' if n else '*a'] * 10)}]\n" for n in range(7)
        ),
        "rejected",
        id="error-billion-laughs",
    ),
]


@pytest.mark.parametrize(("text", "parser"), CASES)
def test_libyaml_reads_exactly_as_the_pure_parser(text: str, parser: str) -> None:
    fast, pure = reading(text, libyaml=True), reading(text, libyaml=False)
    assert fast == pure
    if parser == "rejected":
        assert pure[0] == "error"
    else:
        assert parser_of(text) == parser


def test_columns_count_characters_not_bytes() -> None:
    doc = load_located("title: Łódź 😀\nphrases: [żółć, 😀 x, y]\n")
    assert doc.parser == "libyaml"
    assert doc.position(("phrases", 1)) == (2, 17)
    assert doc.position(("phrases", 2)) == (2, 22)


def corpus() -> list[Any]:
    """Every YAML example of the docs and every golden case: rules as people write them."""
    texts = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        blocks = re.findall(r"^```yaml[^\n]*\n(.*?)^```", page.read_text("utf-8"), re.M | re.S)
        texts += [pytest.param(text, id=f"{page.name}-{n}") for n, text in enumerate(blocks)]
    for case in sorted((ROOT / "tests" / "cases").glob("*.yaml")):
        texts.append(pytest.param(case.read_text("utf-8"), id=case.name))
    return texts


@pytest.mark.parametrize("text", corpus())
def test_real_rules_read_the_same(text: str) -> None:
    assert reading(text, libyaml=True) == reading(text, libyaml=False)


def test_real_rules_take_the_fast_path() -> None:
    # All of them today; the margin leaves room for a page that shows a tab or a tag.
    texts = [param.values[0] for param in corpus()]
    readable = [text for text in texts if reading(text, libyaml=False)[0] == "ok"]
    fast = [text for text in readable if parser_of(text) == "libyaml"]
    assert len(readable) > 40
    assert len(fast) >= 0.9 * len(readable)


def test_without_libyaml_the_pure_parser_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    monkeypatch.delattr(yaml, "CSafeLoader")
    doc = load_located("title: t\nphrases: [Who]\n")
    assert (doc.parser, doc.position(("phrases", 0))) == ("pure", (2, 11))


# Pieces that matter to a YAML scanner, for the property test below.
PIECES = [
    *"[]{},:?-#&*!|>'\"%@`\\ \n\t",
    *["- ", ": ", " #", "\n  ", "\n- ", "---", "...", "? ", "&a ", "*a", "!!str ", "!x "],
    *["%YAML 1.1", "%TAG ! tag:x,2000:", "\n---\n"],
    *["<<: ", "|-\n  x\n", ">\n a\n\n b\n", "\ufeff", "\u2028", "\x85", "\r\n", "\u00a0"],
    *["a", "title", "x y", "1", "yes", "no", "~", "2024-01-01", "ł", "😀", "'q'", '"\\u00e9"'],
]
SEEDS = [
    "title: t\nentities:\n  - name: A B\n    aliases: [A, B]\nphrases: [x y]\n",
    "title: t\nkeywords: {terms: [a, b], threshold: 85, min: 1}\nexclude: [c]\n",
    "title: t\nmatch:\n  all:\n    - near: {terms: [a, b], within: 3}\n    - not: {phrase: c}\n",
]


@st.composite
def yamlish(draw: st.DrawFn) -> str:
    """Scanner-significant pieces strung together, or inserted into a real rule."""
    pieces = draw(st.lists(st.sampled_from(PIECES), max_size=20))
    if draw(st.booleans()):
        return "".join(pieces)
    text = draw(st.sampled_from(SEEDS))
    for piece in pieces[:4]:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + piece + text[at:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish())
def test_any_text_reads_the_same_through_both(text: str) -> None:
    assert reading(text, libyaml=True) == reading(text, libyaml=False)


#: ``_LIBYAML_DISAGREES`` as it was first written, one branch after another; the
#: pattern now starts each branch with its character (15 times faster) and must
#: find the same texts.
_DISAGREES_AS_WRITTEN = re.compile(
    r"\t|(?<!\A)\ufeff|(?:^|[\s,\[{])!|[|>][-+\d]{0,2}#|^%", re.MULTILINE
)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from("\t\ufeff!#%|>-+1 ,[{}\n\r\u2028\x85ax:"), max_size=12))
def test_the_fast_pattern_finds_what_the_written_one_does(text: str) -> None:
    assert bool(_LIBYAML_DISAGREES.search(text)) == bool(_DISAGREES_AS_WRITTEN.search(text))
