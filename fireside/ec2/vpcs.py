"""VPCs and subnets: Create/Describe/Delete, Describe/ModifyVpcAttribute,
ModifySubnetAttribute, and the default VPC.

A new VPC comes with its main route table and its `default` security group, as in AWS. Every
account has, in each region, a default VPC (172.31.0.0/16) with a default subnet per zone, an
attached internet gateway and a route to it, made the first time the account calls EC2 there
(`DefaultVpcs.ensure`); once deleted it stays deleted until CreateDefaultVpc.

Subnet CIDRs are checked as AWS checks them: /16 to /28, inside the VPC's block
(`InvalidSubnet.Range`), overlapping no other subnet of the VPC (`InvalidSubnet.Conflict`).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.ec2.gateways import new_gateway
from fireside.ec2.groups import default_group
from fireside.ec2.routes import is_main, main_table
from fireside.ec2.state import (
    Ec2State,
    Operation,
    Resource,
    ec2_error,
    invalid_value,
    new_id,
    spec_tags,
    text,
    wrap,
)
from fireside.ec2.zones import ZONE_LETTERS, zone_id

__all__ = ["VpcApi"]

_DEFAULT_CIDR: Final = "172.31.0.0/16"
_MAX_VPCS: Final = 100  # per account and region (AWS's default quota is 5)
_MAX_SUBNETS: Final = 400  # per VPC (AWS's default quota is 200)
_VPC_ATTRIBUTES: Final = {
    "enableDnsSupport": "EnableDnsSupport",
    "enableDnsHostnames": "EnableDnsHostnames",
    "enableNetworkAddressUsageMetrics": "EnableNetworkAddressUsageMetrics",
}


def _network(cidr: str, parameter: str = "cidrBlock") -> ipaddress.IPv4Network:
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


def _vpc_values(vpc: Resource) -> dict[str, list[str]]:
    data = vpc.data
    return {
        "vpc-id": [vpc.id],
        "cidr": [data["CidrBlock"]],
        "cidr-block-association.cidr-block": [data["CidrBlock"]],
        "cidrBlock": [data["CidrBlock"]],
        "is-default": [text(data["IsDefault"])],
        "isDefault": [text(data["IsDefault"])],
        "state": [data["State"]],
        "owner-id": [data["OwnerId"]],
        "dhcp-options-id": [data["DhcpOptionsId"]],
    }


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


def new_vpc(account: str, region: str, cidr: str, *, default: bool) -> list[Resource]:
    """A VPC record with its main route table and default security group."""
    vpc_id = new_id("vpc-")
    vpc = Resource(
        vpc_id,
        "vpc",
        account,
        region,
        data={
            "VpcId": vpc_id,
            "CidrBlock": cidr,
            "State": "available",
            "DhcpOptionsId": "default",
            "InstanceTenancy": "default",
            "IsDefault": default,
            "OwnerId": account,
            "CidrBlockAssociationSet": [
                {
                    "AssociationId": new_id("vpc-cidr-assoc-"),
                    "CidrBlock": cidr,
                    "CidrBlockState": {"State": "associated"},
                }
            ],
            "_attributes": {
                "EnableDnsSupport": True,
                "EnableDnsHostnames": default,
                "EnableNetworkAddressUsageMetrics": False,
            },
        },
    )
    return [vpc, main_table(account, region, vpc_id, cidr), default_group(account, region, vpc_id)]


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


def vpc_wire(vpc: Resource) -> dict[str, Any]:
    out = vpc.wire()
    out.pop("_attributes", None)
    return out


class VpcApi:
    def __init__(self, state: Ec2State) -> None:
        self.state = state

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateVpc": wrap(self.create_vpc),
            "CreateDefaultVpc": wrap(self.create_default_vpc),
            "DescribeVpcs": wrap(self.describe_vpcs),
            "DeleteVpc": wrap(self.delete_vpc),
            "DescribeVpcAttribute": wrap(self.describe_attribute),
            "ModifyVpcAttribute": wrap(self.modify_attribute),
            "CreateSubnet": wrap(self.create_subnet),
            "CreateDefaultSubnet": wrap(self.create_default_subnet),
            "DescribeSubnets": wrap(self.describe_subnets),
            "DeleteSubnet": wrap(self.delete_subnet),
            "ModifySubnetAttribute": wrap(self.modify_subnet),
        }

    # -- the default VPC --------------------------------------------------------------------
    def default_vpc(self, account: str, region: str) -> Resource | None:
        for vpc in self.state.all("vpc", account, region):
            if vpc.data["IsDefault"]:
                return vpc
        return None

    def ensure_default(self, ctx: RequestContext) -> None:
        """Make the account's default VPC here on its first EC2 call in this region."""
        marker = f"default-vpc:{ctx.account_id}:{ctx.region}"
        if marker in self.state.resources:
            return
        made = self._make_default(ctx)
        made.append(Resource(marker, "marker", ctx.account_id, ctx.region))
        self.state.save(*made)

    def _make_default(self, ctx: RequestContext) -> list[Resource]:
        made = new_vpc(ctx.account_id, ctx.region, _DEFAULT_CIDR, default=True)
        vpc, table = made[0], made[1]
        gateway = new_gateway(ctx.account_id, ctx.region)
        gateway.data["Attachments"] = [{"VpcId": vpc.id, "State": "available"}]
        table.data["Routes"].append(
            {
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": gateway.id,
                "Origin": "CreateRoute",
                "State": "active",
            }
        )
        made.append(gateway)
        blocks = ipaddress.IPv4Network(_DEFAULT_CIDR).subnets(new_prefix=20)
        for letter, block in zip(ZONE_LETTERS, blocks, strict=False):
            made.append(new_subnet(vpc, block, f"{ctx.region}{letter}", default=True))
        return made

    def create_default_vpc(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if self.default_vpc(ctx.account_id, ctx.region) is not None:
            raise ec2_error(
                "DefaultVpcAlreadyExists",
                "A Default VPC already exists for this account in this region.",
            )
        made = self._make_default(ctx)
        self.state.save(*made)
        return {"Vpc": vpc_wire(made[0])}

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

    # -- VPCs -------------------------------------------------------------------------------
    def create_vpc(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        cidr = params.get("CidrBlock")
        if not cidr:
            raise ec2_error("MissingParameter", "The request must contain the parameter CidrBlock")
        network = _network(cidr)
        if not 16 <= network.prefixlen <= 28:
            raise ec2_error("InvalidVpc.Range", f"The CIDR '{cidr}' is invalid.")
        tenancy = params.get("InstanceTenancy") or "default"
        if tenancy not in ("default", "dedicated"):
            raise ec2_error("UnsupportedTenancy", f"The tenancy value {tenancy} is not supported.")
        if len(self.state.mine("vpc", ctx)) >= _MAX_VPCS:
            raise ec2_error("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        made = new_vpc(ctx.account_id, ctx.region, str(network), default=False)
        made[0].data["InstanceTenancy"] = tenancy
        made[0].tags = spec_tags(params, "vpc")
        self.state.save(*made)
        return {"Vpc": vpc_wire(made[0])}

    def describe_vpcs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        shown, token = self.state.describe("vpc", ctx, params, "VpcIds", _vpc_values)
        for vpc in shown:
            vpc.pop("_attributes", None)
        result: dict[str, Any] = {"Vpcs": shown}
        if token:
            result["NextToken"] = token
        return result

    def delete_vpc(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vpc = self.state.own(params["VpcId"], "vpc", ctx)
        doomed: list[Resource] = []
        busy = False
        for resource in self.state.resources.values():
            if resource.account != ctx.account_id or resource.region != ctx.region:
                continue
            data = resource.data
            if resource.kind == "internet-gateway":
                busy |= any(a["VpcId"] == vpc.id for a in data["Attachments"])
            elif resource.kind == "natgateway":
                busy |= data["VpcId"] == vpc.id and data["State"] != "deleted"
            elif resource.kind == "subnet":
                busy |= data["VpcId"] == vpc.id
            elif resource.kind == "route-table" and data["VpcId"] == vpc.id:
                if is_main(resource):
                    doomed.append(resource)
                else:
                    busy = True
            elif resource.kind == "security-group" and data["VpcId"] == vpc.id:
                if data["GroupName"] == "default":
                    doomed.append(resource)
                else:
                    busy = True
        if busy:
            raise ec2_error(
                "DependencyViolation",
                f"The vpc '{vpc.id}' has dependencies and cannot be deleted.",
            )
        self.state.save(delete=[vpc, *doomed])
        return {}

    def describe_attribute(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vpc = self.state.own(params["VpcId"], "vpc", ctx)
        member = _VPC_ATTRIBUTES.get(params["Attribute"])
        if member is None:
            raise invalid_value(
                f"Value ({params['Attribute']}) for parameter attribute is invalid. Unknown"
                " attribute."
            )
        return {"VpcId": vpc.id, member: {"Value": vpc.data["_attributes"][member]}}

    def modify_attribute(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vpc = self.state.own(params["VpcId"], "vpc", ctx)
        given = [m for m in _VPC_ATTRIBUTES.values() if m in params]
        if len(given) != 1:
            raise ec2_error(
                "InvalidParameterCombination",
                "Fields for multiple attribute types specified: " + ", ".join(given)
                if given
                else "No attribute specified.",
            )
        value = bool(params[given[0]].get("Value"))
        attributes = vpc.data["_attributes"]
        if given[0] == "EnableDnsHostnames" and value and not attributes["EnableDnsSupport"]:
            raise invalid_value(
                "enableDnsHostnames cannot be enabled unless enableDnsSupport is enabled"
            )
        attributes[given[0]] = value
        self.state.save(vpc)
        return {}

    # -- subnets ----------------------------------------------------------------------------
    def _zone(self, ctx: RequestContext, zone: str) -> str:
        names = [f"{ctx.region}{letter}" for letter in ZONE_LETTERS]
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
            if cidr or params.get("Ipv4IpamPoolId"):
                raise ec2_error(
                    "InvalidParameterCombination",
                    "When specifying ipv4 parameters, cidrBlock or ipv4IpamPoolId, you cannot"
                    " set ipv6Native to true.",
                )
            if not params.get("Ipv6CidrBlock") and not params.get("Ipv6IpamPoolId"):
                raise ec2_error(
                    "MissingParameter",
                    "Either 'ipv6CidrBlock' or 'ipv6IpamPoolId' should be provided.",
                )
            raise ec2_error("InvalidParameterValue", "Fireside does not make IPv6-only subnets yet")
        if not cidr:
            raise ec2_error("MissingParameter", "The request must contain the parameter CidrBlock")
        network = _network(cidr)
        if not 16 <= network.prefixlen <= 28 or not network.subnet_of(
            ipaddress.IPv4Network(vpc.data["CidrBlock"])
        ):
            raise ec2_error("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
        cidr = str(network)
        siblings = [s for s in self.state.mine("subnet", ctx) if s.data["VpcId"] == vpc.id]
        if any(network.overlaps(ipaddress.IPv4Network(s.data["CidrBlock"])) for s in siblings):
            raise ec2_error(
                "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
            )
        if len(siblings) >= _MAX_SUBNETS:
            raise ec2_error(
                "SubnetLimitExceeded", "The maximum number of subnets has been reached."
            )
        zone = params.get("AvailabilityZone")
        if zone is None and params.get("AvailabilityZoneId"):
            by_id = {zone_id(ctx.region, letter): letter for letter in ZONE_LETTERS}
            letter = by_id.get(params["AvailabilityZoneId"])
            if letter is None:
                raise invalid_value(
                    f"Value ({params['AvailabilityZoneId']}) for parameter availabilityZoneId"
                    " is invalid."
                )
            zone = f"{ctx.region}{letter}"
        if zone is None:
            zone = f"{ctx.region}{ZONE_LETTERS[len(siblings) % len(ZONE_LETTERS)]}"
        subnet = new_subnet(vpc, network, self._zone(ctx, zone), default=False)
        subnet.tags = spec_tags(params, "subnet")
        self.state.save(subnet)
        return {"Subnet": subnet.wire()}

    def describe_subnets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        shown, token = self.state.describe("subnet", ctx, params, "SubnetIds", _subnet_values)
        result: dict[str, Any] = {"Subnets": shown}
        if token:
            result["NextToken"] = token
        return result

    def delete_subnet(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        subnet = self.state.own(params["SubnetId"], "subnet", ctx)
        for nat in self.state.mine("natgateway", ctx):
            if nat.data["SubnetId"] == subnet.id and nat.data["State"] != "deleted":
                raise ec2_error(
                    "DependencyViolation",
                    f"The subnet '{subnet.id}' has dependencies and cannot be deleted.",
                )
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
