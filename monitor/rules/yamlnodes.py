"""YAML with positions: plain Python values plus the line and column of each one.

PyYAML's ``safe_load`` forgets where values came from, and analysts need
``path:line:col`` in every error, so rule files are composed into nodes and
converted here, keeping a map from each value's path to its position.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]
Position = tuple[int, int]


class Located:
    """A YAML document as plain values, with ``position(path)`` for error messages."""

    def __init__(
        self,
        value: Any,
        positions: dict[Path, Position],
        key_positions: dict[Path, Position],
        duplicates: tuple[tuple[Path, Position], ...] = (),
        text: str = "",
    ):
        self.value = value
        self._lines = text.splitlines()
        self._positions = positions
        self._key_positions = key_positions
        #: Keys written twice in one mapping, with the position of the repeat.
        #: PyYAML keeps the last value silently; a rule author would lose the first.
        self.duplicates = duplicates

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


def load_located(text: str) -> Located:
    """Parse one YAML document. Raises ``yaml.YAMLError`` (which carries a mark)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    positions: dict[Path, Position] = {}
    key_positions: dict[Path, Position] = {}
    duplicates: list[tuple[Path, Position]] = []
    if node is None:
        return Located(None, {(): (1, 1)}, {}, text=text)
    constructor = yaml.SafeLoader("")

    def convert(current: yaml.Node, path: Path) -> Any:
        positions[path] = (current.start_mark.line + 1, current.start_mark.column + 1)
        if isinstance(current, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in current.value:
                key = constructor.construct_object(key_node, deep=True)
                key = key if isinstance(key, str | int) else str(key)
                position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in result:
                    duplicates.append(((*path, key), position))
                key_positions[(*path, key)] = position
                result[key] = convert(value_node, (*path, key))
            return result
        if isinstance(current, yaml.SequenceNode):
            return [convert(item, (*path, index)) for index, item in enumerate(current.value)]
        return constructor.construct_object(current, deep=True)

    return Located(convert(node, ()), positions, key_positions, tuple(duplicates), text)
