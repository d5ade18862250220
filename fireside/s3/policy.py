"""Bucket policies: Put/Get/DeleteBucketPolicy, and the one place S3 decides whether an
account other than a bucket's owner may act on it.

The owner may do everything with its buckets. Another account may do what the bucket's
policy allows it: a statement whose `Principal` names the account (`arn:aws:iam::<id>:root`,
the bare id, or `"*"`), whose `Action` matches the S3 action (`s3:GetObject`, `s3:*`) and
whose `Resource` matches the bucket's ARN (bucket actions) or the object's
(`arn:aws:s3:::<bucket>/<key>`), judged by `fireside.resource_policy.allows`, the evaluator of
every resource policy. Without a policy, or for what it does not grant, the answer is S3's
`AccessDenied`. Bucket configuration (policy, encryption, tags...) stays the owner's whatever
a policy says. Public access blocks are stored but do not filter policies here.

A policy is checked as S3 checks it when it is put (`MalformedPolicy` with S3's words): JSON
starting with `{`, at most 20 KB, a `Statement` with an `Effect`, a `Principal`, valid `s3:`
actions and resources inside this bucket.
"""

from __future__ import annotations

import json
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.resource_policy import allows, statements_of
from fireside.s3.store import S3Store

__all__ = ["BucketPolicies", "permits"]

KIND = "policy"
_MAX_POLICY = 20 * 1024  # bytes: S3's cap on a bucket policy


def permits(
    store: S3Store,
    bucket: str,
    account: str,
    action: str,
    key: str | None,
    *,
    secure: bool = False,
) -> bool:
    """Whether `bucket`'s policy lets `account` (not its owner) do `action` (`s3:GetObject`)
    on the bucket or, with `key`, on that object. `secure`: the request came over TLS (not
    so on Fireside's HTTP endpoint; other services' in-process calls stand for AWS's own,
    which use TLS)."""
    document = store.config(bucket, KIND)
    if document is None:
        return False
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    return allows(
        statements_of(document),
        action=action,
        principal_account=account,
        resource=resource,
        context={
            "aws:PrincipalAccount": account,
            "aws:SecureTransport": "true" if secure else "false",
        },
    )


def _malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicy", message, 400)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_policy(text: str, bucket: str) -> dict[str, Any]:
    """The parsed policy, or S3's `MalformedPolicy`."""
    if len(text.encode()) > _MAX_POLICY:
        raise ServiceError(
            "PolicyTooLarge", "Policy exceeds the maximum allowed document size.", 400
        )
    if not text.lstrip().startswith("{"):
        raise _malformed("Policies must be valid JSON and the first byte must be '{'")
    try:
        document = json.loads(text)
    except ValueError:
        raise _malformed("This policy contains invalid Json") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise _malformed("Missing required field Statement")
    statements = document["Statement"]
    if statements == [] or statements == {}:
        raise _malformed("Could not parse the policy: Statement is empty!")
    for statement in _listed(statements):
        if not isinstance(statement, dict):
            raise _malformed("This policy contains invalid Json")
        if "Effect" not in statement:
            raise _malformed("Missing required field Effect")
        if statement["Effect"] not in ("Allow", "Deny"):
            raise _malformed(f"Invalid effect: {statement['Effect']}")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise _malformed("Missing required field Principal")
        principal = statement.get("Principal", statement.get("NotPrincipal"))
        if not (principal == "*" or (isinstance(principal, dict) and principal)):
            raise _malformed("Invalid principal in policy")
        actions = statement.get("Action", statement.get("NotAction"))
        if actions is None:
            raise _malformed("Missing required field Action")
        for action in _listed(actions):
            if not isinstance(action, str) or not (
                action == "*" or action.lower().startswith("s3:")
            ):
                raise _malformed("Policy has invalid action")
        resources = statement.get("Resource", statement.get("NotResource"))
        if resources is None:
            raise _malformed("Missing required field Resource")
        for resource in _listed(resources):
            if not isinstance(resource, str) or not (
                resource == f"arn:aws:s3:::{bucket}"
                or resource.startswith(f"arn:aws:s3:::{bucket}/")
                or resource in ("*", "arn:aws:s3:::*")
            ):
                raise _malformed("Policy has invalid resource")
    return document


class BucketPolicies:
    def __init__(self, store: S3Store, buckets: Any) -> None:
        self._store = store
        self._buckets = buckets

    async def put_bucket_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        raw = params.get("Policy") or b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        document = check_policy(text, bucket.name)
        self._store.set_config(bucket.name, KIND, document)
        return {}

    async def get_bucket_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        document = self._store.config(bucket.name, KIND)
        if document is None:
            raise ServiceError(
                "NoSuchBucketPolicy",
                "The bucket policy does not exist",
                404,
                BucketName=bucket.name,
            )
        return {"Policy": json.dumps(document, separators=(",", ":"))}

    async def delete_bucket_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        self._store.set_config(bucket.name, KIND, None)
        return {}
