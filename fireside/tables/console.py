"""`fireside tables` for a person at a terminal: list tables, print a table's items as a grid.

Talks to a running Fireside through boto3, like any other client would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["grid", "list_tables", "scan_table"]

_CELL = 40


def render(value: dict[str, Any]) -> str:
    """A compact, readable form of an attribute value."""
    ((tag, inner),) = value.items()
    if tag in ("S", "N"):
        return str(inner)
    if tag == "B":
        return base64.b64encode(inner).decode()
    if tag == "BOOL":
        return "true" if inner else "false"
    if tag == "NULL":
        return "null"
    if tag in ("SS", "NS"):
        return "{" + ", ".join(sorted(map(str, inner))) + "}"
    if tag == "BS":
        return "{" + ", ".join(base64.b64encode(b).decode() for b in inner) + "}"
    if tag == "L":
        return "[" + ", ".join(render(v) for v in inner) + "]"
    return json.dumps({k: render(v) for k, v in inner.items()}, ensure_ascii=False)


def _clip(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def grid(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    table = [list(header), *([_clip(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    return "\n".join(lines)


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = float(count)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def list_tables(client: Any) -> str:
    rows = []
    for page in client.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            table = client.describe_table(TableName=name)["Table"]
            keys = ", ".join(
                f"{k['AttributeName']} ({k['KeyType'].lower()})" for k in table["KeySchema"]
            )
            indexes = len(table.get("GlobalSecondaryIndexes", [])) + len(
                table.get("LocalSecondaryIndexes", [])
            )
            stream = table.get("StreamSpecification", {})
            rows.append(
                [
                    name,
                    str(table["ItemCount"]),
                    _size(table["TableSizeBytes"]),
                    keys,
                    str(indexes),
                    stream.get("StreamViewType", "-") if stream.get("StreamEnabled") else "-",
                ]
            )
    if not rows:
        return "no tables"
    return grid(["NAME", "ITEMS", "SIZE", "KEY", "INDEXES", "STREAM"], rows)


def scan_table(client: Any, name: str, limit: int) -> str:
    table = client.describe_table(TableName=name)["Table"]
    keys = [k["AttributeName"] for k in table["KeySchema"]]
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while len(items) < limit:
        page = client.scan(TableName=name, Limit=min(limit - len(items), 1000), **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    others = sorted({a for item in items for a in item} - set(keys))
    columns = keys + others
    rows = [[render(item[c]) if c in item else "" for c in columns] for item in items]
    shown = grid(columns, rows) if items else "(no items)"
    total = table["ItemCount"]
    if total > len(items):
        shown += f"\n({len(items)} of {total} items; --limit shows more)"
    return shown
