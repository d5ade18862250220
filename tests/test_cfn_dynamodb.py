"""AWS::DynamoDB::Table and GlobalTable providers, driven in-process through DynamoDB's own
served operations (one Fireside app for the module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers import dynamodb, dynamodb_global
from fireside.cloudformation.resource_types import Created, ResourceFailed
from tests.cfn_data_support import ACCOUNT, OTHER_ACCOUNT, App

TABLE = dynamodb.TableType()
GLOBAL = dynamodb_global.GlobalTableType()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    built = App(Path(tmp_path_factory.mktemp("cfn-dynamodb")))
    yield built
    built.close()


def _defs(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": "S"} for n in names]


def _props(**extra: Any) -> dict[str, Any]:
    return {
        "AttributeDefinitions": _defs("pk", "sk"),
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
        **extra,
    }


def _describe(app: App, name: str, account: str = ACCOUNT) -> dict[str, Any]:
    found: dict[str, Any] = app.run(
        app.call("dynamodb", "DescribeTable", {"TableName": name}, account)
    )
    return found["Table"]


def _gsi(name: str, key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }


def test_create_with_everything_and_generated_name(app: App) -> None:
    ctx = app.ctx("Orders")
    props = _props(
        AttributeDefinitions=_defs("pk", "sk", "email"),
        GlobalSecondaryIndexes=[_gsi("by-email", "email")],
        StreamSpecification={"StreamViewType": "NEW_AND_OLD_IMAGES"},
        TimeToLiveSpecification={"AttributeName": "expires", "Enabled": "true"},
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        SSESpecification={"SSEEnabled": True},
        DeletionProtectionEnabled="false",
        TableClass="STANDARD_INFREQUENT_ACCESS",
        ContributorInsightsSpecification={"Enabled": True},
        Tags=[{"Key": "team", "Value": "data"}],
    )
    created = app.run(TABLE.create(ctx, props))
    assert created.physical_id == ctx.generated_name
    table = _describe(app, created.physical_id)
    assert table["TableStatus"] == "ACTIVE"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-email"]
    assert table["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert created.attributes["Arn"] == table["TableArn"]
    assert created.attributes["StreamArn"] == table["LatestStreamArn"]
    ttl = app.run(app.call("dynamodb", "DescribeTimeToLive", {"TableName": created.physical_id}))
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    backups = app.run(
        app.call("dynamodb", "DescribeContinuousBackups", {"TableName": created.physical_id})
    )
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    tags = app.run(app.call("dynamodb", "ListTagsOfResource", {"ResourceArn": table["TableArn"]}))
    assert tags["Tags"] == [{"Key": "team", "Value": "data"}]


def test_generated_name_is_cut_to_255(app: App) -> None:
    ctx = app.ctx("L" * 200, stack="s" * 120)
    created = app.run(TABLE.create(ctx, _props()))
    assert len(created.physical_id) == 255
    assert created.physical_id.endswith(ctx.generated_name.rsplit("-", 1)[1])
    app.run(TABLE.delete(ctx, created.physical_id, {}))


def test_update_adds_and_removes_gsis_one_at_a_time(app: App) -> None:
    ctx = app.ctx("Gsi")
    old = _props(
        TableName="gsi-table",
        AttributeDefinitions=_defs("pk", "sk", "email"),
        GlobalSecondaryIndexes=[_gsi("by-email", "email")],
    )
    app.run(TABLE.create(ctx, old))
    app.run(
        app.call(
            "dynamodb",
            "PutItem",
            {
                "TableName": "gsi-table",
                "Item": {
                    "pk": {"S": "a"},
                    "sk": {"S": "1"},
                    "email": {"S": "x@y"},
                    "city": {"S": "Oslo"},
                },
            },
        )
    )
    # Drop one index and add two: three online index changes, each waited for.
    new = _props(
        TableName="gsi-table",
        AttributeDefinitions=_defs("pk", "sk", "city"),
        GlobalSecondaryIndexes=[_gsi("by-city", "city"), _gsi("by-sk", "sk")],
    )
    updated = app.run(TABLE.update(ctx, "gsi-table", old, new))
    assert updated.physical_id == "gsi-table"
    table = _describe(app, "gsi-table")
    indexes = {i["IndexName"]: i["IndexStatus"] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {"by-city": "ACTIVE", "by-sk": "ACTIVE"}
    found = app.run(
        app.call(
            "dynamodb",
            "Query",
            {
                "TableName": "gsi-table",
                "IndexName": "by-city",
                "KeyConditionExpression": "city = :c",
                "ExpressionAttributeValues": {":c": {"S": "Oslo"}},
            },
        )
    )
    assert found["Count"] == 1  # the new index was backfilled before update returned


def test_gsi_key_change_is_refused_with_aws_message(app: App) -> None:
    ctx = app.ctx("GsiKey")
    old = _props(
        TableName="gsi-key",
        AttributeDefinitions=_defs("pk", "sk", "email"),
        GlobalSecondaryIndexes=[_gsi("idx", "email")],
    )
    app.run(TABLE.create(ctx, old))
    new = _props(
        TableName="gsi-key",
        AttributeDefinitions=_defs("pk", "sk", "email"),
        GlobalSecondaryIndexes=[_gsi("idx", "sk")],
    )
    with pytest.raises(ResourceFailed, match="Cannot update GSI's properties other than"):
        app.run(TABLE.update(ctx, "gsi-key", old, new))


def test_update_in_place_capacity_stream_ttl_recovery_tags(app: App) -> None:
    ctx = app.ctx("InPlace")
    old = _props(
        TableName="in-place",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": "5", "WriteCapacityUnits": 5},
        StreamSpecification={"StreamViewType": "KEYS_ONLY"},
        TimeToLiveSpecification={"AttributeName": "ttl", "Enabled": True},
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    )
    first = app.run(TABLE.create(ctx, old))
    assert _describe(app, "in-place")["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    new = _props(
        TableName="in-place",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": "9"},
        StreamSpecification={"StreamViewType": "NEW_IMAGE"},
        TimeToLiveSpecification={"AttributeName": "expiry", "Enabled": True},
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": "true"},
        DeletionProtectionEnabled=True,
        Tags=[{"Key": "b", "Value": "3"}, {"Key": "c", "Value": "4"}],
    )
    second = app.run(TABLE.update(ctx, "in-place", old, new))
    table = _describe(app, "in-place")
    assert table["TableArn"] == first.attributes["Arn"]  # the same table, updated in place
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 9
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert second.attributes["StreamArn"] != first.attributes["StreamArn"]
    assert table["DeletionProtectionEnabled"] is True
    ttl = app.run(app.call("dynamodb", "DescribeTimeToLive", {"TableName": "in-place"}))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiry"
    tags = app.run(app.call("dynamodb", "ListTagsOfResource", {"ResourceArn": table["TableArn"]}))
    assert sorted((t["Key"], t["Value"]) for t in tags["Tags"]) == [("b", "3"), ("c", "4")]
    # Deletion protection holds against the stack too, with DynamoDB's message.
    with pytest.raises(ResourceFailed, match="DeletionProtectionEnabled is set to True"):
        app.run(TABLE.delete(ctx, "in-place", new))
    third = {**new, "DeletionProtectionEnabled": False, "BillingMode": "PAY_PER_REQUEST"}
    del third["StreamSpecification"]
    app.run(TABLE.update(ctx, "in-place", new, third))
    table = _describe(app, "in-place")
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert not table.get("StreamSpecification", {}).get("StreamEnabled")
    app.run(TABLE.delete(ctx, "in-place", third))


def test_replacement_properties_are_aws_s() -> None:
    assert {"TableName", "KeySchema", "LocalSecondaryIndexes"} <= TABLE.replace_on
    assert "GlobalSecondaryIndexes" not in TABLE.replace_on
    assert "BillingMode" not in TABLE.replace_on
    assert {"TableName", "KeySchema", "LocalSecondaryIndexes"} == GLOBAL.replace_on


def test_replacement_creates_new_then_deletes_old(app: App) -> None:
    ctx = app.ctx("Replaced")
    old = app.run(TABLE.create(ctx, _props()))
    replacement_ctx = app.ctx("Replaced")
    new_props = _props(
        AttributeDefinitions=_defs("pk"), KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}]
    )
    new = app.run(TABLE.create(replacement_ctx, new_props))
    assert new.physical_id != old.physical_id
    app.run(TABLE.delete(ctx, old.physical_id, {}))
    assert len(_describe(app, new.physical_id)["KeySchema"]) == 1
    with pytest.raises(ServiceError, match="not found"):
        _describe(app, old.physical_id)


def test_delete_is_idempotent(app: App) -> None:
    ctx = app.ctx("Gone")
    created = app.run(TABLE.create(ctx, _props(TableName="gone-table")))
    app.run(TABLE.delete(ctx, created.physical_id, {}))
    with pytest.raises(ServiceError) as raised:
        _describe(app, "gone-table")
    assert raised.value.code == "ResourceNotFoundException"
    app.run(TABLE.delete(ctx, created.physical_id, {}))  # already gone: success


def test_service_errors_become_resource_failed(app: App) -> None:
    ctx = app.ctx("Bad")
    with pytest.raises(ResourceFailed) as raised:
        app.run(TABLE.create(ctx, _props(TableName="bad", BillingMode="PROVISIONED")))
    message = str(raised.value)
    assert message.startswith('Resource handler returned message: "')
    assert "HandlerErrorCode: InvalidRequest" in message
    app.run(TABLE.create(ctx, _props(TableName="twice")))
    with pytest.raises(ResourceFailed, match="HandlerErrorCode: AlreadyExists"):
        app.run(TABLE.create(ctx, _props(TableName="twice")))
    expected = "resource Bad with message: #: required key \\[KeySchema\\] not found"
    with pytest.raises(ResourceFailed, match=expected):
        app.run(TABLE.create(ctx, {"TableName": "nokey"}))
    with pytest.raises(ResourceFailed, match="must be of type Integer"):
        app.run(
            TABLE.create(
                ctx,
                _props(
                    TableName="badnum",
                    BillingMode="PROVISIONED",
                    ProvisionedThroughput={"ReadCapacityUnits": "five", "WriteCapacityUnits": 1},
                ),
            )
        )


def test_failed_create_leaves_no_table_behind(app: App) -> None:
    ctx = app.ctx("Half")
    props = _props(
        TableName="half-made",
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": 99,  # beyond DynamoDB's 35: UpdateContinuousBackups refuses
        },
    )
    with pytest.raises(ResourceFailed, match="recoveryPeriodInDays"):
        app.run(TABLE.create(ctx, props))
    with pytest.raises(ServiceError, match="not found"):
        _describe(app, "half-made")


def test_unserved_features_are_refused_clearly(app: App) -> None:
    ctx = app.ctx("Kinesis")
    props = _props(KinesisStreamSpecification={"StreamArn": "arn:aws:kinesis:us-east-1:0:stream/s"})
    with pytest.raises(ResourceFailed, match="KinesisStreamSpecification"):
        app.run(TABLE.create(ctx, props))


def test_tables_belong_to_the_stacks_account(app: App) -> None:
    mine = app.ctx("Mine")
    created = app.run(TABLE.create(mine, _props(TableName="walled")))
    with pytest.raises(ServiceError, match="not found"):
        _describe(app, "walled", OTHER_ACCOUNT)
    # Another account's stack deleting that name touches only its own (absent) table.
    app.run(TABLE.delete(app.ctx("Theirs", account=OTHER_ACCOUNT), "walled", {}))
    assert _describe(app, "walled")["TableArn"] == created.attributes["Arn"]
    assert f":{ACCOUNT}:" in created.attributes["Arn"]


def _global_props(**extra: Any) -> dict[str, Any]:
    props = _props(
        AttributeDefinitions=_defs("pk", "sk", "email"),
        BillingMode="PROVISIONED",
        WriteProvisionedThroughputSettings={
            "WriteCapacityAutoScalingSettings": {
                "MinCapacity": 2,
                "MaxCapacity": 10,
                "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 70},
            }
        },
        StreamSpecification={"StreamViewType": "NEW_AND_OLD_IMAGES"},
        GlobalSecondaryIndexes=[
            {
                **_gsi("by-email", "email"),
                "WriteProvisionedThroughputSettings": {
                    "WriteCapacityAutoScalingSettings": {"MinCapacity": 1, "MaxCapacity": 5}
                },
            }
        ],
        Replicas=[
            {
                "Region": "us-east-1",
                "ReadProvisionedThroughputSettings": {"ReadCapacityUnits": 4},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "Tags": [{"Key": "k", "Value": "v"}],
            }
        ],
    )
    props.update(extra)
    return props


def test_global_table_is_a_table_in_the_stack_region(app: App) -> None:
    ctx = app.ctx("Global")
    created: Created = app.run(GLOBAL.create(ctx, _global_props(TableName="global-one")))
    assert created.physical_id == "global-one"
    table = _describe(app, "global-one")
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 4
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 2
    assert table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["WriteCapacityUnits"] == 1
    assert created.attributes["StreamArn"] == table["LatestStreamArn"]
    assert created.attributes["TableId"] == table["TableId"]
    old = _global_props(TableName="global-one")
    new = _global_props(
        TableName="global-one", GlobalSecondaryIndexes=[], AttributeDefinitions=_defs("pk", "sk")
    )
    app.run(GLOBAL.update(ctx, "global-one", old, new))
    assert not _describe(app, "global-one").get("GlobalSecondaryIndexes")
    app.run(GLOBAL.delete(ctx, "global-one", new))


def test_global_table_replicas_elsewhere_are_refused(app: App) -> None:
    ctx = app.ctx("Elsewhere")
    props = _global_props(
        TableName="global-two",
        Replicas=[{"Region": "us-east-1"}, {"Region": "eu-west-1"}],
    )
    with pytest.raises(ResourceFailed, match="replicas in eu-west-1 are not supported"):
        app.run(GLOBAL.create(ctx, props))
    with pytest.raises(ServiceError, match="not found"):
        _describe(app, "global-two")


def _stream_policy(app: App, arn: str) -> dict[str, Any] | None:
    try:
        found = app.run(app.call("dynamodb", "GetResourcePolicy", {"ResourceArn": arn}))
    except ServiceError as error:
        assert error.code == "PolicyNotFoundException"
        return None
    document: dict[str, Any] = json.loads(found["Policy"])
    return document


def test_stream_and_table_policies(app: App) -> None:
    ctx = app.ctx("Policies")
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
        "Action": "dynamodb:GetRecords",
        "Resource": "*",
    }
    document = {"Version": "2012-10-17", "Statement": [statement]}
    old = _props(
        TableName="with-policies",
        StreamSpecification={
            "StreamViewType": "NEW_IMAGE",
            "ResourcePolicy": {"PolicyDocument": document},
        },
        ResourcePolicy={
            "PolicyDocument": json.dumps(
                {**document, "Statement": [{**statement, "Action": "dynamodb:GetItem"}]}
            )
        },
        OnDemandThroughput={"MaxReadRequestUnits": "100", "MaxWriteRequestUnits": 50},
    )
    created = app.run(TABLE.create(ctx, old))
    stream_policy = _stream_policy(app, created.attributes["StreamArn"])
    assert stream_policy is not None
    assert stream_policy["Statement"][0]["Action"] == "dynamodb:GetRecords"
    table_policy = _stream_policy(app, created.attributes["Arn"])
    assert table_policy is not None
    assert table_policy["Statement"][0]["Action"] == "dynamodb:GetItem"
    new = {
        **old,
        "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        "OnDemandThroughput": {"MaxReadRequestUnits": 200, "MaxWriteRequestUnits": 50},
    }
    del new["ResourcePolicy"]
    updated = app.run(TABLE.update(ctx, "with-policies", old, new))
    assert updated.attributes["StreamArn"] == created.attributes["StreamArn"]
    assert _stream_policy(app, created.attributes["StreamArn"]) is None
    assert _stream_policy(app, created.attributes["Arn"]) is None


def test_billing_switch_gives_kept_indexes_capacity(app: App) -> None:
    ctx = app.ctx("Switch")
    old = _props(
        TableName="switch",
        AttributeDefinitions=_defs("pk", "sk", "email"),
        GlobalSecondaryIndexes=[_gsi("by-email", "email")],
    )
    app.run(TABLE.create(ctx, old))
    capacity = {"ReadCapacityUnits": 3, "WriteCapacityUnits": "4"}
    new = {
        **old,
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": capacity,
        "GlobalSecondaryIndexes": [
            {**_gsi("by-email", "email"), "ProvisionedThroughput": capacity}
        ],
    }
    app.run(TABLE.update(ctx, "switch", old, new))
    table = _describe(app, "switch")
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    assert table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["ReadCapacityUnits"] == 3


def test_model_constraints_name_the_member(app: App) -> None:
    ctx = app.ctx("NoProjection")
    index = _gsi("by-email", "email")
    del index["Projection"]
    props = _props(AttributeDefinitions=_defs("pk", "sk", "email"), GlobalSecondaryIndexes=[index])
    with pytest.raises(ResourceFailed, match=r"globalSecondaryIndexes\.1\.member\.projection"):
        app.run(TABLE.create(ctx, props))


def test_import_source_specification_imports_then_sets_the_rest(app: App) -> None:
    app.run(app.call("s3", "CreateBucket", {"Bucket": "seed-data"}))
    lines = [
        {"Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}}},
        {"Item": {"pk": {"S": "b"}, "sk": {"S": "2"}, "n": {"N": "2"}}},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    put = {"Bucket": "seed-data", "Key": "orders/part-1.json", "Body": body}
    app.run(app.call("s3", "PutObject", put))
    ctx = app.ctx("Imported")
    props = _props(
        TableName="imported",
        ImportSourceSpecification={
            "S3BucketSource": {"S3Bucket": "seed-data", "S3KeyPrefix": "orders/"},
            "InputFormat": "DYNAMODB_JSON",
        },
        StreamSpecification={"StreamViewType": "KEYS_ONLY"},
        TimeToLiveSpecification={"AttributeName": "expires", "Enabled": True},
        DeletionProtectionEnabled=False,
        Tags=[{"Key": "origin", "Value": "s3"}],
    )
    created = app.run(TABLE.create(ctx, props))
    scanned = app.run(app.call("dynamodb", "Scan", {"TableName": "imported"}))
    assert sorted(i["pk"]["S"] for i in scanned["Items"]) == ["a", "b"]
    table = _describe(app, "imported")
    assert table["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"
    assert created.attributes["StreamArn"] == table["LatestStreamArn"]
    tags = app.run(app.call("dynamodb", "ListTagsOfResource", {"ResourceArn": table["TableArn"]}))
    assert tags["Tags"] == [{"Key": "origin", "Value": "s3"}]
    ttl = app.run(app.call("dynamodb", "DescribeTimeToLive", {"TableName": "imported"}))
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert "ImportSourceSpecification" in TABLE.replace_on


def test_failed_import_fails_the_resource_and_leaves_no_table(app: App) -> None:
    ctx = app.ctx("BadImport")
    props = _props(
        TableName="not-imported",
        ImportSourceSpecification={
            "S3BucketSource": {"S3Bucket": "no-such-bucket-here"},
            "InputFormat": "CSV",
        },
    )
    with pytest.raises(ResourceFailed, match="Import FAILED"):
        app.run(TABLE.create(ctx, props))
    with pytest.raises(ServiceError, match="not found"):
        _describe(app, "not-imported")


def test_stack_tags_propagate_and_template_tags_win(app: App) -> None:
    ctx = app.ctx("Tagged")
    ctx.tags = {"aws:cloudformation:stack-name": "stack", "team": "stack-wide"}
    props = _props(Tags=[{"Key": "team", "Value": "orders"}])
    created = app.run(TABLE.create(ctx, props))
    listed = app.run(
        app.call("dynamodb", "ListTagsOfResource", {"ResourceArn": created.attributes["Arn"]})
    )
    assert {t["Key"]: t["Value"] for t in listed["Tags"]} == {
        "aws:cloudformation:stack-name": "stack",
        "team": "orders",
    }
    # An update that changes only the template's tags leaves the stack's alone.
    app.run(TABLE.update(ctx, created.physical_id, props, _props()))
    listed = app.run(
        app.call("dynamodb", "ListTagsOfResource", {"ResourceArn": created.attributes["Arn"]})
    )
    assert {t["Key"]: t["Value"] for t in listed["Tags"]} == {
        "aws:cloudformation:stack-name": "stack",
        "team": "stack-wide",
    }
