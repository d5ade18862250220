"""Fixtures for the DynamoDB tests, which form one conformance suite run against every engine.

`tables_server` is parametrized by engine: SQLite is the session's shared server; PostgreSQL is
a server of its own on a fresh database, created from FIRESIDE_TEST_POSTGRESQL (a URL of a
role that may create databases) or, when unset and running as root on a host with Debian's
postgresql package, from the local cluster (started if it is down). Without PostgreSQL the
PostgreSQL half of the suite is skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Server, unavailable

TableFactory = Callable[..., str]
ENGINES = ["sqlite", "postgresql"]
_LOCAL_ROLE = "postgresql://fireside_test:fireside@127.0.0.1:5432/postgres"


def _local_cluster() -> str | None:
    """Start Debian's local PostgreSQL cluster if needed and make a test role; its admin URL."""
    if os.geteuid() != 0 or shutil.which("pg_lsclusters") is None:
        return None
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    fields = clusters.split()
    if len(fields) < 4:
        return None
    version, name, status = fields[0], fields[1], fields[3]
    if status != "online":
        subprocess.run(["pg_ctlcluster", version, name, "start"], capture_output=True)
    sql = (
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fireside_test') THEN "
        "CREATE ROLE fireside_test LOGIN CREATEDB PASSWORD 'fireside'; END IF; "
        "ALTER ROLE fireside_test CREATEDB; END $$;"
    )
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-q", "-c", sql],
        capture_output=True,
        text=True,
    )
    return _LOCAL_ROLE if done.returncode == 0 else None


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str | None]:
    """A fresh database for this session (dropped at the end), or None without PostgreSQL."""
    try:
        import psycopg
    except ImportError:
        yield None
        return
    admin = os.environ.get("FIRESIDE_TEST_POSTGRESQL") or _local_cluster()
    if admin is None:
        yield None
        return
    name = f"fireside_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error:
        yield None
        return
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session", params=ENGINES)
def engine_env(request: pytest.FixtureRequest, postgresql_url: str | None) -> dict[str, str]:
    """The environment that selects this run's engine in a Fireside server."""
    if request.param == "sqlite":
        return {}
    if postgresql_url is None:
        unavailable("postgresql", "none reachable (set FIRESIDE_TEST_POSTGRESQL to an admin URL)")
    return {"FIRESIDE_TABLES_BACKEND": postgresql_url}


@pytest.fixture(scope="session")
def tables_server(
    engine_env: dict[str, str], server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    if not engine_env:
        yield server
        return
    srv = Server(tmp_path_factory.mktemp("fireside-pg"), env=engine_env).start()
    yield srv
    srv.stop()


@pytest.fixture()
def ddb(tables_server: Server) -> Any:
    return tables_server.client("dynamodb")


def table_params(
    name: str,
    hash_key: tuple[str, str] = ("pk", "S"),
    range_key: tuple[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    definitions = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
    if range_key is not None:
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
        definitions.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
    for name_, type_ in extra.pop("attributes", {}).items():
        definitions.append({"AttributeName": name_, "AttributeType": type_})
    return {
        "TableName": name,
        "KeySchema": schema,
        "AttributeDefinitions": definitions,
        "BillingMode": "PAY_PER_REQUEST",
        **extra,
    }


@pytest.fixture()
def make_table(ddb: Any) -> Iterator[TableFactory]:
    """Create (and later delete) a table; returns its name."""
    created: list[str] = []

    def make(
        hash_key: tuple[str, str] = ("pk", "S"),
        range_key: tuple[str, str] | None = None,
        **extra: Any,
    ) -> str:
        name = extra.pop("TableName", f"t-{uuid.uuid4().hex[:12]}")
        ddb.create_table(**table_params(name, hash_key, range_key, **extra))
        created.append(name)
        return name

    yield make
    for name in created:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)
