"""The one path by which a service acts on another service's resource: an SNS subscription
feeding a queue, an EventBridge rule invoking a function or publishing to a topic, a
schedule putting an event on a bus, a Lambda destination sending its result on.

A service never reaches into another's store. It hands `Targets.send_many` a list of
`Delivery`s, each naming the acting `Sender` and the target's ARN; the target service's
registered `Handler` decides, through that service's own owner check and resource policy,
whether the sender may act, and then accepts the payload durably (committed when
`accept_many` returns) or refuses it.

Who a sender is, as AWS judges it:

- an AWS service acting for a resource (`Sender.service` set: `sns.amazonaws.com` for a topic,
  `events.amazonaws.com` for a rule): it needs a statement in the target's resource policy
  naming the service, even in the target's own account, as AWS documents for SQS queues,
  SNS topics and Lambda functions (the consoles add the statement for you; the APIs do not);
- an account acting through its own role (`Sender.service` None: a Lambda destination, a
  scheduler's execution role): its own resources need nothing, another account's need a
  resource-policy grant to that account. Fireside does not evaluate IAM identity policies.

A refusal is a `Refused` outcome (never an exception escaping to the sender's caller): it
says why, and whether trying again could help (`retriable`: a full disk, a queue briefly
unavailable) or not (no such resource, not allowed), as the sender's retry and dead-letter
rules need to know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Accepted", "Delivery", "Handler", "Outcome", "Refused", "Sender", "Targets"]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who acts: `account` (the resource owner's), and the service acting for its resource
    `source_arn` (None when the account acts through its own role)."""

    account: str
    region: str
    service: str | None = None
    source_arn: str | None = None


@dataclass(slots=True)
class Delivery:
    """One payload for one target. `body` is the message or event (for a function, the
    invoke payload); `attributes` are SQS/SNS message attributes in SQS's wire form
    (`{"Name": {"DataType": "String", "StringValue": "..."}}`, binary values as bytes);
    `group_id` / `dedup_id` matter to FIFO targets; `subject` to SNS; `extra` carries what
    one target kind alone needs (an EventBridge entry's `DetailType`, ...)."""

    sender: Sender
    arn: str
    body: str
    attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    group_id: str | None = None
    dedup_id: str | None = None
    subject: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Accepted:
    """The target took the payload durably; `id` is its message, event or request id."""

    id: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The target did not take the payload: `code` and `reason` in AWS's words where AWS has
    them; `retriable` when trying again later may succeed."""

    code: str
    reason: str
    retriable: bool = False


Outcome = Accepted | Refused


class Handler(Protocol):
    """A service's receiving end: one outcome per delivery, in order; a payload is durable
    when its `Accepted` is returned."""

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]: ...


def service_of(arn: str) -> str:
    """The service field of an ARN (`sqs` in `arn:aws:sqs:...`), or "" if it is none."""
    parts = arn.split(":", 5)
    return parts[2] if len(parts) == 6 and parts[0] == "arn" else ""


class Targets:
    """The registry of handlers, by the service field of the target's ARN."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, service: str, handler: Handler) -> None:
        self._handlers[service] = handler

    def send(self, delivery: Delivery) -> Outcome:
        return self.send_many([delivery])[0]

    def send_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """Hand each delivery to its target's service, grouped so that one service commits
        its share at once; outcomes in the order given."""
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        groups: dict[str, list[int]] = {}
        for index, delivery in enumerate(deliveries):
            service = service_of(delivery.arn)
            if service not in self._handlers:
                outcomes[index] = Refused(
                    "InvalidParameter",
                    f"Fireside does not deliver to {service or 'this'} targets: {delivery.arn}",
                )
            else:
                groups.setdefault(service, []).append(index)
        for service, indexes in groups.items():
            try:
                results = self._handlers[service].accept_many([deliveries[i] for i in indexes])
            except OSError as exc:  # a full disk or a lost store: try again later
                results = [Refused("InternalError", str(exc), retriable=True)] * len(indexes)
            for index, result in zip(indexes, results, strict=True):
                outcomes[index] = result
        return [outcome for outcome in outcomes if outcome is not None]
