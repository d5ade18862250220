"""`AWS::ElasticLoadBalancingV2::*` through a live server's CloudFormation: a stack with a
function, its permission, a Lambda target group, a load balancer, a listener and a rule,
answering HTTP on the listener's port; an update moves the rule; deleting the stack closes it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.alb_support import free_port
from tests.conftest import ROLE, Server

CODE = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"path": event["path"]})}
"""


def _template(port: int, rule_path: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Runtime": "python3.11",
                        "Handler": "index.handler",
                        "Role": ROLE,
                        "Code": {"ZipFile": CODE},
                    },
                },
                "Allow": {
                    "Type": "AWS::Lambda::Permission",
                    "Properties": {
                        "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                        "Action": "lambda:InvokeFunction",
                        "Principal": "elasticloadbalancing.amazonaws.com",
                    },
                },
                "Group": {
                    "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                    "DependsOn": "Allow",
                    "Properties": {
                        "TargetType": "lambda",
                        "Targets": [{"Id": {"Fn::GetAtt": ["Fn", "Arn"]}}],
                        "TargetGroupAttributes": [
                            {"Key": "lambda.multi_value_headers.enabled", "Value": False}
                        ],
                    },
                },
                "Balancer": {
                    "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "Properties": {},
                },
                "Http": {
                    "Type": "AWS::ElasticLoadBalancingV2::Listener",
                    "Properties": {
                        "LoadBalancerArn": {"Ref": "Balancer"},
                        "Port": port,
                        "Protocol": "HTTP",
                        "DefaultActions": [
                            {
                                "Type": "fixed-response",
                                "FixedResponseConfig": {
                                    "StatusCode": "404",
                                    "MessageBody": "no route",
                                },
                            }
                        ],
                    },
                },
                "Api": {
                    "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
                    "Properties": {
                        "ListenerArn": {"Ref": "Http"},
                        "Priority": 10,
                        "Conditions": [{"Field": "path-pattern", "Values": [rule_path]}],
                        "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Group"}}],
                    },
                },
            },
            "Outputs": {
                "Dns": {"Value": {"Fn::GetAtt": ["Balancer", "DNSName"]}},
                "FullName": {"Value": {"Fn::GetAtt": ["Group", "TargetGroupFullName"]}},
                "Rule": {"Value": {"Fn::GetAtt": ["Api", "RuleArn"]}},
            },
        }
    )


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def test_an_alb_stack_serves_and_goes(server: Server) -> None:
    cfn = server.client("cloudformation")
    elb = server.client("elbv2")
    stack = f"alb-{uuid.uuid4().hex[:8]}"
    port = free_port()
    waiter = {"Delay": 1, "MaxAttempts": 120}
    cfn.create_stack(StackName=stack, TemplateBody=_template(port, "/api/*"))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig=waiter)
    outputs = _outputs(cfn, stack)
    assert outputs["Dns"].endswith(".us-east-1.elb.localhost")
    assert outputs["FullName"].startswith("targetgroup/")
    assert httpx.get(f"http://127.0.0.1:{port}/api/x").json() == {"path": "/api/x"}
    assert httpx.get(f"http://127.0.0.1:{port}/other").text == "no route"

    cfn.update_stack(StackName=stack, TemplateBody=_template(port, "/v2/*"))
    cfn.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig=waiter)
    assert httpx.get(f"http://127.0.0.1:{port}/v2/y").json() == {"path": "/v2/y"}
    assert httpx.get(f"http://127.0.0.1:{port}/api/x").status_code == 404
    rule = elb.describe_rules(RuleArns=[outputs["Rule"]])["Rules"][0]
    assert rule["Conditions"][0]["Values"] == ["/v2/*"]

    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=waiter)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v2/y")
    assert all(
        not lb["LoadBalancerName"].startswith(stack)
        for lb in elb.describe_load_balancers()["LoadBalancers"]
    )
