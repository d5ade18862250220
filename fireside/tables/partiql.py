"""PartiQL for DynamoDB: ExecuteStatement, BatchExecuteStatement, ExecuteTransaction.

Statements are parsed by `partiql_parse.py` (the grammar is there) and compiled into the
ordinary API calls (Scan or GetItem for SELECT, PutItem for INSERT, UpdateItem for UPDATE,
DeleteItem for DELETE, TransactWriteItems / TransactGetItems for a transaction), with
`#name`/`:value` placeholders, so PartiQL shares every rule and error of the operations it
stands for.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.tables import itemops, reads, transact
from fireside.tables.errors import dynamodb_error, not_found, validation
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
from fireside.tables.partiql_parse import Statement, parse
from fireside.tables.service import Tables
from fireside.tables.values import AttributeValue

__all__ = ["OPERATIONS"]


class _Renderer:
    """Turns bound conditions back into expression text with placeholders."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}

    def name(self, name: str) -> str:
        for placeholder, known in self.names.items():
            if known == name:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = name
        return placeholder

    def path(self, path: Path) -> str:
        out = ""
        for element in path.elements:
            if isinstance(element, int):
                out += f"[{element}]"
            else:
                out += ("." if out else "") + self.name(element)
        return out

    def operand(self, operand: Any) -> str:
        if isinstance(operand, Path):
            return self.path(operand)
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = operand.value
        return placeholder

    def condition(self, condition: Condition) -> str:
        if isinstance(condition, And):
            return f"({self.condition(condition.left)}) AND ({self.condition(condition.right)})"
        if isinstance(condition, Or):
            return f"({self.condition(condition.left)}) OR ({self.condition(condition.right)})"
        if isinstance(condition, Not):
            return f"NOT ({self.condition(condition.operand)})"
        if isinstance(condition, Compare):
            return f"{self.operand(condition.left)} {condition.op} {self.operand(condition.right)}"
        if isinstance(condition, Between):
            return (
                f"{self.operand(condition.operand)} BETWEEN {self.operand(condition.low)} AND "
                f"{self.operand(condition.high)}"
            )
        if isinstance(condition, In):
            choices = ", ".join(self.operand(c) for c in condition.choices)
            return f"{self.operand(condition.operand)} IN ({choices})"
        assert isinstance(condition, Function)
        return f"{condition.name}({', '.join(self.operand(a) for a in condition.args)})"

    def attach(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.names:
            params["ExpressionAttributeNames"] = self.names
        if self.values:
            params["ExpressionAttributeValues"] = self.values
        return params


def _conjuncts(condition: Condition | None) -> list[Condition]:
    if condition is None:
        return []
    if isinstance(condition, And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


def _key_and_rest(
    statement: Statement, key_names: tuple[str, ...]
) -> tuple[dict[str, AttributeValue] | None, list[Condition]]:
    """The full primary key pinned by the WHERE clause's equalities, and the other conditions."""
    key: dict[str, AttributeValue] = {}
    rest: list[Condition] = []
    for part in _conjuncts(statement.where):
        if (
            isinstance(part, Compare)
            and part.op == "="
            and isinstance(part.left, Path)
            and isinstance(part.right, Literal)
            and len(part.left.elements) == 1
            and part.left.elements[0] in key_names
            and part.left.elements[0] not in key
        ):
            key[str(part.left.elements[0])] = part.right.value
        else:
            rest.append(part)
    return (key if len(key) == len(key_names) else None), rest


def _combine(parts: list[Condition]) -> Condition | None:
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = And(combined, part)
    return combined


def _token(start: Mapping[str, Any]) -> str:
    def encode(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"$b": base64.b64encode(value).decode()}
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    return base64.urlsafe_b64encode(json.dumps(encode(start)).encode()).decode()


def _untoken(token: str) -> dict[str, Any]:
    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"$b"}:
                return base64.b64decode(value["$b"])
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    try:
        decoded: dict[str, Any] = decode(json.loads(base64.urlsafe_b64decode(token.encode())))
    except ValueError:
        raise validation("Invalid NextToken") from None
    return decoded


class _Compiled:
    """One statement as the API call it stands for."""

    def __init__(self, tables: Tables, ctx: RequestContext, statement: Statement) -> None:
        self.statement = statement
        table = tables.catalog.get(ctx.account_id, ctx.region, statement.table)
        if table is None:
            raise not_found()
        if statement.index is not None and statement.index not in table.indexes:
            raise validation("The table does not have the specified index")
        self.table = table
        self.key, self.rest = _key_and_rest(statement, table.key.names)

    def select_params(self, limit: int | None, next_token: str | None) -> dict[str, Any]:
        statement = self.statement
        renderer = _Renderer()
        params: dict[str, Any] = {"TableName": self.table.name}
        if statement.index is not None:
            params["IndexName"] = statement.index
        if statement.where is not None:
            params["FilterExpression"] = renderer.condition(statement.where)
        if statement.projection is not None:
            params["ProjectionExpression"] = ", ".join(
                renderer.path(p) for p in statement.projection
            )
        if limit is not None:
            params["Limit"] = limit
        if next_token is not None:
            params["ExclusiveStartKey"] = _untoken(next_token)
        return renderer.attach(params)

    def get_params(self) -> dict[str, Any]:
        renderer = _Renderer()
        params: dict[str, Any] = {"TableName": self.table.name, "Key": self.key}
        if self.statement.projection is not None:
            params["ProjectionExpression"] = ", ".join(
                renderer.path(p) for p in self.statement.projection
            )
        return renderer.attach(params)

    def write_params(self) -> tuple[str, dict[str, Any]]:
        """(operation, params) of an INSERT, UPDATE or DELETE."""
        statement = self.statement
        renderer = _Renderer()
        name = self.table.name
        if statement.kind == "INSERT":
            assert statement.item is not None
            hash_name = renderer.name(self.table.key.hash_name)
            params = {
                "TableName": name,
                "Item": statement.item,
                "ConditionExpression": f"attribute_not_exists({hash_name})",
            }
            return "PutItem", renderer.attach(params)
        if self.key is None:
            raise validation(
                "Where clause does not contain a mandatory equality on all key attributes"
            )
        condition = _combine(self.rest)
        if statement.kind == "UPDATE":
            clauses = []
            if statement.sets:
                sets = [
                    f"{renderer.path(p)} = {renderer.operand(Literal(v))}"
                    for p, v in statement.sets
                ]
                clauses.append("SET " + ", ".join(sets))
            if statement.removes:
                clauses.append("REMOVE " + ", ".join(renderer.path(p) for p in statement.removes))
            must_exist = f"attribute_exists({renderer.name(self.table.key.hash_name)})"
            rendered = must_exist if condition is None else (
                f"{must_exist} AND ({renderer.condition(condition)})"
            )  # fmt: skip
            params = {
                "TableName": name,
                "Key": self.key,
                "UpdateExpression": " ".join(clauses),
                "ConditionExpression": rendered,
            }
            return "UpdateItem", renderer.attach(params)
        params = {"TableName": name, "Key": self.key}
        if condition is not None:
            params["ConditionExpression"] = renderer.condition(condition)
        return "DeleteItem", renderer.attach(params)


_WRITES = {
    "PutItem": itemops.put_item,
    "UpdateItem": itemops.update_item,
    "DeleteItem": itemops.delete_item,
}


async def _write(tables: Tables, ctx: RequestContext, compiled: _Compiled) -> None:
    operation, params = compiled.write_params()
    try:
        await _WRITES[operation](tables, ctx, params)
    except ServiceError as exc:
        if exc.code == "ConditionalCheckFailedException" and operation == "PutItem":
            raise dynamodb_error(
                "DuplicateItemException", "Duplicate primary key exists in table"
            ) from None
        raise


async def execute_statement(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    statement = parse(params["Statement"], params.get("Parameters"))
    compiled = _Compiled(tables, ctx, statement)
    if statement.kind != "SELECT":
        await _write(tables, ctx, compiled)
        return {"Items": []}
    if (
        compiled.key is not None
        and not compiled.rest
        and statement.index is None
        and params.get("NextToken") is None
    ):
        # The whole primary key is pinned: one GetItem instead of a Scan.
        found = await itemops.get_item(tables, ctx, compiled.get_params())
        return {"Items": [found["Item"]] if "Item" in found else []}
    scan = compiled.select_params(params.get("Limit"), params.get("NextToken"))
    if params.get("ConsistentRead"):
        scan["ConsistentRead"] = True
    page = await reads.scan(tables, ctx, scan)
    out: dict[str, Any] = {"Items": page.get("Items", [])}
    if "LastEvaluatedKey" in page:
        out["NextToken"] = _token(page["LastEvaluatedKey"])
        out["LastEvaluatedKey"] = page["LastEvaluatedKey"]
    return out


_BATCH_CODES = {
    "ConditionalCheckFailedException": "ConditionalCheckFailed",
    "ResourceNotFoundException": "ResourceNotFound",
    "ValidationException": "ValidationError",
    "DuplicateItemException": "DuplicateItem",
    "TransactionConflictException": "TransactionConflict",
}


async def batch_execute_statement(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    responses: list[dict[str, Any]] = []
    for request in params["Statements"]:
        response: dict[str, Any] = {}
        try:
            statement = parse(request["Statement"], request.get("Parameters"))
            compiled = _Compiled(tables, ctx, statement)
            response["TableName"] = compiled.table.name
            if statement.kind == "SELECT":
                if compiled.key is None or compiled.rest or statement.index is not None:
                    raise validation(
                        "Select statements within BatchExecuteStatement must specify the "
                        "primary key in the where clause."
                    )
                found = await itemops.get_item(tables, ctx, compiled.get_params())
                if "Item" in found:
                    response["Item"] = found["Item"]
            else:
                await _write(tables, ctx, compiled)
        except ServiceError as exc:
            response["Error"] = {
                "Code": _BATCH_CODES.get(exc.code, exc.code),
                "Message": exc.message,
            }
        responses.append(response)
    return {"Responses": responses}


async def execute_transaction(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    compiled = [
        _Compiled(tables, ctx, parse(s["Statement"], s.get("Parameters")))
        for s in params["TransactStatements"]
    ]
    kinds = {c.statement.kind == "SELECT" for c in compiled}
    if len(kinds) != 1:
        raise validation("Transactions must contain only reads or only writes")
    if kinds.pop():
        gets = []
        for each in compiled:
            if each.key is None or each.rest or each.statement.index is not None:
                raise validation(
                    "Select statements within ExecuteTransaction must specify the primary key "
                    "in the where clause."
                )
            gets.append({"Get": each.get_params()})
        result = await transact.transact_get_items(tables, ctx, {"TransactItems": gets})
        return {"Responses": result["Responses"]}
    items = []
    for each in compiled:
        operation, call = each.write_params()
        kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
        items.append({kind: call})
    request: dict[str, Any] = {"TransactItems": items}
    if params.get("ClientRequestToken"):
        request["ClientRequestToken"] = params["ClientRequestToken"]
    await transact.transact_write_items(tables, ctx, request)
    return {"Responses": [{} for _ in compiled]}


OPERATIONS = {
    "ExecuteStatement": execute_statement,
    "BatchExecuteStatement": batch_execute_statement,
    "ExecuteTransaction": execute_transaction,
}
