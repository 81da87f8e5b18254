"""The offline demo (`make run`) shows the alerts examples/README.md promises, whatever the date.

The README's "Expected results" table is the specification: each row that says
"yes" must print one console alert per rule it names, with the reasons, and no
other story may alert. The demo runs as `make run` runs it, from a copy of the
repository's examples/ and rules/ (so no demo.db is left in the checkout).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from harness import run_monitor

ROOT = Path(__file__).parent.parent
ROW = re.compile(r"^\| (\w+) \| (.+?) \| (.+?) \| (yes|no[^|]*) \|", re.MULTILINE)


def expected_alerts() -> tuple[set[tuple[str, str]], set[str]]:
    """(rule id, story title) pairs that must alert, and the titles that must not."""
    table = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    alerts: set[tuple[str, str]] = set()
    quiet: set[str] = set()
    for _feed, title, rules, verdict in ROW.findall(table):
        if verdict == "yes":
            alerts.update((rule.strip(), title) for rule in rules.split(","))
        elif verdict == "no":
            quiet.add(title)
    return alerts, quiet


def run_demo(tmp_path: Path) -> tuple[str, str]:
    if not (tmp_path / "rules").exists():
        shutil.copytree(ROOT / "examples" / "feeds", tmp_path / "examples" / "feeds")
        shutil.copy(ROOT / "examples" / "demo.toml", tmp_path / "examples" / "demo.toml")
        shutil.copytree(ROOT / "rules", tmp_path / "rules")
    done = run_monitor("run", "--once", "--config", "examples/demo.toml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_the_demo_prints_each_expected_alert_with_its_reasons(tmp_path: Path) -> None:
    alerts, quiet = expected_alerts()
    assert len(alerts) == 17 and len(quiet) > 10  # the table was read

    out, log = run_demo(tmp_path)

    printed = re.findall(r"^Rule: .* \[([\w-]+)\]\nStory: (.+)\n", out, re.MULTILINE)
    assert sorted(printed) == sorted(alerts)
    assert out.count("\nMatched: ") + out.startswith("Matched: ") == len(alerts)
    assert not quiet & {title for _, title in printed}
    assert "deliveries_skipped" not in log  # the fixed-date stories are not too old to alert
    assert "event=cycle_done sources=4 failed=0 new_stories=30 hits=17 sent=17" in log


def test_a_second_run_prints_nothing_new(tmp_path: Path) -> None:
    run_demo(tmp_path)
    out, log = run_demo(tmp_path)
    assert out == ""
    assert "new_stories=0 hits=0 sent=0" in log
