"""Continuous backups, exports to S3 and imports from S3, against a live server."""

from __future__ import annotations

import contextlib
import gzip
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.tables.conftest import TableFactory, table_params
from tests.tables.test_tables_items import error_of


@pytest.fixture()
def s3(tables_server: Server) -> Any:
    return tables_server.client("s3")


@pytest.fixture()
def bucket(s3: Any) -> Iterator[str]:
    name = f"transfers-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=entry["Key"])
    s3.delete_bucket(Bucket=name)


def wait_export(ddb: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        description: dict[str, Any] = ddb.describe_export(ExportArn=arn)["ExportDescription"]
        if description["ExportStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return description
        time.sleep(0.05)


def wait_import(ddb: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        description: dict[str, Any] = ddb.describe_import(ImportArn=arn)["ImportTableDescription"]
        if description["ImportStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return description
        time.sleep(0.05)


def enable_pitr(ddb: Any, name: str) -> None:
    ddb.update_continuous_backups(
        TableName=name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )


def new_table_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def dropped(ddb: Any, name: str) -> Iterator[str]:
    try:
        yield name
    finally:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)


def test_continuous_backups(ddb: Any, make_table: TableFactory) -> None:
    name = make_table()
    described = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert described["ContinuousBackupsStatus"] == "ENABLED"
    assert described["PointInTimeRecoveryDescription"] == {"PointInTimeRecoveryStatus": "DISABLED"}
    enable_pitr(ddb, name)
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"
    ]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    assert pitr["EarliestRestorableDateTime"] <= pitr["LatestRestorableDateTime"]
    assert error_of(ddb.describe_continuous_backups, TableName="no-such-table") == (
        "TableNotFoundException",
        "Table not found: no-such-table",
    )


def test_export_layout_and_contents(
    ddb: Any, s3: Any, bucket: str, make_table: TableFactory
) -> None:
    name = make_table(range_key=("sk", "N"))
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    assert error_of(
        ddb.export_table_to_point_in_time, TableArn=arn, S3Bucket=bucket, S3Prefix="p"
    ) == (
        "PointInTimeRecoveryUnavailableException",
        f"Point in time recovery is not enabled for table '{name}'",
    )
    enable_pitr(ddb, name)
    items = [
        {"pk": {"S": "a"}, "sk": {"N": "1"}, "bin": {"B": b"\x00\x01"}},
        {"pk": {"S": "a"}, "sk": {"N": "2"}, "m": {"M": {"x": {"L": [{"N": "1.5"}]}}}},
        {"pk": {"S": "b"}, "sk": {"N": "-3"}, "ss": {"SS": ["x", "y"]}},
    ]
    for item in items:
        ddb.put_item(TableName=name, Item=item)
    started = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, S3Prefix="exports")
    export_arn = started["ExportDescription"]["ExportArn"]
    assert export_arn.startswith(f"{arn}/export/")
    done = wait_export(ddb, export_arn)
    assert done["ExportStatus"] == "COMPLETED"
    assert done["ItemCount"] == 3
    assert done["ExportFormat"] == "DYNAMODB_JSON"
    assert done["S3Bucket"] == bucket and done["S3Prefix"] == "exports"
    export_id = export_arn.rsplit("/", 1)[1]
    base = f"exports/AWSDynamoDB/{export_id}"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="exports/")["Contents"]]
    data_keys = [k for k in keys if k.startswith(f"{base}/data/") and k.endswith(".json.gz")]
    assert len(data_keys) == 1
    assert {f"{base}/manifest-summary.json", f"{base}/manifest-files.json"} <= set(keys)
    assert done["ExportManifest"] == f"{base}/manifest-summary.json"
    raw = s3.get_object(Bucket=bucket, Key=data_keys[0])["Body"].read()
    rows = [json.loads(line) for line in gzip.decompress(raw).decode().splitlines()]
    assert {"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "bin": {"B": "AAE="}}} in rows
    assert len(rows) == 3
    summary = json.loads(s3.get_object(Bucket=bucket, Key=done["ExportManifest"])["Body"].read())
    assert summary["itemCount"] == 3 and summary["exportArn"] == export_arn
    files = s3.get_object(Bucket=bucket, Key=f"{base}/manifest-files.json")["Body"].read()
    assert json.loads(files)["dataFileS3Key"] == data_keys[0]
    listed = ddb.list_exports(TableArn=arn)["ExportSummaries"]
    assert {"ExportArn": export_arn, "ExportStatus": "COMPLETED", "ExportType": "FULL_EXPORT"} in (
        listed
    )


def test_export_errors(ddb: Any, bucket: str, make_table: TableFactory) -> None:
    missing = "arn:aws:dynamodb:us-east-1:000000000000:table/not-here"
    assert error_of(ddb.export_table_to_point_in_time, TableArn=missing, S3Bucket=bucket) == (
        "TableNotFoundException",
        f"Table not found: {missing}",
    )
    name = make_table()
    enable_pitr(ddb, name)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    started = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=f"none-{uuid.uuid4()}")
    failed = wait_export(ddb, started["ExportDescription"]["ExportArn"])
    assert failed["ExportStatus"] == "FAILED"
    assert failed["FailureCode"] == "S3NoSuchBucket"
    assert "The specified bucket does not exist" in failed["FailureMessage"]


