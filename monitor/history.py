"""The hit history for people: table cells, one hit in full, stats, a prune report.

Pure text in, text out (no I/O), so the CLI stays thin and the layout is
easy to test. ``mark`` decides how a highlighted match looks: reverse video
on a colour terminal, ``[brackets]`` in a pipe or a test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from monitor.output import fit_widths
from monitor.store.retention import PruneReport
from monitor.store.stats import Stats

Mark = Callable[[str], str]
TABLE_COLUMNS = ("id", "matched_at", "rule", "source", "terms", "title")
CSV_COLUMNS = ("id", "matched_at", "published_at", "rule", "source", "title", "url")
EXPORT_CSV_COLUMNS = (
    "id",
    "matched_at",
    "published_at",
    "rule",
    "rule_title",
    "severity",
    "source",
    "title",
    "url",
    "terms",
    "matches",
)
SPARKS = "▁▂▃▄▅▆▇█"
FIELDS = ("title", "summary", "body")


def brackets(text: str) -> str:
    return f"[{text}]"


def terms(row: dict[str, Any]) -> str:
    """The rule terms that matched, once each: ``Bashar al-Assad, Tartus naval base``."""
    return ", ".join(sorted({m["term"] for m in row["matches"]}))


def short_time(stamp: str | None) -> str:
    """``2026-11-24T10:00:00+00:00`` -> ``2026-11-24 10:00`` (stored times are all UTC)."""
    return (stamp or "").replace("T", " ")[:16]


def hit_cells(row: dict[str, Any]) -> dict[str, str]:
    """One row of the `monitor hits` table."""
    return {
        "id": str(row["id"]),
        "matched_at": short_time(row["matched_at"]),
        "rule": row["rule"],
        "source": row["source"],
        "terms": terms(row),
        "title": row["title"] or row["url"],
    }


def export_row(row: dict[str, Any]) -> dict[str, Any]:
    """A hit for `monitor export --format csv`: the terms spelled out beside the JSON."""
    return {**row, "terms": terms(row)}


# One hit in full ---------------------------------------------------------------


def _spans(text: str, matches: Iterable[dict[str, Any]], field: str) -> list[tuple[int, int]]:
    """Where ``field``'s matches are in ``text``, merged; stale offsets are dropped."""
    found = sorted(
        (m["start"], m["end"])
        for m in matches
        if m.get("field") == field and text[m["start"] : m["end"]] == m["text"]
    )
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def wrap_marked(text: str, spans: Sequence[tuple[int, int]], width: int, mark: Mark) -> list[str]:
    """Wrap ``text`` to ``width`` columns, then mark ``spans`` (offsets into ``text``).

    Wrapping first keeps the widths right whatever ``mark`` adds (escape codes
    or brackets); a match cut by a line break is marked on both lines.
    """
    lines: list[tuple[int, int]] = []
    start = end = -1
    for word in re.finditer(r"\S+", text):
        if start < 0:
            start, end = word.start(), word.end()
        elif word.end() - start <= width:
            end = word.end()
        else:
            lines.append((start, end))
            start, end = word.start(), word.end()
    if start >= 0:
        lines.append((start, end))
    out = []
    for line_start, line_end in lines:
        pieces, at = [], line_start
        for span_start, span_end in spans:
            lo, hi = max(span_start, line_start), min(span_end, line_end)
            if lo >= hi:
                continue
            pieces += [text[at:lo], mark(text[lo:hi])]
            at = hi
        pieces.append(text[at:line_end])
        out.append("".join(pieces))
    return out


def render_hit(hit: dict[str, Any], width: int = 100, mark: Mark = brackets) -> str:
    """`monitor hits show`: the story with its matches marked, the cluster, the deliveries."""
    from monitor.matching.normalize import plain_text  # the offsets index its output

    lines = [
        f"Hit {hit['id']} · rule {hit['rule']} ({hit['rule_title'] or hit['rule']}) · "
        f"severity {hit['severity']}",
        f"matched {short_time(hit['matched_at'])} UTC · published "
        f"{short_time(hit['published_at'])} UTC · source {hit['source']}",
    ]
    if hit["url"]:
        lines.append(hit["url"])
    for field in FIELDS:
        text = plain_text(hit[field] or "")
        lines += ["", field.capitalize()]
        if not text:
            gone = "  (none: the feed sent none, or retention removed it)"
            lines.append(gone if field == "body" else "  (none)")
            continue
        spans = _spans(text, hit["matches"], field)
        lines += ["  " + line for line in wrap_marked(text, spans, width - 2, mark)]
    lines += ["", f"Matches ({len(hit['matches'])})"]
    for m in hit["matches"]:
        score = f" score {m['score']:g}" if m.get("score", 100) != 100 else ""
        lines.append(
            f'  {m["kind"]:<8} {m["term"]}: "{m["text"]}" in {m["field"]} '
            f"[{m['start']}:{m['end']}]{score}"
        )
    lines += ["", f"Other outlets in this cluster ({len(hit['outlets'])})"]
    for story in hit["outlets"]:
        lines.append(
            f"  {story['source']}  {short_time(story['published_at'])}  {story['title'] or ''}"
            f"  {story['url'] or ''}".rstrip()
        )
    if not hit["outlets"]:
        lines.append("  (none)")
    lines += ["", f"Deliveries ({len(hit['deliveries'])})"]
    for d in hit["deliveries"]:
        attempts = f"{d['attempts']} attempt" + ("" if d["attempts"] == 1 else "s")
        when = f"sent {short_time(d['sent_at'])}" if d["sent_at"] else ""
        error = f"error: {d['last_error']}" if d["last_error"] else ""
        detail = "  ".join(part for part in (attempts, when, error) if part)
        lines.append(f"  #{d['id']} {d['channel']} {d['target']}  {d['status']}  {detail}")
    if not hit["deliveries"]:
        lines.append("  (none)")
    return "\n".join(lines)


