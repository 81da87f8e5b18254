"""Build small RSS and Atom documents for tests, from invented stories."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    description: str = ""
    guid: str | None = None
    date: str = "Tue, 24 Nov 2026 10:00:00 +0000"  # RFC 822 for RSS; ISO 8601 for Atom


def rss(items: list[Item], title: str = "Test feed") -> str:
    """An RSS 2.0 document."""
    entries = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<guid>{escape(i.guid or i.link)}</guid><pubDate>{i.date}</pubDate>"
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
        f"<id>{escape(i.guid or i.link)}</id><updated>{i.date}</updated>"
        f"<summary>{escape(i.description)}</summary></entry>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test</id><updated>2026-11-24T10:00:00Z</updated>"
        f"{entries}</feed>"
    )
