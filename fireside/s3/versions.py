"""Object versions: what a bucket with versioning `Enabled` or `Suspended` keeps of overwritten
and deleted objects.

The `objects` table always holds each key's current version (its id in the stored headers
under `_version`; none on a bucket whose versioning was never turned on). Older versions and
delete markers live in `versions`, ordered per key by `seq` (newest highest). The rules are
S3's:
- Enabled: a write gets a new version id and the version it replaces becomes noncurrent (its
  body kept); a delete without a version id adds a delete marker as the newest version.
- Suspended: a write or a delete-marker gets the version id `null`, replacing any earlier
  `null` version of the key; versions with real ids stay.
- Deleting a specific version removes it for good; when it was the current one, the next
  newest becomes current unless that is a delete marker.

These functions run inside the S3 store's write transactions (`S3Store.commit_object`,
`S3Store.delete`) and return the body files to remove once the transaction has committed.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "VERSION",
    "Version",
    "before_write",
    "delete_current",
    "delete_version",
    "history",
    "keys",
    "newest_marker",
    "noncurrent",
    "status",
]

VERSION: Final = "_version"
NULL: Final = "null"

_COLUMNS: Final = "key, seq, version, marker, size, etag, modified, file, headers"


@dataclass(frozen=True, slots=True)
class Version:
    """A noncurrent version or a delete marker (`marker`), as stored in `versions`."""

    key: str
    seq: int
    version: str
    marker: bool
    size: int
    etag: str
    modified: float
    file: str | None
    headers: dict[str, Any]

    @staticmethod
    def of(row: tuple[Any, ...]) -> Version:
        key, seq, version, marker, size, etag, modified, file, headers = row
        return Version(key, seq, version, bool(marker), size, etag, modified, file,
                       json.loads(headers))  # fmt: skip


def new_id() -> str:
    return uuid.uuid4().hex


def status(conn: sqlite3.Connection, bucket: str) -> str | None:
    """The bucket's versioning status: None (never enabled), `Enabled` or `Suspended`."""
    row = conn.execute(
        "SELECT config FROM bucket_config WHERE bucket = ? AND kind = 'versioning'", (bucket,)
    ).fetchone()
    found: str | None = json.loads(row[0]).get("Status") if row else None
    return found


def _next_seq(conn: sqlite3.Connection, bucket: str, key: str) -> int:
    (seq,) = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM versions WHERE bucket = ? AND key = ?",
        (bucket, key),
    ).fetchone()
    return int(seq)


def _current(conn: sqlite3.Connection, bucket: str, key: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        "SELECT size, etag, modified, file, headers FROM objects WHERE bucket = ? AND key = ?",
        (bucket, key),
    ).fetchone()
    return row


def _archive(conn: sqlite3.Connection, bucket: str, key: str, row: tuple[Any, ...]) -> None:
    """Keep the current version `row` (from `_current`) as the newest noncurrent one."""
    size, etag, modified, file, headers = row
    version = json.loads(headers).get(VERSION, NULL)
    conn.execute(
        "INSERT INTO versions VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
        (bucket, key, _next_seq(conn, bucket, key), version, size, etag, modified, file, headers),
    )


def _drop_null(conn: sqlite3.Connection, bucket: str, key: str) -> list[str]:
    """Remove the key's noncurrent `null` version (or marker); its body file, if any."""
    rows = conn.execute(
        "SELECT file FROM versions WHERE bucket = ? AND key = ? AND version = ?",
        (bucket, key, NULL),
    ).fetchall()
    conn.execute(
        "DELETE FROM versions WHERE bucket = ? AND key = ? AND version = ?", (bucket, key, NULL)
    )
    return [str(row[0]) for row in rows if row[0]]


def before_write(
    conn: sqlite3.Connection, bucket: str, key: str, headers: dict[str, Any]
) -> list[str]:
    """Before a new current version of `key` is stored with `headers`: give it its version id
    (in `headers`) and keep or drop the version it replaces. Returns body files to remove."""
    state = status(conn, bucket)
    old = _current(conn, bucket, key)
    if state is None:
        headers.pop(VERSION, None)
        return [str(old[3])] if old is not None else []
    doomed: list[str] = []
    if state == "Enabled":
        headers[VERSION] = new_id()
    else:
        headers[VERSION] = NULL
        doomed += _drop_null(conn, bucket, key)
    if old is not None:
        if state == "Suspended" and json.loads(old[4]).get(VERSION, NULL) == NULL:
            doomed.append(str(old[3]))
        else:
            _archive(conn, bucket, key, old)
    return doomed


