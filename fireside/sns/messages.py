"""What Publish takes, checked as AWS checks it, and the documents subscribers receive.

`check_publish` turns Publish's (or a PublishBatch entry's) parameters into a `Published`
message or raises AWS's error: the 256 KB cap counts the message and its attributes' names,
types and values; `MessageStructure=json` needs a JSON object with a `default` string; FIFO
topics need a `MessageGroupId` and a deduplication id (given, or the message's SHA-256 with
content-based deduplication).

`envelope` is the JSON notification an SQS or HTTP subscriber gets (`Type`, `MessageId`,
`TopicArn`, `Subject`, `Message`, `Timestamp`, the signature fields, `UnsubscribeURL`,
`MessageAttributes` as `{Type, Value}`); `lambda_event` the `aws:sns` event a function gets.
Signatures come from an injected `Signer` (`fireside.sns.signing`); without one, the three
signature fields (`SignatureVersion`, `Signature`, `SigningCertURL`) are left out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from fireside.aws.errors import ServiceError
from fireside.sns.topics import Topic, invalid, sns_error

__all__ = ["Published", "Signer", "check_publish", "envelope", "lambda_event", "timestamp"]

MAX_MESSAGE: Final = 256 * 1024
_SIGNATURE_FIELDS: Final = ("SignatureVersion", "Signature", "SigningCertURL")
_ATTRIBUTE_NAME: Final = re.compile(r"[A-Za-z0-9_\-.]+")
_MAX_NAME: Final = 256
_MAX_SUBJECT: Final = 100


class Signer(Protocol):
    """`fireside.sns.signing`'s signer: the signature fields of a document."""

    def sign(self, document: dict[str, str], version: str) -> dict[str, str]: ...


@dataclass(slots=True)
class Published:
    """One accepted message of a topic."""

    topic_arn: str
    message: str
    subject: str | None
    attributes: dict[str, dict[str, Any]]
    #: Per-protocol messages of `MessageStructure=json` (with "default").
    per_protocol: dict[str, str] | None = None
    group_id: str | None = None
    dedup_id: str | None = None
    sequence: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: str = ""

    def body_for(self, protocol: str) -> str:
        if self.per_protocol is None:
            return self.message
        return self.per_protocol.get(protocol, self.per_protocol["default"])


def timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _value_error(message: str) -> ServiceError:
    return sns_error("ParameterValueInvalid", message)


def _check_name(name: str) -> None:
    """AWS's rules (and words) for an attribute name: letters, digits, `_`, `-` and `.`, no
    leading, trailing or successive dots, under 256 bytes."""
    if len(name.encode()) > _MAX_NAME:
        raise _value_error("Length of message attribute name must be less than 256 bytes.")
    if not name:
        raise invalid("Invalid parameter: MessageAttributes Reason: an attribute name is empty")
    dots_fine = ".." not in name and not name.startswith(".") and not name.endswith(".")
    if dots_fine and _ATTRIBUTE_NAME.fullmatch(name):
        return
    if name[0] == ".":
        raise _value_error("Invalid message attribute name starting with character '.' was found.")
    if name[-1] == ".":
        raise _value_error("Invalid message attribute name ending with character '.' was found.")
    for char in name:
        if not _ATTRIBUTE_NAME.fullmatch(char):
            raise _value_error(
                f"Invalid non-alphanumeric character '#x{ord(char):X}' was found in the message "
                "attribute name. Can only include alphanumeric characters, hyphens, underscores, "
                "or dots."
            )
    raise _value_error("Message attribute name can not have successive '.' character.")


def _check_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """Raise AWS's error for a malformed attribute; the bytes they count toward the cap (name,
    type and value of each, as AWS counts them)."""
    size = 0
    for name, attribute in attributes.items():
        _check_name(name)
        kind = str(attribute.get("DataType") or "")
        base, _, custom = kind.partition(".")
        if base not in ("String", "Number", "Binary") or (kind != base and not custom):
            raise _value_error(
                f"The message attribute '{name}' has an invalid message attribute type, the set "
                "of supported type prefixes is Binary, Number, and String."
            )
        field = "Binary" if base == "Binary" else "String"
        if "StringValue" not in attribute and "BinaryValue" not in attribute:
            raise _value_error(
                f"The message attribute '{name}' must contain non-empty message attribute "
                f"value for message attribute type '{kind}'."
            )
        if f"{field}Value" not in attribute:
            raise _value_error(
                f"The message attribute '{name}' with type '{kind}' must use field '{field}'."
            )
        text, blob = attribute.get("StringValue"), attribute.get("BinaryValue")
        value: bytes | None = blob if field == "Binary" else (text.encode() if text else None)
        if not value:
            raise _value_error(
                f"The message attribute '{name}' must contain non-empty message attribute "
                f"value for message attribute type '{kind}'."
            )
        if base == "Number":
            try:
                float(str(text))
            except ValueError:
                raise _value_error(
                    f"Could not cast message attribute '{name}' value to number."
                ) from None
        size += len(name.encode()) + len(kind.encode()) + len(value)
    return size


