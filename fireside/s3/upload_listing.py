"""ListParts and ListMultipartUploads: the parts of one upload and the uploads in progress
in a bucket, in pages as S3 gives them (at most 1,000 per page; `PartNumberMarker`, and
`KeyMarker`/`UploadIdMarker` with `Prefix`, `Delimiter` and `EncodingType=url`)."""

from __future__ import annotations

import asyncio
from typing import Any, Final
from urllib.parse import quote_plus

from fireside.aws.context import RequestContext
from fireside.s3.buckets import Buckets, owner
from fireside.s3.errors import invalid_argument
from fireside.s3.multipart import SETTINGS, find_upload
from fireside.s3.objects import when
from fireside.s3.uploads import Uploads

__all__ = ["UploadListing"]

_PAGE: Final = 1000


def _limit(params: dict[str, Any], member: str, argument: str) -> int:
    value: int | None = params.get(member)
    if value is None:
        return _PAGE
    if value < 0:
        raise invalid_argument(
            f"Argument {argument} must be an integer between 0 and 2147483647",
            argument,
            str(value),
        )
    return min(value, _PAGE)


class UploadListing:
    def __init__(self, buckets: Buckets, uploads: Uploads) -> None:
        self.buckets = buckets
        self.uploads = uploads

    async def list_parts(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = params["Key"]
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:ListMultipartUploadParts", key)
        upload = find_upload(self.uploads, bucket.name, key, params["UploadId"])
        max_parts = _limit(params, "MaxParts", "max-parts")
        marker = int(params.get("PartNumberMarker") or 0)
        found = await asyncio.to_thread(self.uploads.parts, upload.id, marker, max_parts + 1)
        page = found[:max_parts]
        out: dict[str, Any] = {
            "Bucket": bucket.name,
            "Key": key,
            "UploadId": upload.id,
            "PartNumberMarker": marker,
            "MaxParts": max_parts,
            "IsTruncated": len(found) > max_parts,
            "Initiator": owner(upload.account),
            "Owner": owner(bucket.account),
            "StorageClass": "STANDARD",
            **upload.headers.get(SETTINGS, {}),
        }
        if page:
            out["NextPartNumberMarker"] = page[-1].number
            out["Parts"] = [
                {"PartNumber": p.number, "LastModified": when(p.modified), "ETag": p.etag,
                 "Size": p.size, **p.checksums}
                for p in page
            ]  # fmt: skip
        return out

    async def list_multipart_uploads(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:ListBucketMultipartUploads")
        encoding = params.get("EncodingType")
        if encoding is not None and encoding != "url":
            raise invalid_argument(
                "Invalid Encoding Method specified in Request", "encoding-type", encoding
            )

        def encode(text: str) -> str:
            return quote_plus(text, safe="/") if encoding else text

        limit = _limit(params, "MaxUploads", "max-uploads")
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        key_marker = params.get("KeyMarker") or ""
        id_marker = params.get("UploadIdMarker") or ""
        uploads, prefixes, truncated = await asyncio.to_thread(
            self.uploads.page, bucket.name, prefix, delimiter, key_marker, id_marker, limit
        )
        out: dict[str, Any] = {
            "Bucket": bucket.name,
            "KeyMarker": encode(key_marker),
            "UploadIdMarker": id_marker,
            "MaxUploads": limit,
            "IsTruncated": truncated,
            "Prefix": encode(prefix),
        }
        if delimiter:
            out["Delimiter"] = encode(delimiter)
        if encoding:
            out["EncodingType"] = encoding
        if uploads:
            out["Uploads"] = [
                {"UploadId": u.id, "Key": encode(u.key), "Initiated": when(u.initiated),
                 "StorageClass": "STANDARD", "Owner": owner(bucket.account),
                 "Initiator": owner(u.account)}
                for u in uploads
            ]  # fmt: skip
        if prefixes:
            out["CommonPrefixes"] = [{"Prefix": encode(p)} for p in prefixes]
        if truncated:
            last_key = uploads[-1].key if uploads else ""
            last_prefix = prefixes[-1] if prefixes else ""
            if last_prefix > last_key:
                out["NextKeyMarker"] = encode(last_prefix)
            else:
                out["NextKeyMarker"] = encode(last_key)
                out["NextUploadIdMarker"] = uploads[-1].id
        return out
