"""STS and the AWS query protocol.

The wire layer is checked against botocore itself: requests from botocore's `QuerySerializer`
must parse back to the params that went in, and our XML results and errors must read back
through botocore's `QueryParser`, for every operation of STS and SNS (SNS has the maps and
nested lists STS lacks), with Hypothesis data generated from the model. Then STS against a
live server: caller identities, sessions whose credentials the server accepts, and the
not-implemented answer for the rest.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireside.aws.auth import Authenticator
from fireside.aws.errors import ServiceError
from fireside.aws.model import Shape, load_service
from fireside.aws.protocol import protocol_for
from fireside.aws.validation import compile_pattern
from fireside.http.types import Request, Response
from tests.conftest import ROLE, FunctionFactory, Server
from tests.test_auth import AKID, NOW, SECRET, sign

SERVICES = ("sts", "sns")
MODELS = {name: load_service(name) for name in SERVICES}
PROTOS = {name: protocol_for(model) for name, model in MODELS.items()}
BOTO = {name: botocore.session.get_session().get_service_model(name) for name in SERVICES}
SERIALIZER = botocore.serialize.create_serializer("query", include_validation=False)
PARSER = botocore.parsers.create_parser("query")
ALL_OPERATIONS = [(name, op) for name in SERVICES for op in MODELS[name].operation_names]

EXAMPLES = settings(
    max_examples=int(os.environ.get("FIRESIDE_WIRE_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# -- Hypothesis strategies from the model ----------------------------------------------------

TEXT = st.sampled_from(string.ascii_letters + string.digits + " -_éß日🙂\t\r\n<&>")
# Most STS patterns are one character class repeated: draw characters from that class.
CHAR_CLASS = re.compile(r"\^?(\[.+\])[+*]\$?")


def string_strategy(shape: Shape) -> st.SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(shape.enum)
    lo = int(shape.min or 0)
    hi = min(int(shape.max) if shape.max is not None else lo + 8, lo + 8)
    if not shape.pattern:
        return st.text(TEXT, min_size=lo, max_size=hi)
    single = CHAR_CLASS.fullmatch(shape.pattern)
    if single is not None:
        chars = compile_pattern(single[1])
        # Patterns Python cannot run (\p{L}) are not checked by the validator either.
        alphabet = st.from_regex(chars, fullmatch=True) if chars is not None else TEXT
        return st.text(alphabet, min_size=lo, max_size=hi)
    regex = compile_pattern(shape.pattern)
    if regex is None:
        return st.text(TEXT, min_size=lo, max_size=hi)
    return st.from_regex(regex, fullmatch=True).filter(lambda v: lo <= len(v) <= hi)


def strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    lo = int(shape.min or 0)
    if kind == "structure":
        members = shape.members
        required = {n: strategy(members[n], depth + 1) for n in shape.required}
        optional = {
            n: strategy(m, depth + 1)
            for n, m in members.items()
            if n not in shape.required and depth < 4
        }
        # An empty structure is not sent at all, so a required one would go missing.
        structures = st.fixed_dictionaries(required, optional=optional)
        return structures.filter(bool) if members and depth < 4 else structures
    if kind == "list":
        hi = min(int(shape.max) if shape.max is not None else lo + 2, lo + 2)
        return st.lists(strategy(shape.member, depth + 1), min_size=lo, max_size=hi)
    if kind == "map":
        # Like an empty structure, an empty map is not sent at all.
        lo = max(lo, 1)
        hi = min(int(shape.max) if shape.max is not None else lo + 2, lo + 2)
        return st.dictionaries(
            strategy(shape.key, depth + 1), strategy(shape.value, depth + 1), min_size=lo,
            max_size=hi,
        )  # fmt: skip
    if kind == "string":
        return string_strategy(shape)
    if kind in ("integer", "long"):
        low = int(shape.min) if shape.min is not None else -(2**31)
        high = int(shape.max) if shape.max is not None else 2**31 - 1
        return st.integers(low, high)
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(min_size=lo, max_size=max(lo, 8))
    if kind == "timestamp":
        return st.integers(0, 4_000_000_000_000_000).map(
            lambda us: datetime.fromtimestamp(us / 1_000_000, UTC)
        )
    raise AssertionError(f"no strategy for {shape!r}")


def boto_request(service: str, operation: str, params: dict[str, Any]) -> Request:
    request_dict = SERIALIZER.serialize_to_request(params, BOTO[service].operation_model(operation))
    prepare_request_dict(request_dict, "https://sts.amazonaws.com")
    prepared = create_request_object(request_dict).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    return Request(prepared.method, "/", "", headers, body)


def boto_parse(service: str, operation: str, response: Response) -> dict[str, Any]:
    raw = {
        "status_code": response.status,
        "headers": HeadersDict(response.headers),
        "body": response.body,
    }
    parsed: dict[str, Any] = PARSER.parse(
        raw, BOTO[service].operation_model(operation).output_shape
    )
    return parsed


NOTHING = object()


def sent(shape: Shape, value: Any) -> Any:
    """What survives the query serializer: nothing is written for an empty structure or map
    (nor for a list of such), and an empty list is written as `Name=`."""
    if shape.type_name == "structure":
        out = {}
        for name, item in value.items():
            kept = sent(shape.members[name], item)
            if kept is not NOTHING:
                out[name] = kept
        return out or NOTHING
    if shape.type_name == "list":
        items = [sent(shape.member, item) for item in value]
        kept = [item for item in items if item is not NOTHING]
        return kept if kept or not items else NOTHING
    if shape.type_name == "map":
        return {k: sent(shape.value, v) for k, v in value.items()} or NOTHING
    return value


def sent_params(shape: Shape | None, params: dict[str, Any]) -> Any:
    kept = sent(shape, params) if shape is not None else {}
    return {} if kept is NOTHING else kept


def received(shape: Shape, value: Any) -> Any:
    """What botocore reads back from XML: flattened empty lists and maps leave no element."""
    if shape.type_name == "structure":
        out = {}
        for name, item in value.items():
            member = shape.members[name]
            if member.flattened and not item:
                continue
            out[name] = received(member, item)
        return out
    if shape.type_name == "list":
        return [received(shape.member, item) for item in value]
    if shape.type_name == "map":
        return {k: received(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        return value.timestamp()
    return value


def timestamps_as_epoch(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: timestamps_as_epoch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [timestamps_as_epoch(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


# -- the protocol against botocore -----------------------------------------------------------


@pytest.mark.parametrize(("service", "operation"), ALL_OPERATIONS)
@EXAMPLES
@given(data=st.data())
def test_every_input_round_trips(service: str, operation: str, data: st.DataObject) -> None:
    proto = PROTOS[service]
    shape = proto.service.operation(operation).input
    params = data.draw(strategy(shape)) if shape is not None else {}
    parsed = proto.parse(boto_request(service, operation, params))
    assert parsed.operation_name == operation
    assert parsed.params == sent_params(shape, params)


@pytest.mark.parametrize(("service", "operation"), ALL_OPERATIONS)
@EXAMPLES
@given(data=st.data())
def test_every_output_round_trips(service: str, operation: str, data: st.DataObject) -> None:
    proto = PROTOS[service]
    shape = proto.service.operation(operation).output
    result = data.draw(strategy(shape)) if shape is not None else {}
    response = proto.serialize_result(operation, result, "req-1")
    assert response.status == 200
    assert dict(response.headers)["Content-Type"] == "text/xml"
    parsed = boto_parse(service, operation, response)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    expected = received(shape, result) if shape is not None else {}
    assert timestamps_as_epoch(parsed) == expected


STS = PROTOS["sts"]


def form(body: str, method: str = "POST") -> Request:
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    if method == "GET":
        return Request("GET", "/", body, {})
    return Request(method, "/", "", headers, body.encode())


def parse_error(request: Request) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        STS.parse(request)
    return caught.value


def test_get_with_query_string_is_a_call() -> None:
    parsed = STS.parse(form("Action=GetCallerIdentity&Version=2011-06-15", "GET"))
    assert (parsed.operation_name, parsed.params) == ("GetCallerIdentity", {})


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("Version=2011-06-15", "MissingAction", "Missing Action"),
        (
            "Action=Frobnicate&Version=2011-06-15",
            "InvalidAction",
            "Could not find operation Frobnicate for version 2011-06-15",
        ),
        (
            "Action=GetCallerIdentity&Version=2010-01-01",
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version 2010-01-01",
        ),
        (
            "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=soon",
            "InvalidParameterValue",
            "Invalid value for parameter DurationSeconds: 'soon' is not an integer",
        ),
        (
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/r"
            "&RoleSessionName=s&Tags.member.x.Key=a",
            "InvalidParameterValue",
            "Invalid value for parameter Tags.member.x: 'x' is not a list index (1, 2, ...)",
        ),
    ],
)
def test_bad_requests(body: str, code: str, message: str) -> None:
    error = parse_error(form(body))
    assert (error.code, error.message, error.status) == (code, message, 400)


def test_constraint_violations_are_validation_errors() -> None:
    error = parse_error(form("Action=GetSessionToken&Version=2011-06-15&DurationSeconds=5"))
    assert error.code == "ValidationError"
    assert error.message == (
        "1 validation error detected: Value '5' at 'durationSeconds' failed to satisfy "
        "constraint: Member must have value greater than or equal to 900"
    )


def error_round_trip(error: ServiceError) -> dict[str, Any]:
    response = STS.serialize_error(error, "req-9")
    assert response.status == error.status
    assert response.body.startswith(b"<ErrorResponse")
    return boto_parse("sts", "AssumeRole", response)


def test_modelled_errors_use_the_model_code() -> None:
    parsed = error_round_trip(ServiceError("MalformedPolicyDocumentException", "bad policy"))
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "MalformedPolicyDocument",
        "Message": "bad policy",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_coral_errors_use_query_codes_and_server_faults_say_receiver() -> None:
    parsed = error_round_trip(ServiceError("ValidationException", "nope <&>"))
    assert parsed["Error"]["Code"] == "ValidationError"
    assert parsed["Error"]["Message"] == "nope <&>"
    bug = ServiceError("ServiceException", "boom", 500, sender_fault=False)
    assert error_round_trip(bug)["Error"]["Type"] == "Receiver"


def test_protocol_for_picks_query() -> None:
    assert type(STS).__name__ == "QueryProtocol"


# -- STS against a live server ---------------------------------------------------------------


@pytest.fixture()
def sts(server: Server) -> Any:
    return server.client("sts")


def test_caller_identity_of_a_configured_key_is_the_account_root(server: Server) -> None:
    assert server.client("sts").get_caller_identity()["Account"] == "000000000000"
    who = server.client("sts", aws_access_key_id="123456789012").get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == (
        "123456789012",
        "arn:aws:iam::123456789012:root",
        "123456789012",
    )


def test_unimplemented_operations_say_so(sts: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sts.get_access_key_info(AccessKeyId="AKIAIOSFODNN7EXAMPLE")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Error"]["Code"] == "NotImplementedException"
    assert error["Error"]["Message"] == (
        "Fireside does not implement the STS operation GetAccessKeyInfo yet"
    )


def test_malformed_role_arns_are_invalid(server: Server) -> None:
    """AWS's recorded answers (LocalStack's AWS-validated test_sts_invalid_parameters)."""
    sts = server.client("sts")
    for arn in (
        "arn::b:::something/test-role",
        "arn:a::::something/test-role",
        "arn:a:::something/test-role",
        "arn:a:a::aaaaaaaaaa:",
        "nothing-valid-in-here",
    ):
        with pytest.raises(ClientError) as caught:
            sts.assume_role(RoleArn=arn, RoleSessionName="session")
        assert caught.value.response["Error"] == {
            "Type": "Sender",
            "Code": "ValidationError",
            "Message": f"{arn} is invalid",
        }
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/r", RoleSessionName="Session1:2")
    assert caught.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    )


def test_function_sees_its_execution_role(make_function: FunctionFactory, lam: Any) -> None:
    name = make_function(
        "import boto3\n"
        "def handler(event, context):\n"
        "    return boto3.client('sts').get_caller_identity()\n",
        Timeout=30,
    )
    out = lam.invoke(FunctionName=name)
    payload = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, payload
    assert payload["Account"] == "000000000000"
    role_name = ROLE.rpartition("/")[2]
    assert payload["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{role_name}/{name}"
    assert payload["UserId"].startswith("AROA") and payload["UserId"].endswith(f":{name}")


CREDENTIALS = "111122223333:root-secret,444455556666:other-secret"


@pytest.fixture()
def strict_server(fresh_server: Callable[..., Server]) -> Server:
    """A server that verifies signatures (two accounts' keys)."""
    return fresh_server(FIRESIDE_CREDENTIALS=CREDENTIALS)


def client_of(srv: Server, service: str, credentials: dict[str, Any]) -> Any:
    """A client signing with temporary credentials (session token included)."""
    return boto3.client(
        service,
        endpoint_url=srv.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"max_attempts": 1}),
    )


