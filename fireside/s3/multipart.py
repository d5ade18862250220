"""Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.

S3's rules: part numbers 1 to 10,000; a part at most 5 GiB (Fireside's request body cap,
80 MB by default, is lower and answers 413 first); every part but the last at least 5 MiB,
checked at completion (`EntityTooSmall`); the parts named in ascending order
(`InvalidPartOrder`) with their current ETags (`InvalidPart`). The completed object's ETag is
S3's: the MD5 of the parts' binary MD5s, then `-<number of parts>`. It keeps the content
headers, metadata and encryption given when the upload was created, and fires
`s3:ObjectCreated:CompleteMultipartUpload` notifications. How parts are kept and joined
without ever exposing half an object: `fireside.s3.uploads`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import zlib
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

from fireside.aws.context import RequestContext
from fireside.aws.crc32c import crc32c
from fireside.aws.errors import ServiceError
from fireside.s3.buckets import Buckets
from fireside.s3.encryption import SSE_FIELDS, object_encryption
from fireside.s3.errors import (
    invalid_argument,
    invalid_request,
    malformed_xml,
    no_such_bucket,
    no_such_key,
    s3_error,
)
from fireside.s3.object_versions import locate, version_of
from fireside.s3.objects import (
    CHECKSUMS,
    PARTS,
    Objects,
    check_md5,
    check_storage_class,
    copy_source,
    precondition_failed,
    stored_headers,
    when,
)
from fireside.s3.store import ObjectRecord, S3Store
from fireside.s3.uploads import PartRecord, PartReplaced, UploadGone, UploadRecord, Uploads

__all__ = ["SETTINGS", "Multipart", "find_upload", "no_such_upload"]

MIN_PART: Final = 5 * 1024 * 1024
MAX_PART: Final = 5 * 1024 * 1024 * 1024
MAX_PARTS: Final = 10_000
SETTINGS: Final = "_upload"  # the upload's own settings, kept beside the object's headers
#: Composite checksums: how each algorithm digests the parts' concatenated checksums.
_FULL_OBJECT: Final = frozenset({"CRC32", "CRC32C", "CRC64NVME"})
_DIGESTS: Final[dict[str, Callable[[bytes], bytes]]] = {
    "CRC32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "CRC32C": lambda data: crc32c(data).to_bytes(4, "big"),
    "SHA1": lambda data: hashlib.sha1(data).digest(),
    "SHA256": lambda data: hashlib.sha256(data).digest(),
}


def no_such_upload(upload_id: str) -> ServiceError:
    return s3_error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed.",
        UploadId=upload_id,
    )


def find_upload(uploads: Uploads, bucket: str, key: str, upload_id: str) -> UploadRecord:
    """The upload `upload_id` of `key` in `bucket`, or S3's NoSuchUpload."""
    upload = uploads.get(upload_id)
    if upload is None or upload.bucket != bucket or upload.key != key:
        raise no_such_upload(upload_id)
    return upload


def _part_number(params: dict[str, Any]) -> int:
    number: int = params["PartNumber"]
    if not 1 <= number <= MAX_PARTS:
        raise invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            str(number),
        )
    return number


def _bare(etag: str) -> str:
    return etag.strip().strip('"')


def _composite(algorithm: str | None, parts: list[PartRecord]) -> dict[str, str]:
    """S3's COMPOSITE checksum of a completed upload: the algorithm over the parts'
    checksums, `-<parts>` (when every part carried one)."""
    if algorithm is None or algorithm.upper() not in _DIGESTS:
        return {}
    member = f"Checksum{algorithm.upper()}"
    sent = [part.checksums.get(member) for part in parts]
    if not all(sent):
        return {}
    joined = b"".join(base64.b64decode(str(value)) for value in sent)
    digest = base64.b64encode(_DIGESTS[algorithm.upper()](joined)).decode()
    return {member: f"{digest}-{len(parts)}"}


