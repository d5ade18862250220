"""Transactions and batches: cancellation reasons, idempotency, concurrency, durability."""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.tables.conftest import TableFactory, table_params
from tests.tables.test_tables_items import error_of


def test_all_or_nothing_with_reasons_in_request_order(ddb: Any, make_table: TableFactory) -> None:
    first, second = make_table(), make_table()
    ddb.put_item(TableName=second, Item={"pk": {"S": "guard"}, "open": {"BOOL": False}})
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": first, "Item": {"pk": {"S": "new"}}}},
                {
                    "ConditionCheck": {
                        "TableName": second,
                        "Key": {"pk": {"S": "guard"}},
                        "ConditionExpression": "#o = :t",
                        "ExpressionAttributeNames": {"#o": "open"},
                        "ExpressionAttributeValues": {":t": {"BOOL": True}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {"Delete": {"TableName": second, "Key": {"pk": {"S": "other"}}}},
            ]
        )
    response = caught.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert response["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, None]"
    )
    assert response["CancellationReasons"] == [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"pk": {"S": "guard"}, "open": {"BOOL": False}},
        },
        {"Code": "None"},
    ]
    assert "Item" not in ddb.get_item(TableName=first, Key={"pk": {"S": "new"}})
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": first, "Item": {"pk": {"S": "new"}, "n": {"N": "1"}}}},
            {
                "Update": {
                    "TableName": second,
                    "Key": {"pk": {"S": "guard"}},
                    "UpdateExpression": "SET #o = :t",
                    "ExpressionAttributeNames": {"#o": "open"},
                    "ExpressionAttributeValues": {":t": {"BOOL": True}},
                }
            },
        ]
    )
    got = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": first, "Key": {"pk": {"S": "new"}}, "ProjectionExpression": "n"}},
            {"Get": {"TableName": second, "Key": {"pk": {"S": "absent"}}}},
            {"Get": {"TableName": second, "Key": {"pk": {"S": "guard"}}}},
        ]
    )["Responses"]
    assert got[0] == {"Item": {"n": {"N": "1"}}}
    assert got[1] == {}
    assert got[2]["Item"]["open"] == {"BOOL": True}


def test_update_validation_error_cancels(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "s": {"S": "text"}})
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET s = s + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )
    assert caught.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {
            "Code": "ValidationError",
            "Message": "An operand in the update expression has an incorrect data type",
        },
    ]


def test_transaction_validation(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    put = {"Put": {"TableName": table, "Item": {"pk": {"S": "a"}}}}
    assert error_of(
        ddb.transact_write_items,
        TransactItems=[put, {"Delete": {"TableName": table, "Key": {"pk": {"S": "a"}}}}],
    ) == (
        "ValidationException",
        "Transaction request cannot include multiple operations on one item",
    )
    assert error_of(
        ddb.transact_write_items,
        TransactItems=[{"Put": {"TableName": "missing-table", "Item": {"pk": {"S": "a"}}}}],
    ) == ("ResourceNotFoundException", "Requested resource not found")
    assert error_of(
        ddb.transact_write_items,
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": "a"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ExpressionAttributeNames": {"#count": "count"},
                }
            }
        ],
    ) == (
        "ValidationException",
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}",
    )
    code, message = error_of(ddb.transact_write_items, TransactItems=[put] * 101)
    assert code == "ValidationException" and "less than or equal to 100" in message


def test_client_request_token_idempotency(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    token = uuid.uuid4().hex
    add = {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": "counter"}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    for _ in range(3):
        ddb.transact_write_items(TransactItems=[add], ClientRequestToken=token)
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]
    assert item["n"] == {"N": "1"}
    changed = {"Update": {**add["Update"], "ExpressionAttributeValues": {":one": {"N": "2"}}}}
    code, _ = error_of(ddb.transact_write_items, TransactItems=[changed], ClientRequestToken=token)
    assert code == "IdempotentParameterMismatchException"


def test_batches(ddb: Any, make_table: TableFactory) -> None:
    table, other = make_table(), make_table()
    result = ddb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(25)]}
    )
    assert result["UnprocessedItems"] == {}
    got = ddb.batch_get_item(
        RequestItems={table: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(0, 30, 2)]}}
    )
    assert sorted(i["pk"]["S"] for i in got["Responses"][table]) == sorted(
        f"k{i}" for i in range(0, 25, 2)
    )
    assert got["UnprocessedKeys"] == {}
    ddb.batch_write_item(
        RequestItems={
            table: [{"DeleteRequest": {"Key": {"pk": {"S": f"k{i}"}}}} for i in range(10)]
        }
    )
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == 15
    assert error_of(
        ddb.batch_get_item,
        RequestItems={
            table: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(60)]},
            other: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(41)]},
        },
    ) == ("ValidationException", "Too many items requested for the BatchGetItem call")
    assert error_of(
        ddb.batch_write_item,
        RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "d"}}}}] * 2},
    ) == ("ValidationException", "Provided list of item keys contains duplicates")


