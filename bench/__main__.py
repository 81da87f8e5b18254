"""`make bench`: run the benchmarks; each writes its figures into docs/performance.md.

    .venv/bin/python -m bench            # every benchmark
    .venv/bin/python -m bench history    # one, by name

A benchmark is a module in this folder with ``main(argv: list[str]) -> None``;
add it to ``BENCHMARKS``. They are not tests: they take minutes and need disk.
"""

from __future__ import annotations

import importlib
import sys

#: name -> module; run in this order.
BENCHMARKS = {
    "history": "bench.history",
    "sources": "bench.sources",
    "matching": "bench.matching",
}


def main(argv: list[str]) -> None:
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}")
    options = [a for a in argv if a.startswith("-")]
    for name in names:
        importlib.import_module(BENCHMARKS[name]).main(options)


if __name__ == "__main__":
    main(sys.argv[1:])
