"""`monitor replay`: backtest rules over a history the real pipeline stored."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from feedtext import Item, rss
from harness import SYRIA_RULE, write_project

from monitor.cli import cli
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.replay import Replay
from monitor.rules import load_rules
from monitor.store import Store
from monitor.timeutil import isoformat, utcnow

ENERGY_RULE = """\
title: Ukraine energy
phrases: [power grid]
keywords: {terms: [electricity, substation], min: 1}
"""

ITEMS = [
    Item(
        "Assad meets envoy in Damascus",
        "https://news.example.org/world/assad-envoy",
        "President Bashar al-Assad received the envoy on Monday.",
    ),
    Item(
        "Power grid repairs speed up",
        "https://news.example.org/energy/grid",
        "Engineers restored electricity to the eastern region.",
    ),
    Item(
        "Assad attends football final",
        "https://news.example.org/sport/assad-final",
        "Excluded by the rule: football.",
    ),
    Item(
        "Substation fire cuts electricity and the power grid",
        "https://news.example.org/energy/fire",
        "Crews worked through the night.",
    ),
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A project whose history the real pipeline filled: the syria rule only."""
    (tmp_path / "world.xml").write_text(rss(ITEMS))
    path = write_project(
        tmp_path,
        {"syria.yaml": SYRIA_RULE},
        'database = "monitor.db"\n[[sources]]\nname = "world"\nurl = "file://world.xml"\n',
    )
    settings = load_config(path)
    asyncio.run(Daemon(settings, load_rules(settings.rules)).run_once())
    return path


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    """The rules folder as an analyst is changing it: the syria rule plus a new energy rule."""
    folder = tmp_path / "draft"
    folder.mkdir()
    (folder / "syria.yaml").write_text(SYRIA_RULE)
    (folder / "energy.yaml").write_text(ENERGY_RULE)
    return folder


def count(config: Path, table: str) -> int:
    with closing(sqlite3.connect(config.parent / "monitor.db")) as conn, conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def replay(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["replay", "--config", str(config), *args])


def replay_json(config: Path, *args: str) -> list[dict[str, Any]]:
    result = replay(config, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_the_seeded_history_has_one_syria_hit_with_a_delivery(config: Path) -> None:
    assert count(config, "stories") == 4
    assert count(config, "hits") == 1
    assert count(config, "deliveries") == 1


def test_a_draft_rule_shows_its_hits_as_new_and_the_stored_ones_as_not(
    config: Path, draft: Path
) -> None:
    rows = replay_json(config, "--since", "1d", "--rules", str(draft))

    found = sorted((r["rule"], r["title"], r["new"]) for r in rows)
    assert found == [
        ("energy", "Power grid repairs speed up", True),
        ("energy", "Substation fire cuts electricity and the power grid", True),
        ("syria", "Assad meets envoy in Damascus", False),
    ]
    syria = next(r for r in rows if r["rule"] == "syria")
    assert set(syria) == {
        "rule",
        "rule_title",
        "title",
        "url",
        "source",
        "published_at",
        "matches",
        "new",
    }
    assert syria["source"] == "world"
    assert syria["url"] == "https://news.example.org/world/assad-envoy"
    assert {m["text"] for m in syria["matches"]} >= {"Assad", "Bashar al-Assad"}
    assert {"field", "start", "end"} <= set(syria["matches"][0])
    # A dry run: nothing stored, nothing to send.
    assert count(config, "hits") == 1
    assert count(config, "deliveries") == 1


def test_table_output_puts_counts_per_rule_on_stderr(config: Path, draft: Path) -> None:
    result = replay(config, "--since", "1d", "--rules", str(draft))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "NEW",
        "RULE",
        "PUBLISHED_AT",
        "SOURCE",
        "TERMS",
        "TITLE",
    ]
    assert "over 4 stories" in result.stderr and "3 hit(s), 2 new" in result.stderr
    assert "  syria: 1 hit(s), 0 new" in result.stderr.splitlines()
    assert "  energy: 2 hit(s), 2 new" in result.stderr.splitlines()


