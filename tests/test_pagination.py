"""Every paginated operation Fireside serves, paged by boto3's own paginators on a live server.

The operations are botocore's paginators for the served services (Lambda, S3, API Gateway v2;
STS has none) minus the operations Fireside does not serve
(`test_every_served_paginator_is_covered` keeps the table honest). For each listing, with a few
page sizes: every item is seen exactly once and in order, no page is larger than asked, and
only the last page is short. Then the markers: one Fireside did not issue, one from another
listing, and one whose item was deleted between pages (a stale marker resumes after it, neither
restarting nor ending the listing).

Each listing lives in a region (or bucket-name prefix) of its own, so items other tests
create on the shared server never appear in it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip, python_zip

SOURCE = "def handler(event, context):\n    return event\n"
REGION = "sa-east-1"


@dataclass
class Listing:
    """One paginated listing with its items made: how to page it and how to shrink it."""

    client: Any
    operation: str  # the paginator's (snake_case) name
    params: dict[str, Any]
    result_key: str
    ident: Callable[[dict[str, Any]], str]
    #: The items' identities in the order the listing gives them.
    expected: list[str]
    #: Removes the item of this identity (None: the API cannot remove one, e.g. a part).
    delete: Callable[[str], None] | None
    token: tuple[str, str] = ("Marker", "NextMarker")

    def pages(self, size: int | None, **extra: Any) -> list[list[str]]:
        config = {"PageSize": size} if size else {}
        paginator = self.client.get_paginator(self.operation)
        return [
            [self.ident(item) for item in page.get(self.result_key, [])]
            for page in paginator.paginate(**self.params, **extra, PaginationConfig=config)
        ]

    def next_token(self, page: dict[str, Any]) -> str | None:
        """The token of the page after `page`; ListObjects without a delimiter has no
        NextMarker, and the next page starts after the last key (as botocore pages it)."""
        token: str | None = page.get(self.token[1])
        if token is None and self.operation == "list_objects" and page.get("IsTruncated"):
            token = page["Contents"][-1]["Key"]
        return token

    def call(self, **extra: Any) -> dict[str, Any]:
        method = getattr(self.client, self.operation)
        result: dict[str, Any] = method(**self.params, **extra)
        return result


def _client(server: Server, service: str, region: str = REGION, **config: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return _client(server, "lambda")


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return _client(server, "s3")


def _function(lam: Any, name: str | None = None) -> str:
    name = name or f"pg-{uuid.uuid4().hex[:10]}"
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
    return name


def _drop_function(lam: Any, name: str) -> None:
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=name)


def _publish(lam: Any, name: str, count: int) -> list[str]:
    """`count` new versions (each after a configuration change: an unchanged function
    publishes its last version again)."""
    versions = []
    for n in range(count):
        lam.update_function_configuration(FunctionName=name, Description=f"v{n}-{uuid.uuid4()}")
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
        )
        versions.append(lam.publish_version(FunctionName=name)["Version"])
    return versions


# -- the listings --------------------------------------------------------------------------
# Each factory makes a listing of `count` items and yields it; it cleans up afterwards.
Factory = Callable[[Server, int], Iterator[Listing]]


def list_functions(server: Server, count: int) -> Iterator[Listing]:
    region = "ap-northeast-3"  # ListFunctions lists a whole region: this one is its own
    client = _client(server, "lambda", region)
    names = sorted(_function(client, f"pg-{n:03d}-{uuid.uuid4().hex[:6]}") for n in range(count))
    try:
        yield Listing(
            client,
            "list_functions",
            {},
            "Functions",
            lambda f: f["FunctionName"],
            names,
            lambda name: client.delete_function(FunctionName=name),
        )
    finally:
        for name in names:
            _drop_function(client, name)


def list_function_versions(server: Server, count: int) -> Iterator[Listing]:
    """ListFunctions with FunctionVersion=ALL: each function's $LATEST, then its versions."""
    region = "ap-southeast-4"
    client = _client(server, "lambda", region)
    names = sorted(_function(client) for _ in range(2))
    expected = []
    for name in names:
        expected += [f"{name}:$LATEST"] + [
            f"{name}:{v}" for v in _publish(client, name, count // 2)
        ]
    try:

        def delete(ident: str) -> None:
            name, _, version = ident.partition(":")
            client.delete_function(FunctionName=name, Qualifier=version)

        yield Listing(
            client,
            "list_functions",
            {"FunctionVersion": "ALL"},
            "Functions",
            lambda f: f"{f['FunctionName']}:{f['Version']}",
            expected,
            delete,
        )
    finally:
        for name in names:
            _drop_function(client, name)


def list_versions_by_function(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "lambda")
    name = _function(client)
    versions = ["$LATEST", *_publish(client, name, count - 1)]
    try:
        yield Listing(
            client,
            "list_versions_by_function",
            {"FunctionName": name},
            "Versions",
            lambda v: v["Version"],
            versions,
            lambda version: client.delete_function(FunctionName=name, Qualifier=version),
        )
    finally:
        _drop_function(client, name)


def list_aliases(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "lambda")
    name = _function(client)
    aliases = sorted(f"a{n:03d}" for n in range(count))
    for alias in reversed(aliases):  # made out of order: the listing orders them
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion="$LATEST")
    try:
        yield Listing(
            client,
            "list_aliases",
            {"FunctionName": name},
            "Aliases",
            lambda a: a["Name"],
            aliases,
            lambda alias: client.delete_alias(FunctionName=name, Name=alias),
        )
    finally:
        _drop_function(client, name)


