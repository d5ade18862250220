"""Storage engines raise their own errors; the Tables service answers with DynamoDB's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from fireside.aws.errors import ServiceError
from fireside.tables.engine import EngineError, ReadTxn, TableGone, WriteConflict, WriteTxn
from fireside.tables.service import MappedEngine
from fireside.tables.streamlog import StreamRecorder

T = TypeVar("T")


class Refusing:
    """An engine whose every job fails with one engine error."""

    name = "refusing"

    def __init__(self, error: EngineError) -> None:
        self.error = error

    async def write(self, job: Callable[[WriteTxn], T]) -> T:
        raise self.error

    async def read(self, job: Callable[[ReadTxn], T], *, quick: bool = False) -> T:
        raise self.error

    def read_now(self, job: Callable[[ReadTxn], T]) -> T:
        raise self.error

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("error", "code"),
    [(WriteConflict(), "TransactionConflictException"), (TableGone(), "ResourceNotFoundException")],
)
def test_engine_errors_become_dynamodbs(error: EngineError, code: str) -> None:
    engine = MappedEngine(Refusing(error), StreamRecorder(time.time))
    job: Any = lambda txn: None  # noqa: E731
    for call in (lambda: asyncio.run(engine.write(job)), lambda: asyncio.run(engine.read(job))):
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.code == code and caught.value.status == 400
    with pytest.raises(ServiceError):
        engine.read_now(job)


def test_an_unknown_engine_error_is_not_disguised() -> None:
    class Strange(EngineError):
        pass

    with pytest.raises(Strange):
        asyncio.run(
            MappedEngine(Refusing(Strange()), StreamRecorder(time.time)).write(lambda txn: None)
        )
