"""The VTL directives mapping templates use most: `#if` / `#elseif` / `#else` / `#end` and
`#set`, with `##` and `#* *#` comments, over references the caller resolves.

Conditions: operands are references (`$input.params('scope')`, `$x`), quoted strings, numbers,
`true`, `false` and `null`; `==`, `!=`, `<`, `<=`, `>`, `>=` (numerically when both sides are
numbers), `!`, `&&`, `||`; a lone operand is true unless it is empty, `false` or `null`.
`#set($name = <operand>)` makes `$name` for the rest of the template. Anything else
(`#foreach`, `#macro`, arithmetic, method calls on values) raises `UnsupportedTemplate`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["UnsupportedTemplate", "run"]


class UnsupportedTemplate(Exception):
    """A template uses VTL this subset does not implement."""


#: (text with references, variables) -> the text with them replaced.
Expand = Callable[[str, dict[str, str]], str]
#: (one reference, variables) -> its value.
Value = Callable[[str, dict[str, str]], str]

_DIRECTIVE = re.compile(r"(?<!\\)#(?:\{)?(if|elseif|else|end|set|foreach|macro|define|parse|"
                        r"include|evaluate|break|stop)\b(?:\})?")  # fmt: skip
_COMMENTS = re.compile(r"#\*.*?\*#|##[^\n]*", re.DOTALL)
_COMPARISON = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class _Branch:
    condition: str | None
    body: list[_Node] = field(default_factory=list)


@dataclass
class _If:
    branches: list[_Branch]


@dataclass
class _Set:
    name: str
    expression: str


_Node = str | _If | _Set


def _argument(template: str, start: int) -> tuple[str, int]:
    """The text inside the parentheses opening at or after `start`, and the index after them."""
    index = start
    while index < len(template) and template[index] in " \t":
        index += 1
    if index >= len(template) or template[index] != "(":
        raise UnsupportedTemplate("a directive without its (...)")
    depth, quote = 0, ""
    for position in range(index, len(template)):
        char = template[position]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return template[index + 1 : position], position + 1
    raise UnsupportedTemplate("a directive's (...) is not closed")


def _parse(template: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_If, list[_Node]]] = []
    current = root
    position = 0
    for match in _DIRECTIVE.finditer(template):
        if match.start() < position:
            continue  # inside a directive's arguments
        current.append(template[position : match.start()])
        keyword = match[1]
        position = match.end()
        if keyword in ("if", "elseif", "set"):
            argument, position = _argument(template, position)
        if keyword == "if":
            block = _If([_Branch(argument)])
            current.append(block)
            stack.append((block, current))
            current = block.branches[-1].body
        elif keyword in ("elseif", "else"):
            if not stack:
                raise UnsupportedTemplate(f"#{keyword} without #if")
            block = stack[-1][0]
            block.branches.append(_Branch(argument if keyword == "elseif" else None))
            current = block.branches[-1].body
        elif keyword == "end":
            if not stack:
                raise UnsupportedTemplate("#end without #if")
            current = stack.pop()[1]
        elif keyword == "set":
            target, equals, expression = argument.partition("=")
            name = target.strip().lstrip("$").strip("{}!")
            if not equals or not re.fullmatch(r"[A-Za-z]\w*", name):
                raise UnsupportedTemplate(f"#set({argument}) is not supported")
            current.append(_Set(name, expression.strip()))
        else:
            raise UnsupportedTemplate(f"#{keyword} is not supported")
    if stack:
        raise UnsupportedTemplate("#if without #end")
    current.append(template[position:])
    return root


def _split(text: str, operator: str) -> list[str]:
    """`text` split on `operator` outside quotes and parentheses."""
    parts, depth, quote, start, index = [], 0, "", 0, 0
    while index < len(text):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(operator, index):
            parts.append(text[start:index])
            index += len(operator)
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return parts


def _operand(text: str, variables: dict[str, str], expand: Expand, value: Value) -> str | None:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return expand(inner, variables) if text[0] == '"' else inner
    if text in ("true", "false"):
        return text
    if text == "null":
        return None
    if _NUMBER.fullmatch(text):
        return text
    if text.startswith("$"):
        return value(text, variables)
    raise UnsupportedTemplate(f"cannot evaluate {text!r}")


def _truthy(found: str | None) -> bool:
    return found not in (None, "", "false", "null")


def _condition(text: str, variables: dict[str, str], expand: Expand, value: Value) -> bool:
    alternatives = _split(text, "||")
    if len(alternatives) > 1:
        return any(_condition(a, variables, expand, value) for a in alternatives)
    conjuncts = _split(text, "&&")
    if len(conjuncts) > 1:
        return all(_condition(c, variables, expand, value) for c in conjuncts)
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        return _condition(text[1:-1], variables, expand, value)
    if text.startswith("!") and not text.startswith("!="):
        return not _condition(text[1:], variables, expand, value)
    for operator in ("==", "!=", "<=", ">=", "<", ">"):
        sides = _split(text, operator)
        if len(sides) == 2:
            left = _operand(sides[0], variables, expand, value)
            right = _operand(sides[1], variables, expand, value)
            return _compare(left, operator, right)
    return _truthy(_operand(text, variables, expand, value))


def _compare(left: str | None, operator: str, right: str | None) -> bool:
    if operator in ("==", "!="):
        same = left == right
        if (
            left is not None
            and right is not None
            and _NUMBER.fullmatch(left)
            and _NUMBER.fullmatch(right)
        ):
            same = float(left) == float(right)
        return same if operator == "==" else not same
    if left is None or right is None:
        return False
    try:
        a, b = float(left), float(right)
    except ValueError:
        a_text, b_text = left, right
        return {"<": a_text < b_text, "<=": a_text <= b_text, ">": a_text > b_text,
                ">=": a_text >= b_text}[operator]  # fmt: skip
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]


def _evaluate(
    nodes: list[_Node], variables: dict[str, str], expand: Expand, value: Value, out: list[str]
) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(expand(node, variables))
        elif isinstance(node, _Set):
            variables[node.name] = _operand(node.expression, variables, expand, value) or ""
        else:
            for branch in node.branches:
                if branch.condition is None or _condition(
                    branch.condition, variables, expand, value
                ):
                    _evaluate(branch.body, variables, expand, value, out)
                    break


def run(template: str, expand: Expand, value: Value) -> str:
    """`template` rendered: directives run, references in its text expanded."""
    nodes = _parse(_COMMENTS.sub("", template))
    out: list[str] = []
    _evaluate(nodes, {}, expand, value, out)
    return "".join(out)
