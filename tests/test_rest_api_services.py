"""REST APIs' `AWS` integrations with services, with boto3 and raw HTTP against a live server:
SQS SendMessage from a form template, DynamoDB PutItem / Query with a `#foreach` response
template, EventBridge PutEvents reaching a rule's queue, an integration error answered through
the response its `selectionPattern` picks, bad templates answered 500, and a queue in another
account reached only through its queue policy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.test_rest_apis import apigw, call, make_api  # noqa: F401

ROLE = "arn:aws:iam::000000000000:role/apigateway-services"
FORM = {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}
SQS_TEMPLATE = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
SQS_REPLY = """#set($r = $input.path('$.SendMessageResponse.SendMessageResult'))
{"messageId": "$r.MessageId", "md5": "$r.MD5OfMessageBody", "request": "$context.requestId"}"""
ERROR_REPLY = """#set($e = $input.path('$.Error'))
{"error": "$e.Code", "why": "$util.escapeJavaScript($e.Message)"}"""


def _method(
    client: Any,
    api: dict[str, Any],
    part: str,
    *,
    http_method: str = "POST",
    uri: str,
    request_templates: dict[str, str],
    replies: dict[str, tuple[str | None, str]],
    parameters: dict[str, str] | None = None,
    role: str = ROLE,
    passthrough: str = "NEVER",
) -> None:
    """A resource `/part` whose method calls `uri`; `replies`: status -> (selection pattern,
    response template)."""
    resource = client.create_resource(restApiId=api["id"], parentId=api["rootResourceId"],
                                      pathPart=part)  # fmt: skip
    where = {"restApiId": api["id"], "resourceId": resource["id"], "httpMethod": http_method}
    client.put_method(**where, authorizationType="NONE")
    client.put_integration(
        **where,
        type="AWS",
        integrationHttpMethod="POST",
        uri=uri,
        credentials=role,
        requestParameters=parameters or {},
        requestTemplates=request_templates,
        passthroughBehavior=passthrough,
    )
    for status, (pattern, template) in replies.items():
        client.put_method_response(**where, statusCode=status)
        extra = {"selectionPattern": pattern} if pattern else {}
        client.put_integration_response(
            **where, statusCode=status, responseTemplates={"application/json": template}, **extra
        )


def _post(server: Server, api_id: str, path: str, body: Any) -> tuple[int, Any]:
    status, _, answer = call(
        server, api_id, path, method="POST", body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, answer


def test_sqs_send_message_with_templates_and_error_selection(
    server: Server,
    apigw: Any,  # noqa: F811
    make_api: Any,  # noqa: F811
) -> None:
    sqs = server.client("sqs")
    name = f"orders-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    api = make_api(name="to-sqs")
    replies = {"200": (None, SQS_REPLY), "400": ("4\\d{2}", ERROR_REPLY)}
    _method(apigw, api, "orders", uri=f"arn:aws:apigateway:us-east-1:sqs:path/000000000000/{name}",
            parameters=FORM, request_templates={"application/json": SQS_TEMPLATE},
            replies=replies)  # fmt: skip
    _method(apigw, api, "lost", uri="arn:aws:apigateway:us-east-1:sqs:path/000000000000/no-such-q",
            parameters=FORM, request_templates={"application/json": SQS_TEMPLATE},
            replies=replies)  # fmt: skip
    apigw.create_deployment(restApiId=api["id"], stageName="prod")

    order = {"id": "o-1", "note": "a & b = c+d"}
    status, answer = _post(server, api["id"], "/prod/orders", order)
    assert status == 200, answer
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert json.loads(message["Body"]) == order
    assert answer["messageId"] == message["MessageId"]
    assert answer["md5"] == message["MD5OfBody"] and answer["request"]

    status, answer = _post(server, api["id"], "/prod/lost", order)
    assert status == 400, answer
    assert answer["error"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_dynamodb_put_and_query_with_foreach(
    server: Server,
    apigw: Any,  # noqa: F811
    make_api: Any,  # noqa: F811
) -> None:
    dynamodb = server.client("dynamodb")
    table = f"pets-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"},
                   {"AttributeName": "name", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "owner", "AttributeType": "S"},
                              {"AttributeName": "name", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    dynamodb.get_waiter("table_exists").wait(TableName=table)
    api = make_api(name="to-dynamodb")
    put = """{
  "TableName": "$stageVariables.table",
  "Item": {
    "owner": {"S": "$input.path('$.owner')"},
    "name": {"S": "$util.escapeJavaScript($input.path('$.name'))"},
    "age": {"N": "$input.path('$.age')"}#if($input.path('$.tags').size() > 0),
    "tags": {"SS": [#foreach($t in $input.path('$.tags'))"$t"#if($foreach.hasNext),#end#end]}#end
  }
}"""
    query = """{
  "TableName": "$stageVariables.table",
  "KeyConditionExpression": "#o = :o",
  "ExpressionAttributeNames": {"#o": "owner"},
  "ExpressionAttributeValues": {":o": {"S": "$input.params('owner')"}}
}"""
    listing = """#set($items = $input.path('$').Items)
{
  "count": $items.size(),
  "pets": [
#foreach($item in $items)
    {"name": "$util.escapeJavaScript($item.name.S)", "age": $item.age.N, "tags": #if($item.tags)$item.tags.SS.size()#{else}0#end}#if($foreach.hasNext),#end

#end
  ]
}"""
    failed = "{\"failed\": \"$input.path('$.__type').split('#')[1]\"}"
    _method(apigw, api, "pets", uri="arn:aws:apigateway:us-east-1:dynamodb:action/PutItem",
            request_templates={"application/json": put},
            replies={"200": (None, '{"ok": true}'), "400": ("4\\d{2}", failed)})  # fmt: skip
    _method(apigw, api, "{owner}", http_method="GET",
            uri="arn:aws:apigateway:us-east-1:dynamodb:action/Query",
            request_templates={"application/json": query},
            replies={"200": (None, listing)})  # fmt: skip
    get = """{"TableName": "$stageVariables.table",
 "Key": {"owner": {"S": "$input.params('owner')"}, "name": {"S": "$input.params('name')"}}}"""
    found = """#set($item = $input.path('$.Item'))
#if("$!item" == "")
#set($context.responseOverride.status = 404)
#set($context.responseOverride.header.X-Found = "no")
{"error": "no pet $input.params('name')"}
#else
{"name": "$item.name.S", "age": $item.age.N}
#end"""
    _method(apigw, api, "pet", http_method="GET",
            uri="arn:aws:apigateway:us-east-1:dynamodb:action/GetItem",
            request_templates={"application/json": get},
            replies={"200": (None, found)})  # fmt: skip
    apigw.create_deployment(restApiId=api["id"], stageName="v1", variables={"table": table})

    for pet in ({"owner": "ann", "name": "Rex", "age": 3, "tags": ["good", "old"]},
                {"owner": "ann", "name": "Tom \"the cat\"", "age": 2, "tags": []},
                {"owner": "bob", "name": "Fin", "age": 1, "tags": []}):  # fmt: skip
        status, answer = _post(server, api["id"], "/v1/pets", pet)
        assert (status, answer) == (200, {"ok": True})
    stored = dynamodb.get_item(TableName=table, Key={"owner": {"S": "ann"}, "name": {"S": "Rex"}})
    assert stored["Item"]["tags"] == {"SS": ["good", "old"]}

    status, _, body = call(server, api["id"], "/v1/ann")
    assert status == 200, body
    assert json.loads(body) == {
        "count": 2,
        "pets": [
            {"name": "Rex", "age": 3, "tags": 2},
            {"name": 'Tom "the cat"', "age": 2, "tags": 0},
        ],
    }

    status, _, body = call(server, api["id"], "/v1/pet?owner=ann&name=Rex")
    assert (status, json.loads(body)) == (200, {"name": "Rex", "age": 3})
    status, headers, body = call(server, api["id"], "/v1/pet?owner=ann&name=Max")
    assert (status, json.loads(body)) == (404, {"error": "no pet Max"})
    assert {k.lower(): v for k, v in headers.items()}["x-found"] == "no"

    status, answer = _post(server, api["id"], "/v1/pets", {"owner": "", "name": "x", "age": 1,
                                                         "tags": []})  # fmt: skip
    assert status == 400 and answer == {"failed": "ValidationException"}, answer


def test_eventbridge_put_events_reaches_a_rules_queue(
    server: Server,
    apigw: Any,  # noqa: F811
    make_api: Any,  # noqa: F811
) -> None:
    sqs, events = server.client("sqs"), server.client("events")
    url = sqs.create_queue(QueueName=f"ev-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]  # fmt: skip
    source = f"shop-{uuid.uuid4().hex[:6]}"
    rule = events.put_rule(Name=source, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    events.put_targets(Rule=source, Targets=[{"Id": "q", "Arn": queue_arn}])
    policy = {"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
    }]}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    template = """{"Entries": [
#foreach($order in $input.path('$.orders'))
  {"Source": "SOURCE", "DetailType": "order placed", "EventBusName": "default",
   "Detail": "{\\"id\\": \\"$order.id\\", \\"n\\": $foreach.count}"}#if($foreach.hasNext),#end
#end
]}""".replace("SOURCE", source)
    reply = """{"failed": $input.path('$.FailedEntryCount'),
 "ids": [#foreach($e in $input.path('$.Entries'))"$e.EventId"#if($foreach.hasNext),#end#end]}"""
    api = make_api(name="to-events")
    _method(apigw, api, "orders", uri="arn:aws:apigateway:us-east-1:events:action/PutEvents",
            parameters={"integration.request.header.X-Amz-Target": "'AWSEvents.PutEvents'",
                        "integration.request.header.Content-Type":
                            "'application/x-amz-json-1.1'"},
            request_templates={"application/json": template},
            replies={"200": (None, reply)})  # fmt: skip
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, answer = _post(
        server, api["id"], "/prod/orders", {"orders": [{"id": "a"}, {"id": "b"}]}
    )
    assert status == 200, answer
    assert answer["failed"] == 0 and len(answer["ids"]) == 2 and all(answer["ids"])
    got: list[dict[str, Any]] = []
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2,
                                           MaxNumberOfMessages=10).get("Messages", []):  # fmt: skip
            got.append(json.loads(message["Body"]))
        if len(got) >= 2:
            break
    assert sorted((e["source"], e["detail"]["id"], e["detail"]["n"]) for e in got) == [
        (source, "a", 1),
        (source, "b", 2),
    ]


@pytest.mark.parametrize(
    "template",
    ["#foreach($x in $input.path('$'))", "#macro(m)x#end", "$input.path('$').nosuch()"],
)
def test_bad_templates_answer_500(
    server: Server,
    apigw: Any,  # noqa: F811
    make_api: Any,  # noqa: F811
    template: str,
) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    server.client("sqs").create_queue(QueueName=name)
    api = make_api(name="bad-template")
    _method(apigw, api, "x", uri=f"arn:aws:apigateway:us-east-1:sqs:path/000000000000/{name}",
            parameters=FORM, request_templates={"application/json": template},
            replies={"200": (None, "{}")})  # fmt: skip
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, answer = _post(server, api["id"], "/prod/x", {"a": 1})
    assert (status, answer) == (500, {"message": "Internal server error"})


def test_sqs_message_attributes_from_the_template(
    server: Server,
    apigw: Any,  # noqa: F811
    make_api: Any,  # noqa: F811
) -> None:
    sqs = server.client("sqs")
    name = f"attrs-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    template = (
        "Action=SendMessage&MessageBody=$util.urlEncode($input.json('$.order'))"
        "&MessageAttribute.1.Name=tenant"
        "&MessageAttribute.1.Value.StringValue=$util.urlEncode($input.params('X-Tenant'))"
        "&MessageAttribute.1.Value.DataType=String"
    )
    api = make_api(name="to-sqs-attributes")
    _method(apigw, api, "orders", uri=f"arn:aws:apigateway:us-east-1:sqs:path/000000000000/{name}",
            parameters=FORM, request_templates={"application/json": template},
            replies={"202": (None, '{"queued": true}')})  # fmt: skip
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, _, body = call(
        server, api["id"], "/prod/orders", method="POST",
        body=b'{"order": {"id": 7}}',
        headers={"Content-Type": "application/json", "X-Tenant": "acme & co"},
    )  # fmt: skip
    assert (status, json.loads(body)) == (202, {"queued": True})
    (message,) = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=5, MessageAttributeNames=["All"]
    )["Messages"]
    assert json.loads(message["Body"]) == {"id": 7}
    assert message["MessageAttributes"]["tenant"]["StringValue"] == "acme & co"


