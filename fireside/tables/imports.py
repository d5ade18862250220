"""ImportTable, DescribeImport, ListImports, and the import job.

ImportTable checks the new table's definition as CreateTable would and answers at once; the
job then lists the bucket as the calling account (a missing bucket, or one of another
account, fails the import and creates no table, as on DynamoDB), creates the table, and puts every item of every object under `S3KeyPrefix` (all
objects of the bucket without one) through the ordinary PutItem path, so items are validated
exactly as PutItem validates them. Items that fail are counted in `ErrorCount`; an import with
errors ends FAILED, keeping the items that did go in.

Formats: DYNAMODB_JSON (one `{"Item": {...}}` object after another, newline-separated or not)
and CSV (a header row or `HeaderList`; key attributes typed by the table definition, every
other value a string). Compression: NONE or GZIP. ION and ZSTD are not implemented.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import gzip
import io
import json
import secrets
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.protocol import not_implemented
from fireside.tables import control, itemops
from fireside.tables.errors import dynamodb_error, in_use
from fireside.tables.exports import s3_failure
from fireside.tables.transfers import Transfers

__all__ = ["describe_import", "import_table", "list_imports", "run_import"]

_PAGE_SIZE = 25
_ITEM_ERRORS = (
    "Some of the items failed validation checks and were not imported. "
    "Please check CloudWatch error logs for more details."
)


async def import_table(
    transfers: Transfers, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    creation = params["TableCreationParameters"]
    input_format = params["InputFormat"]
    compression = params.get("InputCompressionType") or "NONE"
    if input_format == "ION":
        raise not_implemented("ImportTable with InputFormat ION", "DynamoDB")
    if compression == "ZSTD":
        raise not_implemented("ImportTable with InputCompressionType ZSTD", "DynamoDB")
    if creation.get("VectorIndexes"):
        raise not_implemented("ImportTable with VectorIndexes", "DynamoDB")
    control.check_table_definition(creation)
    name = creation["TableName"]
    token = params.get("ClientToken")
    if token:
        earlier = transfers.store.by_token("import", ctx.account_id, ctx.region, token)
        if earlier is not None:
            return {"ImportTableDescription": earlier}
    if transfers.tables.catalog.get(ctx.account_id, ctx.region, name) is not None:
        raise in_use(f"Table already exists: {name}")
    now = transfers.tables.clock()
    table_arn = f"arn:aws:dynamodb:{ctx.region}:{ctx.account_id}:table/{name}"
    import_id = f"{int(now * 1000):014d}-{secrets.token_hex(4)}"
    description: dict[str, Any] = {
        "ImportArn": f"{table_arn}/import/{import_id}",
        "ImportStatus": "IN_PROGRESS",
        "TableArn": table_arn,
        "ClientToken": token or str(uuid.uuid4()),
        "S3BucketSource": params["S3BucketSource"],
        "ErrorCount": 0,
        "CloudWatchLogGroupArn": (
            f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:/aws-dynamodb/imports:*"
        ),
        "InputFormat": input_format,
        "InputCompressionType": compression,
        "TableCreationParameters": creation,
        "StartTime": datetime.fromtimestamp(now, UTC),
        "ProcessedSizeBytes": 0,
        "ProcessedItemCount": 0,
        "ImportedItemCount": 0,
    }
    if params.get("InputFormatOptions"):
        description["InputFormatOptions"] = params["InputFormatOptions"]
    _save(transfers, ctx, description, token)
    transfers.start("import", ctx, description)
    return {"ImportTableDescription": description}


def _save(
    transfers: Transfers, ctx: RequestContext, description: dict[str, Any], token: str | None
) -> None:
    transfers.store.save(
        "import", description["ImportArn"], ctx.account_id, ctx.region,
        description["TableArn"], description, description["ImportStatus"], token,
    )  # fmt: skip


class _Counts:
    __slots__ = ("errors", "imported", "processed", "size")

    def __init__(self) -> None:
        self.processed = self.imported = self.errors = self.size = 0


async def run_import(
    transfers: Transfers, ctx: RequestContext, description: dict[str, Any]
) -> None:
    """The import job: bucket check, CreateTable, then every item through PutItem."""
    counts = _Counts()
    try:
        outcome = await _import(transfers, ctx, description, counts)
    except asyncio.CancelledError:
        raise
    except ServiceError as error:
        outcome = {
            "ImportStatus": "FAILED",
            "FailureCode": error.code,
            "FailureMessage": error.message,
        }
    except Exception as exc:
        outcome = {"ImportStatus": "FAILED", "FailureCode": "UNKNOWN", "FailureMessage": str(exc)}
    description.update(outcome)
    description.update(
        ErrorCount=counts.errors,
        ProcessedItemCount=counts.processed,
        ImportedItemCount=counts.imported,
        ProcessedSizeBytes=counts.size,
        EndTime=datetime.fromtimestamp(transfers.tables.clock(), UTC),
    )
    _save(transfers, ctx, description, None)


async def _import(
    transfers: Transfers, ctx: RequestContext, description: dict[str, Any], counts: _Counts
) -> dict[str, Any]:
    storage = transfers.storage
    source = description["S3BucketSource"]
    bucket = source["S3Bucket"]
    prefix = source.get("S3KeyPrefix") or ""
    try:
        listed = await asyncio.to_thread(storage.list_objects_as, ctx.account_id, bucket, prefix)
    except ServiceError as error:  # S3 refused the caller: no table is created
        return {"ImportStatus": "FAILED", **s3_failure(error)}
    creation = description["TableCreationParameters"]
    name = creation["TableName"]
    existing = transfers.tables.catalog.get(ctx.account_id, ctx.region, name)
    if existing is None or existing.arn != description["TableArn"]:
        created = await control.create_table(transfers.tables, ctx, dict(creation))
        description["TableId"] = created["TableDescription"]["TableId"]
    else:  # a restart interrupted this import after it created the table
        description["TableId"] = existing.uid
    types = {d["AttributeName"]: d["AttributeType"] for d in creation["AttributeDefinitions"]}
    for key, size in listed:
        try:
            data = await asyncio.to_thread(storage.get_object_as, ctx.account_id, None, bucket, key)
        except ServiceError as error:
            if error.code == "NoSuchKey":  # deleted since it was listed
                continue
            return {"ImportStatus": "FAILED", **s3_failure(error)}
        counts.size += size
        for item in _items(data, description, types):
            counts.processed += 1
            if item is None:
                counts.errors += 1
                continue
            try:
                await itemops.put_item(transfers.tables, ctx, {"TableName": name, "Item": item})
            except ServiceError:
                counts.errors += 1
            else:
                counts.imported += 1
    if counts.errors:
        return {"ImportStatus": "FAILED", "FailureCode": "ItemValidationError",
                "FailureMessage": _ITEM_ERRORS}  # fmt: skip
    return {"ImportStatus": "COMPLETED"}


def _items(
    data: bytes, description: dict[str, Any], types: dict[str, str]
) -> Iterator[dict[str, Any] | None]:
    """The items of one object (None for each record that is not a valid item)."""
    if description.get("InputCompressionType") == "GZIP":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            yield None
            return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        yield None
        return
    if description["InputFormat"] == "CSV":
        options = (description.get("InputFormatOptions") or {}).get("Csv") or {}
        yield from _csv_items(text, options, types)
    else:
        yield from _json_items(text)


def _json_items(text: str) -> Iterator[dict[str, Any] | None]:
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return
        try:
            record, pos = decoder.raw_decode(text, pos)
        except ValueError:
            yield None  # the rest of the object cannot be read
            return
        item = record.get("Item") if isinstance(record, dict) and len(record) == 1 else None
        yield item if isinstance(item, dict) else None


def _csv_items(
    text: str, options: dict[str, Any], types: dict[str, str]
) -> Iterator[dict[str, Any] | None]:
    rows = csv.reader(io.StringIO(text), delimiter=options.get("Delimiter") or ",")
    header: list[str] | None = options.get("HeaderList")
    for row in rows:
        if header is None:
            header = row
            continue
        if not row:
            continue
        if len(row) != len(header):
            yield None
            continue
        item: dict[str, Any] = {}
        try:
            for name, value in zip(header, row, strict=True):
                kind = types.get(name, "S")
                if value == "" and name not in types:
                    continue
                if kind == "B":
                    base64.b64decode(value, validate=True)
                item[name] = {kind: value}
        except (binascii.Error, ValueError):
            yield None
            continue
        yield item


async def describe_import(
    transfers: Transfers, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    arn = params["ImportArn"]
    description = transfers.store.owned("import", ctx.account_id, arn)
    if description is None:
        raise dynamodb_error("ImportNotFoundException", f"Import not found: {arn}")
    return {"ImportTableDescription": description}


async def list_imports(
    transfers: Transfers, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    limit = params.get("PageSize") or _PAGE_SIZE
    page, next_token = transfers.store.page(
        "import", ctx, params.get("TableArn"), params.get("NextToken"), limit
    )
    summaries = []
    for record in page:
        summary = {
            name: record[name]
            for name in ("ImportArn", "ImportStatus", "TableArn", "S3BucketSource",
                         "CloudWatchLogGroupArn", "InputFormat", "StartTime", "EndTime")
            if record.get(name) is not None
        }  # fmt: skip
        summaries.append(summary)
    out: dict[str, Any] = {"ImportSummaryList": summaries}
    if next_token is not None:
        out["NextToken"] = next_token
    return out
