"""EC2 networking through a live server's CloudFormation: a stack shaped like what CDK's
`ec2.Vpc` emits (two zones from `Fn::GetAZs`, a public and a private subnet in each, an
internet gateway, a NAT gateway per zone with its Elastic IP, routes), security groups with
inline and standalone rules, and an Application Load Balancer in the public subnets serving a
Lambda target over HTTP. Deleting the stack removes every record."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.alb_support import free_port
from tests.conftest import ROLE, Server

CODE = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"path": event["path"]})}
"""


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _att(name: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, attribute]}


def _vpc_resources(stack_tag: str) -> dict[str, Any]:
    """The resources CDK's `new ec2.Vpc(this, "Vpc", {maxAzs: 2})` synthesizes (trimmed of
    metadata), with its CIDR split into /18s as CDK splits it."""
    resources: dict[str, Any] = {
        "Vpc": {
            "Type": "AWS::EC2::VPC",
            "Properties": {
                "CidrBlock": "10.0.0.0/16",
                "EnableDnsHostnames": True,
                "EnableDnsSupport": True,
                "InstanceTenancy": "default",
                "Tags": [{"Key": "Name", "Value": stack_tag}],
            },
        },
        "VpcIGW": {
            "Type": "AWS::EC2::InternetGateway",
            "Properties": {"Tags": [{"Key": "Name", "Value": stack_tag}]},
        },
        "VpcVPCGW": {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": _ref("Vpc"), "InternetGatewayId": _ref("VpcIGW")},
        },
    }
    for index in (1, 2):
        zone = {"Fn::Select": [index - 1, {"Fn::GetAZs": ""}]}
        public, private = f"VpcPublicSubnet{index}", f"VpcPrivateSubnet{index}"
        resources.update(
            {
                f"{public}Subnet": {
                    "Type": "AWS::EC2::Subnet",
                    "Properties": {
                        "VpcId": _ref("Vpc"),
                        "AvailabilityZone": zone,
                        "CidrBlock": f"10.0.{(index - 1) * 64}.0/18",
                        "MapPublicIpOnLaunch": True,
                        "Tags": [
                            {"Key": "aws-cdk:subnet-name", "Value": "Public"},
                            {"Key": "aws-cdk:subnet-type", "Value": "Public"},
                        ],
                    },
                },
                f"{public}RouteTable": {
                    "Type": "AWS::EC2::RouteTable",
                    "Properties": {"VpcId": _ref("Vpc")},
                },
                f"{public}RouteTableAssociation": {
                    "Type": "AWS::EC2::SubnetRouteTableAssociation",
                    "Properties": {
                        "RouteTableId": _ref(f"{public}RouteTable"),
                        "SubnetId": _ref(f"{public}Subnet"),
                    },
                },
                f"{public}DefaultRoute": {
                    "Type": "AWS::EC2::Route",
                    "Properties": {
                        "RouteTableId": _ref(f"{public}RouteTable"),
                        "DestinationCidrBlock": "0.0.0.0/0",
                        "GatewayId": _ref("VpcIGW"),
                    },
                    "DependsOn": ["VpcVPCGW"],
                },
                f"{public}EIP": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
                f"{public}NATGateway": {
                    "Type": "AWS::EC2::NatGateway",
                    "Properties": {
                        "SubnetId": _ref(f"{public}Subnet"),
                        "AllocationId": _att(f"{public}EIP", "AllocationId"),
                    },
                    "DependsOn": [f"{public}DefaultRoute", f"{public}RouteTableAssociation"],
                },
                f"{private}Subnet": {
                    "Type": "AWS::EC2::Subnet",
                    "Properties": {
                        "VpcId": _ref("Vpc"),
                        "AvailabilityZone": zone,
                        "CidrBlock": f"10.0.{128 + (index - 1) * 64}.0/18",
                        "MapPublicIpOnLaunch": False,
                    },
                },
                f"{private}RouteTable": {
                    "Type": "AWS::EC2::RouteTable",
                    "Properties": {"VpcId": _ref("Vpc")},
                },
                f"{private}RouteTableAssociation": {
                    "Type": "AWS::EC2::SubnetRouteTableAssociation",
                    "Properties": {
                        "RouteTableId": _ref(f"{private}RouteTable"),
                        "SubnetId": _ref(f"{private}Subnet"),
                    },
                },
                f"{private}DefaultRoute": {
                    "Type": "AWS::EC2::Route",
                    "Properties": {
                        "RouteTableId": _ref(f"{private}RouteTable"),
                        "DestinationCidrBlock": "0.0.0.0/0",
                        "NatGatewayId": _ref(f"{public}NATGateway"),
                    },
                },
            }
        )
    return resources


