"""The SQS provider called in-process (no server): a long-polling receiver is woken by the
send itself, the state written through survives reopening the store, concurrent requests share
commits (a failing one failing alone), and a store of the earlier layout is brought up to date."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.context import RequestContext
from fireside.sqs import SqsProvider, SqsStore
from fireside.sqs import store as store_module
from fireside.sqs.store import Writes

CTX = RequestContext("000000000000", "us-east-1", "req", "http://127.0.0.1:4566")


def call(provider: SqsProvider, operation: str, **params: Any) -> Any:
    return provider.operations()[operation](CTX, params)


def test_a_waiting_receiver_sees_a_send_within_milliseconds(tmp_path: Path) -> None:
    provider = SqsProvider(SqsStore(tmp_path / "sqs.sqlite"))

    async def scenario() -> list[float]:
        url = (await call(provider, "CreateQueue", QueueName="fast"))["QueueUrl"]
        delays = []
        for _ in range(20):
            receiving = asyncio.create_task(
                call(provider, "ReceiveMessage", QueueUrl=url, WaitTimeSeconds=5)
            )
            await asyncio.sleep(0.01)  # the receiver is waiting
            assert not receiving.done()
            await call(provider, "SendMessage", QueueUrl=url, MessageBody="x")
            sent = time.perf_counter()
            answer = await receiving
            delays.append(time.perf_counter() - sent)
            handle = answer["Messages"][0]["ReceiptHandle"]
            await call(provider, "DeleteMessage", QueueUrl=url, ReceiptHandle=handle)
        return delays

    delays = sorted(asyncio.run(scenario()))
    provider.close()
    # The target is 5 ms; the receiver resumes on the send's own wake-up (typically ~0.1 ms).
    assert delays[len(delays) // 2] < 0.005, delays


def test_state_survives_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "sqs.sqlite"
    first = SqsProvider(SqsStore(path))

    async def before() -> str:
        url: str = (await call(first, "CreateQueue", QueueName="kept", tags={"a": "b"}))["QueueUrl"]
        await call(first, "SendMessage", QueueUrl=url, MessageBody="one")
        await call(first, "SendMessage", QueueUrl=url, MessageBody="two", DelaySeconds=900)
        return url

    url = asyncio.run(before())
    first.close()
    second = SqsProvider(SqsStore(path))

    async def after() -> tuple[Any, Any, Any]:
        tags = await call(second, "ListQueueTags", QueueUrl=url)
        counts = await call(second, "GetQueueAttributes", QueueUrl=url, AttributeNames=["All"])
        got = await call(second, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10)
        return tags, counts, got

    tags, counts, got = asyncio.run(after())
    second.close()
    assert tags["Tags"] == {"a": "b"}
    assert counts["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert [m["Body"] for m in got["Messages"]] == ["one"]


def test_concurrent_sends_share_commits_and_survive(tmp_path: Path) -> None:
    path = tmp_path / "sqs.sqlite"
    provider = SqsProvider(SqsStore(path))

    async def scenario() -> tuple[str, int]:
        url: str = (await call(provider, "CreateQueue", QueueName="group"))["QueueUrl"]
        before = provider.store.commits
        await asyncio.gather(
            *(call(provider, "SendMessage", QueueUrl=url, MessageBody=f"m{i}") for i in range(50))
        )
        return url, provider.store.commits - before

    url, commits = asyncio.run(scenario())
    provider.close()
    # Sent in one turn of the event loop: one group commit (a few at most), not fifty.
    assert commits < 10, commits
    reopened = SqsProvider(SqsStore(path))

    async def drain() -> list[str]:
        bodies: list[str] = []
        while answer := await call(
            reopened, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10
        ):
            bodies += [m["Body"] for m in answer["Messages"]]
        return bodies

    bodies = asyncio.run(drain())
    reopened.close()
    assert sorted(bodies) == sorted(f"m{i}" for i in range(50))


def test_a_failing_write_fails_its_own_request_only(tmp_path: Path) -> None:
    path = tmp_path / "sqs.sqlite"
    store = SqsStore(path)
    bad, good = Writes(), Writes()
    bad.statements.append(("INSERT INTO no_such_table VALUES (1)", (), False))
    good.put_queue(("000000000000", "us-east-1", "kept"), {"attributes": {}, "tags": {}})

    async def scenario() -> list[BaseException | None]:
        return await asyncio.gather(store.commit(bad), store.commit(good), return_exceptions=True)

    outcomes = asyncio.run(scenario())
    store.close()
    assert isinstance(outcomes[0], sqlite3.OperationalError)
    assert outcomes[1] is None
    reopened = SqsStore(path)
    assert [name for _, _, name, _ in reopened.queues()] == ["kept"]
    reopened.close()


def test_sequence_numbers_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "sqs.sqlite"
    first = SqsProvider(SqsStore(path))

    async def send_and_delete() -> str:
        url: str = (await call(first, "CreateQueue", QueueName="seq"))["QueueUrl"]
        await call(first, "SendMessage", QueueUrl=url, MessageBody="kept")
        await call(first, "SendMessage", QueueUrl=url, MessageBody="gone")
        got = await call(first, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10)
        handle = next(m["ReceiptHandle"] for m in got["Messages"] if m["Body"] == "gone")
        await call(first, "DeleteMessage", QueueUrl=url, ReceiptHandle=handle)
        return url

    url = asyncio.run(send_and_delete())
    highest = max(row[0] for row in first.store.messages()) + 1  # "gone" was after "kept"
    first.close()
    second = SqsProvider(SqsStore(path))
    asyncio.run(call(second, "SendMessage", QueueUrl=url, MessageBody="new"))
    seqs = {row[5]["body"]: row[0] for row in second.store.messages()}
    second.close()
    # The deleted message's number (and its receipt handles) never names another message.
    assert seqs["new"] > highest


#: The layout before sequence numbers were allocated by the store.
_OLD_SCHEMA = """
CREATE TABLE queues (account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (account, region, name));
CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL,
    region TEXT NOT NULL, queue TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL,
    visible_at REAL NOT NULL, receives INTEGER NOT NULL, first_receive REAL, receipt TEXT);
