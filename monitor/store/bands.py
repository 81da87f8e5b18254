"""Which stories of the clustering window share a band with a new story.

The lookup side of syndication clustering (store/clusters.py). A signature
has 21 bands of 3 values (monitor/dedupe.py); two stories are candidates when
they agree on a whole band. Kept in SQLite (``story_bands`` until migration 8)
each band was a 64-bit hash, an index entry on a random page, so each story
dirtied about fifteen pages that every commit wrote out again: most of the
time of a 20,000-story cycle, and more as the table grew. Here the bands live
in memory, one index per connection (``Store``), keyed by their position and
values themselves (``band_keys``: no hash to compute, and no collisions), and
``story_minhash`` (one row per story, appended in id order) stays the truth
the index is built from:

* built on first use from the signatures of the window's stories;
* kept up to date with this connection's writes (``add``, ``replace``);
* rebuilt when another connection has written (``PRAGMA data_version``), when a
  write of ours that changed it rolls back (``Store`` compares ``version``),
  and once a day, which also lets go of the stories that left the window.

A lookup asks SQLite for the candidates it found, so deleted stories and
stories older than the window drop out there, as they did in the join. Memory:
about 1.7 KB per story of the window (55 MB for 33,000 stories).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from monitor import dedupe
from monitor.timeutil import isoformat

#: An index older than this is built again, without the stories that left the window.
REBUILD_EVERY = timedelta(hours=24)
#: Candidates are read from SQLite this many at a time, best first.
_CHUNK = 100
_BAND_BYTES = dedupe.ROWS * 4
#: (position, first byte, end) of each band's key.
_SLICES = [
    (bytes([band]), band * _BAND_BYTES, (band + 1) * _BAND_BYTES) for band in range(dedupe.BANDS)
]

#: (story id, cluster id, source, title, signature) of a stored story.
Candidate = tuple[int, int, str, str | None, bytes]


def band_keys(sig: bytes) -> list[bytes]:
    """One key per band of a signature: its position and its values.

    Equal keys are equal bands, exactly; ``dedupe.band_keys`` hashes the same
    bytes to 64 bits, which SQLite needed and a dictionary does not.
    """
    return [position + sig[start:end] for position, start, end in _SLICES]


class BandIndex:
    """Band key -> ids of the stories with that key, for the stories of the window."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        # One id is by far the common case; a list only where stories share a key.
        self._ids: dict[bytes, int | list[int]] = {}
        self._built_at: datetime | None = None
        self._data_version: int | None = None
        #: Changes with every build and every change: a rollback past a change
        #: leaves the index ahead of the database, and the caller drops it (``forget``).
        self.version = 0
        # Inside a write transaction of ours no other connection can commit: once
        # checked there, ``PRAGMA data_version`` need not be asked again until it ends.
        self._writing = self._checked = False
        # A story's keys are wanted twice (its lookup, then its ``add``): the last ones.
        self._last: tuple[bytes, list[bytes]] = (b"", [])

    def begin(self) -> None:
        """Our connection holds the write lock (a write transaction began)."""
        self._writing, self._checked = True, False

    def end(self) -> None:
        """Our write transaction ended; other connections may write again."""
        self._writing = self._checked = False

    def _keys(self, sig: bytes) -> list[bytes]:
        if self._last[0] != sig:
            self._last = (sig, band_keys(sig))
        return self._last[1]

    def forget(self) -> None:
        """Drop the index; the next lookup builds it again from the database."""
        self._ids = {}
        self._built_at = None
        self.version += 1

    def candidates(
        self, conn: sqlite3.Connection, sig: bytes, now: datetime, limit: int
    ) -> list[Candidate]:
        """The stories of the window sharing the most bands with ``sig``, then by id.

        What ``GROUP BY story ORDER BY count(*) DESC, id LIMIT limit`` over a
        table of (band, story) rows joined to the window's stories returned.
        """
        self._ensure(conn, now)
        counts: dict[int, int] = {}
        for found in map(self._ids.get, self._keys(sig)):
            if found is None:
                continue
            for story_id in (found,) if isinstance(found, int) else found:
                counts[story_id] = counts.get(story_id, 0) + 1
        if not counts:
            return []
        ranked = sorted(counts, key=lambda story_id: (-counts[story_id], story_id))
        since = isoformat(now - self.window)
        rows: list[Candidate] = []
        for start in range(0, len(ranked), _CHUNK):
            chunk = ranked[start : start + _CHUNK]
            stored = {
                row[0]: row
                for row in conn.execute(
                    "SELECT s.id, s.cluster_id, s.source, s.title, m.signature "
                    "FROM stories s JOIN story_minhash m ON m.story_id = s.id "
                    f"WHERE s.id IN ({', '.join('?' * len(chunk))}) AND s.fetched_at >= ?",
                    [*chunk, since],
                )
            }
            rows += [stored[story_id] for story_id in chunk if story_id in stored]
            if len(rows) >= limit:
                break
        return rows[:limit]

    def add(self, story_id: int, sig: bytes) -> None:
        """A new story's bands (its signature just stored in this connection's transaction)."""
        if self._built_at is None:
            return  # the build will read it
        self.version += 1
        ids = self._ids
        for key in self._keys(sig):
            found = ids.setdefault(key, story_id)
            if found is story_id:  # the key was new
                continue
            if isinstance(found, int):
                ids[key] = [found, story_id]
            else:
                found.append(story_id)

    def replace(self, story_id: int, old: bytes, new: bytes) -> None:
        """A stored story's signature replaced (an update): ``old`` bands out, ``new`` in."""
        if self._built_at is None:
            return
        self.version += 1
        ids = self._ids
        for key in band_keys(old):
            found = ids.get(key)
            if found == story_id:
                del ids[key]
            elif isinstance(found, list) and story_id in found:
                found.remove(story_id)
                if len(found) == 1:
                    ids[key] = found[0]
        self.add(story_id, new)

    def _ensure(self, conn: sqlite3.Connection, now: datetime) -> None:
        if self._checked and self._built_at is not None and now - self._built_at < REBUILD_EVERY:
            return
        # data_version changes when another connection commits, never for our own writes.
        data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        self._checked = self._writing
        if (
            self._built_at is not None
            and data_version == self._data_version
            and now - self._built_at < REBUILD_EVERY
        ):
            return
        self.forget()
        rows = conn.execute(
            "SELECT m.story_id, m.signature FROM stories s "
            "CROSS JOIN story_minhash m ON m.story_id = s.id WHERE s.fetched_at >= ?",
            [isoformat(now - self.window)],
        )
        self._built_at = now
        self._data_version = data_version
        try:
            for story_id, signature in rows:
                self.add(story_id, signature)
        except BaseException:
            self.forget()
            raise