def _import(ddb: Any, bucket: str, name: str, **extra: Any) -> dict[str, Any]:
    params = table_params(name)
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": bucket, **extra.pop("source", {})},
        InputFormat=extra.pop("InputFormat", "DYNAMODB_JSON"),
        InputCompressionType=extra.pop("InputCompressionType", "NONE"),
        TableCreationParameters=params,
        **extra,
    )["ImportTableDescription"]
    assert started["ImportStatus"] == "IN_PROGRESS"
    return wait_import(ddb, started["ImportArn"])


def _keys(ddb: Any, name: str) -> list[str]:
    return sorted(i["pk"]["S"] for i in ddb.scan(TableName=name)["Items"])


def test_import_dynamodb_json(ddb: Any, s3: Any, bucket: str) -> None:
    lines = "\n".join(json.dumps({"Item": {"pk": {"S": f"n{i}"}}}) for i in range(3))
    glued = "".join(json.dumps({"Item": {"pk": {"S": f"g{i}"}, "v": {"N": "1"}}}) for i in range(2))
    s3.put_object(Bucket=bucket, Key="in/lines.json", Body=lines.encode())
    s3.put_object(Bucket=bucket, Key="in/glued", Body=glued.encode())
    s3.put_object(Bucket=bucket, Key="in/bad.json", Body=b'{"pk": {"S": "no-item-wrapper"}}')
    s3.put_object(Bucket=bucket, Key="in/badkey.json", Body=b'{"Item": {"pk": {"N": "1"}}}')
    s3.put_object(Bucket=bucket, Key="other/skip.json", Body=lines.encode())
    with dropped(ddb, new_table_name()) as name:
        done = _import(ddb, bucket, name, source={"S3KeyPrefix": "in/"})
        assert done["ImportStatus"] == "FAILED"  # as on DynamoDB when any item fails
        assert (done["ProcessedItemCount"], done["ImportedItemCount"], done["ErrorCount"]) == (
            7,
            5,
            2,
        )
        assert done["ProcessedSizeBytes"] > 0
        assert _keys(ddb, name) == ["g0", "g1", "n0", "n1", "n2"]
        listed = ddb.list_imports(TableArn=done["TableArn"])["ImportSummaryList"]
        assert [s["ImportArn"] for s in listed] == [done["ImportArn"]]


