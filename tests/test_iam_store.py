"""IAM's memory never holds what its store did not commit: a write SQLite refuses leaves the
entity as the store has it (in-process, with the database made read-only under it)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.context import RequestContext
from fireside.iam import IamProvider, IamStore

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"}
        ],
    }
)
CTX = RequestContext("123456789012", "us-east-1", "request", "http://127.0.0.1:4566")


def call(provider: IamProvider, operation: str, **params: Any) -> dict[str, Any]:
    return asyncio.run(provider.operations()[operation](CTX, params))


def test_a_refused_commit_changes_nothing(tmp_path: Path) -> None:
    store = IamStore(tmp_path / "iam.sqlite")
    provider = IamProvider(store)
    call(provider, "CreateRole", RoleName="kept", AssumeRolePolicyDocument=TRUST)
    store._conn.execute("PRAGMA query_only=ON")  # every write now fails in SQLite itself
    with pytest.raises(sqlite3.OperationalError):
        call(provider, "TagRole", RoleName="kept", Tags=[{"Key": "k", "Value": "v"}])
    with pytest.raises(sqlite3.OperationalError):
        call(provider, "DeleteRole", RoleName="kept")
    with pytest.raises(sqlite3.OperationalError):
        call(provider, "CreateRole", RoleName="never", AssumeRolePolicyDocument=TRUST)
    assert "Tags" not in call(provider, "GetRole", RoleName="kept")["Role"]
    assert [r["RoleName"] for r in call(provider, "ListRoles")["Roles"]] == ["kept"]
    store._conn.execute("PRAGMA query_only=OFF")
    call(provider, "TagRole", RoleName="kept", Tags=[{"Key": "k", "Value": "v"}])
    provider.close()

    again = IamProvider(IamStore(tmp_path / "iam.sqlite"))  # what a restart reads
    assert call(again, "GetRole", RoleName="kept")["Role"]["Tags"] == [{"Key": "k", "Value": "v"}]
    again.close()
