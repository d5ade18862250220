"""Object operations: PutObject, GetObject (ranges, conditions, parts), HeadObject,
CopyObject. Deletes and versions: `fireside.s3.object_versions`.

A `VersionId` names one version (`fireside.s3.versions`); on a bucket whose versioning was
never turned on the only version is "null". Bodies are read and written in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.model import load_service
from fireside.s3.buckets import Buckets
from fireside.s3.encryption import SSE_FIELDS, object_encryption
from fireside.s3.errors import (
    invalid_argument,
    invalid_request,
    no_such_bucket,
    no_such_key,
)
from fireside.s3.object_versions import locate, version_of
from fireside.s3.store import BucketRecord, Notify, ObjectRecord, S3Store

if TYPE_CHECKING:
    from fireside.s3.notifications import Notifications

__all__ = ["Objects"]

#: Request members stored with an object and returned by GetObject/HeadObject as they came.
_STORED = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
    "WebsiteRedirectLocation",
    "Metadata",
)
CHECKSUMS = (
    "ChecksumCRC32",
    "ChecksumCRC32C",
    "ChecksumCRC64NVME",
    "ChecksumSHA1",
    "ChecksumSHA256",
)
#: Stored with a multipart object: its parts' sizes, for GetObject/HeadObject `PartNumber`.
PARTS = "_parts"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_DEFAULT_TYPE = "binary/octet-stream"


def when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=0)


def check_storage_class(params: dict[str, Any]) -> None:
    # Objects are stored one way here; a class S3 does not know is refused as S3 refuses it.
    wanted = params.get("StorageClass")
    if wanted is not None and wanted not in _storage_classes():
        raise ServiceError(
            "InvalidStorageClass", "The storage class you specified is not valid", 400
        )


@functools.cache
def _storage_classes() -> frozenset[str]:
    shape = load_service("s3").operation("PutObject").input
    assert shape is not None
    return frozenset(shape.members["StorageClass"].enum or ())


def check_md5(params: dict[str, Any], body: bytes) -> None:
    sent = params.get("ContentMD5")
    if sent is None:
        return
    try:
        digest = base64.b64decode(sent, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
    if digest != hashlib.md5(body).digest():
        raise ServiceError(
            "BadDigest", "The Content-MD5 you specified did not match what we received.", 400
        )


def stored_headers(params: dict[str, Any]) -> dict[str, Any]:
    headers = {name: params[name] for name in (*_STORED, *CHECKSUMS) if params.get(name)}
    headers.setdefault("ContentType", _DEFAULT_TYPE)
    return headers


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `bytes=` range; None when the header asks for no valid range
    S3 would honour (it then serves the whole object). InvalidRange when unsatisfiable."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(size - int(last), 0), size
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
        if last != "" and int(last) < start:
            return None
    if start >= size or size == 0:
        raise ServiceError(
            "InvalidRange",
            "The requested range is not satisfiable",
            416,
            RangeRequested=header,
            ActualObjectSize=str(size),
        )
    return start, end


class Objects:
    def __init__(self, store: S3Store, buckets: Buckets, clock: Any) -> None:
        self.store = store
        self.buckets = buckets
        self.clock = clock
        #: Event notifications (`fireside.s3.notifications`), once the server attaches them.
        self.notifications: Notifications | None = None

    def notify_hook(
        self, ctx: RequestContext, bucket: BucketRecord, event: str, key: str
    ) -> Notify | None:
        if self.notifications is None:
            return None
        return self.notifications.change(ctx, bucket, event, key)

    def notified(self, hook: Notify | None) -> None:
        if hook is not None and self.notifications is not None:
            self.notifications.wake()

    async def put_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:PutObject", key)
        body: bytes = params.get("Body") or b""
        check_storage_class(params)
        check_md5(params, body)
        if params.get("IfMatch") is not None or params.get("IfNoneMatch") is not None:
            self._check_write_conditions(bucket.name, key, params)
        headers = stored_headers(params)
        headers.update(object_encryption(self.store, bucket, params))
        hook = self.notify_hook(ctx, bucket, "ObjectCreated:Put", key)
        record = await self._store(bucket.name, key, body, headers, hook)
        self.notified(hook)
        out: dict[str, Any] = {"ETag": record.etag}
        out.update({name: headers[name] for name in (*CHECKSUMS, *SSE_FIELDS) if name in headers})
        if version_of(record) is not None:
            out["VersionId"] = version_of(record)
        return out

    def _check_write_conditions(self, bucket: str, key: str, params: dict[str, Any]) -> None:
        current = self.store.head(bucket, key)
        if params.get("IfNoneMatch") == "*" and current is not None:
            raise precondition_failed("If-None-Match")
        if_match = params.get("IfMatch")
        if if_match is not None:
            if current is None:
                raise no_such_key(key)
            if if_match not in ("*", current.etag):
                raise precondition_failed("If-Match")

    async def _store(
        self,
        bucket: str,
        key: str,
        body: bytes,
        headers: dict[str, Any],
        notify: Notify | None = None,
    ) -> ObjectRecord:
        try:
            return await asyncio.to_thread(
                self.store.put, bucket, key, body, headers, self.clock(), notify
            )
        except KeyError:  # the bucket was deleted while the body was being written
            raise no_such_bucket(bucket) from None

    def _describe(self, record: ObjectRecord, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ETag": record.etag,
            "LastModified": when(record.modified),
            "ContentLength": record.size,
            "AcceptRanges": "bytes",
        }
        for name in (*_STORED, *SSE_FIELDS):
            if name in record.headers:
                out[name] = record.headers[name]
        if version_of(record) is not None:
            out["VersionId"] = version_of(record)
        if params.get("ChecksumMode") == "ENABLED":
            out.update({n: record.headers[n] for n in CHECKSUMS if n in record.headers})
        # GetObject's response-* query parameters override the stored headers.
        for name in ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
                     "ContentType"):  # fmt: skip
            override = params.get(f"Response{name}")
            if override is not None:
                out[name] = override
        return out

    def _check_read_conditions(self, record: ObjectRecord, params: dict[str, Any]) -> None:
        if_match = params.get("IfMatch")
        if if_match is not None and if_match not in ("*", record.etag):
            raise precondition_failed("If-Match")
        if_none_match = params.get("IfNoneMatch")
        if if_none_match is not None and if_none_match in ("*", record.etag):
            raise ServiceError("NotModified", "Not Modified", 304)
        modified = when(record.modified)
        since = params.get("IfModifiedSince")
        if if_none_match is None and since is not None and modified <= since:
            raise ServiceError("NotModified", "Not Modified", 304)
        before = params.get("IfUnmodifiedSince")
        if if_match is None and before is not None and modified > before:
            raise precondition_failed("If-Unmodified-Since")

    async def get_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._get(ctx, params, with_body=True)

    async def head_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._get(ctx, params, with_body=False)

    async def _get(
        self, ctx: RequestContext, params: dict[str, Any], *, with_body: bool
    ) -> dict[str, Any]:
        action = "s3:GetObject" if params.get("VersionId") is None else "s3:GetObjectVersion"
        bucket = self.buckets.require(ctx, params["Bucket"], action, params["Key"])
        record = locate(self.store, bucket.name, params["Key"], params.get("VersionId"))
        self._check_read_conditions(record, params)
        out = self._describe(record, params)
        if params.get("PartNumber") is not None:
            if params.get("Range"):
                raise invalid_request(
                    "Cannot specify both Range header and partNumber query parameter"
                )
            span: tuple[int, int] | None = _part_span(record, params["PartNumber"])
            if PARTS in record.headers:
                out["PartsCount"] = len(record.headers[PARTS])
        else:
            span = byte_range(params["Range"], record.size) if params.get("Range") else None
        start, end = span if span is not None else (0, record.size)
        if span is not None:
            out["ContentRange"] = f"bytes {start}-{end - 1}/{record.size}"
            out["ContentLength"] = end - start
            # The stored checksums cover the whole object, not this part (S3 omits them too).
            for name in CHECKSUMS:
                out.pop(name, None)
        if with_body:
            out["Body"] = await asyncio.to_thread(self.store.read, record, start, end)
        return out

    async def copy_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:PutObject", key)
        check_storage_class(params)
        source_bucket, source_key, version = copy_source(params["CopySource"])
        read = "s3:GetObject" if version is None else "s3:GetObjectVersion"
        self.buckets.require(ctx, source_bucket, read, source_key)
        source = locate(self.store, source_bucket, source_key, version)
        replace = params.get("MetadataDirective") == "REPLACE"
        # Copying an older version over its key restores it: only the current one is illegal.
        if (source_bucket, source_key) == (bucket.name, key) and not replace and version is None:
            raise invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes."
            )
        if_match = params.get("CopySourceIfMatch")
        if if_match is not None and if_match not in ("*", source.etag):
            raise precondition_failed("x-amz-copy-source-If-Match")
        if_none_match = params.get("CopySourceIfNoneMatch")
        if if_none_match is not None and if_none_match in ("*", source.etag):
            raise precondition_failed("x-amz-copy-source-If-None-Match")
        headers = stored_headers(params) if replace else dict(source.headers)
        headers.pop(PARTS, None)  # a copy is made in one piece
        # The copy is encrypted as its request or the target bucket says, not as the source.
        headers.update(object_encryption(self.store, bucket, params))
        try:
            file, size, etag = await asyncio.to_thread(self.store.copy_body, source, 0, source.size)
        except FileNotFoundError:  # the source was replaced while being copied
            raise no_such_key(source_key) from None
        hook = self.notify_hook(ctx, bucket, "ObjectCreated:Copy", key)
        record = ObjectRecord(key, size, etag, self.clock(), file, headers)
        try:
            await asyncio.to_thread(self.store.commit_object, bucket.name, record, hook)
        except KeyError:  # the bucket was deleted meanwhile
            raise no_such_bucket(bucket.name) from None
        self.notified(hook)
        out: dict[str, Any] = {
            "CopyObjectResult": {"ETag": record.etag, "LastModified": when(record.modified)}
        }
        out.update({name: headers[name] for name in SSE_FIELDS if name in headers})
        if version_of(record) is not None:
            out["VersionId"] = version_of(record)
        if version is not None or version_of(source) is not None:
            out["CopySourceVersionId"] = version_of(source) or version
        return out


def copy_source(value: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of an `x-amz-copy-source` header (`bucket/key?versionId=`)."""
    path, _, query = value.partition("?")
    path = unquote(path).lstrip("/")
    bucket, slash, key = path.partition("/")
    if not slash or not bucket or not key:
        raise invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    version = query[len("versionId=") :] if query.startswith("versionId=") else None
    return bucket, key, version


def _part_span(record: ObjectRecord, number: int) -> tuple[int, int]:
    """[start, end) of part `number` of an object (an object not uploaded in parts is one
    part); S3's InvalidPartNumber (416) beyond its parts."""
    sizes: list[int] = record.headers.get(PARTS) or [record.size]
    if not 1 <= number <= len(sizes):
        if number < 1 or number > 10_000:
            raise invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                str(number),
            )
        raise ServiceError(
            "InvalidPartNumber",
            "The requested partnumber is not satisfiable",
            416,
            PartNumberRequested=str(number),
            ActualPartCount=str(len(sizes)),
        )
    start = sum(sizes[: number - 1])
    return start, start + sizes[number - 1]


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        Condition=condition,
    )
