"""Deployment packages named by an S3 object, as SAM, CDK, Terraform and CloudFormation deploy
them: `Code.S3Bucket`/`S3Key`/`S3ObjectVersion` of CreateFunction, the same members at the top
of UpdateFunctionCode, and `Content.S3Bucket`/`S3Key`/`S3ObjectVersion` of PublishLayerVersion.

The object is read from Fireside's own S3 in-process (no HTTP), as the calling account through
the calling region's endpoint: Lambda requires the bucket in the function's region, and a
bucket of another account is denied as S3 denies it. What S3 answers is reported the way
Lambda reports it, `Error occurred while GetObject. S3 Error Code: <code>. S3 Error Message:
<message>` (AWS's wording, recorded by LocalStack's AWS-validated snapshots and AWS's
troubleshooting guide; docs/s3.md lists which messages are Fireside's own). The bytes read
are then checked and stored exactly as a `ZipFile` upload is, by the caller.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.compute.errors import invalid

__all__ = ["ObjectReader", "read_package"]

#: Seen in recorded AWS answers; ZipFile with any S3 member is refused, not guessed between.
ZIP_AND_S3 = "Please do not provide other FunctionCode parameters when providing a ZipFile."


class ObjectReader(Protocol):
    """What Lambda needs of S3 (`fireside.s3.access.StoredObjects` provides it)."""

    def get_object_as(
        self, account: str, region: str, bucket: str, key: str, version: str | None = None
    ) -> bytes: ...


def _getobject_error(exc: ServiceError, bucket: str, key: str) -> ServiceError:
    """S3's answer to Lambda's GetObject, as Lambda reports it to its caller."""
    if exc.code == "AccessDenied":
        return ServiceError(
            "AccessDeniedException",
            "Your access has been denied by S3, please make sure your request credentials have "
            f"permission to GetObject for {bucket}/{key}. S3 Error Code: AccessDenied. "
            f"S3 Error Message: {exc.message}",
            403,
        )
    message = exc.message
    if exc.code == "PermanentRedirect":
        region = exc.headers.get("x-amz-bucket-region", "")
        message = (
            f"The bucket is in this region: {region}. Please use this region to retry the request"
        )
    return invalid(
        f"Error occurred while GetObject. S3 Error Code: {exc.code}. S3 Error Message: {message}"
    )


async def read_package(
    objects: ObjectReader,
    ctx: RequestContext,
    code: dict[str, Any],
    *,
    missing: str,
    both: str = ZIP_AND_S3,
) -> tuple[bytes, bool]:
    """The zip a `Code` (or layer `Content`) names and whether it came from S3.

    `missing` is the operation's message when no source is given at all, `both` the one for
    a ZipFile given with S3 members. Size limits are the caller's: the 50 MB one applies to
    direct uploads only, as on Lambda.
    """
    bucket, key, version = code.get("S3Bucket"), code.get("S3Key"), code.get("S3ObjectVersion")
    if bucket is None and key is None and version is None:
        data = code.get("ZipFile")
        if not isinstance(data, bytes):
            raise invalid(missing)
        return data, False
    if code.get("ZipFile") is not None:
        raise invalid(both)
    if not bucket or not key:
        raise invalid("S3Bucket and S3Key must be given together to name the code's S3 object.")
    try:
        body = await asyncio.to_thread(
            objects.get_object_as, ctx.account_id, ctx.region, bucket, key, version
        )
    except ServiceError as exc:
        raise _getobject_error(exc, bucket, key) from exc
    return body, True
