"""Recursive-descent parsers for DynamoDB's expression languages.

    condition  := or ;  or := and (OR and)* ;  and := not (AND not)* ;  not := NOT not | primary
    primary    := '(' condition ')' | function | operand comparator operand
                | operand BETWEEN operand AND operand | operand IN '(' operand (',' operand)* ')'
    operand    := path | :value | size(path)
    path       := name ('.' name | '[' digits ']')*          name := identifier | #placeholder
    update     := (SET set (',' set)* | REMOVE path (',' path)* | ADD path :v (',' ...)*
                  | DELETE path :v (',' ...)*)+               each clause at most once
    set        := path '=' value ;  value := term (('+' | '-') term)?
    term       := operand | if_not_exists(path, value) | list_append(value, value)
    projection := path (',' path)*

Keywords are case-insensitive, function names are not (as in DynamoDB). Errors carry
DynamoDB's wording without the `Invalid <Kind>Expression: ` prefix, which the caller adds.
Parses are cached by expression text.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import NamedTuple

from fireside.tables.expressions.ast import (
    And,
    Arithmetic,
    Between,
    Compare,
    Condition,
    Function,
    In,
    Not,
    Operand,
    Or,
    Path,
    Projection,
    SetValue,
    Update,
    UpdateAction,
    Value,
)
from fireside.tables.expressions.reserved import RESERVED_WORDS

__all__ = ["ExpressionError", "parse_condition", "parse_projection", "parse_update"]

CONDITION_FUNCTIONS = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
)
OPERAND_FUNCTIONS = frozenset({"size"})
UPDATE_FUNCTIONS = frozenset({"if_not_exists", "list_append"})
_ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
    "if_not_exists": 2,
    "list_append": 2,
}
_COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})
_CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")
_MAX_IN = 100
_MAX_LENGTH = 4096
#: DynamoDB's limits on operators (and, in updates, functions) per expression and on the
#: elements of one document path. The operator limit also bounds how deep the grammar recurses.
_MAX_OPERATORS = 300
_MAX_PATH_DEPTH = 32
_PATH_FUNCTIONS = frozenset({"attribute_exists", "attribute_not_exists", "size"})
#: Deeper than this, nested parentheses cannot be valid (each level needs an operator or is
#: redundant); the parse stops there instead of recursing through the rest of 4 KB of "(".
_MAX_GROUPS = _MAX_OPERATORS
# A valid expression nests at most ~300 groups of 4 parser frames each, beyond Python's default
# limit of 1,000 frames. Since 3.11, Python-to-Python calls do not grow the C stack, so a higher
# limit costs nothing until used.
if sys.getrecursionlimit() < 5000:
    sys.setrecursionlimit(5000)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<name>[A-Za-z0-9_]+)
  | (?P<nameref>\#[A-Za-z0-9_]+)
  | (?P<valueref>:[A-Za-z0-9_]+)
  | (?P<op><>|<=|>=|[=<>(),.\[\]+\-])
    """,
    re.VERBOSE,
)


