"""What `fireside topics` shows: every broker's topics (the default broker on `kafka_port`
and each MSK cluster's), their partitions' offsets, and each consumer group's lag.

The server builds the report (`report`, served to the operator at `/_fireside/kafka/topics`,
as health details are); the CLI renders it (`render`). Lag is a partition's end offset minus
the group's committed offset, as `kafka-consumer-groups.sh --describe` computes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fireside.kafka.broker import Broker

__all__ = ["render", "report"]

#: (label, bootstrap, broker) of each running broker.
Brokers = list[tuple[str, str, Broker]]


def _broker_report(label: str, bootstrap: str, broker: Broker) -> dict[str, Any]:
    topics = []
    for topic in sorted(broker.topics.values(), key=lambda t: t.name):
        topics.append(
            {
                "name": topic.name,
                "partitions": [
                    {"partition": p, "start": log.log_start_offset, "end": log.end_offset}
                    for p, log in enumerate(topic.logs)
                ],
            }
        )
    groups = []
    for group in sorted(broker.store.groups_with_offsets()):
        for (topic_name, partition), committed in sorted(broker.committed_offsets(group).items()):
            log = broker.partition(topic_name, partition)
            end = log.end_offset if log is not None else None
            lag = None if end is None or committed.offset < 0 else max(end - committed.offset, 0)
            groups.append(
                {
                    "group": group,
                    "topic": topic_name,
                    "partition": partition,
                    "committed": committed.offset,
                    "end": end,
                    "lag": lag,
                }
            )
    return {"broker": label, "bootstrap": bootstrap, "topics": topics, "groups": groups}


def report(brokers: Brokers) -> dict[str, Any]:
    return {"brokers": [_broker_report(*entry) for entry in brokers]}


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]  # fmt: skip


def render(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for broker in data.get("brokers", []):
        if lines:
            lines.append("")
        lines.append(f"{broker['broker']} ({broker['bootstrap']})")
        topic_rows = [
            (t["name"], str(p["partition"]), str(p["start"]), str(p["end"]))
            for t in broker["topics"]
            for p in t["partitions"]
        ]
        if topic_rows:
            lines += [
                "  " + line for line in _table(("TOPIC", "PARTITION", "START", "END"), topic_rows)
            ]
        else:
            lines.append("  no topics")
        group_rows = [
            (
                g["group"],
                g["topic"],
                str(g["partition"]),
                str(g["committed"]),
                "-" if g["end"] is None else str(g["end"]),
                "-" if g["lag"] is None else str(g["lag"]),
            )
            for g in broker["groups"]
        ]
        if group_rows:
            header = ("GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG")
            lines += ["  " + line for line in _table(header, group_rows)]
    return "\n".join(lines) if lines else "no Kafka brokers running"
