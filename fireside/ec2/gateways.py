"""Internet gateways (+ Attach/Detach), Elastic IP addresses (Allocate/Release/Describe) and
NAT gateways (Create/Describe/Delete).

All are records: no traffic passes through them. An address's public IP is drawn from the
documentation ranges (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), which route
nowhere, so nothing mistakes it for a real host. A NAT gateway is `available` as soon as it
is made (AWS's starts `pending`; waiters see `available` at once) and stays described as
`deleted` after DeleteNatGateway, as AWS shows it for a while.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
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
    wrap,
)

__all__ = ["GatewayApi", "new_gateway"]

_POOLS: Final = ("192.0.2.", "198.51.100.", "203.0.113.")
_MAX_ADDRESSES: Final = 100  # per account and region


def new_gateway(account: str, region: str) -> Resource:
    gateway_id = new_id("igw-")
    return Resource(
        gateway_id,
        "internet-gateway",
        account,
        region,
        data={"InternetGatewayId": gateway_id, "OwnerId": account, "Attachments": []},
    )


def _igw_values(gateway: Resource) -> dict[str, list[str]]:
    attachments = gateway.data["Attachments"]
    return {
        "internet-gateway-id": [gateway.id],
        "owner-id": [gateway.data["OwnerId"]],
        "attachment.vpc-id": [a["VpcId"] for a in attachments],
        "attachment.state": [a["State"] for a in attachments],
    }


def _address_values(address: Resource) -> dict[str, list[str]]:
    data = address.data
    return {
        "allocation-id": [address.id],
        "public-ip": [data["PublicIp"]],
        "domain": [data["Domain"]],
        "association-id": [data["AssociationId"]] if "AssociationId" in data else [],
        "network-border-group": [data["NetworkBorderGroup"]],
    }


def _nat_values(nat: Resource) -> dict[str, list[str]]:
    data = nat.data
    return {
        "nat-gateway-id": [nat.id],
        "subnet-id": [data["SubnetId"]],
        "vpc-id": [data["VpcId"]],
        "state": [data["State"]],
    }


class GatewayApi:
    def __init__(self, state: Ec2State) -> None:
        self.state = state

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateInternetGateway": wrap(self.create_igw),
            "DescribeInternetGateways": wrap(self.describe_igws),
            "DeleteInternetGateway": wrap(self.delete_igw),
            "AttachInternetGateway": wrap(self.attach_igw),
            "DetachInternetGateway": wrap(self.detach_igw),
            "AllocateAddress": wrap(self.allocate_address),
            "DescribeAddresses": wrap(self.describe_addresses),
            "ReleaseAddress": wrap(self.release_address),
            "CreateNatGateway": wrap(self.create_nat),
            "DescribeNatGateways": wrap(self.describe_nats),
            "DeleteNatGateway": wrap(self.delete_nat),
        }

    # -- internet gateways ------------------------------------------------------------------
    def create_igw(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.state.room("internet-gateway", ctx, "InternetGatewayLimitExceeded")
        gateway = new_gateway(ctx.account_id, ctx.region)
        gateway.tags = spec_tags(params, "internet-gateway")
        self.state.save(gateway)
        return {"InternetGateway": gateway.wire()}

    def describe_igws(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.state.matching(
            "internet-gateway", ctx, params, "InternetGatewayIds", _igw_values
        )
        return paged("InternetGateways", [g.wire() for g in found], params)

    def delete_igw(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        gateway = self.state.own(params["InternetGatewayId"], "internet-gateway", ctx)
        if gateway.data["Attachments"]:
            raise in_use("internetGateway", gateway.id)
        self.state.save(delete=[gateway])
        return {}

    def attach_igw(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        gateway = self.state.own(params["InternetGatewayId"], "internet-gateway", ctx)
        vpc = self.state.own(params["VpcId"], "vpc", ctx)
        if gateway.data["Attachments"]:
            raise ec2_error(
                "Resource.AlreadyAssociated",
                f"resource {gateway.id} is already attached to network"
                f" {gateway.data['Attachments'][0]['VpcId']}",
            )
        for other in self.state.mine("internet-gateway", ctx):
            if any(a["VpcId"] == vpc.id for a in other.data["Attachments"]):
                raise ec2_error(
                    "Resource.AlreadyAssociated",
                    f"Network {vpc.id} already has an internet gateway attached",
                )
        gateway.data["Attachments"] = [{"VpcId": vpc.id, "State": "available"}]
        self.state.save(gateway)
        return {}

    def detach_igw(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        gateway = self.state.own(params["InternetGatewayId"], "internet-gateway", ctx)
        vpc_id = params["VpcId"]
        if not any(a["VpcId"] == vpc_id for a in gateway.data["Attachments"]):
            raise ec2_error(
                "Gateway.NotAttached",
                f"resource {gateway.id} is not attached to network {vpc_id}",
            )
        gateway.data["Attachments"] = []
        self.state.save(gateway)
        return {}

    # -- Elastic IP addresses ---------------------------------------------------------------
    def allocate_address(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain = params.get("Domain") or "vpc"
        if domain not in ("vpc", "standard"):
            raise invalid_value(f"Invalid value '{domain}' for domain.")
        mine = self.state.mine("elastic-ip", ctx)
        if len(mine) >= _MAX_ADDRESSES:
            raise ec2_error(
                "AddressLimitExceeded", "The maximum number of addresses has been reached."
            )
        used = {a.data["PublicIp"] for a in mine}
        public_ip = params.get("Address") or _free_ip(used)
        allocation_id = new_id("eipalloc-")
        address = Resource(
            allocation_id,
            "elastic-ip",
            ctx.account_id,
            ctx.region,
            data={
                "AllocationId": allocation_id,
                "PublicIp": public_ip,
                "Domain": "vpc",
                "PublicIpv4Pool": "amazon",
                "NetworkBorderGroup": params.get("NetworkBorderGroup") or ctx.region,
            },
        )
        address.tags = spec_tags(params, "elastic-ip")
        self.state.save(address)
        return {k: v for k, v in address.data.items() if k != "AssociationId"}

    def describe_addresses(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.state.matching("elastic-ip", ctx, params, "AllocationIds", _address_values)
        shown = [a.wire() for a in found]
        wanted = params.get("PublicIps") or []
        if wanted:
            known = {a["PublicIp"] for a in shown}
            for ip in wanted:
                if ip not in known:
                    raise ec2_error("InvalidAddress.NotFound", f"Address '{ip}' not found.")
            shown = [a for a in shown if a["PublicIp"] in wanted]
        return {"Addresses": shown}

    def release_address(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("AllocationId"):
            address = self.state.own(params["AllocationId"], "elastic-ip", ctx)
        else:
            ip = params.get("PublicIp")
            found = [a for a in self.state.mine("elastic-ip", ctx) if a.data["PublicIp"] == ip]
            if not found:
                raise ec2_error("InvalidAddress.NotFound", f"Address '{ip}' not found.")
            address = found[0]
        for nat in self.state.mine("natgateway", ctx):
            if nat.data["State"] != "deleted" and any(
                a.get("AllocationId") == address.id for a in nat.data["NatGatewayAddresses"]
            ):
                raise ec2_error(
                    "InvalidIPAddress.InUse", f"Address {address.data['PublicIp']} is in use."
                )
        self.state.save(delete=[address])
        return {}

    # -- NAT gateways -----------------------------------------------------------------------
    def create_nat(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        subnet = self.state.own(params["SubnetId"], "subnet", ctx)
        self.state.room("natgateway", ctx, "NatGatewayLimitExceeded")
        connectivity = params.get("ConnectivityType") or "public"
        addresses: list[dict[str, Any]] = []
        private_ip = _host_in(subnet.data["CidrBlock"])
        primary: dict[str, Any] = {
            "PrivateIp": private_ip,
            "NetworkInterfaceId": new_id("eni-"),
            "IsPrimary": True,
            "Status": "succeeded",
        }
        if connectivity == "public":
            allocation_id = params.get("AllocationId")
            if not allocation_id:
                raise ec2_error(
                    "MissingParameter",
                    "The request must contain the parameter AllocationId for a public NAT gateway",
                )
            address = self.state.own(allocation_id, "elastic-ip", ctx)
            for nat in self.state.mine("natgateway", ctx):
                if nat.data["State"] != "deleted" and any(
                    a.get("AllocationId") == address.id for a in nat.data["NatGatewayAddresses"]
                ):
                    raise ec2_error(
                        "Resource.AlreadyAssociated",
                        f"Elastic IP address [{address.id}] is already associated",
                    )
            primary.update(AllocationId=address.id, PublicIp=address.data["PublicIp"])
        elif connectivity != "private":
            raise invalid_value(f"Invalid value '{connectivity}' for ConnectivityType.")
        addresses.append(primary)
        nat_id = new_id("nat-")
        nat = Resource(
            nat_id,
            "natgateway",
            ctx.account_id,
            ctx.region,
            data={
                "NatGatewayId": nat_id,
                "SubnetId": subnet.id,
                "VpcId": subnet.data["VpcId"],
                "State": "available",
                "ConnectivityType": connectivity,
                "NatGatewayAddresses": addresses,
                "CreateTime": _now(),
            },
        )
        nat.tags = spec_tags(params, "natgateway")
        self.state.save(nat)
        return {"NatGateway": _nat_wire(nat), "ClientToken": params.get("ClientToken")}

    def describe_nats(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # NAT gateways take `Filter` (not `Filters`) in EC2's model.
        params = {**params, "Filters": params.get("Filter") or []}
        found = self.state.matching("natgateway", ctx, params, "NatGatewayIds", _nat_values)
        return paged("NatGateways", [_nat_wire(n) for n in found], params)

    def delete_nat(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        nat = self.state.own(params["NatGatewayId"], "natgateway", ctx)
        if nat.data["State"] != "deleted":
            nat.data["State"] = "deleted"
            nat.data["DeleteTime"] = _now()
            self.state.save(nat)
        return {"NatGatewayId": nat.id}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _nat_wire(nat: Resource) -> dict[str, Any]:
    return _nat_from_wire(nat.wire())


def _nat_from_wire(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for member in ("CreateTime", "DeleteTime"):
        if member in out:
            out[member] = datetime.datetime.fromisoformat(out[member])
    return out


def _free_ip(used: set[str]) -> str:
    for _ in range(1000):
        candidate = secrets.choice(_POOLS) + str(secrets.randbelow(254) + 1)
        if candidate not in used:
            return candidate
    raise ec2_error("AddressLimitExceeded", "The maximum number of addresses has been reached.")


def _host_in(cidr: str) -> str:
    network = ipaddress.ip_network(cidr)
    # AWS reserves the first four addresses of a subnet and its last.
    offset = 4 + secrets.randbelow(max(1, network.num_addresses - 5))
    return str(network.network_address + offset)
