"""SSM Parameter Store against a live server with boto3: AWS's answers and errors, SecureString
encryption at rest, listings and their pages, labels, tags, accounts and durability."""

from __future__ import annotations

import asyncio
import base64
import signal
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.ssm import SecretBox, SsmProvider, SsmStore
from tests.conftest import Server

OTHER_ACCOUNT = "111122223333"


@pytest.fixture()
def ssm(server: Server) -> Any:
    return server.client("ssm")


@pytest.fixture()
def base() -> str:
    """A path of this test's own, so tests share the session server."""
    return f"/t{uuid.uuid4().hex[:10]}"


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_put_get_versions_and_overwrite(ssm: Any, base: str) -> None:
    name = f"{base}/app/url"
    assert ssm.put_parameter(Name=name, Value="v1", Type="String")["Version"] == 1
    code, message, status = _error(lambda: ssm.put_parameter(Name=name, Value="v2", Type="String"))
    assert (code, status) == ("ParameterAlreadyExists", 400)
    assert message == (
        "The parameter already exists. To overwrite this value, set the overwrite option in "
        "the request to true."
    )
    # Overwrite keeps the type, description and tier when they are not given.
    ssm.put_parameter(Name=name, Value="v1b", Type="String", Overwrite=True, Description="d")
    out = ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    assert out["Version"] == 3 and out["Tier"] == "Standard"
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    assert parameter["Value"] == "v2" and parameter["Type"] == "String"
    assert parameter["Version"] == 3 and parameter["DataType"] == "text"
    assert parameter["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter{name}"
    assert "Selector" not in parameter
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    assert described[0]["Description"] == "d" and described[0]["Version"] == 3
    # By ARN too.
    assert ssm.get_parameter(Name=parameter["ARN"])["Parameter"]["Value"] == "v2"
    code, message, _ = _error(lambda: ssm.put_parameter(Name=f"{base}/new", Value="x"))
    assert (code, message) == (
        "ValidationException",
        "A parameter type is required when you create a parameter.",
    )
    code, message, _ = _error(lambda: ssm.put_parameter(Name=f"{base}/e", Value="", Type="String"))
    assert code == "ValidationException"
    assert "at 'value' failed to satisfy constraint" in message
    code, message, _ = _error(
        lambda: ssm.put_parameter(
            Name=name, Value="x", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}]
        )
    )
    assert code == "ValidationException"
    assert message.startswith("Invalid request: tags and overwrite can't be used together.")
    code, message, _ = _error(
        lambda: ssm.put_parameter(Name=f"{base}/dt", Value="x", Type="String", DataType="Text")
    )
    assert message == (
        "The following data type is not supported: Text (Data type names are all lowercase.)"
    )


def test_leading_slash_names_one_parameter(ssm: Any, base: str) -> None:
    bare = base.lstrip("/") + "flat"
    ssm.put_parameter(Name=f"/{bare}", Value="v", Type="StringList")
    got = ssm.get_parameter(Name=bare)["Parameter"]
    assert got["Name"] == f"/{bare}" and got["Type"] == "StringList"
    assert got["ARN"].endswith(f":parameter/{bare}")
    code, _, _ = _error(lambda: ssm.put_parameter(Name=bare, Value="w", Type="String"))
    assert code == "ParameterAlreadyExists"
    ssm.delete_parameter(Name=bare)
    code, message, status = _error(lambda: ssm.get_parameter(Name=f"/{bare}"))
    assert (code, message, status) == ("ParameterNotFound", f"Parameter /{bare} not found.", 400)


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        (
            "ssm_test",
            "ValidationException",
            'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).',
        ),
        (
            "/AWS_thing",
            "ValidationException",
            'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).',
        ),
        (
            "/aws/mine/x",
            "AccessDeniedException",
            "No access to reserved parameter name: /aws/mine/x.",
        ),
        (
            "/ssm/x/y",
            "ValidationException",
            'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a '
            "path, it can consist of sub-paths divided by slash symbol; each sub-path can be "
            "formed as a mix of letters, numbers and the following 3 symbols .-_",
        ),
        (
            "has space",
            "ValidationException",
            'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a '
            "path, it can consist of sub-paths divided by slash symbol; each sub-path can be "
            "formed as a mix of letters, numbers and the following 3 symbols .-_",
        ),
        ("a/b", "ValidationException", "Parameter name must be a fully qualified name."),
        (
            "/" + "/".join(f"l{i}" for i in range(16)),
            "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels.",
        ),
    ],
)
def test_names_refused_as_aws_refuses_them(ssm: Any, name: str, code: str, message: str) -> None:
    assert _error(lambda: ssm.put_parameter(Name=name, Value="v", Type="String")) == (
        code,
        message,
        400,
    )


