"""`monitor hits`, `hits show`, `stats`, `export`, `prune` and `ui` through click's CliRunner
against a real temp SQLite file; and the daemon writing while the CLI reads, as processes."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.models import Hit, Match, Rule, Story
from monitor.store import Store, outbox

SYRIA = Rule(id="syria", title="Syria bases", path="syria.yaml", severity="high")
ENERGY = Rule(id="energy", title="Ukraine energy", path="energy.yaml")
ROUTES = {"syria": [("slack", "#desk"), ("email", "a@example.org")], "energy": [("slack", "#e")]}
PUBLISHED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def make_story(n: int, source: str, title: str, summary: str = "", body: str = "") -> Story:
    return Story(
        source=source,
        url=f"https://{source}.example.org/{n}",
        guid=f"urn:{source}:{n}",
        title=title,
        summary=summary,
        body=body,
        published_at=PUBLISHED + timedelta(hours=n),
        fetched_at=PUBLISHED + timedelta(hours=n),
    )


def found(story: Story, field: str, text: str, term: str = "") -> Match:
    start = getattr(story, field).index(text)
    return Match("entity", term or text, text, field, start, start + len(text))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config and a database with three hits: 1 syria (world), 2 energy (wire), 3 syria (wire)."""
    path = tmp_path / "monitor.toml"
    path.write_text('database = "monitor.db"\nretention_days = 30\n')
    store = Store.open(tmp_path / "monitor.db")
    assad = make_story(
        1,
        "world",
        "Assad meets envoy in Damascus",
        summary="President Bashar al-Assad received the envoy.",
        body="The talks covered the Tartus naval base.",
    )
    grid = make_story(2, "wire", "Power grid repairs speed up", summary="Electricity is back.")
    copy = make_story(3, "wire", "Assad visits Tartus", summary="Another Assad story.")
    store.save(
        assad,
        [Hit(SYRIA, assad, (found(assad, "title", "Assad"), found(assad, "summary", "al-Assad")))],
        ROUTES,
    )
    store.save(grid, [Hit(ENERGY, grid, (found(grid, "title", "Power grid"),))], ROUTES)
    store.save(copy, [Hit(SYRIA, copy, (found(copy, "title", "Assad"),))], ROUTES)
    # Another outlet's copy of story 1, in its cluster.
    store.save(make_story(4, "business", "Assad meets envoy"), [], {}, cluster_id=1)
    pending = [
        row[0]
        for row in store.conn.execute(
            "SELECT id FROM deliveries WHERE status = 'pending' ORDER BY id"
        )
    ]
    outbox.mark_sent(store.conn, pending[:1], datetime.now(UTC))
    outbox.mark_failed(store.conn, pending[1:2], "550 mailbox unavailable", datetime.now(UTC))
    # Hit 1 was recorded three days ago, hit 2 two days ago; hit 3 now.
    for hit_id, days in ((1, 3), (2, 2)):
        then = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
        store.conn.execute("UPDATE hits SET matched_at = ? WHERE id = ?", [then, hit_id])
    store.close()
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], env=env)
    return result.exit_code, result.stdout, result.stderr


def ids(config: Path, *args: str) -> list[int]:
    code, out, err = run(config, "hits", *args, "--format", "json")
    assert code == 0, err
    return [hit["id"] for hit in json.loads(out)]


def test_hits_json_keeps_its_contract(config: Path) -> None:
    code, out, _ = run(config, "hits", "--format", "json")

    assert code == 0
    hits = json.loads(out)
    assert [h["id"] for h in hits] == [3, 2, 1]  # newest first
    first = hits[2]
    assert {"id", "rule", "title", "url", "source", "published_at", "matched_at"} <= set(first)
    assert (first["rule"], first["title"], first["source"]) == (
        "syria",
        "Assad meets envoy in Damascus",
        "world",
    )
    assert first["published_at"] == "2026-11-24T10:00:00+00:00"
    assert datetime.fromisoformat(first["matched_at"]).utcoffset() == timedelta(0)
    assert first["matches"][1] == {
        "kind": "entity",
        "term": "al-Assad",
        "text": "al-Assad",
        "field": "summary",
        "start": 17,
        "end": 25,
        "score": 100.0,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--rule", "syria"), [3, 1]),
        (("--rule", "syria", "--rule", "energy"), [3, 2, 1]),
        (("--source", "wire"), [3, 2]),
        (("--severity", "high"), [3, 1]),
        (("--since", "36h"), [3]),
        (("--since", "60h", "--until", "1h"), [2]),
        (("--published-since", "2026-11-24T11:30:00"), [3]),
        (("--search", "Tartus"), [3, 1]),  # title of 3, body of 1
        (("--search", '"naval base"'), [1]),
        (("--search", "Assad NOT envoy"), [3]),
        (("--limit", "1"), [3]),
    ],
)
def test_hits_filters(config: Path, args: tuple[str, ...], expected: list[int]) -> None:
    assert ids(config, *args) == expected


