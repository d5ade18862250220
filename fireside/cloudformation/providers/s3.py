"""CloudFormation providers for S3: AWS::S3::Bucket and AWS::S3::BucketPolicy.

Each acts through Fireside's own S3 operations as the stack's account (`ctx.call`; not
`support.call`, whose model-constraint check S3 itself does not make), turning
CloudFormation's property names into the API's (`ServerSideEncryptionByDefault` into
`ApplyServerSideEncryptionByDefault`, lifecycle `ExpirationInDays` into `Expiration.Days`,
notification `Function`/`Queue`/`Topic` into the configurations S3 checks and fires...).

A bucket without `BucketName` is named as CloudFormation names it: `<stack>-<logical id>-
<random>`, lower-cased, cut to S3's 63 characters from the front parts so the random suffix
stays. Properties Fireside cannot apply fail the resource, naming the property, rather than
being dropped. Deleting a bucket that still holds objects fails as on AWS (`The bucket you
tried to delete is not empty`); deleting one already gone succeeds.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.support import as_bool, as_int, failed, tag_list
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["providers"]

_MAX_NAME: Final = 63
#: Bucket properties this provider applies; any other fails the resource, naming it.
_APPLIED: Final = frozenset(
    {
        "BucketName",
        "AccessControl",
        "VersioningConfiguration",
        "BucketEncryption",
        "PublicAccessBlockConfiguration",
        "LifecycleConfiguration",
        "NotificationConfiguration",
        "CorsConfiguration",
        "Tags",
        "OwnershipControls",
    }
)
#: Canned ACLs an ACL-disabled (BucketOwnerEnforced) bucket accepts.
_PRIVATE_ACLS: Final = frozenset({"Private", "BucketOwnerFullControl"})


def _date(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def bucket_name(ctx: ResourceContext) -> str:
    """The name CloudFormation gives an unnamed bucket (lower case, at most 63 characters,
    the random suffix kept)."""
    generated = ctx.generated_name or f"{ctx.stack_name}-{ctx.logical_id}-{uuid.uuid4().hex[:12]}"
    front, _, suffix = generated.lower().rpartition("-")
    suffix = re.sub(r"[^a-z0-9]", "", suffix)[:13] or uuid.uuid4().hex[:12]
    front = re.sub(r"[^a-z0-9.-]", "-", front)
    front = re.sub(r"[.-]{2,}", "-", front).strip(".-")
    front = front[: _MAX_NAME - len(suffix) - 1].rstrip(".-")
    return f"{front}-{suffix}" if front else suffix


def _attributes(name: str, region: str) -> dict[str, Any]:
    return {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
    }


# -- CloudFormation's property shapes into the S3 API's ------------------------------------------
def _encryption(config: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in config.get("ServerSideEncryptionConfiguration") or []:
        default = rule.get("ServerSideEncryptionByDefault") or {}
        applied: dict[str, Any] = {"SSEAlgorithm": default.get("SSEAlgorithm")}
        if default.get("KMSMasterKeyID"):
            applied["KMSMasterKeyID"] = default["KMSMasterKeyID"]
        out: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": applied}
        if "BucketKeyEnabled" in rule:
            out["BucketKeyEnabled"] = as_bool(rule["BucketKeyEnabled"], "BucketKeyEnabled")
        rules.append(out)
    return {"Rules": rules}


def _transition(entry: dict[str, Any], days: str) -> dict[str, Any]:
    out: dict[str, Any] = {"StorageClass": entry.get("StorageClass")}
    if "TransitionInDays" in entry:
        out[days] = as_int(entry["TransitionInDays"], "TransitionInDays")
    if "TransitionDate" in entry:
        out["Date"] = _date(entry["TransitionDate"])
    return out


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": rule.get("Status")}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters") or []]
    prefix = rule.get("Prefix")
    sizes: dict[str, Any] = {
        k: as_int(rule[k], k) for k in ("ObjectSizeGreaterThan", "ObjectSizeLessThan") if k in rule
    }
    # S3 takes one condition bare, several under `And`; no condition is the empty prefix.
    if bool(prefix) + len(tags) + len(sizes) > 1:
        both: dict[str, Any] = {**sizes, **({"Tags": tags} if tags else {})}
        if prefix:
            both["Prefix"] = prefix
        out["Filter"] = {"And": both}
    elif tags:
        out["Filter"] = {"Tag": tags[0]}
    elif sizes:
        out["Filter"] = sizes
    else:
        out["Filter"] = {"Prefix": prefix or ""}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = as_int(rule["ExpirationInDays"], "ExpirationInDays")
    if "ExpirationDate" in rule:
        expiration["Date"] = _date(rule["ExpirationDate"])
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = as_bool(
            rule["ExpiredObjectDeleteMarker"], "ExpiredObjectDeleteMarker"
        )
    if expiration:
        out["Expiration"] = expiration
    transitions = list(rule.get("Transitions") or []) + (
        [rule["Transition"]] if rule.get("Transition") else []
    )
    if transitions:
        out["Transitions"] = [_transition(t, "Days") for t in transitions]
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    if "NoncurrentVersionExpirationInDays" in rule:
        noncurrent = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {k: as_int(v, k) for k, v in noncurrent.items()}
    old = list(rule.get("NoncurrentVersionTransitions") or []) + (
        [rule["NoncurrentVersionTransition"]] if rule.get("NoncurrentVersionTransition") else []
    )
    if old:
        out["NoncurrentVersionTransitions"] = [_transition(t, "NoncurrentDays") for t in old]
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": as_int(abort["DaysAfterInitiation"], "DaysAfterInitiation")
        }
    return out


def _filter(entry: dict[str, Any]) -> dict[str, Any]:
    rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
    if not rules:
        return {}
    named = [{"Name": r.get("Name"), "Value": r.get("Value")} for r in rules]
    return {"Filter": {"Key": {"FilterRules": named}}}


def _notifications(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kinds = (
        ("LambdaConfigurations", "Function", "LambdaFunctionConfigurations", "LambdaFunctionArn"),
        ("QueueConfigurations", "Queue", "QueueConfigurations", "QueueArn"),
        ("TopicConfigurations", "Topic", "TopicConfigurations", "TopicArn"),
    )
    for cfn, target, api, arn in kinds:
        entries = [
            {arn: entry.get(target), "Events": [entry.get("Event")], **_filter(entry)}
            for entry in config.get(cfn) or []
        ]
        if entries:
            out[api] = entries
    bridge = (config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled", False)
    if as_bool(bridge, "EventBridgeEnabled"):
        out["EventBridgeConfiguration"] = {}
    return out


def _cors(config: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in config.get("CorsRules") or []:
        out: dict[str, Any] = {
            "AllowedMethods": list(rule.get("AllowedMethods") or []),
            "AllowedOrigins": list(rule.get("AllowedOrigins") or []),
        }
        if rule.get("AllowedHeaders"):
            out["AllowedHeaders"] = list(rule["AllowedHeaders"])
        if rule.get("ExposedHeaders"):
            out["ExposeHeaders"] = list(rule["ExposedHeaders"])
        if rule.get("Id"):
            out["ID"] = rule["Id"]
        if "MaxAge" in rule:
            out["MaxAgeSeconds"] = as_int(rule["MaxAge"], "MaxAge")
        rules.append(out)
    return {"CORSRules": rules}


class Bucket:
    type_name = "AWS::S3::Bucket"
    replace_on = frozenset({"BucketName", "ObjectLockEnabled"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        _check_supported(properties)
        name = str(properties.get("BucketName") or bucket_name(ctx))
        params: dict[str, Any] = {"Bucket": name}
        if ctx.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        try:
            # us-east-1 answers 200 to re-creating one's own bucket; CloudFormation refuses.
            await ctx.call("s3", "HeadBucket", {"Bucket": name})
        except ServiceError:
            pass
        else:
            raise ResourceFailed(
                f'Resource handler returned message: "{name} already exists" (RequestToken: '
                f"{uuid.uuid4()}, HandlerErrorCode: AlreadyExists)"
            )
        try:
            await ctx.call("s3", "CreateBucket", params)
        except ServiceError as error:
            raise failed(error) from None
        try:
            await self._apply(ctx, name, {}, properties)
        except ResourceFailed:
            # A bucket half configured is no bucket: remove it before reporting the failure.
            with contextlib.suppress(ServiceError):
                await ctx.call("s3", "DeleteBucket", {"Bucket": name})
            raise
        return Created(name, _attributes(name, ctx.region))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        if any(old.get(p) != new.get(p) for p in self.replace_on):
            raise NeedsReplacement()
        _check_supported(new)
        await self._apply(ctx, physical_id, old, new)
        return Created(physical_id, _attributes(physical_id, ctx.region))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call("s3", "DeleteBucket", {"Bucket": physical_id})
        except ServiceError as error:
            if error.code != "NoSuchBucket":
                raise failed(error) from None

    async def _apply(
        self, ctx: ResourceContext, name: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """Put each configuration that differs from `old` (remove those no longer given)."""

        def changed(prop: str) -> bool:
            return old.get(prop) != new.get(prop)

        calls: list[tuple[str, dict[str, Any]]] = []
        if changed("OwnershipControls") and new.get("OwnershipControls"):
            calls.append(("PutBucketOwnershipControls", {"OwnershipControls": {
                "Rules": [{"ObjectOwnership": r.get("ObjectOwnership")}
                          for r in new["OwnershipControls"].get("Rules") or []]}}))  # fmt: skip
        if changed("PublicAccessBlockConfiguration"):
            block = new.get("PublicAccessBlockConfiguration")
            if block:
                calls.append(("PutPublicAccessBlock", {"PublicAccessBlockConfiguration": {
                    k: as_bool(v, k) for k, v in block.items()}}))  # fmt: skip
            else:
                calls.append(("DeletePublicAccessBlock", {}))
        if changed("VersioningConfiguration"):
            status = (new.get("VersioningConfiguration") or {}).get("Status")
            if status or (old.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                calls.append(("PutBucketVersioning",
                              {"VersioningConfiguration": {"Status": status or "Suspended"}}))  # fmt: skip
        if changed("BucketEncryption"):
            encryption = new.get("BucketEncryption")
            if encryption:
                calls.append(("PutBucketEncryption",
                              {"ServerSideEncryptionConfiguration": _encryption(encryption)}))  # fmt: skip
            else:
                calls.append(("DeleteBucketEncryption", {}))
        if changed("LifecycleConfiguration"):
            rules = (new.get("LifecycleConfiguration") or {}).get("Rules") or []
            if rules:
                calls.append(("PutBucketLifecycleConfiguration", {"LifecycleConfiguration": {
                    "Rules": [_lifecycle_rule(r) for r in rules]}}))  # fmt: skip
            else:
                calls.append(("DeleteBucketLifecycle", {}))
        if changed("CorsConfiguration"):
            cors = new.get("CorsConfiguration")
            if cors:
                calls.append(("PutBucketCors", {"CORSConfiguration": _cors(cors)}))
            else:
                calls.append(("DeleteBucketCors", {}))
        # CloudFormation's own `aws:` tags are system tags S3 refuses from a requester.
        tags = [t for t in tag_list(ctx, new.get("Tags")) if not t["Key"].startswith("aws:")]
        if changed("Tags") or not old:
            if tags:
                calls.append(("PutBucketTagging", {"Tagging": {"TagSet": tags}}))
            elif old:
                calls.append(("DeleteBucketTagging", {}))
        if changed("NotificationConfiguration"):
            notifications = _notifications(new.get("NotificationConfiguration") or {})
            calls.append(("PutBucketNotificationConfiguration",
                          {"NotificationConfiguration": notifications}))  # fmt: skip
        for operation, params in calls:
            try:
                await ctx.call("s3", operation, {"Bucket": name, **params})
            except ServiceError as error:
                raise failed(error) from None


def _check_supported(properties: dict[str, Any]) -> None:
    for prop in properties:
        if prop not in _APPLIED:
            raise ResourceFailed(
                f"Fireside does not support the property {prop} of AWS::S3::Bucket yet"
            )
    acl = properties.get("AccessControl")
    if acl is not None and acl not in _PRIVATE_ACLS:
        raise ResourceFailed(
            "Resource handler returned message: \"Bucket cannot have ACLs set with ObjectOwnership's "
            'BucketOwnerEnforced setting (Service: S3, Status Code: 400)" '
            "(HandlerErrorCode: InvalidRequest)"
        )


class BucketPolicy:
    type_name = "AWS::S3::BucketPolicy"
    replace_on = frozenset({"Bucket"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        bucket = str(properties.get("Bucket") or "")
        await self._put(ctx, bucket, properties.get("PolicyDocument"))
        return Created(bucket)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        if old.get("Bucket") != new.get("Bucket"):
            raise NeedsReplacement()
        await self._put(ctx, physical_id, new.get("PolicyDocument"))
        return Created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call("s3", "DeleteBucketPolicy", {"Bucket": physical_id})
        except ServiceError as error:
            if error.code != "NoSuchBucket":
                raise failed(error) from None

    @staticmethod
    async def _put(ctx: ResourceContext, bucket: str, document: Any) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        try:
            await ctx.call("s3", "PutBucketPolicy", {"Bucket": bucket, "Policy": text.encode()})
        except ServiceError as error:
            raise failed(error) from None


def providers() -> list[ResourceType]:
    return [Bucket(), BucketPolicy()]
