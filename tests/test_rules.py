"""Rule loading and validation: every problem, located as path:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.errors import Problem, RuleError
from monitor.models import Entity, KeywordSet, Notify, Rule
from monitor.rules import load_rule_set, load_rules, parse_rule
from monitor.rules.loader import RuleSet

SYRIA = """\
title: Russia and Syria bases
entities:
  - name: Bashar al-Assad
    aliases: [Assad, Bashar Assad]
phrases: [Tartus naval base]
keywords: {terms: [military base, airbase], threshold: 85, min: 1}
exclude: [football]
notify: {slack: "#syria-desk", email: [analyst@example.org]}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def without_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make PyYAML look as it does when it was built without libyaml."""
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    monkeypatch.delattr(yaml, "CSafeLoader")


@pytest.fixture(params=["libyaml", "pure"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once with libyaml and once with the pure-Python parser alone."""
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    if request.param == "pure":
        without_libyaml(monkeypatch)
    return str(request.param)


def problems_of(text: str, channels: tuple[str, ...] | None = None) -> list[str]:
    rule, problems = parse_rule(text, "r.yaml", "r", channels)
    assert rule is None, "a rule with problems must not be returned"
    return [str(p) for p in problems]


# --- valid rules -------------------------------------------------------------------


def test_the_issue_example_loads_into_a_frozen_rule(tmp_path: Path) -> None:
    write(tmp_path, "syria-bases.yaml", SYRIA)
    (rule,) = load_rules(tmp_path, channels=("slack", "email"))
    assert rule == Rule(
        id="syria-bases",
        title="Russia and Syria bases",
        path=str(tmp_path / "syria-bases.yaml"),
        entities=(Entity("Bashar al-Assad", ("Assad", "Bashar Assad")),),
        phrases=("Tartus naval base",),
        keywords=KeywordSet(("military base", "airbase"), 85.0, 1),
        exclude=("football",),
        notify=Notify(slack="#syria-desk", email=("analyst@example.org",)),
    )


def test_short_forms_and_defaults() -> None:
    text = (
        "id: erdogan\ntitle: '  Erdoğan  '\nentities: Erdoğan\nphrases: Ankara\nkeywords: [x y z]\n"
    )
    rule, problems = parse_rule(text, "r.yaml", "stem")
    assert problems == []
    assert rule is not None
    assert rule.id == "erdogan"  # `id:` wins over the file stem
    assert rule.title == "Erdoğan"
    assert rule.entities == (Entity("Erdoğan"),)
    assert rule.phrases == ("Ankara",)
    assert rule.keywords == KeywordSet(("x y z",), 85.0, 1)
    assert rule.exclude == ()
    assert rule.notify == Notify()


