"""Story identity in the database: known stories, updates, and syndication clusters.

The signatures of monitor/dedupe.py live in ``story_minhash`` (migration 6);
a new story looks up the stories of the last ``WINDOW`` that share a band with
it (store/bands.py, an index kept in memory) and joins the cluster of the
most similar one that ``dedupe.same_story`` accepts. Each story row keeps the
``content_hash`` of what its feed said, so a changed story is noticed.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor import dedupe
from monitor.models import Story
from monitor.store.bands import BandIndex
from monitor.timeutil import isoformat

#: Copies of one story further apart than this are separate stories.
WINDOW = timedelta(hours=72)
#: At most this many stored stories are compared with a new one.
MAX_CANDIDATES = 20

# A URL ``dedupe.canonical_url`` would give back as it is: http(s), a lower-case
# host with no port, user or trailing dot, a path of plain characters that is
# "/" or does not end in "/", and no query or fragment. Most feed links are like
# this; telling so takes a tenth of the time of taking them apart.
_CANONICAL = re.compile(
    r"https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?"
    r"/(?:[A-Za-z0-9._~!$&'()*+,;=:@%/-]*[A-Za-z0-9._~!$&'()*+,;=:@%-])?"
)


# A story is looked up (``known``), then saved: its URL is worked out once, not
# at each step. A small cache: a poll's stories.
@functools.lru_cache(maxsize=1024)
def canonical_url(url: str) -> str:
    """``dedupe.canonical_url``, with a shortcut for a URL that is canonical already."""
    return url if _CANONICAL.fullmatch(url) else dedupe.canonical_url(url)


def band_index() -> BandIndex:
    """A new (empty) band index over this module's window, for one connection."""
    return BandIndex(WINDOW)


@dataclass(frozen=True)
class Known:
    """A story already stored under the same guid or canonical URL."""

    story_id: int
    cluster_id: int
    content_hash: str
    #: The stored story's source (an update may come from another feed).
    source: str


def known(conn: sqlite3.Connection, story: Story) -> Known | None:
    url = canonical_url(story.url) if story.url else ""
    # Two indexed lookups, not one OR: the partial index on canonical_url is only
    # usable when the query repeats its condition, and the OR scanned every story.
    row = conn.execute(
        "SELECT id, cluster_id, content_hash, source FROM stories WHERE guid = ? UNION ALL "
        "SELECT id, cluster_id, content_hash, source FROM stories "
        "WHERE canonical_url = ? AND canonical_url != '' ORDER BY id LIMIT 1",
        [story.guid, url],
    ).fetchone()
    return Known(row[0], row[1], row[2] or "", row[3]) if row else None


def find_cluster(
    conn: sqlite3.Connection, index: BandIndex, story: Story, sig: bytes | None, now: datetime
) -> int | None:
    """The cluster of the stored story ``story`` is a copy of, or None for a new one."""
    if sig is None:
        return None
    # The stories sharing the most bands first, and only a few: a flood of
    # near-identical texts (one site's boilerplate) must not make this quadratic.
    rows = index.candidates(conn, sig, now, MAX_CANDIDATES)
    best: tuple[float, int] | None = None
    for _, cluster_id, source, title, other in rows:
        text = dedupe.containment(sig, other)
        titles = dedupe.title_similarity(story.title, title or "")
        if dedupe.same_story(text, titles, source == story.source):
            score = text + titles
            if best is None or score > best[0]:
                best = (score, cluster_id)
    return best[1] if best else None


def add_signature(
    conn: sqlite3.Connection,
    index: BandIndex,
    story_id: int,
    sig: bytes | None,
    new: bool = False,
) -> None:
    """Store a story's signature (inside the caller's transaction) and index its bands.

    ``new``: the story was inserted just now, so it has no signature to replace.
    """
    if sig is None:
        return
    old = None
    if not new:
        row = conn.execute(
            "SELECT signature FROM story_minhash WHERE story_id = ?", [story_id]
        ).fetchone()
        old = row[0] if row else None
    conn.execute(
        "INSERT OR REPLACE INTO story_minhash (story_id, signature) VALUES (?, ?)", [story_id, sig]
    )
    if old is None:
        index.add(story_id, sig)
    else:
        index.replace(story_id, old, sig)


def update_story(
    conn: sqlite3.Connection, story_id: int, story: Story, content_hash: str, now: datetime
) -> None:
    """Replace a stored story's text with its update (inside the caller's transaction).

    Published and first-seen times stay: the story is the same one, changed.
    """
    conn.execute(
        "UPDATE stories SET title = ?, summary = ?, body = ?, language = ?, content_hash = ?, "
        "extract_error = ?, updated_at = ? WHERE id = ?",
        [
            story.title,
            story.summary,
            story.body,
            story.language,
            content_hash,
            story.extract_error,
            isoformat(now),
            story_id,
        ],
    )


def outlets(conn: sqlite3.Connection, cluster_id: int, story_id: int) -> list[str]:
    """The other sources that carried the cluster ("also at"), first seen first."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT source FROM stories WHERE cluster_id = ? AND id != ? "
            "GROUP BY source ORDER BY min(fetched_at), min(id)",
            [cluster_id, story_id],
        )
    ]
