"""AWS::CloudFormation::WaitConditionHandle: nothing made, a signal URL as its Ref."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote, urlsplit

from fireside.cloudformation.providers import all_providers, cloudformation_misc
from fireside.cloudformation.resource_types import ResourceContext


async def _no_calls(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"a handle calls no service ({service} {operation})")


def test_wait_condition_handle_is_a_url_and_makes_nothing() -> None:
    (handle,) = cloudformation_misc.providers()
    stack_id = "arn:aws:cloudformation:eu-west-1:000000000000:stack/app/1b2c"
    ctx = ResourceContext("000000000000", "eu-west-1", "app", stack_id, "Handle", _no_calls)
    created = asyncio.run(handle.create(ctx, {}))
    url = urlsplit(created.physical_id)
    assert url.scheme == "https"
    assert url.netloc == "cloudformation-waitcondition-eu-west-1.s3.amazonaws.com"
    assert unquote(url.path) == f"/{stack_id}/Handle"
    assert asyncio.run(handle.update(ctx, created.physical_id, {}, {})).physical_id == (
        created.physical_id
    )
    asyncio.run(handle.delete(ctx, created.physical_id, {}))
    assert all_providers().get("AWS::CloudFormation::WaitConditionHandle") is not None
