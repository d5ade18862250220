"""What the API Gateway (v1) control plane's modules share: the error factory, AWS's
not-found and bad-request errors, `position`/`limit` paging, and records' public views."""

from __future__ import annotations

from typing import Any

from fireside.aws.errors import ModelledErrors, ServiceError

__all__ = ["apigateway_error", "bad_request", "not_found", "page", "public"]

apigateway_error = ModelledErrors("apigateway")


def public(record: dict[str, Any]) -> dict[str, Any]:
    """`record` without Fireside's own members (those named `_...`)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def not_found(what: str) -> ServiceError:
    return apigateway_error("NotFoundException", f"Invalid {what} identifier specified")


def bad_request(message: str) -> ServiceError:
    return apigateway_error("BadRequestException", message)


def page(items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A page of `items` as API Gateway's `position`/`limit` pagination gives it."""
    start = int(params["position"]) if str(params.get("position", "")).isdigit() else 0
    limit = params.get("limit") or 500
    page: dict[str, Any] = {"items": items[start : start + limit]}
    if start + limit < len(items):
        page["position"] = str(start + limit)
    return page
