"""The EC2 provider (ec2 protocol): the networking control plane a load balancer, a CDK
`ec2.Vpc` or a Terraform `aws_lb` needs. VPCs, subnets, security groups, internet and NAT
gateways, route tables, Elastic IPs and tags are durable records per account and region;
nothing of them moves packets (Fireside's functions and listeners run on its own host).

Operations Fireside lacks (instances, volumes, images, network ACLs...) are absent from
`operations()`, so the edge answers each with a NotImplementedException naming it. Every
operation first makes the caller's default VPC in its region if it has none yet, and answers
`DryRun` as AWS does once the request is known to be well formed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fireside.aws.context import RequestContext
from fireside.ec2 import zones
from fireside.ec2.gateways import GatewayApi
from fireside.ec2.groups import GroupApi
from fireside.ec2.routes import RouteApi
from fireside.ec2.state import Ec2State, Operation, TagApi, ec2_error, wrap
from fireside.ec2.store import Ec2Store
from fireside.ec2.subnets import SubnetApi
from fireside.ec2.vpcs import VpcApi

__all__ = ["Ec2Provider"]


class Ec2Provider:
    def __init__(self, data_dir: Path) -> None:
        self.state = Ec2State(Ec2Store(data_dir / "ec2.sqlite"))
        self.vpcs = VpcApi(self.state)
        self.subnets = SubnetApi(self.state, self.vpcs.default_vpc)
        self.groups = GroupApi(self.state, self._default_vpc_id)
        self.routes = RouteApi(self.state)
        self.gateways = GatewayApi(self.state)
        self.tags = TagApi(self.state)

    def _default_vpc_id(self, ctx: RequestContext) -> str | None:
        vpc = self.vpcs.default_vpc(ctx.account_id, ctx.region)
        return vpc.id if vpc is not None else None

    def close(self) -> None:
        self.state.close()

    # -- what other services ask ------------------------------------------------------------
    def subnet(self, account: str, region: str, subnet_id: str) -> dict[str, Any] | None:
        """A subnet's record (`VpcId`, `AvailabilityZone`...) if `account` owns it there."""
        self.vpcs.ensure_default(RequestContext(account, region, "", ""))
        found = self.state.find(subnet_id, "subnet", account, region)
        return dict(found.data) if found is not None else None

    def security_group(self, account: str, region: str, group_id: str) -> dict[str, Any] | None:
        found = self.state.find(group_id, "security-group", account, region)
        return dict(found.data) if found is not None else None

    def vpc(self, account: str, region: str, vpc_id: str) -> dict[str, Any] | None:
        self.vpcs.ensure_default(RequestContext(account, region, "", ""))
        found = self.state.find(vpc_id, "vpc", account, region)
        return dict(found.data) if found is not None else None

    def availability_zones(self, region: str) -> list[str]:
        return [z["ZoneName"] for z in zones.zones(region)]

    # -- the API ----------------------------------------------------------------------------
    def operations(self) -> dict[str, Operation]:
        tags = self.tags

        def account_attributes(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            return zones.describe_account_attributes(self._default_vpc_id(ctx), params)

        table: dict[str, Operation] = {
            **self.vpcs.operations(),
            **self.subnets.operations(),
            **self.groups.operations(),
            **self.routes.operations(),
            **self.gateways.operations(),
            "CreateTags": wrap(tags.create_tags),
            "DeleteTags": wrap(tags.delete_tags),
            "DescribeTags": wrap(tags.describe_tags),
            "DescribeAvailabilityZones": wrap(zones.describe_availability_zones),
            "DescribeRegions": wrap(zones.describe_regions),
            "DescribeAccountAttributes": wrap(account_attributes),
        }
        return {name: self._guarded(op) for name, op in table.items()}

    def _guarded(self, operation: Operation) -> Operation:
        async def call(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            self.vpcs.ensure_default(ctx)
            if params.get("DryRun"):
                raise ec2_error(
                    "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
                )
            return await operation(ctx, params)

        return call
