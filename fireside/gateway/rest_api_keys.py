"""API keys and usage plans of API Gateway (v1): the control plane, and the look-up the data
plane makes for a request's `x-api-key`.

A usage plan's keys are held in its record (`_keys`, key ids); a key belongs to any number of
plans. The data plane asks `plan_for(account, region, api, stage, value)`: the enabled key with
that value and the plan that covers the API's stage, or None (AWS's 403 Forbidden).
"""

from __future__ import annotations

import copy
import secrets
import string
import time
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.gateway.rest_api_patch import apply_patch
from fireside.gateway.rest_api_store import API_KEY, REST_API, USAGE_PLAN, RestApiStore, new_id

__all__ = ["ApiKeys"]

apigateway_error = ModelledErrors("apigateway")
_ALPHABET = string.ascii_letters + string.digits
_KEY_PATCHABLE = frozenset({"name", "description", "enabled", "customerId", "stageKeys"})
_PLAN_PATCHABLE = frozenset({"name", "description", "throttle", "quota", "productCode"})


def _key_missing() -> ServiceError:
    return apigateway_error("NotFoundException", "Invalid API Key identifier specified")


def _plan_missing() -> ServiceError:
    return apigateway_error("NotFoundException", "Invalid Usage Plan ID specified")


def _public(record: dict[str, Any], include_value: bool = True) -> dict[str, Any]:
    shown = {k: v for k, v in record.items() if not k.startswith("_")}
    if not include_value:
        shown.pop("value", None)
    return shown


