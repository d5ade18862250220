"""EventBridge: event buses, rules with the event-pattern language (`fireside.patterns`),
targets, PutEvents, bus policies, retries and dead-letter queues, archives and replays.

`EventStore` (store.py) keeps buses and rules; `EventsProvider` (provider.py) answers the
`events` API, with `ArchiveOperations` (archive_api.py) and bus policies (policy.py); `Router`
(delivery.py) matches accepted events and hands each delivery to `fireside.targets`, retrying
through the outbox of retries.py and dead-lettering what fails; `BusTargets` (targets.py) is
EventBridge's own handler there (event buses and the archive sink); transform.py shapes what a
target receives; `Scheduler` (schedule.py) fires `rate()` and `cron()` rules; archives.py
stores archived events and replays, which `Replayer` (replay.py) runs.
"""

from fireside.events.archive_api import ArchiveOperations
from fireside.events.archives import ArchiveStore
from fireside.events.delivery import Router
from fireside.events.provider import EventsProvider
from fireside.events.replay import Replayer
from fireside.events.retries import retry_forever
from fireside.events.schedule import Scheduler
from fireside.events.store import EventStore
from fireside.events.targets import BusTargets

__all__ = [
    "ArchiveOperations",
    "ArchiveStore",
    "BusTargets",
    "EventStore",
    "EventsProvider",
    "Replayer",
    "Router",
    "Scheduler",
    "retry_forever",
]