def test_bank_transfers_keep_the_total(tables_server: Server, make_table: TableFactory) -> None:
    """Many threads move money between a few accounts with transactions (and retry them with
    the same ClientRequestToken): the total never changes and no transfer applies twice."""
    table = make_table()
    accounts = [f"acct-{i}" for i in range(6)]
    client = tables_server.client("dynamodb")
    for account in accounts:
        client.put_item(TableName=table, Item={"pk": {"S": account}, "balance": {"N": "100"}})
    applied: list[tuple[str, str, str, int]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        ddb = tables_server.client("dynamodb")
        try:
            for _ in range(20):
                source, target = rng.sample(accounts, 2)
                amount = rng.randint(1, 40)
                transfer = uuid.uuid4().hex
                items = [
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": source}},
                            "UpdateExpression": "SET balance = balance - :a",
                            "ConditionExpression": "balance >= :a",
                            "ExpressionAttributeValues": {":a": {"N": str(amount)}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": target}},
                            "UpdateExpression": "SET balance = balance + :a",
                            "ExpressionAttributeValues": {":a": {"N": str(amount)}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {
                                "pk": {"S": f"transfer-{transfer}"},
                                "amount": {"N": str(amount)},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
                for _attempt in range(rng.choice((1, 2))):  # a retry must not apply it again
                    try:
                        ddb.transact_write_items(TransactItems=items, ClientRequestToken=transfer)
                    except ClientError as exc:
                        code = exc.response["Error"]["Code"]
                        if code == "TransactionCanceledException":
                            break  # insufficient funds
                        if code != "TransactionInProgressException":
                            raise
                    else:
                        with lock:
                            applied.append((transfer, source, target, amount))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    balances = {i["pk"]["S"]: int(i["balance"]["N"]) for i in items if "balance" in i}
    transfers = {i["pk"]["S"] for i in items if i["pk"]["S"].startswith("transfer-")}
    assert sum(balances.values()) == 100 * len(accounts)
    assert all(b >= 0 for b in balances.values())
    distinct = {t for t, *_ in applied}
    assert transfers == {f"transfer-{t}" for t in distinct}
    expected = dict.fromkeys(accounts, 100)
    for transfer in distinct:
        _, source, target, amount = next(a for a in applied if a[0] == transfer)
        expected[source] -= amount
        expected[target] += amount
    assert balances == expected


def test_hot_items_under_contention_lose_no_update(
    tables_server: Server, make_table: TableFactory
) -> None:
    table = make_table()
    writers, rounds, hot = 16, 15, 10

    def worker(seed: int) -> None:
        ddb = tables_server.client("dynamodb")
        rng = random.Random(seed)
        for _ in range(rounds):
            keys = rng.sample(range(hot), 4)
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": f"hot-{k}"}},
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    }
                    for k in keys
                ]
            )

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    items = tables_server.client("dynamodb").scan(TableName=table)["Items"]
    assert sum(int(i["n"]["N"]) for i in items) == writers * rounds * 4


def test_kill_9_loses_no_acknowledged_write(
    fresh_server: Any, tmp_path: Any, engine_env: dict[str, str]
) -> None:
    data = tmp_path / "durable"
    server: Server = fresh_server(data, **engine_env)
    name = f"durable-{uuid.uuid4().hex[:8]}"
    server.client("dynamodb").create_table(**table_params(name))
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker: int) -> None:
        ddb = server.client("dynamodb")
        count = 0
        while not stop.is_set():
            key = f"w{worker}-{count}"
            try:
                ddb.put_item(TableName=name, Item={"pk": {"S": key}, "v": {"N": str(count)}})
            except Exception:
                return  # the server died mid-request: not acknowledged
            with lock:
                acknowledged.append(key)
            count += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    server.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) > 50
    restarted: Server = fresh_server(data, **engine_env)
    ddb = restarted.client("dynamodb")
    found: set[str] = set()
    kwargs: dict[str, Any] = {}
    while True:
        page = ddb.scan(TableName=name, **kwargs)
        found |= {i["pk"]["S"] for i in page["Items"]}
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    missing = set(acknowledged) - found
    assert not missing, f"{len(missing)} acknowledged writes lost"