def test_notify_switches_channels_off_without_needing_them(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: t\nphrases: [x]\nnotify: {slack: false, email: []}\n")
    (rule,) = load_rules(tmp_path, channels=("console",))
    assert rule.notify == Notify(slack=False, email=())


def test_slack_true_means_the_default_channel(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: t\nphrases: [x]\nnotify: {slack: true}\n")
    (rule,) = load_rules(tmp_path, channels=("slack",))
    assert rule.notify == Notify(slack=None)
    with pytest.raises(RuleError, match=r"a\.yaml:3:10: notify\.slack is set"):
        load_rules(tmp_path, channels=("console",))


def test_only_yaml_files_load_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "b.yml", "title: B\nphrases: [b]\n")
    write(tmp_path, "a.yaml", "title: A\nphrases: [a]\n")
    write(tmp_path, "notes.txt", "not a rule")
    write(tmp_path, "c.yaml.bak", "title: [broken")
    (tmp_path / "sub.yaml").mkdir()
    assert [rule.id for rule in load_rules(tmp_path)] == ["a", "b"]


def test_an_empty_folder_has_no_rules(tmp_path: Path) -> None:
    assert load_rules(tmp_path) == ()


# --- one problem each, with its position -------------------------------------------

PROBLEMS = [
    pytest.param(
        "title: t\nentites: [Assad]\n",
        [
            "r.yaml:2:1: unknown key 'entites'; did you mean 'entities'?",
            "r.yaml:1:1: rule needs at least one of entities, phrases, keywords, match or query",
        ],
        id="unknown-top-key-did-you-mean",
    ),
    pytest.param(
        "title: t\nphrases: [x]\ncolour: red\n",
        [
            "r.yaml:3:1: unknown key 'colour'; expected one of id, title, entities, phrases, "
            "keywords, exclude, notify, match, query, fields, sources, languages, max_age, "
            "enabled, severity, description, owner, examples, cooldown, digest, template"
        ],
        id="unknown-key-without-close-match",
    ),
    pytest.param(
        "title: t\nentities:\n  - name: A\n    alias: [B]\n",
        ["r.yaml:4:5: unknown key 'alias'; did you mean 'aliases'?"],
        id="unknown-entity-key",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [abcde], treshold: 90}\n",
        ["r.yaml:2:28: unknown key 'treshold'; did you mean 'threshold'?"],
        id="unknown-keywords-key",
    ),
    pytest.param(
        "title: t\nphrases: [x]\nnotify: {slak: '#a'}\n",
        ["r.yaml:3:10: unknown key 'slak'; did you mean 'slack'?"],
        id="unknown-notify-key",
    ),
    pytest.param(
        "title: t\nentities: []\n",
        ["r.yaml:2:11: entities is empty; add at least one or remove the key"],
        id="empty-entities",
    ),
    pytest.param(
        "title: t\nphrases: []\n",
        ["r.yaml:2:10: phrases is empty; add at least one term or remove the key"],
        id="empty-phrases",
    ),
    pytest.param(
        "title: t\nentities:\n  - name: A\n    aliases: []\n",
        ["r.yaml:4:14: aliases is empty; add at least one term or remove the key"],
        id="empty-aliases",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: []}\n",
        ["r.yaml:2:19: terms is empty; add at least one term or remove the key"],
        id="empty-terms",
    ),
    pytest.param(
        "title: t\nphrases: [x]\nexclude: []\n",
        ["r.yaml:3:10: exclude is empty; add at least one term or remove the key"],
        id="empty-exclude",
    ),
    pytest.param(
        "title: t\nphrases: 5\n",
        ["r.yaml:2:10: phrases must be a list of strings"],
        id="phrases-not-a-list",
    ),
    pytest.param(
        "title: t\nphrases: [x, 7, '  ']\n",
        [
            "r.yaml:2:14: phrase must be a non-empty string, got 7",
            "r.yaml:2:17: phrase must be a non-empty string, got '  '",
        ],
        id="phrase-items-wrong-type",
    ),
    pytest.param(
        "title: t\nentities:\n  - name: A\n    aliases: [1]\n",
        ["r.yaml:4:15: alias must be a non-empty string, got 1"],
        id="alias-wrong-type",
    ),
    pytest.param(
        "title: t\nentities:\n  - aliases: [B]\n",
        ["r.yaml:3:5: entity needs a name"],
        id="entity-without-name",
    ),
    pytest.param(
        "title: t\nentities:\n  - [A]\n",
        ["r.yaml:3:5: an entity is a name, or a mapping with name and aliases"],
        id="entity-wrong-type",
    ),
    pytest.param(
        "title: t\nphrases: ['---']\n",
        ["r.yaml:2:11: phrase '---' has no letters or digits to match"],
        id="phrase-without-words",
    ),
    pytest.param(
        "title: t\nkeywords: abc\n",
        ["r.yaml:2:11: keywords must be a mapping: {terms: [...], threshold: 85, min: 1}"],
        id="keywords-wrong-type",
    ),
    pytest.param(
        "title: t\nkeywords:\n  terms: [abcde]\n  threshold: 150\n",
        ["r.yaml:4:14: threshold must be a number from 0 to 100, got 150"],
        id="threshold-above-100",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [abcde], threshold: -1}\n",
        ["r.yaml:2:39: threshold must be a number from 0 to 100, got -1"],
        id="threshold-below-0",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [abcde], threshold: '85'}\n",
        ["r.yaml:2:39: threshold must be a number from 0 to 100, got '85'"],
        id="threshold-a-string",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [abcde], threshold: true}\n",
        ["r.yaml:2:39: threshold must be a number from 0 to 100, got True"],
        id="threshold-a-boolean",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [abcde], min: 0}\n",
        ["r.yaml:2:33: min must be a whole number of at least 1, got 0"],
        id="min-zero",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [abcde], min: 1.5}\n",
        ["r.yaml:2:33: min must be a whole number of at least 1, got 1.5"],
        id="min-not-whole",
    ),
    pytest.param(
        "title: t\nkeywords:\n  terms: [abcde, fghij]\n  min: 3\n",
        ["r.yaml:4:8: min is 3 but there are only 2 different terms"],
        id="min-more-than-terms",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [Airbase, airbase], min: 2}\n",
        ["r.yaml:2:44: min is 2 but there is only 1 term"],
        id="min-counts-terms-that-normalise-alike-once",
    ),
    pytest.param(
        "entities: [Assad]\n",
        ["r.yaml:1:1: rule needs a title (one line that says what it watches)"],
        id="missing-title",
    ),
    pytest.param(
        "title: ''\nentities: [Assad]\n",
        ["r.yaml:1:8: title must be a non-empty string"],
        id="empty-title",
    ),
    pytest.param(
        "title: [a]\nentities: [Assad]\n",
        ["r.yaml:1:8: title must be a non-empty string"],
        id="title-wrong-type",
    ),
    pytest.param(
        "title: t\nexclude: [football]\n",
        ["r.yaml:1:1: rule needs at least one of entities, phrases, keywords, match or query"],
        id="no-match-group",
    ),
    pytest.param(
        "# a comment first\n\ntitle: t\nphrases: [x]\nid: 'bad id'\n",
        ["r.yaml:5:5: rule id 'bad id' must be letters, digits, '.', '_' or '-'"],
        id="bad-id",
    ),
    pytest.param(
        "title: t\nphrases: [x]\nphrases: [y]\n",
        [
            "r.yaml:3:1: key 'phrases' is written twice; only the last one would count, "
            "so merge them into one"
        ],
        id="duplicate-key",
    ),
    pytest.param(
        "- title: t\n",
        ["r.yaml:1:1: a rule file must be a mapping: a title and entities, phrases or keywords"],
        id="not-a-mapping",
    ),
    pytest.param(
        "",
        ["r.yaml:1:1: a rule file must be a mapping: a title and entities, phrases or keywords"],
        id="empty-file",
    ),
    pytest.param(
        "title: t\nphrases: [x\n",
        ["r.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'"],
        id="invalid-yaml-unclosed-list",
    ),
    pytest.param(
        "title: t\n  phrases: x\n",
        ["r.yaml:2:10: invalid YAML: mapping values are not allowed here"],
        id="invalid-yaml-indentation",
    ),
    pytest.param(
        "title: t\nphrases: [x]\n---\ntitle: u\n",
        ["r.yaml:3:1: invalid YAML: but found another document"],
        id="invalid-yaml-two-documents",
    ),
    pytest.param(
        "title: t\nphrases: [x]\nnotify: {slack: 5, email: nope}\n",
        [
            "r.yaml:3:17: slack must be a channel name or false",
            "r.yaml:3:27: email must be a list of addresses, or [] to turn email off",
        ],
        id="notify-wrong-types",
    ),
    pytest.param(
        "title: t\nphrases: [x]\nnotify: '#desk'\n",
        ['r.yaml:3:9: notify must be a mapping like {slack: "#desk", email: [a@example.org]}'],
        id="notify-not-a-mapping",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [military base, sanction*]}\n",
        [
            "r.yaml:2:35: keyword term 'sanction*': keywords take no wildcards (they are "
            "fuzzy instead); to match any ending, use a phrase with a trailing wildcard, "
            "as in phrases: [sanction*]"
        ],
        id="keywords-trailing-wildcard",
    ),
    pytest.param(
        "title: t\nmatch:\n  any:\n    - keywords: [milit*ry base]\n",
        [
            "r.yaml:4:18: keyword term 'milit*ry base': keywords take no wildcards (they are "
            "fuzzy instead); to match any ending, use a phrase with a trailing wildcard, "
            "as in phrases: [sanction*]"
        ],
        id="keywords-leaf-inner-wildcard",
    ),
    # Values YAML cannot make: PyYAML raised ValueError, KeyError or RecursionError.
    pytest.param(
        "title: t\nphrases: [x]\nowner: !!int x\n",
        [
            "r.yaml:3:8: invalid YAML: 'x' is not a whole number as its tag !!int says; "
            "fix the value or remove the tag"
        ],
        id="tag-int-not-a-number",
    ),
    pytest.param(
        "title: t\nkeywords: {terms: [air base], threshold: !!float abc}\n",
        [
            "r.yaml:2:42: invalid YAML: 'abc' is not a number as its tag !!float says; "
            "fix the value or remove the tag"
        ],
        id="tag-float-not-a-number",
    ),
    pytest.param(
        "title: t\nphrases: [x]\nenabled: !!bool maybe\n",
        [
            "r.yaml:3:10: invalid YAML: 'maybe' is not true or false as its tag !!bool says; "
            "fix the value or remove the tag"
        ],
        id="tag-bool-not-a-flag",
    ),
    pytest.param(
        "title: t\nphrases: [x]\ndescription: !!timestamp 2024-02-30\n",
        [
            "r.yaml:3:14: invalid YAML: '2024-02-30' is not a date as its tag !!timestamp says; "
            "fix the value or remove the tag"
        ],
        id="tag-timestamp-impossible-date",
    ),
    pytest.param(
        "title: t\nphrases: [x]\ndescription: !note text\n",
        ["r.yaml:3:14: invalid YAML: unknown tag !note; rule values take no tags, so remove it"],
        id="tag-unknown",
    ),
    pytest.param(
        "title: t\nphrases: [0b_, x]\n",
        [
            "r.yaml:2:11: invalid YAML: '0b_' reads as a whole number but is not one; "
            "put it in quotes to keep it as text"
        ],
        id="plain-value-that-reads-as-a-broken-number",
    ),
    pytest.param(
        "title: t\nphrases: &terms [Tartus, *terms]\n",
        [
            "r.yaml:2:10: invalid YAML: this anchor is used inside its own value, which would "
            "repeat forever; copy the values out instead of using the alias"
        ],
        id="alias-inside-its-anchor",
    ),
    pytest.param(
        "title: t\nmatch: &tree\n  any: [{phrase: x}, {not: *tree}]\n",
        [
            "r.yaml:2:8: invalid YAML: this anchor is used inside its own value, which would "
            "repeat forever; copy the values out instead of using the alias"
        ],
        id="alias-inside-its-anchor-deeper",
    ),
    pytest.param(
        "base: &base {title: t}\n<<: *base\nphrases: [x]\n",
        [
            "r.yaml:2:1: invalid YAML: merge keys (<<) are not supported in rule files; "
            "write the keys out"
        ],
        id="merge-key",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEMS)
