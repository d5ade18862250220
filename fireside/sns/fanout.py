"""Delivering a topic's messages to its subscriptions, before Publish answers.

One `Targets.send_many` per publish (or batch) carries every SQS and Lambda delivery, each
acting as `sns.amazonaws.com` for the topic (`Sender(topic account, topic region,
"sns.amazonaws.com", topic ARN)`): the queue's policy or the function's resource policy
decides, in the target's own account too, as AWS requires. Each accepted delivery is durable
when `send_many` returns, so a Publish that was answered has reached every subscriber (at
least once; a crash before the answer may leave some delivered and the client retrying).

A delivery refused for a reason that may pass (`Refused.retriable`: a full disk) is retried,
as SNS retries its AWS-managed endpoints: it is queued in SNS's durable retry outbox
(`fireside.outbox` over `sns.sqlite`) before Publish answers, and sent again with backoff
(1 s doubling to 5 min) until it is taken. A delivery refused for good (no such queue or
function, a policy that does not allow SNS) goes to the subscription's dead-letter queue
(`RedrivePolicy`), through `Targets` as well; when there is none, or it refuses too, the
failure is logged and counted
(`failed`, the server health's `sns_failed_deliveries`), as CloudWatch's
`NumberOfNotificationsFailed` counts it on AWS. HTTP(S) subscriptions get their
notifications through the injected HTTP delivery queue (`fireside.sns.http_delivery`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from fireside.outbox import Outbox
from fireside.sns.messages import (
    Published,
    Signer,
    attribute_view,
    envelope,
    lambda_event,
    notification_fields,
)
from fireside.sns.topics import Subscription, Topic
from fireside.targets import Delivery, Refused, Sender, Targets

__all__ = ["SNS_PRINCIPAL", "Fanout", "HttpSink"]

log = logging.getLogger(__name__)

SNS_PRINCIPAL = "sns.amazonaws.com"


class HttpSink(Protocol):
    """`fireside.sns.http_delivery.HttpDelivery`: durable when `enqueue` returns."""

    def enqueue(self, messages: Sequence[Any]) -> None: ...


class Fanout:
    def __init__(
        self,
        targets: Targets,
        *,
        http: HttpSink | None = None,
        http_message: Callable[..., Any] | None = None,
        signer: Signer | None = None,
        retries: Outbox | None = None,
    ) -> None:
        self.targets = targets
        #: Where retriable refusals wait to be sent again.
        self.retries = retries
        self.http = http
        #: Builds one `HttpMessage` (the HTTP helper's dataclass) from its fields.
        self.http_message = http_message
        self.signer = signer
        #: The endpoint clients use (UnsubscribeURL, SubscribeURL); set when serving.
        self.endpoint_url = "http://localhost:4566"
        #: Topic ARN -> notifications not delivered (neither to the endpoint nor a DLQ).
        self.failed: Counter[str] = Counter()
        #: Topic ARN -> notifications delivered to a dead-letter queue.
        self.dead_lettered: Counter[str] = Counter()
        #: Topic ARN -> notifications queued to be tried again.
        self.retrying: Counter[str] = Counter()
        #: Topic ARN -> notifications accepted by their endpoints.
        self.delivered: Counter[str] = Counter()

    def version(self, topic: Topic) -> str:
        return topic.attributes.get("SignatureVersion", "1")

    def deliver(
        self, topic: Topic, subscriptions: Sequence[Subscription], messages: Sequence[Published]
    ) -> None:
        """Hand every message to every matching confirmed subscription; durable on return."""
        sender = Sender(topic.account, topic.region, SNS_PRINCIPAL, topic.arn)
        pending: list[tuple[Subscription, Published, Delivery]] = []
        http: list[Any] = []
        for message in messages:
            for subscription in subscriptions:
                if subscription.pending:
                    continue
                policy = subscription.filter
                if policy is not None and not policy.matches(
                    message.body_for(subscription.protocol), message.attributes
                ):
                    continue
                if subscription.protocol in ("http", "https"):
                    http.append(self._http_notification(topic, subscription, message))
                    continue
                pending.append(
                    (subscription, message, self._delivery(sender, topic, subscription, message))
                )
        if pending:
            self._send(topic, sender, pending)
        if http:
            self._enqueue(http)

    def _delivery(
        self, sender: Sender, topic: Topic, subscription: Subscription, message: Published
    ) -> Delivery:
        version = self.version(topic)
        if subscription.protocol == "lambda":
            body = lambda_event(message, subscription.arn, self.endpoint_url, self.signer, version)
            return Delivery(sender, subscription.endpoint, body, subject=message.subject)
        return self._queue_delivery(sender, subscription.endpoint, topic, subscription, message)

    def _queue_delivery(
        self, sender: Sender, arn: str, topic: Topic, subscription: Subscription, msg: Published
    ) -> Delivery:
        if subscription.raw:
            delivery = Delivery(sender, arn, msg.body_for("sqs"), msg.attributes)
        else:
            body = envelope(
                msg, "sqs", subscription.arn, self.endpoint_url, self.signer, self.version(topic)
            )
            delivery = Delivery(sender, arn, body)
        delivery.subject = msg.subject
        delivery.group_id = msg.group_id
        delivery.dedup_id = msg.dedup_id
        if msg.group_id is not None and msg.dedup_id is None:
            delivery.dedup_id = msg.id  # a standard topic's message to a FIFO queue
        return delivery

    def _send(
        self, topic: Topic, sender: Sender, pending: list[tuple[Subscription, Published, Delivery]]
    ) -> None:
        outcomes = self.targets.send_many([delivery for _, _, delivery in pending])
        retry: list[tuple[Subscription, Published, Refused, Delivery]] = []
        later: list[Delivery] = []
        for (subscription, message, delivery), outcome in zip(pending, outcomes, strict=True):
            if not isinstance(outcome, Refused):
                self.delivered[topic.arn] += 1
                continue
            if outcome.retriable and self.retries is not None:
                later.append(delivery)
                continue
            dead_letter = subscription.dead_letter_arn
            if dead_letter is None:
                self._failed(topic, subscription, outcome)
                continue
            # The dead-letter queue gets the notification as an SQS subscriber would.
            moved = self._queue_delivery(sender, dead_letter, topic, subscription, message)
            retry.append((subscription, message, outcome, moved))
        if later and self.retries is not None:
            self.retries.insert_many(later)
            self.retrying[topic.arn] += len(later)
        if not retry:
            return
        outcomes = self.targets.send_many([moved for *_, moved in retry])
        for (subscription, _, first, moved), outcome in zip(retry, outcomes, strict=True):
            if isinstance(outcome, Refused):
                self._failed(topic, subscription, first, dead_letter=outcome)
            else:
                self.dead_lettered[topic.arn] += 1
                log.info(
                    "SNS: %s refused a notification of %s (%s); sent to dead-letter queue %s",
                    subscription.endpoint,
                    topic.arn,
                    first.code,
                    moved.arn,
                )

    def _failed(
        self,
        topic: Topic,
        subscription: Subscription,
        outcome: Refused,
        dead_letter: Refused | None = None,
    ) -> None:
        self.failed[topic.arn] += 1
        log.warning(
            "SNS: notification of %s to %s (%s) not delivered: %s: %s%s",
            topic.arn,
            subscription.endpoint,
            subscription.arn,
            outcome.code,
            outcome.reason,
            f"; its dead-letter queue refused it too: {dead_letter.reason}" if dead_letter else "",
        )

    # -- HTTP(S) ------------------------------------------------------------------------------

    def _http_notification(self, topic: Topic, subscription: Subscription, msg: Published) -> Any:
        fields: dict[str, Any] = dict(
            notification_fields(msg, subscription.protocol, subscription.arn, self.endpoint_url)
        )
        if msg.attributes and not subscription.raw:  # unsigned, after the signature, as on AWS
            fields["MessageAttributes"] = attribute_view(msg.attributes)
        return self.http_item(
            topic,
            subscription,
            endpoint=subscription.endpoint,
            message_type="Notification",
            fields=fields,
            subscription_arn=subscription.arn,
            raw=subscription.raw,
        )

    def http_item(self, topic: Topic, subscription: Subscription, **fields: Any) -> Any:
        """One `HttpMessage` for `subscription` (None when there is no HTTP delivery)."""
        if self.http_message is None:
            return None
        return self.http_message(
            topic_arn=topic.arn,
            signature_version=self.version(topic),
            delivery_policy=subscription.delivery_policy() or _topic_delivery(topic),
            dead_letter_arn=subscription.dead_letter_arn,
            **fields,
        )

    def _enqueue(self, messages: list[Any]) -> None:
        ready = [message for message in messages if message is not None]
        if self.http is None or not ready:
            log.warning(
                "SNS: %d HTTP(S) notification(s) not sent: this server has no HTTP delivery",
                len(messages),
            )
            return
        self.http.enqueue(ready)

    def enqueue(self, messages: list[Any]) -> None:
        self._enqueue(messages)


def _topic_delivery(topic: Topic) -> dict[str, Any] | None:
    import json

    text = topic.attributes.get("DeliveryPolicy")
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
