"""Function URL configurations: at most one per function and one per alias, each with its own
URL id (32 lower-case letters and digits, as AWS's).

Stored in the metadata store's `function_urls` table behind two in-memory maps: by (account,
region, function, qualifier) for the control plane, by URL id for the front door, which looks
one up on every request. The qualifier is `$LATEST` for the function's own URL, else the alias.
A configuration goes with its function or alias (`forget`, `forget_function`); one left behind
by a crash between the two deletes is dropped at start-up.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from fireside.compute.functions import LATEST
from fireside.compute.versions import Versions
from fireside.store.database import Database

__all__ = ["FunctionUrlConfig", "FunctionUrls", "new_url_id", "url_time"]

UrlKey = tuple[str, str, str, str]  # (account, region, function, $LATEST or alias)
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_url_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


def url_time() -> str:
    """A Function URL's CreationTime / LastModifiedTime: ISO 8601, microseconds, `Z`."""
    now = time.time()
    micros = int(now * 1_000_000) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{micros:06d}Z"


@dataclass(frozen=True, slots=True)
class FunctionUrlConfig:
    account: str
    region: str
    function: str
    qualifier: str  # $LATEST or an alias
    url_id: str
    auth_type: str  # NONE | AWS_IAM
    creation_time: str
    last_modified: str
    cors: dict[str, Any] | None = None
    #: As set: None shows as BUFFERED in Get and List, and not at all in Create and Update.
    invoke_mode: str | None = None

    @property
    def key(self) -> UrlKey:
        return (self.account, self.region, self.function, self.qualifier)

    @property
    def function_arn(self) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}"
        return arn if self.qualifier == LATEST else f"{arn}:{self.qualifier}"

    @property
    def alias(self) -> str | None:
        return None if self.qualifier == LATEST else self.qualifier

    def url(self, endpoint_url: str) -> str:
        """`http://<url-id>.lambda-url.<region>.localhost:<port>/` on the server's port."""
        scheme, _, rest = endpoint_url.partition("://")
        port = rest.rstrip("/").rsplit(":", 1)[1] if ":" in rest else ""
        suffix = f":{port}" if port else ""
        return f"{scheme}://{self.url_id}.lambda-url.{self.region}.localhost{suffix}/"

    def evolve(self, **changes: Any) -> FunctionUrlConfig:
        return dataclasses.replace(self, last_modified=url_time(), **changes)

    def to_wire(self, endpoint_url: str, *, full: bool) -> dict[str, Any]:
        """The FunctionUrlConfig members; `full` for Get and List (LastModifiedTime, and
        InvokeMode defaulted), not for Create and Update, as AWS answers."""
        wire: dict[str, Any] = {
            "FunctionUrl": self.url(endpoint_url),
            "FunctionArn": self.function_arn,
            "AuthType": self.auth_type,
            "CreationTime": self.creation_time,
        }
        if self.cors is not None:
            wire["Cors"] = self.cors
        if full:
            wire["LastModifiedTime"] = self.last_modified
            wire["InvokeMode"] = self.invoke_mode or "BUFFERED"
        elif self.invoke_mode is not None:
            wire["InvokeMode"] = self.invoke_mode
        return wire


class FunctionUrls:
    """Every Function URL configuration, by function and qualifier and by URL id."""

    def __init__(self, db: Database, versions: Versions) -> None:
        self._db = db
        self._versions = versions
        self._by_key: dict[UrlKey, FunctionUrlConfig] = {}
        self._by_id: dict[str, FunctionUrlConfig] = {}
        for (text,) in db.query("SELECT record FROM function_urls"):
            self._remember(FunctionUrlConfig(**json.loads(str(text))))
        for config in [c for c in self._by_key.values() if not self._versions.exists(*c.key)]:
            self.delete(config)

    def _remember(self, config: FunctionUrlConfig) -> None:
        self._by_key[config.key] = config
        self._by_id[config.url_id] = config

    def get(self, key: UrlKey) -> FunctionUrlConfig | None:
        return self._by_key.get(key)

    def by_url_id(self, url_id: str) -> FunctionUrlConfig | None:
        return self._by_id.get(url_id.lower())

    def of_function(self, account: str, region: str, function: str) -> list[FunctionUrlConfig]:
        return [c for c in self._by_key.values() if c.key[:3] == (account, region, function)]

    def unused_id(self) -> str:
        while True:
            url_id = new_url_id()
            if url_id not in self._by_id:
                return url_id

    def put(self, config: FunctionUrlConfig) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO function_urls (account, region, function, qualifier, "
                "url_id, record) VALUES (?, ?, ?, ?, ?, ?)",
                (*config.key, config.url_id, json.dumps(dataclasses.asdict(config))),
            )
        self._remember(config)

    def delete(self, config: FunctionUrlConfig) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM function_urls WHERE account = ? AND region = ? AND function = ? "
                "AND qualifier = ?",
                config.key,
            )
        self._by_key.pop(config.key, None)
        self._by_id.pop(config.url_id, None)

    def forget(self, account: str, region: str, function: str, alias: str) -> None:
        """An alias was deleted: its URL goes with it."""
        config = self._by_key.get((account, region, function, alias))
        if config is not None:
            self.delete(config)

    def forget_function(self, account: str, region: str, function: str) -> None:
        for config in self.of_function(account, region, function):
            self.delete(config)
