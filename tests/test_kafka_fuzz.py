"""Random request bodies for every served API and version, straight into the broker's frame
handler: each is answered (a frame with its correlation id), never an exception, and the
broker still answers a well-formed request afterwards."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireside.kafka.broker import BrokerConfig
from fireside.kafka.schemas import APIS
from fireside.kafka.service import KafkaService

#: APIs that may legitimately wait (a long-poll Fetch, a join or sync awaiting other members).
WAITING = {1, 11, 14}
VERSIONS = [(key, v) for key, api in sorted(APIS.items()) for v in range(api.lo, api.hi + 2)]


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[KafkaService, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    directory: Path = tmp_path_factory.mktemp("kafka-fuzz")
    svc = KafkaService(directory, BrokerConfig(), max_request_bytes=1 << 20)
    yield svc, loop
    loop.run_until_complete(svc.close())
    loop.close()


def frame(key: int, version: int, correlation: int, body: bytes) -> bytes:
    flexible = version >= APIS[key].flexible
    return (
        struct.pack(">hhih", key, version, correlation, 4)
        + b"fuzz"
        + (b"\x00" if flexible else b"")
        + body
    )


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from(VERSIONS),
    body=st.binary(max_size=200),
    correlation=st.integers(0, 2**31 - 1),
)
def test_random_bodies_are_answered(
    service: tuple[KafkaService, asyncio.AbstractEventLoop],
    target: tuple[int, int],
    body: bytes,
    correlation: int,
) -> None:
    svc, loop = service
    key, version = target

    async def dispatch() -> bytes | None:
        return await svc.server._dispatch(
            frame(key, version, correlation, body), oversized=False, peer=None
        )

    try:
        answer = loop.run_until_complete(asyncio.wait_for(dispatch(), 2))
    except TimeoutError:
        assert key in WAITING
        return
    if answer is None:  # only an acks=0 Produce goes unanswered
        assert key == 0
        return
    assert struct.unpack_from(">i", answer)[0] == correlation
    ok = loop.run_until_complete(
        svc.server._dispatch(frame(18, 0, 7, b""), oversized=False, peer=None)
    )
    assert ok is not None and struct.unpack_from(">ih", ok) == (7, 0)


def _valid(key: int, version: int, body: dict[str, object]) -> tuple[int, int, bytes]:
    from fireside.kafka.codec import Writer, encode

    api = APIS[key]
    w = Writer()
    encode(w, api.request, body, version, version >= api.flexible)
    return key, version, w.getvalue()


BATCH = (
    bytes.fromhex(
        "0000000000000000000000460000000002"  # base offset, length, epoch, magic
    )
    + b"\x00" * 57
)
SEEDS = [
    _valid(3, 8, {"topics": [{"name": "fz"}], "allow_auto_topic_creation": True}),
    _valid(0, 8, {"acks": 1, "timeout_ms": 100, "topic_data": [
        {"name": "fz", "partition_data": [{"index": 0, "records": BATCH}]}]}),
    _valid(2, 5, {"replica_id": -1, "topics": [{"name": "fz", "partitions": [
        {"partition_index": 0, "timestamp": -2}]}]}),
    _valid(19, 4, {"topics": [{"name": "fz2", "num_partitions": 2, "replication_factor": 1,
                               "configs": [{"name": "retention.ms", "value": "1000"}]}]}),
    _valid(8, 7, {"group_id": "g", "generation_id": -1, "member_id": "", "topics": [
        {"name": "fz", "partitions": [{"partition_index": 0, "committed_offset": 1}]}]}),
    _valid(9, 5, {"group_id": "g", "topics": None}),
    _valid(32, 3, {"resources": [{"resource_type": 2, "resource_name": "fz", "configuration_keys": None}]}),
    _valid(37, 1, {"topics": [{"name": "fz", "count": 3, "assignments": None}]}),
    _valid(21, 1, {"topics": [{"name": "fz", "partitions": [{"partition_index": 0, "offset": 0}]}]}),
    _valid(15, 4, {"groups": ["g"]}),
    _valid(42, 1, {"groups_names": ["nope"]}),
    _valid(13, 3, {"group_id": "g", "members": [{"member_id": "m"}]}),
    _valid(12, 3, {"group_id": "g", "generation_id": 1, "member_id": "m"}),
]  # fmt: skip


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.sampled_from(SEEDS),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 400),
)
def test_mutated_requests_are_answered(
    service: tuple[KafkaService, asyncio.AbstractEventLoop],
    seed: tuple[int, int, bytes],
    flips: list[tuple[int, int]],
    cut: int,
) -> None:
    svc, loop = service
    key, version, body = seed
    data = bytearray(body[: max(cut, len(body) // 2)])
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    answer = loop.run_until_complete(
        asyncio.wait_for(
            svc.server._dispatch(frame(key, version, 99, bytes(data)), oversized=False, peer=None),
            5,
        )
    )
    assert (answer is None and key == 0) or (
        answer is not None and struct.unpack_from(">i", answer)[0] == 99
    )