def test_import_gzip_and_csv(ddb: Any, s3: Any, bucket: str) -> None:
    body = gzip.compress(json.dumps({"Item": {"pk": {"S": "zipped"}}}).encode())
    s3.put_object(Bucket=bucket, Key="gz/data.json.gz", Body=body)
    with dropped(ddb, new_table_name()) as name:
        done = _import(
            ddb, bucket, name, source={"S3KeyPrefix": "gz/"}, InputCompressionType="GZIP"
        )
        assert done["ImportStatus"] == "COMPLETED"
        assert _keys(ddb, name) == ["zipped"]
    s3.put_object(Bucket=bucket, Key="csv/rows.csv", Body=b"pk;colour\nr1;red\nr2;\n")
    with dropped(ddb, new_table_name()) as name:
        done = _import(
            ddb, bucket, name, source={"S3KeyPrefix": "csv/"}, InputFormat="CSV",
            InputFormatOptions={"Csv": {"Delimiter": ";"}},
        )  # fmt: skip
        assert done["ImportStatus"] == "COMPLETED"
        assert done["ImportedItemCount"] == 2
        items = {i["pk"]["S"]: i for i in ddb.scan(TableName=name)["Items"]}
        assert items["r1"]["colour"] == {"S": "red"}
        assert "colour" not in items["r2"]


def test_import_failures(ddb: Any, make_table: TableFactory) -> None:
    name = new_table_name()
    done = _import(ddb, f"missing-{uuid.uuid4()}", name)
    assert done["ImportStatus"] == "FAILED"
    assert done["FailureCode"] == "S3NoSuchBucket"
    assert name not in ddb.list_tables()["TableNames"]
    params = table_params(name, BillingMode="PROVISIONED")
    assert error_of(
        ddb.import_table,
        S3BucketSource={"S3Bucket": "any-bucket"},
        InputFormat="DYNAMODB_JSON",
        TableCreationParameters=params,
    ) == (
        "ValidationException",
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
        "must both be specified when BillingMode is PROVISIONED",
    )
    existing = make_table()
    assert error_of(
        ddb.import_table,
        S3BucketSource={"S3Bucket": "any-bucket"},
        InputFormat="DYNAMODB_JSON",
        TableCreationParameters=table_params(existing),
    ) == ("ResourceInUseException", f"Table already exists: {existing}")


def test_export_then_import_round_trip(ddb: Any, bucket: str, make_table: TableFactory) -> None:
    source = make_table()
    enable_pitr(ddb, source)
    for i in range(30):
        ddb.put_item(TableName=source, Item={"pk": {"S": f"k{i:02d}"}, "b": {"B": bytes([i])}})
    arn = ddb.describe_table(TableName=source)["Table"]["TableArn"]
    export = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, S3Prefix="rt")
    done = wait_export(ddb, export["ExportDescription"]["ExportArn"])
    export_id = done["ExportArn"].rsplit("/", 1)[1]
    with dropped(ddb, new_table_name()) as copy:
        imported = _import(
            ddb, bucket, copy, InputCompressionType="GZIP",
            source={"S3KeyPrefix": f"rt/AWSDynamoDB/{export_id}/data/"},
        )  # fmt: skip
        assert imported["ImportStatus"] == "COMPLETED"
        assert imported["ImportedItemCount"] == 30
        original = sorted(ddb.scan(TableName=source)["Items"], key=lambda i: i["pk"]["S"])
        copied = sorted(ddb.scan(TableName=copy)["Items"], key=lambda i: i["pk"]["S"])
        assert copied == original


def test_records_survive_a_restart(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    ddb, s3 = srv.client("dynamodb"), srv.client("s3")
    s3.create_bucket(Bucket="restart-bucket")
    ddb.create_table(**table_params("restart-table"))
    enable_pitr(ddb, "restart-table")
    arn = ddb.describe_table(TableName="restart-table")["Table"]["TableArn"]
    export_arn = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="restart-bucket")[
        "ExportDescription"
    ]["ExportArn"]
    assert wait_export(ddb, export_arn)["ExportStatus"] == "COMPLETED"
    data_dir = srv.data_dir
    srv.stop()
    ddb = fresh_server(data_dir).client("dynamodb")
    assert ddb.describe_export(ExportArn=export_arn)["ExportDescription"]["ExportStatus"] == (
        "COMPLETED"
    )
    pitr = ddb.describe_continuous_backups(TableName="restart-table")
    assert (
        pitr["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "ENABLED"
    )
