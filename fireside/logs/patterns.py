"""CloudWatch Logs filter patterns (FilterLogEvents' `filterPattern`, Live Tail's
`logEventFilterPattern`), compiled once into a predicate over an event's message.

Supported, as AWS's "Filter pattern syntax" describes them:

- terms: `ERROR Exception` (every term, case-sensitive, anywhere in the message);
  `"quoted phrases"`; `?ERROR ?WARN` (any of the `?` terms); `-DEBUG` or `-"a phrase"`
  (excluded); a lone `""` matches everything;
- regular expressions between `%`: `%ERROR|WARN%`;
- JSON patterns on messages that are JSON objects: `{ $.level = "ERROR" }`, `!=`, numeric
  `< <= > >= = !=`, `*` wildcards in strings, `IS NULL`, `NOT EXISTS`, `IS TRUE/FALSE`,
  joined by `&&` / `||` with parentheses.

- space-delimited patterns over messages cut at spaces (a `"quoted"` or `[bracketed]` run is
  one field): `[ip, user, ..., status = 4*, size > 1000]`, each field named, or compared with
  `= != < <= > >=` (numbers; strings with `*` wildcards), `...` standing for any fields.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

from fireside.aws.errors import ModelledErrors, ServiceError

__all__ = ["MAX_PATTERN", "compile_pattern", "required_terms"]

error = ModelledErrors("logs")
MAX_PATTERN = 1024
Predicate = Callable[[str], bool]

_TOKEN = re.compile(r'\s*(-?\?"(?:[^"\\]|\\.)*"|-?"(?:[^"\\]|\\.)*"|\S+)')


def _invalid(detail: str) -> ServiceError:
    return error("InvalidParameterException", f"Invalid filter pattern: {detail}")


def compile_pattern(pattern: str | None) -> Predicate:
    """A predicate for `pattern`; an empty or absent pattern matches everything."""
    text = (pattern or "").strip()
    if len(text) > MAX_PATTERN:
        raise _invalid(f"a filter pattern is at most {MAX_PATTERN} characters")
    if not text or text == '""':
        return lambda message: True
    if text.startswith("{"):
        return _json_pattern(text)
    if text.startswith("["):
        return _space_delimited(text)
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        try:
            regex = re.compile(text[1:-1])
        except re.error as exc:
            raise _invalid(f"bad regular expression: {exc}") from None
        return lambda message: regex.search(message) is not None
    return _terms(text)


def required_terms(pattern: str | None) -> list[str]:
    """Terms every match contains as they are (for a quick pass over raw lines)."""
    text = (pattern or "").strip()
    if not text or text[0] in "{[%" or text == '""':
        return []
    return _parse_terms(text)[0]


def _parse_terms(text: str) -> tuple[list[str], list[str], list[str]]:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match[1]
        negate = token.startswith("-") and len(token) > 1
        if negate:
            token = token[1:]
        either = token.startswith("?") and len(token) > 1
        if either:
            token = token[1:]
        if token.startswith('"') and token.endswith('"') and len(token) >= 2:
            token = token[1:-1].replace('\\"', '"')
        if not token:
            continue
        (excluded if negate else optional if either else required).append(token)
    return required, optional, excluded


def _terms(text: str) -> Predicate:
    required, optional, excluded = _parse_terms(text)

    def matches(message: str) -> bool:
        if any(term in message for term in excluded):
            return False
        if optional and not any(term in message for term in optional):
            return False
        return all(term in message for term in required)

    return matches


# -- space-delimited patterns ---------------------------------------------------------------

_FIELD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:(!=|<=|>=|=|<|>)\s*(.+?))?\s*$")
_MESSAGE_FIELD = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')
_ELLIPSIS = "..."
FieldTest = Callable[[str], bool] | None


def _space_delimited(text: str) -> Predicate:
    if not text.endswith("]"):
        raise _invalid("a space-delimited pattern is enclosed in [ ]")
    tests: list[FieldTest | str] = []
    for part in text[1:-1].split(","):
        part = part.strip()
        if part == _ELLIPSIS:
            tests.append(_ELLIPSIS)
            continue
        match = _FIELD.match(part)
        if match is None:
            raise _invalid(f"bad field {part!r}")
        if match[2] is None:
            tests.append(None)
            continue
        tests.append(_field_test(match[2], match[3]))

    def matches(message: str) -> bool:
        fields = [f[1:-1] if f[0] in '"[' else f for f in _MESSAGE_FIELD.findall(message)]
        return _match_fields(tests, fields)

    return matches


def _field_test(op: str, operand: str) -> Callable[[str], bool]:
    if len(operand) >= 2 and operand[0] == operand[-1] == '"':
        operand = operand[1:-1]
    if _is_number(operand):
        number = float(operand)
        compare = _NUMBER_COMPARISONS[op]

        def numeric(value: str) -> bool:
            return _is_number(value) and compare(float(value), number)

        return numeric
    if op not in ("=", "!="):
        raise _invalid(f"{op} compares numbers only")
    equal = op == "="
    return lambda value: fnmatch.fnmatchcase(value, operand) == equal


def _match_fields(tests: list[FieldTest | str], fields: list[str]) -> bool:
    """Whether the fields match the tests in order, `...` taking any number of fields: the
    set of places reachable after each test (linear in tests x fields, however many `...`)."""
    count = len(fields)
    places = {0}
    for test in tests:
        if test == _ELLIPSIS:
            places = set(range(min(places), count + 1))
            continue
        places = {
            place + 1
            for place in places
            if place < count and (not callable(test) or test(fields[place]))
        }
        if not places:
            return False
    return count in places


# -- JSON patterns ---------------------------------------------------------------------------

_JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<selector>\$(?:\.[A-Za-z0-9_\-@$]+|\[\d+\])*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<word>[^\s()&|=!<>"]+)
    )""",
    re.VERBOSE,
)
_MISSING = object()


