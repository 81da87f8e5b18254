"""One output option for every listing command: table, json, ndjson or csv."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO, TypeVar

import click

FORMATS = ("table", "json", "ndjson", "csv")
F = TypeVar("F", bound=Callable[..., Any])


def output_option(default: str = "table") -> Callable[[F], F]:
    """Add ``--format`` to a command."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="How to print the results: a table for people, json/ndjson/csv for tools.",
    )


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
) -> None:
    """Print ``rows`` in ``fmt``; ``columns`` picks and orders what table and csv show."""
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
        cells = [
            table_cells(r) if table_cells else {c: _cell(r.get(c)) for c in columns} for r in rows
        ]
        _table(cells, columns, out)


def _table(rows: list[dict[str, str]], columns: Sequence[str], out: TextIO) -> None:
    """A plain text table that fits the terminal: the last column is cut to fit."""
    if not rows:
        out.write("(no results)\n")
        return
    width = shutil.get_terminal_size((120, 24)).columns
    widths = [max(len(c), *(len(r.get(c, "")) for r in rows)) for c in columns]
    fixed = sum(widths[:-1]) + 2 * (len(columns) - 1)
    widths[-1] = max(10, min(widths[-1], width - fixed))

    def line(values: Sequence[str]) -> str:
        cut = [v if len(v) <= w else v[: w - 1] + "…" for v, w in zip(values, widths, strict=True)]
        return "  ".join(v.ljust(w) for v, w in zip(cut, widths, strict=True)).rstrip()

    out.write(line([c.upper() for c in columns]) + "\n")
    for row in rows:
        out.write(line([row.get(c, "") for c in columns]) + "\n")
