"""SNS HTTP/S subscriptions end to end, with boto3 against a live server: the confirmation
arrives signed and its SubscribeURL confirms unsigned, notifications verify against the
served certificate (with our verifier and a third-party one), raw delivery, SignatureVersion
2, a failing endpoint retried on its delivery policy then dead-lettered, and a message that
survives `kill -9`."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sns_message_validator import SNSMessageValidator

from tests.conftest import Server
from tests.sns_endpoint import Endpoint, Received
from tests.test_sns_signing import aws_verify


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()
    yield found
    found.close()


def by_type(endpoint: Endpoint, kind: str) -> list[Received]:
    return [r for r in endpoint.requests if r.headers.get("x-amz-sns-message-type") == kind]


def wait_for_type(endpoint: Endpoint, kind: str, count: int = 1) -> list[Received]:
    endpoint.wait_for(lambda requests: len(by_type(endpoint, kind)) >= count)
    return by_type(endpoint, kind)


def subscribe_confirmed(
    srv: Server, sns: Any, endpoint: Endpoint, topic_arn: str, **attributes: str
) -> str:
    """Subscribe `endpoint` and confirm it the way an endpoint does: GET the SubscribeURL
    (unsigned) from the signed SubscriptionConfirmation."""
    before = len(by_type(endpoint, "SubscriptionConfirmation"))
    answer = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="http",
        Endpoint=endpoint.url,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    assert answer["SubscriptionArn"].startswith(topic_arn + ":")
    request = wait_for_type(endpoint, "SubscriptionConfirmation", before + 1)[-1]
    assert "x-amz-sns-subscription-arn" not in request.headers
    document = json.loads(request.body)
    assert document["Type"] == "SubscriptionConfirmation"
    aws_verify(document)
    assert document["SubscribeURL"].startswith(srv.endpoint + "/?Action=ConfirmSubscription")
    with urllib.request.urlopen(document["SubscribeURL"], timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    assert f"<SubscriptionArn>{answer['SubscriptionArn']}</SubscriptionArn>" in text
    arn: str = answer["SubscriptionArn"]
    attributes_now = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes_now["PendingConfirmation"] == "false"
    return arn


def test_subscribe_confirm_publish_and_verify(server: Server, endpoint: Endpoint) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(Name="http-orders")["TopicArn"]
    subscription = subscribe_confirmed(server, sns, endpoint, topic)
    message_id = sns.publish(
        TopicArn=topic,
        Subject="greeting",
        Message="hello\nworld",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "red"}},
    )["MessageId"]
    [request] = wait_for_type(endpoint, "Notification")
    headers = request.headers
    assert headers["x-amz-sns-message-id"] == message_id
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-subscription-arn"] == subscription
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert headers["user-agent"] == "Amazon Simple Notification Service Agent"
    document = json.loads(request.body)
    assert (document["Message"], document["Subject"]) == ("hello\nworld", "greeting")
    assert document["SignatureVersion"] == "1"
    assert document["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
    assert list(document)[-5:] == [
        "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"
    ]  # fmt: skip
    aws_verify(document)
    validator = SNSMessageValidator(cert_url_regex=rf"^{server.endpoint}/_fireside/sns/")
    validator.validate_message(document)

    # Version 2 (SHA256withRSA) when the topic asks for it.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="second")
    second = json.loads(wait_for_type(endpoint, "Notification", 2)[-1].body)
    assert second["SignatureVersion"] == "2"
    aws_verify(second)

    # Raw delivery: the message itself, marked by a header.
    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="RawMessageDelivery", AttributeValue="true"
    )
    sns.publish(TopicArn=topic, Message="raw body")
    raw = wait_for_type(endpoint, "Notification", 3)[-1]
    assert raw.body == b"raw body"
    assert raw.headers["x-amz-sns-rawdelivery"] == "true"

    # Unsubscribing sends a signed UnsubscribeConfirmation (its link would restore it).
    sns.unsubscribe(SubscriptionArn=subscription)
    farewell = json.loads(wait_for_type(endpoint, "UnsubscribeConfirmation")[0].body)
    assert farewell["Type"] == "UnsubscribeConfirmation" and farewell["TopicArn"] == topic
    aws_verify(farewell)


def test_a_failing_endpoint_is_retried_then_dead_lettered(
    server: Server, endpoint: Endpoint
) -> None:
    endpoint.answer = lambda request: (
        500 if request.headers.get("x-amz-sns-message-type") == "Notification" else 200
    )
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name="http-failing")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="http-failing-dlq")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(grant)})
    policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1}}
    subscription = subscribe_confirmed(
        server,
        sns,
        endpoint,
        topic,
        DeliveryPolicy=json.dumps(policy),
        RedrivePolicy=json.dumps({"deadLetterTargetArn": queue_arn}),
    )
    sns.publish(TopicArn=topic, Message="undeliverable")
    attempts = wait_for_type(endpoint, "Notification", 3)
    assert attempts[2].at - attempts[0].at >= 1.8  # two retries 1 s apart
    got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20).get("Messages", [])
    assert len(got) == 1
    document = json.loads(got[0]["Body"])
    assert document["Message"] == "undeliverable"
    assert document["UnsubscribeURL"].endswith(subscription.split(":")[-1])
    aws_verify(document)
    assert len(by_type(endpoint, "Notification")) == 3  # no fourth attempt
    assert server.health()["sns_http_deliveries"]["dead_lettered"] >= 1


def test_a_published_message_survives_kill_9(
    fresh_server: Callable[..., Server], endpoint: Endpoint
) -> None:
    """The endpoint fails the first attempt; the server is killed (SIGKILL) while the retry
    waits; the restarted server delivers it. Credentials are required: the SubscribeURL and
    the certificate are still fetched unsigned."""
    failing = {"on": True}
    endpoint.answer = lambda request: (
        500
        if failing["on"] and request.headers.get("x-amz-sns-message-type") == "Notification"
        else 200
    )
    key = "111111111111"
    srv = fresh_server(FIRESIDE_CREDENTIALS=f"{key}:secret")
    sns = srv.client("sns", aws_access_key_id=key, aws_secret_access_key="secret")
    topic = sns.create_topic(Name="durable")["TopicArn"]
    subscribe_confirmed(
        srv,
        sns,
        endpoint,
        topic,
        DeliveryPolicy=json.dumps(
            {"healthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 2, "maxDelayTarget": 2}}
        ),
    )
    sns.publish(TopicArn=topic, Message="kept")
    wait_for_type(endpoint, "Notification", 1)
    srv.stop(signal.SIGKILL)
    failing["on"] = False
    again = fresh_server(srv.data_dir, FIRESIDE_CREDENTIALS=f"{key}:secret")
    delivered = wait_for_type(endpoint, "Notification", 2)
    document = json.loads(delivered[-1].body)
    assert document["Message"] == "kept"
    assert document["SigningCertURL"].startswith(again.endpoint)
    aws_verify(document)


def test_delivery_policies_outside_awss_limits_are_refused(
    server: Server, endpoint: Endpoint
) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(Name="http-limits")["TopicArn"]
    subscription = subscribe_confirmed(server, sns, endpoint, topic)
    too_fast = {"healthyRetryPolicy": {"minDelayTarget": 0, "maxDelayTarget": 5}}
    with pytest.raises(ClientError) as caught:
        sns.set_subscription_attributes(
            SubscriptionArn=subscription,
            AttributeName="DeliveryPolicy",
            AttributeValue=json.dumps(too_fast),
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameter"
    assert "minDelayTarget" in error["Message"]
    too_long = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 100, "minDelayTarget": 60,
                                                        "maxDelayTarget": 60}}}  # fmt: skip
    with pytest.raises(ClientError) as caught:
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(too_long)
        )
    assert "3600" in caught.value.response["Error"]["Message"]
    fine = {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 30, "numRetries": 10,
                                   "backoffFunction": "geometric"},
            "throttlePolicy": {"maxReceivesPerSecond": 5}}  # fmt: skip
    sns.set_subscription_attributes(
        SubscriptionArn=subscription,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps(fine),
    )
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert json.loads(attributes["DeliveryPolicy"]) == fine
