"""The Elastic Load Balancing v2 provider (query protocol, signing name
`elasticloadbalancing`): Application Load Balancers with Lambda targets.

The control plane is split by resource (`balancers`, `rules`, `target_groups`, tags in
`state`); the data plane is `door` behind `ports`; health checks are `health`'s loop, which
the app runs under its supervisor. Operations Fireside lacks (trust stores, capacity
reservations, listener certificates...) are absent from `operations()`, so the
edge answers them with a NotImplementedException naming them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fireside.aws.context import RequestContext
from fireside.compute.policies import Policies
from fireside.compute.versions import Versions
from fireside.elb.balancers import BalancerApi, Networks
from fireside.elb.door import AlbDoor
from fireside.elb.health import TargetHealth
from fireside.elb.ports import ListenerPorts
from fireside.elb.rules import RuleApi
from fireside.elb.state import ElbState, Resource, add_tags, describe_tags, remove_tags
from fireside.elb.store import ElbStore
from fireside.elb.target_groups import TargetGroupApi
from fireside.gateway.integration import ELASTIC_LOAD_BALANCING, FunctionCaller, FunctionRef
from fireside.http.limits import HttpLimits

__all__ = ["ElbProvider", "LambdaFunctions"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class LambdaFunctions:
    """What RegisterTargets asks Lambda: does the function exist, and may ELB invoke it for
    this target group (its resource policy, as AWS checks it)."""

    def __init__(self, versions: Versions, policies: Policies) -> None:
        self._versions = versions
        self._policies = policies

    def exists(self, function: FunctionRef) -> bool:
        return self._versions.exists(
            function.account, function.region, function.name, function.qualifier or "$LATEST"
        )

    def permits(self, function: FunctionRef, target_group_arn: str) -> bool:
        return self._policies.allows_invoke(
            function.account,
            function.region,
            function.name,
            function.qualifier,
            principal_service=ELASTIC_LOAD_BALANCING,
            source_arn=target_group_arn,
            source_account=function.account,
        )


class ElbProvider:
    def __init__(
        self,
        data_dir: Path,
        host: str,
        functions: LambdaFunctions,
        limits: HttpLimits | None = None,
        networks: Networks | None = None,
    ) -> None:
        self.state = ElbState(ElbStore(data_dir / "elb.sqlite"))
        self.door = AlbDoor(self.state)
        self.health = TargetHealth(self.state, self.door.probe)
        self.ports = ListenerPorts(
            host, self.door, data_dir / "tls", limits, dns_name=self._dns_name
        )
        self.balancers = BalancerApi(self.state, self.ports, networks)
        self.rules = RuleApi(self.state)
        self.target_groups = TargetGroupApi(self.state, functions, self.health, networks)

    def _dns_name(self, listener: Resource) -> str:
        balancer = self.state.resources.get(listener.parent)
        return str(balancer.data["DNSName"]) if balancer is not None else ""

    def bind(self, caller: FunctionCaller) -> None:
        """Give the data plane its way to run functions (made once the edge is built)."""
        self.door.caller = caller

    async def start(self) -> None:
        await self.ports.reopen(self.state)

    async def close(self) -> None:
        await self.ports.close_all()
        self.state.close()

    def operations(self) -> dict[str, Operation]:
        state = self.state

        async def tags_added(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            return add_tags(state, ctx, params)

        async def tags_removed(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            return remove_tags(state, ctx, params)

        async def tags(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            return describe_tags(state, ctx, params)

        return {
            **self.balancers.operations(),
            **self.rules.operations(),
            **self.target_groups.operations(),
            "AddTags": tags_added,
            "RemoveTags": tags_removed,
            "DescribeTags": tags,
        }
