"""SQS queues and messages in memory, and the rules for queue attributes.

A `Queue` holds its messages in arrival order (a dict keyed by the store's sequence number)
with each message's visibility deadline, receive count and latest receipt token: the same
state the store (`fireside.sqs.store`) keeps on disk. Long-polling receivers wait on the
queue's `waiters`, futures resolved by `wake()` the moment a message may have become
receivable, so a waiting receiver answers as soon as a message arrives (no polling loop).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from fireside.aws.errors import ServiceError

__all__ = [
    "Message",
    "Queue",
    "check_attributes",
    "check_redrive",
    "invalid_parameter",
    "queue_arn",
    "same_value",
    "sqs_error",
]

#: Settable attributes, their defaults and bounds (AWS's).
DEFAULTS: Final = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",  # 1 MiB since August 2025
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "SqsManagedSseEnabled": "true",
}
_BOUNDS: Final = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1048576),
    "MessageRetentionPeriod": (60, 1209600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43200),
    "KmsDataKeyReusePeriodSeconds": (60, 86400),
}
_SETTABLE: Final = frozenset(
    {
        *_BOUNDS,
        "Policy",
        "RedrivePolicy",
        "RedriveAllowPolicy",
        "KmsMasterKeyId",
        "SqsManagedSseEnabled",
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
    }
)
_FIFO_ONLY: Final = frozenset(
    {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)
#: Attributes GetQueueAttributes reports besides the settable ones.
COMPUTED: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
KNOWN: Final = frozenset(_SETTABLE | set(COMPUTED) | {"All"})
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
_CHOICES: Final = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
    "ContentBasedDeduplication": ("true", "false"),
    "SqsManagedSseEnabled": ("true", "false"),
    "FifoQueue": ("true", "false"),
}
#: FIFO deduplication window, seconds.
DEDUP_WINDOW: Final = 300.0


def sqs_error(code: str, message: str, status: int = 400) -> ServiceError:
    """An SQS error (status as SQS's query API sends it: 400 but for a few 403/404s)."""
    return ServiceError(code, message, status)


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, 400)


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def check_name(name: str, fifo: bool) -> None:
    if fifo and _FIFO_NAME.fullmatch(name) is None:
        raise invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            "underscores, must end with .fifo suffix and be 1 to 80 in length."
        )
    if not fifo and _NAME.fullmatch(name) is None:
        raise invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def check_attributes(attributes: dict[str, str], *, fifo: bool, creating: bool) -> None:
    """Refuse unknown attributes and values out of bounds, as AWS words it."""
    for name, value in attributes.items():
        if name not in _SETTABLE or (name in _FIFO_ONLY and not fifo and name != "FifoQueue"):
            raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        if name == "FifoQueue" and not creating:
            raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        bad = False
        if name in _BOUNDS:
            low, high = _BOUNDS[name]
            bad = not (value.isdigit() and low <= int(value) <= high)
        elif name in _CHOICES:
            bad = value not in _CHOICES[name]
        elif name in ("Policy", "RedriveAllowPolicy") and value:
            try:
                bad = not isinstance(json.loads(value), dict)
            except ValueError:
                bad = True
        if bad:
            raise sqs_error("InvalidAttributeValue", f"Invalid value for the parameter {name}.")


@dataclass(slots=True, eq=False)
class Message:
    seq: int
    id: str
    #: The persisted record: body, attributes (binaries as base64), digests, group...
    record: dict[str, Any]
    visible_at: float
    receives: int = 0
    first_receive: float | None = None
    receipt: str | None = None

    @property
    def body(self) -> str:
        body: str = self.record["body"]
        return body

    @property
    def group(self) -> str | None:
        group: str | None = self.record.get("group")
        return group

    def size(self) -> int:
        return int(self.record.get("size", len(self.body)))


