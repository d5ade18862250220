"""When a schedule fires: its expression, time zone, start and end dates, read as EventBridge
Scheduler documents them.

- `at(yyyy-mm-ddThh:mm:ss)` (one-time): once, at that wall-clock time in the schedule's
  zone; StartDate and EndDate do not apply. A time already past fires at once (as AWS does for
  a one-time schedule created, or left waiting, after its time).
- `rate(N unit)`: from StartDate (or, without one, from the moment it was created or last
  updated: the first firing is immediate), every N fixed units.
- `cron(...)`: EventBridge's six fields (`fireside.events.schedule`), read in the zone, at or
  after StartDate; a skipped local time does not fire, a repeated one fires once.

Every recurring firing is before EndDate. `upcoming(schedule, since)` is the first firing at
or after `since` (a one-time schedule's time, even if past); None when there is none.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fireside.events.schedule import local_instant, parse_at, parse_schedule
from fireside.scheduler.store import ScheduleRecord

__all__ = ["is_one_time", "upcoming", "valid_expression", "zone_of"]

#: 2199-12-31 (cron's last year) plus a day of time zones.
_CRON_END = datetime(2200, 1, 2, tzinfo=UTC).timestamp()


def zone_of(name: str) -> tzinfo | None:
    """The IANA zone `name` names; None if there is no such zone."""
    if name == "UTC":
        return UTC
    if not name or len(name) > 50 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def valid_expression(expression: str) -> bool:
    return parse_at(expression) is not None or parse_schedule(expression) is not None


def is_one_time(expression: str) -> bool:
    return expression.startswith("at(")


def upcoming(schedule: ScheduleRecord, since: float) -> float | None:
    """The first firing of `schedule` at or after `since` (epoch seconds), or None."""
    zone = zone_of(schedule.timezone) or UTC
    at = parse_at(schedule.expression)
    if at is not None:
        instant = local_instant(at, zone)
        if instant is None:  # a time the clocks skip: the same wall time in the old offset
            instant = at.replace(tzinfo=zone, fold=0).timestamp()
        return instant  # once, even if past: the loop fires it at once
    parsed = parse_schedule(schedule.expression)
    if parsed is None:
        return None
    if parsed.period is not None:
        origin = schedule.start if schedule.start is not None else schedule.modified
        if since <= origin:
            found: float | None = origin
        else:
            found = origin + math.ceil((since - origin) / parsed.period) * parsed.period
    else:
        if schedule.start is not None:
            since = max(since, schedule.start)
        if since >= _CRON_END:  # past every year a cron expression can name
            return None
        found = parsed.next_after(since - 0.001, zone=zone)
    if found is None or (schedule.end is not None and found >= schedule.end):
        return None
    return found
