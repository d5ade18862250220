"""Where multipart uploads live between CreateMultipartUpload and their completion or abort.

An upload is a row of `uploads` (the key, the initiator, the headers the object will be
stored with); each part a file under `objects/`, written and fsynced before the `parts` row
that names it is committed, so an acknowledged part survives a `kill -9`. Re-uploading a part
number replaces the row and then removes the old file.

Completion writes the whole object as one new body file (the parts concatenated, fsynced),
then in ONE transaction points the key at it and removes the upload and its part rows; only
after that commit are the part files removed. A crash before the commit leaves the upload
as it was and the key untouched (the half-written file is an orphan `S3Store.sweep` removes
at start-up); a crash after it leaves the complete object and orphan part files, swept the
same way. No reader ever sees a partial object.

Methods are synchronous (the provider runs them in a worker thread) and go through the S3
store's one connection and lock.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fireside.s3.store import Notify, ObjectRecord, S3Store

__all__ = ["PartRecord", "PartReplaced", "UploadGone", "UploadRecord", "Uploads"]

_CHUNK = 1024 * 1024  # bytes copied at a time when parts are joined
_PAGE = 1000  # uploads read from the database at a time
# Greater than any character a key can hold: "p/" + this sorts after every key under "p/".
_PAST = "\U0010ffff"


class UploadGone(Exception):
    """The upload was completed or aborted meanwhile (or its bucket deleted)."""


class PartReplaced(Exception):
    """A part being joined was uploaded again meanwhile."""


@dataclass(slots=True)
class UploadRecord:
    id: str
    bucket: str
    key: str
    initiated: float
    account: str
    #: What the completed object is stored with (content headers, metadata, SSE...), plus
    #: the upload's own settings under `_upload` (checksum algorithm and type).
    headers: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PartRecord:
    number: int
    size: int
    etag: str
    modified: float
    file: str
    checksums: dict[str, str] = field(default_factory=dict)


_UPLOAD_COLUMNS = "id, bucket, key, initiated, account, headers"
_PART_COLUMNS = "number, size, etag, modified, file, checksums"


def _upload(row: tuple[Any, ...]) -> UploadRecord:
    upload_id, bucket, key, initiated, account, headers = row
    return UploadRecord(upload_id, bucket, key, initiated, account, json.loads(headers))


def _part(row: tuple[Any, ...]) -> PartRecord:
    number, size, etag, modified, file, checksums = row
    return PartRecord(number, size, etag, modified, file, json.loads(checksums))


class Uploads:
    def __init__(self, store: S3Store) -> None:
        self._store = store

    def create(
        self, bucket: str, key: str, account: str, headers: dict[str, Any], now: float
    ) -> UploadRecord:
        """A new upload of `key` (KeyError when the bucket is gone)."""
        record = UploadRecord(
            uuid.uuid4().hex + uuid.uuid4().hex, bucket, key, now, account, headers
        )
        with self._store.transaction() as conn:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
                raise KeyError(bucket)
            conn.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, bucket, key, now, account, json.dumps(headers)),
            )
        return record

    def get(self, upload_id: str) -> UploadRecord | None:
        rows = self._store.query(
            f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE id = ?", (upload_id,)
        )
        return _upload(rows[0]) if rows else None

    def put_part(self, upload_id: str, part: PartRecord, data: bytes) -> PartRecord:
        """Store a part durably (replacing that number's); UploadGone when the upload ended."""
        part.file = self._store.write_file([data])
        return self.commit_part(upload_id, part)

    def commit_part(self, upload_id: str, part: PartRecord) -> PartRecord:
        """Name the body file `part.file` (already written) as the upload's part `number`."""
        try:
            with self._store.transaction() as conn:
                if (
                    conn.execute("SELECT 1 FROM uploads WHERE id = ?", (upload_id,)).fetchone()
                    is None
                ):
                    raise UploadGone(upload_id)
                old = conn.execute(
                    "SELECT file FROM parts WHERE upload = ? AND number = ?",
                    (upload_id, part.number),
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (upload_id, part.number, part.size, part.etag, part.modified, part.file,
                     json.dumps(part.checksums)),
                )  # fmt: skip
        except BaseException:
            self._store.path(part.file).unlink(missing_ok=True)
            raise
        if old is not None:
            self._store.path(str(old[0])).unlink(missing_ok=True)
        return part

    def parts(self, upload_id: str, after: int = 0, limit: int = 10_001) -> list[PartRecord]:
        """Up to `limit` parts numbered above `after`, in part-number order."""
        rows = self._store.query(
            f"SELECT {_PART_COLUMNS} FROM parts WHERE upload = ? AND number > ? "
            "ORDER BY number LIMIT ?",
            (upload_id, after, limit),
        )
        return [_part(row) for row in rows]

    def read_part(self, part: PartRecord) -> Iterator[bytes]:
        with open(self._store.path(part.file), "rb") as body:
            while chunk := body.read(_CHUNK):
                yield chunk

    def complete(
        self,
        upload: UploadRecord,
        chosen: Sequence[PartRecord],
        record: ObjectRecord,
        notify: Notify | None,
        observe: Callable[[bytes], None] | None = None,
        check: Callable[[], None] | None = None,
    ) -> ObjectRecord:
        """Join `chosen` into the object `record` describes (its `file` is filled in) and
        end the upload, atomically (see the module docstring). `observe` sees the joined
        bytes as they are written, and `check` may refuse them (raising) before the commit.
        UploadGone when the upload ended meanwhile; KeyError when the bucket is gone."""

        def joined() -> Iterator[bytes]:
            for part in chosen:
                for chunk in self.read_part(part):
                    if observe is not None:
                        observe(chunk)
                    yield chunk

        try:
            record.file = self._store.write_file(joined())
        except FileNotFoundError:
            # A part file went away while being joined: the upload was aborted (or completed)
            # meanwhile, or that part was uploaded again.
            if self.get(upload.id) is None:
                raise UploadGone(upload.id) from None
            raise PartReplaced(upload.id) from None
        if check is not None:
            try:
                check()
            except BaseException:
                self._store.path(record.file).unlink(missing_ok=True)
                raise
        files: list[str] = []

        def end_upload(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM uploads WHERE id = ?", (upload.id,)).fetchone() is None:
                raise UploadGone(upload.id)
            files.extend(
                str(row[0])
                for row in conn.execute("SELECT file FROM parts WHERE upload = ?", (upload.id,))
            )
            conn.execute("DELETE FROM parts WHERE upload = ?", (upload.id,))
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload.id,))

        self._store.commit_object(upload.bucket, record, notify, end_upload)
        for file in files:
            self._store.path(file).unlink(missing_ok=True)
        return record

    def abort(self, upload_id: str) -> bool:
        """End an upload and remove its parts; False when there was none."""
        with self._store.transaction() as conn:
            if conn.execute("SELECT 1 FROM uploads WHERE id = ?", (upload_id,)).fetchone() is None:
                return False
            files = [
                str(row[0])
                for row in conn.execute("SELECT file FROM parts WHERE upload = ?", (upload_id,))
            ]
            conn.execute("DELETE FROM parts WHERE upload = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        for file in files:
            self._store.path(file).unlink(missing_ok=True)
        return True

    def listed(
        self, bucket: str, prefix: str, key_marker: str, id_marker: str, limit: int
    ) -> list[UploadRecord]:
        """Up to `limit` uploads of `bucket` under `prefix`, in key order and, for one key,
        in the order they were initiated, after the markers as S3 reads them: without an
        upload id marker every upload of `key_marker` itself is passed over."""
        sql = f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE bucket = ?"
        params: list[Any] = [bucket]
        marker = self.get(id_marker) if id_marker else None
        if marker is not None and marker.key == key_marker:
            sql += " AND (key > ? OR (key = ? AND (initiated > ? OR (initiated = ? AND id > ?))))"
            params += [key_marker, key_marker, marker.initiated, marker.initiated, marker.id]
        elif key_marker:
            sql += " AND key > ?"
            params.append(key_marker)
        if prefix:
            sql += " AND key >= ? AND substr(key, 1, ?) = ?"
            params += [prefix, len(prefix), prefix]
        sql += " ORDER BY key, initiated, id LIMIT ?"
        params.append(limit)
        return [_upload(row) for row in self._store.query(sql, tuple(params))]

    def page(
        self, bucket: str, prefix: str, delimiter: str, key_marker: str, id_marker: str, limit: int
    ) -> tuple[list[UploadRecord], list[str], bool]:
        """One page of ListMultipartUploads: uploads and, with a `delimiter`, the common
        prefixes they roll up into (at most `limit` together); and whether more follow."""
        uploads: list[UploadRecord] = []
        prefixes: list[str] = []
        if delimiter and key_marker.endswith(delimiter) and not id_marker:
            key_marker += _PAST  # resume past every upload under a returned common prefix
        while True:
            batch = self.listed(bucket, prefix, key_marker, id_marker, _PAGE)
            for upload in batch:
                if len(uploads) + len(prefixes) == limit:
                    return uploads, prefixes, True
                at = upload.key.find(delimiter, len(prefix)) if delimiter else -1
                if at >= 0:
                    rolled = upload.key[: at + len(delimiter)]
                    prefixes.append(rolled)
                    key_marker, id_marker = rolled + _PAST, ""
                    break
                uploads.append(upload)
                key_marker, id_marker = upload.key, upload.id
            else:
                if len(batch) < _PAGE:
                    return uploads, prefixes, False
