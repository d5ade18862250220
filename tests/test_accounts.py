"""The wall between accounts, tried as an attacker would: two accounts on one live server.

Account A (111111111111) and account B (222222222222) each sign with their own secret. Every
test here is a way one account once reached the other's resources, or a signer's resources
were reached by a request the signer never made (issue 11); each must fail as AWS fails it.

At a glance:
- routing: a signed request goes to the service its credential scope names;
- S3 access by other services (table imports and exports) acts as the calling account;
- Lambda destinations name the caller's own functions, or another account's whose resource
  policy grants the caller `lambda:InvokeFunction` (AddPermission), as on AWS; so does Invoke;
- the server's own endpoints: code downloads need an unexpired signed URL, health tells an
  unauthenticated caller nothing, the benchmark's echo is not served.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from fireside.compute.code_links import LINK_LIFETIME, CodeLinks
from tests.conftest import Server, python_zip

A = "111111111111"
B = "222222222222"
C = "333333333333"
SECRETS = {A: "secret-of-a", B: "secret-of-b", C: "secret-of-c"}


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


def table_definition(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def make_table(ddb: Any) -> str:
    name = new_name("t")
    ddb.create_table(**table_definition(name))
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


# -- S3 reached by other services ---------------------------------------------------------------


def wait_for(read: Any, status_key: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = read()
        if description[status_key] != "IN_PROGRESS" or time.monotonic() > deadline:
            return description
        time.sleep(0.05)


def test_import_cannot_read_another_accounts_bucket(two_accounts: Server) -> None:
    """A imported B's private CSV into a table of its own and scanned it."""
    s3_b = client(two_accounts, B, "s3")
    private = new_name("private")
    s3_b.create_bucket(Bucket=private)
    s3_b.put_object(Bucket=private, Key="people.csv", Body=b"pk,secret\nalice,hunter2\n")
    ddb_a = client(two_accounts, A, "dynamodb")
    table = new_name("stolen")
    arn = ddb_a.import_table(
        S3BucketSource={"S3Bucket": private},
        InputFormat="CSV",
        TableCreationParameters=table_definition(table),
    )["ImportTableDescription"]["ImportArn"]
    done = wait_for(
        lambda: ddb_a.describe_import(ImportArn=arn)["ImportTableDescription"], "ImportStatus"
    )
    assert done["ImportStatus"] == "FAILED"
    assert done["FailureCode"] == "S3AccessDenied"
    assert "Access Denied" in done["FailureMessage"]
    assert table not in ddb_a.list_tables()["TableNames"]  # no table, as for a missing bucket
    # B's own import of the same object works: the check is about who asks.
    ddb_b = client(two_accounts, B, "dynamodb")
    arn_b = ddb_b.import_table(
        S3BucketSource={"S3Bucket": private},
        InputFormat="CSV",
        TableCreationParameters=table_definition(table),
    )["ImportTableDescription"]["ImportArn"]
    done_b = wait_for(
        lambda: ddb_b.describe_import(ImportArn=arn_b)["ImportTableDescription"], "ImportStatus"
    )
    assert done_b["ImportStatus"] == "COMPLETED", done_b