def test_problem_is_reported_at_its_position(
    text: str, expected: list[str], yaml_parser: str
) -> None:
    assert problems_of(text, channels=("slack", "email")) == expected


def test_notify_channel_missing_from_config_points_at_the_key() -> None:
    assert problems_of(SYRIA, channels=("console",)) == [
        "r.yaml:8:10: notify.slack is set but the config has no [notify.slack] section; "
        "add one or remove this key",
        "r.yaml:8:32: notify.email is set but the config has no [notify.email] section; "
        "add one or remove this key",
    ]
    assert problems_of(SYRIA, channels=("slack",)) == [
        "r.yaml:8:32: notify.email is set but the config has no [notify.email] section; "
        "add one or remove this key",
    ]


def test_channels_are_not_checked_when_unknown() -> None:
    rule, problems = parse_rule(SYRIA, "r.yaml", "r", None)
    assert rule is not None
    assert problems == []


def test_problems_are_located_objects() -> None:
    rule, problems = parse_rule("title: t\nphrases: 5\n", "rules/x.yaml", "x")
    assert rule is None
    assert problems == [Problem("rules/x.yaml", 2, 10, "phrases must be a list of strings")]


# --- several files -----------------------------------------------------------------


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    good = write(tmp_path, "a-good.yaml", "title: fine\nphrases: [x]\n")
    first = write(tmp_path, "b.yaml", "title: t\nentites: [A]\nphrases: []\n")
    second = write(tmp_path, "c.yaml", "phrases: [x]\nkeywords: {terms: [abcde], min: 0}\n")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{first}:2:1: unknown key 'entites'; did you mean 'entities'?",
        f"{first}:3:10: phrases is empty; add at least one term or remove the key",
        f"{second}:1:1: rule needs a title (one line that says what it watches)",
        f"{second}:2:33: min must be a whole number of at least 1, got 0",
    ]
    message = str(caught.value)
    assert all(str(p) in message for p in caught.value.problems)
    assert str(good) not in message
    assert "hint: fix the rule files above, then run `monitor check`" in message


