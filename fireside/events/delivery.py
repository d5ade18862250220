"""Routing an accepted event: the enabled rules of its bus whose pattern matches, then each
rule's targets, through `fireside.targets` (the one owner-checked path to other services).

EventBridge acts as `events.amazonaws.com` for the rule: a Lambda target's resource policy
must name it with the rule's ARN as SourceArn, an SQS target's queue policy likewise, in the
target's own account too, as AWS requires. Every delivery of one PutEvents is handed over
before PutEvents answers (a Lambda target becomes an `Event` invoke in Lambda's durable queue,
an SQS target a message in its queue): at least once, as EventBridge delivers.

Targets Fireside cannot deliver to yet and refused deliveries are failed invocations: logged,
and counted per rule (`failed_invocations`, in the server's health), as CloudWatch's
`FailedInvocations` metric counts them on AWS, never dropped silently.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from fireside.events.store import EventStore, Rule
from fireside.events.transform import payload
from fireside.targets import Delivery, Refused, Sender, Targets

__all__ = ["EVENTS_PRINCIPAL", "Router"]

log = logging.getLogger(__name__)

EVENTS_PRINCIPAL = "events.amazonaws.com"


class Router:
    def __init__(self, store: EventStore, targets: Targets) -> None:
        self._store = store
        self._targets = targets
        #: Rule ARN -> deliveries that failed (not retried), since the server started.
        self.failed_invocations: Counter[str] = Counter()
        #: Rule ARN -> deliveries handed on, since the server started.
        self.invocations: Counter[str] = Counter()

    def matching(self, account: str, region: str, bus: str, event: Mapping[str, Any]) -> list[Rule]:
        return [
            rule
            for rule in self._store.rules(account, region, bus)
            if rule.state == "ENABLED" and rule.pattern is not None and rule.pattern.matches(event)
        ]

    def route(self, account: str, region: str, bus: str, events: list[dict[str, Any]]) -> None:
        """Deliver `events` (envelopes) put on `bus`; durable when this returns."""
        pending: list[tuple[Rule, Mapping[str, Any], Delivery]] = []
        for event in events:
            for rule in self.matching(account, region, bus, event):
                pending += self._deliveries(rule, event)
        self._send(pending)

    def deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        """Send `event` to `rule`'s targets, whatever its pattern (a scheduled rule's event)."""
        self._send(self._deliveries(rule, event))

    def _deliveries(
        self, rule: Rule, event: Mapping[str, Any]
    ) -> list[tuple[Rule, Mapping[str, Any], Delivery]]:
        sender = Sender(rule.account, rule.region, EVENTS_PRINCIPAL, rule.arn)
        found: list[tuple[Rule, Mapping[str, Any], Delivery]] = []
        for target in rule.targets.values():
            body = payload(target, event, rule_arn=rule.arn, rule_name=rule.name)
            delivery = Delivery(sender, target["Arn"], body.decode("utf-8"))
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:  # a FIFO queue: AWS requires its content-based deduplication on
                delivery.group_id = group
            found.append((rule, target, delivery))
        return found

    def _send(self, pending: list[tuple[Rule, Mapping[str, Any], Delivery]]) -> None:
        if not pending:
            return
        outcomes = self._targets.send_many([delivery for _, _, delivery in pending])
        for (rule, target, _), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, Refused):
                self._failed(rule, target, f"{outcome.code}: {outcome.reason}")
            else:
                self.invocations[rule.arn] += 1

    def _failed(self, rule: Rule, target: Mapping[str, Any], why: str) -> None:
        self.failed_invocations[rule.arn] += 1
        log.warning(
            "EventBridge rule %s: target %s (%s) not invoked: %s",
            rule.arn,
            target.get("Id"),
            target.get("Arn"),
            why,
        )
