"""The parser of API Gateway's mapping templates (Apache Velocity's template language, VTL):
template text -> a tree that `rest_api_vtl_eval` runs.

Text holds references, plain (`$x.y`), quiet (`$!x`) and braced (`${x.y}`), with property
(`.name`), index (`[expr]`) and method call (`.name(args)`) steps; `\\$` and `\\#` are a
literal `$` and `#`; `##` line and `#* *#` block comments; `#[[ ]]#` unparsed text.
Directives: `#set`, `#if` / `#elseif` / `#else` / `#end`, `#foreach`, `#break`, `#stop`, each
also braced (`#{else}`); a directive alone on its line takes the line with it (its leading
blanks and newline), so templates can indent freely. Expressions: string literals ('plain'
and "interpolated"), numbers, `true` `false` `null`, lists `[a, b]`, ranges `[1..n]`, maps
`{"k": v}`, `+ - * / %`, comparisons (`==` `!=` `<` `<=` `>` `>=` and `eq` `ne` `lt` `le`
`gt` `ge`), `&&` `||` `!` (and `and` `or` `not`), parentheses.

Refused with `UnsupportedTemplate` (the front door answers 500 and logs the reason), never
silently dropped: `#macro`, `#parse`, `#include`, `#evaluate`, `#define`, macro calls and
anything malformed (an unclosed `#if`, a `#set` without `=`...).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

from fireside.gateway.rest_api_vtl_nodes import (
    Binary,
    Branch,
    Foreach,
    If,
    ListExpr,
    Literal,
    MapExpr,
    Node,
    RangeExpr,
    Ref,
    Set,
    Signal,
    StringExpr,
    UnsupportedTemplate,
)

__all__ = ["MAX_TEMPLATE", "UnsupportedTemplate", "parse"]

#: API Gateway's limit on a mapping template's size (its quotas page: 300 KB).
MAX_TEMPLATE = 300 * 1024
_MAX_DEPTH = 64  # nesting of directives and expressions
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A property may hold hyphens, as Velocity 1.7's identifiers do (`header.X-Amz-Target`).
_STEP: Final = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")
_DIRECTIVE: Final = re.compile(r"#(?:\{([A-Za-z]+)\}|([A-Za-z]+))")
_NUMBER: Final = re.compile(r"\d+(\.\d+)?")
_REFUSED: Final = frozenset({"macro", "parse", "include", "evaluate", "define"})
_BLOCK_ENDS: Final = frozenset({"elseif", "else", "end"})
_WORD_OPS: Final = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TAIL: Final = re.compile(r"[ \t]*(?:\r?\n|$)")


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.depth = 0
        #: The condition of the #elseif that ended the last block.
        self.pending: Any = None

    def fail(self, why: str) -> UnsupportedTemplate:
        line = self.s.count("\n", 0, self.i) + 1
        return UnsupportedTemplate(f"mapping template, line {line}: {why}")

    # -- template text -------------------------------------------------------------------

    def block(self, inside: str | None) -> tuple[list[Node], str | None]:
        """Nodes up to the `#elseif`/`#else`/`#end` closing `inside` (None at the top)."""
        s = self.s
        nodes: list[Node] = []
        text: list[str] = []
        clean = self.i == 0 or s[self.i - 1] == "\n"  # only blanks so far on this line
        while self.i < len(s):
            char = s[self.i]
            if char == "\\" and s[self.i + 1 : self.i + 2] in ("$", "#"):
                text.append(s[self.i + 1])
                self.i += 2
                clean = False
                continue
            if char == "$":
                start = self.i
                ref = self.reference()
                if ref is None:
                    self.i = start + 1
                    text.append("$")
                else:
                    nodes.extend(["".join(text), ref])
                    text = []
                clean = False
                continue
            if char != "#":
                text.append(char)
                self.i += 1
                clean = char == "\n" or (clean and char in " \t")
                continue
            if s.startswith("##", self.i):
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
                continue
            if s.startswith("#*", self.i):
                end = s.find("*#", self.i + 2)
                if end < 0:
                    raise self.fail("a #* comment is not closed")
                self.i = end + 2
                continue
            if s.startswith("#[[", self.i):
                end = s.find("]]#", self.i + 3)
                if end < 0:
                    raise self.fail("a #[[ block is not closed")
                text.append(s[self.i + 3 : end])
                self.i = end + 3
                clean = False
                continue
            match = _DIRECTIVE.match(s, self.i)
            keyword = (match[1] or match[2]) if match else None
            if match is None or keyword not in _KNOWN:
                if match is not None and keyword in _REFUSED:
                    raise self.fail(f"#{keyword} is not supported")
                if match is not None and s.startswith("(", match.end()):
                    raise self.fail(f"#{keyword}(...): macros are not supported")
                text.append("#")
                self.i += 1
                clean = False
                continue
            self.i = match.end()
            if keyword in _BLOCK_ENDS and inside is None:
                raise self.fail(f"#{keyword} without #if or #foreach")
            header = self.header(keyword)
            tail = _TAIL.match(s, self.i)
            if clean and tail is not None:  # the directive is alone on its line: gobble it
                text = ["".join(text).rstrip(" \t")]
                self.i = tail.end()
            nodes.append("".join(text))
            text = []
            if keyword in _BLOCK_ENDS:
                self.pending = header
                return [n for n in nodes if n != ""], keyword
            nodes.append(self.body(keyword, header))
            clean = self.i == 0 or s[self.i - 1] == "\n"
        if inside is not None:
            raise self.fail(f"#{inside} without #end")
        nodes.append("".join(text))
        return [n for n in nodes if n != ""], None

    def header(self, keyword: str) -> Any:
        """What a directive holds before its body: a #set, a condition, a loop's head."""
        if keyword in ("break", "stop"):
            return Signal(keyword)
        if keyword in ("else", "end"):
            return None
        self.open()
        if keyword == "set":
            target = self.reference()
            if target is None or not self.take("="):
                raise self.fail("#set needs ($reference = value)")
            found: Any = Set(target, self.expression())
        elif keyword == "foreach":
            variable = self.reference()
            if variable is None or variable.steps or not self.word("in"):
                raise self.fail("#foreach needs ($item in list)")
            found = (variable.name, self.expression())
        else:
            found = self.expression()
        self.close()
        return found

    def body(self, keyword: str, header: Any) -> Node:
        if keyword not in ("if", "foreach"):
            node: Node = header
            return node
        self.enter()
        if keyword == "foreach":
            body, ending = self.block("foreach")
            if ending != "end":
                raise self.fail(f"#{ending} inside #foreach")
            self.depth -= 1
            return Foreach(header[0], header[1], body)
        branches = [Branch(header)]
        while True:
            branches[-1].body, ending = self.block("if")
            if ending == "end":
                self.depth -= 1
                return If(branches)
            if branches[-1].condition is None:
                raise self.fail(f"#{ending} after #else")
            branches.append(Branch(self.pending if ending == "elseif" else None))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail("nested too deeply")

    # -- references --------------------------------------------------------------------------

    def reference(self) -> Ref | None:
        """A reference at `$`, or None (cursor unspecified) when there is none."""
        s, start = self.s, self.i
        self.skip()
        if not s.startswith("$", self.i):
            return None
        self.i += 1
        quiet = s.startswith("!", self.i)
        self.i += quiet
        braced = s.startswith("{", self.i)
        self.i += braced
        name = _IDENT.match(s, self.i)
        if name is None:
            return None
        self.i = name.end()
        steps: list[tuple[Any, ...]] = []
        while self.i < len(s):
            if s[self.i] == "." and (step := _STEP.match(s, self.i + 1)):
                self.i = step.end()
                if s.startswith("(", self.i):
                    self.i += 1
                    steps.append(("call", step[0], self.arguments(")")))
                else:
                    steps.append(("prop", step[0]))
            elif s[self.i] == "[":
                self.i += 1
                self.enter()
                steps.append(("index", self.expression()))
                self.depth -= 1
                if not self.take("]"):
                    raise self.fail("an index is not closed with ]")
            else:
                break
        if braced and not s.startswith("}", self.i):
            return None
        self.i += braced
        return Ref(quiet, name[0], steps, s[start : self.i].strip())

    def arguments(self, closing: str) -> list[Any]:
        self.enter()
        items: list[Any] = []
        if not self.take(closing):
            items.append(self.expression())
            while self.take(","):
                items.append(self.expression())
            if not self.take(closing):
                raise self.fail(f"expected {closing!r}")
        self.depth -= 1
        return items

    # -- expressions ---------------------------------------------------------------------------

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def take(self, token: str) -> bool:
        self.skip()
        if self.s.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def word(self, word: str) -> bool:
        self.skip()
        match = _IDENT.match(self.s, self.i)
        if match is not None and match[0] == word:
            self.i = match.end()
            return True
        return False

    def open(self) -> None:
        if not self.take("("):
            raise self.fail("a directive without its (...)")

    def close(self) -> None:
        if not self.take(")"):
            raise self.fail("a directive's (...) is not closed")

    def expression(self) -> Any:
        self.enter()
        left = self.conjunction()
        while self.take("||") or self.word("or"):
            left = Binary("||", left, self.conjunction())
        self.depth -= 1
        return left

    def conjunction(self) -> Any:
        left = self.comparison()
        while self.take("&&") or self.word("and"):
            left = Binary("&&", left, self.comparison())
        return left

    def comparison(self) -> Any:
        left = self.sum()
        for op in ("==", "!=", "<=", ">=", "<", ">"):
            if self.take(op):
                return Binary(op, left, self.sum())
        for word, op in _WORD_OPS.items():
            if self.word(word):
                return Binary(op, left, self.sum())
        return left

    def sum(self) -> Any:
        left = self.product()
        while True:
            self.skip()
            char = self.s[self.i : self.i + 1]
            if char not in ("+", "-") or self.s.startswith("..", self.i - 1):
                return left
            self.i += 1
            left = Binary(char, left, self.product())

    def product(self) -> Any:
        left = self.unary()
        while True:
            self.skip()
            char = self.s[self.i : self.i + 1]
            if char not in ("*", "/", "%"):
                return left
            self.i += 1
            left = Binary(char, left, self.unary())

    def unary(self) -> Any:
        self.skip()
        if self.s.startswith("!", self.i) and not self.s.startswith("!=", self.i):
            self.i += 1
            return Binary("!", self.unary(), None)
        if self.word("not"):
            return Binary("!", self.unary(), None)
        if self.s.startswith("-", self.i):
            self.i += 1
            return Binary("neg", self.unary(), None)
        return self.primary()

    def primary(self) -> Any:
        s = self.s
        self.skip()
        char = s[self.i : self.i + 1]
        if char == "(":
            self.i += 1
            inner = self.expression()
            if not self.take(")"):
                raise self.fail("a ( is not closed")
            return inner
        if char in ("'", '"'):
            return self.string(char)
        if number := _NUMBER.match(s, self.i):
            self.i = number.end()
            return Literal(float(number[0]) if number[1] else int(number[0]))
        if char == "[":
            self.i += 1
            if self.take("]"):
                return ListExpr([])
            first = self.expression()
            if self.take(".."):
                stop = self.expression()
                if not self.take("]"):
                    raise self.fail("a range is not closed with ]")
                return RangeExpr(first, stop)
            items = [first]
            while self.take(","):
                items.append(self.expression())
            if not self.take("]"):
                raise self.fail("a list is not closed with ]")
            return ListExpr(items)
        if char == "{":
            self.i += 1
            pairs: list[tuple[Any, Any]] = []
            if not self.take("}"):
                while True:
                    key = self.expression()
                    if not self.take(":"):
                        raise self.fail("a map entry needs key : value")
                    pairs.append((key, self.expression()))
                    if self.take("}"):
                        break
                    if not self.take(","):
                        raise self.fail("a map is not closed with }")
            return MapExpr(pairs)
        if char == "$":
            ref = self.reference()
            if ref is None:
                raise self.fail("a malformed reference")
            return ref
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.word(word):
                return Literal(value)
        raise self.fail(f"cannot read an expression at {s[self.i : self.i + 20]!r}")

    def string(self, quote: str) -> Any:
        s, start = self.s, self.i + 1
        index = start
        while index < len(s) and s[index] != quote:
            index += 2 if s[index] == "\\" else 1
        if index >= len(s):
            raise self.fail("a string is not closed")
        self.i = index + 1
        raw = s[start:index].replace("\\" + quote, quote)
        if quote == "'":
            return Literal(raw)
        inner = _Parser(raw)
        inner.depth = self.depth
        parts, _ = inner.block(None)
        if all(isinstance(part, str) for part in parts):
            return Literal("".join(parts))  # type: ignore[arg-type]
        return StringExpr(parts)


_KNOWN: Final = frozenset({"set", "if", "elseif", "else", "end", "foreach", "break", "stop"})


@functools.lru_cache(maxsize=64)
def parse(template: str) -> tuple[Node, ...]:
    """`template` parsed (cached: a deployed template is parsed once, not per request; the
    tree is never changed by running it)."""
    if len(template.encode()) > MAX_TEMPLATE:
        raise UnsupportedTemplate("mapping template over API Gateway's 300 KB")
    nodes, _ = _Parser(template).block(None)
    return tuple(nodes)
