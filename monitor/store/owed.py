"""What a write transaction of the store still owes the database before it commits.

Two kinds of bookkeeping are done once per transaction rather than once per
row, because per row they cost more than the rows themselves:

* new stories enter the full-text index in one statement (migration 9):
  FTS5 writes its pending terms out as a new segment whenever a savepoint
  opens, and SQLite opens one for each story's ``save`` and for every
  statement that writes through a trigger, so a row trigger made a segment,
  and soon a merge, per story;
* new hits and deliveries are added to the per-day counts with one upsert per
  (day, key) (migration 10), instead of a trigger's upsert per row, which also
  made SQLite keep a statement journal for every row.

A savepoint that rolls back takes its share of the queue with it
(``mark``/``rollback``), so what is owed is always exactly what is stored.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

#: A place in the queues, to roll back to.
Mark = tuple[int, int, int, int]


class Owed:
    """The queues of one connection's open transaction."""

    def __init__(self) -> None:
        self.stories: list[int] = []  # ids not yet in the full-text index
        self.hits: list[tuple[str, str, str]] = []  # (day, rule, source) not yet counted
        self.deliveries: list[tuple[str, str]] = []  # (day, channel) not yet counted, pending
        self.sources: list[str] = []  # names this transaction made sure are in ``sources``

    def mark(self) -> Mark:
        return len(self.stories), len(self.hits), len(self.deliveries), len(self.sources)

    def rollback(self, mark: Mark) -> None:
        """Forget what was queued since ``mark`` (its savepoint rolled back)."""
        del self.stories[mark[0] :]
        del self.hits[mark[1] :]
        del self.deliveries[mark[2] :]
        del self.sources[mark[3] :]

    def pay(self, conn: sqlite3.Connection) -> None:
        """Write everything owed (just before a commit): the index rows, then the counts."""
        self.index_stories(conn)
        self.count_rows(conn)

    def index_stories(self, conn: sqlite3.Connection) -> None:
        """Add the queued stories to the full-text index.

        ``stories_fts`` has external content: the text is read from ``stories``.
        """
        ids = self.stories[:]
        self.stories.clear()
        for start in range(0, len(ids), 500):  # stay well under SQLite's variable limit
            chunk = ids[start : start + 500]
            conn.execute(
                "INSERT INTO stories_fts (rowid, title, summary, body) "
                "SELECT id, title, summary, body FROM stories "
                f"WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )

    def count_rows(self, conn: sqlite3.Connection) -> None:
        """Add the queued hits and deliveries to the per-day counts.

        A day is the UTC date of ``matched_at`` or ``created_at``, as in the
        triggers. New deliveries are all pending; their later status changes,
        and deletions, are counted by triggers. Additions commute, so it does
        not matter whether a trigger has counted a change to one of these rows
        already.
        """
        if self.hits:
            conn.executemany(
                "INSERT INTO daily_hits_by_rule (day, rule, hits) VALUES (?, ?, ?) "
                "ON CONFLICT (day, rule) DO UPDATE SET hits = hits + excluded.hits",
                [
                    (day, rule, n)
                    for (day, rule), n in Counter((d, r) for d, r, _ in self.hits).items()
                ],
            )
            conn.executemany(
                "INSERT INTO daily_hits_by_source (day, source, hits) VALUES (?, ?, ?) "
                "ON CONFLICT (day, source) DO UPDATE SET hits = hits + excluded.hits",
                [
                    (day, source, n)
                    for (day, source), n in Counter((d, s) for d, _, s in self.hits).items()
                ],
            )
            self.hits.clear()
        if self.deliveries:
            conn.executemany(
                "INSERT INTO daily_deliveries (day, channel, status, deliveries) "
                "VALUES (?, ?, 'pending', ?) ON CONFLICT (day, channel, status) "
                "DO UPDATE SET deliveries = deliveries + excluded.deliveries",
                [(day, channel, n) for (day, channel), n in Counter(self.deliveries).items()],
            )
            self.deliveries.clear()