def test_loading_is_all_or_nothing(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: A\nphrases: [a]\n")
    assert len(load_rules(tmp_path)) == 1
    write(tmp_path, "b.yaml", "title: B\nphrases: [b\n")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    # The valid rule is not handed out beside the error: nothing is returned at all.
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].path == str(tmp_path / "b.yaml")


def test_duplicate_id_across_two_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "title: A\nphrases: [a]\n")
    second = write(tmp_path, "b.yaml", "title: B\nphrases: [b]\nid: a\n")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{second}:3:5: duplicate rule id 'a': also used by {first}; "
        "rename the file or set a different `id:`"
    ]


def test_duplicate_id_from_the_file_stem(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "title: A\nphrases: [a]\n")
    second = write(tmp_path, "a.yml", "title: B\nphrases: [b]\n")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.col) == (str(second), 1, 1)
    assert f"duplicate rule id 'a': also used by {first}" in problem.message


def test_duplicate_id_is_reported_beside_the_other_problems_of_its_file(tmp_path: Path) -> None:
    first = write(tmp_path, "d.yaml", "title: D\nid: d\nphrases: [Damascus]\n")
    second = write(tmp_path, "e.yaml", "title: E\nid: d\nphrases: [Tartus]\nseverity: urgent\n")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{second}:4:11: severity must be one of info, normal, high",
        f"{second}:2:5: duplicate rule id 'd': also used by {first}; "
        "rename the file or set a different `id:`",
    ]


