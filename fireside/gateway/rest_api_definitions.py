"""The parts of a REST API that shape requests and errors rather than route them: models,
request validators and gateway responses; and the account's API Gateway settings.

Models and validators are stored and answered (Fireside does not validate requests against
them yet). Gateway responses are applied: a deployment snapshots them, and the front door
answers its own errors (`Missing Authentication Token`, `Forbidden`, 429s, 5xx...) with the
status, headers (`gatewayresponse.header.X`) and template a response type sets, falling back
to `DEFAULT_4XX` / `DEFAULT_5XX` (`gateway_response`).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors
from fireside.gateway.rest_api_patch import apply_patch
from fireside.gateway.rest_api_store import RestApiStore, new_id
from fireside.http.types import Response

if TYPE_CHECKING:
    from fireside.gateway.rest_api_provider import RestApiProvider

__all__ = ["DEFAULT_STATUS", "Definitions", "apply_gateway_response"]

apigateway_error = ModelledErrors("apigateway")
_ACCOUNT = "account"

#: Each gateway response type and the status AWS answers it with by default.
DEFAULT_STATUS: dict[str, int | None] = {
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "RESOURCE_NOT_FOUND": 404,
    "THROTTLED": 429,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "WAF_FILTERED": 403,
}
_DEFAULT_TEMPLATE = {"application/json": '{"message":$context.error.messageString}'}
_MODEL_PATCHABLE = frozenset({"description", "schema"})
_VALIDATOR_PATCHABLE = frozenset({"name", "validateRequestBody", "validateRequestParameters"})
_RESPONSE_PATCHABLE = frozenset({"statusCode", "responseParameters", "responseTemplates"})


def _default_response(kind: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "responseType": kind,
        "responseParameters": {},
        "responseTemplates": dict(_DEFAULT_TEMPLATE),
        "defaultResponse": True,
    }
    status = DEFAULT_STATUS[kind]
    if status is not None:
        response["statusCode"] = str(status)
    return response


def apply_gateway_response(
    responses: dict[str, dict[str, Any]], kind: str, response: Response, message: str
) -> Response:
    """`response` (a front-door error of type `kind`) as the API's gateway responses set it:
    the type's own, else DEFAULT_4XX or DEFAULT_5XX by status; unchanged when neither is set."""
    fallback = "DEFAULT_4XX" if response.status < 500 else "DEFAULT_5XX"
    chosen = responses.get(kind) or responses.get(fallback)
    if chosen is None:
        return response
    status = int(chosen.get("statusCode") or response.status)
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-type"]
    for name, value in (chosen.get("responseParameters") or {}).items():
        if name.startswith("gatewayresponse.header."):
            text = str(value)
            if len(text) >= 2 and text[0] == text[-1] == "'":
                headers.append((name[len("gatewayresponse.header.") :], text[1:-1]))
    templates = chosen.get("responseTemplates") or _DEFAULT_TEMPLATE
    content_type, template = next(iter(templates.items()))
    quoted = json.dumps(message)
    body = (
        template.replace("$context.error.messageString", quoted)
        .replace("${context.error.messageString}", quoted)
        .replace("$context.error.message", message)
        .replace("$context.error.responseType", kind)
    )
    return Response(status, [("Content-Type", content_type), *headers], body.encode())


