"""Bucket configurations deploy tools set and read: versioning, public access blocks, object
ownership, lifecycle rules, CORS rules, and the ACL answers of a bucket whose ACLs are off.

Each is checked as S3 checks it, stored durably in the S3 store (`bucket_config`, one row per
bucket and kind) before the answer, and returned as put. What they do beyond that:
- Versioning: the status the object writes and deletes read (`fireside.s3.versions`);
  MFA delete is not implemented.
- Public access blocks and ownership controls: stored and reported (every new bucket starts
  with all four blocks on and `BucketOwnerEnforced`, as on S3 since April 2023); not applied
  to policies or ACLs.
- Lifecycle rules: stored, not applied (no object expires or transitions).
- CORS rules: stored, not applied to browser requests yet.
- ACLs: Get{Bucket,Object}Acl answer the owner's FULL_CONTROL grant, which is all an
  ACL-disabled bucket has; Put*Acl are not implemented.
- Website, replication, transfer acceleration, requester pays and access logging cannot be
  set (their Put operations are not implemented), so their Get operations answer what S3
  answers for a bucket without them (Terraform's bucket reads ask for all of them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.s3.buckets import Buckets, owner
from fireside.s3.errors import (
    invalid_argument,
    invalid_request,
    malformed_xml,
    no_such_key,
    not_implemented,
)
from fireside.s3.store import S3Store

__all__ = ["BucketConfig"]

_OWNERSHIP: Final = frozenset({"BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"})
_CORS_METHODS: Final = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE"})
_MAX_RULES: Final = 1000  # lifecycle rules per bucket (S3's quota)
_MAX_CORS_RULES: Final = 100
_MAX_RULE_ID: Final = 255
_DATE: Final = "$datetime"
_LIFECYCLE_ACTIONS: Final = (
    "Expiration",
    "Transitions",
    "NoncurrentVersionExpiration",
    "NoncurrentVersionTransitions",
    "AbortIncompleteMultipartUpload",
)  # how a timestamp is kept in the stored JSON


def _plain(value: Any) -> Any:
    """`value` as JSON can hold it (timestamps as `{"$datetime": <epoch>}`)."""
    if isinstance(value, datetime):
        return {_DATE: value.timestamp()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_DATE}:
            return datetime.fromtimestamp(value[_DATE], UTC)
        return {k: _restored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restored(v) for v in value]
    return value


def _missing(code: str, message: str, bucket: str) -> ServiceError:
    return ServiceError(code, message, 404, BucketName=bucket)


class BucketConfig:
    def __init__(self, store: S3Store, buckets: Buckets) -> None:
        self._store = store
        self._buckets = buckets

    def _set(self, ctx: RequestContext, params: dict[str, Any], kind: str, config: Any) -> None:
        bucket = self._buckets.require(ctx, params["Bucket"])
        self._store.set_config(bucket.name, kind, None if config is None else _plain(config))

    def _get(self, ctx: RequestContext, params: dict[str, Any], kind: str) -> tuple[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        stored = self._store.config(bucket.name, kind)
        return bucket.name, None if stored is None else _restored(stored)

    # -- versioning ----------------------------------------------------------------------------
    async def put_bucket_versioning(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        config = params.get("VersioningConfiguration") or {}
        status = config.get("Status")
        if status not in ("Enabled", "Suspended"):
            raise malformed_xml()
        if config.get("MFADelete") == "Enabled" or params.get("MFA"):
            raise not_implemented("MFA delete (MFADelete) on versioned buckets")
        self._set(ctx, params, "versioning", {"Status": status})
        return {}

    async def get_bucket_versioning(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        _, config = self._get(ctx, params, "versioning")
        return config or {}  # never enabled: S3 answers with no Status

    # -- public access block -------------------------------------------------------------------
    async def put_public_access_block(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        given = params.get("PublicAccessBlockConfiguration") or {}
        names = (
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        )
        if not any(name in given for name in names):
            raise invalid_request("Must specify at least one configuration.")
        self._set(ctx, params, "public-access-block", {n: bool(given.get(n, False)) for n in names})
        return {}

    async def get_public_access_block(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, config = self._get(ctx, params, "public-access-block")
        if config is None:
            raise _missing(
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
                name,
            )
        return {"PublicAccessBlockConfiguration": config}

    async def delete_public_access_block(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._set(ctx, params, "public-access-block", None)
        return {}

    # -- ownership controls --------------------------------------------------------------------
    async def put_bucket_ownership_controls(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        rules = (params.get("OwnershipControls") or {}).get("Rules") or []
        if len(rules) != 1 or rules[0].get("ObjectOwnership") not in _OWNERSHIP:
            raise malformed_xml()
        self._set(
            ctx, params, "ownership", {"Rules": [{"ObjectOwnership": rules[0]["ObjectOwnership"]}]}
        )
        return {}

    async def get_bucket_ownership_controls(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, config = self._get(ctx, params, "ownership")
        if config is None:
            raise _missing(
                "OwnershipControlsNotFoundError",
                "The bucket ownership controls were not found",
                name,
            )
        return {"OwnershipControls": config}

    async def delete_bucket_ownership_controls(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._set(ctx, params, "ownership", None)
        return {}

    # -- lifecycle -----------------------------------------------------------------------------
    async def put_bucket_lifecycle_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        rules = (params.get("LifecycleConfiguration") or {}).get("Rules") or []
        if not rules or len(rules) > _MAX_RULES:
            raise malformed_xml()
        seen: set[str] = set()
        for rule in rules:
            if rule.get("Status") not in ("Enabled", "Disabled"):
                raise malformed_xml()
            rule_id = rule.get("ID")
            if rule_id is not None:
                if len(rule_id) > _MAX_RULE_ID:
                    raise invalid_argument(
                        "ID length should not exceed allowed limit of 255", "ID", rule_id
                    )
                if rule_id in seen:
                    raise invalid_argument(
                        "Rule ID must be unique. Found same ID for more than one rule",
                        "ID",
                        rule_id,
                    )
                seen.add(rule_id)
            if "Filter" not in rule and "Prefix" not in rule:
                raise malformed_xml()
            if not any(rule.get(action) for action in _LIFECYCLE_ACTIONS):
                raise invalid_request("At least one action needs to be specified in a rule")
        self._set(ctx, params, "lifecycle", {"Rules": rules})
        return {}

    async def get_bucket_lifecycle_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, config = self._get(ctx, params, "lifecycle")
        if config is None:
            raise _missing(
                "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", name
            )
        return {"Rules": config["Rules"]}

    async def delete_bucket_lifecycle(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._set(ctx, params, "lifecycle", None)
        return {}

    # -- CORS ----------------------------------------------------------------------------------
    async def put_bucket_cors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rules = (params.get("CORSConfiguration") or {}).get("CORSRules") or []
        if not rules or len(rules) > _MAX_CORS_RULES:
            raise malformed_xml()
        for rule in rules:
            if not rule.get("AllowedOrigins") or not rule.get("AllowedMethods"):
                raise malformed_xml()
            for method in rule["AllowedMethods"]:
                if method not in _CORS_METHODS:
                    raise invalid_request(
                        f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                    )
        self._set(ctx, params, "cors", {"CORSRules": rules})
        return {}

    async def get_bucket_cors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, config = self._get(ctx, params, "cors")
        if config is None:
            raise _missing("NoSuchCORSConfiguration", "The CORS configuration does not exist", name)
        return {"CORSRules": config["CORSRules"]}

    async def delete_bucket_cors(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._set(ctx, params, "cors", None)
        return {}

    # -- ACLs (off: the owner's FULL_CONTROL) --------------------------------------------------
    def _acl(self, account: str) -> dict[str, Any]:
        grantee = {"Type": "CanonicalUser", **owner(account)}
        return {
            "Owner": owner(account),
            "Grants": [{"Grantee": grantee, "Permission": "FULL_CONTROL"}],
        }

    async def get_bucket_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"], "s3:GetBucketAcl")
        return self._acl(bucket.account)

    async def get_object_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = params["Key"]
        bucket = self._buckets.require(ctx, params["Bucket"], "s3:GetObjectAcl", key)
        version = params.get("VersionId")
        if version is not None and version != "null":
            raise invalid_argument("Invalid version id specified", "versionId", version)
        if self._store.head(bucket.name, key) is None:
            raise no_such_key(key)
        return self._acl(bucket.account)

    # -- reads of configurations Fireside cannot set: what S3 answers for a bucket without ----
    async def get_bucket_website(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        raise _missing(
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
            bucket.name,
        )

    async def get_bucket_replication(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        raise _missing(
            "ReplicationConfigurationNotFoundError",
            "The replication configuration was not found",
            bucket.name,
        )

    async def get_bucket_accelerate_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._buckets.require(ctx, params["Bucket"])
        return {}  # never configured: no Status

    async def get_bucket_request_payment(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._buckets.require(ctx, params["Bucket"])
        return {"Payer": "BucketOwner"}

    async def get_bucket_logging(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._buckets.require(ctx, params["Bucket"])
        return {}  # logging off: no LoggingEnabled
