"""EventBridge: event buses, rules with the event-pattern language (`fireside.patterns`),
targets, PutEvents and delivery to Lambda functions.

`EventStore` (store.py) keeps buses and rules; `EventsProvider` (provider.py) answers the
`events` API; `Router` (delivery.py) matches accepted events and queues their invokes;
transform.py shapes what a target receives; `Scheduler` (schedule.py) fires `rate()` and
`cron()` rules.
"""

from fireside.events.delivery import Router
from fireside.events.provider import EventsProvider
from fireside.events.schedule import Scheduler
from fireside.events.store import EventStore

__all__ = ["EventStore", "EventsProvider", "Router", "Scheduler"]
