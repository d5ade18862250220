"""Front-door addresses: a Function URL's or an API's request is told from an AWS API call by
its host, or by a `/_aws/` path; nothing else is taken for one."""

from __future__ import annotations

import http.client
import json

import pytest

from fireside.gateway.addresses import FrontDoorAddress, recognize
from fireside.http.types import Request
from tests.conftest import Server


def request(host: str, path: str = "/") -> Request:
    return Request("GET", path, "", {"host": host})


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        (
            "abcdef0123.lambda-url.us-east-1.localhost:4566",
            "/x/y%20z",
            ("lambda-url", "abcdef0123", "us-east-1", "/x/y%20z", False),
        ),
        ("a1b2c3d4e5.execute-api.localhost:4566", "/prod/items", ("execute-api", "a1b2c3d4e5", None, "/prod/items", False)),
        ("A1B2C3D4E5.Execute-Api.eu-west-1.amazonaws.com", "/", ("execute-api", "a1b2c3d4e5", "eu-west-1", "/", False)),
        ("u1.lambda-url.us-west-2.on.aws", "/", ("lambda-url", "u1", "us-west-2", "/", False)),
        ("127.0.0.1:4566", "/_aws/lambda-url/u1", ("lambda-url", "u1", None, "/", True)),
        ("127.0.0.1:4566", "/_aws/execute-api/api1/prod/a", ("execute-api", "api1", None, "/prod/a", True)),
    ],
)  # fmt: skip
def test_front_door_requests_are_recognised(
    host: str, path: str, expected: tuple[str, str, str | None, str, bool]
) -> None:
    found = recognize(request(host, path))
    assert isinstance(found, FrontDoorAddress)
    assert (found.kind, found.resource_id, found.region, found.path, found.by_path) == expected


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("127.0.0.1:4566", "/2015-03-31/functions"),
        ("lambda.us-east-1.amazonaws.com", "/"),
        ("x.lambda-url.us-east-1.example.com", "/"),  # not a name Fireside serves
        ("bucket.s3.localhost", "/"),
        ("127.0.0.1", "/_aws/other/x"),
        ("127.0.0.1", "/_aws/execute-api/"),
        # API Gateway's management API is an AWS API on an API's host.
        ("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "/prod/%40connections/abc%3D"),
        ("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "/prod/@connections/abc"),
    ],
)
def test_other_requests_are_not(host: str, path: str) -> None:
    assert recognize(request(host, path)) is None


def test_an_unknown_front_door_is_not_found_on_the_live_server(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    # Signed or not, and whatever the path: the host decides.
    connection.request(
        "GET",
        "/2015-03-31/functions",
        headers={"Host": f"nosuchapi1.execute-api.localhost:{server.port}"},
    )
    response = connection.getresponse()
    assert response.status == 404
    assert json.loads(response.read()) == {"message": "Not Found"}
    # An unknown Function URL is AWS's 403 (LocalStack's AWS-validated
    # test_lambda_url_non_existing_url), answered by the Function URL front door.
    connection.request("POST", "/_aws/lambda-url/nosuchurl/", body=b"{}")
    response = connection.getresponse()
    assert response.status == 403 and json.loads(response.read()) == {"Message": None}
    assert response.getheader("x-amzn-ErrorType") == "AccessDeniedException"
    connection.close()
