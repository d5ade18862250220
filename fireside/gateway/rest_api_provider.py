"""The API Gateway (v1) provider: REST APIs, their resources, methods and integrations, and
OpenAPI import. Deployments, stages, authorizers and tags are in `rest_api_stages`; API keys
and usage plans in `rest_api_keys`; models, validators and gateway responses in
`rest_api_definitions`; `operations()` gathers them all.

A REST API is one record of `rest_api_store`: `api` (the RestApi shape), `resources` by id
(each with its `resourceMethods`, each method with its `methodIntegration`, as GetResource
answers), `deployments` by id (each holding a snapshot of the resources, which is what a stage
serves), `stages` by name, `authorizers` by id, and `models`, `validators` and
`gatewayResponses`. Members whose names start with `_` are Fireside's own and never leave the
server.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.gateway.rest_api_common import apigateway_error, bad_request, not_found, page, public
from fireside.gateway.rest_api_definitions import Definitions
from fireside.gateway.rest_api_keys import ApiKeys
from fireside.gateway.rest_api_openapi import import_document
from fireside.gateway.rest_api_patch import apply_patch
from fireside.gateway.rest_api_stages import Stages
from fireside.gateway.rest_api_store import REST_API, RestApiStore, new_id

__all__ = ["RestApiProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_PATH_PART = re.compile(r"[A-Za-z0-9._:@-]+|\{[A-Za-z0-9._-]+\+?\}")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_INTEGRATION_TYPES = frozenset({"HTTP", "AWS", "MOCK", "HTTP_PROXY", "AWS_PROXY"})
_API_PATCHABLE = frozenset(
    {
        "name",
        "description",
        "binaryMediaTypes",
        "minimumCompressionSize",
        "apiKeySource",
        "endpointConfiguration",
        "policy",
        "disableExecuteApiEndpoint",
        "version",
    }
)
_METHOD_PATCHABLE = frozenset(
    {
        "authorizationType",
        "authorizerId",
        "apiKeyRequired",
        "operationName",
        "requestParameters",
        "requestModels",
        "requestValidatorId",
        "authorizationScopes",
    }
)
_INTEGRATION_PATCHABLE = frozenset(
    {
        "uri",
        "httpMethod",
        "requestTemplates",
        "requestParameters",
        "passthroughBehavior",
        "contentHandling",
        "timeoutInMillis",
        "credentials",
        "cacheKeyParameters",
        "cacheNamespace",
        "connectionType",
        "connectionId",
    }
)
_RESPONSE_PATCHABLE = frozenset(
    {"selectionPattern", "responseParameters", "responseTemplates", "contentHandling"}
)


class RestApiProvider:
    def __init__(self, store: RestApiStore) -> None:
        self.store = store
        self.keys = ApiKeys(store)
        self.definitions = Definitions(self, store)
        self.stages = Stages(self)

    def operations(self) -> dict[str, Operation]:
        found: dict[str, Operation] = {}
        for owner in (self, self.keys, self.definitions, self.stages):
            for name in dir(owner):
                if name[:1].isupper():
                    found[name] = getattr(owner, name)
        return found

    # -- records -------------------------------------------------------------------------

    def _api(self, ctx: RequestContext, api_id: str) -> dict[str, Any]:
        record = self.store.get(ctx.account_id, ctx.region, REST_API, api_id)
        if record is None:
            raise apigateway_error(
                "NotFoundException", f"Invalid API identifier specified {ctx.account_id}:{api_id}"
            )
        return record

    def _save(self, ctx: RequestContext, record: dict[str, Any]) -> None:
        self.store.put(ctx.account_id, ctx.region, REST_API, record["api"]["id"], record)

    @staticmethod
    def _resource(record: dict[str, Any], resource_id: str) -> dict[str, Any]:
        resource = record["resources"].get(resource_id)
        if resource is None:
            raise not_found("Resource")
        found: dict[str, Any] = resource
        return found

    def _method(self, record: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        resource = self._resource(record, params["resourceId"])
        method = resource.get("resourceMethods", {}).get(params["httpMethod"].upper())
        if method is None:
            raise not_found("Method")
        found: dict[str, Any] = method
        return found

    def _integration(self, record: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        integration = self._method(record, params).get("methodIntegration")
        if integration is None:
            raise not_found("Integration")
        found: dict[str, Any] = integration
        return found

    # -- REST APIs -----------------------------------------------------------------------

    async def CreateRestApi(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._new_api(params)
        self._save(ctx, record)
        return public(record["api"])

    def _new_api(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = new_id()
        while self.store.taken(REST_API, api_id):
            api_id = new_id()
        root = new_id()
        api: dict[str, Any] = {
            "id": api_id,
            "name": params.get("name", ""),
            "createdDate": time.time(),
            "apiKeySource": params.get("apiKeySource", "HEADER"),
            "endpointConfiguration": params.get("endpointConfiguration") or {"types": ["EDGE"]},
            "disableExecuteApiEndpoint": params.get("disableExecuteApiEndpoint", False),
            "rootResourceId": root,
        }
        for member in ("description", "version", "binaryMediaTypes", "policy", "tags"):
            if params.get(member):
                api[member] = params[member]
        if "minimumCompressionSize" in params:
            api["minimumCompressionSize"] = params["minimumCompressionSize"]
        return {
            "api": api,
            "resources": {root: {"id": root, "path": "/"}},
            "deployments": {},
            "stages": {},
            "authorizers": {},
        }

    async def GetRestApi(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return public(self._api(ctx, params["restApiId"])["api"])

    async def GetRestApis(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        records = self.store.all(ctx.account_id, ctx.region, REST_API)
        items = [public(r["api"]) for r in sorted(records, key=lambda r: r["api"]["createdDate"])]
        return page(items, params)

    async def UpdateRestApi(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        apply_patch(record["api"], params.get("patchOperations", []), _API_PATCHABLE)
        self._save(ctx, record)
        return public(record["api"])

    async def DeleteRestApi(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._api(ctx, params["restApiId"])
        self.store.delete(ctx.account_id, ctx.region, REST_API, params["restApiId"])
        return {}

    async def ImportRestApi(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._new_api({"name": ""})
        import_document(record, params.get("body", b""), "overwrite", params.get("parameters"))
        self._save(ctx, record)
        return public(record["api"])

    async def PutRestApi(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        mode = params.get("mode") or "merge"
        if mode not in ("overwrite", "merge"):
            raise bad_request(
                'Enumeration value of OpenAPI import mode must be "overwrite" or "merge"'
            )
        import_document(record, params.get("body", b""), mode, params.get("parameters"))
        self._save(ctx, record)
        return public(record["api"])

    # -- resources -----------------------------------------------------------------------

    async def CreateResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        parent = self._resource(record, params["parentId"])
        part = params["pathPart"]
        if not _PATH_PART.fullmatch(part):
            raise bad_request(
                "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning"
                " and the end and an optional plus sign before the closing brace."
            )
        path = parent["path"].rstrip("/") + "/" + part
        siblings = [r for r in record["resources"].values() if r.get("parentId") == parent["id"]]
        for sibling in siblings:
            if sibling["path"] == path:
                raise apigateway_error(
                    "ConflictException",
                    f"Another resource with the same parent already has this name: {part}",
                )
            if part.startswith("{") and sibling["pathPart"].startswith("{"):
                raise bad_request(
                    f"A sibling ({sibling['pathPart']}) of this resource already has a variable"
                    f" path part -- only one is allowed"
                )
        if parent["path"].endswith("+}"):
            raise bad_request("Cannot create a child of a resource with a greedy path variable")
        resource_id = new_id(6)
        resource = {"id": resource_id, "parentId": parent["id"], "pathPart": part, "path": path}
        record["resources"][resource_id] = resource
        self._save(ctx, record)
        return resource

    async def GetResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._api(ctx, params["restApiId"])
        return _shown(self._resource(record, params["resourceId"]), params)

    async def GetResources(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._api(ctx, params["restApiId"])
        items = sorted(record["resources"].values(), key=lambda r: r["path"])
        return page([_shown(r, params) for r in items], params)

    async def UpdateResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        resource = self._resource(record, params["resourceId"])
        apply_patch(resource, params.get("patchOperations", []), frozenset({"pathPart"}))
        parent = record["resources"].get(resource.get("parentId", ""))
        if parent is not None:
            _repath(record, resource, parent["path"].rstrip("/") + "/" + resource["pathPart"])
        self._save(ctx, record)
        return resource

    async def DeleteResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        resource = self._resource(record, params["resourceId"])
        if "parentId" not in resource:
            raise bad_request("Cannot delete the root resource of an API")
        doomed = {resource["id"]}
        changed = True
        while changed:  # the resource and everything under it
            found = {r["id"] for r in record["resources"].values() if r.get("parentId") in doomed}
            changed = not found <= doomed
            doomed |= found
        for resource_id in doomed:
            del record["resources"][resource_id]
        self._save(ctx, record)
        return {}

    # -- methods and their responses -----------------------------------------------------

    async def PutMethod(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        resource = self._resource(record, params["resourceId"])
        http_method = params["httpMethod"].upper()
        if http_method not in _METHODS:
            raise bad_request(
                "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY"
            )
        given = params.get("authorizationType", "NONE")
        authorization = given.upper()  # AWS takes any case and answers with what was sent
        if authorization in ("CUSTOM", "COGNITO_USER_POOLS"):
            authorizer = params.get("authorizerId")
            if not authorizer or authorizer not in record["authorizers"]:
                raise bad_request(
                    "Invalid authorizer ID specified. Setting the authorization type to "
                    f"{authorization} requires a valid authorizer."
                )
        elif authorization not in ("NONE", "AWS_IAM"):
            raise bad_request(f"Invalid authorization type specified: {authorization}")
        methods = resource.setdefault("resourceMethods", {})
        if http_method in methods:
            raise apigateway_error("ConflictException", "Method already exists for this resource")
        method: dict[str, Any] = {
            "httpMethod": http_method,
            "authorizationType": given,
            "apiKeyRequired": params.get("apiKeyRequired", False),
        }
        for member in (
            "authorizerId",
            "operationName",
            "requestParameters",
            "requestModels",
            "requestValidatorId",
            "authorizationScopes",
        ):
            if params.get(member) is not None:
                method[member] = params[member]
        methods[http_method] = method
        self._save(ctx, record)
        return method

    async def GetMethod(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._method(self._api(ctx, params["restApiId"]), params)

    async def UpdateMethod(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        method = self._method(record, params)
        apply_patch(method, params.get("patchOperations", []), _METHOD_PATCHABLE)
        self._save(ctx, record)
        return method

    async def DeleteMethod(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        self._method(record, params)
        resource = self._resource(record, params["resourceId"])
        del resource["resourceMethods"][params["httpMethod"].upper()]
        self._save(ctx, record)
        return {}

    async def PutMethodResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        method = self._method(record, params)
        response: dict[str, Any] = {"statusCode": params["statusCode"]}
        for member in ("responseParameters", "responseModels"):
            if params.get(member) is not None:
                response[member] = params[member]
        method.setdefault("methodResponses", {})[params["statusCode"]] = response
        self._save(ctx, record)
        return response

    async def GetMethodResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        method = self._method(self._api(ctx, params["restApiId"]), params)
        response = method.get("methodResponses", {}).get(params["statusCode"])
        if response is None:
            raise apigateway_error("NotFoundException", "Invalid Response status code specified")
        found: dict[str, Any] = response
        return found

    async def DeleteMethodResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        method = self._method(record, params)
        if method.get("methodResponses", {}).pop(params["statusCode"], None) is None:
            raise apigateway_error("NotFoundException", "Invalid Response status code specified")
        self._save(ctx, record)
        return {}

    # -- integrations --------------------------------------------------------------------

    async def PutIntegration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        method = self._method(record, params)
        kind = params["type"]
        if kind not in _INTEGRATION_TYPES:
            raise bad_request(f"Invalid integration type specified: {kind}")
        integration: dict[str, Any] = {
            "type": kind,
            "passthroughBehavior": params.get("passthroughBehavior", "WHEN_NO_MATCH"),
            "timeoutInMillis": params.get("timeoutInMillis", 29000),
            "cacheNamespace": params.get("cacheNamespace", params["resourceId"]),
            "cacheKeyParameters": params.get("cacheKeyParameters", []),
        }
        if kind != "MOCK":
            _check_integration(ctx, kind, params)
            integration["httpMethod"] = params["integrationHttpMethod"]
        if params.get("uri"):
            integration["uri"] = params["uri"]
        for member in (
            "credentials",
            "requestParameters",
            "requestTemplates",
            "contentHandling",
            "connectionType",
            "connectionId",
            "tlsConfig",
        ):
            if params.get(member) is not None:
                integration[member] = params[member]
        existing = method.get("methodIntegration", {}).get("integrationResponses")
        if existing:  # AWS keeps a method's integration responses across PutIntegration
            integration["integrationResponses"] = existing
        method["methodIntegration"] = integration
        self._save(ctx, record)
        return integration

    async def GetIntegration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._integration(self._api(ctx, params["restApiId"]), params)

    async def UpdateIntegration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        integration = self._integration(record, params)
        apply_patch(integration, params.get("patchOperations", []), _INTEGRATION_PATCHABLE)
        self._save(ctx, record)
        return integration

    async def DeleteIntegration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        self._integration(record, params)
        del self._method(record, params)["methodIntegration"]
        self._save(ctx, record)
        return {}

    async def PutIntegrationResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        integration = self._integration(record, params)
        response: dict[str, Any] = {"statusCode": params["statusCode"]}
        for member in (
            "selectionPattern",
            "responseParameters",
            "responseTemplates",
            "contentHandling",
        ):
            if params.get(member) is not None:
                response[member] = params[member]
        integration.setdefault("integrationResponses", {})[params["statusCode"]] = response
        self._save(ctx, record)
        return response

    def _integration_response(
        self, record: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        integration = self._integration(record, params)
        response = integration.get("integrationResponses", {}).get(params["statusCode"])
        if response is None:
            raise apigateway_error("NotFoundException", "Invalid Response status code specified")
        found: dict[str, Any] = response
        return found

    async def GetIntegrationResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._integration_response(self._api(ctx, params["restApiId"]), params)

    async def UpdateIntegrationResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        response = self._integration_response(record, params)
        apply_patch(response, params.get("patchOperations", []), _RESPONSE_PATCHABLE)
        self._save(ctx, record)
        return response

    async def DeleteIntegrationResponse(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        self._integration_response(record, params)
        del self._integration(record, params)["integrationResponses"][params["statusCode"]]
        self._save(ctx, record)
        return {}


def _check_integration(ctx: RequestContext, kind: str, params: dict[str, Any]) -> None:
    """PutIntegration's checks of an integration other than MOCK, in AWS's words."""
    if not params.get("integrationHttpMethod"):
        raise bad_request("Enumeration value for HttpMethod must be non-empty")
    uri = params.get("uri") or ""
    if kind.startswith("HTTP"):
        if not uri.startswith(("http://", "https://")):
            raise bad_request("Invalid HTTP endpoint specified for URI")
        return
    if not re.fullmatch(r"arn:aws[a-z-]*:[^:]+:[^:]*:[^:]*:.+", uri):
        raise bad_request("Invalid ARN specified in the request")
    service_part = uri.split(":", 5)[5]
    if not service_part.startswith(("path/", "action/")):
        raise bad_request("AWS ARN for integration must contain path or action")
    to_lambda = uri.split(":")[4] == "lambda"
    if kind == "AWS_PROXY" and not to_lambda and uri.split(":")[4] != "firehose":
        raise bad_request(
            "Integrations of type 'AWS_PROXY' currently only supports Lambda function"
            " and Firehose stream invocations."
        )
    role = params.get("credentials")
    if role:
        account = role.split(":")[4] if role.count(":") >= 5 else ""
        if account != ctx.account_id:
            raise ServiceError(
                "AccessDeniedException", "Cross-account pass role is not allowed.", 403
            )
    elif kind == "AWS" and not to_lambda:
        raise bad_request("Role ARN must be specified for AWS integrations")


def _shown(resource: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A resource as GetResource(s) answer: methods named only, unless `embed=methods`."""
    methods = resource.get("resourceMethods")
    if not methods or "methods" in (params.get("embed") or ()):
        return resource
    return {**resource, "resourceMethods": {verb: {} for verb in methods}}


def _repath(record: dict[str, Any], resource: dict[str, Any], path: str) -> None:
    """Give `resource` the path `path`, and its descendants theirs."""
    resource["path"] = path
    for child in record["resources"].values():
        if child.get("parentId") == resource["id"]:
            _repath(record, child, path.rstrip("/") + "/" + child["pathPart"])