@dataclass(slots=True, eq=False)
class Queue:
    account: str
    region: str
    name: str
    attributes: dict[str, str]
    tags: dict[str, str]
    created: int
    modified: int
    next_sequence: int = 1
    messages: dict[int, Message] = field(default_factory=dict)
    #: FIFO deduplication: key -> (expires, message id, sequence number).
    dedup: dict[str, tuple[float, str, str]] = field(default_factory=dict)
    waiters: set[asyncio.Future[None]] = field(default_factory=set)
    purged_at: float = 0.0
    deleted: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.name)

    @property
    def arn(self) -> str:
        return queue_arn(self.region, self.account, self.name)

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoQueue") == "true"

    def setting(self, name: str) -> int:
        return int(self.attributes.get(name, DEFAULTS.get(name, "0")))

    def record(self) -> dict[str, Any]:
        return {
            "attributes": self.attributes,
            "tags": self.tags,
            "created": self.created,
            "modified": self.modified,
            "next_sequence": self.next_sequence,
            # Kept with the queue so deduplication holds across a restart.
            "dedup": self.dedup,
        }

    def wake(self) -> None:
        """Tell every long-polling receiver to look again."""
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()

    def counts(self, now: float) -> tuple[int, int, int]:
        """(visible, in flight, delayed) messages."""
        visible = flight = delayed = 0
        for message in self.messages.values():
            if message.visible_at <= now:
                visible += 1
            elif message.receives:
                flight += 1
            else:
                delayed += 1
        return visible, flight, delayed

    def next_change(self, now: float) -> float | None:
        """When the next invisible message becomes visible, if any."""
        later = [m.visible_at for m in self.messages.values() if m.visible_at > now]
        return min(later) if later else None

    def redrive(self) -> tuple[str, int] | None:
        """(dead-letter queue ARN, maxReceiveCount) of the queue's RedrivePolicy, if any."""
        raw = self.attributes.get("RedrivePolicy")
        if not raw:
            return None
        policy = json.loads(raw)
        return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])

    def attribute_values(self, now: float) -> dict[str, str]:
        visible, flight, delayed = self.counts(now)
        out = {**DEFAULTS, **self.attributes}
        out.update(
            ApproximateNumberOfMessages=str(visible),
            ApproximateNumberOfMessagesNotVisible=str(flight),
            ApproximateNumberOfMessagesDelayed=str(delayed),
            CreatedTimestamp=str(self.created),
            LastModifiedTimestamp=str(self.modified),
            QueueArn=self.arn,
        )
        if self.fifo:
            out.setdefault("ContentBasedDeduplication", "false")
            out.setdefault("DeduplicationScope", "queue")
            out.setdefault("FifoThroughputLimit", "perQueue")
        return out


def check_redrive(queues: Mapping[tuple[str, str, str], Queue], queue: Queue, raw: str) -> str:
    """A `RedrivePolicy` for `queue` checked as AWS does (its dead-letter queue among
    `queues`), in the form AWS stores it."""

    def bad(reason: str) -> ServiceError:
        return invalid_parameter(
            f"Value {raw} for parameter RedrivePolicy is invalid. Reason: {reason}"
        )

    try:
        policy = json.loads(raw)
    except ValueError:
        raise bad("Invalid JSON.") from None
    if not isinstance(policy, dict) or "deadLetterTargetArn" not in policy:
        raise bad("Redrive policy is not a dict or does not contain deadLetterTargetArn.")
    try:
        count = int(policy.get("maxReceiveCount", ""))
    except (TypeError, ValueError):
        raise bad("Redrive policy does not contain maxReceiveCount.") from None
    if not 1 <= count <= 1000:
        raise bad(
            "Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive.".replace(
                "0,", f"{count},"
            )
        )
    arn = str(policy["deadLetterTargetArn"])
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise bad("Dead letter target does not exist.")
    if queue.account != parts[4]:
        raise bad("Dead-letter target owner should be same as the source.")
    target = queues.get((parts[4], parts[3], parts[5]))
    if target is None:
        raise bad("Dead letter target does not exist.")
    if target.fifo != queue.fifo:
        raise bad("Dead-letter queue must be same type of queue as the source.")
    allow = target.attributes.get("RedriveAllowPolicy")
    if allow:
        rule = json.loads(allow)
        permission = rule.get("redrivePermission", "allowAll")
        if permission == "denyAll" or (
            permission == "byQueue" and queue.arn not in rule.get("sourceQueueArns", [])
        ):
            raise bad(f"Queue {arn} does not allow this queue to use it as a dead-letter queue.")
    return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count}, separators=(",", ":"))


def same_value(name: str, current: str | None, given: str) -> bool:
    """Whether CreateQueue's `given` value equals the queue's (policies compared as JSON)."""
    if current == given:
        return True
    if current is None or name not in ("RedrivePolicy", "RedriveAllowPolicy", "Policy"):
        return False
    try:
        mine, theirs = json.loads(current), json.loads(given)
    except ValueError:
        return False
    if name == "RedrivePolicy" and isinstance(theirs, dict):
        theirs["maxReceiveCount"] = int(theirs.get("maxReceiveCount", 0))
    return bool(mine == theirs)
