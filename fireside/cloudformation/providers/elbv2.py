"""Elastic Load Balancing v2 resources: LoadBalancer, Listener, ListenerRule and TargetGroup
(with its `Targets`: Lambda functions registered as RegisterTargets does, so the function's
permission for `elasticloadbalancing.amazonaws.com` must exist first, as on AWS: templates
make the TargetGroup depend on the `AWS::Lambda::Permission`).

Each acts through elbv2's served operations as the stack's account. `Ref` is the ARN of each;
`Fn::GetAtt` gives what AWS's resource schemas name (`DNSName`, `LoadBalancerFullName`,
`TargetGroupFullName`, `ListenerArn`, `RuleArn`...). A listener's port is a real port here
(`fireside.elb.ports`), opened on create and closed on delete.
"""

from __future__ import annotations

from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.support import (
    as_bool,
    as_int,
    call,
    failed,
    name_for,
    tag_list,
)
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["providers"]

_SERVICE: Final = "elbv2"
_GONE: Final = frozenset(
    {"LoadBalancerNotFound", "ListenerNotFound", "RuleNotFound", "TargetGroupNotFound"}
)
_HEALTH: Final = (
    "HealthCheckEnabled",
    "HealthCheckIntervalSeconds",
    "HealthCheckPath",
    "HealthCheckPort",
    "HealthCheckProtocol",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
    "Matcher",
)


