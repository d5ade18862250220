"""HTTP APIs' stages, deployments and tags, and what every control-plane operation shares:
finding the caller's API, storing a change (redeploying AutoDeploy stages), paging lists.

A deployment freezes the API's routes, integrations and authorizers (`HttpApi.snapshot`); a
stage serves the deployment it names. A stage with AutoDeploy gets a new deployment after
every change to what a deployment freezes, as on API Gateway. Automatic deployments no stage
serves any more are forgotten beyond the last few, so an API edited all day stays small.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.pagination import Key, marker_page
from fireside.gateway.http_api_rules import bad_request, conflict, member, not_found
from fireside.gateway.http_api_store import HttpApi, HttpApiStore, new_id

__all__ = ["StageOperations", "api_arn"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_STAGE_NAME = re.compile(r"\$default|[A-Za-z0-9_-]{1,128}")
_STAGE_MEMBERS = (
    "AccessLogSettings",
    "ClientCertificateId",
    "DefaultRouteSettings",
    "Description",
    "RouteSettings",
    "StageVariables",
)
_TAGGED = re.compile(
    r"arn:aws[a-z-]*:apigateway:(?P<region>[a-z0-9-]+)::/apis/(?P<api>[a-z0-9]+)"
    r"(?:/stages/(?P<stage>[^/]+))?"
)
#: Automatic deployments kept once no stage serves them.
_KEPT_AUTO_DEPLOYMENTS = 10
_DEFAULT_PAGE = 100


def api_arn(region: str, api_id: str) -> str:
    return f"arn:aws:apigateway:{region}::/apis/{api_id}"


class StageOperations:
    store: HttpApiStore
    _clock: Callable[[], float]

    def stage_operations(self) -> dict[str, Operation]:
        return {
            "CreateStage": self.create_stage,
            "GetStage": self.get_stage,
            "GetStages": self.get_stages,
            "UpdateStage": self.update_stage,
            "DeleteStage": self.delete_stage,
            "DeleteAccessLogSettings": self.delete_access_log_settings,
            "CreateDeployment": self.create_deployment,
            "GetDeployment": self.get_deployment,
            "GetDeployments": self.get_deployments,
            "UpdateDeployment": self.update_deployment,
            "DeleteDeployment": self.delete_deployment,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "GetTags": self.get_tags,
        }

    # -- shared ----------------------------------------------------------------------------
    def _api(self, ctx: RequestContext, api_id: str) -> HttpApi:
        api = self.store.find(ctx.account_id, ctx.region, api_id)
        if api is None:
            raise not_found(f"Invalid API identifier specified {ctx.account_id}:{api_id}")
        return api

    def _save(self, api: HttpApi, *, redeploy: bool) -> None:
        """Store `api`, first giving each AutoDeploy stage a new deployment if `redeploy`."""
        if redeploy:
            for stage in api.stages.values():
                if stage.get("AutoDeploy"):
                    self._deploy(api, stage, automatic=True)
        self.store.put(api)

    def _page(
        self,
        items: list[dict[str, Any]],
        params: dict[str, Any],
        key: Callable[[dict[str, Any]], Key],
        scope: str,
    ) -> dict[str, Any]:
        """One page of `Items`, in the order of `key`, and the `NextToken` when more remain:
        at most `MaxResults` (a string in the model), resuming strictly after the item the
        token names (`fireside.aws.pagination`), so changes between pages skip nothing."""
        size = _DEFAULT_PAGE
        if params.get("MaxResults"):
            try:
                size = int(params["MaxResults"])
            except ValueError:
                raise bad_request("MaxResults must be a number") from None
            if size < 1:
                raise bad_request("MaxResults must be at least 1")
        page, token = marker_page(
            items,
            key,
            {"Marker": params.get("NextToken"), "MaxItems": size},
            scope=scope,
            invalid=lambda: bad_request("The pagination token is invalid"),
            cap=None,
        )
        answer: dict[str, Any] = {"Items": [dict(item) for item in page]}
        if token is not None:
            answer["NextToken"] = token
        return answer

    def _deploy(
        self,
        api: HttpApi,
        stage: dict[str, Any] | None,
        *,
        automatic: bool,
        description: str | None = None,
    ) -> dict[str, Any]:
        deployment: dict[str, Any] = {
            "AutoDeployed": automatic,
            "CreatedDate": self._clock(),
            "DeploymentId": new_id(6),
            "DeploymentStatus": "DEPLOYED",
            "_snapshot": api.snapshot(),
        }
        if description is not None:
            deployment["Description"] = description
        api.deployments[deployment["DeploymentId"]] = deployment
        if stage is not None:
            stage["DeploymentId"] = deployment["DeploymentId"]
            stage["LastUpdatedDate"] = deployment["CreatedDate"]
            stage["LastDeploymentStatusMessage"] = (
                f"Successfully deployed stage with deployment ID '{deployment['DeploymentId']}'"
            )
        self._forget_old_deployments(api)
        return deployment

    def _forget_old_deployments(self, api: HttpApi) -> None:
        served = {s.get("DeploymentId") for s in api.stages.values()}
        idle = [
            d
            for d in api.deployments.values()
            if d.get("AutoDeployed") and d["DeploymentId"] not in served
        ]
        idle.sort(key=lambda d: float(d["CreatedDate"]))
        for deployment in idle[: max(0, len(idle) - _KEPT_AUTO_DEPLOYMENTS)]:
            del api.deployments[deployment["DeploymentId"]]

    # -- stages ----------------------------------------------------------------------------
    def _stage_view(self, api: HttpApi, stage: dict[str, Any]) -> dict[str, Any]:
        view = dict(stage)
        view["Tags"] = dict(api.stage_tags.get(stage["StageName"], {}))
        return view

    def _stage(self, api: HttpApi, name: str) -> dict[str, Any]:
        stage = api.stages.get(name)
        if stage is None:
            raise not_found("Invalid stage identifier specified", "Stage")
        return stage

    def _check_deployment(self, api: HttpApi, deployment_id: str | None) -> None:
        if deployment_id is not None and deployment_id not in api.deployments:
            raise not_found(f"Invalid Deployment identifier specified {deployment_id}")

    async def create_stage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        name = params["StageName"]
        if not _STAGE_NAME.fullmatch(name):
            raise bad_request(
                f"Stage name {name!r} is invalid: use letters, digits, '-' and '_' "
                "(at most 128), or $default."
            )
        if name in api.stages:
            raise conflict(f"Stage {name} already exists")
        self._check_deployment(api, params.get("DeploymentId"))
        now = self._clock()
        route_settings: dict[str, Any] = {"DetailedMetricsEnabled": False}
        if api.api.get("ProtocolType") == "WEBSOCKET":  # what API Gateway fills in for them
            route_settings.update(DataTraceEnabled=False, LoggingLevel="OFF")
        stage: dict[str, Any] = {
            "AutoDeploy": bool(params.get("AutoDeploy")),
            "CreatedDate": now,
            "DefaultRouteSettings": route_settings,
            "LastUpdatedDate": now,
            "RouteSettings": {},
            "StageName": name,
            "StageVariables": {},
        }
        stage.update({k: params[k] for k in _STAGE_MEMBERS if params.get(k) is not None})
        if params.get("DeploymentId"):
            stage["DeploymentId"] = params["DeploymentId"]
        api.stages[name] = stage
        if params.get("Tags"):
            api.stage_tags[name] = dict(params["Tags"])
        if stage["AutoDeploy"]:
            self._deploy(api, stage, automatic=True)
        self.store.put(api)
        return self._stage_view(api, stage)

    async def get_stage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return self._stage_view(api, self._stage(api, params["StageName"]))

    async def get_stages(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        stages = [self._stage_view(api, s) for s in api.stages.values()]
        return self._page(stages, params, _by_name, f"GetStages:{api.api_id}")

    async def update_stage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        stage = self._stage(api, params["StageName"])
        self._check_deployment(api, params.get("DeploymentId"))
        stage.update({k: params[k] for k in _STAGE_MEMBERS if params.get(k) is not None})
        if params.get("DeploymentId"):
            stage["DeploymentId"] = params["DeploymentId"]
        stage["LastUpdatedDate"] = self._clock()
        switched_on = params.get("AutoDeploy") is True and not stage.get("AutoDeploy")
        if params.get("AutoDeploy") is not None:
            stage["AutoDeploy"] = params["AutoDeploy"]
        if switched_on:
            self._deploy(api, stage, automatic=True)
        self.store.put(api)
        return self._stage_view(api, stage)

    async def delete_stage(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        self._stage(api, params["StageName"])
        del api.stages[params["StageName"]]
        api.stage_tags.pop(params["StageName"], None)
        self.store.put(api)
        return {}

    async def delete_access_log_settings(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        self._stage(api, params["StageName"]).pop("AccessLogSettings", None)
        self.store.put(api)
        return {}

    # -- deployments -----------------------------------------------------------------------
    @staticmethod
    def _deployment_view(deployment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in deployment.items() if not k.startswith("_")}

    async def create_deployment(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        stage = None
        if params.get("StageName"):
            stage = self._stage(api, params["StageName"])
            if stage.get("AutoDeploy"):
                raise bad_request(
                    f"Stage {stage['StageName']} has AutoDeploy enabled: it is deployed "
                    "automatically and cannot be deployed to."
                )
        deployment = self._deploy(
            api, stage, automatic=False, description=params.get("Description")
        )
        self.store.put(api)
        return self._deployment_view(deployment)

    def _deployment(self, api: HttpApi, deployment_id: str) -> dict[str, Any]:
        return member(api.deployments, deployment_id, "Deployment")

    async def get_deployment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return self._deployment_view(self._deployment(api, params["DeploymentId"]))

    async def get_deployments(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return self._page(
            [self._deployment_view(d) for d in api.deployments.values()],
            params,
            lambda d: (int(float(d["CreatedDate"]) * 1_000_000), str(d["DeploymentId"])),
            f"GetDeployments:{api.api_id}",
        )

    async def update_deployment(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        deployment = self._deployment(api, params["DeploymentId"])
        if params.get("Description") is not None:
            deployment["Description"] = params["Description"]
        self.store.put(api)
        return self._deployment_view(deployment)

    async def delete_deployment(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        deployment_id = params["DeploymentId"]
        self._deployment(api, deployment_id)
        if any(s.get("DeploymentId") == deployment_id for s in api.stages.values()):
            raise bad_request("Active stages pointing to this deployment must be moved or deleted")
        del api.deployments[deployment_id]
        self.store.put(api)
        return {}

    # -- tags ------------------------------------------------------------------------------
    def _tagged(self, ctx: RequestContext, arn: str) -> tuple[HttpApi, str | None]:
        match = _TAGGED.fullmatch(arn)
        if match is None or match["region"] != ctx.region:
            raise not_found(f"Invalid resource ARN specified {arn}")
        api = self._api(ctx, match["api"])
        stage = match["stage"]
        if stage is not None:
            self._stage(api, stage)
        return api, stage

    def _tags_of(self, api: HttpApi, stage: str | None) -> dict[str, str]:
        if stage is None:
            tags: dict[str, str] = api.api.setdefault("Tags", {})
            return tags
        return api.stage_tags.setdefault(stage, {})

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api, stage = self._tagged(ctx, params["ResourceArn"])
        api = api.copy()
        self._tags_of(api, stage).update(params.get("Tags") or {})
        self.store.put(api)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api, stage = self._tagged(ctx, params["ResourceArn"])
        api = api.copy()
        tags = self._tags_of(api, stage)
        for key in params.get("TagKeys") or ():
            tags.pop(key, None)
        self.store.put(api)
        return {}

    async def get_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api, stage = self._tagged(ctx, params["ResourceArn"])
        return {"Tags": dict(self._tags_of(api.copy(), stage))}


def _by_name(stage: dict[str, Any]) -> Key:
    return (str(stage["StageName"]),)
