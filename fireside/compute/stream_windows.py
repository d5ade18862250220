"""Tumbling windows of a stream mapping: state carried from one invocation to the next.

As Lambda does it ("Implementing stateful DynamoDB stream processing"): with
TumblingWindowInSeconds set, every record belongs to the window of that length (aligned to
the epoch) in which it entered the stream. Each invocation gets the window's bounds and the
`state` the previous invocation of that window answered, and must answer a `state` of its own
(an answer without one counts as a failed invocation). When the window has passed, one more
invocation carries no records and `isFinalInvokeForWindow: true`, so the function can act on
the aggregate; it is retried until it succeeds, and the shard waits for it. A state over 1 MB
ends the window early: that final invocation says `isWindowTerminatedEarly`, and the same
window goes on with an empty state.

The open window (its start and state) is stored in the mapping beside the shard's checkpoint,
in the same write, so a restart resumes with the state that matches the checkpoint.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "MAX_STATE",
    "answered_state",
    "iso_seconds",
    "state_size",
    "window_payload",
    "window_start",
]

MAX_STATE = 1024 * 1024


def window_start(record: dict[str, Any], seconds: int) -> int:
    """The start (epoch seconds) of the window `record` (an `aws:dynamodb` record) is in."""
    created = float(record["dynamodb"].get("ApproximateCreationDateTime", 0))
    return int(created // seconds) * seconds


def iso_seconds(epoch: float) -> str:
    """A time as the stream records and windows spell it: `2020-12-09T07:04:00Z`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_payload(
    records: list[dict[str, Any]],
    *,
    shard_id: str,
    source_arn: str,
    start: int,
    seconds: int,
    state: dict[str, Any],
    final: bool = False,
    early: bool = False,
) -> bytes:
    event = {
        "Records": records,
        "window": {"start": iso_seconds(start), "end": iso_seconds(start + seconds)},
        "state": state,
        "shardId": shard_id,
        "eventSourceARN": source_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": early,
    }
    return json.dumps(event).encode("utf-8")


def answered_state(answer: bytes) -> dict[str, Any] | None:
    """The `state` a function answered (None: it answered none, a failure)."""
    try:
        parsed = json.loads(answer or b"null")
    except ValueError:
        return None
    state = parsed.get("state") if isinstance(parsed, dict) else None
    return state if isinstance(state, dict) else None


def state_size(state: dict[str, Any]) -> int:
    return len(json.dumps(state).encode("utf-8"))
