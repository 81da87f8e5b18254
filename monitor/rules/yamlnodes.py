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
"""

from __future__ import annotations

import re
from typing import Any

import yaml

Path = tuple[str | int, ...]
Position = tuple[int, int]

#: Text that libyaml reads without an error but the pure parser rejects or reads
#: otherwise: a tab (libyaml takes it for a space between tokens), a byte order
#: mark after the first character (the pure reader does not count its column),
#: a ``!`` that may start a tag (the pure parser lets a tag run on into ``,``,
#: ``[`` and ``]``), a comment right after a block scalar's ``|`` or ``>``, and
#: a ``%`` directive (``%YAML 1.1#`` passes libyaml). Such files are rare; they
#: are parsed by the pure parser.
_LIBYAML_DISAGREES = re.compile(
    r"\t|(?<!\A)\ufeff|(?:^|[\s,\[{])!|[|>][-+\d]{0,2}#|^%", re.MULTILINE
)

#: Deeper documents are composed by the pure parser, which raises RecursionError
#: somewhere past 300 levels where libyaml goes on to 1,000; rules nest a handful.
_FAST_DEPTH = 100

_STR = "tag:yaml.org,2002:str"


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
            node = yaml.compose(text, Loader=yaml.CSafeLoader)
            if node is None or _pure_reads_alike(node):
                return _convert(node, text, "libyaml")
        # UnicodeEncodeError: libyaml reads UTF-8, which a lone surrogate cannot be.
        except (yaml.YAMLError, UnicodeEncodeError):
            pass  # the pure parser below reports it exactly as it always has
    return _convert(yaml.compose(text, Loader=yaml.SafeLoader), text, "pure")


def _pure_reads_alike(node: yaml.Node, depth: int = 0, in_flow: bool = False) -> bool:
    """Whether the pure parser would compose the same nodes that libyaml did.

    It would not for a plain scalar with a ``?`` inside a flow collection
    (``[Who?]``: libyaml keeps the ``?``, the pure parser stops there and fails)
    nor for a document nested deeper than ``_FAST_DEPTH`` (which also ends the
    walk of an anchor that contains itself). An empty value (``key:`` with
    nothing after it) may be placed a column or a line apart.
    """
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
    in_flow = in_flow or bool(node.flow_style)
    return all(_pure_reads_alike(child, depth + 1, in_flow) for child in children)


def _convert(node: yaml.Node | None, text: str, parser: str) -> Located:
    positions: dict[Path, Position] = {}
    key_positions: dict[Path, Position] = {}
    duplicates: list[tuple[Path, Position]] = []
    if node is None:
        return Located(None, {(): (1, 1)}, {}, text=text, parser=parser)
    # The pure constructor for both parsers: CSafeLoader constructs with the same class.
    constructor = yaml.SafeLoader("")

    def construct(scalar: yaml.Node) -> Any:
        # What SafeConstructor makes of a string, without its bookkeeping: most
        # scalars in a rule are strings, and this is a third of the conversion.
        if scalar.tag == _STR and isinstance(scalar, yaml.ScalarNode):
            return scalar.value
        return constructor.construct_object(scalar, deep=True)

    def convert(current: yaml.Node, path: Path) -> Any:
        positions[path] = (current.start_mark.line + 1, current.start_mark.column + 1)
        if isinstance(current, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in current.value:
                key = construct(key_node)
                key = key if isinstance(key, str | int) else str(key)
                position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in result:
                    duplicates.append(((*path, key), position))
                key_positions[(*path, key)] = position
                result[key] = convert(value_node, (*path, key))
            return result
        if isinstance(current, yaml.SequenceNode):
            return [convert(item, (*path, index)) for index, item in enumerate(current.value)]
        return construct(current)

    value = convert(node, ())
    return Located(value, positions, key_positions, tuple(duplicates), text, parser)
