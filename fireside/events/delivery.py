"""Routing an accepted event: the enabled rules of its bus whose pattern matches, then each
rule's targets, through `fireside.targets` (the one owner-checked path to other services).

EventBridge acts as `events.amazonaws.com` for the rule: a Lambda target's resource policy
must name it with the rule's ARN as SourceArn, an SQS target's queue policy likewise, in the
target's own account too, as AWS requires; another account's event bus must allow the rule's
account in its bus policy. Every delivery of one PutEvents is handed over before PutEvents
answers (a Lambda target becomes an `Event` invoke in Lambda's durable queue, an SQS target a
message in its queue, a bus target the routing of the event on that bus): at least once, as
EventBridge delivers.

A refusal that may pass (`retriable`) goes to the durable retry outbox (`retries.py`) and is
tried again until the target's `RetryPolicy` runs out; a refusal for good (no such resource,
not allowed) or a policy run out sends the event to the target's `DeadLetterConfig` queue with
AWS's message attributes (`RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`,
`EXHAUSTED_RETRY_CONDITION`, `RETRY_ATTEMPTS`). Either way it is a failed invocation: logged,
and counted per rule (`failed_invocations`, in the server's health), as CloudWatch's
`FailedInvocations` metric counts them on AWS, never dropped silently.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from fireside.events.retries import Attempt, RetryOutbox, backoff, retry_limits
from fireside.events.store import EventStore, Rule
from fireside.events.transform import payload
from fireside.targets import Accepted, Delivery, Refused, Sender, Targets, service_of

__all__ = ["EVENTS_PRINCIPAL", "Router", "dlq_error_code"]

log = logging.getLogger(__name__)

EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
#: Error codes EventBridge writes in a dead-lettered message's `ERROR_CODE` that a handler
#: may already give as its refusal's code.
_DLQ_CODES: Final = frozenset(
    {"THIRD_ACCOUNT_HOP_DETECTED", "THIRD_REGION_HOP_DETECTED", "NO_PERMISSIONS", "NO_RESOURCE"}
)


def dlq_error_code(refused: Refused) -> str:
    """The `ERROR_CODE` attribute AWS would write for a refusal."""
    if refused.code in _DLQ_CODES:
        return refused.code
    code = refused.code.lower()
    if "accessdenied" in code or "notauthorized" in code or "authorization" in code:
        return "NO_PERMISSIONS"
    if "nonexistent" in code or "notfound" in code or "nosuch" in code:
        return "NO_RESOURCE"
    return "INTERNAL_ERROR" if refused.retriable else "INVALID_PARAMETER"


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class Router:
    def __init__(
        self,
        store: EventStore,
        targets: Targets,
        *,
        outbox: RetryOutbox | None = None,
        retry_base: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._targets = targets
        self.outbox = outbox if outbox is not None else RetryOutbox(store.conn)
        self._retry_base = retry_base
        self._clock = clock
        #: Rule ARN -> deliveries that failed for good (dead-lettered or dropped).
        self.failed_invocations: Counter[str] = Counter()
        #: Rule ARN -> deliveries handed on, since the server started.
        self.invocations: Counter[str] = Counter()
        #: Rule ARN -> failed deliveries sent to the target's dead-letter queue.
        self.sent_to_dlq: Counter[str] = Counter()
        #: Rule ARN -> failed deliveries the dead-letter queue refused too.
        self.failed_to_dlq: Counter[str] = Counter()

    def matching(self, account: str, region: str, bus: str, event: Mapping[str, Any]) -> list[Rule]:
        return [
            rule
            for rule in self._store.rules(account, region, bus)
            if rule.state == "ENABLED" and rule.pattern is not None and rule.pattern.matches(event)
        ]

    def route(
        self,
        account: str,
        region: str,
        bus: str,
        events: list[dict[str, Any]],
        *,
        hops: int = 0,
        only_rules: Collection[str] | None = None,
    ) -> None:
        """Deliver `events` (envelopes) put on `bus`; durable when this returns. `hops`
        counts the buses the events came through before this one; `only_rules` (rule ARNs)
        limits a replay to the rules it names."""
        pending: list[Attempt] = []
        for event in events:
            for rule in self.matching(account, region, bus, event):
                if only_rules is None or rule.arn in only_rules:
                    pending += self._attempts(rule, event, hops)
        self._send(pending)

    def deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        """Send `event` to `rule`'s targets, whatever its pattern (a scheduled rule's event)."""
        self._send(self._attempts(rule, event, 0))

    def _attempts(self, rule: Rule, event: Mapping[str, Any], hops: int) -> list[Attempt]:
        sender = Sender(rule.account, rule.region, EVENTS_PRINCIPAL, rule.arn)
        found: list[Attempt] = []
        for target in rule.targets.values():
            body = payload(target, event, rule_arn=rule.arn, rule_name=rule.name)
            delivery = Delivery(sender, target["Arn"], body.decode("utf-8"))
            if service_of(target["Arn"]) == "events":
                # Another bus takes the event itself, and must know how far it has come.
                delivery.extra = {"event": dict(event), "hops": hops + 1}
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:  # a FIFO queue: AWS requires its content-based deduplication on
                delivery.group_id = group
            found.append(Attempt(sender, target, event, delivery))
        return found

    def _send(self, pending: list[Attempt]) -> None:
        if not pending:
            return
        now = self._clock()
        for attempt in pending:
            attempt.first = attempt.first or now
        outcomes = self._targets.send_many([attempt.delivery for attempt in pending])
        self._settle(pending, outcomes, now)

    def retry_due(self, now: float) -> int:
        """Try the outbox's due rows once more; answers how many were tried."""
        due = self.outbox.due(now)
        live: list[Attempt] = []
        letters: list[tuple[Attempt, Refused | None, str | None]] = []
        for attempt in due:
            if now - attempt.first >= retry_limits(attempt.target)[1]:
                last = Refused(*attempt.last) if attempt.last else None
                letters.append((attempt, last, "MaximumEventAgeInSeconds"))
            else:
                attempt.attempts += 1
                live.append(attempt)
        outcomes = self._targets.send_many([a.delivery for a in live]) if live else []
        self._settle(live, outcomes, now, letters)
        return len(due)

    def _settle(
        self,
        attempts: list[Attempt],
        outcomes: list[Accepted | Refused],
        now: float,
        letters: list[tuple[Attempt, Refused | None, str | None]] | None = None,
    ) -> None:
        """Count what was accepted; put what may pass in the outbox; dead-letter the rest."""
        letters = list(letters or [])
        add: list[tuple[float, Attempt]] = []
        update: list[tuple[float, Attempt]] = []
        delete = [a.row for a, _, _ in letters if a.row is not None]
        for attempt, outcome in zip(attempts, outcomes, strict=True):
            if isinstance(outcome, Accepted):
                self.invocations[attempt.rule_arn] += 1
                if attempt.row is not None:
                    delete.append(attempt.row)
                continue
            max_attempts, max_age = retry_limits(attempt.target)
            if not outcome.retriable:
                letters.append((attempt, outcome, None))
            elif attempt.attempts >= max_attempts:
                letters.append((attempt, outcome, "MaximumRetryAttempts"))
            elif now - attempt.first >= max_age:
                letters.append((attempt, outcome, "MaximumEventAgeInSeconds"))
            else:
                due = now + backoff(attempt.attempts, self._retry_base)
                attempt.last = (outcome.code, outcome.reason)
                (update if attempt.row is not None else add).append((due, attempt))
                continue
            if attempt.row is not None:
                delete.append(attempt.row)
        self.dead_letter(letters)  # before the rows go: at least once
        self.outbox.apply(add=add, update=update, delete=delete)

    def dead_letter(self, letters: list[tuple[Attempt, Refused | None, str | None]]) -> None:
        """Send each failed attempt's event to its target's dead-letter queue, with AWS's
        attributes; without one, the failure is logged and counted only."""
        sends: list[tuple[Attempt, Delivery]] = []
        for attempt, refused, exhausted in letters:
            self.failed_invocations[attempt.rule_arn] += 1
            why = f"{refused.code}: {refused.reason}" if refused else f"{exhausted} reached"
            log.warning(
                "EventBridge rule %s: target %s (%s) not invoked: %s",
                attempt.rule_arn,
                attempt.target.get("Id"),
                attempt.target.get("Arn"),
                why,
            )
            queue = (attempt.target.get("DeadLetterConfig") or {}).get("Arn")
            if not queue:
                continue
            attributes = {
                "RULE_ARN": _string(attempt.rule_arn),
                "TARGET_ARN": _string(str(attempt.target.get("Arn"))),
                "ERROR_CODE": _string(dlq_error_code(refused) if refused else "INTERNAL_ERROR"),
                "ERROR_MESSAGE": _string(refused.reason if refused else why),
                "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(attempt.attempts)},
            }
            if exhausted is not None:
                attributes["EXHAUSTED_RETRY_CONDITION"] = _string(exhausted)
            sends.append(
                (
                    attempt,
                    Delivery(
                        attempt.sender, queue, json.dumps(attempt.event), attributes=attributes
                    ),
                )
            )
        if not sends:
            return
        outcomes = self._targets.send_many([delivery for _, delivery in sends])
        for (attempt, delivery), outcome in zip(sends, outcomes, strict=True):
            if isinstance(outcome, Accepted):
                self.sent_to_dlq[attempt.rule_arn] += 1
            else:
                self.failed_to_dlq[attempt.rule_arn] += 1
                log.warning(
                    "EventBridge rule %s: dead-letter queue %s refused the event: %s: %s",
                    attempt.rule_arn,
                    delivery.arn,
                    outcome.code,
                    outcome.reason,
                )
