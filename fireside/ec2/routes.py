"""Route tables: Create/Describe/DeleteRouteTable, Associate/Disassociate/
ReplaceRouteTableAssociation, Create/Replace/DeleteRoute. Every VPC has a main route table,
made with it, holding the `local` route for the VPC's CIDR; a subnet with no association of
its own uses it.

Routes are records only: Fireside moves no packets. A route's target (internet gateway, NAT
gateway) must exist in the caller's account, as AWS checks.
"""

from __future__ import annotations

import ipaddress
from typing import Any

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

__all__ = ["RouteApi", "is_main", "main_table"]

_MAX_ROUTES = 500
_TARGETS = (
    ("GatewayId", "internet-gateway"),
    ("NatGatewayId", "natgateway"),
)


def new_table(account: str, region: str, vpc_id: str, cidr: str, *, main: bool) -> Resource:
    table_id = new_id("rtb-")
    table = Resource(
        table_id,
        "route-table",
        account,
        region,
        data={
            "RouteTableId": table_id,
            "VpcId": vpc_id,
            "OwnerId": account,
            "Routes": [
                {
                    "DestinationCidrBlock": cidr,
                    "GatewayId": "local",
                    "Origin": "CreateRouteTable",
                    "State": "active",
                }
            ],
            "Associations": [],
            "PropagatingVgws": [],
        },
    )
    if main:
        table.data["Associations"].append(
            {
                "Main": True,
                "RouteTableAssociationId": new_id("rtbassoc-"),
                "RouteTableId": table_id,
                "AssociationState": {"State": "associated"},
            }
        )
    return table


def main_table(account: str, region: str, vpc_id: str, cidr: str) -> Resource:
    return new_table(account, region, vpc_id, cidr, main=True)


def is_main(table: Resource) -> bool:
    return any(a.get("Main") for a in table.data["Associations"])


def _values(table: Resource) -> dict[str, list[str]]:
    data = table.data
    assocs, routes = data["Associations"], data["Routes"]
    return {
        "route-table-id": [table.id],
        "vpc-id": [data["VpcId"]],
        "owner-id": [data["OwnerId"]],
        "association.main": [text(bool(a.get("Main"))) for a in assocs] or ["false"],
        "association.subnet-id": [a["SubnetId"] for a in assocs if "SubnetId" in a],
        "association.route-table-association-id": [a["RouteTableAssociationId"] for a in assocs],
        "association.route-table-id": [table.id for _ in assocs],
        "association.gateway-id": [a["GatewayId"] for a in assocs if "GatewayId" in a],
        "route.destination-cidr-block": [r["DestinationCidrBlock"] for r in routes],
        "route.gateway-id": [r["GatewayId"] for r in routes if "GatewayId" in r],
        "route.nat-gateway-id": [r["NatGatewayId"] for r in routes if "NatGatewayId" in r],
        "route.state": [r["State"] for r in routes],
        "route.origin": [r["Origin"] for r in routes],
    }


