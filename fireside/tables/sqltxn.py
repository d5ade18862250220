"""The statements both storage engines run alike, written once.

SQLite and PostgreSQL hold the same tables (`items`, `index_items`, `stream_records`,
`stream_shards`, `tokens`, `backups`...) and answer the same queries, so `SqlTxn` implements
`fireside.tables.engine.ReadTxn`/`WriteTxn` with SQL in `?` placeholder style, using
upserts and `RETURNING`, which both databases have. Each engine's subclass says how a
statement runs on its driver (`_execute`, `_stream`) and keeps what really differs: how
writers are kept apart (locks), and what a table's deletion cascades to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fireside.tables.engine import BackupRow, Bound, ShardRow, TableRow

__all__ = ["SqlTxn", "range_sql"]


def range_sql(column: str, low: Bound | None, high: Bound | None, args: list[Any]) -> str:
    """The `AND column >= ?` / `<= ?` bounds of a key range (strict where not inclusive)."""
    sql = ""
    if low is not None:
        sql += f" AND {column} {'>=' if low.inclusive else '>'} ?"
        args.append(low.key)
    if high is not None:
        sql += f" AND {column} {'<=' if high.inclusive else '<'} ?"
        args.append(high.key)
    return sql


def _scan_bounds(
    key: tuple[str, ...],
    after: tuple[bytes, ...] | None,
    start: bytes | None,
    end: bytes | None,
    args: list[Any],
) -> str:
    """A Scan page's bounds: past `after` (the last key returned, in `key`'s columns) and
    inside the segment's partition-hash range [`start`, `end`)."""
    sql = ""
    if after is not None:
        sql += f" AND ({', '.join(key)}) > ({', '.join('?' * len(key))})"
        args += after
    if start is not None:
        sql += " AND pk >= ?"
        args.append(start)
    if end is not None:
        sql += " AND pk < ?"
        args.append(end)
    return sql


