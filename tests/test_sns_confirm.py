"""HTTP(S) subscriptions' confirmation flow, in process with a fake HTTP delivery queue (the
real one, `fireside.sns.http_delivery`, is tested with real HTTP on its own): Subscribe hands
the queue a `SubscriptionConfirmation` whose `SubscribeURL` confirms the subscription when
fetched unsigned (even on a server that requires signatures, as AWS serves it); tokens are
valid until they expire (three days; confirming again is idempotent, as on AWS); confirmed
subscriptions get their notifications."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from fireside.aws.auth import Authenticator
from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.model import load_service
from fireside.aws.protocol import protocol_for
from fireside.edge import Edge, Service, json_response
from fireside.http.types import Request, Response
from fireside.sns import SnsProvider, SnsStore
from fireside.sns.fanout import Fanout
from fireside.targets import Targets

CTX = RequestContext("000000000000", "us-east-1", "request", "http://fireside.test")


class FakeHttp:
    """Stands in for `HttpDelivery`: remembers what it was given."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def enqueue(self, messages: Sequence[Any]) -> None:
        self.messages += messages


def provider_with(tmp_path: Path) -> tuple[SnsProvider, FakeHttp]:
    http = FakeHttp()
    fanout = Fanout(Targets(), http=http, http_message=lambda **fields: SimpleNamespace(**fields))
    fanout.endpoint_url = CTX.endpoint_url
    return SnsProvider(SnsStore(tmp_path / "sns.sqlite"), fanout), http


async def _internal(request: Request) -> Response:
    return json_response(404, {})


def edge_for(provider: SnsProvider) -> Edge:
    service = Service(
        "sns",
        protocol_for(load_service("sns")),
        provider.operations(),
        unsigned_actions=frozenset({"ConfirmSubscription", "Unsubscribe"}),
    )
    return Edge(Authenticator({"AKID": "secret"}), [service], _internal, CTX.endpoint_url)


def test_subscribe_and_unsubscribe_urls_work_unsigned(tmp_path: Path) -> None:
    provider, http = provider_with(tmp_path)

    async def scenario() -> None:
        topic = (await provider.create_topic(CTX, {"Name": "hooks"}))["TopicArn"]
        answer = await provider.subs.subscribe(
            CTX,
            {"TopicArn": topic, "Protocol": "https", "Endpoint": "https://example.com/in"},
        )
        assert answer == {"SubscriptionArn": "pending confirmation"}
        (confirmation,) = http.messages
        assert confirmation.endpoint == "https://example.com/in"
        assert confirmation.message_type == "SubscriptionConfirmation"
        assert confirmation.subscription_arn is None
        assert confirmation.topic_arn == topic
        fields = confirmation.fields
        assert set(fields) == {
            "Type",
            "MessageId",
            "Token",
            "TopicArn",
            "Message",
            "SubscribeURL",
            "Timestamp",
        }
        assert fields["Message"] == (
            f"You have chosen to subscribe to the topic {topic}.\nTo confirm the subscription, "
            "visit the SubscribeURL included in this message."
        )
        assert fields["SubscribeURL"] == (  # the form AWS sends (ARN not percent-encoded)
            f"{CTX.endpoint_url}/?Action=ConfirmSubscription&TopicArn={topic}"
            f"&Token={fields['Token']}"
        )
        url = urlsplit(fields["SubscribeURL"])
        assert f"{url.scheme}://{url.netloc}" == CTX.endpoint_url
        query = dict(parse_qsl(url.query))
        assert query == {
            "Action": "ConfirmSubscription",
            "TopicArn": topic,
            "Token": fields["Token"],
        }
        # Publishing before confirmation sends nothing to the endpoint.
        await provider.publish(CTX, {"TopicArn": topic, "Message": "early"})
        assert len(http.messages) == 1
        # Another action unsigned is refused; the SubscribeURL, fetched unsigned, confirms.
        edge = edge_for(provider)
        refused = await edge(Request("POST", "/", "", {}, b"Action=ListTopics&Version=2010-03-31"))
        assert refused.status == 403
        confirmed = await edge(Request("GET", "/", url.query, {}))
        assert confirmed.status == 200, confirmed.body
        assert b"<SubscriptionArn>" + topic.encode() in confirmed.body
        sub_arn = re.findall(rb"<SubscriptionArn>([^<]+)<", confirmed.body)[0]
        again = await edge(Request("GET", "/", url.query, {}))  # idempotent, as on AWS
        assert again.status == 200 and re.findall(rb"<SubscriptionArn>([^<]+)<", again.body) == [
            sub_arn
        ]
        # The token's region must be the topic's ("Invalid parameter: Topic", as AWS answers).
        elsewhere = url.query.replace("us-east-1", "eu-central-1")
        moved = await edge(Request("GET", "/", elsewhere, {}))
        assert moved.status == 400 and b"Invalid parameter: Topic" in moved.body
        (sub,) = provider.by_topic[topic].values()
        attributes = (
            await provider.subs.get_subscription_attributes(CTX, {"SubscriptionArn": sub.arn})
        )["Attributes"]
        assert attributes["PendingConfirmation"] == "false"
        assert attributes["ConfirmationWasAuthenticated"] == "false"
        await provider.subs.set_subscription_attributes(
            CTX,
            {
                "SubscriptionArn": sub.arn,
                "AttributeName": "RawMessageDelivery",
                "AttributeValue": "true",
            },
        )
        await provider.publish(CTX, {"TopicArn": topic, "Message": "hello", "Subject": "s"})
        notification = http.messages[-1]
        assert notification.message_type == "Notification"
        assert notification.subscription_arn == sub.arn
        assert notification.raw is True
        assert notification.signature_version == "1"
        assert notification.fields["Message"] == "hello"
        assert notification.fields["Subject"] == "s"
        assert "Signature" not in notification.fields
        # The notification's UnsubscribeURL, fetched unsigned, unsubscribes (AWS's rule for a
        # subscription confirmed without AuthenticateOnUnsubscribe); an UnsubscribeConfirmation
        # follows, whose link restores the subscription.
        leave = urlsplit(notification.fields["UnsubscribeURL"])
        assert f"{leave.scheme}://{leave.netloc}" == CTX.endpoint_url
        left = await edge(Request("GET", "/", leave.query, {}))
        assert left.status == 200, left.body
        farewell = http.messages[-1]
        assert farewell.message_type == "UnsubscribeConfirmation"
        assert farewell.fields["Type"] == "UnsubscribeConfirmation"
        assert farewell.fields["Message"] == (
            f"You have chosen to deactivate subscription {sub.arn}.\nTo cancel this operation "
            "and restore the subscription, visit the SubscribeURL included in this message."
        )
        assert not provider.by_topic[topic]
        restore = urlsplit(farewell.fields["SubscribeURL"]).query
        restored = await edge(Request("GET", "/", restore, {}))
        assert restored.status == 200, restored.body
        attributes = (
            await provider.subs.get_subscription_attributes(CTX, {"SubscriptionArn": sub.arn})
        )["Attributes"]
        assert attributes["RawMessageDelivery"] == "true"
        assert attributes["PendingConfirmation"] == "false"
        # A queue's subscription (its owner's signed Subscribe) needs a signed Unsubscribe.
        queue_sub = (
            await provider.subs.subscribe(
                CTX,
                {
                    "TopicArn": topic,
                    "Protocol": "sqs",
                    "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q",
                },
            )
        )["SubscriptionArn"]
        query = f"Action=Unsubscribe&SubscriptionArn={quote(queue_sub, safe='')}"
        refused = await edge(Request("GET", "/", query, {}))
        assert refused.status == 403 and b"AuthorizationError" in refused.body
        assert queue_sub in provider.subscriptions

    asyncio.run(scenario())


