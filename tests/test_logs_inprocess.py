"""CloudWatch Logs in process, where time matters: retention drops a group's expired older
half, and a Live Tail session ends after AWS's three hours (a clock the test moves)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from fireside.aws.context import RequestContext
from fireside.logs.live_tail import MAX_SESSION, LiveTail
from tests.cfn_data_support import ACCOUNT, REGION, App

DAY = 86_400_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    built = App(tmp_path_factory.mktemp("logs-inprocess"))
    # Groups rotate their files at half this (at least 1 MiB): small, so a test fills one.
    built.fireside.cloudwatch_logs.groups.max_bytes = 1 << 20
    yield built
    built.close()


async def call(app: App, operation: str, params: dict[str, Any]) -> Any:
    return await app.call("logs", operation, params)


def test_retention_drops_the_expired_older_half(app: App) -> None:
    async def scenario() -> None:
        await call(app, "CreateLogGroup", {"logGroupName": "/retained"})
        await call(app, "CreateLogStream", {"logGroupName": "/retained", "logStreamName": "s"})
        now = (await call(app, "DescribeLogGroups", {}))["logGroups"][0]["creationTime"]
        big = "x" * 200_000
        for batch in range(6):  # 1.2 MB, two days old: the file rotates once
            stamp = now - 2 * DAY + batch
            await call(
                app,
                "PutLogEvents",
                {
                    "logGroupName": "/retained",
                    "logStreamName": "s",
                    "logEvents": [{"timestamp": stamp, "message": big}],
                },
            )
        await call(
            app,
            "PutLogEvents",
            {
                "logGroupName": "/retained",
                "logStreamName": "s",
                "logEvents": [{"timestamp": now, "message": "fresh"}],
            },
        )

    app.run(scenario())
    groups = app.fireside.cloudwatch_logs.groups
    group = groups.store.group(ACCOUNT, REGION, "/retained")
    assert group is not None
    files = groups.files(group)
    assert len(files.halves()) == 2
    assert groups.expire() == 0  # no retention: everything is kept
    app.run(call(app, "PutRetentionPolicy", {"logGroupName": "/retained", "retentionInDays": 1}))
    assert groups.expire() == 1
    assert [path for _, path in files.halves()] == [files.path]
    events = app.run(call(app, "FilterLogEvents", {"logGroupName": "/retained"}))["events"]
    assert [e["message"] for e in events] == ["fresh"]


def test_a_live_tail_ends_after_three_hours(app: App) -> None:
    now = [1000.0]
    tail = LiveTail(app.fireside.cloudwatch_logs.provider, clock=lambda: now[0])
    ctx = RequestContext(ACCOUNT, REGION, "req", "http://127.0.0.1:4566")

    async def scenario() -> list[str]:
        await call(app, "CreateLogGroup", {"logGroupName": "/tailed"})
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/tailed"
        answer = await tail.start_live_tail(ctx, {"logGroupIdentifiers": [arn]})
        stream = answer["responseStream"]
        kinds = []
        async for event in stream:
            kinds.extend(event)
            if len(kinds) == 2:
                now[0] += MAX_SESSION + 1  # past the cap: the stream ends by itself
        return kinds

    kinds = app.run(asyncio.wait_for(scenario(), 30))
    assert kinds[0] == "sessionStart" and set(kinds[1:]) == {"sessionUpdate"}
    group = app.fireside.cloudwatch_logs.groups.store.group(ACCOUNT, REGION, "/tailed")
    assert group is not None
    assert app.fireside.cloudwatch_logs.groups._listeners.get((ACCOUNT, REGION, "/tailed")) == []
