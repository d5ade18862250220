"""OpenAPI documents to HTTP APIs: what ImportApi and ReimportApi read.

SAM turns an `AWS::Serverless::HttpApi` into an `AWS::ApiGatewayV2::Api` whose `Body` is an
OpenAPI 3.0 document, and CloudFormation hands that body to ImportApi. What is read:
- `info.title` (the API's name), `info.version`, `info.description`;
- each path and method as a route `METHOD /path` (`x-amazon-apigateway-any-method` is `ANY`;
  the path `$default` or `/$default`, or `isDefaultRoute: true`, is the `$default` route);
- `x-amazon-apigateway-integration` (type `aws_proxy` or `http_proxy`, `uri` as a Lambda ARN
  or API Gateway's `.../functions/<arn>/invocations` form, `payloadFormatVersion`,
  `httpMethod`, `timeoutInMillis`, `connectionType`, `credentials`) as the route's integration;
- `x-amazon-apigateway-cors` as the API's CORS configuration;
- `tags` with `x-amazon-apigateway-tag-value` as the API's tags;
- security schemes with `x-amazon-apigateway-authorizer` (`jwt` and `request`) as authorizers,
  and each operation's (or the document's) `security` as its route's authorizer and scopes;
  a scheme with `x-amazon-apigateway-authtype: awsSigv4` makes the route `AWS_IAM`.
Swagger 2.0 documents are read the same way (`securityDefinitions` for the schemes). JSON
and YAML are both accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.gateway import openapi_text
from fireside.gateway.http_api_rules import bad_request, parse_route_key

__all__ = ["ImportedApi", "ImportedRoute", "parse_openapi"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_ANY = "x-amazon-apigateway-any-method"
_CORS_MEMBERS = {
    "allowOrigins": "AllowOrigins",
    "allowMethods": "AllowMethods",
    "allowHeaders": "AllowHeaders",
    "exposeHeaders": "ExposeHeaders",
    "maxAge": "MaxAge",
    "allowCredentials": "AllowCredentials",
}


@dataclass(slots=True)
class ImportedRoute:
    route_key: str
    #: The integration's members in the control plane's shape, or None.
    integration: dict[str, Any] | None = None
    #: The security scheme naming the route's authorizer, and its scopes.
    authorizer: str | None = None
    scopes: list[str] = field(default_factory=list)
    iam: bool = False


@dataclass(slots=True)
class ImportedApi:
    name: str
    version: str | None = None
    description: str | None = None
    cors: dict[str, Any] | None = None
    routes: list[ImportedRoute] = field(default_factory=list)
    #: Authorizers in the control plane's shape, by security scheme name.
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: The document's `tags` that carry `x-amazon-apigateway-tag-value` (SAM's
    #: `httpapi:createdBy`): API Gateway makes them the API's tags.
    tags: dict[str, str] = field(default_factory=dict)
    #: The names of `components.schemas`, for the warnings about missing ones.
    schemas: set[str] = field(default_factory=set)


def _load(body: str) -> dict[str, Any]:
    try:
        document = openapi_text.load(body)
    except openapi_text.DocumentError as exc:
        raise bad_request(f"Invalid OpenAPI input: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("paths", {}), dict):
        raise bad_request("Invalid OpenAPI input: the document must be an object with `paths`")
    if "openapi" not in document and "swagger" not in document:
        raise bad_request("Invalid OpenAPI input: neither `openapi` nor `swagger` is given")
    return document


def _integration(extension: dict[str, Any], where: str, warnings: list[str]) -> dict[str, Any]:
    kind = str(extension.get("type", "")).upper()
    if kind not in ("AWS_PROXY", "HTTP_PROXY"):
        raise bad_request(
            f"Unsupported integration type {extension.get('type')!r} at {where}: HTTP APIs "
            "take aws_proxy or http_proxy"
        )
    uri = extension.get("uri")
    if not isinstance(uri, str) or not uri:
        raise bad_request(f"Missing integration uri at {where}")
    integration: dict[str, Any] = {
        "IntegrationType": kind,
        "IntegrationUri": uri,
        "IntegrationMethod": str(extension.get("httpMethod") or "POST").upper(),
        "PayloadFormatVersion": str(
            extension.get("payloadFormatVersion") or ("2.0" if kind == "AWS_PROXY" else "1.0")
        ),
    }
    if extension.get("timeoutInMillis") is not None:
        integration["TimeoutInMillis"] = int(extension["timeoutInMillis"])
    if extension.get("connectionType"):
        integration["ConnectionType"] = str(extension["connectionType"]).upper()
    if extension.get("credentials"):
        integration["CredentialsArn"] = extension["credentials"]
    if extension.get("description"):
        integration["Description"] = extension["description"]
    if integration["PayloadFormatVersion"] not in ("1.0", "2.0"):
        warnings.append(f"Unsupported payloadFormatVersion at {where}; 2.0 is used")
        integration["PayloadFormatVersion"] = "2.0"
    return integration


def _authorizer(name: str, scheme: dict[str, Any]) -> dict[str, Any] | None:
    extension = scheme.get("x-amazon-apigateway-authorizer")
    if not isinstance(extension, dict):
        return None
    kind = str(extension.get("type", "")).lower()
    source = extension.get("identitySource")
    if isinstance(source, str):
        sources = [part.strip() for part in source.split(",") if part.strip()]
    else:
        sources = [str(part) for part in source or ()]
    authorizer: dict[str, Any] = {"Name": name, "IdentitySource": sources}
    if kind == "jwt":
        jwt = extension.get("jwtConfiguration") or {}
        audience = jwt.get("audience") or []
        authorizer["AuthorizerType"] = "JWT"
        authorizer["JwtConfiguration"] = {
            "Issuer": jwt.get("issuer"),
            "Audience": [audience] if isinstance(audience, str) else list(audience),
        }
        if not sources:
            authorizer["IdentitySource"] = ["$request.header.Authorization"]
    elif kind == "request":
        authorizer["AuthorizerType"] = "REQUEST"
        authorizer["AuthorizerUri"] = extension.get("authorizerUri")
        authorizer["AuthorizerPayloadFormatVersion"] = str(
            extension.get("authorizerPayloadFormatVersion") or "2.0"
        )
        authorizer["AuthorizerResultTtlInSeconds"] = int(
            extension.get("authorizerResultTtlInSeconds") or 0
        )
        if extension.get("enableSimpleResponses") is not None:
            authorizer["EnableSimpleResponses"] = bool(extension["enableSimpleResponses"])
        if extension.get("authorizerCredentials"):
            authorizer["AuthorizerCredentialsArn"] = extension["authorizerCredentials"]
    else:
        raise bad_request(f"Unsupported authorizer type {extension.get('type')!r} in {name}")
    return authorizer


def _cors(extension: Any) -> dict[str, Any] | None:
    if not isinstance(extension, dict):
        return None
    return {wire: extension[name] for name, wire in _CORS_MEMBERS.items() if name in extension}


def parse_openapi(body: str, *, fail_on_warnings: bool = False) -> ImportedApi:
    """An HTTP API from an OpenAPI 3.0 (or Swagger 2.0) document in JSON or YAML."""
    document = _load(body)
    info = document.get("info") or {}
    title = info.get("title")
    if not title:
        raise bad_request("Invalid OpenAPI input: info.title is required")
    imported = ImportedApi(
        str(title),
        str(info["version"]) if info.get("version") is not None else None,
        info.get("description"),
        _cors(document.get("x-amazon-apigateway-cors")),
    )
    schemes = (
        (document.get("components") or {}).get("securitySchemes")
        or document.get("securityDefinitions")
        or {}
    )
    iam_schemes = set()
    for name, scheme in schemes.items():
        if not isinstance(scheme, dict):
            continue
        if str(scheme.get("x-amazon-apigateway-authtype", "")).lower() == "awssigv4":
            iam_schemes.add(name)
        authorizer = _authorizer(name, scheme)
        if authorizer is not None:
            imported.authorizers[name] = authorizer
    for tag in document.get("tags") or ():
        if isinstance(tag, dict) and "x-amazon-apigateway-tag-value" in tag and tag.get("name"):
            imported.tags[str(tag["name"])] = str(tag["x-amazon-apigateway-tag-value"])
    imported.schemas = set(((document.get("components") or {}).get("schemas") or {}).keys())
    default_security = document.get("security")
    for path, item in document.get("paths", {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method != _ANY and method not in _METHODS:
                continue  # `parameters`, `summary`, other extensions
            if not isinstance(operation, dict):
                continue
            imported.routes.append(
                _route(path, method, operation, default_security, iam_schemes, imported)
            )
    if fail_on_warnings and imported.warnings:
        raise bad_request("Warnings found during import:\n\t" + "\n\t".join(imported.warnings))
    return imported


def _route(
    path: str,
    method: str,
    operation: dict[str, Any],
    default_security: Any,
    iam_schemes: set[str],
    imported: ImportedApi,
) -> ImportedRoute:
    where = f"paths.'{path}'({method})"
    verb = "ANY" if method == _ANY else method.upper()
    if path in ("$default", "/$default") or operation.get("isDefaultRoute"):
        route_key = "$default"
    else:
        route_key = f"{verb} {path}"
    try:
        parse_route_key(route_key)
    except ServiceError as error:
        raise bad_request(f"Invalid route at {where}: {error.message}") from None
    route = ImportedRoute(route_key)
    _check_response_schemas(where, operation, imported)
    extension = operation.get("x-amazon-apigateway-integration")
    if isinstance(extension, dict):
        route.integration = _integration(extension, where, imported.warnings)
    security = operation.get("security", default_security)
    for requirement in security or ():
        if not isinstance(requirement, dict):
            continue
        for name, scopes in requirement.items():
            if name in imported.authorizers:
                route.authorizer = name
                route.scopes = [str(s) for s in scopes or ()]
            elif name in iam_schemes:
                route.iam = True
    return route


def _check_response_schemas(where: str, operation: dict[str, Any], imported: ImportedApi) -> None:
    """Warn, in API Gateway's words, of responses whose schema `$ref` names no schema."""
    responses = operation.get("responses")
    if not isinstance(responses, dict):
        return
    for status, response in responses.items():
        content = response.get("content") if isinstance(response, dict) else None
        for media in (content or {}).values() if isinstance(content, dict) else ():
            schema = media.get("schema") if isinstance(media, dict) else None
            ref = schema.get("$ref") if isinstance(schema, dict) else None
            prefix = "#/components/schemas/"
            if (
                isinstance(ref, str)
                and ref.startswith(prefix)
                and ref.removeprefix(prefix) not in imported.schemas
            ):
                imported.warnings.append(
                    f"Parse issue: attribute {where}.responses.{status}.content.schema."
                    f"{ref} is missing"
                )