def list_function_url_configs(server: Server, count: int) -> Iterator[Listing]:
    """The function's own URL, then one per alias, in FunctionArn order."""
    client = _client(server, "lambda")
    name = _function(client)
    aliases = [f"u{n:03d}" for n in range(count - 1)]
    client.create_function_url_config(FunctionName=name, AuthType="NONE")
    for alias in reversed(aliases):
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion="$LATEST")
        client.create_function_url_config(FunctionName=name, Qualifier=alias, AuthType="NONE")
    arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    try:

        def delete(function_arn: str) -> None:
            qualifier = function_arn.removeprefix(arn).removeprefix(":")
            extra = {"Qualifier": qualifier} if qualifier else {}
            client.delete_function_url_config(FunctionName=name, **extra)

        yield Listing(
            client,
            "list_function_url_configs",
            {"FunctionName": name},
            "FunctionUrlConfigs",
            lambda c: c["FunctionArn"],
            sorted([arn, *(f"{arn}:{alias}" for alias in aliases)]),
            delete,
        )
    finally:
        _drop_function(client, name)


def list_event_source_mappings(server: Server, count: int) -> Iterator[Listing]:
    """One function's mappings from `count` queues (disabled: nothing polls), by UUID."""
    region = "eu-south-2"  # the listing covers a whole region: this one is its own
    client = _client(server, "lambda", region)
    sqs = _client(server, "sqs", region)
    name = _function(client)
    uuids = []
    for n in range(count):
        url = sqs.create_queue(QueueName=f"pg-esm-{n}-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        uuids.append(
            client.create_event_source_mapping(
                EventSourceArn=arn, FunctionName=name, Enabled=False
            )["UUID"]
        )
    try:
        yield Listing(
            client,
            "list_event_source_mappings",
            {"FunctionName": name},
            "EventSourceMappings",
            lambda m: m["UUID"],
            sorted(uuids),
            lambda found: client.delete_event_source_mapping(UUID=found),
        )
    finally:
        _drop_function(client, name)


def _layer_zip() -> bytes:
    return make_zip({"python/mod.py": f"X = {uuid.uuid4().hex!r}\n"})


def list_layers(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "lambda", "ca-west-1")  # ListLayers lists a whole region
    names = sorted(f"pg-{n:03d}-{uuid.uuid4().hex[:6]}" for n in range(count))
    published: dict[str, list[int]] = {}
    for name in names:
        version = client.publish_layer_version(LayerName=name, Content={"ZipFile": _layer_zip()})
        published[name] = [version["Version"]]

    def delete(name: str) -> None:
        for version in published[name]:
            client.delete_layer_version(LayerName=name, VersionNumber=version)

    try:
        yield Listing(client, "list_layers", {}, "Layers", lambda x: x["LayerName"], names, delete)
    finally:
        for name in names:
            with contextlib.suppress(ClientError):
                delete(name)