def _json_pattern(text: str) -> Predicate:
    if not text.endswith("}"):
        raise _invalid("a JSON pattern is enclosed in { }")
    tokens: list[tuple[str, str]] = []
    body = text[1:-1]
    position = 0
    while position < len(body):
        if body[position:].strip() == "":
            break
        match = _JSON_TOKEN.match(body, position)
        if match is None or match.end() == position:
            raise _invalid(f"unexpected text at {body[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match[kind]))
        position = match.end()
    parser = _JsonParser(tokens)
    test = parser.expression()
    if parser.index != len(tokens):
        raise _invalid(f"unexpected {tokens[parser.index][1]!r}")

    def matches(message: str) -> bool:
        stripped = message.lstrip()
        if not stripped.startswith("{"):
            return False
        try:
            document = json.loads(stripped)
        except ValueError:
            return False
        return test(document)

    return matches


class _JsonParser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.index = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise _invalid("the JSON pattern ends too early")
        self.index += 1
        return token

    def expression(self) -> Callable[[Any], bool]:
        left = self._conjunction()
        while self._peek() == ("op", "||"):
            self.index += 1
            right = self._conjunction()
            left = (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def _conjunction(self) -> Callable[[Any], bool]:
        left = self._atom()
        while self._peek() == ("op", "&&"):
            self.index += 1
            right = self._atom()
            left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right)
        return left

    def _atom(self) -> Callable[[Any], bool]:
        kind, value = self._take()
        if (kind, value) == ("op", "("):
            inner = self.expression()
            if self._take() != ("op", ")"):
                raise _invalid("unbalanced parentheses")
            return inner
        if kind != "selector":
            raise _invalid(f"expected a selector such as $.field, found {value!r}")
        path = _path(value)
        op_kind, op = self._take()
        if op_kind == "word" and op.upper() in ("IS", "NOT"):
            return self._keyword(path, op.upper())
        if op_kind != "op" or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise _invalid(f"expected a comparison after {value}, found {op!r}")
        operand_kind, operand = self._take()
        return _comparison(path, op, operand_kind, operand)

    def _keyword(self, path: list[str | int], first: str) -> Callable[[Any], bool]:
        _, word = self._take()
        word = word.upper()
        if first == "NOT" and word == "EXISTS":
            return lambda doc: _lookup(doc, path) is _MISSING
        if first == "IS" and word == "NULL":
            return lambda doc: _lookup(doc, path) is None
        if first == "IS" and word in ("TRUE", "FALSE"):
            wanted = word == "TRUE"
            return lambda doc: _lookup(doc, path) is wanted
        raise _invalid(f"unknown keyword {first} {word}")


def _path(selector: str) -> list[str | int]:
    parts: list[str | int] = []
    for match in re.finditer(r"\.([^.\[]+)|\[(\d+)\]", selector[1:]):
        parts.append(match[1] if match[1] is not None else int(match[2]))
    return parts


def _lookup(document: Any, path: list[str | int]) -> Any:
    current = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                return _MISSING
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return _MISSING
            current = current[part]
    return current


def _comparison(path: list[str | int], op: str, kind: str, operand: str) -> Callable[[Any], bool]:
    if kind == "string" or (kind == "word" and not _is_number(operand)):
        if op not in ("=", "!="):
            raise _invalid(f"{op} compares numbers only")
        text = json.loads(operand) if kind == "string" else operand
        wildcard = "*" in text
        equal = op == "="

        def strings(doc: Any) -> bool:
            value = _lookup(doc, path)
            if value is _MISSING or isinstance(value, dict | list):
                return False
            shown = value if isinstance(value, str) else json.dumps(value)
            same = fnmatch.fnmatchcase(shown, text) if wildcard else shown == text
            return same == equal

        return strings
    if kind != "word":
        raise _invalid(f"expected a value after {op}, found {operand!r}")
    number = float(operand)
    compare = _NUMBER_COMPARISONS[op]

    def numbers(doc: Any) -> bool:
        value = _lookup(doc, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return compare(float(value), number)

    return numbers


_NUMBER_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
