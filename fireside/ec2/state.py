"""EC2's networking resources in memory, written through `Ec2Store` before each answer, and
what every Describe call shares: ids, filters, pages, tags and EC2's errors.

Every kind shares one shape (`Resource`); `data` holds the resource in the wire's own member
names (`VpcId`, `CidrBlock`...), so Describe answers are built from it with few conversions.
Accounts are walls: a resource is found only by its own account and region (`Ec2State.own`);
another account's id is answered as not found, as AWS answers it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.ec2.store import Ec2Store

__all__ = [
    "KINDS",
    "MAX_PER_KIND",
    "Ec2State",
    "Operation",
    "Resource",
    "TagApi",
    "checked_tags",
    "ec2_error",
    "in_use",
    "invalid_value",
    "matches",
    "new_id",
    "page",
    "paged",
    "printable",
    "spec_tags",
    "text",
    "wrap",
]

#: kind -> (id prefix, not-found code, not-found message with {} for the id).
KINDS: Final = {
    "vpc": ("vpc-", "InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
    "subnet": ("subnet-", "InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "security-group": ("sg-", "InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "internet-gateway": (
        "igw-",
        "InvalidInternetGatewayID.NotFound",
        "The internetGateway ID '{}' does not exist",
    ),
    "route-table": (
        "rtb-",
        "InvalidRouteTableID.NotFound",
        "The routeTable ID '{}' does not exist",
    ),
    "elastic-ip": (
        "eipalloc-",
        "InvalidAllocationID.NotFound",
        "The allocation ID '{}' does not exist",
    ),
    "natgateway": ("nat-", "NatGatewayNotFound", "The Nat Gateway {} was not found"),
}
_MAX_TAGS: Final = 50
#: Of each kind, per account and region: a bound on what one account's calls can make.
MAX_PER_KIND: Final = 2500
_MAX_FILTERS: Final = 50
_MAX_IDS: Final = 1000


def ec2_error(code: str, message: str, status: int = 400) -> ServiceError:
    """An EC2 error (EC2's model declares none of its codes; they travel as written)."""
    return ServiceError(code, message, status)


def invalid_value(message: str) -> ServiceError:
    return ec2_error("InvalidParameterValue", message)


def new_id(prefix: str) -> str:
    """EC2's long ids: the prefix and 17 hex digits (`vpc-0a1b2c3d4e5f60718`)."""
    return prefix + secrets.token_hex(9)[:17]


@dataclasses.dataclass(slots=True)
class Resource:
    id: str
    kind: str
    account: str
    region: str
    #: The resource in wire member names, as Describe answers it (without `Tags`).
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def wire(self) -> dict[str, Any]:
        out = dict(self.data)
        if self.tags:
            out["Tags"] = [{"Key": k, "Value": v} for k, v in self.tags.items()]
        return out


Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def wrap(fn: Callable[[RequestContext, dict[str, Any]], dict[str, Any]]) -> Operation:
    """An operation from a synchronous handler (EC2's handlers do small, durable writes)."""

    async def call(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return fn(ctx, params)

    return call


#: Filter values of one resource: filter name -> the values it matches against.
FilterValues = Callable[[Resource], dict[str, list[str]]]


class Ec2State:
    def __init__(self, store: Ec2Store) -> None:
        self.store = store
        self.resources: dict[str, Resource] = {}
        for record in store.records():
            resource = Resource(**record)
            self.resources[resource.id] = resource

    def close(self) -> None:
        self.store.close()

    # -- lookups --------------------------------------------------------------------------
    def all(self, kind: str, account: str, region: str) -> list[Resource]:
        return [
            r
            for r in self.resources.values()
            if r.kind == kind and r.account == account and r.region == region
        ]

    def mine(self, kind: str, ctx: RequestContext) -> list[Resource]:
        return self.all(kind, ctx.account_id, ctx.region)

    def room(self, kind: str, ctx: RequestContext, code: str) -> None:
        """Refuse a new resource of `kind` past `MAX_PER_KIND` in the account and region."""
        if len(self.mine(kind, ctx)) >= MAX_PER_KIND:
            raise ec2_error(code, f"The maximum number of {kind}s has been reached.")

    def find(self, resource_id: str, kind: str, account: str, region: str) -> Resource | None:
        found = self.resources.get(resource_id)
        if found is None or found.kind != kind or found.account != account:
            return None
        return found if found.region == region else None

    def own(self, resource_id: str | None, kind: str, ctx: RequestContext) -> Resource:
        """The resource `resource_id` names, in the caller's account and region, else AWS's
        not-found error for its kind."""
        found = self.find(resource_id or "", kind, ctx.account_id, ctx.region)
        if found is None:
            _, code, message = KINDS[kind]
            raise ec2_error(code, message.format(resource_id))
        return found

    def any_kind(self, resource_id: str, ctx: RequestContext) -> Resource:
        """A taggable resource by id, its kind read from the id's prefix."""
        for kind, (prefix, _, _) in KINDS.items():
            if resource_id.startswith(prefix):
                return self.own(resource_id, kind, ctx)
        raise ec2_error("InvalidID", f"The ID '{resource_id}' is not valid")

    # -- writes ---------------------------------------------------------------------------
    def save(self, *resources: Resource, delete: Iterable[Resource] = ()) -> None:
        """Commit `resources` (new or changed) and remove `delete`, then update memory."""
        gone = list(delete)
        self.store.write([(r.id, r.record()) for r in resources], [r.id for r in gone])
        for resource in gone:
            self.resources.pop(resource.id, None)
        for resource in resources:
            self.resources[resource.id] = resource

    # -- Describe* ------------------------------------------------------------------------
    def matching(
        self,
        kind: str,
        ctx: RequestContext,
        params: dict[str, Any],
        ids_param: str,
        values: FilterValues,
    ) -> list[Resource]:
        """What a Describe call shows: the named ids (each must exist), filtered."""
        ids = params.get(ids_param) or []
        if len(ids) > _MAX_IDS:
            raise invalid_value(f"The maximum number of {ids_param} is {_MAX_IDS}")
        found = [self.own(i, kind, ctx) for i in ids] if ids else self.mine(kind, ctx)
        return [r for r in found if matches(r, params.get("Filters") or [], values)]


def matches(resource: Resource, filters: list[dict[str, Any]], values: FilterValues) -> bool:
    """Whether `resource` passes every filter (any of a filter's values may match; `*` and
    `?` are wildcards, as in AWS)."""
    if len(filters) > _MAX_FILTERS:
        raise invalid_value(f"The maximum number of filters is {_MAX_FILTERS}")
    if not filters:
        return True
    own = values(resource)
    for flt in filters:
        name = flt.get("Name") or ""
        wanted = flt.get("Values") or []
        if name.startswith("tag:"):
            value = resource.tags.get(name[4:])
            have = [] if value is None else [value]
        elif name == "tag-key":
            have = list(resource.tags)
        elif name == "tag-value":
            have = list(resource.tags.values())
        elif name in own:
            have = own[name]
        else:
            raise invalid_value(f"The filter '{name}' is invalid")
        if not any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted):
            return False
    return True


def text(value: Any) -> str:
    """A record's value as filters compare it (booleans as `true`/`false`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page by `MaxResults` (5-1000) and `NextToken`, and the next token."""
    size = params.get("MaxResults")
    token = params.get("NextToken")
    if size is None and not token:
        return items, None
    size = size or 1000
    if not 5 <= size <= 1000:
        raise invalid_value(
            f"Value ( {size} ) for parameter maxResults is invalid. Parameter must be between"
            " 5 and 1000."
        )
    if token is not None and (not token.isdigit() or int(token) > len(items)):
        raise ec2_error("InvalidNextToken", f"The token '{token}' is invalid")
    start = int(token or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def paged(member: str, items: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    """A Describe* answer: one page of `items` under `member`, and `NextToken` if more."""
    shown, token = page(items, params)
    return {member: shown, "NextToken": token} if token else {member: shown}


def in_use(label: str, resource_id: str) -> ServiceError:
    """EC2's refusal to delete a resource something still depends on."""
    return ec2_error(
        "DependencyViolation",
        f"The {label} '{resource_id}' has dependencies and cannot be deleted.",
    )


# -- tags ------------------------------------------------------------------------------------


def printable(value: str, parameter: str) -> str:
    """`value` if it holds no control characters (EC2 refuses them in names, descriptions
    and tags; they could not travel back in an XML answer)."""
    if any(ord(c) < 32 or c in "\ufffe\uffff" for c in value):
        raise invalid_value(f"Value for parameter {parameter} contains invalid characters.")
    return value


def checked_tags(tags: list[dict[str, Any]] | None, *, reserved: bool = False) -> dict[str, str]:
    """Tags checked as EC2 checks them; `reserved` lets `aws:` keys through (CloudFormation's
    own tags on the resources a stack makes)."""
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key")
        printable(key or "", "Tag.Key")
        printable(tag.get("Value") or "", "Tag.Value")
        if not key or len(key) > 128:
            raise invalid_value("Tag key must be between 1 and 128 characters long")
        if key.lower().startswith("aws:") and not reserved:
            raise invalid_value("Tag keys starting with 'aws:' are reserved for internal use")
        value = tag.get("Value") or ""
        if len(value) > 256:
            raise invalid_value("Tag value must be at most 256 characters long")
        out[key] = value
    if len(out) > _MAX_TAGS:
        raise ec2_error(
            "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."
        )
    return out


def spec_tags(params: dict[str, Any], resource_type: str) -> dict[str, str]:
    """The tags a create call's `TagSpecifications` give a resource of `resource_type`."""
    tags: dict[str, str] = {}
    for spec in params.get("TagSpecifications") or []:
        kind = spec.get("ResourceType")
        if kind != resource_type:
            raise invalid_value(
                f"'{kind}' is not a valid taggable resource type for this operation."
            )
        if not spec.get("Tags"):
            raise invalid_value("Tag specification must have at least one tag")
        tags.update(checked_tags(spec.get("Tags"), reserved=True))
    return tags


class TagApi:
    def __init__(self, state: Ec2State) -> None:
        self.state = state

    def create_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resources = [self.state.any_kind(i, ctx) for i in params.get("Resources") or []]
        tags = checked_tags(params.get("Tags"))
        for resource in resources:
            if len({**resource.tags, **tags}) > _MAX_TAGS:
                raise ec2_error(
                    "TagLimitExceeded",
                    "The maximum number of Tags for a resource has been reached.",
                )
        for resource in resources:
            resource.tags.update(tags)
        self.state.save(*resources)
        return {}

    def delete_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resources = [self.state.any_kind(i, ctx) for i in params.get("Resources") or []]
        for resource in resources:
            for tag in params.get("Tags") or []:
                key = tag.get("Key")
                # A tag named with a value is removed only when its value matches.
                if key in resource.tags and (
                    "Value" not in tag or resource.tags[key] == tag["Value"]
                ):
                    del resource.tags[key]
            if not params.get("Tags"):
                resource.tags.clear()
        self.state.save(*resources)
        return {}

    def describe_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for resource in self.state.resources.values():
            if resource.account != ctx.account_id or resource.region != ctx.region:
                continue
            if resource.kind not in KINDS:
                continue
            for key, value in resource.tags.items():
                rows.append(
                    {
                        "Key": key,
                        "Value": value,
                        "ResourceId": resource.id,
                        "ResourceType": resource.kind,
                    }
                )
        wanted = params.get("Filters") or []
        names = {"key": "Key", "value": "Value", "resource-id": "ResourceId"}
        names["resource-type"] = "ResourceType"
        for flt in wanted:
            column = names.get(flt.get("Name") or "")
            if column is None:
                raise invalid_value(f"The filter '{flt.get('Name')}' is invalid")
            rows = [
                r
                for r in rows
                if any(fnmatch.fnmatchcase(r[column], v) for v in flt.get("Values") or [])
            ]
        return paged("Tags", rows, params)
