"""Runs a parsed mapping template (`rest_api_vtl.parse`) over values, as Velocity would.

Values are Python's: str, int, float, bool, None, list, dict, and `Bound` objects (`$input`,
`$util`: the template module's bindings). Velocity's rules kept: `+` of a string and
anything concatenates; `/` and `%` of integers are Java's (truncating); division by zero is
null; `==` of unlike types compares their text; only `false` and null are false in a
condition; a map iterates its values; null renders as nothing. Java's string, list and map
methods templates use are here (`_STRING`, `_LIST`, `_MAP`); any other raises
`UnsupportedTemplate`.

Bounded as API Gateway bounds it: a `#foreach` stops after 1,000 iterations (API Gateway's
documented quota), all loops together after `MAX_STEPS`, and the output may not outgrow the
10 MB payload limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol

from fireside.gateway.rest_api_vtl_nodes import (
    Binary,
    Foreach,
    If,
    ListExpr,
    Literal,
    MapExpr,
    Node,
    RangeExpr,
    Ref,
    Set,
    StringExpr,
    UnsupportedTemplate,
)

__all__ = ["Bound", "Renderer", "text_of"]

#: API Gateway's quota on the iterations of one `#foreach` loop.
MAX_LOOP = 1000
#: Iterations of all loops of one rendering together (nested loops multiply).
MAX_STEPS = 100_000
#: API Gateway's payload limit, for what one template may write.
MAX_OUTPUT = 10 * 1024 * 1024


class Bound(Protocol):
    """An object templates call into (`$input`, `$util`)."""

    def property(self, name: str) -> Any: ...

    def invoke(self, name: str, args: list[Any]) -> Any: ...


class _Stop(Exception):
    pass


class _Break(Exception):
    pass


def text_of(value: Any) -> str:
    """A value as Velocity writes it (Java's `toString`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{text_of(k)}={text_of(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(text_of(item) for item in value) + "]"
    return str(value)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value) if re.fullmatch(r"-?\d+", value) else float(value)
        except ValueError:
            return None
    return None


def _java_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise UnsupportedTemplate(f"bad regular expression {pattern!r}: {error}") from None


def _replacement(text: str) -> str:
    # Java's replacement text: $1 is a group, \x a literal x.
    return re.sub(r"\\(.)|\$(\d)", lambda m: m[1] if m[1] is not None else f"\\g<{m[2]}>", text)


def _substring(s: str, start: int, end: int | None = None) -> str:
    stop = len(s) if end is None else end
    if not 0 <= start <= stop <= len(s):
        raise UnsupportedTemplate(f"substring({start}, {end}) out of range of {len(s)}")
    return s[start:stop]


_STRING: Final[dict[str, Callable[..., Any]]] = {
    "length": len,
    "size": len,
    "isEmpty": lambda s: not s,
    "contains": lambda s, x: text_of(x) in s,
    "startsWith": lambda s, x: s.startswith(text_of(x)),
    "endsWith": lambda s, x: s.endswith(text_of(x)),
    "indexOf": lambda s, x: s.find(text_of(x)),
    "lastIndexOf": lambda s, x: s.rfind(text_of(x)),
    "substring": _substring,
    "charAt": lambda s, i: s[i],
    "replace": lambda s, a, b: s.replace(text_of(a), text_of(b)),
    "replaceAll": lambda s, a, b: _java_regex(text_of(a)).sub(_replacement(text_of(b)), s),
    "replaceFirst": lambda s, a, b: _java_regex(text_of(a)).sub(_replacement(text_of(b)), s, 1),
    "matches": lambda s, a: _java_regex(text_of(a)).fullmatch(s) is not None,
    "split": lambda s, a: [p for p in _java_regex(text_of(a)).split(s)],
    "toLowerCase": str.lower,
    "toUpperCase": str.upper,
    "trim": str.strip,
    "equals": lambda s, x: s == x,
    "equalsIgnoreCase": lambda s, x: isinstance(x, str) and s.lower() == x.lower(),
    "concat": lambda s, x: s + text_of(x),
    "toString": lambda s: s,
}
_LIST: Final[dict[str, Callable[..., Any]]] = {
    "size": len,
    "isEmpty": lambda xs: not xs,
    "get": lambda xs, i: xs[i] if isinstance(i, int) and 0 <= i < len(xs) else None,
    "contains": lambda xs, x: x in xs,
    "indexOf": lambda xs, x: xs.index(x) if x in xs else -1,
    "add": lambda xs, x: xs.append(x) is None,
    "toString": text_of,
}
_MAP: Final[dict[str, Callable[..., Any]]] = {
    "size": len,
    "isEmpty": lambda m: not m,
    "get": lambda m, k: m.get(k),
    "containsKey": lambda m, k: k in m,
    "keySet": lambda m: list(m),
    "values": lambda m: list(m.values()),
    "entrySet": lambda m: [{"key": k, "value": v} for k, v in m.items()],
    "put": lambda m, k, v: m.__setitem__(k, v),
    "remove": lambda m, k: m.pop(k, None),
    "toString": text_of,
}