async def _delete(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> None:
    try:
        await ctx.call(_SERVICE, operation, params)
    except ServiceError as error:
        if error.code not in _GONE:
            raise failed(error) from None


def _attributes(items: Any) -> list[dict[str, str]]:
    return [
        {
            "Key": str(a["Key"]),
            "Value": str(a.get("Value", "")).lower()
            if isinstance(a.get("Value"), bool)
            else str(a.get("Value", "")),
        }
        for a in items or []
    ]


class LoadBalancer:
    type_name = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    replace_on = frozenset({"Name", "Scheme", "Type"})

    @staticmethod
    def _created(lb: dict[str, Any]) -> Created:
        arn = lb["LoadBalancerArn"]
        return Created(
            arn,
            {
                "LoadBalancerArn": arn,
                "DNSName": lb["DNSName"],
                "CanonicalHostedZoneID": lb["CanonicalHostedZoneId"],
                "LoadBalancerName": lb["LoadBalancerName"],
                "LoadBalancerFullName": arn.split(":loadbalancer/", 1)[1],
                "SecurityGroups": lb.get("SecurityGroups", []),
            },
        )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params: dict[str, Any] = {"Name": name_for(ctx, properties.get("Name"), 32)}
        for key in (
            "Subnets",
            "SubnetMappings",
            "SecurityGroups",
            "Scheme",
            "Type",
            "IpAddressType",
        ):
            if properties.get(key) is not None:
                params[key] = properties[key]
        tags = tag_list(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        lb = (await call(ctx, _SERVICE, "CreateLoadBalancer", params))["LoadBalancers"][0]
        attributes = _attributes(properties.get("LoadBalancerAttributes"))
        if attributes:
            await call(
                ctx,
                _SERVICE,
                "ModifyLoadBalancerAttributes",
                {"LoadBalancerArn": lb["LoadBalancerArn"], "Attributes": attributes},
            )
        return self._created(lb)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        attributes = _attributes(new.get("LoadBalancerAttributes"))
        if attributes:
            await call(
                ctx,
                _SERVICE,
                "ModifyLoadBalancerAttributes",
                {"LoadBalancerArn": physical_id, "Attributes": attributes},
            )
        found = await call(
            ctx, _SERVICE, "DescribeLoadBalancers", {"LoadBalancerArns": [physical_id]}
        )
        return self._created(found["LoadBalancers"][0])

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _delete(ctx, "DeleteLoadBalancer", {"LoadBalancerArn": physical_id})


def _listener_params(properties: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in ("Port", "Protocol", "Certificates", "SslPolicy", "DefaultActions", "AlpnPolicy"):
        if properties.get(key) is not None:
            params[key] = properties[key]
    return params


class Listener:
    type_name = "AWS::ElasticLoadBalancingV2::Listener"
    replace_on = frozenset({"LoadBalancerArn"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = {
            "LoadBalancerArn": properties.get("LoadBalancerArn", ""),
            **_listener_params(properties),
        }
        arn = (await call(ctx, _SERVICE, "CreateListener", params))["Listeners"][0]["ListenerArn"]
        return Created(arn, {"ListenerArn": arn})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = {"ListenerArn": physical_id, **_listener_params(new)}
        await call(ctx, _SERVICE, "ModifyListener", params)
        return Created(physical_id, {"ListenerArn": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _delete(ctx, "DeleteListener", {"ListenerArn": physical_id})


class ListenerRule:
    type_name = "AWS::ElasticLoadBalancingV2::ListenerRule"
    replace_on = frozenset({"ListenerArn"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = {
            "ListenerArn": properties.get("ListenerArn", ""),
            "Priority": as_int(properties.get("Priority"), "Priority"),
            "Conditions": properties.get("Conditions") or [],
            "Actions": properties.get("Actions") or [],
        }
        rule = (await call(ctx, _SERVICE, "CreateRule", params))["Rules"][0]
        return Created(rule["RuleArn"], {"RuleArn": rule["RuleArn"], "IsDefault": False})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        await call(
            ctx,
            _SERVICE,
            "ModifyRule",
            {
                "RuleArn": physical_id,
                "Conditions": new.get("Conditions") or [],
                "Actions": new.get("Actions") or [],
            },
        )
        if str(old.get("Priority")) != str(new.get("Priority")):
            await call(
                ctx,
                _SERVICE,
                "SetRulePriorities",
                {
                    "RulePriorities": [
                        {
                            "RuleArn": physical_id,
                            "Priority": as_int(new.get("Priority"), "Priority"),
                        }
                    ]
                },
            )
        return Created(physical_id, {"RuleArn": physical_id, "IsDefault": False})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _delete(ctx, "DeleteRule", {"RuleArn": physical_id})


def _targets(properties: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for target in properties.get("Targets") or []:
        item: dict[str, Any] = {"Id": str(target["Id"])}
        if target.get("Port") is not None:
            item["Port"] = as_int(target["Port"], "Targets/Port")
        if target.get("AvailabilityZone") is not None:
            item["AvailabilityZone"] = str(target["AvailabilityZone"])
        out.append(item)
    return out


class TargetGroup:
    type_name = "AWS::ElasticLoadBalancingV2::TargetGroup"
    replace_on = frozenset({"Name", "Port", "Protocol", "ProtocolVersion", "TargetType", "VpcId"})

    @staticmethod
    def _created(group: dict[str, Any]) -> Created:
        arn = group["TargetGroupArn"]
        return Created(
            arn,
            {
                "TargetGroupArn": arn,
                "TargetGroupName": group["TargetGroupName"],
                "TargetGroupFullName": arn.split(":", 5)[5],
                "LoadBalancerArns": group.get("LoadBalancerArns", []),
            },
        )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params: dict[str, Any] = {"Name": name_for(ctx, properties.get("Name"), 32)}
        for key in (
            "Protocol",
            "ProtocolVersion",
            "Port",
            "VpcId",
            "TargetType",
            "IpAddressType",
            *_HEALTH,
        ):
            if properties.get(key) is not None:
                params[key] = properties[key]
        if "HealthCheckEnabled" in params:
            params["HealthCheckEnabled"] = as_bool(
                params["HealthCheckEnabled"], "HealthCheckEnabled"
            )
        tags = tag_list(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        group = (await call(ctx, _SERVICE, "CreateTargetGroup", params))["TargetGroups"][0]
        arn = group["TargetGroupArn"]
        try:
            await self._configure(ctx, arn, {}, properties)
        except BaseException:
            await _delete(ctx, "DeleteTargetGroup", {"TargetGroupArn": arn})
            raise
        return self._created(group)

    async def _configure(
        self, ctx: ResourceContext, arn: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        attributes = _attributes(new.get("TargetGroupAttributes"))
        if attributes:
            await call(
                ctx,
                _SERVICE,
                "ModifyTargetGroupAttributes",
                {"TargetGroupArn": arn, "Attributes": attributes},
            )
        before = {t["Id"]: t for t in _targets(old)}
        after = {t["Id"]: t for t in _targets(new)}
        gone = [t for i, t in before.items() if i not in after]
        if gone:
            await call(ctx, _SERVICE, "DeregisterTargets", {"TargetGroupArn": arn, "Targets": gone})
        added = [t for i, t in after.items() if i not in before]
        if added:
            await call(ctx, _SERVICE, "RegisterTargets", {"TargetGroupArn": arn, "Targets": added})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        health = {k: new[k] for k in _HEALTH if new.get(k) is not None}
        if "HealthCheckEnabled" in health:
            health["HealthCheckEnabled"] = as_bool(
                health["HealthCheckEnabled"], "HealthCheckEnabled"
            )
        if health:
            await call(
                ctx, _SERVICE, "ModifyTargetGroup", {"TargetGroupArn": physical_id, **health}
            )
        await self._configure(ctx, physical_id, old, new)
        found = await call(
            ctx, _SERVICE, "DescribeTargetGroups", {"TargetGroupArns": [physical_id]}
        )
        return self._created(found["TargetGroups"][0])

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _delete(ctx, "DeleteTargetGroup", {"TargetGroupArn": physical_id})


def providers() -> list[ResourceType]:
    return [LoadBalancer(), Listener(), ListenerRule(), TargetGroup()]
