"""ExportTableToPointInTime, DescribeExport, ListExports, and the export job.

An export writes the table to S3 the way DynamoDB lays it out, in DYNAMODB_JSON:

    {prefix}/AWSDynamoDB/{exportId}/_started
    {prefix}/AWSDynamoDB/{exportId}/data/{random}.json.gz      one `{"Item": {...}}` per line
    {prefix}/AWSDynamoDB/{exportId}/manifest-files.json        one line per data file
    {prefix}/AWSDynamoDB/{exportId}/manifest-summary.json      counts, times, arns
    ... and a `.md5` next to each manifest.

The table is read in one consistent snapshot when the job runs (Fireside keeps no history, so
an `ExportTime` in the past cannot be honoured). A missing bucket ends the export FAILED with
S3's own wording, as on DynamoDB. S3 is written as the account that asked for the export, so a
bucket of another account fails it with S3AccessDenied (Fireside has no bucket policies); ION and incremental exports are not implemented.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.protocol import not_implemented
from fireside.aws.timestamps import epoch_seconds
from fireside.tables.backups import table_not_found_by_name
from fireside.tables.engine import ReadTxn
from fireside.tables.errors import dynamodb_error
from fireside.tables.schema import TableInfo
from fireside.tables.transfers import Transfers

__all__ = ["describe_export", "export_table_to_point_in_time", "list_exports", "run_export"]

_ARN_TABLE = "table/"
_MAX_RESULTS = 25


def s3_failure(error: ServiceError) -> dict[str, str]:
    """How DynamoDB reports S3's refusal of an export or import (made as the calling account):
    `S3<S3's code>` and S3's message with the AWS SDK's details, e.g. S3NoSuchBucket with
    "The specified bucket does not exist (Service: Amazon S3; Status Code: 404; ...)"."""
    return {
        "FailureCode": f"S3{error.code}",
        "FailureMessage": (
            f"{error.message} (Service: Amazon S3; Status Code: {error.status}; "
            f"Error Code: {error.code}; Request ID: {uuid.uuid4()}; Proxy: null)"
        ),
    }


def _table_for_arn(transfers: Transfers, ctx: RequestContext, arn: str) -> TableInfo:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "dynamodb" or not parts[5].startswith(_ARN_TABLE):
        raise table_not_found_by_name(arn)
    region, account, name = parts[3], parts[4], parts[5][len(_ARN_TABLE) :]
    table = None
    if account == ctx.account_id:
        table = transfers.tables.catalog.get(account, region, name)
    if table is None:
        raise table_not_found_by_name(arn)
    return table


async def export_table_to_point_in_time(
    transfers: Transfers, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = _table_for_arn(transfers, ctx, params["TableArn"])
    if params.get("ExportFormat", "DYNAMODB_JSON") != "DYNAMODB_JSON":
        raise not_implemented("ExportTableToPointInTime with ExportFormat ION", "DynamoDB")
    if params.get("ExportType", "FULL_EXPORT") != "FULL_EXPORT":
        raise not_implemented(
            "ExportTableToPointInTime with ExportType INCREMENTAL_EXPORT", "DynamoDB"
        )
    if not table.pitr_enabled or table.pitr_since is None:
        raise dynamodb_error(
            "PointInTimeRecoveryUnavailableException",
            f"Point in time recovery is not enabled for table '{table.name}'",
        )
    now = transfers.tables.clock()
    export_time = params.get("ExportTime")
    if export_time is not None:
        at = float(epoch_seconds(export_time))
        if at > now + 1 or at < table.pitr_since:
            raise dynamodb_error(
                "InvalidExportTimeException",
                "ExportTime must be within the table's point in time recovery window",
            )
        if at < now - 60:
            raise not_implemented("ExportTableToPointInTime at a past ExportTime", "DynamoDB")
    token = params.get("ClientToken")
    if token:
        earlier = transfers.store.by_token("export", ctx.account_id, ctx.region, token)
        if earlier is not None:
            if (
                earlier.get("TableArn") != table.arn
                or earlier.get("S3Bucket") != params["S3Bucket"]
            ):
                raise dynamodb_error(
                    "ExportConflictException",
                    "There was a conflict when writing to the specified S3 bucket.",
                )
            return {"ExportDescription": earlier}
    export_id = f"{int(now * 1000):014d}-{secrets.token_hex(4)}"
    started = datetime.fromtimestamp(now, UTC)
    description: dict[str, Any] = {
        "ExportArn": f"{table.arn}/export/{export_id}",
        "ExportStatus": "IN_PROGRESS",
        "StartTime": started,
        "TableArn": table.arn,
        "TableId": table.uid,
        "ExportTime": started,
        "ClientToken": token or str(uuid.uuid4()),
        "S3Bucket": params["S3Bucket"],
        "S3BucketOwner": params.get("S3BucketOwner") or ctx.account_id,
        "S3SseAlgorithm": params.get("S3SseAlgorithm") or "AES256",
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
    }
    if params.get("S3Prefix"):
        description["S3Prefix"] = params["S3Prefix"]
    if params.get("S3SseKmsKeyId"):
        description["S3SseKmsKeyId"] = params["S3SseKmsKeyId"]
    _save(transfers, ctx, description, token)
    transfers.start("export", ctx, description)
    return {"ExportDescription": description}


def _save(
    transfers: Transfers, ctx: RequestContext, description: dict[str, Any], token: str | None
) -> None:
    transfers.store.save(
        "export", description["ExportArn"], ctx.account_id, ctx.region,
        description["TableArn"], description, description["ExportStatus"], token,
    )  # fmt: skip


def _snapshot(txn: ReadTxn, tid: int) -> tuple[bytes, int, int]:
    """The table's items as gzipped DYNAMODB_JSON lines, with the item count and raw bytes."""
    lines = []
    size = 0
    for _, _, item, _ in txn.scan(tid, None, None, None):
        # Stored items already are DynamoDB JSON with binaries in base64: the export format.
        lines.append('{"Item":' + item + "}\n")
        size += len(item)
    text = "".join(lines).encode()
    return gzip.compress(text, mtime=0), len(lines), size


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