def list_layer_versions(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "lambda")
    name = f"pg-{uuid.uuid4().hex[:10]}"
    versions = [
        client.publish_layer_version(LayerName=name, Content={"ZipFile": _layer_zip()})["Version"]
        for _ in range(count)
    ]
    try:
        yield Listing(
            client,
            "list_layer_versions",
            {"LayerName": name},
            "LayerVersions",
            lambda v: str(v["Version"]),
            [str(v) for v in reversed(versions)],  # newest first, as AWS lists them
            lambda v: client.delete_layer_version(LayerName=name, VersionNumber=int(v)),
        )
    finally:
        for version in versions:
            client.delete_layer_version(LayerName=name, VersionNumber=version)


def list_function_event_invoke_configs(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "lambda")
    name = _function(client)
    arns = []
    for n in range(count):
        alias = f"q{n:03d}"
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion="$LATEST")
        made = client.put_function_event_invoke_config(
            FunctionName=name, Qualifier=alias, MaximumRetryAttempts=0
        )
        arns.append(made["FunctionArn"])

    def delete(arn: str) -> None:
        client.delete_function_event_invoke_config(
            FunctionName=name, Qualifier=arn.rsplit(":", 1)[1]
        )

    try:
        yield Listing(
            client,
            "list_function_event_invoke_configs",
            {"FunctionName": name},
            "FunctionEventInvokeConfigs",
            lambda c: c["FunctionArn"],
            sorted(arns),
            delete,
        )
    finally:
        _drop_function(client, name)


def list_provisioned_concurrency_configs(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "lambda")
    name = _function(client)
    version = client.publish_version(FunctionName=name)["Version"]
    aliases = sorted(f"p{n:03d}" for n in range(count))
    for alias in aliases:
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=alias, ProvisionedConcurrentExecutions=1
        )
    try:
        yield Listing(
            client,
            "list_provisioned_concurrency_configs",
            {"FunctionName": name},
            "ProvisionedConcurrencyConfigs",
            lambda c: c["FunctionArn"].rsplit(":", 1)[1],
            aliases,
            lambda alias: client.delete_provisioned_concurrency_config(
                FunctionName=name, Qualifier=alias
            ),
        )
    finally:
        _drop_function(client, name)


@contextlib.contextmanager
def _bucket(s3: Any, keys: list[str]) -> Iterator[str]:
    bucket = f"pg-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    try:
        yield bucket
    finally:
        for key in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=key["Key"])
        s3.delete_bucket(Bucket=bucket)


def _keys(count: int) -> list[str]:
    # Keys that sort differently as bytes and by their numbers, some with a slash.
    return sorted(f"k/{n}" if n % 3 == 0 else f"k{n}" for n in range(count))


def _s3_listing(operation: str, result_key: str, token: tuple[str, str]) -> Factory:
    def make(server: Server, count: int) -> Iterator[Listing]:
        client = _client(server, "s3")
        keys = _keys(count)
        with _bucket(client, keys) as bucket:
            yield Listing(
                client,
                operation,
                {"Bucket": bucket},
                result_key,
                lambda o: o["Key"],
                keys,
                lambda key: client.delete_object(Bucket=bucket, Key=key),
                token,
            )

    return make


def list_multipart_uploads(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "s3")
    keys = _keys(count)
    with _bucket(client, []) as bucket:  # deleting the bucket ends the uploads left
        ids = {key: client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
               for key in keys}  # fmt: skip
        yield Listing(
            client,
            "list_multipart_uploads",
            {"Bucket": bucket},
            "Uploads",
            lambda upload: upload["Key"],
            keys,
            lambda key: client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=ids[key]),
            ("KeyMarker", "NextKeyMarker"),
        )


def list_parts(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "s3")
    with _bucket(client, []) as bucket:
        upload = client.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
        for number in range(1, count + 1):
            client.upload_part(
                Bucket=bucket, Key="parts", UploadId=upload, PartNumber=number, Body=b"x"
            )
        yield Listing(
            client,
            "list_parts",
            {"Bucket": bucket, "Key": "parts", "UploadId": upload},
            "Parts",
            lambda part: str(part["PartNumber"]),
            [str(number) for number in range(1, count + 1)],
            None,  # S3 has no call that removes one part
            ("PartNumberMarker", "NextPartNumberMarker"),
        )


