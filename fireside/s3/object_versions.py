"""Objects by version: finding the version a request names (`locate`), and DeleteObject /
DeleteObjects, which on a versioned bucket add delete markers or remove versions for good.

S3's answers: a key whose newest version is a delete marker is `NoSuchKey` (404, with
`x-amz-delete-marker: true` and the marker's id); asking for a delete marker by id is
`MethodNotAllowed` (405); a version id the key never had is `NoSuchVersion` (404) on a
versioned bucket, `InvalidArgument` on a bucket that never had versioning (where the only
version is `null`). How versions are kept: `fireside.s3.versions`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.s3 import versions
from fireside.s3.errors import invalid_argument, no_such_key
from fireside.s3.store import BucketRecord, ObjectRecord, S3Store

if TYPE_CHECKING:
    from fireside.s3.objects import Objects

__all__ = ["Deletes", "locate", "version_of"]


def version_of(record: ObjectRecord) -> str | None:
    """The version id to report for a record (None on a bucket never versioned)."""
    found = record.headers.get(versions.VERSION)
    return str(found) if found is not None else None


def _no_such_version(key: str, version: str) -> ServiceError:
    return ServiceError(
        "NoSuchVersion", "The specified version does not exist.", 404, Key=key, VersionId=version
    )


def locate(store: S3Store, bucket: str, key: str, version: str | None) -> ObjectRecord:
    """The version of `key` a request names (None: the current one), or S3's refusal."""
    current = store.head(bucket, key)
    if version is None:
        if current is not None:
            return current
        marker = versions.newest_marker(store.query, bucket, key)
        headers = {"x-amz-delete-marker": "true", "x-amz-version-id": marker} if marker else None
        error = no_such_key(key)
        if headers:
            error = ServiceError(error.code, error.message, error.status, headers=headers, Key=key)
        raise error
    if current is not None and current.headers.get(versions.VERSION, versions.NULL) == version:
        return current
    old = versions.noncurrent(store.query, bucket, key, version)
    if old is None:
        if store.config(bucket, "versioning") is None:
            if version == versions.NULL:
                raise no_such_key(key)
            raise invalid_argument("Invalid version id specified", "versionId", version)
        raise _no_such_version(key, version)
    if old.marker:
        raise ServiceError(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
            headers={"x-amz-delete-marker": "true", "x-amz-version-id": version, "Allow": "DELETE"},
            Method="GET",
            ResourceType="DeleteMarker",
        )
    assert old.file is not None
    return ObjectRecord(key, old.size, old.etag, old.modified, old.file, old.headers)


def _delete_action(version: str | None) -> str:
    """The IAM action a delete asks for: removing a version for good is its own."""
    return "s3:DeleteObject" if version is None else "s3:DeleteObjectVersion"


class Deletes:
    """DeleteObject and DeleteObjects."""

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.store = objects.store
        self.buckets = objects.buckets

    async def _delete(
        self, ctx: RequestContext, bucket: BucketRecord, key: str, version: str | None
    ) -> dict[str, Any]:
        """Delete `key` (or one version of it) in `bucket`; what S3 reports about it."""
        store = self.store
        if version is not None:
            if store.config(bucket.name, "versioning") is None and version != versions.NULL:
                raise invalid_argument("Invalid version id specified", "versionId", version)
            hook = self.objects.notify_hook(ctx, bucket, "ObjectRemoved:Delete", key)
            _, marker = await asyncio.to_thread(
                store.delete_version, bucket.name, key, version, hook
            )
            self.objects.notified(hook)
            out: dict[str, Any] = {"VersionId": version}
            if marker:
                out["DeleteMarker"] = True
            return out
        versioned = store.config(bucket.name, "versioning") is not None
        event = "ObjectRemoved:DeleteMarkerCreated" if versioned else "ObjectRemoved:Delete"
        hook = self.objects.notify_hook(ctx, bucket, event, key)
        _, created = await asyncio.to_thread(
            store.delete, bucket.name, key, self.objects.clock(), hook
        )
        self.objects.notified(hook)
        return {"DeleteMarker": True, "VersionId": created} if created is not None else {}

    async def delete_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, version = params["Key"], params.get("VersionId")
        bucket = self.buckets.require(ctx, params["Bucket"], _delete_action(version), key)
        return await self._delete(ctx, bucket, key, version)

    async def delete_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.buckets.existing(params["Bucket"])  # each key is checked below
        request = params["Delete"]
        entries = request.get("Objects") or []
        if len(entries) > 1000:
            raise ServiceError(
                "MalformedXML", "You have attempted to delete more than 1000 objects", 400
            )
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for entry in entries:
            key = entry.get("Key", "")
            version = entry.get("VersionId")
            if not self.buckets.may(ctx, bucket, _delete_action(version), key):
                errors.append({"Key": key, "Code": "AccessDenied", "Message": "Access Denied"})
                continue
            try:
                answer = await self._delete(ctx, bucket, key, version)
            except ServiceError as error:
                code, message = error.code, error.message
                if code == "InvalidArgument":  # a version a never-versioned bucket cannot have
                    code, message = "NoSuchVersion", "The specified version does not exist."
                errors.append({"Key": key, "VersionId": version, "Code": code, "Message": message})
                continue
            done: dict[str, Any] = {"Key": key}
            if version is not None:
                done["VersionId"] = version
                if answer.get("DeleteMarker"):
                    done["DeleteMarker"] = True
                    done["DeleteMarkerVersionId"] = version
            elif answer.get("DeleteMarker"):
                done["DeleteMarker"] = True
                done["DeleteMarkerVersionId"] = answer["VersionId"]
            deleted.append(done)
        out: dict[str, Any] = {}
        if deleted and not request.get("Quiet"):
            out["Deleted"] = deleted
        if errors:
            out["Errors"] = errors
        return out
