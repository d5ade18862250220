"""Helpers shared by the ALB tests: a target function, free ports, an ALB in front of it."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from typing import Any

from tests.conftest import ROLE, Server, python_zip

#: A function whose answer the request chooses by path: an echo of the event by default.
TARGET = """
import base64, json

def handler(event, context):
    path = event.get("path", "")
    if path.startswith("/malformed"):
        return ["not", "an", "object"]
    if path.startswith("/nostatus"):
        return {"body": "no status"}
    if path.startswith("/sleep"):
        import time
        time.sleep(3)
    if path.startswith("/fail"):
        raise RuntimeError("boom")
    if path.startswith("/huge"):
        return {"statusCode": 200, "body": "x" * (1024 * 1024 + 10)}
    if path.startswith("/binary"):
        return {"statusCode": 200, "isBase64Encoded": True,
                "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode()}
    if path.startswith("/teapot"):
        return {"statusCode": 418, "statusDescription": "418 Short And Stout",
                "headers": {"x-kind": "teapot"}, "body": "tea"}
    if path.startswith("/multi"):
        return {"statusCode": 200, "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
                "body": json.dumps(event)}
    if path.startswith("/health"):
        return {"statusCode": int(event.get("queryStringParameters", {}).get("code", "200"))}
    return {"statusCode": 200, "statusDescription": "200 OK",
            "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Alb:
    elb: Any
    lam: Any
    function_arn: str
    lb_arn: str
    group_arn: str
    listener_arn: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def make_function(server: Server, source: str = TARGET, **client: Any) -> str:
    lam = server.client("lambda", **client)
    name = f"alb-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(source)},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    arn: str = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn


def lambda_group(server: Server, function_arn: str, **client: Any) -> str:
    """A lambda target group with `function_arn` registered (its permission granted)."""
    elb = server.client("elbv2", **client)
    lam = server.client("lambda", **client)
    group = elb.create_target_group(Name=f"tg-{uuid.uuid4().hex[:8]}", TargetType="lambda")
    arn: str = group["TargetGroups"][0]["TargetGroupArn"]
    lam.add_permission(
        FunctionName=function_arn,
        StatementId=f"elb-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=arn,
    )
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": function_arn}])
    return arn


def make_alb(server: Server, function_arn: str | None = None, **client: Any) -> Alb:
    """An ALB whose HTTP listener forwards everything to a Lambda target group."""
    elb = server.client("elbv2", **client)
    lam = server.client("lambda", **client)
    function_arn = function_arn or make_function(server, **client)
    group = lambda_group(server, function_arn, **client)
    lb = elb.create_load_balancer(Name=f"lb-{uuid.uuid4().hex[:8]}")["LoadBalancers"][0]
    port = free_port()
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )["Listeners"][0]
    return Alb(elb, lam, function_arn, lb["LoadBalancerArn"], group, listener["ListenerArn"], port)
