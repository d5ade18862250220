"""Resource-based policies on tables and streams: Put/Get/DeleteResourcePolicy, revision ids,
the conditions on ExpectedRevisionId, CreateTable's ResourcePolicy, durability.

Messages asserted here for tables are the ones moto's AWS-verified tests check against AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Server
from tests.tables.conftest import TableFactory, table_params
from tests.tables.test_tables_items import error_of

NOT_FOUND = "Resource-based policy not found for the provided ResourceArn: "


def policy(action: str = "dynamodb:GetItem", account: str = "000000000000") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": [action],
                    "Resource": "*",
                }
            ],
        }
    )


def arn_of(ddb: Any, name: str) -> str:
    arn: str = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    return arn


def test_put_get_delete(ddb: Any, make_table: TableFactory) -> None:
    name = make_table()
    arn = arn_of(ddb, name)
    assert error_of(ddb.get_resource_policy, ResourceArn=arn) == (
        "PolicyNotFoundException",
        NOT_FOUND + arn,
    )
    first = ddb.put_resource_policy(ResourceArn=arn, Policy=policy())["RevisionId"]
    assert first.isdigit()
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert (got["Policy"], got["RevisionId"]) == (policy(), first)
    # The same document again is no change; the same JSON spelt differently is the same too.
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=policy())["RevisionId"] == first
    respelt = json.dumps(json.loads(policy()), indent=2)
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=respelt)["RevisionId"] == first
    # A new document is a new, later revision, even within the same millisecond.
    second = ddb.put_resource_policy(ResourceArn=arn, Policy=policy("dynamodb:*"))["RevisionId"]
    third = ddb.put_resource_policy(ResourceArn=arn, Policy=policy("dynamodb:Query"))["RevisionId"]
    assert first < second < third and len(first) == len(third)
    deleted = ddb.delete_resource_policy(ResourceArn=arn)
    assert deleted["RevisionId"] == third
    assert error_of(ddb.get_resource_policy, ResourceArn=arn)[0] == "PolicyNotFoundException"
    assert error_of(ddb.delete_resource_policy, ResourceArn=arn) == (
        "PolicyNotFoundException",
        NOT_FOUND + arn,
    )


def test_expected_revision_ids(ddb: Any, make_table: TableFactory) -> None:
    name = make_table()
    arn = arn_of(ddb, name)
    assert error_of(
        ddb.put_resource_policy, ResourceArn=arn, Policy=policy(), ExpectedRevisionId="123"
    ) == (
        "PolicyNotFoundException",
        NOT_FOUND + "Requested update for policy with revision id 123, but no policy is "
        f"associated to target table {name}.",
    )
    first = ddb.put_resource_policy(ResourceArn=arn, Policy=policy(), ExpectedRevisionId="NO_POLICY")[
        "RevisionId"
    ]  # fmt: skip
    assert error_of(
        ddb.put_resource_policy, ResourceArn=arn, Policy=policy(), ExpectedRevisionId="NO_POLICY"
    ) == (
        "PolicyNotFoundException",
        NOT_FOUND + "Requested policy update expecting none to be present for table "
        f"{name}, but a policy exists with revision id {first}.",
    )
    second = ddb.put_resource_policy(
        ResourceArn=arn, Policy=policy("dynamodb:*"), ExpectedRevisionId=first
    )["RevisionId"]
    stale = (
        "PolicyNotFoundException",
        NOT_FOUND + f"Requested update for policy with revision id {first}, but the policy "
        f"associated to target table {name} has revision id {second}.",
    )
    assert (
        error_of(
            ddb.put_resource_policy, ResourceArn=arn, Policy=policy(), ExpectedRevisionId=first
        )
        == stale
    )
    assert error_of(ddb.delete_resource_policy, ResourceArn=arn, ExpectedRevisionId=first) == stale
    assert ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=second)["RevisionId"] == (
        second
    )


def test_stream_policies_are_their_own(ddb: Any, make_table: TableFactory) -> None:
    name = make_table(
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    table = ddb.describe_table(TableName=name)["Table"]
    stream_arn = table["LatestStreamArn"]
    revision = ddb.put_resource_policy(ResourceArn=stream_arn, Policy=policy("dynamodb:GetRecords"))[
        "RevisionId"
    ]  # fmt: skip
    assert ddb.get_resource_policy(ResourceArn=stream_arn)["RevisionId"] == revision
    assert error_of(ddb.get_resource_policy, ResourceArn=table["TableArn"])[0] == (
        "PolicyNotFoundException"
    )
    ddb.put_resource_policy(ResourceArn=table["TableArn"], Policy=policy())
    assert "GetRecords" in ddb.get_resource_policy(ResourceArn=stream_arn)["Policy"]
    gone = table["TableArn"] + "/stream/2000-01-01T00:00:00.000"
    assert error_of(ddb.get_resource_policy, ResourceArn=gone) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Stream: {gone} not found",
    )


def test_unknown_resources_and_bad_arns(ddb: Any, make_table: TableFactory) -> None:
    name = make_table()
    arn = arn_of(ddb, name)
    for call in (ddb.get_resource_policy, ddb.delete_resource_policy):
        assert error_of(call, ResourceArn=arn + "x") == (
            "ResourceNotFoundException",
            f"Requested resource not found: Table: {name}x not found",
        )
    # Another account's table of the same name is not this one.
    other = arn.replace(":000000000000:", ":111122223333:")
    assert error_of(ddb.put_resource_policy, ResourceArn=other, Policy=policy())[0] == (
        "ResourceNotFoundException"
    )
    code, message = error_of(
        ddb.put_resource_policy, ResourceArn=f"{arn}/index/by-x", Policy=policy()
    )
    assert code == "ValidationException" and "a table's policy covers its indexes" in message
    assert error_of(ddb.get_resource_policy, ResourceArn=name) == (
        "ValidationException",
        f"Invalid ResourceArn provided as input {name}",
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "the policy is not valid JSON"),
        ("[]", "the policy must be a JSON object"),
        ('{"Version": "2012-10-17"}', "missing required field Statement"),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}',
            "a resource-based policy statement must name a Principal",
        ),
        (
            '{"Statement": {"Effect": "Maybe", "Principal": "*", "Action": "dynamodb:*"}}',
            "Effect must be Allow or Deny",
        ),
        (json.dumps({"Statement": [], "Padding": "x" * 20480}), "more than the limit"),
    ],
)
def test_policy_documents_are_checked(
    ddb: Any, make_table: TableFactory, document: str, problem: str
) -> None:
    arn = arn_of(ddb, make_table())
    code, message = error_of(ddb.put_resource_policy, ResourceArn=arn, Policy=document)
    assert code == "ValidationException"
    assert message.startswith("Invalid policy document: ") and problem in message


def test_create_table_attaches_a_policy_and_delete_table_removes_it(
    ddb: Any, make_table: TableFactory
) -> None:
    name = make_table(ResourcePolicy=policy("dynamodb:PutItem"))
    arn = arn_of(ddb, name)
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert got["Policy"] == policy("dynamodb:PutItem") and got["RevisionId"].isdigit()
    ddb.delete_table(TableName=name)
    ddb.create_table(**table_params(name))
    assert error_of(ddb.get_resource_policy, ResourceArn=arn)[0] == "PolicyNotFoundException"
    assert error_of(
        ddb.create_table, **table_params("t-bad-policy-" + name[-6:]), ResourcePolicy="{}"
    ) == ("ValidationException", "Invalid policy document: missing required field Statement")


def test_policies_survive_a_restart(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    ddb = srv.client("dynamodb")
    ddb.create_table(**table_params("kept"))
    arn = arn_of(ddb, "kept")
    revision = ddb.put_resource_policy(ResourceArn=arn, Policy=policy())["RevisionId"]
    data_dir = srv.data_dir
    srv.stop()
    ddb = fresh_server(data_dir).client("dynamodb")
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert (got["Policy"], got["RevisionId"]) == (policy(), revision)
    later = ddb.put_resource_policy(ResourceArn=arn, Policy=policy("dynamodb:*"))["RevisionId"]
    assert later > revision
