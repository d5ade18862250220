"""Load balancers and listeners: Create/Describe/DeleteLoadBalancer, their attributes, and
Create/Describe/Modify/DeleteListener.

Only `application` load balancers are made. A listener is a real port on Fireside's listen
host (`fireside.elb.ports`): it is bound before CreateListener answers (a port that cannot be
bound answers `InvalidConfigurationRequest` saying why), re-bound when ModifyListener changes
its port, protocol or certificate, and closed on delete. Each listener has a default rule
(`fireside.elb.rules`) holding its default actions.
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from fireside.aws.context import RequestContext
from fireside.elb.actions import check_actions
from fireside.elb.state import ElbState, Resource, elb_error, new_id, page, tag_map, validation

__all__ = ["BalancerApi", "Networks", "Ports", "placement"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_NAME: Final = re.compile(r"^(?!-)[A-Za-z0-9-]{1,32}(?<!-)$")
_MAX_LISTENERS: Final = 50
_MAX_BALANCERS: Final = 1000  # per account and region (AWS's default quota is 50)
_DEFAULT_SSL_POLICY: Final = "ELBSecurityPolicy-2016-08"
_ATTRIBUTES: Final = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "health_check_logs.s3.enabled": "false",
    "health_check_logs.s3.bucket": "",
    "health_check_logs.s3.prefix": "",
    "load_balancing.cross_zone.enabled": "true",
    "zonal_shift.config.enabled": "false",
    "deletion_protection.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
}
#: Route 53 hosted zone of ALBs in us-east-1 (AWS's value; one zone for every region here).
_HOSTED_ZONE: Final = "Z35SXDOTRQ7X7K"


class Networks(Protocol):
    """What ELB asks EC2 (`fireside.ec2.provider.Ec2Provider`): the caller's own records."""

    def subnet(self, account: str, region: str, subnet_id: str) -> dict[str, Any] | None: ...

    def security_group(self, account: str, region: str, group_id: str) -> dict[str, Any] | None: ...

    def vpc(self, account: str, region: str, vpc_id: str) -> dict[str, Any] | None: ...


class Ports(Protocol):
    async def open(self, listener: Resource) -> None: ...

    async def close(self, listener_arn: str) -> None: ...