def test_an_invalid_rule_still_claims_its_id_and_its_file_stem(tmp_path: Path) -> None:
    # The first file of each pair has a problem of its own; its id still counts.
    broken_id = write(tmp_path, "a.yaml", "title: A\nid: shared\nphrases: []\n")
    reuses_id = write(tmp_path, "b.yaml", "title: B\nid: shared\nphrases: [b]\n")
    broken_stem = write(tmp_path, "c.yaml", "title: C\nphrases: [c]\nfields: [headline]\n")
    reuses_stem = write(tmp_path, "d.yaml", "title: D\nid: c\nphrases: [d]\n")
    bad_id = write(tmp_path, "e.yaml", "title: E\nid: [x]\nphrases: [e]\n")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    found = [(p.path, p.line, p.col, p.message.split(";")[0]) for p in caught.value.problems]
    assert found == [
        (str(broken_id), 3, 10, "phrases is empty"),
        (str(reuses_id), 2, 5, f"duplicate rule id 'shared': also used by {broken_id}"),
        (str(broken_stem), 3, 10, "unknown field 'headline'"),
        (str(reuses_stem), 2, 5, f"duplicate rule id 'c': also used by {broken_stem}"),
        # An id that is not a valid id claims nothing, and is reported once.
        (str(bad_id), 2, 5, "rule id ['x'] must be letters, digits, '.', '_' or '-'"),
    ]


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: Erdoğan\nphrases: [x]\n".encode("utf-16"))
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.col) == (str(path), 1, 1)
    assert problem.message.startswith("cannot read rule file:")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path / "nope")
    (problem,) = caught.value.problems
    assert problem.path == str(tmp_path / "nope")
    assert "rules folder not found" in problem.message