def test_export_cannot_write_into_another_accounts_bucket(two_accounts: Server) -> None:
    """A exported its table into B's bucket under a prefix A chose."""
    s3_b = client(two_accounts, B, "s3")
    victim = new_name("victim")
    s3_b.create_bucket(Bucket=victim)
    ddb_a = client(two_accounts, A, "dynamodb")
    table = make_table(ddb_a)
    ddb_a.put_item(TableName=table, Item={"pk": {"S": "planted"}})
    ddb_a.update_continuous_backups(
        TableName=table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    table_arn = ddb_a.describe_table(TableName=table)["Table"]["TableArn"]
    arn = ddb_a.export_table_to_point_in_time(
        TableArn=table_arn, S3Bucket=victim, S3Prefix="planted-by-a"
    )["ExportDescription"]["ExportArn"]
    done = wait_for(
        lambda: ddb_a.describe_export(ExportArn=arn)["ExportDescription"], "ExportStatus"
    )
    assert done["ExportStatus"] == "FAILED"
    assert done["FailureCode"] == "S3AccessDenied"
    assert s3_b.list_objects_v2(Bucket=victim)["KeyCount"] == 0
    # Into A's own bucket, the same export completes.
    s3_a = client(two_accounts, A, "s3")
    own = new_name("own")
    s3_a.create_bucket(Bucket=own)
    arn = ddb_a.export_table_to_point_in_time(TableArn=table_arn, S3Bucket=own)[
        "ExportDescription"
    ]["ExportArn"]
    done = wait_for(
        lambda: ddb_a.describe_export(ExportArn=arn)["ExportDescription"], "ExportStatus"
    )
    assert done["ExportStatus"] == "COMPLETED", done


# -- Lambda destinations --------------------------------------------------------------------------

SINK = "def handler(e, c):\n    print('RAN', flush=True)\n"


def make_function(lam: Any, account: str, source: str = SINK) -> str:
    name = new_name("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=f"arn:aws:iam::{account}:role/r",
        Code={"ZipFile": python_zip(source)},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    return name


def test_destination_in_another_account_is_refused_alike_whether_it_exists(
    two_accounts: Server,
) -> None:
    """A made B's function run with a payload A chose, and learnt from the error wording
    whether a function name exists in B."""
    lam_a = client(two_accounts, A, "lambda")
    lam_b = client(two_accounts, B, "lambda")
    source = make_function(lam_a, A)
    victim = make_function(lam_b, B)
    messages = []
    for name in (victim, "no-such-function-in-b"):
        arn = f"arn:aws:lambda:us-east-1:{B}:function:{name}"
        for side in ("OnSuccess", "OnFailure"):
            with pytest.raises(ClientError) as caught:
                lam_a.put_function_event_invoke_config(
                    FunctionName=source, DestinationConfig={side: {"Destination": arn}}
                )
            assert error_code(caught) == "InvalidParameterValueException"
            messages.append(caught.value.response["Error"]["Message"].replace(name, "<name>"))
    assert set(messages) == {
        "The provided execution role does not have permissions to call InvokeFunction on Lambda"
    }
    # A's own functions remain valid destinations, in any region of A's.
    own = make_function(lam_a, A)
    lam_a.put_function_event_invoke_config(
        FunctionName=source,
        DestinationConfig={
            "OnSuccess": {
                "Destination": lam_a.get_function(FunctionName=own)["Configuration"]["FunctionArn"]
            }
        },
    )


def test_a_stored_destination_in_another_account_is_not_invoked(
    fresh_server: Any, tmp_path: Path
) -> None:
    """A configuration naming another account's function (stored before the check existed)
    is checked again when its record is sent: the record is dropped, not delivered."""
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    data = tmp_path / "data"
    server = fresh_server(data, FIRESIDE_CREDENTIALS=credentials)
    lam_a = client(server, A, "lambda")
    source = make_function(lam_a, A)
    own = make_function(lam_a, A)
    victim = make_function(client(server, B, "lambda"), B)
    lam_a.put_function_event_invoke_config(
        FunctionName=source,
        DestinationConfig={
            "OnSuccess": {"Destination": f"arn:aws:lambda:us-east-1:{A}:function:{own}"}
        },
    )
    server.stop()
    with sqlite3.connect(data / "fireside.sqlite") as db:
        db.execute(
            "UPDATE event_invoke_configs SET record = replace(record, ?, ?)",
            (f"{A}:function:{own}", f"{B}:function:{victim}"),
        )
    server = fresh_server(data, FIRESIDE_CREDENTIALS=credentials)
    lam_a = client(server, A, "lambda")
    assert lam_a.invoke(FunctionName=source, InvocationType="Event")["StatusCode"] == 202

    def queued() -> int:
        with sqlite3.connect(data / "fireside.sqlite") as db:
            return int(db.execute("SELECT count(*) FROM async_events").fetchone()[0])

    source_log = data / "logs" / A / "us-east-1" / f"{source}.log"
    deadline = time.monotonic() + 30
    while not (source_log.exists() and "REPORT" in source_log.read_text() and queued() == 0):
        assert time.monotonic() < deadline, "the event was not delivered"
        time.sleep(0.05)
    assert not (data / "logs" / B / "us-east-1" / f"{victim}.log").exists()
    assert any("may not invoke its destination" in line for line in server.output)


def sink_ran(server: Server, account: str, function: str, region: str = "us-east-1") -> bool:
    log = Path(server.data_dir, "logs", account, region, f"{function}.log")
    return log.exists() and "RAN" in log.read_text()


def test_a_destination_in_another_account_needs_its_resource_policy(
    two_accounts: Server,
) -> None:
    """B's function becomes a destination of A's only once B's policy grants A's account
    `lambda:InvokeFunction`; the grant opens that function (in that region, with that
    qualifier) to A alone."""
    lam_a = client(two_accounts, A, "lambda")
    lam_b = client(two_accounts, B, "lambda")
    lam_c = client(two_accounts, C, "lambda")
    source_a, source_c = make_function(lam_a, A), make_function(lam_c, C)
    sink = make_function(lam_b, B)
    other = make_function(lam_b, B)  # no policy
    lam_b_west = client(two_accounts, B, "lambda", region_name="us-west-2")
    west = make_function(lam_b_west, B)
    arn = f"arn:aws:lambda:us-east-1:{B}:function:{sink}"

    def configure(lam: Any, source: str, destination: str) -> None:
        lam.put_function_event_invoke_config(
            FunctionName=source, DestinationConfig={"OnSuccess": {"Destination": destination}}
        )

    def refused(lam: Any, source: str, destination: str) -> None:
        with pytest.raises(ClientError) as caught:
            configure(lam, source, destination)
        assert error_code(caught) == "InvalidParameterValueException"
        assert caught.value.response["Error"]["Message"] == (
            "The provided execution role does not have permissions to call InvokeFunction on Lambda"
        )

    refused(lam_a, source_a, arn)  # no policy yet
    lam_b.add_permission(
        FunctionName=sink, StatementId="from-a", Action="lambda:InvokeFunction", Principal=A
    )
    # The grant names the function and region it was made on, unqualified, and account A.
    lam_b_west.add_permission(
        FunctionName=west, StatementId="from-a", Action="lambda:InvokeFunction", Principal=A
    )
    refused(lam_a, source_a, f"arn:aws:lambda:us-east-1:{B}:function:{other}")
    refused(lam_a, source_a, f"arn:aws:lambda:us-east-1:{B}:function:{west}")
    version = lam_b.publish_version(FunctionName=sink)["Version"]
    refused(lam_a, source_a, f"{arn}:{version}")  # a version has a policy of its own
    refused(lam_c, source_c, arn)

    configure(lam_a, source_a, arn)
    assert lam_a.invoke(FunctionName=source_a, InvocationType="Event")["StatusCode"] == 202
    deadline = time.monotonic() + 30
    while not sink_ran(two_accounts, B, sink):
        assert time.monotonic() < deadline, "B's function was not invoked as A's destination"
        time.sleep(0.05)

    # Revoked: the stored configuration no longer delivers (the record is dropped).
    lam_b.remove_permission(FunctionName=sink, StatementId="from-a")
    again = make_function(lam_b, B)
    lam_b.add_permission(
        FunctionName=again, StatementId="from-a", Action="lambda:InvokeFunction", Principal=A
    )
    configure(lam_a, source_a, f"arn:aws:lambda:us-east-1:{B}:function:{again}")
    lam_b.remove_permission(FunctionName=again, StatementId="from-a")
    assert lam_a.invoke(FunctionName=source_a, InvocationType="Event")["StatusCode"] == 202
    deadline = time.monotonic() + 30
    while not any(
        "may not invoke its destination" in line and again in line for line in two_accounts.output
    ):
        assert time.monotonic() < deadline, "the revoked destination was not refused"
        time.sleep(0.05)
    assert not sink_ran(two_accounts, B, again)


def test_invoke_of_another_accounts_function_needs_its_resource_policy(
    two_accounts: Server,
) -> None:
    lam_a = client(two_accounts, A, "lambda")
    lam_b = client(two_accounts, B, "lambda")
    lam_c = client(two_accounts, C, "lambda")
    target = make_function(lam_b, B, "def handler(e, c):\n    return c.invoked_function_arn\n")
    arn = f"arn:aws:lambda:us-east-1:{B}:function:{target}"

    def denied(lam: Any, account: str, name: str, message_arn: str, **kwargs: Any) -> None:
        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName=name, **kwargs)
        assert error_code(caught) == "AccessDeniedException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert caught.value.response["Error"]["Message"] == (
            f"User: arn:aws:iam::{account}:root is not authorized to perform: "
            f"lambda:InvokeFunction on resource: {message_arn} because no resource-based "
            "policy allows the lambda:InvokeFunction action"
        )

    denied(lam_a, A, arn, arn)
    missing = f"arn:aws:lambda:us-east-1:{B}:function:no-such-function"
    denied(lam_a, A, missing, missing)  # the same answer: A learns nothing of B's names
    lam_b.add_permission(
        FunctionName=target, StatementId="a", Action="lambda:InvokeFunction", Principal=A
    )
    out = lam_a.invoke(FunctionName=arn)
    assert json.loads(out["Payload"].read()) == arn
    assert lam_a.invoke(FunctionName=arn, InvocationType="Event")["StatusCode"] == 202
    denied(lam_c, C, arn, arn)
    version = lam_b.publish_version(FunctionName=target)["Version"]
    denied(lam_a, A, f"{arn}:{version}", f"{arn}:{version}")  # the grant is on the function
    denied(lam_a, A, arn, f"{arn}:{version}", Qualifier=version)
    lam_b.remove_permission(FunctionName=target, StatementId="a")
    denied(lam_a, A, arn, arn)


