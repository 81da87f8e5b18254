"""The query-string language, one case per rule of the grammar.

Each row is a query as an analyst would write it and the condition tree it
compiles to (or the error and the column it points at). The module docstring of
``monitor.rules.query`` is the prose version of this table.
"""

from __future__ import annotations

import pytest

from monitor.models import And, Condition, Near, Not, Or, PhraseLeaf
from monitor.rules.query import QuerySyntaxError, parse_query


def p(text: str, *fields: str) -> PhraseLeaf:
    return PhraseLeaf(text, fields or None)


def all_(*children: Condition) -> And:
    return And(children)


def any_(*children: Condition) -> Or:
    return Or(children)


TITLE = ("title",)

PARSES = [
    # Terms
    ("Putin", p("Putin")),
    ('"Tartus naval base"', p("Tartus naval base")),
    ("“Tartus naval base”", p("Tartus naval base")),
    ("„Tartus naval base“", p("Tartus naval base")),
    ('"Tartus   naval\n base"', p("Tartus naval base")),
    ("al-Assad Kremlin's", all_(p("al-Assad"), p("Kremlin's"))),
    ('"OR"', p("OR")),
    # Lower-case operator words are ordinary words
    ("Putin or Assad", all_(p("Putin"), p("or"), p("Assad"))),
    ("Syria not Iraq", all_(p("Syria"), p("not"), p("Iraq"))),
    # Wildcards
    ("sanction*", p("sanction*")),
    ('"economic sanction*"', p("economic sanction*")),
    ("abc*", p("abc*")),
    # AND, explicit and implicit
    ("Putin AND Assad", all_(p("Putin"), p("Assad"))),
    ("Tartus naval base", all_(p("Tartus"), p("naval"), p("base"))),
    ('Russia "naval base"', all_(p("Russia"), p("naval base"))),
    ("Putin(Assad)", all_(p("Putin"), p("Assad"))),
    # OR
    ("Tartus OR Hmeimim", any_(p("Tartus"), p("Hmeimim"))),
    # NOT, in all its spellings
    ("NOT football", Not(p("football"))),
    ("-football", Not(p("football"))),
    ("Syria AND NOT football", all_(p("Syria"), Not(p("football")))),
    ("Syria NOT football", all_(p("Syria"), Not(p("football")))),
    ("Syria -football", all_(p("Syria"), Not(p("football")))),
    ("Syria -(football OR cricket)", all_(p("Syria"), Not(any_(p("football"), p("cricket"))))),
    ("Syria -title:football", all_(p("Syria"), Not(p("football", "title")))),
    ("NOT NOT Syria", Not(Not(p("Syria")))),
    # NEAR
    ("Putin NEAR/10 Assad", Near(("Putin", "Assad"), 10)),
    ("Putin NEAR Assad", Near(("Putin", "Assad"), 10)),
    ('"Vladimir Putin" NEAR/3 sanction*', Near(("Vladimir Putin", "sanction*"), 3)),
    ("Putin NEAR/5 Assad NEAR/5 Tartus", Near(("Putin", "Assad", "Tartus"), 5)),
    ("Putin NEAR Assad NEAR/10 Tartus", Near(("Putin", "Assad", "Tartus"), 10)),
    ("Putin NEAR/05 Assad", Near(("Putin", "Assad"), 5)),
    # Precedence: NEAR, then NOT, then AND (explicit, implicit, binary NOT), then OR
    ("A OR B AND C", any_(p("A"), all_(p("B"), p("C")))),
    ("A AND B OR C", any_(all_(p("A"), p("B")), p("C"))),
    ("A OR B C", any_(p("A"), all_(p("B"), p("C")))),
    ("A OR B NOT C", any_(p("A"), all_(p("B"), Not(p("C"))))),
    ("NOT A OR B", any_(Not(p("A")), p("B"))),
    ("NOT A B", all_(Not(p("A")), p("B"))),
    ("NOT Putin NEAR/5 Assad", Not(Near(("Putin", "Assad"), 5))),
    ("-Putin NEAR/5 Assad", Not(Near(("Putin", "Assad"), 5))),
    ("Putin NEAR/5 Assad Damascus", all_(Near(("Putin", "Assad"), 5), p("Damascus"))),
    ("A NEAR B OR C", any_(Near(("A", "B"), 10), p("C"))),
    ("(A OR B) AND C", all_(any_(p("A"), p("B")), p("C"))),
    # Flattening: nested ANDs and ORs of one kind merge; a group of one unwraps
    ("(A AND B) AND C", all_(p("A"), p("B"), p("C"))),
    ("A AND (B AND (C D))", all_(p("A"), p("B"), p("C"), p("D"))),
    ("(A OR B) OR (C OR D)", any_(p("A"), p("B"), p("C"), p("D"))),
    ("((Putin))", p("Putin")),
    ("(A OR B) (C OR D)", all_(any_(p("A"), p("B")), any_(p("C"), p("D")))),
    # Field prefixes
    ("title:Assad", p("Assad", "title")),
    ("summary:Assad", p("Assad", "summary")),
    ("body:Assad", p("Assad", "body")),
    ("text:Assad", p("Assad")),
    ("Title:Assad", p("Assad", "title")),
    ('title:"Bashar al-Assad"', p("Bashar al-Assad", "title")),
    ("title:sanction*", p("sanction*", "title")),
    ("title:(Assad OR Putin)", any_(p("Assad", "title"), p("Putin", "title"))),
    (
        "title:(Assad AND NOT (football OR cricket))",
        all_(p("Assad", "title"), Not(any_(p("football", "title"), p("cricket", "title")))),
    ),
    ("title:(Putin NEAR/10 Assad)", Near(("Putin", "Assad"), 10, TITLE)),
    ("title:Assad Putin", all_(p("Assad", "title"), p("Putin"))),
    ("title:(Assad OR body:Putin)", any_(p("Assad", "title"), p("Putin", "body"))),
    ("title:(Assad OR text:Putin)", any_(p("Assad", "title"), p("Putin"))),
    ("10:30 Damascus", all_(p("10:30"), p("Damascus"))),
    # Whitespace around the query does not matter
    ("  \n Putin \n", p("Putin")),
]


