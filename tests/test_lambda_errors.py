"""Lambda's errors as AWS sends them, for the conditions where Fireside differed (issue 12,
item 4). Each expectation is AWS's answer as recorded against the real service (LocalStack's
AWS-validated snapshots, `tests/aws/services/lambda_/test_lambda_api.snapshot.json`, and
`test_lambda.snapshot.json`); `docs/errors.md` lists every condition checked.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, python_zip

ACCOUNT = "000000000000"
SOURCE = "def handler(event, context):\n    return 'ok'\n"


def error(call: Any, **kwargs: Any) -> tuple[str, int, str | None]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message"),
    )


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return server.client()


@pytest.fixture(scope="module")
def published(lam: Any) -> Iterator[tuple[str, str]]:
    """A function with version 1 and an alias `live` on it."""
    name = f"err-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(SOURCE)},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    yield name, version
    with contextlib.suppress(ClientError):
        lam.delete_function(FunctionName=name)


def test_another_regions_function_is_not_reachable(lam: Any, published: tuple[str, str]) -> None:
    name, _ = published
    other = f"arn:aws:lambda:ap-southeast-1:{ACCOUNT}:function:{name}"
    assert error(lam.get_function, FunctionName=other) == (
        "ResourceNotFoundException",
        404,
        "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')",
    )


def test_another_accounts_function_is_access_denied(lam: Any, published: tuple[str, str]) -> None:
    name, _ = published
    other = f"arn:aws:lambda:us-east-1:111111111111:function:{name}"
    params = {"Runtime": "python3.11", "Handler": "app.handler", "Role": ROLE}
    code = {"ZipFile": python_zip(SOURCE)}
    # AWS's recorded answer: 403 with a null message
    assert error(lam.create_function, FunctionName=other, Code=code, **params) == (
        "AccessDeniedException",
        403,
        None,
    )
    assert error(lam.get_function, FunctionName=other)[:2] == ("AccessDeniedException", 403)


def test_a_missing_qualifier_is_named_as_a_function(lam: Any, published: tuple[str, str]) -> None:
    name, _ = published
    for call in (lam.get_function, lam.get_function_configuration, lam.invoke):
        assert error(call, FunctionName=name, Qualifier="aliasdoesnotexist") == (
            "ResourceNotFoundException",
            404,
            f"Function not found: {arn(name)}:aliasdoesnotexist",
        )
    assert error(lam.invoke, FunctionName="doesnotexist", Qualifier="$LATEST") == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn('doesnotexist')}:$LATEST",
    )
    # CreateAlias on a missing function names the version asked for
    assert error(
        lam.create_alias, FunctionName=f"{name}-unknown", Name="custom", FunctionVersion="1"
    ) == ("ResourceNotFoundException", 404, f"Function not found: {arn(name)}-unknown:1")
    # GetAlias keeps its own words; UpdateAlias has others again
    assert error(lam.get_alias, FunctionName=name, Name="non-existent")[2] == (
        f"Cannot find alias arn: {arn(name)}:non-existent"
    )
    assert error(lam.update_alias, FunctionName=name, Name="non-existent", Description="d") == (
        "ResourceNotFoundException",
        404,
        f"Alias not found: {arn(name)}:non-existent",
    )


def test_reserved_concurrency_errors(lam: Any, published: tuple[str, str]) -> None:
    name, version = published
    assert error(
        lam.put_function_concurrency, FunctionName="doesnotexist", ReservedConcurrentExecutions=1
    ) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn('doesnotexist')}:$LATEST",
    )
    assert error(
        lam.put_function_concurrency,
        FunctionName=f"{name}:{version}",
        ReservedConcurrentExecutions=1,
    ) == (
        "InvalidParameterValueException",
        400,
        "This operation is permitted on Lambda functions only. Aliases and versions do not "
        "support this operation. Please specify either a function name or an unqualified "
        "function ARN.",
    )


def test_provisioned_concurrency_errors(lam: Any, published: tuple[str, str]) -> None:
    name, version = published
    for call in (lam.get_provisioned_concurrency_config, lam.delete_provisioned_concurrency_config):
        assert error(call, FunctionName="doesnotexist", Qualifier="noalias")[2] == (
            f"Cannot find alias arn: {arn('doesnotexist')}:noalias"
        )
    assert error(
        lam.delete_provisioned_concurrency_config, FunctionName="doesnotexist", Qualifier="1"
    ) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn('doesnotexist')}:1",
    )
    assert error(
        lam.put_provisioned_concurrency_config,
        FunctionName="doesnotexist",
        Qualifier="noalias",
        ProvisionedConcurrentExecutions=1,
    )[2] == (f"Cannot find alias arn: {arn('doesnotexist')}:noalias")
    # Reserved 1 < provisioned 2: refused both ways, with AWS's words (and spacing)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    try:
        assert error(
            lam.put_provisioned_concurrency_config,
            FunctionName=name,
            Qualifier=version,
            ProvisionedConcurrentExecutions=2,
        ) == (
            "InvalidParameterValueException",
            400,
            "Requested Provisioned Concurrency should not be greater than the "
            "reservedConcurrentExecution for function",
        )
        lam.delete_function_concurrency(FunctionName=name)
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2
        )
        assert error(
            lam.put_function_concurrency, FunctionName=name, ReservedConcurrentExecutions=1
        ) == (
            "InvalidParameterValueException",
            400,
            " ReservedConcurrentExecutions  1 should not be lower than function's total "
            "provisioned concurrency [2].",
        )
    finally:
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
        lam.delete_function_concurrency(FunctionName=name)


def _create(lam: Any, **kwargs: Any) -> tuple[str, int, str | None]:
    params = {
        "FunctionName": f"err-{uuid.uuid4().hex[:10]}",
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Role": ROLE,
        "Code": {"ZipFile": python_zip(SOURCE)},
        **kwargs,
    }
    return error(lam.create_function, **params)


def test_create_function_refusals(lam: Any) -> None:
    long = "a" * 65
    assert _create(lam, FunctionName=long) == (
        "InvalidParameterValueException",
        400,
        f"1 validation error detected: Value '{long}' at 'functionName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64",
    )
    assert _create(lam, Runtime="non-existent-runtime") == (
        "InvalidParameterValueException",
        400,
        "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must "
        "satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, python3.12, "
        "python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, "
        "ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, "
        "java11, dotnet6, nodejs18.x, provided.al2, java8.al2] or be a valid ARN",
    )
    for runtime in ("python3.7", "nodejs14.x", "provided"):
        assert _create(lam, Runtime=runtime) == (
            "InvalidParameterValueException",
            400,
            f"The runtime parameter of {runtime} is no longer supported for creating or "
            "updating AWS Lambda functions. We recommend you use a supported runtime while "
            "creating or updating functions.",
        )


def test_environment_over_4kb_is_measured_as_json(lam: Any) -> None:
    """AWS measures the variables as compact JSON: 4 KB of it passes, one byte more fails,
    and the message quotes what it measured."""
    key = "LARGE_VAR"
    exactly = {key: "x" * (4096 - len(key) - 7)}  # {"LARGE_VAR":"xxx"} is 4096 bytes
    name = f"err-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(SOURCE)},
        Environment={"Variables": exactly},
    )
    lam.delete_function(FunctionName=name)
    over = {"SMALL_VAR": "ok", key: "x" * 4064}
    measured = json.dumps(over, separators=(",", ":"))
    assert len(measured) == 4097
    assert _create(lam, Environment={"Variables": over}) == (
        "InvalidParameterValueException",
        400,
        "Lambda was unable to configure your environment variables because the environment "
        f"variables you have provided exceeded the 4KB limit. String measured: {measured}",
    )


def test_an_oversized_upload_is_request_entity_too_large(lam: Any) -> None:
    big = bytes(52_428_801)  # one byte over 50 MB: refused before it is read as a zip
    assert _create(lam, Code={"ZipFile": big}) == (
        "RequestEntityTooLargeException",
        413,
        "Zipped size must be smaller than 52428800 bytes",
    )


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        # What the AWS CLI v2 sends for an inline --payload without raw-in-base64-out, and
        # AWS's answers (LocalStack's test_lambda_invoke_payload_encoding_error).
        (b"n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt", "Invalid UTF-8 start byte 0x87"),
        (
            b"\x99\xeb,j\x07\xa1zYh",
            "Unexpected character ((CTRL-CHAR, code 153)): expected a valid value (JSON "
            "String, Number, Array, Object or token 'null', 'true' or 'false')",
        ),
    ],
)
def test_a_payload_that_is_not_json(
    lam: Any, published: tuple[str, str], payload: bytes, words: str
) -> None:
    name, _ = published
    assert error(lam.invoke, FunctionName=name, Payload=payload) == (
        "InvalidRequestContentException",
        400,
        f"Could not parse request body into json: Could not parse payload into json: {words}",
    )


def test_bad_list_elements_are_reported_for_the_list(lam: Any) -> None:
    """Coral names the list and every constraint of its elements (AWS's recorded answers in
    LocalStack's test_create_lambda_exceptions and test_invalid_vpc_config_subnet)."""
    assert _create(lam, Architectures=["X86_64"]) == (
        "ValidationException",
        400,
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[x86_64, arm64], Member must not be null]",
    )
    assert _create(lam, VpcConfig={"SubnetIds": ["sg-123"], "SecurityGroupIds": []}) == (
        "ValidationException",
        400,
        "1 validation error detected: Value '[sg-123]' at 'vpcConfig.subnetIds' failed to "
        "satisfy constraint: Member must satisfy constraint: [Member must have length less "
        "than or equal to 1024, Member must have length greater than or equal to 0, Member "
        "must satisfy regular expression pattern: subnet-[0-9a-z]*]",
    )
