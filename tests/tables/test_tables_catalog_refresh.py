"""A shared engine's catalog refresh must not undo this node's own recent changes.

The refresh reads the stored tables, then swaps them in. A change this node made (and
committed) after that read began is missing from what was read: swapping it in reverted the
change here for up to a second (seen as a stream still ENABLED just after UpdateTable disabled
it, or a deleted table's resource policy still answered after the table was made again).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fireside.tables.catalog import Catalog
from fireside.tables.engine import TableRow
from fireside.tables.schema import TableInfo


def table(version: int, stream: bool) -> TableInfo:
    return TableInfo(
        table_id=7,
        account="123456789012",
        region="us-east-1",
        name="t",
        key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        attribute_definitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        stream={"StreamEnabled": stream, "StreamViewType": "KEYS_ONLY"},
        stream_label="2026-12-07T00:00:00.000",
        version=version,
    )


def row(info: TableInfo) -> TableRow:
    return (info.table_id, info.account, info.region, info.name, info.to_json())


class Txn:
    """What `Catalog.put` uses of a write transaction."""

    def __init__(self) -> None:
        self.after_commit: list[Callable[[], None]] = []
        self.on_rollback: list[Callable[[], None]] = []


def test_a_refresh_read_before_a_local_change_does_not_undo_it() -> None:
    enabled = table(1, stream=True)
    catalog = Catalog(reload=lambda: [row(enabled)])
    catalog.load([row(enabled)])
    since = catalog.changes
    stale = [row(enabled)]  # read by the refresh...
    disabled = dataclasses.replace(enabled, stream={"StreamEnabled": False}, version=2)
    txn = Txn()
    catalog.put(disabled, txn)  # ...while this node disables the stream
    assert not catalog.load(stale, since)
    assert catalog.by_id(7) is disabled
    # The change is made before its commit: a read started in between is dropped too.
    since = catalog.changes
    for callback in txn.after_commit:
        callback()
    assert not catalog.load(stale, since)
    assert catalog.by_id(7) is disabled
    # A read begun after the commit is taken.
    since = catalog.changes
    assert catalog.load([row(disabled)], since)
    found = catalog.by_id(7)
    assert found is not None and found.stream_view is None


def test_a_removed_table_does_not_come_back_from_an_older_read() -> None:
    live = table(1, stream=False)
    catalog = Catalog(reload=lambda: [row(live)])
    catalog.load([row(live)])
    since = catalog.changes
    catalog.remove(live, Txn())
    assert not catalog.load([row(live)], since)
    assert catalog.by_id(7) is None