# --- libyaml and the pure-Python parser ----------------------------------------------

# Rules that exercise what the two parsers could read differently: flow and block
# collections, comments, multi-line and quoted strings, non-ASCII text, a
# dictionary, and the cases the fast path hands to the pure parser (a tab, an
# empty value, a "?" in a flow list).
PARSER_FOLDER = {
    "syria.yaml": SYRIA,
    "people.yaml": "entities:\n  - name: Recep Tayyip Erdoğan\n    aliases: [Erdoğan]\n",
    "turkey.yaml": (
        "# Turkey desk\ntitle: >-\n  Turkey: President\n  Erdoğan\n"
        "entities: [Recep Tayyip Erdoğan]  # from people.yaml\n"
        "phrases:\n  - 'Ankara''s palace'\n  - \"Łódź \\u00e9\"\n"
        "match:\n  any:\n    - near: {terms: [Putin, Erdoğan], within: 5}\n"
        "    - not: {phrase: 😀 football}\n"
    ),
    "tab.yaml": "title: t  #\tcomment\nphrases: ['Tartus\tnaval base']\n",
    "question.yaml": "title: Who?\nphrases: [x]\ndescription: |\n  Why?\n",
}

PARSER_ERRORS = {
    **{f"problem-{index:02d}.yaml": param.values[0] for index, param in enumerate(PROBLEMS)},
    "question-in-flow.yaml": "title: t\nphrases: [Who is it?]\n",
    "tab-indent.yaml": "title: t\nphrases:\n\t- x\n",
    "empty-in-flow.yaml": "title: t\nkeywords: {terms: , min: 2}\n",
    "empty-at-end.yaml": "title: t\nphrases:",
    "unicode-error.yaml": "title: Łódź 😀\nphrases: [Łódź, 😀]\nenabled: maybe\n",
}


def load_outcome(folder: Path) -> object:
    try:
        return load_rule_set(folder)
    except RuleError as error:
        return [str(p) for p in error.problems]


@pytest.mark.parametrize("files", [PARSER_FOLDER, PARSER_ERRORS], ids=["valid", "errors"])
def test_libyaml_loads_a_folder_exactly_as_the_pure_parser(
    files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    for name, text in files.items():
        write(tmp_path, name, text)
    fast = load_outcome(tmp_path)
    with monkeypatch.context() as patch:
        without_libyaml(patch)
        pure = load_outcome(tmp_path)
    assert fast == pure
    if files is PARSER_FOLDER:
        assert isinstance(fast, RuleSet) and len(fast.rules) == 4
    else:
        assert isinstance(fast, list) and len(fast) >= len(files)


def test_rules_load_without_libyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_libyaml(monkeypatch)
    write(tmp_path, "syria.yaml", SYRIA)
    write(tmp_path, "bad.yaml", "title: t\nphrases: [x\n")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'bad.yaml'}:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]
    (tmp_path / "bad.yaml").unlink()
    assert [rule.id for rule in load_rules(tmp_path)] == ["syria"]
