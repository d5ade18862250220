"""Item rows and their secondary-index entries, written together inside one transaction.

Every item write in Fireside (single-item operations, batches, transactions, TTL expiry,
index backfill) ends in `store`, so index maintenance happens in exactly one place and always
in the same transaction as the item itself: a Query on an index never sees an entry whose
item write was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireside.tables.engine import ReadTxn, WriteTxn
from fireside.tables.schema import IndexInfo, TableInfo
from fireside.tables.values import Item, dump_item, item_size, load_item

__all__ = ["check_index_keys", "expiry_of", "load", "store", "write_index_entry"]

#: DynamoDB's item size limit (400 KB).
MAX_ITEM_BYTES = 400 * 1024


def load(txn: ReadTxn, table: TableInfo, pk: bytes, sk: bytes) -> Item | None:
    text = txn.get(table.table_id, pk, sk)
    return None if text is None else load_item(text)


def expiry_of(table: TableInfo, item: Mapping[str, Any]) -> float | None:
    """When TTL deletes the item: its TTL attribute, when TTL is on and it is a number."""
    if not table.ttl_enabled or table.ttl_attribute is None:
        return None
    value = item.get(table.ttl_attribute)
    if value is None or "N" not in value:
        return None
    try:
        return float(value["N"])
    except (OverflowError, ValueError):
        return None


def check_index_keys(table: TableInfo, item: Mapping[str, Any], *, updating: bool = False) -> None:
    """Raise DynamoDB's error when an item cannot be indexed (wrong key type, empty key);
    `updating`: the item comes from an UpdateItem, which DynamoDB words differently."""
    for index in table.live_indexes():
        index.key.index_key(item, index.name, updating=updating)


def _index_key(index: IndexInfo, item: Mapping[str, Any] | None) -> tuple[bytes, bytes] | None:
    if item is None:
        return None
    try:
        return index.key.index_key(item, index.name)
    except Exception:
        # Items written before a GSI existed may not fit its key types: they are not indexed.
        return None


def write_index_entry(
    txn: WriteTxn, table: TableInfo, index: IndexInfo, pk: bytes, sk: bytes, item: Item
) -> None:
    key = _index_key(index, item)
    if key is None:
        return
    projected = index.projected(item, table.key)
    txn.index_put(
        index.index_id, key[0], key[1], pk, sk, dump_item(projected), item_size(projected)
    )


def store(
    txn: WriteTxn,
    table: TableInfo,
    pk: bytes,
    sk: bytes,
    old: Item | None,
    new: Item | None,
    size: int | None = None,
) -> None:
    """Replace the item at (pk, sk) (`old` is what is there now) by `new`, or delete it.
    `size`: `new`'s `item_size`, when the caller has it. `old` may be None for an item that
    is there when the table has no indexes (nothing to take out of them)."""
    tid = table.table_id
    if new is None:
        if old is None:
            return
        txn.delete(tid, pk, sk)
    else:
        stored_size = item_size(new) if size is None else size
        txn.put(tid, pk, sk, dump_item(new), stored_size, expiry_of(table, new))
    for index in table.live_indexes():
        old_key = _index_key(index, old)
        new_key = _index_key(index, new)
        if old_key is not None and old_key != new_key:
            txn.index_delete(index.index_id, old_key[0], old_key[1], pk, sk)
        if new_key is not None and new is not None:
            projected = index.projected(new, table.key)
            txn.index_put(
                index.index_id,
                new_key[0],
                new_key[1],
                pk,
                sk,
                dump_item(projected),
                item_size(projected),
            )