class Definitions:
    """Operations on models, request validators, gateway responses and the account."""

    def __init__(self, provider: RestApiProvider, store: RestApiStore) -> None:
        self._provider = provider
        self._store = store

    def _edit(self, ctx: RequestContext, api_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._provider._api(ctx, api_id))

    # -- models --------------------------------------------------------------------------

    async def CreateModel(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        models = record.setdefault("models", {})
        if params["name"] in models:
            raise apigateway_error(
                "ConflictException", "Model name already exists for this REST API"
            )
        model = {k: v for k, v in params.items() if k != "restApiId"}
        model["id"] = new_id(6)
        models[params["name"]] = model
        self._provider._save(ctx, record)
        return model

    def _model(self, record: dict[str, Any], name: str) -> dict[str, Any]:
        model = record.get("models", {}).get(name)
        if model is None:
            raise apigateway_error("NotFoundException", "Invalid Model Name specified")
        found: dict[str, Any] = model
        return found

    async def GetModel(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._model(self._provider._api(ctx, params["restApiId"]), params["modelName"])

    async def GetModels(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._provider._api(ctx, params["restApiId"])
        return {"items": list(record.get("models", {}).values())}

    async def UpdateModel(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        model = self._model(record, params["modelName"])
        apply_patch(model, params.get("patchOperations", []), _MODEL_PATCHABLE)
        self._provider._save(ctx, record)
        return model

    async def DeleteModel(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        self._model(record, params["modelName"])
        del record["models"][params["modelName"]]
        self._provider._save(ctx, record)
        return {}

    # -- request validators --------------------------------------------------------------

    async def CreateRequestValidator(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        validator = {
            "id": new_id(6),
            "name": params.get("name", ""),
            "validateRequestBody": params.get("validateRequestBody", False),
            "validateRequestParameters": params.get("validateRequestParameters", False),
        }
        record.setdefault("validators", {})[validator["id"]] = validator
        self._provider._save(ctx, record)
        return validator

    def _validator(self, record: dict[str, Any], validator_id: str) -> dict[str, Any]:
        validator = record.get("validators", {}).get(validator_id)
        if validator is None:
            raise apigateway_error(
                "NotFoundException", "Invalid Request Validator identifier specified"
            )
        found: dict[str, Any] = validator
        return found

    async def GetRequestValidator(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._provider._api(ctx, params["restApiId"])
        return self._validator(record, params["requestValidatorId"])

    async def GetRequestValidators(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._provider._api(ctx, params["restApiId"])
        return {"items": list(record.get("validators", {}).values())}

    async def UpdateRequestValidator(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        validator = self._validator(record, params["requestValidatorId"])
        apply_patch(validator, params.get("patchOperations", []), _VALIDATOR_PATCHABLE)
        self._provider._save(ctx, record)
        return validator

    async def DeleteRequestValidator(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        self._validator(record, params["requestValidatorId"])
        del record["validators"][params["requestValidatorId"]]
        self._provider._save(ctx, record)
        return {}

    # -- gateway responses ---------------------------------------------------------------

    @staticmethod
    def _kind(params: dict[str, Any]) -> str:
        kind = str(params.get("responseType", ""))
        if kind not in DEFAULT_STATUS:
            raise apigateway_error(
                "BadRequestException", f"Invalid gateway response type specified: {kind}"
            )
        return kind

    async def PutGatewayResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        kind = self._kind(params)
        response: dict[str, Any] = {"responseType": kind, "defaultResponse": False}
        for member in ("statusCode", "responseParameters", "responseTemplates"):
            if params.get(member) is not None:
                response[member] = params[member]
        record.setdefault("gatewayResponses", {})[kind] = response
        self._provider._save(ctx, record)
        return response

    async def GetGatewayResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._provider._api(ctx, params["restApiId"])
        kind = self._kind(params)
        found: dict[str, Any] = record.get("gatewayResponses", {}).get(kind) or _default_response(
            kind
        )
        return found

    async def GetGatewayResponses(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._provider._api(ctx, params["restApiId"])
        set_ = record.get("gatewayResponses", {})
        return {"items": [set_.get(kind) or _default_response(kind) for kind in DEFAULT_STATUS]}

    async def UpdateGatewayResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        kind = self._kind(params)
        responses = record.setdefault("gatewayResponses", {})
        response = responses.get(kind) or {"responseType": kind, "defaultResponse": False}
        apply_patch(response, params.get("patchOperations", []), _RESPONSE_PATCHABLE)
        responses[kind] = response
        self._provider._save(ctx, record)
        found: dict[str, Any] = response
        return found

    async def DeleteGatewayResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._edit(ctx, params["restApiId"])
        kind = self._kind(params)
        if record.get("gatewayResponses", {}).pop(kind, None) is None:
            raise apigateway_error("NotFoundException", "GatewayResponse not found")
        self._provider._save(ctx, record)
        return {}

    # -- the account ---------------------------------------------------------------------

    def _account(self, ctx: RequestContext) -> dict[str, Any]:
        found = self._store.get(ctx.account_id, ctx.region, _ACCOUNT, _ACCOUNT)
        return dict(found) if found else {}

    async def GetAccount(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._account(ctx),
            "throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0},
            "features": ["UsagePlans"],
            "apiKeyVersion": "4",
        }

    async def UpdateAccount(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account = self._account(ctx)
        apply_patch(account, params.get("patchOperations", []), frozenset({"cloudwatchRoleArn"}))
        self._store.put(ctx.account_id, ctx.region, _ACCOUNT, _ACCOUNT, account)
        return await self.GetAccount(ctx, params)
