"""Server-side encryption as S3 reports it: a bucket's default encryption (Put/Get/
DeleteBucketEncryption) and the SSE headers each object is stored and answered with.

Fireside does not encrypt bodies at rest (the data directory is the user's own disk): it
keeps and reports what S3 would have applied, so tools that check or set encryption (CDK's
bootstrap, SAM's managed bucket) see S3's answers. Since January 2023 every S3 bucket
encrypts new objects with SSE-S3 (AES256) unless configured otherwise, so a bucket with no
configuration reports that default, and DeleteBucketEncryption returns a bucket to it (which
is why `ServerSideEncryptionConfigurationNotFoundError` is never answered: S3 no longer
answers it either). An object takes the encryption its request names
(`x-amz-server-side-encryption`, `...-aws-kms-key-id`, `...-bucket-key-enabled`), else the
bucket's default; SSE-KMS without a key id uses the account's `aws/s3` key, named here by a
stable made-up key id. Customer-provided keys (SSE-C) are not implemented.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.s3.errors import invalid_argument, malformed_xml, not_implemented
from fireside.s3.store import BucketRecord, S3Store

__all__ = ["SSE_FIELDS", "Encryption", "object_encryption"]

KIND: Final = "encryption"
ALGORITHMS: Final = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
#: The members of an object's stored headers that describe its encryption.
SSE_FIELDS: Final = ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")
_DEFAULT: Final[dict[str, Any]] = {
    "Rules": [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
    ]
}


def managed_key(account: str, region: str) -> str:
    """The ARN standing for the account's AWS-managed `aws/s3` KMS key in `region`."""
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"fireside:aws/s3:{account}:{region}")
    return f"arn:aws:kms:{region}:{account}:key/{key}"


def _kms_arn(key: str, bucket: BucketRecord) -> str:
    if key.startswith("arn:"):
        return key
    return f"arn:aws:kms:{bucket.region}:{bucket.account}:key/{key}"


def object_encryption(
    store: S3Store, bucket: BucketRecord, params: dict[str, Any]
) -> dict[str, Any]:
    """The SSE members an object written with `params` is stored and answered with."""
    if params.get("SSECustomerAlgorithm") or params.get("SSECustomerKey"):
        raise not_implemented("server-side encryption with customer-provided keys (SSE-C)")
    algorithm = params.get("ServerSideEncryption")
    key = params.get("SSEKMSKeyId")
    bucket_key = params.get("BucketKeyEnabled")
    if algorithm is None:
        if key is not None:
            raise invalid_argument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id",
                key,
            )
        rule = (store.config(bucket.name, KIND) or _DEFAULT)["Rules"][0]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        algorithm = default.get("SSEAlgorithm", "AES256")
        key = default.get("KMSMasterKeyID")
        if bucket_key is None and algorithm != "AES256":
            bucket_key = rule.get("BucketKeyEnabled")
    elif algorithm not in ALGORITHMS:
        raise invalid_argument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            algorithm,
        )
    elif algorithm == "AES256" and key is not None:
        raise invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id",
            key,
        )
    out: dict[str, Any] = {"ServerSideEncryption": algorithm}
    if algorithm != "AES256":
        out["SSEKMSKeyId"] = (
            _kms_arn(key, bucket) if key else managed_key(bucket.account, bucket.region)
        )
        if bucket_key:
            out["BucketKeyEnabled"] = True
    return out


def _check(config: dict[str, Any]) -> dict[str, Any]:
    rules = config.get("Rules") or []
    if len(rules) != 1:
        raise malformed_xml()
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault")
    if not isinstance(default, dict) or default.get("SSEAlgorithm") not in ALGORITHMS:
        raise malformed_xml()
    if default.get("KMSMasterKeyID") and default["SSEAlgorithm"] == "AES256":
        raise invalid_argument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or "
            "aws:kms:dsse",
            "ApplyServerSideEncryptionByDefault",
            None,
        )
    kept: dict[str, Any] = {"SSEAlgorithm": default["SSEAlgorithm"]}
    if default.get("KMSMasterKeyID"):
        kept["KMSMasterKeyID"] = str(default["KMSMasterKeyID"])
    return {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": kept,
                "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
            }
        ]
    }


class Encryption:
    def __init__(self, store: S3Store, buckets: Any) -> None:
        self._store = store
        self._buckets = buckets

    async def put_bucket_encryption(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        config = _check(params.get("ServerSideEncryptionConfiguration") or {})
        self._store.set_config(bucket.name, KIND, config)
        return {}

    async def get_bucket_encryption(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"], "s3:GetEncryptionConfiguration")
        return {
            "ServerSideEncryptionConfiguration": self._store.config(bucket.name, KIND) or _DEFAULT
        }

    async def delete_bucket_encryption(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        self._store.set_config(bucket.name, KIND, None)  # back to S3's default, SSE-S3
        return {}
