"""Scheduled rules: `rate(...)` and `cron(...)` expressions, and the loop that fires them.

`parse_schedule(text)` answers a `Schedule` (or None for an expression EventBridge refuses);
`Schedule.next_after(moment, origin)` is the first firing strictly after `moment`. Cron
expressions have EventBridge's six fields, in UTC:

    cron(minutes hours day-of-month month day-of-week year)

with `*`, `,`, `-`, `/`, month and weekday names, `?` (one of the day fields must be `?`),
`L` (the month's last day, or `5L`: its last Thursday), `W` (`15W`: the weekday nearest the
15th, within the month) and `#` (`6#3`: its third Friday). Weekdays count from 1 = Sunday.

EventBridge Scheduler (`fireside.scheduler`) reuses this parser: its cron expressions are
read in a schedule's time zone (`next_after(..., zone=...)`), and its one-time schedules'
`at(yyyy-mm-ddThh:mm:ss)` expressions are read by `parse_at`.

A `rate(N unit)` rule fires every N units from its creation. The `Scheduler` (a supervised
loop) fires each enabled schedule rule when its time comes, with a "Scheduled Event" of
source `aws.events` sent to the rule's targets through the `Router`. Firings that fall while
the server is stopped are not made up afterwards.
"""

from __future__ import annotations

import asyncio
import calendar
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final

from fireside.events.delivery import Router
from fireside.events.store import EventStore, Rule

__all__ = [
    "Schedule",
    "Scheduler",
    "local_instant",
    "parse_at",
    "parse_schedule",
    "scheduled_event",
]

_AT: Final = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_RATE: Final = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS: Final = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS: Final = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MAX_SEARCH_YEARS: Final = 200


