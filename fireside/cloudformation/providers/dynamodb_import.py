"""A table made by ImportTable from S3 (AWS::DynamoDB::Table's ImportSourceSpecification).

ImportTable takes only part of a table's definition (`TableCreationParameters`: keys,
attributes, billing, throughput, SSE, global secondary indexes), so CloudFormation's
handler imports first, waits for the import to end, and then sets the rest of the template
on the table it made, as an update would. An import that fails (a missing bucket, items
DynamoDB refuses) fails the resource with the import's own message, and the table it may
have left (with the items that did go in) is deleted: nothing half-made stays.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.support import call, wait_for
from fireside.cloudformation.resource_types import ResourceContext, ResourceFailed

__all__ = ["import_table", "left_for_after"]

#: CreateTable members ImportTable's TableCreationParameters take too.
_CREATION = (
    "TableName",
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "SSESpecification",
    "GlobalSecondaryIndexes",
)
#: An import of many objects may take a while; CloudFormation waits hours, this one less.
_IMPORT_TIMEOUT = 3600.0


def left_for_after(create_params: dict[str, Any]) -> dict[str, Any]:
    """The CreateTable members an import does not set, to apply once it is done."""
    return {k: v for k, v in create_params.items() if k not in _CREATION}


async def import_table(
    ctx: ResourceContext, create_params: dict[str, Any], spec: dict[str, Any]
) -> None:
    """Import into a new table as `create_params` define it; return once the import is
    COMPLETED (ResourceFailed, and no table left, otherwise)."""
    if not isinstance(spec, dict):
        raise ResourceFailed("Value of property ImportSourceSpecification must be an object")
    if create_params.get("LocalSecondaryIndexes"):
        raise ResourceFailed(
            "ImportSourceSpecification cannot be combined with LocalSecondaryIndexes: "
            "ImportTable creates no local secondary indexes"
        )
    params: dict[str, Any] = {
        "TableCreationParameters": {k: v for k, v in create_params.items() if k in _CREATION},
        "S3BucketSource": spec.get("S3BucketSource"),
        "InputFormat": spec.get("InputFormat"),
    }
    for member in ("InputFormatOptions", "InputCompressionType"):
        if spec.get(member) is not None:
            params[member] = spec[member]
    started = await call(ctx, "dynamodb", "ImportTable", params)
    arn = started["ImportTableDescription"]["ImportArn"]
    outcome: dict[str, Any] = {}

    async def ended() -> bool:
        found = await call(ctx, "dynamodb", "DescribeImport", {"ImportArn": arn})
        outcome.update(found["ImportTableDescription"])
        return outcome.get("ImportStatus") not in ("IN_PROGRESS", "CANCELLING")

    await wait_for(ended, f"the import into {create_params['TableName']}", _IMPORT_TIMEOUT)
    if outcome.get("ImportStatus") == "COMPLETED":
        return
    # A failed import may leave its table with what did go in (or none was made).
    with contextlib.suppress(ServiceError):
        await ctx.call("dynamodb", "DeleteTable", {"TableName": create_params["TableName"]})
    raise ResourceFailed(
        f'Resource handler returned message: "Import {outcome.get("ImportStatus")}: '
        f'{outcome.get("FailureCode")}: {outcome.get("FailureMessage")}" '
        f"(HandlerErrorCode: NotStabilized)"
    )
