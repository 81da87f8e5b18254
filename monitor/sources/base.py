"""The contract every kind of source keeps, and the one way an item becomes a Story.

A source kind (feed, sitemap, page) is a module with a ``parse`` function:
bytes in, Stories out, raising SourceError for a document it cannot read.
Fetching, conditional GET, backoff and full text are shared (http.py,
fetch.py, fulltext.py), so a new kind is one small module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urljoin, urlsplit

from monitor.language import detect
from monitor.models import Story
from monitor.sources.dates import parse_date

#: More items than this in one document are ignored (the newest come first).
MAX_ITEMS = 1000
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class SourceState:
    """What we remember about a source between fetches, in SQLite so it survives restarts.

    ``not_before`` is set by backoff after repeated failures and by a server's
    Retry-After; the source is not fetched again before it.
    """

    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    not_before: datetime | None = None


@dataclass(frozen=True)
class FetchResult:
    """One fetch of one source: its stories, or why it failed."""

    source: str
    stories: tuple[Story, ...] = ()
    status: int | None = None
    error: str | None = None
    state: SourceState = SourceState()
    warning: str | None = None
    retry_at: datetime | None = None  # the server's Retry-After, when it gave one

    @property
    def ok(self) -> bool:
        return self.error is None


class Parser(Protocol):
    """A source kind: a document's bytes (UTF-8, sniffed) -> its stories."""

    def __call__(
        self, source: str, data: bytes, url: str, fetched_at: datetime
    ) -> tuple[Story, ...]: ...


def file_path(url: str) -> Path:
    """The local path of a ``file://`` URL."""
    parts = urlsplit(url)
    return Path(unquote(parts.netloc + parts.path))


def language_code(code: object) -> str:
    """``en-US`` -> ``en``: rules scope on the primary language only."""
    return str(code or "").strip().lower().replace("_", "-").split("-")[0][:3]


def make_story(
    source: str,
    fetched_at: datetime,
    *,
    base_url: str = "",
    url: str = "",
    guid: str = "",
    title: str = "",
    summary: str = "",
    body: str = "",
    date: str | None = None,
    language: str = "",
) -> Story:
    """An item, normalised: link resolved, identity settled, date in UTC, language found.

    ``language`` is what the document declared; the text decides when it is
    clear enough (a feed declared "en" may carry a French story).
    """
    url = url.strip()
    if url and base_url and not url.startswith(("https://", "http://")):
        url = urljoin(base_url, url)
    guid = guid.strip() or url
    if not guid:
        # No link and no id: the text itself is the only identity the item has.
        guid = "sha1:" + hashlib.sha1(f"{title}\n{summary}".encode()).hexdigest()
    published = parse_date(date) or fetched_at
    sample = f"{title}. {_TAG.sub(' ', (summary or body)[:400])}"
    return Story(
        source=source,
        url=url,
        guid=guid,
        title=title,
        summary=summary,
        body=body,
        # A date in the future is a publisher's clock or timezone mistake.
        published_at=min(published, fetched_at),
        fetched_at=fetched_at,
        language=detect(sample, language),
    )


def is_backdated(story: Story, max_age: timedelta) -> bool:
    """Published long before we first saw it: re-surfaced or backdated, not news."""
    return story.fetched_at - story.published_at > max_age
