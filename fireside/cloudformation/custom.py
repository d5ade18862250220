"""Custom resources (`Custom::*`, `AWS::CloudFormation::CustomResource`) backed by a Lambda
function or an SNS topic, with CloudFormation's response-URL protocol.

Each create, update or delete sends the `ServiceToken` target a request (as the stack's
account: invoking another account's function takes that function's resource policy)
carrying a `ResponseURL`: a Fireside URL under `/_fireside/cloudformation/responses/` with
an unguessable token, to which the function PUTs its JSON answer (what `cfn-response` and
the CDK's provider framework do). `Fn::GetAtt` reads the answer's `Data`. A resource that
gets no answer within the timeout (an hour, as on AWS; `cfn_custom_resource_timeout`)
fails. As on AWS, scalar properties reach the function as strings.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceFailed
from fireside.http.types import Request, Response

__all__ = ["RESPONSES", "CustomResource", "CustomResources"]

RESPONSES: Final = "/_fireside/cloudformation/responses/"
_MAX_RESPONSE: Final = 4096  # AWS: "the total combined size of the response body"


def _strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    )
    return Response(status, [("Content-Type", "application/xml")], body.encode())


class CustomResources:
    """Sends custom resources' requests and takes their answers."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.endpoint_url = ""
        #: Functions reach AWS's hostnames at Fireside over TLS (`fireside.compute.aws_names`):
        #: their ResponseURL is then an https S3 URL as on AWS (CDK's provider framework
        #: answers over https only); else Fireside's endpoint.
        self.aws_names = False
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def _timeout(self, properties: dict[str, Any]) -> float:
        """The resource's `ServiceTimeout` (seconds, at most an hour), else the default."""
        try:
            wanted = float(properties.get("ServiceTimeout", self.timeout))
        except (TypeError, ValueError):
            return self.timeout
        return max(1.0, min(wanted, self.timeout))

    def response_url(self, region: str, token: str, by_function: bool) -> str:
        if by_function and self.aws_names:
            bucket = f"cloudformation-custom-resource-response-{region.replace('-', '')}"
            return f"https://{bucket}.s3.amazonaws.com{RESPONSES}{token}"
        return f"{self.endpoint_url}{RESPONSES}{token}"

    async def send(
        self,
        ctx: ResourceContext,
        kind: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old: dict[str, Any] | None = None,
        resource_type: str = "",
    ) -> dict[str, Any]:
        target = str(properties.get("ServiceToken", ""))
        token = secrets.token_urlsafe(32)
        request_id = str(uuid.uuid4())
        request: dict[str, Any] = {
            "RequestType": kind,
            "ServiceToken": target,
            "ResponseURL": self.response_url(ctx.region, token, ":lambda:" in target),
            "StackId": ctx.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": ctx.logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": _strings(properties),
        }
        if physical_id is not None:
            request["PhysicalResourceId"] = physical_id
        if old is not None:
            request["OldResourceProperties"] = _strings(old)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        try:
            payload = json.dumps(request)
            if ":lambda:" in target:
                await ctx.call(
                    "lambda",
                    "Invoke",
                    {"FunctionName": target, "InvocationType": "Event",
                     "Payload": payload.encode()},
                )  # fmt: skip
            elif ":sns:" in target:
                await ctx.call("sns", "Publish", {"TopicArn": target, "Message": payload})
            else:
                raise ResourceFailed(f"Invalid service token: {target or '(none)'}")
            try:
                answer = await asyncio.wait_for(future, self._timeout(properties))
            except TimeoutError:
                raise ResourceFailed(
                    "CloudFormation did not receive a response from your Custom Resource. "
                    "Please check your Custom Resource and try again."
                ) from None
        except ServiceError as error:
            raise ResourceFailed(
                f"Failed to invoke the custom resource's service token {target}: {error.message}"
            ) from None
        finally:
            self._waiting.pop(token, None)
        if answer.get("Status") != "SUCCESS":
            raise ResourceFailed(
                f"Received response status [{answer.get('Status')}] from custom resource. "
                f"Message returned: {answer.get('Reason', '')} (RequestId: {request_id})"
            )
        return answer

    def of_type(self, type_name: str) -> CustomResource:
        return CustomResource(self, type_name)

    def respond(self, request: Request) -> Response:
        """A function's PUT of its answer to a ResponseURL."""
        token = request.path[len(RESPONSES) :]
        future = self._waiting.get(token)
        if request.method != "PUT" or future is None or future.done():
            return _s3_error(403, "AccessDenied", "Access Denied")
        if len(request.body) > _MAX_RESPONSE:
            future.set_exception(ResourceFailed("Response object is too long."))
            return Response(200, [], b"")
        try:
            answer = json.loads(request.body)
            if not isinstance(answer, dict):
                raise ValueError("not an object")
        except ValueError:
            future.set_exception(ResourceFailed("Invalid response object: it is not JSON."))
            return Response(200, [], b"")
        future.set_result(answer)
        return Response(200, [], b"")


class CustomResource:
    """The provider of one custom type (`Custom::Thing`): its name goes in each request."""

    replace_on: frozenset[str] = frozenset()

    def __init__(self, sender: CustomResources, type_name: str) -> None:
        self.sender = sender
        self.type_name = type_name

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        answer = await self.sender.send(ctx, "Create", properties, resource_type=self.type_name)
        physical = str(answer.get("PhysicalResourceId") or ctx.generated_name)
        return Created(physical, dict(answer.get("Data") or {}))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        answer = await self.sender.send(ctx, "Update", new, physical_id, old, self.type_name)
        physical = str(answer.get("PhysicalResourceId") or physical_id)
        return Created(physical, dict(answer.get("Data") or {}))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await self.sender.send(ctx, "Delete", properties, physical_id, None, self.type_name)