def test_bad_filters_are_usage_errors(config: Path) -> None:
    code, _, err = run(config, "hits", "--search", "al-Assad")
    assert code == 2 and "quote phrases" in err
    code, _, err = run(config, "hits", "--since", "yesterday")
    assert code == 2 and "--since" in err
    code, _, err = run(config, "hits", "12")
    assert code == 2 and "monitor hits show 12" in err


def test_hits_table_fits_the_terminal_and_links_titles(config: Path) -> None:
    code, out, _ = run(config, "hits", env={"COLUMNS": "60", "FORCE_HYPERLINK": "0"})

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "MATCHED_AT", "RULE", "SOURCE", "TERMS", "TITLE"]
    assert max(len(line) for line in lines) <= 60
    assert "\x1b" not in out

    _, linked, _ = run(config, "hits", env={"COLUMNS": "200", "FORCE_HYPERLINK": "1"})
    assert "\x1b]8;;https://world.example.org/1\x1b\\Assad meets envoy in Damascus" in linked


def test_hits_csv_keeps_its_columns(config: Path) -> None:
    _, out, _ = run(config, "hits", "--format", "csv")

    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "matched_at", "published_at", "rule", "source", "title", "url"]
    assert len(rows) == 4


def test_hits_show_marks_the_matches_and_lists_outlets_and_deliveries(config: Path) -> None:
    code, out, _ = run(config, "hits", "show", "1")

    assert code == 0, out
    assert "[Assad] meets envoy in Damascus" in out
    assert "President Bashar [al-Assad] received the envoy." in out
    assert "The talks covered the Tartus naval base." in out
    assert 'entity   al-Assad: "al-Assad" in summary [17:25]' in out
    assert "business" in out and "https://business.example.org/4" in out
    assert "slack #desk  sent  1 attempt" in out
    assert "email a@example.org  failed  1 attempt  error: 550 mailbox unavailable" in out


