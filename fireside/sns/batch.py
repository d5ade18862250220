"""PublishBatch: up to ten messages to one topic, each entry answered on its own.

Whole-request errors are AWS's: no entries (`EmptyBatchRequest`), more than ten
(`TooManyEntriesInBatchRequest`), repeated ids (`BatchEntryIdsNotDistinct`), an id of other
characters than letters, digits, `-` and `_` or longer than 80 (`InvalidBatchEntryId`), more
than 256 KB in all (`BatchRequestTooLong`), and a FIFO entry without `MessageGroupId`. As on
AWS, one malformed entry (an empty message, a bad attribute) fails the whole request with
that entry's error; `Failed` stays empty. The entries are delivered together (one
`Targets.send_many`) before the answer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from fireside.sns.messages import MAX_MESSAGE, Published, check_publish
from fireside.sns.topics import Topic, invalid, sns_error

if TYPE_CHECKING:
    from fireside.sns.provider import SnsProvider

__all__ = ["publish_batch"]

_MAX_ENTRIES: Final = 10
_ENTRY_ID: Final = re.compile(r"[A-Za-z0-9_-]+")
_MAX_ID: Final = 80


def _size(entry: dict[str, Any]) -> int:
    size = len(str(entry.get("Message") or "").encode())
    for name, attribute in (entry.get("MessageAttributes") or {}).items():
        value = attribute.get("BinaryValue") or str(attribute.get("StringValue") or "").encode()
        size += len(name.encode()) + len(str(attribute.get("DataType") or "").encode()) + len(value)
    return size


def publish_batch(provider: SnsProvider, topic: Topic, params: dict[str, Any]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = params.get("PublishBatchRequestEntries") or []
    if not entries:
        raise sns_error("EmptyBatchRequest", "The batch request doesn't contain any entries.")
    if len(entries) > _MAX_ENTRIES:
        raise sns_error(
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible.",
        )
    ids = [entry["Id"] for entry in entries]
    if len(set(ids)) != len(ids):
        raise sns_error(
            "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id."
        )
    for entry_id in ids:
        if len(entry_id) > _MAX_ID:
            raise sns_error(
                "InvalidBatchEntryId",
                f"The Id of a batch entry in the batch request is too long: {entry_id}",
            )
        if not _ENTRY_ID.fullmatch(entry_id):
            raise sns_error(
                "InvalidBatchEntryId",
                "The Id of a batch entry in the batch request contains an impermissible "
                f"character: {entry_id}",
            )
    if sum(_size(entry) for entry in entries) > MAX_MESSAGE:
        raise sns_error(
            "BatchRequestTooLong",
            "The length of all the messages put together is more than the limit.",
        )
    if topic.fifo and not all(entry.get("MessageGroupId") for entry in entries):
        raise invalid("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    successful: list[dict[str, Any]] = []
    fresh: list[tuple[str, Published]] = []
    seen_in_batch: dict[str, dict[str, Any]] = {}
    # AWS fails the whole request on the first malformed entry (nothing is published).
    checked = [(entry, check_publish(topic, entry)) for entry in entries]
    for entry, message in checked:
        known = provider._deduplicated(topic, message)
        if known is None and message.dedup_id is not None:
            known = seen_in_batch.get(message.dedup_id)
        if known is not None:
            successful.append({"Id": entry["Id"], **known})
            continue
        fresh.append((entry["Id"], message))
        if message.dedup_id is not None:
            seen_in_batch[message.dedup_id] = {"MessageId": message.id}
    if fresh:
        provider.publish_messages(topic, [message for _, message in fresh])
    for entry_id, message in fresh:
        result: dict[str, Any] = {"Id": entry_id, "MessageId": message.id}
        if message.sequence is not None:
            result["SequenceNumber"] = message.sequence
        successful.append(result)
    for result in seen_in_batch.values():  # a repeat in one batch answers with its sequence
        found = next((m for _, m in fresh if m.id == result["MessageId"]), None)
        if found is not None and found.sequence is not None:
            result["SequenceNumber"] = found.sequence
    return {"Successful": successful, "Failed": []}
