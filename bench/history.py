"""Hit history at scale: 1,000,000 stories and 2,000,000 hits, queried by whole processes.

Generates a database with the real schema (migrations, triggers, FTS) into a
temporary folder, then times

* `monitor hits --rule X --since 24h --limit 50`,
* `monitor hits --search Assad --limit 50`,
* `monitor stats --since 30d`,
* `monitor hits show ID`,

each as a whole process (interpreter start included; median and slowest of 5
runs after a warm-up), and cycles of 20,000 new stories with their hits and
deliveries written the way ``cycle.poll_source`` writes them. The figures
replace the "Hit history" section of docs/performance.md.

    .venv/bin/python -m bench history                    # the full run (about 6 minutes)
    .venv/bin/python -m bench history --stories=100000   # a quick look; docs untouched
    .venv/bin/python -m bench history --writes --database=/tmp/history.db
        # only the write cycles, on a copy of a database generated once (and kept) at
        # that path; docs untouched
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stderr
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.docs import write_section as write_doc_section
from monitor import dedupe
from monitor.cycle import Matched, store_stories
from monitor.log import LOGGER, configure
from monitor.models import Hit, Match, Rule, Story
from monitor.store import Store
from monitor.store.clusters import WINDOW
from monitor.store.db import matches_to_json
from monitor.store.schema import DAILY_COUNTS_BACKFILL
from monitor.timeutil import isoformat

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Hit history"
STORIES = 1_000_000
HITS_PER_STORY = (0, 0, 1, 2, 2, 3, 4, 4)  # mean 2: 2,000,000 hits for 1,000,000 stories
DAYS = 90
SOURCES = 200
RULES = 50
RULE = "watch-04"  # the rule `monitor hits --rule` asks for: 5th busiest
CYCLE = 20_000
POLL = 100  # new stories per source poll, stored in one transaction
RUNS = 10
BATCH = 50_000
LIMIT_MS = 300
CYCLE_LIMIT_S = 5.0
WRITE_RUNS = 3

#: Names and the share of stories that mention them; "Assad" is what --search looks for.
NAMES = {
    "Assad": 0.015,
    "Putin": 0.05,
    "Zelensky": 0.04,
    "Erdogan": 0.02,
    "Netanyahu": 0.03,
    "Lagarde": 0.01,
    "Tartus": 0.004,
    "Hmeimim": 0.002,
}


def _words(rng: random.Random, count: int) -> list[str]:
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    return ["".join(rng.choices(letters, weights, k=rng.randint(2, 10))) for _ in range(count)]


class Generator:
    """Deterministic stories, hits and deliveries spread over the last ``DAYS`` days."""

    def __init__(self, stories: int, now: datetime, seed: int = 6, fresh: bool = False) -> None:
        self.rng = random.Random(seed)
        self.stories = stories
        self.start = now - timedelta(days=DAYS)
        self.vocabulary = _words(self.rng, 20_000)
        # Bulk text is cut from one long stream of words, far faster than word by
        # word; ``fresh`` text is drawn word by word, so no two stories look like
        # syndicated copies of each other (the cycle clusters its stories).
        self.fresh = fresh
        self.stream = self.rng.choices(self.vocabulary, k=1_000_000)
        self.sources = [f"outlet-{n:03d}" for n in range(SOURCES)]
        # A few noisy rules and a long tail, like real watch lists.
        self.rules = [f"watch-{n:02d}" for n in range(RULES)]
        self.rule_weights = [1 / (n + 1) for n in range(RULES)]
        self.explanations = {
            rule: matches_to_json(
                [
                    Match("entity", f"Person {rule}", f"Person {rule}", "summary", 40, 55),
                    Match("keyword", "military base", "military bases", "body", 310, 324, 92.9),
                ]
            )
            for rule in self.rules
        }

    def text(self, words: int) -> list[str]:
        if self.fresh:
            return self.rng.choices(self.vocabulary, k=words)
        at = self.rng.randrange(len(self.stream) - words)
        return self.stream[at : at + words]

    def story_row(self, story_id: int) -> tuple[object, ...]:
        """One ``stories`` row, its cluster numbered like the story."""
        rng = self.rng
        fetched = self.start + timedelta(seconds=DAYS * 86400 * story_id / (self.stories + 1))
        published = fetched - timedelta(minutes=rng.randint(1, 360))
        source = self.sources[int(rng.paretovariate(1.2)) % SOURCES]
        url = f"https://{source}.example.org/{story_id}"
        title, summary = self.text(rng.randint(8, 14)), self.text(rng.randint(20, 40))
        for name, share in NAMES.items():
            if rng.random() < share:
                words = title if rng.random() < 0.5 else summary
                words[rng.randrange(len(words))] = name
        body = " ".join(self.text(rng.randint(150, 300))) if rng.random() < 0.2 else ""
        return (
            story_id,
            story_id,
            source,
            url,
            url,
            f"urn:bench:{story_id}",
            " ".join(title).capitalize(),
            " ".join(summary),
            body,
            isoformat(published),
            isoformat(fetched),
        )

    def batches(self) -> Iterator[tuple[list[tuple[object, ...]], ...]]:
        """(clusters, stories, hits, deliveries) rows, ``BATCH`` stories at a time."""
        rng = self.rng
        hit_id = 0
        for first in range(1, self.stories + 1, BATCH):
            clusters, stories, hits, deliveries = [], [], [], []
            for story_id in range(first, min(first + BATCH, self.stories + 1)):
                row = self.story_row(story_id)
                stories.append(row)
                fetched_at = str(row[10])
                clusters.append((story_id, row[6], fetched_at))
                count = HITS_PER_STORY[story_id % len(HITS_PER_STORY)]
                picked: set[str] = set()
                while len(picked) < count:
                    picked.add(rng.choices(self.rules, self.rule_weights)[0])
                for rule in sorted(picked):
                    hit_id += 1
                    roll = rng.random()
                    severity = "high" if roll < 0.1 else "info" if roll < 0.2 else "normal"
                    explanation = self.explanations[rule]
                    hits.append(
                        (hit_id, rule, rule, story_id, story_id, severity, explanation, fetched_at)
                    )
                    roll = rng.random()
                    status = "sent" if roll < 0.97 else "failed" if roll < 0.99 else "pending"
                    channel = "slack" if rng.random() < 0.7 else "email"
                    error = "HTTP 500 from Slack" if status == "failed" else None
                    deliveries.append(
                        (hit_id, channel, "#desk", status, 1, error, fetched_at, fetched_at)
                    )
            yield clusters, stories, hits, deliveries


def generate(path: Path, stories: int, now: datetime) -> tuple[int, float]:
    """Fill a new database at ``path``; returns (hits written, seconds taken).

    A bulk load, as one would restore a dump: the schema comes from the real
    migrations; its indexes and triggers are set aside while the rows go in,
    then rebuilt, the full-text index (then merged into one segment) and the
    per-day counts included, so the result is the database the daemon would
    have written row by row.
    """
    started = time.perf_counter()
    Store.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # generation only; the timed runs use the defaults
    conn.execute("PRAGMA cache_size = -2000000")
    aside = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL AND tbl_name IN ('clusters', 'stories', 'hits', 'deliveries')"
    ).fetchall()
    for kind, name, _ in aside:
        conn.execute(f"DROP {kind} {name}")
    gen = Generator(stories, now)
    conn.executemany("INSERT INTO sources (name) VALUES (?)", [(s,) for s in gen.sources])
    hits = 0
    for clusters, story_rows, hit_rows, delivery_rows in gen.batches():
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO clusters (id, title, first_seen_at) VALUES (?, ?, ?)", clusters
        )
        conn.executemany(
            "INSERT INTO stories (id, cluster_id, source, url, canonical_url, guid, title, "
            "summary, body, published_at, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            story_rows,
        )
        conn.executemany(
            "INSERT INTO hits (id, rule, rule_title, story_id, cluster_id, severity, matches, "
            "matched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            hit_rows,
        )
        conn.executemany(
            "INSERT INTO deliveries (hit_id, channel, target, status, attempts, last_error, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            delivery_rows,
        )
        conn.execute("COMMIT")
        hits += len(hit_rows)
        _progress(f"{story_rows[-1][0]:>9,} stories, {hits:>9,} hits")
    _progress("indexes")
    conn.execute("BEGIN")
    for _, _, sql in (row for row in aside if row[0] == "index"):
        conn.execute(sql)
    _progress("full-text index")
    conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('rebuild')")
    # A rebuild leaves many segments waiting to be merged (far more than the
    # daemon's writes ever do, with crisismerge at 64); merged now, as after a
    # restore, the timed cycles pay for their own segments' merges, not for the bulk load's.
    conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('optimize')")
    _progress("per-day counts")
    for sql in DAILY_COUNTS_BACKFILL:
        conn.execute(sql)
    for _, _, sql in (row for row in aside if row[0] == "trigger"):
        conn.execute(sql)
    conn.execute("COMMIT")
    _progress("syndication signatures")
    add_signatures(conn, now)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(file=sys.stderr)
    return hits, time.perf_counter() - started


def add_signatures(conn: sqlite3.Connection, now: datetime) -> None:
    """The syndication signatures of the stories of the clustering window.

    What a new story is compared with (the store indexes their band keys in
    memory when it first looks one up).
    """
    rows = conn.execute(
        "SELECT id, body, summary FROM stories WHERE fetched_at >= ? ORDER BY id",
        [isoformat(now - WINDOW)],
    ).fetchall()
    signatures = [(story_id, dedupe.signature(body or summary)) for story_id, body, summary in rows]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO story_minhash (story_id, signature) VALUES (?, ?)",
        [row for row in signatures if row[1] is not None],
    )
    conn.execute("COMMIT")


def _progress(text: str) -> None:
    print(f"  {text:<40}", file=sys.stderr, end="\r", flush=True)


def time_commands(commands: list[list[str]], config: Path) -> list[tuple[list[float], list[float]]]:
    """Wall and CPU milliseconds of each ``monitor ARGS`` as a whole process, ``RUNS`` times.

    The commands take turns (one warm-up round first), so load from anything
    else on the machine falls on all of them alike. CPU time (user + system of
    the process) barely depends on that load, wall time does.
    """
    script = Path(sys.executable).with_name("monitor")
    monitor = [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]
    env = {**os.environ, "COLUMNS": "120"}
    times: list[tuple[list[float], list[float]]] = [([], []) for _ in commands]
    for round_ in range(RUNS + 1):
        for n, args in enumerate(commands):
            command = [*monitor, *args] + (
                [] if args == ["--version"] else ["--config", str(config)]
            )
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
            wall = (time.perf_counter() - started) * 1000
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
            if round_:
                times[n][0].append(wall)
                times[n][1].append(cpu)
    return times


def cycle_work(
    now: datetime, seed: int, count: int = CYCLE
) -> list[tuple[Story, list[Hit], str, bytes | None]]:
    """New stories with their hits, content hash and signature, made up front:
    matching and hashing are the matcher's cost, not the store's."""
    gen = Generator(count, now, seed=seed, fresh=True)
    rules = {name: Rule(id=name, title=name, path=f"{name}.yaml") for name in gen.rules}
    work = []
    for n in range(count):
        row = gen.story_row(n)
        story = Story(
            source=str(row[2]),
            url=f"https://{row[2]}.example.org/cycle-{seed}/{n}",
            guid=f"urn:bench:cycle-{seed}:{n}",
            title=str(row[6]),
            summary=str(row[7]),
            body=str(row[8]),
            published_at=now,
            fetched_at=now,
        )
        picked = {gen.rng.choices(gen.rules, gen.rule_weights)[0] for _ in range(2)}
        match = (Match("entity", "x", "x", "title", 0, 1),)
        hits = [Hit(rules[r], story, match) for r in sorted(picked)]
        digest = dedupe.content_hash(story.title, story.summary, story.body)
        work.append((story, hits, digest, dedupe.signature(story.body or story.summary)))
    return work


@contextmanager
def daemon_log_lines() -> Iterator[None]:
    """The daemon's log lines (level info, key=value) inside the block, sent to /dev/null.

    A `hit` line per stored hit is part of what a cycle costs the daemon.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], LOGGER.level
    with open(os.devnull, "w", encoding="utf-8") as null, redirect_stderr(null):
        configure("info")
        try:
            yield
        finally:
            root.handlers[:] = handlers
            LOGGER.setLevel(level)