def test_store_inserts_only_the_new_hits_and_no_deliveries(config: Path, draft: Path) -> None:
    result = replay(config, "--since", "1d", "--rules", str(draft), "--store")

    assert result.exit_code == 0, result.output
    assert "stored 2 new hit(s); no alert was sent for them" in result.stderr
    assert count(config, "hits") == 3
    assert count(config, "deliveries") == 1
    with closing(sqlite3.connect(config.parent / "monitor.db")) as conn, conn:
        rules = sorted(r for (r,) in conn.execute("SELECT rule FROM hits"))
    assert rules == ["energy", "energy", "syria"]
    # Replayed again, every hit is now in the history.
    again = replay_json(config, "--since", "1d", "--rules", str(draft))
    assert len(again) == 3 and not any(r["new"] for r in again)


def test_since_leaves_out_stories_fetched_earlier(config: Path, draft: Path) -> None:
    long_ago = isoformat(utcnow() - timedelta(days=30))
    with closing(sqlite3.connect(config.parent / "monitor.db")) as conn, conn:
        conn.execute("UPDATE stories SET fetched_at = ? WHERE title LIKE 'Substation%'", [long_ago])

    recent = replay_json(config, "--since", "7d", "--rules", str(draft))
    everything = replay_json(config, "--since", "60d", "--rules", str(draft))

    assert "Substation fire cuts electricity and the power grid" not in {r["title"] for r in recent}
    assert len(recent) == 2 and len(everything) == 3


def test_rule_filter_and_the_configured_rules(config: Path) -> None:
    rows = replay_json(config, "--since", "1d", "--rule", "syria")

    assert [(r["rule"], r["new"]) for r in rows] == [("syria", False)]


def test_ndjson_and_csv_stream_one_line_per_hit(config: Path, draft: Path) -> None:
    ndjson = replay(config, "--since", "1d", "--rules", str(draft), "--format", "ndjson")
    csv = replay(config, "--since", "1d", "--rules", str(draft), "--format", "csv")

    assert [json.loads(line)["rule"] for line in ndjson.stdout.splitlines()].count("energy") == 2
    lines = csv.stdout.splitlines()
    assert lines[0] == "new,rule,published_at,source,title,url" and len(lines) == 4
    assert ndjson.stderr == "" and csv.stderr == ""


def test_small_batches_give_the_same_hits_and_one_hit_per_cluster(
    config: Path, draft: Path
) -> None:
    rules = load_rules(draft)
    store = Store.open(config.parent / "monitor.db")
    try:
        # Make the two energy stories one cluster, as syndication clustering would.
        first, second = (
            row[0]
            for row in store.conn.execute(
                "SELECT cluster_id FROM stories WHERE url LIKE '%/energy/%' ORDER BY id"
            )
        )
        store.conn.execute(
            "UPDATE stories SET cluster_id = ? WHERE cluster_id = ?", [first, second]
        )
        since = utcnow() - timedelta(days=1)
        whole = Replay(store, rules, since)
        one_by_one = Replay(store, rules, since, batch_size=1)
        big = [(h.hit.rule.id, h.story_id, h.new) for h in whole.hits()]
        small = [(h.hit.rule.id, h.story_id, h.new) for h in one_by_one.hits()]
    finally:
        store.close()

    assert big == small
    assert [rule for rule, _, _ in big].count("energy") == 1
    assert one_by_one.stories == 4 and one_by_one.counts["energy"].new == 1


def test_a_bad_since_is_a_usage_error(config: Path) -> None:
    result = replay(config, "--since", "last week")

    assert result.exit_code == 2
    assert "neither a duration" in result.stderr


def test_invalid_draft_rules_exit_1(config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.yaml").write_text("title: Bad\nphrasez: [x]\n")

    result = replay(config, "--since", "1d", "--rules", str(broken))

    assert result.exit_code == 1
    assert "bad.yaml:2:1: unknown key 'phrasez'" in result.stderr
