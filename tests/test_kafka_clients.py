"""The three Python Kafka clients against Fireside's broker: kafka-python, aiokafka and
confluent-kafka (librdkafka) producing (plain and idempotent) and consuming in groups, the
admin APIs, offsets by time, and a group rebalancing as consumers come and go."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AioTP
from confluent_kafka import Consumer, Producer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import InvalidPartitionsError, TopicAlreadyExistsError

from tests.conftest import Server, wait_for


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("kafka-clients")).start()
    yield srv
    srv.stop()


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(broker: Server, topic: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=broker.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()


def test_kafka_python_produce_and_group_consume(broker: Server) -> None:
    topic, group = name("kp"), name("g")
    create_topic(broker, topic, 3)
    producer = KafkaProducer(bootstrap_servers=broker.kafka_bootstrap, acks="all")
    sent = {f"k{i}".encode(): f"v{i}".encode() for i in range(60)}
    for key, value in sent.items():
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.kafka_bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    got: dict[bytes, bytes] = {}
    deadline = time.monotonic() + 30
    while len(got) < len(sent) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.update((r.key, r.value) for r in records)
    assert got == sent
    consumer.commit()
    ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
    assert sum(ends.values()) == 60
    for tp, end in ends.items():
        assert consumer.committed(tp) == end
    consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=broker.kafka_bootstrap)
    assert group in repr(admin.list_groups())
    assert dict(admin.delete_groups([group]))[group] == "OK"
    assert dict(admin.delete_groups([group]))[group] == "GroupIdNotFoundError"
    assert group not in repr(admin.list_groups())
    admin.close()


def test_kafka_python_admin(broker: Server) -> None:
    topic = name("admin")
    admin = KafkaAdminClient(bootstrap_servers=broker.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 4, 1, topic_configs={"retention.ms": "60000"})])
    assert topic in admin.list_topics()
    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(topic, 1, 1)])
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    [modified] = configs["topic"].values()  # only what differs from the defaults
    assert set(modified) == {"retention.ms"}
    assert "60000" in repr(modified["retention.ms"])
    described = admin.describe_topics([topic])
    assert len(described[0]["partitions"]) == 4
    admin.create_partitions({topic: NewPartitions(6)})
    assert len(admin.describe_topics([topic])[0]["partitions"]) == 6
    with pytest.raises(InvalidPartitionsError):
        admin.create_partitions({topic: NewPartitions(2)})
    admin.delete_topics([topic])
    wait_for(lambda: topic not in admin.list_topics(), what="topic deleted")
    admin.close()


def test_offsets_by_time_and_seek(broker: Server) -> None:
    topic = name("times")
    create_topic(broker, topic, 1)
    producer = KafkaProducer(bootstrap_servers=broker.kafka_bootstrap)
    base = int(time.time() * 1000) - 100_000
    for i in range(5):
        producer.send(topic, value=b"v%d" % i, timestamp_ms=base + i * 1000)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=broker.kafka_bootstrap)
    tp = TopicPartition(topic, 0)
    assert consumer.beginning_offsets([tp])[tp] == 0 and consumer.end_offsets([tp])[tp] == 5
    found = consumer.offsets_for_times({tp: base + 2500})[tp]
    assert found is not None and found.offset == 3
    assert consumer.offsets_for_times({tp: base + 999_999})[tp] is None
    admin = KafkaAdminClient(bootstrap_servers=broker.kafka_bootstrap)
    admin.delete_records({tp: 2})
    admin.close()
    assert consumer.beginning_offsets([tp])[tp] == 2
    consumer.close()


def test_aiokafka_idempotent_producer_and_group(broker: Server) -> None:
    topic, group = name("aio"), name("g")

    async def scenario() -> list[bytes]:
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.kafka_bootstrap, enable_idempotence=True
        )
        await producer.start()
        for i in range(50):
            await producer.send(topic, b"m%d" % i)
        await producer.flush()
        await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.kafka_bootstrap, group_id=group,
                                    auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        got: list[bytes] = []
        async with asyncio.timeout(30):
            while len(got) < 50:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(r.value for r in records if r.value is not None)
        await consumer.commit()
        assert await consumer.committed(AioTP(topic, 0)) == 50
        await consumer.stop()
        return got

    assert asyncio.run(scenario()) == [b"m%d" % i for i in range(50)]  # auto-created, 1 partition


def test_confluent_idempotent_producer_and_group(broker: Server) -> None:
    topic, group = name("ck"), name("g")
    create_topic(broker, topic, 2)
    acked: list[int] = []
    producer = Producer({"bootstrap.servers": broker.kafka_bootstrap, "enable.idempotence": True,
                         "linger.ms": 5})  # fmt: skip
    for i in range(200):
        producer.produce(topic, value=b"c%d" % i, key=b"%d" % (i % 7),
                         on_delivery=lambda err, msg: acked.append(0 if err else 1))  # fmt: skip
    assert producer.flush(30) == 0
    assert acked.count(1) == 200
    consumer = Consumer({"bootstrap.servers": broker.kafka_bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < 200 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
    assert sorted(got) == sorted(b"c%d" % i for i in range(200))
    consumer.commit(asynchronous=False)
    committed = consumer.committed([ck_tp(topic, 0), ck_tp(topic, 1)], timeout=10)
    assert sum(tp.offset for tp in committed) == 200
    consumer.close()


def ck_tp(topic: str, partition: int) -> object:
    from confluent_kafka import TopicPartition as CkTP

    return CkTP(topic, partition)


def test_group_rebalances_across_consumers(broker: Server) -> None:
    """Three aiokafka consumers in one group over six partitions: the first holds all six, the
    group rebalances to 2+2+2 as the others join, and to 3+3 when one leaves; every record
    produced along the way is consumed."""
    topic, group = name("rebal"), name("g")
    create_topic(broker, topic, 6)

    async def scenario() -> None:
        def consumer() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(topic, bootstrap_servers=broker.kafka_bootstrap, group_id=group,
                                    auto_offset_reset="earliest", session_timeout_ms=6000,
                                    heartbeat_interval_ms=200, enable_auto_commit=True)  # fmt: skip

        async def until(predicate: Callable[[], bool], what: str) -> None:
            async with asyncio.timeout(30):
                while not predicate():
                    await asyncio.sleep(0.05)

        first = consumer()
        await first.start()
        await until(lambda: len(first.assignment()) == 6, "first consumer owns all")
        others = [consumer(), consumer()]
        for c in others:
            await c.start()
        members = [first, *others]
        await until(lambda: sorted(len(c.assignment()) for c in members) == [2, 2, 2], "2+2+2")
        owned = [tp for c in members for tp in c.assignment()]
        assert len(set(owned)) == 6
        producer = AIOKafkaProducer(bootstrap_servers=broker.kafka_bootstrap)
        await producer.start()
        for i in range(60):
            await producer.send(topic, b"r%d" % i, partition=i % 6)
        await producer.flush()
        got: set[bytes] = set()

        async def drain(consumers: list[AIOKafkaConsumer]) -> None:
            for c in consumers:
                for records in (await c.getmany(timeout_ms=100)).values():
                    got.update(r.value for r in records if r.value is not None)

        async with asyncio.timeout(30):
            while len(got) < 60:
                await drain(members)
        await others[1].stop()  # leaves the group
        survivors = [first, others[0]]
        await until(lambda: sorted(len(c.assignment()) for c in survivors) == [3, 3], "3+3")
        for i in range(60, 90):
            await producer.send(topic, b"r%d" % i, partition=i % 6)
        await producer.flush()
        async with asyncio.timeout(30):
            while len(got) < 90:
                await drain(survivors)
        assert got == {b"r%d" % i for i in range(90)}
        await producer.stop()
        for c in survivors:
            await c.stop()

    asyncio.run(scenario())


def test_confluent_group_rebalance(broker: Server) -> None:
    """Two librdkafka consumers split four partitions 2+2; when one closes (LeaveGroup), the
    other takes all four and reads what is produced to them."""
    topic, group = name("ckrebal"), name("g")
    create_topic(broker, topic, 4)
    config = {"bootstrap.servers": broker.kafka_bootstrap, "group.id": group,
              "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
              "heartbeat.interval.ms": 200}  # fmt: skip
    consumers = [Consumer(config), Consumer(config)]
    for c in consumers:
        c.subscribe([topic])
    got: list[bytes] = []

    def poll_until(members: list[Consumer], predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            for c in members:
                msg = c.poll(0.05)
                if msg is not None and msg.error() is None:
                    got.append(msg.value())

    poll_until(consumers, lambda: sorted(len(c.assignment()) for c in consumers) == [2, 2], "2+2")
    producer = Producer({"bootstrap.servers": broker.kafka_bootstrap})
    for i in range(40):
        producer.produce(topic, value=b"q%d" % i, partition=i % 4)
    assert producer.flush(30) == 0
    poll_until(consumers, lambda: len(got) >= 40, "first 40 records")
    consumers[1].close()
    poll_until(consumers[:1], lambda: len(consumers[0].assignment()) == 4, "all four to one")
    for i in range(40, 60):
        producer.produce(topic, value=b"q%d" % i, partition=i % 4)
    assert producer.flush(30) == 0
    poll_until(consumers[:1], lambda: {b"q%d" % i for i in range(60)} <= set(got), "all 60")
    consumers[0].close()
