"""Parsing PartiQL statements for DynamoDB into `Statement`s (see `partiql.py`).

    SELECT * | path, ... FROM table[.index] [WHERE condition]
    INSERT INTO table VALUE {'attr': value, ...}
    UPDATE table SET path = value [, ...] [REMOVE path [, ...]] WHERE key = value AND ...
    DELETE FROM table WHERE key = value AND ...

Values: 'strings', numbers, TRUE/FALSE, NULL, {'maps': ...}, [lists], <<sets>>, and `?`
parameters (taken in order; their count must match). Conditions become the bound expression
AST the rest of the tables code evaluates: = <> != < <= > >=, BETWEEN, IN, AND/OR/NOT,
IS [NOT] MISSING, IS [NOT] NULL, begins_with, contains, attribute_type, attribute_exists,
attribute_not_exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fireside.aws.errors import ServiceError
from fireside.tables.errors import validation
from fireside.tables.expressions.ast import (
    And,
    Between,
    Compare,
    Condition,
    Function,
    In,
    Literal,
    Not,
    Or,
    Path,
)
from fireside.tables.values import AttributeValue, normalize_value

__all__ = ["Statement", "parse"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<op><<|>>|<>|!=|<=|>=|[=<>(),.\[\]{}:?*])
      | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
    )""",
    re.VERBOSE,
)
_FUNCTIONS = {
    "begins_with": 2,
    "contains": 2,
    "attribute_type": 2,
    "attribute_exists": 1,
    "attribute_not_exists": 1,
}


def _malformed(detail: str) -> ServiceError:
    return validation(f"Statement wasn't well formed, can't be processed: {detail}")


@dataclass(slots=True)
class _Token:
    kind: str
    text: str


