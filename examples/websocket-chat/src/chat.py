"""The chat room's functions: one module, four handlers (as AWS's simple-websockets-chat-app).

`send_message` reaches @connections at the endpoint AWS's documentation has functions build from
the event (`https://<domainName>/<stage>`); on Fireside that host name reaches Fireside itself.
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE"])
PAGE = (Path(__file__).parent / "page.html").read_text()


def on_connect(event, context):
    context_ = event["requestContext"]
    name = (event.get("queryStringParameters") or {}).get("name", "anonymous")
    TABLE.put_item(Item={"connectionId": context_["connectionId"], "name": name})
    return {"statusCode": 200}


def on_disconnect(event, context):
    TABLE.delete_item(Key={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}


def send_message(event, context):
    context_ = event["requestContext"]
    sender = context_["connectionId"]
    text = json.loads(event["body"]).get("data", "")
    me = TABLE.get_item(Key={"connectionId": sender}).get("Item", {})
    message = json.dumps({"from": me.get("name", "anonymous"), "text": text}).encode()
    api = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{context_['domainName']}/{context_['stage']}",
    )
    ids = [item["connectionId"] for item in _scan()]

    def post(connection_id):
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=message)
        except api.exceptions.GoneException:
            TABLE.delete_item(Key={"connectionId": connection_id})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(post, ids))
    return {"statusCode": 200}


def _scan():
    page = TABLE.scan(ProjectionExpression="connectionId")
    yield from page["Items"]
    while "LastEvaluatedKey" in page:
        page = TABLE.scan(
            ProjectionExpression="connectionId", ExclusiveStartKey=page["LastEvaluatedKey"]
        )
        yield from page["Items"]


def page(event, context):
    """The chat page, pointed at the API: on Fireside (a `*.localhost` host) the API's local
    name on the same port; on AWS, its `wss://` endpoint."""
    host = event["headers"].get("host", "")
    api, stage = os.environ["API_ID"], os.environ["STAGE"]
    region = os.environ.get("AWS_REGION", "us-east-1")
    if host.split(":")[0].endswith(".localhost"):
        port = host.rpartition(":")[2] if ":" in host else "80"
        socket_url = f"ws://{api}.execute-api.localhost:{port}/{stage}"
    else:
        socket_url = f"wss://{api}.execute-api.{region}.amazonaws.com/{stage}"
    return {
        "statusCode": 200,
        "headers": {"content-type": "text/html; charset=utf-8"},
        "body": PAGE.replace("__SOCKET_URL__", json.dumps(socket_url)),
    }