class ApiKeys:
    def __init__(self, store: RestApiStore) -> None:
        self.store = store
        #: Bumped on every change, so the data plane's key index knows to rebuild.
        self.version = 0
        self._index: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._indexed = -1

    def _put(self, ctx: RequestContext, kind: str, record: dict[str, Any]) -> None:
        self.store.put(ctx.account_id, ctx.region, kind, record["id"], record)
        self.version += 1

    def _delete(self, ctx: RequestContext, kind: str, key: str) -> None:
        self.store.delete(ctx.account_id, ctx.region, kind, key)
        self.version += 1

    def _key(self, ctx: RequestContext, key_id: str) -> dict[str, Any]:
        record = self.store.get(ctx.account_id, ctx.region, API_KEY, key_id)
        if record is None:
            raise _key_missing()
        return record

    def _plan(self, ctx: RequestContext, plan_id: str) -> dict[str, Any]:
        record = self.store.get(ctx.account_id, ctx.region, USAGE_PLAN, plan_id)
        if record is None:
            raise _plan_missing()
        return record

    # -- API keys ------------------------------------------------------------------------

    async def CreateApiKey(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        value = params.get("value")
        if value is not None:
            if len(value) < 20:
                raise apigateway_error(
                    "BadRequestException", "API Key value should be at least 20 characters"
                )
            taken = self.store.all(ctx.account_id, ctx.region, API_KEY)
            if any(k["value"] == value for k in taken):
                raise apigateway_error("ConflictException", "API Key already exists")
        else:
            value = "".join(secrets.choice(_ALPHABET) for _ in range(40))
        now = time.time()
        record: dict[str, Any] = {
            "id": new_id(),
            "value": value,
            "name": params.get("name", ""),
            "enabled": params.get("enabled", False),
            "createdDate": now,
            "lastUpdatedDate": now,
            "stageKeys": [
                f"{s['restApiId']}/{s['stageName']}" for s in params.get("stageKeys", [])
            ],
        }
        for member in ("description", "customerId", "tags"):
            if params.get(member):
                record[member] = params[member]
        self._put(ctx, API_KEY, record)
        return _public(record)

    async def GetApiKey(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return _public(self._key(ctx, params["apiKey"]), params.get("includeValue", False))

    async def GetApiKeys(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        keys = sorted(
            self.store.all(ctx.account_id, ctx.region, API_KEY), key=lambda k: k["createdDate"]
        )
        name = params.get("nameQuery")
        if name:
            keys = [k for k in keys if k["name"].startswith(name)]
        if params.get("customerId"):
            keys = [k for k in keys if k.get("customerId") == params["customerId"]]
        include = params.get("includeValues", False)
        return {"items": [_public(k, include) for k in keys]}

    async def UpdateApiKey(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._key(ctx, params["apiKey"]))
        apply_patch(record, params.get("patchOperations", []), _KEY_PATCHABLE)
        record["lastUpdatedDate"] = time.time()
        self._put(ctx, API_KEY, record)
        return _public(record)

    async def DeleteApiKey(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._key(ctx, params["apiKey"])
        self._delete(ctx, API_KEY, params["apiKey"])
        return {}

    # -- usage plans ---------------------------------------------------------------------

    def _check_stages(self, ctx: RequestContext, stages: list[dict[str, Any]]) -> None:
        for stage in stages:
            api = self.store.get(ctx.account_id, ctx.region, REST_API, stage.get("apiId", ""))
            if api is None:
                raise apigateway_error(
                    "NotFoundException",
                    f"Invalid API identifier specified {ctx.account_id}:{stage.get('apiId')}",
                )
            if stage.get("stage") not in api["stages"]:
                raise apigateway_error("NotFoundException", "Invalid stage identifier specified")

    async def CreateUsagePlan(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stages = params.get("apiStages", [])
        self._check_stages(ctx, stages)
        record: dict[str, Any] = {"id": new_id(6), "name": params["name"], "apiStages": stages}
        for member in ("description", "throttle", "quota", "productCode", "tags"):
            if params.get(member):
                record[member] = params[member]
        record["_keys"] = []
        self._put(ctx, USAGE_PLAN, record)
        return _public(record)

    async def GetUsagePlan(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return _public(self._plan(ctx, params["usagePlanId"]))

    async def GetUsagePlans(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        plans = self.store.all(ctx.account_id, ctx.region, USAGE_PLAN)
        if params.get("keyId"):
            plans = [p for p in plans if params["keyId"] in p["_keys"]]
        return {"items": [_public(p) for p in plans]}

    async def UpdateUsagePlan(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(self._plan(ctx, params["usagePlanId"]))
        operations = []
        for operation in params.get("patchOperations", []):
            path = operation.get("path", "")
            if path == "/apiStages":  # value "<api id>:<stage>"
                api_id, _, stage = str(operation.get("value", "")).partition(":")
                if operation.get("op") == "remove":
                    record["apiStages"] = [
                        s
                        for s in record["apiStages"]
                        if (s["apiId"], s["stage"]) != (api_id, stage)
                    ]
                else:
                    self._check_stages(ctx, [{"apiId": api_id, "stage": stage}])
                    record["apiStages"].append({"apiId": api_id, "stage": stage})
            else:
                operations.append(operation)
        apply_patch(record, operations, _PLAN_PATCHABLE)
        self._put(ctx, USAGE_PLAN, record)
        return _public(record)

    async def DeleteUsagePlan(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._plan(ctx, params["usagePlanId"])
        self._delete(ctx, USAGE_PLAN, params["usagePlanId"])
        return {}

    async def CreateUsagePlanKey(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._plan(ctx, params["usagePlanId"]))
        key = self._key(ctx, params["keyId"])
        if params.get("keyType", "API_KEY") != "API_KEY":
            raise apigateway_error("BadRequestException", "Invalid key type specified")
        if key["id"] in record["_keys"]:
            raise apigateway_error(
                "ConflictException", "Usage plan key already exists for this usage plan"
            )
        record["_keys"].append(key["id"])
        self._put(ctx, USAGE_PLAN, record)
        return self._plan_key(key)

    @staticmethod
    def _plan_key(key: dict[str, Any]) -> dict[str, Any]:
        return {"id": key["id"], "type": "API_KEY", "value": key["value"], "name": key["name"]}

    async def GetUsagePlanKey(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._plan(ctx, params["usagePlanId"])
        if params["keyId"] not in record["_keys"]:
            raise apigateway_error(
                "NotFoundException", "Invalid Usage Plan Key identifier specified"
            )
        return self._plan_key(self._key(ctx, params["keyId"]))

    async def GetUsagePlanKeys(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._plan(ctx, params["usagePlanId"])
        keys = [self.store.get(ctx.account_id, ctx.region, API_KEY, k) for k in record["_keys"]]
        items = [self._plan_key(k) for k in keys if k is not None]
        if params.get("nameQuery"):
            items = [k for k in items if k["name"].startswith(params["nameQuery"])]
        return {"items": items}

    async def DeleteUsagePlanKey(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = copy.deepcopy(self._plan(ctx, params["usagePlanId"]))
        if params["keyId"] not in record["_keys"]:
            raise apigateway_error(
                "NotFoundException", "Invalid Usage Plan Key identifier specified"
            )
        record["_keys"].remove(params["keyId"])
        self._put(ctx, USAGE_PLAN, record)
        return {}

    # -- the data plane's look-up --------------------------------------------------------

    def plan_for(
        self, account: str, region: str, api_id: str, stage: str, value: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(key, usage plan) for a request to `api_id`'s `stage` sending key `value`, or None
        when no enabled key has that value or no plan of the key covers the stage."""
        if self._indexed != self.version:
            self._index = {}
            for owner_account, owner_region, keys in self.store.scopes(API_KEY):
                scope = self._index.setdefault((owner_account, owner_region), {})
                for entry in keys.values():
                    scope[entry["value"]] = entry
            self._indexed = self.version
        key = self._index.get((account, region), {}).get(value)
        if key is None or not key.get("enabled"):
            return None
        for plan in self.store.all(account, region, USAGE_PLAN):
            if key["id"] in plan["_keys"] and any(
                s["apiId"] == api_id and s["stage"] == stage for s in plan["apiStages"]
            ):
                return key, plan
        return None