@dataclass(slots=True)
class Statement:
    kind: str  # SELECT, INSERT, UPDATE, DELETE
    table: str
    index: str | None = None
    projection: list[Path] | None = None  # None: *
    where: Condition | None = None
    item: dict[str, AttributeValue] | None = None
    sets: list[tuple[Path, AttributeValue]] = field(default_factory=list)
    removes: list[Path] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str, parameters: list[AttributeValue]) -> None:
        self.tokens: list[_Token] = []
        position = 0
        text = text.strip().rstrip(";")
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise _malformed(f"Unexpected character at position {position}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append(_Token(kind, match.group(kind)))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.index = 0
        self.parameters = parameters
        self.used = 0

    # -- tokens --------------------------------------------------------------------------------

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _malformed("Unexpected end of statement")
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() == word:
            self.index += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek()
            raise _malformed(
                f"Expected {word}, found {found.text if found else 'end of statement'}"
            )

    def op(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "op" and token.text == text:
            self.index += 1
            return True
        return False

    def expect_op(self, text: str) -> None:
        if not self.op(text):
            found = self.peek()
            raise _malformed(
                f"Expected {text}, found {found.text if found else 'end of statement'}"
            )

    # -- names, paths, values ------------------------------------------------------------------

    def name(self) -> str:
        token = self.next()
        if token.kind == "quoted":
            return token.text[1:-1].replace('""', '"')
        if token.kind == "word":
            return token.text
        raise _malformed(f"Unexpected token {token.text}")

    def path(self) -> Path:
        elements: list[str | int] = [self.name()]
        while True:
            if self.op("."):
                elements.append(self.name())
            elif self.op("["):
                token = self.next()
                if token.kind != "number" or not token.text.isdigit():
                    raise _malformed("List index must be a number")
                elements.append(int(token.text))
                self.expect_op("]")
            else:
                return Path(tuple(elements))

    def value(self) -> AttributeValue:
        token = self.next()
        if token.kind == "string":
            return {"S": token.text[1:-1].replace("''", "'")}
        if token.kind == "number":
            return normalize_value({"N": token.text})
        if token.kind == "op" and token.text == "?":
            if self.used >= len(self.parameters):
                raise validation("Number of parameters in request and statement don't match.")
            self.used += 1
            return normalize_value(self.parameters[self.used - 1])
        if token.kind == "word" and token.text.upper() in ("TRUE", "FALSE"):
            return {"BOOL": token.text.upper() == "TRUE"}
        if token.kind == "word" and token.text.upper() == "NULL":
            return {"NULL": True}
        if token.kind == "op" and token.text == "{":
            members: dict[str, AttributeValue] = {}
            while not self.op("}"):
                if members:
                    self.expect_op(",")
                key = self.next()
                if key.kind not in ("string", "quoted"):
                    raise _malformed("Map keys must be strings")
                self.expect_op(":")
                members[key.text[1:-1]] = self.value()
            return {"M": members}
        if token.kind == "op" and token.text == "[":
            elements: list[AttributeValue] = []
            while not self.op("]"):
                if elements:
                    self.expect_op(",")
                elements.append(self.value())
            return {"L": elements}
        if token.kind == "op" and token.text == "<<":
            bag: list[AttributeValue] = []
            while not self.op(">>"):
                if bag:
                    self.expect_op(",")
                bag.append(self.value())
            kinds = {next(iter(v)) for v in bag}
            if len(kinds) != 1 or kinds - {"S", "N", "B"}:
                raise _malformed("A set must hold strings, numbers or binaries of one type")
            kind = kinds.pop()
            return normalize_value({kind + "S": [v[kind] for v in bag]})
        raise _malformed(f"Unexpected token {token.text}")

    def operand(self) -> Path | Literal:
        token = self.peek()
        if token is not None and (token.kind in ("word", "quoted")) and token.text.upper() not in (
            "TRUE", "FALSE", "NULL"
        ):  # fmt: skip
            return self.path()
        return Literal(self.value())

    # -- conditions ----------------------------------------------------------------------------

    def condition(self) -> Condition:
        left = self.conjunction()
        while self.keyword("OR"):
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.keyword("AND"):
            left = And(left, self.negation())
        return left

    def negation(self) -> Condition:
        if self.keyword("NOT"):
            return Not(self.negation())
        return self.primary()

    def primary(self) -> Condition:
        if self.op("("):
            inner = self.condition()
            self.expect_op(")")
            return inner
        token = self.peek()
        following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
        if (
            token is not None
            and token.kind == "word"
            and token.text.lower() in _FUNCTIONS
            and following is not None
            and following.text == "("
        ):
            name = self.next().text.lower()
            self.expect_op("(")
            args: list[Path | Literal] = [self.operand()]
            while self.op(","):
                args.append(self.operand())
            self.expect_op(")")
            if len(args) != _FUNCTIONS[name] or not isinstance(args[0], Path):
                raise _malformed(f"Wrong arguments for function {name}")
            return Function(name, tuple(args))
        left = self.operand()
        if self.keyword("IS"):
            negated = self.keyword("NOT")
            if not isinstance(left, Path):
                raise _malformed("IS needs an attribute")
            if self.keyword("MISSING"):
                check: Condition = Function("attribute_not_exists", (left,))
            elif self.keyword("NULL"):
                check = Function("attribute_type", (left, Literal({"S": "NULL"})))
            else:
                raise _malformed("Expected MISSING or NULL after IS")
            return Not(check) if negated else check
        if self.keyword("BETWEEN"):
            low = self.operand()
            self.expect_keyword("AND")
            return Between(left, low, self.operand())
        if self.keyword("IN"):
            closing = "]" if self.op("[") else (")" if self.op("(") else None)
            if closing is None:
                raise _malformed("Expected a list after IN")
            choices = [self.operand()]
            while self.op(","):
                choices.append(self.operand())
            self.expect_op(closing)
            return In(left, tuple(choices))
        token = self.next()
        if token.kind != "op" or token.text not in ("=", "<>", "!=", "<", "<=", ">", ">="):
            raise _malformed(f"Unexpected token {token.text}")
        op = "<>" if token.text == "!=" else token.text
        return Compare(op, left, self.operand())

    # -- statements ----------------------------------------------------------------------------

    def statement(self) -> Statement:
        if self.keyword("SELECT"):
            projection: list[Path] | None = None
            if not self.op("*"):
                projection = [self.path()]
                while self.op(","):
                    projection.append(self.path())
            self.expect_keyword("FROM")
            table = self.name()
            index = self.name() if self.op(".") else None
            where = self.condition() if self.keyword("WHERE") else None
            found = Statement("SELECT", table, index, projection, where)
        elif self.keyword("INSERT"):
            self.expect_keyword("INTO")
            table = self.name()
            self.expect_keyword("VALUE")
            item = self.value()
            if "M" not in item:
                raise _malformed("INSERT needs a map of attributes")
            found = Statement("INSERT", table, item=item["M"])
        elif self.keyword("UPDATE"):
            found = Statement("UPDATE", self.name())
            while True:
                if self.keyword("SET"):
                    while True:
                        target = self.path()
                        self.expect_op("=")
                        found.sets.append((target, self.value()))
                        if not self.op(","):
                            break
                elif self.keyword("REMOVE"):
                    found.removes.append(self.path())
                    while self.op(","):
                        found.removes.append(self.path())
                else:
                    break
            if not found.sets and not found.removes:
                raise _malformed("UPDATE needs SET or REMOVE")
            self.expect_keyword("WHERE")
            found.where = self.condition()
        elif self.keyword("DELETE"):
            self.expect_keyword("FROM")
            found = Statement("DELETE", self.name())
            self.expect_keyword("WHERE")
            found.where = self.condition()
        else:
            token = self.peek()
            raise _malformed(f"Unexpected keyword {token.text if token else ''}".strip())
        if self.peek() is not None:
            raise _malformed(f"Unexpected token {self.next().text}")
        if self.used != len(self.parameters):
            raise validation("Number of parameters in request and statement don't match.")
        return found


def parse(text: str, parameters: list[AttributeValue] | None = None) -> Statement:
    return _Parser(text, list(parameters or ())).statement()
