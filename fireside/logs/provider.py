"""The CloudWatch Logs provider (`logs`, json protocol): log groups, streams, retention and
tags, per account and region; the event operations are `fireside.logs.events_api`'s and
Live Tail is `fireside.logs.live_tail`'s. Any other Logs operation is answered by the edge
as not implemented.

A caller names groups by name or by ARN (`logGroupIdentifier`); an ARN of another account's
group is not found, as the account's own listing is all it can see.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.logs.groups import LogGroups
from fireside.logs.index import StreamStats
from fireside.logs.store import LogGroup, now_ms

__all__ = ["LogsProvider", "invalid", "not_found"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

error = ModelledErrors("logs")

RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
MAX_TAGS: Final = 50
#: AWS's default quota of log groups per account and region.
MAX_GROUPS: Final = 1_000_000


def invalid(message: str) -> ServiceError:
    return error("InvalidParameterException", message)


def not_found(message: str = "The specified log group does not exist.") -> ServiceError:
    return error("ResourceNotFoundException", message)


def encode_token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def decode_token(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (UnicodeError, ValueError, binascii.Error):
        raise invalid("The specified nextToken is invalid.") from None


def group_name_of(identifier: str, ctx: RequestContext) -> str:
    """A group's name from its name or ARN (of the caller's account and region)."""
    if not identifier.startswith("arn:"):
        return identifier
    parts = identifier.split(":", 6)
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
        raise invalid(f"Invalid log group identifier: {identifier}")
    if parts[3] != ctx.region or parts[4] != ctx.account_id:
        raise not_found()
    name = parts[6]
    return name[:-2] if name.endswith(":*") else name


def described(group: LogGroup, stored: int) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created,
        "metricFilterCount": 0,
        "arn": group.arn + ":*",
        "logGroupArn": group.arn,
        "storedBytes": stored,
        "logGroupClass": "STANDARD",
        "deletionProtectionEnabled": False,
    }
    if group.retention is not None:
        wire["retentionInDays"] = group.retention
    if group.kms_key_id is not None:
        wire["kmsKeyId"] = group.kms_key_id
    return wire


class LogsProvider:
    def __init__(self, groups: LogGroups) -> None:
        self.groups = groups

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateLogGroup": self.create_log_group,
            "DeleteLogGroup": self.delete_log_group,
            "DescribeLogGroups": self.describe_log_groups,
            "PutRetentionPolicy": self.put_retention_policy,
            "DeleteRetentionPolicy": self.delete_retention_policy,
            "TagLogGroup": self.tag_log_group,
            "UntagLogGroup": self.untag_log_group,
            "ListTagsLogGroup": self.list_tags_log_group,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "CreateLogStream": self.create_log_stream,
            "DeleteLogStream": self.delete_log_stream,
            "DescribeLogStreams": self.describe_log_streams,
        }

    # -- helpers ---------------------------------------------------------------------------------
    def group(self, ctx: RequestContext, params: dict[str, Any]) -> LogGroup:
        """The group a request names by `logGroupName` or `logGroupIdentifier`."""
        name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
        if name is not None and identifier is not None:
            raise invalid(
                "LogGroup name and LogGroup identifier are mutually exclusive parameters."
            )
        if identifier is not None:
            name = group_name_of(identifier, ctx)
        if name is None:
            raise invalid("Either logGroupName or logGroupIdentifier must be specified.")
        group = self.groups.find(ctx.account_id, ctx.region, name)
        if group is None:
            raise not_found()
        return group

    def _by_arn(self, ctx: RequestContext, arn: str) -> LogGroup:
        if ":log-group:" not in arn:
            raise invalid(f"Invalid resource ARN: {arn}")
        group = self.groups.find(ctx.account_id, ctx.region, group_name_of(arn, ctx))
        if group is None:
            raise not_found(f"The specified resource does not exist: {arn}")
        return group

    def _tag(self, group: LogGroup, tags: dict[str, str]) -> None:
        merged = {**group.tags, **tags}
        if len(merged) > MAX_TAGS:
            raise error(
                "TooManyTagsException",
                f"A resource can have no more than {MAX_TAGS} tags.",
                resourceName=group.arn,
            )
        group.tags = merged
        self.groups.store.save_group(group)

    def _untag(self, group: LogGroup, keys: list[str]) -> None:
        group.tags = {k: v for k, v in group.tags.items() if k not in keys}
        self.groups.store.save_group(group)

    # -- groups ----------------------------------------------------------------------------------
    async def create_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["logGroupName"]
        if self.groups.find(ctx.account_id, ctx.region, name) is not None:
            raise error("ResourceAlreadyExistsException", "The specified log group already exists")
        tags = params.get("tags") or {}
        if len(tags) > MAX_TAGS:
            raise invalid(f"A log group can have no more than {MAX_TAGS} tags.")
        self.groups.create(ctx.account_id, ctx.region, name, tags, params.get("kmsKeyId"))
        return {}

    async def delete_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.group(ctx, {"logGroupName": params["logGroupName"]})
        self.groups.delete(group)  # truncates files the event loop writes: on the loop
        return {}

    async def describe_log_groups(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        identifiers = params.get("logGroupIdentifiers")
        if prefix is not None and pattern is not None:
            raise invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        if identifiers is not None and (prefix is not None or pattern is not None):
            raise invalid(
                "logGroupIdentifiers cannot be used with logGroupNamePrefix or logGroupNamePattern."
            )
        self.groups.discover(ctx.account_id, ctx.region)
        wanted = None
        if identifiers is not None:  # another account's or region's ARN names nothing here
            wanted = {
                i.removesuffix(":*").split(":log-group:", 1)[-1]
                for i in identifiers
                if not i.startswith("arn:") or f":{ctx.region}:{ctx.account_id}:log-group:" in i
            }
        after = decode_token(params["nextToken"]) if params.get("nextToken") else None
        limit = params.get("limit") or 50
        page: list[LogGroup] = []
        more = False
        for group in self.groups.store.groups(ctx.account_id, ctx.region):
            if after is not None and group.name <= after:
                continue
            if prefix is not None and not group.name.startswith(prefix):
                continue
            if pattern and pattern.lower() not in group.name.lower():
                continue
            if wanted is not None and group.name not in wanted:
                continue
            if len(page) == limit:
                more = True
                break
            page.append(group)
        result: dict[str, Any] = {"logGroups": [described(g, self._stored_bytes(g)) for g in page]}
        if more:
            result["nextToken"] = encode_token(page[-1].name)
        return result

    def _stored_bytes(self, group: LogGroup) -> int:
        total = 0
        for _, path in self.groups.files(group).halves():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    async def put_retention_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise invalid(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(str(d) for d in RETENTION_DAYS)}]"
            )
        group = self.group(ctx, {"logGroupName": params["logGroupName"]})
        group.retention = days
        self.groups.store.save_group(group)
        return {}

    async def delete_retention_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.group(ctx, {"logGroupName": params["logGroupName"]})
        group.retention = None
        self.groups.store.save_group(group)
        return {}

    # -- tags ------------------------------------------------------------------------------------
    async def tag_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._tag(self.group(ctx, {"logGroupName": params["logGroupName"]}), params["tags"])
        return {}

    async def untag_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._untag(self.group(ctx, {"logGroupName": params["logGroupName"]}), params["tags"])
        return {}

    async def list_tags_log_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"tags": dict(self.group(ctx, {"logGroupName": params["logGroupName"]}).tags)}

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._tag(self._by_arn(ctx, params["resourceArn"]), params["tags"])
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._untag(self._by_arn(ctx, params["resourceArn"]), params["tagKeys"])
        return {}

    async def list_tags_for_resource(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"tags": dict(self._by_arn(ctx, params["resourceArn"]).tags)}

    # -- streams ---------------------------------------------------------------------------------
    async def streams(self, group: LogGroup) -> dict[str, StreamStats | None]:
        """Every visible stream of a group: those in its files and those created empty."""
        index = self.groups.index(group)
        for _ in range(4):  # 32 MB each: a function's whole default 128 MB of log
            if await asyncio.to_thread(index.refresh):
                break
        found: dict[str, StreamStats | None] = {}
        for name, stats in index.streams().items():
            deleted = group.tombstones.get(name)
            if deleted is None or stats.last_ingestion > deleted:
                found[name] = stats
        for name in group.streams:
            found.setdefault(name, None)
        return found

    async def create_log_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.group(ctx, {"logGroupName": params["logGroupName"]})
        name = params["logStreamName"]
        if name in await self.streams(group):
            raise error("ResourceAlreadyExistsException", "The specified log stream already exists")
        self.groups.store.create_stream(group, name, now_ms())
        return {}

    async def delete_log_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.group(ctx, {"logGroupName": params["logGroupName"]})
        name = params["logStreamName"]
        if name not in await self.streams(group):
            raise not_found("The specified log stream does not exist.")
        self.groups.store.delete_stream(group, name, now_ms())
        return {}

    async def describe_log_streams(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.group(ctx, params)
        prefix = params.get("logStreamNamePrefix")
        by_time = params.get("orderBy") == "LastEventTime"
        if by_time and prefix is not None:
            raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        descending = bool(params.get("descending"))
        limit = params.get("limit") or 50
        rows = []
        for name, stats in (await self.streams(group)).items():
            if prefix is not None and not name.startswith(prefix):
                continue
            created = group.streams.get(name) or (stats.first_timestamp if stats else now_ms())
            last = stats.last_timestamp if stats else 0
            key: list[Any] = [last, name] if by_time else [name]
            rows.append((key, name, created, stats))
        rows.sort(key=lambda row: row[0], reverse=descending)
        if params.get("nextToken"):
            after = decode_token(params["nextToken"])
            if not isinstance(after, list):
                raise invalid("The specified nextToken is invalid.")
            rows = [r for r in rows if (r[0] < after if descending else r[0] > after)]
        page, rest = rows[:limit], rows[limit:]
        streams = []
        for _, name, created, stats in page:
            wire: dict[str, Any] = {
                "logStreamName": name,
                "creationTime": created,
                "arn": f"{group.arn}:log-stream:{name}",
                "storedBytes": 0,
            }
            if stats is not None:
                wire.update(
                    firstEventTimestamp=stats.first_timestamp,
                    lastEventTimestamp=stats.last_timestamp,
                    lastIngestionTime=stats.last_ingestion,
                    uploadSequenceToken="1",
                )
            streams.append(wire)
        result: dict[str, Any] = {"logStreams": streams}
        if rest:
            result["nextToken"] = encode_token(page[-1][0])
        return result
