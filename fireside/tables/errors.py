"""DynamoDB's errors, with the codes, statuses and wording DynamoDB uses.

Every error a table operation raises is a `ServiceError` (see `fireside.aws.errors`); these
helpers keep the recurring messages in one place so their exact text is written once.
"""

from __future__ import annotations

from typing import Any

from fireside.aws.errors import ModelledErrors, ServiceError

#: Errors the model declares, with its status and fault.
dynamodb_error = ModelledErrors("dynamodb")
streams_error = ModelledErrors("dynamodbstreams")


__all__ = [
    "INVALID",
    "conditional_check_failed",
    "in_use",
    "limit_exceeded",
    "not_found",
    "table_not_found",
    "validation",
]

#: The prefix of DynamoDB's item-level validation messages.
INVALID = "One or more parameter values were invalid: "


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def not_found(message: str = "Requested resource not found") -> ServiceError:
    return dynamodb_error("ResourceNotFoundException", message)


def table_not_found(name: str) -> ServiceError:
    """What control-plane operations say about a missing table."""
    return not_found(f"Requested resource not found: Table: {name} not found")


def in_use(message: str) -> ServiceError:
    return dynamodb_error("ResourceInUseException", message)


def limit_exceeded(message: str) -> ServiceError:
    return dynamodb_error("LimitExceededException", message)


def conditional_check_failed(item: dict[str, Any] | None = None) -> ServiceError:
    """A failed ConditionExpression; `item` is the old item (ReturnValuesOnConditionCheckFailure)."""
    if item is None:
        return dynamodb_error("ConditionalCheckFailedException", "The conditional request failed")
    return dynamodb_error(
        "ConditionalCheckFailedException", "The conditional request failed", Item=item
    )
