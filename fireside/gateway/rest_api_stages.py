"""Deployments, stages, authorizers and tags of REST APIs (API Gateway v1).

A deployment snapshots what a stage serves: the API's resources (with their methods and
integrations), authorizers, gateway responses, validators and binary media types, under
members named `_...` that never leave the server. A stage names one deployment and holds its
variables, method settings (throttling) and access log settings.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fireside.aws.context import RequestContext
from fireside.gateway.rest_api_common import apigateway_error, bad_request, not_found, page, public
from fireside.gateway.rest_api_patch import apply_patch
from fireside.gateway.rest_api_store import API_KEY, USAGE_PLAN, new_id

if TYPE_CHECKING:
    from fireside.gateway.rest_api_provider import RestApiProvider

__all__ = ["Stages"]

_STAGE_PATCHABLE = frozenset(
    {
        "description",
        "deploymentId",
        "variables",
        "cacheClusterEnabled",
        "cacheClusterSize",
        "tracingEnabled",
        "clientCertificateId",
        "documentationVersion",
        "accessLogSettings",
        "canarySettings",
    }
)

_AUTHORIZER_PATCHABLE = frozenset(
    {
        "name",
        "type",
        "authorizerUri",
        "authorizerCredentials",
        "identitySource",
        "identityValidationExpression",
        "authorizerResultTtlInSeconds",
        "providerARNs",
        "authType",
    }
)


class Stages:
    """The deployment, stage, authorizer and tag operations (see the module docstring)."""

    def __init__(self, provider: RestApiProvider) -> None:
        self._provider = provider

    def _api(self, ctx: RequestContext, api_id: str) -> dict[str, Any]:
        return self._provider._api(ctx, api_id)

    def _save(self, ctx: RequestContext, record: dict[str, Any]) -> None:
        self._provider._save(ctx, record)

    # -- deployments and stages ----------------------------------------------------------

    async def CreateDeployment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        resources = record["resources"]
        if not any(r.get("resourceMethods") for r in resources.values()):
            raise bad_request("The REST API doesn't contain any methods")
        for resource in resources.values():
            for method in resource.get("resourceMethods", {}).values():
                if "methodIntegration" not in method:
                    raise bad_request("No integration defined for method")
        deployment_id = new_id(6)
        summary: dict[str, Any] = {}
        for resource in resources.values():
            for verb, method in resource.get("resourceMethods", {}).items():
                summary.setdefault(resource["path"], {})[verb] = {
                    "authorizationType": method["authorizationType"],
                    "apiKeyRequired": method.get("apiKeyRequired", False),
                }
        deployment: dict[str, Any] = {
            "id": deployment_id,
            "createdDate": time.time(),
            "apiSummary": summary,
            "_resources": copy.deepcopy(resources),
            "_authorizers": copy.deepcopy(record["authorizers"]),
            "_gatewayResponses": copy.deepcopy(record.get("gatewayResponses", {})),
            "_validators": copy.deepcopy(record.get("validators", {})),
            "_api": {k: record["api"].get(k) for k in ("binaryMediaTypes", "apiKeySource")},
        }
        if params.get("description"):
            deployment["description"] = params["description"]
        record["deployments"][deployment_id] = deployment
        stage_name = params.get("stageName")
        if stage_name:
            stage = record["stages"].get(stage_name)
            if stage is None:
                stage = self._new_stage(stage_name, deployment_id, params)
                record["stages"][stage_name] = stage
            else:
                stage["deploymentId"] = deployment_id
                stage["lastUpdatedDate"] = time.time()
                if params.get("variables"):
                    stage.setdefault("variables", {}).update(params["variables"])
        self._save(ctx, record)
        return _summarized(deployment, params)

    @staticmethod
    def _new_stage(name: str, deployment_id: str, params: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        stage: dict[str, Any] = {
            "stageName": name,
            "deploymentId": deployment_id,
            "createdDate": now,
            "lastUpdatedDate": now,
            "cacheClusterEnabled": params.get("cacheClusterEnabled", False),
            "cacheClusterStatus": "NOT_AVAILABLE",
            "methodSettings": {},
            "tracingEnabled": params.get("tracingEnabled", False),
        }
        for member, source in (
            ("description", "stageDescription" if "stageDescription" in params else "description"),
            ("variables", "variables"),
            ("cacheClusterSize", "cacheClusterSize"),
            ("tags", "tags"),
        ):
            if params.get(source):
                stage[member] = params[source]
        return stage

    async def GetDeployment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._api(ctx, params["restApiId"])
        deployment = record["deployments"].get(params["deploymentId"])
        if deployment is None:
            raise not_found("Deployment")
        return _summarized(deployment, params)

    async def GetDeployments(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._api(ctx, params["restApiId"])
        items = sorted(record["deployments"].values(), key=lambda d: d["createdDate"])
        return page([_summarized(d, params) for d in items], params)

    async def DeleteDeployment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        deployment_id = params["deploymentId"]
        if deployment_id not in record["deployments"]:
            raise not_found("Deployment")
        if any(s["deploymentId"] == deployment_id for s in record["stages"].values()):
            raise bad_request("Active stages pointing to this deployment must be moved or deleted")
        del record["deployments"][deployment_id]
        self._save(ctx, record)
        return {}

    async def CreateStage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        if params["deploymentId"] not in record["deployments"]:
            raise not_found("Deployment")
        name = params["stageName"]
        if name in record["stages"]:
            raise apigateway_error("ConflictException", "Stage already exists")
        stage = self._new_stage(name, params["deploymentId"], params)
        record["stages"][name] = stage
        self._save(ctx, record)
        return stage

    def _stage(self, record: dict[str, Any], name: str) -> dict[str, Any]:
        stage = record["stages"].get(name)
        if stage is None:
            raise not_found("stage")
        found: dict[str, Any] = stage
        return found

    async def GetStage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._stage(self._api(ctx, params["restApiId"]), params["stageName"])

    async def GetStages(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._api(ctx, params["restApiId"])
        stages = record["stages"].values()
        wanted = params.get("deploymentId")
        return {"item": [s for s in stages if wanted is None or s["deploymentId"] == wanted]}

    async def UpdateStage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        stage = self._stage(record, params["stageName"])
        apply_patch(
            stage, params.get("patchOperations", []), _STAGE_PATCHABLE, method_settings=True
        )
        if stage["deploymentId"] not in record["deployments"]:
            raise not_found("Deployment")
        stage["lastUpdatedDate"] = time.time()
        self._save(ctx, record)
        return stage

    async def DeleteStage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        self._stage(record, params["stageName"])
        del record["stages"][params["stageName"]]
        self._save(ctx, record)
        return {}

    # -- authorizers ---------------------------------------------------------------------

    async def CreateAuthorizer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        kind = params["type"]
        if kind in ("TOKEN", "REQUEST") and not params.get("authorizerUri"):
            raise bad_request("Authorizer URI must be specified for TOKEN and REQUEST authorizers")
        if kind == "TOKEN" and not params.get("identitySource"):
            raise bad_request("Identity source must be specified for TOKEN authorizers")
        authorizer = {k: v for k, v in params.items() if k != "restApiId"}
        authorizer["id"] = new_id(6)
        authorizer.setdefault("authorizerResultTtlInSeconds", 300)
        record["authorizers"][authorizer["id"]] = authorizer
        self._save(ctx, record)
        return authorizer

    def _authorizer(self, record: dict[str, Any], authorizer_id: str) -> dict[str, Any]:
        authorizer = record["authorizers"].get(authorizer_id)
        if authorizer is None:
            raise not_found("Authorizer")
        found: dict[str, Any] = authorizer
        return found

    async def GetAuthorizer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._authorizer(self._api(ctx, params["restApiId"]), params["authorizerId"])

    async def GetAuthorizers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return page(list(self._api(ctx, params["restApiId"])["authorizers"].values()), params)

    async def UpdateAuthorizer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        authorizer = self._authorizer(record, params["authorizerId"])
        apply_patch(authorizer, params.get("patchOperations", []), _AUTHORIZER_PATCHABLE)
        self._save(ctx, record)
        return authorizer

    async def DeleteAuthorizer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._api(ctx, params["restApiId"]))
        self._authorizer(record, params["authorizerId"])
        del record["authorizers"][params["authorizerId"]]
        self._save(ctx, record)
        return {}

    # -- tags ----------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, arn: str) -> tuple[dict[str, Any], Callable[[], None]]:
        """The record an ARN names (the member holding `tags`) and how to save it."""
        match = re.fullmatch(
            r"arn:aws[a-z-]*:apigateway:([a-z0-9-]+)::/(restapis|apikeys|usageplans)/([^/]+)"
            r"(?:/stages/([^/]+))?",
            arn,
        )
        if match is None or match[1] != ctx.region:
            raise bad_request("Invalid ARN specified in the request")
        kind, key, stage = match[2], match[3], match[4]
        if kind == "restapis":
            record = copy.deepcopy(self._api(ctx, key))
            target = self._stage(record, stage) if stage else record["api"]
            return target, lambda: self._save(ctx, record)
        store_kind = API_KEY if kind == "apikeys" else USAGE_PLAN
        found = self._provider.store.get(ctx.account_id, ctx.region, store_kind, key)
        if found is None or stage:
            raise not_found("API Key" if kind == "apikeys" else "Usage Plan")
        item = copy.deepcopy(found)
        return item, lambda: self._provider.store.put(
            ctx.account_id, ctx.region, store_kind, key, item
        )

    async def TagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        target, save = self._tagged(ctx, params["resourceArn"])
        target.setdefault("tags", {}).update(params.get("tags", {}))
        save()
        return {}

    async def UntagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        target, save = self._tagged(ctx, params["resourceArn"])
        for key in params.get("tagKeys", []):
            target.get("tags", {}).pop(key, None)
        save()
        return {}

    async def GetTags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        target, _ = self._tagged(ctx, params["resourceArn"])
        return {"tags": target.get("tags", {})}


def _summarized(deployment: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A deployment as AWS answers: its `apiSummary` only when asked (`embed=apisummary`)."""
    shown = public(deployment)
    if "apisummary" not in (params.get("embed") or ()):
        shown.pop("apiSummary", None)
    return shown
