"""The smaller API Gateway (REST) resource types: Authorizer, ApiKey, UsagePlan,
UsagePlanKey, GatewayResponse, Model, RequestValidator; and `patch`, which turns a change of
CloudFormation properties into the patch operations API Gateway's `Update*` calls take.

CloudFormation's property names are API Gateway's with a capital first letter
(`AuthorizerUri` / `authorizerUri`); `lower` maps them. Updates are in place where AWS's
documentation says "No interruption", by one `Update*` call with the changed members.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fireside.cloudformation.providers.service_support import (
    Provider,
    retag,
    tags_of,
)
from fireside.cloudformation.providers.support import (
    call,
    name_for,
)
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["REST_TAGS", "lower", "parts_providers", "patch", "pick_lower", "rest_arn"]

#: API Gateway's tagging operations and member names (see `retag`).
REST_TAGS = ("TagResource", "UntagResource", "resourceArn", "tags")


def rest_arn(ctx: ResourceContext, path: str) -> str:
    """The ARN API Gateway tags by: `restapis/<id>`, `apikeys/<id>`, ..."""
    if "/" not in path:
        path = f"restapis/{path}"
    return f"arn:aws:apigateway:{ctx.region}::/{path}"


def lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def pick_lower(properties: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """`keys` of `properties` that are set, under API Gateway's member names."""
    return {lower(key): properties[key] for key in keys if properties.get(key) is not None}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def patch(
    old: dict[str, Any],
    new: dict[str, Any],
    scalars: Iterable[str] = (),
    maps: Iterable[str] = (),
    lists: Iterable[str] = (),
) -> list[dict[str, str]]:
    """Patch operations taking the members named (CloudFormation names) from `old` to `new`:
    scalars replaced or removed, maps entry by entry, lists member by member."""
    ops: list[dict[str, str]] = []
    for key in scalars:
        if old.get(key) == new.get(key):
            continue
        path = f"/{lower(key)}"
        if new.get(key) is None:
            ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "replace", "path": path, "value": _text(new[key])})
    for key in maps:
        before, after = dict(old.get(key) or {}), dict(new.get(key) or {})
        for entry in before.keys() - after.keys():
            ops.append({"op": "remove", "path": f"/{lower(key)}/{_escape(entry)}"})
        for entry, value in after.items():
            if before.get(entry) != value:
                path = f"/{lower(key)}/{_escape(entry)}"
                ops.append({"op": "replace", "path": path, "value": _text(value)})
    for key in lists:
        before_list, after_list = list(old.get(key) or []), list(new.get(key) or [])
        for member in before_list:
            if member not in after_list:
                ops.append({"op": "remove", "path": f"/{lower(key)}/{_escape(str(member))}"})
        for member in after_list:
            if member not in before_list:
                ops.append({"op": "add", "path": f"/{lower(key)}/{_escape(str(member))}"})
    return ops


