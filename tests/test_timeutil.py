"""Durations and timestamps, written one way everywhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.timeutil import isoformat, parse_duration, parse_since, utcnow

NOW = datetime(2026, 11, 15, 12, 30, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("1s", timedelta(seconds=1)),
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("1h", timedelta(hours=1)),
        ("36h", timedelta(hours=36)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        (" 5 m ", timedelta(minutes=5)),
        ("0s", timedelta(0)),
        ("0090s", timedelta(seconds=90)),
    ],
)
def test_parse_duration(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize(
    "text",
    ["", "10", "m", "1.5h", "-1h", "10 minutes", "10M", "1h30m", "1y", "PT1H"],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == (
        f"{text!r} is not a duration; write a number and a unit, like 30s, 10m, 1h or 1d"
    )


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NOW, "2026-11-15T12:30:45+00:00"),
        (NOW.replace(microsecond=999_999), "2026-11-15T12:30:45+00:00"),
        (
            datetime(2026, 11, 15, 14, 30, 45, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-15T12:30:45+00:00",
        ),
        (
            datetime(2026, 11, 14, 23, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2026-11-15T04:00:00+00:00",
        ),
        (datetime(2026, 11, 15, 12, 30, 45), "2026-11-15T12:30:45+00:00"),
    ],
)
def test_isoformat(moment: datetime, text: str) -> None:
    assert isoformat(moment) == text


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process in a time zone far from UTC, then restore it."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_isoformat_does_not_depend_on_the_server_time_zone() -> None:
    # A naive datetime is UTC already; the machine's local time must not shift it.
    assert isoformat(datetime(2026, 11, 15, 12, 0)) == "2026-11-15T12:00:00+00:00"


def test_isoformat_text_sorts_like_time() -> None:
    moments = [NOW + timedelta(seconds=s) for s in (0, 9, 10, 3600, 86400 * 40)]
    assert sorted(isoformat(m) for m in moments) == [isoformat(m) for m in moments]


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:15", datetime(2026, 11, 1, 8, 15, tzinfo=UTC)),
        (
            "2026-11-01T08:15:00+02:00",
            datetime(2026, 11, 1, 8, 15, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_parse_since(text: str, moment: datetime) -> None:
    result = parse_since(text, now=NOW)
    assert result == moment
    assert result.tzinfo is not None


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "", "24 hours"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_since(text, now=NOW)
    assert str(caught.value) == (
        f"{text!r} is neither a duration (24h, 7d) nor a date (2026-11-01)"
    )


def test_parse_since_defaults_to_now() -> None:
    before = utcnow()
    result = parse_since("1h")
    assert before - timedelta(hours=1) <= result <= utcnow() - timedelta(hours=1)


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC
