"""EventBridge's per-target RetryPolicy and dead-letter queues, in-process: the `Router` with an
injected `Targets` whose handler refuses retriably a number of times, and a clock the test
moves. (The live path to a real dead-letter queue is in `test_events_buses.py`.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fireside.events.delivery import Router
from fireside.events.retries import RetryOutbox, retry_forever
from fireside.events.store import EventStore, Rule
from fireside.targets import Accepted, Delivery, Outcome, Refused, Targets

ACCOUNT = "111111111111"
TARGET = f"arn:aws:sqs:us-east-1:{ACCOUNT}:flaky"
DLQ = f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"


class Flaky:
    """An SQS-like handler: refuses deliveries to TARGET retriably `refusals` times."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls = 0
        self.accepted: list[Delivery] = []
        self.letters: list[Delivery] = []

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for delivery in deliveries:
            if delivery.arn == DLQ:
                self.letters.append(delivery)
                outcomes.append(Accepted("dlq"))
            elif self.calls < self.refusals:
                self.calls += 1
                outcomes.append(Refused("ServiceUnavailable", "try later", retriable=True))
            else:
                self.calls += 1
                self.accepted.append(delivery)
                outcomes.append(Accepted(str(self.calls)))
        return outcomes


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _setup(
    tmp_path: Path, refusals: int, retry: dict[str, int] | None = None
) -> tuple[EventStore, Router, Flaky, Clock]:
    store = EventStore(tmp_path / "events.sqlite")
    flaky = Flaky(refusals)
    targets = Targets()
    targets.register("sqs", flaky)
    clock = Clock()
    router = Router(store, targets, retry_base=1.0, clock=clock)
    rule = Rule(ACCOUNT, "us-east-1", "default", "r", event_pattern='{"source": ["s"]}')
    target: dict[str, Any] = {"Id": "t", "Arn": TARGET, "DeadLetterConfig": {"Arn": DLQ}}
    if retry is not None:
        target["RetryPolicy"] = retry
    rule.targets["t"] = target
    store.put_rule(rule)
    return store, router, flaky, clock


EVENT = {"id": "e-1", "source": "s", "detail-type": "t", "detail": {}, "time": "x"}


def _drain(router: Router, clock: Clock, rounds: int) -> None:
    for _ in range(rounds):
        clock.now += 301  # past any back-off (at most 300 s)
        router.retry_due(clock.now)


def test_a_retriable_refusal_is_retried_until_accepted(tmp_path: Path) -> None:
    store, router, flaky, clock = _setup(tmp_path, refusals=3)
    router.route(ACCOUNT, "us-east-1", "default", [dict(EVENT)])
    assert flaky.accepted == [] and router.outbox.pending() == 1
    # Not before its back-off has passed.
    assert router.retry_due(clock.now) == 0
    _drain(router, clock, 3)
    assert len(flaky.accepted) == 1 and flaky.calls == 4
    assert router.outbox.pending() == 0 and flaky.letters == []
    assert router.invocations[next(iter(store.rules(ACCOUNT, "us-east-1", "default"))).arn] == 1


def test_exhausted_attempts_go_to_the_dead_letter_queue(tmp_path: Path) -> None:
    _, router, flaky, clock = _setup(tmp_path, refusals=100, retry={"MaximumRetryAttempts": 2})
    router.route(ACCOUNT, "us-east-1", "default", [dict(EVENT)])
    _drain(router, clock, 5)
    assert flaky.calls == 3  # the first attempt and two retries
    (letter,) = flaky.letters
    attributes = {k: v["StringValue"] for k, v in letter.attributes.items()}
    assert attributes == {
        "RULE_ARN": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r",
        "TARGET_ARN": TARGET,
        "ERROR_CODE": "INTERNAL_ERROR",
        "ERROR_MESSAGE": "try later",
        "RETRY_ATTEMPTS": "2",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
    }
    assert letter.sender.service == "events.amazonaws.com"
    assert letter.sender.source_arn == attributes["RULE_ARN"]
    assert router.outbox.pending() == 0


def test_an_event_too_old_goes_to_the_dead_letter_queue(tmp_path: Path) -> None:
    _, router, flaky, clock = _setup(tmp_path, refusals=100, retry={"MaximumEventAgeInSeconds": 60})
    router.route(ACCOUNT, "us-east-1", "default", [dict(EVENT)])
    clock.now += 61
    router.retry_due(clock.now)
    (letter,) = flaky.letters
    assert letter.attributes["EXHAUSTED_RETRY_CONDITION"]["StringValue"] == (
        "MaximumEventAgeInSeconds"
    )
    assert letter.attributes["RETRY_ATTEMPTS"]["StringValue"] == "0"
    assert flaky.calls == 1


def test_zero_retries_dead_letters_at_once(tmp_path: Path) -> None:
    _, router, flaky, _ = _setup(tmp_path, refusals=1, retry={"MaximumRetryAttempts": 0})
    router.route(ACCOUNT, "us-east-1", "default", [dict(EVENT)])
    assert len(flaky.letters) == 1 and router.outbox.pending() == 0


def test_the_outbox_survives_reopening_the_store(tmp_path: Path) -> None:
    store, router, _, clock = _setup(tmp_path, refusals=100)
    router.route(ACCOUNT, "us-east-1", "default", [dict(EVENT)])
    store.close()
    reopened = EventStore(tmp_path / "events.sqlite")
    outbox = RetryOutbox(reopened.conn)
    assert outbox.pending() == 1
    (attempt,) = outbox.due(clock.now + 10_000)
    assert attempt.event == EVENT and attempt.delivery.arn == TARGET and attempt.attempts == 0
    assert attempt.last == ("ServiceUnavailable", "try later")


def test_the_supervised_loop_retries_without_being_asked(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.sqlite")
    flaky = Flaky(refusals=2)
    targets = Targets()
    targets.register("sqs", flaky)
    router = Router(store, targets, retry_base=0.01)
    rule = Rule(ACCOUNT, "us-east-1", "default", "r", event_pattern='{"source": ["s"]}')
    rule.targets["t"] = {"Id": "t", "Arn": TARGET}
    store.put_rule(rule)

    async def scenario() -> None:
        loop = asyncio.create_task(retry_forever(router.outbox, router.retry_due, time.time))
        try:
            router.route(ACCOUNT, "us-east-1", "default", [dict(EVENT)])
            deadline = time.monotonic() + 10
            while not flaky.accepted:
                assert time.monotonic() < deadline, "never retried"
                await asyncio.sleep(0.005)
        finally:
            loop.cancel()

    asyncio.run(scenario())
    assert flaky.calls == 3 and router.outbox.pending() == 0
