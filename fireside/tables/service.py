"""The state one Tables service holds: its engine, the catalog of tables, the stream recorder.

Operation modules (`control`, `itemops`, `reads`, `batch`, `transact`) are functions of a
`Tables` and a request; this object is what they share.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fireside.tables.catalog import Catalog
from fireside.tables.engine import Engine
from fireside.tables.schema import TableInfo
from fireside.tables.values import Item

__all__ = ["StreamRecorder", "Tables"]


class StreamRecorder:
    """Where item changes go when a table has a stream.

    Streams are not stored yet: tables accept and report a StreamSpecification, and this
    recorder is the single place every item write passes through, ready for stream records.
    """

    def record(self, txn: Any, table: TableInfo, old: Item | None, new: Item | None) -> None:
        return None


class Tables:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self.catalog = Catalog()
        self.catalog.load(engine.read_now(lambda txn: txn.tables()))
        self.streams = StreamRecorder()

    def close(self) -> None:
        self.engine.close()