CREATE INDEX messages_queue ON messages (account, region, queue);
"""


def test_a_store_of_the_earlier_layout_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "sqs.sqlite"
    old = sqlite3.connect(path)
    old.executescript(_OLD_SCHEMA)
    record = {"attributes": {}, "tags": {}, "created": 1, "modified": 1, "next_sequence": 1}
    old.execute(
        "INSERT INTO queues VALUES (?, ?, ?, ?)",
        ("000000000000", "us-east-1", "old", json.dumps(record)),
    )
    for i, body in enumerate(["one", "two", "deleted"], start=1):
        message = {"body": body, "md5b": "-", "sent": int(time.time() * 1000), "sender": "x"}
        old.execute(
            "INSERT INTO messages (account, region, queue, id, record, visible_at, receives)"
            " VALUES (?, ?, ?, ?, ?, 0, 0)",
            ("000000000000", "us-east-1", "old", f"id-{i}", json.dumps(message)),
        )
    old.execute("DELETE FROM messages WHERE seq = 3")
    old.commit()
    old.close()

    provider = SqsProvider(SqsStore(path))

    async def scenario() -> list[str]:
        url = "http://127.0.0.1:4566/000000000000/old"
        await call(provider, "SendMessage", QueueUrl=url, MessageBody="three")
        got = await call(provider, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10)
        return [m["Body"] for m in got["Messages"]]

    assert asyncio.run(scenario()) == ["one", "two", "three"]
    seqs = {row[5]["body"]: row[0] for row in provider.store.messages()}
    provider.close()
    assert seqs["one"] == 1 and seqs["three"] > 3  # AUTOINCREMENT's mark is kept
    layout = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master").fetchall()
    assert not any("AUTOINCREMENT" in (sql or "") for (sql,) in layout)


def test_sequence_ranges_are_reserved_before_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SEQ_BLOCK", 4)  # cross the reserved range often
    path = tmp_path / "sqs.sqlite"
    first = SqsProvider(SqsStore(path))

    async def send_and_delete_all() -> str:
        url: str = (await call(first, "CreateQueue", QueueName="ranges"))["QueueUrl"]
        await call(
            first,
            "SendMessageBatch",
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)],
        )
        for _ in range(11):
            await call(first, "SendMessage", QueueUrl=url, MessageBody="one")
        while got := await call(first, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(got["Messages"])
            ]
            await call(first, "DeleteMessageBatch", QueueUrl=url, Entries=entries)
        return url

    url = asyncio.run(send_and_delete_all())
    used = first.store.allocate(1).start  # the next number the first server would give
    first.close()
    second = SqsProvider(SqsStore(path))
    asyncio.run(call(second, "SendMessage", QueueUrl=url, MessageBody="after"))
    (seq,) = [row[0] for row in second.store.messages()]
    second.close()
    assert seq >= used  # every number the first server gave (all deleted) stays unused