# Stats -------------------------------------------------------------------------


def sparkline(values: Sequence[int], width: int | None = None) -> str:
    """``▁▃█▁``: one bar per value, or per group of values when ``width`` is smaller.

    Zero is the lowest bar and any non-zero count at least the second, so a
    quiet day never looks like an empty one.
    """
    if width and len(values) > width:
        size = -(-len(values) // width)
        values = [sum(values[i : i + size]) for i in range(0, len(values), size)]
    top = max(values, default=0)
    if not top:
        return SPARKS[0] * len(values)
    return "".join(
        SPARKS[0] if v == 0 else SPARKS[1 + round((v / top) * (len(SPARKS) - 2))] for v in values
    )


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _rows(
    header: Sequence[str], rows: Iterable[Sequence[str]], width: int, numeric: Sequence[int] = ()
) -> list[str]:
    """An indented table; the ``numeric`` columns are right-aligned."""
    table = [list(header), *(list(row) for row in rows)]
    natural = [max(len(row[i]) for row in table) for i in range(len(header))]
    widths = fit_widths(natural, width - 2)
    return [
        "  "
        + "  ".join(
            _cut(cell, w).rjust(w) if i in numeric else _cut(cell, w).ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]


def render_stats(stats: Stats, width: int = 100) -> str:
    """`monitor stats` as text: per-rule sparklines, sources, deliveries, noisiest rules."""
    days = len(stats.days)
    lines = [f"Hits per rule per day, {stats.since} to {stats.until} UTC ({days} days)"]
    spark = max(10, min(days, width - 40))
    lines += (
        _rows(
            ("RULE", "HITS", "PER DAY", "TREND"),
            (
                (r.rule, str(r.hits), f"{r.hits / days:.1f}", sparkline(r.per_day, spark))
                for r in stats.rules
            ),
            width,
            numeric=(1, 2),
        )
        if stats.rules
        else ["  (no hits)"]
    )

    lines += ["", "Top sources"]
    lines += (
        _rows(("SOURCE", "HITS"), ((s.source, str(s.hits)) for s in stats.top_sources), width, (1,))
        if stats.top_sources
        else ["  (none)"]
    )

    lines += ["", "Deliveries"]
    lines += (
        _rows(
            ("CHANNEL", "SENT", "FAILED", "PENDING", "SUCCESS"),
            (
                (t.channel, str(t.sent), str(t.failed), str(t.pending), _percent(t.success_rate))
                for t in (*stats.channels, stats.deliveries)
            ),
            width,
            numeric=(1, 2, 3, 4),
        )
        if stats.channels
        else ["  (none)"]
    )

    lines += ["", "Noisiest rules"]
    total = stats.total_hits
    noisy = stats.noisiest()
    lines += (
        _rows(
            ("RULE", "HITS", "SHARE", "PEAK DAY"),
            (
                (
                    r.rule,
                    str(r.hits),
                    f"{r.hits / total * 100:.0f}%",
                    f"{stats.days[r.per_day.index(max(r.per_day))]} ({max(r.per_day)})",
                )
                for r in noisy
            ),
            width,
            numeric=(1, 2),
        )
        if noisy
        else ["  (none)"]
    )
    return "\n".join(lines)


# Retention ---------------------------------------------------------------------


def render_prune(report: PruneReport, retention_days: int) -> str:
    verb = "Would remove" if report.dry_run else "Removed"
    lines = [
        f"{verb} what is older than {retention_days} days "
        f"(before {short_time(report.cutoff.isoformat())} UTC):",
        f"  stories                {report.stories_deleted}",
        f"  story bodies           {report.bodies_cleared}",
        f"  clusters               {report.clusters_deleted}",
    ]
    if report.keep_hits:
        lines.append("  hits and deliveries    kept (keep_hits = true)")
    else:
        lines += [
            f"  hits                   {report.hits_deleted}",
            f"  deliveries             {report.deliveries_deleted}",
        ]
    if report.dry_run:
        lines.append("Dry run: nothing was changed.")
    return "\n".join(lines)
