"""SQS in the query protocol, as SDKs from before 2024 send it: a boto3 client built from SQS's
last query model (the one Fireside reads those requests with) against the live server."""

from __future__ import annotations

import shutil
import urllib.parse
import urllib.request
import uuid
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from fireside.sqs.digests import attributes_md5
from tests.conftest import ROOT, Server


@pytest.fixture(scope="module")
def query_sqs(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    models = tmp_path_factory.mktemp("models")
    target = models / "sqs" / "2012-11-05"
    target.mkdir(parents=True)
    shutil.copy(ROOT / "fireside" / "sqs" / "query-model.json", target / "service-2.json")
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(models))
    client = boto3.Session(botocore_session=session).client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.meta.service_model.protocol == "query"
    return client


def test_query_protocol_round_trip(query_sqs: Any) -> None:
    name = f"query-{uuid.uuid4().hex[:10]}"
    url = query_sqs.create_queue(QueueName=name, tags={"team": "a"})["QueueUrl"]
    attributes = {
        "s": {"DataType": "String", "StringValue": "v"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    sent = query_sqs.send_message(QueueUrl=url, MessageBody="hi", MessageAttributes=attributes)
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    got = query_sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"][0]
    assert got["MessageAttributes"] == attributes
    assert got["Attributes"]["ApproximateReceiveCount"] == "1"
    batch = query_sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "1"},
            {"Id": "b", "MessageBody": "2", "DelaySeconds": 1000},
        ],
    )
    assert [e["Id"] for e in batch["Successful"]] == ["a"]
    assert batch["Failed"][0]["Code"] == "InvalidParameterValue"
    assert query_sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    assert url in query_sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    with pytest.raises(query_sqs.exceptions.QueueDoesNotExist) as caught:
        query_sqs.get_queue_url(QueueName=name + "-missing")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    query_sqs.delete_queue(QueueUrl=url)


def test_query_request_posted_to_the_queue_url(server: Server, sqs_url: str) -> None:
    # As the Java SDK v1 and others post: to the queue's URL, with no QueueUrl parameter.
    body = urllib.parse.urlencode(
        {"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "by path"}
    )
    signed = AWSRequest(
        method="POST",
        url=sqs_url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    SigV4Auth(Credentials("test", "test"), "sqs", "us-east-1").add_auth(signed)
    request = urllib.request.Request(
        sqs_url, data=body.encode(), headers=dict(signed.headers), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    assert "<SendMessageResponse" in text and "<MessageId>" in text
    got = server.client("sqs").receive_message(QueueUrl=sqs_url)["Messages"][0]
    assert got["Body"] == "by path"


@pytest.fixture()
def sqs_url(server: Server) -> Any:
    client = server.client("sqs")
    url = client.create_queue(QueueName=f"path-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    yield url
    client.delete_queue(QueueUrl=url)
