"""SNS topics and subscriptions in memory, and the rules for their attributes.

A `Topic` is kept as AWS shows it: its settable attributes as strings (`Policy` the JSON
document AWS writes by default, with `AddPermission` statements appended as AWS writes them),
its tags, and counters. A `Subscription` likewise keeps its settable attributes
(`RawMessageDelivery`, `FilterPolicy`, ...) as strings; its compiled filter policy is cached.
The store (`fireside.sns.store`) keeps `record()` of each, `from_record` rebuilds them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.sns.filters import FilterPolicy, compile_filter

__all__ = [
    "Subscription",
    "Topic",
    "check_subscription_attribute",
    "check_topic_attributes",
    "invalid",
    "page",
    "sns_error",
    "topic_arn",
]

sns_error = ModelledErrors("sns")

_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FIFO_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,251}\.fifo")
#: Topic attributes SetTopicAttributes and CreateTopic take (besides FIFO's own).
TOPIC_SETTABLE: Final = frozenset(
    {
        "DeliveryPolicy",
        "DisplayName",
        "Policy",
        "TracingConfig",
        "KmsMasterKeyId",
        "SignatureVersion",
        "ArchivePolicy",
        "DataProtectionPolicy",
        "FifoThroughputScope",
        *(
            f"{kind}{suffix}"
            for kind in ("HTTP", "Firehose", "Lambda", "Application", "SQS")
            for suffix in (
                "SuccessFeedbackRoleArn",
                "SuccessFeedbackSampleRate",
                "FailureFeedbackRoleArn",
            )
        ),
    }
)
SUBSCRIPTION_SETTABLE: Final = frozenset(
    {
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "SubscriptionRoleArn",
        "ReplayPolicy",
    }
)
#: AWS's documented default HTTP delivery policy (`EffectiveDeliveryPolicy`).
DEFAULT_DELIVERY_POLICY: Final = {
    "http": {
        "defaultHealthyRetryPolicy": {
            "minDelayTarget": 20,
            "maxDelayTarget": 20,
            "numRetries": 3,
            "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "backoffFunction": "linear",
        },
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
}
_POLICY_ACTIONS: Final = (
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
)
#: Items in one page of ListTopics, ListSubscriptions...
PAGE: Final = 100
_MAX_POLICY: Final = 30 * 1024  # AWS's topic policy size limit
_MAX_ATTRIBUTE: Final = 256 * 1024


def invalid(message: str) -> ServiceError:
    """SNS's `InvalidParameter` error with AWS's text."""
    return sns_error("InvalidParameter", message)


def topic_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def default_policy(arn: str, account: str) -> str:
    """The policy AWS gives every new topic: its own account may do everything."""
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": list(_POLICY_ACTIONS),
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        },
        separators=(",", ":"),
    )


def _json_object(name: str, value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise invalid(f"Invalid parameter: {name}: failed to parse JSON.") from None
    if not isinstance(parsed, dict):
        raise invalid(f"Invalid parameter: {name}: the value must be a JSON object.")
    return parsed


def check_topic_name(name: str, fifo: bool) -> None:
    """AWS's one answer for a bad name, FIFO (`.fifo` required) or not."""
    if not (_FIFO_NAME if fifo else _NAME).fullmatch(name):
        raise invalid("Invalid parameter: Topic Name")


def check_topic_attributes(attributes: dict[str, str], *, fifo: bool, creating: bool) -> None:
    """Raise AWS's error for an attribute a topic does not take or a value out of bounds."""
    for name, value in attributes.items():
        if name in ("FifoTopic", "ContentBasedDeduplication"):
            if name == "FifoTopic" and not creating:
                raise invalid("Invalid parameter: AttributeName")
            if value.lower() not in ("true", "false"):
                raise invalid(f"Invalid parameter: {name}")
            if name == "ContentBasedDeduplication" and not fifo and value.lower() == "true":
                raise invalid(
                    "Invalid parameter: ContentBasedDeduplication Reason: Content based "
                    "deduplication can only be set for FIFO topics"
                )
            continue
        if name not in TOPIC_SETTABLE:
            raise invalid("Invalid parameter: AttributeName")
        if len(value) > _MAX_ATTRIBUTE:
            raise invalid(f"Invalid parameter: {name} Reason: the value is too long")
        if name == "Policy":
            if len(value.encode()) > _MAX_POLICY:
                raise invalid("Invalid parameter: Policy Error: policy size exceeds 30 KB")
            document = _json_object("Policy", value)
            if not isinstance(document.get("Statement"), list | dict):
                raise invalid("Invalid parameter: Policy Error: Statement is required")
        elif name == "DeliveryPolicy":
            _json_object(name, value)
        elif name == "SignatureVersion" and value not in ("1", "2"):
            raise invalid("Invalid parameter: SignatureVersion")
        elif name == "TracingConfig" and value not in ("PassThrough", "Active"):
            raise invalid("Invalid parameter: TracingConfig")
        elif name == "DisplayName" and len(value) > 100:
            raise invalid("Invalid parameter: DisplayName")
        elif name == "FifoThroughputScope" and (not fifo or value not in ("Topic", "MessageGroup")):
            raise invalid("Invalid parameter: FifoThroughputScope")


