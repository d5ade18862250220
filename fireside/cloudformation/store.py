"""Where CloudFormation keeps stacks, their events and change sets: `cloudformation.sqlite`
in the data directory, one JSON record per stack and change set, one row per event.

Every write commits with `synchronous=FULL` (`open_durable`) before the engine moves on or
the API answers, so a stack operation's progress survives a `kill -9`. Writes run in a
thread (`asyncio.to_thread`) under one lock: an fsync per state change stays off the loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from fireside.cloudformation.model import ChangeSet, Stack
from fireside.store.database import open_durable, write_transaction

__all__ = ["CloudFormationStore"]

_KEEP_DELETED = 90 * 24 * 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stacks (
    id       TEXT PRIMARY KEY,
    record   TEXT NOT NULL,          -- JSON: the stack without its templates
    heavy    TEXT NOT NULL           -- JSON: its templates, rewritten only when they change
);
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    stack    TEXT NOT NULL,
    record   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_stack ON events (stack, seq);
CREATE TABLE IF NOT EXISTS change_sets (
    id       TEXT PRIMARY KEY,
    stack    TEXT NOT NULL,
    record   TEXT NOT NULL
);
"""


class CloudFormationStore:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        self._lock = threading.Lock()
        #: Saves commit in call order, each the stack as it is when its turn comes.
        self._order = asyncio.Lock()
        #: The templates' revision last written, per stack.
        self._revisions: dict[str, int] = {}
        with write_transaction(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def stacks(self) -> list[Stack]:
        """The stacks, except those deleted more than 90 days ago (AWS lists deleted stacks
        that long), which are dropped with their events and change sets."""
        rows = self._conn.execute("SELECT record, heavy FROM stacks ORDER BY rowid").fetchall()
        found = [Stack.from_json(json.loads(row[0]), json.loads(row[1])) for row in rows]
        horizon = time.time() - _KEEP_DELETED
        gone = [s.stack_id for s in found if s.deleted is not None and s.deleted < horizon]
        if gone:
            with self._lock, write_transaction(self._conn) as conn:
                for stack_id in gone:
                    conn.execute("DELETE FROM stacks WHERE id=?", (stack_id,))
                    conn.execute("DELETE FROM events WHERE stack=?", (stack_id,))
                    conn.execute("DELETE FROM change_sets WHERE stack=?", (stack_id,))
            found = [s for s in found if s.stack_id not in gone]
        self._revisions = {stack.stack_id: stack.revision for stack in found}
        return found

    def change_sets(self) -> list[ChangeSet]:
        rows = self._conn.execute("SELECT record FROM change_sets ORDER BY rowid").fetchall()
        return [ChangeSet.from_json(json.loads(row[0])) for row in rows]

    def events(self, stack_id: str) -> list[dict[str, Any]]:
        """The stack's events, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT record FROM events WHERE stack=? ORDER BY seq DESC", (stack_id,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def _write(
        self,
        stack: dict[str, Any] | None,
        heavy: dict[str, Any] | None,
        events: list[dict[str, Any]],
        change_sets: list[dict[str, Any]],
    ) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            if stack is not None and heavy is not None:
                conn.execute(
                    "INSERT INTO stacks (id, record, heavy) VALUES (?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET record=excluded.record, heavy=excluded.heavy",
                    (stack["stack_id"], json.dumps(stack), json.dumps(heavy)),
                )
            elif stack is not None:
                conn.execute(
                    "UPDATE stacks SET record=? WHERE id=?", (json.dumps(stack), stack["stack_id"])
                )
            for record in events:
                conn.execute(
                    "INSERT INTO events (stack, record) VALUES (?, ?)",
                    (record["StackId"], json.dumps(record)),
                )
            for change_set in change_sets:
                conn.execute(
                    "INSERT INTO change_sets (id, stack, record) VALUES (?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET record=excluded.record",
                    (change_set["change_set_id"], change_set["stack_id"], json.dumps(change_set)),
                )

    async def save(
        self,
        stack: Stack | None,
        events: list[dict[str, Any]] = (),  # type: ignore[assignment]
        change_sets: list[ChangeSet] = (),  # type: ignore[assignment]
    ) -> None:
        """Commits the stack's record (as it is now), new events and change sets, in one
        durable transaction."""
        async with self._order:
            record = heavy = None
            if stack is not None:
                record = stack.to_json()
                if self._revisions.get(stack.stack_id) != stack.revision:
                    heavy = stack.heavy_json()
            sets = [c.to_json() for c in change_sets]
            await asyncio.to_thread(self._write, record, heavy, list(events), sets)
            if stack is not None:
                self._revisions[stack.stack_id] = stack.revision

    async def drop_change_set(self, change_set_id: str) -> None:
        def drop() -> None:
            with self._lock, write_transaction(self._conn) as conn:
                conn.execute("DELETE FROM change_sets WHERE id=?", (change_set_id,))

        await asyncio.to_thread(drop)

    def close(self) -> None:
        self._conn.close()
