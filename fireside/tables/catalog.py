"""The in-memory catalog of tables, loaded from the engine at start and kept in step by writes.

Control-plane jobs change it from inside their write transaction (on the writer thread) and
register how to undo the change if that transaction rolls back, so item writes that follow
in the same commit group already see the new table definition.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable

from fireside.tables.engine import TableRow, WriteTxn
from fireside.tables.errors import not_found, validation
from fireside.tables.schema import TableInfo

__all__ = ["Catalog", "check_table_name", "locked_table", "table_name_of"]

_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
_ARN = re.compile(r"arn:[^:]+:dynamodb:([^:]*):([0-9]*):table/([^/]+)")


def check_table_name(name: str, member: str = "tableName") -> None:
    """DynamoDB's constraints on a table name, with Coral's validation wording."""
    problems = []
    if len(name) < 3:
        problems.append(
            f"Value '{name}' at '{member}' failed to satisfy constraint: Member must have length "
            "greater than or equal to 3"
        )
    if len(name) > 255:
        problems.append(
            f"Value '{name}' at '{member}' failed to satisfy constraint: Member must have length "
            "less than or equal to 255"
        )
    if not _NAME.fullmatch(name):
        problems.append(
            f"Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: [a-zA-Z0-9_.-]+"
        )
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise validation(f"{count} validation {noun} detected: " + "; ".join(problems))


def table_name_of(name_or_arn: str) -> str:
    """A table name from a `TableName` parameter, which may also be the table's ARN."""
    match = _ARN.fullmatch(name_or_arn)
    return match[3] if match else name_or_arn


def locked_table(txn: WriteTxn, tid: int) -> TableInfo | None:
    """A table's stored definition, locked until the transaction ends (control-plane jobs
    change definitions from this copy, never from a node's possibly stale cache)."""
    meta = txn.lock_table(tid)
    return None if meta is None else TableInfo.from_json(meta)


class Catalog:
    def __init__(self, reload: Callable[[], Iterable[TableRow]] | None = None) -> None:
        """`reload`: where to read the tables again when a name is not known here (engines
        shared by several nodes: another node may have created it)."""
        self._by_name: dict[tuple[str, str, str], TableInfo] = {}
        self._by_id: dict[int, TableInfo] = {}
        self._reload = reload
        #: Shared engines: the last stored definition parsed per table (parsing costs more
        #: than comparing the text).
        self._parsed: dict[int, tuple[str, TableInfo]] = {}
        #: Counts this node's changes, when made and again when committed (see `load`); a
        #: counter shared by threads (the writer's, the event loop's), so it never loses one.
        self._counter = itertools.count(1)
        self.changes = 0

    def load(self, rows: Iterable[TableRow], since: int | None = None) -> bool:
        """Replace the catalog with the stored tables; returns whether it did.

        `since`: the `changes` count taken before `rows` were read. If this node changed a
        table since (or committed a change), `rows` may be older than that change and would
        undo it here until the next load: they are dropped instead."""
        by_name: dict[tuple[str, str, str], TableInfo] = {}
        by_id: dict[int, TableInfo] = {}
        for _, _, _, _, meta in rows:
            table = TableInfo.from_json(meta)
            by_name[(table.account, table.region, table.name)] = table
            by_id[table.table_id] = table
        if since is not None and since != self.changes:
            return False
        # Swapped whole: readers on other threads never see a half-loaded catalog.
        self._by_name, self._by_id = by_name, by_id
        return True

    def _changed(self, txn: WriteTxn | None) -> None:
        self.changes = next(self._counter)
        if txn is not None:
            txn.after_commit.append(self._committed)

    def _committed(self) -> None:
        self.changes = next(self._counter)

    def put(self, table: TableInfo, txn: WriteTxn | None = None) -> None:
        """Add or replace a table; `txn`: the write that stores the change."""
        self._by_name[(table.account, table.region, table.name)] = table
        self._by_id[table.table_id] = table
        self._changed(txn)

    def remove(self, table: TableInfo, txn: WriteTxn | None = None) -> None:
        self._by_name.pop((table.account, table.region, table.name), None)
        self._by_id.pop(table.table_id, None)
        self._changed(txn)

    def get(self, account: str, region: str, name: str) -> TableInfo | None:
        """The table a `TableName` parameter names: a name, or the table's ARN. An ARN of
        another account or region names no table here (Fireside evaluates no resource
        policies, so it grants no cross-account access)."""
        match = _ARN.fullmatch(name)
        if match is not None:
            if (match[1], match[2]) != (region, account):
                return None
            name = match[3]
        key = (account, region, name)
        found = self._by_name.get(key)
        if found is None and self._reload is not None:
            for _ in range(3):  # again if this node changed a table meanwhile
                since = self.changes
                if self.load(self._reload(), since):
                    break
            found = self._by_name.get(key)
        return found

    def by_id(self, table_id: int) -> TableInfo | None:
        return self._by_id.get(table_id)

    def require(self, account: str, region: str, name: str) -> TableInfo:
        """The table for an item operation; DynamoDB's terse not-found error otherwise."""
        table = self.get(account, region, name)
        if table is None:
            if not name.startswith("arn:"):
                check_table_name(name)
            raise not_found()
        return table

    def live(self, table_id: int) -> TableInfo:
        """The current definition of a table inside a write job (it may have been deleted)."""
        table = self._by_id.get(table_id)
        if table is None:
            raise not_found()
        return table

    def for_write(self, txn: WriteTxn, table_id: int) -> TableInfo:
        """The definition an item write must follow. On a shared engine that is the stored one,
        held unchanged until the write commits (another node may have just added an index);
        on a single-writer engine this node's catalog is authoritative."""
        if self._reload is None:
            return self.live(table_id)
        meta = txn.share_table(table_id)
        if meta is None:
            raise not_found()
        cached = self._parsed.get(table_id)
        if cached is not None and cached[0] == meta:
            return cached[1]
        table = TableInfo.from_json(meta)
        self._parsed[table_id] = (meta, table)
        return table

    def names(self, account: str, region: str) -> list[str]:
        return sorted(n for (a, r, n) in self._by_name if a == account and r == region)

    def all(self) -> list[TableInfo]:
        return list(self._by_id.values())
