"""`fireside tables` and `fireside tables scan NAME` against a live server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.conftest import ROOT, Server
from tests.tables.conftest import TableFactory


def fireside(server: Server, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fireside", *args, "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "PATH": "/usr/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_list_and_scan(tables_server: Server, ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "name": {"S": "Ada"}})
    ddb.put_item(
        TableName=table,
        Item={"pk": {"S": "b"}, "sk": {"N": "2"}, "tags": {"SS": ["x", "y"]}, "ok": {"BOOL": True}},
    )
    listing = fireside(tables_server, "tables")
    row = next(line for line in listing.splitlines() if line.startswith(table))
    assert row.split()[1] == "2"  # item count
    assert listing.splitlines()[0].split()[:3] == ["NAME", "ITEMS", "SIZE"]
    grid = fireside(tables_server, "tables", "scan", table).splitlines()
    assert grid[0].split() == ["pk", "sk", "name", "ok", "tags"]
    assert any(line.split()[:3] == ["a", "1", "Ada"] for line in grid[1:])
    assert any("{x, y}" in line and "true" in line for line in grid[1:])
