"""DynamoDB Streams over time: the 24-hour trim, expired iterators, streams that end, and
streams stored before shards were. In process, with a clock the test moves (a live server
would take a day): on SQLite, and the migration on both engines."""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.tables import control, itemops, streams, ttl, update_table
from fireside.tables.engine import Engine
from fireside.tables.postgres import PostgresEngine
from fireside.tables.service import Tables
from fireside.tables.sqlite import SqliteEngine
from tests.conftest import unavailable
from tests.tables.conftest import ENGINES, _local_cluster, table_params

CTX = RequestContext("123456789012", "us-east-1", "request", "http://127.0.0.1")
HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def call(tables: Tables, operation: Any, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await operation(tables, CTX, params)
    return result


async def refused(tables: Tables, operation: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ServiceError) as caught:
        await operation(tables, CTX, params)
    return caught.value.code, caught.value.message


async def new_stream(tables: Tables, name: str) -> str:
    spec = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    created = await call(
        tables, control.create_table, **table_params(name, StreamSpecification=spec)
    )
    arn: str = created["TableDescription"]["LatestStreamArn"]
    return arn


async def put(tables: Tables, name: str, key: str) -> None:
    await call(tables, itemops.put_item, TableName=name, Item={"pk": {"S": key}})


async def shards(tables: Tables, arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await call(tables, streams.describe_stream, StreamArn=arn))[
        "StreamDescription"
    ]["Shards"]
    return found


async def iterator(tables: Tables, arn: str, kind: str, **extra: Any) -> str:
    shard = (await shards(tables, arn))[0]["ShardId"]
    got = await call(
        tables, streams.get_shard_iterator, StreamArn=arn, ShardId=shard, ShardIteratorType=kind,
        **extra,
    )  # fmt: skip
    return str(got["ShardIterator"])


async def keys(tables: Tables, it: str) -> list[str]:
    page = await call(tables, streams.get_records, ShardIterator=it)
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]


async def sweep(tables: Tables) -> None:
    """What the TTL sweep does to streams each interval."""
    await tables.engine.write(functools.partial(ttl._forget, now=tables.clock()))