class Renderer:
    """One rendering: the template's variables, its output and its budget."""

    def __init__(self, roots: dict[str, Any]) -> None:
        self.variables: dict[str, Any] = dict(roots)
        self.out: list[str] = []
        self.size = 0
        self.steps = 0

    def render(self, nodes: Sequence[Node]) -> str:
        try:
            self.run(nodes, self.out)
        except _Stop:
            pass
        except _Break:
            pass  # #break outside a loop ends the template, as Velocity's does
        except RecursionError:  # a list holding itself, written out
            raise UnsupportedTemplate("a value nested too deeply to write") from None
        return "".join(self.out)

    def write(self, out: list[str], text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise UnsupportedTemplate("the template's output is over 10 MB")
        out.append(text)

    def run(self, nodes: Sequence[Node], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.write(out, node)
            elif isinstance(node, Ref):
                self.write(out, text_of(self.reference(node)))
            elif isinstance(node, Set):
                self.assign(node)
            elif isinstance(node, If):
                for branch in node.branches:
                    if branch.condition is None or _truthy(self.value(branch.condition)):
                        self.run(branch.body, out)
                        break
            elif isinstance(node, Foreach):
                self.loop(node, out)
            else:
                raise _Stop() if node.kind == "stop" else _Break()

    def loop(self, node: Foreach, out: list[str]) -> None:
        items = self.value(node.items)
        if isinstance(items, dict):
            items = list(items.values())
        elif not isinstance(items, list):
            items = [] if items is None else [items]
        saved = {k: self.variables.get(k) for k in (node.variable, "foreach", "velocityCount")}
        total = min(len(items), MAX_LOOP)
        try:
            for index, item in enumerate(items):
                if index >= MAX_LOOP:
                    break
                self.steps += 1
                if self.steps > MAX_STEPS:
                    raise UnsupportedTemplate(f"the template's loops ran over {MAX_STEPS} times")
                self.variables[node.variable] = item
                self.variables["velocityCount"] = index + 1
                self.variables["foreach"] = {
                    "index": index,
                    "count": index + 1,
                    "hasNext": index + 1 < total,
                    "first": index == 0,
                    "last": index + 1 == total,
                }
                try:
                    self.run(node.body, out)
                except _Break:
                    break
        finally:
            self.variables.update(saved)

    def assign(self, node: Set) -> None:
        value = self.value(node.value)
        target = node.target
        if not target.steps:
            self.variables[target.name] = value
            return
        holder = self.follow(self.variables.get(target.name), target.steps[:-1])
        last = target.steps[-1]
        key = last[1] if last[0] == "prop" else self.value(last[1])
        if isinstance(holder, dict) or (
            isinstance(holder, list) and isinstance(key, int) and 0 <= key < len(holder)
        ):
            holder[key] = value

    def reference(self, ref: Ref) -> Any:
        return self.follow(self.variables.get(ref.name), ref.steps)

    def follow(self, value: Any, steps: Iterable[tuple[Any, ...]]) -> Any:
        for step in steps:
            if value is None:
                return None
            if step[0] == "prop":
                value = _property(value, step[1])
            elif step[0] == "index":
                value = _index(value, self.value(step[1]))
            else:
                value = self.call(value, step[1], [self.value(a) for a in step[2]])
        return value

    def call(self, target: Any, name: str, args: list[Any]) -> Any:
        if isinstance(target, (dict, list, str)):
            table = (
                _MAP if isinstance(target, dict) else _LIST if isinstance(target, list) else _STRING
            )
            method = table.get(name)
            if method is None:
                raise UnsupportedTemplate(f"{type(target).__name__}.{name}() is not supported")
            try:
                return _bounded(method(target, *args))
            except (TypeError, IndexError, ValueError) as error:
                raise UnsupportedTemplate(f".{name}{tuple(args)!r}: {error}") from None
        if isinstance(target, (int, float)) and name in ("toString", "intValue", "doubleValue"):
            convert: dict[str, Callable[[Any], Any]] = {
                "toString": text_of,
                "intValue": int,
                "doubleValue": float,
            }
            return convert[name](target)
        invoke = getattr(target, "invoke", None)
        if invoke is None:
            raise UnsupportedTemplate(f".{name}() is not supported on {text_of(target)!r}")
        return invoke(name, args)

    def value(self, expr: Any) -> Any:
        if isinstance(expr, Literal):
            return expr.value
        if isinstance(expr, Ref):
            return self.reference(expr)
        if isinstance(expr, StringExpr):
            parts: list[str] = []
            self.run(expr.parts, parts)
            return "".join(parts)
        if isinstance(expr, ListExpr):
            return [self.value(item) for item in expr.items]
        if isinstance(expr, MapExpr):
            return {self.value(k): self.value(v) for k, v in expr.items}
        if isinstance(expr, RangeExpr):
            start, stop = _number(self.value(expr.start)), _number(self.value(expr.stop))
            if not isinstance(start, int) or not isinstance(stop, int):
                return []
            step = 1 if stop >= start else -1
            return list(range(start, stop + step, step)[: MAX_LOOP + 1])
        assert isinstance(expr, Binary)
        return self.binary(expr)

    def binary(self, expr: Binary) -> Any:
        op = expr.op
        if op == "!":
            return not _truthy(self.value(expr.left))
        if op == "&&":
            return _truthy(self.value(expr.left)) and _truthy(self.value(expr.right))
        if op == "||":
            return _truthy(self.value(expr.left)) or _truthy(self.value(expr.right))
        left = self.value(expr.left)
        if op == "neg":
            number = _number(left)
            return None if number is None else -number
        right = self.value(expr.right)
        if op in ("==", "!="):
            same = _equal(left, right)
            return same if op == "==" else not same
        if op in ("<", "<=", ">", ">="):
            return _order(left, op, right)
        return _arithmetic(left, op, right)


def _bounded(value: Any) -> Any:
    """`value`, unless it is a string grown past the output limit (doubling a string in a
    loop would otherwise take all memory before anything is written)."""
    if isinstance(value, str) and len(value) > MAX_OUTPUT:
        raise UnsupportedTemplate("a string over 10 MB")
    return value


def _integer(value: int) -> int | float:
    # Past 64 bits a number goes on as a double (Python's integers would grow without end).
    return value if -(2**63) <= value < 2**63 else float(value)


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _property(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    if isinstance(value, (list, str)) and name in ("size", "length", "empty"):
        return len(value) if name != "empty" else not value
    bound = getattr(value, "property", None)
    return bound(name) if bound is not None else None


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, (list, str)) and isinstance(key, int) and not isinstance(key, bool):
        return value[key] if -len(value) <= key < len(value) else None
    return None


def _equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    a, b = _number(left), _number(right)
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return a == b
    if type(left) is type(right):
        return bool(left == right)
    return text_of(left) == text_of(right)


def _order(left: Any, op: str, right: Any) -> bool:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        if not (isinstance(left, str) and isinstance(right, str)):
            return False
        a, b = left, right  # type: ignore[assignment]
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]  # type: ignore[operator]


def _arithmetic(left: Any, op: str, right: Any) -> Any:
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return _bounded(text_of(left) + text_of(right))
    a, b = _number(left), _number(right)
    if a is None or b is None or isinstance(left, str) or isinstance(right, str):
        return None  # Velocity logs the bad operand and yields null
    if op in ("+", "-", "*"):
        result = a + b if op == "+" else a - b if op == "-" else a * b
        return _integer(result) if isinstance(result, int) else result
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return quotient if op == "/" else a - b * quotient
    return a / b if op == "/" else a - b * int(a / b)
