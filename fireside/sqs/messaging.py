"""SQS's message operations: send, receive (with long polling), delete, change visibility
and dead-letter redrive. A mixin of `SqsProvider` (move tasks are `fireside.sqs.moves`).

Every change is committed to the store before the answer. A receive takes visible messages in
arrival order; on a FIFO queue a group whose earlier message is in flight (or not yet
visible) gives nothing, so a group's messages are delivered in order, one batch at a time.
A message received more than its queue's `maxReceiveCount` times moves to the dead-letter
queue instead of being delivered again. A long poll that finds nothing waits on the queue's
waiters until a send (or a visibility change) wakes it, or until the next delayed or in-flight
message becomes visible, or its wait ends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.sqs.messages import SYSTEM_ATTRIBUTES, check_send, render
from fireside.sqs.moves import arn_key
from fireside.sqs.queues import DEDUP_WINDOW, Message, Queue, invalid_parameter, sqs_error
from fireside.sqs.store import SqsStore, Writes

__all__ = ["Messaging"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
_BATCH_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")
_MAX_VISIBILITY = 43200


def _receipt(queue: Queue, message: Message, token: str) -> str:
    raw = f"{queue.account}/{queue.region}/{queue.name}/{message.seq}/{token}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _invalid_receipt(handle: str) -> ServiceError:
    return sqs_error(
        "ReceiptHandleIsInvalid",
        f'The input receipt handle "{handle}" is not a valid receipt handle.',
    )


class Messaging:
    store: SqsStore
    queues: dict[tuple[str, str, str], Queue]
    queue: Callable[[RequestContext, dict[str, Any], str], Queue]

    def message_operations(self) -> dict[str, Operation]:
        return {
            "SendMessage": self.send_message,
            "SendMessageBatch": self.send_message_batch,
            "ReceiveMessage": self.receive_message,
            "DeleteMessage": self.delete_message,
            "DeleteMessageBatch": self.delete_message_batch,
            "ChangeMessageVisibility": self.change_message_visibility,
            "ChangeMessageVisibilityBatch": self.change_message_visibility_batch,
        }

    # -- sending ----------------------------------------------------------------------------

    async def send_records(
        self, queue: Queue, records: list[tuple[dict[str, Any], int]]
    ) -> list[dict[str, Any]]:
        """Store records `check_send` made, durably (a duplicate's answer too waits for the
        commit of what came before it); their SendMessage results."""
        writes = Writes()
        undo: list[Callable[[], None]] = []
        results = self._stage(writes, queue, records, time.time(), undo)
        try:
            await self.store.commit(writes)
        except sqlite3.Error:
            for step in undo:
                step()
            raise
        return results

    def send_batches(
        self, batches: list[tuple[Queue, list[tuple[dict[str, Any], int]]]]
    ) -> list[list[dict[str, Any]]]:
        """`send_records` for several queues in one commit (one fsync for an SNS fan-out),
        blocking until it is durable: each batch's results. Other services' deliveries come
        here (`fireside.sqs.targets`)."""
        now = time.time()
        writes = Writes()
        undo: list[Callable[[], None]] = []
        out = [self._stage(writes, queue, records, now, undo) for queue, records in batches]
        try:
            self.store.commit_now(writes)
        except sqlite3.Error:
            for step in undo:
                step()
            raise
        return out

    def _stage(
        self,
        writes: Writes,
        queue: Queue,
        records: list[tuple[dict[str, Any], int]],
        now: float,
        undo: list[Callable[[], None]],
    ) -> list[dict[str, Any]]:
        """Add records to `queue` in memory (receivable at once: a receive commits after
        them) and their writes to `writes`; their results. `undo` gets what takes them back
        out if the writes fail."""
        results: list[dict[str, Any]] = []
        added: list[int] = []
        deduplicated: list[str] = []
        for key, (expires, _, _) in list(queue.dedup.items()):
            if expires <= now:
                del queue.dedup[key]
        seqs = iter(self.store.allocate(len(records)))  # before anything changes: it may fail
        for record, delay in records:
            result: dict[str, Any] = {"MD5OfMessageBody": record["md5b"]}
            if "md5a" in record:
                result["MD5OfMessageAttributes"] = record["md5a"]
            if "md5s" in record:
                result["MD5OfMessageSystemAttributes"] = record["md5s"]
            if queue.fifo:
                scope = queue.attributes.get("DeduplicationScope", "queue")
                dedup_key = (
                    record["dedup"] if scope == "queue" else f"{record['group']}\0{record['dedup']}"
                )
                seen = queue.dedup.get(dedup_key)
                if seen is not None:
                    results.append({**result, "MessageId": seen[1], "SequenceNumber": seen[2]})
                    continue
                record["seqno"] = f"{18_000_000_000_000_000_000 + queue.next_sequence:020d}"
                queue.next_sequence += 1
            message_id = str(uuid.uuid4())
            visible_at = now + delay
            seq = next(seqs)
            writes.add_message(seq, queue.key, message_id, record, visible_at)
            queue.messages[seq] = Message(seq, message_id, record, visible_at)
            added.append(seq)
            result["MessageId"] = message_id
            if queue.fifo:
                result["SequenceNumber"] = record["seqno"]
                queue.dedup[dedup_key] = (now + DEDUP_WINDOW, message_id, record["seqno"])
                deduplicated.append(dedup_key)
            results.append(result)
        if queue.fifo and added:
            writes.put_queue(queue.key, queue.record())
        if added:
            queue.wake()

        def take_back() -> None:
            for seq in added:
                queue.messages.pop(seq, None)
            for key in deduplicated:
                queue.dedup.pop(key, None)

        undo.append(take_back)
        return results

    async def send_message(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "SendMessage")
        record = check_send(queue, params, ctx.access_key_id or ctx.account_id)
        return (await self.send_records(queue, [record]))[0]

    def _entries(self, params: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = params.get("Entries") or []
        if not entries:
            raise sqs_error(
                "EmptyBatchRequest", f"There should be at least one {kind} in the request."
            )
        if len(entries) > 10:
            raise sqs_error(
                "TooManyEntriesInBatchRequest",
                f"Maximum number of entries per request are 10. You have sent {len(entries)}.",
            )
        seen: set[str] = set()
        for entry in entries:
            entry_id = entry.get("Id", "")
            if _BATCH_ID.fullmatch(entry_id) is None:
                raise sqs_error(
                    "InvalidBatchEntryId",
                    "A batch entry id can only contain alphanumeric characters, hyphens and "
                    "underscores. It can be at most 80 letters long.",
                )
            if entry_id in seen:
                raise sqs_error("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
            seen.add(entry_id)
        return entries

    async def send_message_batch(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        queue = self.queue(ctx, params, "SendMessageBatch")
        entries = self._entries(params, "SendMessageBatchRequestEntry")
        if queue.fifo and not all(e.get("MessageGroupId") for e in entries):
            # AWS refuses the whole batch, not the entry.
            raise sqs_error(
                "MissingParameter", "The request must contain the parameter MessageGroupId."
            )
        total = sum(len(e.get("MessageBody", "").encode()) for e in entries)
        limit = queue.setting("MaximumMessageSize")
        if total > limit:
            raise sqs_error(
                "BatchRequestTooLong",
                f"Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes.",
            )
        failed: list[dict[str, Any]] = []
        good: list[tuple[str, tuple[dict[str, Any], int]]] = []
        sender = ctx.access_key_id or ctx.account_id
        for entry in entries:
            try:
                good.append((entry["Id"], check_send(queue, entry, sender)))
            except ServiceError as error:
                failed.append(
                    {
                        "Id": entry["Id"],
                        "SenderFault": True,
                        "Code": error.code,
                        "Message": error.message,
                    }
                )
        results = await self.send_records(queue, [record for _, record in good])
        successful = [
            {"Id": entry_id, **result} for (entry_id, _), result in zip(good, results, strict=True)
        ]
        return {"Successful": successful, "Failed": failed}

    # -- receiving --------------------------------------------------------------------------

    async def receive_message(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "ReceiveMessage")
        count = params.get("MaxNumberOfMessages", 1)
        if not 1 <= count <= 10:
            raise invalid_parameter(
                f"Value {count} for parameter MaxNumberOfMessages is invalid. Reason: Must be "
                "between 1 and 10, if provided."
            )
        wait = params.get("WaitTimeSeconds")
        if wait is None:
            wait = queue.setting("ReceiveMessageWaitTimeSeconds")
        elif not 0 <= wait <= 20:
            raise invalid_parameter(
                f"Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 "
                "and <= 20, if provided."
            )
        visibility = params.get("VisibilityTimeout")
        if visibility is not None and not 0 <= visibility <= _MAX_VISIBILITY:
            raise invalid_parameter(
                f"Value {visibility} for parameter VisibilityTimeout is invalid. Reason: Must "
                "be between 0 and 43200, if provided."
            )
        system_names = list(params.get("MessageSystemAttributeNames") or [])
        system_names += params.get("AttributeNames") or []
        for name in system_names:
            if name != "All" and name not in SYSTEM_ATTRIBUTES:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        attribute_names: list[str] = params.get("MessageAttributeNames") or []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            taken, writes = self._take(queue, count, visibility)
            if writes:
                await self.store.commit(writes)
            remaining = deadline - loop.time()
            if taken or remaining <= 0 or queue.deleted:
                break
            now = time.time()
            change = queue.next_change(now)
            timeout = remaining if change is None else min(remaining, max(change - now, 0.001))
            waiter: asyncio.Future[None] = loop.create_future()
            queue.waiters.add(waiter)
            # Awaited bare (not through wait_for's extra task): woken by a send, this receive
            # runs in the event loop's next turn, and its commit joins the send's.
            timer = loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                queue.waiters.discard(waiter)
        messages = [render(m, receipt, system_names, attribute_names) for m, receipt in taken]
        return {"Messages": messages} if messages else {}

    def _take(
        self, queue: Queue, count: int, visibility: int | None
    ) -> tuple[list[tuple[Message, str]], Writes]:
        """Receive up to `count` messages in memory (dropping expired ones, moving those
        received too often to the dead-letter queue); the writes that make it durable."""
        now = time.time()
        timeout = queue.setting("VisibilityTimeout") if visibility is None else visibility
        retention = queue.setting("MessageRetentionPeriod")
        redrive = queue.redrive()
        dead = self.queues.get(arn_key(redrive[0])) if redrive else None
        expired: list[Message] = []
        moved: list[Message] = []
        taken: list[Message] = []
        blocked: set[str] = set()
        for message in queue.messages.values():
            if len(taken) >= count:
                break
            if message.record["sent"] / 1000 + retention <= now:
                expired.append(message)
                continue
            group = message.group if queue.fifo else None
            if group is not None and group in blocked:
                continue
            if message.visible_at > now:
                if group is not None:
                    blocked.add(group)
                continue
            if redrive is not None and dead is not None and message.receives >= redrive[1]:
                moved.append(message)
                continue
            taken.append(message)
        out: list[tuple[Message, str]] = []
        writes = Writes()
        if not (taken or expired or moved):
            return out, writes
        writes.delete_messages(m.seq for m in expired)
        for message in moved:
            assert dead is not None
            message.record["origin"] = queue.arn
            writes.move_message(message.seq, dead.key, message.record, now)
        changes = []
        for message in taken:
            token = secrets.token_hex(8)
            message.receives += 1
            message.first_receive = message.first_receive or now
            message.visible_at = now + timeout
            message.receipt = token
            changes.append(
                (message.visible_at, message.receives, message.first_receive, token, message.seq)
            )
            out.append((message, _receipt(queue, message, token)))
        if changes:
            writes.update_messages(changes)
        for message in expired + moved:
            del queue.messages[message.seq]
        if moved and dead is not None:
            for message in moved:
                message.receives, message.first_receive, message.receipt = 0, None, None
                message.visible_at = now
                dead.messages[message.seq] = message
            dead.messages = dict(sorted(dead.messages.items()))
            dead.wake()
        return out, writes

    # -- receipts: delete and visibility ----------------------------------------------------

    def _by_receipt(self, queue: Queue, handle: str) -> tuple[Message | None, str]:
        """The message a receipt handle names (None if it is gone) and the handle's token."""
        try:
            raw = base64.urlsafe_b64decode(handle.encode("ascii")).decode()
            account, region, name, seq, token = raw.split("/")
            number = int(seq)
        except (UnicodeError, ValueError, binascii.Error):
            raise _invalid_receipt(handle) from None
        if (account, region, name) != queue.key:
            raise _invalid_receipt(handle)
        return queue.messages.get(number), token

    def _delete(self, queue: Queue, handle: str, writes: Writes) -> None:
        message, _ = self._by_receipt(queue, handle)
        if message is None:
            # AWS answers success for a message already deleted (the commit that deleted
            # it comes before this answer's).
            return
        writes.delete_messages([message.seq])
        del queue.messages[message.seq]

    async def delete_message(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(ctx, params, "DeleteMessage")
        writes = Writes()
        self._delete(queue, params["ReceiptHandle"], writes)
        await self.store.commit(writes)
        return {}

    async def delete_message_batch(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        queue = self.queue(ctx, params, "DeleteMessageBatch")
        writes = Writes()
        answer = _each(
            self._entries(params, "DeleteMessageBatchRequestEntry"),
            lambda entry: self._delete(queue, entry["ReceiptHandle"], writes),
        )
        await self.store.commit(writes)
        return answer

    def _change(self, queue: Queue, handle: str, timeout: int, writes: Writes) -> None:
        if not 0 <= timeout <= _MAX_VISIBILITY:
            raise invalid_parameter(
                f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be "
                "between 0 and 43200, if provided."
            )
        message, token = self._by_receipt(queue, handle)
        now = time.time()
        if message is None or message.visible_at <= now or message.receipt != token:
            raise sqs_error(
                "MessageNotInflight",
                "The message referred to isn't in flight.",
            )
        message.visible_at = now + timeout
        writes.update_messages(
            [
                (
                    message.visible_at,
                    message.receives,
                    message.first_receive,
                    message.receipt,
                    message.seq,
                )
            ]
        )
        if timeout == 0:
            queue.wake()

    async def change_message_visibility(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        queue = self.queue(ctx, params, "ChangeMessageVisibility")
        writes = Writes()
        self._change(queue, params["ReceiptHandle"], params["VisibilityTimeout"], writes)
        await self.store.commit(writes)
        return {}

    async def change_message_visibility_batch(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        queue = self.queue(ctx, params, "ChangeMessageVisibilityBatch")
        writes = Writes()
        answer = _each(
            self._entries(params, "ChangeMessageVisibilityBatchRequestEntry"),
            lambda entry: self._change(
                queue, entry["ReceiptHandle"], entry.get("VisibilityTimeout", 0), writes
            ),
        )
        await self.store.commit(writes)
        return answer


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _each(entries: list[dict[str, Any]], act: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A batch's answer: each entry acted on, its ServiceError reported as its failure."""
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for entry in entries:
        try:
            act(entry)
            successful.append({"Id": entry["Id"]})
        except ServiceError as error:
            failed.append(
                {"Id": entry["Id"], "SenderFault": True, "Code": error.code,
                 "Message": error.message}
            )  # fmt: skip
    return {"Successful": successful, "Failed": failed}
