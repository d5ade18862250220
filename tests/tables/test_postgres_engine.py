"""The PostgreSQL engine keeps a write job one transaction, even when the job reads.

A write job may read through the engine on its own thread: CreateTable's job looks the name
up in the catalog, which on a shared engine reloads the stored tables. That read began and
committed its own transaction on the job's connection, which committed the job's earlier
statements and left the rest autocommitted: another node's catalog refresh saw a table row
with an empty definition (and crashed on it), and a failed job left its half behind.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from fireside.tables.engine import ReadTxn, WriteTxn
from fireside.tables.postgres import PostgresEngine
from tests.conftest import unavailable


def test_a_read_inside_a_write_job_joins_its_transaction(postgresql_url: str | None) -> None:
    if postgresql_url is None:
        unavailable("postgresql", "none reachable (set FIRESIDE_TEST_POSTGRESQL to an admin URL)")
    engine = PostgresEngine(postgresql_url, writers=1, readers=1)
    name = f"half-{uuid.uuid4().hex[:8]}"

    def names(txn: ReadTxn) -> set[str]:
        return {row[3] for row in txn.tables()}

    seen: list[set[str]] = []

    def job(txn: WriteTxn) -> None:
        tid = txn.new_table("123456789012", "us-east-1", name, "{}")
        seen.append(engine.read_now(names))  # the job's own row is visible to it
        txn.save_table(tid, '{"half": true}')
        raise RuntimeError("the job fails after its read")

    try:
        with pytest.raises(RuntimeError):
            asyncio.run(engine.write(job))
        assert name in seen[0]
        # Rolled back whole: neither the row nor its definition was committed by the read.
        assert name not in asyncio.run(engine.read(names))
    finally:
        engine.close()