def test_fifteen_levels_are_allowed(ssm: Any, base: str) -> None:
    name = base + "".join(f"/l{i}" for i in range(14))
    assert ssm.put_parameter(Name=name, Value="v", Type="String")["Version"] == 1


def test_tiers_and_value_sizes(ssm: Any, base: str) -> None:
    code, message, _ = _error(
        lambda: ssm.put_parameter(Name=f"{base}/big", Value="x" * 4097, Type="String")
    )
    assert code == "ValidationException"
    assert message.startswith(
        "Standard tier parameters support a maximum parameter value of 4096 characters."
    )
    assert ssm.put_parameter(Name=f"{base}/max", Value="x" * 4096, Type="String")["Tier"] == (
        "Standard"
    )
    out = ssm.put_parameter(Name=f"{base}/big", Value="x" * 8192, Type="String", Tier="Advanced")
    assert out["Tier"] == "Advanced"
    code, message, _ = _error(
        lambda: ssm.put_parameter(
            Name=f"{base}/big2", Value="x" * 8193, Type="String", Tier="Advanced"
        )
    )
    assert code == "ValidationException" and "less than or equal to 8192" in message
    auto = ssm.put_parameter(
        Name=f"{base}/auto", Value="y" * 5000, Type="String", Tier="Intelligent-Tiering"
    )
    assert auto["Tier"] == "Advanced"
    small = ssm.put_parameter(
        Name=f"{base}/auto2", Value="y", Type="String", Tier="Intelligent-Tiering"
    )
    assert small["Tier"] == "Standard"
    code, message, _ = _error(
        lambda: ssm.put_parameter(Name=f"{base}/big", Value="x", Overwrite=True, Tier="Standard")
    )
    assert code == "ValidationException"
    assert message.startswith("This parameter uses the advanced-parameter tier.")


def test_allowed_pattern(ssm: Any, base: str) -> None:
    name = f"{base}/port"
    ssm.put_parameter(Name=name, Value="8080", Type="String", AllowedPattern=r"^\d+$")
    code, message, _ = _error(lambda: ssm.put_parameter(Name=name, Value="http", Overwrite=True))
    assert (code, message) == (
        "ParameterPatternMismatchException",
        r"Parameter value, cannot be validated against allowedPattern: ^\d+$",
    )
    assert ssm.put_parameter(Name=name, Value="9090", Overwrite=True)["Version"] == 2
    code, _, _ = _error(
        lambda: ssm.put_parameter(
            Name=f"{base}/bad", Value="x", Type="String", AllowedPattern="(unclosed"
        )
    )
    assert code == "InvalidAllowedPatternException"


