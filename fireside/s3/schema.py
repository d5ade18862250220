"""The tables of the S3 store (`<data dir>/s3/s3.sqlite`), created when it opens.

`objects` holds each key's current version; `versions` the noncurrent ones and delete markers
(`fireside.s3.versions`); `uploads` and `parts` multipart uploads in progress
(`fireside.s3.uploads`); `bucket_config` one JSON document per bucket and kind (versioning,
encryption, policy, public-access-block, ownership, lifecycle, cors); `notifications` each
bucket's NotificationConfiguration. Statements are separated by `;`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SCHEMA"]

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS buckets (
    name     TEXT PRIMARY KEY,
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    created  REAL NOT NULL,
    tags     TEXT                       -- JSON object, NULL when the bucket has no tag set
);
CREATE TABLE IF NOT EXISTS objects (
    bucket   TEXT NOT NULL,
    key      TEXT NOT NULL,
    size     INTEGER NOT NULL,
    etag     TEXT NOT NULL,             -- quoted hex MD5
    modified REAL NOT NULL,
    file     TEXT NOT NULL,             -- body file name under objects/
    headers  TEXT NOT NULL,             -- JSON: content type, encoding... and user metadata
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_config (
    bucket   TEXT NOT NULL,
    kind     TEXT NOT NULL,             -- versioning, encryption, policy, public-access-block...
    config   TEXT NOT NULL,             -- JSON, as the Put operation's payload stored it
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    id       TEXT PRIMARY KEY,
    bucket   TEXT NOT NULL,
    key      TEXT NOT NULL,
    initiated REAL NOT NULL,
    account  TEXT NOT NULL,             -- the initiator
    headers  TEXT NOT NULL              -- JSON: what the completed object will be stored with
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated);
CREATE TABLE IF NOT EXISTS parts (
    upload   TEXT NOT NULL,
    number   INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    etag     TEXT NOT NULL,             -- quoted hex MD5 of the part
    modified REAL NOT NULL,
    file     TEXT NOT NULL,             -- body file name under objects/
    checksums TEXT NOT NULL,            -- JSON: the part's Checksum* members
    PRIMARY KEY (upload, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notifications (
    bucket   TEXT PRIMARY KEY,
    config   TEXT NOT NULL              -- JSON: the bucket's NotificationConfiguration
);
CREATE TABLE IF NOT EXISTS versions (
    bucket   TEXT NOT NULL,
    key      TEXT NOT NULL,
    seq      INTEGER NOT NULL,          -- per key, newest highest
    version  TEXT NOT NULL,
    marker   INTEGER NOT NULL,          -- 1: a delete marker (no body)
    size     INTEGER NOT NULL,
    etag     TEXT NOT NULL,
    modified REAL NOT NULL,
    file     TEXT,                      -- body file name under objects/ (NULL for a marker)
    headers  TEXT NOT NULL,
    PRIMARY KEY (bucket, key, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS versions_by_id ON versions (bucket, key, version)
"""
