"""When an alert may go out: noise control and retry backoff. Pure functions, no I/O.

Each new delivery is planned once, and the plan is stored with it (see
store/outbox.py), so a restart keeps every promise made before it:

1. **backfill**: a story published longer ago than ``backfill`` is history,
   not news; its delivery is ``skipped`` (the hit is stored all the same);
2. **digest** (the rule's, else the channel's): held until the next
   boundary of the cadence, in a batch that goes out as one summary;
3. **cooldown** (the rule's): the first alert goes at once, the ones within
   the period after it are held and batched into the next message;
4. **hourly cap** (per channel and target): past ``max_per_hour`` messages
   in the last hour, alerts are held in one batch until the next full hour;
5. **quiet hours**: whatever would go out inside the window is held until
   it ends (in a batch), unless its severity bypasses them.

A batch key names one future message; the outbox sends each batch as one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from monitor.models import Cadence
from monitor.timeutil import isoformat, parse_duration

__all__ = [
    "Lookup",
    "Plan",
    "Planner",
    "Policy",
    "backoff",
    "next_boundary",
    "parse_cadence",
    "parse_clock",
    "parse_quiet_hours",
    "quiet_end",
]

_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
#: Retry delays: 30 s, 1 min, 2 min, ... doubling up to an hour, each jittered.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


def parse_clock(text: str) -> int:
    """``"08:00"`` as minutes after midnight; ValueError names the accepted form."""
    found = _CLOCK.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a time of day; write it like 08:00 or 22:30")
    return int(found.group(1)) * 60 + int(found.group(2))


def parse_cadence(text: str) -> Cadence:
    """``"1h"``, ``"1d"`` (every period) or ``"08:00"`` (daily at that local time)."""
    if ":" in text:
        return Cadence(at=parse_clock(text))
    try:
        every = parse_duration(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a digest cadence; write a period like 1h or 1d, "
            'or a time of day like "08:00"'
        ) from None
    if every < timedelta(minutes=1):
        raise ValueError(f"digest period {text!r} is too short; use 1m or more")
    return Cadence(every=every)


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """``"22:00-07:00"`` as (start, end) minutes after midnight; the window may span midnight."""
    start, dash, end = text.partition("-")
    if not dash:
        raise ValueError(f"{text!r} is not a window; write it like 22:00-07:00")
    window = parse_clock(start), parse_clock(end)
    if window[0] == window[1]:
        raise ValueError(f"{text!r} is an empty window; the start and end must differ")
    return window


def _at_local(day: datetime, minutes: int) -> datetime:
    return day.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)


def next_boundary(cadence: Cadence, now: datetime, zone: tzinfo) -> datetime:
    """The next time (after ``now``, in UTC) a digest of ``cadence`` goes out.

    Periods that divide a day count from local midnight (``1h`` on the hour,
    ``6h`` at 00, 06, 12, 18); longer ones from the Unix epoch.
    """
    local = now.astimezone(zone)
    if cadence.at is not None:
        candidate = _at_local(local, cadence.at)
        if candidate <= local:
            candidate = _at_local(local + DAY, cadence.at)
        return candidate.astimezone(UTC)
    every = cadence.every or DAY
    seconds = int(every.total_seconds())
    if seconds <= 86400 and 86400 % seconds == 0:
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Same-zone arithmetic on aware datetimes is wall-clock time: 08:00 stays 08:00.
        steps = (local - midnight) // every + 1
        return (midnight + steps * every).astimezone(UTC)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp((epoch // seconds + 1) * seconds, UTC)


def quiet_end(moment: datetime, window: tuple[int, int], zone: tzinfo) -> datetime | None:
    """When the quiet window around ``moment`` ends (UTC), or None outside it."""
    start, end = window
    local = moment.astimezone(zone)
    minutes = local.hour * 60 + local.minute
    if start < end:
        inside = start <= minutes < end
        ends = _at_local(local, end)
    else:  # over midnight: 22:00-07:00
        inside = minutes >= start or minutes < end
        ends = _at_local(local + DAY if minutes >= start else local, end)
    return ends.astimezone(UTC) if inside else None


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait before retry number ``attempts`` (1 = the first retry): doubling, jittered.

    Half the delay is fixed and half random ("equal jitter"), so deliveries
    that failed together (Slack was down) do not all come back together.
    """
    delay: timedelta = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay / 2 + delay / 2 * float(rng())


