"""SQS's query protocol (`Action=...` form posts, XML answers), as SDKs before 2024 send it.

The requests are built here, SigV4-signed with botocore's `SigV4Auth` for service `sqs`, with
the wire names of AWS's SQS API reference examples (`Attribute.1.Name`,
`SendMessageBatchRequestEntry.1.Id`, ...); the XML answers are read field by field against
the same examples. The json client (boto3 today) sees the same queues."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fireside.aws.model import load_description
from fireside.sqs.digests import attributes_md5
from fireside.sqs.query_names import query_description
from tests.conftest import Server

NS = "http://queue.amazonaws.com/doc/2012-11-05/"
Q = {"q": NS}


def call(
    server: Server,
    params: dict[str, str],
    *,
    path: str = "/",
    method: str = "POST",
    key: str = "test",
) -> tuple[int, ElementTree.Element]:
    """One signed query request; (status, parsed XML answer)."""
    form = urllib.parse.urlencode({"Version": "2012-11-05", **params})
    if method == "GET":
        request = AWSRequest(method="GET", url=f"{server.endpoint}{path}?{form}")
    else:
        request = AWSRequest(
            method="POST",
            url=f"{server.endpoint}{path}",
            data=form.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
    SigV4Auth(Credentials(key, "secret"), "sqs", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=request.body or None, headers=dict(request.headers), method=method
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            status, body = response.status, response.read()
            assert response.headers["Content-Type"] == "text/xml"
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, ElementTree.fromstring(body)


def text(root: ElementTree.Element, path: str) -> str:
    found = root.find(path, Q)
    assert found is not None, f"{path} not in {ElementTree.tostring(root).decode()}"
    return found.text or ""


def pairs(element: ElementTree.Element, tag: str, key: str, value: str) -> dict[str, str]:
    """`<Attribute><Name>..</Name><Value>..</Value></Attribute>`... as a dict."""
    return {
        text(entry, f"q:{key}"): text(entry, f"q:{value}")
        for entry in element.findall(f"q:{tag}", Q)
    }


def error(root: ElementTree.Element) -> tuple[str, str, str]:
    assert root.tag == f"{{{NS}}}ErrorResponse"
    assert text(root, "q:RequestId")
    return (
        text(root, "q:Error/q:Type"),
        text(root, "q:Error/q:Code"),
        text(root, "q:Error/q:Message"),
    )


def test_the_table_names_every_list_and_map_of_the_model() -> None:
    unnamed: list[str] = []
    description = query_description(load_description("sqs"), unnamed)
    assert unnamed == []
    shapes = description["shapes"]
    receive = shapes[shapes["ReceiveMessageResult"]["members"]["Messages"]["shape"]]
    assert receive["flattened"] and receive["member"]["locationName"] == "Message"
    entries = shapes["DeleteMessageBatchRequest"]["members"]["Entries"]["shape"]
    assert shapes[entries]["member"]["locationName"] == "DeleteMessageBatchRequestEntry"
    attributes = shapes["SetQueueAttributesRequest"]["members"]["Attributes"]
    assert attributes["locationName"] == "Attribute"
    assert shapes[attributes["shape"]]["key"]["locationName"] == "Name"
    assert description["operations"]["SendMessage"]["output"]["resultWrapper"] == (
        "SendMessageResult"
    )


@pytest.fixture()
def queue(server: Server) -> str:
    name = f"query-{uuid.uuid4().hex[:10]}"
    status, root = call(
        server,
        {
            "Action": "CreateQueue",
            "QueueName": name,
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "40",
            "Attribute.2.Name": "DelaySeconds",
            "Attribute.2.Value": "0",
            "Tag.1.Key": "team",
            "Tag.1.Value": "blue",
        },
    )
    assert status == 200
    assert root.tag == f"{{{NS}}}CreateQueueResponse"
    url = text(root, "q:CreateQueueResult/q:QueueUrl")
    assert url == f"{server.endpoint}/000000000000/{name}"
    assert text(root, "q:ResponseMetadata/q:RequestId")
    return url


def test_queue_attributes_tags_and_lists(server: Server, queue: str) -> None:
    status, root = call(
        server,
        {"Action": "GetQueueAttributes", "QueueUrl": queue, "AttributeName.1": "All"},
    )
    assert status == 200
    result = root.find("q:GetQueueAttributesResult", Q)
    assert result is not None
    attributes = pairs(result, "Attribute", "Name", "Value")
    assert attributes["VisibilityTimeout"] == "40"
    assert attributes["QueueArn"].endswith(":000000000000:" + queue.rsplit("/", 1)[1])
    # Two names, and SetQueueAttributes' flattened map.
    call(
        server,
        {
            "Action": "SetQueueAttributes",
            "QueueUrl": queue,
            "Attribute.1.Name": "MaximumMessageSize",
            "Attribute.1.Value": "2048",
        },
    )
    _, root = call(
        server,
        {
            "Action": "GetQueueAttributes",
            "QueueUrl": queue,
            "AttributeName.1": "MaximumMessageSize",
            "AttributeName.2": "VisibilityTimeout",
        },
    )
    result = root.find("q:GetQueueAttributesResult", Q)
    assert result is not None
    assert pairs(result, "Attribute", "Name", "Value") == {
        "MaximumMessageSize": "2048",
        "VisibilityTimeout": "40",
    }
    # Tags: `Tag.N.Key` in, `<Tag><Key>` out; `TagKey.N` to remove.
    call(server, {"Action": "TagQueue", "QueueUrl": queue, "Tag.1.Key": "x", "Tag.1.Value": "1"})
    call(server, {"Action": "UntagQueue", "QueueUrl": queue, "TagKey.1": "team"})
    _, root = call(server, {"Action": "ListQueueTags", "QueueUrl": queue})
    tags = root.find("q:ListQueueTagsResult", Q)
    assert tags is not None and pairs(tags, "Tag", "Key", "Value") == {"x": "1"}
    # ListQueues: one `<QueueUrl>` per queue, no wrapping element.
    prefix = queue.rsplit("/", 1)[1]
    _, root = call(server, {"Action": "ListQueues", "QueueNamePrefix": prefix})
    urls = [e.text for e in root.findall("q:ListQueuesResult/q:QueueUrl", Q)]
    assert urls == [queue]
    _, root = call(server, {"Action": "GetQueueUrl", "QueueName": prefix})
    assert text(root, "q:GetQueueUrlResult/q:QueueUrl") == queue
    # A GET with the pairs in its query string is the same call.
    status, root = call(server, {"Action": "GetQueueUrl", "QueueName": prefix}, method="GET")
    assert status == 200 and text(root, "q:GetQueueUrlResult/q:QueueUrl") == queue


def test_send_receive_delete_with_attributes(server: Server, queue: str) -> None:
    binary = b"\x00\x01bin"
    status, root = call(
        server,
        {
            "Action": "SendMessage",
            "QueueUrl": queue,
            "MessageBody": "hello & <world>",
            "MessageAttribute.1.Name": "city",
            "MessageAttribute.1.Value.StringValue": "Paris",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.2.Name": "blob",
            "MessageAttribute.2.Value.BinaryValue": base64.b64encode(binary).decode(),
            "MessageAttribute.2.Value.DataType": "Binary",
        },
    )
    assert status == 200
    sent = root.find("q:SendMessageResult", Q)
    assert sent is not None
    assert text(sent, "q:MD5OfMessageBody") == hashlib.md5(b"hello & <world>").hexdigest()
    assert text(sent, "q:MD5OfMessageAttributes") == attributes_md5(
        {
            "city": {"StringValue": "Paris", "DataType": "String"},
            "blob": {"BinaryValue": binary, "DataType": "Binary"},
        }
    )
    message_id = text(sent, "q:MessageId")
    # Posted to the queue's URL: the queue comes from the path.
    path = urllib.parse.urlsplit(queue).path
    status, root = call(
        server,
        {
            "Action": "ReceiveMessage",
            "AttributeName.1": "All",
            "MessageAttributeName.1": "All",
            "MaxNumberOfMessages": "5",
        },
        path=path,
    )
    assert status == 200
    messages = root.findall("q:ReceiveMessageResult/q:Message", Q)
    assert len(messages) == 1
    message = messages[0]
    assert text(message, "q:MessageId") == message_id
    assert text(message, "q:Body") == "hello & <world>"
    assert text(message, "q:MD5OfBody") == hashlib.md5(b"hello & <world>").hexdigest()
    system = pairs(message, "Attribute", "Name", "Value")
    assert system["ApproximateReceiveCount"] == "1" and "SentTimestamp" in system
    custom = {
        text(a, "q:Name"): (
            text(a, "q:Value/q:DataType"),
            a.findtext("q:Value/q:StringValue", None, Q),
            a.findtext("q:Value/q:BinaryValue", None, Q),
        )
        for a in message.findall("q:MessageAttribute", Q)
    }
    assert custom == {
        "city": ("String", "Paris", None),
        "blob": ("Binary", None, base64.b64encode(binary).decode()),
    }
    receipt = text(message, "q:ReceiptHandle")
    status, root = call(
        server,
        {"Action": "ChangeMessageVisibility", "ReceiptHandle": receipt, "VisibilityTimeout": "0"},
        path=path,
    )
    assert status == 200 and root.tag == f"{{{NS}}}ChangeMessageVisibilityResponse"
    status, root = call(
        server, {"Action": "DeleteMessage", "QueueUrl": queue, "ReceiptHandle": receipt}
    )
    assert status == 200 and root.tag == f"{{{NS}}}DeleteMessageResponse"
    _, root = call(server, {"Action": "ReceiveMessage", "QueueUrl": queue})
    assert root.findall("q:ReceiveMessageResult/q:Message", Q) == []


def test_batches_report_each_entry(server: Server, queue: str) -> None:
    status, root = call(
        server,
        {
            "Action": "SendMessageBatch",
            "QueueUrl": queue,
            "SendMessageBatchRequestEntry.1.Id": "ok",
            "SendMessageBatchRequestEntry.1.MessageBody": "one",
            "SendMessageBatchRequestEntry.2.Id": "late",
            "SendMessageBatchRequestEntry.2.MessageBody": "two",
            "SendMessageBatchRequestEntry.2.DelaySeconds": "901",
        },
    )
    assert status == 200
    result = root.find("q:SendMessageBatchResult", Q)
    assert result is not None
    done = result.findall("q:SendMessageBatchResultEntry", Q)
    assert [text(e, "q:Id") for e in done] == ["ok"]
    assert text(done[0], "q:MD5OfMessageBody") == hashlib.md5(b"one").hexdigest()
    failed = result.findall("q:BatchResultErrorEntry", Q)
    assert [(text(e, "q:Id"), text(e, "q:SenderFault"), text(e, "q:Code")) for e in failed] == [
        ("late", "true", "InvalidParameterValue")
    ]
    _, root = call(server, {"Action": "ReceiveMessage", "QueueUrl": queue})
    receipt = text(root, "q:ReceiveMessageResult/q:Message/q:ReceiptHandle")
    _, root = call(
        server,
        {
            "Action": "ChangeMessageVisibilityBatch",
            "QueueUrl": queue,
            "ChangeMessageVisibilityBatchRequestEntry.1.Id": "a",
            "ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle": receipt,
            "ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout": "60",
        },
    )
    entries = root.findall(
        "q:ChangeMessageVisibilityBatchResult/q:ChangeMessageVisibilityBatchResultEntry", Q
    )
    assert [text(e, "q:Id") for e in entries] == ["a"]
    _, root = call(
        server,
        {
            "Action": "DeleteMessageBatch",
            "QueueUrl": queue,
            "DeleteMessageBatchRequestEntry.1.Id": "a",
            "DeleteMessageBatchRequestEntry.1.ReceiptHandle": receipt,
            "DeleteMessageBatchRequestEntry.2.Id": "b",
            "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "garbage",
        },
    )
    result = root.find("q:DeleteMessageBatchResult", Q)
    assert result is not None
    assert [text(e, "q:Id") for e in result.findall("q:DeleteMessageBatchResultEntry", Q)] == ["a"]
    failed = result.findall("q:BatchResultErrorEntry", Q)
    assert [(text(e, "q:Id"), text(e, "q:Code")) for e in failed] == [
        ("b", "ReceiptHandleIsInvalid")
    ]


def test_errors_are_sqs_xml(server: Server, queue: str) -> None:
    status, root = call(server, {"Action": "GetQueueUrl", "QueueName": "no-such-queue-here"})
    assert status == 400
    assert error(root) == (
        "Sender",
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
    )
    status, root = call(server, {"Action": "CreateQueue"})
    assert status == 400
    assert error(root) == (
        "Sender",
        "MissingParameter",
        "The request must contain the parameter QueueName.",
    )
    status, root = call(
        server,
        {
            "Action": "SendMessageBatch",
            "QueueUrl": queue,
            **{f"SendMessageBatchRequestEntry.{n}.Id": f"e{n}" for n in range(1, 12)},
            **{f"SendMessageBatchRequestEntry.{n}.MessageBody": "x" for n in range(1, 12)},
        },
    )
    assert (status, error(root)[1]) == (
        400,
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    )
    status, root = call(server, {"Action": "NoSuchAction"})
    assert (status, error(root)[1]) == (400, "InvalidAction")


def test_permissions_and_dead_letter_lists(server: Server, queue: str) -> None:
    status, _ = call(
        server,
        {
            "Action": "AddPermission",
            "QueueUrl": queue,
            "Label": "friends",
            "AWSAccountId.1": "111111111111",
            "ActionName.1": "SendMessage",
            "ActionName.2": "ReceiveMessage",
        },
    )
    assert status == 200
    # The other account now sends over the query protocol too.
    status, root = call(
        server,
        {"Action": "SendMessage", "QueueUrl": queue, "MessageBody": "hi"},
        key="111111111111",
    )
    assert status == 200, ElementTree.tostring(root)
    status, root = call(server, {"Action": "PurgeQueue", "QueueUrl": queue}, key="111111111111")
    assert status == 403
    assert error(root) == ("Sender", "AccessDenied", f"Access to the resource {queue} is denied.")
    status, _ = call(server, {"Action": "RemovePermission", "QueueUrl": queue, "Label": "friends"})
    assert status == 200
    status, root = call(
        server,
        {"Action": "SendMessage", "QueueUrl": queue, "MessageBody": "hi"},
        key="111111111111",
    )
    assert status == 403
    # ListDeadLetterSourceQueues: `<QueueUrl>` elements.
    _, root = call(
        server, {"Action": "GetQueueAttributes", "QueueUrl": queue, "AttributeName.1": "QueueArn"}
    )
    arn = text(root, "q:GetQueueAttributesResult/q:Attribute/q:Value")
    name = f"query-src-{uuid.uuid4().hex[:8]}"
    policy = f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}'
    _, root = call(
        server,
        {
            "Action": "CreateQueue",
            "QueueName": name,
            "Attribute.1.Name": "RedrivePolicy",
            "Attribute.1.Value": policy,
        },
    )
    source = text(root, "q:CreateQueueResult/q:QueueUrl")
    _, root = call(server, {"Action": "ListDeadLetterSourceQueues", "QueueUrl": queue})
    found = [e.text for e in root.findall("q:ListDeadLetterSourceQueuesResult/q:QueueUrl", Q)]
    assert found == [source]


def test_json_and_query_clients_share_queues(server: Server, queue: str) -> None:
    sqs: Any = server.client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody="from json")
    _, root = call(server, {"Action": "ReceiveMessage", "QueueUrl": queue})
    assert text(root, "q:ReceiveMessageResult/q:Message/q:Body") == "from json"
