"""Where benchmarks write their results: one section each of docs/performance.md."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def write_section(heading: str, text: str, doc: Path = DOC) -> None:
    """Replace the section that starts with ``heading`` (or add it at the end)."""
    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _: text, old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    doc.parent.mkdir(exist_ok=True)
    doc.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