async def run_export(
    transfers: Transfers, ctx: RequestContext, description: dict[str, Any]
) -> None:
    """The export job: snapshot, upload, manifests, then COMPLETED (or FAILED)."""
    storage = transfers.storage
    bucket = description["S3Bucket"]
    export_id = description["ExportArn"].rsplit("/", 1)[1]
    prefix = description.get("S3Prefix")
    base = f"{prefix}/AWSDynamoDB/{export_id}" if prefix else f"AWSDynamoDB/{export_id}"
    outcome: dict[str, Any]
    try:
        await asyncio.to_thread(storage.head_bucket_as, ctx.account_id, bucket)
        outcome = await _write_export(transfers, ctx.account_id, description, base)
    except asyncio.CancelledError:
        raise
    except ServiceError as error:  # only S3 raises them here
        outcome = {"ExportStatus": "FAILED", **s3_failure(error)}
    except Exception as exc:
        outcome = {"ExportStatus": "FAILED", "FailureCode": "UNKNOWN", "FailureMessage": str(exc)}
    description.update(outcome)
    description["EndTime"] = datetime.fromtimestamp(transfers.tables.clock(), UTC)
    _save(transfers, ctx, description, None)


async def _write_export(
    transfers: Transfers, account: str, description: dict[str, Any], base: str
) -> dict[str, Any]:
    tables = transfers.tables
    storage = transfers.storage
    bucket = description["S3Bucket"]
    table = next((t for t in tables.catalog.all() if t.arn == description["TableArn"]), None)
    if table is None:
        return {
            "ExportStatus": "FAILED",
            "FailureCode": "UNKNOWN",
            "FailureMessage": f"Table not found: {description['TableArn']}",
        }
    put = storage.put_object_as
    await asyncio.to_thread(put, account, bucket, f"{base}/_started", b"", "text/plain")
    tid = table.table_id
    data, count, size = await tables.engine.read(lambda txn: _snapshot(txn, tid))
    data_key = f"{base}/data/{secrets.token_hex(13)}.json.gz"
    await asyncio.to_thread(put, account, bucket, data_key, data, "application/gzip")
    files = (
        json.dumps(
            {
                "itemCount": count,
                "md5Checksum": _md5(data),
                "etag": hashlib.md5(data).hexdigest(),
                "dataFileS3Key": data_key,
            }
        ).encode()
        + b"\n"
    )
    files_key = f"{base}/manifest-files.json"
    end = datetime.fromtimestamp(tables.clock(), UTC)
    summary = json.dumps(
        {
            "version": "2020-06-30",
            "exportArn": description["ExportArn"],
            "startTime": description["StartTime"].isoformat(),
            "endTime": end.isoformat(),
            "tableArn": description["TableArn"],
            "tableId": description["TableId"],
            "exportTime": description["ExportTime"].isoformat(),
            "s3Bucket": bucket,
            "s3Prefix": description.get("S3Prefix"),
            "s3SseAlgorithm": description["S3SseAlgorithm"],
            "s3SseKmsKeyId": description.get("S3SseKmsKeyId"),
            "manifestFilesS3Key": files_key,
            "billedSizeBytes": size,
            "itemCount": count,
            "outputFormat": "DYNAMODB_JSON",
            "exportType": "FULL_EXPORT",
        }
    ).encode()
    summary_key = f"{base}/manifest-summary.json"
    for key, body, kind in (
        (files_key, files, "application/json"),
        (f"{base}/manifest-files.md5", _md5(files).encode(), "text/plain"),
        (summary_key, summary, "application/json"),
        (f"{base}/manifest-summary.md5", _md5(summary).encode(), "text/plain"),
    ):
        await asyncio.to_thread(put, account, bucket, key, body, kind)
    return {
        "ExportStatus": "COMPLETED",
        "ExportManifest": summary_key,
        "ItemCount": count,
        "BilledSizeBytes": size,
    }


async def describe_export(
    transfers: Transfers, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    arn = params["ExportArn"]
    description = transfers.store.owned("export", ctx.account_id, arn)
    if description is None:
        raise dynamodb_error("ExportNotFoundException", f"Export not found: {arn}")
    return {"ExportDescription": description}


async def list_exports(
    transfers: Transfers, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    limit = params.get("MaxResults") or _MAX_RESULTS
    page, next_token = transfers.store.page(
        "export", ctx, params.get("TableArn"), params.get("NextToken"), limit
    )
    out: dict[str, Any] = {
        "ExportSummaries": [
            {
                "ExportArn": r["ExportArn"],
                "ExportStatus": r["ExportStatus"],
                "ExportType": r.get("ExportType", "FULL_EXPORT"),
            }
            for r in page
        ]
    }
    if next_token is not None:
        out["NextToken"] = next_token
    return out
