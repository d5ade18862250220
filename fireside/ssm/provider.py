"""The Parameter Store provider (`ssm`, JSON 1.1): PutParameter, the Get and Delete
operations, DescribeParameters, GetParameterHistory, labels and tags of parameters.

Each operation runs whole in a worker thread under one lock (`_run`): it reads the store,
decides, and commits its change durably before the answer, without holding up the event
loop. Names are checked and keyed by `fireside.ssm.names`; filters by
`fireside.ssm.filters`; SecureString values are sealed by `fireside.ssm.secrets` before
they reach the store. Operations not in `operations()` (documents, commands, sessions,
maintenance windows...) are answered by the edge as not implemented.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidTag

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError, validation_error
from fireside.aws.model import load_service
from fireside.aws.pagination import token_page
from fireside.aws.protocol import not_implemented
from fireside.aws.validation import Validator
from fireside.ssm.filters import Filter, check_filters, legacy_filters, matches
from fireside.ssm.names import (
    Selector,
    check_name,
    check_path,
    error,
    invalid,
    key_of,
    parameter_arn,
    parse_selector,
)
from fireside.ssm.secrets import SecretBox
from fireside.ssm.store import Parameter, SsmStore, Version
from fireside.ssm.tagging import TagOperations, tag_map

__all__ = ["SsmProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
Sync = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]

DEFAULT_KEY: Final = "alias/aws/ssm"
MAX_VERSIONS: Final = 100
MAX_LABELS: Final = 10
#: Values per tier, and parameters per tier per account and region (AWS's quotas).
VALUE_LIMITS: Final = {"Standard": 4096, "Advanced": 8192}
PARAMETER_LIMITS: Final = {"Standard": 10_000, "Advanced": 100_000}
_DATA_TYPES: Final = frozenset({"text", "aws:ec2:image", "aws:ssm:integration"})
_LABEL: Final = re.compile(r"^[a-zA-Z0-9_.\-]{1,100}$")


def _not_found(name: str) -> ServiceError:
    return error("ParameterNotFound", f"Parameter {name} not found.")


def _version_not_found(version: int, name: str) -> ServiceError:
    return error(
        "ParameterVersionNotFound",
        f"Systems Manager could not find version {version} of {name}. "
        "Verify the version and try again.",
    )


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
            "PutParameter": self._put,
            "GetParameter": self._get,
            "GetParameters": self._get_many,
            "GetParametersByPath": self._by_path,
            "DeleteParameter": self._delete,
            "DeleteParameters": self._delete_many,
            "DescribeParameters": self._describe,
            "GetParameterHistory": self._history,
            "LabelParameterVersion": self._label,
            "UnlabelParameterVersion": self._unlabel,
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
            raise _not_found(given)
        parameter = self.store.get(ctx.account_id, ctx.region, selector.key)
        if parameter is None:
            raise _not_found(given)
        if selector.selector is None:
            return parameter, parameter.latest, selector
        for version in self.store.versions(ctx.account_id, ctx.region, selector.key):
            if version.version == selector.version or (
                selector.label is not None and selector.label in version.labels
            ):
                return parameter, version, selector
        if selector.version is not None:
            raise _version_not_found(selector.version, given.rsplit(":", 1)[0])
        raise _not_found(given)

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

    # -- PutParameter ---------------------------------------------------------------------------

    def _put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        value: str = params["Value"]
        overwrite = bool(params.get("Overwrite"))
        check_name(name)
        if value == "":
            raise validation_error(
                [
                    "Value '' at 'value' failed to satisfy constraint: Member must have "
                    "length greater than or equal to 1"
                ]
            )
        if overwrite and params.get("Tags"):
            raise invalid(
                "Invalid request: tags and overwrite can't be used together. To create a "
                "parameter with tags, please remove overwrite flag. To update tags for an "
                "existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
            )
        if params.get("Policies"):
            raise not_implemented("PutParameter with Policies (parameter policies)", "SSM")
        data_type = params.get("DataType")
        if data_type is not None and data_type not in _DATA_TYPES:
            raise invalid(
                f"The following data type is not supported: {data_type} "
                "(Data type names are all lowercase.)"
            )
        key = key_of(name)
        account, region = ctx.account_id, ctx.region
        existing = self.store.get(account, region, key)
        if existing is not None and not overwrite:
            raise error(
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this value, set the overwrite "
                "option in the request to true.",
            )
        before = existing.latest if existing is not None else None
        kind = params.get("Type") or (before.type if before else None)
        if kind is None:
            raise invalid("A parameter type is required when you create a parameter.")
        tier = self._tier(params.get("Tier"), before, value)
        pattern = params.get("AllowedPattern", before.allowed_pattern if before else None)
        _check_pattern(pattern, value)
        if before is None or before.tier != tier:
            limit = self.limits[tier]
            if self.store.count(account, region, tier) >= limit:
                raise error("ParameterLimitExceeded", _limit_message(tier, limit))
        key_id = None
        if kind == "SecureString":
            kept = before.key_id if before and before.type == "SecureString" else None
            key_id = params.get("KeyId") or kept or DEFAULT_KEY
        stored = self.box.seal(value, f"{account}/{region}/{key}") if key_id else value
        version = Version(
            version=before.version + 1 if before else 1,
            type=kind,
            value=stored,
            modified=time.time(),
            user=f"arn:aws:iam::{account}:root",
            tier=tier,
            data_type=data_type or (before.data_type if before else "text"),
            description=params.get("Description", before.description if before else None),
            allowed_pattern=pattern,
            key_id=key_id,
        )
        dropped: list[int] = []
        if existing is not None:
            history = self.store.versions(account, region, key)
            if len(history) >= MAX_VERSIONS:
                oldest = history[0]
                if oldest.labels:
                    raise error(
                        "ParameterMaxVersionLimitExceeded",
                        f"You attempted to create a new version of {name} by calling the "
                        f"PutParameter API with the overwrite flag. Version {oldest.version}, "
                        "the oldest version, can't be deleted because it has a label "
                        "associated with it. Move the label to another version of the "
                        "parameter, and try again.",
                    )
                dropped.append(oldest.version)
            parameter = Parameter(key, existing.name, version, existing.tags)
        else:
            parameter = Parameter(key, name, version, tag_map(params.get("Tags")))
        self.store.save(account, region, parameter, [version], dropped)
        return {"Version": version.version, "Tier": tier}

    @staticmethod
    def _tier(requested: str | None, before: Version | None, value: str) -> str:
        previous = before.tier if before is not None else None
        tier = requested or previous or "Standard"
        if tier == "Intelligent-Tiering":
            big = len(value) > VALUE_LIMITS["Standard"]
            tier = "Advanced" if big or previous == "Advanced" else "Standard"
        if previous == "Advanced" and tier == "Standard":
            raise invalid(
                "This parameter uses the advanced-parameter tier. You can't downgrade a "
                "parameter from the advanced-parameter tier to the standard-parameter tier. "
                "If necessary, you can delete the advanced parameter and recreate it as a "
                "standard parameter."
            )
        if len(value) > VALUE_LIMITS[tier]:
            if tier == "Standard":
                raise invalid(
                    "Standard tier parameters support a maximum parameter value of 4096 "
                    "characters. To create a larger parameter value, upgrade the parameter to "
                    "use the advanced-parameter tier. For more information, see "
                    "https://docs.aws.amazon.com/systems-manager/latest/userguide/"
                    "parameter-store-advanced-parameters.html"
                )
            raise validation_error(
                [
                    "Value at 'value' failed to satisfy constraint: Member must have length "
                    f"less than or equal to {VALUE_LIMITS['Advanced']}"
                ]
            )
        return tier

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
            raise _not_found(name)
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

    # -- deletes and labels ---------------------------------------------------------------------

    def _delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameter = self.parameter(ctx, params["Name"])
        if parameter is None:
            raise _not_found(params["Name"])
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

    def _label(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        parameter = self.parameter(ctx, name)
        if parameter is None:
            raise _not_found(name)
        number = params.get("ParameterVersion") or parameter.latest.version
        versions = self.store.versions(ctx.account_id, ctx.region, parameter.key)
        target = next((v for v in versions if v.version == number), None)
        if target is None:
            raise _version_not_found(number, name)
        labels: list[str] = params["Labels"]
        bad = [label for label in labels if not _valid_label(label)]
        good = [label for label in dict.fromkeys(labels) if label not in bad]
        added = [label for label in good if label not in target.labels]
        if len(target.labels) + len(added) > MAX_LABELS:
            raise error(
                "ParameterVersionLabelLimitExceeded",
                "An error occurred (ParameterVersionLabelLimitExceeded) when calling the "
                "LabelParameterVersion operation: A parameter version can have maximum 10 "
                "labels.Move one or more labels to another version and try again.",
            )
        changed = [target]
        for version in versions:  # a label names one version of a parameter: it moves
            if version is not target and set(version.labels) & set(added):
                version.labels = [label for label in version.labels if label not in added]
                changed.append(version)
        target.labels += added
        if target.version == parameter.latest.version:
            parameter.latest = target
        self.store.save(ctx.account_id, ctx.region, parameter, changed)
        return {"InvalidLabels": bad, "ParameterVersion": number}

    def _unlabel(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        parameter = self.parameter(ctx, name)
        if parameter is None:
            raise _not_found(name)
        number = params["ParameterVersion"]
        versions = self.store.versions(ctx.account_id, ctx.region, parameter.key)
        target = next((v for v in versions if v.version == number), None)
        if target is None:
            raise _version_not_found(number, name)
        labels = list(dict.fromkeys(params["Labels"]))
        removed = [label for label in labels if label in target.labels]
        target.labels = [label for label in target.labels if label not in removed]
        if target.version == parameter.latest.version:
            parameter.latest = target
        self.store.save(ctx.account_id, ctx.region, parameter, [target])
        return {
            "RemovedLabels": removed,
            "InvalidLabels": [label for label in labels if label not in removed],
        }


def _valid_label(label: str) -> bool:
    """AWS's label rules: letters, digits, `.-_`; not beginning with a digit, `aws` or
    `ssm`. A label breaking them comes back in `InvalidLabels`."""
    lowered = label.lower()
    return (
        bool(_LABEL.match(label))
        and not label[0].isdigit()
        and not lowered.startswith(("aws", "ssm"))
    )


def _check_pattern(pattern: str | None, value: str) -> None:
    if not pattern:
        return
    try:
        compiled = re.compile(pattern)
    except re.error:
        raise error(
            "InvalidAllowedPatternException",
            "The request doesn't meet the regular expression requirement.",
        ) from None
    if compiled.fullmatch(value) is None:
        raise error(
            "ParameterPatternMismatchException",
            f"Parameter value, cannot be validated against allowedPattern: {pattern}",
        )


def _limit_message(tier: str, limit: int) -> str:
    if tier == "Standard":
        return (
            f"You have reached the maximum number of standard parameters for this AWS account "
            f"and Region ({limit}). To add more parameters, either delete existing parameters "
            "or upgrade to the advanced-parameter tier (charges apply)."
        )
    return (
        f"You have reached the maximum number of advanced parameters for this AWS account "
        f"and Region ({limit}). To add more parameters, delete existing parameters."
    )
