"""Tests for `fireside.aws.auth` (SigV4 verification) and `fireside.aws.credentials`.

Requests are signed by botocore itself (`SigV4Auth`, `SigV4QueryAuth`), then turned into the
`Request` an HTTP server would see: the raw path and query split from the URL as sent, header
names in lower case, the `Host` header the HTTP client adds. One test goes further and runs real
boto3 clients against a local HTTP server, so nothing about the wire form is assumed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import quote, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.utils import percent_encode_sequence
from hypothesis import given, settings
from hypothesis import strategies as st

from fireside.aws.auth import (
    DEFAULT_ACCOUNT,
    Authenticator,
    Caller,
    account_for_access_key,
)
from fireside.aws.credentials import parse_credentials_env
from fireside.aws.errors import ServiceError
from fireside.http.types import Request

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENDPOINT = "http://localhost:4566"
SIGNED_AT = datetime(2026, 11, 26, 0, 0, 0, tzinfo=UTC)
NOW = SIGNED_AT.timestamp()
INVOKE_PATH = (
    "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ax/invocations"
)


# -- helpers ----------------------------------------------------------------------------------


def strict(clock: float = NOW, extra: Mapping[str, str] | None = None) -> Authenticator:
    """An authenticator that requires signatures by AKID (plus any `extra` keys)."""
    return Authenticator({AKID: SECRET, **(extra or {})}, clock=lambda: clock)


def to_wire(prepared: Any) -> Request:
    """botocore's prepared request as our HTTP server hands it over."""
    parts = urlsplit(prepared.url)
    headers: dict[str, str] = {}
    for name, value in prepared.headers.items():
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        headers[name.lower()] = text
    # The HTTP client adds Host; botocore signs the same value (the port when not default).
    headers.setdefault("host", parts.netloc)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return Request(prepared.method, parts.path or "/", parts.query, headers, body)


def _aws_request(
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str] | None,
    params: Sequence[tuple[str, str]] | None,
) -> AWSRequest:
    return AWSRequest(
        method=method,
        url=ENDPOINT + path,
        data=body,
        headers=dict(headers or {}),
        params=list(params or []),
    )


def _signing_time() -> Any:
    """Freeze botocore's signing clock at SIGNED_AT (it wants a naive UTC datetime)."""
    return mock.patch.object(
        botocore.auth,
        "get_current_datetime",
        lambda remove_tzinfo=True: SIGNED_AT.replace(tzinfo=None),
    )


def sign(
    method: str = "GET",
    path: str = "/2015-03-31/functions/",
    *,
    service: str = "lambda",
    region: str = "us-east-1",
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    params: Sequence[tuple[str, str]] | None = None,
    key: str = AKID,
    secret: str = SECRET,
    token: str | None = None,
) -> Request:
    """A request signed in the Authorization header by botocore's SigV4Auth at SIGNED_AT."""
    request = _aws_request(method, path, body, headers, params)
    with _signing_time():
        SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    return to_wire(request.prepare())


def presign(
    path: str = "/2015-03-31/functions/",
    *,
    method: str = "GET",
    service: str = "lambda",
    region: str = "us-east-1",
    params: Sequence[tuple[str, str]] | None = None,
    expires: int = 300,
    token: str | None = None,
    signer: type[SigV4QueryAuth] = SigV4QueryAuth,
) -> Request:
    """A presigned URL made by botocore's SigV4QueryAuth at SIGNED_AT."""
    request = _aws_request(method, path, b"", None, params)
    with _signing_time():
        signer(Credentials(AKID, SECRET, token), service, region, expires=expires).add_auth(request)
    return to_wire(request.prepare())


def error_of(authenticator: Authenticator, request: Request) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        authenticator.authenticate(request)
    return caught.value


# -- accepted signatures ------------------------------------------------------------------------

