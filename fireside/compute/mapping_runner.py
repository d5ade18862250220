"""The pollers of every enabled event-source mapping, following the mappings as they change.

`run` (under the server's supervisor) starts a poller for each enabled mapping and moves each
mapping out of its transitional state (`Creating`, `Enabling`, `Updating` to `Enabled`;
`Disabling` to `Disabled`; `Deleting` to gone). The API calls `follow` after every change:
the mapping's poller is stopped and, if the mapping is still enabled, started again with
the new settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fireside.compute.kafka_mapping import KafkaPoller, MappingCredentials
from fireside.compute.kafka_sources import KafkaClusters, NoClusters
from fireside.compute.mappings import EventSourceMapping, MappingStore
from fireside.compute.sqs_mapping import Invoke, QueueSource, SqsPoller
from fireside.compute.stream_mapping import SendFailure, StreamPoller
from fireside.compute.stream_records import StreamSource

__all__ = ["MappingRunner"]

log = logging.getLogger(__name__)


class MappingRunner:
    def __init__(
        self,
        store: MappingStore,
        queues: QueueSource,
        streams: StreamSource,
        invoke: Invoke,
        send_failure: SendFailure,
        clusters: KafkaClusters | None = None,
        credentials: MappingCredentials | None = None,
    ) -> None:
        self._store = store
        self._queues = queues
        self._streams = streams
        self._invoke = invoke
        self._send_failure = send_failure
        #: The MSK directory Kafka mappings resolve cluster ARNs with.
        self.clusters: KafkaClusters = clusters or NoClusters()
        #: Keys a Kafka mapping signs in to an IAM cluster with (its own account's).
        self.credentials = credentials
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._running = False

    async def run(self) -> None:
        """Follow every mapping until cancelled; the pollers stop with it."""
        self._running = True
        try:
            for mapping in self._store.all():
                self.follow(mapping)
            await asyncio.Event().wait()
        finally:
            self._running = False
            pollers = list(self._pollers.values())
            self._pollers.clear()
            for task in pollers:
                task.cancel()
            for task in pollers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def follow(self, mapping: EventSourceMapping) -> None:
        """Bring the poller of `mapping` in line with it, and settle its state."""
        if not self._running:
            return  # `run` follows every mapping when it starts
        old = self._pollers.pop(mapping.uuid, None)
        if old is not None:
            old.cancel()
        if mapping.state == "Deleting":
            self._store.delete(mapping.uuid)
            return
        settled = "Enabled" if mapping.enabled else "Disabled"
        if mapping.enabled:
            poller: SqsPoller | StreamPoller | KafkaPoller = (
                KafkaPoller(
                    mapping, self.clusters, self._invoke, self._send_failure, self.credentials
                )
                if mapping.is_kafka
                else StreamPoller(
                    mapping, self._streams, self._invoke, self._store.put, self._send_failure
                )
                if mapping.is_stream
                else SqsPoller(mapping, self._queues, self._invoke)
            )
            self._pollers[mapping.uuid] = asyncio.get_running_loop().create_task(
                poller.run(), name=f"esm-{mapping.uuid}"
            )
        if mapping.state != settled:
            mapping.state = settled
            self._store.put(mapping)
