"""In-process access to S3 objects for other Fireside services (DynamoDB exports and imports).

Calls go straight to the store, not over HTTP, and are synchronous (callers run them in a
worker thread). Bucket ownership is not checked: the caller is trusted server code acting for
the account that asked it to.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fireside.s3.store import S3Store

__all__ = ["StoredObjects"]

_BATCH = 1000


class StoredObjects:
    """Implements `fireside.tables.transfers.ObjectStorage` on an `S3Store`."""

    def __init__(self, store: S3Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def bucket_exists(self, bucket: str) -> bool:
        return self._store.bucket(bucket) is not None

    def list_objects(self, bucket: str, prefix: str) -> list[tuple[str, int]] | None:
        if self._store.bucket(bucket) is None:
            return None
        found: list[tuple[str, int]] = []
        after: str | None = None
        while True:
            batch = self._store.scan(bucket, after, prefix, _BATCH)
            found.extend((record.key, record.size) for record in batch)
            if len(batch) < _BATCH:
                return found
            after = batch[-1].key

    def read_object(self, bucket: str, key: str) -> bytes | None:
        record = self._store.head(bucket, key)
        return None if record is None else self._store.read(record)

    def write_object(self, bucket: str, key: str, data: bytes, content_type: str) -> bool:
        try:
            self._store.put(bucket, key, data, {"ContentType": content_type}, self._clock())
        except KeyError:
            return False
        return True
