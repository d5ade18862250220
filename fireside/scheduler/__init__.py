"""EventBridge Scheduler (`scheduler`): schedule groups and schedules (one-time `at()`, `rate()`
and `cron()` in a time zone), fired by a supervised loop to templated targets through the one
owner-checked path (`fireside.targets`)."""

from fireside.scheduler.firing import Firer
from fireside.scheduler.provider import SchedulerProvider
from fireside.scheduler.store import SchedulerStore

__all__ = ["Firer", "SchedulerProvider", "SchedulerStore"]