A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("rest-services-accounts"),
        env={"FIRESIDE_CREDENTIALS": credentials},
    ).start()
    yield server
    server.stop()


def test_another_accounts_queue_only_through_its_policy(two_accounts: Server) -> None:
    def client(account: str, service: str) -> Any:
        return two_accounts.client(
            service, aws_access_key_id=account, aws_secret_access_key=SECRETS[account]
        )

    sqs_b, apigw_a = client(B, "sqs"), client(A, "apigateway")
    url = sqs_b.create_queue(QueueName="inbox")["QueueUrl"]
    api = apigw_a.create_rest_api(name="a-to-b")
    replies = {"200": (None, SQS_REPLY), "400": ("4\\d{2}", ERROR_REPLY)}
    _method(apigw_a, api, "send", uri=f"arn:aws:apigateway:us-east-1:sqs:path/{B}/inbox",
            parameters=FORM, request_templates={"application/json": SQS_TEMPLATE},
            replies=replies, role=f"arn:aws:iam::{A}:role/apigateway-sqs")  # fmt: skip
    apigw_a.create_deployment(restApiId=api["id"], stageName="prod")

    status, answer = _post(two_accounts, api["id"], "/prod/send", {"n": 1})
    assert status == 400 and answer["error"] in ("AccessDenied", "AccessDeniedException"), answer
    assert "Messages" not in sqs_b.receive_message(QueueUrl=url, WaitTimeSeconds=0)

    arn = sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                             "Action": "sqs:SendMessage", "Resource": arn}]}  # fmt: skip
    sqs_b.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    status, answer = _post(two_accounts, api["id"], "/prod/send", {"n": 2})
    assert status == 200, answer
    (message,) = sqs_b.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert json.loads(message["Body"]) == {"n": 2}


