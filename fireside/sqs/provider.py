"""The SQS provider: one method per operation, over queues held in memory and written
through to `SqsStore` before each answer.

Queues are scoped by account and region; a queue URL is `<endpoint>/<account>/<name>` on
Fireside's endpoint (AWS's form with Fireside's host). A queue of another account is reached
through `queues.may_use`, the one owner check: Fireside stores no queue policies yet, so
another account's queue answers as AWS answers a queue the caller may not see, and a redrive
policy naming another account's queue is refused with AWS's words.

Messages (sending, receiving, long polling, visibility, dead-letter queues) are in
`fireside.sqs.messaging`, a mixin of this class.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.pagination import marker_page
from fireside.sqs.messaging import Messaging
from fireside.sqs.queues import (
    COMPUTED,
    KNOWN,
    Message,
    Queue,
    check_attributes,
    check_name,
    invalid_parameter,
    may_use,
    sqs_error,
)
from fireside.sqs.store import SqsStore, Writes

__all__ = ["SqsProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
_PURGE_INTERVAL = 60.0


def _no_queue(message: str = "The specified queue does not exist.") -> ServiceError:
    return sqs_error("QueueDoesNotExist", message)


class SqsProvider(Messaging):
    def __init__(self, store: SqsStore) -> None:
        super().__init__()
        self.store = store
        self.queues: dict[tuple[str, str, str], Queue] = {}
        self._load()

    def _load(self) -> None:
        for account, region, name, record in self.store.queues():
            self.queues[(account, region, name)] = Queue(
                account,
                region,
                name,
                record["attributes"],
                record["tags"],
                record["created"],
                record["modified"],
                record.get("next_sequence", 1),
            )
            self.queues[(account, region, name)].dedup = {
                key: (float(expires), str(mid), str(number))
                for key, (expires, mid, number) in record.get("dedup", {}).items()
            }
        for (
            seq,
            account,
            region,
            name,
            mid,
            record,
            visible,
            receives,
            first,
            receipt,
        ) in self.store.messages():
            queue = self.queues.get((account, region, name))
            if queue is not None:
                queue.messages[seq] = Message(seq, mid, record, visible, receives, first, receipt)

    def close(self) -> None:
        for queue in self.queues.values():
            queue.wake()
        self.store.close()

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateQueue": self.create_queue,
            "DeleteQueue": self.delete_queue,
            "GetQueueUrl": self.get_queue_url,
            "ListQueues": self.list_queues,
            "GetQueueAttributes": self.get_queue_attributes,
            "SetQueueAttributes": self.set_queue_attributes,
            "TagQueue": self.tag_queue,
            "UntagQueue": self.untag_queue,
            "ListQueueTags": self.list_queue_tags,
            "PurgeQueue": self.purge_queue,
            "ListDeadLetterSourceQueues": self.list_dead_letter_source_queues,
            **self.message_operations(),
        }

    # -- finding queues ---------------------------------------------------------------------

    @staticmethod
    def url(ctx: RequestContext, queue: Queue) -> str:
        return f"{ctx.endpoint_url.rstrip('/')}/{queue.account}/{queue.name}"

    def _owned(self, ctx: RequestContext, account: str, name: str) -> Queue:
        """The queue `name` of `account` in the caller's region, if the caller may use it."""
        if not may_use(ctx.account_id, account):
            raise _no_queue("The specified queue does not exist or you do not have access to it.")
        queue = self.queues.get((account, ctx.region, name))
        if queue is None:
            raise _no_queue()
        return queue

    def queue(self, ctx: RequestContext, params: dict[str, Any]) -> Queue:
        """The queue a request's `QueueUrl` names."""
        url: str = params.get("QueueUrl", "")
        parts = [p for p in urlsplit(url).path.split("/") if p]
        if len(parts) == 2:
            return self._owned(ctx, parts[0], parts[1])
        if len(parts) == 1 and "/" not in url:  # a bare queue name, as AWS accepts
            return self._owned(ctx, ctx.account_id, url)
        raise _no_queue()  # what AWS answers for a URL that names no queue

    def by_arn(self, ctx: RequestContext, arn: str) -> Queue:
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
            raise invalid_parameter(f"Value {arn} for parameter arn is invalid.")
        if not may_use(ctx.account_id, parts[4]):
            raise _no_queue("The specified queue does not exist or you do not have access to it.")
        queue = self.queues.get((parts[4], parts[3], parts[5]))
        if queue is None:
            raise sqs_error(
                "ResourceNotFoundException",
                "The resource that you specified for the SourceArn parameter doesn't exist.",
                404,
            )
        return queue

    # -- queues -----------------------------------------------------------------------------

    async def create_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["QueueName"]
        attributes: dict[str, str] = dict(params.get("Attributes") or {})
        fifo = name.endswith(".fifo")
        if attributes.get("FifoQueue") == "true" and not fifo:
            check_name(name, True)
        if fifo and attributes.get("FifoQueue") != "true":
            check_name(name, False)
        check_name(name, fifo)
        check_attributes(attributes, fifo=fifo, creating=True)
        if attributes.get("FifoQueue") == "false":
            del attributes["FifoQueue"]
        existing = self.queues.get((ctx.account_id, ctx.region, name))
        if existing is not None:
            current = existing.attribute_values(time.time())
            for key, value in attributes.items():
                if not _same(key, current.get(key), value):
                    raise sqs_error(
                        "QueueNameExists",
                        "A queue already exists with the same name and a different value for "
                        f"attribute {key}",
                    )
            return {"QueueUrl": self.url(ctx, existing)}
        now = int(time.time())
        queue = Queue(
            ctx.account_id, ctx.region, name, {}, dict(params.get("tags") or {}), now, now
        )
        self._apply(ctx, queue, attributes)
        # In memory first, so a CreateQueue of the same name meanwhile finds it.
        self.queues[queue.key] = queue
        try:
            await self._save(queue)
        except sqlite3.Error:
            if self.queues.get(queue.key) is queue:
                del self.queues[queue.key]
            raise
        return {"QueueUrl": self.url(ctx, queue)}

    def _apply(self, ctx: RequestContext, queue: Queue, attributes: dict[str, str]) -> None:
        """Set attributes on `queue` after the checks that involve other queues."""
        redrive = attributes.get("RedrivePolicy")
        if redrive:
            attributes["RedrivePolicy"] = self._check_redrive(ctx, queue, redrive)
        for key, value in attributes.items():
            if (
                key in ("RedrivePolicy", "Policy", "RedriveAllowPolicy", "KmsMasterKeyId")
                and not value
            ):
                queue.attributes.pop(key, None)
            else:
                queue.attributes[key] = value

    def _check_redrive(self, ctx: RequestContext, queue: Queue, raw: str) -> str:
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
        if not may_use(queue.account, parts[4]):
            raise bad("Dead-letter target owner should be same as the source.")
        target = self.queues.get((parts[4], parts[3], parts[5]))
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
                raise bad(
                    f"Queue {arn} does not allow this queue to use it as a dead-letter queue."
                )
        return json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": count}, separators=(",", ":")
        )

    async def delete_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params)
        writes = Writes()
        writes.delete_queue(queue.key)
        del self.queues[queue.key]
        queue.deleted = True
        queue.wake()
        await self.store.commit(writes)
        return {}

    async def get_queue_url(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        owner = params.get("QueueOwnerAWSAccountId") or ctx.account_id
        return {"QueueUrl": self.url(ctx, self._owned(ctx, owner, params["QueueName"]))}

    async def list_queues(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("QueueNamePrefix", "")
        found = [
            q
            for (account, region, name), q in self.queues.items()
            if account == ctx.account_id and region == ctx.region and name.startswith(prefix)
        ]
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= limit <= 1000:
            raise invalid_parameter(
                f"Value {limit} for parameter MaxResults is invalid. Reason: MaxResults must be "
                "an integer between 1 and 1000."
            )
        page, token = marker_page(
            found,
            lambda q: (q.name,),
            {"Marker": params.get("NextToken"), "MaxItems": limit or 1000},
            scope=f"ListQueues:{prefix}",
            invalid=lambda: invalid_parameter("Invalid NextToken value."),
            cap=1000,
        )
        out: dict[str, Any] = {}
        if page:
            out["QueueUrls"] = [self.url(ctx, q) for q in page]
        if token and limit is not None:
            out["NextToken"] = token
        return out

    async def get_queue_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        queue = self.queue(ctx, params)
        names: list[str] = params.get("AttributeNames") or []
        for name in names:
            if name not in KNOWN:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        if not names:
            return {}
        values = queue.attribute_values(time.time())
        if "All" not in names:
            values = {k: v for k, v in values.items() if k in names}
        return {"Attributes": values} if values else {}

    async def set_queue_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        queue = self.queue(ctx, params)
        attributes: dict[str, str] = dict(params.get("Attributes") or {})
        for name in attributes:
            if name in COMPUTED:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        check_attributes(attributes, fifo=queue.fifo, creating=False)
        self._apply(ctx, queue, attributes)
        queue.modified = int(time.time())
        queue.wake()  # a shorter delay or visibility may make messages receivable
        await self._save(queue)
        return {}

    async def _save(self, queue: Queue) -> None:
        writes = Writes()
        writes.put_queue(queue.key, queue.record())
        await self.store.commit(writes)

    async def tag_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params)
        tags: dict[str, str] = params.get("Tags") or {}
        if not tags:
            raise sqs_error("MissingParameter", "The request must contain the parameter Tags.")
        if len({**queue.tags, **tags}) > 50:
            raise invalid_parameter("Too many tags added for queue " + queue.name + ".")
        queue.tags.update(tags)
        await self._save(queue)
        return {}

    async def untag_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params)
        keys: list[str] = params.get("TagKeys") or []
        if not keys:
            raise sqs_error("MissingParameter", "The request must contain the parameter TagKeys.")
        for key in keys:
            queue.tags.pop(key, None)
        await self._save(queue)
        return {}

    async def list_queue_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params)
        return {"Tags": dict(queue.tags)} if queue.tags else {}

    async def purge_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params)
        now = time.time()
        if now - queue.purged_at < _PURGE_INTERVAL:
            raise sqs_error(
                "PurgeQueueInProgress",
                f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds.",
                403,
            )
        writes = Writes()
        writes.purge(queue.key)
        queue.messages.clear()
        queue.purged_at = now
        await self.store.commit(writes)
        return {}

    async def list_dead_letter_source_queues(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        target = self.queue(ctx, params)
        found = [q for q in self.queues.values() if (q.redrive() or ("", 0))[0] == target.arn]
        limit = params.get("MaxResults")
        page, token = marker_page(
            found,
            lambda q: (q.name,),
            {"Marker": params.get("NextToken"), "MaxItems": limit or 1000},
            scope=f"ListDeadLetterSourceQueues:{target.arn}",
            invalid=lambda: invalid_parameter("Invalid NextToken value."),
            cap=1000,
        )
        out: dict[str, Any] = {"queueUrls": [self.url(ctx, q) for q in page]}
        if token and limit is not None:
            out["NextToken"] = token
        return out


def _same(name: str, current: str | None, given: str) -> bool:
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