ACCEPTED: dict[str, dict[str, Any]] = {
    "lambda list, no query": {},
    "query in the URL (as botocore clients send it)": {
        "path": "/2015-03-31/functions/?"
        + percent_encode_sequence({"MaxItems": "10", "Marker": "a b/c+d~é*"})
    },
    "query from params (spaces sent as +), repeated keys, empty value": {
        "params": [("Marker", "a b+c/é~*"), ("tag", "2"), ("tag", "1"), ("empty", "")]
    },
    "raw query with a bare key and unsorted repeats": {
        "path": "/2015-03-31/tags/x?b=2&a=&a=1&flag"
    },
    "invoke: encoded ARN path and a JSON body": {
        "method": "POST",
        "path": INVOKE_PATH,
        "body": b'{"hello": "world", "n": [1, 2, 3]}',
        "headers": {"Content-Type": "application/json", "X-Amz-Invocation-Type": "Event"},
    },
    "dynamodb json protocol": {
        "method": "POST",
        "path": "/",
        "service": "dynamodb",
        "region": "eu-west-1",
        "body": b'{"TableName": "t"}',
        "headers": {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
        },
    },
    "session token": {"token": "FQoGZXIvYXdzEJr//////////wEaDM+session/token=="},
    "dot segments and double slashes": {"path": "/2015-03-31/functions//x/./y/../invocations"},
    "percent-encoded UTF-8 and reserved characters in the path": {
        "path": "/caf%C3%A9/a%2Fb/%20sp%25ace~"
    },
    "header value with runs of whitespace": {"headers": {"X-Amz-Meta-Note": "  a   b\t c  "}},
    "Date header instead of X-Amz-Date": {"headers": {"Date": "placeholder, set by botocore"}},
    "declared payload hash": {
        "method": "PUT",
        "body": b"payload",
        "headers": {"X-Amz-Content-SHA256": sha256(b"payload").hexdigest()},
    },
    "declared UNSIGNED-PAYLOAD": {
        "method": "PUT",
        "body": b"payload",
        "headers": {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    },
}


@pytest.mark.parametrize("case", ACCEPTED.values(), ids=list(ACCEPTED))
def test_accepts_requests_signed_by_botocore(case: dict[str, Any]) -> None:
    request = sign(**case)
    caller = strict().authenticate(request)
    assert caller == Caller(
        access_key_id=AKID,
        account_id=DEFAULT_ACCOUNT,
        region=case.get("region", "us-east-1"),
        service=case.get("service", "lambda"),
        signed=True,
    )


def test_date_header_fallback_really_has_no_x_amz_date() -> None:
    request = sign(headers={"Date": "x"})
    assert "x-amz-date" not in request.headers
    assert request.headers["date"].endswith("-0000")
    assert strict().authenticate(request).signed


def test_headers_added_after_signing_are_ignored() -> None:
    request = sign("POST", INVOKE_PATH, body=b"{}")
    request.headers["user-agent"] = "curl/8"
    request.headers["expect"] = "100-continue"
    assert strict().authenticate(request).signed


def test_time_within_five_minutes_either_way_is_accepted() -> None:
    request = sign()
    for offset in (-300, -1, 0, 1, 300):
        assert strict(NOW + offset).authenticate(request).signed


def test_twelve_digit_access_key_is_the_account() -> None:
    request = sign(key="123456789012", secret="s3cr3t")
    caller = strict(extra={"123456789012": "s3cr3t"}).authenticate(request)
    assert caller.account_id == "123456789012"
    assert caller.access_key_id == "123456789012"


def test_signing_keys_are_derived_per_region_and_service() -> None:
    authenticator = strict()
    for service, region in [
        ("lambda", "us-east-1"),
        ("dynamodb", "us-east-1"),
        ("lambda", "ap-south-1"),
    ]:
        caller = authenticator.authenticate(sign(service=service, region=region))
        assert (caller.service, caller.region) == (service, region)


# -- presigned URLs -----------------------------------------------------------------------------


def test_presigned_url_is_accepted() -> None:
    request = presign(params=[("MaxItems", "5"), ("Marker", "a b/é")])
    assert "authorization" not in request.headers
    assert "X-Amz-Signature=" in request.query
    caller = strict(NOW + 200).authenticate(request)
    assert caller == Caller(AKID, DEFAULT_ACCOUNT, "us-east-1", "lambda", True)


def test_presigned_url_with_session_token_and_unsigned_payload_style() -> None:
    assert strict().authenticate(presign(token="session-token")).signed
    # S3-style presigners sign UNSIGNED-PAYLOAD instead of the (empty) body's hash.
    request = presign(signer=S3SigV4QueryAuth)
    assert strict().authenticate(request).signed


def test_presigned_url_expires() -> None:
    request = presign(expires=300)
    assert strict(NOW + 300).authenticate(request).signed
    error = error_of(strict(NOW + 301), request)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert "X-Amz-Expires" in error.message
    assert "20261126T000500Z" in error.message  # the moment it expired
    # A long-lived URL is still good long after the 5-minute skew window.
    assert strict(NOW + 3000).authenticate(presign(expires=3600)).signed


def test_presigned_url_from_the_future_is_rejected() -> None:
    error = error_of(strict(NOW - 301), presign())
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("Signature not yet current: 20261126T000000Z")


def test_presigned_url_longer_than_a_week_is_malformed() -> None:
    error = error_of(strict(), presign(expires=604801))
    assert error.code == "IncompleteSignatureException"
    assert "604800" in error.message


def test_tampered_presigned_url_is_rejected() -> None:
    request = presign(params=[("MaxItems", "5")])
    request.query = request.query.replace("MaxItems=5", "MaxItems=50")
    assert error_of(strict(), request).code == "InvalidSignatureException"


def test_presigned_url_missing_a_parameter_is_malformed() -> None:
    request = presign()
    request.query = "&".join(
        part for part in request.query.split("&") if not part.startswith("X-Amz-Date=")
    )
    error = error_of(strict(), request)
    assert error.code == "IncompleteSignatureException"
    assert "'X-Amz-Date'" in error.message


def test_header_and_query_auth_together_are_malformed() -> None:
    request = presign()
    request.headers["authorization"] = sign().headers["authorization"]
    assert error_of(strict(), request).code == "IncompleteSignatureException"


# -- rejected signatures ------------------------------------------------------------------------

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def test_wrong_secret_is_an_invalid_signature() -> None:
    error = error_of(strict(), sign(secret="not-the-secret"))
    assert (error.code, error.message, error.status) == ("InvalidSignatureException", MISMATCH, 403)


def _tamper_body(request: Request) -> None:
    request.body = b'{"hello": "World"}'


def _tamper_path(request: Request) -> None:
    request.path = request.path.replace("function%3Ax", "function%3Ay")


def _tamper_query(request: Request) -> None:
    request.query = "Qualifier=2"


def _tamper_header(request: Request) -> None:
    request.headers["x-amz-invocation-type"] = "RequestResponse"


def _tamper_method(request: Request) -> None:
    request.method = "PUT"


def _tamper_host(request: Request) -> None:
    request.headers["host"] = "evil.example:4566"


@pytest.mark.parametrize(
    "tamper",
    [_tamper_body, _tamper_path, _tamper_query, _tamper_header, _tamper_method, _tamper_host],
)
def test_tampered_request_is_an_invalid_signature(tamper: Any) -> None:
    request = sign(
        "POST",
        INVOKE_PATH + "?Qualifier=1",
        body=b'{"hello": "world"}',
        headers={"X-Amz-Invocation-Type": "Event"},
    )
    strict().authenticate(request)
    tamper(request)
    error = error_of(strict(), request)
    assert (error.code, error.message) == ("InvalidSignatureException", MISMATCH)


def test_dropped_signed_header_is_an_invalid_signature() -> None:
    request = sign(service="dynamodb", headers={"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    del request.headers["x-amz-target"]
    assert error_of(strict(), request).code == "InvalidSignatureException"


def test_body_not_matching_declared_hash_is_rejected() -> None:
    request = sign(
        "PUT", body=b"payload", headers={"X-Amz-Content-SHA256": sha256(b"payload").hexdigest()}
    )
    request.body = b"tampered"
    error = error_of(strict(), request)
    assert error.code == "XAmzContentSHA256Mismatch"


def test_unknown_access_key_is_unrecognized() -> None:
    error = error_of(strict(), sign(key="AKIDUNKNOWN", secret="whatever"))
    assert (error.code, error.status) == ("UnrecognizedClientException", 403)
    assert error.message == "The security token included in the request is invalid."


def test_unsigned_request_is_missing_a_token() -> None:
    request = Request("GET", "/2015-03-31/functions/", "", {"host": "localhost:4566"})
    error = error_of(strict(), request)
    assert (error.code, error.message, error.status) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
        403,
    )


def test_expired_signature_uses_aws_wording() -> None:
    error = error_of(strict(NOW + 600), sign())
    assert error.code == "InvalidSignatureException"
    assert error.message == (
        "Signature expired: 20261126T000000Z is now earlier than 20261126T000500Z "
        "(20261126T001000Z - 5 min.)"
    )


def test_signature_from_the_future_uses_aws_wording() -> None:
    error = error_of(strict(NOW - 600), sign())
    assert error.message == (
        "Signature not yet current: 20261126T000000Z is still later than 20261125T235500Z "
        "(20261125T235000Z + 5 min.)"
    )


def test_credential_scope_date_must_match_request_date() -> None:
    request = sign()
    request.headers["x-amz-date"] = "20261127T000000Z"
    error = error_of(strict(), request)
    assert error.code == "InvalidSignatureException"
    assert "Date in Credential scope does not match" in error.message


def test_host_must_be_signed() -> None:
    request = sign()
    authorization = request.headers["authorization"]
    request.headers["authorization"] = authorization.replace(
        "SignedHeaders=host;", "SignedHeaders="
    )
    assert "host" not in request.headers["authorization"]
    assert error_of(strict(), request).code == "IncompleteSignatureException"


GARBAGE = {
    "garbage": "garbage",
    "bearer token": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc=",
    "no key=value": "AWS4-HMAC-SHA256 garbage",
    "missing signature": f"AWS4-HMAC-SHA256 Credential={AKID}/20261126/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date",
    "wrong algorithm": f"AWS4-HMAC-SHA512 Credential={AKID}/20261126/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
    "short credential": "AWS4-HMAC-SHA256 Credential=AKID/20261126/lambda, SignedHeaders=host, Signature=abc",
    "bad terminator": f"AWS4-HMAC-SHA256 Credential={AKID}/20261126/us-east-1/lambda/aws5_request, SignedHeaders=host, Signature=abc",
    "bad scope date": f"AWS4-HMAC-SHA256 Credential={AKID}/2026-11-26/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=abc",
}


@pytest.mark.parametrize("authorization", GARBAGE.values(), ids=list(GARBAGE))
@pytest.mark.parametrize("configured", [True, False], ids=["strict", "open"])
def test_malformed_authorization_is_an_incomplete_signature(
    authorization: str, configured: bool
) -> None:
    headers = {"host": "localhost:4566", "x-amz-date": "20261126T000000Z"}
    request = Request("GET", "/", "", {**headers, "authorization": authorization})
    authenticator = strict() if configured else Authenticator({})
    error = error_of(authenticator, request)
    assert (error.code, error.status) == ("IncompleteSignatureException", 403)


def test_incomplete_message_lists_what_is_missing() -> None:
    request = Request("GET", "/", "", {"host": "h", "authorization": "garbage"})
    message = error_of(strict(), request).message
    for part in ("'Credential'", "'Signature'", "'SignedHeaders'", "'X-Amz-Date' or a 'Date'"):
        assert part in message
    assert message.endswith("Authorization=garbage")


def test_malformed_date_is_an_incomplete_signature() -> None:
    request = sign()
    request.headers["x-amz-date"] = "2026-11-26T00:00:00Z"
    error = error_of(strict(), request)
    assert error.code == "IncompleteSignatureException"
    assert "ISO-8601" in error.message


# -- no credentials configured ------------------------------------------------------------------


def test_open_server_accepts_unsigned_requests() -> None:
    request = Request("GET", "/", "", {"host": "localhost:4566"})
    assert Authenticator({}).authenticate(request) == Caller(
        "", DEFAULT_ACCOUNT, "us-east-1", None, False
    )
    assert Authenticator({}, default_region="eu-central-1").authenticate(request).region == (
        "eu-central-1"
    )


def test_open_server_accepts_any_signature_without_checking_it() -> None:
    open_server = Authenticator({}, clock=lambda: NOW + 86400)  # a day of skew, too
    request = sign(key="123456789012", secret="anything", service="dynamodb", region="eu-west-3")
    request.body = b"tampered"
    assert open_server.authenticate(request) == Caller(
        "123456789012", "123456789012", "eu-west-3", "dynamodb", True
    )
    assert open_server.authenticate(presign(expires=1)).signed


# -- account_for_access_key and FIRESIDE_CREDENTIALS ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "account"),
    [
        ("123456789012", "123456789012"),
        ("000000000000", "000000000000"),
        (AKID, DEFAULT_ACCOUNT),
        ("12345678901", DEFAULT_ACCOUNT),
        ("1234567890123", DEFAULT_ACCOUNT),
        ("\uff11" * 12, DEFAULT_ACCOUNT),  # full-width digits are not an account
        ("", DEFAULT_ACCOUNT),
    ],
)
def test_account_for_access_key(key: str, account: str) -> None:
    assert account_for_access_key(key) == account


def test_parse_credentials_env() -> None:
    assert parse_credentials_env("AKID1:SECRET1,AKID2:SECRET2") == {
        "AKID1": "SECRET1",
        "AKID2": "SECRET2",
    }
    assert parse_credentials_env(" AKID1 : a/b+c= , 123456789012:x:y ") == {
        "AKID1": "a/b+c=",
        "123456789012": "x:y",
    }
    assert parse_credentials_env("") == {}
    assert parse_credentials_env("   ") == {}


@pytest.mark.parametrize(
    "value",
    [
        "AKID1",
        "AKID1:hush1,",
        "AKID1:hush1,,AKID2:hush2",
        ":hush1",
        "AKID1:",
        "AK/ID:hush1",
        "AK ID:hush1",
        "AKID1:hu sh1",
        "AKID1:hush1,AKID1:hush2",
        "hush1",
    ],
)
def test_parse_credentials_env_rejects_bad_syntax(value: str) -> None:
    with pytest.raises(ValueError, match="FIRESIDE_CREDENTIALS entry") as caught:
        parse_credentials_env(value)
    # Secrets end up in logs if echoed; errors name entries by number and key only.
    assert "hush" not in str(caught.value)


# -- properties ---------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    segments=st.lists(_text.filter(bool), max_size=4),
    params=st.lists(st.tuples(_text, _text), max_size=5),
    in_url=st.booleans(),
    body=st.binary(max_size=64),
)
def test_any_botocore_signed_request_is_accepted(
    segments: list[str], params: list[tuple[str, str]], in_url: bool, body: bytes
) -> None:
    path = "/" + "/".join(quote(segment, safe="") for segment in segments)
    if in_url and params:
        # What botocore clients do: the query is percent-encoded into the URL before signing.
        request = sign("POST", f"{path}?{percent_encode_sequence(params)}", body=body)
    else:
        request = sign("POST", path, params=params, body=body)
    assert strict().authenticate(request).signed


