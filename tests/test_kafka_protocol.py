"""The broker on the wire, driven by hand-built frames: version negotiation, every kind of bad
frame answered with Kafka's error code (and the connection still serving), produce/fetch of raw
record batches (re-based, CRC intact), idempotent-producer sequence checks, long-poll Fetch."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fireside.aws.crc32c import crc32c
from tests.conftest import Server
from tests.kafka_wire import Conn, record_batch

API_VERSIONS, METADATA, PRODUCE, FETCH, LIST_OFFSETS, HEARTBEAT = 18, 3, 0, 1, 2, 12
MAX_REQUEST, MAX_MESSAGE = 256 * 1024, 64 * 1024


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("kafka-protocol"),
        env={
            "FIRESIDE_KAFKA_MAX_REQUEST_BYTES": str(MAX_REQUEST),
            "FIRESIDE_KAFKA_MAX_MESSAGE_BYTES": str(MAX_MESSAGE),
            "FIRESIDE_KAFKA_DEFAULT_PARTITIONS": "2",
        },
    ).start()
    yield srv
    srv.stop()


@pytest.fixture()
def conn(broker: Server) -> Iterator[Conn]:
    c = Conn(broker.kafka_port)
    yield c
    c.close()


def still_serving(conn: Conn) -> None:
    answer = conn.call(API_VERSIONS, 0, {})
    assert answer["error_code"] == 0 and answer["api_keys"]


def produce(
    conn: Conn, topic: str, records: bytes, acks: int = -1, partition: int = 0
) -> dict[str, Any]:
    answer = conn.call(PRODUCE, 8, {"acks": acks, "timeout_ms": 5000, "topic_data": [
        {"name": topic, "partition_data": [{"index": partition, "records": records}]}]})  # fmt: skip
    part: dict[str, Any] = answer["responses"][0]["partition_responses"][0]
    return part


def create(conn: Conn, topic: str) -> None:
    answer = conn.call(
        METADATA, 8, {"topics": [{"name": topic}], "allow_auto_topic_creation": True}
    )
    assert answer["topics"][0]["error_code"] == 0
    assert len(answer["topics"][0]["partitions"]) == 2  # FIRESIDE_KAFKA_DEFAULT_PARTITIONS


def fetch(
    conn: Conn, topic: str, offset: int, *, wait_ms: int = 0, partition: int = 0
) -> dict[str, Any]:
    answer = conn.call(FETCH, 11, {"replica_id": -1, "max_wait_ms": wait_ms, "min_bytes": 1,
        "max_bytes": 1 << 20, "session_epoch": -1, "topics": [{"topic": topic, "partitions": [
            {"partition": partition, "fetch_offset": offset, "partition_max_bytes": 1 << 20}]}]})  # fmt: skip
    part: dict[str, Any] = answer["responses"][0]["partitions"][0]
    return part


def test_api_versions_ranges_v0_and_flexible_v3(conn: Conn) -> None:
    ranges = {
        k["api_key"]: (k["min_version"], k["max_version"])
        for k in conn.call(API_VERSIONS, 0, {})["api_keys"]
    }
    assert ranges[PRODUCE] == (3, 9) and ranges[FETCH] == (4, 12) and ranges[METADATA] == (0, 9)
    assert {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 32, 37, 42} <= set(
        ranges
    )
    flexible = conn.call(
        API_VERSIONS, 3, {"client_software_name": "t", "client_software_version": "1"}
    )
    assert flexible["error_code"] == 0 and len(flexible["api_keys"]) == len(ranges)


def test_api_versions_too_new_answers_v0_with_ranges(conn: Conn) -> None:
    conn.send_frame(conn.header(API_VERSIONS, 42) + b"\x00junk")
    answer = conn.response(API_VERSIONS, 0)
    assert answer["error_code"] == 35  # UNSUPPORTED_VERSION
    assert any(k["api_key"] == PRODUCE for k in answer["api_keys"])
    still_serving(conn)


def test_unsupported_version_of_another_api(conn: Conn) -> None:
    conn.send_frame(conn.header(HEARTBEAT, 99) + b"\x00\x01g")
    assert conn.response(HEARTBEAT, 4)["error_code"] == 35  # in the nearest version, v4
    still_serving(conn)


def test_unknown_api_key(conn: Conn) -> None:
    conn.send_frame(conn.header(9999 % 32768, 0))
    frame = conn.read_frame()
    assert struct.unpack_from(">ih", frame) == (conn.correlation, 35)
    still_serving(conn)


def test_truncated_body_answers_what_was_read(conn: Conn) -> None:
    # Metadata v1 naming 5 topics, of which only one is in the frame.
    body = struct.pack(">i", 5) + struct.pack(">h", 3) + b"abc"
    conn.send_frame(conn.header(METADATA, 1) + body)
    answer = conn.response(METADATA, 1)
    assert [(t["name"], t["error_code"]) for t in answer["topics"]] == [
        ("abc", 42)
    ]  # INVALID_REQUEST
    still_serving(conn)


def test_unparseable_header_closes_only_that_connection(broker: Server, conn: Conn) -> None:
    conn.sock.sendall(struct.pack(">i", 3) + b"abc")
    with pytest.raises(ConnectionError):
        conn.read_frame()
    torn = Conn(broker.kafka_port)  # a frame cut short by the client going away
    torn.sock.sendall(struct.pack(">i", 100) + b"0123456789")
    torn.close()
    fresh = Conn(broker.kafka_port)
    still_serving(fresh)
    fresh.close()


def test_oversized_request_answered_message_too_large(conn: Conn) -> None:
    create(conn, "big")
    huge = record_batch([b"x" * (MAX_REQUEST + 1000)])
    assert produce(conn, "big", huge)["error_code"] == 10  # MESSAGE_TOO_LARGE
    over_batch_cap = record_batch([b"y" * (MAX_MESSAGE + 10)])
    assert produce(conn, "big", over_batch_cap)["error_code"] == 10
    assert produce(conn, "big", record_batch([b"fits"]))["error_code"] == 0
    still_serving(conn)


def test_corrupt_batch_and_bad_acks(conn: Conn) -> None:
    create(conn, "corrupt")
    batch = bytearray(record_batch([b"hello"]))
    batch[-3] ^= 0xFF
    assert produce(conn, "corrupt", bytes(batch))["error_code"] == 2  # CORRUPT_MESSAGE
    assert produce(conn, "corrupt", b"\x00" * 70)["error_code"] in (2, 87)
    assert produce(conn, "corrupt", record_batch([b"a"]), acks=5)["error_code"] == 21
    assert produce(conn, "nope-no-topic", record_batch([b"a"]))["error_code"] == 3
    latest = conn.call(LIST_OFFSETS, 5, {"replica_id": -1, "topics": [
        {"name": "corrupt", "partitions": [{"partition_index": 0, "timestamp": -1}]}]})  # fmt: skip
    assert latest["topics"][0]["partitions"][0]["offset"] == 0


def test_batches_rebased_and_served_back_intact(conn: Conn) -> None:
    create(conn, "raw")
    first = produce(conn, "raw", record_batch([b"a", b"b", b"c"]))
    second = produce(conn, "raw", record_batch([b"d"]))
    assert (first["base_offset"], second["base_offset"]) == (0, 3)
    part = fetch(conn, "raw", 3)
    assert part["error_code"] == 0 and part["high_watermark"] == 4
    data = part["records"]
    assert struct.unpack_from(">q", data)[0] == 3
    assert crc32c(data[21:]) == struct.unpack_from(">I", data, 17)[0]
    whole = fetch(conn, "raw", 1)["records"]  # from the middle of the first batch
    assert struct.unpack_from(">q", whole)[0] == 0 and len(whole) > len(data)
    assert fetch(conn, "raw", 99)["error_code"] == 1  # OFFSET_OUT_OF_RANGE


def test_idempotent_sequences(conn: Conn) -> None:
    create(conn, "idem")
    pid = conn.call(22, 1, {"transactional_id": None, "transaction_timeout_ms": 1000})
    assert pid["error_code"] == 0 and pid["producer_id"] >= 0
    pid_, epoch = pid["producer_id"], pid["producer_epoch"]
    first = produce(
        conn, "idem", record_batch([b"1", b"2"], producer_id=pid_, epoch=epoch, sequence=0)
    )
    retry = produce(
        conn, "idem", record_batch([b"1", b"2"], producer_id=pid_, epoch=epoch, sequence=0)
    )
    assert first["error_code"] == retry["error_code"] == 0
    assert retry["base_offset"] == first["base_offset"]  # the retry is not stored twice
    gap = produce(conn, "idem", record_batch([b"9"], producer_id=pid_, epoch=epoch, sequence=5))
    assert gap["error_code"] == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
    nxt = produce(conn, "idem", record_batch([b"3"], producer_id=pid_, epoch=epoch, sequence=2))
    assert nxt["error_code"] == 0 and nxt["base_offset"] == 2


def test_waiting_fetch_is_woken_by_produce(broker: Server, conn: Conn) -> None:
    create(conn, "wake")
    result: dict[str, Any] = {}

    def wait() -> None:
        waiter = Conn(broker.kafka_port)
        started = time.monotonic()
        result["part"] = fetch(waiter, "wake", 0, wait_ms=20_000)
        result["elapsed"] = time.monotonic() - started
        waiter.close()

    thread = threading.Thread(target=wait)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "part" not in result:
        produce(conn, "wake", record_batch([b"ping"]))
        thread.join(0.2)
    thread.join(10)
    assert result["part"]["records"] and result["part"]["error_code"] == 0
    assert result["elapsed"] < 10  # woken by the produce, long before its 20 s max wait


def test_broker_loops_in_health(broker: Server) -> None:
    kafka = broker.health()["services"]["kafka"]
    assert kafka["status"] == "running"
    assert {name: loop["state"] for name, loop in kafka["loops"].items()} == {
        "listener": "running",
        "retention": "running",
        "msk-clusters": "running",
    }
