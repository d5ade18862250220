"""Security groups: Create/Describe/DeleteSecurityGroup, Authorize/Revoke ingress and egress,
DescribeSecurityGroupRules. Every VPC has a `default` group, made with it.

A group keeps its rules flat (`_rules`: one grant each, with its `sgr-` id, as
DescribeSecurityGroupRules shows them); `IpPermissions` and `IpPermissionsEgress` are grouped
from them when the group is described. Rules are records only: nothing filters traffic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.ec2.state import (
    Ec2State,
    Operation,
    Resource,
    ec2_error,
    invalid_value,
    matches,
    new_id,
    paged,
    printable,
    spec_tags,
    text,
    wrap,
)

__all__ = ["GroupApi", "default_group"]

_MAX_RULES: Final = 60  # per group and direction (AWS's default quota)
_PROTOCOLS: Final = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp"}
_PROTOCOLS.update({"1": "icmp", "-1": "-1", "all": "-1", "icmpv6": "icmpv6", "58": "icmpv6"})


def new_group(account: str, region: str, vpc_id: str, name: str, description: str) -> Resource:
    group_id = new_id("sg-")
    egress = {
        "SecurityGroupRuleId": new_id("sgr-"),
        "IsEgress": True,
        "IpProtocol": "-1",
        "CidrIpv4": "0.0.0.0/0",
    }
    return Resource(
        group_id,
        "security-group",
        account,
        region,
        data={
            "GroupId": group_id,
            "GroupName": name,
            "Description": description,
            "VpcId": vpc_id,
            "OwnerId": account,
            "SecurityGroupArn": f"arn:aws:ec2:{region}:{account}:security-group/{group_id}",
            "_rules": [egress],
        },
    )


def default_group(account: str, region: str, vpc_id: str) -> Resource:
    group = new_group(account, region, vpc_id, "default", "default VPC security group")
    group.data["_rules"].append(
        {
            "SecurityGroupRuleId": new_id("sgr-"),
            "IsEgress": False,
            "IpProtocol": "-1",
            "ReferencedGroupInfo": {"GroupId": group.id, "UserId": account},
        }
    )
    return group


def group_wire(group: Resource) -> dict[str, Any]:
    out = group.wire()
    rules = out.pop("_rules")
    out["IpPermissions"] = _permissions([r for r in rules if not r["IsEgress"]])
    out["IpPermissionsEgress"] = _permissions([r for r in rules if r["IsEgress"]])
    return out


def _permissions(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rule in rules:
        key = (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"))
        perm = grouped.get(key)
        if perm is None:
            perm = grouped[key] = {"IpProtocol": rule["IpProtocol"]}
            if rule.get("FromPort") is not None:
                perm["FromPort"], perm["ToPort"] = rule["FromPort"], rule["ToPort"]
            for member in ("IpRanges", "Ipv6Ranges", "UserIdGroupPairs", "PrefixListIds"):
                perm[member] = []
        described = {"Description": rule["Description"]} if rule.get("Description") else {}
        if "CidrIpv4" in rule:
            perm["IpRanges"].append({"CidrIp": rule["CidrIpv4"], **described})
        elif "CidrIpv6" in rule:
            perm["Ipv6Ranges"].append({"CidrIpv6": rule["CidrIpv6"], **described})
        elif "PrefixListId" in rule:
            perm["PrefixListIds"].append({"PrefixListId": rule["PrefixListId"], **described})
        else:
            perm["UserIdGroupPairs"].append({**rule["ReferencedGroupInfo"], **described})
    return list(grouped.values())


def _group_values(group: Resource) -> dict[str, list[str]]:
    data = group.data
    values = {
        "group-id": [group.id],
        "group-name": [data["GroupName"]],
        "description": [data["Description"]],
        "vpc-id": [data["VpcId"]],
        "owner-id": [data["OwnerId"]],
    }
    for prefix, egress in (("ip-permission.", False), ("egress.ip-permission.", True)):
        rules = [r for r in data["_rules"] if r["IsEgress"] == egress]
        peers = [r["ReferencedGroupInfo"] for r in rules if "ReferencedGroupInfo" in r]
        values.update(
            {
                prefix + "cidr": [r["CidrIpv4"] for r in rules if "CidrIpv4" in r],
                prefix + "ipv6-cidr": [r["CidrIpv6"] for r in rules if "CidrIpv6" in r],
                prefix + "prefix-list-id": [
                    r["PrefixListId"] for r in rules if "PrefixListId" in r
                ],
                prefix + "protocol": [r["IpProtocol"] for r in rules],
                prefix + "from-port": [text(r.get("FromPort")) for r in rules],
                prefix + "to-port": [text(r.get("ToPort")) for r in rules],
                prefix + "group-id": [p["GroupId"] for p in peers],
                prefix + "user-id": [p["UserId"] for p in peers],
            }
        )
    return values


class GroupApi:
    def __init__(
        self, state: Ec2State, default_vpc: Callable[[RequestContext], str | None]
    ) -> None:
        self.state = state
        self.default_vpc = default_vpc

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateSecurityGroup": wrap(self.create),
            "DescribeSecurityGroups": wrap(self.describe),
            "DeleteSecurityGroup": wrap(self.delete),
            "AuthorizeSecurityGroupIngress": wrap(lambda c, p: self.authorize(c, p, False)),
            "AuthorizeSecurityGroupEgress": wrap(lambda c, p: self.authorize(c, p, True)),
            "RevokeSecurityGroupIngress": wrap(lambda c, p: self.revoke(c, p, False)),
            "RevokeSecurityGroupEgress": wrap(lambda c, p: self.revoke(c, p, True)),
            "DescribeSecurityGroupRules": wrap(self.describe_rules),
        }

    # -- groups -----------------------------------------------------------------------------
    def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = printable(params["GroupName"], "GroupName")
        description = printable(params["Description"], "GroupDescription")
        if not 1 <= len(name) <= 255 or name.lower().startswith("sg-"):
            raise invalid_value(
                f"Value ({name}) for parameter GroupName is invalid. Group names may not be in"
                " the format sg-*."
            )
        if not description:
            raise ec2_error(
                "MissingParameter", "The request must contain the parameter GroupDescription"
            )
        if len(description) > 255:
            raise invalid_value("Value for parameter Description is invalid: too long.")
        vpc_id = params.get("VpcId") or self.default_vpc(ctx)
        if vpc_id is None:
            raise ec2_error("VPCIdNotSpecified", "No default VPC for this user")
        self.state.own(vpc_id, "vpc", ctx)
        self.state.room("security-group", ctx, "SecurityGroupLimitExceeded")
        for group in self.state.mine("security-group", ctx):
            if group.data["VpcId"] == vpc_id and group.data["GroupName"] == name:
                raise ec2_error(
                    "InvalidGroup.Duplicate",
                    f"The security group '{name}' already exists for VPC '{vpc_id}'",
                )
        group = new_group(ctx.account_id, ctx.region, vpc_id, name, description)
        group.tags = spec_tags(params, "security-group")
        self.state.save(group)
        result: dict[str, Any] = {
            "GroupId": group.id,
            "SecurityGroupArn": group.data["SecurityGroupArn"],
        }
        if group.tags:
            result["Tags"] = group.wire()["Tags"]
        return result

    def _named(self, ctx: RequestContext, params: dict[str, Any]) -> Resource:
        if params.get("GroupId"):
            return self.state.own(params["GroupId"], "security-group", ctx)
        name = params.get("GroupName")
        if not name:
            raise ec2_error("MissingParameter", "The request must contain the parameter groupId")
        vpc_id = self.default_vpc(ctx)
        for group in self.state.mine("security-group", ctx):
            if group.data["GroupName"] == name and group.data["VpcId"] == vpc_id:
                return group
        raise ec2_error(
            "InvalidGroup.NotFound",
            f"The security group '{name}' does not exist in default VPC '{vpc_id}'",
        )

    def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        groups = [self.state.own(i, "security-group", ctx) for i in params.get("GroupIds") or []]
        for name in params.get("GroupNames") or []:
            groups.append(self._named(ctx, {"GroupName": name}))
        if not params.get("GroupIds") and not params.get("GroupNames"):
            groups = self.state.mine("security-group", ctx)
        filters = params.get("Filters") or []
        shown = [group_wire(g) for g in groups if matches(g, filters, _group_values)]
        return paged("SecurityGroups", shown, params)

    def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._named(ctx, params)
        if group.data["GroupName"] == "default":
            raise ec2_error(
                "CannotDelete",
                f'the specified group: "{group.id}" name: "default" cannot be deleted by a user',
            )
        for other in self.state.mine("security-group", ctx):
            if other is not group and any(
                r.get("ReferencedGroupInfo", {}).get("GroupId") == group.id
                for r in other.data["_rules"]
            ):
                raise ec2_error(
                    "DependencyViolation", f"resource {group.id} has a dependent object"
                )
        self.state.save(delete=[group])
        return {"Return": True, "GroupId": group.id}

    # -- rules ------------------------------------------------------------------------------
    def _requested(
        self, ctx: RequestContext, params: dict[str, Any], egress: bool
    ) -> list[dict[str, Any]]:
        """The rules a call names, one grant each, in the stored form (without ids)."""
        perms = list(params.get("IpPermissions") or [])
        if not perms and (params.get("IpProtocol") or params.get("CidrIp")):
            legacy: dict[str, Any] = {"IpProtocol": params.get("IpProtocol") or "-1"}
            if params.get("FromPort") is not None:
                legacy["FromPort"], legacy["ToPort"] = params["FromPort"], params.get("ToPort")
            if params.get("CidrIp"):
                legacy["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
            if params.get("SourceSecurityGroupName"):
                found = self._named(ctx, {"GroupName": params["SourceSecurityGroupName"]})
                legacy["UserIdGroupPairs"] = [{"GroupId": found.id}]
            perms = [legacy]
        rules: list[dict[str, Any]] = []
        for perm in perms:
            protocol = _PROTOCOLS.get(str(perm.get("IpProtocol", "")).lower())
            if protocol is None:
                raise invalid_value(
                    f"Invalid value '{perm.get('IpProtocol')}' for IP protocol. Unknown protocol."
                )
            base: dict[str, Any] = {"IsEgress": egress, "IpProtocol": protocol}
            if protocol != "-1":
                low, high = perm.get("FromPort"), perm.get("ToPort")
                if protocol in ("tcp", "udp") and (
                    low is None or high is None or not 0 <= low <= high <= 65535
                ):
                    raise invalid_value(
                        f"Invalid port range: from {low} to {high}; ports must be 0-65535"
                    )
                base["FromPort"], base["ToPort"] = low, high
            grants: list[dict[str, Any]] = []
            for r in perm.get("IpRanges") or []:
                grants.append({"CidrIpv4": _cidr(r["CidrIp"]), "Description": r.get("Description")})
            for r in perm.get("Ipv6Ranges") or []:
                grants.append({"CidrIpv6": r["CidrIpv6"], "Description": r.get("Description")})
            for r in perm.get("PrefixListIds") or []:
                grants.append(
                    {"PrefixListId": r["PrefixListId"], "Description": r.get("Description")}
                )
            for pair in perm.get("UserIdGroupPairs") or []:
                other = self._named(
                    ctx, {"GroupId": pair.get("GroupId"), "GroupName": pair.get("GroupName")}
                )
                grants.append(
                    {
                        "ReferencedGroupInfo": {"GroupId": other.id, "UserId": other.account},
                        "Description": pair.get("Description"),
                    }
                )
            for grant in grants:
                if not grant.get("Description"):
                    grant.pop("Description", None)
                rules.append({**base, **grant})
        if not rules:
            raise ec2_error(
                "MissingParameter", "The request must contain the parameter ipPermissions"
            )
        return rules

    def authorize(
        self, ctx: RequestContext, params: dict[str, Any], egress: bool
    ) -> dict[str, Any]:
        group = self._named(ctx, params)
        existing = group.data["_rules"]
        added: list[dict[str, Any]] = []
        requested = self._requested(ctx, params, egress)
        if sum(1 for r in existing if r["IsEgress"] == egress) + len(requested) > _MAX_RULES:
            raise ec2_error(
                "RulesPerSecurityGroupLimitExceeded",
                "The maximum number of rules per security group has been reached.",
            )
        for rule in requested:
            if any(_same(rule, old) for old in existing + added):
                raise ec2_error(
                    "InvalidPermission.Duplicate",
                    f'the specified rule "{_describe_rule(rule)}" already exists',
                )
            added.append({"SecurityGroupRuleId": new_id("sgr-"), **rule})
        existing.extend(added)
        self.state.save(group)
        return {"Return": True, "SecurityGroupRules": [_rule_wire(group, r) for r in added]}

    def revoke(self, ctx: RequestContext, params: dict[str, Any], egress: bool) -> dict[str, Any]:
        group = self._named(ctx, params)
        rules = group.data["_rules"]
        if params.get("SecurityGroupRuleIds"):
            doomed = [
                r for r in rules if r["SecurityGroupRuleId"] in params["SecurityGroupRuleIds"]
            ]
            if len(doomed) != len(set(params["SecurityGroupRuleIds"])):
                raise ec2_error(
                    "InvalidSecurityGroupRuleId.NotFound",
                    "The specified rule does not exist in this security group",
                )
        else:
            doomed = []
            for rule in self._requested(ctx, params, egress):
                found = next((r for r in rules if _same(rule, r)), None)
                if found is None:
                    raise ec2_error(
                        "InvalidPermission.NotFound",
                        "The specified rule does not exist in this security group",
                    )
                doomed.append(found)
        group.data["_rules"] = [r for r in rules if r not in doomed]
        self.state.save(group)
        return {"Return": True}

    def describe_rules(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rows = []
        wanted_ids = set(params.get("SecurityGroupRuleIds") or [])
        group_ids: list[str] = []
        for flt in params.get("Filters") or []:
            if flt.get("Name") == "group-id":
                group_ids += flt.get("Values") or []
            elif flt.get("Name") != "security-group-rule-id":
                raise invalid_value(f"The filter '{flt.get('Name')}' is invalid")
            else:
                wanted_ids |= set(flt.get("Values") or [])
        for group in self.state.mine("security-group", ctx):
            if group_ids and group.id not in group_ids:
                continue
            for rule in group.data["_rules"]:
                if not wanted_ids or rule["SecurityGroupRuleId"] in wanted_ids:
                    rows.append(_rule_wire(group, rule))
        return paged("SecurityGroupRules", rows, params)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("IsEgress", "IpProtocol", "FromPort", "ToPort", "CidrIpv4", "CidrIpv6", "PrefixListId")
    if any(a.get(k) != b.get(k) for k in keys):
        return False
    mine: str | None = a.get("ReferencedGroupInfo", {}).get("GroupId")
    return bool(mine == b.get("ReferencedGroupInfo", {}).get("GroupId"))


def _describe_rule(rule: dict[str, Any]) -> str:
    peer = rule.get("CidrIpv4") or rule.get("CidrIpv6") or rule.get("PrefixListId")
    if peer is None:
        peer = rule["ReferencedGroupInfo"]["GroupId"]
    protocol = "ALL" if rule["IpProtocol"] == "-1" else rule["IpProtocol"].upper()
    ports = (
        f", from port: {rule['FromPort']}, to port: {rule['ToPort']}"
        if rule.get("FromPort") is not None
        else ""
    )
    return f"peer: {peer}, {protocol}{ports}, ALLOW"


def _rule_wire(group: Resource, rule: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in rule.items() if v is not None}
    out["GroupId"] = group.id
    out["GroupOwnerId"] = group.account
    out["SecurityGroupRuleArn"] = (
        f"arn:aws:ec2:{group.region}:{group.account}:security-group-rule/"
        f"{rule['SecurityGroupRuleId']}"
    )
    return out


def _cidr(value: str) -> str:
    try:
        if "/" not in value:
            raise ValueError(value)
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise invalid_value(f"CIDR block {value} is malformed") from None
