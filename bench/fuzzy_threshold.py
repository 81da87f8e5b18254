"""How the keyword threshold trades recall for precision, measured on name pairs.

Each pair is a keyword term as an analyst would write it and a spelling a story
might use. Positives are the same name or word in another transliteration or
spelling (the story should match); negatives are a different place, person or
word that merely looks alike (it should not). Every pair goes through the real
matcher (``keyword_matches``), so folding, the exact match for short terms and
the word-window comparison all count, just as they do for a rule.

    .venv/bin/python bench/fuzzy_threshold.py            # the table for docs/rules.md
    .venv/bin/python bench/fuzzy_threshold.py --pairs    # every pair's score

docs/rules.md quotes the table; tests/test_docs_rules.py checks it is current.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from monitor.matching.document import prepare
from monitor.matching.evaluate import keyword_matches
from monitor.models import KeywordSet, Story

THRESHOLDS = (70, 75, 80, 85, 90, 95)

#: (rule term, story spelling): the same name, spelled another way.
POSITIVES = (
    ("Hmeimim", "Khmeimim"),
    ("Tartus", "Tartous"),
    ("Zelensky", "Zelenskyy"),
    ("Zelensky", "Zelenskiy"),
    ("Erdogan", "Erdoğan"),
    ("Gaddafi", "Qaddafi"),
    ("Gaddafi", "Gadhafi"),
    ("Gaddafi", "Kadhafi"),
    ("Kyiv", "Kiev"),
    ("Al-Qaeda", "Al-Qaida"),
    ("Al-Qaeda", "al Qaeda"),
    ("Hezbollah", "Hizbollah"),
    ("Hezbollah", "Hizballah"),
    ("Houthis", "Huthis"),
    ("Taliban", "Taleban"),
    ("Kharkiv", "Kharkov"),
    ("Odesa", "Odessa"),
    ("Luhansk", "Lugansk"),
    ("Zaporizhzhia", "Zaporizhia"),
    ("Zaporizhzhia", "Zaporozhye"),
    ("Latakia", "Lattakia"),
    ("Raqqa", "Raqqah"),
    ("Idlib", "Idleb"),
    ("Tehran", "Teheran"),
    ("Mohammed", "Muhammad"),
    ("Mohammed", "Mohamed"),
    ("Navalny", "Nawalny"),
    ("Peskov", "Peskow"),
    ("Shoigu", "Shoygu"),
    ("Yanukovych", "Yanukovich"),
    ("Tymoshenko", "Timoshenko"),
    ("Netanyahu", "Netanjahu"),
    ("Khamenei", "Khamenai"),
    ("Nasrallah", "Nasrullah"),
    ("Medvedev", "Medwedew"),
    ("Putin", "Poutine"),
    ("Bashar al-Assad", "Bashar al-Asad"),
    ("Tartus naval base", "Tartous naval base"),
    ("military base", "military bases"),
    ("airbase", "airbases"),
    ("ceasefire", "ceasefires"),
    ("tariffs", "tariff"),
)

#: (rule term, story word): a different thing that looks alike.
NEGATIVES = (
    ("Tartus", "Tarsus"),
    ("Tartu", "Tartus"),
    ("sanctions", "sanctioned"),
    ("Austria", "Australia"),
    ("Slovenia", "Slovakia"),
    ("Niger", "Nigeria"),
    ("Gambia", "Zambia"),
    ("Hamas", "Hama"),
    ("Mosul", "Mosel"),
    ("Iran", "Iraq"),
    ("Ankara", "Angara"),
    ("Donetsk", "Donets"),
    ("Medvedev", "Medvedchuk"),
    ("Lavrov", "Lavrova"),
    ("Sudan", "Sedan"),
    ("Serbia", "Syria"),
    ("Haftar", "Hafiz"),
    ("Marines", "Marinas"),
    ("missile", "missive"),
    ("election", "selection"),
    ("protest", "pretest"),
    ("Crimea", "crime"),
    ("strike", "stroke"),
    ("drone", "drove"),
    ("troops", "tropes"),
    ("nuclear", "unclear"),
    ("embassy", "embase"),
    ("North Korea", "South Korea"),
    ("West Bank", "World Bank"),
    ("New Delhi", "New Deal"),
    ("Black Sea", "Black Sun"),
)

_WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def score(term: str, text: str, threshold: float) -> float | None:
    """The matcher's score for ``term`` in a story whose body is ``text``, or None."""
    story = Story("bench", "", "", "", "", text, _WHEN, _WHEN)
    found = keyword_matches(KeywordSet((term,), threshold), prepare(story))
    return found[0].score if found else None


def counts(threshold: float) -> tuple[int, int]:
    """(true positives, false positives) at ``threshold``."""
    true = sum(score(term, text, threshold) is not None for term, text in POSITIVES)
    false = sum(score(term, text, threshold) is not None for term, text in NEGATIVES)
    return true, false


def table() -> str:
    """The precision/recall table, as Markdown (F1 weighs both equally)."""
    lines = [
        "| threshold | variants caught | look-alikes caught | precision | recall | F1 |",
        "| --------: | --------------: | -----------------: | --------: | -----: | -: |",
    ]
    for threshold in THRESHOLDS:
        true, false = counts(threshold)
        precision = true / (true + false) if true + false else 1.0
        recall = true / len(POSITIVES)
        f1 = 2 * precision * recall / (precision + recall) if true else 0.0
        lines.append(
            f"| {threshold} | {true}/{len(POSITIVES)} | {false}/{len(NEGATIVES)} "
            f"| {precision:.2f} | {recall:.2f} | {f1:.2f} |"
        )
    return "\n".join(lines)


def pairs() -> str:
    """Every pair with the score it gets with no threshold at all."""
    rows = []
    for label, group in (("+", POSITIVES), ("-", NEGATIVES)):
        for term, text in group:
            found = score(term, text, 0)
            shown = "exact only" if found is None else f"{found:5.1f}"
            rows.append(f"{label} {term:<14} {text:<14} {shown}")
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    print(pairs() if "--pairs" in argv else table())


if __name__ == "__main__":
    main(sys.argv[1:])