def _time(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


def placement(
    networks: Networks | None, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    """`VpcId`, `AvailabilityZones` and `SecurityGroups` of a new load balancer, from the
    caller's own subnets and groups in EC2, checked as AWS checks them."""
    subnets = list(params.get("Subnets") or [])
    subnets += [m["SubnetId"] for m in params.get("SubnetMappings") or [] if "SubnetId" in m]
    groups = list(params.get("SecurityGroups") or [])
    if networks is None or not subnets:
        return {"AvailabilityZones": [], "SecurityGroups": groups}
    records = []
    for subnet_id in subnets:
        found = networks.subnet(ctx.account_id, ctx.region, subnet_id)
        if found is None:
            raise elb_error("SubnetNotFound", f"The subnet ID '{subnet_id}' is not valid")
        records.append(found)
    vpcs = {r["VpcId"] for r in records}
    if len(vpcs) > 1:
        raise elb_error(
            "InvalidConfigurationRequest", "The subnets must all belong to the same VPC"
        )
    zones = [r["AvailabilityZone"] for r in records]
    if len(set(zones)) != len(zones):
        raise elb_error(
            "InvalidConfigurationRequest",
            "A load balancer cannot be attached to multiple subnets in the same Availability Zone",
        )
    if len(zones) < 2:
        raise validation(
            "At least two subnets in two different Availability Zones must be specified"
        )
    vpc_id = records[0]["VpcId"]
    for group_id in groups:
        # The group must be the caller's; that it is in the balancer's VPC is not checked
        # (AWS checks it; moto's elbv2 tests pass groups of the default VPC).
        if networks.security_group(ctx.account_id, ctx.region, group_id) is None:
            raise elb_error("InvalidSecurityGroup", f"Security group '{group_id}' does not exist")
    return {
        "VpcId": vpc_id,
        "AvailabilityZones": [
            {
                "ZoneName": r["AvailabilityZone"],
                "SubnetId": r["SubnetId"],
                "LoadBalancerAddresses": [],
            }
            for r in records
        ],
        "SecurityGroups": groups,
    }


class BalancerApi:
    def __init__(self, state: ElbState, ports: Ports, networks: Networks | None = None) -> None:
        self.state = state
        self.ports = ports
        self.networks = networks

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateLoadBalancer": self.create_load_balancer,
            "DescribeLoadBalancers": self.describe_load_balancers,
            "DeleteLoadBalancer": self.delete_load_balancer,
            "DescribeLoadBalancerAttributes": self.describe_attributes,
            "ModifyLoadBalancerAttributes": self.modify_attributes,
            "CreateListener": self.create_listener,
            "DescribeListeners": self.describe_listeners,
            "ModifyListener": self.modify_listener,
            "DeleteListener": self.delete_listener,
            "SetSubnets": self.set_subnets,
            "SetSecurityGroups": self.set_security_groups,
        }

    # -- load balancers ---------------------------------------------------------------------
    @staticmethod
    def balancer_wire(lb: Resource) -> dict[str, Any]:
        return {
            "LoadBalancerArn": lb.arn,
            "LoadBalancerName": lb.name,
            "CreatedTime": _time(lb.created),
            "State": {"Code": "active"},
            **lb.data,
        }

    async def create_load_balancer(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name = params["Name"]
        if not _NAME.match(name) or name.lower().startswith("internal-"):
            raise validation(
                f"The load balancer name '{name}' is not valid: at most 32 alphanumeric"
                " characters or hyphens, not beginning or ending with a hyphen, and not"
                " beginning with 'internal-'"
            )
        kind = params.get("Type") or "application"
        if kind != "application":
            raise elb_error(
                "InvalidConfigurationRequest",
                f"Fireside does not make load balancers of type '{kind}' yet",
            )
        scheme = params.get("Scheme") or "internet-facing"
        placed = placement(self.networks, ctx, params)
        for lb in self.state.all("loadbalancer", ctx):
            if lb.name == name:
                if lb.data["Scheme"] == scheme:
                    return {"LoadBalancers": [self.balancer_wire(lb)]}  # idempotent, as AWS
                raise elb_error(
                    "DuplicateLoadBalancerName",
                    "A load balancer with the same name '" + name + "' exists, but with"
                    " different settings",
                )
        if len(self.state.all("loadbalancer", ctx)) >= _MAX_BALANCERS:
            raise elb_error(
                "TooManyLoadBalancers",
                "You've reached the limit on the number of load balancers for your account",
            )
        lb_id = new_id()
        number = random.randrange(10**9, 10**10)
        data: dict[str, Any] = {
            "DNSName": f"{name}-{number}.{ctx.region}.elb.localhost".lower(),
            "CanonicalHostedZoneId": _HOSTED_ZONE,
            "Scheme": scheme,
            "Type": kind,
            **placed,
            "IpAddressType": params.get("IpAddressType") or "ipv4",
        }
        lb = Resource(
            f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account_id}:loadbalancer/app/"
            f"{name}/{lb_id}",
            "loadbalancer",
            ctx.account_id,
            ctx.region,
            name,
            data=data,
            attributes=dict(_ATTRIBUTES),
            tags=tag_map(params.get("Tags")),
        )
        self.state.save(lb)
        return {"LoadBalancers": [self.balancer_wire(lb)]}

    async def describe_load_balancers(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        balancers = self.state.all("loadbalancer", ctx)
        if params.get("LoadBalancerArns") and params.get("Names"):
            raise validation(
                "Load balancer names and load balancer ARNs cannot be specified at the same time"
            )
        if params.get("LoadBalancerArns"):
            by_arn = {lb.arn: lb for lb in balancers}
            missing = [a for a in params["LoadBalancerArns"] if a not in by_arn]
            if missing:
                raise elb_error(
                    "LoadBalancerNotFound", f"Load balancers '[{', '.join(missing)}]' not found"
                )
            balancers = [by_arn[a] for a in params["LoadBalancerArns"]]
        if params.get("Names"):
            by_name = {lb.name: lb for lb in balancers}
            missing = [n for n in params["Names"] if n not in by_name]
            if missing:
                raise elb_error(
                    "LoadBalancerNotFound", f"Load balancers '[{', '.join(missing)}]' not found"
                )
            balancers = [by_name[n] for n in params["Names"]]
        shown, marker = page(balancers, params)
        result: dict[str, Any] = {"LoadBalancers": [self.balancer_wire(lb) for lb in shown]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def set_subnets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        lb = self.state.own(params.get("LoadBalancerArn"), "loadbalancer", ctx)
        placed = placement(self.networks, ctx, params)
        lb.data["AvailabilityZones"] = placed["AvailabilityZones"]
        if "VpcId" in placed:
            lb.data["VpcId"] = placed["VpcId"]
        self.state.save(lb)
        return {"AvailabilityZones": lb.data["AvailabilityZones"]}

    async def set_security_groups(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        lb = self.state.own(params.get("LoadBalancerArn"), "loadbalancer", ctx)
        groups = list(params.get("SecurityGroups") or [])
        for group_id in groups:
            if self.networks and not self.networks.security_group(
                ctx.account_id, ctx.region, group_id
            ):
                raise elb_error(
                    "InvalidSecurityGroup", f"Security group '{group_id}' does not exist"
                )
        lb.data["SecurityGroups"] = groups
        self.state.save(lb)
        return {"SecurityGroupIds": groups}

    async def delete_load_balancer(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        lb = self.state.find(params.get("LoadBalancerArn") or "", "loadbalancer", ctx)
        if lb is None:
            return {}  # "If the load balancer does not exist ... the call succeeds" (AWS)
        if lb.attributes.get("deletion_protection.enabled") == "true":
            raise elb_error(
                "OperationNotPermitted",
                f"Load balancer '{lb.arn}' cannot be deleted because deletion protection is"
                " enabled",
            )
        listeners = self.state.children(lb.arn)
        for listener in listeners:
            await self.ports.close(listener.arn)
        rules = [r for listener in listeners for r in self.state.children(listener.arn)]
        self.state.save(delete=[lb, *listeners, *rules])
        return {}

    async def describe_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        lb = self.state.own(params.get("LoadBalancerArn"), "loadbalancer", ctx)
        return {"Attributes": [{"Key": k, "Value": v} for k, v in lb.attributes.items()]}

    async def modify_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        lb = self.state.own(params.get("LoadBalancerArn"), "loadbalancer", ctx)
        changes = {a["Key"]: a.get("Value", "") for a in params.get("Attributes") or []}
        for key, value in changes.items():
            if key not in _ATTRIBUTES:
                raise elb_error("InvalidConfigurationRequest", f"Key {key} not valid")
            if key == "idle_timeout.timeout_seconds" and not (
                value.isdigit() and 1 <= int(value) <= 4000
            ):
                raise validation(
                    f"'idle_timeout.timeout_seconds' value '{value}' must be between '1-4000'"
                    " inclusive"
                )
        lb.attributes.update(changes)
        self.state.save(lb)
        return {"Attributes": [{"Key": k, "Value": v} for k, v in lb.attributes.items()]}

    # -- listeners ------------------------------------------------------------------------------
    @staticmethod
    def listener_wire(listener: Resource) -> dict[str, Any]:
        return {"ListenerArn": listener.arn, "LoadBalancerArn": listener.parent, **listener.data}

    def _listener_data(
        self, ctx: RequestContext, params: dict[str, Any], base: dict[str, Any]
    ) -> dict[str, Any]:
        data = dict(base)
        for key in ("Port", "Protocol", "SslPolicy", "Certificates", "AlpnPolicy"):
            if params.get(key) is not None:
                data[key] = params[key]
        if "Port" not in data:
            raise validation("A listener port must be specified")
        protocol = data.get("Protocol")
        if protocol is None:
            raise validation("A listener protocol must be specified")
        if protocol not in ("HTTP", "HTTPS"):
            raise validation(f"Listener protocol '{protocol}' must be one of 'HTTPS, HTTP'")
        if protocol == "HTTPS":
            if not data.get("Certificates"):
                raise elb_error(
                    "CertificateNotFound", "A certificate must be specified for HTTPS listeners"
                )
            data.setdefault("SslPolicy", _DEFAULT_SSL_POLICY)
        else:
            data.pop("SslPolicy", None)
            data.pop("Certificates", None)
        if params.get("DefaultActions") is not None:
            data["DefaultActions"] = check_actions(self.state, ctx, params["DefaultActions"])
        return data

    async def create_listener(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        lb = self.state.own(params.get("LoadBalancerArn"), "loadbalancer", ctx)
        data = self._listener_data(ctx, params, {})
        if "DefaultActions" not in data:
            raise validation("At least one default action must be specified")
        listeners = self.state.children(lb.arn)
        if any(listener.data["Port"] == data["Port"] for listener in listeners):
            raise elb_error(
                "DuplicateListener", "A listener already exists on this port for this load balancer"
            )
        if len(listeners) >= _MAX_LISTENERS:
            raise elb_error(
                "TooManyListeners",
                "You've reached the limit on the number of listeners per load balancer",
            )
        arn = lb.arn.replace(":loadbalancer/", ":listener/", 1) + "/" + new_id()
        listener = Resource(
            arn, "listener", ctx.account_id, ctx.region, "", parent=lb.arn, data=data,
            tags=tag_map(params.get("Tags")),
        )  # fmt: skip
        default_rule = Resource(
            arn.replace(":listener/", ":listener-rule/", 1) + "/" + new_id(),
            "rule",
            ctx.account_id,
            ctx.region,
            "",
            parent=arn,
            data={
                "Priority": "default",
                "Conditions": [],
                "Actions": data["DefaultActions"],
                "IsDefault": True,
            },
        )
        await self.ports.open(listener)
        try:
            self.state.save(listener, default_rule)
        except BaseException:
            await self.ports.close(arn)
            raise
        return {"Listeners": [self.listener_wire(listener)]}

    async def describe_listeners(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        if params.get("LoadBalancerArn"):
            lb = self.state.own(params["LoadBalancerArn"], "loadbalancer", ctx)
            listeners = self.state.children(lb.arn)
        elif params.get("ListenerArns"):
            listeners = [self.state.own(a, "listener", ctx) for a in params["ListenerArns"]]
        else:
            raise validation("You must specify either listener ARNs or a load balancer ARN")
        shown, marker = page(listeners, params)
        result: dict[str, Any] = {"Listeners": [self.listener_wire(x) for x in shown]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def modify_listener(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        listener = self.state.own(params.get("ListenerArn"), "listener", ctx)
        old = listener.data
        data = self._listener_data(ctx, params, old)
        if data["Port"] != old["Port"] and any(
            other.data["Port"] == data["Port"] for other in self.state.children(listener.parent)
        ):
            raise elb_error(
                "DuplicateListener", "A listener already exists on this port for this load balancer"
            )
        rebind = any(data.get(k) != old.get(k) for k in ("Port", "Protocol", "Certificates"))
        if rebind:
            await self.ports.close(listener.arn)
            listener.data = data
            try:
                await self.ports.open(listener)
            except BaseException:
                listener.data = old
                await self.ports.open(listener)
                raise
        listener.data = data
        changed = [listener]
        if params.get("DefaultActions") is not None:
            for rule in self.state.children(listener.arn):
                if rule.data["IsDefault"]:
                    rule.data = {**rule.data, "Actions": data["DefaultActions"]}
                    changed.append(rule)
        self.state.save(*changed)
        return {"Listeners": [self.listener_wire(listener)]}

    async def delete_listener(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        listener = self.state.own(params.get("ListenerArn"), "listener", ctx)
        await self.ports.close(listener.arn)
        self.state.save(delete=[listener, *self.state.children(listener.arn)])
        return {}
