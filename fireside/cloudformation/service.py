"""The CloudFormation service as the app serves it: the store, the engine, the resource
providers and the API operations, put together.

Resource providers act through `caller` (the app's `LocalServiceCalls.run`): a stack does
what its account could do with its own calls, in its own region, and nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fireside.aws.context import RequestContext
from fireside.cloudformation.api import StackApi
from fireside.cloudformation.builtins import NoOp, WaitConditionHandle
from fireside.cloudformation.changesets import ChangeSetApi
from fireside.cloudformation.custom import RESPONSES, CustomResources
from fireside.cloudformation.engine import Engine, ServiceCaller
from fireside.cloudformation.nested import NestedStacks
from fireside.cloudformation.plan import BUILTIN_TYPES
from fireside.cloudformation.reads import StackReads
from fireside.cloudformation.resource_types import ResourceType, ResourceTypes
from fireside.cloudformation.store import CloudFormationStore
from fireside.cloudformation.transforms import Transforms
from fireside.http.types import Request, Response

__all__ = ["CloudFormation"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class CloudFormation:
    def __init__(
        self,
        path: Path,
        types: ResourceTypes,
        caller: ServiceCaller,
        *,
        placeholders: bool = False,
        custom_timeout: float = 3600.0,
        minute: float = 60.0,
    ) -> None:
        self.types = types
        self.placeholders = placeholders
        self.builtins: dict[str, ResourceType] = {
            "AWS::CDK::Metadata": NoOp("AWS::CDK::Metadata"),
            "AWS::CloudFormation::WaitCondition": NoOp("AWS::CloudFormation::WaitCondition"),
            "AWS::CloudFormation::WaitConditionHandle": WaitConditionHandle(""),
        }
        self.custom = CustomResources(custom_timeout)
        self.store = CloudFormationStore(path)
        self.engine = Engine(self.store, self.provider_for, caller, minute=minute)
        self.stacks = StackApi(self.engine, caller, self.known_type, self.transforms)
        self.change_sets = ChangeSetApi(self.stacks)
        self.builtins["AWS::CloudFormation::Stack"] = NestedStacks(self.stacks)

    def bind(self, endpoint_url: str, aws_names: bool = False) -> None:
        """Things that need the server's address (wait-condition handles' and custom
        resources' URLs); `aws_names`: functions reach AWS's hostnames at Fireside."""
        self.builtins["AWS::CloudFormation::WaitConditionHandle"] = WaitConditionHandle(
            endpoint_url
        )
        self.custom.endpoint_url = endpoint_url
        self.custom.aws_names = aws_names

    async def internal(self, request: Request) -> Response | None:
        """Fireside's own CloudFormation paths (custom resources' ResponseURLs)."""
        if request.path.startswith(RESPONSES):
            return self.custom.respond(request)
        return None

    def transforms(self, ctx: RequestContext) -> Transforms:
        """The transforms of one request: its region, S3 read as its account."""
        sources = self.stacks.sources

        async def read(url: str) -> bytes:
            return await sources.read_url(ctx.account_id, ctx.region, url, allow_s3=True)

        return Transforms(ctx.region, read)

    def provider_for(self, type_name: str) -> ResourceType | None:
        if type_name.startswith("Custom::") or type_name == "AWS::CloudFormation::CustomResource":
            return self.custom.of_type(type_name)
        found = self.types.get(type_name) or self.builtins.get(type_name)
        if found is None and self.placeholders:
            return NoOp(type_name)
        return found

    def known_type(self, type_name: str) -> bool:
        if type_name.startswith("Custom::") or type_name == "AWS::CloudFormation::CustomResource":
            return True
        if self.types.get(type_name) is not None or type_name in self.builtins:
            return True
        return self.placeholders and type_name not in BUILTIN_TYPES

    def operations(self) -> dict[str, Operation]:
        return {
            **self.stacks.operations(),
            **StackReads(self.stacks).operations(),
            **self.change_sets.operations(),
        }

    async def run(self) -> None:
        await self.engine.run()

    def close(self) -> None:
        self.store.close()
