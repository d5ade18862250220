"""An in-process Fireside for resource-provider tests: services served, no HTTP listener.

Providers act through `LocalServiceCalls.run`, so a test builds the app, serves its
services (`_build`) and drives providers and checks with the same calls, on one event loop
per test module.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from fireside.app import Fireside
from fireside.cloudformation.resource_types import ResourceContext
from fireside.config import Settings

T = TypeVar("T")

ACCOUNT = "000000000000"
OTHER_ACCOUNT = "111111111111"
REGION = "us-east-1"


class App:
    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.fireside = Fireside(
            Settings(data_dir=data_dir, sandbox="process", warm_spares=0, sqs_name_reuse_wait=0)
        )
        self.fireside._build("http://127.0.0.1:1")

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    async def call(
        self, service: str, operation: str, params: dict[str, Any], account: str = ACCOUNT
    ) -> dict[str, Any]:
        return await self.fireside.service_calls.run(account, REGION, service, operation, params)

    def ctx(self, logical_id: str, stack: str = "stack", account: str = ACCOUNT) -> ResourceContext:
        async def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            return await self.call(service, operation, params, account)

        return ResourceContext(
            account=account,
            region=REGION,
            stack_name=stack,
            stack_id=f"arn:aws:cloudformation:{REGION}:{account}:stack/{stack}/{uuid.uuid4()}",
            logical_id=logical_id,
            call=call,
            generated_name=f"{stack}-{logical_id}-{uuid.uuid4().hex[:12].upper()}",
        )

    def close(self) -> None:
        try:
            self.run(self.fireside._shutdown())  # every store, as the server closes them
        finally:
            self.loop.close()