class RouteApi:
    def __init__(self, state: Ec2State) -> None:
        self.state = state

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateRouteTable": wrap(self.create_table),
            "DescribeRouteTables": wrap(self.describe_tables),
            "DeleteRouteTable": wrap(self.delete_table),
            "AssociateRouteTable": wrap(self.associate),
            "DisassociateRouteTable": wrap(self.disassociate),
            "ReplaceRouteTableAssociation": wrap(self.replace_association),
            "CreateRoute": wrap(self.create_route),
            "ReplaceRoute": wrap(self.replace_route),
            "DeleteRoute": wrap(self.delete_route),
        }

    def create_table(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vpc = self.state.own(params["VpcId"], "vpc", ctx)
        self.state.room("route-table", ctx, "RouteTableLimitExceeded")
        table = new_table(ctx.account_id, ctx.region, vpc.id, vpc.data["CidrBlock"], main=False)
        table.tags = spec_tags(params, "route-table")
        self.state.save(table)
        return {"RouteTable": table.wire()}

    def describe_tables(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.state.matching("route-table", ctx, params, "RouteTableIds", _values)
        return paged("RouteTables", [t.wire() for t in found], params)

    def delete_table(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self.state.own(params["RouteTableId"], "route-table", ctx)
        if table.data["Associations"]:
            raise in_use("routeTable", table.id)
        self.state.save(delete=[table])
        return {}

    def table_of_association(self, ctx: RequestContext, association_id: str) -> Resource:
        for table in self.state.mine("route-table", ctx):
            for assoc in table.data["Associations"]:
                if assoc["RouteTableAssociationId"] == association_id:
                    return table
        raise ec2_error(
            "InvalidAssociationID.NotFound",
            f"The association ID '{association_id}' does not exist",
        )

    def associate(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self.state.own(params["RouteTableId"], "route-table", ctx)
        subnet_id = params.get("SubnetId")
        if not subnet_id:
            raise ec2_error("MissingParameter", "The request must contain the parameter subnetId")
        subnet = self.state.own(subnet_id, "subnet", ctx)
        if subnet.data["VpcId"] != table.data["VpcId"]:
            raise invalid_value(
                f"Route table {table.id} and subnet {subnet.id} belong to different networks"
            )
        for other in self.state.mine("route-table", ctx):
            if any(a.get("SubnetId") == subnet.id for a in other.data["Associations"]):
                raise ec2_error(
                    "Resource.AlreadyAssociated",
                    f"the specified association for route table {other.id} conflicts with an"
                    " existing association",
                )
        assoc_id = new_id("rtbassoc-")
        table.data["Associations"].append(
            {
                "Main": False,
                "RouteTableAssociationId": assoc_id,
                "RouteTableId": table.id,
                "SubnetId": subnet.id,
                "AssociationState": {"State": "associated"},
            }
        )
        self.state.save(table)
        return {"AssociationId": assoc_id, "AssociationState": {"State": "associated"}}

    def disassociate(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        assoc_id = params["AssociationId"]
        table = self.table_of_association(ctx, assoc_id)
        assoc = next(
            a for a in table.data["Associations"] if a["RouteTableAssociationId"] == assoc_id
        )
        if assoc.get("Main"):
            raise invalid_value(f"cannot disassociate the main route table association {assoc_id}")
        table.data["Associations"].remove(assoc)
        self.state.save(table)
        return {}

    def replace_association(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        assoc_id = params["AssociationId"]
        old = self.table_of_association(ctx, assoc_id)
        new = self.state.own(params["RouteTableId"], "route-table", ctx)
        if new.data["VpcId"] != old.data["VpcId"]:
            raise invalid_value(f"Route table {new.id} belongs to a different network")
        assoc = next(
            a for a in old.data["Associations"] if a["RouteTableAssociationId"] == assoc_id
        )
        old.data["Associations"].remove(assoc)
        moved = {**assoc, "RouteTableAssociationId": new_id("rtbassoc-"), "RouteTableId": new.id}
        new.data["Associations"].append(moved)
        self.state.save(old, new)
        return {
            "NewAssociationId": moved["RouteTableAssociationId"],
            "AssociationState": {"State": "associated"},
        }

    # -- routes -----------------------------------------------------------------------------
    def _route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        destination = params.get("DestinationCidrBlock")
        if not destination:
            raise ec2_error(
                "MissingParameter", "The request must contain the parameter destinationCidrBlock"
            )
        try:
            if "/" not in destination:
                raise ValueError(destination)
            destination = str(ipaddress.ip_network(destination, strict=False))
        except ValueError:
            raise invalid_value(
                f"Value ({destination}) for parameter destinationCidrBlock is invalid. This is"
                " not a valid CIDR block."
            ) from None
        route: dict[str, Any] = {
            "DestinationCidrBlock": destination,
            "Origin": "CreateRoute",
            "State": "active",
        }
        for member, kind in _TARGETS:
            if params.get(member):
                target = self.state.own(params[member], kind, ctx)
                route[member] = target.id
        if len(route) == 3:
            raise ec2_error(
                "MissingParameter",
                "The request must contain exactly one of gatewayId, natGatewayId, instanceId,"
                " networkInterfaceId, vpcPeeringConnectionId, transitGatewayId",
            )
        return route

    def create_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self.state.own(params["RouteTableId"], "route-table", ctx)
        route = self._route(ctx, params)
        if any(
            r["DestinationCidrBlock"] == route["DestinationCidrBlock"] for r in table.data["Routes"]
        ):
            raise ec2_error(
                "RouteAlreadyExists",
                f"The route identified by {route['DestinationCidrBlock']} already exists.",
            )
        if len(table.data["Routes"]) >= _MAX_ROUTES:
            raise ec2_error("RouteLimitExceeded", "The maximum number of routes has been reached.")
        table.data["Routes"].append(route)
        self.state.save(table)
        return {"Return": True}

    def _existing(self, table: Resource, destination: str | None) -> dict[str, Any]:
        routes: list[dict[str, Any]] = table.data["Routes"]
        found = next((r for r in routes if r["DestinationCidrBlock"] == destination), None)
        if found is None:
            raise ec2_error(
                "InvalidRoute.NotFound",
                f"no route with destination-cidr-block {destination} in route table {table.id}",
            )
        return found

    def replace_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self.state.own(params["RouteTableId"], "route-table", ctx)
        route = self._route(ctx, params)
        old = self._existing(table, route["DestinationCidrBlock"])
        table.data["Routes"][table.data["Routes"].index(old)] = route
        self.state.save(table)
        return {}

    def delete_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        table = self.state.own(params["RouteTableId"], "route-table", ctx)
        old = self._existing(table, params.get("DestinationCidrBlock"))
        if old.get("GatewayId") == "local":
            raise invalid_value(
                f"cannot remove local route {old['DestinationCidrBlock']} in route table {table.id}"
            )
        table.data["Routes"].remove(old)
        self.state.save(table)
        return {}
