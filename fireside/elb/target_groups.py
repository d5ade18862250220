"""Target groups: Create/Describe/Modify/DeleteTargetGroup, their attributes, RegisterTargets,
DeregisterTargets and DescribeTargetHealth.

Every target type is stored and described, but only `lambda` target groups carry traffic here
(Fireside has no instances or VPC addresses to send it to). A Lambda target is a function ARN
(or a version or alias of it) of the target group's own account and region, one per target
group, as on AWS; RegisterTargets checks, as AWS does, that the function's resource policy
lets `elasticloadbalancing.amazonaws.com` invoke it for this target group, and answers AWS's
`AccessDenied` otherwise. Health comes from `fireside.elb.health`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.elb.actions import users_of
from fireside.elb.balancers import Networks
from fireside.elb.health import TargetHealth
from fireside.elb.state import ElbState, Resource, elb_error, new_id, page, tag_map, validation
from fireside.gateway.integration import FunctionRef

__all__ = ["FunctionChecks", "TargetGroupApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_NAME: Final = re.compile(r"^(?!-)[A-Za-z0-9-]{1,32}(?<!-)$")
_HTTP_CODE: Final = re.compile(r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$")
_PROTOCOLS: Final = ("HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE")
_MAX_TARGETS: Final = 1000
_MAX_GROUPS: Final = 3000  # per account and region, AWS's default quota
_LAMBDA_ATTRIBUTES: Final = {"lambda.multi_value_headers.enabled": "false"}
_OTHER_ATTRIBUTES: Final = {
    "deregistration_delay.timeout_seconds": "300",
    "stickiness.enabled": "false",
    "stickiness.type": "lb_cookie",
    "stickiness.lb_cookie.duration_seconds": "86400",
    "load_balancing.algorithm.type": "round_robin",
    "slow_start.duration_seconds": "0",
    "stickiness.app_cookie.cookie_name": "",
    "stickiness.app_cookie.duration_seconds": "86400",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}
_HEALTH_KEYS: Final = (
    "HealthCheckProtocol",
    "HealthCheckPort",
    "HealthCheckEnabled",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
    "HealthCheckPath",
    "Matcher",
)


class FunctionChecks(Protocol):
    def exists(self, function: FunctionRef) -> bool: ...

    def permits(self, function: FunctionRef, target_group_arn: str) -> bool: ...


def _defaults(kind: str) -> dict[str, Any]:
    if kind == "lambda":
        return {
            "HealthCheckEnabled": False,
            "HealthCheckIntervalSeconds": 35,
            "HealthCheckTimeoutSeconds": 30,
            "HealthyThresholdCount": 5,
            "UnhealthyThresholdCount": 2,
            "HealthCheckPath": "/",
            "Matcher": {"HttpCode": "200"},
        }
    return {
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPort": "traffic-port",
        "HealthCheckEnabled": True,
        "HealthCheckIntervalSeconds": 30,
        "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 5,
        "UnhealthyThresholdCount": 2,
        "HealthCheckPath": "/",
        "Matcher": {"HttpCode": "200"},
    }


def _check_health(data: dict[str, Any]) -> None:
    code = (data.get("Matcher") or {}).get("HttpCode")
    if code is not None and not _HTTP_CODE.match(code):
        raise validation("HttpCode must be like 200 | 200-399 | 200,201 ...")
    if data.get("HealthCheckTimeoutSeconds", 0) >= data.get("HealthCheckIntervalSeconds", 300):
        raise validation(
            "Health check timeout must be smaller than the interval"
            if data.get("TargetType") != "lambda"
            else "Health check interval must be greater than the timeout."
        )


class TargetGroupApi:
    def __init__(
        self,
        state: ElbState,
        functions: FunctionChecks,
        health: TargetHealth,
        networks: Networks | None = None,
    ) -> None:
        self.networks = networks
        self.state = state
        self.functions = functions
        self.health = health

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateTargetGroup": self.create_target_group,
            "DescribeTargetGroups": self.describe_target_groups,
            "ModifyTargetGroup": self.modify_target_group,
            "DeleteTargetGroup": self.delete_target_group,
            "DescribeTargetGroupAttributes": self.describe_attributes,
            "ModifyTargetGroupAttributes": self.modify_attributes,
            "RegisterTargets": self.register_targets,
            "DeregisterTargets": self.deregister_targets,
            "DescribeTargetHealth": self.describe_target_health,
        }

    def wire(self, group: Resource) -> dict[str, Any]:
        return {
            "TargetGroupArn": group.arn,
            "TargetGroupName": group.name,
            **group.data,
            "LoadBalancerArns": users_of(self.state, group.arn),
        }

    async def create_target_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name = params["Name"]
        if len(name) > 32:
            raise validation(f"Target group name '{name}' cannot be longer than '32' characters")
        if not _NAME.match(name) or "--" in name:
            raise validation(
                f"Target group name '{name}' can only contain characters that are alphanumeric"
                " characters or hyphens(-), and cannot begin or end with '-'"
            )
        kind = params.get("TargetType") or "instance"
        data: dict[str, Any] = {"TargetType": kind}
        if kind == "lambda":
            for key, label in (("Protocol", "Protocol"), ("Port", "Port"), ("VpcId", "VPC ID")):
                if params.get(key) is not None:
                    raise validation(
                        f"{label} cannot be specified for target groups with target type 'lambda'"
                    )
        else:
            for key, label in (("Protocol", "protocol"), ("Port", "port"), ("VpcId", "VPC ID")):
                if kind != "alb" and params.get(key) in (None, "") and key != "VpcId":
                    raise validation(f"A {label} must be specified")
            if params.get("Protocol") not in _PROTOCOLS:
                raise validation(
                    f"1 validation error detected: Value '{params.get('Protocol')}' at 'protocol'"
                    " failed to satisfy constraint: Member must satisfy enum value set:"
                    f" [{', '.join(_PROTOCOLS)}]"
                )
            vpc_id = params.get("VpcId")
            networks = self.networks
            if vpc_id and networks and networks.vpc(ctx.account_id, ctx.region, vpc_id) is None:
                raise validation(f"The VPC ID '{vpc_id}' is not found")
            data.update(
                {k: params[k] for k in ("Protocol", "Port", "VpcId") if params.get(k) is not None}
            )
            if params.get("Protocol") in ("HTTP", "HTTPS"):
                data["ProtocolVersion"] = params.get("ProtocolVersion") or "HTTP1"
            data["IpAddressType"] = params.get("IpAddressType") or "ipv4"
        data.update(_defaults(kind))
        data.update({k: params[k] for k in _HEALTH_KEYS if params.get(k) is not None})
        _check_health(data)
        for group in self.state.all("targetgroup", ctx):
            if group.name == name:
                if all(group.data.get(k) == v for k, v in data.items()):
                    return {"TargetGroups": [self.wire(group)]}  # idempotent, as on AWS
                raise elb_error(
                    "DuplicateTargetGroupName",
                    "A target group with the same name '" + name + "' exists, but with different"
                    " settings",
                )
        if len(self.state.all("targetgroup", ctx)) >= _MAX_GROUPS:
            raise elb_error(
                "TooManyTargetGroups",
                "You've reached the limit on the number of target groups for your account",
            )
        arn = (
            f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account_id}:targetgroup/"
            f"{name}/{new_id()}"
        )
        attributes = dict(_LAMBDA_ATTRIBUTES if kind == "lambda" else _OTHER_ATTRIBUTES)
        group = Resource(
            arn,
            "targetgroup",
            ctx.account_id,
            ctx.region,
            name,
            data=data,
            attributes=attributes,
            tags=tag_map(params.get("Tags")),
        )
        self.state.save(group)
        return {"TargetGroups": [self.wire(group)]}

    async def describe_target_groups(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        groups = self.state.all("targetgroup", ctx)
        if params.get("LoadBalancerArn"):
            balancer = self.state.own(params["LoadBalancerArn"], "loadbalancer", ctx)
            groups = [g for g in groups if balancer.arn in users_of(self.state, g.arn)]
        if params.get("TargetGroupArns"):
            by_arn = {g.arn: g for g in groups}
            if any(arn not in by_arn for arn in params["TargetGroupArns"]):
                raise elb_error("TargetGroupNotFound", "One or more target groups not found")
            groups = [by_arn[arn] for arn in params["TargetGroupArns"]]
        if params.get("Names"):
            by_name = {g.name: g for g in groups}
            missing = [n for n in params["Names"] if n not in by_name]
            if missing:
                raise elb_error(
                    "TargetGroupNotFound", f"Target groups '{missing}' not found".replace('"', "'")
                )
            groups = [by_name[n] for n in params["Names"]]
        shown, marker = page(groups, params)
        result: dict[str, Any] = {"TargetGroups": [self.wire(g) for g in shown]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def modify_target_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.own(params.get("TargetGroupArn"), "targetgroup", ctx)
        data = {**group.data, **{k: params[k] for k in _HEALTH_KEYS if params.get(k) is not None}}
        _check_health(data)
        group.data = data
        self.state.save(group)
        self.health.forget(group.arn)
        return {"TargetGroups": [self.wire(group)]}

    async def delete_target_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.find(params.get("TargetGroupArn", ""), "targetgroup", ctx)
        if group is None:
            return {}  # AWS answers success for a target group already gone
        if users_of(self.state, group.arn):
            raise elb_error(
                "ResourceInUse",
                f"Target group '{group.arn}' is currently in use by a listener or a rule",
            )
        self.state.save(delete=[group])
        self.health.forget(group.arn)
        return {}

    async def describe_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.own(params.get("TargetGroupArn"), "targetgroup", ctx)
        return {"Attributes": [{"Key": k, "Value": v} for k, v in group.attributes.items()]}

    async def modify_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.own(params.get("TargetGroupArn"), "targetgroup", ctx)
        changes = {a["Key"]: a.get("Value", "") for a in params.get("Attributes") or []}
        for key, value in changes.items():
            if key not in group.attributes:
                if group.data["TargetType"] == "lambda" and key in _OTHER_ATTRIBUTES:
                    raise elb_error(
                        "InvalidConfigurationRequest",
                        f"A target group with target type 'lambda' does not support the"
                        f" attribute {key}",
                    )
                raise validation(f"Target group attribute key '{key}' is not recognized")
            if key.endswith(".enabled") and value not in ("true", "false"):
                raise validation(
                    f"Target group attribute value '{value}' for key '{key}' is not valid"
                )
        group.attributes.update(changes)
        self.state.save(group)
        return {"Attributes": [{"Key": k, "Value": v} for k, v in group.attributes.items()]}

    def _lambda_target(self, ctx: RequestContext, group: Resource, target: str) -> None:
        function = FunctionRef.parse(target, ctx.account_id, ctx.region)
        if not target.startswith("arn:"):
            raise validation(f"The target '{target}' is not a valid Lambda function ARN")
        if function.account != ctx.account_id or function.region != ctx.region:
            raise elb_error(
                "InvalidTarget",
                f"The Lambda function '{target}' must be in the same account and region as"
                " the target group",
            )
        if not self.functions.exists(function):
            raise elb_error(
                "InvalidTarget",
                "The specified target does not exist, is not in the same VPC as the target"
                " group, or has an unsupported instance type",
            )
        if not self.functions.permits(function, group.arn):
            raise ServiceError(
                "AccessDenied",
                "elasticloadbalancing principal does not have permission to invoke"
                f" {function.arn} from target group {group.arn}",
                403,
            )

    async def register_targets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.state.own(params.get("TargetGroupArn"), "targetgroup", ctx)
        targets = params.get("Targets") or []
        if group.data["TargetType"] == "lambda":
            ids = {t["Id"] for t in targets} | set(group.targets)
            if len(ids) > 1:
                raise elb_error(
                    "TooManyTargets",
                    "You cannot register more than one target with a target group of target"
                    " type 'lambda'",
                )
            for target in targets:
                if "Port" in target:
                    raise validation("A port cannot be specified for Lambda targets")
                self._lambda_target(ctx, group, target["Id"])
        elif len(set(group.targets) | {t["Id"] for t in targets}) > _MAX_TARGETS:
            raise elb_error("TooManyTargets", "You have reached the limit on the number of targets")
        for target in targets:
            group.targets[_key(target)] = {
                k: target[k] for k in ("Id", "Port", "AvailabilityZone") if k in target
            }
        self.state.save(group)
        for target in targets:
            self.health.registered(group.arn, _key(target))
        return {}

    async def deregister_targets(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.own(params.get("TargetGroupArn"), "targetgroup", ctx)
        for target in params.get("Targets") or []:
            if _key(target) not in group.targets and group.data["TargetType"] == "lambda":
                raise elb_error(
                    "InvalidTarget",
                    f"The target '{target['Id']}' is not registered with this target group",
                )
            group.targets.pop(_key(target), None)
            self.health.forget(group.arn, _key(target))
        self.state.save(group)
        return {}

    async def describe_target_health(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.own(params.get("TargetGroupArn"), "targetgroup", ctx)
        in_use = bool(users_of(self.state, group.arn))
        asked = params.get("Targets")
        keys = [_key(t) for t in asked] if asked else list(group.targets)
        out = []
        for key in keys:
            target = group.targets.get(key)
            if target is None:
                ident, _, port = key.partition("@")
                shown: dict[str, Any] = {"Id": ident}
                if group.data["TargetType"] != "lambda":  # AWS fills in the group's port
                    port_given = port or group.data.get("Port")
                    if port_given:
                        shown["Port"] = int(port_given)
                health = {
                    "State": "unavailable" if group.data["TargetType"] == "lambda" else "unused",
                    "Reason": "Target.NotRegistered",
                    "Description": "Target is not registered to the target group",
                }
            else:
                shown = dict(target)
                health = self.health.describe(group, key, in_use)
            description: dict[str, Any] = {"Target": shown, "TargetHealth": health}
            if group.data["TargetType"] != "lambda":
                description["HealthCheckPort"] = str(shown.get("Port", group.data.get("Port", "")))
            out.append(description)
        return {"TargetHealthDescriptions": out}


def _key(target: dict[str, Any]) -> str:
    """A target's identity in its group: the id, and the port when one is given."""
    return f"{target['Id']}@{target['Port']}" if "Port" in target else str(target["Id"])
