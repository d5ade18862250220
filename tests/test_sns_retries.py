"""SNS retries a delivery refused for a reason that may pass (a full disk): queued in its
durable retry outbox before Publish answers, sent again until taken, and still there after
the store is reopened (a restart)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from fireside.aws.context import RequestContext
from fireside.outbox import Outbox
from fireside.sns import SnsProvider, SnsStore
from fireside.sns.fanout import Fanout
from fireside.targets import Accepted, Delivery, Outcome, Refused, Targets

ACCOUNT = "111111111111"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:work"


class FlakyQueues:
    """An SQS stand-in that refuses retriably `failures` times, then takes everything."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.taken: list[Delivery] = []

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for delivery in deliveries:
            if self.failures > 0:
                self.failures -= 1
                outcomes.append(Refused("InternalError", "disk full", retriable=True))
            else:
                self.taken.append(delivery)
                outcomes.append(Accepted(str(len(self.taken))))
        return outcomes


def _provider(path: Path, queues: FlakyQueues) -> tuple[SnsProvider, Outbox]:
    targets = Targets()
    targets.register("sqs", queues)
    store = SnsStore(path)
    retries = Outbox(store, targets)
    return SnsProvider(store, Fanout(targets, retries=retries)), retries


def test_a_retriable_refusal_is_retried_across_a_restart(tmp_path: Path) -> None:
    ctx = RequestContext(ACCOUNT, "us-east-1", "req", "http://127.0.0.1:4566", ACCOUNT)
    queues = FlakyQueues(failures=1)
    provider, retries = _provider(tmp_path / "sns.sqlite", queues)

    async def publish() -> None:
        topic = (await provider.create_topic(ctx, {"Name": "orders"}))["TopicArn"]
        await provider.operations()["Subscribe"](
            ctx,
            {
                "TopicArn": topic,
                "Protocol": "sqs",
                "Endpoint": QUEUE,
                "Attributes": {"RawMessageDelivery": "true"},
            },
        )
        await provider.publish(ctx, {"TopicArn": topic, "Message": json.dumps({"n": 1})})

    asyncio.run(publish())
    assert queues.taken == [] and retries.pending() == 1  # refused once, kept on disk
    provider.close()

    queues = FlakyQueues(failures=0)
    _, reopened = _provider(tmp_path / "sns.sqlite", queues)
    assert reopened.pending() == 1
    with reopened._db.transaction() as conn:  # due now, not after its backoff
        conn.execute("UPDATE outbox SET not_before = 0")
    assert reopened.deliver_due() is None
    assert [json.loads(d.body) for d in queues.taken] == [{"n": 1}]
    assert reopened.pending() == 0
