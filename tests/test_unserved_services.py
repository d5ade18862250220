"""A service Fireside does not provide answers in its own protocol, so its clients can read
the refusal (before, a CloudFormation or SES client got JSON it could not parse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

CALLS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("autoscaling", "DescribeAutoScalingGroups", lambda c: c.describe_auto_scaling_groups()),
    # query (XML)
    ("stepfunctions", "ListStateMachines", lambda c: c.list_state_machines()),  # json 1.0
    ("ses", "ListIdentities", lambda c: c.list_identities()),  # query
    ("ecs", "ListClusters", lambda c: c.list_clusters()),  # json 1.1
    ("appsync", "ListGraphqlApis", lambda c: c.list_graphql_apis()),  # rest-json
    ("elb", "DescribeLoadBalancers", lambda c: c.describe_load_balancers()),  # classic ELB
    # signs as elbv2 (served) does: told apart by its API version
]


@pytest.mark.parametrize(("service", "operation", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_an_unserved_service_answers_in_its_protocol(
    server: Server, service: str, operation: str, call: Callable[[Any], Any]
) -> None:
    with pytest.raises(ClientError) as caught:
        call(server.client(service))
    error = caught.value.response["Error"]
    assert error["Code"] == "NotImplementedException", caught.value.response
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "Fireside does not provide" in error["Message"]
    assert f"({operation} was called)" in error["Message"]