def test_secure_string_is_encrypted_at_rest(server: Server, ssm: Any, base: str) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    name = f"{base}/db/password"
    ssm.put_parameter(Name=name, Value=secret, Type="SecureString")
    ssm.put_parameter(Name=f"{base}/k", Value=secret, Type="SecureString", KeyId="alias/mine")
    plain = ssm.get_parameter(Name=name)["Parameter"]
    assert plain["Type"] == "SecureString"
    assert secret not in plain["Value"]
    assert len(base64.b64decode(plain["Value"], validate=True)) > len(secret)
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == secret
    many = ssm.get_parameters(Names=[name, f"{base}/k"], WithDecryption=True)["Parameters"]
    assert [p["Value"] for p in many] == [secret, secret]
    by_path = ssm.get_parameters_by_path(Path=base, Recursive=True)["Parameters"]
    assert all(secret not in p["Value"] for p in by_path)
    described = {
        p["Name"]: p
        for p in ssm.describe_parameters(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [base]}]
        )["Parameters"]
    }
    assert described[name]["KeyId"] == "alias/aws/ssm"
    assert described[f"{base}/k"]["KeyId"] == "alias/mine"
    history = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    assert history[0]["Value"] == secret
    # Neither the database nor its WAL nor any other file holds the plaintext.
    needle = secret.encode()
    files = [path for path in server.data_dir.rglob("*") if path.is_file()]
    assert any(path.name.startswith("ssm.sqlite") for path in files)
    for path in files:
        if path.stat().st_size < 64 * 1024 * 1024:
            assert needle not in path.read_bytes(), path
    key = server.data_dir / "ssm.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_selectors_by_version_and_label(ssm: Any, base: str) -> None:
    name = f"{base}/sel"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.put_parameter(Name=name, Value="two", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod"])
    by_version = ssm.get_parameter(Name=f"{name}:1")["Parameter"]
    assert (by_version["Value"], by_version["Selector"], by_version["Name"]) == ("one", ":1", name)
    by_label = ssm.get_parameter(Name=f"{name}:prod")["Parameter"]
    assert (by_label["Value"], by_label["Selector"], by_label["Version"]) == ("one", ":prod", 1)
    code, message, _ = _error(lambda: ssm.get_parameter(Name=f"{name}:7"))
    assert (code, message) == (
        "ParameterVersionNotFound",
        f"Systems Manager could not find version 7 of {name}. Verify the version and try again.",
    )
    assert _error(lambda: ssm.get_parameter(Name=f"{name}:1:2"))[:2] == (
        "ParameterNotFound",
        f"Parameter {name}:1:2 not found.",
    )
    assert _error(lambda: ssm.get_parameter(Name=f"{name}:nolabel"))[0] == "ParameterNotFound"
    out = ssm.get_parameters(Names=[f"{name}:prod", f"{name}:9", f"{base}/missing", name])
    assert [p["Value"] for p in out["Parameters"]] == ["one", "two"]
    assert out["InvalidParameters"] == [f"{name}:9", f"{base}/missing"]


def test_labels_move_and_limits(ssm: Any, base: str) -> None:
    name = f"{base}/lab"
    for value in ("a", "b", "c"):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=value != "a")
    out = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["live", "9x", "awsy"])
    assert out == {"InvalidLabels": ["9x", "awsy"], "ParameterVersion": 1, **_meta(out)}
    assert ssm.label_parameter_version(Name=name, Labels=["live"])["ParameterVersion"] == 3
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [h["Labels"] for h in history] == [[], [], ["live"]]
    code, message, _ = _error(
        lambda: ssm.label_parameter_version(
            Name=name, ParameterVersion=3, Labels=[f"l{i}" for i in range(10)]
        )
    )
    assert code == "ParameterVersionLabelLimitExceeded"
    assert "A parameter version can have maximum 10 labels." in message
    code, message, _ = _error(
        lambda: ssm.label_parameter_version(Name=name, ParameterVersion=8, Labels=["x"])
    )
    assert (code, message) == (
        "ParameterVersionNotFound",
        f"Systems Manager could not find version 8 of {name}. Verify the version and try again.",
    )
    out = ssm.unlabel_parameter_version(Name=name, ParameterVersion=3, Labels=["live", "gone"])
    assert (out["RemovedLabels"], out["InvalidLabels"]) == (["live"], ["gone"])
    assert _error(lambda: ssm.label_parameter_version(Name=f"{base}/none", Labels=["x"]))[:2] == (
        "ParameterNotFound",
        f"Parameter {base}/none not found.",
    )


def _meta(response: dict[str, Any]) -> dict[str, Any]:
    return {"ResponseMetadata": response["ResponseMetadata"]}