# -- the server's own endpoints -------------------------------------------------------------------


def test_code_downloads_need_a_signed_unexpired_link(two_accounts: Server) -> None:
    """`GET /_fireside/code/<sha256>.zip` served any account's code to anyone, forever."""
    lam_b = client(two_accounts, B, "lambda")
    name = make_function(lam_b, B)
    location = lam_b.get_function(FunctionName=name)["Code"]["Location"]
    status, body = send(location)
    assert status == 200 and body.startswith(b"PK")
    bare = location.split("?", 1)[0]
    assert send(bare)[0] == 403  # the digest alone opens nothing
    tampered = location[:-1] + ("0" if location[-1] != "0" else "1")
    assert send(tampered)[0] == 403
    later = re.sub(r"Expires=(\d+)", lambda m: f"Expires={int(m[1]) + 3600}", location)
    assert send(later)[0] == 403  # the expiry is signed too


def test_code_links_expire() -> None:
    now = [1_000_000.0]
    links = CodeLinks(clock=lambda: now[0])
    url = links.url("http://h", "ab" * 32)
    query = url.split("?", 1)[1]
    assert links.check("ab" * 32, query) is None
    assert links.check("cd" * 32, query) is not None  # a link opens one archive only
    now[0] += LINK_LIFETIME + 1
    assert links.check("ab" * 32, query) == "Request has expired"