def check_subscription_attribute(
    protocol: str, name: str, value: str, *, subscribing: bool = False
) -> None:
    if name not in SUBSCRIPTION_SETTABLE:
        raise invalid("Invalid parameter: AttributeName")
    if len(value) > _MAX_ATTRIBUTE:  # a filter policy's 256 KB bounds them all
        raise invalid(f"Invalid parameter: {name} Reason: the value is too long")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            where = "Attributes Reason: " if subscribing else ""
            raise invalid(
                f"Invalid parameter: {where}RawMessageDelivery: Invalid value [{value}]. Must be "
                "true or false."
            )
        if protocol not in ("sqs", "http", "https", "firehose"):
            raise invalid(
                "Invalid parameter: Attributes Reason: Delivery protocol "
                f"[{protocol}] does not support raw message delivery."
            )
    elif name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
        where = "Attributes Reason: " if subscribing else ""
        raise invalid(
            f"Invalid parameter: {where}FilterPolicyScope: Invalid value [{value}]. Please use "
            "either MessageBody or MessageAttributes"
        )
    elif name == "RedrivePolicy":
        policy = _json_object("RedrivePolicy", value)
        target = policy.get("deadLetterTargetArn")
        if not isinstance(target, str) or not target.startswith("arn:aws:sqs:"):
            raise invalid("Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn")
    elif name == "DeliveryPolicy":
        _json_object(name, value)


@dataclass(slots=True)
class Topic:
    account: str
    region: str
    name: str
    attributes: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    deleted_subscriptions: int = 0
    next_sequence: int = 1
    #: dedup id -> (expires, message id, sequence number), FIFO topics only.
    dedup: dict[str, tuple[float, str, str]] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return topic_arn(self.account, self.region, self.name)

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoTopic") == "true"

    @property
    def content_dedup(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    def policy(self) -> Any:
        try:
            return json.loads(self.attributes.get("Policy") or "{}")
        except ValueError:
            return {}

    def record(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "name": self.name,
            "attributes": self.attributes,
            "tags": self.tags,
            "deleted": self.deleted_subscriptions,
            "next": self.next_sequence,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Topic:
        return cls(
            record["account"],
            record["region"],
            record["name"],
            record["attributes"],
            record["tags"],
            record["deleted"],
            record["next"],
        )


@dataclass(slots=True)
class Subscription:
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    attributes: dict[str, str] = field(default_factory=dict)
    pending: bool = False
    authenticated: bool = True
    _filter: FilterPolicy | None = None

    @property
    def raw(self) -> bool:
        return self.attributes.get("RawMessageDelivery", "false").lower() == "true"

    @property
    def filter(self) -> FilterPolicy | None:
        text = self.attributes.get("FilterPolicy")
        if not text:
            return None
        if self._filter is None:
            scope = self.attributes.get("FilterPolicyScope", "MessageAttributes")
            self._filter = compile_filter(text, scope)
        return self._filter

    def set(self, name: str, value: str) -> None:
        self.attributes[name] = value
        self._filter = None

    def clear_filter(self) -> None:
        self.attributes.pop("FilterPolicy", None)
        self.attributes.pop("FilterPolicyScope", None)
        self._filter = None

    @property
    def dead_letter_arn(self) -> str | None:
        try:
            policy = json.loads(self.attributes.get("RedrivePolicy") or "{}")
        except ValueError:
            return None
        target = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
        return target if isinstance(target, str) else None

    def delivery_policy(self) -> dict[str, Any] | None:
        text = self.attributes.get("DeliveryPolicy")
        if not text:
            return None
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def shown(self) -> dict[str, str]:
        """GetSubscriptionAttributes' answer."""
        out = {
            "SubscriptionArn": self.arn,
            "TopicArn": self.topic_arn,
            "Owner": self.owner,
            "Protocol": self.protocol,
            "Endpoint": self.endpoint,
            "ConfirmationWasAuthenticated": "true" if self.authenticated else "false",
            "PendingConfirmation": "true" if self.pending else "false",
            "RawMessageDelivery": "false",
            "SubscriptionPrincipal": f"arn:aws:iam::{self.owner}:root",
        }
        out.update(self.attributes)
        if self.protocol in ("http", "https"):
            out["EffectiveDeliveryPolicy"] = json.dumps(
                self.delivery_policy() or DEFAULT_DELIVERY_POLICY, separators=(",", ":")
            )
        if "FilterPolicy" in self.attributes:
            out.setdefault("FilterPolicyScope", "MessageAttributes")
        return out

    def record(self) -> dict[str, Any]:
        return {
            "topic": self.topic_arn,
            "protocol": self.protocol,
            "endpoint": self.endpoint,
            "owner": self.owner,
            "attributes": self.attributes,
            "pending": self.pending,
            "authenticated": self.authenticated,
        }

    @classmethod
    def from_record(cls, arn: str, record: dict[str, Any]) -> Subscription:
        return cls(
            arn,
            record["topic"],
            record["protocol"],
            record["endpoint"],
            record["owner"],
            record["attributes"],
            record["pending"],
            record["authenticated"],
        )


def page(items: list[str], token: str | None) -> tuple[list[str], str | None]:
    start = 0
    if token:
        start = next((i for i, item in enumerate(items) if item > token), len(items))
    page = items[start : start + PAGE]
    more = start + PAGE < len(items)
    return page, (page[-1] if more and page else None)