def test_trimmed_records_and_expired_iterators(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        # One shard for the whole test (no roll-over after 4 hours).
        engine = SqliteEngine(tmp_path / "tables.sqlite")
        tables = Tables(engine, clock=clock, shard_lifetime=100 * HOUR)
        try:
            arn = await new_stream(tables, "trimmed")
            await put(tables, "trimmed", "old")
            start = (await shards(tables, arn))[0]["SequenceNumberRange"]
            first = await call(
                tables,
                streams.get_records,
                ShardIterator=await iterator(tables, arn, "TRIM_HORIZON"),
            )
            number = first["Records"][0]["dynamodb"]["SequenceNumber"]
            clock.now += 12 * HOUR
            await put(tables, "trimmed", "new")
            clock.now += 12 * HOUR + 60
            horizon = await iterator(tables, arn, "TRIM_HORIZON")  # still sees "old"
            stale = await iterator(tables, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=number)
            clock.now += 60
            await sweep(tables)  # "old" is now over 24 hours old
            trimmed = (
                "TrimmedDataAccessException",
                "The operation attempted to read past the oldest stream record in a shard.",
            )
            assert await refused(tables, streams.get_records, ShardIterator=horizon) == trimmed
            assert await refused(tables, streams.get_records, ShardIterator=stale) == trimmed
            assert (
                await refused(
                    tables,
                    streams.get_shard_iterator,
                    StreamArn=arn,
                    ShardId=(await shards(tables, arn))[0]["ShardId"],
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=number,
                )
                == trimmed
            )
            # The shard keeps its range; TRIM_HORIZON now starts after what was trimmed.
            assert (await shards(tables, arn))[0]["SequenceNumberRange"] == start
            assert await keys(tables, await iterator(tables, arn, "TRIM_HORIZON")) == ["new"]
            clock.now += 15 * 60 + 1
            code, message = await refused(tables, streams.get_records, ShardIterator=horizon)
            assert code == "ExpiredIteratorException"
            assert message.endswith("than the tolerated delay of 900000 milliseconds.")
        finally:
            tables.close()

    asyncio.run(scenario())


def test_a_disabled_stream_ends_a_day_after_it_closed(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        tables = Tables(SqliteEngine(tmp_path / "tables.sqlite"), clock=clock)
        try:
            arn = await new_stream(tables, "ending")
            await put(tables, "ending", "a")
            await call(
                tables,
                update_table.update_table,
                TableName="ending",
                StreamSpecification={"StreamEnabled": False},
            )
            clock.now += HOUR
            enabled = await call(
                tables,
                update_table.update_table,
                TableName="ending",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )
            latest = enabled["TableDescription"]["LatestStreamArn"]
            clock.now += 22 * HOUR
            await sweep(tables)
            listed = await call(tables, streams.list_streams, TableName="ending")
            assert [s["StreamArn"] for s in listed["Streams"]] == [arn, latest]
            assert await keys(tables, await iterator(tables, arn, "TRIM_HORIZON")) == ["a"]
            clock.now += 2 * HOUR
            await sweep(tables)
            listed = await call(tables, streams.list_streams, TableName="ending")
            assert [s["StreamArn"] for s in listed["Streams"]] == [latest]
            gone = (
                "ResourceNotFoundException",
                f"Requested resource not found: Stream: {arn} not found",
            )
            assert await refused(tables, streams.describe_stream, StreamArn=arn) == gone
        finally:
            tables.close()

    asyncio.run(scenario())


@pytest.fixture(params=ENGINES)
def stored_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Callable[[], Engine], Callable[[], None]]]:
    """Opens an engine on one store of this test, and takes that store back to before
    stream shards (SQLite: schema 2; PostgreSQL: no stream_shards table)."""
    if request.param == "sqlite":
        path = tmp_path / "tables.sqlite"

        def back_sqlite() -> None:
            conn = sqlite3.connect(path)
            conn.execute("DROP TABLE stream_shards")
            conn.execute("PRAGMA user_version=2")
            conn.commit()
            conn.close()

        yield (lambda: SqliteEngine(path)), back_sqlite
        return
    import psycopg

    admin = os.environ.get("FIRESIDE_TEST_POSTGRESQL") or _local_cluster()
    if admin is None:
        unavailable("postgresql", "none reachable (set FIRESIDE_TEST_POSTGRESQL to an admin URL)")
    name = f"fireside_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{admin.rpartition('/')[0]}/{name}"

    def back_postgresql() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE stream_shards")

    try:
        yield (lambda: PostgresEngine(url)), back_postgresql
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_streams_stored_before_shards_get_one(
    stored_engine: tuple[Callable[[], Engine], Callable[[], None]],
) -> None:
    open_engine, back = stored_engine

    async def write(clock: Clock) -> tuple[str, list[dict[str, Any]]]:
        tables = Tables(open_engine(), clock=clock)
        try:
            arn = await new_stream(tables, "legacy")
            await put(tables, "legacy", "a")
            await put(tables, "legacy", "b")
            disabled = await new_stream(tables, "closed")
            await put(tables, "closed", "c")
            await call(
                tables,
                update_table.update_table,
                TableName="closed",
                StreamSpecification={"StreamEnabled": False},
            )
            return arn, await shards(tables, arn) + await shards(tables, disabled)
        finally:
            tables.close()

    clock = Clock()
    arn, before = asyncio.run(write(clock))
    back()

    async def read() -> None:
        tables = Tables(open_engine(), clock=clock)
        try:
            legacy = await shards(tables, arn)
            closed_arn = arn.replace("table/legacy/", "table/closed/").rpartition("/stream/")[0]
            listed = await call(tables, streams.list_streams, TableName="closed")
            closed = await shards(tables, listed["Streams"][0]["StreamArn"])
            assert closed_arn in listed["Streams"][0]["StreamArn"]
            # The same ids; the shard starts at its first record and a closed one ends at its
            # last, both records the consumer reads.
            assert [s["ShardId"] for s in legacy + closed] == [s["ShardId"] for s in before]
            assert "EndingSequenceNumber" in closed[0]["SequenceNumberRange"]
            assert "EndingSequenceNumber" not in legacy[0]["SequenceNumberRange"]
            assert await keys(tables, await iterator(tables, arn, "TRIM_HORIZON")) == ["a", "b"]
            latest = await iterator(tables, arn, "LATEST")
            await put(tables, "legacy", "c")
            assert await keys(tables, latest) == ["c"]
        finally:
            tables.close()

    asyncio.run(read())
