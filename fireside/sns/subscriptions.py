"""SNS subscriptions: Subscribe, ConfirmSubscription, Unsubscribe, the listings and the
subscription attributes (`SnsProvider` holds the state; this module answers for it).

SQS and Lambda subscriptions are confirmed at once (a queue of another account too when the
topic's owner subscribes it); the target's own policy then decides each delivery. HTTP(S)
subscriptions start pending: Subscribe hands the HTTP delivery queue a
`SubscriptionConfirmation` whose `SubscribeURL` (Fireside's endpoint,
`?Action=ConfirmSubscription&TopicArn=...&Token=...`) confirms them, fetched unsigned. Tokens
are stored and expire after three days; confirming again is idempotent, as on AWS. Unsubscribing a confirmed
HTTP(S) subscription sends an `UnsubscribeConfirmation` whose URL restores it.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from fireside.aws.context import RequestContext
from fireside.sns.filters import compile_filter
from fireside.sns.messages import timestamp
from fireside.sns.topics import (
    Subscription,
    Topic,
    check_subscription_attribute,
    invalid,
    page,
    sns_error,
)

if TYPE_CHECKING:
    from fireside.sns.provider import SnsProvider

__all__ = ["SubscriptionApi", "check_arn"]

_TOKEN_LIFETIME: Final = 3 * 24 * 3600
_MAX_SUBSCRIPTIONS: Final = 100_000  # per topic (AWS: 12.5 million; Fireside keeps them in memory)
_PROTOCOLS: Final = frozenset(
    {"http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"}
)
_SERVED: Final = ("sqs", "lambda", "http", "https")


def check_arn(name: str, arn: str) -> None:
    """AWS's error for a value that is no ARN at all."""
    count = len(arn.split(":"))
    if count < 6:
        raise invalid(
            f"Invalid parameter: {name} Reason: An ARN must have at least 6 elements, not {count}"
        )


def check_subscription_arn(arn: str) -> None:
    """AWS's errors for a value that is no subscription ARN (empty, too short, no id)."""
    if not arn:
        raise invalid("Invalid parameter: SubscriptionArn Reason: no value for required parameter")
    check_arn("SubscriptionArn", arn)
    if len(arn.split(":")) < 7:
        raise invalid("Invalid parameter: SubscriptionId")