class Multipart:
    def __init__(self, store: S3Store, buckets: Buckets, objects: Objects, clock: Any) -> None:
        self.store = store
        self.buckets = buckets
        self.objects = objects
        self.clock = clock
        self.uploads = Uploads(store)

    def _upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord:
        return find_upload(self.uploads, bucket, key, upload_id)

    @staticmethod
    def _sse(upload: UploadRecord) -> dict[str, Any]:
        return {name: upload.headers[name] for name in SSE_FIELDS if name in upload.headers}

    async def create_multipart_upload(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:PutObject", key)
        check_storage_class(params)
        headers = stored_headers(params)
        headers.update(object_encryption(self.store, bucket, params))
        settings = {
            name: params[name] for name in ("ChecksumAlgorithm", "ChecksumType") if params.get(name)
        }
        algorithm = str(settings.get("ChecksumAlgorithm", "")).upper()
        if algorithm and "ChecksumType" not in settings:
            settings["ChecksumType"] = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
        if settings.get("ChecksumType") == "FULL_OBJECT" and algorithm not in _FULL_OBJECT:
            raise invalid_request(
                f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} "
                "checksum algorithm."
            )
        try:
            upload = await asyncio.to_thread(
                self.uploads.create, bucket.name, key, ctx.account_id,
                {**headers, SETTINGS: settings}, self.clock(),
            )  # fmt: skip
        except KeyError:
            raise no_such_bucket(bucket.name) from None
        return {"Bucket": bucket.name, "Key": key, "UploadId": upload.id, **self._sse(upload),
                **settings}  # fmt: skip

    async def upload_part(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:PutObject", key)
        number = _part_number(params)
        upload = self._upload(bucket.name, key, params["UploadId"])
        body: bytes = params.get("Body") or b""
        if len(body) > MAX_PART:
            raise _too_large(len(body))
        check_md5(params, body)
        checksums = {name: params[name] for name in CHECKSUMS if params.get(name)}
        part = PartRecord(number, len(body), f'"{hashlib.md5(body).hexdigest()}"', self.clock(),
                          "", checksums)  # fmt: skip
        await self._put_part(upload, part, body)
        return {"ETag": part.etag, **checksums, **self._sse(upload)}

    async def _put_part(self, upload: UploadRecord, part: PartRecord, body: bytes) -> None:
        try:
            await asyncio.to_thread(self.uploads.put_part, upload.id, part, body)
        except UploadGone:
            raise no_such_upload(upload.id) from None

    async def upload_part_copy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:PutObject", key)
        number = _part_number(params)
        upload = self._upload(bucket.name, key, params["UploadId"])
        source_bucket, source_key, version = copy_source(params["CopySource"])
        read = "s3:GetObject" if version is None else "s3:GetObjectVersion"
        self.buckets.require(ctx, source_bucket, read, source_key)
        source = locate(self.store, source_bucket, source_key, version)
        if_match = params.get("CopySourceIfMatch")
        if if_match is not None and if_match not in ("*", source.etag):
            raise precondition_failed("x-amz-copy-source-If-Match")
        if_none_match = params.get("CopySourceIfNoneMatch")
        if if_none_match is not None and if_none_match in ("*", source.etag):
            raise precondition_failed("x-amz-copy-source-If-None-Match")
        start, end = _copy_range(params.get("CopySourceRange"), source.size)
        if end - start > MAX_PART:
            raise _too_large(end - start)
        try:
            file, size, etag = await asyncio.to_thread(self.store.copy_body, source, start, end)
        except FileNotFoundError:  # the source was replaced while being copied
            raise no_such_key(source_key) from None
        part = PartRecord(number, size, etag, self.clock(), file)
        try:
            await asyncio.to_thread(self.uploads.commit_part, upload.id, part)
        except UploadGone:
            raise no_such_upload(upload.id) from None
        result = {"ETag": part.etag, "LastModified": when(part.modified)}
        out = {"CopyPartResult": result, **self._sse(upload)}
        if version_of(source) is not None:
            out["CopySourceVersionId"] = version_of(source)
        return out

    async def complete_multipart_upload(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:PutObject", key)
        upload = self._upload(bucket.name, key, params["UploadId"])
        asked = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not asked or len(asked) > MAX_PARTS:
            raise malformed_xml()
        numbers = [entry.get("PartNumber") for entry in asked]
        if any(not isinstance(n, int) for n in numbers):
            raise malformed_xml()
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise ServiceError(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part "
                "number.",
                400,
                UploadId=upload.id,
            )
        stored = {p.number: p for p in await asyncio.to_thread(self.uploads.parts, upload.id)}
        chosen: list[PartRecord] = []
        for entry in asked:
            part = stored.get(entry["PartNumber"])
            if part is None or _bare(str(entry.get("ETag", ""))) != _bare(part.etag):
                raise _invalid_part(upload.id, entry["PartNumber"], str(entry.get("ETag", "")))
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART:
                raise ServiceError(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                    400,
                    ProposedSize=str(part.size),
                    MinSizeAllowed=str(MIN_PART),
                    PartNumber=str(part.number),
                    ETag=_bare(part.etag),
                )
        self._check_conditions(bucket.name, key, params)
        headers = dict(upload.headers)
        settings: dict[str, Any] = headers.pop(SETTINGS, {})
        digest = hashlib.md5(b"".join(bytes.fromhex(_bare(p.etag)) for p in chosen))
        etag = f'"{digest.hexdigest()}-{len(chosen)}"'
        checksum: dict[str, str] = {}
        whole = _WholeObject(settings, params)
        if settings.get("ChecksumType") == "COMPOSITE":
            checksum = _composite(settings.get("ChecksumAlgorithm"), chosen)
        headers.update(checksum)
        headers[PARTS] = [p.size for p in chosen]
        whole.headers = headers  # the whole-object checksum joins them once computed
        size = sum(p.size for p in chosen)
        record = ObjectRecord(key, size, etag, self.clock(), "", headers)
        hook = self.objects.notify_hook(ctx, bucket, "ObjectCreated:CompleteMultipartUpload", key)
        try:
            await asyncio.to_thread(
                self.uploads.complete, upload, chosen, record, hook, whole.observe, whole.check
            )
        except UploadGone:
            raise no_such_upload(upload.id) from None
        except PartReplaced:
            raise _invalid_part(upload.id, chosen[0].number, chosen[0].etag) from None
        except KeyError:
            raise no_such_bucket(bucket.name) from None
        self.objects.notified(hook)
        out: dict[str, Any] = {
            "Location": f"{ctx.endpoint_url}/{bucket.name}/{quote(key)}",
            "Bucket": bucket.name,
            "Key": key,
            "ETag": etag,
            **self._sse(upload),
        }
        if version_of(record) is not None:
            out["VersionId"] = version_of(record)
        checksum = checksum or whole.value
        if checksum:
            out.update(checksum)
            out["ChecksumType"] = settings["ChecksumType"]
        return out

    def _check_conditions(self, bucket: str, key: str, params: dict[str, Any]) -> None:
        if params.get("IfNoneMatch") is None and params.get("IfMatch") is None:
            return
        current = self.store.head(bucket, key)
        if params.get("IfNoneMatch") == "*" and current is not None:
            raise precondition_failed("If-None-Match")
        if_match = params.get("IfMatch")
        if if_match is not None:
            if current is None:
                raise no_such_key(key)
            if if_match not in ("*", current.etag):
                raise precondition_failed("If-Match")

    async def abort_multipart_upload(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:AbortMultipartUpload", key)
        upload = self._upload(bucket.name, key, params["UploadId"])
        if not await asyncio.to_thread(self.uploads.abort, upload.id):
            raise no_such_upload(upload.id)
        return {}


class _WholeObject:
    """A FULL_OBJECT checksum of a completed upload: CRC32 computed over the joined bytes
    and checked against what the client sent (`BadDigest`); CRC32C and CRC64NVME, which are
    not computed here, kept as the client sent them."""

    def __init__(self, settings: dict[str, Any], params: dict[str, Any]) -> None:
        algorithm = str(settings.get("ChecksumAlgorithm", "")).upper()
        self.active = settings.get("ChecksumType") == "FULL_OBJECT" and bool(algorithm)
        self.member = f"Checksum{algorithm}"
        self.sent: str | None = params.get(self.member)
        self.computing = self.active and algorithm == "CRC32"
        self.crc = 0
        self.value: dict[str, str] = {}
        self.headers: dict[str, Any] = {}

    def observe(self, chunk: bytes) -> None:
        if self.computing:
            self.crc = zlib.crc32(chunk, self.crc)

    def check(self) -> None:
        if not self.active:
            return
        value = self.sent
        if self.computing:
            value = base64.b64encode(self.crc.to_bytes(4, "big")).decode()
            if self.sent is not None and self.sent != value:
                raise ServiceError(
                    "BadDigest",
                    "The CRC32 you specified did not match the calculated checksum.",
                    400,
                )
        if value:
            self.value = {self.member: value}
            self.headers[self.member] = value


def _invalid_part(upload_id: str, number: int, etag: str) -> ServiceError:
    return ServiceError(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag.",
        400,
        UploadId=upload_id,
        PartNumber=str(number),
        ETag=etag,
    )


def _too_large(size: int) -> ServiceError:
    return ServiceError(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        400,
        ProposedSize=str(size),
        MaxSizeAllowed=str(MAX_PART),
    )


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    """[start, end) of UploadPartCopy's `x-amz-copy-source-range` (the whole source if None)."""
    if header is None:
        return 0, size
    first, dash, last = header.removeprefix("bytes=").partition("-")
    if not header.startswith("bytes=") or not dash or not first.isdigit() or not last.isdigit():
        raise invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            header,
        )
    start, end = int(first), int(last) + 1
    if start >= end or end > size:
        raise invalid_argument(
            f"Range specified is not valid for source object of size: {size}",
            "x-amz-copy-source-range",
            header,
        )
    return start, end
