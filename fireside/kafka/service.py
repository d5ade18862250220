"""The Kafka broker as one of Fireside's services: built from settings, started by the app.

The listener binds in `start()` (so its port is known before the server announces itself) and is
served by a loop under the app's supervisor, beside the retention sweep.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fireside.kafka.broker import Broker, BrokerConfig
from fireside.kafka.groups import GroupCoordinator
from fireside.kafka.handlers import DataHandlers
from fireside.kafka.sasl import SaslGate
from fireside.kafka.server import Handler, KafkaServer

__all__ = ["KafkaService"]

log = logging.getLogger(__name__)


class KafkaService:
    def __init__(
        self,
        directory: Path,
        config: BrokerConfig,
        *,
        max_request_bytes: int,
        gate: SaslGate | None = None,
    ) -> None:
        self.broker = Broker(directory, config)
        self.groups = GroupCoordinator(self.broker)
        data = DataHandlers(self.broker)
        handlers: dict[int, Handler] = {
            3: data.metadata,
            0: data.produce,
            1: data.fetch,
            2: data.list_offsets,
            19: data.create_topics,
            20: data.delete_topics,
            22: data.init_producer_id,
            32: data.describe_configs,
            37: data.create_partitions,
            21: data.delete_records,
            **self.groups.handlers(),
        }
        self.server = KafkaServer(handlers, max_request_bytes=max_request_bytes, gate=gate)

    async def start(self, host: str, port: int) -> int:
        """Bind the listener; the port it got (the broker advertises it in Metadata)."""
        bound = await self.server.listen(host, port)
        self.broker.config.port = bound
        return bound

    async def close(self) -> None:
        await self.server.close()
        self.groups.close()
        self.broker.close()