def insert_cycle(
    store: Store,
    work: list[tuple[Story, list[Hit], str, bytes | None]],
    per_poll: int,
    clustering: bool = True,
    log_lines: bool = False,
) -> tuple[float, float, int]:
    """Wall and CPU seconds to store ``work`` as ``cycle.poll_source`` does, and the hits
    stored: each story looked up (``Store.known``), then each poll's new stories handed
    to the daemon's own ``cycle.store_stories`` (cluster look-up, save with hits and
    deliveries, log events), ``per_poll`` stories to a transaction; 1 is a transaction
    per story. ``clustering=False`` leaves out the syndication signatures and their
    look-up; ``log_lines`` writes the daemon's log lines (see ``daemon_log_lines``),
    otherwise the events are made but no line is written."""
    routes = {
        f"watch-{n:02d}": [("slack", "#desk"), ("email", "desk@example.org")] for n in range(RULES)
    }
    hits = 0
    with daemon_log_lines() if log_lines else nullcontext():
        started, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(work), per_poll):
            matched: list[Matched] = [
                (story, None, digest, False, story_hits, sig if clustering else None)
                for story, story_hits, digest, sig in work[first : first + per_poll]
                if store.known(story) is None
            ]
            hits += store_stories(store, "bench", matched, routes)[1]
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, hits


