"""Several Fireside nodes sharing one PostgreSQL database: one set of tables, serializable
transactions across nodes, table changes seen by every node."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.tables.conftest import table_params


def test_two_nodes_share_tables_and_transactions(
    tables_server: Server, engine_env: dict[str, str], fresh_server: Any
) -> None:
    if not engine_env:
        pytest.skip("a single-node engine (SQLite) has no other nodes")
    other: Server = fresh_server(**engine_env)
    first, second = tables_server.client("dynamodb"), other.client("dynamodb")
    name = f"shared-{random.randrange(1 << 30):x}"
    first.create_table(**table_params(name))
    # Each node keeps its catalog in step with the others by a supervised loop.
    assert tables_server.health()["services"]["dynamodb"]["loops"]["catalog-refresh"] == {
        "state": "running",
        "restarts": 0,
    }
    # A table created on one node is usable on the other at once (its catalog reloads on a miss).
    accounts = [f"acct-{i}" for i in range(5)]
    for account in accounts:
        second.put_item(TableName=name, Item={"pk": {"S": account}, "balance": {"N": "100"}})
    errors: list[BaseException] = []

    def worker(seed: int, server: Server) -> None:
        rng = random.Random(seed)
        ddb = server.client("dynamodb")
        try:
            for _ in range(15):
                source, target = rng.sample(accounts, 2)
                amount = str(rng.randint(1, 30))
                try:
                    ddb.transact_write_items(
                        TransactItems=[
                            {"Update": {
                                "TableName": name, "Key": {"pk": {"S": source}},
                                "UpdateExpression": "SET balance = balance - :a",
                                "ConditionExpression": "balance >= :a",
                                "ExpressionAttributeValues": {":a": {"N": amount}},
                            }},
                            {"Update": {
                                "TableName": name, "Key": {"pk": {"S": target}},
                                "UpdateExpression": "SET balance = balance + :a",
                                "ExpressionAttributeValues": {":a": {"N": amount}},
                            }},
                        ]
                    )  # fmt: skip
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "TransactionCanceledException":
                        raise
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(seed, tables_server if seed % 2 else other))
        for seed in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    items = first.scan(TableName=name, ConsistentRead=True)["Items"]
    balances = [int(i["balance"]["N"]) for i in items]
    assert sum(balances) == 100 * len(accounts) and min(balances) >= 0
    # A GSI added on one node is maintained by writes on the other once it has seen it.
    first.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by-colour",
            "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }}],
    )  # fmt: skip
    # The other node's catalog refreshes every second (a loaded machine runs late).
    deadline = time.monotonic() + 15
    while not second.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes"):
        assert time.monotonic() < deadline, "the other node never saw the new index"
        time.sleep(0.1)
    second.put_item(TableName=name, Item={"pk": {"S": "painted"}, "colour": {"S": "red"}})
    page = first.query(
        TableName=name,
        IndexName="by-colour",
        KeyConditionExpression="colour = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )
    assert [i["pk"]["S"] for i in page["Items"]] == ["painted"]
    second.delete_table(TableName=name)
    # Other nodes learn of the deletion within their refresh interval (DynamoDB's own
    # DeleteTable is asynchronous too); an item write there fails at once.
    with pytest.raises(ClientError) as caught:
        first.put_item(TableName=name, Item={"pk": {"S": "late"}})
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    deadline = time.monotonic() + 15  # a refresh every second; a loaded machine runs late
    while time.monotonic() < deadline:
        try:
            first.describe_table(TableName=name)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        time.sleep(0.2)
    else:
        log = "".join(line for line in tables_server.output[-200:] if "tables" in line)
        loops = tables_server.health()["services"]["dynamodb"]["loops"]
        raise AssertionError(
            f"the other node still describes the deleted table; its loops: {loops}; log:\n{log}"
        )
