"""The supervisor of background loops: a crash is logged and the loop runs again; shutdown
closes every part even when one fails; health reports what is really running."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fireside.supervisor import Supervisor, close_all


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def test_a_crashed_loop_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    release = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("bug in the loop")
        await release.wait()  # the second run keeps going

    async def main() -> None:
        supervisor = Supervisor(first_delay=0.01)
        supervisor.start("lambda", "dispatch", flaky)
        supervisor.declare("sts")
        await wait_until(lambda: len(runs) == 2)
        await asyncio.sleep(0)
        health = supervisor.health()
        assert health["lambda"]["status"] == "running"
        loop = health["lambda"]["loops"]["dispatch"]
        assert loop["restarts"] == 1 and loop["state"] == "running"
        assert loop["last_error"] == "RuntimeError: bug in the loop"
        assert health["sts"] == {"status": "running"}
        await supervisor.close()
        assert supervisor.health()["lambda"]["loops"]["dispatch"]["state"] == "stopped"

    with caplog.at_level(logging.ERROR, logger="fireside.supervisor"):
        asyncio.run(main())
    assert any("crashed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_loop_waiting_to_restart_shows_the_service_degraded() -> None:
    async def broken() -> None:
        raise OSError("disk gone")

    async def main() -> None:
        supervisor = Supervisor(first_delay=60)
        supervisor.start("dynamodb", "ttl-sweep", broken)
        await wait_until(lambda: supervisor.health()["dynamodb"]["status"] == "degraded")
        loop = supervisor.health()["dynamodb"]["loops"]["ttl-sweep"]
        assert loop["state"] == "restarting" and loop["last_error"] == "OSError: disk gone"
        await supervisor.close()

    asyncio.run(main())


def test_a_loop_that_returns_is_restarted_too() -> None:
    runs: list[int] = []

    async def returns() -> None:
        runs.append(1)

    async def main() -> None:
        supervisor = Supervisor(first_delay=0.001)
        supervisor.start("s3", "outbox", returns)
        await wait_until(lambda: len(runs) >= 3)
        assert supervisor.health()["s3"]["loops"]["outbox"]["restarts"] >= 2
        await supervisor.close()

    asyncio.run(main())


def test_shutdown_closes_every_part_when_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    closed: list[str] = []

    def broken() -> None:
        raise RuntimeError("close failed")

    async def async_part() -> None:
        closed.append("async")

    with caplog.at_level(logging.ERROR, logger="fireside.supervisor"):
        asyncio.run(
            close_all(
                [
                    ("first", lambda: closed.append("first")),
                    ("broken", broken),
                    ("async", async_part),
                    ("last", lambda: closed.append("last")),
                ]
            )
        )
    assert closed == ["first", "async", "last"]
    assert any("closing broken failed" in r.getMessage() for r in caplog.records)