def cycles(path: Path, now: datetime) -> tuple[list[str], list[tuple[float, float]]]:
    """The write benchmarks, as rows of the results table, and each one's median wall
    and CPU seconds.

    Each runs ``WRITE_RUNS`` times, taking turns like the commands. The last
    one replaces the full-text index by a plain table first, to show what the
    FTS5 index costs, so its runs come after the others'; the database is
    thrown away afterwards.
    """
    store = Store.open(path)
    # A running daemon has its connection and caches warm (the band index built):
    # one small cycle first.
    insert_cycle(store, cycle_work(now, seed=1, count=2_000), POLL)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.sync()  # what opening (a migration) and the warm-up wrote goes out now, not later
    runs = (
        (f"one transaction per poll of {POLL}", CYCLE, POLL, True, False),
        (
            "as the first, with the daemon's log lines (level info, to /dev/null)",
            CYCLE,
            POLL,
            True,
            True,
        ),
        (
            f"one transaction per poll of {POLL}, without syndication clustering",
            CYCLE,
            POLL,
            False,
            False,
        ),
        ("one transaction per story (5,000 measured, x4)", 5_000, 1, True, False),
        (
            "as the third, without the full-text index (for comparison only)",
            CYCLE,
            POLL,
            False,
            False,
        ),
    )
    timed: list[list[tuple[float, float, int]]] = [[] for _ in runs]
    order = [n for _ in range(WRITE_RUNS) for n in range(len(runs) - 1)]
    for seed, n in enumerate(order + [len(runs) - 1] * WRITE_RUNS, start=2):
        label, count, per_poll, clustering, log_lines = runs[n]
        if label.endswith("(for comparison only)") and not timed[n]:
            # The store fills stories_fts at each commit: give it a plain table instead.
            store.conn.execute("DROP TABLE stories_fts")
            store.conn.execute("CREATE TABLE stories_fts (title, summary, body)")
        seconds, cpu, hits = insert_cycle(
            store, cycle_work(now, seed=seed, count=count), per_poll, clustering, log_lines
        )
        scale = CYCLE / count
        timed[n].append((seconds * scale, cpu * scale, int(hits * scale)))
        print(
            f"cycle, {label}: {hits * scale:,.0f} hits in {seconds * scale:.2f} s "
            f"(CPU {cpu * scale:.2f} s)",
            file=sys.stderr,
        )
    store.close()
    rows = []
    for (label, *_), results in zip(runs, timed, strict=True):
        walls = [wall for wall, _, _ in results]
        median = statistics.median(walls)
        cpu = statistics.median(cpu for _, cpu, _ in results)
        hits = results[0][2]
        verdict = "ok" if median < CYCLE_LIMIT_S else "SLOW"
        if label.endswith("(for comparison only)"):
            verdict = "-"
        rows.append(
            f"| {CYCLE:,} new stories with {hits:,} hits and {2 * hits:,} deliveries, "
            f"{label} | {min(walls):.2f} s | {median:.2f} s | {max(walls):.2f} s "
            f"| {cpu:.2f} s | {verdict} |"
        )
    medians = [
        (statistics.median(r[0] for r in results), statistics.median(r[1] for r in results))
        for results in timed
    ]
    return rows, medians


