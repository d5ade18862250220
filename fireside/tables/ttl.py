"""Time to Live: DescribeTimeToLive, UpdateTimeToLive, and the background expiry sweep.

When TTL is on, each item's TTL attribute (a Number of epoch seconds) is copied into an
indexed `expires` column as the item is written, so the sweep finds expired items without
reading the table. Turning TTL on fills that column for existing items in the background;
turning it off clears it.

As on DynamoDB, deletion is asynchronous (here within one sweep interval, by default a
minute, where DynamoDB takes up to a few days), items whose TTL lies more than five years in
the past are never deleted, and expiry deletions go through the same path as any delete (so
indexes, and streams once they are kept, see them).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.tables.catalog import locked_table
from fireside.tables.control import control_table
from fireside.tables.engine import WriteTxn
from fireside.tables.errors import not_found, validation
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables
from fireside.tables.storage import expiry_of, load, store
from fireside.tables.transact import TOKEN_LIFETIME

__all__ = ["describe_time_to_live", "sweep_forever", "update_time_to_live"]

#: How long stream records are kept (as on DynamoDB).
STREAM_RETENTION = 24 * 3600.0

log = logging.getLogger(__name__)

_FIVE_YEARS = 5 * 365 * 24 * 3600.0
_CHUNK = 500


async def describe_time_to_live(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = control_table(tables, ctx, params["TableName"])
    description: dict[str, Any] = {
        "TimeToLiveStatus": "ENABLED" if table.ttl_enabled else "DISABLED"
    }
    if table.ttl_enabled and table.ttl_attribute:
        description["AttributeName"] = table.ttl_attribute
    return {"TimeToLiveDescription": description}


async def update_time_to_live(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = control_table(tables, ctx, params["TableName"])
    spec = params["TimeToLiveSpecification"]
    enabled = bool(spec["Enabled"])
    attribute = spec["AttributeName"]
    if enabled and table.ttl_enabled:
        raise validation("TimeToLive is already enabled")
    if not enabled and not table.ttl_enabled:
        raise validation("TimeToLive is already disabled")
    if not enabled and attribute != table.ttl_attribute:
        raise validation(
            "TimeToLive is active on a different AttributeName: current AttributeName is "
            f"{table.ttl_attribute}"
        )
    tid = table.table_id

    def job(txn: WriteTxn) -> TableInfo:
        live = locked_table(txn, tid)
        if live is None:
            raise not_found()
        changed = TableInfo.from_json(live.to_json())
        changed.ttl_enabled = enabled
        changed.ttl_attribute = attribute if enabled else None
        changed.version += 1
        txn.save_table(tid, changed.to_json())
        if not enabled:
            txn.clear_expiry(tid)
        tables.catalog.put(changed, txn)
        txn.on_rollback.append(lambda: tables.catalog.put(live))
        return changed

    changed = await tables.engine.write(job)
    if enabled:
        tables.spawn(_fill_expiry(tables, tid), f"ttl backfill {changed.name}")
    return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}


async def _fill_expiry(tables: Tables, tid: int) -> None:
    """Copy existing items' TTL attribute into the expiry column, in chunks."""
    after: tuple[bytes, bytes] | None = None
    while True:

        def chunk(
            txn: WriteTxn, start: tuple[bytes, bytes] | None = after
        ) -> tuple[bytes, bytes] | None:
            table = tables.catalog.by_id(tid)
            if table is None or not table.ttl_enabled:
                return None
            keys = [(bytes(pk), bytes(sk)) for pk, sk, _, _ in itertools.islice(
                txn.scan(tid, start, None, None), _CHUNK
            )]  # fmt: skip
            # Locked, then read again: a concurrent write cannot slip in between.
            txn.lock_items([(tid, pk, sk) for pk, sk in keys])
            for pk, sk in keys:
                item = load(txn, table, pk, sk)
                expires = expiry_of(table, item) if item is not None else None
                if expires is not None:
                    txn.set_expiry(tid, pk, sk, expires)
            return keys[-1] if len(keys) == _CHUNK else None

        after = await tables.engine.write(chunk)
        if after is None:
            return
        await asyncio.sleep(0)


async def expire(tables: Tables, table: TableInfo, now: float) -> int:
    """Delete the items of one table whose TTL has passed; returns how many."""
    tid = table.table_id
    deleted = 0
    while True:
        keys = await tables.engine.read(
            lambda txn: txn.expired(tid, now - _FIVE_YEARS, now, _CHUNK)
        )
        if not keys:
            return deleted

        def job(txn: WriteTxn, batch: list[tuple[bytes, bytes]] = keys) -> int:
            try:
                live = tables.catalog.for_write(txn, tid)
            except ServiceError:
                return 0  # deleted since the sweep began
            if not live.ttl_enabled:
                return 0
            count = 0
            txn.lock_items([(tid, pk, sk) for pk, sk in batch])
            for pk, sk in batch:
                old = load(txn, live, pk, sk)
                expires = expiry_of(live, old) if old is not None else None
                if old is None or expires is None or expires > now:
                    continue  # rewritten since it was found
                store(txn, live, pk, sk, old, None)
                tables.streams.record(txn, live, old, None, expired=True)
                count += 1
            return count

        deleted += await tables.engine.write(job)
        if len(keys) < _CHUNK:
            return deleted


async def sweep_forever(tables: Tables, interval: float) -> None:
    """Delete expired items of every TTL-enabled table, every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        now = tables.clock()
        for table in tables.catalog.all():
            if not table.ttl_enabled:
                continue
            try:
                count = await expire(tables, table, now)
            except Exception:
                log.exception("tables: TTL sweep of %s failed", table.name)
                continue
            if count:
                log.info("tables: TTL deleted %d item(s) from %s", count, table.name)
        await tables.engine.write(functools.partial(_forget, now=now))


def _forget(txn: WriteTxn, now: float) -> None:
    """Drop idempotency tokens past their 10 minutes and stream records past 24 hours."""
    txn.forget_tokens(now - TOKEN_LIFETIME)
    txn.trim_streams(now - STREAM_RETENTION)