def test_history_pages_and_the_hundred_version_cap(ssm: Any, base: str) -> None:
    name = f"{base}/many"
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["first"])
    for number in range(2, 101):
        ssm.put_parameter(Name=name, Value=f"v{number}", Overwrite=True)
    code, message, _ = _error(lambda: ssm.put_parameter(Name=name, Value="v101", Overwrite=True))
    assert code == "ParameterMaxVersionLimitExceeded"
    assert "Version 1, the oldest version, can't be deleted" in message
    ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["first"])
    assert ssm.put_parameter(Name=name, Value="v101", Overwrite=True)["Version"] == 101
    versions: list[int] = []
    kwargs: dict[str, Any] = {"Name": name, "MaxResults": 7}
    while True:
        page = ssm.get_parameter_history(**kwargs)
        assert len(page["Parameters"]) <= 7
        versions += [p["Version"] for p in page["Parameters"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert versions == list(range(2, 102))
    assert _error(lambda: ssm.get_parameter(Name=f"{name}:1"))[0] == "ParameterVersionNotFound"
    code, message, _ = _error(lambda: ssm.get_parameter_history(Name=name, MaxResults=51))
    assert code == "ValidationException" and "less than or equal to 50" in message
    assert _error(lambda: ssm.get_parameter_history(Name=name, NextToken="junk"))[0] == (
        "InvalidNextToken"
    )


def test_get_parameters_by_path(ssm: Any, base: str) -> None:
    for i in range(23):
        ssm.put_parameter(Name=f"{base}/svc/p{i:02d}", Value=str(i), Type="String")
    ssm.put_parameter(
        Name=f"{base}/svc/deep/secret",
        Value="s",
        Type="SecureString",
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    ssm.put_parameter(Name=f"{base}/svcx", Value="sibling", Type="String")
    names: list[str] = []
    kwargs: dict[str, Any] = {"Path": f"{base}/svc"}
    pages = 0
    while True:
        page = ssm.get_parameters_by_path(**kwargs)
        assert len(page["Parameters"]) <= 10
        names += [p["Name"] for p in page["Parameters"]]
        pages += 1
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert names == [f"{base}/svc/p{i:02d}" for i in range(23)] and pages == 3
    everything = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=f"{base}/svc/", Recursive=True
    )
    found = [p["Name"] for page in everything for p in page["Parameters"]]
    assert len(found) == 24 and f"{base}/svc/deep/secret" in found
    typed = ssm.get_parameters_by_path(
        Path=f"{base}/svc",
        Recursive=True,
        ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}],
    )["Parameters"]
    assert [p["Name"] for p in typed] == [f"{base}/svc/deep/secret"]
    tagged = ssm.get_parameters_by_path(
        Path=base, Recursive=True, ParameterFilters=[{"Key": "tag:team", "Values": ["blue"]}]
    )["Parameters"]
    assert [p["Name"] for p in tagged] == [f"{base}/svc/deep/secret"]
    code, message, _ = _error(
        lambda: ssm.get_parameters_by_path(
            Path=base, ParameterFilters=[{"Key": "Name", "Values": ["x"]}]
        )
    )
    assert (code, message) == (
        "InvalidFilterKey",
        "The following filter key is not valid: Name. Valid filter keys include: [Type, KeyId].",
    )
    # A Label filter selects the labelled version, not the latest.
    ssm.put_parameter(Name=f"{base}/svc/p00", Value="new", Overwrite=True)
    ssm.label_parameter_version(Name=f"{base}/svc/p00", ParameterVersion=1, Labels=["stable"])
    labelled = ssm.get_parameters_by_path(
        Path=f"{base}/svc", ParameterFilters=[{"Key": "Label", "Values": ["stable"]}]
    )["Parameters"]
    assert [(p["Name"], p["Value"], p["Version"]) for p in labelled] == [
        (f"{base}/svc/p00", "0", 1)
    ]
    code, message, _ = _error(lambda: ssm.get_parameters_by_path(Path=base, MaxResults=11))
    assert code == "ValidationException" and "less than or equal to 10" in message
    code, _, _ = _error(lambda: ssm.get_parameters_by_path(Path="no-slash"))
    assert code == "ValidationException"
    assert ssm.get_parameters_by_path(Path=f"{base}/nothing")["Parameters"] == []


