"""Lambda resource policies: AddPermission, RemovePermission and GetPolicy against a live server
(boto3, so every answer also goes through botocore's parser), and the evaluation in process.

Expected formats and messages are AWS's, as LocalStack recorded them
(`tests/aws/services/lambda_/test_lambda_api.snapshot.json`, TestLambdaPermissions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.compute.aliases import AliasStore
from fireside.compute.policies import Policies, Policy, allows
from fireside.compute.registry import FunctionRegistry
from fireside.compute.versions import Versions
from fireside.store.database import Database
from tests.conftest import ROLE, FunctionFactory, python_zip

SOURCE = "def handler(e, c):\n    return c.function_version\n"
ACCOUNT = "000000000000"
S3_ARN = "arn:aws:s3:::test-bucket"


def error(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def add(lam: Any, name: str, sid: str, **kwargs: Any) -> dict[str, Any]:
    params = {"Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com", **kwargs}
    out = lam.add_permission(FunctionName=name, StatementId=sid, **params)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement: dict[str, Any] = json.loads(out["Statement"])
    return statement


def policy(lam: Any, name: str, qualifier: str | None = None) -> tuple[dict[str, Any], str]:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    out = lam.get_policy(FunctionName=name, **kwargs)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    return json.loads(out["Policy"]), out["RevisionId"]


# -- the API -----------------------------------------------------------------------------------
def test_statements_in_aws_format(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    resource = arn(name)
    assert add(lam, name, "s3", SourceArn=S3_ARN) == {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": resource,
        "Condition": {"ArnLike": {"AWS:SourceArn": S3_ARN}},
    }
    assert add(lam, name, "account", Principal="123456789012")["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:root"
    }
    user = "arn:aws:iam::123456789012:user/someone"
    assert add(lam, name, "user", Principal=user)["Principal"] == {"AWS": user}
    assert add(lam, name, "wildcard", Principal="*", SourceAccount=ACCOUNT) == {
        "Sid": "wildcard",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:InvokeFunction",
        "Resource": resource,
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}},
    }
    url = add(
        lam,
        name,
        "urlPermission",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        SourceArn=S3_ARN,
        SourceAccount=ACCOUNT,
        PrincipalOrgID="o-1234567890",
        FunctionUrlAuthType="NONE",
    )
    assert url["Condition"] == {
        "StringEquals": {
            "AWS:SourceAccount": ACCOUNT,
            "lambda:FunctionUrlAuthType": "NONE",
            "aws:PrincipalOrgID": "o-1234567890",
        },
        "ArnLike": {"AWS:SourceArn": S3_ARN},
    }
    via = add(lam, name, "viaUrl", Principal="*", InvokedViaFunctionUrl=True)
    assert via["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    token = add(lam, name, "alexa", Principal="*", EventSourceToken="amzn1.ask.skill.x-y")
    assert token["Condition"] == {
        "StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.x-y"}
    }

    document, revision = policy(lam, name)
    assert document["Version"] == "2012-10-17" and document["Id"] == "default"
    assert [s["Sid"] for s in document["Statement"]] == [
        "s3", "account", "user", "wildcard", "urlPermission", "viaUrl", "alexa",
    ]  # fmt: skip
    assert revision
    # The function's ARN works as its name, and GetPolicy returns compact JSON, as AWS does.
    raw = lam.get_policy(FunctionName=resource)["Policy"]
    assert raw == json.dumps(document, separators=(",", ":"))


def test_remove_permission(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    add(lam, name, "s3")
    add(lam, name, "sqs", Principal="sqs.amazonaws.com", SourceArn=S3_ARN)
    assert error(lam.remove_permission, FunctionName=name, StatementId="non-existent") == (
        "ResourceNotFoundException",
        "Statement non-existent is not found in resource policy.",
        404,
    )
    out = lam.remove_permission(FunctionName=name, StatementId="sqs")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    document, revision = policy(lam, name)
    assert [s["Sid"] for s in document["Statement"]] == ["s3"]
    lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId=revision)
    assert error(lam.get_policy, FunctionName=name) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        404,
    )
    assert error(lam.remove_permission, FunctionName=name, StatementId="s3") == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
        404,
    )


def test_one_document_per_version_and_alias(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    add(lam, name, "s3")
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    # A version or alias has no policy until one is added to it.
    for qualifier in (version, "live"):
        code, _, status = error(lam.get_policy, FunctionName=name, Qualifier=qualifier)
        assert (code, status) == ("ResourceNotFoundException", 404)
    # The same statement id in each document; the qualifier in the name or as Qualifier.
    assert add(lam, f"{name}:{version}", "s3", Qualifier=version)["Resource"] == arn(name, version)
    assert add(lam, name, "s3", Qualifier="live")["Resource"] == arn(name, "live")
    assert policy(lam, name, version)[0]["Statement"][0]["Resource"] == arn(name, version)
    assert policy(lam, f"{name}:live")[0]["Statement"][0]["Resource"] == arn(name, "live")
    assert policy(lam, name)[0]["Statement"][0]["Resource"] == arn(name)
    # $LATEST is the function itself for GetPolicy; AWS adds no policy to it.
    assert policy(lam, name, "$LATEST")[0]["Statement"][0]["Resource"] == arn(name)
    assert error(lam.add_permission, FunctionName=name, StatementId="x", Qualifier="$LATEST",
                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com") == (
        "InvalidParameterValueException",
        "We currently do not support adding policies for $LATEST.",
        400,
    )  # fmt: skip
    # Deleting an alias or version deletes its policy: a new one of the name starts empty.
    lam.delete_alias(FunctionName=name, Name="live")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    assert error(lam.get_policy, FunctionName=name, Qualifier="live")[0] == (
        "ResourceNotFoundException"
    )
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier=version)
    assert error(lam.get_policy, FunctionName=name, Qualifier=version)[2] == 404
    assert policy(lam, name)[0]["Statement"][0]["Sid"] == "s3"


def test_deleting_a_function_deletes_its_policies(lam: Any) -> None:
    name = "policy-deleted"

    def create() -> None:
        lam.create_function(
            FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
            Code={"ZipFile": python_zip(SOURCE)}, Publish=True,
        )  # fmt: skip

    create()
    add(lam, name, "s3")
    add(lam, name, "s3", Qualifier="1")
    lam.delete_function(FunctionName=name)
    create()
    try:
        for qualifier in (None, "1"):
            kwargs = {"Qualifier": qualifier} if qualifier else {}
            assert error(lam.get_policy, FunctionName=name, **kwargs)[2] == 404
    finally:
        lam.delete_function(FunctionName=name)


def test_revision_ids(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    wrong = "The Revision Id provided does not match the latest Revision Id. "
    assert error(lam.add_permission, FunctionName=name, StatementId="s3", RevisionId="wrong",
                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com") == (
        "PreconditionFailedException",
        wrong + "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        412,
    )  # fmt: skip
    # Before the first statement, the function's own RevisionId is the current one.
    function_revision = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    add(lam, name, "s3", RevisionId=function_revision)
    _, first = policy(lam, name)
    add(lam, name, "s3_2", RevisionId=first)
    _, second = policy(lam, name)
    assert second != first
    code, _, status = error(
        lam.add_permission, FunctionName=name, StatementId="s3_3", RevisionId=first,
        Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
    )  # fmt: skip
    assert (code, status) == ("PreconditionFailedException", 412)
    assert error(lam.remove_permission, FunctionName=name, StatementId="s3", RevisionId=first) == (
        "PreconditionFailedException",
        wrong + "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        412,
    )
    lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId=second)
    # An alias: its own RevisionId first, and AWS's message names GetPolicy.
    version = lam.publish_version(FunctionName=name)["Version"]
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    assert error(lam.add_permission, FunctionName=name, StatementId="s3", Qualifier="live",
                 RevisionId="wrong", Action="lambda:InvokeFunction",
                 Principal="s3.amazonaws.com") == (
        "PreconditionFailedException",
        wrong + "Call the GetPolicy API to retrieve the latest Revision Id",
        412,
    )  # fmt: skip
    add(lam, name, "s3", Qualifier="live", RevisionId=alias["RevisionId"])


def test_errors(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    base = {"Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}
    assert error(lam.add_permission, FunctionName=name, StatementId="example.com", **base) == (
        "ValidationException",
        "1 validation error detected: Value 'example.com' at 'statementId' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        400,
    )
    code, message, status = error(
        lam.add_permission, FunctionName=name, StatementId="x", Action="invoke",
        Principal="s3.amazonaws.com",
    )  # fmt: skip
    assert (code, status) == ("ValidationException", 400) and "'action'" in message
    assert error(lam.add_permission, FunctionName=f"{name}:alias-not-42", StatementId="s3",
                 Qualifier="42", **base) == (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
        400,
    )  # fmt: skip
    assert error(lam.add_permission, FunctionName=name, StatementId="p",
                 Action="lambda:InvokeFunction", Principal="invalid.nonaws.com") == (
        "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.",
        400,
    )  # fmt: skip
    assert error(lam.add_permission, FunctionName="doesnotexist", StatementId="s3", **base) == (
        "ResourceNotFoundException",
        f"Function not found: {arn('doesnotexist')}",
        404,
    )
    assert error(lam.add_permission, FunctionName=f"{name}:alias-doesnotexist",
                 StatementId="s3", **base) == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {arn(name, 'alias-doesnotexist')}",
        404,
    )  # fmt: skip
    for qualifier in ("42", "valid-with-$-but-doesnotexist"):
        assert error(lam.add_permission, FunctionName=name, StatementId="s3",
                     Qualifier=qualifier, **base) == (
            "ResourceNotFoundException",
            f"Function not found: {arn(name, qualifier)}",
            404,
        )  # fmt: skip
    for kwargs in ({"FunctionName": "doesnotexist"}, {"FunctionName": name, "Qualifier": "77"}):
        assert error(lam.get_policy, **kwargs) == (
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
            404,
        )
    assert error(lam.remove_permission, FunctionName="doesnotexist", StatementId="s3") == (
        "ResourceNotFoundException",
        f"No policy found for: {arn('doesnotexist')}",
        404,
    )
    assert error(lam.remove_permission, FunctionName=name, StatementId="s3",
                 Qualifier="alias-doesnotexist") == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {arn(name, 'alias-doesnotexist')}",
        404,
    )  # fmt: skip
    add(lam, name, "s3")
    assert error(lam.add_permission, FunctionName=name, StatementId="s3", **base) == (
        "ResourceConflictException",
        "The statement id (s3) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
        409,
    )


def test_policy_size_is_capped(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    source = "arn:aws:execute-api:us-east-1:000000000000:" + "a" * 400
    for n in range(200):
        try:
            add(lam, name, f"s{n}", Principal="apigateway.amazonaws.com", SourceArn=f"{source}/{n}")
        except ClientError as caught:
            response = caught.response
            assert response["Error"]["Code"] == "PolicyLengthExceededException"
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
            size = len(lam.get_policy(FunctionName=name)["Policy"])
            assert size <= 20_480
            message = response["Error"]["Message"]
            assert message.startswith("The final policy size (")
            assert message.endswith(") is bigger than the limit (20480).")
            return
    pytest.fail("the policy grew past 20 KB")


def test_policies_survive_a_restart(fresh_server: Any) -> None:
    srv = fresh_server()
    lam = srv.client()
    lam.create_function(
        FunctionName="kept", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(SOURCE)}, Publish=True,
    )  # fmt: skip
    lam.create_alias(FunctionName="kept", Name="live", FunctionVersion="1")
    add(lam, "kept", "s3", SourceArn=S3_ARN)
    add(lam, "kept", "v1", Qualifier="1")
    add(lam, "kept", "live", Qualifier="live", Principal="111111111111")
    qualifiers: list[dict[str, str]] = [{}, {"Qualifier": "1"}, {"Qualifier": "live"}]
    before = [lam.get_policy(FunctionName="kept", **q) for q in qualifiers]
    srv.stop()
    srv = fresh_server(srv.data_dir)
    lam = srv.client()
    for kwargs, old in zip(qualifiers, before, strict=True):
        after = lam.get_policy(FunctionName="kept", **kwargs)
        assert (after["Policy"], after["RevisionId"]) == (old["Policy"], old["RevisionId"])
    assert json.loads(before[2]["Policy"])["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::111111111111:root"
    }


# -- evaluation, in process --------------------------------------------------------------------
def statement(**fields: Any) -> dict[str, Any]:
    return {
        "Sid": "s",
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f",
        **fields,
    }


API = "apigateway.amazonaws.com"
EXECUTE = "arn:aws:execute-api:us-east-1:000000000000:abc123/*/GET/items"


def test_principals() -> None:
    service = [statement()]
    assert allows(service, action="lambda:InvokeFunction", principal_service=API)
    assert not allows(service, action="lambda:InvokeFunction", principal_service="s3.amazonaws.com")
    assert not allows(service, action="lambda:InvokeFunction", principal_account="000000000000")
    root = [statement(Principal={"AWS": "arn:aws:iam::111111111111:root"})]
    assert allows(root, action="lambda:InvokeFunction", principal_account="111111111111")
    assert not allows(root, action="lambda:InvokeFunction", principal_account="222222222222")
    assert not allows(root, action="lambda:InvokeFunction")  # anonymous
    listed = [statement(Principal={"AWS": ["222222222222", "arn:aws:iam::333333333333:root"]})]
    for account in ("222222222222", "333333333333"):
        assert allows(listed, action="lambda:InvokeFunction", principal_account=account)
    user = "arn:aws:iam::111111111111:user/u"
    named = [statement(Principal={"AWS": user})]
    assert allows(named, action="lambda:InvokeFunction", principal_arn=user)
    assert not allows(named, action="lambda:InvokeFunction", principal_account="111111111111")
    anyone = [statement(Principal="*")]
    assert allows(anyone, action="lambda:InvokeFunction")
    assert allows(anyone, action="lambda:InvokeFunction", principal_service=API)


def test_actions_and_resources() -> None:
    def grants(action: str, asked: str) -> bool:
        return allows([statement(Action=action)], action=asked, principal_service=API)

    assert grants("lambda:InvokeFunction", "lambda:invokefunction")  # case-insensitive
    assert not grants("lambda:InvokeFunction", "lambda:InvokeFunctionUrl")
    assert grants("lambda:*", "lambda:InvokeFunctionUrl")
    assert grants("*", "lambda:GetFunction")
    assert grants("lambda:InvokeFunction*", "lambda:InvokeFunctionUrl")
    assert grants("lambda:Invoke?unction", "lambda:InvokeFunction")
    assert allows([statement(Action=["lambda:GetFunction", "lambda:InvokeFunction"])],
                  action="lambda:InvokeFunction", principal_service=API)  # fmt: skip
    one = [statement()]
    assert allows(one, action="lambda:InvokeFunction", principal_service=API,
                  resource="arn:aws:lambda:us-east-1:000000000000:function:f")  # fmt: skip
    assert not allows(one, action="lambda:InvokeFunction", principal_service=API,
                      resource="arn:aws:lambda:us-east-1:000000000000:function:f:1")  # fmt: skip


def test_conditions() -> None:
    scoped = [statement(Condition={
        "ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:000000000000:abc123/*/*/items"},
        "StringEquals": {"AWS:SourceAccount": "000000000000"},
    })]  # fmt: skip

    def invokes(**context: Any) -> bool:
        return allows(scoped, action="lambda:InvokeFunction", principal_service=API, **context)

    assert invokes(source_arn=EXECUTE, source_account="000000000000")
    assert not invokes(source_arn=EXECUTE, source_account="111111111111")  # conditions ANDed
    assert not invokes(source_arn=EXECUTE)  # a missing key fails a positive test
    other_api = "arn:aws:execute-api:us-east-1:000000000000:zzz999/prod/GET/items"
    assert not invokes(source_arn=other_api, source_account="000000000000")
    # ArnLike matches part by part: a wildcard does not reach across a colon.
    crossing = [statement(Condition={"ArnLike": {"aws:sourcearn": "arn:aws:execute-api:*"}})]
    assert not allows(crossing, action="lambda:InvokeFunction", principal_service=API,
                      source_arn=EXECUTE)  # fmt: skip
    per_part = [statement(Condition={"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*:*:*"}})]
    assert allows(per_part, action="lambda:InvokeFunction", principal_service=API,
                  source_arn=EXECUTE)  # fmt: skip
    single = [statement(Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket-?"}})]
    assert allows(single, action="lambda:InvokeFunction", principal_service=API,
                  source_arn="arn:aws:s3:::bucket-1")  # fmt: skip
    assert not allows(single, action="lambda:InvokeFunction", principal_service=API,
                      source_arn="arn:aws:s3:::bucket-12")  # fmt: skip
    # Values of one key are ORed; a negated operator passes a missing key.
    either = [statement(Condition={"StringEquals": {"AWS:SourceAccount": ["1", "2"]}})]
    assert allows(either, action="lambda:InvokeFunction", principal_service=API, source_account="2")
    negated = [statement(Condition={"StringNotEquals": {"AWS:SourceAccount": "9"}})]
    assert allows(negated, action="lambda:InvokeFunction", principal_service=API)
    assert not allows(negated, action="lambda:InvokeFunction", principal_service=API,
                      source_account="9")  # fmt: skip
    # No organizations in Fireside: a PrincipalOrgID condition never holds.
    org = [statement(Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}})]
    assert not allows(org, action="lambda:InvokeFunction")
    unknown = [statement(Condition={"NumericLessThan": {"aws:SourceAccount": "5"}})]
    assert not allows(unknown, action="lambda:InvokeFunction", principal_service=API)


def test_an_explicit_deny_wins() -> None:
    statements = [
        statement(Principal="*"),
        statement(Sid="no", Effect="Deny", Condition={"StringEquals": {"aws:SourceAccount": "6"}}),
    ]
    assert allows(statements, action="lambda:InvokeFunction", principal_service=API)
    assert not allows(statements, action="lambda:InvokeFunction", principal_service=API,
                      source_account="6")  # fmt: skip


def make_policies(tmp_path: Path) -> Policies:
    db = Database(tmp_path / "meta.sqlite")
    functions = FunctionRegistry(db)
    return Policies(db, Versions(functions, AliasStore(db)))


def test_the_document_of_the_qualifier_invoked(tmp_path: Path) -> None:
    policies = make_policies(tmp_path)
    grant = statement(Principal={"AWS": "arn:aws:iam::111111111111:root"})
    policies.put(Policy(ACCOUNT, "us-east-1", "f", "live", statements=[grant]))

    def allowed(qualifier: str | None, account: str = "111111111111") -> bool:
        return policies.allows_invoke(
            ACCOUNT, "us-east-1", "f", qualifier, principal_account=account
        )

    assert allowed("live")
    assert not allowed(None) and not allowed("$LATEST") and not allowed("1")
    assert not allowed("live", "222222222222")
    assert allowed(None, ACCOUNT)  # the function's own account needs no statement
    assert not policies.allows_invoke("000000000000", "us-west-2", "f", "live",
                                      principal_account="111111111111")  # fmt: skip


def test_function_url_needs_both_actions(tmp_path: Path) -> None:
    """AWS's model since October 2025: `lambda:InvokeFunctionUrl` with the auth type, and
    `lambda:InvokeFunction` with `lambda:InvokedViaFunctionUrl`."""
    policies = make_policies(tmp_path)
    url_statement = statement(
        Sid="url", Principal="*", Action="lambda:InvokeFunctionUrl",
        Condition={"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
    )  # fmt: skip
    invoke_statement = statement(
        Sid="invoke", Principal="*",
        Condition={"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
    )  # fmt: skip

    def public(*statements: dict[str, Any], auth: str = "NONE") -> bool:
        policies.put(Policy(ACCOUNT, "us-east-1", "f", "$LATEST", statements=list(statements)))
        return policies.allows_function_url(ACCOUNT, "us-east-1", "f", None, auth_type=auth)

    assert not public()
    assert not public(url_statement)
    assert not public(invoke_statement)
    assert public(url_statement, invoke_statement)
    assert not public(url_statement, invoke_statement, auth="AWS_IAM")
    # The invoke statement does not let a direct Invoke in.
    assert not policies.allows_invoke(ACCOUNT, "us-east-1", "f", None)
    # AWS_IAM: the function's own account needs no statement; another needs both grants.
    policies.put(Policy(ACCOUNT, "us-east-1", "f", "$LATEST"))
    assert policies.allows_function_url(
        ACCOUNT, "us-east-1", "f", None, auth_type="AWS_IAM", caller_account=ACCOUNT
    )
    assert not policies.allows_function_url(
        ACCOUNT, "us-east-1", "f", None, auth_type="AWS_IAM", caller_account="111111111111"
    )


def test_api_gateway(tmp_path: Path) -> None:
    policies = make_policies(tmp_path)
    grant = statement(Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:000000000000:abc123/*"}})  # fmt: skip
    policies.put(Policy(ACCOUNT, "us-east-1", "f", "$LATEST", statements=[grant]))
    assert policies.allows_api_gateway(ACCOUNT, "us-east-1", "f", None, source_arn=EXECUTE)
    assert not policies.allows_api_gateway(
        ACCOUNT, "us-east-1", "f", None,
        source_arn="arn:aws:execute-api:us-east-1:000000000000:other/prod/GET/items",
    )  # fmt: skip
    assert not policies.allows_api_gateway(ACCOUNT, "us-east-1", "g", None, source_arn=EXECUTE)


def test_a_policy_left_behind_by_a_crash_is_dropped(tmp_path: Path) -> None:
    """A crash between deleting a function and its policy must not let the policy open a new
    function of that name: documents of missing functions, versions or aliases go at start."""
    policies = make_policies(tmp_path)
    for qualifier in ("$LATEST", "1", "live"):
        policies.put(Policy(ACCOUNT, "us-east-1", "gone", qualifier, statements=[statement()]))
    again = make_policies(tmp_path)
    for qualifier in ("$LATEST", "1", "live"):
        assert again.get(ACCOUNT, "us-east-1", "gone", qualifier) is None
