"""Publication dates in whatever form a source writes them -> aware UTC datetimes.

Three tiers, cheapest first: ISO 8601 and RFC 822 (almost every feed) with the
standard library; then feedparser's own date handlers (odd RFC 822 variants,
asctime, a few national formats), so the fast feed path and the feedparser
path agree to the second; then dateparser for free text such as
"24 novembre 2026, 14:05 CET", which costs milliseconds and so comes last.
A date with no zone is taken to be UTC.
"""

from __future__ import annotations

import calendar
import email.utils
import functools
import re
from datetime import UTC, datetime, timedelta

from feedparser.datetimes import _parse_date as _feedparser_date

_ISO_Z = re.compile(r"(?<=\d)[zZ]$")
_ZONE_NAME = re.compile(r"\s([A-Za-z]{3,5})$")
# Zone names the standard library does not know (it knows UT, GMT and the US ones);
# feedparser would silently read these as UTC.
_ZONES = {
    "WET": "+0000",
    "WEST": "+0100",
    "BST": "+0100",
    "CET": "+0100",
    "CEST": "+0200",
    "MET": "+0100",
    "MEST": "+0200",
    "EET": "+0200",
    "EEST": "+0300",
    "MSK": "+0300",
    "TRT": "+0300",
    "IST": "+0530",
    "PKT": "+0500",
    "SGT": "+0800",
    "HKT": "+0800",
    "JST": "+0900",
    "KST": "+0900",
    "AEST": "+1000",
    "AEDT": "+1100",
    "NZST": "+1200",
    "NZDT": "+1300",
    "UTC": "+0000",
}
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _quick(text: str) -> datetime | None:
    if len(text) >= 10 and text[4] == "-" and text[:4].isdigit():
        try:
            return _aware(datetime.fromisoformat(_ISO_Z.sub("+00:00", text)))
        except ValueError:
            return None
    if "," in text[:5] or text[:2].strip().isdigit():
        named = _ZONE_NAME.search(text)
        if named and named.group(1).upper() in _ZONES:
            text = text[: named.start()] + " " + _ZONES[named.group(1).upper()]
        parts = email.utils.parsedate_tz(text)
        if parts is None or (parts[9] is None and text[-1].isalpha()):
            return None  # a zone name the standard library does not know: ask the others
        try:
            moment = datetime(*parts[:6], tzinfo=UTC)
        except (TypeError, ValueError):
            return None
        return moment - timedelta(seconds=parts[9] or 0)
    return None


def parse_date(text: str | None) -> datetime | None:
    """The moment ``text`` names, in UTC, or None when it names none we can trust."""
    text = (text or "").strip()
    if not text:
        return None
    moment = _quick(text)
    if moment is None:
        parsed = _feedparser_date(text)
        if parsed:
            moment = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    if moment is None:
        moment = _free_text(text)
    if moment is None or moment < _EARLIEST:
        return None
    return moment.replace(microsecond=0)


#: The languages dateparser tries (all of them: ~250 ms at first use, more per date).
LANGUAGES = ["en", "fr", "de", "es", "it", "pt", "nl", "ru", "uk", "ar", "tr", "pl", "sv"]


@functools.lru_cache(maxsize=1024)
def _free_text(text: str) -> datetime | None:
    if len(text) > 64 or not any(char.isdigit() for char in text):
        return None  # no date is written without a number (and none runs on for a line)
    import dateparser  # slow to import and to run: only for dates nothing else read

    moment = dateparser.parse(
        text,
        languages=LANGUAGES,
        settings={
            "TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DAY_OF_MONTH": "first",
            "STRICT_PARSING": False,
        },
    )
    return _aware(moment) if moment else None
