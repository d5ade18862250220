"""OpenAPI import for REST APIs (ImportRestApi, PutRestApi): Swagger 2.0 or OpenAPI 3.0,
JSON or YAML, with API Gateway's `x-amazon-apigateway-*` extensions.

What becomes what: `paths` -> resources (one per path segment, shared by paths that share a
prefix), each operation -> a method (`x-amazon-apigateway-any-method` -> ANY) with its
`parameters` as request parameters and `responses` as method responses;
`x-amazon-apigateway-integration` -> the method's integration and its `responses` -> the
integration responses (the `default` key has no selection pattern); security schemes with
`x-amazon-apigateway-authorizer` -> authorizers, and a method requiring one -> CUSTOM (or
COGNITO_USER_POOLS) authorization; an `apiKey` scheme without an authorizer -> API key
required; `x-amazon-apigateway-authtype: awsSigv4` -> AWS_IAM; the document's
`x-amazon-apigateway-binary-media-types` and `x-amazon-apigateway-api-key-source`.

`x-amazon-apigateway-gateway-responses` become gateway responses and
`x-amazon-apigateway-request-validators` request validators (named by methods with
`x-amazon-apigateway-request-validator`). Not imported: models (schemas), documentation parts;
`x-amazon-apigateway-policy` is kept as the API's policy but never enforced.
"""

from __future__ import annotations

import json
from typing import Any

from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.gateway import openapi_text
from fireside.gateway.rest_api_store import new_id

__all__ = ["import_document"]

apigateway_error = ModelledErrors("apigateway")
_VERBS = ("get", "put", "post", "delete", "options", "head", "patch")
_ANY = "x-amazon-apigateway-any-method"
_AUTHORIZER_TYPES = {
    "token": "TOKEN",
    "request": "REQUEST",
    "cognito_user_pools": "COGNITO_USER_POOLS",
}


def _invalid(cause: str) -> ServiceError:
    return apigateway_error(
        "BadRequestException", f"Failed to parse the uploaded OpenAPI document due to: {cause}"
    )


