"""Durable records of API Gateway REST APIs, API keys and usage plans.

Each record is a JSON document in one SQLite file (`apigateway.sqlite` in the data directory),
keyed by account, region, kind and id: a whole REST API (its resources, methods, integrations,
deployments, stages and authorizers) is one document, rewritten on every change. APIs are small
(AWS caps one at 300 resources), so a rewrite costs less than keeping a row per resource in
step, and a change commits or rolls back as a unit. Every record is also held in memory: the
data plane reads them on each request without touching SQLite.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fireside.store.database import open_durable, write_transaction

__all__ = ["API_KEY", "REST_API", "USAGE_PLAN", "RestApiStore", "new_id"]

REST_API = "restapi"
API_KEY = "apikey"
USAGE_PLAN = "usageplan"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    kind    TEXT NOT NULL,     -- restapi, apikey, usageplan
    id      TEXT NOT NULL,
    record  TEXT NOT NULL,     -- JSON, in the shapes the API answers with
    PRIMARY KEY (account, region, kind, id)
)
"""

Scope = tuple[str, str, str]
_ALPHABET = string.ascii_lowercase + string.digits


def new_id(length: int = 10) -> str:
    """An id as API Gateway makes them: lowercase letters and digits (10 for APIs and keys,
    6 for resources, deployments, authorizers and the like)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class RestApiStore:
    """Records by (account, region, kind) and id, in memory and in SQLite."""

    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            conn.execute(_SCHEMA)
        self._records: dict[Scope, dict[str, dict[str, Any]]] = {}
        #: Which account and region own an id: data-plane requests name only the id.
        self._owners: dict[tuple[str, str], tuple[str, str]] = {}
        rows = self._conn.execute("SELECT account, region, kind, id, record FROM records")
        for account, region, kind, key, record in rows:
            self._remember(account, region, kind, key, json.loads(record))

    def _remember(
        self, account: str, region: str, kind: str, key: str, record: dict[str, Any]
    ) -> None:
        self._records.setdefault((account, region, kind), {})[key] = record
        self._owners[(kind, key)] = (account, region)

    def get(self, account: str, region: str, kind: str, key: str) -> dict[str, Any] | None:
        return self._records.get((account, region, kind), {}).get(key)

    def all(self, account: str, region: str, kind: str) -> list[dict[str, Any]]:
        return list(self._records.get((account, region, kind), {}).values())

    def owner(self, kind: str, key: str) -> tuple[str, str] | None:
        """The account and region that hold the record `key` of `kind`, if any does."""
        return self._owners.get((kind, key))

    def taken(self, kind: str, key: str) -> bool:
        return (kind, key) in self._owners

    def put(self, account: str, region: str, kind: str, key: str, record: dict[str, Any]) -> None:
        """Store `record` durably (committed before this returns), then in memory."""
        text = json.dumps(record, separators=(",", ":"))
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO records (account, region, kind, id, record)"
                " VALUES (?, ?, ?, ?, ?)",
                (account, region, kind, key, text),
            )
        self._remember(account, region, kind, key, record)

    def delete(self, account: str, region: str, kind: str, key: str) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "DELETE FROM records WHERE account = ? AND region = ? AND kind = ? AND id = ?",
                (account, region, kind, key),
            )
        self._records.get((account, region, kind), {}).pop(key, None)
        self._owners.pop((kind, key), None)

    def scopes(self, kind: str) -> Iterator[tuple[str, str, dict[str, dict[str, Any]]]]:
        for (account, region, found), records in self._records.items():
            if found == kind:
                yield account, region, records

    def close(self) -> None:
        self._conn.close()