def list_buckets(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "s3")
    prefix = f"pg-{uuid.uuid4().hex[:8]}-"
    names = sorted(f"{prefix}{n:03d}" for n in range(count))
    for name in names:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    try:
        yield Listing(
            client,
            "list_buckets",
            {"Prefix": prefix},
            "Buckets",
            lambda b: b["Name"],
            names,
            lambda name: client.delete_bucket(Bucket=name),
            ("ContinuationToken", "ContinuationToken"),
        )
    finally:
        for name in names:
            with contextlib.suppress(ClientError):
                client.delete_bucket(Bucket=name)


LAMBDA_LISTINGS: dict[str, Factory] = {
    "ListFunctions": list_functions,
    "ListFunctions(ALL)": list_function_versions,
    "ListVersionsByFunction": list_versions_by_function,
    "ListAliases": list_aliases,
    "ListLayers": list_layers,
    "ListLayerVersions": list_layer_versions,
    "ListFunctionEventInvokeConfigs": list_function_event_invoke_configs,
    "ListProvisionedConcurrencyConfigs": list_provisioned_concurrency_configs,
    "ListFunctionUrlConfigs": list_function_url_configs,
    "ListEventSourceMappings": list_event_source_mappings,
}
S3_LISTINGS: dict[str, Factory] = {
    "ListObjects": _s3_listing("list_objects", "Contents", ("Marker", "NextMarker")),
    "ListObjectsV2": _s3_listing(
        "list_objects_v2", "Contents", ("ContinuationToken", "NextContinuationToken")
    ),
    "ListObjectVersions": _s3_listing(
        "list_object_versions", "Versions", ("KeyMarker", "NextKeyMarker")
    ),
    "ListBuckets": list_buckets,
    "ListMultipartUploads": list_multipart_uploads,
    "ListParts": list_parts,
}


# -- API Gateway HTTP APIs: each listing in an API of its own (GetApis in a region of its own)
V2_FUNCTION = "arn:aws:lambda:sa-east-1:000000000000:function:pg-none"


def get_apis(server: Server, count: int) -> Iterator[Listing]:
    client = _client(server, "apigatewayv2", "ap-southeast-4")
    ids = sorted(
        client.create_api(Name=f"pg-{n}", ProtocolType="HTTP")["ApiId"] for n in range(count)
    )
    try:
        yield Listing(
            client,
            "get_apis",
            {},
            "Items",
            lambda a: a["ApiId"],
            ids,
            lambda api_id: client.delete_api(ApiId=api_id),
            ("NextToken", "NextToken"),
        )
    finally:
        for api_id in ids:
            with contextlib.suppress(ClientError):
                client.delete_api(ApiId=api_id)


def _v2_listing(operation: str, ident: str, make: Callable[[Any, str, int], str]) -> Factory:
    """A listing of one API's `count` items, each made by `make(client, api_id, n)`, which
    returns the item's identity (`ident`); deleting needs the item's id, kept by identity."""

    def factory(server: Server, count: int) -> Iterator[Listing]:
        client = _client(server, "apigatewayv2")
        api_id = client.create_api(Name="pg", ProtocolType="HTTP")["ApiId"]
        made = [make(client, api_id, n) for n in range(count)]
        expected = made if operation == "get_deployments" else sorted(made)
        remove = {
            "get_routes": lambda i: client.delete_route(ApiId=api_id, RouteId=ids[i]),
            "get_integrations": lambda i: client.delete_integration(ApiId=api_id, IntegrationId=i),
            "get_authorizers": lambda i: client.delete_authorizer(
                ApiId=api_id, AuthorizerId=ids[i]
            ),
            "get_stages": lambda i: client.delete_stage(ApiId=api_id, StageName=i),
            "get_deployments": lambda i: client.delete_deployment(ApiId=api_id, DeploymentId=i),
        }[operation]
        ids = {}
        if operation == "get_routes":
            ids = {r["RouteKey"]: r["RouteId"] for r in client.get_routes(ApiId=api_id)["Items"]}
        elif operation == "get_authorizers":
            ids = {
                a["Name"]: a["AuthorizerId"] for a in client.get_authorizers(ApiId=api_id)["Items"]
            }
        try:
            yield Listing(
                client,
                operation,
                {"ApiId": api_id},
                "Items",
                lambda item: item[ident],
                expected,
                remove,
                ("NextToken", "NextToken"),
            )
        finally:
            client.delete_api(ApiId=api_id)

    return factory


