"""YAML that PyYAML cannot turn into values is a located rule problem, never a traceback.

Impossible dates, values their tag rules out, unknown tags, an anchor used
inside itself, aliases that expand without end and nesting too deep for the
composer used to escape ``load_located`` as ValueError, KeyError or
RecursionError: ``monitor check`` printed a traceback, and a reloading daemon
called it a bug. Each is now a ``path:line:col`` problem like any other, and
date-looking values are the text they look like.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from harness import DaemonProcess, feed, wait_for, write_project
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import FeedServer, SlackServer

from monitor.cli import cli
from monitor.errors import RuleError
from monitor.matching.normalize import has_words, term_words
from monitor.rules import load_rule_set, load_rules, parse_rule

GOOD = "title: Assad\nentities: [{name: Bashar al-Assad, aliases: [Assad]}]\n"

#: Files that crashed the loader, and the problem each one is now.
BROKEN = {
    "bad-int.yaml": (
        "title: t\nphrases: [x]\nowner: !!int x\n",
        "3:8: invalid YAML: 'x' is not a whole number as its tag !!int says; "
        "fix the value or remove the tag",
    ),
    "bad-float.yaml": (
        "title: t\nkeywords: {terms: [air base], threshold: !!float abc}\n",
        "2:42: invalid YAML: 'abc' is not a number as its tag !!float says; "
        "fix the value or remove the tag",
    ),
    "bad-date.yaml": (
        "title: t\nphrases: [x]\ndescription: !!timestamp 2024-13-45\n",
        "3:14: invalid YAML: '2024-13-45' is not a date as its tag !!timestamp says; "
        "fix the value or remove the tag",
    ),
    "unknown-tag.yaml": (
        "title: t\nphrases: [x, !term y]\n",
        "2:14: invalid YAML: unknown tag !term; rule values take no tags, so remove it",
    ),
    "tagged-list.yaml": (
        "title: t\nphrases: !terms [x, y]\n",
        "2:10: invalid YAML: unknown tag !terms on a list or mapping; "
        "rule values take no tags, so remove it",
    ),
    "set.yaml": (
        "title: t\nphrases: [x]\nentities: !!set\n  ? Assad\n",
        "3:11: invalid YAML: unknown tag !!set on a list or mapping; "
        "rule values take no tags, so remove it",
    ),
    "recursive.yaml": (
        "title: t\nphrases: [x]\nmatch: &m {any: [{phrase: y}, *m]}\n",
        "3:8: invalid YAML: this anchor is used inside its own value, which would repeat "
        "forever; copy the values out instead of using the alias",
    ),
}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["libyaml", "pure"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test once through libyaml and once through the pure-Python parser alone."""
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    if request.param == "pure":
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    yield str(request.param)


# --- dates are text ------------------------------------------------------------------


def test_date_looking_values_are_the_text_they_look_like(tmp_path: Path, parser: str) -> None:
    # Impossible dates (2024-13-45, 2024-02-30) raised ValueError; real ones were
    # datetime.date objects, which every key of a rule rejected as "not a string".
    write(
        tmp_path,
        "2024-11-26.yaml",
        "title: Budget day\ndescription: 2024-13-45\nowner: 2024-02-30\n"
        "phrases: [budget 2024-11-26, 2024-11-26 10:00:00]\n",
    )
    (rule,) = load_rules(tmp_path)
    assert rule.id == "2024-11-26"
    assert (rule.description, rule.owner) == ("2024-13-45", "2024-02-30")
    assert rule.phrases == ("budget 2024-11-26", "2024-11-26 10:00:00")


def test_a_time_of_day_is_text_not_a_base_60_number(parser: str) -> None:
    # YAML 1.1 reads 18:30 as 1110: the digest would have been "'1110' is not a cadence".
    text = "title: t\nphrases: [opens 9:15, 1:30.5]\ndigest: 18:30\n"
    rule, problems = parse_rule(text, "r.yaml", "r")
    assert problems == []
    assert rule is not None and rule.phrases == ("opens 9:15", "1:30.5")
    assert rule.digest is not None and rule.digest.at == 18 * 60 + 30  # minutes into the day


def test_other_implicit_values_still_read_as_before(parser: str) -> None:
    text = "title: t\nphrases: [x]\nenabled: no\nkeywords: {terms: [a b], threshold: 9_0, min: 1}\n"
    rule, problems = parse_rule(text, "r.yaml", "r")
    assert problems == []
    assert rule is not None and rule.enabled is False
    assert rule.keywords is not None and rule.keywords.threshold == 90.0


# --- values YAML cannot make ----------------------------------------------------------


