"""The wall between accounts, tried as an attacker would: two accounts on one live server.

Account A (111111111111) and account B (222222222222) each sign with their own secret. Every
test here is a way one account once reached the other's resources, or a signer's resources
were reached by a request the signer never made (issue 11); each must fail as AWS fails it.

At a glance:
- routing: a signed request goes to the service its credential scope names;
- S3 access by other services (table imports and exports) acts as the calling account;
- Lambda destinations name only the caller's own functions;
- the server's own endpoints: code downloads need an unexpired signed URL, health tells an
  unauthenticated caller nothing, the benchmark's echo is not served.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("two-accounts"),
        env={"FIRESIDE_CREDENTIALS": credentials, "FIRESIDE_ASYNC_RETRY_DELAYS": "0.2,0.2"},
    ).start()
    yield server
    server.stop()


def client(server: Server, account: str, service: str, **kwargs: Any) -> Any:
    return server.client(
        service, aws_access_key_id=account, aws_secret_access_key=SECRETS[account], **kwargs
    )


def send(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_table(ddb: Any) -> str:
    name = new_name("t")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


# -- routing ------------------------------------------------------------------------------------


def test_presigned_s3_url_with_a_target_header_stays_in_s3(two_accounts: Server) -> None:
    """A presigned S3 URL replayed with `X-Amz-Target: DynamoDB_20120810.DeleteTable` and a
    JSON body once deleted the signer's table: the unsigned header chose the service."""
    ddb = client(two_accounts, A, "dynamodb")
    s3 = client(two_accounts, A, "s3", signature_version="s3v4")
    table = make_table(ddb)
    bucket = new_name("b")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"for anyone with the link")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=300
    )
    status, body = send(
        url,
        body=json.dumps({"TableName": table}).encode(),
        headers={
            "X-Amz-Target": "DynamoDB_20120810.DeleteTable",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    # S3 served the request it was signed for: the object, not a deleted table.
    assert (status, body) == (200, b"for anyone with the link")
    assert ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"


def test_a_signed_streams_request_still_reaches_streams(two_accounts: Server) -> None:
    """DynamoDB Streams signs as "dynamodb": its target header picks it among the two."""
    streams = client(two_accounts, A, "dynamodbstreams")
    assert "Streams" in streams.list_streams()
