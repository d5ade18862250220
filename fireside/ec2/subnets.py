"""Subnets: Create/Describe/DeleteSubnet, ModifySubnetAttribute, CreateDefaultSubnet.

Subnet CIDRs are checked as AWS checks them: /16 to /28, inside the VPC's block
(`InvalidSubnet.Range`), overlapping no other subnet of the VPC (`InvalidSubnet.Conflict`),
in one of the region's zones. A subnet's explicit route table association goes with it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.ec2.state import (
    Ec2State,
    Operation,
    Resource,
    ec2_error,
    in_use,
    invalid_value,
    new_id,
    paged,
    spec_tags,
    text,
    wrap,
)
from fireside.ec2.zones import zone_id, zone_letters, zone_names

__all__ = ["SubnetApi", "network", "new_subnet"]

_MAX_SUBNETS: Final = 400  # per VPC (AWS's default quota is 200)


def network(cidr: str, parameter: str = "cidrBlock") -> ipaddress.IPv4Network:
    """The block `cidr` names, in its canonical form (AWS: "if you specify 100.68.0.18/18,
    we modify it to 100.68.0.0/18")."""
    try:
        if "/" not in cidr:
            raise ValueError(cidr)
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise invalid_value(
            f"Value ({cidr}) for parameter {parameter} is invalid. This is not a valid CIDR block."
        ) from None


def _subnet_values(subnet: Resource) -> dict[str, list[str]]:
    data = subnet.data
    return {
        "subnet-id": [subnet.id],
        "vpc-id": [data["VpcId"]],
        "vpcId": [data["VpcId"]],
        "cidr-block": [data["CidrBlock"]],
        "cidr": [data["CidrBlock"]],
        "cidrBlock": [data["CidrBlock"]],
        "availability-zone": [data["AvailabilityZone"]],
        "availabilityZone": [data["AvailabilityZone"]],
        "availability-zone-id": [data["AvailabilityZoneId"]],
        "default-for-az": [text(data["DefaultForAz"])],
        "defaultForAz": [text(data["DefaultForAz"])],
        "map-public-ip-on-launch": [text(data["MapPublicIpOnLaunch"])],
        "state": [data["State"]],
        "owner-id": [data["OwnerId"]],
        "subnet-arn": [data["SubnetArn"]],
    }


def new_subnet(vpc: Resource, cidr: ipaddress.IPv4Network, zone: str, *, default: bool) -> Resource:
    subnet_id = new_id("subnet-")
    region, account = vpc.region, vpc.account
    return Resource(
        subnet_id,
        "subnet",
        account,
        region,
        data={
            "SubnetId": subnet_id,
            "VpcId": vpc.id,
            "CidrBlock": str(cidr),
            "AvailabilityZone": zone,
            "AvailabilityZoneId": zone_id(region, zone[-1]),
            "AvailableIpAddressCount": cidr.num_addresses - 5,
            "DefaultForAz": default,
            "MapPublicIpOnLaunch": default,
            "MapCustomerOwnedIpOnLaunch": False,
            "AssignIpv6AddressOnCreation": False,
            "EnableDns64": False,
            "Ipv6Native": False,
            "Ipv6CidrBlockAssociationSet": [],
            "State": "available",
            "OwnerId": account,
            "SubnetArn": f"arn:aws:ec2:{region}:{account}:subnet/{subnet_id}",
            "PrivateDnsNameOptionsOnLaunch": {
                "HostnameType": "ip-name",
                "EnableResourceNameDnsARecord": False,
                "EnableResourceNameDnsAAAARecord": False,
            },
        },
    )


class SubnetApi:
    def __init__(self, state: Ec2State, default_vpc: Callable[[str, str], Resource | None]) -> None:
        self.state = state
        self.default_vpc = default_vpc

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateSubnet": wrap(self.create_subnet),
            "CreateDefaultSubnet": wrap(self.create_default_subnet),
            "DescribeSubnets": wrap(self.describe_subnets),
            "DeleteSubnet": wrap(self.delete_subnet),
            "ModifySubnetAttribute": wrap(self.modify_subnet),
        }

    def create_default_subnet(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vpc = self.default_vpc(ctx.account_id, ctx.region)
        if vpc is None:
            raise ec2_error("DefaultVpcDoesNotExist", "No default VPC exists for this account.")
        zone = params.get("AvailabilityZone") or ""
        self._zone(ctx, zone)
        subnets = [s for s in self.state.mine("subnet", ctx) if s.data["VpcId"] == vpc.id]
        if any(s.data["DefaultForAz"] and s.data["AvailabilityZone"] == zone for s in subnets):
            raise ec2_error(
                "DefaultSubnetAlreadyExistsInAvailabilityZone",
                f"A Default Subnet already exists in availability zone {zone}.",
            )
        taken = [ipaddress.IPv4Network(s.data["CidrBlock"]) for s in subnets]
        for block in ipaddress.IPv4Network(vpc.data["CidrBlock"]).subnets(new_prefix=20):
            if not any(block.overlaps(t) for t in taken):
                subnet = new_subnet(vpc, block, zone, default=True)
                self.state.save(subnet)
                return {"Subnet": subnet.wire()}
        raise ec2_error("InsufficientFreeAddressesInSubnet", "The default VPC has no free /20.")

    # -- subnets ----------------------------------------------------------------------------
    def _zone(self, ctx: RequestContext, zone: str) -> str:
        names = zone_names(ctx.region)
        if zone not in names:
            raise invalid_value(
                f"Value ({zone}) for parameter availabilityZone is invalid. Subnets can"
                f" currently only be created in the following availability zones:"
                f" {', '.join(names)}."
            )
        return zone

    def create_subnet(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vpc = self.state.own(params["VpcId"], "vpc", ctx)
        cidr = params.get("CidrBlock")
        if params.get("Ipv6Native"):
            if not params.get("Ipv6CidrBlock") and not params.get("Ipv6IpamPoolId"):
                raise ec2_error(
                    "MissingParameter",
                    "Either 'ipv6CidrBlock' or 'ipv6IpamPoolId' should be provided.",
                )
            if cidr or params.get("Ipv4IpamPoolId"):
                raise ec2_error(
                    "InvalidParameterCombination",
                    "When specifying ipv4 parameters, cidrBlock or ipv4IpamPoolId, you cannot"
                    " set ipv6Native to true.",
                )
            raise ec2_error("InvalidParameterValue", "Fireside does not make IPv6-only subnets yet")
        if not cidr:
            raise ec2_error("MissingParameter", "The request must contain the parameter CidrBlock")
        block = network(cidr)
        blocks = [
            ipaddress.IPv4Network(a["CidrBlock"]) for a in vpc.data["CidrBlockAssociationSet"]
        ]
        if not 16 <= block.prefixlen <= 28 or not any(block.subnet_of(b) for b in blocks):
            raise ec2_error("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
        cidr = str(block)
        siblings = [s for s in self.state.mine("subnet", ctx) if s.data["VpcId"] == vpc.id]
        if any(block.overlaps(ipaddress.IPv4Network(s.data["CidrBlock"])) for s in siblings):
            raise ec2_error(
                "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
            )
        if len(siblings) >= _MAX_SUBNETS:
            raise ec2_error(
                "SubnetLimitExceeded", "The maximum number of subnets has been reached."
            )
        zone = params.get("AvailabilityZone")
        if zone is None and params.get("AvailabilityZoneId"):
            by_id = {zone_id(ctx.region, letter): letter for letter in zone_letters(ctx.region)}
            letter = by_id.get(params["AvailabilityZoneId"])
            if letter is None:
                raise invalid_value(
                    f"Value ({params['AvailabilityZoneId']}) for parameter availabilityZoneId"
                    " is invalid."
                )
            zone = f"{ctx.region}{letter}"
        if zone is None:
            letters = zone_letters(ctx.region)
            zone = f"{ctx.region}{letters[len(siblings) % len(letters)]}"
        subnet = new_subnet(vpc, block, self._zone(ctx, zone), default=False)
        subnet.tags = spec_tags(params, "subnet")
        self.state.save(subnet)
        return {"Subnet": subnet.wire()}

    def describe_subnets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.state.matching("subnet", ctx, params, "SubnetIds", _subnet_values)
        return paged("Subnets", [s.wire() for s in found], params)

    def delete_subnet(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        subnet = self.state.own(params["SubnetId"], "subnet", ctx)
        for nat in self.state.mine("natgateway", ctx):
            if nat.data["SubnetId"] == subnet.id and nat.data["State"] != "deleted":
                raise in_use("subnet", subnet.id)
        changed = []
        for table in self.state.mine("route-table", ctx):
            kept = [a for a in table.data["Associations"] if a.get("SubnetId") != subnet.id]
            if len(kept) != len(table.data["Associations"]):
                table.data["Associations"] = kept
                changed.append(table)
        self.state.save(*changed, delete=[subnet])
        return {}

    def modify_subnet(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        subnet = self.state.own(params["SubnetId"], "subnet", ctx)
        members = (
            "MapPublicIpOnLaunch",
            "AssignIpv6AddressOnCreation",
            "MapCustomerOwnedIpOnLaunch",
            "EnableDns64",
        )
        for member in members:
            if member in params:
                subnet.data[member] = bool(params[member].get("Value"))
        self.state.save(subnet)
        return {}
