"""Reads on the event loop under load: many clients writing, transacting and reading at once.

Quick reads (GetItem, Query, BatchGetItem, TransactGetItems) run on the event loop with the
loop's own SQLite connection while the writer thread commits groups of jobs; a Query past the
quick budget is run again on a reader thread. These tests hammer that mix and check what a
reader may never see: part of a transaction, an acknowledged write missing, a partition
shrinking; then a `kill -9` in the middle of the load loses nothing acknowledged.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.conftest import Server

GROUP = 4  # items per transaction
BIG = 300  # items in a partition read past the quick budget (256 rows)


def _table(ddb: Any) -> str:
    name = f"hammer-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _group_write(name: str, group: int, value: int) -> dict[str, Any]:
    return {
        "TransactItems": [
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": {"S": f"g{group}"}, "sk": {"N": str(i)}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(value)}},
                }
            }
            for i in range(GROUP)
        ]
    }


class Load:
    """Writers and readers running until `stop`, recording what was acknowledged and seen."""

    def __init__(self, server: Server, name: str, writers: int, readers: int) -> None:
        self.server, self.name, self.groups = server, name, writers
        self.stop = threading.Event()
        self.lock = threading.Lock()
        #: Per writer: the last transaction value acknowledged, and every acknowledged put.
        self.last_value: dict[int, int] = {}
        self.puts: list[str] = []
        self.reads = 0
        self.failures: list[str] = []
        #: Whether the server was killed: requests failing after that are expected.
        self.killed = False
        self.threads = [
            threading.Thread(target=self._guard, args=(self._writer, w)) for w in range(writers)
        ] + [threading.Thread(target=self._guard, args=(self._reader, r)) for r in range(readers)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def wait_for(self, done: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert not self.failures, self.failures[:5]
            assert time.monotonic() < deadline, "the load made too little progress"
            time.sleep(0.05)

    def _guard(self, work: Callable[[Any, int], None], worker: int) -> None:
        ddb = self.server.client("dynamodb")
        try:
            work(ddb, worker)
        except Exception as exc:
            if not self.killed:
                self.failures.append(f"{work.__name__} {worker}: {exc!r}")

    def _writer(self, ddb: Any, worker: int) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            ddb.transact_write_items(**_group_write(self.name, worker, count))
            with self.lock:
                self.last_value[worker] = count
            key = f"w{worker}-{count}"
            ddb.put_item(TableName=self.name, Item={"pk": {"S": key}, "sk": {"N": "0"}})
            with self.lock:
                self.puts.append(key)
            if count % 5 == 0:  # the big partition only grows
                ddb.put_item(
                    TableName=self.name,
                    Item={"pk": {"S": "big"}, "sk": {"N": str(BIG + worker * 100_000 + count)}},
                )

    def _reader(self, ddb: Any, worker: int) -> None:
        big_seen = 0
        turn = 0
        while not self.stop.is_set():
            turn += 1
            group = turn % self.groups
            with self.lock:
                before = self.last_value.get(group, 0)
                put = self.puts[-1] if self.puts else None
            kind = turn % 4
            if kind == 0:
                items = ddb.query(
                    TableName=self.name,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": f"g{group}"}},
                )["Items"]
            elif kind == 1:
                keys = [{"pk": {"S": f"g{group}"}, "sk": {"N": str(i)}} for i in range(GROUP)]
                items = ddb.batch_get_item(RequestItems={self.name: {"Keys": keys}})["Responses"][
                    self.name
                ]
            elif kind == 2:
                gets = [
                    {"Get": {"TableName": self.name, "Key": {"pk": {"S": f"g{group}"},
                                                             "sk": {"N": str(i)}}}}
                    for i in range(GROUP)
                ]  # fmt: skip
                answers = ddb.transact_get_items(TransactItems=gets)["Responses"]
                items = [a["Item"] for a in answers if "Item" in a]
            else:
                pages = ddb.get_paginator("query").paginate(
                    TableName=self.name,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "big"}},
                )
                count = sum(len(page["Items"]) for page in pages)
                if count < big_seen:
                    self.failures.append(f"the big partition shrank from {big_seen} to {count}")
                big_seen = count
                items = []
            values = {int(i["v"]["N"]) for i in items}
            if len(values) > 1:
                self.failures.append(f"group {group}: a partial transaction seen: {values}")
            if items and len(items) != GROUP:
                self.failures.append(f"group {group}: {len(items)} of {GROUP} items")
            if values and min(values) < before:
                self.failures.append(f"group {group}: {values} older than acknowledged {before}")
            if put is not None:
                got = ddb.get_item(TableName=self.name, Key={"pk": {"S": put}, "sk": {"N": "0"}})
                if "Item" not in got:
                    self.failures.append(f"acknowledged put {put} not found")
            with self.lock:
                self.reads += 1


def _seed(ddb: Any, name: str, writers: int) -> None:
    for group in range(writers):
        ddb.transact_write_items(**_group_write(name, group, 0))
    for start in range(0, BIG, 25):
        ddb.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {"pk": {"S": "big"}, "sk": {"N": str(i)}}}}
                    for i in range(start, min(BIG, start + 25))
                ]
            }
        )


def test_readers_never_see_partial_transactions_or_miss_acknowledged_writes(
    fresh_server: Callable[..., Server], tmp_path: Any
) -> None:
    server = fresh_server(tmp_path / "hammer")
    ddb = server.client("dynamodb")
    name = _table(ddb)
    _seed(ddb, name, 8)
    with Load(server, name, writers=8, readers=8) as load:
        load.wait_for(lambda: load.reads >= 400 and len(load.puts) >= 200)
    assert not load.failures, load.failures[:5]


def test_kill_9_under_mixed_load_loses_nothing_acknowledged(
    fresh_server: Callable[..., Server], tmp_path: Any
) -> None:
    data = tmp_path / "killed"
    server = fresh_server(data)
    ddb = server.client("dynamodb")
    name = _table(ddb)
    _seed(ddb, name, 6)
    with Load(server, name, writers=6, readers=6) as load:
        load.wait_for(lambda: load.reads >= 100 and len(load.puts) >= 100)
        load.killed = True
        server.stop(signal.SIGKILL)
    assert not load.failures, load.failures[:5]
    restarted = fresh_server(data).client("dynamodb")
    for worker, acknowledged in load.last_value.items():
        answer = restarted.query(
            TableName=name,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"g{worker}"}},
            ConsistentRead=True,
        )
        values = {int(i["v"]["N"]) for i in answer["Items"]}
        assert len(answer["Items"]) == GROUP and len(values) == 1, values
        assert values.pop() >= acknowledged
    missing = [
        key
        for key in load.puts
        if "Item"
        not in restarted.get_item(TableName=name, Key={"pk": {"S": key}, "sk": {"N": "0"}})
    ]
    assert not missing, f"{len(missing)} acknowledged puts lost"
