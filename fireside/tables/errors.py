"""DynamoDB's errors, with the codes, statuses and wording DynamoDB uses.

Every error a table operation raises is a `ServiceError` (see `fireside.aws.errors`); these
helpers keep the recurring messages in one place so their exact text is written once.
"""

from __future__ import annotations

from typing import Any

from fireside.aws.errors import ServiceError

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
    return ServiceError("ResourceNotFoundException", message, 400)


def table_not_found(name: str) -> ServiceError:
    """What control-plane operations say about a missing table."""
    return not_found(f"Requested resource not found: Table: {name} not found")


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message, 400)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message, 400)


def conditional_check_failed(item: dict[str, Any] | None = None) -> ServiceError:
    """A failed ConditionExpression; `item` is the old item (ReturnValuesOnConditionCheckFailure)."""
    if item is None:
        return ServiceError("ConditionalCheckFailedException", "The conditional request failed")
    return ServiceError(
        "ConditionalCheckFailedException", "The conditional request failed", Item=item
    )
