"""The state one Tables service holds: its engine, the catalog of tables, the stream recorder.

Operation modules (`control`, `itemops`, `reads`, `batch`, `transact`) are functions of a
`Tables` and a request; this object is what they share.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fireside.aws.errors import ServiceError
from fireside.supervisor import TaskSet
from fireside.tables.catalog import Catalog
from fireside.tables.engine import (
    Engine,
    EngineError,
    ReadTxn,
    TableGone,
    TableRow,
    WriteConflict,
    WriteTxn,
)
from fireside.tables.errors import dynamodb_error
from fireside.tables.streamlog import StreamRecorder
from fireside.tables.streamshards import SHARD_LIFETIME

__all__ = ["MappedEngine", "Tables"]

T = TypeVar("T")

log = logging.getLogger(__name__)


class MappedEngine:
    """The engine as the service sees it: the engine's own errors become DynamoDB's."""

    def __init__(self, engine: Engine, streams: StreamRecorder) -> None:
        self._engine = engine
        self._streams = streams
        self.name = engine.name

    async def write(self, job: Callable[[WriteTxn], T]) -> T:
        try:
            result, recorded = await self._engine.write(self._streams.watching(job))
        except EngineError as exc:
            raise _wire_error(exc) from None
        if recorded:
            self._streams.pulse()
        return result

    async def read(self, job: Callable[[ReadTxn], T], *, quick: bool = False) -> T:
        try:
            return await self._engine.read(job, quick=quick)
        except EngineError as exc:
            raise _wire_error(exc) from None

    def read_now(self, job: Callable[[ReadTxn], T]) -> T:
        try:
            return self._engine.read_now(job)
        except EngineError as exc:
            raise _wire_error(exc) from None

    def close(self) -> None:
        self._engine.close()


def _wire_error(exc: EngineError) -> ServiceError:
    if isinstance(exc, TableGone):
        return dynamodb_error("ResourceNotFoundException", "Requested resource not found")
    if isinstance(exc, WriteConflict):
        return dynamodb_error("TransactionConflictException", "Transaction is ongoing for the item")
    raise exc  # an engine error the service does not know: a bug, reported as one


class Tables:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        ttl_interval: float = 60.0,
        shard_lifetime: float = SHARD_LIFETIME,
    ) -> None:
        self.streams = StreamRecorder(clock, shard_lifetime)
        self.engine: Engine = MappedEngine(engine, self.streams)
        #: Seconds between TTL expiry sweeps.
        self.ttl_interval = ttl_interval
        self.clock = clock
        shared = engine.name != "sqlite"  # other nodes may change tables behind our back
        self.catalog = Catalog(reload=self._tables if shared else None)
        self.catalog.load(self._tables())
        #: ClientRequestTokens of TransactWriteItems calls being executed right now.
        self.tokens_in_flight: set[tuple[str, str, str | None]] = set()
        self._tasks = TaskSet("tables")

    def _tables(self) -> list[TableRow]:
        return self.engine.read_now(lambda txn: txn.tables())

    async def refresh_catalog_forever(self, interval: float = 1.0) -> None:
        """Keep a shared engine's catalog in step with the other nodes' changes."""
        while True:
            await asyncio.sleep(interval)
            since = self.catalog.changes
            try:
                # Bounded: a read stuck on its connection must not stop the refreshes (the
                # next one runs on another reader).
                rows = await asyncio.wait_for(self.engine.read(lambda txn: txn.tables()), 10)
            except Exception:  # one failed read (a lost connection) must not end the loop
                log.warning("tables: could not refresh the catalog", exc_info=True)
                continue
            # Not over a change this node made meanwhile (the next refresh has it).
            self.catalog.load(rows, since)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run background work (an index backfill...) owned by this service until `close`."""
        self._tasks.spawn(work, name)

    async def stop_tasks(self) -> None:
        await self._tasks.close()

    def close(self) -> None:
        self.engine.close()
