"""Lambda's TagResource, UntagResource and ListTags on functions, through boto3 on a live
server: tags shown by GetFunction and ListTags, versions and aliases refused, another
account's function out of reach."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FunctionFactory, Server

SOURCE = "def handler(e, c):\n    return 1\n"


def test_tag_untag_and_list(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE, Tags={"team": "a"})
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    revision = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    lam.tag_resource(Resource=arn, Tags={"team": "b", "cost": "1"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "b", "cost": "1"}
    lam.untag_resource(Resource=arn, TagKeys=["team", "absent"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"cost": "1"}
    got = lam.get_function(FunctionName=name)
    assert got["Tags"] == {"cost": "1"}
    assert got["Configuration"]["RevisionId"] == revision  # tags are not configuration


def test_refusals(server: Server, lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as caught:
        lam.tag_resource(Resource=f"{arn}:$LATEST", Tags={"a": "b"})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "aliases and versions are not supported" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        lam.list_tags(Resource=arn.replace(name, "no-such-function"))
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        lam.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(51)})
    assert "tag limit of 50" in caught.value.response["Error"]["Message"]
    other = server.client(aws_access_key_id="222222222222", aws_secret_access_key="x")
    with pytest.raises(ClientError) as caught:
        other.tag_resource(Resource=arn, Tags={"mine": "now"})
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert lam.list_tags(Resource=arn)["Tags"] == {}
