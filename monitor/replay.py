"""Backtest: run a rule set over stories already stored, as the daemon would have.

Stories are read in batches by id, so memory holds one batch (plus the set
of rule-and-cluster pairs already reported), however long ``--since`` is.
A rule fires once per cluster, as in ``Store.save``: a second copy of a
story in the same cluster is not a second hit. A hit is *new* when the store
has none for that rule and cluster. Nothing is written unless asked, and even
then only the new hits, with no deliveries, so a replay never sends an alert.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from monitor.matching.compiled import CompiledRules, compile_rules
from monitor.models import Hit, Rule
from monitor.store import Store
from monitor.timeutil import isoformat

#: Stories read (and matched) per query.
BATCH_SIZE = 500


@dataclass(frozen=True)
class ReplayHit:
    """A hit the rules produce on a stored story; ``new`` when the store lacks it."""

    hit: Hit
    story_id: int
    cluster_id: int
    new: bool

    def to_row(self) -> dict[str, Any]:
        """The JSON shape `monitor replay` prints: no ids, nothing that exists only here."""
        story = self.hit.story
        return {
            "rule": self.hit.rule.id,
            "rule_title": self.hit.rule.title,
            "title": story.title,
            "url": story.url,
            "source": story.source,
            "published_at": isoformat(story.published_at),
            "matches": [asdict(m) for m in self.hit.matches],
            "new": self.new,
        }


@dataclass
class RuleCount:
    hits: int = 0
    new: int = 0


@dataclass
class Replay:
    """One replay; iterate ``hits()`` once, then read the counts.

    ``source_tags`` maps a source name to its tags, for rules scoped by tag.
    With ``store_new`` each batch's new hits are stored in one transaction
    before the batch is yielded.
    """

    store: Store
    rules: Sequence[Rule]
    since: datetime
    source_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    store_new: bool = False
    batch_size: int = BATCH_SIZE
    stories: int = 0
    stored: int = 0
    counts: dict[str, RuleCount] = field(init=False)
    matcher: CompiledRules = field(init=False)

    def __post_init__(self) -> None:
        self.matcher = compile_rules(self.rules, long_lived=True)
        self.counts = {rule.id: RuleCount() for rule in self.rules}

    def hits(self) -> Iterator[ReplayHit]:
        reported: set[tuple[int, str]] = set()
        after = 0
        while batch := self.store.stories_since(self.since, after, self.batch_size):
            after = batch[-1][0]
            stored = self.store.hit_keys(cluster for _, cluster, _ in batch)
            found: list[ReplayHit] = []
            for story_id, cluster_id, story in batch:
                self.stories += 1
                tags = self.source_tags.get(story.source, ())
                for hit in self.matcher.match_story(story, tags):
                    key = (cluster_id, hit.rule.id)
                    if key in reported:
                        continue
                    reported.add(key)
                    found.append(ReplayHit(hit, story_id, cluster_id, new=key not in stored))
                    count = self.counts[hit.rule.id]
                    count.hits += 1
                    count.new += key not in stored
            if self.store_new:
                self.stored += self.store.add_hits(
                    (h.story_id, h.cluster_id, h.hit) for h in found if h.new
                )
            yield from found

    @property
    def total(self) -> RuleCount:
        return RuleCount(
            sum(c.hits for c in self.counts.values()), sum(c.new for c in self.counts.values())
        )

    def summary(self) -> list[str]:
        """Lines for people: the totals, then one line per rule."""
        total = self.total
        lines = [
            f"replayed {len(self.rules)} rule(s) over {self.stories} stor"
            f"{'y' if self.stories == 1 else 'ies'} fetched since {isoformat(self.since)}: "
            f"{total.hits} hit(s), {total.new} new"
        ]
        lines.extend(f"  {rule}: {c.hits} hit(s), {c.new} new" for rule, c in self.counts.items())
        return lines


def table_cells(row: dict[str, Any]) -> dict[str, str]:
    """A row of `monitor replay`'s table: short dates, the matched terms, "new" or blank."""
    return {
        "new": "new" if row["new"] else "",
        "rule": row["rule"],
        "published_at": row["published_at"].replace("T", " ")[:16],
        "source": row["source"],
        "terms": ", ".join(sorted({m["term"] for m in row["matches"]})),
        "title": row["title"] or row["url"],
    }
