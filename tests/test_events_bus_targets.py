"""The EventBridge handler of `fireside.targets` in-process: what another service (a Lambda
destination, a schedule) gets when it puts an event on a bus by ARN, and its refusals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from fireside.events.archives import ArchiveStore
from fireside.events.delivery import Router
from fireside.events.store import Bus, EventStore, Rule
from fireside.events.targets import BusTargets
from fireside.targets import Accepted, Delivery, Outcome, Refused, Sender, Targets

A, B = "111111111111", "222222222222"
BUS = f"arn:aws:events:us-east-1:{A}:event-bus/orders"


class Recorder:
    def __init__(self) -> None:
        self.got: list[Delivery] = []

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        self.got += deliveries
        return [Accepted("m") for _ in deliveries]


def _setup(tmp_path: Path) -> tuple[EventStore, Targets, Recorder]:
    store = EventStore(tmp_path / "events.sqlite")
    targets = Targets()
    router = Router(store, targets)
    targets.register("events", BusTargets(store, router, ArchiveStore(store.conn)))
    recorder = Recorder()
    targets.register("sqs", recorder)
    store.put_bus(Bus(A, "us-east-1", "orders"))
    rule = Rule(A, "us-east-1", "orders", "all", event_pattern='{"source": ["lambda"]}')
    rule.targets["q"] = {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{A}:q"}
    store.put_rule(rule)
    return store, targets, recorder


def _from_service(sender: Sender, arn: str = BUS) -> Delivery:
    return Delivery(
        sender,
        arn,
        json.dumps({"requestContext": {"condition": "Success"}}),
        extra={"Source": "lambda", "DetailType": "Lambda Function Invocation Result - Success"},
    )


def test_an_account_puts_an_event_on_its_own_bus(tmp_path: Path) -> None:
    _, targets, recorder = _setup(tmp_path)
    outcome = targets.send(_from_service(Sender(A, "us-east-1")))
    assert isinstance(outcome, Accepted)
    (delivery,) = recorder.got
    event = json.loads(delivery.body)
    assert event["id"] == outcome.id
    assert event["source"] == "lambda" and event["account"] == A
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    assert event["detail"] == {"requestContext": {"condition": "Success"}}


def test_refusals_say_why_and_are_not_retriable(tmp_path: Path) -> None:
    store, targets, recorder = _setup(tmp_path)
    other = targets.send(_from_service(Sender(B, "us-east-1")))
    assert isinstance(other, Refused) and other.code == "NO_PERMISSIONS" and not other.retriable
    missing = targets.send(_from_service(Sender(A, "us-east-1"), BUS.replace("orders", "none")))
    assert isinstance(missing, Refused) and missing.code == "NO_RESOURCE"
    third_hop = _from_service(Sender(A, "us-east-1"))
    third_hop.extra = {"event": {"id": "x", "source": "lambda"}, "hops": 2}
    refused = targets.send(third_hop)
    assert isinstance(refused, Refused) and refused.code == "THIRD_ACCOUNT_HOP_DETECTED"
    assert recorder.got == []
    # B's grant opens the bus to B.
    bus = store.bus(A, "us-east-1", "orders")
    assert bus is not None
    bus.policy = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                    "Action": "events:PutEvents",
                    "Resource": BUS,
                }
            ]
        }
    )
    store.put_bus(bus)
    assert isinstance(targets.send(_from_service(Sender(B, "us-east-1"))), Accepted)
    assert json.loads(recorder.got[0].body)["account"] == B
