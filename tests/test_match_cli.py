"""`monitor match`: which rules match one story and why, through CliRunner on real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from feedtext import Item, rss
from harness import SYRIA_RULE, write_project
from servers import FeedServer

from monitor.cli import cli

ENERGY_RULE = """\
title: Ukraine energy
phrases: [power grid]
keywords: {terms: [electricity, substation], min: 1}
match:
  all:
    - any: [{phrase: blackout}, {phrase: repairs}]
    - not: {phrase: football}
"""

# Only for the `business` source: out of scope for anything read from the command line.
MARKETS_RULE = """\
title: Markets desk
phrases: [envoy]
sources: [business]
"""

STORY = (
    "Assad meets envoy in Damascus\n"
    "President Bashar al-Assad received the envoy on Monday, while power grid repairs "
    "restored electricity to the capital.\n"
)


def make_project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path,
        {"syria.yaml": SYRIA_RULE, "energy.yaml": ENERGY_RULE, "markets.yaml": MARKETS_RULE},
        '[[sources]]\nname = "business"\nurl = "file://business.xml"\ntags = ["money"]\n',
    )


def invoke(config: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["match", "--config", str(config), *args], input=input)


def match_json(config: Path, *args: str, input: str | None = None) -> list[dict[str, Any]]:
    result = invoke(config, "--format", "json", *args, input=input)
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def by_rule(story: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["rule"]: result for result in story["rules"]}


def test_text_file_explains_each_rule_with_highlighted_snippets(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "story.txt").write_text(STORY)

    result = invoke(config, str(tmp_path / "story.txt"))

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("story 1/1: Assad meets envoy in Damascus\n")
    assert "rule syria (Russia and Syria bases): MATCHED" in out
    assert "rule energy (Ukraine energy): MATCHED" in out
    # Every clause, including the match tree's nodes, with its result.
    for line in (
        "entity 'Bashar al-Assad' (aliases: Assad): true",
        "exclude: true",
        "phrase 'football': false",
        "keyword 'substation': false",
        "phrase 'blackout': false",
        "phrase 'repairs': true",
        "not: true",
    ):
        assert line in out
    # Not a terminal: highlights are plain markers, never escape codes.
    assert "President [[Bashar al-Assad]] received the envoy" in out
    assert "[[Assad]] meets envoy in Damascus" in out
    assert "\x1b[" not in out


def test_json_output_has_one_object_per_story_and_the_match_fields(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "story.txt").write_text(STORY)

    [story] = match_json(config, str(tmp_path / "story.txt"))

    assert story["title"] == "Assad meets envoy in Damascus"
    syria = by_rule(story)["syria"]
    assert syria["title"] == "Russia and Syria bases"
    assert syria["matched"] is True and syria["in_scope"] is True and syria["alerts"] is True
    assert [c["clause"] for c in syria["clauses"]] == ["entities", "exclude"]
    assert syria["clauses"][1]["children"][0] == {
        "clause": "phrase",
        "label": "phrase 'football'",
        "result": False,
    }
    body = next(m for m in syria["matches"] if m["field"] == "body")
    assert set(body) == {"kind", "term", "text", "field", "start", "end", "score", "snippet"}
    assert body["kind"] == "entity" and body["term"] == "Bashar al-Assad"
    assert body["text"] == "Bashar al-Assad" and (body["start"], body["end"]) == (10, 25)
    assert body["snippet"].startswith("President [[Bashar al-Assad]] received")
    tree = by_rule(story)["energy"]["clauses"][-1]
    assert tree["clause"] == "all" and tree["result"] is True
    assert [c["clause"] for c in tree["children"]] == ["any", "not"]


def test_a_rule_that_does_not_match_shows_what_stopped_it(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "story.txt").write_text("Assad at the football final\nA sports story.\n")

    [story] = match_json(config, "--rule", "syria", str(tmp_path / "story.txt"))

    syria = by_rule(story)["syria"]
    assert syria["matched"] is False and syria["alerts"] is False
    exclude = syria["clauses"][1]
    assert exclude["result"] is False and exclude["children"][0]["result"] is True
    kinds = {(m["kind"], m["text"]) for m in syria["matches"]}
    assert ("exclude", "football") in kinds and ("entity", "Assad") in kinds


def test_html_page_uses_its_title_and_visible_text_only(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    page = tmp_path / "article.html"
    page.write_text(
        "<!doctype html><html lang='en'><head><title>Assad meets envoy</title>"
        "<script>var topic = 'power grid repairs';</script></head>"
        "<body><nav>Home</nav><h1>Assad meets envoy</h1>"
        "<p>President <b>Bashar al-Assad</b> received the envoy.</p></body></html>"
    )

    [story] = match_json(config, str(page))

    assert story["title"] == "Assad meets envoy"
    assert story["language"] == "en"
    results = by_rule(story)
    assert results["syria"]["matched"] is True
    # The script mentions "power grid repairs", but no reader sees it.
    assert results["energy"]["matched"] is False
    body = next(m for m in results["syria"]["matches"] if m["field"] == "body")
    assert body["text"] == "Bashar al-Assad"


def test_feed_file_makes_every_item_a_story(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    feed = tmp_path / "world.xml"
    feed.write_text(
        rss(
            [
                Item("Assad meets envoy", "https://news.example.org/1", "In Damascus."),
                Item("Power grid repairs", "https://news.example.org/2", "Electricity is back."),
                Item("Cup final", "https://news.example.org/3", "Football news."),
            ]
        )
    )

    stories = match_json(config, feed.as_uri())

    assert [s["title"] for s in stories] == ["Assad meets envoy", "Power grid repairs", "Cup final"]
    alerting = [[r["rule"] for r in s["rules"] if r["alerts"]] for s in stories]
    assert alerting == [["syria"], ["energy"], []]
    assert stories[1]["url"] == "https://news.example.org/2"


def test_stdin_is_read_with_a_dash(tmp_path: Path) -> None:
    config = make_project(tmp_path)

    result = invoke(config, "--rule", "syria", "-", input=STORY)

    assert result.exit_code == 0, result.output
    assert "story 1/1: Assad meets envoy in Damascus" in result.stdout
    assert "source stdin" in result.stdout
    assert "rule syria (Russia and Syria bases): MATCHED" in result.stdout
    assert "rule energy" not in result.stdout


def test_url_is_fetched_from_a_real_server(tmp_path: Path, feed_server: FeedServer) -> None:
    config = make_project(tmp_path)
    page_url = feed_server.route(
        "/world/assad.html",
        "<html><head><title>Assad meets envoy</title></head>"
        "<body><p>Bashar al-Assad received the envoy.</p></body></html>",
        content_type="text/html; charset=utf-8",
    )
    feed_url = feed_server.route(
        "/world.xml",
        rss(
            [
                Item(
                    "Grid repairs",
                    "https://x.example/1",
                    "Power grid repairs bring electricity back.",
                )
            ]
        ),
    )

    [page] = match_json(config, page_url)
    [item] = match_json(config, feed_url)

    assert page["url"] == page_url and page["source"] == "127.0.0.1"
    assert by_rule(page)["syria"]["matched"] is True
    assert item["title"] == "Grid repairs" and by_rule(item)["energy"]["matched"] is True
    user_agent = feed_server.requests_for("/world/assad.html")[0].headers["user-agent"]
    assert user_agent.startswith("monitor/")


def test_url_is_fetched_under_the_http_settings(tmp_path: Path, feed_server: FeedServer) -> None:
    config = make_project(tmp_path)
    big = feed_server.route(
        "/long.txt", STORY + "More words.\n" * 110_000, content_type="text/plain; charset=utf-8"
    )
    assert match_json(config, big)[0]["title"] == "Assad meets envoy in Damascus"  # 10 MB cap

    config.write_text(config.read_text() + "\n[http]\nmax_body_mb = 1\n")
    result = invoke(config, big)

    assert result.exit_code == 1
    assert "cap" in result.stderr  # the same 1.3 MB page is over the configured 1 MB


def test_rule_filter_keeps_only_the_named_rules(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "story.txt").write_text(STORY)

    [story] = match_json(
        config, "--rule", "energy", "--rule", "markets", str(tmp_path / "story.txt")
    )

    assert [r["rule"] for r in story["rules"]] == ["energy", "markets"]


def test_an_out_of_scope_rule_is_evaluated_anyway_and_says_why(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "story.txt").write_text(STORY)

    text = invoke(config, "--rule", "markets", str(tmp_path / "story.txt"))
    [story] = match_json(config, "--rule", "markets", str(tmp_path / "story.txt"))
    [as_business] = match_json(
        config, "--rule", "markets", "--source", "business", str(tmp_path / "story.txt")
    )

    assert text.exit_code == 0
    assert "rule markets (Markets desk): MATCHED" in text.stdout
    assert (
        "out of scope: source 'story.txt' is not among the rule's sources: business" in text.stdout
    )
    markets = by_rule(story)["markets"]
    assert markets["matched"] is True and markets["in_scope"] is False
    assert markets["alerts"] is False and len(markets["out_of_scope"]) == 1
    assert by_rule(as_business)["markets"]["alerts"] is True


def test_a_draft_rules_folder_replaces_the_configured_one(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    draft = tmp_path / "draft"
    draft.mkdir()
    (draft / "envoy.yaml").write_text("title: Envoys\nphrases: [envoy]\n")

    [story] = match_json(config, "--rules", str(draft), "-", input=STORY)

    assert [r["rule"] for r in story["rules"]] == ["envoy"]


def test_unreadable_input_exits_1_with_a_hint(tmp_path: Path) -> None:
    config = make_project(tmp_path)

    result = invoke(config, str(tmp_path / "missing.txt"))

    assert result.exit_code == 1
    assert "cannot read" in result.stderr and "missing.txt" in result.stderr
    assert "hint:" in result.stderr


def test_a_broken_feed_is_an_error_not_a_text_story(tmp_path: Path) -> None:
    config = make_project(tmp_path)

    result = invoke(config, "-", input="<?xml version='1.0'?><rss><channel><item><title>x")

    assert result.exit_code == 1
    assert "looks like a feed but cannot be read" in result.stderr


def test_invalid_rules_exit_1_naming_the_file(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "rules" / "broken.yaml").write_text("title: Broken\nphrasez: [x]\n")

    result = invoke(config, "-", input=STORY)

    assert result.exit_code == 1
    assert "broken.yaml:2:1: unknown key 'phrasez'" in result.stderr


def test_an_unknown_rule_id_is_a_usage_error(tmp_path: Path) -> None:
    config = make_project(tmp_path)

    result = invoke(config, "--rule", "syrai", "-", input=STORY)

    assert result.exit_code == 2
    assert "no rule with id 'syrai'" in result.stderr
