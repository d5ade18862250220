"""The SQS provider called in-process (no server): a long-polling receiver is woken by the
send itself, and the state written through survives reopening the store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from fireside.aws.context import RequestContext
from fireside.sqs import SqsProvider, SqsStore

CTX = RequestContext("000000000000", "us-east-1", "req", "http://127.0.0.1:4566")


def call(provider: SqsProvider, operation: str, **params: Any) -> Any:
    return provider.operations()[operation](CTX, params)


def test_a_waiting_receiver_sees_a_send_within_milliseconds(tmp_path: Path) -> None:
    provider = SqsProvider(SqsStore(tmp_path / "sqs.sqlite"))

    async def scenario() -> list[float]:
        url = (await call(provider, "CreateQueue", QueueName="fast"))["QueueUrl"]
        delays = []
        for _ in range(20):
            receiving = asyncio.create_task(
                call(provider, "ReceiveMessage", QueueUrl=url, WaitTimeSeconds=5)
            )
            await asyncio.sleep(0.01)  # the receiver is waiting
            assert not receiving.done()
            await call(provider, "SendMessage", QueueUrl=url, MessageBody="x")
            sent = time.perf_counter()
            answer = await receiving
            delays.append(time.perf_counter() - sent)
            handle = answer["Messages"][0]["ReceiptHandle"]
            await call(provider, "DeleteMessage", QueueUrl=url, ReceiptHandle=handle)
        return delays

    delays = sorted(asyncio.run(scenario()))
    provider.close()
    # The target is 5 ms; the receiver resumes on the send's own wake-up (typically ~0.1 ms).
    assert delays[len(delays) // 2] < 0.005, delays


def test_state_survives_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "sqs.sqlite"
    first = SqsProvider(SqsStore(path))

    async def before() -> str:
        url: str = (await call(first, "CreateQueue", QueueName="kept", tags={"a": "b"}))["QueueUrl"]
        await call(first, "SendMessage", QueueUrl=url, MessageBody="one")
        await call(first, "SendMessage", QueueUrl=url, MessageBody="two", DelaySeconds=900)
        return url

    url = asyncio.run(before())
    first.close()
    second = SqsProvider(SqsStore(path))

    async def after() -> tuple[Any, Any, Any]:
        tags = await call(second, "ListQueueTags", QueueUrl=url)
        counts = await call(second, "GetQueueAttributes", QueueUrl=url, AttributeNames=["All"])
        got = await call(second, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10)
        return tags, counts, got

    tags, counts, got = asyncio.run(after())
    second.close()
    assert tags["Tags"] == {"a": "b"}
    assert counts["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert [m["Body"] for m in got["Messages"]] == ["one"]
