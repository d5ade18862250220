"""Where ECR keeps repositories: one SQLite file (`ecr.sqlite`) in the data directory, one
JSON record per repository per account and region (its settings, policies and tags).

Fireside's ECR holds no images (no registry API, no layers): a repository is a small record,
read and rewritten whole, committed with `synchronous=FULL` before the answer. The provider
runs each operation in a worker thread under one lock, as Parameter Store does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from fireside.store.database import open_durable, write_transaction

__all__ = ["EcrStore", "Repository"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS repositories (
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    name     TEXT NOT NULL,
    record   TEXT NOT NULL,           -- JSON of Repository
    PRIMARY KEY (account, region, name)
)
"""


@dataclass(slots=True)
class Repository:
    account: str
    region: str
    name: str
    created: float
    tag_mutability: str = "MUTABLE"
    mutability_filters: list[dict[str, Any]] | None = None
    scan_on_push: bool = False
    encryption: dict[str, Any] = field(default_factory=lambda: {"encryptionType": "AES256"})
    lifecycle_policy: str | None = None
    policy: str | None = None
    #: Tags in the order set, as ECR lists them.
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{self.name}"

    @property
    def uri(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.name}"


class EcrStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            conn.execute(_SCHEMA)

    def get(self, account: str, region: str, name: str) -> Repository | None:
        row = self._conn.execute(
            "SELECT record FROM repositories WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        ).fetchone()
        return None if row is None else Repository(**json.loads(row[0]))

    def listing(self, account: str, region: str) -> list[Repository]:
        rows = self._conn.execute(
            "SELECT record FROM repositories WHERE account = ? AND region = ? ORDER BY name",
            (account, region),
        ).fetchall()
        return [Repository(**json.loads(record)) for (record,) in rows]

    def count(self, account: str, region: str) -> int:
        (found,) = self._conn.execute(
            "SELECT count(*) FROM repositories WHERE account = ? AND region = ?",
            (account, region),
        ).fetchone()
        return int(found)

    def put(self, repository: Repository) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO repositories (account, region, name, record)"
                " VALUES (?, ?, ?, ?)",
                (
                    repository.account,
                    repository.region,
                    repository.name,
                    json.dumps(asdict(repository)),
                ),
            )

    def delete(self, repository: Repository) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "DELETE FROM repositories WHERE account = ? AND region = ? AND name = ?",
                (repository.account, repository.region, repository.name),
            )

    def close(self) -> None:
        self._conn.close()
