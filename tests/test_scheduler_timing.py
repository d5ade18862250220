"""EventBridge Scheduler's time math and firing loop in-process, with a fake clock: cron in a
time zone across daylight saving changes, rate with start and end dates, one-time `at()`,
flexible windows, retries and dead letters, and what a restart does to missed firings."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fireside.scheduler.firing import Firer
from fireside.scheduler.store import ScheduleRecord, SchedulerStore
from fireside.scheduler.timing import upcoming, zone_of
from fireside.targets import Accepted, Delivery, Outcome, Refused, Targets

QUEUE = "arn:aws:sqs:us-east-1:111111111111:work"
DLQ = "arn:aws:sqs:us-east-1:111111111111:dead"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def record(expression: str, **fields: Any) -> ScheduleRecord:
    fields.setdefault("created", ts("2026-01-01T00:00:00"))
    fields.setdefault("modified", fields["created"])
    target = fields.pop("target", {"Arn": QUEUE, "RoleArn": "arn:aws:iam::111111111111:role/r"})
    flexible = fields.pop("flexible", {"Mode": "OFF"})
    name = fields.pop("name", "s")
    return ScheduleRecord("111111111111", "us-east-1", "default", name, expression, target,
                          flexible, **fields)  # fmt: skip


def firings(schedule: ScheduleRecord, since: float, count: int) -> list[str | None]:
    found: list[str | None] = []
    for _ in range(count):
        moment = upcoming(schedule, since)
        found.append(iso(moment))
        if moment is None:
            break
        since = moment + 0.001
    return found


def test_cron_in_a_zone_follows_its_utc_offset() -> None:
    eight = record("cron(0 8 * * ? *)", timezone="America/New_York")
    assert iso(upcoming(eight, ts("2026-01-10T00:00:00"))) == "2026-01-10T13:00:00"  # EST
    assert iso(upcoming(eight, ts("2026-07-10T00:00:00"))) == "2026-07-10T12:00:00"  # EDT


def test_a_skipped_local_time_does_not_fire_and_a_repeated_one_fires_once() -> None:
    # 2026-03-08: New York's clocks go from 02:00 to 03:00; 02:30 does not exist that day.
    spring = record("cron(30 2 * * ? *)", timezone="America/New_York")
    assert firings(spring, ts("2026-03-07T00:00:00"), 3) == [
        "2026-03-07T07:30:00",
        "2026-03-09T06:30:00",
        "2026-03-10T06:30:00",
    ]
    # 2026-11-01: 01:00-02:00 happens twice; 01:30 fires at its first occurrence only.
    fall = record("cron(30 1 * * ? *)", timezone="America/New_York")
    assert firings(fall, ts("2026-10-31T12:00:00"), 3) == [
        "2026-11-01T05:30:00",
        "2026-11-02T06:30:00",
        "2026-11-03T06:30:00",
    ]
    # An every-15-minutes schedule through the repeated hour fires each wall time once.
    quarter = record("cron(0/15 1 1 11 ? 2026)", timezone="America/New_York")
    assert firings(quarter, ts("2026-11-01T00:00:00"), 5) == [
        "2026-11-01T05:00:00",
        "2026-11-01T05:15:00",
        "2026-11-01T05:30:00",
        "2026-11-01T05:45:00",
        None,
    ]


def test_rate_runs_from_its_start_date_until_its_end_date() -> None:
    schedule = record(
        "rate(5 minutes)", start=ts("2026-02-01T10:00:00"), end=ts("2026-02-01T10:12:00")
    )
    assert firings(schedule, ts("2026-01-15T00:00:00"), 4) == [
        "2026-02-01T10:00:00",
        "2026-02-01T10:05:00",
        "2026-02-01T10:10:00",
        None,
    ]
    # Without a start date, from its creation (or last update): the first firing is at once.
    now = record("rate(1 hour)", created=ts("2026-03-01T09:17:00"))
    assert firings(now, ts("2026-03-01T09:17:00"), 2) == [
        "2026-03-01T09:17:00",
        "2026-03-01T10:17:00",
    ]
    # A day is 24 hours, across a daylight saving change too.
    daily = record("rate(1 day)", timezone="Europe/Paris", start=ts("2026-03-28T08:00:00"))
    assert firings(daily, ts("2026-03-28T00:00:00"), 2) == [
        "2026-03-28T08:00:00",
        "2026-03-29T08:00:00",
    ]


def test_cron_waits_for_its_start_date_and_at_reads_its_zone() -> None:
    cron = record("cron(0 12 * * ? *)", start=ts("2026-05-03T12:00:00"))
    assert iso(upcoming(cron, ts("2026-05-01T00:00:00"))) == "2026-05-03T12:00:00"
    once = record("at(2026-07-01T09:00:00)", timezone="Europe/Paris")
    assert iso(upcoming(once, ts("2026-01-01T00:00:00"))) == "2026-07-01T07:00:00"
    # Start and end dates do not apply to a one-time schedule; a past time is still its time.
    assert iso(upcoming(once, ts("2027-01-01T00:00:00"))) == "2026-07-01T07:00:00"


def test_dates_beyond_crons_years_end_the_schedule() -> None:
    far = record("cron(0 12 * * ? *)", start=ts("9999-06-01T00:00:00"), timezone="Etc/GMT+12")
    assert upcoming(far, ts("2026-01-01T00:00:00")) is None
    last = record("cron(0 12 31 12 ? 2199)", timezone="Pacific/Kiritimati")
    assert iso(upcoming(last, ts("2199-01-01T00:00:00"))) == "2199-12-30T22:00:00"


def test_time_zones_are_iana_names() -> None:
    assert zone_of("Asia/Kolkata") is not None
    assert zone_of("UTC") is not None
    for bad in ("Mars/Olympus", "../etc/passwd", "", "/etc/localtime"):
        assert zone_of(bad) is None


class Recorder:
    """A target service that takes every delivery, or refuses the next ones as told."""

    def __init__(self) -> None:
        self.got: list[Delivery] = []
        self.refuse: list[Refused] = []

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for delivery in deliveries:
            if delivery.arn != DLQ and self.refuse:
                outcomes.append(self.refuse.pop(0))
                continue
            self.got.append(delivery)
            outcomes.append(Accepted(str(len(self.got))))
        return outcomes


class World:
    def __init__(self, path: Path, now: float) -> None:
        self.path = path
        self.now = now
        self.recorder = Recorder()
        self.targets = Targets()
        self.targets.register("sqs", self.recorder)
        self.store = SchedulerStore(path / "scheduler.sqlite")
        self.firer = self._firer()

    def _firer(self) -> Firer:
        return Firer(self.store, self.targets, clock=lambda: self.now, rng=random.Random(7))

    def add(self, schedule: ScheduleRecord) -> ScheduleRecord:
        schedule.created = schedule.modified = self.now
        self.firer.arm(schedule, self.now)
        self.store.put_schedule(schedule)
        return schedule

    def at(self, text: str) -> int:
        self.now = ts(text)
        return self.firer.fire_due(self.now)

    def restart(self, text: str) -> None:
        """As a server stopped and started again at `text`: a new store and loop."""
        self.store.close()
        self.now = ts(text)
        self.store = SchedulerStore(self.path / "scheduler.sqlite")
        self.firer = self._firer()

    def bodies(self) -> list[str]:
        return [d.body for d in self.recorder.got if d.arn == QUEUE]


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return World(tmp_path, ts("2026-04-01T12:00:00"))


def test_a_one_time_schedule_fires_once_and_deletes_itself_when_told(world: World) -> None:
    target = {"Arn": QUEUE, "RoleArn": "r", "Input": '{"t": "<aws.scheduler.scheduled-time>"}'}
    keep = world.add(record("at(2026-04-01T12:05:00)", name="keep", target=target))
    gone = world.add(
        record("at(2026-04-01T12:05:00)", name="gone", target=target, after_completion="DELETE")
    )
    assert world.at("2026-04-01T12:04:59") == 0
    assert world.at("2026-04-01T12:05:00") == 2
    assert world.bodies() == ['{"t": "2026-04-01T12:05:00Z"}'] * 2
    assert world.at("2026-04-01T13:00:00") == 0
    assert world.store.schedule(*keep.key) is not None
    assert world.store.schedule(*keep.key).next_fire is None  # type: ignore[union-attr]
    assert world.store.schedule(*gone.key) is None
    world.restart("2026-04-02T00:00:00")  # nothing fires twice after a restart
    assert world.at("2026-04-02T00:00:01") == 0


def test_context_attributes_are_substituted(world: World) -> None:
    text = json.dumps(
        {
            "arn": "<aws.scheduler.schedule-arn>",
            "time": "<aws.scheduler.scheduled-time>",
            "id": "<aws.scheduler.execution-id>",
            "n": "<aws.scheduler.attempt-number>",
        }
    )
    schedule = world.add(record("rate(1 minute)", target={"Arn": QUEUE, "RoleArn": "r",
                                                          "Input": text}))  # fmt: skip
    world.at("2026-04-01T12:00:00")
    body = json.loads(world.bodies()[0])
    assert (
        body["arn"]
        == schedule.arn
        == ("arn:aws:scheduler:us-east-1:111111111111:schedule/default/s")
    )
    assert body["time"] == "2026-04-01T12:00:00Z"
    assert len(body["id"]) == 16 and body["n"] == "1"


def test_a_rate_schedule_fires_each_period_and_skips_what_a_stop_missed(world: World) -> None:
    world.add(record("rate(10 minutes)", target={"Arn": QUEUE, "RoleArn": "r", "Input": "x"}))
    assert world.at("2026-04-01T12:00:00") == 1  # at once: no start date
    assert world.at("2026-04-01T12:09:59") == 0
    assert world.at("2026-04-01T12:10:00") == 1
    assert world.at("2026-04-01T12:20:30") == 1
    # The server stops for an hour: the five firings missed are not made up.
    world.restart("2026-04-01T13:25:00")
    assert world.at("2026-04-01T13:25:00") == 0
    assert world.at("2026-04-01T13:30:00") == 1
    assert len(world.bodies()) == 4
    # A loop that fell behind fires once, not once per missed period.
    assert world.at("2026-04-01T15:00:00") == 1


def test_a_one_time_schedule_whose_time_passed_while_stopped_fires_at_start(
    world: World,
) -> None:
    world.add(record("at(2026-04-01T12:30:00)", target={"Arn": QUEUE, "RoleArn": "r",
                                                        "Input": "late"}))  # fmt: skip
    world.restart("2026-04-01T18:00:00")
    assert world.at("2026-04-01T18:00:00") == 1
    assert world.bodies() == ["late"]


def test_a_disabled_schedule_does_not_fire_until_enabled(world: World) -> None:
    schedule = world.add(record("rate(1 minute)", state="DISABLED"))
    assert world.at("2026-04-01T12:30:00") == 0
    assert world.at("2026-04-01T12:31:00") == 0
    schedule.state, schedule.modified = "ENABLED", world.now  # as UpdateSchedule does
    world.firer.arm(schedule, world.now)
    world.store.put_schedule(schedule)
    assert world.at("2026-04-01T12:31:00") == 1
    assert world.at("2026-04-01T12:32:00") == 1


def test_a_handler_that_breaks_fails_only_its_own_deliveries(world: World) -> None:
    class Broken:
        def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
            raise RuntimeError("bug")

    world.targets.register("sns", Broken())
    topic = "arn:aws:sns:us-east-1:111111111111:t"
    world.add(record("at(2026-04-01T12:00:00)", name="a", target={"Arn": topic, "RoleArn": "r"}))
    world.add(record("at(2026-04-01T12:00:00)", name="b", target={"Arn": QUEUE, "RoleArn": "r",
                                                                  "Input": "ok"}))  # fmt: skip
    assert world.at("2026-04-01T12:00:00") == 2
    assert world.bodies() == ["ok"]
    assert sum(world.firer.failed_invocations.values()) == 1
    assert world.at("2026-04-01T12:00:01") == 0  # not fired again


def test_a_flexible_window_fires_within_it(world: World) -> None:
    world.add(record("cron(0 13 * * ? *)", flexible={"Mode": "FLEXIBLE",
                                                     "MaximumWindowInMinutes": 15}))  # fmt: skip
    fired_at = None
    moment = ts("2026-04-01T12:59:00")
    while moment < ts("2026-04-01T13:16:00"):
        if world.at(iso(moment) or "") == 1:
            fired_at = moment
            break
        moment += 30
    assert fired_at is not None and ts("2026-04-01T13:00:00") <= fired_at <= ts(
        "2026-04-01T13:15:30"
    )
    assert "13:00:00" not in (iso(fired_at) or "")  # seeded: a delay, not the exact time


def test_retriable_refusals_are_retried_then_dead_lettered(world: World) -> None:
    target = {
        "Arn": QUEUE,
        "RoleArn": "r",
        "Input": "<aws.scheduler.attempt-number>",
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        "DeadLetterConfig": {"Arn": DLQ},
    }
    world.add(record("at(2026-04-01T12:00:00)", target=target))
    busy = Refused("InternalError", "disk full", retriable=True)
    world.recorder.refuse = [busy, busy]
    assert world.at("2026-04-01T12:00:00") == 1
    assert world.at("2026-04-01T12:00:10") == 1  # first retry
    assert world.at("2026-04-01T12:00:20") == 1  # second retry: accepted
    assert world.bodies() == ["3"]
    assert world.store.retries() == []  # none left waiting
    # Retries exhausted: the event goes to the dead-letter queue with AWS's attributes.
    world.add(record("at(2026-04-01T12:01:00)", name="t2", target=target))
    world.recorder.refuse = [busy, busy, busy]
    for second in ("01:00", "01:10", "01:20"):
        world.at(f"2026-04-01T12:{second}")
    letters = [d for d in world.recorder.got if d.arn == DLQ]
    assert len(letters) == 1
    values = {k: v["StringValue"] for k, v in letters[0].attributes.items()}
    assert values["ERROR_CODE"] == "InternalError"
    assert values["ERROR_MESSAGE"] == "disk full"
    assert values["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert values["RETRY_ATTEMPTS"] == "2"
    assert values["SCHEDULED_TIME"] == "2026-04-01T12:01:00Z"
    assert values["SCHEDULE_ARN"].endswith(":schedule/default/t2")
    assert values["TARGET_ARN"] == QUEUE
    assert letters[0].body == "3"


def test_a_retry_waiting_at_a_stop_is_made_after_the_restart(world: World) -> None:
    target = {"Arn": QUEUE, "RoleArn": "r", "Input": "<aws.scheduler.attempt-number>"}
    world.add(record("at(2026-04-01T12:00:00)", target=target))
    world.recorder.refuse = [Refused("InternalError", "disk full", retriable=True)]
    world.at("2026-04-01T12:00:00")
    assert world.bodies() == []
    world.restart("2026-04-01T12:10:00")
    assert world.at("2026-04-01T12:10:00") == 1
    assert world.bodies() == ["2"]
    assert world.store.retries() == []


def test_a_refusal_that_retrying_cannot_help_goes_straight_to_the_dead_letter_queue(
    world: World,
) -> None:
    target = {"Arn": QUEUE, "RoleArn": "r", "Input": "x", "DeadLetterConfig": {"Arn": DLQ}}
    world.add(record("at(2026-04-01T12:00:00)", target=target))
    world.recorder.refuse = [Refused("AccessDenied", "no grant")]
    world.at("2026-04-01T12:00:00")
    letters = [d for d in world.recorder.got if d.arn == DLQ]
    values = {k: v["StringValue"] for k, v in letters[0].attributes.items()}
    assert values["ERROR_CODE"] == "AccessDenied" and values["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in values
    assert world.firer.failed_invocations[values["SCHEDULE_ARN"]] == 1
