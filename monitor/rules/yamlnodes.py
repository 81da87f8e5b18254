"""YAML with positions: plain Python values plus the line and column of each one.

PyYAML's ``safe_load`` forgets where values came from, and analysts need
``path:line:col`` in every error, so rule files are composed into nodes and
converted here, keeping a map from each value's path to its position.

Composing in pure Python was most of the time a large rule folder took to load,
so it runs on libyaml (PyYAML's C parser) when PyYAML was built with it: a rule
file parses about eight times faster. The pure-Python parser stays the
reference. libyaml accepts a few things that it rejects or reads differently;
a document that has any of them, or that libyaml rejects, is parsed again by
the pure parser, so every value, position and error message is what it was.

Nothing in a rule is a date, so a plain ``2024-11-26`` stays the text it looks
like rather than becoming a ``datetime.date``. A value that cannot be what its
tag says (``!!int x``, ``!!bool maybe``), an unknown tag, an alias inside its
own anchor or nesting too deep to compose is a ``yaml.YAMLError`` with a mark,
like any other YAML mistake, never a ValueError or RecursionError.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TypeVar

import yaml

Path = tuple[str | int, ...]
Position = tuple[int, int]

#: Text that libyaml reads without an error but the pure parser rejects or reads
#: otherwise: a tab (libyaml takes it for a space between tokens), a byte order
#: mark after the first character (the pure reader does not count its column),
#: a ``!`` that may start a tag (the pure parser lets a tag run on into ``,``,
#: ``[`` and ``]``), a comment right after a block scalar's ``|`` or ``>``, and
#: a ``%`` directive (``%YAML 1.1#`` passes libyaml). Such files are rare; they
#: are parsed by the pure parser. Every branch starts with its one character and
#: looks behind from there, so ``re`` skips to those characters instead of
#: trying each branch at every position (15 times faster on a rule file).
_LIBYAML_DISAGREES = re.compile(
    r"\t|\ufeff(?<=[\s\S]\ufeff)|!(?<=^!)|!(?<=[\s,\[{]!)"
    r"|\|[-+\d]{0,2}#|>[-+\d]{0,2}#|%(?<=^%)",
    re.MULTILINE,
)

#: Deeper documents are composed by the pure parser, which raises RecursionError
#: somewhere past 300 levels where libyaml goes on to 1,000; rules nest a handful.
_FAST_DEPTH = 100

_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
#: The tags a list or mapping has when none is written (``!!seq``/``!!map`` say the same).
_PLAIN_COLLECTIONS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
#: Alias expansions allowed in one document: a few anchors in a rule expand to
#: dozens of values, a "billion laughs" file (anchors of anchors) to billions.
_MAX_REPEATS = 100_000
#: What each standard tag asks a value to be, for the messages below.
_KINDS = {
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "base64 data",
}
_STANDARD = "tag:yaml.org,2002:"
_SELF_ALIAS = (
    "this anchor is used inside its own value, which would repeat forever; "
    "copy the values out instead of using the alias"
)


class _Problem(yaml.constructor.ConstructorError):
    """A value the constructor cannot make, at the value's own mark."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(None, None, problem, mark)


# Strings: CSafeLoader is missing from a PyYAML built without libyaml.
_Loader = TypeVar("_Loader", "yaml.SafeLoader", "yaml.CSafeLoader")


#: YAML 1.1 reads ``18:30`` as the base-60 number 1110 (and ``1:30.5`` as 90.5); in a
#: rule it is a time of day (``digest: 18:30``), so such a plain value stays text.
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


@cache
def _loader(base: type[_Loader]) -> type[_Loader]:
    """``base`` without the implicit timestamp (no rule key takes a date), and with
    base-60 numbers read as text (``_SEXAGESIMAL``)."""
    resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {
        first: [(tag, regexp) for tag, regexp in pairs if tag != _TIMESTAMP]
        for first, pairs in base.yaml_implicit_resolvers.items()
    }
    for start in "-+0123456789":
        _text_first(resolvers, start)
    return type(f"Rule{base.__name__}", (base,), {"yaml_implicit_resolvers": resolvers})


def _text_first(resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]], start: str) -> None:
    """Read plain values starting with ``start`` that look base-60 as text."""
    resolvers[start] = [(_STR, _SEXAGESIMAL), *resolvers.get(start, [])]


