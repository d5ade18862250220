"""Bucket operations: create, head, delete, list, location, tagging, and the unversioned
answers to versioning and object-lock questions."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.s3 import tokens
from fireside.s3.errors import (
    access_denied,
    bucket_already_exists,
    bucket_already_owned,
    bucket_not_empty,
    invalid_argument,
    no_such_bucket,
    not_implemented,
)
from fireside.s3.names import check_bucket_name
from fireside.s3.store import BucketRecord, S3Store

__all__ = ["Buckets", "owner"]

_MAX_TAGS = 50


def owner(account: str) -> dict[str, str]:
    """The `Owner` element of an account (S3's canonical user id is a 64-hex string)."""
    return {"DisplayName": "fireside", "ID": hashlib.sha256(account.encode()).hexdigest()}


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Buckets:
    def __init__(self, store: S3Store, clock: Any) -> None:
        self.store = store
        self.clock = clock

    def require(self, ctx: RequestContext, name: str) -> BucketRecord:
        """The bucket a request names; NoSuchBucket, or AccessDenied for another account's."""
        bucket = self.store.bucket(name)
        if bucket is None:
            raise no_such_bucket(name)
        if bucket.account != ctx.account_id:
            raise access_denied()
        return bucket

    async def create_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        check_bucket_name(name)
        if params.get("ObjectLockEnabledForBucket"):
            raise not_implemented("S3 Object Lock (ObjectLockEnabledForBucket)")
        configuration = params.get("CreateBucketConfiguration") or {}
        constraint = configuration.get("LocationConstraint")
        if constraint is None and ctx.region != "us-east-1":
            raise ServiceError(
                "IllegalLocationConstraintException",
                "The unspecified location constraint is incompatible for the region specific "
                "endpoint this request was sent to.",
                400,
            )
        if constraint is not None and constraint != ctx.region:
            if constraint == "us-east-1":
                raise invalid_argument(
                    "Invalid LocationConstraint specified", "LocationConstraint", constraint
                )
            raise ServiceError(
                "IllegalLocationConstraintException",
                f"The {constraint} location constraint is incompatible for the region specific "
                "endpoint this request was sent to.",
                400,
            )
        record = BucketRecord(name, ctx.account_id, ctx.region, self.clock())
        existing = self.store.create_bucket(record)
        if existing is not None:
            if existing.account == ctx.account_id:
                raise bucket_already_owned(name)
            raise bucket_already_exists(name)
        return {"Location": f"/{name}"}

    async def head_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        return {"BucketRegion": bucket.region}

    async def delete_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        if not self.store.delete_bucket(bucket.name):
            raise bucket_not_empty(bucket.name)
        return {}

    async def list_buckets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        token = params.get("ContinuationToken")
        after = tokens.decode(token) if token else None
        listed = [
            b
            for b in self.store.buckets(ctx.account_id)  # in name order
            if b.name.startswith(prefix)
            and (region is None or b.region == region)
            and (after is None or b.name > after)
        ]
        # Without MaxBuckets S3 lists every bucket (the model bounds it to 1..10000).
        limit = params.get("MaxBuckets") or len(listed)
        page = listed[:limit]
        out: dict[str, Any] = {
            "Buckets": [
                {"Name": b.name, "CreationDate": _when(b.created), "BucketRegion": b.region}
                for b in page
            ],
            "Owner": owner(ctx.account_id),
        }
        if prefix:
            out["Prefix"] = prefix
        if len(listed) > limit:
            out["ContinuationToken"] = tokens.encode(page[-1].name)
        return out

    async def get_bucket_location(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        # us-east-1 is the one region S3 reports as no constraint at all.
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    async def put_bucket_tagging(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        tag_set = params["Tagging"].get("TagSet") or []
        tags: dict[str, str] = {}
        for tag in tag_set:
            key = tag.get("Key", "")
            if key in tags:
                raise invalid_argument("Cannot provide multiple Tags with the same key", "Key", key)
            if key.startswith("aws:"):
                raise invalid_argument(
                    "System tags cannot be added/updated by requester", "Key", key
                )
            tags[key] = tag.get("Value", "")
        if len(tags) > _MAX_TAGS:
            raise ServiceError("BadRequest", "Bucket tag count cannot be greater than 50", 400)
        self.store.set_tags(bucket.name, tags)
        return {}

    async def get_bucket_tagging(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        if not bucket.tags:
            raise ServiceError(
                "NoSuchTagSet", "The TagSet does not exist", 404, BucketName=bucket.name
            )
        return {"TagSet": [{"Key": k, "Value": v} for k, v in bucket.tags.items()]}

    async def delete_bucket_tagging(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        self.store.set_tags(bucket.name, None)
        return {}

    async def get_bucket_versioning(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self.require(ctx, params["Bucket"])
        return {}  # versioning has never been enabled: S3 answers with no Status

    async def get_object_lock_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        raise ServiceError(
            "ObjectLockConfigurationNotFoundError",
            "Object Lock configuration does not exist for this bucket",
            404,
            BucketName=bucket.name,
        )
