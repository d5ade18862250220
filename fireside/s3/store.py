"""Where S3 keeps buckets and objects: SQLite metadata plus one file per object body.

Layout under `<data dir>/s3/`:

    s3.sqlite               buckets, current objects, noncurrent versions, bucket
                            configurations, multipart uploads and their parts (WAL,
                            synchronous=FULL; tables in `fireside.s3.schema`)
    objects/<aa>/<id>       bodies of object versions and uploaded parts, one file each

A put writes the body to a temporary file, fsyncs it and renames it to a fresh name, then
commits the metadata row that points at it; only then is the file of the replaced version
removed. A crash at any point leaves either the old object or the new one, never a torn body
(at worst an orphan file, removed by `sweep()` at start-up). Multipart uploads
(`fireside.s3.uploads`) keep their parts as files of the same kind, named in `parts` rows;
on a versioned bucket the replaced version's file is kept (`fireside.s3.versions`).

Methods are synchronous and thread-safe (one connection behind a lock); the provider runs the
ones that touch bodies in a worker thread. Bucket names are global, as on S3.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fireside.outbox import OUTBOX_TABLE
from fireside.s3 import versions
from fireside.s3.schema import SCHEMA
from fireside.store.database import open_durable, write_transaction
from fireside.store.durable import mkdirs_durably, replace_durably

__all__ = ["BucketRecord", "Notify", "ObjectRecord", "S3Store"]


@dataclass(slots=True)
class BucketRecord:
    name: str
    account: str
    region: str
    created: float
    tags: dict[str, str] | None = None


@dataclass(slots=True)
class ObjectRecord:
    key: str
    size: int
    etag: str
    modified: float
    file: str
    #: Stored response headers as params: ContentType, ContentEncoding... and Metadata.
    headers: dict[str, Any] = field(default_factory=dict)


#: Called inside an object's write transaction with the new record (None: a delete).
Notify = Callable[[sqlite3.Connection, ObjectRecord | None], None]


class S3Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "objects"
        mkdirs_durably(self._objects)
        self._lock = threading.Lock()
        self._conn = open_durable(root / "s3.sqlite")
        with self._write() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(OUTBOX_TABLE)  # event notifications, queued with their change

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, write_transaction(self._conn) as conn:
            yield conn

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- the outbox's view (`fireside.outbox.OutboxStore`) ---------------------------------------

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return self._read(sql, params)

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._write()

    # -- notification configurations ----------------------------------------------------------

    def notification(self, bucket: str) -> dict[str, Any] | None:
        rows = self._read("SELECT config FROM notifications WHERE bucket = ?", (bucket,))
        return json.loads(rows[0][0]) if rows else None

    def set_notification(self, bucket: str, config: dict[str, Any] | None) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM notifications WHERE bucket = ?", (bucket,))
            if config:
                conn.execute(
                    "INSERT INTO notifications VALUES (?, ?)", (bucket, json.dumps(config))
                )

    # -- buckets ------------------------------------------------------------------------------

    def bucket(self, name: str) -> BucketRecord | None:
        rows = self._read(
            "SELECT name, account, region, created, tags FROM buckets WHERE name = ?", (name,)
        )
        return _bucket(rows[0]) if rows else None

    def buckets(self, account: str) -> list[BucketRecord]:
        rows = self._read(
            "SELECT name, account, region, created, tags FROM buckets WHERE account = ? "
            "ORDER BY name",
            (account,),
        )
        return [_bucket(row) for row in rows]

    def create_bucket(
        self, record: BucketRecord, defaults: dict[str, Any] | None = None
    ) -> BucketRecord | None:
        """Store a new bucket with its initial configurations (`defaults`, by kind); returns
        the existing one instead if the name is taken."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT name, account, region, created, tags FROM buckets WHERE name = ?",
                (record.name,),
            ).fetchone()
            if row is not None:
                return _bucket(row)
            conn.execute(
                "INSERT INTO buckets VALUES (?, ?, ?, ?, NULL)",
                (record.name, record.account, record.region, record.created),
            )
            for kind, config in (defaults or {}).items():
                conn.execute(
                    "INSERT OR REPLACE INTO bucket_config VALUES (?, ?, ?)",
                    (record.name, kind, json.dumps(config)),
                )
        return None

    def delete_bucket(self, name: str) -> bool:
        """Remove an empty bucket, its configurations and its unfinished multipart uploads;
        False when it still holds objects."""
        with self._write() as conn:
            for table in ("objects", "versions"):  # noncurrent versions keep a bucket too
                if conn.execute(
                    f"SELECT 1 FROM {table} WHERE bucket = ? LIMIT 1", (name,)
                ).fetchone():
                    return False
            files = conn.execute(
                "SELECT file FROM parts WHERE upload IN (SELECT id FROM uploads WHERE bucket = ?)",
                (name,),
            ).fetchall()
            conn.execute(
                "DELETE FROM parts WHERE upload IN (SELECT id FROM uploads WHERE bucket = ?)",
                (name,),
            )
            for table in ("uploads", "bucket_config"):
                conn.execute(f"DELETE FROM {table} WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))
            conn.execute("DELETE FROM notifications WHERE bucket = ?", (name,))
        for (file,) in files:
            self.path(file).unlink(missing_ok=True)
        return True

    # -- bucket configurations (versioning, encryption, policy...) ---------------------------

    def config(self, bucket: str, kind: str) -> Any:
        """A bucket's stored configuration of `kind` (None when it has none)."""
        rows = self._read(
            "SELECT config FROM bucket_config WHERE bucket = ? AND kind = ?", (bucket, kind)
        )
        return json.loads(rows[0][0]) if rows else None

    def set_config(self, bucket: str, kind: str, config: Any) -> bool:
        """Store (or with None remove) a bucket's configuration of `kind`; False when the
        bucket is gone."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
                return False
            conn.execute("DELETE FROM bucket_config WHERE bucket = ? AND kind = ?", (bucket, kind))
            if config is not None:
                conn.execute(
                    "INSERT INTO bucket_config VALUES (?, ?, ?)", (bucket, kind, json.dumps(config))
                )
        return True

    def set_tags(self, name: str, tags: dict[str, str] | None) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE buckets SET tags = ? WHERE name = ?",
                (None if tags is None else json.dumps(tags), name),
            )

    # -- objects ------------------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> ObjectRecord | None:
        rows = self._read(
            "SELECT key, size, etag, modified, file, headers FROM objects "
            "WHERE bucket = ? AND key = ?",
            (bucket, key),
        )
        return _object(rows[0]) if rows else None

    def read(self, record: ObjectRecord, start: int = 0, end: int | None = None) -> bytes:
        """Bytes [start, end) of an object's body (`end` None: to the end)."""
        with open(self.path(record.file), "rb") as body:
            body.seek(start)
            return body.read(-1 if end is None else end - start)

    def copy_body(self, record: ObjectRecord, start: int, end: int) -> tuple[str, int, str]:
        """A new body file holding bytes [start, end) of `record`'s, copied 1 MiB at a time
        (a copy never holds a whole object): (file, size, quoted MD5)."""
        digest = hashlib.md5()

        def chunks() -> Iterator[bytes]:
            with open(self.path(record.file), "rb") as body:
                body.seek(start)
                left = end - start
                while left > 0 and (chunk := body.read(min(left, 1024 * 1024))):
                    digest.update(chunk)
                    left -= len(chunk)
                    yield chunk

        file = self.write_file(chunks())
        return file, end - start, f'"{digest.hexdigest()}"'

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        headers: dict[str, Any],
        modified: float,
        notify: Notify | None = None,
    ) -> ObjectRecord:
        """Store an object durably (replacing any object of that key) and return its record.
        `notify` runs inside the transaction that commits it (to queue its notifications)."""
        file = self.write_file([data])
        etag = f'"{hashlib.md5(data).hexdigest()}"'
        record = ObjectRecord(key, len(data), etag, modified, file, headers)
        return self.commit_object(bucket, record, notify)

    def write_file(self, chunks: Iterable[bytes]) -> str:
        """Write a new body file from `chunks` durably (fsynced, renamed into place) and
        return its name; nothing points at it until a row names it."""
        file = uuid.uuid4().hex
        path = self.path(file)
        mkdirs_durably(path.parent)  # a new fan-out directory is fsynced into objects/
        temporary = path.with_name(f".{file}.tmp")
        try:
            with open(temporary, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        replace_durably(temporary, path)
        return file

    def commit_object(
        self,
        bucket: str,
        record: ObjectRecord,
        notify: Notify | None = None,
        then: Callable[[sqlite3.Connection], None] | None = None,
    ) -> ObjectRecord:
        """Point `record.key` at the body file `record.file` (written by `write_file`) in one
        transaction, running `notify` and `then` inside it; the replaced body is removed
        after the commit, and the new file if the commit fails (KeyError: no such bucket)."""
        key, modified, file, headers = record.key, record.modified, record.file, record.headers
        path = self.path(file)
        try:
            with self._write() as conn:
                if (
                    conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone()
                    is None
                ):
                    raise KeyError(bucket)
                # The version id, and what becomes of the version replaced (`versions`).
                doomed = versions.before_write(conn, bucket, key, headers)
                conn.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        bucket,
                        key,
                        record.size,
                        record.etag,
                        modified,
                        file,
                        json.dumps(headers, separators=(",", ":")),
                    ),
                )
                if then is not None:
                    then(conn)
                if notify is not None:
                    notify(conn, record)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        for gone in doomed:
            self.path(gone).unlink(missing_ok=True)
        return record

    def delete(
        self, bucket: str, key: str, modified: float = 0.0, notify: Notify | None = None
    ) -> tuple[bool, str | None]:
        """DeleteObject without a version id: (whether there was an object, the delete
        marker's version id on a versioned bucket). `notify` runs inside the transaction."""
        with self._write() as conn:
            doomed, marker, existed = versions.delete_current(conn, bucket, key, modified)
            if notify is not None and (existed or marker is not None):
                notify(conn, None)
        for gone in doomed:
            self.path(gone).unlink(missing_ok=True)
        return existed, marker

    def delete_version(
        self, bucket: str, key: str, version: str, notify: Notify | None = None
    ) -> tuple[bool, bool]:
        """Delete one version for good: (whether it existed, whether it was a delete marker)."""
        with self._write() as conn:
            doomed, existed, marker = versions.delete_version(conn, bucket, key, version)
            if notify is not None and existed:
                notify(conn, None)
        for gone in doomed:
            self.path(gone).unlink(missing_ok=True)
        return existed, marker

    def scan(self, bucket: str, after: str | None, prefix: str, limit: int) -> list[ObjectRecord]:
        """Up to `limit` objects whose key starts with `prefix`, after `after`, in key order."""
        sql = "SELECT key, size, etag, modified, file, headers FROM objects WHERE bucket = ?"
        params: list[Any] = [bucket]
        if after is not None:
            sql += " AND key > ?"
            params.append(after)
        if prefix:
            # A range on the key (an index seek), then an exact check for the prefix.
            sql += " AND key >= ? AND substr(key, 1, ?) = ?"
            params += [prefix, len(prefix), prefix]
        sql += " ORDER BY key LIMIT ?"
        params.append(limit)
        return [_object(row) for row in self._read(sql, tuple(params))]

    def sweep(self) -> int:
        """Remove body files no object or part points at (left by a crash mid-put or
        mid-completion); returns how many."""
        known = {row[0] for row in self._read("SELECT file FROM objects")}
        known |= {row[0] for row in self._read("SELECT file FROM parts")}
        known |= {row[0] for row in self._read("SELECT file FROM versions WHERE file IS NOT NULL")}
        removed = 0
        for path in self._objects.glob("*/*"):
            name = path.name
            if name.startswith(".") or name not in known:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def path(self, file: str) -> Path:
        return self._objects / file[:2] / file


def _bucket(row: tuple[Any, ...]) -> BucketRecord:
    name, account, region, created, tags = row
    return BucketRecord(name, account, region, created, None if tags is None else json.loads(tags))


def _object(row: tuple[Any, ...]) -> ObjectRecord:
    key, size, etag, modified, file, headers = row
    return ObjectRecord(key, size, etag, modified, file, json.loads(headers))