class _Simple(Provider):
    """A resource of a REST API created by one call, updated by patching, deleted by one."""

    create_op = ""
    update_op = ""
    delete_op = ""
    id_member = "id"  # the created resource's id in the answer
    id_param = ""  # its name in Update/Delete calls
    keys: tuple[str, ...] = ()
    scalars: tuple[str, ...] = ()
    maps: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    attribute = ""  # the GetAtt name of the id, if any
    in_api = True  # addressed within a REST API (`restApiId`)

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = pick_lower(properties, self.keys)
        if self.in_api:
            params["restApiId"] = properties["RestApiId"]
        return params

    def _created(self, physical_id: str) -> Created:
        return Created(physical_id, {self.attribute: physical_id} if self.attribute else {})

    def _address(self, physical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        address = {self.id_param: physical_id}
        if self.in_api:
            address["restApiId"] = properties["RestApiId"]
        return address

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        answer = await call(ctx, "apigateway", self.create_op, self._params(ctx, properties))
        return self._created(str(answer[self.id_member]))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        ops = patch(old, new, self.scalars, self.maps, self.lists)
        if ops:
            params = {**self._address(physical_id, new), "patchOperations": ops}
            await call(ctx, "apigateway", self.update_op, params)
        return self._created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = self._address(physical_id, properties)
        await call(ctx, "apigateway", self.delete_op, params, missing_ok=True)


class Authorizer(_Simple):
    type_name = "AWS::ApiGateway::Authorizer"
    replace_on = frozenset({"RestApiId"})
    create_op, update_op, delete_op = "CreateAuthorizer", "UpdateAuthorizer", "DeleteAuthorizer"
    id_param, attribute = "authorizerId", "AuthorizerId"
    scalars = (
        "Name",
        "Type",
        "AuthorizerUri",
        "AuthorizerCredentials",
        "IdentitySource",
        "IdentityValidationExpression",
        "AuthorizerResultTtlInSeconds",
        "AuthType",
    )
    keys = (*scalars, "ProviderARNs")


class RequestValidator(_Simple):
    type_name = "AWS::ApiGateway::RequestValidator"
    replace_on = frozenset({"RestApiId", "Name"})
    create_op = "CreateRequestValidator"
    update_op, delete_op = "UpdateRequestValidator", "DeleteRequestValidator"
    id_param, attribute = "requestValidatorId", "RequestValidatorId"
    scalars = ("ValidateRequestBody", "ValidateRequestParameters")
    keys = ("Name", *scalars)

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = super()._params(ctx, properties)
        params.setdefault("name", name_for(ctx, None, 128))
        return params


class Model(_Simple):
    """Ref is the model's name (generated, letters and digits only, when not given)."""

    type_name = "AWS::ApiGateway::Model"
    replace_on = frozenset({"RestApiId", "Name", "ContentType"})
    create_op, update_op, delete_op = "CreateModel", "UpdateModel", "DeleteModel"
    id_member, id_param = "name", "modelName"
    scalars = ("Description", "Schema")
    keys = ("Name", "ContentType", "Description", "Schema")

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = super()._params(ctx, properties)
        if "name" not in params:
            params["name"] = "".join(ch for ch in name_for(ctx, None, 128) if ch.isalnum())
        params.setdefault("contentType", "application/json")
        if isinstance(params.get("schema"), (dict, list)):
            params["schema"] = json.dumps(params["schema"])
        return params


class GatewayResponse(Provider):
    """PutGatewayResponse creates and replaces; Ref is `<api id>:<response type>`."""

    type_name = "AWS::ApiGateway::GatewayResponse"
    replace_on = frozenset({"RestApiId", "ResponseType"})
    _KEYS = ("ResponseType", "StatusCode", "ResponseParameters", "ResponseTemplates")

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = pick_lower(properties, self._KEYS)
        params["restApiId"] = properties["RestApiId"]
        await call(ctx, "apigateway", "PutGatewayResponse", params)
        return Created(f"{properties['RestApiId']}:{properties['ResponseType']}")

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        return await self.create(ctx, new)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"restApiId": properties["RestApiId"], "responseType": properties["ResponseType"]}
        await call(ctx, "apigateway", "DeleteGatewayResponse", params, missing_ok=True)


class ApiKey(_Simple):
    type_name = "AWS::ApiGateway::ApiKey"
    replace_on = frozenset({"GenerateDistinctId", "Name", "Value"})
    create_op, update_op, delete_op = "CreateApiKey", "UpdateApiKey", "DeleteApiKey"
    id_param, attribute = "apiKey", "APIKeyId"
    scalars = ("CustomerId", "Description", "Enabled")
    keys = ("Name", "Value", "GenerateDistinctId", *scalars)
    in_api = False

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = super()._params(ctx, properties)
        params.setdefault("name", name_for(ctx, None, 1024))
        params.setdefault("enabled", False)  # CloudFormation's default, unlike the API's
        stage_keys = [
            {"restApiId": key.get("RestApiId"), "stageName": key.get("StageName")}
            for key in properties.get("StageKeys") or []
        ]
        if stage_keys:
            params["stageKeys"] = stage_keys
        tags = tags_of(ctx, properties.get("Tags"))
        if tags:
            params["tags"] = tags
        return params

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        """The scalars patched, and `StageKeys` member by member (`<api id>/<stage>`)."""

        def keys(props: dict[str, Any]) -> list[str]:
            return [
                f"{k.get('RestApiId')}/{k.get('StageName')}" for k in props.get("StageKeys") or []
            ]

        before, after = keys(old), keys(new)
        ops = patch(old, new, self.scalars)
        ops += [
            {"op": "remove", "path": "/stageKeys", "value": k} for k in before if k not in after
        ]
        ops += [{"op": "add", "path": "/stageKeys", "value": k} for k in after if k not in before]
        if ops:
            params = {"apiKey": physical_id, "patchOperations": ops}
            await call(ctx, "apigateway", "UpdateApiKey", params)
        before_tags, after_tags = tags_of(ctx, old.get("Tags")), tags_of(ctx, new.get("Tags"))
        arn = rest_arn(ctx, f"apikeys/{physical_id}")
        await retag(ctx, "apigateway", arn, before_tags, after_tags, REST_TAGS)
        return self._created(physical_id)


