"""ListObjects, ListObjectsV2 and ListObjectVersions: prefixes, delimiters, pages.

Keys are walked in order from the store in batches. With a delimiter, keys that share the
part up to the delimiter roll up into one `CommonPrefixes` entry, and the walk then seeks past
every key under that prefix instead of reading them. A page holds at most `MaxKeys` entries,
keys and common prefixes together, as on S3.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from fireside.aws.context import RequestContext
from fireside.s3 import tokens
from fireside.s3.buckets import Buckets, owner
from fireside.s3.errors import invalid_argument
from fireside.s3.store import ObjectRecord, S3Store
from fireside.s3.version_listing import walk_versions

__all__ = ["Listing"]

_BATCH = 1000
_DEFAULT_MAX_KEYS = 1000
# Greater than any character a key can hold: "p/" + this sorts after every key under "p/".
_PAST = "\U0010ffff"


@dataclass(slots=True)
class _Page:
    objects: list[ObjectRecord] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    #: Where the next page starts (exclusive): the last key or past the last common prefix.
    resume: str | None = None
    #: The last key or common prefix returned (ListObjects' NextMarker).
    last: str | None = None


def _walk(
    store: S3Store, bucket: str, prefix: str, delimiter: str, after: str | None, max_keys: int
) -> _Page:
    page = _Page()
    count = 0
    cursor = after
    while True:
        batch = store.scan(bucket, cursor, prefix, _BATCH)
        seek = False
        for record in batch:
            cursor = record.key
            rolled: str | None = None
            if delimiter:
                at = record.key.find(delimiter, len(prefix))
                if at >= 0:
                    rolled = record.key[: at + len(delimiter)]
            if count == max_keys:
                page.truncated = True
                return page
            count += 1
            if rolled is not None:
                page.prefixes.append(rolled)
                page.last = rolled
                page.resume = cursor = rolled + _PAST
                seek = True
                break
            page.objects.append(record)
            page.last = page.resume = record.key
        if not seek and len(batch) < _BATCH:
            return page


def _encoder(params: dict[str, Any]) -> Any:
    encoding = params.get("EncodingType")
    if encoding is None:
        return lambda text: text
    if encoding != "url":
        raise invalid_argument(
            "Invalid Encoding Method specified in Request", "encoding-type", encoding
        )
    # botocore decodes these with unquote_plus.
    return lambda text: quote_plus(text, safe="/")


def _max_keys(params: dict[str, Any]) -> int:
    value: int | None = params.get("MaxKeys")
    if value is None:
        return _DEFAULT_MAX_KEYS
    if value < 0:
        raise invalid_argument(
            "Argument maxKeys must be an integer between 0 and 2147483647", "maxKeys", str(value)
        )
    return min(value, _DEFAULT_MAX_KEYS)


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=0)


def _after_marker(marker: str | None, delimiter: str) -> str | None:
    # A marker that is a common prefix (ListObjects' NextMarker) resumes past all its keys.
    if marker and delimiter and marker.endswith(delimiter):
        return marker + _PAST
    return marker


class Listing:
    def __init__(self, store: S3Store, buckets: Buckets) -> None:
        self.store = store
        self.buckets = buckets

    def _entry(
        self, record: ObjectRecord, encode: Any, account: str, with_owner: bool
    ) -> dict[str, Any]:
        # Objects belong to the bucket's owner (ownership is BucketOwnerEnforced).
        entry: dict[str, Any] = {
            "Key": encode(record.key),
            "LastModified": _when(record.modified),
            "ETag": record.etag,
            "Size": record.size,
            "StorageClass": "STANDARD",
        }
        if with_owner:
            entry["Owner"] = owner(account)
        return entry

    def _common(
        self, params: dict[str, Any], page: _Page, encode: Any, max_keys: int
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": params["Bucket"],
            "Prefix": encode(params.get("Prefix") or ""),
            "MaxKeys": max_keys,
            "IsTruncated": page.truncated,
        }
        if params.get("Delimiter"):
            out["Delimiter"] = encode(params["Delimiter"])
        if page.prefixes:
            out["CommonPrefixes"] = [{"Prefix": encode(p)} for p in page.prefixes]
        if params.get("EncodingType"):
            out["EncodingType"] = params["EncodingType"]
        return out

    async def list_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:ListBucket")
        encode = _encoder(params)
        max_keys = _max_keys(params)
        delimiter = params.get("Delimiter") or ""
        marker = params.get("Marker")
        page = _walk(
            self.store, bucket.name, params.get("Prefix") or "", delimiter,
            _after_marker(marker, delimiter), max_keys,
        )  # fmt: skip
        out = self._common(params, page, encode, max_keys)
        out["Marker"] = encode(marker or "")
        if page.objects:
            out["Contents"] = [self._entry(r, encode, bucket.account, True) for r in page.objects]
        if page.truncated and delimiter and page.last is not None:
            out["NextMarker"] = encode(page.last)
        return out

    async def list_objects_v2(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:ListBucket")
        encode = _encoder(params)
        max_keys = _max_keys(params)
        token = params.get("ContinuationToken")
        start_after = params.get("StartAfter")
        after = tokens.decode(token) if token is not None else start_after
        page = _walk(
            self.store, bucket.name, params.get("Prefix") or "", params.get("Delimiter") or "",
            after, max_keys,
        )  # fmt: skip
        out = self._common(params, page, encode, max_keys)
        fetch_owner = bool(params.get("FetchOwner"))
        if page.objects:
            out["Contents"] = [
                self._entry(r, encode, bucket.account, fetch_owner) for r in page.objects
            ]
        out["KeyCount"] = len(page.objects) + len(page.prefixes)
        if token is not None:
            out["ContinuationToken"] = token
        if start_after is not None:
            out["StartAfter"] = encode(start_after)
        if page.truncated and page.resume is not None:
            out["NextContinuationToken"] = tokens.encode(page.resume)
        return out

    async def list_object_versions(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.buckets.require(ctx, params["Bucket"], "s3:ListBucketVersions")
        encode = _encoder(params)
        max_keys = _max_keys(params)
        delimiter = params.get("Delimiter") or ""
        key_marker = params.get("KeyMarker")
        version_marker = params.get("VersionIdMarker")
        if version_marker and not key_marker:
            raise invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                version_marker,
            )
        page = await asyncio.to_thread(
            walk_versions, self.store, bucket.name, params.get("Prefix") or "", delimiter,
            key_marker, version_marker, max_keys,
        )  # fmt: skip
        out = self._common(params, _Page(prefixes=page.prefixes, truncated=page.truncated),
                           encode, max_keys)  # fmt: skip
        out["KeyMarker"] = encode(key_marker or "")
        out["VersionIdMarker"] = version_marker or ""
        who = owner(bucket.account)
        listed = [e.listed(encode, who) for e in page.entries if not e.marker]
        markers = [e.listed(encode, who) for e in page.entries if e.marker]
        if listed:
            out["Versions"] = listed
        if markers:
            out["DeleteMarkers"] = markers
        if page.truncated and page.next is not None:
            out["NextKeyMarker"] = encode(page.next[0])
            if page.next[1] is not None:
                out["NextVersionIdMarker"] = page.next[1]
        return out
