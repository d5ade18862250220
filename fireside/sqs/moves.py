"""Message move tasks: redrive from a dead-letter queue, paced, durable and cancellable.

StartMessageMoveTask records a task (`RUNNING`, how many messages were visible in the source
then: `ApproximateNumberOfMessagesToMove`) and answers; the moving is done by `run_moves`, a
loop the app's supervisor keeps running. Each tick it moves, for every running task, as many
visible messages as the task's rate allows since its last tick (`MaxNumberOfMessagesPerSecond`,
else AWS's system rate, 500/s at most), each to `DestinationArn` or back to the queue it was
dead-lettered from. The messages moved and the task's new count are committed in one
transaction, so a task survives a restart (even `kill -9`) and goes on from where it was.
A task ends `COMPLETED` when it moved its count or the source has no visible message left,
`CANCELLED` by CancelMessageMoveTask, `FAILED` (with AWS's `FailureReason`) when a queue it
moves between is gone. One running task per source queue, as AWS allows.

A TaskHandle is AWS's: base64 of `{"taskId": "<uuid>", "sourceArn": "<arn>"}`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.sqs.queues import Queue, invalid_parameter, sqs_error
from fireside.sqs.store import SqsStore, Writes

__all__ = ["MoveTasks", "arn_key"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
#: AWS's highest rate, and the one a task without `MaxNumberOfMessagesPerSecond` gets.
MAX_RATE: Final = 500
_TICK = 0.05
#: Tasks kept per source queue (ListMessageMoveTasks shows at most 10).
_KEPT = 10
_NO_QUEUE: Final = "AWS.SimpleQueueService.NonExistentQueue"


def arn_key(arn: str) -> tuple[str, str, str]:
    """(account, region, name) of a queue ARN ("" parts when it is not one)."""
    parts = arn.split(":")
    return (parts[4], parts[3], parts[5]) if len(parts) == 6 else ("", "", "")


@dataclass(slots=True)
class MoveTask:
    handle: str
    source: str
    destination: str | None
    rate: int | None
    started: int
    to_move: int
    moved: int = 0
    status: str = "RUNNING"
    failure: str | None = None
    #: Messages the task may move now, and when it was last given more (monotonic).
    budget: float = 0.0
    last: float = 0.0

    def record(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "source": self.source,
            "destination": self.destination,
            "rate": self.rate,
            "started": self.started,
            "to_move": self.to_move,
            "moved": self.moved,
            "status": self.status,
            "failure": self.failure,
        }

    def entry(self) -> dict[str, Any]:
        """This task as ListMessageMoveTasks shows it."""
        out: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started,
        }
        if self.status == "RUNNING":
            out["TaskHandle"] = self.handle
        if self.destination:
            out["DestinationArn"] = self.destination
        if self.rate is not None:
            out["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            out["FailureReason"] = self.failure
        return out


def _invalid_handle() -> ServiceError:
    return invalid_parameter("Value for parameter TaskHandle is invalid.")


class MoveTasks:
    """A mixin of `SqsProvider`: the three move-task operations and their runner."""

    store: SqsStore
    queues: dict[tuple[str, str, str], Queue]
    by_arn: Callable[..., Queue]

    def __init__(self) -> None:
        self.move_tasks: dict[str, MoveTask] = {}
        self._moves_wake = asyncio.Event()

    def _load_moves(self) -> None:
        for record in self.store.move_tasks():
            self.move_tasks[record["handle"]] = MoveTask(**record)

    def move_operations(self) -> dict[str, Operation]:
        return {
            "StartMessageMoveTask": self.start_message_move_task,
            "ListMessageMoveTasks": self.list_message_move_tasks,
            "CancelMessageMoveTask": self.cancel_message_move_task,
        }

    # -- operations ---------------------------------------------------------------------------

    async def start_message_move_task(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        source = self.by_arn(ctx, params["SourceArn"], "StartMessageMoveTask")
        if not any((q.redrive() or ("", 0))[0] == source.arn for q in self.queues.values()):
            raise invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
        destination: str | None = params.get("DestinationArn")
        if destination:
            self.by_arn(ctx, destination, "SendMessage", parameter="DestinationArn")
        rate = params.get("MaxNumberOfMessagesPerSecond")
        if rate is not None and not 1 <= rate <= MAX_RATE:
            raise invalid_parameter(
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: "
                f"You must enter a number that's between 1 and {MAX_RATE}."
            )
        if any(t.source == source.arn and t.status == "RUNNING" for t in self.move_tasks.values()):
            raise invalid_parameter(
                "There is already a task running. Only one active task is allowed for a source "
                "queue arn at a given time."
            )
        now = time.time()
        visible = sum(1 for m in source.messages.values() if m.visible_at <= now)
        token = json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source.arn})
        handle = base64.b64encode(token.encode()).decode()
        task = MoveTask(handle, source.arn, destination or None, rate, int(now * 1000), visible)
        task.last = time.monotonic()
        old = [t.handle for t in self.move_tasks.values() if t.source == source.arn]
        dropped = old[: max(0, len(old) + 1 - _KEPT)]
        writes = Writes()
        writes.put_move_task(handle, task.record())
        writes.delete_move_tasks(dropped)
        self.store.commit_now(writes)  # rare: blocking here keeps the checks above true
        for gone in dropped:
            del self.move_tasks[gone]
        self.move_tasks[handle] = task
        self._moves_wake.set()
        return {"TaskHandle": handle}

    async def list_message_move_tasks(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        source = self.by_arn(ctx, params["SourceArn"], "ListMessageMoveTasks")
        limit = params.get("MaxResults", 1)
        if not 1 <= limit <= _KEPT:
            raise invalid_parameter(
                "Value for parameter MaxResults is invalid. Reason: You must enter a number "
                "that's between 1 and 10."
            )
        tasks = [t for t in self.move_tasks.values() if t.source == source.arn]
        tasks.reverse()  # newest first
        return {"Results": [t.entry() for t in tasks[:limit]]}

    async def cancel_message_move_task(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        handle: str = params["TaskHandle"]
        try:
            token = json.loads(base64.b64decode(handle.encode("ascii"), validate=True))
            source_arn = str(token["sourceArn"])
            str(token["taskId"])
        except (UnicodeError, ValueError, binascii.Error, KeyError, TypeError):
            raise _invalid_handle() from None
        self.by_arn(ctx, source_arn, "CancelMessageMoveTask")
        task = self.move_tasks.get(handle)
        if task is None or task.source != source_arn or task.status != "RUNNING":
            raise sqs_error("ResourceNotFoundException", "Task does not exist.", 404)
        task.status = "CANCELLED"
        writes = Writes()
        writes.put_move_task(handle, task.record())
        self.store.commit_now(writes)
        return {"ApproximateNumberOfMessagesMoved": task.moved}

    # -- the runner ---------------------------------------------------------------------------

    async def run_moves(self) -> None:
        """Move messages for every running task, each at its rate; sleep while none runs."""
        now = time.monotonic()
        for task in self.move_tasks.values():
            task.last = now  # a restarted task's rate counts from now
        while True:
            running = [t for t in self.move_tasks.values() if t.status == "RUNNING"]
            if not running:
                self._moves_wake.clear()
                await self._moves_wake.wait()
                continue
            for task in running:
                self._step(task, time.monotonic())
            await asyncio.sleep(_TICK)

    def _step(self, task: MoveTask, now: float) -> None:
        rate = task.rate or MAX_RATE
        task.budget = min(task.budget + rate * (now - task.last), float(rate))
        task.last = now
        wanted = min(int(task.budget), task.to_move - task.moved)
        source = self.queues.get(arn_key(task.source))
        fixed = self.queues.get(arn_key(task.destination)) if task.destination else None
        if source is None or (task.destination and fixed is None):
            self._finish(task, "FAILED", _NO_QUEUE)
            return
        if wanted <= 0:
            if task.moved >= task.to_move:
                self._finish(task, "COMPLETED")
            return
        wall = time.time()
        batch: list[tuple[Any, Queue]] = []
        failure = None
        for message in source.messages.values():
            if len(batch) >= wanted:
                break
            if message.visible_at > wall:
                continue
            origin = message.record.get("origin")
            target = fixed or (self.queues.get(arn_key(origin)) if origin else None)
            if target is None:
                failure = _NO_QUEUE if origin else "CouldNotDetermineMessageSource"
                break
            batch.append((message, target))
        done = failure is None and len(batch) < wanted  # the source ran out
        moved, status = task.moved + len(batch), task.status
        if failure is not None:
            status = "FAILED"
        elif done or moved >= task.to_move:
            status = "COMPLETED"
        writes = Writes()
        for message, target in batch:
            record = {k: v for k, v in message.record.items() if k != "origin"}
            writes.move_message(message.seq, target.key, record, wall)
        state = {"moved": moved, "status": status, "failure": failure}
        writes.put_move_task(task.handle, {**task.record(), **state})
        self.store.commit_now(writes)
        task.moved, task.status, task.failure = moved, status, failure
        task.budget -= len(batch)
        touched: dict[tuple[str, str, str], Queue] = {}
        for message, target in batch:
            message.record.pop("origin", None)
            del source.messages[message.seq]
            message.receives, message.first_receive, message.receipt = 0, None, None
            message.visible_at = wall
            target.messages[message.seq] = message
            touched[target.key] = target
        for target in touched.values():
            target.messages = dict(sorted(target.messages.items()))
            target.wake()

    def _finish(self, task: MoveTask, status: str, failure: str | None = None) -> None:
        task.status, task.failure = status, failure
        writes = Writes()
        writes.put_move_task(task.handle, task.record())
        self.store.commit_now(writes)