# -- real boto3 clients over HTTP -----------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Authenticates whatever arrives exactly as sent; answers 200 `{}` or the AWS error."""

    authenticator: Authenticator
    callers: list[Caller]

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        body = self.rfile.read(int(headers.get("content-length", "0")))
        request = Request(self.command, path, query, headers, body)
        try:
            self.callers.append(self.authenticator.authenticate(request))
        except ServiceError as error:
            payload = json.dumps({"__type": error.code, "message": error.message}).encode()
            self.send_response(error.status)
            self.send_header("x-amzn-ErrorType", error.code)
        else:
            payload = b"{}"
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    # Real clients sign with the real time, so this server uses the real clock.
    attributes = {"authenticator": Authenticator({AKID: SECRET}), "callers": []}
    handler = type("Handler", (_Recorder,), attributes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _client(service: str, endpoint: str, secret: str = SECRET) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=AKID, aws_secret_access_key=secret, region_name="us-east-1"
    )
    config = Config(retries={"total_max_attempts": 1})
    return session.client(service, endpoint_url=endpoint, config=config)


def test_real_boto3_clients_are_accepted_over_http(
    recorder: tuple[str, type[_Recorder]],
) -> None:
    endpoint, handler = recorder
    lam = _client("lambda", endpoint)
    dynamodb = _client("dynamodb", endpoint)
    impostor = _client("lambda", endpoint, secret="wrong")
    arn = "arn:aws:lambda:us-east-1:000000000000:function:x"
    try:
        lam.get_function(FunctionName=arn, Qualifier="$LATEST")
        lam.list_functions(MaxItems=5, Marker="a b/c+d=é")
        lam.invoke(FunctionName=arn, Payload=b'{"k": "v w"}')
        dynamodb.list_tables(Limit=3)
        with pytest.raises(ClientError) as caught:
            impostor.list_functions()
    finally:
        for client in (lam, dynamodb, impostor):
            client.close()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert [caller.service for caller in handler.callers] == [
        "lambda",
        "lambda",
        "lambda",
        "dynamodb",
    ]