def _weekday(day: date) -> int:
    """EventBridge's weekday number: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _values(field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    found: set[int] = set()
    for part in field.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(part)
        if spec == "*":
            first, last = low, high
        elif "-" in spec:
            a, b = spec.split("-", 1)
            first, last = _number(a, names), _number(b, names)
        else:
            first = _number(spec, names)
            last = high if step_text else first
        if not (low <= first <= high and low <= last <= high) or first > last:
            raise ValueError(part)
        found.update(range(first, last + 1, step))
    return frozenset(found)


def _number(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)


def _day_of_month(field: str) -> Callable[[date], bool]:
    if field == "?":
        return lambda day: True
    if field == "L":
        return lambda day: day.day == calendar.monthrange(day.year, day.month)[1]
    if field.endswith("W"):
        target = int(field[:-1])
        if not 1 <= target <= 31:
            raise ValueError(field)

        def nearest_weekday(day: date) -> bool:
            last = calendar.monthrange(day.year, day.month)[1]
            wanted = date(day.year, day.month, min(target, last))
            if wanted.weekday() == 5:  # Saturday: the Friday before, or Monday if on the 1st
                wanted += timedelta(days=-1 if wanted.day > 1 else 2)
            elif wanted.weekday() == 6:  # Sunday: the Monday after, or Friday at month's end
                wanted += timedelta(days=1 if wanted.day < last else -2)
            return day == wanted

        return nearest_weekday
    days = _values(field, 1, 31, {})
    return lambda day: day.day in days


def _day_of_week(field: str) -> Callable[[date], bool]:
    if field == "?":
        return lambda day: True
    if field.endswith("L") and field != "L":
        weekday = _number(field[:-1], _WEEKDAYS)
        if not 1 <= weekday <= 7:
            raise ValueError(field)
        return lambda day: (
            _weekday(day) == weekday and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        )
    if "#" in field:
        weekday_text, nth_text = field.split("#", 1)
        weekday, nth = _number(weekday_text, _WEEKDAYS), int(nth_text)
        if not (1 <= weekday <= 7 and 1 <= nth <= 5):
            raise ValueError(field)
        return lambda day: _weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    days = _values("7" if field == "L" else field, 1, 7, _WEEKDAYS)
    return lambda day: _weekday(day) in days


@dataclass(frozen=True, slots=True)
class Schedule:
    #: Seconds between firings of a rate expression (None: a cron expression).
    period: int | None = None
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    years: frozenset[int] = frozenset()
    day: Callable[[date], bool] = lambda day: True

    def next_after(
        self, moment: float, origin: float = 0.0, zone: tzinfo | None = None
    ) -> float | None:
        """The first firing after `moment` (epoch seconds); `origin` starts a rate's grid.

        A cron expression is read in `zone` (UTC by default), as EventBridge Scheduler
        documents for daylight saving time: a local time the clocks skip does not fire, and
        a local time that happens twice fires once (its first occurrence). A rate's units are
        fixed durations whatever the zone (a day is 24 hours)."""
        if self.period is not None:
            if moment < origin:
                return origin + self.period
            return origin + (int((moment - origin) // self.period) + 1) * self.period
        at = datetime.fromtimestamp(moment, zone or UTC).replace(
            second=0, microsecond=0, tzinfo=None
        )
        at += timedelta(minutes=1)
        limit = at.year + _MAX_SEARCH_YEARS
        while at.year <= limit:
            if at.year not in self.years:
                at = datetime(at.year + 1, 1, 1)
            elif at.month not in self.months:
                at = (at.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0)
            elif not self.day(at.date()):
                at = (at + timedelta(days=1)).replace(hour=0, minute=0)
            elif at.hour not in self.hours:
                at = (at + timedelta(hours=1)).replace(minute=0)
            elif at.minute not in self.minutes:
                at += timedelta(minutes=1)
            else:
                found = local_instant(at, zone)
                if found is not None and found > moment:
                    return found
                at += timedelta(minutes=1)
        return None


def local_instant(local: datetime, zone: tzinfo | None) -> float | None:
    """The instant of a wall-clock time in `zone` (UTC if None): None for a time the clocks
    skip; the first of two for a time they repeat."""
    if zone is None:
        return local.replace(tzinfo=UTC).timestamp()
    aware = local.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        return None
    return aware.timestamp()


def parse_at(expression: str) -> datetime | None:
    """The wall-clock time of an `at(yyyy-mm-ddThh:mm:ss)` expression (EventBridge
    Scheduler's one-time schedules), without a zone; None if it is not one."""
    match = _AT.fullmatch(expression)
    if match is None:
        return None
    try:
        found = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return found if 1970 <= found.year <= 2199 else None  # the years cron takes too


def parse_schedule(expression: str) -> Schedule | None:
    """The schedule of a `rate(...)` or `cron(...)` expression; None if EventBridge refuses it."""
    rate = _RATE.fullmatch(expression)
    if rate is not None:
        value, unit = int(rate[1]), rate[2]
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            return None
        return Schedule(period=value * _UNIT_SECONDS[unit.rstrip("s")])
    if not (expression.startswith("cron(") and expression.endswith(")")):
        return None
    fields = expression[5:-1].split()
    if len(fields) != 6:
        return None
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        return None  # exactly one of the day fields must be `?`
    try:
        return Schedule(
            minutes=_values(minutes, 0, 59, {}),
            hours=_values(hours, 0, 23, {}),
            months=_values(month, 1, 12, _MONTHS),
            years=_values(year, 1970, 2199, {}),
            day=_day_of_month(day_of_month) if day_of_week == "?" else _day_of_week(day_of_week),
        )
    except (ValueError, KeyError):
        return None


def scheduled_event(rule: Rule, moment: float) -> dict[str, Any]:
    """The event a scheduled rule sends, as EventBridge shapes it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account,
        "time": datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region,
        "resources": [rule.arn],
        "detail": {},
    }


class Scheduler:
    """Fires enabled schedule rules on time; `run()` is the supervised loop."""

    def __init__(
        self,
        store: EventStore,
        router: Router,
        *,
        clock: Callable[[], float] = time.time,
        tick: float = 1.0,
    ) -> None:
        self._store = store
        self._router = router
        self._clock = clock
        self._tick = tick
        #: Rule ARN -> (the expression and creation time it was computed for, next firing).
        self._next: dict[str, tuple[tuple[str, float], float | None]] = {}

    def fire_due(self, now: float) -> int:
        """Fire every schedule rule due at `now`; answers how many fired."""
        fired = 0
        seen: set[str] = set()
        for rule in self._store.scheduled_rules():
            if rule.schedule is None:
                continue
            seen.add(rule.arn)
            schedule = parse_schedule(rule.schedule)
            if schedule is None:
                continue
            key = (rule.schedule, rule.created)
            known = self._next.get(rule.arn)
            if known is None or known[0] != key:
                # First sight (or a changed rule): the next firing from now on.
                self._next[rule.arn] = (key, schedule.next_after(now, rule.created))
                continue
            due = known[1]
            if due is None or due > now:
                continue
            if rule.state == "ENABLED":
                self._router.deliver(rule, scheduled_event(rule, due))
                fired += 1
            self._next[rule.arn] = (key, schedule.next_after(now, rule.created))
        for arn in set(self._next) - seen:
            del self._next[arn]
        return fired

    async def run(self) -> None:
        """Fire forever (cancel to stop)."""
        while True:
            # A crash ends the loop; the supervisor logs it and starts it again.
            self.fire_due(self._clock())
            await asyncio.sleep(self._tick)