class Located:
    """A YAML document as plain values, with ``position(path)`` for error messages."""

    def __init__(
        self,
        value: Any,
        positions: dict[Path, Position],
        key_positions: dict[Path, Position],
        duplicates: tuple[tuple[Path, Position], ...] = (),
        text: str = "",
        parser: str = "pure",
    ):
        self.value = value
        self._lines = text.splitlines()
        self._positions = positions
        self._key_positions = key_positions
        #: Keys written twice in one mapping, with the position of the repeat.
        #: PyYAML keeps the last value silently; a rule author would lose the first.
        self.duplicates = duplicates
        #: "libyaml" or "pure": which parser composed the document.
        self.parser = parser

    def line(self, number: int) -> str:
        """The source text of 1-based line ``number`` ("" when out of range)."""
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""

    def position(self, path: Path, key: bool = False) -> Position:
        """1-based (line, col) of the value at ``path`` (or of its key), else its parent's."""
        table = self._key_positions if key else self._positions
        while path:
            if path in table:
                return table[path]
            if key and path in self._positions:
                return self._positions[path]
            path = path[:-1]
        return self._positions.get((), (1, 1))


def load_located(text: str, libyaml: bool | None = None) -> Located:
    """Parse one YAML document. Raises ``yaml.YAMLError`` (which carries a mark).

    libyaml is used when PyYAML was built with it, unless ``libyaml=False``:
    then only the pure-Python parser runs, the reference the tests compare with.
    """
    if libyaml is None:
        libyaml = bool(getattr(yaml, "__with_libyaml__", False))
    if libyaml and not _LIBYAML_DISAGREES.search(text):
        try:
            node = yaml.compose(text, Loader=_loader(yaml.CSafeLoader))
            if node is None or _pure_reads_alike(node, text):
                return _convert(node, text, "libyaml")
        # UnicodeEncodeError: libyaml reads UTF-8, which a lone surrogate cannot be.
        except (yaml.YAMLError, UnicodeEncodeError):
            pass  # the pure parser below reports it exactly as it always has
    try:
        return _convert(yaml.compose(text, Loader=_loader(yaml.SafeLoader)), text, "pure")
    except RecursionError:
        raise _too_deep(text) from None


