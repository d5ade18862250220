"""EventBridge archives and replays with boto3 against a live server: the managed rule AWS
creates, events archived before PutEvents answers, replays re-sending them with
`replay-name`, AWS's errors, kill -9, and retention expiry (in-process)."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.events.archives import Archive, ArchiveStore, Replay
from fireside.events.delivery import Router
from fireside.events.replay import Replayer
from fireside.events.store import EventStore, Rule
from fireside.targets import Accepted, Delivery, Outcome, Targets
from tests.conftest import Server

ACCOUNT = "000000000000"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _queue(server: Server, rule_arns: list[str]) -> tuple[str, str]:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=_name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def _drain(server: Server, url: str) -> list[dict[str, Any]]:
    sqs = server.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _wait_state(events: Any, replay: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        described: dict[str, Any] = events.describe_replay(ReplayName=replay)
        if described["State"] in states:
            return described
        assert time.monotonic() < deadline, f"replay stuck in {described['State']}"
        time.sleep(0.02)


def test_archive_and_replay(server: Server) -> None:
    events = server.client("events")
    bus = _name("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    archive = _name("arch")
    created = events.create_archive(
        ArchiveName=archive,
        EventSourceArn=bus_arn,
        EventPattern='{"source": ["shop"]}',
        RetentionDays=7,
    )
    assert created["ArchiveArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:archive/{archive}"
    assert created["State"] == "ENABLED"
    # As on AWS, the archive is a managed rule on the bus.
    (managed,) = events.list_rules(EventBusName=bus)["Rules"]
    assert managed["Name"] == f"Events-Archive-{archive}"
    assert managed["ManagedBy"] == "prod.vhs.events.aws.internal"
    assert json.loads(managed["EventPattern"]) == {
        "source": ["shop"],
        "replay-name": [{"exists": False}],
    }

    first = events.put_rule(Name="a", EventBusName=bus, EventPattern='{"source": ["shop"]}')
    second = events.put_rule(Name="b", EventBusName=bus, EventPattern='{"source": ["shop"]}')
    url_a, queue_a = _queue(server, [first["RuleArn"]])
    url_b, queue_b = _queue(server, [second["RuleArn"]])
    events.put_targets(Rule="a", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_a}])
    events.put_targets(Rule="b", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_b}])

    entries = [
        {
            "Source": source,
            "DetailType": "order",
            "Detail": json.dumps({"n": n}),
            "Time": T0 + timedelta(minutes=n),
            "EventBusName": bus,
        }
        for n, source in ((1, "shop"), (2, "other"), (3, "shop"), (90, "shop"))
    ]
    ids = [e["EventId"] for e in events.put_events(Entries=entries)["Entries"]]
    described = events.describe_archive(ArchiveName=archive)
    assert described["EventCount"] == 3  # archived before PutEvents answered
    assert described["SizeBytes"] > 0
    assert described["RetentionDays"] == 7 and described["EventPattern"] == '{"source": ["shop"]}'
    assert len(_drain(server, url_a)) == 3 and len(_drain(server, url_b)) == 3

    replay = _name("replay")
    started = events.start_replay(
        ReplayName=replay,
        EventSourceArn=created["ArchiveArn"],
        EventStartTime=T0,
        EventEndTime=T0 + timedelta(hours=1),
        Destination={"Arn": bus_arn, "FilterArns": [first["RuleArn"]]},
    )
    assert started["State"] in ("STARTING", "RUNNING", "COMPLETED")
    done = _wait_state(events, replay, {"COMPLETED"})
    assert done["Destination"] == {"Arn": bus_arn, "FilterArns": [first["RuleArn"]]}
    assert done["ReplayEndTime"] >= done["ReplayStartTime"]
    replayed = _drain(server, url_a)
    assert [e["id"] for e in replayed] == [ids[0], ids[2]]  # not the one after EventEndTime
    assert {e["replay-name"] for e in replayed} == {replay}
    assert _drain(server, url_b) == []  # not named in FilterArns
    # Replayed events are not archived again.
    assert events.describe_archive(ArchiveName=archive)["EventCount"] == 3
    listed = events.list_replays(NamePrefix=replay)["Replays"]
    assert [(r["ReplayName"], r["State"]) for r in listed] == [(replay, "COMPLETED")]

    with pytest.raises(ClientError) as caught:
        events.cancel_replay(ReplayName=replay)
    assert caught.value.response["Error"] == {
        "Code": "IllegalStatusException",
        "Message": f"Replay {replay} is not in a valid state for this operation.",
    }

    events.update_archive(ArchiveName=archive, EventPattern='{"source": ["other"]}')
    events.put_events(Entries=[{**entries[1], "Time": T0}])
    assert events.describe_archive(ArchiveName=archive)["EventCount"] == 4
    events.delete_archive(ArchiveName=archive)
    assert [r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]] == ["a", "b"]


def test_archive_and_replay_errors(server: Server) -> None:
    events = server.client("events")
    default = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    archive = _name("err")

    def error(call: Any, **params: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as caught:
            call(**params)
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    assert error(
        events.create_archive,
        ArchiveName=archive,
        EventSourceArn=f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/nope",
    ) == ("ResourceNotFoundException", "Event bus nope does not exist.")
    assert error(
        events.create_archive, ArchiveName=archive, EventSourceArn=default, EventPattern="x"
    )[0] == ("InvalidEventPatternException")
    arn = events.create_archive(ArchiveName=archive, EventSourceArn=default)["ArchiveArn"]
    assert error(events.create_archive, ArchiveName=archive, EventSourceArn=default) == (
        "ResourceAlreadyExistsException",
        f"Archive {archive} already exists.",
    )
    managed = f"Events-Archive-{archive}"
    assert error(events.delete_rule, Name=managed)[0] == "ManagedRuleException"
    assert error(events.put_targets, Rule=managed, Targets=[{"Id": "x", "Arn": default}])[0] == (
        "ManagedRuleException"
    )
    assert error(events.describe_archive, ArchiveName="none") == (
        "ResourceNotFoundException",
        "Archive none does not exist.",
    )
    assert error(events.list_archives, NamePrefix="a", State="ENABLED") == (
        "ValidationException",
        "At most one filter is allowed for ListArchives. "
        "Use either : State, EventSourceArn, or NamePrefix.",
    )
    window = {"EventStartTime": T0, "EventEndTime": T0 + timedelta(hours=1)}
    assert error(
        events.start_replay,
        ReplayName="r",
        EventSourceArn=arn,
        Destination={"Arn": "invalid"},
        **window,
    ) == (
        "ValidationException",
        "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN.",
    )
    other = events.create_event_bus(Name=_name("other"))["EventBusArn"]
    assert error(
        events.start_replay,
        ReplayName="r",
        EventSourceArn=arn,
        Destination={"Arn": other},
        **window,
    ) == (
        "ValidationException",
        "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
    )
    assert error(
        events.start_replay,
        ReplayName="r",
        EventSourceArn=arn.replace(archive, "gone"),
        Destination={"Arn": default},
        **window,
    ) == (
        "ValidationException",
        "Parameter EventSourceArn is not valid. Reason: Archive gone does not exist.",
    )
    assert error(
        events.start_replay,
        ReplayName="r",
        EventSourceArn=arn,
        Destination={"Arn": default},
        EventStartTime=T0,
        EventEndTime=T0,
    ) == (
        "ValidationException",
        "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
    )
    name = _name("dup")
    events.start_replay(ReplayName=name, EventSourceArn=arn, Destination={"Arn": default}, **window)
    assert error(
        events.start_replay,
        ReplayName=name,
        EventSourceArn=arn,
        Destination={"Arn": default},
        **window,
    ) == ("ResourceAlreadyExistsException", f"Replay {name} already exists.")
    assert error(events.describe_replay, ReplayName="none") == (
        "ResourceNotFoundException",
        "Replay none does not exist.",
    )
    events.delete_archive(ArchiveName=archive)


def test_archived_events_survive_kill_9(fresh_server: Any) -> None:
    first = fresh_server()
    events = first.client("events")
    events.create_archive(
        ArchiveName="keep", EventSourceArn=f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    )
    events.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}])
    first.stop(signal.SIGKILL)
    second = fresh_server(first.data_dir)
    described = second.client("events").describe_archive(ArchiveName="keep")
    assert described["EventCount"] == 1


def test_retention_drops_old_events(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = EventStore(tmp_path / "events.sqlite")
    archives = ArchiveStore(store.conn, clock=lambda: now[0])
    kept = Archive(ACCOUNT, "us-east-1", "forever", "arn", "default")
    week = Archive(ACCOUNT, "us-east-1", "week", "arn", "default", retention_days=7)
    for archive in (kept, week):
        archives.put_archive(archive)
        archives.store_events(archive, [{"id": "1", "time": "2024-01-01T00:00:00Z"}])
    now[0] += 7 * 86400 - 1
    assert archives.expire(now[0]) == 0
    now[0] += 2
    assert archives.expire(now[0]) == 1
    assert archives.counts(week) == (0, 0) and archives.counts(kept)[0] == 1


class _Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        self.bodies += [json.loads(d.body) for d in deliveries]
        return [Accepted("m") for _ in deliveries]


def _replay_setup(path: Path) -> tuple[EventStore, ArchiveStore, Replayer, _Recorder]:
    store = EventStore(path / "events.sqlite")
    archives = ArchiveStore(store.conn)
    targets = Targets()
    recorder = _Recorder()
    targets.register("sqs", recorder)
    rule = Rule(ACCOUNT, "us-east-1", "default", "r", event_pattern='{"source": ["s"]}')
    rule.targets["q"] = {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"}
    store.put_rule(rule)
    return store, archives, Replayer(archives, Router(store, targets)), recorder


def test_a_replay_goes_on_after_a_restart_and_can_be_cancelled(tmp_path: Path) -> None:
    store, archives, replayer, recorder = _replay_setup(tmp_path)
    archive = Archive(ACCOUNT, "us-east-1", "a", "arn", "default")
    archives.put_archive(archive)
    archives.store_events(
        archive,
        [{"id": str(n), "source": "s", "time": "2024-03-01T12:00:00Z"} for n in range(150)],
    )
    window = (T0.timestamp() - 60, T0.timestamp() + 60)
    archives.put_replay(Replay(ACCOUNT, "us-east-1", "long", "a", "default", *window))
    assert replayer.step()  # the first hundred, then the server "stops"
    assert len(recorder.bodies) == 100
    store.close()

    store, archives, replayer, recorder = _replay_setup(tmp_path)
    replay = archives.replays[(ACCOUNT, "us-east-1", "long")]
    assert replay.state == "RUNNING" and replay.last_replayed is not None
    while replayer.step():
        pass
    assert [b["id"] for b in recorder.bodies] == [str(n) for n in range(100, 150)]
    assert {b["replay-name"] for b in recorder.bodies} == {"long"}
    assert archives.replays[(ACCOUNT, "us-east-1", "long")].state == "COMPLETED"

    archives.put_replay(Replay(ACCOUNT, "us-east-1", "stop", "a", "default", *window))
    archives.replays[(ACCOUNT, "us-east-1", "stop")].state = "CANCELLING"
    replayer.step()
    stopped = archives.replays[(ACCOUNT, "us-east-1", "stop")]
    assert stopped.state == "CANCELLED" and stopped.ended is not None
    assert len(recorder.bodies) == 50  # nothing sent for the cancelled replay