def test_hits_show_json_and_errors(config: Path) -> None:
    # --config may also come before `show`.
    result = CliRunner().invoke(
        cli, ["hits", "--config", str(config), "show", "1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    hit = json.loads(result.stdout)
    assert hit["body"] == "The talks covered the Tartus naval base."
    assert [o["source"] for o in hit["outlets"]] == ["business"]
    assert [(d["status"], d["last_error"]) for d in hit["deliveries"]] == [
        ("sent", None),
        ("failed", "550 mailbox unavailable"),
    ]

    code, _, err = run(config, "hits", "show", "99")
    assert code == 1 and "no hit with id 99" in err and "hint:" in err


def test_stats_json_and_table(config: Path) -> None:
    code, out, _ = run(config, "stats", "--since", "7d", "--format", "json")

    assert code == 0
    stats = json.loads(out)
    assert len(stats["days"]) == 7 and stats["until"] == datetime.now(UTC).date().isoformat()
    assert {(r["rule"], r["hits"]) for r in stats["hits_per_rule_per_day"]} == {
        ("energy", 1),
        ("syria", 2),
    }
    assert stats["top_sources"][0] == {"source": "wire", "hits": 2}
    assert stats["deliveries"]["failed"] == 1 and stats["deliveries"]["sent"] == 1
    assert stats["noisiest_rules"][0]["rule"] == "syria"

    code, table, _ = run(config, "stats")
    assert code == 0
    assert "Hits per rule per day" in table and "(30 days)" in table
    assert any(ch in table for ch in "▁▂▃▄▅▆▇█")
    assert "success" in table.lower() and "Noisiest rules" in table


def test_export_csv_and_ndjson(config: Path) -> None:
    code, out, _ = run(config, "export", "--since", "30d")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [r["id"] for r in rows] == ["1", "2", "3"]  # oldest first
    assert rows[0]["terms"] == "Assad, al-Assad"
    assert json.loads(rows[0]["matches"])[0]["text"] == "Assad"

    code, out, _ = run(config, "export", "--format", "ndjson", "--rule", "energy")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [h["id"] for h in lines] == [2]


def test_prune_reports_what_it_removed(config: Path) -> None:
    store = Store.open(config.parent / "monitor.db")
    store.save(make_story(5, "world", "Cup final tickets sold out", body="Football."), [], {})
    then = (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="seconds")
    store.conn.execute("UPDATE stories SET fetched_at = ? WHERE id IN (1, 4, 5)", [then])
    store.close()

    code, dry, _ = run(config, "prune", "--dry-run")
    assert code == 0
    assert "Would remove what is older than 30 days" in dry and "Dry run" in dry

    code, out, _ = run(config, "prune")
    assert code == 0
    # Story 5 goes; story 1 has a hit and story 4 is in its cluster: they stay, 1 without body.
    assert "stories                1" in out
    assert "story bodies           1" in out
    assert "clusters               1" in out
    assert "kept (keep_hits = true)" in out
    shown = run(config, "hits", "show", "1")[1]
    assert "[Assad] meets envoy" in shown and "https://business.example.org/4" in shown
    assert "Tartus naval base" not in shown


def test_retention_settings_are_validated(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('database = "m.db"\nretention_days = 0\n')

    code, _, err = run(config, "prune")

    assert code == 1 and "retention_days" in err


@pytest.mark.skipif(
    importlib.util.find_spec("datasette") is not None, reason="datasette is installed"
)
def test_ui_explains_how_to_install_datasette(config: Path) -> None:
    code, _, err = run(config, "ui")

    assert code == 1
    assert "pip install 'monitor[ui]'" in err


WRITER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from monitor.models import Hit, Match, Rule, Story
from monitor.store import Store, outbox

store = Store.open(Path(sys.argv[1]))
stop = Path(sys.argv[2])
rule = Rule(id="syria", title="Syria", path="syria.yaml")
deadline = time.monotonic() + 20  # bounded, whatever happens to the test
n = 0
while not stop.exists() and time.monotonic() < deadline:
    n += 1
    now = datetime.now(UTC)
    story = Story("writer", f"https://w.example.org/{n}", f"w{n}", f"Assad story {n}",
                  "Summary.", "Body text.", now, now)
    match = Match("entity", "Assad", "Assad", "title", 0, 5)
    with store.batch():
        store.save(story, [Hit(rule, story, (match,))], {"syria": [("slack", "#desk")]})
    for (delivery_id,) in store.conn.execute(
            "SELECT id FROM deliveries WHERE status = 'pending' ORDER BY id").fetchall():
        outbox.mark_sent(store.conn, [delivery_id], datetime.now(UTC))
print(n)
"""


def _stories(database: Path) -> int:
    store = Store.open(database)
    try:
        return int(store.conn.execute("SELECT count(*) FROM stories").fetchone()[0])
    finally:
        store.close()


def test_the_cli_reads_while_the_daemon_writes(config: Path) -> None:
    database, stop = config.parent / "monitor.db", config.parent / "stop"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(database), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        while writer.poll() is None and _stories(database) < 20:  # let it start writing
            time.sleep(0.05)
        reader = subprocess.run(
            [sys.executable, "-m", "monitor", "hits", "--format", "json", "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
        assert reader.returncode == 0, reader.stderr
        seen = []
        for args in (["hits"], ["hits", "--search", "Assad"], ["stats"], ["hits", "show", "1"]) * 5:
            code, out, err = run(config, *args)
            assert code == 0, err
            seen.append(len(out))
        code, _, err = run(config, "prune")  # a second writer
        assert code == 0, err
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    assert "locked" not in err
    assert int(out) > 10
    final = json.loads(run(config, "hits", "--format", "json", "--limit", "5000")[1])
    assert len(final) == 3 + int(out)


def _documented_commands() -> list[list[str]]:
    """Every `monitor ...` example in docs/history.md and the README's "Query the hits"."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    query_section = readme.split("## Query the hits", 1)[1].split("\n## ", 1)[0]
    text = (root / "docs" / "history.md").read_text(encoding="utf-8") + query_section
    commands = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].split(" >", 1)[0].strip()
        if line.startswith("monitor ") and "[" not in line:  # synopses have [OPTIONS]
            commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize("args", _documented_commands(), ids=" ".join)
def test_documented_examples_use_real_commands_and_options(args: list[str]) -> None:
    # --help after the example: click still rejects unknown commands and options.
    result = CliRunner().invoke(cli, [*args, "--help"])

    assert result.exit_code == 0, result.output
