"""Aliases: named pointers to a function version, optionally splitting traffic with a second one.

An alias `PROD` of function `f` points at version `FunctionVersion`; with a `RoutingConfig`,
`AdditionalVersionWeights` sends that fraction of invokes to one other version instead (the
weighted routing of a canary deployment). Stored in the metadata store's `aliases` table behind
an in-memory map, like functions.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from typing import Any

from fireside.compute.functions import new_revision
from fireside.store.database import Database

AliasKey = tuple[str, str, str, str]  # (account, region, function, alias)


@dataclass(slots=True)
class Alias:
    account: str
    region: str
    function: str
    name: str
    function_version: str
    description: str = ""
    #: version -> weight (0.0 to 1.0) of the one additional version, if any.
    weights: dict[str, float] = field(default_factory=dict)
    revision_id: str = field(default_factory=new_revision)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}:{self.name}"

    def pick_version(self, draw: float | None = None) -> str:
        """The version one invoke runs: the additional one with its weight's probability."""
        point = random.random() if draw is None else draw
        for version, weight in self.weights.items():
            if point < weight:
                return version
            point -= weight
        return self.function_version

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "AliasArn": self.arn,
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
            "RevisionId": self.revision_id,
        }
        if self.weights:
            wire["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.weights)}
        return wire

    def evolve(self, **changes: Any) -> Alias:
        return dataclasses.replace(self, **changes)


class AliasStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[AliasKey, Alias] = {}
        for (text,) in db.query("SELECT record FROM aliases"):
            alias = Alias(**json.loads(str(text)))
            self._cache[self._key(alias)] = alias

    @staticmethod
    def _key(alias: Alias) -> AliasKey:
        return (alias.account, alias.region, alias.function, alias.name)

    def get(self, account: str, region: str, function: str, name: str) -> Alias | None:
        return self._cache.get((account, region, function, name))

    def of_function(self, account: str, region: str, function: str) -> list[Alias]:
        return sorted(
            (a for (acc, reg, fn, _), a in self._cache.items()
             if (acc, reg, fn) == (account, region, function)),
            key=lambda a: a.name,
        )  # fmt: skip

    def put(self, alias: Alias) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO aliases (account, region, function, name, record) "
                "VALUES (?, ?, ?, ?, ?)",
                (*self._key(alias), json.dumps(dataclasses.asdict(alias))),
            )
        self._cache[self._key(alias)] = alias

    def delete(self, alias: Alias) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM aliases WHERE account = ? AND region = ? AND function = ? "
                "AND name = ?",
                self._key(alias),
            )
        self._cache.pop(self._key(alias), None)

    def forget_function(self, account: str, region: str, function: str) -> None:
        """Drop the cached aliases of a deleted function (the registry deleted their rows)."""
        for key in [k for k in self._cache if k[:3] == (account, region, function)]:
            del self._cache[key]