def write_verdict(medians: list[tuple[float, float]]) -> str:
    """The sentences on the write target and on the log lines, from the first two rows."""
    (seconds, cpu), (logged, logged_cpu) = medians[:2]
    lines = (
        f"The daemon's log lines add {logged - seconds:.2f} s to the median "
        f"({logged_cpu - cpu:.2f} s of CPU time): a `hit` line per stored hit, each "
        "formatted and written on its own (`monitor/log.py`)."
    )
    if seconds < CYCLE_LIMIT_S:
        verdict = f"The write cycle is within its {CYCLE_LIMIT_S:.0f} s target on this machine."
    else:
        over = seconds - CYCLE_LIMIT_S
        verdict = (
            f"The write cycle misses its {CYCLE_LIMIT_S:.0f} s target on this machine, by "
            f"{over:.1f} s ({over / CYCLE_LIMIT_S:.0%})."
        )
    return f"{verdict} {lines}"


def _machine() -> str:
    cpus = os.cpu_count() or 0
    return (
        f"{cpus} CPU cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.system()} {platform.machine()}"
    )


def write_section(text: str) -> None:
    """Replace (or add) the "Hit history" section of docs/performance.md."""
    # A blank line before the next section, if one follows.
    write_doc_section(SECTION, text.rstrip("\n") + "\n\n", DOC)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench history")
    parser.add_argument("--stories", type=int, default=STORIES)
    parser.add_argument("--keep", action="store_true", help="Keep the generated database.")
    parser.add_argument(
        "--writes", action="store_true", help="Time only the write cycles; docs untouched."
    )
    parser.add_argument(
        "--database",
        type=Path,
        help="Generate the database once at this path and run on a copy of it afterwards "
        "(for repeated quick runs; docs untouched).",
    )
    options = parser.parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0)
    folder = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    path = folder / "bench.db"
    if options.database:
        now, hits, generated_in = cached(options.database, options.stories, now)
        shutil.copyfile(options.database, path)
    else:
        print(f"generating {options.stories:,} stories into {path}", file=sys.stderr)
        hits, generated_in = generate(path, options.stories, now)
    os.sync()  # the kernel writes the new file out now, not during the timed runs
    size = sum(p.stat().st_size for p in folder.glob("bench.db*"))
    print(f"generated {hits:,} hits in {generated_in:.0f} s ({size / 1e9:.1f} GB)", file=sys.stderr)
    if options.writes:
        print(write_verdict(cycles(path, now)[1]), file=sys.stderr)
        _remove(folder)
        return
    config = folder / "monitor.toml"
    config.write_text(f'database = "{path}"\n', encoding="utf-8")
    facts = dataset_facts(path, now)

    queries = [
        (
            f"monitor hits --rule {RULE} --since 24h --limit 50",
            ["hits", "--rule", RULE, "--since", "24h", "--limit", "50"],
        ),
        ("monitor hits --search Assad --limit 50", ["hits", "--search", "Assad", "--limit", "50"]),
        ("monitor stats --since 30d", ["stats", "--since", "30d"]),
        ("monitor hits show 1234567", ["hits", "show", str(min(1_234_567, hits))]),
    ]
    queries.append(("monitor --version (interpreter start and imports only)", ["--version"]))
    rows = []
    timed = time_commands([q[1] for q in queries], config)
    for (label, _), (walls, cpus) in zip(queries, timed, strict=True):
        low, median, worst = min(walls), statistics.median(walls), max(walls)
        cpu = statistics.median(cpus)
        verdict = "ok" if median < LIMIT_MS else "SLOW"
        if label.startswith("monitor --version"):
            verdict = "-"
        rows.append(
            f"| `{label}` | {low:.0f} ms | {median:.0f} ms | {worst:.0f} ms | {cpu:.0f} ms "
            f"| {verdict} |"
        )
        print(
            f"{label}: wall min {low:.0f}, median {median:.0f}, max {worst:.0f} ms; "
            f"CPU {cpu:.0f} ms",
            file=sys.stderr,
        )
    write_rows, cycle_medians = cycles(path, now)
    rows += write_rows
    if options.stories != STORIES or options.database:
        print("not a full run: docs/performance.md left as it is", file=sys.stderr)
    else:
        write_section(
            SECTION_TEMPLATE.format(
                date=now.date().isoformat(),
                machine=_machine(),
                stories=options.stories,
                hits=hits,
                size=size / 1e9,
                generated=generated_in,
                rows="\n".join(rows),
                writes=write_verdict(cycle_medians),
                rule=RULE,
                **facts,
            )
        )
        print(f"wrote the figures into {DOC.relative_to(ROOT)}", file=sys.stderr)
    if options.keep:
        print(f"kept {folder}", file=sys.stderr)
    else:
        _remove(folder)


