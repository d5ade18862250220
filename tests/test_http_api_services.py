"""HTTP APIs' first-class AWS service integrations, with boto3 and raw HTTP against a live
server: SQS-SendMessage / ReceiveMessage / DeleteMessage and EventBridge-PutEvents with
request parameter mapping, and the checks on creating them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.test_http_api_door import request, v2  # noqa: F401

ROLE = "arn:aws:iam::000000000000:role/apigateway-sqs"


def _route(client: Any, api_id: str, key: str, subtype: str, mapped: dict[str, str]) -> None:
    integration = client.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationSubtype=subtype,
        PayloadFormatVersion="1.0",
        CredentialsArn=ROLE,
        RequestParameters=mapped,
    )["IntegrationId"]
    client.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")


def test_a_route_sends_receives_and_deletes_messages(
    server: Server,
    v2: Any,  # noqa: F811
) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=f"api-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    api_id = v2.create_api(Name="queue-api", ProtocolType="HTTP")["ApiId"]
    _route(
        v2,
        api_id,
        "POST /orders",
        "SQS-SendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "$request.body",
            "MessageAttributes": json.dumps(
                {"Source": {"DataType": "String", "StringValue": "${request.header.x-source}"}}
            ),
        },
    )
    _route(
        v2,
        api_id,
        "GET /orders",
        "SQS-ReceiveMessage",
        {"QueueUrl": url, "MaxNumberOfMessages": "$request.querystring.max"},
    )
    _route(
        v2,
        api_id,
        "DELETE /orders",
        "SQS-DeleteMessage",
        {"QueueUrl": url, "ReceiptHandle": "$request.header.receipt"},
    )
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

    status, _, body = request(
        server, api_id, "POST", "/orders", body=b'{"id": 7}', headers={"x-source": "web"}
    )
    assert status == 200, body
    assert b"MessageId" in body  # SQS's own answer
    status, _, body = request(server, api_id, "GET", "/orders?max=5")
    assert status == 200, body
    received = json.loads(body)["Messages"]
    assert [m["Body"] for m in received] == ['{"id": 7}']
    status, _, body = request(
        server, api_id, "DELETE", "/orders", headers={"receipt": received[0]["ReceiptHandle"]}
    )
    assert status == 200, body
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
    ) == ("0", "0")
    # The service's errors come back as the service answers them.
    status, _, body = request(server, api_id, "DELETE", "/orders", headers={"receipt": "bogus"})
    assert status == 400 and b"ReceiptHandleIsInvalid" in body


def test_a_route_puts_events(server: Server, v2: Any) -> None:  # noqa: F811
    sqs, events = server.client("sqs"), server.client("events")
    url = sqs.create_queue(QueueName=f"ev-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = f"shop-{uuid.uuid4().hex[:6]}"
    rule = events.put_rule(Name=source, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    events.put_targets(Rule=source, Targets=[{"Id": "q", "Arn": queue_arn}])
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
            }
        ]
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    api_id = v2.create_api(Name="events-api", ProtocolType="HTTP")["ApiId"]
    _route(
        v2,
        api_id,
        "POST /events",
        "EventBridge-PutEvents",
        {"Detail": "$request.body", "DetailType": "order placed", "Source": source},
    )
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, _, body = request(server, api_id, "POST", "/events", body=b'{"total": 5}')
    assert status == 200, body
    answer = json.loads(body)
    assert answer["FailedEntryCount"] == 0 and answer["Entries"][0]["EventId"]
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"], event["detail"]) == (
        source,
        "order placed",
        {"total": 5},
    )


def test_bad_service_integrations_are_refused(v2: Any) -> None:  # noqa: F811
    api_id = v2.create_api(Name="bad", ProtocolType="HTTP")["ApiId"]

    def refused(subtype: str, mapped: dict[str, str], version: str = "1.0") -> str:
        with pytest.raises(ClientError) as caught:
            v2.create_integration(
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationSubtype=subtype,
                PayloadFormatVersion=version,
                CredentialsArn=ROLE,
                RequestParameters=mapped,
            )
        error = caught.value.response["Error"]
        assert error["Code"] == "BadRequestException"
        return str(error["Message"])

    assert "MessageBody is required" in refused("SQS-SendMessage", {"QueueUrl": "q"})
    assert "not supported" in refused("SQS-PurgeQueue", {"QueueUrl": "q", "MessageBody": "x"})
    assert "Invalid integration subtype" in refused("SQS-Teleport", {})
    assert "Fireside does not support" in refused("Kinesis-PutRecord", {"StreamName": "s"})
    assert "1.0" in refused("SQS-SendMessage", {"QueueUrl": "q", "MessageBody": "b"}, version="2.0")
