"""The Parameter Store provider (`ssm`, JSON 1.1): PutParameter, the Get and Delete
operations, DescribeParameters and GetParameterHistory here; PutParameter in `put.py`,
labels in `labels.py`, tags in `tagging.py`.

Each operation runs whole in a worker thread under one lock (`_threaded`): it reads the store,
decides, and commits its change durably before the answer, without holding up the event
loop. Names are checked and keyed by `fireside.ssm.names`; filters by
`fireside.ssm.filters`; SecureString values are sealed by `fireside.ssm.secrets` before
they reach the store. Operations not in `operations()` (documents, commands, sessions,
maintenance windows...) are answered by the edge as not implemented.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError, validation_error
from fireside.aws.model import load_service
from fireside.aws.pagination import token_page
from fireside.aws.validation import Validator
from fireside.ssm.filters import Filter, check_filters, legacy_filters, matches
from fireside.ssm.labels import label_version, unlabel_version
from fireside.ssm.names import (
    Selector,
    check_path,
    error,
    invalid,
    not_found,
    parameter_arn,
    parse_selector,
    version_not_found,
)
from fireside.ssm.put import PARAMETER_LIMITS, put
from fireside.ssm.secrets import SecretBox
from fireside.ssm.store import Parameter, SsmStore, Version
from fireside.ssm.tagging import TagOperations

__all__ = ["SsmProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
Sync = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SsmProvider:
    def __init__(
        self,
        store: SsmStore,
        box: SecretBox,
        *,
        parameter_limits: dict[str, int] | None = None,
    ) -> None:
        self.store = store
        self.box = box
        self.limits = {**PARAMETER_LIMITS, **(parameter_limits or {})}
        self._lock = threading.Lock()
        self.tags = TagOperations(self)
        # The wire layer checks the model's constraints; in-process callers (CloudFormation's
        # providers) come in without it, so each operation checks them too.
        self._validators: dict[str, Validator] = {}

    def operations(self) -> dict[str, Operation]:
        sync: dict[str, Sync] = {
            "PutParameter": lambda ctx, params: put(self, ctx, params),
            "GetParameter": self._get,
            "GetParameters": self._get_many,
            "GetParametersByPath": self._by_path,
            "DeleteParameter": self._delete,
            "DeleteParameters": self._delete_many,
            "DescribeParameters": self._describe,
            "GetParameterHistory": self._history,
            "LabelParameterVersion": lambda ctx, params: label_version(self, ctx, params),
            "UnlabelParameterVersion": lambda ctx, params: unlabel_version(self, ctx, params),
            "AddTagsToResource": self.tags.add,
            "RemoveTagsFromResource": self.tags.remove,
            "ListTagsForResource": self.tags.list,
        }
        for name in sync:
            shape = load_service("ssm").operation(name).input
            if shape is not None:
                self._validators[name] = Validator(shape)
        return {name: self._threaded(name, fn) for name, fn in sync.items()}

    def _threaded(self, name: str, fn: Sync) -> Operation:
        validator = self._validators.get(name)

        def locked(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            if validator is not None:
                problems = validator.problems(params)
                if problems:
                    raise validation_error(problems)
            with self._lock:
                return fn(ctx, params)

        async def operation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            return await asyncio.to_thread(locked, ctx, params)

        return operation

    def close(self) -> None:
        self.store.close()

    # -- helpers ------------------------------------------------------------------------------

    def parameter(self, ctx: RequestContext, name: str) -> Parameter | None:
        selector = parse_selector(ctx.account_id, ctx.region, name)
        if selector is None or selector.selector is not None:
            return None
        return self.store.get(ctx.account_id, ctx.region, selector.key)

    def _select(self, ctx: RequestContext, given: str) -> tuple[Parameter, Version, Selector]:
        selector = parse_selector(ctx.account_id, ctx.region, given)
        if selector is None:
            raise not_found(given)
        parameter = self.store.get(ctx.account_id, ctx.region, selector.key)
        if parameter is None:
            raise not_found(given)
        if selector.selector is None:
            return parameter, parameter.latest, selector
        for version in self.store.versions(ctx.account_id, ctx.region, selector.key):
            if version.version == selector.version or (
                selector.label is not None and selector.label in version.labels
            ):
                return parameter, version, selector
        if selector.version is not None:
            raise version_not_found(selector.version, given.rsplit(":", 1)[0])
        raise not_found(given)

    def _value(self, ctx: RequestContext, key: str, version: Version, decrypt: bool) -> str:
        if version.type != "SecureString" or not decrypt:
            return version.value  # a SecureString's ciphertext, as AWS answers undecrypted
        try:
            return self.box.open(version.value, f"{ctx.account_id}/{ctx.region}/{key}")
        except InvalidTag:  # the data directory's `ssm.key` was replaced
            raise error(
                "InvalidKeyId",
                f"The value of parameter {key} cannot be decrypted: the data directory's "
                "ssm.key is not the key it was encrypted with.",
            ) from None

    def _wire(
        self,
        ctx: RequestContext,
        parameter: Parameter,
        version: Version,
        decrypt: bool,
        selector: str | None = None,
    ) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Name": parameter.name,
            "Type": version.type,
            "Value": self._value(ctx, parameter.key, version, decrypt),
            "Version": version.version,
            "LastModifiedDate": _when(version.modified),
            "ARN": parameter_arn(ctx.account_id, ctx.region, parameter.name),
            "DataType": version.data_type,
        }
        if selector is not None:
            wire["Selector"] = selector
        return wire

    # -- reads ----------------------------------------------------------------------------------

    def _get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameter, version, selector = self._select(ctx, params["Name"])
        decrypt = bool(params.get("WithDecryption"))
        return {"Parameter": self._wire(ctx, parameter, version, decrypt, selector.selector)}

    def _get_many(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        decrypt = bool(params.get("WithDecryption"))
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for given in dict.fromkeys(params["Names"]):  # each name once, in the order given
            try:
                parameter, version, selector = self._select(ctx, given)
            except ServiceError:
                missing.append(given)
                continue
            found.append(self._wire(ctx, parameter, version, decrypt, selector.selector))
        return {"Parameters": found, "InvalidParameters": missing}

    def _by_path(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = check_path(params["Path"])
        filters = check_filters(params.get("ParameterFilters"), by_path=True)
        recursive = bool(params.get("Recursive"))
        decrypt = bool(params.get("WithDecryption"))
        if prefix.lower().startswith(("/aws/", "/ssm/")):
            candidates: list[Parameter] = []  # AWS's public parameters: not served
        elif prefix == "/":  # one-level names are keyed without their slash
            candidates = self.store.listing(ctx.account_id, ctx.region)
        else:
            candidates = self.store.listing(ctx.account_id, ctx.region, prefix)
        chosen: list[tuple[Parameter, Version]] = []
        for parameter in candidates:
            name = "/" + parameter.name.lstrip("/")
            if not recursive and "/" in name[len(prefix) :]:
                continue
            version = self._filtered_version(ctx, parameter, filters)
            if version is not None:
                chosen.append((parameter, version))
        page, more = token_page(
            chosen,
            lambda item: item[0].key,
            params.get("NextToken"),
            params.get("MaxResults") or 10,
            scope=f"by-path:{prefix}",
            invalid=lambda: error("InvalidNextToken", "The specified token isn't valid."),
            cap=10,
        )
        wires = [self._wire(ctx, p, v, decrypt) for p, v in page]
        return {"Parameters": wires, **more}

    def _filtered_version(
        self, ctx: RequestContext, parameter: Parameter, filters: list[Filter]
    ) -> Version | None:
        """The version of `parameter` the filters select: its latest, or with a `Label`
        filter the version carrying the label."""
        if not any(key == "Label" for key, _, _ in filters):
            return parameter.latest if matches(parameter, parameter.latest, filters) else None
        for version in self.store.versions(ctx.account_id, ctx.region, parameter.key):
            if matches(parameter, version, filters):
                return version
        return None

    def _describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("Filters") and params.get("ParameterFilters"):
            raise invalid("You can use either Filters or ParameterFilters in a single request.")
        if params.get("Filters"):
            filters = legacy_filters(params["Filters"])
        else:
            filters = check_filters(params.get("ParameterFilters"), by_path=False)
        found = [
            parameter
            for parameter in self.store.listing(ctx.account_id, ctx.region)
            if matches(parameter, parameter.latest, filters)
        ]
        page, more = token_page(
            found,
            lambda parameter: parameter.key,
            params.get("NextToken"),
            params.get("MaxResults") or 10,
            scope="describe",
            invalid=lambda: error("InvalidNextToken", "The specified token isn't valid."),
            cap=50,
        )
        return {"Parameters": [self._metadata(ctx, p, p.latest) for p in page], **more}

    def _metadata(
        self, ctx: RequestContext, parameter: Parameter, version: Version
    ) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Name": parameter.name,
            "ARN": parameter_arn(ctx.account_id, ctx.region, parameter.name),
            "Type": version.type,
            "LastModifiedDate": _when(version.modified),
            "LastModifiedUser": version.user,
            "Version": version.version,
            "Tier": version.tier,
            "Policies": [],
            "DataType": version.data_type,
        }
        for member, found in (
            ("KeyId", version.key_id),
            ("Description", version.description),
            ("AllowedPattern", version.allowed_pattern),
        ):
            if found is not None:
                wire[member] = found
        return wire

    def _history(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        parameter = self.parameter(ctx, name)
        if parameter is None:
            raise not_found(name)
        decrypt = bool(params.get("WithDecryption"))
        versions = self.store.versions(ctx.account_id, ctx.region, parameter.key)
        page, more = token_page(
            versions,
            lambda version: f"{version.version:012d}",
            params.get("NextToken"),
            params.get("MaxResults") or 50,
            scope=f"history:{parameter.key}",
            invalid=lambda: error("InvalidNextToken", "The specified token isn't valid."),
            cap=50,
        )
        history = []
        for version in page:
            wire = self._metadata(ctx, parameter, version)
            del wire["ARN"]
            wire["Value"] = self._value(ctx, parameter.key, version, decrypt)
            wire["Labels"] = list(version.labels)
            history.append(wire)
        return {"Parameters": history, **more}

    # -- deletes ---------------------------------------------------------------------

    def _delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameter = self.parameter(ctx, params["Name"])
        if parameter is None:
            raise not_found(params["Name"])
        self.store.delete(ctx.account_id, ctx.region, [parameter.key])
        return {}

    def _delete_many(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        deleted: list[str] = []
        missing: list[str] = []
        keys: list[str] = []
        for given in dict.fromkeys(params["Names"]):
            parameter = self.parameter(ctx, given)
            if parameter is None or parameter.key in keys:
                missing.append(given)
            else:
                keys.append(parameter.key)
                deleted.append(given)
        self.store.delete(ctx.account_id, ctx.region, keys)
        return {"DeletedParameters": deleted, "InvalidParameters": missing}
