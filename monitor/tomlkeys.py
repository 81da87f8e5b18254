"""Where each key and value of a TOML document is written, for ``path:line:col`` errors.

tomllib turns a document into plain values and forgets where they came from.
This scanner reads the text of a document tomllib has already accepted and
records, for each key path (``("sources", 2, "interval")``), the line and
column of the key and of its value. It follows what a config can hold:
``[tables]`` and ``[[arrays of tables]]`` (the Nth header of an array is its
index N), dotted and quoted keys, inline tables, arrays (each element gets its
index), the four kinds of strings, and comments.

It never raises: on anything it does not follow it stops, keeps what it found,
and ``position`` falls back to the nearest enclosing key that was found, then
to 1:1.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from bisect import bisect_right
from dataclasses import dataclass, field

Path = tuple[str | int, ...]
Position = tuple[int, int]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: A scalar runs to the next delimiter; a date and time may hold one space.
_SCALAR = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}[^\s,\]}#]*|[^\s,\]}#]+")


@dataclass(frozen=True)
class Located:
    """The positions found in one document (1-based lines and columns, in characters)."""

    keys: dict[Path, Position] = field(default_factory=dict)
    values: dict[Path, Position] = field(default_factory=dict)

    def position(self, path: Path, key: bool = False) -> Position:
        """Where ``path``'s value (or with ``key``, its key) is written.

        A path that is not in the document (a missing key, or one the scanner
        could not reach) falls back to the nearest enclosing table or element:
        its header, or where its inline value starts; else the first line.
        """
        first, second = (self.keys, self.values) if key else (self.values, self.keys)
        for end in range(len(path), 0, -1):
            prefix = path[:end]
            if prefix in first:
                return first[prefix]
            if prefix in second:
                return second[prefix]
        return (1, 1)


class _Stop(Exception):
    """Something the scanner does not follow: keep what was found so far."""


def locate(text: str) -> Located:
    """The positions of the keys and values of ``text``, a valid TOML document."""
    scanner = _Scanner(text)
    with contextlib.suppress(_Stop, IndexError, tomllib.TOMLDecodeError):
        scanner.document()
    return Located(scanner.keys, scanner.values)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.keys: dict[Path, Position] = {}
        self.values: dict[Path, Position] = {}
        #: Each array of tables seen so far and how many ``[[headers]]`` it has had.
        self.arrays: dict[Path, int] = {}

    def position(self, index: int) -> Position:
        line = bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def note(self, found: dict[Path, Position], path: Path, index: int) -> None:
        # The first mention wins: a table named by several headers or dotted keys
        # is reported where it first appears.
        found.setdefault(path, self.position(index))

    # --- structure ------------------------------------------------------------------

    def document(self) -> None:
        table: Path = ()
        while True:
            self.skip_blank()
            if self.at >= len(self.text):
                return
            if self.text.startswith("[", self.at):
                table = self.header()
            else:
                self.key_value(table)

    def header(self) -> Path:
        start = self.at
        array = self.text.startswith("[[", start)
        self.at += 2 if array else 1
        parts = self.key()
        self.expect("]]" if array else "]")
        path: Path = ()
        for name, index in parts[:-1]:
            path = (*path, name)
            self.note(self.keys, path, index)
            if path in self.arrays:  # [[a]] then [a.b]: b belongs to a's last element
                path = (*path, self.arrays[path] - 1)
        name, index = parts[-1]
        path = (*path, name)
        if array:
            self.note(self.keys, path, start)
            count = self.arrays.get(path, 0)
            self.arrays[path] = count + 1
            path = (*path, count)
        self.note(self.keys, path, start)
        self.note(self.values, path, start)
        return path

    def key_value(self, table: Path) -> None:
        path = table
        for name, index in self.key():
            path = (*path, name)
            self.note(self.keys, path, index)
        self.expect("=")
        self.value(path)

    def key(self) -> list[tuple[str, int]]:
        """A dotted key: each part with where it starts."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_spaces()
            start = self.at
            char = self.text[start]
            if char in "\"'":
                end = self.string_end(start)
                raw = self.text[start:end]
                name = tomllib.loads(f"k = {raw}")["k"] if char == '"' else raw[1:-1]
                self.at = end
            else:
                found = _BARE_KEY.match(self.text, start)
                if not found:
                    raise _Stop
                name, self.at = found.group(), found.end()
            parts.append((name, start))
            self.skip_spaces()
            if not self.text.startswith(".", self.at):
                return parts
            self.at += 1

    def value(self, path: Path) -> None:
        self.skip_spaces()
        start = self.at
        self.note(self.values, path, start)
        char = self.text[start]
        if char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        elif char in "\"'":
            self.at = self.string_end(start)
        else:
            found = _SCALAR.match(self.text, start)
            if not found:
                raise _Stop
            self.at = found.end()

    def array(self, path: Path) -> None:
        self.at += 1
        index = 0
        while True:
            self.skip_blank()
            if self.text.startswith("]", self.at):
                self.at += 1
                return
            self.value((*path, index))
            index += 1
            self.skip_blank()
            if self.text.startswith(",", self.at):
                self.at += 1

    def inline_table(self, path: Path) -> None:
        self.at += 1
        while True:
            self.skip_blank()
            if self.text.startswith("}", self.at):
                self.at += 1
                return
            self.key_value(path)
            self.skip_blank()
            if self.text.startswith(",", self.at):
                self.at += 1

    # --- tokens ---------------------------------------------------------------------

    def string_end(self, start: int) -> int:
        """Where the string starting at ``start`` ends (just past its closing quote)."""
        text = self.text
        quote = text[start]
        if text.startswith(quote * 3, start):
            at = start + 3
            while not text.startswith(quote * 3, at):
                at += 2 if quote == '"' and text[at] == "\\" else 1
                if at >= len(text):
                    raise _Stop
            # Up to two quotes may end the content just before the closing three.
            end = at + 3
            while end < len(text) and end < at + 5 and text[end] == quote:
                end += 1
            return end
        at = start + 1
        while text[at] != quote:
            if text[at] == "\n":
                raise _Stop
            at += 2 if quote == '"' and text[at] == "\\" else 1
        return at + 1

    def expect(self, token: str) -> None:
        self.skip_spaces()
        if not self.text.startswith(token, self.at):
            raise _Stop
        self.at += len(token)

    def skip_spaces(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in " \t":
            self.at += 1

    def skip_blank(self) -> None:
        """Spaces, line breaks and comments."""
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char in " \t\r\n":
                self.at += 1
            elif char == "#":
                end = text.find("\n", self.at)
                self.at = len(text) if end == -1 else end
            else:
                return
