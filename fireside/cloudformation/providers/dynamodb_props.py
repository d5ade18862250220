"""AWS::DynamoDB::Table template properties as DynamoDB's operations take them.

CloudFormation's shapes differ from the API's in places (`SSEEnabled` for `Enabled`, a
`StreamSpecification` with only a view type, policies as objects, numbers as strings); these
functions make the API's, leaving required members that are missing to the operation's
model check, which names them as DynamoDB would.
"""

from __future__ import annotations

import json
from typing import Any

from fireside.cloudformation.providers.support import as_bool, as_int, tag_list
from fireside.cloudformation.resource_types import ResourceContext, ResourceFailed

__all__ = [
    "capacity_map",
    "create_params",
    "gsi_params",
    "policy_json",
    "refuse_unsupported",
    "sse_params",
    "stream_view",
    "throughput_of",
]


def throughput_of(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ResourceFailed(f"Value of property {where} must be an object")
    return {
        member: as_int(value.get(member), f"{where}/{member}")
        for member in ("ReadCapacityUnits", "WriteCapacityUnits")
    }


def capacity_map(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    return {k: as_int(v, f"{where}/{k}") for k, v in dict(value).items()}


def gsi_params(spec: dict[str, Any]) -> dict[str, Any]:
    """A template GSI as CreateTable / UpdateTable take it (ContributorInsights dropped)."""
    where = f"GlobalSecondaryIndexes/{spec.get('IndexName')}"
    # Missing required members stay missing: the operation's model check names them.
    out: dict[str, Any] = {
        k: spec[k] for k in ("IndexName", "KeySchema", "Projection") if spec.get(k) is not None
    }
    throughput = throughput_of(spec.get("ProvisionedThroughput"), f"{where}/ProvisionedThroughput")
    if throughput is not None:
        out["ProvisionedThroughput"] = throughput
    on_demand = capacity_map(spec.get("OnDemandThroughput"), f"{where}/OnDemandThroughput")
    if on_demand is not None:
        out["OnDemandThroughput"] = on_demand
    if spec.get("WarmThroughput") is not None:
        out["WarmThroughput"] = capacity_map(spec["WarmThroughput"], f"{where}/WarmThroughput")
    return out


def sse_params(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {"Enabled": as_bool(value.get("SSEEnabled"), "SSESpecification")}
    for member in ("SSEType", "KMSMasterKeyId"):
        if value.get(member):
            out[member] = value[member]
    return out


def stream_view(properties: dict[str, Any]) -> str | None:
    spec = properties.get("StreamSpecification")
    return None if not spec else spec.get("StreamViewType")


def policy_json(value: Any) -> str | None:
    """A ResourcePolicy's PolicyDocument (an object or a string) as the JSON DynamoDB takes."""
    if not value:
        return None
    document = value.get("PolicyDocument") if isinstance(value, dict) else None
    if document is None:
        raise ResourceFailed("ResourcePolicy requires a PolicyDocument")
    return document if isinstance(document, str) else json.dumps(document)


def refuse_unsupported(properties: dict[str, Any]) -> None:
    if properties.get("KinesisStreamSpecification"):
        raise ResourceFailed(
            "Fireside does not serve Kinesis Data Streams: KinesisStreamSpecification is not "
            "supported"
        )


def create_params(ctx: ResourceContext, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties.get("AttributeDefinitions") or [],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode") or "PROVISIONED",
    }
    throughput = throughput_of(properties.get("ProvisionedThroughput"), "ProvisionedThroughput")
    if throughput is not None:
        params["ProvisionedThroughput"] = throughput
    for member in ("OnDemandThroughput", "WarmThroughput"):
        if properties.get(member) is not None:
            params[member] = capacity_map(properties[member], member)
    if properties.get("GlobalSecondaryIndexes"):
        params["GlobalSecondaryIndexes"] = [
            gsi_params(g) for g in properties["GlobalSecondaryIndexes"]
        ]
    if properties.get("LocalSecondaryIndexes"):
        params["LocalSecondaryIndexes"] = [
            {k: v for k, v in lsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for lsi in properties["LocalSecondaryIndexes"]
        ]
    view = stream_view(properties)
    if view:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    sse = sse_params(properties.get("SSESpecification"))
    if sse is not None:
        params["SSESpecification"] = sse
    if properties.get("DeletionProtectionEnabled") is not None:
        params["DeletionProtectionEnabled"] = as_bool(
            properties["DeletionProtectionEnabled"], "DeletionProtectionEnabled"
        )
    if properties.get("TableClass"):
        params["TableClass"] = properties["TableClass"]
    policy = policy_json(properties.get("ResourcePolicy"))
    if policy is not None:
        params["ResourcePolicy"] = policy
    tags = tag_list(ctx, properties.get("Tags"))
    if tags:
        params["Tags"] = tags
    return params