def test_tokens_expire_after_three_days(tmp_path: Path) -> None:
    provider, http = provider_with(tmp_path)

    async def scenario() -> None:
        topic = (await provider.create_topic(CTX, {"Name": "late"}))["TopicArn"]
        await provider.subs.subscribe(
            CTX, {"TopicArn": topic, "Protocol": "http", "Endpoint": "http://example.com/"}
        )
        token = http.messages[0].fields["Token"]
        with sqlite3.connect(tmp_path / "sns.sqlite") as conn:
            (expires,) = conn.execute("SELECT expires FROM tokens").fetchone()
            conn.execute("UPDATE tokens SET expires = expires - 3 * 24 * 3600")
        assert expires > 0
        with pytest.raises(ServiceError) as caught:
            await provider.subs.confirm_subscription(CTX, {"TopicArn": topic, "Token": token})
        assert (caught.value.code, caught.value.message) == ("InvalidParameter", "Invalid token")
        with pytest.raises(ServiceError) as caught:
            await provider.subs.confirm_subscription(CTX, {"TopicArn": topic, "Token": "made-up"})
        assert caught.value.message == "Invalid parameter: Token"
        with pytest.raises(ServiceError) as caught:
            await provider.subs.confirm_subscription(CTX, {"TopicArn": "nope", "Token": token})
        assert caught.value.message == "Invalid parameter: Topic"

    asyncio.run(scenario())


def test_pending_subscriptions_survive_a_restart(tmp_path: Path) -> None:
    provider, http = provider_with(tmp_path)

    async def subscribe() -> str:
        topic = (await provider.create_topic(CTX, {"Name": "kept"}))["TopicArn"]
        await provider.subs.subscribe(
            CTX, {"TopicArn": topic, "Protocol": "https", "Endpoint": "https://example.com/"}
        )
        return str(topic)

    topic = asyncio.run(subscribe())
    token = http.messages[0].fields["Token"]
    provider.close()
    reopened, _ = provider_with(tmp_path)
    confirmed = asyncio.run(
        reopened.subs.confirm_subscription(CTX, {"TopicArn": topic, "Token": token})
    )
    assert confirmed["SubscriptionArn"].startswith(topic + ":")
    reopened.close()
