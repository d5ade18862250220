"""On-demand backups and restores, table ARNs as TableName, warm throughput, PITR's recovery
period: boto3 against a live server, on every engine."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fireside.tables.sqlite import SCHEMA_VERSION, SqliteEngine
from tests.conftest import Server
from tests.tables.conftest import TableFactory, table_params
from tests.tables.test_tables_items import error_of


def _put(ddb: Any, table: str, count: int, **extra: Any) -> None:
    for i in range(count):
        item = {"pk": {"S": f"p{i % 3}"}, "sk": {"N": str(i)}, "g": {"S": f"g{i % 2}"}}
        item["lsk"] = {"S": f"l{count - i:03d}"}
        item.update(extra)
        ddb.put_item(TableName=table, Item=item)


def _indexed_table(make_table: TableFactory, **extra: Any) -> str:
    return make_table(
        range_key=("sk", "N"),
        attributes={"g": "S", "lsk": "S"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-lsk",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "lsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        **extra,
    )


def _restore(ddb: Any, arn: str, **params: Any) -> str:
    target = f"r-{uuid.uuid4().hex[:12]}"
    ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn, **params)
    return target


def _drop(ddb: Any, *names: str) -> None:
    for name in names:
        ddb.delete_table(TableName=name)


def _gsi_keys(ddb: Any, table: str, g: str, index: str = "by-g") -> list[str]:
    items = ddb.query(
        TableName=table,
        IndexName=index,
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": g}},
    )["Items"]
    return [i["sk"]["N"] for i in items]


def test_backup_lifecycle(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    _put(ddb, table, 4)
    described = ddb.describe_table(TableName=table)["Table"]
    details = ddb.create_backup(TableName=table, BackupName="nightly")["BackupDetails"]
    arn = details["BackupArn"]
    assert arn.startswith(f"{described['TableArn']}/backup/")
    assert details["BackupName"] == "nightly"
    assert details["BackupStatus"] == "AVAILABLE"
    assert details["BackupType"] == "USER"
    assert details["BackupSizeBytes"] == described["TableSizeBytes"] > 0
    assert isinstance(details["BackupCreationDateTime"], datetime)

    description = ddb.describe_backup(BackupArn=arn)["BackupDescription"]
    assert description["BackupDetails"] == details
    source = description["SourceTableDetails"]
    assert source["TableName"] == table
    assert source["TableArn"] == described["TableArn"]
    assert source["TableId"] == described["TableId"]
    assert source["KeySchema"] == described["KeySchema"]
    assert source["ItemCount"] == 4
    assert source["BillingMode"] == "PAY_PER_REQUEST"
    assert source["TableCreationDateTime"] == described["CreationDateTime"]
    features = description["SourceTableFeatureDetails"]
    assert features["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}

    second = ddb.create_backup(TableName=table, BackupName="nightly")["BackupDetails"]
    assert second["BackupArn"] != arn
    listed = ddb.list_backups(TableName=table)["BackupSummaries"]
    assert [b["BackupArn"] for b in listed] == [arn, second["BackupArn"]]
    assert listed[0]["TableName"] == table and listed[0]["TableArn"] == described["TableArn"]

    deleted = ddb.delete_backup(BackupArn=arn)["BackupDescription"]
    assert deleted["BackupDetails"]["BackupStatus"] == "DELETED"
    assert deleted["SourceTableDetails"]["TableName"] == table
    assert [b["BackupArn"] for b in ddb.list_backups(TableName=table)["BackupSummaries"]] == [
        second["BackupArn"]
    ]
    assert error_of(ddb.describe_backup, BackupArn=arn) == (
        "BackupNotFoundException",
        f"Backup not found: {arn}",
    )
    assert error_of(ddb.delete_backup, BackupArn=arn)[0] == "BackupNotFoundException"


def test_backup_errors(ddb: Any, make_table: TableFactory) -> None:
    missing = f"t-{uuid.uuid4().hex[:12]}"
    assert error_of(ddb.create_backup, TableName=missing, BackupName="b-1") == (
        "TableNotFoundException",
        f"Table not found: {missing}",
    )
    table = make_table()
    code, message = error_of(ddb.create_backup, TableName=table, BackupName="n/a")
    assert code == "ValidationException" and "backupName" in message
    arn = ddb.create_backup(TableName=table, BackupName="b-1")["BackupDetails"]["BackupArn"]
    assert error_of(ddb.restore_table_from_backup, TargetTableName=table, BackupArn=arn) == (
        "TableAlreadyExistsException",
        f"Table already exists: {table}",
    )
    gone = arn[:-8] + "00000000"
    assert error_of(ddb.restore_table_from_backup, TargetTableName="new-t", BackupArn=gone) == (
        "BackupNotFoundException",
        f"Backup not found: {gone}",
    )
    assert ddb.list_backups(TableName=missing)["BackupSummaries"] == []


def test_list_backups_filters_and_pages(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    arns = [
        ddb.create_backup(TableName=table, BackupName=f"b-{i}")["BackupDetails"]["BackupArn"]
        for i in range(5)
    ]
    created = [
        ddb.describe_backup(BackupArn=a)["BackupDescription"]["BackupDetails"][
            "BackupCreationDateTime"
        ]
        for a in arns
    ]
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = ddb.list_backups(TableName=table, Limit=2, **kwargs)
        seen += [b["BackupArn"] for b in page["BackupSummaries"]]
        if "LastEvaluatedBackupArn" not in page:
            break
        kwargs["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]
    assert seen == arns
    window = ddb.list_backups(
        TableName=table, TimeRangeLowerBound=created[1], TimeRangeUpperBound=created[3]
    )["BackupSummaries"]
    assert [b["BackupArn"] for b in window] == arns[1:3]
    assert ddb.list_backups(TableName=table, BackupType="SYSTEM")["BackupSummaries"] == []
    assert len(ddb.list_backups(TableName=table, BackupType="ALL")["BackupSummaries"]) == 5
    later = datetime.now(UTC) + timedelta(hours=1)
    assert ddb.list_backups(TableName=table, TimeRangeLowerBound=later)["BackupSummaries"] == []


def test_restore_copies_items_and_indexes(ddb: Any, make_table: TableFactory) -> None:
    table = _indexed_table(make_table)
    _put(ddb, table, 10)
    arn = ddb.create_backup(TableName=table, BackupName="full")["BackupDetails"]["BackupArn"]
    # Writes after the backup are not in it.
    ddb.put_item(TableName=table, Item={"pk": {"S": "late"}, "sk": {"N": "99"}, "g": {"S": "g0"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "p0"}, "sk": {"N": "0"}})

    features = ddb.describe_backup(BackupArn=arn)["BackupDescription"]["SourceTableFeatureDetails"]
    assert [i["IndexName"] for i in features["GlobalSecondaryIndexes"]] == ["by-g"]
    assert [i["IndexName"] for i in features["LocalSecondaryIndexes"]] == ["by-lsk"]

    target = f"r-{uuid.uuid4().hex[:12]}"
    restored = ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn)[
        "TableDescription"
    ]
    try:
        source = ddb.describe_table(TableName=table)["Table"]
        assert restored["TableName"] == target
        assert restored["TableStatus"] == "ACTIVE"
        assert restored["KeySchema"] == source["KeySchema"]
        assert restored["AttributeDefinitions"] == source["AttributeDefinitions"]
        assert restored["ItemCount"] == 10
        summary = restored["RestoreSummary"]
        assert summary["SourceBackupArn"] == arn
        assert summary["SourceTableArn"] == source["TableArn"]
        assert summary["RestoreInProgress"] is False
        assert isinstance(summary["RestoreDateTime"], datetime)
        described = ddb.describe_table(TableName=target)["Table"]
        assert described["RestoreSummary"]["SourceBackupArn"] == arn
        assert described["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
        assert described["GlobalSecondaryIndexes"][0]["ItemCount"] == 10
        assert described["LocalSecondaryIndexes"][0]["ItemCount"] == 10

        assert sorted(_gsi_keys(ddb, target, "g0"), key=int) == ["0", "2", "4", "6", "8"]
        lsi = ddb.query(
            TableName=target,
            IndexName="by-lsk",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p0"}},
        )["Items"]
        assert [i["sk"]["N"] for i in lsi] == ["9", "6", "3", "0"]  # lsk falls as sk grows
        got = ddb.get_item(TableName=target, Key={"pk": {"S": "p0"}, "sk": {"N": "0"}})
        assert got["Item"]["lsk"] == {"S": "l010"}
        late = ddb.get_item(TableName=target, Key={"pk": {"S": "late"}, "sk": {"N": "99"}})
        assert "Item" not in late

        # The restored table is a table of its own: its writes do not reach the source.
        ddb.put_item(
            TableName=target, Item={"pk": {"S": "new"}, "sk": {"N": "1"}, "g": {"S": "g9"}}
        )
        assert _gsi_keys(ddb, target, "g9") == ["1"]
        assert _gsi_keys(ddb, table, "g9") == []
    finally:
        _drop(ddb, target)


def test_restore_overrides(ddb: Any, make_table: TableFactory) -> None:
    table = _indexed_table(make_table, SSESpecification={"Enabled": True})
    _put(ddb, table, 6)
    arn = ddb.create_backup(TableName=table, BackupName="o-1")["BackupDetails"]["BackupArn"]
    # A GSI changed by the override is backfilled from the items; the LSI is dropped.
    target = _restore(
        ddb,
        arn,
        BillingModeOverride="PROVISIONED",
        ProvisionedThroughputOverride={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3},
        GlobalSecondaryIndexOverride=[
            {
                "IndexName": "by-g-all",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
            }
        ],
        LocalSecondaryIndexOverride=[],
        SSESpecificationOverride={"Enabled": False},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            described = ddb.describe_table(TableName=target)["Table"]
            if described["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE":
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert described["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert described["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
        assert "LocalSecondaryIndexes" not in described
        assert "SSEDescription" not in described
        assert {d["AttributeName"] for d in described["AttributeDefinitions"]} == {"pk", "sk", "g"}
        assert sorted(_gsi_keys(ddb, target, "g1", "by-g-all"), key=int) == ["1", "3", "5"]
        # No override: the source's encryption comes along.
        plain = _restore(ddb, arn)
        assert ddb.describe_table(TableName=plain)["Table"]["SSEDescription"]["Status"] == (
            "ENABLED"
        )
        _drop(ddb, plain)
    finally:
        _drop(ddb, target)


def test_backup_outlives_its_table(ddb: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:12]}"
    ddb.create_table(**table_params(name, range_key=("sk", "N")))
    _put(ddb, name, 3)
    arn = ddb.create_backup(TableName=name, BackupName="keep")["BackupDetails"]["BackupArn"]
    ddb.delete_table(TableName=name)
    assert (
        ddb.describe_backup(BackupArn=arn)["BackupDescription"]["SourceTableDetails"]["ItemCount"]
        == 3
    )
    assert len(ddb.list_backups(TableName=name)["BackupSummaries"]) == 1
    ddb.restore_table_from_backup(TargetTableName=name, BackupArn=arn)
    try:
        assert ddb.scan(TableName=name)["Count"] == 3
    finally:
        ddb.delete_backup(BackupArn=arn)
        _drop(ddb, name)


def test_backup_survives_a_restart(
    fresh_server: Callable[..., Server], engine_env: dict[str, str]
) -> None:
    srv = fresh_server(**engine_env)
    ddb = srv.client("dynamodb")
    name = f"t-{uuid.uuid4().hex[:12]}"
    ddb.create_table(
        **table_params(
            name,
            range_key=("sk", "N"),
            attributes={"g": "S"},
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
    )
    _put(ddb, name, 5)
    arn = ddb.create_backup(TableName=name, BackupName="durable")["BackupDetails"]["BackupArn"]
    ddb.delete_table(TableName=name)
    srv.stop()
    ddb = fresh_server(srv.data_dir, **engine_env).client("dynamodb")
    assert (
        ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"]
        == "AVAILABLE"
    )
    target = _restore(ddb, arn)
    assert ddb.scan(TableName=target)["Count"] == 5
    assert sorted(_gsi_keys(ddb, target, "g0"), key=int) == ["0", "2", "4"]
    _drop(ddb, target)
    ddb.delete_backup(BackupArn=arn)


def test_restore_to_point_in_time_checks_then_is_not_implemented(
    ddb: Any, make_table: TableFactory
) -> None:
    missing = f"t-{uuid.uuid4().hex[:12]}"
    table, other = make_table(), make_table()
    assert error_of(
        ddb.restore_table_to_point_in_time, SourceTableName=missing, TargetTableName="x-new"
    ) == ("SourceTableNotFoundException", f"Source table not found: {missing}")
    assert error_of(
        ddb.restore_table_to_point_in_time, SourceTableName=table, TargetTableName=other
    ) == ("TableAlreadyExistsException", f"Table already exists: {other}")
    code, _ = error_of(
        ddb.restore_table_to_point_in_time, SourceTableName=table, TargetTableName="x-new"
    )
    assert code == "NotImplementedException"


def test_table_arn_as_table_name(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    assert ddb.describe_table(TableName=arn)["Table"]["TableName"] == table
    ddb.put_item(TableName=arn, Item={"pk": {"S": "a"}})
    assert ddb.get_item(TableName=arn, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}
    assert ddb.batch_get_item(RequestItems={arn: {"Keys": [{"pk": {"S": "a"}}]}})["Responses"]
    ddb.create_backup(TableName=arn, BackupName="by-arn")
    assert len(ddb.list_backups(TableName=arn)["BackupSummaries"]) == 1
    region, account = arn.split(":")[3:5]
    elsewhere = arn.replace(f":{region}:", ":eu-west-3:")
    stranger = arn.replace(f":{account}:", ":999999999999:")
    for other in (elsewhere, stranger):
        assert error_of(ddb.describe_table, TableName=other) == (
            "ResourceNotFoundException",
            f"Requested resource not found: Table: {table} not found",
        )
        assert error_of(ddb.get_item, TableName=other, Key={"pk": {"S": "a"}}) == (
            "ResourceNotFoundException",
            "Requested resource not found",
        )
        assert error_of(ddb.create_backup, TableName=other, BackupName="b-x")[0] == (
            "TableNotFoundException"
        )
        assert ddb.list_backups(TableName=other)["BackupSummaries"] == []


def test_warm_throughput(ddb: Any, make_table: TableFactory) -> None:
    on_demand = make_table()
    assert ddb.describe_table(TableName=on_demand)["Table"]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 12000,
        "WriteUnitsPerSecond": 4000,
        "Status": "ACTIVE",
    }
    provisioned = make_table(
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 6},
    )
    assert ddb.describe_table(TableName=provisioned)["Table"]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 5,
        "WriteUnitsPerSecond": 6,
        "Status": "ACTIVE",
    }
    warm = make_table(
        attributes={"g": "S"},
        WarmThroughput={"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "WarmThroughput": {"ReadUnitsPerSecond": 13000},
            }
        ],
    )
    described = ddb.describe_table(TableName=warm)["Table"]
    assert described["WarmThroughput"] == {
        "ReadUnitsPerSecond": 15000,
        "WriteUnitsPerSecond": 5000,
        "Status": "ACTIVE",
    }
    assert described["GlobalSecondaryIndexes"][0]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 13000,
        "WriteUnitsPerSecond": 4000,
        "Status": "ACTIVE",
    }
    ddb.update_table(TableName=warm, WarmThroughput={"WriteUnitsPerSecond": 8000})
    ddb.update_table(
        TableName=warm,
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "by-g", "WarmThroughput": {"WriteUnitsPerSecond": 4500}}}
        ],
    )
    described = ddb.describe_table(TableName=warm)["Table"]
    assert described["WarmThroughput"]["WriteUnitsPerSecond"] == 8000
    assert described["WarmThroughput"]["ReadUnitsPerSecond"] == 15000
    assert described["GlobalSecondaryIndexes"][0]["WarmThroughput"]["WriteUnitsPerSecond"] == 4500
    code, message = error_of(
        ddb.update_table, TableName=warm, WarmThroughput={"ReadUnitsPerSecond": 14000}
    )
    assert code == "ValidationException" and "cannot be decreased" in message


def test_warm_throughput_below_the_start_is_refused(ddb: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:12]}"
    code, message = error_of(
        ddb.create_table,
        **table_params(
            name, WarmThroughput={"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 3000}
        ),
    )
    assert (code, message) == (
        "ValidationException",
        "One or more parameter values were invalid: Requested WriteUnitsPerSecond for "
        "WarmThroughput for table is lower than initial throughput for OnDemand",
    )
    code, message = error_of(
        ddb.create_table,
        **table_params(
            name,
            attributes={"g": "S"},
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                    "WarmThroughput": {"ReadUnitsPerSecond": 100},
                }
            ],
        ),
    )
    assert message == (
        "One or more parameter values were invalid: Requested ReadUnitsPerSecond for "
        "WarmThroughput for index by-g is lower than initial throughput for OnDemand"
    )


def test_recovery_period_in_days(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()

    def pitr(**spec: Any) -> dict[str, Any]:
        ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification=spec)
        described = ddb.describe_continuous_backups(TableName=table)
        return dict(described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"])

    assert pitr(PointInTimeRecoveryEnabled=True)["RecoveryPeriodInDays"] == 35
    assert (
        pitr(PointInTimeRecoveryEnabled=True, RecoveryPeriodInDays=7)["RecoveryPeriodInDays"] == 7
    )
    assert pitr(PointInTimeRecoveryEnabled=True)["RecoveryPeriodInDays"] == 7  # kept
    assert pitr(PointInTimeRecoveryEnabled=False) == {"PointInTimeRecoveryStatus": "DISABLED"}
    assert pitr(PointInTimeRecoveryEnabled=True)["RecoveryPeriodInDays"] == 35
    code, message = error_of(
        ddb.update_continuous_backups,
        TableName=table,
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": 36,
        },
    )
    assert code == "ValidationException"
    assert message.endswith("Member must have value less than or equal to 35")


def test_a_version_1_sqlite_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "tables.sqlite"
    SqliteEngine(path).close()
    conn = sqlite3.connect(path)
    for table in ("backups", "backup_items", "backup_index_items"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    engine = SqliteEngine(path)
    try:
        assert engine.read_now(lambda txn: txn.backups("1", "r")) == []
    finally:
        engine.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()
