"""The contract Kafka event-source mappings use (`fireside.msk.directory.KafkaClusters`):
`Clusters.bootstrap` answers the caller's own ACTIVE cluster's servers, else None, and the
server's list of what it listens on is the one GetBootstrapBrokers gives."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from fireside.config import ConfigError, load_settings
from fireside.kafka.broker import BrokerConfig
from fireside.msk.clusters import Clusters
from fireside.msk.directory import KafkaClusters
from fireside.msk.store import ClusterRecord, MskStore


def test_bootstrap_answers_only_the_owners_active_cluster(tmp_path: Path) -> None:
    async def scenario() -> None:
        now = [1000.0]
        clusters = Clusters(
            MskStore(tmp_path / "msk.sqlite"),
            tmp_path / "clusters",
            BrokerConfig,
            max_request_bytes=1 << 20,
            activation_delay=5.0,
            clock=lambda: now[0],
        )
        directory: KafkaClusters = clusters
        await clusters.start("127.0.0.1", "127.0.0.1")
        record = ClusterRecord(
            "111111111111", "us-east-1", "c", "u-1", "PROVISIONED", created=now[0]
        )
        await clusters.create(record)
        arn = record.arn
        assert directory.bootstrap("111111111111", "us-east-1", arn) is None  # CREATING
        assert await clusters.step() == 5.0
        now[0] += 5
        await clusters.step()
        servers = directory.bootstrap("111111111111", "us-east-1", arn)
        assert servers == f"127.0.0.1:{record.port}"
        with socket.create_connection(("127.0.0.1", record.port), timeout=5):
            pass  # the cluster's own listener
        assert directory.bootstrap("222222222222", "us-east-1", arn) is None
        assert directory.bootstrap("111111111111", "eu-west-1", arn) is None
        assert directory.bootstrap("111111111111", "us-east-1", arn + "x") is None
        await clusters.delete(record)
        assert directory.bootstrap("111111111111", "us-east-1", arn) is None
        await clusters.step()
        assert not (tmp_path / "clusters" / "u-1").exists()
        assert clusters.store.clusters() == []
        await clusters.close()
        clusters.store.close()

    asyncio.run(scenario())


def test_the_activation_delay_setting(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path, environ={}).msk_activation_seconds == 1.0
    (tmp_path / "fireside.toml").write_text("[server]\nmsk_activation_seconds = 30\n")
    assert load_settings(data_dir=tmp_path, environ={}).msk_activation_seconds == 30.0
    env = {"FIRESIDE_MSK_ACTIVATION_SECONDS": "0.25"}
    assert load_settings(data_dir=tmp_path, environ=env).msk_activation_seconds == 0.25
    for bad in ("-1", "3601", "soon"):
        with pytest.raises(ConfigError):
            load_settings(data_dir=tmp_path, environ={"FIRESIDE_MSK_ACTIVATION_SECONDS": bad})


def test_a_cluster_whose_port_was_taken_reopens_on_another(tmp_path: Path) -> None:
    def make() -> Clusters:
        return Clusters(
            MskStore(tmp_path / "msk.sqlite"),
            tmp_path / "clusters",
            BrokerConfig,
            max_request_bytes=1 << 20,
            activation_delay=0,
        )

    async def first() -> int:
        clusters = make()
        await clusters.start("127.0.0.1", "127.0.0.1")
        record = ClusterRecord("111111111111", "us-east-1", "c", "u-2", "PROVISIONED")
        await clusters.create(record)
        await clusters.step()
        await clusters.close()
        clusters.store.close()
        return record.port

    async def second(taken: int) -> None:
        clusters = make()
        await clusters.start("127.0.0.1", "127.0.0.1")
        (record,) = clusters.records.values()
        assert record.state == "ACTIVE" and record.port not in (0, taken)
        assert clusters.bootstrap(record.account, record.region, record.arn) == (
            f"127.0.0.1:{record.port}"
        )
        (stored,) = clusters.store.clusters()
        assert stored.port == record.port  # the new port is remembered
        await clusters.close()
        clusters.store.close()

    port = asyncio.run(first())
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        asyncio.run(second(port))
