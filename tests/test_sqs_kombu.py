"""A real SQS client nobody here wrote: kombu's SQS transport (what Celery's SQS broker uses),
unmodified, producing and consuming through Fireside: queue creation by name, sends,
long-polling receives and acknowledgements (DeleteMessage)."""

from __future__ import annotations

import time
import uuid

from kombu import Connection, Consumer, Exchange, Producer, Queue

from tests.conftest import Server


def _connection(server: Server) -> Connection:
    return Connection(
        f"sqs://test:test@127.0.0.1:{server.port}",
        transport_options={
            "region": "us-east-1",
            "is_secure": False,
            "wait_time_seconds": 1,
            "polling_interval": 0.05,
        },
    )


def test_kombu_simple_queue_round_trip(server: Server) -> None:
    name = f"kombu-{uuid.uuid4().hex[:8]}"
    with _connection(server) as conn:
        queue = conn.SimpleQueue(name)
        for number in range(5):
            queue.put({"n": number, "text": "héllo"})
        got = []
        for _ in range(5):
            message = queue.get(block=True, timeout=10)
            got.append(message.payload)
            message.ack()
        queue.close()
    assert sorted(p["n"] for p in got) == list(range(5))
    assert {p["text"] for p in got} == {"héllo"}
    # Acknowledged means deleted: nothing is left for another consumer.
    sqs = server.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_kombu_worker_consumes_what_a_producer_sends(server: Server) -> None:
    name = f"work-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="direct")
    queue = Queue(name, exchange, routing_key=name)
    done: list[int] = []
    with _connection(server) as conn:

        def handle(body: dict[str, int], message: object) -> None:
            done.append(body["job"])
            message.ack()  # type: ignore[attr-defined]

        with Consumer(conn, queues=[queue], callbacks=[handle], accept=["json"]):
            producer = Producer(conn.channel())
            for job in range(10):
                producer.publish({"job": job}, exchange=exchange, routing_key=name,
                                 declare=[queue], serializer="json")  # fmt: skip
            deadline = time.monotonic() + 30
            while len(done) < 10 and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=2)
                except TimeoutError:
                    continue
    assert sorted(done) == list(range(10))
