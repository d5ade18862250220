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