def _remove(folder: Path) -> None:
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()


def cached(path: Path, stories: int, now: datetime) -> tuple[datetime, int, float]:
    """A generated database kept at ``path`` (generated now if missing): (its now, hits, s).

    Its "now" is stored with it, so the 72-hour clustering window and the
    "last 24 hours" of the queries mean what they meant when it was made.
    """
    if not path.exists():
        print(f"generating {stories:,} stories into {path}", file=sys.stderr)
        partial = path.with_name(path.name + ".partial")
        hits, seconds = generate(partial, stories, now)
        conn = sqlite3.connect(partial, isolation_level=None)
        conn.execute("CREATE TABLE bench_generated (now TEXT, hits INTEGER, seconds REAL)")
        conn.execute(
            "INSERT INTO bench_generated VALUES (?, ?, ?)", [isoformat(now), hits, seconds]
        )
        conn.execute("PRAGMA journal_mode = DELETE")  # one file, to copy as it is
        conn.close()
        partial.rename(path)
    conn = sqlite3.connect(path)
    made, hits, seconds = conn.execute("SELECT * FROM bench_generated").fetchone()
    conn.close()
    return datetime.fromisoformat(made), hits, seconds


def dataset_facts(path: Path, now: datetime) -> dict[str, object]:
    """What the generated history looks like, for the write-up."""
    conn = sqlite3.connect(path)
    totals = dict(conn.execute("SELECT rule, sum(hits) FROM daily_hits_by_rule GROUP BY rule"))
    everything = sum(totals.values())
    facts = {
        "busiest": max(totals.values()) / everything * 100,
        "rule_share": totals.get(RULE, 0) / everything * 100,
        "rule_24h": conn.execute(
            "SELECT count(*) FROM hits WHERE rule = ? AND matched_at >= ?",
            [RULE, isoformat(now - timedelta(hours=24))],
        ).fetchone()[0],
        "assad": conn.execute(
            "SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'Assad'"
        ).fetchone()[0],
        "bodies": conn.execute("SELECT count(*) FROM stories WHERE body != ''").fetchone()[0],
        "signed": conn.execute("SELECT count(*) FROM story_minhash").fetchone()[0],
    }
    conn.close()
    return facts