def parse_document(body: bytes) -> dict[str, Any]:
    """The document in `body` (JSON, else YAML)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        raise _invalid("the document is empty")
    try:
        document = openapi_text.load(text)
    except openapi_text.DocumentError as exc:
        raise _invalid(str(exc)) from None
    if not isinstance(document, dict):
        raise _invalid("the document is not an object")
    if "openapi" in document:
        if not str(document["openapi"]).startswith("3."):
            raise apigateway_error(
                "BadRequestException", "Only OpenAPI 3.x.x are currently supported"
            )
    elif not str(document.get("swagger", "")).startswith("2."):
        raise _invalid("'swagger' or 'openapi' is a required property")
    if not isinstance(document.get("paths"), dict):
        raise _invalid("'paths' is a required property")
    return document


def import_document(
    record: dict[str, Any], body: bytes, mode: str, parameters: dict[str, str] | None
) -> None:
    """Apply the OpenAPI document in `body` to the REST API `record` (in place)."""
    document = parse_document(body)
    api = record["api"]
    info = document.get("info") or {}
    if info.get("title"):
        api["name"] = info["title"]
    elif not api.get("name"):
        raise apigateway_error("BadRequestException", "Invalid OpenAPI input: missing info.title")
    for member, source in (
        ("description", info.get("description")),
        ("version", info.get("version")),
    ):
        if source:
            api[member] = str(source)
    if "x-amazon-apigateway-binary-media-types" in document:
        api["binaryMediaTypes"] = list(document["x-amazon-apigateway-binary-media-types"])
    source = document.get("x-amazon-apigateway-api-key-source")
    if source:
        api["apiKeySource"] = str(source).upper()
    if document.get("x-amazon-apigateway-policy"):
        api["policy"] = json.dumps(document["x-amazon-apigateway-policy"])
    types = (parameters or {}).get("endpointConfigurationTypes")
    if types:
        api["endpointConfiguration"] = {"types": [t.strip().upper() for t in types.split(",")]}
    root_id = api["rootResourceId"]
    if mode == "overwrite":
        record["resources"] = {root_id: {"id": root_id, "path": "/"}}
        record["authorizers"] = {}
    _import_extras(record, document, mode)
    schemes = _schemes(document)
    authorizers = _import_authorizers(record, schemes)
    default_security = document.get("security") or []
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        resource = _resource_for(record, str(path))
        shared = item.get("parameters") or []
        for verb, operation in item.items():
            name = "ANY" if verb == _ANY else verb.upper() if verb in _VERBS else None
            if name is None or not isinstance(operation, dict):
                continue
            method = _method(
                operation,
                shared,
                schemes,
                authorizers,
                default_security,
                document.get("x-amazon-apigateway-request-validator"),
                {v["name"]: v["id"] for v in record.get("validators", {}).values()},
            )
            method["httpMethod"] = name
            resource.setdefault("resourceMethods", {})[name] = method


def _import_extras(record: dict[str, Any], document: dict[str, Any], mode: str) -> None:
    """Gateway responses (`x-amazon-apigateway-gateway-responses`, which SAM's
    `GatewayResponses` become) and request validators (`x-amazon-apigateway-request-validators`,
    by name; a method names its own with `x-amazon-apigateway-request-validator`)."""
    if mode == "overwrite":
        record["gatewayResponses"] = {}
        record["validators"] = {}
    for kind, spec in (document.get("x-amazon-apigateway-gateway-responses") or {}).items():
        if not isinstance(spec, dict):
            continue
        response: dict[str, Any] = {"responseType": str(kind), "defaultResponse": False}
        for member in ("statusCode", "responseParameters", "responseTemplates"):
            if spec.get(member) is not None:
                response[member] = spec[member] if member != "statusCode" else str(spec[member])
        record.setdefault("gatewayResponses", {})[str(kind)] = response
    validators = record.setdefault("validators", {})
    by_name = {v["name"]: v for v in validators.values()}
    for name, spec in (document.get("x-amazon-apigateway-request-validators") or {}).items():
        validator = by_name.get(name) or {"id": new_id(6), "name": str(name)}
        validator["validateRequestBody"] = bool((spec or {}).get("validateRequestBody", False))
        validator["validateRequestParameters"] = bool(
            (spec or {}).get("validateRequestParameters", False)
        )
        validators[validator["id"]] = validator


def _schemes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = document.get("securityDefinitions") or (
        (document.get("components") or {}).get("securitySchemes") or {}
    )
    return {str(k): v for k, v in found.items() if isinstance(v, dict)}


def _import_authorizers(
    record: dict[str, Any], schemes: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """Authorizers made from the schemes that carry one: scheme name -> authorizer id."""
    by_name = {a["name"]: a for a in record["authorizers"].values()}
    made: dict[str, str] = {}
    for name, scheme in schemes.items():
        spec = scheme.get("x-amazon-apigateway-authorizer")
        if not isinstance(spec, dict):
            continue
        kind = _AUTHORIZER_TYPES.get(str(spec.get("type", "token")).lower(), "TOKEN")
        authorizer = by_name.get(name) or {"id": new_id(6), "name": name}
        authorizer["type"] = kind
        if scheme.get("x-amazon-apigateway-authtype"):
            authorizer["authType"] = scheme["x-amazon-apigateway-authtype"]
        identity = spec.get("identitySource")
        if not identity and kind == "TOKEN" and scheme.get("in", "header") == "header":
            identity = f"method.request.header.{scheme.get('name', 'Authorization')}"
        for member, value in (
            ("authorizerUri", spec.get("authorizerUri")),
            ("authorizerCredentials", spec.get("authorizerCredentials")),
            ("identitySource", identity),
            ("identityValidationExpression", spec.get("identityValidationExpression")),
            ("providerARNs", spec.get("providerARNs")),
        ):
            if value:
                authorizer[member] = value
        authorizer["authorizerResultTtlInSeconds"] = int(
            spec.get("authorizerResultTtlInSeconds", 300)
        )
        record["authorizers"][authorizer["id"]] = authorizer
        made[name] = authorizer["id"]
    return made


def _resource_for(record: dict[str, Any], path: str) -> dict[str, Any]:
    """The resource at `path`, made (with its missing ancestors) if absent."""
    resources = record["resources"]
    by_path = {r["path"]: r for r in resources.values()}
    current: dict[str, Any] = by_path["/"]
    for part in [p for p in path.split("/") if p]:
        child_path = current["path"].rstrip("/") + "/" + part
        child = by_path.get(child_path)
        if child is None:
            child = {
                "id": new_id(6),
                "parentId": current["id"],
                "pathPart": part,
                "path": child_path,
            }
            resources[child["id"]] = child
            by_path[child_path] = child
        current = child
    return current


def _method(
    operation: dict[str, Any],
    shared: list[Any],
    schemes: dict[str, dict[str, Any]],
    authorizers: dict[str, str],
    default_security: list[Any],
    default_validator: str | None = None,
    validator_ids: dict[str, str] | None = None,
) -> dict[str, Any]:
    validator_ids = validator_ids or {}
    method: dict[str, Any] = {"authorizationType": "NONE", "apiKeyRequired": False}
    if operation.get("operationId"):
        method["operationName"] = operation["operationId"]
    validator = operation.get("x-amazon-apigateway-request-validator") or default_validator
    if validator in validator_ids:
        method["requestValidatorId"] = validator_ids[validator]
    for requirement in operation.get("security", default_security) or []:
        for name in requirement if isinstance(requirement, dict) else ():
            scheme = schemes.get(name, {})
            if name in authorizers:
                authorizer_type = str(
                    scheme["x-amazon-apigateway-authorizer"].get("type", "token")
                ).lower()
                method["authorizationType"] = (
                    "COGNITO_USER_POOLS" if authorizer_type == "cognito_user_pools" else "CUSTOM"
                )
                method["authorizerId"] = authorizers[name]
                if requirement[name]:
                    method["authorizationScopes"] = list(requirement[name])
            elif str(scheme.get("x-amazon-apigateway-authtype", "")).lower() == "awssigv4":
                method["authorizationType"] = "AWS_IAM"
            elif scheme.get("type") == "apiKey":
                method["apiKeyRequired"] = True
    request_parameters = {}
    for parameter in [*shared, *(operation.get("parameters") or [])]:
        where = {"path": "path", "query": "querystring", "header": "header"}.get(
            str(parameter.get("in")) if isinstance(parameter, dict) else ""
        )
        if where is not None:
            key = f"method.request.{where}.{parameter['name']}"
            request_parameters[key] = bool(parameter.get("required", where == "path"))
    if request_parameters:
        method["requestParameters"] = request_parameters
    responses = {}
    for code, response in (operation.get("responses") or {}).items():
        if not str(code).isdigit():
            continue
        made: dict[str, Any] = {"statusCode": str(code)}
        headers = (response or {}).get("headers") if isinstance(response, dict) else None
        if headers:
            made["responseParameters"] = {f"method.response.header.{h}": False for h in headers}
        responses[str(code)] = made
    if responses:
        method["methodResponses"] = responses
    spec = operation.get("x-amazon-apigateway-integration")
    if isinstance(spec, dict):
        method["methodIntegration"] = _integration(spec)
    return method


def _integration(spec: dict[str, Any]) -> dict[str, Any]:
    kind = str(spec.get("type", "")).upper()
    integration: dict[str, Any] = {
        "type": kind,
        "passthroughBehavior": str(spec.get("passthroughBehavior", "when_no_match")).upper(),
        "timeoutInMillis": int(spec.get("timeoutInMillis", 29000)),
        "cacheNamespace": spec.get("cacheNamespace", new_id(6)),
        "cacheKeyParameters": list(spec.get("cacheKeyParameters", [])),
    }
    if spec.get("httpMethod"):
        integration["httpMethod"] = str(spec["httpMethod"]).upper()
    for member in (
        "uri",
        "credentials",
        "requestTemplates",
        "requestParameters",
        "contentHandling",
    ):
        if spec.get(member):
            integration[member] = spec[member]
    responses = {}
    for pattern, response in (spec.get("responses") or {}).items():
        if not isinstance(response, dict):
            continue
        code = str(response.get("statusCode", "200"))
        made: dict[str, Any] = {"statusCode": code}
        if pattern != "default":
            made["selectionPattern"] = str(pattern)
        for member in ("responseParameters", "responseTemplates", "contentHandling"):
            if response.get(member):
                made[member] = response[member]
        responses[code] = made
    if responses:
        integration["integrationResponses"] = responses
    return integration
