"""Scheduled EventBridge rules (`fireside.events.schedule`): expressions and firing, on a
virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fireside.events.schedule import Scheduler, parse_schedule
from fireside.events.store import EventStore, Rule


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _iso(seconds: float | None) -> str:
    assert seconds is not None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 20 * * ? *)", "2024-03-01 19:00", "2024-03-01 20:00"),
        ("cron(0 20 * * ? *)", "2024-03-01 20:00", "2024-03-02 20:00"),
        ("cron(15 10 ? * 6L 2024-2025)", "2024-03-01 00:00", "2024-03-29 10:15"),
        ("cron(0 18 ? * MON-FRI *)", "2024-03-01 18:30", "2024-03-04 18:00"),
        ("cron(0/15 * * * ? *)", "2024-03-01 10:07", "2024-03-01 10:15"),
        ("cron(0 8 1 * ? *)", "2024-03-01 09:00", "2024-04-01 08:00"),
        ("cron(0 12 L * ? *)", "2024-02-01 00:00", "2024-02-29 12:00"),
        ("cron(0 12 ? * 6#3 *)", "2024-03-01 00:00", "2024-03-15 12:00"),
        ("cron(0 9 15W * ? *)", "2024-06-01 00:00", "2024-06-14 09:00"),  # 15th: Saturday
        ("cron(0 0 1 JAN ? *)", "2024-03-01 00:00", "2025-01-01 00:00"),
    ],
)
def test_cron_next(expression: str, after: str, expected: str) -> None:
    schedule = parse_schedule(expression)
    assert schedule is not None
    assert _iso(schedule.next_after(_at(after))) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(2 minute)",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(0 20 * * * *)",  # neither day field is ?
        "cron(0 20 ? * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 20 * *)",
        "every day",
    ],
)
def test_refused_expressions(expression: str) -> None:
    assert parse_schedule(expression) is None


def test_rate_counts_from_creation() -> None:
    schedule = parse_schedule("rate(5 minutes)")
    assert schedule is not None
    assert schedule.next_after(1000.0, origin=900.0) == 1200.0
    assert schedule.next_after(1200.0, origin=900.0) == 1500.0


class FakeRouter:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        self.sent.append((rule.name, event))


def test_the_scheduler_fires_enabled_rules_on_time(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.sqlite")
    store.put_rule(
        Rule(
            "000000000000",
            "us-east-1",
            "default",
            "every5",
            schedule="rate(5 minutes)",
            created=0.0,
        )
    )
    store.put_rule(
        Rule(
            "000000000000",
            "us-east-1",
            "default",
            "off",
            schedule="rate(1 minute)",
            state="DISABLED",
            created=0.0,
        )
    )
    store.put_rule(Rule("000000000000", "us-east-1", "default", "pattern", event_pattern="{}"))
    router = FakeRouter()
    scheduler = Scheduler(store, router)  # type: ignore[arg-type]
    assert scheduler.fire_due(10.0) == 0  # first sight: next firing at 300
    assert scheduler.fire_due(299.0) == 0
    assert scheduler.fire_due(300.0) == 1
    assert scheduler.fire_due(301.0) == 0
    assert scheduler.fire_due(600.5) == 1
    names = [name for name, _ in router.sent]
    assert names == ["every5", "every5"]
    event = router.sent[0][1]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/every5"]
    assert event["time"] == "1970-01-01T00:05:00Z"
    assert event["detail"] == {}
    store.close()
