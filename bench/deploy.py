"""Benchmark: deploying stacks with CloudFormation.

Starts its own Fireside (random port, temporary data dir) and measures, with boto3 polling
DescribeStacks every 5 ms (not botocore's waiters, whose delays are seconds):

- a 20-resource serverless stack (a role, a table, a queue, a topic, a log group, three
  functions with their permissions, an HTTP API with a stage and three integrations and
  routes, and a queue -> function event-source mapping): first deploy, a code-only update
  (one function's inline code), and delete;
- the same stack as 5 stacks deployed at once (wall time until all are CREATE_COMPLETE);
- a 2-resource stack (a queue and a topic), created `--small` times, beside LocalStack's
  CloudFormation in the same run (`bench/localstack.py`; `--no-localstack` to skip it).

Targets (issue 16): a first deploy under 5 s, a code-only update under 2 s, and the small
stack faster than LocalStack's. Prints a table and writes JSON
(default bench/results/deploy.json).
Usage: python bench/deploy.py [--small 5] [--no-localstack] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import ROOT, log, start_server
from localstack import start_localstack, stop

TARGET_CREATE_S = 5.0
TARGET_UPDATE_S = 2.0
HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': '%s'}\n"
SETTLED = ("_COMPLETE", "_FAILED")


def _function(name: str, body: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.11",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": HANDLER % body},
            "Environment": {"Variables": {"TABLE": {"Ref": "Table"}, "NAME": name}},
        },
    }


def serverless_stack(version: str = "v1") -> dict[str, Any]:
    """20 resources, as a small serverless app has them."""
    resources: dict[str, Any] = {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                ],
            },
        },
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "bench", "ProtocolType": "HTTP"}},
        "Stage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "$default", "AutoDeploy": True},
        },
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                "FunctionName": {"Ref": "Fn1"},
                "BatchSize": 10,
            },
        },
    }  # fmt: skip
    for n in (1, 2, 3):
        resources[f"Fn{n}"] = _function(f"fn{n}", version if n == 1 else "v1")
        resources[f"Allow{n}"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": {"Ref": f"Fn{n}"},
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*"},
            },
        }  # fmt: skip
        resources[f"Integration{n}"] = {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": {"Fn::GetAtt": [f"Fn{n}", "Arn"]},
                "PayloadFormatVersion": "2.0",
            },
        }
        resources[f"Route{n}"] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "RouteKey": f"GET /fn{n}",
                "Target": {"Fn::Sub": f"integrations/${{Integration{n}}}"},
            },
        }
    assert len(resources) == 20, len(resources)
    return {"Resources": resources, "Outputs": {"Url": {"Value": {"Fn::GetAtt": ["Api", "ApiEndpoint"]}}}}  # fmt: skip


SMALL_STACK = {
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Topic": {"Type": "AWS::SNS::Topic"}}
}


def cfn(port: int) -> Any:
    return boto3.client(
        "cloudformation", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=20),
    )  # fmt: skip


def settle(client: Any, name: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status: str = client.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except client.exceptions.ClientError as error:
            if "does not exist" in str(error):
                return "DELETE_COMPLETE"
            raise
        if status.endswith(SETTLED):
            return status
        time.sleep(0.005)
    raise RuntimeError(f"{name} did not settle in {timeout} s")


def timed(client: Any, name: str, action: Any, expect: str) -> float:
    started = time.perf_counter()
    action()
    status = settle(client, name)
    elapsed = time.perf_counter() - started
    if status != expect:
        events = client.describe_stack_events(StackName=name)["StackEvents"][:8]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events]
        raise RuntimeError(f"{name}: {status}, not {expect}: {reasons}")
    return elapsed


def create(client: Any, name: str, template: dict[str, Any]) -> float:
    return timed(
        client,
        name,
        lambda: client.create_stack(
            StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
        ),
        "CREATE_COMPLETE",
    )


def small_stacks(port: int, count: int, prefix: str) -> list[float]:
    client = cfn(port)
    times = [create(client, f"{prefix}{n}", SMALL_STACK) for n in range(count)]
    for n in range(count):
        client.delete_stack(StackName=f"{prefix}{n}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--no-localstack", action="store_true")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "deploy.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data)
        try:
            client = cfn(port)
            log("20-resource stack: create, code-only update, delete...")
            results["create 20 resources s"] = create(client, "app", serverless_stack())
            results["code-only update s"] = timed(
                client,
                "app",
                lambda: client.update_stack(
                    StackName="app",
                    TemplateBody=json.dumps(serverless_stack("v2")),
                    Capabilities=["CAPABILITY_IAM"],
                ),
                "UPDATE_COMPLETE",
            )
            results["delete 20 resources s"] = timed(
                client, "app", lambda: client.delete_stack(StackName="app"), "DELETE_COMPLETE"
            )
            log("5 stacks of 20 resources at once...")
            started = time.perf_counter()
            with ThreadPoolExecutor(5) as pool:
                list(
                    pool.map(lambda n: create(cfn(port), f"many{n}", serverless_stack()), range(5))
                )
            results["5 stacks at once s"] = time.perf_counter() - started
            log(f"2-resource stack x{args.small}...")
            results["small stack s (median)"] = statistics.median(
                small_stacks(port, args.small, "small")
            )
        finally:
            process.terminate()
            process.wait(30)
    if not args.no_localstack:
        with tempfile.TemporaryDirectory() as workdir:
            log("LocalStack: 2-resource stack...")
            localstack, port = start_localstack(Path(workdir), "sqs,sns,cloudformation")
            try:
                small_stacks(port, 1, "warm")  # its first stack loads the services
                results["LocalStack small stack s (median)"] = statistics.median(
                    small_stacks(port, args.small, "small")
                )
            finally:
                stop(localstack)
    rows = [
        ("create 20 resources s", TARGET_CREATE_S),
        ("code-only update s", TARGET_UPDATE_S),
        ("delete 20 resources s", None),
        ("5 stacks at once s", None),
        ("small stack s (median)", results.get("LocalStack small stack s (median)")),
    ]
    print(f"{'measure':<28} {'seconds':>8}  target")
    for name, target in rows:
        value = results[name]
        verdict = "" if target is None else ("met" if value < target else "NOT met")
        shown = "" if target is None else f"< {target:.3f} s {verdict}"
        print(f"{name:<28} {value:>8.3f}  {shown}")
    theirs = results.get("LocalStack small stack s (median)")
    if theirs is not None:
        ratio = theirs / results["small stack s (median)"]
        results["small stack speed-up vs LocalStack"] = ratio
        print(f"{'LocalStack small stack s':<28} {theirs:>8.3f}  (Fireside {ratio:.1f}x faster)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
