"""Security groups in templates: `AWS::EC2::SecurityGroup` (with its inline
`SecurityGroupIngress`/`SecurityGroupEgress` rules) and the standalone
`AWS::EC2::SecurityGroupIngress`/`SecurityGroupEgress` rules CDK emits for
`connections.allowFrom(...)`.

A group's `Ref` and `GroupId` are its id (VPC groups, as every group here is). As on AWS, a
group whose template lists egress rules loses the default allow-all egress rule and keeps
only those; a change to its inline rules revokes the old ones and authorizes the new. A
standalone rule's physical id is its `sgr-` id, revoked by that id on delete.
"""

from __future__ import annotations

from typing import Any, Final

from fireside.cloudformation.providers.ec2 import delete_quietly, retag, tag_specs
from fireside.cloudformation.providers.support import as_int, call, name_for, refused
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceType,
)

__all__ = ["permission", "providers"]

_SERVICE: Final = "ec2"
_ALL_EGRESS: Final = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def permission(rule: dict[str, Any], *, egress: bool) -> dict[str, Any]:
    """An IpPermissions entry from a template rule (`CidrIp`, `SourceSecurityGroupId`...)."""
    protocol = str(rule.get("IpProtocol", "-1"))
    perm: dict[str, Any] = {"IpProtocol": protocol}
    if protocol not in ("-1", "all"):
        for key in ("FromPort", "ToPort"):
            if rule.get(key) is not None:
                perm[key] = as_int(rule[key], key)
    described = {"Description": str(rule["Description"])} if rule.get("Description") else {}
    peer = "DestinationSecurityGroupId" if egress else "SourceSecurityGroupId"
    prefix = "DestinationPrefixListId" if egress else "SourcePrefixListId"
    if rule.get("CidrIp"):
        perm["IpRanges"] = [{"CidrIp": rule["CidrIp"], **described}]
    elif rule.get("CidrIpv6"):
        perm["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **described}]
    elif rule.get(peer):
        perm["UserIdGroupPairs"] = [{"GroupId": rule[peer], **described}]
    elif rule.get(prefix):
        perm["PrefixListIds"] = [{"PrefixListId": rule[prefix], **described}]
    else:
        raise refused(f"A security group rule needs one of CidrIp, CidrIpv6, {peer} or {prefix}")
    return perm


class SecurityGroup:
    type_name = "AWS::EC2::SecurityGroup"
    replace_on = frozenset({"GroupName", "GroupDescription", "VpcId"})

    async def _rules(
        self, ctx: ResourceContext, group_id: str, props: dict[str, Any], *, adding: bool
    ) -> None:
        verb = "Authorize" if adding else "Revoke"
        for key, egress in (("SecurityGroupIngress", False), ("SecurityGroupEgress", True)):
            rules = props.get(key) or []
            perms = [permission(r, egress=egress) for r in rules]
            if perms:
                operation = f"{verb}SecurityGroup{'Egress' if egress else 'Ingress'}"
                await call(ctx, _SERVICE, operation, {"GroupId": group_id, "IpPermissions": perms})

    async def _created(self, ctx: ResourceContext, group_id: str) -> Created:
        found = await call(ctx, _SERVICE, "DescribeSecurityGroups", {"GroupIds": [group_id]})
        group = found["SecurityGroups"][0]
        return Created(group_id, {"GroupId": group_id, "VpcId": group.get("VpcId", "")})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params: dict[str, Any] = {
            "GroupName": name_for(ctx, properties.get("GroupName"), 255),
            "Description": properties.get("GroupDescription", ""),
        }
        if properties.get("VpcId"):
            params["VpcId"] = properties["VpcId"]
        params.update(tag_specs(ctx, properties, "security-group"))
        group_id = (await call(ctx, _SERVICE, "CreateSecurityGroup", params))["GroupId"]
        if properties.get("SecurityGroupEgress"):
            await call(
                ctx,
                _SERVICE,
                "RevokeSecurityGroupEgress",
                {"GroupId": group_id, "IpPermissions": [_ALL_EGRESS]},
            )
        await self._rules(ctx, group_id, properties, adding=True)
        return await self._created(ctx, group_id)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        for key in self.replace_on:
            if old.get(key) != new.get(key):
                raise NeedsReplacement(key)
        rule_keys = ("SecurityGroupIngress", "SecurityGroupEgress")
        if any(old.get(k) != new.get(k) for k in rule_keys):
            await self._rules(ctx, physical_id, old, adding=False)
            had_egress, has_egress = bool(old.get(rule_keys[1])), bool(new.get(rule_keys[1]))
            if had_egress and not has_egress:
                await call(
                    ctx,
                    _SERVICE,
                    "AuthorizeSecurityGroupEgress",
                    {"GroupId": physical_id, "IpPermissions": [_ALL_EGRESS]},
                )
            elif has_egress and not had_egress:
                await call(
                    ctx,
                    _SERVICE,
                    "RevokeSecurityGroupEgress",
                    {"GroupId": physical_id, "IpPermissions": [_ALL_EGRESS]},
                )
            await self._rules(ctx, physical_id, new, adding=True)
        await retag(ctx, physical_id, old, new)
        return await self._created(ctx, physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await delete_quietly(ctx, "DeleteSecurityGroup", {"GroupId": physical_id})


class _Rule:
    egress = False
    replace_on = frozenset(
        {
            "GroupId",
            "IpProtocol",
            "FromPort",
            "ToPort",
            "CidrIp",
            "CidrIpv6",
            "SourceSecurityGroupId",
            "DestinationSecurityGroupId",
            "SourcePrefixListId",
            "DestinationPrefixListId",
        }
    )

    @property
    def _direction(self) -> str:
        return "Egress" if self.egress else "Ingress"

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        group_id = properties.get("GroupId", "")
        perm = permission(properties, egress=self.egress)
        result = await call(
            ctx,
            _SERVICE,
            f"AuthorizeSecurityGroup{self._direction}",
            {"GroupId": group_id, "IpPermissions": [perm]},
        )
        rule_id = result["SecurityGroupRules"][0]["SecurityGroupRuleId"]
        return Created(rule_id, {"Id": rule_id})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        raise NeedsReplacement("Description")

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await delete_quietly(
            ctx,
            f"RevokeSecurityGroup{self._direction}",
            {"GroupId": properties.get("GroupId", ""), "SecurityGroupRuleIds": [physical_id]},
        )


class SecurityGroupIngress(_Rule):
    type_name = "AWS::EC2::SecurityGroupIngress"


class SecurityGroupEgress(_Rule):
    type_name = "AWS::EC2::SecurityGroupEgress"
    egress = True


def providers() -> list[ResourceType]:
    return [SecurityGroup(), SecurityGroupIngress(), SecurityGroupEgress()]