class SubscriptionApi:
    def __init__(self, provider: SnsProvider) -> None:
        self._p = provider

    def _subscription(self, ctx: RequestContext, arn: str) -> Subscription:
        subscription = self._p.subscriptions.get(arn)
        if subscription is None:
            check_subscription_arn(arn)
            raise sns_error("NotFound", "Subscription does not exist")
        topic_account = subscription.topic_arn.split(":")[4]
        if ctx.account_id not in (subscription.owner, topic_account):
            raise sns_error(
                "AuthorizationError",
                f"User: arn:aws:iam::{ctx.account_id}:root is not authorized to access "
                f"subscription {arn}",
            )
        return subscription

    def _unsigned_unsubscribe(self, arn: str) -> Subscription:
        """AWS serves a notification's `UnsubscribeURL` to anyone who has it, unless the
        subscription was confirmed with `AuthenticateOnUnsubscribe` (or is not an http(s)
        one, confirmed by its owner's signed Subscribe)."""
        subscription = self._p.subscriptions.get(arn)
        if subscription is None:
            check_subscription_arn(arn)
            raise sns_error("NotFound", "Subscription does not exist")
        if subscription.authenticated:
            raise sns_error(
                "AuthorizationError",
                "Unsubscribing this subscription requires a signed request "
                "(it was confirmed with AuthenticateOnUnsubscribe or by its owner)",
            )
        return subscription

    async def subscribe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._p.topic(ctx, params["TopicArn"], "Subscribe")
        protocol: str = params["Protocol"]
        endpoint: str = params.get("Endpoint") or ""
        attributes: dict[str, str] = dict(params.get("Attributes") or {})
        _check_endpoint(topic, protocol, endpoint)
        for name, value in attributes.items():
            check_subscription_attribute(protocol, name, value, subscribing=True)
        if "FilterPolicy" in attributes:
            compile_filter(
                attributes["FilterPolicy"],
                attributes.get("FilterPolicyScope", "MessageAttributes"),
                subscribing=True,
            )
        if "RawMessageDelivery" in attributes:
            attributes["RawMessageDelivery"] = attributes["RawMessageDelivery"].lower()
        if "RedrivePolicy" in attributes:
            _check_fifo_dead_letter(topic, endpoint, attributes["RedrivePolicy"], True)
        subs = self._p.by_topic.setdefault(topic.arn, {})
        for existing in subs.values():
            if (existing.protocol, existing.endpoint) == (protocol, endpoint):
                if any(existing.attributes.get(k) != v for k, v in attributes.items()):
                    raise invalid(
                        "Invalid parameter: Attributes Reason: Subscription already exists with "
                        "different attributes"
                    )
                return {"SubscriptionArn": _shown_arn(existing, params)}
        if len(subs) >= _MAX_SUBSCRIPTIONS:
            raise sns_error("SubscriptionLimitExceeded", "Subscription limit exceeded")
        http = protocol in ("http", "https")
        subscription = Subscription(
            f"{topic.arn}:{uuid.uuid4()}",
            topic.arn,
            protocol,
            endpoint,
            ctx.account_id,
            attributes,
            pending=http,
            authenticated=not http,
        )
        confirmation = None
        with self._p.store.transaction() as conn:
            self._p.store.put_subscription(conn, subscription.arn, topic.arn, subscription.record())
            if http:
                token = secrets.token_hex(64)
                expires = time.time() + _TOKEN_LIFETIME
                self._p.store.put_token(conn, token, topic.arn, subscription.arn, expires)
                confirmation = self._confirmation(topic, subscription, token)
        self._p.subscriptions[subscription.arn] = subscription
        subs[subscription.arn] = subscription
        if confirmation is not None:
            self._p.fanout.enqueue([confirmation])
        return {"SubscriptionArn": _shown_arn(subscription, params)}

    def _confirmation(
        self, topic: Topic, subscription: Subscription, token: str, *, leaving: bool = False
    ) -> Any:
        """The `SubscriptionConfirmation` (or, `leaving`, `UnsubscribeConfirmation`) whose
        `SubscribeURL` confirms (or restores) `subscription`."""
        url = (
            f"{self._p.fanout.endpoint_url}/?Action=ConfirmSubscription"
            f"&TopicArn={topic.arn}&Token={token}"  # the ARN as is, as AWS writes it
        )
        if leaving:
            kind = "UnsubscribeConfirmation"
            text = (
                f"You have chosen to deactivate subscription {subscription.arn}.\nTo cancel "
                "this operation and restore the subscription, visit the SubscribeURL included "
                "in this message."
            )
        else:
            kind = "SubscriptionConfirmation"
            text = (
                f"You have chosen to subscribe to the topic {topic.arn}.\nTo confirm the "
                "subscription, visit the SubscribeURL included in this message."
            )
        fields = {
            "Type": kind,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic.arn,
            "Message": text,
            "SubscribeURL": url,
            "Timestamp": timestamp(),
        }
        return self._p.fanout.http_item(
            topic,
            subscription,
            endpoint=subscription.endpoint,
            message_type=kind,
            fields=fields,
            subscription_arn=None,
        )

    async def confirm_subscription(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """As AWS answers (LocalStack's AWS-recorded snapshots): a token stays valid until it
        expires and confirming again answers the same ARN; a topic ARN of another region or
        account is refused ("Invalid parameter: Topic"), but, as on AWS, one naming another
        topic of the token's account and region is not looked at."""
        arn: str = params["TopicArn"]
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"]:
            raise invalid("Invalid parameter: Topic")
        found = self._p.store.token(params["Token"])
        if found is None:
            raise invalid("Invalid parameter: Token")
        topic_arn, subscription_arn, expires, restore = found
        if topic_arn.split(":")[3:5] != parts[3:5]:
            raise invalid("Invalid parameter: Topic")
        if expires <= time.time():
            raise invalid("Invalid token")
        topic = self._p.topics.get(topic_arn)
        subscription = self._p.subscriptions.get(subscription_arn)
        if subscription is not None and not subscription.pending:
            return {"SubscriptionArn": subscription.arn}  # confirmed already
        if subscription is None and restore is not None:  # an UnsubscribeConfirmation's link
            subscription = Subscription.from_record(subscription_arn, restore)
        if topic is None or subscription is None:  # deleted in the meantime
            raise invalid("Invalid parameter: Token")
        subscription.pending = False
        subscription.authenticated = (
            str(params.get("AuthenticateOnUnsubscribe", "false")).lower() == "true"
        )
        with self._p.store.transaction() as conn:
            self._p.store.expire_tokens(conn, time.time())
            self._p.store.put_subscription(conn, subscription.arn, topic.arn, subscription.record())
        self._p.subscriptions[subscription.arn] = subscription
        self._p.by_topic.setdefault(topic.arn, {})[subscription.arn] = subscription
        return {"SubscriptionArn": subscription.arn}

    async def unsubscribe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not ctx.access_key_id:  # the UnsubscribeURL of a notification, fetched unsigned
            subscription = self._unsigned_unsubscribe(params["SubscriptionArn"])
        else:
            subscription = self._subscription(ctx, params["SubscriptionArn"])
        topic = self._p.topics.get(subscription.topic_arn)
        farewell = None
        with self._p.store.transaction() as conn:
            self._p.store.delete_subscription(conn, subscription.arn)
            if topic is not None:
                topic.deleted_subscriptions += 1
                self._p.store.put_topic(conn, topic.arn, topic.record())
                if subscription.protocol in ("http", "https") and not subscription.pending:
                    token = secrets.token_hex(64)
                    expires = time.time() + _TOKEN_LIFETIME
                    self._p.store.put_token(
                        conn, token, topic.arn, subscription.arn, expires, subscription.record()
                    )
                    farewell = self._confirmation(topic, subscription, token, leaving=True)
        del self._p.subscriptions[subscription.arn]
        self._p.by_topic.get(subscription.topic_arn, {}).pop(subscription.arn, None)
        if farewell is not None:
            self._p.fanout.enqueue([farewell])
        return {}

    async def list_subscriptions(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        mine = [
            s
            for s in self._p.subscriptions.values()
            if s.owner == ctx.account_id and s.topic_arn.split(":")[3] == ctx.region
        ]
        return _subscription_page(mine, params.get("NextToken"))

    async def list_subscriptions_by_topic(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        topic = self._p.topic(ctx, params["TopicArn"], "ListSubscriptionsByTopic")
        return _subscription_page(
            list(self._p.by_topic.get(topic.arn, {}).values()), params.get("NextToken")
        )

    async def get_subscription_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"Attributes": self._subscription(ctx, params["SubscriptionArn"]).shown()}

    async def set_subscription_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        subscription = self._subscription(ctx, params["SubscriptionArn"])
        name: str = params["AttributeName"]
        value: str = params.get("AttributeValue") or ""
        check_subscription_attribute(subscription.protocol, name, value)
        if name == "FilterPolicy" and value:
            compile_filter(
                value, subscription.attributes.get("FilterPolicyScope", "MessageAttributes")
            )
        if name == "FilterPolicyScope" and "FilterPolicy" in subscription.attributes:
            compile_filter(subscription.attributes["FilterPolicy"], value)
        if name == "RawMessageDelivery":
            value = value.lower()
        if name == "RedrivePolicy" and value:
            topic = self._p.topics.get(subscription.topic_arn)
            if topic is not None:
                _check_fifo_dead_letter(topic, subscription.endpoint, value, False)
        if name == "FilterPolicy" and not value:  # an empty policy removes the filter
            subscription.clear_filter()
        else:
            subscription.set(name, value)
        with self._p.store.transaction() as conn:
            self._p.store.put_subscription(
                conn, subscription.arn, subscription.topic_arn, subscription.record()
            )
        return {}


def _check_fifo_dead_letter(topic: Topic, endpoint: str, policy: str, subscribing: bool) -> None:
    """A FIFO queue subscribed to a FIFO topic needs a FIFO dead-letter queue (AWS's rule)."""
    if not (topic.fifo and endpoint.endswith(".fifo")):
        return
    target = json.loads(policy).get("deadLetterTargetArn", "")  # checked already
    if not str(target).endswith(".fifo"):
        where = "Attributes Reason: " if subscribing else ""
        raise invalid(
            f"Invalid parameter: {where}RedrivePolicy: must use a FIFO queue as DLQ for a FIFO "
            "Subscription to a FIFO Topic."
        )


def _shown_arn(subscription: Subscription, params: dict[str, Any]) -> str:
    if subscription.pending and not params.get("ReturnSubscriptionArn"):
        return "pending confirmation"
    return subscription.arn


def _check_endpoint(topic: Topic, protocol: str, endpoint: str) -> None:
    if protocol not in _PROTOCOLS:
        raise invalid(
            f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
        )
    if protocol not in _SERVED:
        raise invalid(
            f"Invalid parameter: Protocol Reason: Fireside does not deliver to {protocol} "
            f"subscriptions (it delivers to {', '.join(_SERVED)})"
        )
    if not endpoint:
        raise invalid("Invalid parameter: Endpoint")
    if protocol == "sqs":
        parts = endpoint.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not parts[5]:
            raise invalid("Invalid parameter: SQS endpoint ARN")
        if parts[5].endswith(".fifo") and not topic.fifo:
            raise invalid(
                "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not "
                "be subscribed to standard SNS topics"
            )
    elif protocol == "lambda":
        parts = endpoint.split(":")
        if (
            len(parts) not in (7, 8)
            or parts[:3] != ["arn", "aws", "lambda"]
            or parts[5] != "function"
        ):
            raise invalid("Invalid parameter: Lambda endpoint ARN")
        if topic.fifo:
            raise invalid(
                "Invalid parameter: Invalid protocol type: lambda Reason: FIFO topics deliver "
                "only to SQS queues"
            )
    elif not endpoint.lower().startswith(f"{protocol}://") or len(endpoint) > 2048:
        raise invalid("Invalid parameter: Endpoint must match the specified protocol")
    elif topic.fifo:
        raise invalid(
            f"Invalid parameter: Invalid protocol type: {protocol} Reason: FIFO topics deliver "
            "only to SQS queues"
        )


def _subscription_page(subs: list[Subscription], token: str | None) -> dict[str, Any]:
    by_arn = {s.arn: s for s in subs}
    shown, next_token = page(sorted(by_arn), token)
    out: dict[str, Any] = {
        "Subscriptions": [
            {
                "SubscriptionArn": "PendingConfirmation" if by_arn[a].pending else a,
                "Owner": by_arn[a].owner,
                "Protocol": by_arn[a].protocol,
                "Endpoint": by_arn[a].endpoint,
                "TopicArn": by_arn[a].topic_arn,
            }
            for a in shown
        ]
    }
    if next_token:
        out["NextToken"] = next_token
    return out