def _route(client: Any, api_id: str, n: int) -> str:
    return str(client.create_route(ApiId=api_id, RouteKey=f"GET /r{n}")["RouteKey"])


def _integration(client: Any, api_id: str, n: int) -> str:
    return str(
        client.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=V2_FUNCTION,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
    )


def _authorizer(client: Any, api_id: str, n: int) -> str:
    return str(
        client.create_authorizer(
            ApiId=api_id,
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
            Name=f"a{n}",
            JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["x"]},
        )["Name"]
    )


def _stage(client: Any, api_id: str, n: int) -> str:
    return str(client.create_stage(ApiId=api_id, StageName=f"s{n}")["StageName"])


def _deployment(client: Any, api_id: str, n: int) -> str:
    return str(client.create_deployment(ApiId=api_id)["DeploymentId"])


def _websocket_responses(kind: str) -> Factory:
    """Route responses of one route, or integration responses of one integration, of a
    WebSocket API (ordered by id)."""

    def factory(server: Server, count: int) -> Iterator[Listing]:
        client = _client(server, "apigatewayv2")
        api_id = client.create_api(
            Name="pg", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.a"
        )["ApiId"]
        if kind == "route":
            parent = {"RouteId": client.create_route(ApiId=api_id, RouteKey="r")["RouteId"]}
            made = [
                client.create_route_response(ApiId=api_id, RouteResponseKey=f"k{n}", **parent)[
                    "RouteResponseId"
                ]
                for n in range(count)
            ]
            operation, ident = "get_route_responses", "RouteResponseId"

            def remove(item: str) -> None:
                client.delete_route_response(ApiId=api_id, RouteResponseId=item, **parent)
        else:
            integration = client.create_integration(ApiId=api_id, IntegrationType="MOCK")
            parent = {"IntegrationId": integration["IntegrationId"]}
            made = [
                client.create_integration_response(
                    ApiId=api_id, IntegrationResponseKey=f"/{n}/", **parent
                )["IntegrationResponseId"]
                for n in range(count)
            ]
            operation, ident = "get_integration_responses", "IntegrationResponseId"

            def remove(item: str) -> None:
                client.delete_integration_response(
                    ApiId=api_id, IntegrationResponseId=item, **parent
                )

        try:
            yield Listing(
                client,
                operation,
                {"ApiId": api_id, **parent},
                "Items",
                lambda item: item[ident],
                sorted(made),
                remove,
                ("NextToken", "NextToken"),
            )
        finally:
            client.delete_api(ApiId=api_id)

    return factory


APIGATEWAYV2_LISTINGS: dict[str, Factory] = {
    "GetRouteResponses": _websocket_responses("route"),
    "GetIntegrationResponses": _websocket_responses("integration"),
    "GetApis": get_apis,
    "GetRoutes": _v2_listing("get_routes", "RouteKey", _route),
    "GetIntegrations": _v2_listing("get_integrations", "IntegrationId", _integration),
    "GetAuthorizers": _v2_listing("get_authorizers", "Name", _authorizer),
    "GetStages": _v2_listing("get_stages", "StageName", _stage),
    "GetDeployments": _v2_listing("get_deployments", "DeploymentId", _deployment),
}
LISTINGS = {**LAMBDA_LISTINGS, **S3_LISTINGS, **APIGATEWAYV2_LISTINGS}


