"""Errors take their HTTP status and fault from the service model, not from call sites.

Every error shape of Lambda, DynamoDB, DynamoDB Streams and S3 made by that service's factory
is serialized by the service's protocol and read back by botocore's own parser with the
model's code and status; and no module raises a modelled error with a hand-written status.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import botocore.parsers
import botocore.session
import pytest
from botocore.awsrequest import HeadersDict

from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.aws.model import load_service
from fireside.aws.protocol import protocol_for
from fireside.compute.errors import lambda_error
from fireside.s3.errors import s3_error
from fireside.s3.provider import s3_protocol
from fireside.tables.errors import dynamodb_error, streams_error
from tests.conftest import ROOT

FACTORIES = {
    "lambda": lambda_error,
    "dynamodb": dynamodb_error,
    "dynamodbstreams": streams_error,
    "s3": s3_error,
}
BOTO = botocore.session.get_session()


def cases() -> list[tuple[str, str]]:
    return [
        (service, shape.error_code)
        for service in FACTORIES
        for shape in load_service(service).error_shapes()
    ]


@pytest.mark.parametrize(("service", "code"), cases())
def test_a_modelled_error_has_the_models_status(service: str, code: str) -> None:
    make: ModelledErrors = FACTORIES[service]
    error = make(code, "what went wrong")
    model = load_service(service)
    shape = model.error_shape(code)
    assert shape is not None and error.status == shape.error_status
    protocol = s3_protocol() if service == "s3" else protocol_for(model)
    response = protocol.serialize_error(error, "req-1")
    assert response.status == shape.error_status
    boto_model = BOTO.get_service_model(service)
    parsed: dict[str, Any] = botocore.parsers.create_parser(boto_model.protocol).parse(
        {
            "status_code": response.status,
            "headers": HeadersDict(response.headers),
            "body": response.body,
        },
        None,
    )
    assert parsed["Error"]["Code"] == code
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == shape.error_status


def test_the_same_code_differs_by_service() -> None:
    assert lambda_error("ResourceNotFoundException", "x").status == 404
    assert dynamodb_error("ResourceNotFoundException", "x").status == 400


def test_an_undeclared_code_is_a_bug() -> None:
    with pytest.raises(KeyError, match="declares no error"):
        lambda_error("NoSuchThingException", "x")


# Which service's model a module's errors belong to (the most specific prefix wins).
SERVICES = [
    ("fireside/tables/streams.py", "dynamodbstreams"),
    ("fireside/compute/", "lambda"),
    ("fireside/tables/", "dynamodb"),
    ("fireside/s3/", "s3"),
    ("fireside/events/", "events"),
    ("fireside/scheduler/", "scheduler"),
]


def test_no_module_writes_a_modelled_errors_status_by_hand() -> None:
    offenders = []
    for path in sorted((ROOT / "fireside").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        service = next((s for prefix, s in SERVICES if rel.startswith(prefix)), None)
        if service is None:
            continue
        model = load_service(service)
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == ServiceError.__name__
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and model.error_shape(str(node.args[0].value)) is not None
            ):
                offenders.append(f"{rel}:{node.lineno} {node.args[0].value}")
    assert not offenders, "use the service's ModelledErrors factory: " + ", ".join(offenders)


def test_the_check_above_reads_real_files() -> None:
    assert Path(ROOT, "fireside/compute/errors.py").read_text().count("lambda_error(") >= 4
