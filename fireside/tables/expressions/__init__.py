"""DynamoDB's expression languages: condition/filter/key-condition, update, projection.

condition = parse_condition("attribute_not_exists(#k) OR #v < :max")   # cached by text
binder = Binder(names, values)                                       # one per request
bound = binder.condition(condition)
matches(bound, item)
"""

from fireside.tables.expressions.ast import Literal
from fireside.tables.expressions.evaluate import Binder, matches, project, resolve
from fireside.tables.expressions.parser import (
    ExpressionError,
    parse_condition,
    parse_projection,
    parse_update,
)
from fireside.tables.expressions.update import apply_update, updated_paths

__all__ = [
    "Binder",
    "ExpressionError",
    "Literal",
    "apply_update",
    "matches",
    "parse_condition",
    "parse_projection",
    "parse_update",
    "project",
    "resolve",
    "updated_paths",
]
