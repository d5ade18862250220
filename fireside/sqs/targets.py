"""SQS as a target of other services (`fireside.targets`): an SNS subscription, an
EventBridge rule, a schedule or a Lambda destination sending a message to a queue.

The queue's owner check is its resource policy (the queue's `Policy` attribute) for
`sqs:SendMessage`: an AWS service acting for a resource (SNS for a topic, EventBridge for a
rule) needs a statement naming it, in the queue's own account too, as AWS requires; an
account acting through its own role needs nothing on its own queues, and a grant to its
account on another's. A refusal names what was missing and is never retried (as AWS treats
a missing queue or a denied send: a client error, straight to any dead-letter queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fireside.aws.errors import ServiceError
from fireside.sqs.access import may
from fireside.sqs.messages import check_send
from fireside.sqs.queues import Queue
from fireside.targets import Accepted, Delivery, Outcome, Refused, Sender

if TYPE_CHECKING:
    from fireside.sqs.provider import SqsProvider

__all__ = ["QueueTargets", "may_send"]


def may_send(queue: Queue, sender: Sender) -> bool:
    """Whether `sender` may send to `queue`, as its queue policy decides (`access.may`, the
    check every SQS request goes through too)."""
    return may(
        queue,
        "SendMessage",
        sender.account,
        service=sender.service,
        source_arn=sender.source_arn,
    )


class QueueTargets:
    """The SQS handler registered with `fireside.targets.Targets` under `sqs`."""

    def __init__(self, provider: SqsProvider) -> None:
        self._provider = provider

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        batches: dict[tuple[str, str, str], list[tuple[int, tuple[dict[str, Any], int]]]] = {}
        for index, delivery in enumerate(deliveries):
            parts = delivery.arn.split(":")
            queue = (
                self._provider.queues.get((parts[4], parts[3], parts[5]))
                if len(parts) == 6
                else None
            )
            if queue is None:
                outcomes[index] = Refused(
                    "AWS.SimpleQueueService.NonExistentQueue",
                    f"The queue {delivery.arn} does not exist.",
                )
                continue
            if not may_send(queue, delivery.sender):
                outcomes[index] = Refused(
                    "AccessDenied",
                    f"The policy of queue {delivery.arn} does not allow "
                    f"{delivery.sender.service or delivery.sender.account} to send to it"
                    + (f" for {delivery.sender.source_arn}" if delivery.sender.source_arn else "")
                    + ".",
                )
                continue
            entry: dict[str, Any] = {"MessageBody": delivery.body}
            if delivery.attributes:
                entry["MessageAttributes"] = delivery.attributes
            if queue.fifo:
                entry["MessageGroupId"] = delivery.group_id
                if delivery.dedup_id is not None:
                    entry["MessageDeduplicationId"] = delivery.dedup_id
            try:
                record = check_send(queue, entry, delivery.sender.account)
            except ServiceError as exc:
                outcomes[index] = Refused(exc.code, exc.message)
                continue
            batches.setdefault(queue.key, []).append((index, record))
        # Every queue's share in one commit: an SNS fan-out to ten queues costs one fsync.
        keys = list(batches)
        answered = self._provider.send_batches(
            [(self._provider.queues[key], [record for _, record in batches[key]]) for key in keys]
        )
        for key, results in zip(keys, answered, strict=True):
            for (index, _), result in zip(batches[key], results, strict=True):
                outcomes[index] = Accepted(str(result["MessageId"]))
        return [outcome for outcome in outcomes if outcome is not None]
