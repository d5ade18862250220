"""EC2 networking resources, as CDK's `ec2.Vpc` emits them: VPC, Subnet, RouteTable,
SubnetRouteTableAssociation, Route, InternetGateway, VPCGatewayAttachment, EIP and
NatGateway (security groups are `ec2_groups`).

Each acts through EC2's served operations as the stack's account (`fireside.ec2`). `Ref` and
`Fn::GetAtt` follow AWS's resource schemas: a VPC's `Ref` is its id and its attributes
include `CidrBlock` and `DefaultSecurityGroup`; an EIP's `Ref` is its public IP and
`AllocationId` an attribute; a VPCGatewayAttachment's physical id is `IGW|<vpc id>`. A change
to any property other than tags (and a VPC's DNS attributes, a subnet's
`MapPublicIpOnLaunch`) replaces the resource, as most of these do on AWS.
"""

from __future__ import annotations

from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.support import as_bool, call, failed, refused, tag_list
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceType,
)

__all__ = ["delete_quietly", "providers", "retag", "tag_specs"]

_SERVICE: Final = "ec2"


def _is_gone(error: ServiceError) -> bool:
    return error.code.endswith(".NotFound") or error.code in (
        "NatGatewayNotFound",
        "Gateway.NotAttached",
    )


async def delete_quietly(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> None:
    """An EC2 delete; what is already gone is deleted (CloudFormation's deletes are idempotent)."""
    try:
        await ctx.call(_SERVICE, operation, params)
    except ServiceError as error:
        if not _is_gone(error):
            raise failed(error) from None


def tag_specs(ctx: ResourceContext, properties: dict[str, Any], kind: str) -> dict[str, Any]:
    tags = tag_list(ctx, properties.get("Tags"))
    return {"TagSpecifications": [{"ResourceType": kind, "Tags": tags}]} if tags else {}


async def retag(
    ctx: ResourceContext, resource_id: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    """Make a resource's tags the template's new ones."""

    def own(props: dict[str, Any]) -> dict[str, str]:
        # CloudFormation's `aws:` tags never change, and CreateTags refuses them.
        tags = tag_list(ctx, props.get("Tags"))
        return {t["Key"]: t["Value"] for t in tags if not t["Key"].startswith("aws:")}

    before, after = own(old), own(new)
    dropped = [{"Key": k} for k in before if k not in after]
    if dropped:
        await call(ctx, _SERVICE, "DeleteTags", {"Resources": [resource_id], "Tags": dropped})
    if after and after != before:
        tags = [{"Key": k, "Value": v} for k, v in after.items()]
        await call(ctx, _SERVICE, "CreateTags", {"Resources": [resource_id], "Tags": tags})


def _changed(old: dict[str, Any], new: dict[str, Any], mutable: frozenset[str]) -> None:
    """Replacement unless only `mutable` properties (and tags) changed."""
    for key in set(old) | set(new):
        if key not in mutable and key != "Tags" and old.get(key) != new.get(key):
            raise NeedsReplacement(key)


class Vpc:
    type_name = "AWS::EC2::VPC"
    replace_on = frozenset({"CidrBlock", "InstanceTenancy", "Ipv4IpamPoolId"})
    _MUTABLE = frozenset({"EnableDnsHostnames", "EnableDnsSupport"})

    async def _attributes(self, ctx: ResourceContext, vpc_id: str, props: dict[str, Any]) -> None:
        # Support first: hostnames cannot be on without it.
        for key in ("EnableDnsSupport", "EnableDnsHostnames"):
            if props.get(key) is not None:
                value = as_bool(props[key], key)
                params = {"VpcId": vpc_id, key: {"Value": value}}
                await call(ctx, _SERVICE, "ModifyVpcAttribute", params)

    async def _created(self, ctx: ResourceContext, vpc_id: str) -> Created:
        vpc = (await call(ctx, _SERVICE, "DescribeVpcs", {"VpcIds": [vpc_id]}))["Vpcs"][0]
        groups = await call(
            ctx,
            _SERVICE,
            "DescribeSecurityGroups",
            {
                "Filters": [
                    {"Name": "vpc-id", "Values": [vpc_id]},
                    {"Name": "group-name", "Values": ["default"]},
                ]
            },
        )
        return Created(
            vpc_id,
            {
                "VpcId": vpc_id,
                "CidrBlock": vpc["CidrBlock"],
                "CidrBlockAssociations": [
                    a["AssociationId"] for a in vpc.get("CidrBlockAssociationSet", [])
                ],
                "DefaultSecurityGroup": groups["SecurityGroups"][0]["GroupId"],
                "DefaultNetworkAcl": "",
                "Ipv6CidrBlocks": [],
            },
        )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params: dict[str, Any] = {"CidrBlock": properties.get("CidrBlock", "")}
        if properties.get("InstanceTenancy"):
            params["InstanceTenancy"] = properties["InstanceTenancy"]
        params.update(tag_specs(ctx, properties, "vpc"))
        vpc_id = (await call(ctx, _SERVICE, "CreateVpc", params))["Vpc"]["VpcId"]
        await self._attributes(ctx, vpc_id, properties)
        return await self._created(ctx, vpc_id)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        _changed(old, new, self._MUTABLE)
        await self._attributes(ctx, physical_id, new)
        await retag(ctx, physical_id, old, new)
        return await self._created(ctx, physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await delete_quietly(ctx, "DeleteVpc", {"VpcId": physical_id})


class Subnet:
    type_name = "AWS::EC2::Subnet"
    replace_on = frozenset({"VpcId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId"})
    _MUTABLE = frozenset({"MapPublicIpOnLaunch"})

    @staticmethod
    def _created(subnet: dict[str, Any]) -> Created:
        return Created(
            subnet["SubnetId"],
            {
                "SubnetId": subnet["SubnetId"],
                "VpcId": subnet["VpcId"],
                "CidrBlock": subnet["CidrBlock"],
                "AvailabilityZone": subnet["AvailabilityZone"],
                "AvailabilityZoneId": subnet["AvailabilityZoneId"],
                "NetworkAclAssociationId": "",
                "Ipv6CidrBlocks": [],
                "OutpostArn": "",
            },
        )

    async def _public(self, ctx: ResourceContext, subnet_id: str, props: dict[str, Any]) -> None:
        if props.get("MapPublicIpOnLaunch") is not None:
            value = as_bool(props["MapPublicIpOnLaunch"], "MapPublicIpOnLaunch")
            await call(
                ctx,
                _SERVICE,
                "ModifySubnetAttribute",
                {"SubnetId": subnet_id, "MapPublicIpOnLaunch": {"Value": value}},
            )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params: dict[str, Any] = {
            "VpcId": properties.get("VpcId", ""),
            "CidrBlock": properties.get("CidrBlock", ""),
        }
        for key in ("AvailabilityZone", "AvailabilityZoneId"):
            if properties.get(key):
                params[key] = properties[key]
        params.update(tag_specs(ctx, properties, "subnet"))
        subnet = (await call(ctx, _SERVICE, "CreateSubnet", params))["Subnet"]
        await self._public(ctx, subnet["SubnetId"], properties)
        return self._created(subnet)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        _changed(old, new, self._MUTABLE)
        await self._public(ctx, physical_id, new)
        await retag(ctx, physical_id, old, new)
        found = await call(ctx, _SERVICE, "DescribeSubnets", {"SubnetIds": [physical_id]})
        return self._created(found["Subnets"][0])

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await delete_quietly(ctx, "DeleteSubnet", {"SubnetId": physical_id})


class _Tagged:
    """A resource made by one call, deleted by another, whose tags alone may change."""

    kind = ""
    create_op = ""
    delete_op = ""
    id_member = ""
    replace_on: frozenset[str] = frozenset()

    def params(self, properties: dict[str, Any]) -> dict[str, Any]:
        return {}

    def made(self, result: dict[str, Any]) -> Created:
        raise NotImplementedError

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = {**self.params(properties), **tag_specs(ctx, properties, self.kind)}
        return self.made(await call(ctx, _SERVICE, self.create_op, params))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        _changed(old, new, frozenset())
        await retag(ctx, physical_id, old, new)
        return Created(physical_id, {self.id_member: physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await delete_quietly(ctx, self.delete_op, {self.id_member: physical_id})


class InternetGateway(_Tagged):
    type_name = "AWS::EC2::InternetGateway"
    kind, create_op, delete_op = (
        "internet-gateway",
        "CreateInternetGateway",
        "DeleteInternetGateway",
    )
    id_member = "InternetGatewayId"

    def made(self, result: dict[str, Any]) -> Created:
        gateway_id = result["InternetGateway"]["InternetGatewayId"]
        return Created(gateway_id, {"InternetGatewayId": gateway_id})


class RouteTable(_Tagged):
    type_name = "AWS::EC2::RouteTable"
    replace_on = frozenset({"VpcId"})
    kind, create_op, delete_op = "route-table", "CreateRouteTable", "DeleteRouteTable"
    id_member = "RouteTableId"

    def params(self, properties: dict[str, Any]) -> dict[str, Any]:
        return {"VpcId": properties.get("VpcId", "")}

    def made(self, result: dict[str, Any]) -> Created:
        table_id = result["RouteTable"]["RouteTableId"]
        return Created(table_id, {"RouteTableId": table_id})


class NatGateway(_Tagged):
    type_name = "AWS::EC2::NatGateway"
    replace_on = frozenset({"SubnetId", "AllocationId", "ConnectivityType"})
    kind, create_op, delete_op = "natgateway", "CreateNatGateway", "DeleteNatGateway"
    id_member = "NatGatewayId"

    def params(self, properties: dict[str, Any]) -> dict[str, Any]:
        keys = ("SubnetId", "AllocationId", "ConnectivityType", "PrivateIpAddress")
        return {k: properties[k] for k in keys if properties.get(k)}

    def made(self, result: dict[str, Any]) -> Created:
        nat_id = result["NatGateway"]["NatGatewayId"]
        return Created(nat_id, {"NatGatewayId": nat_id})


class Eip(_Tagged):
    type_name = "AWS::EC2::EIP"
    replace_on = frozenset({"Domain", "NetworkBorderGroup", "PublicIpv4Pool"})
    kind, create_op, delete_op = "elastic-ip", "AllocateAddress", "ReleaseAddress"
    id_member = "AllocationId"

    def params(self, properties: dict[str, Any]) -> dict[str, Any]:
        return {"Domain": properties.get("Domain") or "vpc"}

    def made(self, result: dict[str, Any]) -> Created:
        # Ref of an EIP is its address; the allocation id is an attribute.
        return Created(
            result["PublicIp"],
            {"AllocationId": result["AllocationId"], "PublicIp": result["PublicIp"]},
        )

    async def _allocation(self, ctx: ResourceContext, public_ip: str) -> str | None:
        found = await ctx.call(
            _SERVICE,
            "DescribeAddresses",
            {"Filters": [{"Name": "public-ip", "Values": [public_ip]}]},
        )
        addresses = found.get("Addresses") or []
        return str(addresses[0]["AllocationId"]) if addresses else None

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        _changed(old, new, frozenset())
        allocation = await self._allocation(ctx, physical_id) or ""
        await retag(ctx, allocation, old, new)
        return Created(physical_id, {"AllocationId": allocation, "PublicIp": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        allocation = await self._allocation(ctx, physical_id)
        if allocation is not None:
            await delete_quietly(ctx, "ReleaseAddress", {"AllocationId": allocation})


class GatewayAttachment:
    type_name = "AWS::EC2::VPCGatewayAttachment"
    replace_on = frozenset({"VpcId", "InternetGatewayId", "VpnGatewayId"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        if properties.get("VpnGatewayId"):
            raise refused("Fireside has no VPN gateways: attach an InternetGatewayId")
        vpc_id = properties.get("VpcId", "")
        params = {"VpcId": vpc_id, "InternetGatewayId": properties.get("InternetGatewayId", "")}
        await call(ctx, _SERVICE, "AttachInternetGateway", params)
        return Created(f"IGW|{vpc_id}", {})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        raise NeedsReplacement("InternetGatewayId")

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {
            "VpcId": properties.get("VpcId", ""),
            "InternetGatewayId": properties.get("InternetGatewayId", ""),
        }
        await delete_quietly(ctx, "DetachInternetGateway", params)


class SubnetRouteTableAssociation:
    type_name = "AWS::EC2::SubnetRouteTableAssociation"
    replace_on = frozenset({"SubnetId", "RouteTableId"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = {
            "SubnetId": properties.get("SubnetId", ""),
            "RouteTableId": properties.get("RouteTableId", ""),
        }
        assoc_id = (await call(ctx, _SERVICE, "AssociateRouteTable", params))["AssociationId"]
        return Created(assoc_id, {"Id": assoc_id})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        raise NeedsReplacement("RouteTableId")

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await delete_quietly(ctx, "DisassociateRouteTable", {"AssociationId": physical_id})


class Route:
    type_name = "AWS::EC2::Route"
    replace_on = frozenset({"RouteTableId", "DestinationCidrBlock"})
    _TARGETS = ("GatewayId", "NatGatewayId")

    def _params(self, properties: dict[str, Any]) -> dict[str, Any]:
        params = {
            "RouteTableId": properties.get("RouteTableId", ""),
            "DestinationCidrBlock": properties.get("DestinationCidrBlock", ""),
        }
        params.update({k: properties[k] for k in self._TARGETS if properties.get(k)})
        return params

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = self._params(properties)
        await call(ctx, _SERVICE, "CreateRoute", params)
        physical = f"{params['RouteTableId']}|{params['DestinationCidrBlock']}"
        return Created(physical, {"CidrBlock": params["DestinationCidrBlock"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = self._params(new)
        await call(ctx, _SERVICE, "ReplaceRoute", params)
        return Created(physical_id, {"CidrBlock": params["DestinationCidrBlock"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        table, _, cidr = physical_id.partition("|")
        await delete_quietly(
            ctx, "DeleteRoute", {"RouteTableId": table, "DestinationCidrBlock": cidr}
        )


def providers() -> list[ResourceType]:
    return [
        Vpc(),
        Subnet(),
        InternetGateway(),
        GatewayAttachment(),
        RouteTable(),
        SubnetRouteTableAssociation(),
        Route(),
        Eip(),
        NatGateway(),
    ]
