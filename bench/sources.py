"""Sources at scale: 1,000 synthetic feeds x 20 items from a local server process.

    .venv/bin/python -m bench sources              # full size; writes docs/performance.md
    .venv/bin/python -m bench sources --quick      # 200 feeds, figures printed only

For each latency (none, and 100 ms added to every response) it runs, each in
a fresh client process so peak RSS and CPU belong to that run alone:

* ``ours``: the real source stage (``fetch_source`` for every feed through
  the shared client pool: sniffing, fast path, normalisation, language), a
  full cycle and then a second cycle in which every feed answers 304;
* ``reference``: the minimal pipeline the issue names, bare httpx fetch +
  lxml parse of the items, with the same concurrency and the same client
  layout (several clients of a few connections; one client at this
  concurrency is the measured trap);
* ``store``: the whole ``poll_all`` cycle (fetch, match against a few rules,
  store in SQLite with clustering), for scale; not held to the fetch targets.

The feed server is a separate process on 127.0.0.1 (asyncio, keep-alive,
pre-rendered bodies with ETags), bounded by a lifetime and stopped at the end.
Targets (from the issue): with 100 ms latency 1,000 feeds in <= 3 s, <= 2 ms
of client CPU per feed in a full cycle, the all-304 cycle <= 10% of a full
one, peak RSS < 300 MB.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Sources"
FEEDS = 1000
ITEMS = 20
CONCURRENCY = 64
#: The server process is stopped after this long whatever happens.
SERVER_LIFETIME = 600.0
USER_AGENT = "monitor-bench/1.0 (+bench@example.org)"

# ---------------------------------------------------------------------------------------------
# The feed server (a separate process)

WORDS = [
    "government",
    "port",
    "minister",
    "talks",
    "energy",
    "grid",
    "market",
    "shares",
    "court",
    "ruling",
    "election",
    "vote",
    "storm",
    "damage",
    "talks",
    "union",
    "strike",
    "bank",
    "rates",
    "inflation",
    "border",
    "troops",
    "ceasefire",
    "aid",
    "summit",
    "leaders",
    "trade",
    "deal",
    "exports",
    "harvest",
    "drought",
    "flood",
    "rescue",
    "hospital",
    "vaccine",
]


VOCABULARY = WORDS + [f"w{n}" for n in range(2000)]  # mostly distinct words, like news


def _text(seed: int, words: int = 40) -> str:
    import random

    chooser = random.Random(seed)
    return " ".join(chooser.choices(VOCABULARY, k=words))


def _feed(index: int, items: int) -> bytes:
    entries = []
    for item in range(items):
        # Every tenth item is a wire story that five feeds in a row carry (syndication).
        wire = item % 10 == 0
        words = _text(-(index // 5 * 1000 + item) if wire else index * 1000 + item)
        entries.append(
            f"<item><title>Feed {index} story {item}: {WORDS[item % len(WORDS)]} news</title>"
            f"<link>https://site{index % 50}.example.org/{index}/story-{item}</link>"
            f"<guid>https://site{index % 50}.example.org/{index}/story-{item}</guid>"
            f"<pubDate>Tue, 24 Nov 2026 {item % 24:02d}:00:00 +0000</pubDate>"
            f"<description>&lt;p&gt;{words}.&lt;/p&gt;</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {index}</title><link>https://site{index % 50}.example.org/</link>"
        f"<description>Synthetic feed</description><language>en</language>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


async def _serve(feeds: int, items: int, latency: float) -> None:
    bodies = {f"/feed/{i}".encode(): _feed(i, items) for i in range(feeds)}
    etags = {path: f'"{hash(body) & 0xFFFFFFFF:08x}"'.encode() for path, body in bodies.items()}
    ok = {
        path: b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: "
        + etags[path]
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
        for path, body in bodies.items()
    }
    not_modified = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n"
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if latency:
                    await asyncio.sleep(latency)
                match = re.search(rb"(?i)\r\nif-none-match: *([^\r]+)", head)
                if path not in ok:
                    writer.write(missing)
                elif match and match.group(1) == etags[path]:
                    writer.write(not_modified)
                else:
                    writer.write(ok[path])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.sleep(SERVER_LIFETIME)


class FeedServerProcess:
    """The feed server as a child process on 127.0.0.1; stopped on exit, whatever happens."""

    def __init__(self, feeds: int, items: int, latency: float) -> None:
        self.args = [str(feeds), str(items), str(latency)]
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> FeedServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.sources", "serve", *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------------------------------------
# The client runs (each in a fresh process)


def _usage() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _ours(port: int, feeds: int) -> dict[str, Any]:
    from monitor.config import HttpConfig, SourceConfig
    from monitor.sources import SourceState, fetch_source
    from monitor.sources.http import build_client

    sources = [
        SourceConfig(name=f"f{i}", url=f"http://127.0.0.1:{port}/feed/{i}") for i in range(feeds)
    ]
    options = HttpConfig(concurrency=CONCURRENCY, per_host=CONCURRENCY, host_delay=0.0)
    async with build_client(USER_AGENT, options) as client:
        gate = asyncio.Semaphore(CONCURRENCY * 2)

        async def one(source: SourceConfig, state: SourceState) -> Any:
            async with gate:
                return await fetch_source(client, source, state)

        # Warm up imports and lazy tables outside the measured window.
        await fetch_source(client, sources[0], SourceState())
        started, cpu = time.perf_counter(), _usage()
        results = await asyncio.gather(*(one(s, SourceState()) for s in sources))
        full = {"wall": time.perf_counter() - started, "cpu": _usage() - cpu}
        states = [r.state for r in results]
        started, cpu = time.perf_counter(), _usage()
        again = await asyncio.gather(*(one(s, st) for s, st in zip(sources, states, strict=True)))
        cached = {"wall": time.perf_counter() - started, "cpu": _usage() - cpu}
    failed = [r.error for r in results if not r.ok]
    return {
        "full": full,
        "cached": cached,
        "stories": sum(len(r.stories) for r in results),
        "errors": len(failed) + sum(not r.ok for r in again),
        "first_error": failed[0] if failed else None,
        "not_modified": sum(r.status == 304 for r in again),
    }


async def _reference(port: int, feeds: int) -> dict[str, Any]:
    import httpx
    from lxml import etree

    per_client = 4
    clients = [
        httpx.AsyncClient(limits=httpx.Limits(max_connections=per_client))
        for _ in range(CONCURRENCY // per_client)
    ]
    gates = [asyncio.Semaphore(per_client) for _ in clients]

    async def one(index: int) -> int:
        slot = index % len(clients)
        async with gates[slot]:
            response = await clients[slot].get(f"http://127.0.0.1:{port}/feed/{index}")
        root = etree.fromstring(response.content)
        return sum(
            1
            for item in root.iter("item")
            if (item.findtext("title"), item.findtext("link"), item.findtext("description"))
        )

    await one(0)
    started, cpu = time.perf_counter(), _usage()
    counts = await asyncio.gather(*(one(i) for i in range(feeds)))
    full = {"wall": time.perf_counter() - started, "cpu": _usage() - cpu}
    for client in clients:
        await client.aclose()
    return {"full": full, "stories": sum(counts)}


async def _store(port: int, feeds: int) -> dict[str, Any]:
    from monitor.config import HttpConfig, Settings, SourceConfig
    from monitor.cycle import poll_all
    from monitor.models import Rule
    from monitor.sources.http import build_client
    from monitor.store import Store

    folder = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    sources = tuple(
        SourceConfig(name=f"f{i}", url=f"http://127.0.0.1:{port}/feed/{i}") for i in range(feeds)
    )
    http = HttpConfig(concurrency=CONCURRENCY, per_host=CONCURRENCY, host_delay=0.0)
    settings = Settings(
        path=folder / "monitor.toml",
        database=folder / "monitor.db",
        rules=folder,
        sources=sources,
        http=http,
        # The synthetic stories are dated 2026-11-24; keep them all "recent".
    )
    settings = _recent(settings)
    rules = [
        Rule(id="strike", title="Strike", path="strike.yaml", phrases=("union strike",)),
        Rule(id="energy", title="Energy", path="energy.yaml", phrases=("energy grid",)),
    ]
    store = Store.open(settings.database)
    try:
        async with build_client(USER_AGENT, http) as client:
            started, cpu = time.perf_counter(), _usage()
            reports = await poll_all(settings, rules, store, client)
            full = {"wall": time.perf_counter() - started, "cpu": _usage() - cpu}
            started, cpu = time.perf_counter(), _usage()
            again = await poll_all(settings, rules, store, client)
            cached = {"wall": time.perf_counter() - started, "cpu": _usage() - cpu}
        stored = store.conn.execute("SELECT count(*) FROM stories").fetchone()[0]
    finally:
        store.close()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return {
        "full": full,
        "cached": cached,
        "stories": stored,
        "errors": sum(not r.ok for r in reports) + sum(not r.ok for r in again),
    }


def _recent(settings: Any) -> Any:
    from dataclasses import replace

    age = datetime.now(UTC) - datetime(2026, 11, 24, tzinfo=UTC) + timedelta(days=7)
    return replace(settings, sources=tuple(replace(s, max_age=age) for s in settings.sources))


def _client(mode: str, port: int, feeds: int) -> None:
    run = {"ours": _ours, "reference": _reference, "store": _store}[mode]
    result = asyncio.run(run(port, feeds))
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _measure(mode: str, port: int, feeds: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.sources", "client", mode, str(port), str(feeds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SERVER_LIFETIME,
        check=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------------------------
# Report


def _row(name: str, feeds: int, run: dict[str, Any], key: str = "full") -> str:
    wall, cpu = run[key]["wall"], run[key]["cpu"]
    stories = run["stories"] if key == "full" else 0
    rate = f"{stories / wall:,.0f}" if stories else "-"
    return (
        f"| {name} | {wall:.2f} s | {cpu / feeds * 1000:.2f} ms | {rate} | "
        f"{run['peak_rss_mb']:.0f} MB |"
    )


def report(feeds: int, results: dict[float, dict[str, dict[str, Any]]]) -> str:
    lines = [
        SECTION,
        "",
        f"`make bench` (bench/sources.py): {feeds:,} synthetic RSS feeds x {ITEMS} items served "
        "by a separate asyncio process on 127.0.0.1, fetched with a concurrency of "
        f"{CONCURRENCY} through the shared client pool ({CONCURRENCY // 2} httpx clients of 2 "
        "connections). Each run is a fresh client process, so CPU (user + system, measured "
        "over the cycle only) and peak RSS are its own. 2-core machine; the server shares it.",
        "",
    ]
    for latency, runs in sorted(results.items()):
        ours, ref, store = runs["ours"], runs["reference"], runs.get("store")
        lines += [
            f"Added latency per response: {latency * 1000:.0f} ms",
            "",
            "| run | wall | client CPU per feed | stories/s | peak RSS |",
            "| --- | --- | --- | --- | --- |",
            _row("sources, full cycle", feeds, ours),
            _row("sources, all-304 cycle", feeds, ours, "cached"),
            _row("reference (httpx + lxml)", feeds, ref),
        ]
        if store:
            lines.append(_row("whole cycle (poll_all: + match + SQLite)", feeds, store))
            lines.append(_row("whole cycle, all 304", feeds, store, "cached"))
        share = ours["cached"]["wall"] / ours["full"]["wall"]
        lines += [
            "",
            f"All-304 source stage: {share:.0%} of the full one's wall time and "
            f"{ours['cached']['cpu'] / ours['full']['cpu']:.0%} of its CPU "
            f"({ours['not_modified']:,} of {feeds:,} answered 304); errors: {ours['errors']}.",
        ]
        if store:
            lines.append(
                f"All-304 whole cycle: {store['cached']['wall'] / store['full']['wall']:.0%} of "
                f"the full one's wall time, {store['cached']['cpu'] / store['full']['cpu']:.0%} "
                f"of its CPU; errors: {store['errors']}."
            )
        lines.append("")
    slow = results.get(0.1)
    if slow:
        ours, store = slow["ours"], slow["store"]
        lines += [
            "Against the targets (100 ms latency): "
            f"wall {ours['full']['wall']:.2f} s (target <= 3 s); "
            f"client CPU {ours['full']['cpu'] / feeds * 1000:.2f} ms per feed in the source "
            "stage (target <= 2 ms); the all-304 cycle is "
            f"{store['cached']['wall'] / store['full']['wall']:.0%} of a whole full cycle "
            "(target <= 10%), but only "
            f"{ours['full']['wall'] / ours['cached']['wall']:.1f}x faster than a full source "
            "stage: with 100 ms per response both are bound by round trips, and a 304 "
            "costs about as much HTTP work as a 200; peak RSS "
            f"{max(run['peak_rss_mb'] for run in slow.values()):.0f} MB (target < 300 MB).",
            "",
        ]
    lines += [
        "Where the time goes, and the choices it led to:",
        "",
        "- One httpx client slows sharply as its concurrency grows (httpcore re-checks every "
        "pooled connection for every waiting request); 1,000 fetches cost ~1.5 ms of CPU each "
        "through one client with 10-20 connections and ~0.7 ms through 16-25 clients of 2-4, "
        "so the pool spreads requests over small clients (monitor/sources/http.py).",
        "- feedparser costs ~8 ms of CPU per 20-item feed; plain RSS 2.0 and Atom 1.0 go "
        "through an lxml fast path, proven equal to feedparser on the test corpus "
        "(tests/test_sources_formats.py), with feedparser as the fallback for everything else.",
        "- Language detection is a function-word and script detector (~15 us a story) rather "
        "than a statistical model (py3langid: ~45 us a story and ~1 s to load its model).",
        "- The whole cycle's extra cost is storing and matching 20,000 new stories: one SQLite "
        "transaction per story with its FTS5 index and MinHash bands, and the rules; a "
        "steady-state cycle stores only what is new. The machine is shared with other work: "
        "figures move by +-30% between runs.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or add) the "Sources" section of docs/performance.md."""
    current = DOC.read_text() if DOC.exists() else "# Performance\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip() + "\n\n", current)
    else:
        updated = current.rstrip() + "\n\n" + text.rstrip() + "\n"
    DOC.write_text(updated.rstrip() + "\n")


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    feeds = 200 if quick else FEEDS
    results: dict[float, dict[str, dict[str, Any]]] = {}
    for latency in (0.0, 0.1):
        results[latency] = {}
        with FeedServerProcess(feeds, ITEMS, latency) as server:
            for mode in ("ours", "reference", "store"):
                results[latency][mode] = _measure(mode, server.port, feeds)
                print(f"latency {latency:.1f}s {mode}: {results[latency][mode]}", file=sys.stderr)
    text = report(feeds, results)
    print(text)
    if quick:
        print("quick run: docs/performance.md left as it is", file=sys.stderr)
    else:
        write_section(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        feeds, items, latency = sys.argv[2:5]
        asyncio.run(_serve(int(feeds), int(items), float(latency)))
    elif sys.argv[1:2] == ["client"]:
        mode, port, feeds = sys.argv[2:5]
        _client(mode, int(port), int(feeds))
    else:
        main(sys.argv[1:])
