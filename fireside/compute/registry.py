"""Functions on disk and in memory: the metadata store's `functions` table behind a cache.

Reads (every invoke) hit the in-memory map; writes commit to SQLite first, then update the map,
so what a caller was told is durable and what the engine sees is never ahead of the disk.
"""

from __future__ import annotations

import re

from fireside.aws.errors import ServiceError
from fireside.compute.errors import access_denied, lambda_error
from fireside.compute.functions import LATEST, FunctionConfig
from fireside.store.database import Database

FunctionKey = tuple[str, str, str]  # (account, region, name)

_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


def not_found(arn: str) -> ServiceError:
    return lambda_error("ResourceNotFoundException", f"Function not found: {arn}", Type="User")


def parse_function_name(
    value: str, account: str, region: str, qualifier: str | None = None
) -> tuple[str, str | None]:
    """Split a FunctionName (name, partial ARN or ARN, maybe qualified) into name and qualifier.

    An ARN naming another region is not reachable from this one; one naming another account
    is refused with AccessDeniedException (Invoke first asks that account's resource policy,
    see `named_account`).
    """
    match = _ARN.match(value)
    if match is None:
        raise not_found(f"arn:aws:lambda:{region}:{account}:function:{value}")
    name = match["name"]
    if match["account"] and match["account"] != account:
        raise access_denied()
    if match["region"] and match["region"] != region:
        raise lambda_error(
            "ResourceNotFoundException",
            f"Functions from '{match['region']}' are not reachable in this region ('{region}')",
            Type="User",
        )
    found_qualifier = match["qualifier"]
    if qualifier and found_qualifier and qualifier != found_qualifier:
        raise lambda_error(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
            Type="User",
        )
    return name, qualifier or found_qualifier


def named_account(value: str) -> str | None:
    """The account a FunctionName's ARN (or partial ARN) names, None when it names none."""
    match = _ARN.match(value)
    return None if match is None else match["account"]


class FunctionRegistry:
    """Every version of every function: `$LATEST` and the published ones."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[FunctionKey, FunctionConfig] = {}
        self._versions: dict[FunctionKey, dict[str, FunctionConfig]] = {}
        for (text,) in db.query("SELECT config FROM functions"):
            config = FunctionConfig.from_json(str(text))
            self._remember(config)

    def _remember(self, config: FunctionConfig) -> None:
        key = (config.account, config.region, config.name)
        if config.is_latest:
            self._cache[key] = config
        else:
            self._versions.setdefault(key, {})[config.version] = config

    def get(self, account: str, region: str, name: str) -> FunctionConfig | None:
        return self._cache.get((account, region, name))

    def require(self, account: str, region: str, name: str) -> FunctionConfig:
        config = self._cache.get((account, region, name))
        if config is None:
            raise not_found(f"arn:aws:lambda:{region}:{account}:function:{name}")
        return config

    def version(self, account: str, region: str, name: str, version: str) -> FunctionConfig | None:
        if version == LATEST:
            return self.get(account, region, name)
        return self._versions.get((account, region, name), {}).get(version)

    def versions(self, account: str, region: str, name: str) -> list[FunctionConfig]:
        """Published versions, oldest first (without `$LATEST`)."""
        found = self._versions.get((account, region, name), {})
        return [found[v] for v in sorted(found, key=int)]

    def in_region(self, account: str, region: str) -> list[FunctionConfig]:
        return sorted(
            (c for (a, r, _), c in self._cache.items() if a == account and r == region),
            key=lambda c: c.name,
        )

    def every(self) -> list[FunctionConfig]:
        """`$LATEST` of every function."""
        return list(self._cache.values())

    def every_version(self) -> list[FunctionConfig]:
        return [config for found in self._versions.values() for config in found.values()]

    def put(self, *configs: FunctionConfig) -> None:
        """Store versions of one or more functions in one transaction."""
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO functions (account, region, name, version, config) "
                "VALUES (?, ?, ?, ?, ?)",
                [(c.account, c.region, c.name, c.version, c.to_json()) for c in configs],
            )
        for config in configs:
            self._remember(config)

    def delete(self, config: FunctionConfig) -> None:
        """Delete the function: every version (and, in the same transaction, its aliases)."""
        key = (config.account, config.region, config.name)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM functions WHERE account = ? AND region = ? AND name = ?", key)
            conn.execute(
                "DELETE FROM aliases WHERE account = ? AND region = ? AND function = ?", key
            )
        self._cache.pop(key, None)
        self._versions.pop(key, None)

    def delete_version(self, config: FunctionConfig) -> None:
        key = (config.account, config.region, config.name)
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM functions WHERE account = ? AND region = ? AND name = ? "
                "AND version = ?",
                (*key, config.version),
            )
        self._versions.get(key, {}).pop(config.version, None)