class ExpressionError(Exception):
    """An expression DynamoDB would reject; `detail` is its message after the prefix."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Token(NamedTuple):
    kind: str  # name, nameref, valueref, op, eof
    text: str
    start: int
    end: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    length = len(source)
    while position < length:
        match = _TOKEN.match(source, position)
        if match is None:
            raise ExpressionError(f'Invalid character encountered; character: "{source[position]}"')
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", length, length))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        if len(source) > _MAX_LENGTH:
            raise ExpressionError(
                "Expression size has exceeded the maximum allowed size; expression size: "
                f"{len(source)}"
            )
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0
        self.operators = 0
        self.groups = 0
        # Each `(` to its matching `)`, found once (deep nesting must not cost a scan per level).
        self.matching: dict[int, int] = {}
        opened: list[int] = []
        for position, token in enumerate(self.tokens):
            if token.kind == "op" and token.text == "(":
                opened.append(position)
            elif token.kind == "op" and token.text == ")" and opened:
                self.matching[opened.pop()] = position

    # -- token helpers -------------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def at_op(self, text: str) -> bool:
        token = self.token
        return token.kind == "op" and token.text == text

    def count_operator(self) -> None:
        """DynamoDB stops at the first operator over its limit and reports that count."""
        self.operators += 1
        if self.operators > _MAX_OPERATORS:
            raise ExpressionError(
                f"The expression contains too many operators; operator count: {self.operators}"
            )

    def at_keyword(self, word: str) -> bool:
        token = self.token
        return token.kind == "name" and token.text.upper() == word

    def expect_op(self, text: str) -> None:
        if not self.at_op(text):
            raise self.syntax_error()
        self.advance()

    def syntax_error(self, token: Token | None = None) -> ExpressionError:
        token = token or self.token
        position = self.tokens.index(token)
        before = self.tokens[position - 1] if position > 0 else token
        after = self.tokens[min(position + 1, len(self.tokens) - 1)]
        near = self.source[before.start : after.end]
        return ExpressionError(f'Syntax error; token: "{token.text}", near: "{near}"')

    def finish(self) -> None:
        if self.token.kind != "eof":
            raise self.syntax_error()

    # -- paths and operands --------------------------------------------------------------------

    def name(self) -> str:
        token = self.token
        if token.kind == "nameref":
            self.advance()
            return token.text
        if token.kind != "name":
            raise self.syntax_error()
        if token.text[0].isdigit():
            raise self.syntax_error()
        if token.text.upper() in RESERVED_WORDS:
            raise ExpressionError(
                f"Attribute name is a reserved keyword; reserved keyword: {token.text}"
            )
        self.advance()
        return token.text

    def path(self) -> Path:
        elements: list[str | int] = [self.name()]
        while True:
            if self.at_op("."):
                self.advance()
                elements.append(self.name())
            elif self.at_op("["):
                self.advance()
                token = self.token
                if token.kind != "name" or not token.text.isdigit():
                    raise self.syntax_error()
                self.advance()
                elements.append(int(token.text))
                self.expect_op("]")
            else:
                if len(elements) > _MAX_PATH_DEPTH:
                    raise ExpressionError(
                        "The document path has too many nesting levels; nesting levels: "
                        f"{len(elements)}"
                    )
                return Path(tuple(elements))

    def is_call(self) -> bool:
        return self.token.kind == "name" and self.peek().kind == "op" and self.peek().text == "("

    def call(self, allowed: frozenset[str], arguments: str) -> Function:
        """A function call; `arguments` says how its arguments parse ("operand" or "update")."""
        token = self.advance()
        name = token.text
        if name not in _ARITY:
            raise ExpressionError(f"Invalid function name; function: {name}")
        if name not in allowed:
            raise ExpressionError(
                f"The function is not allowed to be used this way in an expression; function: "
                f"{name}"
            )
        if arguments == "update":
            self.count_operator()
        self.expect_op("(")
        if name in _PATH_FUNCTIONS and self.is_call():
            # Said before parsing the argument, so size(size(size(...))) cannot nest deeply.
            raise ExpressionError(
                "Operator or function requires a document path; operator or function: " + name
            )
        args: list[Operand] = []
        while True:
            args.append(self.update_value() if arguments == "update" else self.operand())
            if self.at_op(","):
                self.advance()
                continue
            break
        self.expect_op(")")
        if len(args) != _ARITY[name]:
            raise ExpressionError(
                f"Incorrect number of operands for operator or function; operator or function: "
                f"{name}, number of operands: {len(args)}"
            )
        if name in ("attribute_exists", "attribute_not_exists", "size") and not isinstance(
            args[0], Path
        ):
            raise ExpressionError(
                "Operator or function requires a document path; operator or function: " + name
            )
        return Function(name, tuple(args))

    def operand(self) -> Operand:
        token = self.token
        if self.at_op("("):
            # A parenthesized operand; each level needs its closing `)`, so this nests only as
            # deep as the 4 KB limit allows.
            self.groups += 1
            if self.groups > _MAX_GROUPS:
                raise self.syntax_error(self.tokens[-1])
            self.advance()
            inner = self.operand()
            self.expect_op(")")
            self.groups -= 1
            return inner
        if token.kind == "valueref":
            self.advance()
            return Value(token.text)
        if self.is_call():
            return self.call(OPERAND_FUNCTIONS, "operand")
        if token.kind in ("name", "nameref"):
            return self.path()
        raise self.syntax_error()

    # -- conditions ----------------------------------------------------------------------------

    def condition(self) -> Condition:
        left = self.conjunction()
        while self.at_keyword("OR"):
            self.advance()
            self.count_operator()
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.at_keyword("AND"):
            self.advance()
            self.count_operator()
            left = And(left, self.negation())
        return left

    def negation(self) -> Condition:
        if self.at_keyword("NOT") and not (self.peek().kind == "op" and self.peek().text in "=<>"):
            self.advance()
            self.count_operator()
            return Not(self.negation())
        return self.primary()

    def _closing(self) -> int | None:
        """The index of the `)` matching the `(` at the current token, if any."""
        return self.matching.get(self.index)

    def _operand_group(self) -> bool:
        """Does the `(` here wrap an operand, as in `(size(a)) = :v`, rather than a condition?"""
        closing = self._closing()
        if closing is None:
            return False
        after = self.tokens[closing + 1]
        if after.kind == "op" and after.text in _COMPARATORS:
            return True
        return after.kind == "name" and after.text.upper() in ("BETWEEN", "IN")

    def primary(self) -> Condition:
        if self.at_op("(") and not self._operand_group():
            self.advance()
            if self.at_op("(") and self._wraps_whole_group():
                raise ExpressionError("The expression has redundant parentheses;")
            self.groups += 1
            if self.groups > _MAX_GROUPS:
                raise self.syntax_error(self.tokens[-1])
            inner = self.condition()
            self.expect_op(")")
            self.groups -= 1
            return inner
        if self.is_call() and self.token.text in CONDITION_FUNCTIONS:
            return self.call(CONDITION_FUNCTIONS, "operand")
        if self.is_call() and self.token.text not in _ARITY:
            raise ExpressionError(f"Invalid function name; function: {self.token.text}")
        left = self.operand()
        token = self.token
        if token.kind == "op" and token.text in _COMPARATORS:
            self.advance()
            self.count_operator()
            return Compare(token.text, left, self.operand())
        if self.at_keyword("BETWEEN"):
            self.advance()
            self.count_operator()
            low = self.operand()
            if not self.at_keyword("AND"):
                raise self.syntax_error()
            self.advance()
            return Between(left, low, self.operand())
        if self.at_keyword("IN"):
            self.advance()
            self.count_operator()
            self.expect_op("(")
            choices = [self.operand()]
            while self.at_op(","):
                self.advance()
                choices.append(self.operand())
            self.expect_op(")")
            if len(choices) > _MAX_IN:
                raise ExpressionError(
                    "The IN operator is provided with too many operands; number of operands: "
                    f"{len(choices)}"
                )
            return In(left, tuple(choices))
        if isinstance(left, Function):
            raise ExpressionError(
                f"The function is not allowed to be used this way in an expression; function: "
                f"{left.name}"
            )
        raise self.syntax_error()

    def _wraps_whole_group(self) -> bool:
        """After `(`, does another `(` open a group closed right before our `)`? ((a = b))"""
        inner = self.matching.get(self.index)
        if inner is None:
            return False
        following = self.tokens[inner + 1]
        return following.kind == "op" and following.text == ")"

    # -- updates -------------------------------------------------------------------------------

    def update(self) -> Update:
        seen: set[str] = set()
        clauses: dict[str, list[object]] = {clause: [] for clause in _CLAUSES}
        if self.token.kind == "eof":
            raise self.syntax_error()
        while self.token.kind != "eof":
            token = self.token
            clause = token.text.upper() if token.kind == "name" else ""
            if clause not in _CLAUSES:
                raise self.syntax_error()
            if clause in seen:
                raise ExpressionError(
                    f'The "{clause}" section can only be used once in an update expression;'
                )
            seen.add(clause)
            self.advance()
            while True:
                clauses[clause].append(self.update_action(clause))
                if not self.at_op(","):
                    break
                self.advance()
        return Update(
            sets=tuple(a for a in clauses["SET"] if isinstance(a, SetValue)),
            removes=tuple(a for a in clauses["REMOVE"] if isinstance(a, UpdateAction)),
            adds=tuple(a for a in clauses["ADD"] if isinstance(a, UpdateAction)),
            deletes=tuple(a for a in clauses["DELETE"] if isinstance(a, UpdateAction)),
        )

    def update_action(self, clause: str) -> SetValue | UpdateAction:
        path = self.path()
        if clause == "SET":
            self.expect_op("=")
            return SetValue(path, self.update_value())
        if clause == "REMOVE":
            return UpdateAction("REMOVE", path)
        token = self.token
        if token.kind != "valueref":
            raise self.syntax_error()
        self.advance()
        return UpdateAction(clause, path, Value(token.text))

    def update_value(self) -> Operand:
        left = self.update_term()
        if self.at_op("+") or self.at_op("-"):
            op = self.advance().text
            self.count_operator()
            return Arithmetic(op, left, self.update_term())
        return left

    def update_term(self) -> Operand:
        if self.at_op("("):
            self.groups += 1
            if self.groups > _MAX_GROUPS:
                raise self.syntax_error(self.tokens[-1])
            self.advance()
            inner = self.update_value()
            self.expect_op(")")
            self.groups -= 1
            return inner
        if self.is_call():
            name = self.token.text
            if name in CONDITION_FUNCTIONS or name == "size":
                raise ExpressionError(
                    "The function is not allowed in an update expression; function: " + name
                )
            return self.call(UPDATE_FUNCTIONS, "update")
        token = self.token
        if token.kind == "valueref":
            self.advance()
            return Value(token.text)
        if token.kind in ("name", "nameref"):
            return self.path()
        raise self.syntax_error()

    # -- projections ---------------------------------------------------------------------------

    def projection(self) -> Projection:
        paths = [self.projection_path()]
        while self.at_op(","):
            self.advance()
            paths.append(self.projection_path())
        self.finish()
        return Projection(tuple(paths))

    def projection_path(self) -> Path:
        token = self.token
        if token.kind == "name" and token.text[0].isdigit():
            raise ExpressionError("Attribute name starts with a number")
        path = self.path()
        if self.token.kind in ("name", "nameref"):
            raise ExpressionError("Attribute name contains white space")
        return path


def _empty(source: str) -> bool:
    return not source.strip()


@functools.lru_cache(maxsize=4096)
def parse_condition(source: str) -> Condition:
    """A ConditionExpression, FilterExpression or KeyConditionExpression."""
    if _empty(source):
        raise ExpressionError("The expression can not be empty;")
    parser = _Parser(source)
    condition = parser.condition()
    parser.finish()
    return condition


@functools.lru_cache(maxsize=4096)
def parse_update(source: str) -> Update:
    if _empty(source):
        raise ExpressionError("The expression can not be empty;")
    parser = _Parser(source)
    update = parser.update()
    parser.finish()
    return update


@functools.lru_cache(maxsize=4096)
def parse_projection(source: str) -> Projection:
    if _empty(source):
        raise ExpressionError("The expression can not be empty;")
    return _Parser(source).projection()