def test_describe_parameters_filters_and_pages(ssm: Any, base: str) -> None:
    for i in range(12):
        kind = "StringList" if i % 3 == 0 else "String"
        ssm.put_parameter(Name=f"{base}/d/p{i:02d}", Value="a,b", Type=kind)
    recursive = {"Key": "Path", "Option": "Recursive", "Values": [base]}
    names: list[str] = []
    kwargs: dict[str, Any] = {"ParameterFilters": [recursive], "MaxResults": 5}
    while True:
        page = ssm.describe_parameters(**kwargs)
        names += [p["Name"] for p in page["Parameters"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert names == [f"{base}/d/p{i:02d}" for i in range(12)]
    one_level = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Path", "Values": [f"{base}/d"]}], MaxResults=50
    )["Parameters"]
    assert len(one_level) == 12
    assert (
        ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Values": [base]}])["Parameters"]
        == []
    )
    lists = ssm.describe_parameters(
        ParameterFilters=[recursive, {"Key": "Type", "Values": ["StringList"]}]
    )["Parameters"]
    assert [p["Name"] for p in lists] == [f"{base}/d/p{i:02d}" for i in (0, 3, 6, 9)]
    contains = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Contains", "Values": [f"{base}/d/p1"]}]
    )["Parameters"]
    assert [p["Name"] for p in contains] == [f"{base}/d/p10", f"{base}/d/p11"]
    legacy = ssm.describe_parameters(Filters=[{"Key": "Name", "Values": [f"{base}/d/p0"]}])
    assert len(legacy["Parameters"]) == 10
    code, message, _ = _error(
        lambda: ssm.describe_parameters(
            Filters=[{"Key": "Name", "Values": ["x"]}],
            ParameterFilters=[{"Key": "Name", "Values": ["x"]}],
        )
    )
    assert (code, message) == (
        "ValidationException",
        "You can use either Filters or ParameterFilters in a single request.",
    )
    code, message, _ = _error(
        lambda: ssm.describe_parameters(ParameterFilters=[{"Key": "Label", "Values": ["x"]}])
    )
    assert code == "InvalidFilterKey"
    code, message, _ = _error(
        lambda: ssm.describe_parameters(ParameterFilters=[{"Key": "Type", "Values": ["Number"]}])
    )
    assert (code, message) == (
        "InvalidFilterOption",
        "The following filter value is not valid: Number. Valid values include: "
        "[String, StringList, SecureString].",
    )
    code, message, _ = _error(
        lambda: ssm.describe_parameters(
            ParameterFilters=[{"Key": "Path", "Option": "Deep", "Values": ["/x"]}]
        )
    )
    assert message == (
        "The following filter option is not valid: Deep. Valid options include: "
        "[Recursive, OneLevel]."
    )


def test_delete_parameters_and_tags(ssm: Any, base: str) -> None:
    name = f"{base}/tagged"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "a", "Value": "1"}])
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "b", "Value": "2"}]
    )
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert tags == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["a"])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert tags == [{"Key": "b", "Value": "2"}]
    assert (
        _error(
            lambda: ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=f"{base}/no")
        )[0]
        == "InvalidResourceId"
    )
    code, _, _ = _error(
        lambda: ssm.add_tags_to_resource(
            ResourceType="Parameter",
            ResourceId=name,
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)],
        )
    )
    assert code == "TooManyTagsError"
    ssm.put_parameter(Name=f"{base}/other", Value="v", Type="String")
    out = ssm.delete_parameters(Names=[name, f"{base}/other", f"{base}/never"])
    assert out["DeletedParameters"] == [name, f"{base}/other"]
    assert out["InvalidParameters"] == [f"{base}/never"]
    assert _error(lambda: ssm.delete_parameter(Name=name))[:2] == (
        "ParameterNotFound",
        f"Parameter {name} not found.",
    )
    # Recreated, it starts over: version 1, no tags.
    assert ssm.put_parameter(Name=name, Value="v", Type="String")["Version"] == 1
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"] == []


