"""Build small RSS and Atom documents for tests, from invented stories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

#: Stories in tests are an hour old unless they say otherwise: recent enough that no
#: backfill or max_age rule holds them back, whatever day the suite runs.
HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def rfc822(moment: datetime) -> str:
    """A date as RSS writes it."""
    return format_datetime(moment.astimezone(UTC))


def iso(moment: datetime) -> str:
    """A date as Atom writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    description: str = ""
    guid: str | None = None
    date: str = ""  # RFC 822 for RSS, ISO 8601 for Atom; empty: an hour ago


def rss(items: list[Item], title: str = "Test feed") -> str:
    """An RSS 2.0 document."""
    entries = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<guid>{escape(i.guid or i.link)}</guid><pubDate>{i.date or rfc822(HOUR_AGO)}</pubDate>"
        f"<description>{escape(i.description)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>test</description>{entries}</channel></rss>"
    )


def atom(items: list[Item], title: str = "Test feed") -> str:
    """An Atom 1.0 document."""
    entries = "".join(
        f"<entry><title>{escape(i.title)}</title><link rel='alternate' href='{escape(i.link)}'/>"
        f"<id>{escape(i.guid or i.link)}</id><updated>{i.date or iso(HOUR_AGO)}</updated>"
        f"<summary>{escape(i.description)}</summary></entry>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test</id><updated>{iso(HOUR_AGO)}</updated>"
        f"{entries}</feed>"
    )