def test_assume_role_credentials_are_accepted(strict_server: Server) -> None:
    root = strict_server.client(
        "sts", aws_access_key_id="111122223333", aws_secret_access_key="root-secret"
    )
    role = "arn:aws:iam::111122223333:role/app/deployer"
    out = root.assume_role(RoleArn=role, RoleSessionName="ci-run", DurationSeconds=900)
    credentials = out["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    lifetime = credentials["Expiration"].timestamp() - datetime.now(UTC).timestamp()
    assert 880 < lifetime <= 901
    arn = "arn:aws:sts::111122223333:assumed-role/deployer/ci-run"
    assert out["AssumedRoleUser"]["Arn"] == arn
    session = client_of(strict_server, "sts", credentials)
    who = session.get_caller_identity()
    assert (who["Account"], who["Arn"]) == ("111122223333", arn)
    assert who["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    assert who["UserId"].startswith("AROA") and who["UserId"].endswith(":ci-run")
    # The session works for the other services too, in the role's account.
    client_of(strict_server, "dynamodb", credentials).list_tables()
    # Role chaining is capped at an hour, as on AWS.
    with pytest.raises(ClientError) as caught:
        session.assume_role(RoleArn=role, RoleSessionName="again", DurationSeconds=7200)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    # A wrong secret for the session key is still refused.
    forged = dict(credentials, SecretAccessKey="not-the-secret")
    with pytest.raises(ClientError) as caught:
        client_of(strict_server, "sts", forged).get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_assume_role_of_another_account_is_denied(strict_server: Server) -> None:
    root = strict_server.client(
        "sts", aws_access_key_id="111122223333", aws_secret_access_key="root-secret"
    )
    role = "arn:aws:iam::444455556666:role/theirs"
    with pytest.raises(ClientError) as caught:
        root.assume_role(RoleArn=role, RoleSessionName="s1")
    assert caught.value.response["Error"] == {
        "Type": "Sender",
        "Code": "AccessDenied",
        "Message": "User: arn:aws:iam::111122223333:root is not authorized to perform: "
        f"sts:AssumeRole on resource: {role}",
    }
    with pytest.raises(ClientError) as caught:
        root.assume_role(RoleArn="arn:aws:iam::111122223333:user/bob", RoleSessionName="s1")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        root.assume_role(
            RoleArn="arn:aws:iam::111122223333:role/r", RoleSessionName="s1", Policy="{not json"
        )
    assert caught.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_session_token(strict_server: Server) -> None:
    root = strict_server.client(
        "sts", aws_access_key_id="444455556666", aws_secret_access_key="other-secret"
    )
    credentials = root.get_session_token()["Credentials"]
    # The root's sessions last an hour at most, whatever was asked.
    lifetime = credentials["Expiration"].timestamp() - datetime.now(UTC).timestamp()
    assert 3580 < lifetime <= 3601
    session = client_of(strict_server, "sts", credentials)
    assert session.get_caller_identity()["Arn"] == "arn:aws:iam::444455556666:root"
    with pytest.raises(ClientError) as caught:
        session.get_session_token()
    assert caught.value.response["Error"]["Message"] == (
        "Cannot call GetSessionToken with session credentials"
    )


def test_sessions_expire() -> None:
    now = [NOW]
    auth = Authenticator({AKID: SECRET}, clock=lambda: now[0])
    auth.add_temporary("ASIATEMPORARY", "temp-secret", "111122223333", expires=NOW + 60)
    request = sign(key="ASIATEMPORARY", secret="temp-secret")
    assert auth.authenticate(request).account_id == "111122223333"
    assert auth.identity("ASIATEMPORARY", "111122223333").arn == "arn:aws:iam::111122223333:root"
    now[0] = NOW + 60
    with pytest.raises(ServiceError) as caught:
        auth.authenticate(request)
    assert (caught.value.code, caught.value.message) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )
