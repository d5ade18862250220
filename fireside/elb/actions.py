"""Checking and normalizing the actions and conditions of listeners and rules, as ELB does
before it stores them (`CreateListener`, `CreateRule`, `ModifyRule`...).

Supported actions: `forward` (one target group, or several with weights in `ForwardConfig`),
`fixed-response` and `redirect`. Authentication actions answer `InvalidLoadBalancerAction`
naming them as not implemented here. Conditions: `path-pattern`, `host-header`, `http-header`,
`http-request-method`, `query-string`, `source-ip`, in the legacy `Values` form or their
`*Config` form; what is stored carries both, as AWS's answers do.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.elb.state import ElbState, elb_error, validation

__all__ = ["check_actions", "check_conditions", "forward_groups", "users_of"]

_FIELDS: Final = (
    "path-pattern",
    "host-header",
    "http-header",
    "http-request-method",
    "query-string",
    "source-ip",
)
_CONFIG: Final = {
    "path-pattern": "PathPatternConfig",
    "host-header": "HostHeaderConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}
_CONTENT_TYPES: Final = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)
_STATUS: Final = re.compile(r"^(2|4|5)\d\d$")
_METHOD: Final = re.compile(r"^[A-Za-z_-]{1,40}$")
_MAX_VALUES: Final = 5  # condition values per rule, AWS's quota
_MAX_GROUPS: Final = 5  # target groups in one forward action


def forward_groups(action: dict[str, Any]) -> list[tuple[str, int]]:
    """(target group ARN, weight) of a stored forward action."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    return [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups]


def users_of(state: ElbState, group: str) -> list[str]:
    """ARNs of the load balancers whose listeners or rules forward to target group `group`."""
    found: list[str] = []
    for rule in state.resources.values():
        if rule.kind != "rule":
            continue
        if any(arn == group for a in rule.data["Actions"] for arn, _ in forward_groups(a)):
            listener = state.resources.get(rule.parent)
            if listener is not None and listener.parent not in found:
                found.append(listener.parent)
    return found


def _forward(state: ElbState, ctx: RequestContext, action: dict[str, Any]) -> dict[str, Any]:
    config = dict(action.get("ForwardConfig") or {})
    groups = [dict(g) for g in config.get("TargetGroups") or []]
    single = action.get("TargetGroupArn")
    if single and groups and any(g.get("TargetGroupArn") != single for g in groups):
        raise validation(
            "You cannot specify both a top-level target group ARN and a list of target groups"
            " in the forward config"
        )
    if single and not groups:
        groups = [{"TargetGroupArn": single, "Weight": 1}]
    if not groups:
        raise validation("A target group ARN must be specified")
    if len(groups) > _MAX_GROUPS:
        raise elb_error(
            "TooManyTargetGroups", "You can specify at most 5 target groups in a forward action"
        )
    for group in groups:
        arn = group.get("TargetGroupArn", "")
        if state.find(arn, "targetgroup", ctx) is None:
            raise elb_error("TargetGroupNotFound", f"Target group '{arn}' not found")
        weight = group.setdefault("Weight", 1)
        if not 0 <= weight <= 999:
            raise validation(f"Target group weight '{weight}' must be between 0 and 999")
    stickiness = config.get("TargetGroupStickinessConfig") or {"Enabled": False}
    out: dict[str, Any] = {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": groups, "TargetGroupStickinessConfig": stickiness},
    }
    if len(groups) == 1:
        out["TargetGroupArn"] = groups[0]["TargetGroupArn"]
    return out


def _fixed(action: dict[str, Any], index: int) -> dict[str, Any]:
    config = action.get("FixedResponseConfig")
    if not config or "StatusCode" not in config:
        raise validation("A fixed response status code must be specified")
    if not _STATUS.match(config["StatusCode"]):
        raise validation(
            f"1 validation error detected: Value '{config['StatusCode']}' at 'actions.{index}"
            ".member.fixedResponseConfig.statusCode' failed to satisfy constraint: Member must"
            " satisfy regular expression pattern: ^(2|4|5)\\d\\d$"
        )
    if config.get("ContentType") and config["ContentType"] not in _CONTENT_TYPES:
        raise elb_error(
            "InvalidLoadBalancerAction",
            "The ContentType must be one of:'text/html', 'application/json',"
            " 'application/javascript', 'text/css', 'text/plain'",
        )
    if len(config.get("MessageBody") or "") > 1024:
        raise validation("The fixed response message body cannot be longer than 1024 characters")
    return {"Type": "fixed-response", "FixedResponseConfig": dict(config)}


