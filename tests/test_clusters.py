"""Each story stored once, each cluster alerted once: URLs, syndication, updates, provenance.

Polls run through the real cycle (fetch -> match -> store) against the local
FeedServer and a real SQLite file.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from feedtext import Item, rss
from hypothesis import given
from hypothesis import strategies as st
from servers import FeedServer

from monitor import dedupe
from monitor.config import HttpConfig, Settings, SourceConfig
from monitor.cycle import PollReport, poll_source
from monitor.matching.compiled import compile_rules
from monitor.models import Rule, Story
from monitor.sources.http import build_client
from monitor.store import Store, clusters
from monitor.store.schema import MIGRATIONS
from monitor.timeutil import isoformat

QUAKE = (
    "The earthquake struck off the northern coast of Japan on Tuesday morning, triggering a "
    "tsunami warning for the Pacific coastline. Officials said there were no immediate reports "
    "of damage, but residents were told to move to higher ground. The quake had a magnitude of "
    "7.1 according to the meteorological agency, which said waves of up to one metre were "
    "possible. Trains were halted in the region while engineers inspected the tracks."
)
# The same wire story, trimmed by one outlet (last two sentences cut)...
QUAKE_TRIMMED = QUAKE.rsplit(". ", 2)[0] + "."
# ...and a different story on the same subject.
QUAKE_OTHER = (
    "Japan's prime minister visited the northern coast on Thursday to inspect the damage left "
    "by this week's earthquake and promised emergency funds for the fishing towns whose harbours "
    "were hit hardest, as aftershocks continued to rattle the region overnight."
)
NOW = datetime.now(UTC).replace(microsecond=0)
RECENT = (NOW - timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S +0000")


def rule(rule_id: str, phrase: str) -> Rule:
    return Rule(id=rule_id, title=rule_id, path=f"{rule_id}.yaml", phrases=(phrase,))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "monitor.db")
    yield opened  # type: ignore[misc]
    opened.close()


def settings_for(tmp_path: Path, *sources: SourceConfig) -> Settings:
    return Settings(
        path=tmp_path / "monitor.toml",
        database=tmp_path / "monitor.db",
        rules=tmp_path / "rules",
        sources=sources,
        http=HttpConfig(host_delay=0.0, per_host=8),
    )


def poll(store: Store, tmp_path: Path, source: SourceConfig, rules: list[Rule]) -> PollReport:
    settings = settings_for(tmp_path, source)

    async def go() -> PollReport:
        async with build_client("monitor-tests/1.0", settings.http) as client:
            return await poll_source(source, settings, compile_rules(rules), store, client)

    return asyncio.run(go())


def source(feed_server: FeedServer, name: str, **options: object) -> SourceConfig:
    return SourceConfig(name=name, url=feed_server.url(f"/{name}"), **options)  # type: ignore[arg-type]


def hits(store: Store) -> list[tuple[str, str, int]]:
    return store.conn.execute(
        "SELECT h.rule, s.source, h.cluster_id FROM hits h JOIN stories s ON s.id = h.story_id "
        "ORDER BY h.id"
    ).fetchall()


def test_minhash_estimates_similarity() -> None:
    full, trimmed, other = (dedupe.signature(t) for t in (QUAKE, QUAKE_TRIMMED, QUAKE_OTHER))
    assert full and trimmed and other

    assert dedupe.similarity(full, full) == 1.0
    assert 0.4 <= dedupe.similarity(full, trimmed) <= 0.8  # truly 29/45 shingles: 0.64
    assert dedupe.containment(full, trimmed) >= 0.8  # the trimmed copy is all in the full one
    assert dedupe.similarity(full, other) < 0.1 and dedupe.containment(full, other) < 0.2
    assert dedupe.signature("Too short to compare.") is None
    # Signatures are stable across processes: stored ones stay comparable.
    assert dedupe.signature(QUAKE) == full


@pytest.mark.parametrize(
    ("text", "titles", "same_source", "expected"),
    [
        (0.9, 0.1, False, True),  # re-titled or trimmed wire copy
        (0.5, 0.7, False, True),  # rewritten copy, similar headline
        (0.5, 0.2, False, False),  # shared background paragraph only
        (0.1, 1.0, False, False),  # same headline, different story
        (0.9, 0.1, True, False),  # one site's boilerplate under two stories
        (0.9, 0.8, True, True),  # one site republishing its own story
    ],
)
def test_same_story_decision(text: float, titles: float, same_source: bool, expected: bool) -> None:
    assert dedupe.same_story(text, titles, same_source) is expected


def test_a_story_in_two_feeds_is_stored_and_alerted_once(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    url = "https://news.example.org/world/quake"
    feed_server.route("/one", rss([Item("Quake hits Japan", url + "?utm_source=rss", QUAKE)]))
    feed_server.route(
        "/two", rss([Item("Quake hits Japan", "HTTPS://NEWS.example.org:443/world/quake/#x")])
    )
    rules = [rule("quake", "earthquake")]

    first = poll(store, tmp_path, source(feed_server, "one"), rules)
    second = poll(store, tmp_path, source(feed_server, "two"), rules)
    again = poll(store, tmp_path, source(feed_server, "one"), rules)

    assert (first.new_stories, first.new_hits) == (1, 1)
    assert (second.new_stories, second.new_hits) == (0, 0)
    assert (again.new_stories, again.new_hits) == (0, 0)
    assert store.conn.execute("SELECT count(*) FROM stories").fetchone()[0] == 1


def test_syndicated_copies_share_a_cluster_and_alert_once(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    feed_server.route(
        "/wire", rss([Item("Strong quake hits northern Japan", "https://wire.example/q", QUAKE)])
    )
    feed_server.route(
        "/paper",
        rss(
            [
                Item(
                    "Tsunami warning after Japan earthquake",
                    "https://paper.example/q",
                    QUAKE_TRIMMED,
                )
            ]
        ),
    )
    feed_server.route(
        "/other", rss([Item("PM visits quake zone", "https://other.example/pm", QUAKE_OTHER)])
    )
    rules = [rule("quake", "earthquake"), rule("tsunami", "tsunami warning")]

    wire = poll(store, tmp_path, source(feed_server, "wire"), rules)
    paper = poll(store, tmp_path, source(feed_server, "paper"), rules)
    other = poll(store, tmp_path, source(feed_server, "other"), rules)

    assert (wire.new_stories, wire.new_hits) == (1, 2)
    assert (paper.new_stories, paper.new_hits) == (1, 0)  # stored, joined the cluster, silent
    assert (other.new_stories, other.new_hits) == (1, 1)  # a different story alerts
    clusters = dict(store.conn.execute("SELECT source, cluster_id FROM stories").fetchall())
    assert clusters["wire"] == clusters["paper"] != clusters["other"]
    # The hit lists the other outlets ("also at").
    quake_hit = next(h for h in store.hits() if h["rule"] == "quake" and h["source"] == "wire")
    detail = store.hit(quake_hit["id"])
    assert detail is not None
    assert [o["source"] for o in detail["outlets"]] == ["paper"]


def wire_story(source: str, url: str, title: str, text: str) -> Story:
    return Story(
        source=source,
        url=url,
        guid=url,
        title=title,
        summary=text,
        body="",
        published_at=NOW,
        fetched_at=NOW,
    )


def store_new(store: Store, story: Story) -> int:
    """Store ``story`` as the cycle does (its cluster looked up first); returns its cluster."""
    sig = dedupe.signature(story.summary)
    store.save(story, [], {}, cluster_id=store.find_cluster(story, sig), signature=sig)
    return int(
        store.conn.execute(
            "SELECT cluster_id FROM stories WHERE guid = ?", [story.guid]
        ).fetchone()[0]
    )


def test_a_story_another_connection_stored_is_found(store: Store, tmp_path: Path) -> None:
    other = wire_story("other", "https://other.example/pm", "PM visits", QUAKE_OTHER)
    store_new(store, other)  # this connection's band index is built now
    writer = Store.open(tmp_path / "monitor.db")
    try:
        wire = store_new(writer, wire_story("wire", "https://wire.example/q", "Quake", QUAKE))
    finally:
        writer.close()

    copy = wire_story("paper", "https://paper.example/q", "Tsunami warning", QUAKE_TRIMMED)
    assert store_new(store, copy) == wire


def test_a_batch_finds_what_another_connection_stored_before_it_began(
    store: Store, tmp_path: Path
) -> None:
    with store.batch():  # the band index is built, and checked once, inside a transaction
        store_new(store, wire_story("other", "https://other.example/pm", "PM", QUAKE_OTHER))
    writer = Store.open(tmp_path / "monitor.db")
    try:
        wire = store_new(writer, wire_story("wire", "https://wire.example/q", "Quake", QUAKE))
    finally:
        writer.close()

    with store.batch():
        copy = wire_story("paper", "https://paper.example/q", "Tsunami warning", QUAKE_TRIMMED)
        assert store_new(store, copy) == wire
        again = wire_story("radio", "https://radio.example/q", "Tsunami", QUAKE_TRIMMED)
        assert store_new(store, again) == wire


def test_an_update_rolled_back_leaves_the_story_findable_by_its_old_text(store: Store) -> None:
    first = wire_story("wire", "https://wire.example/q", "Quake", QUAKE)
    wire = store_new(store, first)
    known = store.known(first)
    assert known is not None

    with pytest.raises(RuntimeError), store.batch():
        changed = replace(first, summary=QUAKE_OTHER)
        store.update(known, changed, "changed", [], {}, dedupe.signature(QUAKE_OTHER))
        raise RuntimeError("poll failed")

    copy = wire_story("paper", "https://paper.example/q", "Tsunami warning", QUAKE_TRIMMED)
    assert store_new(store, copy) == wire


def test_an_updated_story_is_found_by_its_new_text_only(store: Store) -> None:
    first = wire_story("wire", "https://wire.example/q", "Quake", QUAKE_OTHER)
    wire = store_new(store, first)
    known = store.known(first)
    assert known is not None

    store.update(known, replace(first, summary=QUAKE), "changed", [], {}, dedupe.signature(QUAKE))

    copy = wire_story("paper", "https://paper.example/q", "Tsunami warning", QUAKE_TRIMMED)
    assert store_new(store, copy) == wire
    other = wire_story("other", "https://other.example/pm", "PM visits", QUAKE_OTHER)
    assert store_new(store, other) != wire


def test_a_story_clustered_before_the_upgrade_still_gathers_its_copies(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:7]:  # bands were rows of story_bands until migration 8
        migration(sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 7")
    wire = wire_story("wire", "https://wire.example/q", "Quake", QUAKE)
    sig = dedupe.signature(QUAKE)
    conn.execute("INSERT INTO sources (name) VALUES ('wire')")
    conn.execute(
        "INSERT INTO clusters (id, title, first_seen_at) VALUES (7, 'Quake', ?)", [isoformat(NOW)]
    )
    conn.execute(
        "INSERT INTO stories (id, cluster_id, source, url, canonical_url, guid, title, summary, "
        "body, published_at, fetched_at) VALUES (1, 7, 'wire', ?, ?, ?, 'Quake', ?, '', ?, ?)",
        [wire.url, wire.url, wire.guid, QUAKE, isoformat(NOW), isoformat(NOW)],
    )
    conn.execute("INSERT INTO story_minhash (story_id, signature) VALUES (1, ?)", [sig])
    conn.executemany(
        "INSERT INTO story_bands (band, story_id) VALUES (?, 1)",
        [(key,) for key in dedupe.band_keys(sig or b"")],
    )
    conn.close()

    store = Store.open(path)
    try:
        copy = wire_story("paper", "https://paper.example/q", "Tsunami warning", QUAKE_TRIMMED)
        assert store_new(store, copy) == 7
        tables = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master")}
        assert "story_bands" not in tables and "stories_ai" not in tables
    finally:
        store.close()


def test_band_lookups_rank_candidates_as_the_band_table_did(store: Store) -> None:
    """The in-memory band index against the SQL it replaced, on crafted signatures."""
    rng = random.Random(7)
    query = [rng.getrandbits(32) for _ in range(dedupe.PERMUTATIONS)]

    def sharing(bands: set[int]) -> bytes:
        values = [
            query[n] if n // dedupe.ROWS in bands else rng.getrandbits(32)
            for n in range(dedupe.PERMUTATIONS)
        ]
        return struct.pack(f"<{dedupe.PERMUTATIONS}I", *values) + (50).to_bytes(4, "little")

    conn = store.conn
    conn.execute("CREATE TEMP TABLE band_rows (band INTEGER, story_id INTEGER)")
    # 150 stories share 1-5 bands with the query (ties, more than a chunk and the limit),
    # every tenth of them fetched before the window.
    for n in range(150):
        bands = set(rng.sample(range(dedupe.BANDS), rng.randint(1, 5)))
        fetched = NOW - (timedelta(days=4) if n % 10 == 0 else timedelta(hours=1))
        story = replace(
            wire_story(f"s{n % 7}", f"https://s.example/{n}", "T", ""), fetched_at=fetched
        )
        sig = sharing(bands)
        store.save(story, [], {}, signature=sig)
        story_id = store.known(story).story_id  # type: ignore[union-attr]
        conn.executemany(
            "INSERT INTO band_rows VALUES (?, ?)", [(k, story_id) for k in dedupe.band_keys(sig)]
        )
    for bands in ({0}, set(range(dedupe.BANDS)), {3, 4, 5}, set()):
        sig = sharing(bands)
        keys = dedupe.band_keys(sig)
        expected = conn.execute(
            f"""
            SELECT s.id FROM band_rows b JOIN stories s ON s.id = b.story_id
            JOIN story_minhash m ON m.story_id = s.id
            WHERE b.band IN ({", ".join("?" * len(keys))}) AND s.fetched_at >= ?
            GROUP BY s.id ORDER BY count(*) DESC, s.id LIMIT 20
            """,
            [*keys, isoformat(NOW - clusters.WINDOW)],
        ).fetchall()
        found = clusters.band_index().candidates(conn, sig, NOW, clusters.MAX_CANDIDATES)
        assert [row[0] for row in found] == [row[0] for row in expected], bands


def test_copies_too_far_apart_in_time_are_separate_stories(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    feed_server.route("/wire", rss([Item("Quake", "https://wire.example/q", QUAKE)]))
    feed_server.route("/late", rss([Item("Quake", "https://late.example/q", QUAKE)]))
    poll(store, tmp_path, source(feed_server, "wire"), [])
    store.conn.execute("UPDATE stories SET fetched_at = '2020-01-01T00:00:00+00:00'")

    poll(store, tmp_path, source(feed_server, "late"), [])

    assert store.conn.execute("SELECT count(DISTINCT cluster_id) FROM stories").fetchone()[0] == 2


def test_an_updated_story_is_rematched_and_alerts_only_new_rules(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    url = "https://news.example.org/port"
    feed_server.route("/news", rss([Item("Port closes", url, "The port closed at dawn.")]))
    rules = [rule("port", "port"), rule("strike", "dock strike")]
    first = poll(store, tmp_path, source(feed_server, "news"), rules)
    feed_server.route(
        "/news",
        rss([Item("Port closes", url, "The port closed at dawn as a dock strike began.")]),
    )

    updated = poll(store, tmp_path, source(feed_server, "news"), rules)
    unchanged = poll(store, tmp_path, source(feed_server, "news"), rules)

    assert (first.new_stories, first.new_hits) == (1, 1)
    assert (updated.new_stories, updated.new_hits) == (0, 1)
    assert (unchanged.new_stories, unchanged.new_hits) == (0, 0)
    assert [h[0] for h in hits(store)] == ["port", "strike"]
    summary, updated_at = store.conn.execute("SELECT summary, updated_at FROM stories").fetchone()
    assert "dock strike" in summary and updated_at


def test_backdated_story_is_stored_flagged_and_not_alerted(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    old = (NOW - timedelta(days=30)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    feed_server.route(
        "/news",
        rss(
            [
                Item("Port news resurfaces", "https://n.example/old", "port", date=old),
                Item("Port news today", "https://n.example/new", "port", date=RECENT),
            ]
        ),
    )

    report = poll(store, tmp_path, source(feed_server, "news"), [rule("port", "port")])

    assert (report.new_stories, report.new_hits) == (2, 1)
    rows = dict(store.conn.execute("SELECT url, backdated FROM stories").fetchall())
    assert rows == {"https://n.example/old": 1, "https://n.example/new": 0}


def test_max_age_is_per_source(feed_server: FeedServer, store: Store, tmp_path: Path) -> None:
    old = (NOW - timedelta(days=30)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    feed_server.route(
        "/weekly", rss([Item("Port review", "https://w.example/1", "port", date=old)])
    )
    weekly = source(feed_server, "weekly", max_age=timedelta(days=60))

    report = poll(store, tmp_path, weekly, [rule("port", "port")])

    assert report.new_hits == 1


def test_published_and_first_seen_times_are_both_kept(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    feed_server.route(
        "/news",
        rss(
            [
                Item("Past", "https://n.example/p", date=RECENT),
                Item("Future", "https://n.example/f", date="Sat, 01 Jan 2099 00:00:00 +0000"),
            ]
        ),
    )

    poll(store, tmp_path, source(feed_server, "news"), [])

    rows = {
        r[0]: (r[1], r[2])
        for r in store.conn.execute("SELECT title, published_at, fetched_at FROM stories")
    }
    assert rows["Past"][0] < rows["Past"][1]
    assert rows["Future"][0] == rows["Future"][1]  # clamped to first seen


def test_language_is_stored(feed_server: FeedServer, store: Store, tmp_path: Path) -> None:
    feed_server.route(
        "/fr",
        rss(
            [
                Item(
                    "Le port rouvre",
                    "https://f.example/1",
                    "Le port a rouvert mardi selon les "
                    "autorités, qui ont annoncé la fin des travaux dans la nuit.",
                )
            ]
        ),
    )

    poll(store, tmp_path, source(feed_server, "fr"), [])

    assert store.conn.execute("SELECT language FROM stories").fetchone()[0] == "fr"


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example.org/world/quake",  # canonical: the shortcut's case
        "https://news.example.org/",
        "http://10.0.0.1/a;b=c/d~e",
        "https://news.example.org/world/quake/",
        "https://news.example.org",
        "https://news.example.org//",
        "https://News.example.org/a",
        "HTTPS://news.example.org/a",
        "https://news.example.org./a",
        "https://news.example.org:443/a",
        "https://news.example.org:8443/a",
        "https://user@news.example.org/a",
        "https://news.example.org/a?id=7",
        "https://news.example.org/a?",
        "https://news.example.org/a#x",
        "https://news.example.org/a b",
        "https://news.example.org/a\tb",
        " https://news.example.org/a",
        "https://.example.org/a",
        "https://-/a",
        "http://[::1]/a",
        "ftp://news.example.org/a",
        "urn:uuid:1234",
    ],
)
def test_the_stores_canonical_url_is_dedupes(url: str) -> None:
    assert clusters.canonical_url(url) == dedupe.canonical_url(url)


_URL_PARTS = st.sampled_from(
    ["http", "https", "HTTP", ":", "//", "/", ".", "-", "a", "Z", "0", "9", "?", "#", "=", "&",
     "%2F", "@", "[", "]", "~", "_", ";", " ", "\t", "\n", "é", "utm_source=x", ":443", ":80"]
)  # fmt: skip


@given(st.lists(_URL_PARTS, max_size=14).map("".join))
def test_the_stores_canonical_url_shortcut_agrees_with_dedupe(tail: str) -> None:
    for url in (tail, f"https://{tail}", f"http://news.example.org/{tail}"):
        assert clusters.canonical_url(url) == dedupe.canonical_url(url)
