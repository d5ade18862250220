"""A Hypothesis state machine: random sequences of item operations and transactions against a
live server, compared step by step with a plain dict model of the table."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.conftest import Server
from tests.tables.conftest import table_params

PARTITIONS = st.sampled_from(["a", "b", "ü"])
SORTS = st.integers(-3, 3)
NUMBERS = st.one_of(st.integers(-5, 5), st.sampled_from(["0.5", "-1.25", "1e3"]))
TEXTS = st.sampled_from(["", "x", "y", "zz"])

Key = tuple[str, int]
Model = dict[Key, dict[str, Any]]


def norm(number: Any) -> str:
    value = Decimal(str(number)).normalize()
    return "0" if not value else f"{value:f}"


def attr_key(key: Key) -> dict[str, Any]:
    return {"pk": {"S": key[0]}, "sk": {"N": str(key[1])}}


class TableMachine(RuleBasedStateMachine):
    server: Server

    def __init__(self) -> None:
        super().__init__()
        self.ddb = self.server.client("dynamodb")
        self.table = f"model-{uuid.uuid4().hex[:10]}"
        self.ddb.create_table(**table_params(self.table, range_key=("sk", "N")))
        self.model: Model = {}

    def teardown(self) -> None:
        self.ddb.delete_table(TableName=self.table)

    # -- helpers -------------------------------------------------------------------------------

    def condition(self, kind: str, key: Key) -> tuple[dict[str, Any], bool]:
        """Request params for a condition of `kind` and whether it holds in the model."""
        item = self.model.get(key)
        if kind == "none":
            return {}, True
        if kind == "absent":
            return {"ConditionExpression": "attribute_not_exists(pk)"}, item is None
        if kind == "present":
            return {"ConditionExpression": "attribute_exists(pk)"}, item is not None
        # n >= 0
        holds = item is not None and "n" in item and Decimal(item["n"]["N"]) >= 0
        return {
            "ConditionExpression": "n >= :zero",
            "ExpressionAttributeValues": {":zero": {"N": "0"}},
        }, holds

    # -- rules ---------------------------------------------------------------------------------

    @rule(
        pk=PARTITIONS,
        sk=SORTS,
        n=NUMBERS,
        s=TEXTS,
        cond=st.sampled_from(["none", "absent", "present", "positive"]),
    )
    def put(self, pk: str, sk: int, n: Any, s: str, cond: str) -> None:
        key = (pk, sk)
        item = {**attr_key(key), "n": {"N": norm(n)}, "s": {"S": s}}
        params, holds = self.condition(cond, key)
        try:
            self.ddb.put_item(TableName=self.table, Item=item, **params)
            assert holds
            self.model[key] = item
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            assert not holds

    @rule(
        pk=PARTITIONS,
        sk=SORTS,
        n=NUMBERS,
        action=st.sampled_from(["add", "set", "remove"]),
        cond=st.sampled_from(["none", "present", "positive"]),
    )
    def update(self, pk: str, sk: int, n: Any, action: str, cond: str) -> None:
        key = (pk, sk)
        params, holds = self.condition(cond, key)
        values = dict(params.pop("ExpressionAttributeValues", {}))
        if action == "add":
            expression = "ADD n :v"
            values[":v"] = {"N": norm(n)}
        elif action == "set":
            expression = "SET s = :v"
            values[":v"] = {"S": "set"}
        else:
            expression = "REMOVE s"
        if values:
            params["ExpressionAttributeValues"] = values
        try:
            got = self.ddb.update_item(
                TableName=self.table,
                Key=attr_key(key),
                UpdateExpression=expression,
                ReturnValues="ALL_NEW",
                **params,
            )["Attributes"]
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            assert not holds
            return
        assert holds
        item = dict(self.model.get(key) or attr_key(key))
        if action == "add":
            total = Decimal(item["n"]["N"]) + Decimal(norm(n)) if "n" in item else Decimal(norm(n))
            item["n"] = {"N": norm(total)}
        elif action == "set":
            item["s"] = {"S": "set"}
        else:
            item.pop("s", None)
        self.model[key] = item
        assert got == item

    @rule(pk=PARTITIONS, sk=SORTS, cond=st.sampled_from(["none", "present", "positive"]))
    def delete(self, pk: str, sk: int, cond: str) -> None:
        key = (pk, sk)
        params, holds = self.condition(cond, key)
        try:
            old = self.ddb.delete_item(
                TableName=self.table, Key=attr_key(key), ReturnValues="ALL_OLD", **params
            ).get("Attributes")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            assert not holds
            return
        assert holds
        assert old == self.model.pop(key, None)

    @rule(
        picks=st.lists(st.tuples(PARTITIONS, SORTS, st.booleans()), min_size=1, max_size=4,
                       unique_by=lambda t: (t[0], t[1])),
    )  # fmt: skip
    def transfer(self, picks: list[tuple[str, int, bool]]) -> None:
        """A transaction: decrement some items' n (only while n >= 1), increment others."""
        actions = []
        holds = True
        for pk, sk, take in picks:
            key = (pk, sk)
            if take:
                item = self.model.get(key)
                ok = item is not None and "n" in item and Decimal(item["n"]["N"]) >= 1
                holds = holds and ok
                actions.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": attr_key(key),
                            "UpdateExpression": "SET n = n - :one",
                            "ConditionExpression": "n >= :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    }
                )
            else:
                actions.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": attr_key(key),
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    }
                )
        try:
            self.ddb.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "TransactionCanceledException"
            assert not holds
            return
        assert holds
        for pk, sk, take in picks:
            key = (pk, sk)
            item = dict(self.model.get(key) or attr_key(key))
            current = Decimal(item["n"]["N"]) if "n" in item else Decimal(0)
            item["n"] = {"N": norm(current - 1 if take else current + 1)}
            self.model[key] = item

    @rule(pk=PARTITIONS, sk=SORTS)
    def get(self, pk: str, sk: int) -> None:
        got = self.ddb.get_item(TableName=self.table, Key=attr_key((pk, sk)), ConsistentRead=True)
        assert got.get("Item") == self.model.get((pk, sk))

    @precondition(lambda self: bool(self.model))
    @rule(
        pk=PARTITIONS,
        low=SORTS,
        forward=st.booleans(),
        limit=st.integers(1, 4),
    )
    def query(self, pk: str, low: int, forward: bool, limit: int) -> None:
        expected = sorted(
            (item for key, item in self.model.items() if key[0] == pk and key[1] >= low),
            key=lambda i: int(i["sk"]["N"]),
            reverse=not forward,
        )
        got: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self.ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :p AND sk >= :low",
                ExpressionAttributeValues={":p": {"S": pk}, ":low": {"N": str(low)}},
                ScanIndexForward=forward,
                Limit=limit,
                **kwargs,
            )
            got += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        assert got == expected

    @invariant()
    def scan_matches_model(self) -> None:
        items = self.ddb.scan(TableName=self.table, ConsistentRead=True)["Items"]
        assert {(i["pk"]["S"], int(i["sk"]["N"])): i for i in items} == self.model


@pytest.fixture()
def machine(tables_server: Server) -> type[TableMachine]:
    # A subclass per engine: Hypothesis settings are applied to it, once.
    return type("BoundTableMachine", (TableMachine,), {"server": tables_server})


def test_store_matches_a_dict_model(machine: type[TableMachine]) -> None:
    run = settings(
        max_examples=int(os.environ.get("FIRESIDE_MODEL_EXAMPLES", "15")),
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(machine).TestCase
    run().runTest()
