"""VPCs: Create/Describe/DeleteVpc, Describe/ModifyVpcAttribute, and the default VPC.

A new VPC comes with its main route table and its `default` security group, as in AWS. Every
account has, in each region, a default VPC (172.31.0.0/16) with a default subnet per zone, an
attached internet gateway and a route to it, made the first time the account calls EC2 there
(`DefaultVpcs.ensure`); once deleted it stays deleted until CreateDefaultVpc.
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
    in_use,
    invalid_value,
    new_id,
    paged,
    spec_tags,
    text,
    wrap,
)
from fireside.ec2.subnets import network, new_subnet
from fireside.ec2.zones import zone_letters

__all__ = ["VpcApi"]

_DEFAULT_CIDR: Final = "172.31.0.0/16"
_MAX_VPCS: Final = 100  # per account and region (AWS's default quota is 5)
_MAX_CIDRS: Final = 5  # IPv4 blocks per VPC (AWS's default quota)
_VPC_ATTRIBUTES: Final = {
    "enableDnsSupport": "EnableDnsSupport",
    "enableDnsHostnames": "EnableDnsHostnames",
    "enableNetworkAddressUsageMetrics": "EnableNetworkAddressUsageMetrics",
}


def _vpc_values(vpc: Resource) -> dict[str, list[str]]:
    data = vpc.data
    associations = data["CidrBlockAssociationSet"]
    return {
        "vpc-id": [vpc.id],
        "cidr": [data["CidrBlock"]],
        "cidr-block-association.cidr-block": [a["CidrBlock"] for a in associations],
        "cidr-block-association.association-id": [a["AssociationId"] for a in associations],
        "cidr-block-association.state": [a["CidrBlockState"]["State"] for a in associations],
        "cidrBlock": [data["CidrBlock"]],
        "is-default": [text(data["IsDefault"])],
        "isDefault": [text(data["IsDefault"])],
        "state": [data["State"]],
        "owner-id": [data["OwnerId"]],
        "dhcp-options-id": [data["DhcpOptionsId"]],
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
            "AssociateVpcCidrBlock": wrap(self.associate_cidr),
            "DisassociateVpcCidrBlock": wrap(self.disassociate_cidr),
            "ModifyVpcAttribute": wrap(self.modify_attribute),
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
        for letter, block in zip(zone_letters(ctx.region), blocks, strict=False):
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

    # -- VPCs -------------------------------------------------------------------------------
    def create_vpc(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        cidr = params.get("CidrBlock")
        if not cidr:
            raise ec2_error("MissingParameter", "The request must contain the parameter CidrBlock")
        block = network(cidr)
        if not 16 <= block.prefixlen <= 28:
            raise ec2_error("InvalidVpc.Range", f"The CIDR '{cidr}' is invalid.")
        tenancy = params.get("InstanceTenancy") or "default"
        if tenancy not in ("default", "dedicated"):
            raise ec2_error("UnsupportedTenancy", f"The tenancy value {tenancy} is not supported.")
        if len(self.state.mine("vpc", ctx)) >= _MAX_VPCS:
            raise ec2_error("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        made = new_vpc(ctx.account_id, ctx.region, str(block), default=False)
        made[0].data["InstanceTenancy"] = tenancy
        made[0].tags = spec_tags(params, "vpc")
        self.state.save(*made)
        return {"Vpc": vpc_wire(made[0])}

    def describe_vpcs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.state.matching("vpc", ctx, params, "VpcIds", _vpc_values)
        return paged("Vpcs", [vpc_wire(v) for v in found], params)

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
            raise in_use("vpc", vpc.id)
        self.state.save(delete=[vpc, *doomed])
        return {}

    def associate_cidr(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vpc = self.state.own(params["VpcId"], "vpc", ctx)
        if not params.get("CidrBlock"):
            raise invalid_value("Fireside gives VPCs IPv4 CIDR blocks only: give a CidrBlock")
        block = network(params["CidrBlock"])
        if not 16 <= block.prefixlen <= 28:
            raise ec2_error("InvalidVpc.Range", f"The CIDR '{params['CidrBlock']}' is invalid.")
        associations = vpc.data["CidrBlockAssociationSet"]
        if len(associations) >= _MAX_CIDRS:
            raise ec2_error(
                "CidrLimitExceeded",
                f"This network {vpc.id} has met its maximum number of allowed CIDRs: {_MAX_CIDRS}",
            )
        if any(block.overlaps(network(a["CidrBlock"])) for a in associations):
            raise ec2_error(
                "InvalidVpc.Range",
                f"The CIDR '{block}' conflicts with a CIDR block of the VPC {vpc.id}",
            )
        association = {
            "AssociationId": new_id("vpc-cidr-assoc-"),
            "CidrBlock": str(block),
            "CidrBlockState": {"State": "associated"},
        }
        associations.append(association)
        self.state.save(vpc)
        shown = {**association, "CidrBlockState": {"State": "associating"}}
        return {"VpcId": vpc.id, "CidrBlockAssociation": shown}

    def disassociate_cidr(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("AssociationId")
        for vpc in self.state.mine("vpc", ctx):
            associations = vpc.data["CidrBlockAssociationSet"]
            found = next((a for a in associations if a["AssociationId"] == wanted), None)
            if found is None:
                continue
            if found["CidrBlock"] == vpc.data["CidrBlock"]:
                raise ec2_error(
                    "OperationNotPermitted",
                    f"The vpc CIDR block with association ID {wanted} may not be"
                    " disassociated. It is the primary IPv4 CIDR block of the VPC",
                )
            block = network(found["CidrBlock"])
            for subnet in self.state.mine("subnet", ctx):
                inside = network(subnet.data["CidrBlock"]).subnet_of(block)
                if subnet.data["VpcId"] == vpc.id and inside:
                    raise ec2_error(
                        "DependencyViolation",
                        f"The vpc CIDR block with association ID {wanted} has dependencies"
                        " and cannot be disassociated.",
                    )
            associations.remove(found)
            self.state.save(vpc)
            shown = {**found, "CidrBlockState": {"State": "disassociating"}}
            return {"VpcId": vpc.id, "CidrBlockAssociation": shown}
        raise ec2_error(
            "InvalidVpcCidrBlockAssociationID.NotFound",
            f"The vpc CIDR block association ID '{wanted}' does not exist",
        )

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
