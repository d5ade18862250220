"""Intrinsic functions and pseudo-parameters: a template value resolved against a stack.

`Resolver.resolve(value)` walks a template value and evaluates `Ref`, `Fn::GetAtt`,
`Fn::Sub`, `Fn::Join`, `Fn::If`... as CloudFormation does. Where a value depends on a
resource not made yet (a change set's preview), the result is `UNKNOWN`, which a whole
string built from it also becomes; the engine only resolves a resource's properties once
everything it depends on exists. `AWS::NoValue` removes the key or list item holding it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from fireside.cloudformation.template import validation
from fireside.ec2.zones import zone_names

__all__ = [
    "FUNCTIONS",
    "NO_VALUE",
    "PSEUDO_NAMES",
    "UNKNOWN",
    "Pseudo",
    "Resolver",
    "TemplateError",
    "contains_unknown",
    "template_error",
    "unsupported",
]

FUNCTIONS: Final = [
    "Fn::Base64",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Select",
    "Ref",
    "Fn::Equals",
    "Fn::If",
    "Fn::Not",
    "Condition",
    "Fn::And",
    "Fn::Or",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Fn::RefAll",
    "Fn::Sub",
    "Fn::Cidr",
    "Fn::Length",
    "Fn::ToJsonString",
    "Fn::Transform",
]
_SUB_VAR: Final = re.compile(r"\$\{([^}]*)\}")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_VALUE: Final = _Marker("AWS::NoValue")
#: A value that depends on a resource not yet created.
UNKNOWN: Final = _Marker("{{unknown}}")


class TemplateError(Exception):
    """A template that cannot be evaluated: the message is CloudFormation's."""


def template_error(message: str) -> TemplateError:
    return TemplateError(f"Template error: {message}")


@dataclass(slots=True)
class Pseudo:
    account: str
    region: str
    stack_name: str
    stack_id: str
    notification_arns: list[str] = field(default_factory=list)
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def value(self, name: str) -> Any:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": list(self.notification_arns),
            "AWS::NoValue": NO_VALUE,
        }.get(name, UNKNOWN)


#: The pseudo-parameters `Ref` knows.
PSEUDO_NAMES: Final = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackName",
        "AWS::StackId",
        "AWS::Partition",
        "AWS::URLSuffix",
        "AWS::NotificationARNs",
        "AWS::NoValue",
    }
)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


