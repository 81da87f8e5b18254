"""The values that travel between stages. Frozen, typed, and free of I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


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
    language: str = ""  # ISO 639-1 when known (declared or detected), else empty
    extract_error: str = ""  # why full-text extraction failed (the summary was kept)


@dataclass(frozen=True)
class Context:
    """Words that must (or must not) stand near an entity for a mention to count.

    Disambiguates names that are also ordinary words: Apple the company wants
    "iPhone" or "shares" nearby, not "pie".
    """

    require_any: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    within: int = 30  # words on either side of the mention


@dataclass(frozen=True)
class Entity:
    """A named thing and the other names it goes by.

    ``case_sensitive_names`` lists the names (canonical or alias) that must
    match with their exact capitalisation, for acronyms such as US or WHO.
    """

    name: str
    aliases: tuple[str, ...] = ()
    case_sensitive_names: frozenset[str] = frozenset()
    context: Context | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def is_case_sensitive(self, name: str) -> bool:
        return name in self.case_sensitive_names


@dataclass(frozen=True)
class KeywordSet:
    """Fuzzy keywords: at least ``min`` distinct terms must be found."""

    terms: tuple[str, ...]
    threshold: float = 85.0
    min: int = 1


# The boolean condition tree. ``fields`` on a leaf limits it to some story
# fields (a query's ``title:`` prefix); None means the rule's own fields.


@dataclass(frozen=True)
class EntityLeaf:
    entity: Entity
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PhraseLeaf:
    """Exact whole words; a trailing ``*`` on the last word matches any ending."""

    text: str
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class KeywordsLeaf:
    keywords: KeywordSet
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RegexLeaf:
    pattern: str
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Near:
    """All ``terms`` (phrases) within ``within`` words of each other."""

    terms: tuple[str, ...]
    within: int
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class And:
    """``all:`` in YAML, AND in a query."""

    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """``any:`` in YAML, OR in a query."""

    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    child: Condition


Condition = EntityLeaf | PhraseLeaf | KeywordsLeaf | RegexLeaf | Near | And | Or | Not


@dataclass(frozen=True)
class Notify:
    """Per-rule delivery overrides. ``None`` means "use the configured default".

    ``slack=False`` or ``email=()`` switches that channel off for the rule.
    """

    slack: str | bool | None = None
    email: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Cadence:
    """When a digest goes out: every ``every`` (``1h``, ``1d``), or daily at ``at`` ("08:00").

    ``at`` is minutes after local midnight, in the config's ``notify.timezone``.
    """

    every: timedelta | None = None
    at: int | None = None


@dataclass(frozen=True)
class Templates:
    """A rule's own Jinja2 layouts (the template text itself); empty means the default."""

    slack: str = ""
    email_text: str = ""
    email_html: str = ""


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
    match: Condition | None = None  # from `match:` and/or `query:`; must hold beside the groups
    fields: tuple[str, ...] = ("title", "summary", "body")
    sources: tuple[str, ...] = ()  # source names or tags; empty means every source
    languages: tuple[str, ...] = ()  # applies when the story's language is known
    max_age: timedelta | None = None  # ignore stories published longer ago than this
    enabled: bool = True
    severity: str = "normal"  # info | normal | high
    description: str = ""
    owner: str = ""
    examples_match: tuple[str, ...] = ()  # texts this rule must match (run by `monitor check`)
    examples_no_match: tuple[str, ...] = ()  # texts it must not match
    cooldown: timedelta | None = None  # at most one message per period; the rest batched
    digest: Cadence | None = None  # all alerts of the rule as one summary per period
    templates: Templates = field(default_factory=Templates)


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
    severity: str = "normal"
    summary: str = ""  # the story's text, for the snippet around the first match
    body: str = ""
    outlets: tuple[str, ...] = ()  # other sources that carried the story ("also at")
    templates: Templates = field(default_factory=Templates)


@dataclass(frozen=True)
class Digest:
    """Several alerts for one place, sent as one message.

    ``reason`` says why they were held together: digest, cooldown, quiet
    hours, the hourly cap, or a backlog (many alerts due at once).
    """

    alerts: tuple[Alert, ...]
    reason: str
    key: str  # the send attempt, stable across a resend (Message-ID, Slack metadata)