def _template(stack_tag: str, port: int, open_port: int = 80) -> str:
    resources = _vpc_resources(stack_tag)
    resources.update(
        {
            "LbSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "ALB",
                    "VpcId": _ref("Vpc"),
                    "SecurityGroupIngress": [
                        {
                            "CidrIp": "0.0.0.0/0",
                            "Description": f"Allow from anyone on port {open_port}",
                            "FromPort": open_port,
                            "IpProtocol": "tcp",
                            "ToPort": open_port,
                        }
                    ],
                    # CDK's `allowAllOutbound: false`
                    "SecurityGroupEgress": [
                        {
                            "CidrIp": "255.255.255.255/32",
                            "Description": "Disallow all traffic",
                            "FromPort": 252,
                            "IpProtocol": "icmp",
                            "ToPort": 86,
                        }
                    ],
                },
            },
            "AppSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": "app", "VpcId": _ref("Vpc")},
            },
            "AppFromLb": {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {
                    "GroupId": _att("AppSecurityGroup", "GroupId"),
                    "IpProtocol": "tcp",
                    "FromPort": 8080,
                    "ToPort": 8080,
                    "SourceSecurityGroupId": _att("LbSecurityGroup", "GroupId"),
                },
            },
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
                    "FunctionName": _att("Fn", "Arn"),
                    "Action": "lambda:InvokeFunction",
                    "Principal": "elasticloadbalancing.amazonaws.com",
                },
            },
            "Group": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "DependsOn": "Allow",
                "Properties": {"TargetType": "lambda", "Targets": [{"Id": _att("Fn", "Arn")}]},
            },
            "Balancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {
                    "Scheme": "internet-facing",
                    "Type": "application",
                    "Subnets": [_ref("VpcPublicSubnet1Subnet"), _ref("VpcPublicSubnet2Subnet")],
                    "SecurityGroups": [_att("LbSecurityGroup", "GroupId")],
                },
                "DependsOn": ["VpcPublicSubnet1DefaultRoute", "VpcPublicSubnet2DefaultRoute"],
            },
            "Http": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": _ref("Balancer"),
                    "Port": port,
                    "Protocol": "HTTP",
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": _ref("Group")}],
                },
            },
        }
    )
    outputs = {
        "VpcId": {"Value": _ref("Vpc")},
        "VpcCidr": {"Value": _att("Vpc", "CidrBlock")},
        "DefaultSg": {"Value": _att("Vpc", "DefaultSecurityGroup")},
        "Zone1": {"Value": _att("VpcPublicSubnet1Subnet", "AvailabilityZone")},
        "Zone2": {"Value": _att("VpcPrivateSubnet2Subnet", "AvailabilityZone")},
        "Eip": {"Value": _ref("VpcPublicSubnet1EIP")},
        "LbGroup": {"Value": _att("LbSecurityGroup", "GroupId")},
        "Balancer": {"Value": _ref("Balancer")},
    }
    return json.dumps({"Resources": resources, "Outputs": outputs})


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def test_a_cdk_shaped_vpc_with_an_alb_serves_and_goes(server: Server) -> None:
    cfn = server.client("cloudformation")
    ec2 = server.client("ec2")
    elb = server.client("elbv2")
    stack = f"vpc-{uuid.uuid4().hex[:8]}"
    port = free_port()
    waiter = {"Delay": 1, "MaxAttempts": 180}
    cfn.create_stack(StackName=stack, TemplateBody=_template(stack, port))
    try:
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig=waiter)
    except Exception:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        reasons = [e.get("ResourceStatusReason") for e in events if "FAILED" in e["ResourceStatus"]]
        raise AssertionError(reasons) from None
    outputs = _outputs(cfn, stack)
    vpc_id = outputs["VpcId"]
    assert outputs["VpcCidr"] == "10.0.0.0/16"
    assert (outputs["Zone1"], outputs["Zone2"]) == ("us-east-1a", "us-east-1b")
    assert outputs["DefaultSg"].startswith("sg-")

    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = ec2.describe_subnets(Filters=by_vpc)["Subnets"]
    assert sorted(s["CidrBlock"] for s in subnets) == [
        "10.0.0.0/18",
        "10.0.128.0/18",
        "10.0.192.0/18",
        "10.0.64.0/18",
    ]
    public = {s["SubnetId"] for s in subnets if s["MapPublicIpOnLaunch"]}
    assert len(public) == 2
    nats = ec2.describe_nat_gateways(Filter=by_vpc)["NatGateways"]
    assert len(nats) == 2 and {n["State"] for n in nats} == {"available"}
    assert outputs["Eip"] in {n["NatGatewayAddresses"][0]["PublicIp"] for n in nats}
    tables = ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]
    defaults = [r for t in tables for r in t["Routes"] if r["DestinationCidrBlock"] == "0.0.0.0/0"]
    assert sorted("GatewayId" in r for r in defaults) == [False, False, True, True]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert {"Key": "Name", "Value": stack} in vpc["Tags"]
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"
    ] == {"Value": True}
    lb_group = ec2.describe_security_groups(GroupIds=[outputs["LbGroup"]])["SecurityGroups"][0]
    assert [p["IpRanges"][0]["CidrIp"] for p in lb_group["IpPermissionsEgress"]] == [
        "255.255.255.255/32"
    ]
    rules = ec2.describe_security_group_rules()["SecurityGroupRules"]
    assert any(r.get("ReferencedGroupInfo", {}).get("GroupId") == outputs["LbGroup"] for r in rules)

    balancer = elb.describe_load_balancers(LoadBalancerArns=[outputs["Balancer"]])
    lb = balancer["LoadBalancers"][0]
    assert lb["VpcId"] == vpc_id
    assert {z["SubnetId"] for z in lb["AvailabilityZones"]} == public
    assert lb["SecurityGroups"] == [outputs["LbGroup"]]
    assert httpx.get(f"http://127.0.0.1:{port}/hello", timeout=60).json() == {"path": "/hello"}

    # an update changes the group's rules and the VPC's tag in place
    cfn.update_stack(StackName=stack, TemplateBody=_template(f"{stack}-v2", port, open_port=8080))
    cfn.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig=waiter)
    assert _outputs(cfn, stack)["VpcId"] == vpc_id
    lb_group = ec2.describe_security_groups(GroupIds=[outputs["LbGroup"]])["SecurityGroups"][0]
    assert [(p["FromPort"], p["ToPort"]) for p in lb_group["IpPermissions"]] == [(8080, 8080)]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert {"Key": "Name", "Value": f"{stack}-v2"} in vpc["Tags"]

    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=waiter)
    assert ec2.describe_vpcs(Filters=by_vpc)["Vpcs"] == []
    assert ec2.describe_subnets(Filters=by_vpc)["Subnets"] == []
    assert outputs["Eip"] not in {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}
