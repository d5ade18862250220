"""Lambda layers through boto3 against a live server: the layer API and functions using layers.

Expected codes and messages are AWS's, as recorded against AWS in LocalStack's validated
snapshots (`tests/aws/services/lambda_/test_lambda_api.snapshot.json`, TestLambdaLayer) and as
quoted in users' reports of AWS errors.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import json
import random
import re
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.sandbox.share import choose_share_root
from tests.conftest import ROLE, FunctionFactory, Server, make_zip, python_zip

HELLO = "def handler(event, context):\n    return {'hello': 'layers'}\n"
UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."
NOT_FOUND = "The resource you requested does not exist."
MAX_UNZIPPED = 262_144_000


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def unique(prefix: str = "layer") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_account(server: Server) -> Any:
    """A client of an account no other test uses (a 12-digit key id selects the account)."""
    return server.client(aws_access_key_id=str(random.randrange(10**11, 10**12)))


def account_of(client: Any) -> str:
    key: str = client._request_signer._credentials.access_key
    return key if re.fullmatch(r"\d{12}", key) else "000000000000"


LAYER_ZIP = make_zip({"python/layer_mod.py": "VALUE = 'from a layer'\n"})
USES_LAYER = "import layer_mod\ndef handler(event, context):\n    return layer_mod.VALUE\n"

Publisher = Callable[..., dict[str, Any]]


@pytest.fixture()
def publish(lam: Any) -> Iterator[Publisher]:
    """Publish layer versions (default: `LAYER_ZIP` under a fresh name); deleted at the end."""
    published: list[tuple[Any, str, int]] = []

    def make(name: str | None = None, *, client: Any = None, **kwargs: Any) -> dict[str, Any]:
        client = client or lam
        kwargs.setdefault("Content", {"ZipFile": LAYER_ZIP})
        out: dict[str, Any] = client.publish_layer_version(LayerName=name or unique(), **kwargs)
        published.append((client, out["LayerArn"], out["Version"]))
        return out

    yield make
    for client, arn, version in published:
        with contextlib.suppress(ClientError):
            client.delete_layer_version(LayerName=arn, VersionNumber=version)


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    """The response without its metadata, and with Content.Location's signed, expiring query
    left out: two calls a second apart sign different expiry times."""
    kept = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if "Location" in kept.get("Content", {}):
        location = kept["Content"]["Location"].split("?", 1)[0]
        kept["Content"] = {**kept["Content"], "Location": location}
    return kept


def blob_files(server: Server) -> set[Path]:
    return {p for p in (server.data_dir / "blobs").rglob("*") if p.is_file()}


# -- versions ----------------------------------------------------------------------------------


def test_publish_get_list_delete(lam: Any, publish: Publisher) -> None:
    name = unique()
    first = publish(
        name,
        Description="first",
        LicenseInfo="MIT",
        CompatibleRuntimes=["python3.12", "python3.11"],
        CompatibleArchitectures=["x86_64"],
    )
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    layer_arn = f"arn:aws:lambda:us-east-1:000000000000:layer:{name}"
    assert first["LayerArn"] == layer_arn
    assert first["LayerVersionArn"] == f"{layer_arn}:1"
    assert first["Version"] == 1
    assert (first["Description"], first["LicenseInfo"]) == ("first", "MIT")
    assert first["CompatibleRuntimes"] == ["python3.12", "python3.11"]  # order kept, as on AWS
    assert first["CompatibleArchitectures"] == ["x86_64"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", first["CreatedDate"])
    content = first["Content"]
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(LAYER_ZIP).digest()).decode()
    assert content["CodeSize"] == len(LAYER_ZIP)
    with urllib.request.urlopen(content["Location"]) as download:
        assert download.read() == LAYER_ZIP

    # Lists given empty are reported empty; not given, they are absent. Description is always there.
    second = publish(name, CompatibleRuntimes=[], CompatibleArchitectures=[])
    assert second["Version"] == 2
    assert (second["CompatibleRuntimes"], second["CompatibleArchitectures"]) == ([], [])
    third = publish(name)
    assert "CompatibleRuntimes" not in third and "LicenseInfo" not in third
    assert third["Description"] == ""

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert without_metadata(got) == without_metadata(first)
    assert lam.get_layer_version(LayerName=layer_arn, VersionNumber=1)["Version"] == 1
    by_arn = lam.get_layer_version_by_arn(Arn=f"{layer_arn}:1")
    assert without_metadata(by_arn) == without_metadata(first)

    listed = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in listed] == [3, 2, 1]  # newest first, as on AWS
    assert listed[2] == {
        k: first[k]
        for k in (
            "LayerVersionArn",
            "Version",
            "Description",
            "CreatedDate",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
            "LicenseInfo",
        )
    }

    deleted = lam.delete_layer_version(LayerName=name, VersionNumber=1)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, NOT_FOUND)
    # Deleting again, or what never existed, succeeds (AWS's DeleteLayerVersion is idempotent).
    lam.delete_layer_version(LayerName=name, VersionNumber=1)
    lam.delete_layer_version(LayerName=name, VersionNumber=99)
    lam.delete_layer_version(LayerName=unique("never"), VersionNumber=1)
    listed = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in listed] == [3, 2]


def test_version_numbers_are_never_reused(lam: Any, publish: Publisher) -> None:
    name = unique()
    publish(name)
    publish(name)
    lam.delete_layer_version(LayerName=name, VersionNumber=1)
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    assert lam.list_layer_versions(LayerName=name)["LayerVersions"] == []
    assert name not in [x["LayerName"] for x in lam.list_layers()["Layers"]]
    assert publish(name)["Version"] == 3


def test_version_counter_and_deleted_versions_survive_a_restart(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = fresh_server(tmp_path / "data")
    lam = server.client()
    name = unique()
    version = lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER_ZIP})
    lam.create_function(
        FunctionName="keeps-layer",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(HELLO)},
        Layers=[version["LayerVersionArn"]],
    )
    lam.delete_layer_version(LayerName=name, VersionNumber=1)
    server.stop()

    server = fresh_server(tmp_path / "data")
    lam = server.client()
    assert lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER_ZIP})["Version"] == 2
    lam.get_waiter("function_active_v2").wait(
        FunctionName="keeps-layer", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    config = lam.get_function_configuration(FunctionName="keeps-layer")
    assert config["Layers"] == [{"Arn": version["LayerVersionArn"], "CodeSize": len(LAYER_ZIP)}]


def test_version_lookup_errors(lam: Any, publish: Publisher) -> None:
    published = publish()
    name, layer_arn = published["LayerArn"].rsplit(":", 1)[1], published["LayerArn"]
    for kwargs in (
        {"LayerName": unique("never"), "VersionNumber": 1},
        {"LayerName": name, "VersionNumber": 2},
    ):
        with pytest.raises(ClientError) as excinfo:
            lam.get_layer_version(**kwargs)
        assert error_of(excinfo) == ("ResourceNotFoundException", 404, NOT_FOUND)
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version_by_arn(Arn=f"{layer_arn}:2")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, NOT_FOUND)
    for call in (lam.get_layer_version, lam.delete_layer_version, lam.get_layer_version_policy):
        for version in (0, -1):
            with pytest.raises(ClientError) as excinfo:
                call(LayerName=name, VersionNumber=version)
            assert error_of(excinfo) == (
                "InvalidParameterValueException",
                400,
                "Layer Version Cannot be less than 1",
            )
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version_by_arn(Arn=layer_arn)  # no version: the model's pattern refuses it
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(f"1 validation error detected: Value '{layer_arn}' at 'arn' failed")
    assert lam.list_layer_versions(LayerName=unique("never"))["LayerVersions"] == []


def test_list_layers_filters_and_pagination(server: Server, publish: Publisher) -> None:
    client = new_account(server)
    a, b = unique("a"), unique("b")
    publish(a, client=client, CompatibleRuntimes=["python3.11"], CompatibleArchitectures=["x86_64"])
    publish(a, client=client, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["arm64"])
    publish(b, client=client, CompatibleRuntimes=["python3.11"])

    def latest(**filters: Any) -> dict[str, int]:
        layers = client.list_layers(**filters)["Layers"]
        for layer in layers:
            assert layer["LayerArn"].endswith(f":layer:{layer['LayerName']}")
        return {x["LayerName"]: x["LatestMatchingVersion"]["Version"] for x in layers}

    assert latest() == {a: 2, b: 1}
    assert latest(CompatibleRuntime="python3.11") == {a: 1, b: 1}
    assert latest(CompatibleArchitecture="arm64") == {a: 2}
    assert latest(CompatibleRuntime="python3.11", CompatibleArchitecture="arm64") == {}

    def versions(**filters: Any) -> list[int]:
        return [
            v["Version"]
            for v in client.list_layer_versions(LayerName=a, **filters)["LayerVersions"]
        ]

    assert versions(CompatibleRuntime="python3.12") == [2]
    assert versions(CompatibleArchitecture="x86_64") == [1]

    with pytest.raises(ClientError) as excinfo:
        client.list_layers(CompatibleRuntime="runtimedoesnotexist")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "Value 'runtimedoesnotexist' at 'compatibleRuntime' failed to satisfy" in message

    names = {b, a} | {publish(client=client)["LayerArn"].rsplit(":", 1)[1] for _ in range(3)}
    seen: list[str] = []
    for page in client.get_paginator("list_layers").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Layers"]) <= 2
        seen += [x["LayerName"] for x in page["Layers"]]
    assert seen == sorted(names)

    c = unique("c")
    for _ in range(5):
        publish(c, client=client)
    pages = [
        [v["Version"] for v in page["LayerVersions"]]
        for page in client.get_paginator("list_layer_versions").paginate(
            LayerName=c, PaginationConfig={"PageSize": 2}
        )
    ]
    assert pages == [[5, 4], [3, 2], [1]]


def test_content_from_a_missing_bucket_or_none_is_refused(lam: Any) -> None:
    # Content from S3 is covered by tests/test_code_from_s3.py.
    with pytest.raises(ClientError) as excinfo:
        lam.publish_layer_version(
            LayerName=unique(), Content={"S3Bucket": f"{unique()}-none", "S3Key": "layer.zip"}
        )
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
        "The specified bucket does not exist",
    )
    with pytest.raises(ClientError) as excinfo:
        lam.publish_layer_version(LayerName=unique(), Content={})
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, "Missing Content")


def symlink_zip(links: dict[str, str], files: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
        for name, text in (files or {}).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def zeros_zip(size: int, name: str = "zeros.bin") -> bytes:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(name, "w", force_zip64=True) as member,
    ):
        chunk = bytes(1 << 20)
        for _ in range(size // len(chunk)):
            member.write(chunk)
        member.write(bytes(size % len(chunk)))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"not a zip", UNZIP_ERROR),
        (make_zip({"../evil.py": "x"}), UNZIP_ERROR),
        (make_zip({"python/../../evil.py": "x"}), UNZIP_ERROR),
        (make_zip({"/abs.py": "x"}), UNZIP_ERROR),
        (symlink_zip({"python/passwd": "/etc/passwd"}), UNZIP_ERROR),
        (symlink_zip({"python/up": "../../.."}), UNZIP_ERROR),
        # Each link stays inside on its own; followed through `s`, `t` leaves the tree.
        (symlink_zip({"a/b/s": "../../q", "a/b/t": "s/../../.."}), UNZIP_ERROR),
        (zeros_zip(MAX_UNZIPPED + 1), f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes"),
    ],
    ids=[
        "garbage",
        "dotdot",
        "nested-dotdot",
        "absolute",
        "abs-link",
        "up-link",
        "chained-link",
        "too-big",
    ],
)
def test_bad_archives_are_refused_leaving_nothing(
    server: Server, lam: Any, publish: Publisher, archive: bytes, message: str
) -> None:
    name = unique()
    before = blob_files(server)
    with pytest.raises(ClientError) as excinfo:
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": archive})
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, message)
    assert blob_files(server) == before
    assert lam.list_layer_versions(LayerName=name)["LayerVersions"] == []
    assert publish(name)["Version"] == 1  # no version number was spent either


def test_links_inside_the_tree_are_accepted(publish: Publisher) -> None:
    archive = symlink_zip(
        {"lib/libx.so": "libx.so.1", "python/up": "../lib", "a/b/s": "../../q", "a/b/t": "s/.."},
        {"lib/libx.so.1": "ELF", "q/file": "q"},
    )
    assert publish(Content={"ZipFile": archive})["Version"] == 1


# -- permissions -------------------------------------------------------------------------------


def test_layer_version_policy_lifecycle(lam: Any, publish: Publisher) -> None:
    published = publish()
    arn, name = published["LayerVersionArn"], published["LayerArn"].rsplit(":", 1)[1]
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        404,
        "No policy is associated with the given resource.",
    )

    added = lam.add_layer_version_permission(
        LayerName=name,
        VersionNumber=1,
        StatementId="s1",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    s1 = {
        "Sid": "s1",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
    }
    assert json.loads(added["Statement"]) == s1
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == added["RevisionId"]
    assert json.loads(policy["Policy"]) == {
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": [s1],
    }

    added = lam.add_layer_version_permission(
        LayerName=name,
        VersionNumber=1,
        StatementId="s2",
        Action="lambda:GetLayerVersion",
        Principal="123456789012",
        RevisionId=policy["RevisionId"],
    )
    assert json.loads(added["Statement"])["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    added = lam.add_layer_version_permission(
        LayerName=name,
        VersionNumber=1,
        StatementId="org",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-abcdefghij",
    )
    assert json.loads(added["Statement"])["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}
    }

    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(
            LayerName=name,
            VersionNumber=1,
            StatementId="s1",
            Action="lambda:GetLayerVersion",
            Principal="*",
        )
    assert error_of(excinfo) == (
        "ResourceConflictException",
        409,
        "The statement id (s1) provided already exists. Please provide a new statement id, or "
        "remove the existing statement.",
    )
    stale = (
        "PreconditionFailedException",
        412,
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy "
        "API to retrieve the latest Revision Id",
    )
    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(
            LayerName=name,
            VersionNumber=1,
            StatementId="s3",
            Action="lambda:GetLayerVersion",
            Principal="*",
            RevisionId=policy["RevisionId"],
        )
    assert error_of(excinfo) == stale
    with pytest.raises(ClientError) as excinfo:
        lam.remove_layer_version_permission(
            LayerName=name, VersionNumber=1, StatementId="s1", RevisionId="wrong"
        )
    assert error_of(excinfo) == stale
    with pytest.raises(ClientError) as excinfo:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="nope")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        404,
        "Statement nope is not found in resource policy.",
    )

    current = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["RevisionId"]
    removed = lam.remove_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="s2", RevisionId=current
    )
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["s1", "org"]
    assert policy["RevisionId"] != current
    for sid in ("s1", "org"):
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId=sid)
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_layer_version_policy_errors(lam: Any, publish: Publisher) -> None:
    published = publish()
    name, layer_arn = published["LayerArn"].rsplit(":", 1)[1], published["LayerArn"]
    grant = {"StatementId": "s1", "Action": "lambda:GetLayerVersion", "Principal": "*"}

    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(
            LayerName=name, VersionNumber=1, **{**grant, "Action": "*"}
        )
    assert error_of(excinfo) == (
        "ValidationException",
        400,
        "1 validation error detected: Value '*' at 'action' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: lambda:GetLayerVersion",
    )
    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(
            LayerName=name, VersionNumber=1, **{**grant, "Principal": "bob"}
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "Value 'bob' at 'principal' failed to satisfy constraint" in message

    missing = [
        (unique("never"), 1, "arn:aws:lambda:us-east-1:000000000000:layer:{name}:1"),
        (name, 2, f"{layer_arn}:2"),
    ]
    lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER_ZIP})
    lam.delete_layer_version(LayerName=name, VersionNumber=2)  # a deleted version is gone too
    calls = [
        (lam.add_layer_version_permission, grant),
        (lam.get_layer_version_policy, {}),
        (lam.remove_layer_version_permission, {"StatementId": "s1"}),
    ]
    for layer, version, arn in missing:
        for call, extra in calls:
            with pytest.raises(ClientError) as excinfo:
                call(LayerName=layer, VersionNumber=version, **extra)
            assert error_of(excinfo) == (
                "ResourceNotFoundException",
                404,
                f"Layer version {arn.format(name=layer)} does not exist.",
            )


def test_other_accounts_need_a_grant(
    server: Server, lam: Any, publish: Publisher, make_function: FunctionFactory
) -> None:
    other, third = new_account(server), new_account(server)
    published = publish()
    arn, layer_arn = published["LayerVersionArn"], published["LayerArn"]

    def denied(client: Any, action: str, resource: str) -> tuple[str, int, str]:
        return (
            "AccessDeniedException",
            403,
            f"User: arn:aws:iam::{account_of(client)}:root is not authorized to perform: "
            f"{action} on resource: {resource} because no resource-based policy allows the "
            f"{action} action",
        )

    with pytest.raises(ClientError) as excinfo:
        make_function(HELLO, client=other, Layers=[arn])
    assert error_of(excinfo) == denied(other, "lambda:GetLayerVersion", arn)
    with pytest.raises(ClientError) as excinfo:
        other.get_layer_version_by_arn(Arn=arn)
    assert error_of(excinfo) == denied(other, "lambda:GetLayerVersion", arn)
    # Only the owner manages a layer.
    with pytest.raises(ClientError) as excinfo:
        other.delete_layer_version(LayerName=layer_arn, VersionNumber=1)
    assert error_of(excinfo) == denied(other, "lambda:DeleteLayerVersion", layer_arn)
    with pytest.raises(ClientError) as excinfo:
        other.list_layer_versions(LayerName=layer_arn)
    assert error_of(excinfo) == denied(other, "lambda:ListLayerVersions", layer_arn)
    # A nonexistent version of another account's layer does not exist (no grant to check).
    with pytest.raises(ClientError) as excinfo:
        make_function(HELLO, client=other, Layers=[f"{layer_arn}:9"])
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        f"Layer version {layer_arn}:9 does not exist.",
    )

    lam.add_layer_version_permission(
        LayerName=layer_arn,
        VersionNumber=1,
        StatementId="one-account",
        Action="lambda:GetLayerVersion",
        Principal=account_of(other),
    )
    assert other.get_layer_version_by_arn(Arn=arn)["LayerVersionArn"] == arn
    assert other.get_layer_version(LayerName=layer_arn, VersionNumber=1)["Version"] == 1
    function = make_function(HELLO, client=other, Layers=[arn])
    assert other.get_function(FunctionName=function)["Configuration"]["Layers"][0]["Arn"] == arn
    with pytest.raises(ClientError) as excinfo:
        make_function(HELLO, client=third, Layers=[arn])
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 403)

    lam.add_layer_version_permission(
        LayerName=layer_arn,
        VersionNumber=1,
        StatementId="my-org",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-abcdefghij",  # Fireside has no organizations: every account is in it
    )
    third.delete_function(FunctionName=make_function(HELLO, client=third, Layers=[arn]))

    for sid in ("one-account", "my-org"):
        lam.remove_layer_version_permission(LayerName=layer_arn, VersionNumber=1, StatementId=sid)
    with pytest.raises(ClientError) as excinfo:
        other.update_function_configuration(FunctionName=function, Layers=[arn])
    assert error_of(excinfo) == denied(other, "lambda:GetLayerVersion", arn)
    # What already uses it keeps it.
    assert other.get_function(FunctionName=function)["Configuration"]["Layers"][0]["Arn"] == arn
    other.delete_function(FunctionName=function)


# -- functions using layers --------------------------------------------------------------------


def wait_updated(client: Any, name: str) -> None:
    client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )


def unpacked(server: Server, layer: dict[str, Any]) -> bool:
    digest = base64.b64decode(layer["Content"]["CodeSha256"]).hex()
    return (choose_share_root(server.data_dir) / "code" / digest).is_dir()


def test_functions_report_their_layers(
    server: Server, lam: Any, publish: Publisher, make_function: FunctionFactory
) -> None:
    first, second = publish(), publish(Content={"ZipFile": make_zip({"bin/tool": "#!/bin/sh\n"})})
    name = make_function(HELLO, Layers=[first["LayerVersionArn"]])
    expected = [{"Arn": first["LayerVersionArn"], "CodeSize": first["Content"]["CodeSize"]}]
    assert lam.get_function(FunctionName=name)["Configuration"]["Layers"] == expected
    assert lam.get_function_configuration(FunctionName=name)["Layers"] == expected
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert listed[0]["Layers"] == expected
    assert unpacked(server, first) and not unpacked(server, second)  # before Active, not on invoke

    # The list is replaced whole, in the order given; other updates leave it alone.
    both = [second["LayerVersionArn"], first["LayerVersionArn"]]
    updated = lam.update_function_configuration(FunctionName=name, Layers=both)
    assert [x["Arn"] for x in updated["Layers"]] == both
    wait_updated(lam, name)
    assert unpacked(server, second)
    lam.update_function_configuration(FunctionName=name, Timeout=5)
    wait_updated(lam, name)
    assert [x["Arn"] for x in lam.get_function_configuration(FunctionName=name)["Layers"]] == both
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == {"hello": "layers"}

    lam.update_function_configuration(FunctionName=name, Layers=[])
    wait_updated(lam, name)
    assert "Layers" not in lam.get_function_configuration(FunctionName=name)  # absent, as on AWS


def test_a_deleted_version_stays_with_its_functions(
    lam: Any, publish: Publisher, make_function: FunctionFactory
) -> None:
    published = publish()
    arn, name = published["LayerVersionArn"], published["LayerArn"].rsplit(":", 1)[1]
    function = make_function(USES_LAYER, Layers=[arn])
    lam.delete_layer_version(LayerName=name, VersionNumber=1)

    assert lam.get_function(FunctionName=function)["Configuration"]["Layers"][0]["Arn"] == arn
    # The layer's module is still on the function's path (/opt/python).
    assert json.loads(lam.invoke(FunctionName=function)["Payload"].read()) == "from a layer"
    lam.update_function_code(FunctionName=function, ZipFile=python_zip(USES_LAYER + "# v2\n"))
    wait_updated(lam, function)
    lam.update_function_configuration(FunctionName=function, MemorySize=256)
    wait_updated(lam, function)
    config = lam.get_function_configuration(FunctionName=function)
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert [x["Arn"] for x in config["Layers"]] == [arn]
    assert json.loads(lam.invoke(FunctionName=function)["Payload"].read()) == "from a layer"

    with pytest.raises(ClientError) as excinfo:  # but it cannot be newly referenced
        make_function(HELLO, Layers=[arn])
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        f"Layer version {arn} does not exist.",
    )


def test_bad_layer_references(
    server: Server, lam: Any, publish: Publisher, make_function: FunctionFactory
) -> None:
    layer = publish()["LayerArn"]
    name = layer.rsplit(":", 1)[1]
    for _ in range(2):
        publish(name)
    six = [publish()["LayerVersionArn"] for _ in range(6)]
    other_region = server.client(region_name="eu-west-1")
    far = other_region.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER_ZIP})
    cases: list[tuple[list[str], tuple[str, int, str] | tuple[str, int]]] = [
        (six, ("InvalidParameterValueException", 400, "Cannot reference more than 5 layers.")),
        (
            [f"{layer}:1", f"{layer}:2", f"{layer}:3"],
            (
                "InvalidParameterValueException",
                400,
                "Two different versions of the same layer are not allowed to be referenced in "
                f"the same function. {layer}:1 and {layer}:2 are versions of the same layer.",
            ),
        ),
        (
            [f"{layer}:1", f"{layer}:1"],
            (
                "InvalidParameterValueException",
                400,
                "Two different versions of the same layer are not allowed to be referenced in "
                f"the same function. {layer}:1 and {layer}:1 are versions of the same layer.",
            ),
        ),
        (
            [f"{layer}:9"],
            ("InvalidParameterValueException", 400, f"Layer version {layer}:9 does not exist."),
        ),
        (
            [layer.replace(name, "doesnotexist") + ":1"],
            (
                "InvalidParameterValueException",
                400,
                f"Layer version {layer.replace(name, 'doesnotexist')}:1 does not exist.",
            ),
        ),
        (
            [far["LayerVersionArn"]],
            (
                "InvalidParameterValueException",
                400,
                "Layers are not in the same region as the function. Layers are expected to be in "
                "region us-east-1.",
            ),
        ),
        ([layer], ("ValidationException", 400)),  # no version: the model's pattern refuses it
    ]
    function = make_function(HELLO)
    try:
        attempts = (
            functools.partial(make_function, HELLO),
            functools.partial(lam.update_function_configuration, FunctionName=function),
        )
        for layers, expected in cases:
            for attempt in attempts:
                with pytest.raises(ClientError) as excinfo:
                    attempt(Layers=layers)
                assert error_of(excinfo)[: len(expected)] == expected, layers
        assert "Layers" not in lam.get_function_configuration(FunctionName=function)
        assert make_function(HELLO, Layers=six[:5])
    finally:
        other_region.delete_layer_version(LayerName=name, VersionNumber=far["Version"])


def test_code_and_layers_together_are_limited_to_250_mb(
    lam: Any, publish: Publisher, make_function: FunctionFactory
) -> None:
    big = zeros_zip(130 * 1024 * 1024)  # about 130 KB on the wire
    one, two = publish(Content={"ZipFile": big}), publish(Content={"ZipFile": big})
    code = python_zip(HELLO)
    code_size = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(code)).infolist())
    total = 2 * 130 * 1024 * 1024 + code_size
    too_big = (
        "InvalidParameterValueException",
        400,
        f"Function code combined with layers exceeds the maximum allowed size of {MAX_UNZIPPED} "
        f"bytes. The actual size is {total} bytes.",
    )
    both = [one["LayerVersionArn"], two["LayerVersionArn"]]
    with pytest.raises(ClientError) as excinfo:
        make_function(HELLO, Layers=both)
    assert error_of(excinfo) == too_big

    name = make_function(HELLO, Layers=both[:1], wait=False)
    wait_updated(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Layers=both)
    assert error_of(excinfo) == too_big
    # New code counts against the layers already there.
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_code(FunctionName=name, ZipFile=zeros_zip(121 * 1024 * 1024))
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    assert error_of(excinfo)[2].startswith("Function code combined with layers exceeds")
    assert lam.get_function_configuration(FunctionName=name)["Layers"][0]["Arn"] == both[0]


# -- the wire ----------------------------------------------------------------------------------


def test_layer_outputs_round_trip_through_botocore() -> None:
    """Fireside's layer results, serialized and read back by botocore's own parser."""
    from fireside.compute.layers import LayerVersion
    from tests.test_wire_restjson import lambda_round_trip

    record = LayerVersion(
        "000000000000", "us-east-1", "lib", 3, "c2hh", "ab" * 32, 10, 20,
        description="d", compatible_runtimes=["python3.11"], compatible_architectures=[],
        license_info="MIT",
    )  # fmt: skip
    wire = record.to_wire("http://127.0.0.1:4566")
    for operation in ("PublishLayerVersion", "GetLayerVersion", "GetLayerVersionByArn"):
        response, parsed = lambda_round_trip(operation, wire)
        assert parsed == wire
    assert response.status == 200
    assert lambda_round_trip("PublishLayerVersion", wire)[0].status == 201
    listing = {"LayerVersions": [record.list_item()], "NextMarker": "m"}
    assert lambda_round_trip("ListLayerVersions", listing)[1] == listing
    layers = {
        "Layers": [
            {
                "LayerName": "lib",
                "LayerArn": record.layer_arn,
                "LatestMatchingVersion": record.list_item(),
            }
        ]
    }
    assert lambda_round_trip("ListLayers", layers)[1] == layers
    policy = {"Policy": '{"Version":"2012-10-17"}', "RevisionId": "r"}
    assert lambda_round_trip("GetLayerVersionPolicy", policy)[1] == policy
    response, parsed = lambda_round_trip("DeleteLayerVersion", {})
    assert (response.status, parsed) == (204, {})