def test_health_tells_strangers_nothing(two_accounts: Server) -> None:
    status, body = send(f"{two_accounts.endpoint}/_fireside/health")
    assert status == 200 and json.loads(body) == {"status": "running"}


def test_health_details_for_a_configured_key(two_accounts: Server) -> None:
    """The operator signs the request with one of the server's keys (any service scope)."""
    request = AWSRequest(method="GET", url=f"{two_accounts.endpoint}/_fireside/health")
    SigV4Auth(Credentials(A, SECRETS[A]), "fireside", "us-east-1").add_auth(request)
    status, body = send(request.url, headers=dict(request.headers))
    assert status == 200
    assert "environments" in json.loads(body)


def test_no_echo_endpoint_in_a_production_server(two_accounts: Server) -> None:
    status, _ = send(f"{two_accounts.endpoint}/_fireside/echo", method="POST", body=b"{}")
    assert status == 404


# -- front doors ----------------------------------------------------------------------------

WHO = "def handler(e, c):\n    return {'arn': c.invoked_function_arn}\n"


def open_url(lam: Any, name: str) -> str:
    """A NONE Function URL with the two grants AWS requires of one."""
    url: str = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(
        FunctionName=name,
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="url-invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    return url


def http_api(server: Server, account: str, function_arn: str) -> str:
    """A quick-created HTTP API whose `$default` route calls `function_arn`."""
    api_id: str = client(server, account, "apigatewayv2").create_api(
        Name=new_name("api"), ProtocolType="HTTP", Target=function_arn
    )["ApiId"]
    return api_id


def test_front_doors_are_public_on_a_server_with_credentials(two_accounts: Server) -> None:
    """Data-plane URLs need no signature (their auth type says who may call), while the
    control planes still do."""
    lam = client(two_accounts, A, "lambda")
    name = make_function(lam, A, WHO)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    url_id = open_url(lam, name).split("//", 1)[1].split(".", 1)[0]
    status, body = send(f"{two_accounts.endpoint}/_aws/lambda-url/{url_id}/")
    assert status == 200 and json.loads(body) == {"arn": arn}

    api_id = http_api(two_accounts, A, arn)
    lam.add_permission(
        FunctionName=name,
        StatementId="api",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{A}:{api_id}/*",
    )
    status, body = send(f"{two_accounts.endpoint}/_aws/execute-api/{api_id}/anything")
    assert status == 200 and json.loads(body) == {"arn": arn}

    # The control planes are not opened by it.
    status, _ = send(f"{two_accounts.endpoint}/v2/apis/{api_id}")
    assert status == 403
    status, _ = send(f"{two_accounts.endpoint}/2021-10-31/functions/{name}/url")
    assert status == 403


def test_front_doors_act_as_their_owner(two_accounts: Server) -> None:
    """B cannot see or change A's APIs and URLs, and an API of B's that names A's function
    cannot run it: A's grant names A's API, and the call is B's."""
    lam_a = client(two_accounts, A, "lambda")
    name = make_function(lam_a, A, WHO)
    arn = lam_a.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    open_url(lam_a, name)
    api_a = http_api(two_accounts, A, arn)
    lam_a.add_permission(
        FunctionName=name,
        StatementId="api-a",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{A}:{api_a}/*",
    )
    rest_a = client(two_accounts, A, "apigateway").create_rest_api(name=new_name("rest"))["id"]

    v2_b = client(two_accounts, B, "apigatewayv2")
    with pytest.raises(ClientError) as caught:
        v2_b.get_api(ApiId=api_a)
    assert error_code(caught) == "NotFoundException"
    with pytest.raises(ClientError) as caught:
        v2_b.delete_api(ApiId=api_a)
    assert error_code(caught) == "NotFoundException"
    with pytest.raises(ClientError) as caught:
        client(two_accounts, B, "apigateway").get_rest_api(restApiId=rest_a)
    assert error_code(caught) == "NotFoundException"
    with pytest.raises(ClientError) as caught:
        client(two_accounts, B, "lambda").get_function_url_config(FunctionName=arn)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (403, 404)

    api_b = http_api(two_accounts, B, arn)
    status, body = send(f"{two_accounts.endpoint}/_aws/execute-api/{api_b}/x")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    # A's own API still runs it.
    status, body = send(f"{two_accounts.endpoint}/_aws/execute-api/{api_a}/x")
    assert status == 200 and json.loads(body) == {"arn": arn}