@dataclass(slots=True)
class Resolver:
    pseudo: Pseudo
    parameters: dict[str, Any]
    mappings: dict[str, Any]
    #: Condition name -> its definition (evaluated lazily, once).
    condition_defs: dict[str, Any]
    #: logical id -> physical id (absent: not made yet).
    physical: Callable[[str], str | None]
    #: (logical id, attribute) -> value, UNKNOWN while the resource is not made.
    attribute: Callable[[str, str], Any]
    #: export name -> value; raises TemplateError when there is no such export.
    import_value: Callable[[str], str]
    resource_names: frozenset[str] = frozenset()
    _conditions: dict[str, bool] = field(default_factory=dict)

    # -- conditions ---------------------------------------------------------------------------

    def condition(self, name: str, seen: tuple[str, ...] = ()) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.condition_defs:
            raise TemplateError(
                f"Template format error: Unresolved dependencies [{name}]. "
                "Cannot reference resources in the Conditions block of the template"
            )
        if name in seen:
            raise TemplateError(
                f"Template error: Circular dependency between conditions: [{', '.join(seen)}]"
            )
        value = self.boolean(self.condition_defs[name], (*seen, name))
        self._conditions[name] = value
        return value

    def boolean(self, value: Any, seen: tuple[str, ...] = ()) -> bool:
        if isinstance(value, dict) and len(value) == 1 and "Condition" in value:
            return self.condition(str(value["Condition"]), seen)
        if isinstance(value, dict) and len(value) == 1:
            ((name, args),) = value.items()
            if name in ("Fn::And", "Fn::Or"):
                if not isinstance(args, list) or not 2 <= len(args) <= 10:
                    raise template_error(f"{name} requires a list of 2 to 10 conditions")
                values = [self.boolean(a, seen) for a in args]
                return all(values) if name == "Fn::And" else any(values)
            if name == "Fn::Not":
                if not isinstance(args, list) or len(args) != 1:
                    raise template_error("Fn::Not requires a list argument with one element")
                return not self.boolean(args[0], seen)
            if name == "Fn::Equals":
                if not isinstance(args, list) or len(args) != 2:
                    raise template_error("Fn::Equals requires a list argument with two elements")
                left, right = (self.resolve(a) for a in args)
                return _text(left) == _text(right) if not isinstance(left, list) else left == right
            if name in ("Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn"):
                if not isinstance(args, list) or len(args) != 2:
                    raise template_error(f"{name} requires a list argument with two elements")
                left, right = (self.resolve(a) for a in args)
                members = [_text(v) for v in (left if isinstance(left, list) else [left])]
                if name == "Fn::Contains":
                    return _text(right) in members
                if name == "Fn::EachMemberEquals":
                    return all(m == _text(right) for m in members)
                allowed = [_text(v) for v in (right if isinstance(right, list) else [right])]
                return all(m in allowed for m in members)
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return resolved
        if isinstance(resolved, str) and resolved.lower() in ("true", "false"):
            return resolved.lower() == "true"
        raise template_error("condition must evaluate to a boolean")

    # -- values -------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((name, args),) = value.items()
                if name == "Ref" or name.startswith("Fn::"):
                    return self._function(name, args)
            out: dict[str, Any] = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(item) for item in value) if r is not NO_VALUE]
        return value

    def ref(self, name: str) -> Any:
        if name in PSEUDO_NAMES:
            return self.pseudo.value(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resource_names:
            physical = self.physical(name)
            return UNKNOWN if physical is None else physical
        raise TemplateError(
            "Template format error: Unresolved resource dependencies "
            f"[{name}] in the Resources block of the template"
        )

    def _function(self, name: str, args: Any) -> Any:
        if name == "Ref":
            return self.ref(str(self.resolve(args)))
        handler = _HANDLERS.get(name)
        if handler is None:
            if name in FUNCTIONS:  # the Rules-only functions and conditions
                return self.boolean({name: args})
            raise unsupported(name)
        return handler(self, args)

    def _get_att(self, args: Any) -> Any:
        if isinstance(args, str):
            logical, _, attribute = args.partition(".")
        elif isinstance(args, list) and len(args) == 2:
            logical = str(args[0])
            attribute = self.resolve(args[1])
            if attribute is UNKNOWN:
                return UNKNOWN
            attribute = str(attribute)
        else:
            raise template_error("Fn::GetAtt requires a list of two elements")
        if logical not in self.resource_names:
            raise template_error(f"instance of Fn::GetAtt references undefined resource {logical}")
        return self.attribute(logical, attribute)

    def _sub(self, args: Any) -> Any:
        variables: dict[str, Any] = {}
        if isinstance(args, list):
            if len(args) != 2 or not isinstance(args[1], dict):
                raise template_error(
                    "One or more Fn::Sub intrinsic functions don't specify "
                    "expected arguments. Specify a string as first argument, "
                    "and an optional second argument to specify a mapping "
                    "of values to replace in the string"
                )
            text = args[0]
            variables = {k: self.resolve(v) for k, v in args[1].items()}
        else:
            text = args
        if not isinstance(text, str):
            raise template_error("Fn::Sub requires a string")
        unknown = False

        def swap(match: re.Match[str]) -> str:
            nonlocal unknown
            inner = match[1]
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            inner = inner.strip()
            if inner in variables:
                found = variables[inner]
            elif "." in inner and inner.split(".", 1)[0] in self.resource_names:
                logical, attribute = inner.split(".", 1)
                found = self.attribute(logical, attribute)
            else:
                found = self.ref(inner)
            if found is UNKNOWN:
                unknown = True
                return ""
            if isinstance(found, list):
                return ",".join(_text(v) for v in found)
            return _text(found)

        result = _SUB_VAR.sub(swap, text)
        return UNKNOWN if unknown else result

    def _join(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 2:
            raise template_error("Fn::Join requires a list of a delimiter and values")
        delimiter = self.resolve(args[0])
        items = self.resolve(args[1])
        if items is UNKNOWN or delimiter is UNKNOWN:
            return UNKNOWN
        if not isinstance(items, list):
            raise template_error("Fn::Join requires a list of values")
        if any(i is UNKNOWN for i in items):
            return UNKNOWN
        return str(delimiter).join(_text(i) for i in items)

    def _select(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 2:
            raise template_error("Fn::Select requires a list of two elements")
        index, items = self.resolve(args[0]), self.resolve(args[1])
        if items is UNKNOWN or index is UNKNOWN:
            return UNKNOWN
        try:
            return items[int(index)]
        except (ValueError, TypeError, IndexError, KeyError):
            raise template_error(
                f"Fn::Select cannot select nonexistent value at index {index}"
            ) from None

    def _split(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 2:
            raise template_error("Fn::Split requires a list of two elements")
        delimiter, text = self.resolve(args[0]), self.resolve(args[1])
        if text is UNKNOWN:
            return UNKNOWN
        return str(text).split(str(delimiter))

    def _find_in_map(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) not in (3, 4):
            raise template_error("Fn::FindInMap requires a list of three elements")
        names = [self.resolve(a) for a in args[:3]]
        if UNKNOWN in names:
            return UNKNOWN
        mapping = self.mappings.get(str(names[0]))
        if mapping is None:
            raise template_error(
                f"Mapping named '{names[0]}' is not present in the 'Mappings' section of template."
            )
        top = mapping.get(_text(names[1])) if isinstance(mapping, dict) else None
        if not isinstance(top, dict) or _text(names[2]) not in top:
            if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                return self.resolve(args[3]["DefaultValue"])
            raise template_error(f"Unable to get mapping for {names[0]}::{names[1]}::{names[2]}")
        return top[_text(names[2])]

    def _get_azs(self, args: Any) -> Any:
        region = self.resolve(args) or self.pseudo.region
        # The zones EC2's DescribeAvailabilityZones answers for the region.
        return zone_names(str(region))

    def _base64(self, args: Any) -> Any:
        text = self.resolve(args)
        if text is UNKNOWN:
            return UNKNOWN
        return base64.b64encode(_text(text).encode()).decode()

    def _import(self, args: Any) -> Any:
        name = self.resolve(args)
        if name is UNKNOWN:
            return UNKNOWN
        return self.import_value(str(name))

    def _if(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            raise template_error("Fn::If requires a list argument with three elements")
        return self.resolve(args[1] if self.condition(str(args[0])) else args[2])

    def _cidr(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            raise template_error("Fn::Cidr requires a list of three elements")
        block, count, bits = (self.resolve(a) for a in args)
        if UNKNOWN in (block, count, bits):
            return UNKNOWN
        try:
            network = ipaddress.ip_network(str(block), strict=False)
            prefix = network.max_prefixlen - int(bits)
            subnets = network.subnets(new_prefix=prefix)
            return [str(next(subnets)) for _ in range(int(count))]
        except (ValueError, StopIteration):
            raise template_error("Fn::Cidr cannot make the requested subnets") from None

    def _length(self, args: Any) -> Any:
        items = self.resolve(args)
        if items is UNKNOWN:
            return UNKNOWN
        if not isinstance(items, list):
            raise template_error("Fn::Length requires a list")
        return len(items)

    def _to_json(self, args: Any) -> Any:
        value = self.resolve(args)
        if contains_unknown(value):
            return UNKNOWN
        return json.dumps(value, separators=(",", ":"))


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def unsupported(name: str) -> Exception:
    return validation(
        f"Template error: Encountered unsupported function: {name} Supported functions are: "
        f"[{', '.join(FUNCTIONS)}]"
    )


_HANDLERS: Final[dict[str, Callable[[Resolver, Any], Any]]] = {
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::Base64": Resolver._base64,
    "Fn::ImportValue": Resolver._import,
    "Fn::If": Resolver._if,
    "Fn::Cidr": Resolver._cidr,
    "Fn::Length": Resolver._length,
    "Fn::ToJsonString": Resolver._to_json,
}
