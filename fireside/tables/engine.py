"""The storage engine interface: what the table logic needs from a database.

An engine stores rows, not DynamoDB semantics: items under (table id, partition bytes, sort
bytes) as stored JSON, secondary-index entries under (index id, index partition, index sort,
table partition, table sort), table metadata as JSON, idempotency tokens and stream records.
Keys are byte strings whose `memcmp` order is DynamoDB's order (see `keys.py`), so every
engine answers range reads with its ordinary B-tree.

Everything above this interface (conditions, updates, indexes, transactions) is shared, which
is what lets one conformance suite run against every engine.

Work is submitted as a function of a transaction:

    old = await engine.write(lambda txn: txn.get(tid, pk, sk))

`write` runs the function inside a serializable read-write transaction and returns once the
commit is durable; if the function raises, its effects are rolled back and the exception is
re-raised to the caller. An engine may run the function more than once (to retry a
serialization failure), so it must only act through `txn`. `read` gives a consistent snapshot
(and may also run a job twice: a `quick` one that turned out long).

An engine raises its own `EngineError`s, never a service's wire error: `WriteConflict` for a
job that kept losing to concurrent ones, `TableGone` for a write to a table another node
deleted. The Tables service maps them to DynamoDB's errors where it holds the engine
(`fireside.tables.service.MappedEngine`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = [
    "BackupRow",
    "Bound",
    "Engine",
    "EngineError",
    "ReadTxn",
    "ShardRow",
    "TableGone",
    "TableRow",
    "WriteConflict",
    "WriteTxn",
]

T = TypeVar("T")


class EngineError(Exception):
    """A storage engine's refusal of a job (not a bug: the service maps it to its error)."""


class WriteConflict(EngineError):
    """The job kept losing to concurrent jobs on the same items and was given up."""


