"""TagResource, UntagResource, ListTagsOfResource (tables, addressed by ARN)."""

from __future__ import annotations

import re
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables.catalog import locked_table
from fireside.tables.engine import WriteTxn
from fireside.tables.errors import not_found, validation
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables

__all__ = ["list_tags_of_resource", "tag_resource", "untag_resource"]

_MAX_TAGS = 50


#: What DynamoDB accepts as a taggable resource: a table's ARN, in any region and account (other
#: ones are then not found). An index's ARN (`table/T/index/I`) is refused as not a table's.
_TABLE_ARN = re.compile(r"arn:aws:dynamodb:[^:]+:\d+:table/[^/]{3,}")


def _check_arn(arn: str) -> None:
    if not _TABLE_ARN.fullmatch(arn):
        raise validation(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")


def _table_of(tables: Tables, ctx: RequestContext, arn: str) -> TableInfo:
    prefix = f"arn:aws:dynamodb:{ctx.region}:{ctx.account_id}:table/"
    _check_arn(arn)
    name = arn[len(prefix) :] if arn.startswith(prefix) else None
    table = tables.catalog.get(ctx.account_id, ctx.region, name) if name else None
    if table is None:
        # DynamoDB's own spelling ("ResourcArn").
        raise not_found(f"Requested resource not found: ResourcArn: {arn} not found")
    return table


async def _change(tables: Tables, table: TableInfo, add: dict[str, str], remove: list[str]) -> None:
    tid = table.table_id

    def job(txn: WriteTxn) -> None:
        live = locked_table(txn, tid)
        if live is None:
            raise not_found()
        changed = TableInfo.from_json(live.to_json())
        changed.tags.update(add)
        for key in remove:
            changed.tags.pop(key, None)
        if len(changed.tags) > _MAX_TAGS:
            raise validation(
                "One or more parameter values were invalid: The number of tags exceeds the "
                f"limit of {_MAX_TAGS}"
            )
        txn.save_table(tid, changed.to_json())
        tables.catalog.put(changed, txn)
        txn.on_rollback.append(lambda: tables.catalog.put(live))

    await tables.engine.write(job)


async def tag_resource(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    _check_arn(params["ResourceArn"])
    if not params["Tags"]:
        raise validation("Atleast one Tag needs to be provided as Input.")  # sic
    table = _table_of(tables, ctx, params["ResourceArn"])
    await _change(tables, table, {t["Key"]: t["Value"] for t in params["Tags"]}, [])
    return {}


async def untag_resource(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    _check_arn(params["ResourceArn"])
    if not params["TagKeys"]:
        raise validation("Atleast one Tag Key needs to be provided as Input.")  # sic
    table = _table_of(tables, ctx, params["ResourceArn"])
    await _change(tables, table, {}, list(params["TagKeys"]))
    return {}


async def list_tags_of_resource(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = _table_of(tables, ctx, params["ResourceArn"])
    tags = [{"Key": k, "Value": v} for k, v in table.tags.items()]
    return {"Tags": tags}
