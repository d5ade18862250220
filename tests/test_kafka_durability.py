"""What a crash cannot take back: records a Produce acknowledged (acks=all) and committed group
offsets survive `kill -9` of the server, and a restart recovers the logs and keeps serving."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTP
from kafka.admin import NewTopic

from tests.conftest import Server


def read_all(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                         "enable.auto.commit": False})  # fmt: skip
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    ends = {p: consumer.get_watermark_offsets(tp, timeout=10)[1] for p, tp in enumerate(tps)}
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got: list[bytes] = []
    position = dict.fromkeys(range(partitions), 0)
    deadline = time.monotonic() + 60
    while any(position[p] < ends[p] for p in ends) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
            position[msg.partition()] = msg.offset() + 1
    consumer.close()
    return got


def test_kill_9_during_produce_loses_no_acknowledged_record(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    srv = fresh_server(data_dir)
    topic = "crash"
    admin = KafkaAdminClient(bootstrap_servers=srv.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    acked: list[bytes] = []
    stop = threading.Event()

    def on_delivery(err: object, msg: object) -> None:
        if err is None:
            acked.append(msg.value())  # type: ignore[attr-defined]

    producer = Producer({"bootstrap.servers": srv.kafka_bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 1,
                         "message.timeout.ms": 3000, "reconnect.backoff.max.ms": 100})  # fmt: skip

    def produce() -> None:
        i = 0
        while not stop.is_set():
            try:
                producer.produce(topic, value=b"m%07d" % i, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            producer.poll(0.001)

    thread = threading.Thread(target=produce)
    thread.start()
    deadline = time.monotonic() + 60
    while len(acked) < 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.stop(signal.SIGKILL)  # mid-stream: batches in flight, some acknowledged, some not
    stop.set()
    thread.join(10)
    producer.purge()
    producer.flush(5)
    acknowledged = set(acked)
    assert len(acknowledged) >= 3000
    again = fresh_server(data_dir)
    stored = read_all(again.kafka_bootstrap, topic, 3)
    assert acknowledged <= set(stored), (
        f"{len(acknowledged - set(stored))} acknowledged records lost"
    )
    assert len(stored) == len(set(stored))  # the idempotent producer's retries were not doubled


def test_restart_keeps_committed_offsets_and_truncates_a_torn_tail(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    srv = fresh_server(data_dir)
    producer = KafkaProducer(bootstrap_servers=srv.kafka_bootstrap, acks="all")
    for i in range(10):
        producer.send("durable", value=b"d%d" % i).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=srv.kafka_bootstrap, group_id="keeper",
                             enable_auto_commit=False)  # fmt: skip
    tp = KpTP("durable", 0)
    from kafka.structs import OffsetAndMetadata

    consumer.commit({tp: OffsetAndMetadata(7, "seven", -1)})
    consumer.close()
    srv.stop(signal.SIGKILL)
    [segment] = data_dir.glob("kafka/logs/*/0/*.log")
    with segment.open("ab") as f:
        f.write(b"\x00" * 30)  # a torn write after the last whole batch
    again = fresh_server(data_dir)
    consumer = KafkaConsumer(bootstrap_servers=again.kafka_bootstrap, group_id="keeper",
                             enable_auto_commit=False)  # fmt: skip
    assert consumer.committed(tp) == 7
    assert consumer.end_offsets([tp])[tp] == 10
    consumer.close()
    producer = KafkaProducer(bootstrap_servers=again.kafka_bootstrap, acks="all")
    assert producer.send("durable", value=b"d10").get(timeout=10).offset == 10
    producer.close()


def test_taken_port_leaves_the_rest_of_fireside_running(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        srv = fresh_server(tmp_path / "data", FIRESIDE_KAFKA_PORT=str(port))
        assert any(f"kafka:    not started (port {port}" in line for line in srv.output)
        assert srv.client("sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
