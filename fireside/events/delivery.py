"""Routing an accepted event: the enabled rules of its bus whose pattern matches, then each
rule's targets.

A Lambda target becomes an asynchronous (`Event`) invoke in Lambda's durable queue
(`fireside.compute.async_queue`), queued in the same transaction for every target of the
event, before PutEvents answers: at least once, as EventBridge delivers. Before queueing, the
function's resource policy must grant `events.amazonaws.com` with the rule's ARN as
SourceArn (`fireside.compute.permissions.service_may_invoke`), in the function's own account
too, as AWS requires.

Targets Fireside cannot deliver to yet (SQS, SNS, another bus, ...) and refused invokes are
failed invocations: logged, and counted per rule (`failed_invocations`, in the server's
health), as CloudWatch's `FailedInvocations` metric counts them on AWS, never dropped
silently.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from fireside.compute.destinations import function_target, service_of
from fireside.compute.permissions import service_may_invoke
from fireside.compute.policies import Policies
from fireside.events.store import EventStore, Rule
from fireside.events.transform import payload

__all__ = ["EVENTS_PRINCIPAL", "Invokes", "Router"]

log = logging.getLogger(__name__)

EVENTS_PRINCIPAL = "events.amazonaws.com"


class Invokes(Protocol):
    """Where asynchronous invokes go (`AsyncQueue.enqueue_many`)."""

    def enqueue_many(self, events: list[tuple[str, str, str, str, str, bytes]]) -> None: ...


class Router:
    def __init__(self, store: EventStore, invokes: Invokes, policies: Policies) -> None:
        self._store = store
        self._invokes = invokes
        self._policies = policies
        #: Rule ARN -> deliveries that failed (not retried), since the server started.
        self.failed_invocations: Counter[str] = Counter()
        #: Rule ARN -> deliveries handed on (queued invokes), since the server started.
        self.invocations: Counter[str] = Counter()

    def matching(self, account: str, region: str, bus: str, event: Mapping[str, Any]) -> list[Rule]:
        return [
            rule
            for rule in self._store.rules(account, region, bus)
            if rule.state == "ENABLED" and rule.pattern is not None and rule.pattern.matches(event)
        ]

    def route(self, account: str, region: str, bus: str, events: list[dict[str, Any]]) -> None:
        """Deliver `events` (envelopes) put on `bus`; durable when this returns."""
        queued: list[tuple[str, str, str, str, str, bytes]] = []
        for event in events:
            for rule in self.matching(account, region, bus, event):
                queued += self._invokes_of(rule, event)
        if queued:
            self._invokes.enqueue_many(queued)

    def deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        """Send `event` to `rule`'s targets, whatever its pattern (a scheduled rule's event)."""
        queued = self._invokes_of(rule, event)
        if queued:
            self._invokes.enqueue_many(queued)

    def _invokes_of(
        self, rule: Rule, event: Mapping[str, Any]
    ) -> list[tuple[str, str, str, str, str, bytes]]:
        queued = []
        for target in rule.targets.values():
            invoke = self._lambda_invoke(rule, target, event)
            if invoke is not None:
                queued.append(invoke)
                self.invocations[rule.arn] += 1
        return queued

    def _lambda_invoke(
        self, rule: Rule, target: Mapping[str, Any], event: Mapping[str, Any]
    ) -> tuple[str, str, str, str, str, bytes] | None:
        arn = target["Arn"]
        function = function_target(arn)
        if function is None:
            self._failed(rule, target, f"{service_of(arn) or 'this'} targets are not delivered yet")
            return None
        if not service_may_invoke(
            function,
            self._policies,
            service=EVENTS_PRINCIPAL,
            source_arn=rule.arn,
            source_account=rule.account,
        ):
            self._failed(
                rule, target, "the function's resource policy does not allow events.amazonaws.com"
            )
            return None
        body = payload(target, event, rule_arn=rule.arn, rule_name=rule.name)
        return (
            function.account,
            function.region,
            function.function,
            function.qualifier,
            str(uuid.uuid4()),
            body,
        )

    def _failed(self, rule: Rule, target: Mapping[str, Any], why: str) -> None:
        self.failed_invocations[rule.arn] += 1
        log.warning(
            "EventBridge rule %s: target %s (%s) not invoked: %s",
            rule.arn,
            target.get("Id"),
            target.get("Arn"),
            why,
        )
