"""Lambda's event-source mapping operations: Create, Get, Update, Delete and List.

Fireside's mappings read SQS queues (`fireside.compute.sqs_mapping`), DynamoDB streams
(`fireside.compute.stream_mapping`) and Kafka topics, of MSK clusters or self-managed
(`fireside.compute.kafka_mapping`, checked by `fireside.compute.kafka_mapping_api`); other
sources (Kinesis, MQ, DocumentDB) are refused, naming what is missing. A stream mapping needs StartingPosition (TRIM_HORIZON or
LATEST) and a stream the function's account can read, and takes the stream parameters
(retries, record age, bisection, parallelization, tumbling windows, an OnFailure
destination). What is checked, as AWS checks it for SQS:

- the function exists (any version or alias named), in the caller's account;
- the queue exists and the function's account may read it (the queue's owner check, via
  `fireside.sqs.reader`), in the mapping's region;
- the queue's visibility timeout is at least the function's timeout;
- BatchSize 1-10000 (10 for FIFO queues), over 10 only with a batching window;
- FilterCriteria patterns parse (`fireside.patterns`), at most 5;
- one mapping per queue and function.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.pagination import marker_page
from fireside.compute.destinations import destination as destination_of
from fireside.compute.errors import conflict, invalid, invalid_marker, lambda_error
from fireside.compute.kafka_mapping_api import (
    check_kafka_conflicts,
    is_kafka_request,
    kafka_settings,
)
from fireside.compute.mapping_runner import MappingRunner
from fireside.compute.mappings import EventSourceMapping, MappingStore
from fireside.compute.registry import parse_function_name
from fireside.compute.stream_records import StreamSource, position_at_latest
from fireside.compute.versions import Versions
from fireside.patterns import PatternError, compile_pattern
from fireside.sqs.reader import QueueReader
from fireside.sqs.wire import QUERY_CODES

__all__ = ["MappingApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_FILTERS = 5
#: Parameters that only stream and Kafka sources take.
_STREAM_ONLY = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SelfManagedEventSource",
)
_SOURCE_NAMES = {
    "dynamodb": "DynamoDB Streams",
    "kinesis": "Kinesis",
    "kafka": "Amazon MSK",
    "mq": "Amazon MQ",
    "rds": "DocumentDB",
}


def _missing() -> ServiceError:
    return lambda_error(
        "ResourceNotFoundException", "The resource you requested does not exist.", Type="User"
    )


class MappingApi:
    def __init__(
        self,
        store: MappingStore,
        runner: MappingRunner,
        versions: Versions,
        reader: QueueReader,
        streams: StreamSource,
    ) -> None:
        self._store = store
        self._runner = runner
        self._versions = versions
        self._reader = reader
        self._streams = streams

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateEventSourceMapping": self.create_event_source_mapping,
            "GetEventSourceMapping": self.get_event_source_mapping,
            "UpdateEventSourceMapping": self.update_event_source_mapping,
            "DeleteEventSourceMapping": self.delete_event_source_mapping,
            "ListEventSourceMappings": self.list_event_source_mappings,
        }

    # -- checks --------------------------------------------------------------------------------
    def _function(self, ctx: RequestContext, value: str) -> tuple[str, str | None, int]:
        """The function's name and qualifier, and its timeout (it must exist)."""
        name, qualifier = parse_function_name(value, ctx.account_id, ctx.region)
        config, _ = self._versions.resolve(ctx.account_id, ctx.region, name, qualifier)
        return name, qualifier, config.timeout

    async def _queue_checks(
        self, ctx: RequestContext, arn: str, timeout: int, batch_size: int, window: int
    ) -> None:
        parts = arn.split(":")
        if parts[3] != ctx.region:
            raise invalid(f"The event source {arn} is not in this function's region.")
        try:
            queue = await self._reader.settings(ctx.account_id, ctx.region, arn)
        except ServiceError as error:
            raise invalid(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                f"{QUERY_CODES.get(error.code, error.code)}. "
                f"SQS Error Message: {error.message}"
            ) from None
        if queue.visibility_timeout < timeout:
            raise invalid(
                f"Queue visibility timeout: {queue.visibility_timeout} seconds is less than "
                f"Function timeout: {timeout} seconds"
            )
        if queue.fifo and batch_size > 10:
            raise invalid(
                f"BatchSize {batch_size} is not valid for FIFO queues: it must be between 1 and 10."
            )
        if batch_size > 10 and window == 0:
            raise invalid(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size "
                "is greater than 10"
            )

    @staticmethod
    def _filters(params: dict[str, Any]) -> list[str]:
        filters = [
            str(f.get("Pattern", ""))
            for f in (params.get("FilterCriteria") or {}).get("Filters") or []
        ]
        if len(filters) > MAX_FILTERS:
            raise invalid(
                f"The number of filters {len(filters)} exceeds the maximum of {MAX_FILTERS}."
            )
        for pattern in filters:
            try:
                compile_pattern(pattern)
            except PatternError as error:
                raise invalid(f"Invalid filter pattern definition. {error}") from None
        return filters

    def _settle_soon(self, mapping: EventSourceMapping) -> None:
        # The answer shows the transitional state, as AWS's does; the poller follows next.
        asyncio.get_running_loop().call_soon(self._runner.follow, mapping)

    def _owned(self, ctx: RequestContext, params: dict[str, Any]) -> EventSourceMapping:
        mapping = self._store.get(str(params["UUID"]))
        if mapping is None or (mapping.account, mapping.region) != (ctx.account_id, ctx.region):
            raise _missing()
        return mapping

    # -- operations ----------------------------------------------------------------------------
    async def create_event_source_mapping(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        if is_kafka_request(params):
            return await self._create_kafka(ctx, params)
        arn = params.get("EventSourceArn")
        if not arn:
            raise invalid(
                "Unrecognized event source, must be kafka or specify the event source ARN."
            )
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        stream = service == "dynamodb" and "/stream/" in arn
        if service != "sqs" and not stream:
            what = _SOURCE_NAMES.get(service, service or "this")
            raise invalid(
                f"Fireside does not support {what} event sources yet: {arn}. Event-source "
                "mappings read SQS queues, DynamoDB streams and Kafka (MSK or self-managed)."
            )
        if len(arn.split(":", 5)) != 6:
            raise invalid(f"The event source ARN {arn} is invalid.")
        name, qualifier, timeout = self._function(ctx, params["FunctionName"])
        window = int(params.get("MaximumBatchingWindowInSeconds") or 0)
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()),
            account=ctx.account_id,
            region=ctx.region,
            function=name,
            qualifier=qualifier,
            source_arn=arn,
            batch_size=int(params.get("BatchSize") or (100 if stream else 10)),
            window=window,
            enabled=params.get("Enabled", True) is not False,
            state="Creating",
            last_modified=time.time(),
            filters=self._filters(params),
            response_types=list(params.get("FunctionResponseTypes") or []),
            max_concurrency=(params.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            tags=dict(params.get("Tags") or {}),
        )
        if stream:
            await self._stream_settings(ctx, mapping, params, creating=True)
        else:
            for key in _STREAM_ONLY:
                if params.get(key) is not None:
                    raise invalid(f"Unsupported {key} parameter for given event source.")
            await self._queue_checks(ctx, arn, timeout, mapping.batch_size, window)
        for other in self._store.all():
            if other.source_arn == arn and other.function_arn == mapping.function_arn:
                raise conflict(
                    f'An event source mapping with SQS arn (" {arn} ") and function (" {name} '
                    '") already exists. Please update or delete the existing mapping with UUID '
                    f"{other.uuid}"
                    if not stream
                    else f'The event source arn (" {arn} ") and function (" {name} ") provided '
                    "mapping already exists. Please update or delete the existing mapping with "
                    f"UUID {other.uuid}"
                )
        self._store.put(mapping)
        answer = mapping.to_wire()
        self._settle_soon(mapping)
        return answer

    async def _create_kafka(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """An MSK or self-managed Kafka mapping (`fireside.compute.kafka_mapping_api`)."""
        name, qualifier, timeout = self._function(ctx, params["FunctionName"])
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()),
            account=ctx.account_id,
            region=ctx.region,
            function=name,
            qualifier=qualifier,
            source_arn=str(params.get("EventSourceArn") or ""),
            batch_size=int(params.get("BatchSize") or 100),
            window=int(params.get("MaximumBatchingWindowInSeconds") or 0),
            enabled=params.get("Enabled", True) is not False,
            state="Creating",
            last_modified=time.time(),
            filters=self._filters(params),
            response_types=list(params.get("FunctionResponseTypes") or []),
            tags=dict(params.get("Tags") or {}),
        )
        kafka_settings(
            mapping, params, self._runner.clusters, creating=True, function_timeout=timeout
        )
        error = check_kafka_conflicts(mapping, self._store.all())
        if error is not None:
            raise error
        self._store.put(mapping)
        answer = mapping.to_wire()
        self._settle_soon(mapping)
        return answer

    async def _stream_settings(
        self,
        ctx: RequestContext,
        mapping: EventSourceMapping,
        params: dict[str, Any],
        *,
        creating: bool,
    ) -> None:
        """Check and apply a DynamoDB stream mapping's own parameters."""
        if creating:
            position = params.get("StartingPosition")
            if position not in ("TRIM_HORIZON", "LATEST"):
                raise invalid(
                    "StartingPosition must be TRIM_HORIZON or LATEST for DynamoDB Streams "
                    f"event sources, not {position}."
                    if position
                    else "The StartingPosition parameter is required for DynamoDB Streams "
                    "event sources."
                )
            mapping.starting_position = position
            try:
                shards = await self._streams.shards(ctx.account_id, ctx.region, mapping.source_arn)
                if position == "LATEST":  # from this answer on, not from when polling starts
                    await position_at_latest(self._streams, mapping, shards)
            except ServiceError:
                raise invalid(f"Stream not found: {mapping.source_arn}") from None
        if params.get("TumblingWindowInSeconds") is not None:
            mapping.tumbling_window = int(params["TumblingWindowInSeconds"])
        for key in ("Topics", "Queues", "SelfManagedEventSource", "StartingPositionTimestamp"):
            if params.get(key) is not None:
                raise invalid(f"Unsupported {key} parameter for given event source.")
        if mapping.batch_size > 10000:
            raise invalid("BatchSize must be between 1 and 10000 for DynamoDB Streams.")
        if params.get("MaximumRetryAttempts") is not None:
            mapping.max_retries = int(params["MaximumRetryAttempts"])
        if params.get("MaximumRecordAgeInSeconds") is not None:
            age = int(params["MaximumRecordAgeInSeconds"])
            if age != -1 and not 60 <= age <= 604800:
                raise invalid(
                    "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800 seconds."
                )
            mapping.max_age = age
        if params.get("BisectBatchOnFunctionError") is not None:
            mapping.bisect = bool(params["BisectBatchOnFunctionError"])
        if params.get("ParallelizationFactor") is not None:
            mapping.parallelization = int(params["ParallelizationFactor"])
        destination = params.get("DestinationConfig")
        if destination is not None:
            if (destination.get("OnSuccess") or {}).get("Destination"):
                raise invalid(
                    "Unsupported DestinationConfig parameter for given event source: OnSuccess."
                )
            target = (destination.get("OnFailure") or {}).get("Destination") or None
            if target is not None and destination_of(target) is None:
                raise invalid(f"The destination ARN {target} is invalid.")
            mapping.on_failure = target

    async def get_event_source_mapping(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._owned(ctx, params).to_wire()

    async def update_event_source_mapping(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        mapping = self._owned(ctx, params)
        if mapping.state == "Deleting":
            raise conflict(f"The resource you tried to update is being deleted: {mapping.uuid}")
        if not mapping.is_stream and not mapping.is_kafka:
            for name in _STREAM_ONLY:
                if params.get(name) is not None:
                    raise invalid(f"Unsupported {name} parameter for given event source.")
        function, qualifier = mapping.function, mapping.qualifier
        if params.get("FunctionName"):
            function, qualifier, _ = self._function(ctx, params["FunctionName"])
        _, _, timeout = self._function(ctx, f"{function}:{qualifier}" if qualifier else function)
        batch_size = int(params.get("BatchSize") or mapping.batch_size)
        window = mapping.window
        if params.get("MaximumBatchingWindowInSeconds") is not None:
            window = int(params["MaximumBatchingWindowInSeconds"])
        if mapping.is_kafka:
            mapping.batch_size = batch_size
            kafka_settings(
                mapping, params, self._runner.clusters, creating=False, function_timeout=timeout
            )
        elif mapping.is_stream:
            mapping.batch_size = batch_size
            await self._stream_settings(ctx, mapping, params, creating=False)
        else:
            await self._queue_checks(ctx, mapping.source_arn, timeout, batch_size, window)
        if params.get("FilterCriteria") is not None:
            mapping.filters = self._filters(params)
        if params.get("FunctionResponseTypes") is not None:
            mapping.response_types = list(params["FunctionResponseTypes"])
        if params.get("ScalingConfig") is not None:
            mapping.max_concurrency = params["ScalingConfig"].get("MaximumConcurrency")
        mapping.function, mapping.qualifier = function, qualifier
        mapping.batch_size, mapping.window = batch_size, window
        if params.get("Enabled") is not None and bool(params["Enabled"]) != mapping.enabled:
            mapping.enabled = bool(params["Enabled"])
            mapping.state = "Enabling" if mapping.enabled else "Disabling"
        else:
            mapping.state = "Updating"
        mapping.last_modified = time.time()
        self._store.put(mapping)
        answer = mapping.to_wire()
        self._settle_soon(mapping)
        return answer

    async def delete_event_source_mapping(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        mapping = self._owned(ctx, params)
        mapping.state = "Deleting"
        self._store.put(mapping)
        answer = mapping.to_wire()
        self._settle_soon(mapping)
        return answer

    async def list_event_source_mappings(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        found = [
            m
            for m in self._store.all()
            if (m.account, m.region) == (ctx.account_id, ctx.region)
            and (not params.get("EventSourceArn") or m.source_arn == params["EventSourceArn"])
        ]
        if params.get("FunctionName"):
            name, qualifier = parse_function_name(
                params["FunctionName"], ctx.account_id, ctx.region
            )
            found = [
                m
                for m in found
                if m.function == name and (qualifier is None or m.qualifier == qualifier)
            ]
        page, marker = marker_page(
            found,
            lambda m: (m.uuid,),
            {**params, "MaxItems": params.get("MaxItems") or 100},  # AWS's default page
            scope="ListEventSourceMappings",
            invalid=invalid_marker,
            cap=None,
        )
        answer: dict[str, Any] = {"EventSourceMappings": [m.to_wire() for m in page]}
        if marker:
            answer["NextMarker"] = marker
        return answer