def delete_current(
    conn: sqlite3.Connection, bucket: str, key: str, modified: float
) -> tuple[list[str], str | None, bool]:
    """DeleteObject without a version id: (body files to remove, the delete marker's version
    id or None on an unversioned bucket, whether there was an object)."""
    state = status(conn, bucket)
    old = _current(conn, bucket, key)
    if old is not None:
        conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
    if state is None:
        return ([str(old[3])] if old is not None else []), None, old is not None
    doomed: list[str] = []
    if state == "Suspended":
        doomed += _drop_null(conn, bucket, key)
    if old is not None:
        if state == "Suspended" and json.loads(old[4]).get(VERSION, NULL) == NULL:
            doomed.append(str(old[3]))
        else:
            _archive(conn, bucket, key, old)
    marker = new_id() if state == "Enabled" else NULL
    conn.execute(
        "INSERT INTO versions VALUES (?, ?, ?, ?, 1, 0, '', ?, NULL, '{}')",
        (bucket, key, _next_seq(conn, bucket, key), marker, modified),
    )
    return doomed, marker, old is not None


def delete_version(
    conn: sqlite3.Connection, bucket: str, key: str, version: str
) -> tuple[list[str], bool, bool]:
    """DeleteObject of one version, for good: (body files to remove, whether it existed,
    whether it was a delete marker). The next newest version becomes current if it is an
    object."""
    current = _current(conn, bucket, key)
    if current is not None and json.loads(current[4]).get(VERSION, NULL) == version:
        conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        _promote(conn, bucket, key)
        return [str(current[3])], True, False
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version = ?",
        (bucket, key, version),
    ).fetchone()
    if row is None:
        return [], False, False
    gone = Version.of(row)
    conn.execute(
        "DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, key, gone.seq)
    )
    if current is None:
        _promote(conn, bucket, key)
    return ([gone.file] if gone.file else []), True, gone.marker


def _promote(conn: sqlite3.Connection, bucket: str, key: str) -> None:
    """With no current version: the newest noncurrent one becomes current, unless it is a
    delete marker (then the key reads as deleted)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1",
        (bucket, key),
    ).fetchone()
    if row is None:
        return
    newest = Version.of(row)
    if newest.marker:
        return
    conn.execute(
        "DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, key, newest.seq)
    )
    conn.execute(
        "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
        (bucket, key, newest.size, newest.etag, newest.modified, newest.file,
         json.dumps(newest.headers, separators=(",", ":"))),
    )  # fmt: skip


# -- reads (through `S3Store.query`) ---------------------------------------------------------------
Query = Callable[[str, tuple[object, ...]], list[tuple[Any, ...]]]


def noncurrent(query: Query, bucket: str, key: str, version: str) -> Version | None:
    """The noncurrent version or delete marker `version` of `key`."""
    rows = query(
        f"SELECT {_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version = ?",
        (bucket, key, version),
    )
    return Version.of(rows[0]) if rows else None


def newest_marker(query: Query, bucket: str, key: str) -> str | None:
    """The version id of the delete marker that hides `key`, if its newest version is one."""
    rows = query(
        "SELECT version, marker FROM versions WHERE bucket = ? AND key = ? "
        "ORDER BY seq DESC LIMIT 1",
        (bucket, key),
    )
    return str(rows[0][0]) if rows and rows[0][1] else None


def history(query: Query, bucket: str, key: str) -> list[Version]:
    """The noncurrent versions and delete markers of `key`, newest first."""
    rows = query(
        f"SELECT {_COLUMNS} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC",
        (bucket, key),
    )
    return [Version.of(row) for row in rows]


def keys(query: Query, bucket: str, after: str | None, prefix: str, limit: int) -> list[str]:
    """Keys with any version (current or not) under `prefix`, after `after`, in order."""
    sql = (
        "SELECT key FROM (SELECT key FROM objects WHERE bucket = ? "
        "UNION SELECT key FROM versions WHERE bucket = ?) WHERE 1"
    )
    params: list[object] = [bucket, bucket]
    if after is not None:
        sql += " AND key > ?"
        params.append(after)
    if prefix:
        sql += " AND key >= ? AND substr(key, 1, ?) = ?"
        params += [prefix, len(prefix), prefix]
    sql += " ORDER BY key LIMIT ?"
    params.append(limit)
    return [str(row[0]) for row in query(sql, tuple(params))]