def test_accounts_are_isolated(server: Server, ssm: Any, base: str) -> None:
    other = server.client("ssm", aws_access_key_id=OTHER_ACCOUNT)
    name = f"{base}/shared-name"
    ssm.put_parameter(Name=name, Value="mine", Type="SecureString")
    other.put_parameter(Name=name, Value="theirs", Type="String")
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "mine"
    theirs = other.get_parameter(Name=name)["Parameter"]
    assert theirs["Value"] == "theirs"
    assert theirs["ARN"] == f"arn:aws:ssm:us-east-1:{OTHER_ACCOUNT}:parameter{name}"
    # Another account's ARN does not reach its parameter.
    mine_arn = f"arn:aws:ssm:us-east-1:000000000000:parameter{name}"
    assert _error(lambda: other.get_parameter(Name=mine_arn))[0] == "ParameterNotFound"
    other.delete_parameter(Name=name)
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1
    assert other.get_parameters_by_path(Path=base, Recursive=True)["Parameters"] == []
    west = server.client("ssm", region_name="eu-west-1")
    assert _error(lambda: west.get_parameter(Name=name))[0] == "ParameterNotFound"


def test_other_operations_are_named_as_not_implemented(ssm: Any) -> None:
    code, message, status = _error(lambda: ssm.list_documents())
    assert (code, status) == ("NotImplementedException", 501)
    assert "ListDocuments" in message


def test_parameters_survive_kill_9(fresh_server: Callable[..., Server], tmp_path: Any) -> None:
    data = tmp_path / "data"
    first = fresh_server(data)
    ssm = first.client("ssm")
    ssm.put_parameter(Name="/durable/a", Value="plain", Type="String")
    ssm.put_parameter(Name="/durable/b", Value="secret", Type="SecureString")
    ssm.label_parameter_version(Name="/durable/b", Labels=["keep"])
    first.stop(signal.SIGKILL)
    second = fresh_server(data)
    ssm = second.client("ssm")
    assert ssm.get_parameter(Name="/durable/a")["Parameter"]["Value"] == "plain"
    assert (
        ssm.get_parameter(Name="/durable/b:keep", WithDecryption=True)["Parameter"]["Value"]
        == "secret"
    )


def test_parameter_quota_per_tier(tmp_path: Any) -> None:
    """ParameterLimitExceeded, with the quotas lowered (AWS's are 10,000 and 100,000)."""
    provider = SsmProvider(
        SsmStore(tmp_path / "ssm.sqlite"),
        SecretBox(tmp_path / "ssm.key"),
        parameter_limits={"Standard": 2, "Advanced": 1},
    )
    put = provider.operations()["PutParameter"]
    ctx = RequestContext("000000000000", "us-east-1", "r", "http://x")

    def call(**params: Any) -> dict[str, Any]:
        return asyncio.run(put(ctx, params))

    call(Name="a", Value="1", Type="String")
    call(Name="b", Value="1", Type="String")
    call(Name="b", Value="2", Overwrite=True)  # an overwrite adds no parameter
    with pytest.raises(ServiceError) as caught:
        call(Name="c", Value="1", Type="String")
    assert caught.value.code == "ParameterLimitExceeded"
    assert caught.value.message == (
        "You have reached the maximum number of standard parameters for this AWS account and "
        "Region (2). To add more parameters, either delete existing parameters or upgrade to "
        "the advanced-parameter tier (charges apply)."
    )
    call(Name="c", Value="1", Type="String", Tier="Advanced")
    with pytest.raises(ServiceError) as caught:
        call(Name="a", Value="1", Overwrite=True, Tier="Advanced")  # an upgrade counts too
    assert caught.value.code == "ParameterLimitExceeded"
    provider.close()
