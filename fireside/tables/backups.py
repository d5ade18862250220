"""UpdateContinuousBackups and DescribeContinuousBackups: the point-in-time recovery switch.

Fireside keeps the flag (durably, in the table's stored definition) because exports require
it, as on DynamoDB; it keeps no history, so restoring to a point in time
(RestoreTableToPointInTime) stays unimplemented and an export always captures the table as it
is when the export runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.tables.catalog import locked_table, table_name_of
from fireside.tables.engine import WriteTxn
from fireside.tables.errors import dynamodb_error
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables

__all__ = [
    "describe_continuous_backups",
    "pitr_description",
    "table_not_found_by_name",
    "update_continuous_backups",
]

#: DynamoDB's default (and maximum) recovery window.
RECOVERY_DAYS = 35


def table_not_found_by_name(name: str) -> ServiceError:
    """The backup and export APIs' own not-found error (not ResourceNotFoundException)."""
    return dynamodb_error("TableNotFoundException", f"Table not found: {name}")


def _table(tables: Tables, ctx: RequestContext, name: str) -> TableInfo:
    table = tables.catalog.get(ctx.account_id, ctx.region, name)
    if table is None:
        raise table_not_found_by_name(table_name_of(name))
    return table


def pitr_description(table: TableInfo, now: float) -> dict[str, Any]:
    if not table.pitr_enabled or table.pitr_since is None:
        return {"PointInTimeRecoveryStatus": "DISABLED"}
    return {
        "PointInTimeRecoveryStatus": "ENABLED",
        "EarliestRestorableDateTime": datetime.fromtimestamp(table.pitr_since, UTC),
        "LatestRestorableDateTime": datetime.fromtimestamp(now, UTC),
        "RecoveryPeriodInDays": table.pitr_days or RECOVERY_DAYS,
    }


def _description(table: TableInfo, now: float) -> dict[str, Any]:
    return {
        "ContinuousBackupsStatus": "ENABLED",
        "PointInTimeRecoveryDescription": pitr_description(table, now),
    }


async def describe_continuous_backups(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = _table(tables, ctx, params["TableName"])
    return {"ContinuousBackupsDescription": _description(table, tables.clock())}


async def update_continuous_backups(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = _table(tables, ctx, params["TableName"])
    spec = params["PointInTimeRecoverySpecification"]
    enabled = bool(spec["PointInTimeRecoveryEnabled"])
    days = spec.get("RecoveryPeriodInDays")
    if days is not None and not 1 <= days <= RECOVERY_DAYS:
        bound = (
            "greater than or equal to 1" if days < 1 else f"less than or equal to {RECOVERY_DAYS}"
        )
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{days}' at "
            "'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy "
            f"constraint: Member must have value {bound}",
            400,
        )
    tid = table.table_id
    now = tables.clock()

    def job(txn: WriteTxn) -> TableInfo:
        live = locked_table(txn, tid)
        if live is None:
            raise table_not_found_by_name(table.name)
        changed = TableInfo.from_json(live.to_json())
        if enabled and not changed.pitr_enabled:
            changed.pitr_since = now
        elif not enabled:
            changed.pitr_since = None
        if not enabled:
            changed.pitr_days = None
        elif days is not None:
            changed.pitr_days = int(days)
        changed.pitr_enabled = enabled
        changed.version += 1
        txn.save_table(tid, changed.to_json())
        tables.catalog.put(changed, txn)
        txn.on_rollback.append(lambda: tables.catalog.put(live))
        return changed

    changed = await tables.engine.write(job)
    return {"ContinuousBackupsDescription": _description(changed, now)}
