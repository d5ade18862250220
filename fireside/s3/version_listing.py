"""ListObjectVersions: every version and delete marker of every key, in pages.

Keys in order; for each key its current version first (`IsLatest`), then its noncurrent
versions and delete markers newest first (a key whose newest version is a delete marker has
that marker as latest). A page holds at most `MaxKeys` entries, versions, delete markers and
common prefixes together; `KeyMarker` with `VersionIdMarker` resumes after that version of
that key, `KeyMarker` alone after every version of the key. On a bucket never versioned each
object is its one version, `null`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from fireside.s3 import versions
from fireside.s3.store import S3Store

__all__ = ["VersionPage", "walk_versions"]

_BATCH: Final = 1000
_PAST: Final = "\U0010ffff"


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    version: str
    latest: bool
    marker: bool
    modified: float
    etag: str = ""
    size: int = 0

    def listed(self, encode: Any, owner: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Key": encode(self.key),
            "VersionId": self.version,
            "IsLatest": self.latest,
            "LastModified": datetime.fromtimestamp(self.modified, UTC).replace(microsecond=0),
            "Owner": owner,
        }
        if not self.marker:
            out.update({"ETag": self.etag, "Size": self.size, "StorageClass": "STANDARD"})
        return out


@dataclass(slots=True)
class VersionPage:
    entries: list[Entry] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    #: Where the next page starts: (key, version id or None after a common prefix).
    next: tuple[str, str | None] | None = None


def _of_key(store: S3Store, bucket: str, key: str) -> Iterator[Entry]:
    current = store.head(bucket, key)
    if current is not None:
        version = str(current.headers.get(versions.VERSION, versions.NULL))
        yield Entry(key, version, True, False, current.modified, current.etag, current.size)
    for n, old in enumerate(versions.history(store.query, bucket, key)):
        latest = current is None and n == 0
        yield Entry(key, old.version, latest, old.marker, old.modified, old.etag, old.size)


def walk_versions(
    store: S3Store,
    bucket: str,
    prefix: str,
    delimiter: str,
    key_marker: str | None,
    version_marker: str | None,
    max_keys: int,
) -> VersionPage:
    page = VersionPage()
    count = 0

    def full() -> bool:
        if count == max_keys:
            page.truncated = True
        return page.truncated

    cursor = key_marker
    if key_marker and version_marker:
        # The rest of the marker key's versions, after the one named.
        rest = list(_of_key(store, bucket, key_marker))
        names = [entry.version for entry in rest]
        for entry in rest[names.index(version_marker) + 1 :] if version_marker in names else []:
            if full():
                return page
            page.entries.append(entry)
            page.next = (entry.key, entry.version)
            count += 1
    elif key_marker and delimiter and key_marker.endswith(delimiter):
        cursor = key_marker + _PAST  # a common prefix returned before: past all its keys
    while True:
        batch = versions.keys(store.query, bucket, cursor, prefix, _BATCH)
        rolled_up = False
        for key in batch:
            cursor = key
            at = key.find(delimiter, len(prefix)) if delimiter else -1
            if at >= 0:
                if full():
                    return page
                rolled = key[: at + len(delimiter)]
                page.prefixes.append(rolled)
                page.next = (rolled, None)
                count += 1
                cursor = rolled + _PAST
                rolled_up = True
                break
            for entry in _of_key(store, bucket, key):
                if full():
                    return page
                page.entries.append(entry)
                page.next = (entry.key, entry.version)
                count += 1
        if not rolled_up and len(batch) < _BATCH:
            return page