#: botocore's paginators of operations Fireside does not serve (answered as not implemented).
UNSERVED = {
    "lambda": {
        "ListCodeSigningConfigs",
        "ListFunctionsByCodeSigningConfig",
        "ListCapacityProviders",
        "ListFunctionVersionsByCapacityProvider",
        "GetDurableExecutionHistory",
        "GetDurableExecutionState",
        "ListDurableExecutionsByFunction",
    },
    "s3": {"ListDirectoryBuckets", "ListObjectAnnotations"},
    "sts": set(),
    "apigatewayv2": {
        "GetDomainNames",
        "GetModels",
        "ListRoutingRules",
        "ListPortalProducts",
        "ListPortals",
        "ListProductPages",
        "ListProductRestEndpointPages",
    },
}


def test_every_served_paginator_is_covered(server: Server) -> None:
    """The listings above and the unserved ones are exactly botocore's paginators of the
    served services, so a paginator botocore adds, or an operation Fireside starts serving,
    fails here until it is driven by the tests below."""
    for service, unserved in UNSERVED.items():
        client = _client(server, service)
        paginated = {
            operation
            for operation in client.meta.service_model.operation_names
            if client.can_paginate(xform_name(operation))
        }
        covered = {
            name.partition("(")[0]
            for name in LISTINGS
            if name.partition("(")[0] in client.meta.service_model.operation_names
        }
        assert paginated == covered | unserved, service
        for operation in unserved:  # a one-line probe where the parameters allow it
            shape = client.meta.service_model.operation_model(operation).input_shape
            required = shape.required_members if shape is not None else []
            # ListDirectoryBuckets is signed for `s3express`, which no service model names:
            # the edge answers it with its JSON 404 for unknown services.
            if set(required) <= {"FunctionName", "Bucket"} and operation != "ListDirectoryBuckets":
                with pytest.raises(ClientError) as caught:
                    getattr(client, xform_name(operation))(**dict.fromkeys(required, "pg-none"))
                assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


@pytest.fixture(params=sorted(LISTINGS), scope="module")
def listing(request: pytest.FixtureRequest, server: Server) -> Iterator[Listing]:
    # Provisioned configs start an environment each: keep that listing small.
    count = 4 if "Provisioned" in request.param else 7
    yield from LISTINGS[request.param](server, count)


@pytest.mark.parametrize("size", [None, 1, 2, 3])
def test_every_item_once_in_order(listing: Listing, size: int | None) -> None:
    pages = listing.pages(size)
    seen = [ident for page in pages for ident in page]
    assert seen == listing.expected
    if size is not None:
        assert all(len(page) == size for page in pages[:-1])
        assert 1 <= len(pages[-1]) <= size
        assert len(pages) == -(-len(listing.expected) // size)
    else:
        assert len(pages) == 1


def test_markers_not_issued_are_refused(listing: Listing) -> None:
    name, _ = listing.token
    service = listing.client.meta.service_model.service_name
    lambda_api = service in ("lambda", "apigatewayv2")
    garbage = ["not-a-marker", base64.urlsafe_b64encode(b"\xff\xfe").decode()]
    if lambda_api:
        # well-formed, but from another listing
        garbage.append(base64.urlsafe_b64encode(json.dumps(["ListOther", ["x"]]).encode()).decode())
    elif name in ("Marker", "KeyMarker", "PartNumberMarker"):
        return  # S3's key (and part number) markers are places to start, not tokens
    for marker in garbage:
        with pytest.raises(ClientError) as caught:
            listing.call(**{name: marker})
        error = caught.value.response["Error"]
        status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
        if service == "apigatewayv2":
            assert (error["Code"], status) == ("BadRequestException", 400)
        elif lambda_api:
            assert (error["Code"], status) == ("InvalidParameterValueException", 400)
        else:
            assert (error["Code"], status) == ("InvalidArgument", 400), error
            assert error["Message"] == "The continuation token provided is incorrect"


def test_a_marker_from_another_function_is_refused(lam: Any) -> None:
    first, second = _function(lam), _function(lam)
    try:
        for name in (first, second):
            for alias in ("a1", "a2"):
                lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="$LATEST")
        marker = lam.list_aliases(FunctionName=first, MaxItems=1)["NextMarker"]
        assert [
            a["Name"] for a in lam.list_aliases(FunctionName=first, Marker=marker)["Aliases"]
        ] == ["a2"]
        with pytest.raises(ClientError) as caught:
            lam.list_aliases(FunctionName=second, Marker=marker)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    finally:
        _drop_function(lam, first)
        _drop_function(lam, second)


