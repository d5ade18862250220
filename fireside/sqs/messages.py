"""What a sent message must be, and how a received one is shown.

`check_send` validates one SendMessage (or batch entry) against its queue as AWS does (body
characters, size including attributes, delay, FIFO group and deduplication ids) and returns
the record the store keeps. `render` turns a stored message into ReceiveMessage's shape,
with only the system and message attributes the receiver asked for.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping
from typing import Any, Final

from fireside.sqs.digests import attributes_md5, body_md5
from fireside.sqs.queues import Message, Queue, invalid_parameter, sqs_error

__all__ = ["SYSTEM_ATTRIBUTES", "check_send", "render"]

SYSTEM_ATTRIBUTES: Final = frozenset(
    {
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
        "SequenceNumber",
        "MessageDeduplicationId",
        "MessageGroupId",
        "AWSTraceHeader",
        "DeadLetterQueueSourceArn",
    }
)
# XML 1.0's characters: what SQS accepts in a body and in string attribute values.
_INVALID_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_TYPE: Final = re.compile(r"(String|Number|Binary)(\..+)?")
_DEDUP_ID: Final = re.compile(r"[!-~]{1,128}")


def _check_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """Validate message attributes; their size as AWS counts it (names, types, values)."""
    if len(attributes) > 10:
        raise invalid_parameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10]."
        )
    size = 0
    for name, value in attributes.items():
        if (
            _ATTRIBUTE_NAME.fullmatch(name) is None
            or name.startswith((".", "AWS.", "Amazon."))
            or name.endswith(".")
            or ".." in name
        ):
            raise invalid_parameter(f"Message attribute name '{name}' is invalid.")
        data_type = value.get("DataType", "")
        if _TYPE.fullmatch(data_type) is None:
            raise invalid_parameter(
                f"The message attribute '{name}' has an invalid message attribute type, the set "
                "of supported type prefixes is Binary, Number, and String."
            )
        if data_type.startswith("Binary"):
            data = value.get("BinaryValue")
            if not data:
                raise invalid_parameter(
                    f"The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                )
            size += len(data)
        else:
            text = value.get("StringValue")
            if text is None or text == "":
                raise invalid_parameter(
                    f"The message attribute '{name}' must contain non-empty message attribute "
                    "value for message attribute type '" + data_type.split(".")[0] + "'."
                )
            if _INVALID_CHAR.search(text):
                raise invalid_parameter(
                    f"The message attribute '{name}' contains invalid characters."
                )
            if data_type.startswith("Number"):
                try:
                    float(text)
                except ValueError:
                    raise invalid_parameter(
                        f"Can't cast the value of message (user) attribute '{name}' to a number."
                    ) from None
            size += len(text.encode("utf-8"))
        size += len(name.encode("utf-8")) + len(data_type.encode("utf-8"))
    return size


def _stored_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        if "BinaryValue" in value and value["DataType"].startswith("Binary"):
            data = base64.b64encode(bytes(value["BinaryValue"])).decode("ascii")
            out[name] = {"DataType": value["DataType"], "BinaryValue": data}
        else:
            out[name] = {"DataType": value["DataType"], "StringValue": value["StringValue"]}
    return out


def _wire_attributes(stored: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in stored.items():
        if "BinaryValue" in value:
            out[name] = {
                "DataType": value["DataType"],
                "BinaryValue": base64.b64decode(value["BinaryValue"]),
            }
        else:
            out[name] = dict(value)
    return out


def check_send(queue: Queue, entry: Mapping[str, Any], sender: str) -> tuple[dict[str, Any], int]:
    """The record to store for a send to `queue`, and its delay in seconds (or a ServiceError)."""
    body = entry.get("MessageBody")
    if not body:
        raise sqs_error("MissingParameter", "The request must contain the parameter MessageBody.")
    bad = _INVALID_CHAR.search(body)
    if bad:
        raise sqs_error(
            "InvalidMessageContents",
            f"Invalid binary character '#x{ord(bad[0]):X}' was found in the message body, the "
            "set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD "
            "| #x10000 to #x10FFFF",
        )
    attributes = entry.get("MessageAttributes") or {}
    system = entry.get("MessageSystemAttributes") or {}
    size = len(body.encode("utf-8")) + _check_attributes(attributes)
    for name in system:
        if name != "AWSTraceHeader":
            raise invalid_parameter(f"Message system attribute name '{name}' is invalid.")
    if system:
        size += _check_attributes(system)
    limit = queue.setting("MaximumMessageSize")
    if size > limit:
        raise invalid_parameter(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} "
            "bytes."
        )
    delay = entry.get("DelaySeconds")
    group = entry.get("MessageGroupId")
    dedup = entry.get("MessageDeduplicationId")
    if delay is not None and not 0 <= delay <= 900:
        raise invalid_parameter(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must "
            "be >= 0 and <= 900."
        )
    if queue.fifo:
        if delay:
            raise invalid_parameter(
                f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request "
                "include parameter that is not valid for this queue type."
            )
        if not group:
            raise sqs_error(
                "MissingParameter", "The request must contain the parameter MessageGroupId."
            )
        if dedup is None:
            if queue.attributes.get("ContentBasedDeduplication") != "true":
                raise invalid_parameter(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup = hashlib.sha256(body.encode("utf-8")).hexdigest()
        elif _DEDUP_ID.fullmatch(dedup) is None:
            raise invalid_parameter(
                f"Value {dedup} for parameter MessageDeduplicationId is invalid."
            )
    else:
        # Standard queues take and ignore FIFO's ids (AWS accepts `MessageGroupId` on them
        # since fair queues); delivery is at least once whatever the id says.
        dedup = None
    record: dict[str, Any] = {
        "body": body,
        "md5b": body_md5(body),
        "sent": int(time.time() * 1000),
        "sender": sender,
        "size": size,
    }
    if attributes:
        record["attrs"] = _stored_attributes(attributes)
        record["md5a"] = attributes_md5(attributes)
    if system:
        record["sys"] = _stored_attributes(system)
        record["md5s"] = attributes_md5(system)
    if group:
        record["group"] = group
    if dedup is not None:
        record["dedup"] = dedup
    return record, queue.setting("DelaySeconds") if delay is None else delay


def _wants(names: list[str], name: str) -> bool:
    for wanted in names:
        if wanted in ("All", ".*") or wanted == name:
            return True
        if wanted.endswith(".*") and name.startswith(wanted[:-1]):
            return True
    return False


def render(
    message: Message,
    receipt: str,
    system_names: list[str],
    attribute_names: list[str],
) -> dict[str, Any]:
    """A received message in ReceiveMessage's shape."""
    record = message.record
    out: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": receipt,
        "MD5OfBody": record["md5b"],
        "Body": record["body"],
    }
    if system_names:
        every = "All" in system_names
        values = {
            "SenderId": record.get("sender", ""),
            "SentTimestamp": str(record["sent"]),
            "ApproximateReceiveCount": str(message.receives),
            "ApproximateFirstReceiveTimestamp": str(int((message.first_receive or 0) * 1000)),
        }
        if "seqno" in record:
            values["SequenceNumber"] = record["seqno"]
        if "group" in record:
            values["MessageGroupId"] = record["group"]
        if "dedup" in record:
            values["MessageDeduplicationId"] = record["dedup"]
        if "origin" in record:
            values["DeadLetterQueueSourceArn"] = record["origin"]
        trace = record.get("sys", {}).get("AWSTraceHeader")
        if trace is not None:
            values["AWSTraceHeader"] = trace["StringValue"]
        out["Attributes"] = {k: v for k, v in values.items() if every or k in system_names}
    stored = record.get("attrs")
    if stored and attribute_names:
        chosen = {k: v for k, v in stored.items() if _wants(attribute_names, k)}
        if chosen:
            out["MessageAttributes"] = _wire_attributes(chosen)
            out["MD5OfMessageAttributes"] = attributes_md5(out["MessageAttributes"])
    return out