def check_publish(topic: Topic, params: Mapping[str, Any]) -> Published:
    """A Publish's (or a batch entry's) message for `topic`, or AWS's error."""
    message = params.get("Message")
    if not message:
        raise invalid("Invalid parameter: Empty message")
    attributes = {k: dict(v) for k, v in (params.get("MessageAttributes") or {}).items()}
    size = len(message.encode()) + _check_attributes(attributes)
    if size > MAX_MESSAGE:
        raise invalid("Invalid parameter: Message too long")
    subject = params.get("Subject")
    if subject is not None and (
        not subject
        or len(subject) > _MAX_SUBJECT
        or not subject.isascii()
        or any(c in subject for c in "\r\n")
        or not subject.isprintable()
    ):
        raise invalid("Invalid parameter: Subject")
    per_protocol = None
    structure = params.get("MessageStructure")
    if structure is not None:
        if structure != "json":
            raise invalid("Invalid parameter: MessageStructure")
        try:
            parsed = json.loads(message)
        except ValueError:
            raise invalid(
                "Invalid parameter: Message Structure - JSON message body failed to parse"
            ) from None
        if not isinstance(parsed, dict):
            raise invalid(
                "Invalid parameter: Message Structure - JSON message body failed to parse"
            )
        # Keys of other than string values are ignored, as AWS ignores them.
        parsed = {key: value for key, value in parsed.items() if isinstance(value, str)}
        if "default" not in parsed:
            raise invalid(
                "Invalid parameter: Message Structure - No default entry in JSON message body"
            )
        per_protocol = parsed
    published = Published(topic.arn, message, subject, attributes, per_protocol)
    group, dedup = params.get("MessageGroupId"), params.get("MessageDeduplicationId")
    if topic.fifo:
        if not group:
            raise invalid(
                "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
            )
        if not dedup:
            if not topic.content_dedup:
                raise invalid(
                    "Invalid parameter: The topic should either have ContentBasedDeduplication "
                    "enabled or MessageDeduplicationId provided explicitly"
                )
            dedup = hashlib.sha256(message.encode()).hexdigest()
        published.group_id, published.dedup_id = group, dedup
    elif dedup:
        raise invalid(
            "Invalid parameter: MessageDeduplicationId Reason: The request includes "
            "MessageDeduplicationId parameter that is not valid for this topic type"
        )
    elif group:
        published.group_id = group  # standard topics pass it on (SQS fair queues)
    published.timestamp = timestamp()
    return published


def _attribute_view(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, attribute in attributes.items():
        blob = attribute.get("BinaryValue")
        value = base64.b64encode(blob).decode() if blob is not None else attribute["StringValue"]
        out[name] = {"Type": attribute["DataType"], "Value": value}
    return out


def unsubscribe_url(endpoint_url: str, subscription_arn: str) -> str:
    # The ARN as is (colons are fine in a query string), as AWS writes it.
    return f"{endpoint_url}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"


def notification_fields(
    message: Published, protocol: str, subscription_arn: str, endpoint_url: str
) -> dict[str, str]:
    """The string fields of a notification (what a signature covers), in AWS's order."""
    fields = {"Type": "Notification", "MessageId": message.id}
    if message.sequence is not None:
        fields["SequenceNumber"] = message.sequence
    fields["TopicArn"] = message.topic_arn
    if message.subject is not None:
        fields["Subject"] = message.subject
    fields["Message"] = message.body_for(protocol)
    fields["Timestamp"] = message.timestamp
    fields["UnsubscribeURL"] = unsubscribe_url(endpoint_url, subscription_arn)
    return fields


def _signed(fields: dict[str, str], signer: Signer | None, version: str) -> dict[str, Any]:
    if signer is None:
        return dict(fields)
    # The signer may answer the three fields or the whole signed document: take the three.
    signed = signer.sign(fields, version)
    signature: dict[str, str] = {k: signed[k] for k in _SIGNATURE_FIELDS if k in signed}
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "UnsubscribeURL":  # AWS puts the signature fields before it
            out.update(signature)
        out[key] = value
    return out


def envelope(
    message: Published,
    protocol: str,
    subscription_arn: str,
    endpoint_url: str,
    signer: Signer | None,
    version: str,
) -> str:
    """The JSON notification an SQS (or HTTP) subscriber receives."""
    document = _signed(
        notification_fields(message, protocol, subscription_arn, endpoint_url), signer, version
    )
    if message.attributes:
        document["MessageAttributes"] = _attribute_view(message.attributes)
    return json.dumps(document, indent=2)


def lambda_event(
    message: Published,
    subscription_arn: str,
    endpoint_url: str,
    signer: Signer | None,
    version: str,
) -> str:
    """The `aws:sns` event a subscribed function is invoked with."""
    fields = notification_fields(message, "lambda", subscription_arn, endpoint_url)
    signed = _signed(fields, signer, version)
    sns: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message.id,
        "TopicArn": message.topic_arn,
        "Subject": message.subject,
        "Message": fields["Message"],
        "Timestamp": message.timestamp,
    }
    if message.sequence is not None:
        sns["SequenceNumber"] = message.sequence
    if signer is not None:
        sns["SignatureVersion"] = signed["SignatureVersion"]
        sns["Signature"] = signed["Signature"]
        sns["SigningCertUrl"] = signed["SigningCertURL"]
    sns["UnsubscribeUrl"] = fields["UnsubscribeURL"]
    sns["MessageAttributes"] = _attribute_view(message.attributes)
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": sns,
    }
    return json.dumps({"Records": [record]})