class UsagePlan(_Simple):
    type_name = "AWS::ApiGateway::UsagePlan"
    # AWS updates ApiStages in place; Fireside's UpdateUsagePlan does not patch apiStages, so a
    # change makes a new plan (its usage plan keys follow, being replaced with it).
    replace_on = frozenset({"ApiStages"})
    create_op, update_op, delete_op = "CreateUsagePlan", "UpdateUsagePlan", "DeleteUsagePlan"
    id_param, attribute = "usagePlanId", "Id"
    scalars = ("Description",)
    in_api = False

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = pick_lower(properties, ("Description",))
        params["name"] = properties.get("UsagePlanName") or name_for(ctx, None, 1024)
        stages = [
            {"apiId": stage["ApiId"], "stage": stage["Stage"]}
            for stage in properties.get("ApiStages") or []
        ]
        if stages:
            params["apiStages"] = stages
        for key in ("Quota", "Throttle"):
            if properties.get(key):
                params[lower(key)] = {lower(k): v for k, v in properties[key].items()}
        tags = tags_of(ctx, properties.get("Tags"))
        if tags:
            params["tags"] = tags
        return params

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        ops = patch(old, new, self.scalars)
        if old.get("UsagePlanName") != new.get("UsagePlanName") and new.get("UsagePlanName"):
            ops.append({"op": "replace", "path": "/name", "value": new["UsagePlanName"]})
        for key in ("Quota", "Throttle"):
            before, after = old.get(key) or {}, new.get(key) or {}
            for member in set(before) | set(after):
                if before.get(member) != after.get(member):
                    path = f"/{lower(key)}/{lower(member)}"
                    if after.get(member) is None:
                        ops.append({"op": "remove", "path": path})
                    else:
                        ops.append({"op": "replace", "path": path, "value": _text(after[member])})
        if ops:
            params = {"usagePlanId": physical_id, "patchOperations": ops}
            await call(ctx, "apigateway", "UpdateUsagePlan", params)
        before_tags, after_tags = tags_of(ctx, old.get("Tags")), tags_of(ctx, new.get("Tags"))
        arn = rest_arn(ctx, f"usageplans/{physical_id}")
        await retag(ctx, "apigateway", arn, before_tags, after_tags, REST_TAGS)
        return self._created(physical_id)


class UsagePlanKey(Provider):
    type_name = "AWS::ApiGateway::UsagePlanKey"
    replace_on = frozenset({"KeyId", "KeyType", "UsagePlanId"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = {
            "usagePlanId": properties["UsagePlanId"],
            "keyId": properties["KeyId"],
            "keyType": properties.get("KeyType", "API_KEY"),
        }
        answer = await call(ctx, "apigateway", "CreateUsagePlanKey", params)
        # Ref: the key's id and the plan's, joined by ":" (AWS's documentation).
        physical_id = f"{answer['id']}:{properties['UsagePlanId']}"
        return Created(physical_id, {"Id": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        key_id = physical_id.split(":", 1)[0]
        params = {"usagePlanId": properties["UsagePlanId"], "keyId": key_id}
        await call(ctx, "apigateway", "DeleteUsagePlanKey", params, missing_ok=True)


class Account(Provider):
    """The region's API Gateway settings (what CDK's `cloudWatchRole` sets): UpdateAccount.
    Ref is a generated id; a delete leaves the settings as they are, as CloudFormation does."""

    type_name = "AWS::ApiGateway::Account"
    replace_on = frozenset()

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        await self._set(ctx, {}, properties)
        return Created(name_for(ctx, None, 128))

    @staticmethod
    async def _set(ctx: ResourceContext, old: dict[str, Any], new: dict[str, Any]) -> None:
        ops = patch(old, new, ("CloudWatchRoleArn",))
        for op in ops:
            op["path"] = "/cloudwatchRoleArn"  # API Gateway's spelling
        if ops:
            await call(ctx, "apigateway", "UpdateAccount", {"patchOperations": ops})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        await self._set(ctx, old, new)
        return Created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        return None


def parts_providers() -> list[ResourceType]:
    return [
        Account(),
        Authorizer(),
        RequestValidator(),
        Model(),
        GatewayResponse(),
        ApiKey(),
        UsagePlan(),
        UsagePlanKey(),
    ]
