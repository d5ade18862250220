"""The SNS provider: topics, Publish and PublishBatch (query protocol); the subscription
operations are `fireside.sns.subscriptions`'s, on the same state.

State lives in memory (topics by ARN, subscriptions by ARN and by topic) and is written
through `SnsStore` before each answer. Topics belong to an account and region; another
account reaches a topic only where the topic's `Policy` grants it the action (`sns:Publish`,
`sns:Subscribe`, ...), judged by `fireside.resource_policy`. Deliveries go through
`fireside.sns.fanout` (and so through `fireside.targets`) before Publish answers.

A FIFO topic numbers its messages (`SequenceNumber`) and remembers each deduplication id
for five minutes, durably, once the message's deliveries are committed: a repeat within the
window answers the first message's id and number and delivers nothing. Operations Fireside
lacks (SMS, platform applications, data protection) answer the edge's
NotImplementedException.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.resource_policy import allows, statements_of
from fireside.sns.batch import publish_batch
from fireside.sns.fanout import Fanout
from fireside.sns.messages import Published, check_publish
from fireside.sns.store import SnsStore
from fireside.sns.subscriptions import SubscriptionApi, check_arn
from fireside.sns.topics import (
    DEFAULT_DELIVERY_POLICY,
    TOPIC_SETTABLE,
    Subscription,
    Topic,
    check_topic_attributes,
    check_topic_name,
    default_policy,
    invalid,
    page,
    sns_error,
    topic_arn,
)

__all__ = ["SnsProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_DEDUP_WINDOW: Final = 300.0
#: Kept with the topic but read through their own operations on AWS, not GetTopicAttributes.
_NOT_SHOWN: Final = frozenset({"DataProtectionPolicy"})
_MAX_TOPICS: Final = 100_000  # per account and region, AWS's default quota
_MAX_TAGS: Final = 50
_ACTIONS: Final = frozenset(
    {
        "GetTopicAttributes",
        "SetTopicAttributes",
        "AddPermission",
        "RemovePermission",
        "DeleteTopic",
        "Subscribe",
        "ListSubscriptionsByTopic",
        "Publish",
        "Receive",
    }
)


def _not_found() -> ServiceError:
    return sns_error("NotFound", "Topic does not exist")


def _split_arn(arn: str) -> tuple[str, str, str] | None:
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"]:
        return None
    return parts[4], parts[3], parts[5]


class SnsProvider:
    def __init__(self, store: SnsStore, fanout: Fanout) -> None:
        self.store = store
        self.fanout = fanout
        self.subs = SubscriptionApi(self)
        self.topics: dict[str, Topic] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.by_topic: dict[str, dict[str, Subscription]] = {}
        for _, record in store.topics():
            topic = Topic.from_record(record)
            self.topics[topic.arn] = topic
            self.by_topic[topic.arn] = {}
        for arn, record in store.subscriptions():
            subscription = Subscription.from_record(arn, record)
            self.subscriptions[arn] = subscription
            self.by_topic.setdefault(subscription.topic_arn, {})[arn] = subscription
        for topic_key, dedup_id, expires, message, seq in store.dedup(time.time()):
            if topic_key in self.topics:
                self.topics[topic_key].dedup[dedup_id] = (expires, message, seq)

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateTopic": self.create_topic,
            "DeleteTopic": self.delete_topic,
            "ListTopics": self.list_topics,
            "GetTopicAttributes": self.get_topic_attributes,
            "SetTopicAttributes": self.set_topic_attributes,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "AddPermission": self.add_permission,
            "RemovePermission": self.remove_permission,
            "Subscribe": self.subs.subscribe,
            "ConfirmSubscription": self.subs.confirm_subscription,
            "Unsubscribe": self.subs.unsubscribe,
            "ListSubscriptions": self.subs.list_subscriptions,
            "ListSubscriptionsByTopic": self.subs.list_subscriptions_by_topic,
            "GetSubscriptionAttributes": self.subs.get_subscription_attributes,
            "SetSubscriptionAttributes": self.subs.set_subscription_attributes,
            "Publish": self.publish,
            "PublishBatch": self.publish_batch,
        }

    def close(self) -> None:
        self.store.close()

    # -- lookups --------------------------------------------------------------------------

    def topic(self, ctx: RequestContext, arn: str | None, action: str) -> Topic:
        """The topic `arn` names, if the caller may do `action` on it."""
        arn = arn or ""
        check_arn("TopicArn", arn)
        if _split_arn(arn) is None:
            raise invalid("Invalid parameter: TopicArn")
        if arn.split(":")[3] != ctx.region:  # a regional endpoint serves its own region
            raise invalid("Invalid parameter: TopicArn")
        topic = self.topics.get(arn)
        if topic is None:
            raise _not_found()
        if topic.account != ctx.account_id and not allows(
            statements_of(topic.policy()),
            action=f"sns:{action}",
            principal_account=ctx.account_id,
            resource=topic.arn,
            context={"aws:SourceAccount": ctx.account_id},
        ):
            raise sns_error(
                "AuthorizationError",
                f"User: arn:aws:iam::{ctx.account_id}:root is not authorized to perform: "
                f"SNS:{action} on resource: {arn}",
            )
        return topic

    def _save_topic(self, topic: Topic) -> None:
        with self.store.transaction() as conn:
            self.store.put_topic(conn, topic.arn, topic.record())

    # -- topics ---------------------------------------------------------------------------

    async def create_topic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        attributes: dict[str, str] = dict(params.get("Attributes") or {})
        if "DataProtectionPolicy" in params:
            attributes["DataProtectionPolicy"] = params["DataProtectionPolicy"]
        fifo = attributes.get("FifoTopic", "false").lower() == "true"
        check_topic_name(name, fifo)
        check_topic_attributes(attributes, fifo=fifo, creating=True)
        for flag in ("FifoTopic", "ContentBasedDeduplication"):
            if flag in attributes:
                attributes[flag] = attributes[flag].lower()
        if not fifo:
            attributes.pop("FifoTopic", None)
        tags = _tags(params.get("Tags") or [])
        arn = topic_arn(ctx.account_id, ctx.region, name)
        existing = self.topics.get(arn)
        if existing is not None:
            if any(existing.attributes.get(k) != v for k, v in attributes.items()):
                raise invalid(
                    "Invalid parameter: Attributes Reason: Topic already exists with different "
                    "attributes"
                )
            if tags and tags != existing.tags:
                raise invalid(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags"
                )
            return {"TopicArn": arn}
        if len(tags) > _MAX_TAGS:
            raise sns_error(
                "TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded"
            )
        owned = sum(
            1 for t in self.topics.values() if (t.account, t.region) == (ctx.account_id, ctx.region)
        )
        if owned >= _MAX_TOPICS:
            raise sns_error("TopicLimitExceeded", "Topic limit exceeded")
        if fifo:
            attributes.setdefault("ContentBasedDeduplication", "false")
        attributes.setdefault("Policy", default_policy(arn, ctx.account_id))
        attributes.setdefault("DisplayName", "")
        topic = Topic(ctx.account_id, ctx.region, name, attributes, tags)
        self._save_topic(topic)
        self.topics[arn] = topic
        self.by_topic[arn] = {}
        return {"TopicArn": arn}

    async def delete_topic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["TopicArn"]
        try:
            topic = self.topic(ctx, arn, "DeleteTopic")
        except ServiceError as exc:
            if exc.code == "NotFound":
                return {}  # AWS: deleting a topic that does not exist succeeds
            raise
        with self.store.transaction() as conn:
            self.store.delete_topic(conn, topic.arn)
        del self.topics[topic.arn]
        for sub_arn in self.by_topic.pop(topic.arn, {}):
            self.subscriptions.pop(sub_arn, None)
        return {}

    async def list_topics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arns = sorted(
            t.arn
            for t in self.topics.values()
            if (t.account, t.region) == (ctx.account_id, ctx.region)
        )
        shown, token = page(arns, params.get("NextToken"))
        out: dict[str, Any] = {"Topics": [{"TopicArn": arn} for arn in shown]}
        if token:
            out["NextToken"] = token
        return out

    async def get_topic_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        topic = self.topic(ctx, params["TopicArn"], "GetTopicAttributes")
        subs = self.by_topic.get(topic.arn, {}).values()
        pending = sum(1 for s in subs if s.pending)
        attributes = {
            **{k: v for k, v in topic.attributes.items() if k not in _NOT_SHOWN},
            "TopicArn": topic.arn,
            "Owner": topic.account,
            "SubscriptionsConfirmed": str(len(subs) - pending),
            "SubscriptionsPending": str(pending),
            "SubscriptionsDeleted": str(topic.deleted_subscriptions),
            "EffectiveDeliveryPolicy": _effective_delivery(topic),
        }
        return {"Attributes": attributes}

    async def set_topic_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        topic = self.topic(ctx, params["TopicArn"], "SetTopicAttributes")
        name: str = params["AttributeName"]
        value: str = params.get("AttributeValue") or ""
        if not value and name in TOPIC_SETTABLE and name not in ("DisplayName", "Policy"):
            topic.attributes.pop(name, None)  # an empty value removes it, as on AWS
            self._save_topic(topic)
            return {}
        check_topic_attributes({name: value}, fifo=topic.fifo, creating=False)
        if name == "Policy" and not value:
            value = default_policy(topic.arn, topic.account)
        if name == "ContentBasedDeduplication":
            value = value.lower()
        topic.attributes[name] = value
        self._save_topic(topic)
        return {}

    def _tagged(self, ctx: RequestContext, arn: str) -> Topic:
        topic = self.topics.get(arn)
        if topic is None or topic.account != ctx.account_id:
            raise sns_error("ResourceNotFound", "Resource does not exist")
        return topic

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._tagged(ctx, params["ResourceArn"])
        tags = {**topic.tags, **_tags(params["Tags"])}
        if len(tags) > _MAX_TAGS:
            raise sns_error(
                "TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded"
            )
        topic.tags = tags
        self._save_topic(topic)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._tagged(ctx, params["ResourceArn"])
        for key in params["TagKeys"]:
            topic.tags.pop(key, None)
        self._save_topic(topic)
        return {}

    async def list_tags_for_resource(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        topic = self._tagged(ctx, params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in topic.tags.items()]}

    async def add_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self.topic(ctx, params["TopicArn"], "AddPermission")
        label: str = params["Label"]
        document = topic.policy()
        statements = statements_of(document)
        if any(s.get("Sid") == label for s in statements):
            raise invalid("Invalid parameter: Statement already exists")
        actions: list[str] = params["ActionName"]
        if not actions or any(a not in _ACTIONS for a in actions):
            raise invalid("Invalid parameter: Policy statement action out of service scope!")
        principals = [f"arn:aws:iam::{account}:root" for account in params["AWSAccountId"]]
        if not principals:
            raise invalid("Invalid parameter: AWSAccountId")
        names = [f"SNS:{a}" for a in actions]
        statements.append(
            {
                "Sid": label,
                "Effect": "Allow",
                "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                "Action": names[0] if len(names) == 1 else names,
                "Resource": topic.arn,
            }
        )
        _write_policy(topic, document, statements)
        self._save_topic(topic)
        return {}

    async def remove_permission(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        topic = self.topic(ctx, params["TopicArn"], "RemovePermission")
        document = topic.policy()
        kept = [s for s in statements_of(document) if s.get("Sid") != params["Label"]]
        _write_policy(topic, document, kept)
        self._save_topic(topic)
        return {}

    # -- publishing -----------------------------------------------------------------------

    def _publish_target(self, ctx: RequestContext, params: dict[str, Any]) -> Topic:
        if params.get("PhoneNumber"):
            raise invalid(
                "Invalid parameter: PhoneNumber Reason: Fireside does not send SMS messages"
            )
        arn = params.get("TopicArn") or params.get("TargetArn")
        if not arn:
            raise invalid(
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
            )
        if params.get("TargetArn") and ":endpoint/" in arn:  # Fireside has no mobile push
            raise invalid(
                "Invalid parameter: TargetArn Reason: No endpoint found for the target arn "
                "specified"
            )
        return self.topic(ctx, arn, "Publish")

    async def publish(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._publish_target(ctx, params)
        message = check_publish(topic, params)
        seen = self._deduplicated(topic, message)
        if seen is not None:
            return seen
        self.publish_messages(topic, [message])
        out: dict[str, Any] = {"MessageId": message.id}
        if message.sequence is not None:
            out["SequenceNumber"] = message.sequence
        return out

    def publish_one(self, topic: Topic, params: dict[str, Any]) -> str:
        """Publish for another service (`fireside.sns.targets`); the message id."""
        message = check_publish(topic, params)
        seen = self._deduplicated(topic, message)
        if seen is not None:
            return str(seen["MessageId"])
        self.publish_messages(topic, [message])
        return message.id

    def _deduplicated(self, topic: Topic, message: Published) -> dict[str, Any] | None:
        if message.dedup_id is None or not topic.fifo:
            return None
        found = topic.dedup.get(message.dedup_id)
        if found is None or found[0] <= time.time():
            return None
        return {"MessageId": found[1], "SequenceNumber": found[2]}

    def publish_messages(self, topic: Topic, messages: list[Published]) -> None:
        """Deliver accepted messages; FIFO ones get their sequence numbers and are remembered
        for deduplication (durably, after their deliveries)."""
        if topic.fifo:
            for message in messages:
                message.sequence = f"{10_000_000_000_000_000_000 + topic.next_sequence:020d}"
                topic.next_sequence += 1
        subscriptions = list(self.by_topic.get(topic.arn, {}).values())
        self.fanout.deliver(topic, subscriptions, messages)
        if not topic.fifo:
            return
        now = time.time()
        with self.store.transaction() as conn:
            for message in messages:
                assert message.dedup_id is not None and message.sequence is not None
                expires = now + _DEDUP_WINDOW
                topic.dedup[message.dedup_id] = (expires, message.id, message.sequence)
                self.store.put_dedup(
                    conn, topic.arn, message.dedup_id, expires, message.id, message.sequence
                )
            self.store.expire_dedup(conn, now)
            self.store.put_topic(conn, topic.arn, topic.record())
        for key, (expires, _, _) in list(topic.dedup.items()):
            if expires <= now:
                del topic.dedup[key]

    async def publish_batch(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return publish_batch(self, self.topic(ctx, params["TopicArn"], "Publish"), params)


def _tags(given: list[dict[str, str]]) -> dict[str, str]:
    tags = {tag["Key"]: tag["Value"] for tag in given}
    if len(tags) != len(given):
        raise invalid("Invalid parameter: Duplicated keys are not allowed.")
    return tags


def _write_policy(topic: Topic, document: Any, statements: list[Any]) -> None:
    base = document if isinstance(document, dict) else {"Version": "2008-10-17"}
    base["Statement"] = statements
    topic.attributes["Policy"] = json.dumps(base, separators=(",", ":"))


def _effective_delivery(topic: Topic) -> str:
    return topic.attributes.get("DeliveryPolicy") or json.dumps(
        DEFAULT_DELIVERY_POLICY, separators=(",", ":")
    )