@dataclass(frozen=True)
class Policy:
    """The configured noise controls (``[notify]`` in the config)."""

    backfill: timedelta = timedelta(hours=24)
    max_per_hour: int = 0  # 0: no cap
    backlog: int = 0  # more singles than this due at once go as one digest (0: never)
    zone: tzinfo = UTC
    quiet_hours: tuple[int, int] | None = None
    quiet_bypass: tuple[str, ...] = ("high",)
    channel_digest: dict[str, Cadence] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What to do with one delivery: ``pending`` (due now), ``held`` or ``skipped``."""

    status: str
    due_at: datetime
    batch: str = ""
    reason: str = ""


class Lookup:
    """What the planner needs to know of messages already sent or planned.

    The store implements both against SQLite; tests hand in dictionaries.
    """

    def last_message(self, rule: str, channel: str, target: str) -> datetime | None:
        """When the rule's latest message to this place went (or is due to go)."""
        raise NotImplementedError

    def recent_messages(self, channel: str, target: str, since: datetime) -> list[datetime]:
        """When each message to this place since ``since`` went or is due to go."""
        raise NotImplementedError


class Planner:
    """Plans a run of new deliveries, remembering each plan for the ones after it."""

    def __init__(self, policy: Policy, lookup: Lookup, now: datetime) -> None:
        self.policy = policy
        self.lookup = lookup
        self.now = now
        self._last: dict[tuple[str, str, str], datetime | None] = {}
        self._recent: dict[tuple[str, str], list[datetime]] = {}
        self._batches: set[tuple[str, str, str]] = set()
        self._singles: dict[tuple[str, str], int] = {}  # planned due now in this run

    def plan(
        self,
        *,
        rule: str,
        severity: str,
        channel: str,
        target: str,
        published_at: datetime,
        cooldown: timedelta | None = None,
        digest: Cadence | None = None,
    ) -> Plan:
        policy, now = self.policy, self.now
        if published_at < now - policy.backfill:
            return Plan("skipped", now, reason="backfill")
        place = (channel, target)
        cadence = digest or policy.channel_digest.get(channel)
        last = self._last_message(rule, channel, target)
        if cadence is not None:
            due = next_boundary(cadence, now, policy.zone)
            scope = rule if digest is not None else "*"
            plan = Plan("held", due, f"digest:{scope}:{isoformat(due)}", "digest")
        elif cooldown and last is not None and now < last + cooldown:
            # A batch already waiting (its time is ahead) takes this alert too.
            due = last if last > now else last + cooldown
            plan = Plan("held", due, f"cooldown:{rule}:{isoformat(due)}", "cooldown")
        else:
            if policy.max_per_hour and self._messages(place) >= policy.max_per_hour:
                # The next full hour: every alert over the cap until then shares one batch,
                # in this run or a later one.
                due = next_boundary(Cadence(every=HOUR), now, UTC)
                plan = Plan("held", due, f"cap:{isoformat(due)}", "hourly cap")
            else:
                plan = Plan("pending", now)
        if policy.quiet_hours and severity not in policy.quiet_bypass:
            end = quiet_end(plan.due_at, policy.quiet_hours, policy.zone)
            if end is not None:
                plan = Plan(
                    "held",
                    end,
                    plan.batch or f"quiet:{isoformat(end)}",
                    plan.reason or "quiet hours",
                )
        self._remember(rule, place, plan)
        return plan

    def _last_message(self, rule: str, channel: str, target: str) -> datetime | None:
        key = (rule, channel, target)
        if key not in self._last:
            self._last[key] = self.lookup.last_message(rule, channel, target)
        return self._last[key]

    def _recent_messages(self, place: tuple[str, str]) -> list[datetime]:
        if place not in self._recent:
            self._recent[place] = self.lookup.recent_messages(*place, self.now - HOUR)
        return self._recent[place]

    def _messages(self, place: tuple[str, str]) -> int:
        """Messages to ``place`` in the last hour, counting this run's singles as the
        outbox will send them: past ``backlog`` they are one digest."""
        singles = self._singles.get(place, 0)
        if self.policy.backlog and singles > self.policy.backlog:
            singles = 1
        return len(self._recent_messages(place)) + singles

    def _remember(self, rule: str, place: tuple[str, str], plan: Plan) -> None:
        key = (rule, *place)
        last = self._last_message(*key)
        if last is None or plan.due_at > last:
            self._last[key] = plan.due_at
        if plan.status == "pending":
            self._singles[place] = self._singles.get(place, 0) + 1
            return
        if plan.batch:
            batch = (*place, plan.batch)
            if batch in self._batches:
                return  # the batch's message is counted once
            self._batches.add(batch)
        self._recent_messages(place).append(plan.due_at)


def batch_reason(reasons: Iterable[str]) -> str:
    """One reason for a message made of rows held for possibly different reasons."""
    found = sorted({r for r in reasons if r})
    return found[0] if len(found) == 1 else "digest"
