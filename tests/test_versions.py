"""Versions and aliases: publishing, qualifiers everywhere, weighted routing, deletion rules."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, FunctionFactory, python_zip

SOURCE = "WHO = {who!r}\ndef handler(e, c):\n    return [WHO, c.function_version, c.invoked_function_arn]\n"


def code(who: str) -> bytes:
    return python_zip(SOURCE.format(who=who))


def error(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def update_code(lam: Any, name: str, who: str) -> None:
    lam.update_function_code(FunctionName=name, ZipFile=code(who))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def invoke(lam: Any, name: str, qualifier: str | None = None) -> tuple[Any, str]:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    out = lam.invoke(FunctionName=name, **kwargs)
    return json.loads(out["Payload"].read()), out["ExecutedVersion"]


@pytest.fixture()
def function(lam: Any, make_function: FunctionFactory) -> str:
    return make_function(SOURCE.format(who="v1"))


def test_publish_and_invoke_versions(lam: Any, function: str) -> None:
    first = lam.publish_version(FunctionName=function, Description="first")
    assert first["Version"] == "1"
    assert first["FunctionArn"].endswith(f":function:{function}:1")
    assert first["Description"] == "first"
    assert first["State"] == "Active"
    assert "LastUpdateStatus" not in first
    # Nothing changed: the same version comes back.
    assert lam.publish_version(FunctionName=function)["Version"] == "1"
    update_code(lam, function, "v2")
    second = lam.publish_version(FunctionName=function)
    assert second["Version"] == "2"
    update_code(lam, function, "v3")
    assert invoke(lam, function) == (["v3", "$LATEST", f"{first['FunctionArn'][:-2]}"], "$LATEST")
    body, executed = invoke(lam, function, "1")
    assert (body[0], body[1], executed) == ("v1", "1", "1")
    assert body[2] == first["FunctionArn"]
    assert invoke(lam, function, "2")[0][0] == "v2"
    assert invoke(lam, f"{function}:2")[0][0] == "v2"  # a qualified name works too
    config = lam.get_function_configuration(FunctionName=function, Qualifier="1")
    assert config["Version"] == "1" and config["CodeSha256"] == first["CodeSha256"]
    assert lam.get_function(FunctionName=function, Qualifier="2")["Configuration"]["Version"] == "2"
    listed = lam.list_versions_by_function(FunctionName=function)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    page = lam.list_versions_by_function(FunctionName=function, MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"]
    rest = lam.list_versions_by_function(FunctionName=function, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"]


def test_version_numbers_are_never_reused(lam: Any, function: str) -> None:
    lam.publish_version(FunctionName=function)
    update_code(lam, function, "v2")
    lam.publish_version(FunctionName=function)
    lam.delete_function(FunctionName=function, Qualifier="2")
    update_code(lam, function, "v3")
    assert lam.publish_version(FunctionName=function)["Version"] == "3"
    assert error(lam.get_function, FunctionName=function, Qualifier="2") == (
        "ResourceNotFoundException",
        f"Function not found: {lam.get_function(FunctionName=function)['Configuration']['FunctionArn']}:2",
        404,
    )


def test_publish_preconditions(lam: Any, function: str) -> None:
    latest = lam.get_function_configuration(FunctionName=function)
    code_sha = latest["CodeSha256"]
    assert error(lam.publish_version, FunctionName=function, CodeSha256="nope") == (
        "InvalidParameterValueException",
        f"CodeSHA256 (nope) is different from current CodeSHA256 in $LATEST ({code_sha}). "
        "Please try again with the CodeSHA256 in $LATEST.",
        400,
    )
    code_, _, status = error(lam.publish_version, FunctionName=function, RevisionId="stale")
    assert (code_, status) == ("PreconditionFailedException", 412)
    published = lam.publish_version(
        FunctionName=function, CodeSha256=code_sha, RevisionId=latest["RevisionId"]
    )
    assert published["Version"] == "1"


def test_publish_on_create_and_code_update(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE.format(who="v1"), Publish=True)
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier="1")
    assert invoke(lam, name, "1")[0][0] == "v1"
    out = lam.update_function_code(FunctionName=name, ZipFile=code("v2"), Publish=True)
    assert out["Version"] == "2"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier="2")
    assert invoke(lam, name, "2")[0][0] == "v2"


def test_aliases(lam: Any, function: str) -> None:
    lam.publish_version(FunctionName=function)
    update_code(lam, function, "v2")
    lam.publish_version(FunctionName=function)
    alias = lam.create_alias(FunctionName=function, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f":function:{function}:live")
    assert alias["FunctionVersion"] == "1"
    body, executed = invoke(lam, function, "live")
    assert (body[0], executed) == ("v1", "1")
    assert body[2] == alias["AliasArn"]  # the context shows the ARN that was invoked
    got = lam.get_alias(FunctionName=function, Name="live")
    assert got["RevisionId"] == alias["RevisionId"]
    assert (
        lam.get_function(FunctionName=function, Qualifier="live")["Configuration"]["Version"] == "1"
    )
    updated = lam.update_alias(
        FunctionName=function, Name="live", FunctionVersion="2", RevisionId=alias["RevisionId"]
    )
    assert updated["FunctionVersion"] == "2" and updated["RevisionId"] != alias["RevisionId"]
    assert invoke(lam, function, "live")[1] == "2"
    code_, _, status = error(
        lam.update_alias, FunctionName=function, Name="live", RevisionId=alias["RevisionId"]
    )
    assert (code_, status) == ("PreconditionFailedException", 412)
    lam.create_alias(FunctionName=function, Name="old", FunctionVersion="1")
    names = [a["Name"] for a in lam.list_aliases(FunctionName=function)["Aliases"]]
    assert names == ["live", "old"]
    only = lam.list_aliases(FunctionName=function, FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in only] == ["old"]
    arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    assert error(lam.create_alias, FunctionName=function, Name="live", FunctionVersion="1") == (
        "ResourceConflictException", f"Alias already exists: {arn}:live", 409,
    )  # fmt: skip
    assert error(lam.delete_function, FunctionName=function, Qualifier="1") == (
        "ResourceConflictException",
        "Unable to delete version because the following aliases reference it: [old]",
        409,
    )
    assert error(lam.get_alias, FunctionName=function, Name="nope") == (
        "ResourceNotFoundException", f"Cannot find alias arn: {arn}:nope", 404,
    )  # fmt: skip
    assert error(lam.invoke, FunctionName=function, Qualifier="nope")[0] == (
        "ResourceNotFoundException"
    )
    assert error(lam.create_alias, FunctionName=function, Name="x", FunctionVersion="9") == (
        "ResourceNotFoundException", f"Function not found: {arn}:9", 404,
    )  # fmt: skip
    lam.delete_alias(FunctionName=function, Name="old")
    lam.delete_function(FunctionName=function, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=function)["Versions"]] == [
        "$LATEST", "2",
    ]  # fmt: skip


def test_weighted_routing(lam: Any, function: str) -> None:
    lam.publish_version(FunctionName=function)
    update_code(lam, function, "v2")
    lam.publish_version(FunctionName=function)
    lam.create_alias(
        FunctionName=function, Name="canary", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )  # fmt: skip
    runs = 300
    counts = Counter(invoke(lam, function, "canary")[1] for _ in range(runs))
    # Binomial(300, 0.3): mean 90, sd ~7.9; 5 sd either way fails once in millions of runs.
    assert 50 <= counts["2"] <= 130, counts
    assert counts["1"] + counts["2"] == runs


def test_routing_config_errors(lam: Any, function: str) -> None:
    lam.publish_version(FunctionName=function)
    update_code(lam, function, "v2")
    lam.publish_version(FunctionName=function)
    assert error(
        lam.create_alias, FunctionName=function, Name="a", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
    ) == (
        "InvalidParameterValueException",
        "Invalid function version 1. Function version 1 is already included in routing "
        "configuration.",
        400,
    )  # fmt: skip
    assert error(
        lam.create_alias, FunctionName=function, Name="a", FunctionVersion="$LATEST",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )[:2] == (
        "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version",
    )  # fmt: skip
    assert error(
        lam.create_alias, FunctionName=function, Name="a", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}},
    )[1] == "Number of items in AdditionalVersionWeights cannot be greater than 1"  # fmt: skip


def test_latest_cannot_be_deleted_alone(lam: Any, function: str) -> None:
    assert error(lam.delete_function, FunctionName=function, Qualifier="$LATEST") == (
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
        400,
    )


def test_deleting_the_function_removes_versions_and_aliases(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(SOURCE.format(who="v1"))
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.delete_function(FunctionName=name)
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": code("again")},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # a new function's count


def test_versions_survive_a_restart(fresh_server: Any) -> None:
    srv = fresh_server()
    lam = srv.client()
    lam.create_function(
        FunctionName="kept", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": code("v1")}, Publish=True,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="kept")
    lam.create_alias(FunctionName="kept", Name="live", FunctionVersion="1")
    srv.stop()
    srv = fresh_server(srv.data_dir)
    lam = srv.client()
    assert invoke(lam, "kept", "live")[1] == "1"
    assert lam.publish_version(FunctionName="kept")["Version"] == "1"  # unchanged: same one