def test_every_broken_file_is_a_located_problem(tmp_path: Path, parser: str) -> None:
    write(tmp_path, "good.yaml", GOOD)
    for name, (text, _) in BROKEN.items():
        write(tmp_path, name, text)
    with pytest.raises(RuleError) as caught:
        load_rule_set(tmp_path)
    assert sorted(str(p) for p in caught.value.problems) == sorted(
        f"{tmp_path / name}:{where}" for name, (_, where) in BROKEN.items()
    )


def test_nesting_too_deep_to_compose_is_located(parser: str) -> None:
    # The pure composer recursed until Python's stack ran out, wherever that was.
    text = "title: t\nphrases: [x]\nmatch: " + "[" * 700 + "]" * 700 + "\n"
    _, problems = parse_rule(text, "r.yaml", "r")
    assert [str(p) for p in problems] == [
        "r.yaml:3:707: invalid YAML: lists or mappings nested 701 deep are more than a rule "
        "file can hold; a rule needs a few levels, so remove the extra brackets or indentation"
    ]


def test_aliases_that_expand_without_end_are_refused_quickly(parser: str) -> None:
    # A "billion laughs": each anchor is ten aliases of the one before.
    lines = ["title: t", "phrases: [x]", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    started = time.perf_counter()
    _, problems = parse_rule("\n".join(lines) + "\n", "r.yaml", "r")
    assert time.perf_counter() - started < 5
    (problem,) = problems
    assert problem.message == (
        "invalid YAML: aliases here expand to more than 100,000 values; "
        "write the values out instead of nesting aliases"
    )


def test_an_anchor_used_twice_is_still_fine(parser: str) -> None:
    text = "title: t\nphrases: &words [Tartus, Hmeimim]\nexclude: *words\nkeywords: *words\n"
    rule, problems = parse_rule(text, "r.yaml", "r")
    assert problems == []
    assert rule is not None and rule.exclude == rule.phrases == ("Tartus", "Hmeimim")


def test_loading_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    assert gc.isenabled()
    load_rule_set(tmp_path)
    assert gc.isenabled()
    write(tmp_path, "bad.yaml", BROKEN["bad-int.yaml"][0])
    with pytest.raises(RuleError):
        load_rule_set(tmp_path)
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuleError):
            load_rule_set(tmp_path)
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- through the CLI and the daemon ----------------------------------------------------


def test_check_reports_each_broken_file_and_exits_1(tmp_path: Path) -> None:
    rules = {"good.yaml": GOOD, **{name: text for name, (text, _) in BROKEN.items()}}
    config = write_project(tmp_path, rules, '[[sources]]\nname = "w"\nurl = "file://f.xml"\n')

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    folder = tmp_path / "rules"
    assert sorted(result.stdout.splitlines()) == sorted(
        f"{folder / name}:{where}" for name, (_, where) in BROKEN.items()
    )
    assert result.stderr == f"{len(BROKEN)} problem(s) found; nothing was loaded\n"


def test_check_accepts_a_date_as_a_description(tmp_path: Path) -> None:
    rule = GOOD + "description: 2024-11-26\n"
    config = write_project(tmp_path, {"assad.yaml": rule}, "")

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: {config}:")


def test_a_running_daemon_keeps_its_rules_when_an_edit_breaks_yaml(
    tmp_path: Path, alerted: DaemonProcess, feed_server: FeedServer, slack_server: SlackServer
) -> None:
    rule_file = tmp_path / "rules" / "assad.yaml"
    rule_file.write_text(
        "title: Assad watch\nentities: [{name: Bashar al-Assad, aliases: [Assad]}]\n"
        "match: &m {any: [{phrase: Assad}, *m]}\n"
    )
    assert alerted.wait_for_event("reload_failed", timeout=10), alerted.log
    problems = alerted.events("reload_problem")
    assert any(f"{rule_file}:3:8:" in line and "its own value" in line for line in problems)
    assert "report this as a bug" not in alerted.log
    # The last good rules still run: a new Assad story alerts.
    feed_server.route("/feed", feed("Assad speaks", "Assad meets envoy"))
    assert wait_for(
        lambda: any("Assad meets envoy" in m.get("text", "") for m in slack_server.messages)
    )
    assert alerted.running


# --- the cheap "has words" check -------------------------------------------------------

#: Characters that decide whether a term has words: HTML, entities, invisible
#: characters, combining marks alone, underscores, letters that compose under NFC.
_PIECES = [
    *"<>&;#/_-* '\u00ad\u2060\ufeff\u0301\u0338\u064e\u093f\u00a0\n\t",
    *["<b>", "</p>", "<br/>", "<!-- x -->", "&amp;", "&nbsp;", "&#65;", "&#x41;", "&lt;"],
    *["a", "Z", "7", "é", "ß", "ł", "٣", "漢", "😀", "e\u0301", "=\u0338", "ǅ", "Ⅻ", "²"],
]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)))
def test_has_words_agrees_with_term_words(term: str) -> None:
    assert has_words(term) == bool(term_words(term))
