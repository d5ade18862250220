"""Regions, Availability Zones and account attributes: what a client asks before it builds a
network (CDK's `Fn::GetAZs`, Terraform's `aws_availability_zones`).

Every region Fireside answers for has AWS's usual zones (`us-east-1a` to `f`, `us-west-2a` to
`d`, `a` to `c` elsewhere), with zone ids made the way AWS spells them (`use1-az1`). They are names only: Fireside runs everything on
its own host.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.ec2.state import invalid_value

__all__ = ["REGIONS", "zone_id", "zone_letters", "zone_names", "zones"]

#: Zones per region where AWS has more than three (elsewhere `a` to `c`).
_LETTERS: Final = {"us-east-1": "abcdef", "us-west-2": "abcd"}
REGIONS: Final = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)


def zone_letters(region: str) -> str:
    return _LETTERS.get(region, "abc")


def zone_names(region: str) -> list[str]:
    return [f"{region}{letter}" for letter in zone_letters(region)]


def zone_id(region: str, letter: str) -> str:
    """AWS's zone id form: `us-east-1` + `a` -> `use1-az1`."""
    parts = region.split("-")
    short = parts[0] + "".join(p[:1] for p in parts[1:-1]) + parts[-1]
    return f"{short}-az{zone_letters(region).index(letter) + 1}"


def zones(region: str) -> list[dict[str, Any]]:
    return [
        {
            "State": "available",
            "OptInStatus": "opt-in-not-required",
            "Messages": [],
            "RegionName": region,
            "ZoneName": f"{region}{letter}",
            "ZoneId": zone_id(region, letter),
            "GroupName": region,
            "NetworkBorderGroup": region,
            "ZoneType": "availability-zone",
        }
        for letter in zone_letters(region)
    ]


_ZONE_FILTERS: Final = {
    "zone-name": "ZoneName",
    "zone-id": "ZoneId",
    "region-name": "RegionName",
    "state": "State",
    "group-name": "GroupName",
    "zone-type": "ZoneType",
    "opt-in-status": "OptInStatus",
}


def _filtered(
    rows: list[dict[str, Any]], filters: list[dict[str, Any]], names: dict[str, str]
) -> list[dict[str, Any]]:
    for flt in filters:
        column = names.get(flt.get("Name") or "")
        if column is None:
            raise invalid_value(f"The filter '{flt.get('Name')}' is invalid")
        rows = [
            r
            for r in rows
            if any(fnmatch.fnmatchcase(r[column], v) for v in flt.get("Values") or [])
        ]
    return rows


def describe_availability_zones(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = zones(ctx.region)
    names = params.get("ZoneNames") or []
    ids = params.get("ZoneIds") or []
    for name in names:
        if name not in {r["ZoneName"] for r in rows}:
            raise invalid_value(f"The zone '{name}' does not exist.")
    for zid in ids:
        if zid not in {r["ZoneId"] for r in rows}:
            raise invalid_value(f"The zone '{zid}' does not exist.")
    if names or ids:
        rows = [r for r in rows if r["ZoneName"] in names or r["ZoneId"] in ids]
    return {"AvailabilityZones": _filtered(rows, params.get("Filters") or [], _ZONE_FILTERS)}


def describe_regions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = [
        {
            "RegionName": name,
            "Endpoint": f"ec2.{name}.amazonaws.com",
            "OptInStatus": "opt-in-not-required",
        }
        for name in REGIONS
    ]
    wanted = params.get("RegionNames") or []
    for name in wanted:
        if name not in REGIONS:
            raise ec2_region_error(name)
    if wanted:
        rows = [r for r in rows if r["RegionName"] in wanted]
    names = {"region-name": "RegionName", "endpoint": "Endpoint", "opt-in-status": "OptInStatus"}
    return {"Regions": _filtered(rows, params.get("Filters") or [], names)}


def ec2_region_error(name: str) -> Exception:
    return invalid_value(f"Invalid region: {name}")


def account_attributes(default_vpc: str | None) -> dict[str, list[str]]:
    return {
        "supported-platforms": ["VPC"],
        "default-vpc": [default_vpc or "none"],
        "max-instances": ["20"],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }


def describe_account_attributes(default_vpc: str | None, params: dict[str, Any]) -> dict[str, Any]:
    attributes = account_attributes(default_vpc)
    wanted = params.get("AttributeNames") or list(attributes)
    for name in wanted:
        if name not in attributes:
            raise invalid_value(f"Value ({name}) for parameter attributeName is invalid.")
    return {
        "AccountAttributes": [
            {
                "AttributeName": name,
                "AttributeValues": [{"AttributeValue": v} for v in attributes[name]],
            }
            for name in wanted
        ]
    }