def _too_deep(text: str) -> yaml.YAMLError:
    """The error for a document nested past what the recursive composer can take.

    Where Python's stack runs out depends on the caller's depth, so the error
    points at the deepest list or mapping instead, found by the parser (which
    keeps its own stack and never recurses).
    """
    depth, deepest = 0, 0
    mark: Any = None  # a pure or a libyaml Mark, both with a line and a column
    try:
        for found in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(found, yaml.CollectionStartEvent):
                depth += 1
                if depth > deepest:
                    deepest, mark = depth, found.start_mark
            elif isinstance(found, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass  # the nesting so far is what the composer choked on
    return yaml.composer.ComposerError(
        None,
        None,
        f"lists or mappings nested {deepest} deep are more than a rule file can hold; "
        "a rule needs a few levels, so remove the extra brackets or indentation",
        mark,
    )


def _pure_reads_alike(node: yaml.Node, text: str) -> bool:
    """Whether the pure parser would compose the same nodes that libyaml did.

    It would not for a plain scalar with a ``?`` inside a flow collection
    (``[Who?]``: libyaml keeps the ``?``, the pure parser stops there and fails)
    nor for a document nested deeper than ``_FAST_DEPTH`` (which also ends the
    walk of an anchor that contains itself). An empty value (``key:`` with
    nothing after it) may be placed a column or a line apart. Aliases that
    expand past any honest document (each node takes a character of text) are
    left to the pure parser too, which says so without walking them all.
    """
    budget = [len(text) + _MAX_REPEATS] if "&" in text else None
    return _reads_alike(node, 0, False, budget)


def _reads_alike(node: yaml.Node, depth: int, in_flow: bool, budget: list[int] | None) -> bool:
    if depth > _FAST_DEPTH:
        return False
    if isinstance(node, yaml.ScalarNode):
        plain = not node.style  # None from the pure parser, "" from libyaml
        return not plain or not (node.value == "" or (in_flow and "?" in node.value))
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    else:
        return False
    if budget is not None:
        budget[0] -= len(children)
        if budget[0] < 0:
            return False
    in_flow = in_flow or bool(node.flow_style)
    return all(_reads_alike(child, depth + 1, in_flow, budget) for child in children)


def _convert(node: yaml.Node | None, text: str, parser: str) -> Located:
    if node is None:
        return Located(None, {(): (1, 1)}, {}, text=text, parser=parser)
    converter = _Converter(text)
    try:
        value = converter.convert(node, ())
    finally:
        converter.constructor.dispose()  # its parser state is a cycle the collector would chase
    return Located(
        value,
        converter.positions,
        converter.key_positions,
        tuple(converter.duplicates),
        text,
        parser,
    )


class _Converter:
    """Nodes -> plain values, noting where each came from.

    A class rather than nested functions: closures that call each other form a
    reference cycle, garbage that only the cycle collector frees, one per file.
    """

    def __init__(self, text: str) -> None:
        self.positions: dict[Path, Position] = {}
        self.key_positions: dict[Path, Position] = {}
        self.duplicates: list[tuple[Path, Position]] = []
        # The pure constructor for both parsers: CSafeLoader constructs with the same class.
        self.constructor = yaml.SafeLoader("")
        self.text = text
        # Only a document with an anchor can repeat a node; the rest skip the bookkeeping.
        self.anchored = "&" in text
        self.inside: set[int] = set()  # collections being converted: an alias to itself
        self.seen: set[int] = set()
        self.repeats = 0

    def convert(self, current: yaml.Node, path: Path) -> Any:
        self.positions[path] = (current.start_mark.line + 1, current.start_mark.column + 1)
        if isinstance(current, yaml.ScalarNode):
            return self.construct(current)
        if self.anchored:
            return self.convert_anchored(current, path)
        return self.convert_collection(current, path)

    def convert_anchored(self, current: yaml.Node, path: Path) -> Any:
        if id(current) in self.inside:
            raise _Problem(_SELF_ALIAS, current.start_mark)
        if id(current) in self.seen:
            self.repeats += len(current.value)
            if self.repeats > _MAX_REPEATS:
                raise _Problem(
                    f"aliases here expand to more than {_MAX_REPEATS:,} values; "
                    "write the values out instead of nesting aliases",
                    current.start_mark,
                )
        self.seen.add(id(current))
        self.inside.add(id(current))
        try:
            return self.convert_collection(current, path)
        finally:
            self.inside.discard(id(current))

    def convert_collection(self, current: yaml.Node, path: Path) -> Any:
        if isinstance(current, yaml.CollectionNode) and current.tag not in _PLAIN_COLLECTIONS:
            # PyYAML would make a set (!!set), pairs (!!omap) or drop an unknown tag.
            raise _Problem(_tagged_collection(current.tag), current.start_mark)
        if isinstance(current, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in current.value:
                key = self.construct(key_node)
                key = key if isinstance(key, str | int) else str(key)
                position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in result:
                    self.duplicates.append(((*path, key), position))
                self.key_positions[(*path, key)] = position
                result[key] = self.convert(value_node, (*path, key))
            return result
        if isinstance(current, yaml.SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(current.value)]
        return self.construct(current)

    def construct(self, scalar: yaml.Node) -> Any:
        # What SafeConstructor makes of a string, without its bookkeeping: most
        # scalars in a rule are strings, and this is a third of the conversion.
        if scalar.tag == _STR and isinstance(scalar, yaml.ScalarNode):
            return scalar.value
        try:
            return self.constructor.construct_object(scalar, deep=True)
        except (yaml.constructor.ConstructorError, ArithmeticError, LookupError, ValueError) as exc:
            # int(), float(), a date, a dict look-up (!!bool) or an unknown tag:
            # PyYAML lets most of these escape as they are, without a mark.
            mark = scalar.start_mark
            lines = self.text.splitlines()
            line = lines[mark.line] if mark.line < len(lines) else ""
            raise _Problem(_unmakeable(scalar, line[mark.column :], exc), mark) from None


def _shown(tag: str) -> str:
    """A tag as it is written in YAML: ``!!int`` for the standard ``tag:yaml.org,2002:int``."""
    return "!!" + tag.removeprefix(_STANDARD) if tag.startswith(_STANDARD) else tag


def _tagged_collection(tag: str) -> str:
    """Why a list or mapping with a tag of its own (``!foo [a]``, ``!!set``) is refused."""
    shown = _shown(tag)
    return f"unknown tag {shown} on a list or mapping; rule values take no tags, so remove it"


def _unmakeable(scalar: yaml.Node, written: str, exc: Exception) -> str:
    """Why ``scalar`` (or a list or mapping used as a key) cannot be read, and what to write."""
    if not isinstance(scalar, yaml.ScalarNode):
        if "recursive" in str(exc):
            return _SELF_ALIAS
        return "this key cannot be read; a key is a plain name such as title or phrases"
    value = scalar.value if len(scalar.value) <= 40 else scalar.value[:37] + "..."
    if scalar.tag == _MERGE:
        return "merge keys (<<) are not supported in rule files; write the keys out"
    tag = _shown(scalar.tag)
    kind = _KINDS.get(scalar.tag)
    if kind is None:
        return f"unknown tag {tag}; rule values take no tags, so remove it"
    if written.startswith("!"):
        return f"{value!r} is not {kind} as its tag {tag} says; fix the value or remove the tag"
    return f"{value!r} reads as {kind} but is not one; put it in quotes to keep it as text"