@pytest.mark.parametrize(("query", "expected"), PARSES, ids=[q for q, _ in PARSES])
def test_parses(query: str, expected: Condition) -> None:
    assert parse_query(query) == expected


def test_the_worked_example() -> None:
    query = '("Tartus" OR "Hmeimim") AND (Putin NEAR/10 Assad) AND NOT football'
    assert parse_query(query) == And(
        (
            Or((PhraseLeaf("Tartus"), PhraseLeaf("Hmeimim"))),
            Near(("Putin", "Assad"), 10),
            Not(PhraseLeaf("football")),
        )
    )


def test_equal_queries_compare_and_hash_equal() -> None:
    spaced = parse_query("( Tartus  OR Hmeimim ) Russia")
    explicit = parse_query("(Tartus OR Hmeimim) AND Russia")
    assert spaced == explicit
    assert hash(spaced) == hash(explicit)


# (query, column, message): the column is 1-based; past the end means "end of query".
ERRORS = [
    ("", 1, "empty query"),
    ("   ", 1, "empty query"),
    ("(Putin OR Assad", 16, "expected ')' to close '(' opened at column 1"),
    ("Syria (Putin OR (Assad)", 24, "expected ')' to close '(' opened at column 7"),
    ("Putin)", 6, "unexpected ')' with no '(' before it"),
    ("Putin AND", 10, "unexpected end of query after AND"),
    ("Putin OR  ", 9, "unexpected end of query after OR"),
    ("Putin NOT", 10, "unexpected end of query after NOT"),
    ("Putin NEAR", 11, "unexpected end of query after NEAR"),
    (
        "AND Putin",
        1,
        "expected a word, quoted phrase or '(' at the start of the query, found AND",
    ),
    ("Putin OR OR Assad", 10, "expected a word, quoted phrase or '(' after OR, found OR"),
    ("Putin AND OR Assad", 11, "expected a word, quoted phrase or '(' after AND, found OR"),
    ("()", 2, "expected a word, quoted phrase or '(' after '(', found ')'"),
    ("title:-Assad", 7, "expected a word, quoted phrase or '(' after title:, found '-'"),
    ("Putin NEAR/x Assad", 12, "NEAR/n needs a number: NEAR/10"),
    ("Putin NEAR/ Assad", 12, "NEAR/n needs a number: NEAR/10"),
    ("Putin NEAR/0 Assad", 12, "NEAR/n needs a distance of at least 1 word: NEAR/10"),
    ("Putin near/10 Assad", 7, "operators are upper-case: write NEAR/10"),
    (
        "Putin NEAR/5 Assad NEAR/10 Tartus",
        20,
        "NEAR/10 after NEAR/5 at column 7: a chain of NEARs needs one distance; "
        "join pairs with AND, as in (A NEAR/5 B) AND (B NEAR/10 C)",
    ),
    (
        "Putin NEAR Assad NEAR/5 Tartus",
        18,
        "NEAR/5 after NEAR/10 at column 7: a chain of NEARs needs one distance; "
        "join pairs with AND, as in (A NEAR/5 B) AND (B NEAR/10 C)",
    ),
    (
        "(Putin OR Medvedev) NEAR/5 Assad",
        21,
        "NEAR/5 needs a word or quoted phrase on its left, not a group or a field prefix; "
        "for one field write title:(Putin NEAR/10 Assad)",
    ),
    (
        "title:Putin NEAR/5 Assad",
        13,
        "NEAR/5 needs a word or quoted phrase on its left, not a group or a field prefix; "
        "for one field write title:(Putin NEAR/10 Assad)",
    ),
    (
        "Putin NEAR/5 (Assad OR Tartus)",
        14,
        "expected a word or quoted phrase after NEAR/5, found '('",
    ),
    ("Putin NEAR/5 -Assad", 14, "expected a word or quoted phrase after NEAR/5, found '-'"),
    (
        "sa*",
        1,
        "wildcard 'sa*' is too broad: put at least 3 letters before *, as in sanction*",
    ),
    (
        'Syria "Bashar *"',
        7,
        'wildcard "Bashar *" is too broad: put at least 3 letters before *, as in sanction*',
    ),
    ("Syria sanc*ion", 11, "* can only end a term, as in sanction*"),
    ('"economic* sanctions"', 10, "* can only end a term, as in sanction*"),
    ('Syria "Tartus', 14, "expected a closing quote for the phrase opened at column 7"),
    ('Syria ""', 7, "empty phrase: put words between the quotes"),
    ("Syria - football", 7, "put the word to exclude right after '-', as in -football"),
    (
        "site:reuters.com",
        1,
        "unknown field 'site': use title:, summary:, body: or text:",
    ),
    (
        "title: Assad",
        7,
        "put the term right after title: with no space, "
        'as in title:Assad or title:"Bashar al-Assad"',
    ),
    (
        "Putin && Assad",
        7,
        "'&&' has no letters or digits to match; "
        "the operators are AND, OR, NOT and NEAR/n, in capitals",
    ),
]


@pytest.mark.parametrize(("query", "column", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(query: str, column: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert (caught.value.column, caught.value.message) == (column, message)


def test_error_is_a_value_error_that_names_the_column() -> None:
    with pytest.raises(ValueError, match=r"^column 10: unexpected end of query after AND$"):
        parse_query("Putin AND")
