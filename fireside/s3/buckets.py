"""Bucket operations: create, head, delete, list, location, tagging, the answer to
object-lock questions, and `Buckets.require`, the check every operation makes on the bucket
it names (the owner, or what the bucket policy grants another account)."""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.model import load_service
from fireside.s3 import tokens
from fireside.s3.errors import (
    access_denied,
    bucket_already_exists,
    bucket_already_owned,
    bucket_not_empty,
    invalid_argument,
    invalid_tag,
    malformed_xml,
    no_such_bucket,
    not_implemented,
)
from fireside.s3.names import check_bucket_name
from fireside.s3.policy import permits
from fireside.s3.store import BucketRecord, S3Store

__all__ = ["Buckets", "owner"]

_MAX_TAGS = 50
_MAX_TAG_KEY, _MAX_TAG_VALUE = 128, 256
_MAX_BUCKETS = 10_000
#: Besides letters, digits and white space, what AWS allows in tag keys and values.
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tag_text(text: str) -> bool:
    return all(ch.isalnum() or ch.isspace() or ch in _TAG_PUNCTUATION for ch in text)


@functools.cache
def _constraints() -> frozenset[str]:
    """The LocationConstraint values S3 knows (the model's enum: every region but us-east-1,
    which is no constraint at all, and the legacy `EU`)."""
    shape = load_service("s3").operation("CreateBucket").input
    assert shape is not None
    configuration = shape.members["CreateBucketConfiguration"]
    return frozenset(configuration.members["LocationConstraint"].enum or ())


def _bucket_region(endpoint: str, constraint: str | None) -> str:
    """The region a new bucket lives in, or S3's refusal of the constraint. The us-east-1
    endpoint creates buckets in any region; every other endpoint only in its own (eu-west-1
    also as `EU`)."""
    if not constraint:
        if endpoint != "us-east-1":
            raise illegal_location_constraint("unspecified")
        return endpoint
    if endpoint == "us-east-1":
        if constraint not in _constraints():
            raise ServiceError(
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
                400,
                LocationConstraint=constraint,
            )
    elif constraint != endpoint and not (endpoint == "eu-west-1" and constraint == "EU"):
        raise illegal_location_constraint(constraint)
    return "eu-west-1" if constraint == "EU" else constraint


def illegal_location_constraint(constraint: str) -> ServiceError:
    return ServiceError(
        "IllegalLocationConstraintException",
        f"The {constraint} location constraint is incompatible for the region specific "
        "endpoint this request was sent to.",
        400,
    )


def owner(account: str) -> dict[str, str]:
    """The `Owner` element of an account (S3's canonical user id is a 64-hex string)."""
    return {"DisplayName": "fireside", "ID": hashlib.sha256(account.encode()).hexdigest()}


def new_bucket_defaults() -> dict[str, Any]:
    """What S3 gives every new bucket since April 2023: all four public access blocks on and
    object ownership `BucketOwnerEnforced` (ACLs off). Default encryption (SSE-S3) needs no
    row: it is what a bucket without an encryption configuration has."""
    return {
        "public-access-block": {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
        "ownership": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Buckets:
    def __init__(self, store: S3Store, clock: Any) -> None:
        self.store = store
        self.clock = clock

    def require(
        self, ctx: RequestContext, name: str, action: str | None = None, key: str | None = None
    ) -> BucketRecord:
        """The bucket a request names; NoSuchBucket, or AccessDenied for another account's
        unless its policy grants that account `action` (`s3:GetObject`) on the bucket or on
        `key`. Without an `action` only the owner passes (bucket configuration)."""
        bucket = self.existing(name)
        if not self.may(ctx, bucket, action, key):
            raise access_denied()
        return bucket

    def existing(self, name: str) -> BucketRecord:
        bucket = self.store.bucket(name)
        if bucket is None:
            raise no_such_bucket(name)
        return bucket

    def may(
        self, ctx: RequestContext, bucket: BucketRecord, action: str | None, key: str | None
    ) -> bool:
        """Whether the caller may do `action` on `bucket` (or its object `key`)."""
        if bucket.account == ctx.account_id:
            return True
        return action is not None and permits(self.store, bucket.name, ctx.account_id, action, key)

    async def create_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        check_bucket_name(name)
        if params.get("ObjectLockEnabledForBucket"):
            raise not_implemented("S3 Object Lock (ObjectLockEnabledForBucket)")
        configuration = params.get("CreateBucketConfiguration") or {}
        region = _bucket_region(ctx.region, configuration.get("LocationConstraint"))
        record = BucketRecord(name, ctx.account_id, region, self.clock())
        existing = self.store.create_bucket(record, new_bucket_defaults())
        if existing is not None:
            if existing.account != ctx.account_id:
                raise bucket_already_exists(name)
            # For legacy compatibility S3 answers 200 to re-creating one's own bucket in
            # us-east-1 (its model documents this); everywhere else it is a conflict.
            if existing.region != "us-east-1" or configuration.get("Tags"):
                raise bucket_already_owned(name)
        return {"Location": f"/{name}"}

    async def head_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"], "s3:ListBucket")
        return {"BucketRegion": bucket.region}

    async def delete_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        if not self.store.delete_bucket(bucket.name):
            raise bucket_not_empty(bucket.name)
        return {}

    async def list_buckets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        if region is not None and region not in _constraints() | {"us-east-1"}:
            raise invalid_argument(
                f"Argument value {region} is not a valid AWS Region", "bucket-region", None
            )  # S3 names the argument, not its value, here
        wanted = params.get("MaxBuckets")
        if wanted is not None and not 1 <= wanted <= _MAX_BUCKETS:
            raise invalid_argument(  # worded as S3 words max-keys (not recorded for this one)
                f"Argument max-buckets must be an integer between 1 and {_MAX_BUCKETS}",
                "max-buckets",
                str(wanted),
            )
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
        bucket = self.require(ctx, params["Bucket"], "s3:GetBucketLocation")
        # us-east-1 is the one region S3 reports as no constraint at all.
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    async def put_bucket_tagging(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self.require(ctx, params["Bucket"])
        tag_set = params["Tagging"].get("TagSet") or []
        tags: dict[str, str] = {}
        for tag in tag_set:
            key, value = tag.get("Key"), tag.get("Value")
            if key is None or value is None:
                raise malformed_xml()
            if key in tags:
                raise invalid_tag("Cannot provide multiple Tags with the same key", key)
            if key.startswith("aws:"):
                raise invalid_tag("System tags cannot be added/updated by requester", key)
            if not 1 <= len(key) <= _MAX_TAG_KEY or not _tag_text(key):
                raise invalid_tag("The TagKey you have provided is invalid", key)
            if len(value) > _MAX_TAG_VALUE or not _tag_text(value):
                raise invalid_tag("The TagValue you have provided is invalid", key, value)
            tags[key] = value
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