class TableGone(EngineError):
    """The job wrote to a table that was deleted meanwhile (by another node)."""


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of a key range: the key bytes and whether the end itself is included."""

    key: bytes
    inclusive: bool = True


#: A stored table row: (table id, account, region, name, metadata JSON).
TableRow = tuple[int, str, str, str, str]

#: A stored on-demand backup: (backup id, ARN, metadata JSON).
BackupRow = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class ShardRow:
    """One shard of a stream (a table's stream label): its records are the stream's records
    numbered from `start` to `end` (open-ended while `end` is None)."""

    shard_id: str
    parent: str | None
    #: The stream's view type (kept here: a disabled stream's table no longer says it).
    view: str
    #: No record of the shard is numbered below this (its StartingSequenceNumber).
    start: int
    #: The last number of a closed shard (its EndingSequenceNumber); None while open.
    end: int | None
    opened: float
    closed: float | None
    #: The highest number trimmed away by the 24-hour retention (0: none yet).
    trimmed: int


class ReadTxn(Protocol):
    def get(self, tid: int, pk: bytes, sk: bytes) -> str | None:
        """The stored item, or None."""
        ...

    def get_stored(self, tid: int, pk: bytes, sk: bytes) -> tuple[str, int] | None:
        """The stored item and its stored size (`values.item_size`), or None."""
        ...

    def query(
        self, tid: int, pk: bytes, low: Bound | None, high: Bound | None, forward: bool
    ) -> Iterator[tuple[bytes, str, int]]:
        """(sort bytes, item, item size) of one partition within [low, high], in sort order."""
        ...

    def scan(
        self, tid: int, after: tuple[bytes, bytes] | None, start: bytes | None, end: bytes | None
    ) -> Iterator[tuple[bytes, bytes, str, int]]:
        """(partition, sort, item, item size) in storage order, after `after`, partitions in
        [start, end)."""
        ...

    def index_query(
        self,
        iid: int,
        pk: bytes,
        low: Bound | None,
        high: Bound | None,
        forward: bool,
        after: tuple[bytes, bytes, bytes] | None,
    ) -> Iterator[tuple[bytes, bytes, bytes, str, int]]:
        """(index sort, table partition, table sort, projected item, its size) of one index
        partition.

        `after` is an exclusive (index sort, table partition, table sort) position to resume
        from in the direction of travel.
        """
        ...

    def index_scan(
        self,
        iid: int,
        after: tuple[bytes, bytes, bytes, bytes] | None,
        start: bytes | None,
        end: bytes | None,
    ) -> Iterator[tuple[bytes, bytes, bytes, bytes, str, int]]:
        """(index partition, index sort, table partition, table sort, item, item size) in index
        order."""
        ...

    def stats(self, tid: int) -> tuple[int, int]:
        """(item count, total item bytes) of a table."""
        ...

    def index_stats(self, iid: int) -> tuple[int, int]: ...

    def tables(self) -> list[TableRow]: ...

    def token(self, account: str, region: str, token: str) -> tuple[str, str, float] | None:
        """An idempotency token's (request digest, response JSON, completion time)."""
        ...

    def expired(
        self, tid: int, not_before: float, now: float, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """Keys of up to `limit` items whose TTL time lies in [not_before, now]."""
        ...

    def stream_records(
        self, tid: int, label: str, after: int, until: int | None, limit: int
    ) -> list[tuple[int, float, str]]:
        """Up to `limit` (sequence, time, record JSON) of one stream numbered in
        (`after`, `until`] (no upper bound when `until` is None), in order."""
        ...

    def stream_last(self, tid: int, label: str, after: int, until: int | None) -> int | None:
        """The highest number of a stream's retained records in (`after`, `until`], or None."""
        ...

    def stream_position(self, tid: int, label: str, before: float) -> int:
        """The last sequence number of a stream written before time `before` (0 if none)."""
        ...

    def next_sequence(self) -> int:
        """A lower bound of every sequence number appended from now on."""
        ...

    def stream_shards(self, tid: int, label: str) -> list[ShardRow]:
        """A stream's shards, oldest first."""
        ...

    def stream_labels(self) -> list[tuple[int, str]]:
        """Every stream that has shards: (table id, stream label)."""
        ...

    def backups(self, account: str, region: str) -> list[BackupRow]:
        """An account's on-demand backups in one region, oldest first."""
        ...

    def backup(self, account: str, region: str, arn: str) -> BackupRow | None: ...


class WriteTxn(ReadTxn, Protocol):
    #: Run after the transaction commits / to undo in-memory changes if it rolls back.
    after_commit: list[Callable[[], None]]
    on_rollback: list[Callable[[], None]]

    def lock_items(self, keys: list[tuple[int, bytes, bytes]]) -> None:
        """Hold these items (table id, pk, sk) until the transaction ends.

        Every write job locks the items it will read and write before reading them, all at
        once, so engines that run jobs concurrently serialize jobs touching the same items
        (strict two-phase locking). A single-writer engine needs nothing here.
        """
        ...

    def lock_table(self, tid: int) -> str | None:
        """Hold a table's definition until the transaction ends; returns its stored metadata."""
        ...

    def share_table(self, tid: int) -> str | None:
        """A table's stored metadata, kept from changing (shared lock) until the transaction
        ends; None when the table is gone. Item writes of shared engines use it, so a write
        never misses an index another node has just added."""
        ...

    def put(
        self, tid: int, pk: bytes, sk: bytes, item: str, size: int, expires: float | None
    ) -> None:
        """Insert or replace an item."""
        ...

    def delete(self, tid: int, pk: bytes, sk: bytes) -> None: ...

    def index_put(
        self, iid: int, pk: bytes, sk: bytes, tpk: bytes, tsk: bytes, item: str, size: int
    ) -> None: ...

    def index_delete(self, iid: int, pk: bytes, sk: bytes, tpk: bytes, tsk: bytes) -> None: ...

    def drop_index(self, iid: int) -> None:
        """Remove every entry of an index."""
        ...

    def new_table(self, account: str, region: str, name: str, meta: str) -> int:
        """Store a new table's metadata; returns its id (never reused)."""
        ...

    def new_index_id(self, tid: int) -> int: ...

    def save_table(self, tid: int, meta: str) -> None: ...

    def drop_table(self, tid: int, index_ids: list[int]) -> None:
        """Remove a table's metadata, items and index entries."""
        ...

    def set_expiry(self, tid: int, pk: bytes, sk: bytes, expires: float | None) -> None: ...

    def clear_expiry(self, tid: int) -> None:
        """Forget every item's TTL time (TTL was turned off)."""
        ...

    def append_stream(self, tid: int, label: str, at: float, record: str) -> int:
        """Add a stream record; returns its sequence number (increasing in commit order).

        Numbers are the engine's, shared by every stream: a stream's numbers increase but are
        not consecutive. A table's appends are serialized until commit, so what a job reads of
        its table's stream after appending is final."""
        ...

    def open_shard(
        self,
        tid: int,
        label: str,
        shard_id: str,
        parent: str | None,
        view: str,
        start: int,
        at: float,
    ) -> None: ...

    def close_shard(self, tid: int, label: str, shard_id: str, end: int, at: float) -> None: ...

    def trim_streams(self, before: float) -> None:
        """Forget stream records written before `before` (the 24-hour retention), remembering
        in each shard how far it was trimmed, and the shards closed before `before`."""
        ...

    def save_token(
        self, account: str, region: str, token: str, digest: str, response: str, at: float
    ) -> None: ...

    def forget_tokens(self, before: float) -> None: ...

    def new_backup(self, account: str, region: str, arn: str, meta: str) -> int:
        """Store a new backup's metadata; returns its id (never reused)."""
        ...

    def save_backup(self, bid: int, meta: str) -> None: ...

    def copy_to_backup(self, bid: int, tid: int, index_ids: list[int]) -> None:
        """Copy a table's items and these indexes' entries into a backup, as this transaction
        sees them (one consistent copy, whatever commits meanwhile)."""
        ...

    def restore_backup(self, bid: int, tid: int, index_ids: dict[int, int]) -> None:
        """Copy a backup's items into (empty) table `tid`, without TTL times, and the entries
        of the backed-up index `old` into index `new` for each `old: new` of `index_ids`."""
        ...

    def drop_backup(self, bid: int) -> None:
        """Remove a backup's metadata, items and index entries."""
        ...


class Engine(Protocol):
    #: Short name for messages and `fireside tables` ("sqlite", "postgresql").
    name: str

    async def write(self, job: Callable[[WriteTxn], T]) -> T: ...

    async def read(self, job: Callable[[ReadTxn], T], *, quick: bool = False) -> T:
        """`job` in a read-only snapshot. `quick`: a short job (one item, a page of a few
        hundred rows at most) that an engine may run on the calling thread, the event loop,
        when it can without blocking; a quick job must be safe to run twice."""
        ...

    def read_now(self, job: Callable[[ReadTxn], T]) -> T:
        """`read` on the calling thread (for start-up and small synchronous callers)."""
        ...

    def close(self) -> None: ...