SECTION_TEMPLATE = """\
## Hit history

Produced by `make bench` (`.venv/bin/python -m bench history`, see
`bench/history.py`) on {date}, on {machine}. Other work was running
on the machine at the same time: take the slowest runs as upper bounds.

The benchmark generates {stories:,} stories and {hits:,} hits (one delivery
each) spread over the last 90 days into a fresh database with the real schema
(migrations, FTS5 index, per-day counts; {size:.1f} GB, generated in
{generated:.0f} s as a bulk load that rebuilds the indexes at the end and merges
the full-text index into one segment, as after a restore), with the
syndication signatures of the {signed:,} stories of the last 72 hours. 200
sources; 50 rules with a long tail (the busiest has {busiest:.0f}% of the hits,
`{rule}` {rule_share:.0f}%, {rule_24h:,} of them in the last 24 hours);
{assad:,} stories mention "Assad"; {bodies:,} carry a full body. Each command
runs as a whole process, interpreter start included: ten rounds after a
warm-up round, the commands taking turns, so other load on the machine falls
on all of them alike; the median wall time is judged. CPU time is user +
system time of the process. Targets: under 300 ms per
command, under 5 s for a cycle of 20,000 new stories.

The write rows store 20,000 new stories (about two hits each, two deliveries
per hit) through the daemon's own code: each story looked up as
`cycle.poll_source` does, then each poll's new stories handed to
`cycle.store_stories` (find the syndication cluster, save the story with its
hits and pending deliveries, make a `hit` event per stored hit), after a
warm-up cycle of 2,000: three runs each, taking turns (new stories each
time), the median judged; the CPU time is the process's, so the gap to the
wall time is waiting. The events are made in every row, but only the second
row writes them out as the daemon does by default (level info, key=value
lines, here to /dev/null); the others leave logging unconfigured. Only the
write part, on a copy of a database generated once:
`.venv/bin/python -m bench history --writes --database=/tmp/history.db`.

| What | Fastest | Median | Slowest | CPU (median) | Under target? |
| --- | --- | --- | --- | --- | --- |
{rows}

How the reads stay fast:

- `monitor hits` first picks the ids of the newest matching hits from indexes
  alone, then reads those 50 rows. `--rule X --since 24h` walks
  `idx_hits_rule_matched_at` backwards; `--search` takes the story ids from
  FTS5 and sorts their hits by `idx_hits_story (story_id, matched_at)`
  without reading them.
- `monitor stats` never reads `hits`: `daily_hits_by_rule`,
  `daily_hits_by_source` and `daily_deliveries` are kept exact (the store
  adds each transaction's new rows, triggers follow status changes and
  deletions), so 30 days is a few thousand rows however long the history is.
- The CLI imports the daemon, the HTTP stack, the rule loader and sqlite-utils
  only in the commands that need them; most of the time above is interpreter
  start and imports.

{writes}

How the writes are kept short (`monitor/cycle.py`, `monitor/store/db.py`,
`monitor/store/owed.py`, `monitor/store/bands.py`, migrations 9 and 10), and
what each change was worth on the first row's work, measured on this data
set while making it (CPU time per statement; the machine's noise is about
20%):

- One transaction per poll: `poll_source` matches a poll's new stories first,
  then stores them in one `Store.batch()`. A commit costs more than a story:
  compare the fourth row.
- No savepoint per story in that transaction. A story another feed stored
  first is skipped by `ON CONFLICT DO NOTHING` on its guid and canonical URL
  (and the cluster row made for it deleted again); any other error in a save
  spoils the batch, which then rolls back whole and raises, so a half-stored
  story is never committed. The savepoints cost about 0.4 s: their own
  statements, and a copy of every page a story touched in the savepoint
  journal.
- The per-day counts of new rows are added once per transaction (migration
  10): the insert triggers ran two upserts per hit (one with a story look-up)
  and one per delivery, and made SQLite keep a statement journal for every
  row. The store now adds a transaction's new hits and deliveries with one
  upsert per (day, key) just before it commits (`store/owed.py`); triggers
  still follow status changes and deletions. Additions commute, so the counts
  are exact at every commit (the tests compare them with a fresh `GROUP BY`).
  The hit and delivery inserts went from 2.1 s to 1.0 s.
- The full-text index (FTS5, external content) gets a transaction's new
  stories in one `INSERT ... SELECT` just before it commits, not from a row
  trigger (migration 9): FTS5 writes its pending terms out as a new segment
  whenever a savepoint opens, so the trigger made a segment, and soon merges,
  per story (17.5-20 s for the first row then, 7-8 s without). Each commit
  still adds a small segment, and the index now merges them 16 at a time
  instead of 4 (`automerge`, migration 10), which rewrites each entry about
  half as often: 1.1 s to 0.8 s. `crisismerge` goes from 16 to 64 with it,
  so those merges stay incremental (a little work at each write): at 16,
  whole levels of large segments were merged in one go, and the first run of
  the per-story row took 30-40 s longer than the others.
  What is indexed, and phrase search, are unchanged.
- Fewer outbox index entries: `idx_deliveries_attempt` answered no query and
  is gone; `idx_deliveries_target_sent` keeps only sent deliveries, the only
  ones its queries ask about, so a new delivery is no entry in it.
- Per story, one statement for its hits (`INSERT ... RETURNING` gives their
  ids back by rule) and one `executemany` for its deliveries; the `sources`
  row is made sure of once per source and connection, not per story; the
  canonical URL is worked out once, and not at all for a link that is in
  canonical form already (most are: one regular expression tells, about a
  tenth of the 10 µs of taking the URL apart and putting it together); the
  explanations go through one JSON encoder. `save` and `update` say which
  rules' hits they stored, so the `hit` and `hit_suppressed` events need no
  query of their own (a syndicated copy or an update asked for its cluster's
  hits first), and the known-story look-up brings the stored story's source
  for an update. Syndication bands are a dictionary per connection, built from
  `story_minhash` (a story's 21 band keys as rows were about 28 s of a 42 s
  cycle); inside a write transaction it no longer asks `PRAGMA data_version`
  before each look-up, and a story's keys are computed once for its look-up
  and its insertion. It holds the 72-hour window's stories, about 55 MB for
  these 33,000, and takes about a second to build, at the daemon's first poll
  and once a day.
- A page cache of up to 64 MB instead of SQLite's 2 MB (`PRAGMA
  cache_size`): a poll's transaction touches more pages than 2 MB hold (the
  end of each index, a place per source or per rule in some, the full-text
  segments), so they were read again from the operating system's cache at
  every poll, and some dirty ones were written to the WAL before the
  commit. A cycle makes about 20,000 reads of the database instead of
  60,000-80,000 (85 MB instead of 240-320 MB). With the URL shortcut above, in
  alternating runs on this data set (six each, medians), the CPU time went
  from 4.00 s to 3.72 s; the wall times (6.2 s and 4.5 s) said more about
  the load on the machine at the time.
- Statement journals in memory (`PRAGMA temp_store = MEMORY`): as temporary
  files they spill to disk past 64 KiB; 2-3 s when every story had a
  savepoint.
- `PRAGMA synchronous = NORMAL` (WAL mode): a commit is not synced to disk,
  the WAL is at each checkpoint. A crash of the daemon loses nothing it
  committed; a power cut can lose the last transactions but never corrupts
  the database. Checkpoints come every 32,000 pages (128 MB of WAL) instead
  of 1,000 (`PRAGMA wal_autocheckpoint`): a poll's commit writes about 360
  pages, mostly the same hot ones (the ends of the tables, each rule's end of
  `idx_hits_rule_matched_at`), and a checkpoint copies and syncs a page once
  however often it was written since the last one. The step to 8,000 was
  worth 0.3-0.4 s of wall time here while the disk was busy, the step to
  32,000 about as much again in the medians of noisy runs (a cycle writes
  about 400 MB instead of 500 MB, and waits on the disk a quarter as often
  or less); little CPU time either way.

Nothing is deferred out of the timed cycle: the full-text entries and the
counts are written before each commit, and the checkpoints a cycle's pages
call for (two or three) run inside it.

Where the first row's CPU time goes now (per-statement timing and py-spy
samples; the shares shift with the load on the machine): the full-text index a fifth to a
quarter (the tokenizer: some 1.7 million words a cycle; compare the third
and last rows); the hits an eighth (five
indexes: `idx_hits_rule_matched_at` alone dirties about 95 pages a commit,
one at the end of each rule's range); the commits a tenth (about 360 pages
each, and the checkpoints); the deliveries, the story rows, and the
identity look-ups with the signatures and cluster rows a twelfth each;
Python about a third (the band look-ups, building the rows and their JSON,
binding the statements' values: py-spy counts a statement call as Python
until SQLite runs). What is left is SQLite maintaining the indexes the reads
above and the outbox rely on, and tokenizing the text for search. The
daemon's log lines (second row) cost more than any statement: some 30 µs
a line in the cycle, most of it the standard `logging` machinery (a
record, the caller's frame, the handler's lock and flush) and the key=value
formatting.
Between that CPU time and the wall time is waiting: for the disk at
checkpoints, and for a core while other work runs on this two-core machine.
Measured and left alone: FTS5 `columnsize=0` (about 5% of the index's time,
not worth rebuilding the index), `mmap_size`, dropping
`idx_hits_severity_matched_at` (within the noise), a story's deliveries as
one multi-row `INSERT` instead of `executemany` (0.3 µs a row), the
known-story look-up without its `ORDER BY` (1 µs a story), and the
explanations' JSON written by hand (3 µs a hit, but `json`'s own output
for unusual values would have to be copied exactly).
"""


if __name__ == "__main__":
    main(sys.argv[1:])
