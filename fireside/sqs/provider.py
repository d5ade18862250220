"""The SQS provider: one method per operation, over queues held in memory and written
through to `SqsStore` before each answer.

Queues are scoped by account and region; a queue URL is `<endpoint>/<account>/<name>` on
Fireside's endpoint (AWS's form with Fireside's host). Every reference to a queue (a URL, an
ARN) names the action it is for, and `access.may` decides: the owner always, another account
as the queue's policy allows (`AccessDenied` otherwise; GetQueueUrl answers as for a queue
that is not there). A redrive policy naming another account's queue is refused with AWS's
words.

Messages (sending, receiving, long polling, visibility, dead-letter queues) are in
`fireside.sqs.messaging`, a mixin of this class.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.pagination import marker_page
from fireside.sqs.access import add_permission, check_policy, denied, may, remove_permission
from fireside.sqs.messaging import Messaging
from fireside.sqs.moves import MoveTasks
from fireside.sqs.queues import (
    COMPUTED,
    KNOWN,
    Message,
    Queue,
    check_attributes,
    check_name,
    check_redrive,
    invalid_parameter,
    same_value,
    sqs_error,
)
from fireside.sqs.store import SqsStore, Writes

__all__ = ["SqsProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
_PURGE_INTERVAL = 60.0
_HIDDEN = "The specified queue does not exist or you do not have access to it."


def _no_queue(message: str = "The specified queue does not exist.") -> ServiceError:
    return sqs_error("QueueDoesNotExist", message)


class SqsProvider(Messaging, MoveTasks):
    def __init__(self, store: SqsStore, *, name_reuse_wait: float = 60.0) -> None:
        MoveTasks.__init__(self)
        self.store = store
        self.queues: dict[tuple[str, str, str], Queue] = {}
        #: Recently deleted queues -> when (epoch seconds), for `QueueDeletedRecently`.
        self._deleted: dict[tuple[str, str, str], float] = store.deleted_queues()
        #: Seconds before a deleted queue's name may be used again (AWS: 60).
        self._reuse_wait = name_reuse_wait
        self._load()
        self._load_moves()

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
            "AddPermission": self.add_permission,
            "RemovePermission": self.remove_permission,
            **self.message_operations(),
            **self.move_operations(),
        }

    # -- finding queues ---------------------------------------------------------------------

    @staticmethod
    def url(ctx: RequestContext, queue: Queue) -> str:
        return f"{ctx.endpoint_url.rstrip('/')}/{queue.account}/{queue.name}"

    def _owned(self, ctx: RequestContext, account: str, name: str, action: str) -> Queue:
        """The queue `name` of `account` in the caller's region, if the caller may do `action`
        with it."""
        queue = self.queues.get((account, ctx.region, name))
        if queue is None:
            raise _no_queue() if account == ctx.account_id else _no_queue(_HIDDEN)
        if not may(queue, action, ctx.account_id):
            if action == "GetQueueUrl":
                raise _no_queue(_HIDDEN)
            raise denied(self.url(ctx, queue))
        return queue

    def queue(self, ctx: RequestContext, params: dict[str, Any], action: str) -> Queue:
        """The queue a request's `QueueUrl` names, for `action` (e.g. `SendMessage`)."""
        url: str = params.get("QueueUrl", "")
        parts = [p for p in urlsplit(url).path.split("/") if p]
        if len(parts) == 2:
            return self._owned(ctx, parts[0], parts[1], action)
        if len(parts) == 1 and "/" not in url:  # a bare queue name, as AWS accepts
            return self._owned(ctx, ctx.account_id, url, action)
        raise _no_queue()  # what AWS answers for a URL that names no queue

    def by_arn(
        self, ctx: RequestContext, arn: str, action: str, *, parameter: str = "SourceArn"
    ) -> Queue:
        """The queue an ARN parameter names, for `action`."""
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
            raise invalid_parameter(f"Value {arn} for parameter arn is invalid.")
        queue = self.queues.get((parts[4], parts[3], parts[5]))
        if queue is None:
            raise sqs_error(
                "ResourceNotFoundException",
                f"The resource that you specified for the {parameter} parameter doesn't exist.",
                404,
            )
        if not may(queue, action, ctx.account_id):
            raise denied(self.url(ctx, queue))
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
        check_policy(attributes.get("Policy", ""))
        if attributes.get("FifoQueue") == "false":
            del attributes["FifoQueue"]
        existing = self.queues.get((ctx.account_id, ctx.region, name))
        if existing is not None:
            current = existing.attribute_values(time.time())
            for key, value in attributes.items():
                if not same_value(key, current.get(key), value):
                    raise sqs_error(
                        "QueueNameExists",
                        "A queue already exists with the same name and a different value for "
                        f"attribute {key}",
                    )
            return {"QueueUrl": self.url(ctx, existing)}
        deleted = self._deleted.get((ctx.account_id, ctx.region, name))
        if deleted is not None and 0 <= time.time() - deleted < self._reuse_wait:
            raise sqs_error(
                "QueueDeletedRecently",
                "You must wait 60 seconds after deleting a queue before you can create another "
                "with the same name.",
            )
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
            attributes["RedrivePolicy"] = check_redrive(self.queues, queue, redrive)
        for key, value in attributes.items():
            if (
                key in ("RedrivePolicy", "Policy", "RedriveAllowPolicy", "KmsMasterKeyId")
                and not value
            ):
                queue.attributes.pop(key, None)
            else:
                queue.attributes[key] = value

    async def delete_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "DeleteQueue")
        # Its move tasks go with it (a queue of the same name starts with none).
        tasks = [h for h, t in self.move_tasks.items() if t.source == queue.arn]
        now = time.time()
        writes = Writes()
        writes.delete_queue(queue.key)
        writes.delete_move_tasks(tasks)
        writes.note_deleted(queue.key, now, now - self._reuse_wait)
        for handle in tasks:
            del self.move_tasks[handle]
        del self.queues[queue.key]
        self._deleted = {k: t for k, t in self._deleted.items() if now - t < self._reuse_wait}
        self._deleted[queue.key] = now
        queue.deleted = True
        queue.wake()
        await self.store.commit(writes)
        return {}

    async def get_queue_url(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        owner = params.get("QueueOwnerAWSAccountId") or ctx.account_id
        return {
            "QueueUrl": self.url(ctx, self._owned(ctx, owner, params["QueueName"], "GetQueueUrl"))
        }

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
        queue = self.queue(ctx, params, "GetQueueAttributes")
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
        queue = self.queue(ctx, params, "SetQueueAttributes")
        attributes: dict[str, str] = dict(params.get("Attributes") or {})
        for name in attributes:
            if name in COMPUTED:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        check_attributes(attributes, fifo=queue.fifo, creating=False)
        check_policy(attributes.get("Policy", ""))
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
        queue = self.queue(ctx, params, "TagQueue")
        tags: dict[str, str] = params.get("Tags") or {}
        if not tags:
            raise sqs_error("MissingParameter", "The request must contain the parameter Tags.")
        if len({**queue.tags, **tags}) > 50:
            raise invalid_parameter("Too many tags added for queue " + queue.name + ".")
        queue.tags.update(tags)
        await self._save(queue)
        return {}

    async def untag_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "UntagQueue")
        keys: list[str] = params.get("TagKeys") or []
        if not keys:
            raise sqs_error("MissingParameter", "The request must contain the parameter TagKeys.")
        for key in keys:
            queue.tags.pop(key, None)
        await self._save(queue)
        return {}

    async def list_queue_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "ListQueueTags")
        return {"Tags": dict(queue.tags)} if queue.tags else {}

    async def purge_queue(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "PurgeQueue")
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
        target = self.queue(ctx, params, "ListDeadLetterSourceQueues")
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

    async def add_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "AddPermission")
        add_permission(queue, params)
        queue.modified = int(time.time())
        await self._save(queue)
        return {}

    async def remove_permission(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        queue = self.queue(ctx, params, "RemovePermission")
        remove_permission(queue, params)
        queue.modified = int(time.time())
        await self._save(queue)
        return {}
