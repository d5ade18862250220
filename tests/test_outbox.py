"""The durable outbox (`fireside.outbox`): deliveries survive a reopen, binary attributes
round-trip, final refusals are dropped and counted, retriable ones are kept, and schema 8's
S3 invocation records move into it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from fireside.outbox import Outbox
from fireside.store.database import Database
from fireside.targets import Accepted, Delivery, Outcome, Refused, Sender, Targets


class Recorder:
    def __init__(self, answers: list[Outcome]) -> None:
        self.answers = answers
        self.seen: list[Delivery] = []

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        self.seen += deliveries
        return [self.answers.pop(0) for _ in deliveries]


def test_deliveries_survive_a_reopen_and_are_retried_or_dropped(tmp_path: Path) -> None:
    db = Database(tmp_path / "meta.sqlite")
    sender = Sender("111111111111", "us-east-1", "events.amazonaws.com", "arn:aws:events:x")
    first = Delivery(
        sender,
        "arn:aws:sqs:us-east-1:111111111111:q",
        "body-1",
        attributes={"bin": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}},
        group_id="g",
        dedup_id="d",
        subject="s",
        extra={"key": "k"},
    )
    second = Delivery(sender, "arn:aws:sqs:us-east-1:111111111111:gone", "body-2")
    with db.transaction() as conn:
        Outbox.insert(conn, first)
        Outbox.insert(conn, second)
    db.close()

    reopened = Database(tmp_path / "meta.sqlite")
    recorder = Recorder(
        [Refused("InternalError", "disk full", retriable=True), Refused("NoSuchQueue", "gone")]
    )
    targets = Targets()
    targets.register("sqs", recorder)
    outbox = Outbox(reopened, targets)
    assert outbox.pending() == 2
    next_at = outbox.deliver_due()
    assert [d.body for d in recorder.seen] == ["body-1", "body-2"]
    assert recorder.seen[0] == first  # everything round-trips, binary values included
    assert outbox.pending() == 1 and outbox.dropped == 1  # the final refusal is gone
    assert next_at is not None  # the retriable one waits its backoff

    recorder.answers = [Accepted("m-1")]
    reopened.query("SELECT 1")  # the row is still there after the refusal
    with reopened.transaction() as conn:
        conn.execute("UPDATE outbox SET not_before = 0")
    assert outbox.deliver_due() is None
    assert outbox.pending() == 0 and len(recorder.seen) == 3


def test_schema_8_records_move_into_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE async_records (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT, "
        "bucket TEXT, key TEXT, record BLOB, not_before REAL);"
        "INSERT INTO async_records (account, bucket, key, record, not_before) "
        "VALUES ('111111111111', 'records', 'aws/lambda/async/fn/x', X'7B7D', 5.0);"
        "PRAGMA user_version=8;"
    )
    conn.close()
    db = Database(path)
    recorder = Recorder([Accepted("s3://records/aws/lambda/async/fn/x")])
    targets = Targets()
    targets.register("s3", recorder)
    Outbox(db, targets).deliver_due()
    (delivery,) = recorder.seen
    assert (delivery.arn, delivery.body, delivery.sender.account) == (
        "arn:aws:s3:::records",
        "{}",
        "111111111111",
    )
    assert delivery.extra == {"key": "aws/lambda/async/fn/x", "content_type": "application/json"}
    tables = {row[0] for row in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "async_records" not in tables
