"""API Gateway's patch operations (`Update*` calls) applied to a stored record.

API Gateway takes a list of `{op, path, value}` in the spirit of JSON Patch, with its own
habits: values are always strings (`"true"`, `"100"`), a path names a map entry by key
(`/variables/color`), a list member by its value (`/binaryMediaTypes/image~1png`, with `~1`
for `/`), and stage method settings by `/<resource path>/<method>/<setting>`
(`/*/*/throttling/rateLimit`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fireside.aws.errors import ModelledErrors

__all__ = ["apply_patch", "unescape"]

apigateway_error = ModelledErrors("apigateway")

#: Members stored as booleans or numbers, whose patch values arrive as strings.
_BOOLEANS = frozenset(
    {
        "apiKeyRequired",
        "cacheClusterEnabled",
        "tracingEnabled",
        "disableExecuteApiEndpoint",
        "enabled",
        "metricsEnabled",
        "dataTraceEnabled",
        "cachingEnabled",
        "requireAuthorizationForCacheControl",
    }
)
_INTEGERS = frozenset(
    {
        "minimumCompressionSize",
        "timeoutInMillis",
        "burstLimit",
        "limit",
        "offset",
        "authorizerResultTtlInSeconds",
    }
)
_FLOATS = frozenset({"rateLimit"})
#: Members that are lists of strings: `add` with a value appends to them.
_LISTS = frozenset(
    {"binaryMediaTypes", "stageKeys", "authorizationScopes", "cacheKeyParameters", "types"}
)
#: Stage method-setting paths (`throttling/rateLimit`) and the member each sets.
_METHOD_SETTINGS = {
    "metrics/enabled": "metricsEnabled",
    "logging/loglevel": "loggingLevel",
    "logging/dataTrace": "dataTraceEnabled",
    "throttling/burstLimit": "throttlingBurstLimit",
    "throttling/rateLimit": "throttlingRateLimit",
    "caching/enabled": "cachingEnabled",
    "caching/ttlInSeconds": "cacheTtlInSeconds",
    "caching/dataEncrypted": "cacheDataEncrypted",
    "caching/requireAuthorizationForCacheControl": "requireAuthorizationForCacheControl",
    "caching/unauthorizedCacheControlHeaderStrategy": "unauthorizedCacheControlHeaderStrategy",
}


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def _typed(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _BOOLEANS or name.endswith("Enabled"):
        return value.lower() == "true"
    try:
        if name in _INTEGERS or name == "cacheTtlInSeconds" or name == "throttlingBurstLimit":
            return int(value)
        if name in _FLOATS or name == "throttlingRateLimit":
            return float(value)
    except ValueError:
        raise apigateway_error(
            "BadRequestException", f"Invalid value '{value}' for {name}"
        ) from None
    return value


def _invalid(op: str, path: str) -> Exception:
    return apigateway_error(
        "BadRequestException", f"Invalid patch path '{path}' specified for op '{op}'."
    )


def apply_patch(
    record: dict[str, Any],
    operations: Iterable[dict[str, Any]],
    allowed: frozenset[str],
    *,
    method_settings: bool = False,
) -> None:
    """Apply patch `operations` to `record` in place; `allowed` names the top-level members
    that may be changed (others are AWS's BadRequestException)."""
    for operation in operations:
        op = operation.get("op", "")
        path = operation.get("path", "")
        value = operation.get("value")
        parts = [unescape(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        if not parts:
            raise _invalid(op, path)
        if method_settings and len(parts) >= 3 and parts[0] not in allowed:
            # `/<resource path>/<method>/<setting>`: the resource path's own slashes arrive
            # escaped (`~1items`); `*` stands for every resource or method.
            setting = _METHOD_SETTINGS.get("/".join(parts[-2:]))
            if setting is None:
                raise _invalid(op, path)
            key = f"{parts[0].lstrip('/') or '*'}/{parts[1]}"
            settings = record.setdefault("methodSettings", {}).setdefault(key, {})
            if op == "remove":
                settings.pop(setting, None)
            else:
                settings[setting] = _typed(setting, value)
            continue
        if parts[0] not in allowed:
            raise _invalid(op, path)
        _apply(record, op, parts, value, path)


def _apply(record: dict[str, Any], op: str, parts: list[str], value: Any, path: str) -> None:
    parent: Any = record
    for index, part in enumerate(parts[:-1]):
        child = parent.get(part) if isinstance(parent, dict) else None
        if child is None:
            if op == "remove":
                return
            # A list member named by value (`/binaryMediaTypes/image~1png`) ends the path.
            child = [] if part.endswith("s") and index == len(parts) - 2 and op == "add" else {}
            if part == "variables" or part == "requestParameters":
                child = {}
            parent[part] = child
        parent = child
    last = parts[-1]
    if isinstance(parent, list):
        member = value if value is not None and last in ("-", "0") else last
        if op == "remove" or op == "replace":
            if member in parent:
                parent.remove(member)
            member = value if op == "replace" else None
        if member is not None and member not in parent:
            parent.append(member)
        return
    if not isinstance(parent, dict):
        raise _invalid(op, path)
    if op == "add" and last in _LISTS and last not in parent:
        parent[last] = []
    if isinstance(parent.get(last), list) and op in ("add", "remove", "replace"):
        # A list named whole (`/binaryMediaTypes` with a value): add or remove that member.
        members: list[Any] = parent[last]
        if op == "replace":
            members.clear()
        if op == "remove" and value is None:
            del parent[last]
        elif op == "remove":
            if value in members:
                members.remove(value)
        elif value is not None and value not in members:
            members.append(value)
        return
    if op == "remove":
        parent.pop(last, None)
    elif op in ("add", "replace"):
        parent[last] = _typed(last, value)
    elif op == "copy" or op == "move":
        source = operation_source(record, value)
        parent[last] = source
    else:
        raise apigateway_error("BadRequestException", f"Invalid patch operation specified: {op}")


def operation_source(record: dict[str, Any], source: Any) -> Any:
    found: Any = record
    for part in str(source or "").strip("/").split("/"):
        if not isinstance(found, dict):
            return None
        found = found.get(unescape(part))
    return found
