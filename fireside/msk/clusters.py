"""The running MSK clusters: one Kafka broker (`fireside.kafka.KafkaService`) per cluster.

Each cluster has its own listener (a free port, kept across restarts while it stays free) and
its own data directory `<data>/kafka/clusters/<uuid>`, so its topics and groups are its own.
A cluster with IAM client authentication (every serverless one; a provisioned one with
`ClientAuthentication.Sasl.Iam.Enabled`) gets a `SaslGate` on its listener: clients must
authenticate (unless unauthenticated access is on as well) and only principals of the cluster's
own account and region are admitted. A listener accepts connections as soon as it is bound; the state machine (CREATING -> ACTIVE
after `activation_delay`, DELETING -> closed, data removed, record gone) is driven by `run`,
a loop under the app's supervisor that only acts on durable state, so a restart resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from fireside.kafka.broker import BrokerConfig
from fireside.kafka.sasl import IamVerifier, SaslGate
from fireside.kafka.service import KafkaService
from fireside.msk.store import ClusterRecord, MskStore

__all__ = ["Clusters"]

log = logging.getLogger(__name__)

#: How often the loop also sweeps the clusters' retention (Kafka's own broker: 30 s).
_RETENTION_EVERY = 30.0


class Clusters:
    def __init__(
        self,
        store: MskStore,
        root: Path,
        broker_config: Callable[[], BrokerConfig],
        *,
        max_request_bytes: int,
        activation_delay: float = 1.0,
        clock: Callable[[], float] = time.time,
        verifier: IamVerifier | None = None,
    ) -> None:
        self.store = store
        self.root = root
        self._config = broker_config
        self._max_request = max_request_bytes
        self.activation_delay = activation_delay
        self._clock = clock
        #: Checks SASL/IAM messages on IAM clusters' listeners (None: IAM is not offered).
        self.verifier = verifier
        #: The bind address and the host clients are told (set by `start`).
        self.bind_host = "127.0.0.1"
        self.advertised_host = "127.0.0.1"
        self.records: dict[str, ClusterRecord] = {r.arn: r for r in store.clusters()}
        self.services: dict[str, KafkaService] = {}
        self._wake = asyncio.Event()

    # -- lookups -------------------------------------------------------------------------------
    def find(self, account: str, region: str, arn: str) -> ClusterRecord | None:
        """The caller's own cluster by ARN (another account's is not found)."""
        record = self.records.get(arn)
        if record is None or record.account != account or record.region != region:
            return None
        return record

    def bootstrap_of(self, record: ClusterRecord) -> str:
        return f"{self.advertised_host}:{record.port}"

    def gate_of(self, record: ClusterRecord) -> SaslGate | None:
        if self.verifier is None or not record.iam:
            return None
        return SaslGate(
            self.verifier,
            required=not record.unauthenticated,
            account=record.account,
            region=record.region,
        )

    def bootstrap(self, account: str, region: str, cluster_arn: str) -> str | None:
        """`KafkaClusters.bootstrap`: the caller's own ACTIVE cluster's servers, or None."""
        record = self.find(account, region, cluster_arn)
        if record is None or record.state != "ACTIVE" or cluster_arn not in self.services:
            return None
        return self.bootstrap_of(record)

    def uses_iam(self, account: str, region: str, cluster_arn: str) -> bool:
        """`KafkaClusters.uses_iam`: the caller's own cluster has IAM client authentication."""
        record = self.find(account, region, cluster_arn)
        return record is not None and record.iam and self.verifier is not None

    # -- lifecycle -----------------------------------------------------------------------------
    async def _open(self, record: ClusterRecord) -> KafkaService:
        config = self._config()
        config.host = self.advertised_host
        config.cluster_id = record.uuid
        directory = self.root / record.uuid
        service = await asyncio.to_thread(
            KafkaService,
            directory,
            config,
            max_request_bytes=self._max_request,
            gate=self.gate_of(record),
        )
        try:
            record.port = await service.start(self.bind_host, record.port)
        except OSError:  # the remembered port was taken while we were down: pick another
            record.port = await service.start(self.bind_host, 0)
        self.services[record.arn] = service
        return service

    async def start(self, bind_host: str, advertised_host: str) -> None:
        """Re-open every stored cluster's broker (before the server announces itself)."""
        self.bind_host, self.advertised_host = bind_host, advertised_host
        for record in list(self.records.values()):
            if record.state == "DELETING":
                continue
            port = record.port
            try:
                await self._open(record)
            except Exception:
                log.exception("msk: cannot re-open cluster %s", record.arn)
                continue
            if record.port != port:
                await self.store.put(record)

    async def create(self, record: ClusterRecord) -> None:
        """Bind the new cluster's broker, then record it (durably) as CREATING."""
        service = await self._open(record)
        try:
            await self.store.put(record)
        except BaseException:
            del self.services[record.arn]
            await service.close()
            raise
        self.records[record.arn] = record
        self._wake.set()

    async def put(self, record: ClusterRecord) -> None:
        await self.store.put(record)
        self.records[record.arn] = record

    async def delete(self, record: ClusterRecord) -> None:
        """Mark DELETING (durably); the loop closes the broker and removes its data."""
        record.state = "DELETING"
        await self.store.put(record)
        self._wake.set()

    async def _finish_delete(self, record: ClusterRecord) -> None:
        service = self.services.pop(record.arn, None)
        if service is not None:
            await service.close()
        await asyncio.to_thread(shutil.rmtree, self.root / record.uuid, ignore_errors=True)
        await self.store.delete(record.arn)
        self.records.pop(record.arn, None)

    async def step(self) -> float:
        """Advance every cluster's state once; seconds until the next one is due."""
        now, wait = self._clock(), _RETENTION_EVERY
        for record in list(self.records.values()):
            if record.state == "DELETING":
                await self._finish_delete(record)
            elif record.state == "CREATING":
                due = record.created + self.activation_delay
                if due <= now and record.arn in self.services:
                    # Durable first: no client sees ACTIVE that a crash could take back.
                    await self.store.put(dataclasses.replace(record, state="ACTIVE"))
                    if record.state == "CREATING":
                        record.state = "ACTIVE"
                    else:  # deleted meanwhile: that write must be the last one
                        await self.store.put(record)
                else:
                    wait = min(wait, max(due - now, 0.05))
        return wait

    async def run(self) -> None:
        last_sweep = time.monotonic()
        while True:
            self._wake.clear()
            wait = await self.step()
            if time.monotonic() - last_sweep >= _RETENTION_EVERY:
                last_sweep = time.monotonic()
                for service in list(self.services.values()):
                    service.broker.enforce_retention()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def close(self) -> None:
        for service in list(self.services.values()):
            await service.close()
        self.services.clear()
