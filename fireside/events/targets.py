"""EventBridge as a target of other services (`fireside.targets`): a rule forwarding events to
an event bus (its own account's, or another's that allows it), or any service putting an event
on a bus by its ARN, `arn:aws:events:<region>:<account>:event-bus/<name>`.

The event is routed on the target bus's rules as it is: its `id`, `account` (the account it
was first put in), `source`, `time`, `region` and `detail` stay, as AWS forwards an event
between buses. The owner check is the bus's policy (`policy.may_put`). AWS does not route an
event received from another bus on to a third bus (the dead-letter code
`THIRD_ACCOUNT_HOP_DETECTED`, `THIRD_REGION_HOP_DETECTED` across regions): that is also what
keeps a bus targeting itself, or a cycle of buses, from looping.

A delivery from another service (not a forwarded event) carries the entry in `extra`
(`Source`, `DetailType`, optional `Resources`) and the detail JSON as its `body`.

`arn:aws:events:<region>:::` is the archive sink: the target of an archive's managed rule
(`archives.py`), which stores the event in its archive.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from fireside.events.archives import ArchiveStore
from fireside.events.delivery import Router
from fireside.events.policy import may_put
from fireside.events.store import EventStore
from fireside.targets import Accepted, Delivery, Outcome, Refused

__all__ = ["MAX_HOPS", "BusTargets"]

#: Buses an event may pass through: the one it was put on, and one it was forwarded to.
MAX_HOPS: Final = 1


class BusTargets:
    """The EventBridge handler registered with `fireside.targets.Targets` under `events`."""

    def __init__(self, store: EventStore, router: Router, archives: ArchiveStore) -> None:
        self._store = store
        self._router = router
        self._archives = archives

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return [self._accept(delivery) for delivery in deliveries]

    def _accept(self, delivery: Delivery) -> Outcome:
        parts = delivery.arn.split(":", 5)
        region, account, resource = parts[3], parts[4], parts[5]
        if not account and not resource.strip(":"):
            return self._archive(delivery)
        if not resource.startswith("event-bus/"):
            return Refused("INVALID_PARAMETER", f"{delivery.arn} is not an event bus ARN.")
        name = resource.removeprefix("event-bus/")
        sender = delivery.sender
        hops = int(delivery.extra.get("hops", 0))
        if hops > MAX_HOPS:
            cross_region = region != sender.region
            return Refused(
                "THIRD_REGION_HOP_DETECTED" if cross_region else "THIRD_ACCOUNT_HOP_DETECTED",
                "Events received from another event bus cannot be forwarded to another event "
                f"bus: {delivery.arn}.",
            )
        event = self._event(delivery)
        if event is None:
            return Refused("INVALID_JSON", f"The event for {delivery.arn} is not valid.")
        bus = self._store.bus(account, region, name) if len(account) == 12 else None
        if bus is None:
            return Refused("NO_RESOURCE", f"Event bus {delivery.arn} does not exist.")
        if not may_put(bus, sender, event):
            return Refused(
                "NO_PERMISSIONS",
                f"The policy of event bus {delivery.arn} does not allow account "
                f"{sender.account} to put events on it.",
            )
        self._router.route(bus.account, bus.region, bus.name, [event], hops=hops)
        return Accepted(str(event["id"]))

    def _event(self, delivery: Delivery) -> dict[str, Any] | None:
        forwarded = delivery.extra.get("event")
        if isinstance(forwarded, dict):
            return dict(forwarded)
        try:
            detail = json.loads(delivery.body)
        except ValueError:
            return None
        if not isinstance(detail, dict) or not delivery.extra.get("Source"):
            return None
        sender = delivery.sender
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": str(delivery.extra.get("DetailType", "")),
            "source": str(delivery.extra["Source"]),
            "account": sender.account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": sender.region,
            "resources": list(delivery.extra.get("Resources") or []),
            "detail": detail,
        }

    def _archive(self, delivery: Delivery) -> Outcome:
        """An archive's managed rule handing over an event (`archives.py`)."""
        try:
            wrapped = json.loads(delivery.body)
            arn = str(wrapped["archive-arn"])
            event = wrapped["event"]
        except (ValueError, KeyError, TypeError):
            return Refused("INVALID_JSON", "The archived event is not valid.")
        parts = arn.split(":", 5)
        name = parts[5].removeprefix("archive/") if len(parts) == 6 else ""
        archive = self._archives.archives.get((parts[4], parts[3], name)) if name else None
        sender = delivery.sender
        if archive is None or sender.source_arn is None:
            return Refused("NO_RESOURCE", f"Archive {arn} does not exist.")
        rule = self._store.rule(archive.account, archive.region, archive.bus, archive.rule_name)
        if rule is None or rule.arn != sender.source_arn or sender.account != archive.account:
            return Refused("NO_PERMISSIONS", f"Only the rule of archive {arn} may archive to it.")
        self._archives.store_events(archive, [event])
        return Accepted(str(event.get("id", "")))