class SqlTxn:
    """A transaction's reads and writes; subclasses run the statements (see the module)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.after_commit: list[Callable[[], None]] = []
        self.on_rollback: list[Callable[[], None]] = []

    # -- how statements run (per engine) ------------------------------------------------------

    def _execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        """Run one statement; returns something iterable over its rows with `fetchone()`."""
        raise NotImplementedError

    def _stream(self, sql: str, args: list[Any]) -> Iterator[Any]:
        """The rows of a possibly long query, fetched as the caller iterates."""
        return iter(self._execute(sql, args))

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        # Every row fetched: a statement left half-read (an INSERT ... RETURNING) would keep
        # SQLite from committing.
        rows = self._execute(sql, args).fetchall()
        return rows[0] if rows else None

    # -- reads ---------------------------------------------------------------------------------

    def get(self, tid: int, pk: bytes, sk: bytes) -> str | None:
        row = self._one("SELECT item FROM items WHERE tid = ? AND pk = ? AND sk = ?", (tid, pk, sk))
        return None if row is None else str(row[0])

    def get_stored(self, tid: int, pk: bytes, sk: bytes) -> tuple[str, int] | None:
        row = self._one(
            "SELECT item, size FROM items WHERE tid = ? AND pk = ? AND sk = ?", (tid, pk, sk)
        )
        return None if row is None else (str(row[0]), int(row[1]))

    def query(
        self, tid: int, pk: bytes, low: Bound | None, high: Bound | None, forward: bool
    ) -> Iterator[tuple[bytes, str, int]]:
        args: list[Any] = [tid, pk]
        sql = "SELECT sk, item, size FROM items WHERE tid = ? AND pk = ?"
        sql += range_sql("sk", low, high, args)
        return self._stream(sql + " ORDER BY sk" + ("" if forward else " DESC"), args)

    def scan(
        self, tid: int, after: tuple[bytes, bytes] | None, start: bytes | None, end: bytes | None
    ) -> Iterator[tuple[bytes, bytes, str, int]]:
        args: list[Any] = [tid]
        sql = "SELECT pk, sk, item, size FROM items WHERE tid = ?"
        sql += _scan_bounds(("pk", "sk"), after, start, end, args)
        return self._stream(sql + " ORDER BY pk, sk", args)

    def index_query(
        self,
        iid: int,
        pk: bytes,
        low: Bound | None,
        high: Bound | None,
        forward: bool,
        after: tuple[bytes, bytes, bytes] | None,
    ) -> Iterator[tuple[bytes, bytes, bytes, str, int]]:
        args: list[Any] = [iid, pk]
        sql = "SELECT sk, tpk, tsk, item, size FROM index_items WHERE iid = ? AND pk = ?"
        sql += range_sql("sk", low, high, args)
        if after is not None:
            sql += f" AND (sk, tpk, tsk) {'>' if forward else '<'} (?, ?, ?)"
            args += after
        order = "" if forward else " DESC"
        return self._stream(sql + f" ORDER BY sk{order}, tpk{order}, tsk{order}", args)

    def index_scan(
        self,
        iid: int,
        after: tuple[bytes, bytes, bytes, bytes] | None,
        start: bytes | None,
        end: bytes | None,
    ) -> Iterator[tuple[bytes, bytes, bytes, bytes, str, int]]:
        args: list[Any] = [iid]
        sql = "SELECT pk, sk, tpk, tsk, item, size FROM index_items WHERE iid = ?"
        sql += _scan_bounds(("pk", "sk", "tpk", "tsk"), after, start, end, args)
        return self._stream(sql + " ORDER BY pk, sk, tpk, tsk", args)

    def stats(self, tid: int) -> tuple[int, int]:
        count, size = self._one(
            "SELECT count(*), coalesce(sum(size), 0) FROM items WHERE tid = ?", (tid,)
        )
        return int(count), int(size)

    def index_stats(self, iid: int) -> tuple[int, int]:
        count, size = self._one(
            "SELECT count(*), coalesce(sum(size), 0) FROM index_items WHERE iid = ?", (iid,)
        )
        return int(count), int(size)

    def tables(self) -> list[TableRow]:
        rows = self._execute("SELECT id, account, region, name, meta FROM tables ORDER BY id")
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def token(self, account: str, region: str, token: str) -> tuple[str, str, float] | None:
        row = self._one(
            "SELECT digest, response, at FROM tokens WHERE account = ? AND region = ? AND token = ?",
            (account, region, token),
        )
        return None if row is None else (str(row[0]), str(row[1]), float(row[2]))

    def expired(
        self, tid: int, not_before: float, now: float, limit: int
    ) -> list[tuple[bytes, bytes]]:
        rows = self._execute(
            "SELECT pk, sk FROM items WHERE tid = ? AND expires BETWEEN ? AND ? LIMIT ?",
            (tid, not_before, now, limit),
        )
        return [(bytes(r[0]), bytes(r[1])) for r in rows]

    def stream_records(
        self, tid: int, label: str, after: int, until: int | None, limit: int
    ) -> list[tuple[int, float, str]]:
        args: list[Any] = [tid, label, after]
        sql = "SELECT seq, at, record FROM stream_records WHERE tid = ? AND label = ? AND seq > ?"
        if until is not None:
            sql += " AND seq <= ?"
            args.append(until)
        rows = self._execute(sql + " ORDER BY seq LIMIT ?", [*args, limit])
        return [(int(r[0]), float(r[1]), str(r[2])) for r in rows]

    def stream_last(self, tid: int, label: str, after: int, until: int | None) -> int | None:
        args: list[Any] = [tid, label, after]
        sql = "SELECT max(seq) FROM stream_records WHERE tid = ? AND label = ? AND seq > ?"
        if until is not None:
            sql += " AND seq <= ?"
            args.append(until)
        (found,) = self._one(sql, tuple(args))
        return None if found is None else int(found)

    def stream_position(self, tid: int, label: str, before: float) -> int:
        (found,) = self._one(
            "SELECT max(seq) FROM stream_records WHERE tid = ? AND label = ? AND at < ?",
            (tid, label, before),
        )
        return int(found or 0)

    def stream_shards(self, tid: int, label: str) -> list[ShardRow]:
        rows = self._execute(
            "SELECT shard, parent, view, start_seq, end_seq, opened, closed, trimmed_seq "
            "FROM stream_shards WHERE tid = ? AND label = ? ORDER BY start_seq, opened",
            (tid, label),
        )
        return [
            ShardRow(
                str(r[0]),
                None if r[1] is None else str(r[1]),
                str(r[2]),
                int(r[3]),
                None if r[4] is None else int(r[4]),
                float(r[5]),
                None if r[6] is None else float(r[6]),
                int(r[7]),
            )
            for r in rows
        ]

    def backups(self, account: str, region: str) -> list[BackupRow]:
        rows = self._execute(
            "SELECT id, arn, meta FROM backups WHERE account = ? AND region = ? ORDER BY id",
            (account, region),
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def backup(self, account: str, region: str, arn: str) -> BackupRow | None:
        row = self._one(
            "SELECT id, arn, meta FROM backups WHERE account = ? AND region = ? AND arn = ?",
            (account, region, arn),
        )
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    # -- writes --------------------------------------------------------------------------------

    def put(
        self, tid: int, pk: bytes, sk: bytes, item: str, size: int, expires: float | None
    ) -> None:
        self._execute(
            "INSERT INTO items (tid, pk, sk, item, size, expires) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (tid, pk, sk) DO UPDATE SET item = excluded.item, size = excluded.size, "
            "expires = excluded.expires",
            (tid, pk, sk, item, size, expires),
        )

    def delete(self, tid: int, pk: bytes, sk: bytes) -> None:
        self._execute("DELETE FROM items WHERE tid = ? AND pk = ? AND sk = ?", (tid, pk, sk))

    def index_put(
        self, iid: int, pk: bytes, sk: bytes, tpk: bytes, tsk: bytes, item: str, size: int
    ) -> None:
        self._execute(
            "INSERT INTO index_items (iid, pk, sk, tpk, tsk, item, size) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (iid, pk, sk, tpk, tsk) "
            "DO UPDATE SET item = excluded.item, size = excluded.size",
            (iid, pk, sk, tpk, tsk, item, size),
        )

    def index_delete(self, iid: int, pk: bytes, sk: bytes, tpk: bytes, tsk: bytes) -> None:
        self._execute(
            "DELETE FROM index_items WHERE iid = ? AND pk = ? AND sk = ? AND tpk = ? AND tsk = ?",
            (iid, pk, sk, tpk, tsk),
        )

    def drop_index(self, iid: int) -> None:
        self._execute("DELETE FROM index_items WHERE iid = ?", (iid,))

    def new_table(self, account: str, region: str, name: str, meta: str) -> int:
        (tid,) = self._one(
            "INSERT INTO tables (account, region, name, meta) VALUES (?, ?, ?, ?) RETURNING id",
            (account, region, name, meta),
        )
        return int(tid)

    def new_index_id(self, tid: int) -> int:
        (iid,) = self._one("INSERT INTO index_ids (tid) VALUES (?) RETURNING id", (tid,))
        return int(iid)

    def save_table(self, tid: int, meta: str) -> None:
        self._execute("UPDATE tables SET meta = ? WHERE id = ?", (meta, tid))

    def drop_table(self, tid: int, index_ids: list[int]) -> None:
        self._execute("DELETE FROM tables WHERE id = ?", (tid,))
        self._execute("DELETE FROM items WHERE tid = ?", (tid,))
        self._execute("DELETE FROM stream_records WHERE tid = ?", (tid,))
        self._execute("DELETE FROM stream_shards WHERE tid = ?", (tid,))
        for iid in index_ids:
            self.drop_index(iid)

    def set_expiry(self, tid: int, pk: bytes, sk: bytes, expires: float | None) -> None:
        self._execute(
            "UPDATE items SET expires = ? WHERE tid = ? AND pk = ? AND sk = ?",
            (expires, tid, pk, sk),
        )

    def clear_expiry(self, tid: int) -> None:
        self._execute(
            "UPDATE items SET expires = NULL WHERE tid = ? AND expires IS NOT NULL", (tid,)
        )

    def append_stream(self, tid: int, label: str, at: float, record: str) -> int:
        (seq,) = self._one(
            "INSERT INTO stream_records (tid, label, at, record) VALUES (?, ?, ?, ?) RETURNING seq",
            (tid, label, at, record),
        )
        return int(seq)

    def stream_labels(self) -> list[tuple[int, str]]:
        rows = self._execute("SELECT DISTINCT tid, label FROM stream_shards", ())
        return [(int(r[0]), str(r[1])) for r in rows]

    def next_sequence(self) -> int:
        # Numbers only grow, so one past the highest kept bounds every later one from below.
        (high,) = self._one("SELECT max(seq) FROM stream_records", ())
        return int(high or 0) + 1

    def open_shard(
        self,
        tid: int,
        label: str,
        shard_id: str,
        parent: str | None,
        view: str,
        start: int,
        at: float,
    ) -> None:
        self._execute(
            "INSERT INTO stream_shards (tid, label, shard, parent, view, start_seq, opened) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tid, label, shard_id, parent, view, start, at),
        )

    def close_shard(self, tid: int, label: str, shard_id: str, end: int, at: float) -> None:
        self._execute(
            "UPDATE stream_shards SET end_seq = ?, closed = ? "
            "WHERE tid = ? AND label = ? AND shard = ?",
            (end, at, tid, label, shard_id),
        )

    def trim_streams(self, before: float) -> None:
        # Only the records about to go are read (through the `at` index). A stream's records
        # are trimmed oldest first, so the highest number trimmed from a stream is every
        # shard's trim horizon up to it: an iterator before it has lost records.
        gone = self._execute(
            "SELECT tid, label, max(seq) FROM stream_records WHERE at < ? GROUP BY tid, label",
            (before,),
        ).fetchall()
        for tid, label, high in gone:
            self._execute(
                "UPDATE stream_shards SET trimmed_seq = CASE WHEN end_seq IS NOT NULL AND "
                "end_seq < ? THEN end_seq ELSE ? END "
                "WHERE tid = ? AND label = ? AND start_seq <= ? AND trimmed_seq < ?",
                (high, high, tid, label, high, high),
            )
        self._execute("DELETE FROM stream_records WHERE at < ?", (before,))
        # Every record of a shard closed 24 hours ago is gone: so is the shard, as on DynamoDB.
        self._execute("DELETE FROM stream_shards WHERE closed < ?", (before,))

    def save_token(
        self, account: str, region: str, token: str, digest: str, response: str, at: float
    ) -> None:
        self._execute(
            "INSERT INTO tokens (account, region, token, digest, response, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, token) "
            "DO UPDATE SET digest = excluded.digest, response = excluded.response, "
            "at = excluded.at",
            (account, region, token, digest, response, at),
        )

    def forget_tokens(self, before: float) -> None:
        self._execute("DELETE FROM tokens WHERE at < ?", (before,))

    def new_backup(self, account: str, region: str, arn: str, meta: str) -> int:
        (bid,) = self._one(
            "INSERT INTO backups (account, region, arn, meta) VALUES (?, ?, ?, ?) RETURNING id",
            (account, region, arn, meta),
        )
        return int(bid)

    def save_backup(self, bid: int, meta: str) -> None:
        self._execute("UPDATE backups SET meta = ? WHERE id = ?", (meta, bid))

    def copy_to_backup(self, bid: int, tid: int, index_ids: list[int]) -> None:
        # One statement per source. On PostgreSQL each reads its own snapshot: the caller holds
        # the table's row lock, which item writes share, so no write commits between them.
        self._execute(
            "INSERT INTO backup_items (bid, pk, sk, item, size) "
            "SELECT ?, pk, sk, item, size FROM items WHERE tid = ?",
            (bid, tid),
        )
        for iid in index_ids:
            self._execute(
                "INSERT INTO backup_index_items (bid, iid, pk, sk, tpk, tsk, item, size) "
                "SELECT ?, iid, pk, sk, tpk, tsk, item, size FROM index_items WHERE iid = ?",
                (bid, iid),
            )

    def restore_backup(self, bid: int, tid: int, index_ids: dict[int, int]) -> None:
        self._execute(
            "INSERT INTO items (tid, pk, sk, item, size, expires) "
            "SELECT ?, pk, sk, item, size, NULL FROM backup_items WHERE bid = ?",
            (tid, bid),
        )
        for old, new in index_ids.items():
            self._execute(
                "INSERT INTO index_items (iid, pk, sk, tpk, tsk, item, size) "
                "SELECT ?, pk, sk, tpk, tsk, item, size FROM backup_index_items "
                "WHERE bid = ? AND iid = ?",
                (new, bid, old),
            )

    def drop_backup(self, bid: int) -> None:
        self._execute("DELETE FROM backups WHERE id = ?", (bid,))
        self._execute("DELETE FROM backup_items WHERE bid = ?", (bid,))
        self._execute("DELETE FROM backup_index_items WHERE bid = ?", (bid,))
