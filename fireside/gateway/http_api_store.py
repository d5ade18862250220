"""The durable store of API Gateway HTTP APIs: one record per API, in its own SQLite file.

An HTTP API is a small tree (the API, its routes, integrations, authorizers, stages and
deployments, rarely more than a few hundred entries), always read and changed as a whole by
the control plane and read as a whole by the data plane. So each API is one JSON record, and
each change rewrites it in one durable transaction: there is no state in which a route points
at a half-written integration.

API ids are unique across accounts and regions (the data plane finds an API by its id alone,
as AWS's `<api-id>.execute-api...` host names do), so the id is the key; account and region
are columns, for listing and for the account check of every control-plane call. Every record
is also held in memory: the data plane reads a request's API without touching the disk.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fireside.store.database import open_durable, write_transaction

__all__ = ["HttpApi", "HttpApiStore", "new_id"]

_ALPHABET = string.ascii_lowercase + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS http_apis (
    api_id  TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    record  TEXT NOT NULL            -- JSON of HttpApi
)
"""


def new_id(length: int = 10) -> str:
    """An id as API Gateway makes them: lowercase letters and digits (10 for APIs, 7 for the
    resources inside one)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(slots=True)
class HttpApi:
    """One API and everything in it. Members hold the wire shapes of the control plane
    (`{"RouteId": ..., "RouteKey": ...}`), so reading one back is a copy; deployments carry
    their snapshot under `_snapshot` (never sent)."""

    account: str
    region: str
    api: dict[str, Any]
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Tags of the stages (the API's own are in `api["Tags"]`).
    stage_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    #: WebSocket APIs' route responses and integration responses, by route and integration id.
    route_responses: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    integration_responses: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def api_id(self) -> str:
        return str(self.api["ApiId"])

    def to_json(self) -> str:
        return json.dumps(
            {
                "account": self.account,
                "region": self.region,
                "api": self.api,
                "routes": self.routes,
                "integrations": self.integrations,
                "authorizers": self.authorizers,
                "stages": self.stages,
                "deployments": self.deployments,
                "stage_tags": self.stage_tags,
                "route_responses": self.route_responses,
                "integration_responses": self.integration_responses,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> HttpApi:
        data = json.loads(text)
        return cls(
            data["account"],
            data["region"],
            data["api"],
            data.get("routes", {}),
            data.get("integrations", {}),
            data.get("authorizers", {}),
            data.get("stages", {}),
            data.get("deployments", {}),
            data.get("stage_tags", {}),
            data.get("route_responses", {}),
            data.get("integration_responses", {}),
        )

    def copy(self) -> HttpApi:
        """A deep copy to change: the stored record stays as it was until `put` succeeds."""
        return HttpApi.from_json(self.to_json())

    def snapshot(self) -> dict[str, Any]:
        """What a deployment freezes: the routes, integrations and authorizers as they are (and
        a WebSocket API's route and integration responses)."""
        frozen: dict[str, Any] = json.loads(
            json.dumps(
                {
                    "routes": self.routes,
                    "integrations": self.integrations,
                    "authorizers": self.authorizers,
                    "route_responses": self.route_responses,
                    "integration_responses": self.integration_responses,
                }
            )
        )
        return frozen


class HttpApiStore:
    """HTTP APIs by id, durable in `path`, cached in memory."""

    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            conn.execute(_SCHEMA)
        self._apis: dict[str, HttpApi] = {}
        for (record,) in self._conn.execute("SELECT record FROM http_apis"):
            api = HttpApi.from_json(record)
            self._apis[api.api_id] = api

    def get(self, api_id: str) -> HttpApi | None:
        """The API with this id in any account (the data plane's lookup)."""
        return self._apis.get(api_id)

    def find(self, account: str, region: str, api_id: str) -> HttpApi | None:
        """The API with this id if it belongs to `account` in `region`."""
        api = self._apis.get(api_id)
        if api is None or api.account != account or api.region != region:
            return None
        return api

    def list(self, account: str, region: str) -> list[HttpApi]:
        return [a for a in self._apis.values() if a.account == account and a.region == region]

    def new_api_id(self) -> str:
        while True:
            candidate = new_id()
            if candidate not in self._apis:
                return candidate

    def put(self, api: HttpApi) -> None:
        """Write `api` durably (before the caller answers), then publish it in memory."""
        record = api.to_json()
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO http_apis (api_id, account, region, record) "
                "VALUES (?, ?, ?, ?)",
                (api.api_id, api.account, api.region, record),
            )
        self._apis[api.api_id] = api

    def delete(self, api_id: str) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM http_apis WHERE api_id = ?", (api_id,))
        self._apis.pop(api_id, None)

    def close(self) -> None:
        self._conn.close()


def now() -> float:
    return time.time()
