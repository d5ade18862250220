"""Fixtures for the DynamoDB tests: a client of the session's server and a table factory."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Server

TableFactory = Callable[..., str]


@pytest.fixture()
def ddb(server: Server) -> Any:
    return server.client("dynamodb")


def table_params(
    name: str,
    hash_key: tuple[str, str] = ("pk", "S"),
    range_key: tuple[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    definitions = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
    if range_key is not None:
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
        definitions.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
    for name_, type_ in extra.pop("attributes", {}).items():
        definitions.append({"AttributeName": name_, "AttributeType": type_})
    return {
        "TableName": name,
        "KeySchema": schema,
        "AttributeDefinitions": definitions,
        "BillingMode": "PAY_PER_REQUEST",
        **extra,
    }


@pytest.fixture()
def make_table(ddb: Any) -> Iterator[TableFactory]:
    """Create (and later delete) a table; returns its name."""
    created: list[str] = []

    def make(
        hash_key: tuple[str, str] = ("pk", "S"),
        range_key: tuple[str, str] | None = None,
        **extra: Any,
    ) -> str:
        name = extra.pop("TableName", f"t-{uuid.uuid4().hex[:12]}")
        ddb.create_table(**table_params(name, hash_key, range_key, **extra))
        created.append(name)
        return name

    yield make
    for name in created:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)