def _redirect(action: dict[str, Any]) -> dict[str, Any]:
    config = dict(action.get("RedirectConfig") or {})
    if config.get("StatusCode") not in ("HTTP_301", "HTTP_302"):
        raise validation("A redirect status code of HTTP_301 or HTTP_302 must be specified")
    protocol = config.get("Protocol", "#{protocol}")
    if protocol not in ("HTTP", "HTTPS", "#{protocol}"):
        raise elb_error(
            "InvalidLoadBalancerAction", "The redirect protocol must be HTTP, HTTPS or #{protocol}"
        )
    if "Path" in config and not str(config["Path"]).startswith("/"):
        raise elb_error("InvalidLoadBalancerAction", "The redirect path must start with a '/'")
    defaults = {
        "Protocol": "#{protocol}",
        "Port": "#{port}",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
    }
    return {"Type": "redirect", "RedirectConfig": {**defaults, **config}}


def check_actions(
    state: ElbState, ctx: RequestContext, actions: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The actions as stored, or AWS's error. Exactly one must end the request (forward,
    fixed-response or redirect): Fireside has no authentication actions to precede it."""
    if not actions:
        raise validation("At least one action must be specified")
    out = []
    for index, action in enumerate(actions, 1):
        kind = action.get("Type")
        if kind == "forward":
            checked = _forward(state, ctx, action)
        elif kind == "fixed-response":
            checked = _fixed(action, index)
        elif kind == "redirect":
            checked = _redirect(action)
        elif kind in ("authenticate-oidc", "authenticate-cognito"):
            raise elb_error(
                "InvalidLoadBalancerAction",
                f"Fireside does not implement '{kind}' actions yet",
            )
        else:
            raise validation(
                f"1 validation error detected: Value '{kind}' at 'actions.{index}.member.type'"
                " failed to satisfy constraint: Member must satisfy enum value set: [forward,"
                " authenticate-oidc, authenticate-cognito, redirect, fixed-response]"
            )
        if "Order" in action:
            checked["Order"] = action["Order"]
        out.append(checked)
    if len(out) > 1:
        raise elb_error("TooManyActions", "A rule can have only one terminal action")
    return out


def _values(condition: dict[str, Any], field: str) -> list[str]:
    config = condition.get(_CONFIG[field]) or {}
    if field == "http-header":
        return list(config.get("Values") or [])
    if field == "query-string":
        return [f"{p.get('Key', '')}={p.get('Value', '')}" for p in config.get("Values") or []]
    return list(config.get("Values") or condition.get("Values") or [])


def check_conditions(conditions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The conditions as stored (`Values` and the `*Config` form both filled where AWS
    answers both), or AWS's error."""
    out = []
    total = 0
    for condition in conditions or []:
        field = condition.get("Field", "")
        if field not in _FIELDS:
            raise validation(f"Condition field '{field}' must be one of '[{','.join(_FIELDS)}]'")
        values = _values(condition, field)
        if not values:
            raise validation("A condition value must be specified")
        total += len(values)
        stored: dict[str, Any] = {"Field": field}
        if field == "http-header":
            config = condition.get("HttpHeaderConfig") or {}
            if not config.get("HttpHeaderName"):
                raise validation("An HTTP header name must be specified")
            stored["HttpHeaderConfig"] = {
                "HttpHeaderName": config["HttpHeaderName"],
                "Values": values,
            }
        elif field == "query-string":
            pairs = [dict(p) for p in (condition.get("QueryStringConfig") or {})["Values"]]
            stored["QueryStringConfig"] = {"Values": pairs}
        else:
            for value in values:
                _check_value(field, value)
            stored["Values"] = values
            stored[_CONFIG[field]] = {"Values": values}
        out.append(stored)
    if total > _MAX_VALUES:
        raise validation(f"A rule can only have '{_MAX_VALUES}' condition values")
    return out


def _check_value(field: str, value: str) -> None:
    if field in ("path-pattern", "host-header") and len(value) > 128:
        raise validation(f"The '{field}' value '{value}' cannot be longer than 128 characters")
    if field == "http-request-method" and not _METHOD.match(value):
        raise validation(
            f"The 'http-request-method' value '{value}' is not valid; the allowed characters"
            " are A-Z, hyphen (-), and underscore (_)"
        )
    if field == "source-ip":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise validation(f"The 'source-ip' value '{value}' is not a valid CIDR") from None