def test_a_request_over_the_services_cap_is_refused(
    server: Server,
    apigw: Any,  # noqa: F811
    make_api: Any,  # noqa: F811
) -> None:
    api = make_api(name="too-big")
    _method(apigw, api, "events", uri="arn:aws:apigateway:us-east-1:events:action/PutEvents",
            request_templates={"application/json": "$input.body"},
            replies={"200": (None, "{}"), "413": ("4\\d{2}", '{"refused": true}')})  # fmt: skip
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, answer = _post(
        server, api["id"], "/prod/events", {"Entries": [], "pad": "x" * 3_000_000}
    )
    assert (status, answer) == (413, {"refused": True})


def test_sns_publish_from_request_parameters(
    server: Server,
    apigw: Any,  # noqa: F811
    make_api: Any,  # noqa: F811
) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                             "Action": "sqs:SendMessage", "Resource": arn,
                             "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    api = make_api(name="to-sns")
    reply = '{"id": "$input.path(\'$.PublishResponse.PublishResult.MessageId\')"}'
    _method(apigw, api, "alerts", uri="arn:aws:apigateway:us-east-1:sns:action/Publish",
            parameters={"integration.request.querystring.TopicArn": f"'{topic}'",
                        "integration.request.querystring.Message": "method.request.body"},
            request_templates={}, passthrough="WHEN_NO_TEMPLATES", replies={"200": (None, reply),
                                           "400": ("4\\d{2}", ERROR_REPLY)})  # fmt: skip
    _method(apigw, api, "templated", uri="arn:aws:apigateway:us-east-1:sns:action/Publish",
            parameters=FORM,
            request_templates={"application/json": f"TopicArn=$util.urlEncode('{topic}')"
                               "&Message=$util.urlEncode($input.path('$.text'))"
                               "&Subject=$util.urlEncode($input.path('$.subject'))"},
            replies={"200": (None, reply)})  # fmt: skip
    _method(apigw, api, "nowhere", uri="arn:aws:apigateway:us-east-1:sns:action/Publish",
            parameters={"integration.request.querystring.TopicArn": f"'{topic}-gone'",
                        "integration.request.querystring.Message": "'x'"},
            request_templates={}, passthrough="WHEN_NO_TEMPLATES", replies={"200": (None, reply),
                                           "400": ("4\\d{2}", ERROR_REPLY)})  # fmt: skip
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, answer = _post(server, api["id"], "/prod/alerts", {"level": "high"})
    assert status == 200 and answer["id"], answer
    status, answer = _post(server, api["id"], "/prod/templated", {"text": "a & b", "subject": "s"})
    assert status == 200 and answer["id"], answer
    bodies = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10)
        bodies += [m["Body"] for m in got.get("Messages", [])]
        if len(bodies) >= 2:
            break
    assert sorted(bodies) == sorted([json.dumps({"level": "high"}), "a & b"])
    status, answer = _post(server, api["id"], "/prod/nowhere", {})
    assert status == 400 and answer["error"] == "NotFound", answer
