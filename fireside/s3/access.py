"""In-process access to S3 objects for other Fireside services: DynamoDB exports and imports,
Lambda code and layers named by an S3 object, Lambda's S3 on-failure destinations.

Calls go straight to the store, not over HTTP, and are synchronous (callers run them in a
worker thread). Every method acts *as* an account, the one on whose behalf the other service
works, and answers what S3 would answer that account: there is no unchecked way in, so a
service cannot read or write another account's bucket by forgetting a check. Another
account's bucket is reachable where its bucket policy grants the action
(`fireside.s3.policy.permits`, the same check the S3 API makes).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fireside.s3.errors import (
    access_denied,
    no_such_bucket,
    permanent_redirect,
)
from fireside.s3.object_versions import locate
from fireside.s3.policy import permits
from fireside.s3.store import BucketRecord, S3Store

__all__ = ["StoredObjects"]

_BATCH = 1000


class StoredObjects:
    """Implements `fireside.tables.transfers.ObjectStorage` on an `S3Store`."""

    def __init__(self, store: S3Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def _bucket_as(
        self, account: str, bucket: str, region: str | None, action: str, key: str | None = None
    ) -> BucketRecord:
        record = self._store.bucket(bucket)
        if record is None:
            raise no_such_bucket(bucket)
        if region is not None and record.region != region:
            raise permanent_redirect(bucket, record.region)
        if record.account != account and not permits(
            self._store, bucket, account, action, key, secure=True
        ):
            raise access_denied()
        return record

    def head_bucket_as(self, account: str, bucket: str) -> None:
        """HeadBucket by `account` (any region): NoSuchBucket, AccessDenied as S3 answers."""
        self._bucket_as(account, bucket, None, "s3:ListBucket")

    def list_objects_as(self, account: str, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of every object under `prefix` in key order, listed by `account`."""
        self._bucket_as(account, bucket, None, "s3:ListBucket")
        found: list[tuple[str, int]] = []
        after: str | None = None
        while True:
            batch = self._store.scan(bucket, after, prefix, _BATCH)
            found.extend((record.key, record.size) for record in batch)
            if len(batch) < _BATCH:
                return found
            after = batch[-1].key

    def get_object_as(
        self,
        account: str,
        region: str | None,
        bucket: str,
        key: str,
        version: str | None = None,
    ) -> bytes:
        """GetObject by `account` through `region`'s endpoint (None: any region), with S3's
        errors in S3's order: NoSuchBucket; PermanentRedirect for a bucket of another region
        (its region in the `x-amz-bucket-region` header); AccessDenied for another account's bucket
        whose policy does not grant it s3:GetObject; then, for the version asked for,
        `fireside.s3.object_versions.locate`'s answers (NoSuchKey, NoSuchVersion...).
        """
        self._bucket_as(account, bucket, region, "s3:GetObject", key)
        return self._store.read(locate(self._store, bucket, key, version))

    def put_object_as(
        self, account: str, bucket: str, key: str, data: bytes, content_type: str
    ) -> None:
        """PutObject by `account` (any region): NoSuchBucket, AccessDenied as S3 answers."""
        self._bucket_as(account, bucket, None, "s3:PutObject", key)
        try:
            self._store.put(bucket, key, data, {"ContentType": content_type}, self._clock())
        except KeyError as exc:  # deleted between the check and the put
            raise no_such_bucket(bucket) from exc