def test_a_stale_marker_resumes_after_its_item(listing: Listing) -> None:
    """The item a marker names is deleted before the next page is asked for: the listing
    goes on with the items after it (neither an empty page nor a restart)."""
    name = listing.token[0]
    first = listing.call(**_limit_of(listing, 2))
    assert [listing.ident(i) for i in first[listing.result_key]] == listing.expected[:2]
    marker = listing.next_token(first)
    assert marker
    if listing.delete is not None:
        listing.delete(listing.expected[1])
        del listing.expected[1]  # for the tests that use this listing after this one
    else:  # nothing can be deleted (a part): the marker resumes after its item all the same
        marker = listing.next_token(listing.call(**_limit_of(listing, 1)))
        assert marker
    rest: list[str] = []
    while marker:
        page = listing.call(**{name: marker, **_limit_of(listing, 2)})
        rest += [listing.ident(i) for i in page.get(listing.result_key, [])]
        marker = listing.next_token(page)
    assert rest == listing.expected[1:]  # the deleted one is gone from `expected` now


def _limit_of(listing: Listing, size: int) -> dict[str, Any]:
    """The page-size parameter asking for `size` items (apigatewayv2's is a string)."""
    model = listing.client.meta.service_model.operation_model(_camel(listing.operation))
    for name in ("MaxItems", "MaxKeys", "MaxBuckets", "MaxResults", "MaxUploads", "MaxParts"):
        member = model.input_shape.members.get(name)
        if member is not None:
            return {name: str(size) if member.type_name == "string" else size}
    raise AssertionError(listing.operation)


def _camel(snake: str) -> str:
    return "".join("V2" if part == "v2" else part.title() for part in snake.split("_"))


@pytest.mark.parametrize("name", sorted(LAMBDA_LISTINGS))
def test_max_items_out_of_the_models_bounds(server: Server, name: str) -> None:
    """MaxItems outside the model's range is refused before anything is listed, with the
    constraint AWS names (botocore itself refuses 0, so it is sent unchecked here)."""
    client = _client(server, "lambda", parameter_validation=False)
    operation = name.partition("(")[0]
    model = client.meta.service_model.operation_model(operation)
    bound = model.input_shape.members["MaxItems"].metadata["max"]
    params = {m: "pg-none" for m in model.input_shape.required_members}
    call = getattr(client, xform_name(operation))
    for value, rule in (
        (0, "greater than or equal to 1"),
        (bound + 1, f"less than or equal to {bound}"),
    ):
        with pytest.raises(ClientError) as caught:
            call(**params, MaxItems=value)
        assert caught.value.response["Error"] == {
            "Code": "ValidationException",
            "Message": f"1 validation error detected: Value '{value}' at 'maxItems' failed to "
            f"satisfy constraint: Member must have value {rule}",
        }


def test_pages_hold_50_by_default_and_at_most_50_where_aws_caps_them(server: Server) -> None:
    """ListFunctions and ListVersionsByFunction return at most 50 a page whatever MaxItems
    says (as their documentation says); ListAliases, not so documented, honours MaxItems."""
    functions = list_functions(server, 53)
    listing = next(functions)
    versions = list_versions_by_function(server, 52)
    version_listing = next(versions)
    aliases = list_aliases(server, 53)
    alias_listing = next(aliases)
    try:
        for asked in (None, 51, 10000):
            page = listing.call(**({"MaxItems": asked} if asked else {}))
            assert len(page["Functions"]) == 50 and page["NextMarker"]
            page = version_listing.call(**({"MaxItems": asked} if asked else {}))
            assert len(page["Versions"]) == 50 and page["NextMarker"]
        default = alias_listing.call()
        assert len(default["Aliases"]) == 50 and default["NextMarker"]
        everything = alias_listing.call(MaxItems=100)
        assert len(everything["Aliases"]) == 53 and "NextMarker" not in everything
    finally:
        functions.close()
        versions.close()
        aliases.close()
