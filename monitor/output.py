"""One output option for every listing command: table, json, ndjson or csv."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO, TypeVar

import click

FORMATS = ("table", "json", "ndjson", "csv")
F = TypeVar("F", bound=Callable[..., Any])
#: A table column is never cut narrower than this to fit the terminal.
MIN_COLUMN_WIDTH = 8


def output_option(default: str = "table", formats: Sequence[str] = FORMATS) -> Callable[[F], F]:
    """Add ``--format`` to a command (``formats`` narrows the choice for non-listings)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(formats)),
        default=default,
        show_default=True,
        help=_format_help(formats),
    )


def _format_help(formats: Sequence[str]) -> str:
    """The ``--format`` help, naming only the formats this command offers."""
    for_tools = "/".join(f for f in formats if f != "table")
    if "table" not in formats:
        return f"How to print the results: {for_tools}."
    if not for_tools:
        return "How to print the results: a table for people."
    return f"How to print the results: a table for people, {for_tools} for tools."


def _cell(value: Any) -> str:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def emit(
    rows: Iterable[dict[str, Any]],
    fmt: str,
    columns: Sequence[str],
    stream: TextIO | None = None,
    table_cells: Callable[[dict[str, Any]], dict[str, str]] | None = None,
    link: tuple[str, str] | None = None,
) -> None:
    """Print ``rows`` in ``fmt``; ``columns`` picks and orders what table and csv show.

    ``link=(column, key)`` makes that table column a clickable link to
    ``row[key]`` on terminals that support hyperlinks.
    """
    out = stream or sys.stdout
    if fmt == "json":
        json.dump(list(rows), out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif fmt == "ndjson":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
    else:
        rows = list(rows)
        cells = [
            table_cells(r) if table_cells else {c: _cell(r.get(c)) for c in columns} for r in rows
        ]
        links = None
        if link and supports_hyperlinks(out):
            column, key = link
            links = [{column: _cell(r.get(key))} for r in rows]
        table(cells, columns, out, links=links)


def supports_hyperlinks(stream: TextIO) -> bool:
    """Whether to print OSC 8 hyperlinks: on a terminal, unless FORCE_HYPERLINK says otherwise.

    Terminals without hyperlink support ignore the escape codes, so a TTY that
    is not ``TERM=dumb`` is a safe guess; ``FORCE_HYPERLINK=0``/``1`` overrides it.
    """
    forced = os.environ.get("FORCE_HYPERLINK")
    if forced is not None:
        return forced not in ("", "0")
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def hyperlink(text: str, url: str) -> str:
    """``text`` as an OSC 8 terminal hyperlink to ``url``."""
    return f"\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\" if url else text


def fit_widths(widths: Sequence[int], total: int, gap: int = 2) -> list[int]:
    """Cap the widest columns at one common width so the row fits in ``total``.

    Narrow columns (ids, dates) keep their width; the long ones (titles, terms)
    share what is left, never below ``MIN_COLUMN_WIDTH``.
    """
    room = total - gap * (len(widths) - 1)
    if sum(widths) <= room:
        return list(widths)
    cap = max(widths)
    while cap > MIN_COLUMN_WIDTH and sum(min(w, cap) for w in widths) > room:
        cap -= 1
    return [min(w, cap) for w in widths]


def table(
    rows: list[dict[str, str]],
    columns: Sequence[str],
    out: TextIO,
    width: int | None = None,
    links: list[dict[str, str]] | None = None,
) -> None:
    """A plain text table that fits the terminal: long cells are cut with "…"."""
    if not rows:
        out.write("(no results)\n")
        return
    width = width or shutil.get_terminal_size((120, 24)).columns
    natural = [max(len(c), *(len(r.get(c, "")) for r in rows)) for c in columns]
    widths = fit_widths(natural, width)

    def line(values: Sequence[str], targets: dict[str, str] | None = None) -> str:
        parts = []
        for column, value, w in zip(columns, values, widths, strict=True):
            cut = value if len(value) <= w else value[: w - 1] + "…"
            padding = " " * (w - len(cut))
            if targets and targets.get(column):
                cut = hyperlink(cut, targets[column])
            parts.append(cut + padding)
        return "  ".join(parts).rstrip()

    out.write(line([c.upper() for c in columns]) + "\n")
    for index, row in enumerate(rows):
        out.write(line([row.get(c, "") for c in columns], links[index] if links else None) + "\n")
