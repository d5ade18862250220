"""Elastic Load Balancing's resources in memory, written through `ElbStore` before each answer.

Four kinds share one shape (`Resource`): load balancers, listeners (`parent`: the load
balancer), rules (`parent`: the listener; every listener has one default rule, made and
removed with it) and target groups. `data` holds a resource's settings in the wire's own
member names, so `Describe*` answers are built from it with few conversions.

Accounts are walls: a resource is found only by its own account and region (`ElbState.own`);
another account's ARN is answered as not found, as AWS answers it. ARNs and DNS names follow
AWS's forms; a load balancer's DNS name is `<name>-<id>.<region>.elb.localhost`, which a
client resolving `*.localhost` reaches on this machine.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.elb.store import ElbStore

__all__ = [
    "KINDS",
    "ElbState",
    "Resource",
    "elb_error",
    "new_id",
    "page",
    "validation",
]

elb_error = ModelledErrors("elbv2")

KINDS: Final = ("loadbalancer", "listener", "rule", "targetgroup")
_NOT_FOUND: Final = {
    "loadbalancer": ("LoadBalancerNotFound", "The specified load balancer does not exist."),
    "listener": ("ListenerNotFound", "The specified listener does not exist."),
    "rule": ("RuleNotFound", "The specified rule does not exist."),
    "targetgroup": ("TargetGroupNotFound", "One or more target groups not found"),
}
_MAX_TAGS: Final = 50
_MAX_PAGE: Final = 400


def validation(message: str) -> ServiceError:
    """ELB's `ValidationError` (not modelled: Coral's shared error, named for query clients)."""
    return ServiceError("ValidationError", message, 400)


def new_id() -> str:
    """16 hex digits, the last part of AWS's load balancer, listener and rule ARNs."""
    return secrets.token_hex(8)


@dataclasses.dataclass(slots=True)
class Resource:
    arn: str
    kind: str
    account: str
    region: str
    name: str
    created: float = dataclasses.field(default_factory=time.time)
    #: The load balancer of a listener, the listener of a rule; "" otherwise.
    parent: str = ""
    #: Settings in wire member names (`Protocol`, `Port`, `Actions`, `Conditions`...).
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)
    #: A target group's targets by id: {"Id", "Port"?, "AvailabilityZone"?, "State",
    #: "Reason"?, "Description"?} (the state is the health check's latest finding).
    targets: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Resource:
        return cls(**record)


def page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page of `items` by `Marker` and `PageSize` (1-400), and the next marker."""
    size = params.get("PageSize") or _MAX_PAGE
    if not 1 <= size <= _MAX_PAGE:
        raise validation(
            f"1 validation error detected: Value '{size}' at 'pageSize' failed to satisfy"
            f" constraint: Member must have value between 1 and {_MAX_PAGE}"
        )
    marker = params.get("Marker") or "0"
    if not marker.isdigit() or int(marker) > len(items):
        raise validation("The marker is not valid")
    start = int(marker)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


class ElbState:
    def __init__(self, store: ElbStore) -> None:
        self.store = store
        self.resources: dict[str, Resource] = {}
        #: Bumped by every change: the data plane's caches (sorted rules) key on it.
        self.version = 0
        for arn, _, record in store.records():
            self.resources[arn] = Resource.from_record(record)

    def close(self) -> None:
        self.store.close()

    # -- lookups --------------------------------------------------------------------------
    def all(self, kind: str, ctx: RequestContext) -> list[Resource]:
        return [
            r
            for r in self.resources.values()
            if r.kind == kind and r.account == ctx.account_id and r.region == ctx.region
        ]

    def children(self, parent: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.parent == parent]

    def find(self, arn: str, kind: str, ctx: RequestContext) -> Resource | None:
        found = self.resources.get(arn)
        if (
            found is None
            or found.kind != kind
            or found.account != ctx.account_id
            or found.region != ctx.region
        ):
            return None
        return found

    def own(self, arn: str | None, kind: str, ctx: RequestContext) -> Resource:
        """The resource `arn` names, of the caller's account and region, else AWS's error."""
        found = self.find(arn or "", kind, ctx)
        if found is None:
            code, message = _NOT_FOUND[kind]
            raise elb_error(code, message)
        return found

    def any_kind(self, arn: str, ctx: RequestContext) -> Resource:
        """A taggable resource by ARN (the kind read from the ARN), else its not-found error."""
        resource_part = arn.split(":", 5)[-1]
        kind = {
            "loadbalancer": "loadbalancer",
            "listener": "listener",
            "listener-rule": "rule",
            "targetgroup": "targetgroup",
        }.get(resource_part.split("/", 1)[0])
        if kind is None:
            raise validation(f"'{arn}' is not a valid load balancer ARN")
        return self.own(arn, kind, ctx)

    # -- writes ---------------------------------------------------------------------------
    def save(self, *resources: Resource, delete: Iterable[Resource] = ()) -> None:
        """Commit `resources` (new or changed) and remove `delete`, then update memory."""
        gone = list(delete)
        self.store.write([(r.arn, r.kind, r.record()) for r in resources], [r.arn for r in gone])
        for resource in gone:
            self.resources.pop(resource.arn, None)
        for resource in resources:
            self.resources[resource.arn] = resource
        self.version += 1


# -- tags (every kind) ---------------------------------------------------------------------


def add_tags(state: ElbState, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    resources = [state.any_kind(arn, ctx) for arn in params.get("ResourceArns") or []]
    tags = params.get("Tags") or []
    keys = [t["Key"] for t in tags]
    if len(set(keys)) != len(keys):
        duplicated = next(k for k in keys if keys.count(k) > 1)
        raise elb_error("DuplicateTagKeys", f"Tag key was specified more than once: {duplicated}")
    for resource in resources:
        merged = {**resource.tags, **{t["Key"]: t.get("Value", "") for t in tags}}
        if len(merged) > _MAX_TAGS:
            raise elb_error(
                "TooManyTags",
                "The quota for the number of tags that can be assigned to a load balancer"
                " has been reached",
            )
    for resource in resources:
        resource.tags.update({t["Key"]: t.get("Value", "") for t in tags})
    state.save(*resources)
    return {}


def remove_tags(state: ElbState, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    resources = [state.any_kind(arn, ctx) for arn in params.get("ResourceArns") or []]
    for resource in resources:
        for key in params.get("TagKeys") or []:
            resource.tags.pop(key, None)
    state.save(*resources)
    return {}


def describe_tags(state: ElbState, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    resources = [state.any_kind(arn, ctx) for arn in params.get("ResourceArns") or []]
    return {
        "TagDescriptions": [
            {
                "ResourceArn": r.arn,
                "Tags": [{"Key": k, "Value": v} for k, v in r.tags.items()],
            }
            for r in resources
        ]
    }


def tag_map(tags: list[dict[str, Any]] | None) -> dict[str, str]:
    """A create call's `Tags`, with AWS's refusal of a repeated key or too many tags."""
    tags = tags or []
    keys = [t["Key"] for t in tags]
    if len(set(keys)) != len(keys):
        duplicated = next(k for k in keys if keys.count(k) > 1)
        raise elb_error("DuplicateTagKeys", f"Tag key was specified more than once: {duplicated}")
    if len(keys) > _MAX_TAGS:
        raise elb_error(
            "TooManyTags",
            "The quota for the number of tags that can be assigned to a load balancer has"
            " been reached",
        )
    return {t["Key"]: t.get("Value", "") for t in tags}
