"""The values that travel between stages. Frozen, typed, and free of I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Story:
    """One news item, normalised from whatever format its source used."""

    source: str
    url: str
    guid: str
    title: str
    summary: str
    body: str
    published_at: datetime
    fetched_at: datetime


@dataclass(frozen=True)
class Term:
    """One exact name, alias, phrase or exclusion as the rule author wrote it."""

    text: str
    canonical: str  # the entity's name for an alias; the text itself otherwise


@dataclass(frozen=True)
class Entity:
    """A named thing and the other names it goes by."""

    name: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class KeywordSet:
    """Fuzzy keywords: at least ``min`` distinct terms must be found."""

    terms: tuple[str, ...]
    threshold: float = 85.0
    min: int = 1


@dataclass(frozen=True)
class Notify:
    """Per-rule delivery overrides. ``None`` means "use the configured default".

    ``slack=False`` or ``email=()`` switches that channel off for the rule.
    """

    slack: str | bool | None = None
    email: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Rule:
    """A watch rule: every present group must match and no exclusion may appear."""

    id: str
    title: str
    path: str
    entities: tuple[Entity, ...] = ()
    phrases: tuple[str, ...] = ()
    keywords: KeywordSet | None = None
    exclude: tuple[str, ...] = ()
    notify: Notify = field(default_factory=Notify)


@dataclass(frozen=True)
class Match:
    """Why a rule fired: one term and the text it matched in the story.

    ``kind`` is ``entity``, ``phrase`` or ``keyword``; ``term`` is the canonical
    term from the rule (an entity's name, even when an alias matched); ``text``
    is the story's own text; ``start``/``end`` index into ``field``'s plain text.
    """

    kind: str
    term: str
    text: str
    field: str
    start: int
    end: int
    score: float = 100.0


@dataclass(frozen=True)
class Hit:
    """A rule matched a story."""

    rule: Rule
    story: Story
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class Alert:
    """What a notifier sends: a stored hit, flattened for rendering."""

    hit_id: int
    rule_id: str
    rule_title: str
    story_title: str
    story_url: str
    source: str
    published_at: datetime
    matches: tuple[Match, ...]
