"""The ec2 wire layer against botocore's own serializer and parser.

Requests built by botocore's `EC2Serializer` (its `queryName`s, capitalized `locationName`s,
lists as `Name.N`) are parsed by Fireside and compared with the params that went in; responses
and errors built by Fireside are read back by botocore's `EC2QueryParser`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from hypothesis import given, settings
from hypothesis import strategies as st

from fireside.aws.errors import ServiceError
from fireside.aws.model import load_service
from fireside.aws.protocol import protocol_for
from fireside.http.types import Request, Response

PROTO = protocol_for(load_service("ec2"))
BOTO_EC2 = botocore.session.get_session().get_service_model("ec2")
SERIALIZER = botocore.serialize.create_serializer("ec2", include_validation=True)
PARSER = botocore.parsers.create_parser("ec2")


def boto_request(operation: str, params: dict[str, Any]) -> Request:
    request_dict = SERIALIZER.serialize_to_request(params, BOTO_EC2.operation_model(operation))
    prepare_request_dict(request_dict, "http://127.0.0.1:4566")
    prepared = create_request_object(request_dict).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {k.lower(): str(v) for k, v in prepared.headers.items()}
    return Request(prepared.method, urlsplit(prepared.url).path, "", headers, bytes(body))


def boto_parse(operation: str, response: Response) -> dict[str, Any]:
    parsed: dict[str, Any] = PARSER.parse(
        {"status_code": response.status, "headers": dict(response.headers), "body": response.body},
        BOTO_EC2.operation_model(operation).output_shape,
    )
    return parsed


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "DescribeVpcs",
            {
                "VpcIds": ["vpc-1", "vpc-2"],
                "Filters": [{"Name": "tag:Name", "Values": ["a", "b"]}],
                "MaxResults": 5,
            },
        ),
        (
            "CreateVpc",
            {
                "CidrBlock": "10.0.0.0/16",
                "TagSpecifications": [
                    {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "x"}]}
                ],
                "DryRun": True,
            },
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {
                "GroupId": "sg-1",
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 80,
                        "ToPort": 80,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "web"}],
                        "UserIdGroupPairs": [{"GroupId": "sg-2"}],
                    }
                ],
            },
        ),
        ("ModifySubnetAttribute", {"SubnetId": "subnet-1", "MapPublicIpOnLaunch": {"Value": True}}),
        ("DescribeNatGateways", {"Filter": [{"Name": "vpc-id", "Values": ["vpc-1"]}]}),
        ("CreateTags", {"Resources": ["vpc-1"], "Tags": [{"Key": "k", "Value": ""}]}),
    ],
)
def test_botocore_requests_parse_to_their_params(operation: str, params: dict[str, Any]) -> None:
    parsed = PROTO.parse(boto_request(operation, params))
    assert parsed.operation_name == operation
    assert parsed.params == params


@pytest.mark.parametrize(
    ("operation", "result"),
    [
        (
            "DescribeVpcs",
            {
                "Vpcs": [
                    {
                        "VpcId": "vpc-1",
                        "CidrBlock": "10.0.0.0/16",
                        "IsDefault": True,
                        "Tags": [{"Key": "Name", "Value": "x"}],
                        "CidrBlockAssociationSet": [
                            {"AssociationId": "a", "CidrBlockState": {"State": "associated"}}
                        ],
                    }
                ],
                "NextToken": "5",
            },
        ),
        (
            "DescribeSecurityGroups",
            {
                "SecurityGroups": [
                    {
                        "GroupId": "sg-1",
                        "IpPermissions": [
                            {
                                "IpProtocol": "tcp",
                                "FromPort": 80,
                                "ToPort": 80,
                                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                "UserIdGroupPairs": [],
                            }
                        ],
                    }
                ]
            },
        ),
        ("CreateSecurityGroup", {"GroupId": "sg-1"}),
        ("AllocateAddress", {"AllocationId": "eipalloc-1", "PublicIp": "192.0.2.1"}),
        ("DeleteVpc", {}),
    ],
)
def test_results_read_back_by_botocore(operation: str, result: dict[str, Any]) -> None:
    response = PROTO.serialize_result(operation, result, "req-1")
    parsed = boto_parse(operation, response)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == result


def test_errors_read_back_by_botocore() -> None:
    error = ServiceError("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist <&>")
    response = PROTO.serialize_error(error, "req-2")
    assert response.status == 400
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors>')
    parsed = boto_parse("DescribeVpcs", response)
    assert parsed["Error"] == {
        "Code": "InvalidVpcID.NotFound",
        "Message": "The vpc ID 'vpc-1' does not exist <&>",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-2"


def test_unknown_actions_and_bad_values_get_ec2s_codes() -> None:
    with pytest.raises(ServiceError) as caught:
        PROTO.parse(Request("POST", "/", "", {}, b"Action=NoSuchThing&Version=2016-11-15"))
    assert caught.value.code == "InvalidAction"
    with pytest.raises(ServiceError) as caught:
        PROTO.parse(
            Request("POST", "/", "", {}, b"Action=DescribeVpcs&Version=2016-11-15&MaxResults=x")
        )
    assert caught.value.code == "InvalidParameterValue"
    with pytest.raises(ServiceError) as caught:
        PROTO.parse(Request("POST", "/", "", {}, b"Action=DeleteVpc&Version=2016-11-15"))
    assert (caught.value.code, caught.value.message) == (
        "MissingParameter",
        "The request must contain the parameter VpcId",
    )


KEYS = st.sampled_from(
    [
        "Filter.1.Name",
        "Filter.1.Value.1",
        "Filter.x.Name",
        "Filter.0.Value",
        "VpcId",
        "VpcId.1",
        "MaxResults",
        "DryRun",
        "TagSpecification.1.Tag.1.Key",
        "IpPermissions.1.FromPort",
        "IpPermissions.1.IpRanges.1.CidrIp",
        "MapPublicIpOnLaunch.Value",
        "",
        ".",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    operation=st.sampled_from(
        ["DescribeVpcs", "CreateVpc", "AuthorizeSecurityGroupIngress", "ModifySubnetAttribute"]
    ),
    pairs=st.lists(st.tuples(KEYS, st.text(max_size=12)), max_size=8),
)
def test_any_form_parses_or_gets_an_ec2_error(operation: str, pairs: list[tuple[str, str]]) -> None:
    body = urlencode([("Action", operation), ("Version", "2016-11-15"), *pairs]).encode()
    try:
        PROTO.parse(Request("POST", "/", "", {}, body))
    except ServiceError as error:
        assert error.status == 400
        assert error.code in ("InvalidParameterValue", "MissingParameter"), error.code
        response = PROTO.serialize_error(error, "req")
        assert boto_parse(operation, response)["Error"]["Code"] == error.code


@pytest.mark.parametrize("service", ["elbv2", "sts"])
def test_query_errors_echoing_control_characters_stay_readable(service: str) -> None:
    proto = protocol_for(load_service(service))
    response = proto.serialize_error(ServiceError("ValidationError", "bad \x1f value"), "r")
    parsed = botocore.parsers.create_parser("query").parse(
        {"status_code": 400, "headers": dict(response.headers), "body": response.body}, None
    )
    assert parsed["Error"]["Message"] == "bad ? value"
