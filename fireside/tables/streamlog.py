"""Writing DynamoDB Streams records: one per item change, in the item's own transaction.

Every item write ends in `StreamRecorder.record` (single-item writes, batches, transactions,
TTL deletions). When the table has a stream enabled, the change becomes a record stored in the
same write transaction as the item, so a committed change always has its record and a rolled
back one never does, and records are numbered in commit order. As on DynamoDB, a write that
changes nothing (a PutItem of an identical item, a DeleteItem of an absent one) makes no
record, and the images kept depend on the stream's view type. A record that finds its
shard old enough rolls it over (`streamshards.py`).

Readers waiting for new records (event-source mappings) are woken when a write that recorded
one commits (`watching` marks such writes, in the writer's own thread; `pulse` runs on the
event loop after the commit), so a record reaches its mapping at once rather than at the
mapping's next poll. Writes by other nodes sharing a PostgreSQL store do not wake them here:
the readers' poll still finds those.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fireside.tables.engine import WriteTxn
from fireside.tables.schema import TableInfo
from fireside.tables.streamshards import SHARD_LIFETIME, roll_over
from fireside.tables.values import AttributeValue, Item, dump_item, equal, item_size, load_item

__all__ = ["StreamRecorder", "decode_record", "encode_record"]

T = TypeVar("T")


def _same(old: Item, new: Item) -> bool:
    return old.keys() == new.keys() and all(equal(old[k], new[k]) for k in old)


def encode_record(record: Mapping[str, Any]) -> str:
    # Binaries inside the images are stored as base64, as items are.
    return dump_item(record)


class StreamRecorder:
    def __init__(self, clock: Any, shard_lifetime: float = SHARD_LIFETIME) -> None:
        self._clock = clock
        #: Seconds a shard stays open before a write rolls it over (see `streamshards.py`).
        self.shard_lifetime = shard_lifetime
        #: Whether the job running in this thread recorded a change (see `watching`).
        self._local = threading.local()
        #: Bumped by every pulse: a reader that saw generation N and finds N still waits.
        self.generation = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def watching(self, job: Callable[[WriteTxn], T]) -> Callable[[WriteTxn], tuple[T, bool]]:
        """`job`, also answering whether it recorded a stream change."""

        def run(txn: WriteTxn) -> tuple[T, bool]:
            self._local.wrote = False
            result = job(txn)
            return result, self._local.wrote

        return run

    def pulse(self) -> None:
        """Wake the readers: a write that recorded changes has committed."""
        self.generation += 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def changed(self, since: int, timeout: float) -> None:
        """Return once a pulse came after generation `since`, or `timeout` passed."""
        if self.generation != since:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)

    def record(
        self,
        txn: WriteTxn,
        table: TableInfo,
        old: Item | None,
        new: Item | None,
        *,
        expired: bool = False,
    ) -> None:
        view = table.stream_view
        if view is None or table.stream_label is None:
            return
        if old is None and new is None:
            return
        if old is not None and new is not None and _same(old, new):
            return
        event = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
        source = new if new is not None else old
        assert source is not None
        keys: dict[str, AttributeValue] = table.key.key_of(source)
        dynamodb: dict[str, Any] = {"Keys": keys, "StreamViewType": view}
        size = item_size(keys)
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            dynamodb["NewImage"] = new
            size += item_size(new)
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            dynamodb["OldImage"] = old
            size += item_size(old)
        dynamodb["SizeBytes"] = size
        record: dict[str, Any] = {
            "eventID": uuid.uuid4().hex,
            "eventName": event,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": table.region,
            "dynamodb": dynamodb,
        }
        if expired:
            record["userIdentity"] = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
        now = self._clock()
        label = table.stream_label
        number = txn.append_stream(table.table_id, label, now, encode_record(record))
        roll_over(txn, table, label, number, now, self.shard_lifetime)
        self._local.wrote = True


def decode_record(text: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(text)
    if '"B' in text:
        dynamodb = decoded["dynamodb"]
        for image in ("Keys", "NewImage", "OldImage"):
            if image in dynamodb:
                dynamodb[image] = load_item(json.dumps(dynamodb[image]))
    return decoded
