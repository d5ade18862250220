"""SQS as an event source: a Lambda event-source mapping reading a queue.

Lambda's poller acts with the function's execution role, so it reads as the function's
account, through the same operations (and the same owner check and queue policy) as that
account's own ReceiveMessage and DeleteMessageBatch calls: another account's queue is read
only where its policy grants the function's account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fireside.aws.context import RequestContext
from fireside.sqs.provider import SqsProvider

__all__ = ["QueueReader", "QueueSettings"]


@dataclass(frozen=True, slots=True)
class QueueSettings:
    visibility_timeout: int
    fifo: bool


def _url(arn: str) -> str:
    parts = arn.split(":")
    return f"/{parts[4]}/{parts[5]}" if len(parts) == 6 else arn


class QueueReader:
    def __init__(self, provider: SqsProvider) -> None:
        self._provider = provider

    @staticmethod
    def _ctx(account: str, region: str) -> RequestContext:
        return RequestContext(account, region, str(uuid.uuid4()), "", account)

    async def settings(self, account: str, region: str, arn: str) -> QueueSettings:
        """The queue's visibility timeout and kind (ServiceError if the account can't see it)."""
        answer = await self._provider.get_queue_attributes(
            self._ctx(account, region),
            {"QueueUrl": _url(arn), "AttributeNames": ["VisibilityTimeout", "FifoQueue"]},
        )
        attributes = answer.get("Attributes") or {}
        return QueueSettings(
            int(attributes.get("VisibilityTimeout", 30)), attributes.get("FifoQueue") == "true"
        )

    async def receive(
        self, account: str, region: str, arn: str, count: int, wait: int
    ) -> list[dict[str, Any]]:
        answer = await self._provider.receive_message(
            self._ctx(account, region),
            {
                "QueueUrl": _url(arn),
                "MaxNumberOfMessages": count,
                "WaitTimeSeconds": wait,
                "MessageSystemAttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            },
        )
        messages: list[dict[str, Any]] = answer.get("Messages") or []
        return messages

    async def delete(self, account: str, region: str, arn: str, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            await self._provider.delete_message_batch(
                self._ctx(account, region),
                {
                    "QueueUrl": _url(arn),
                    "Entries": [
                        {"Id": str(i), "ReceiptHandle": handle}
                        for i, handle in enumerate(handles[start : start + 10])
                    ],
                },
            )
