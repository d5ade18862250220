"""A Fireside app run in-process for CloudFormation provider tests: its services called the
way the stack engine calls them (`LocalServiceCalls.run` as the stack's account), no HTTP
client needed. One app per test module; `Stack.run` drives its event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from fireside.app import Fireside, Started
from fireside.cloudformation.providers import all_providers
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceType,
)
from fireside.config import Settings

T = TypeVar("T")
ACCOUNT = "000000000000"
OTHER_ACCOUNT = "111111111111"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"


class App:
    """A whole Fireside server (listener, background loops) on its own event-loop thread."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.fireside = Fireside(Settings(data_dir=data_dir, port=0, warm_spares=0, **settings))
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        started: Future[Started] = Future()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        self.started = started.result(timeout=60)
        self.types = all_providers()

    def _serve(self, started: Future[Started]) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            await self.fireside.run(self._stop, started.set_result)

        try:
            self.loop.run_until_complete(main())
        except BaseException as error:  # surfaced to the waiting test
            if not started.done():
                started.set_exception(error)
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def close(self) -> None:
        stop = self._stop
        if stop is not None:
            self.loop.call_soon_threadsafe(stop.set)
        self._thread.join(60)

    # -- as the engine calls -----------------------------------------------------------------
    def ctx(
        self, logical_id: str, account: str = ACCOUNT, stack: str = "teststack"
    ) -> ResourceContext:
        calls = self.fireside.service_calls

        async def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            return await calls.run(account, REGION, service, operation, params)

        return ResourceContext(
            account=account,
            region=REGION,
            stack_name=stack,
            stack_id=f"arn:aws:cloudformation:{REGION}:{account}:stack/{stack}/0000",
            logical_id=logical_id,
            call=call,
            generated_name=f"{stack}-{logical_id}-ABCDEFGHIJKL",
            # What the engine passes: CloudFormation's own tag and the stack's.
            tags={"aws:cloudformation:stack-name": stack},
        )

    def call(self, service: str, operation: str, account: str = ACCOUNT, **params: Any) -> Any:
        return self.run(
            self.fireside.service_calls.run(account, REGION, service, operation, params)
        )

    def provider(self, type_name: str) -> ResourceType:
        found = self.types.get(type_name)
        assert found is not None, type_name
        return found

    def create(self, type_name: str, logical_id: str, props: dict[str, Any], **kw: Any) -> Created:
        return self.run(self.provider(type_name).create(self.ctx(logical_id, **kw), props))

    def update(
        self, type_name: str, logical_id: str, physical_id: str, old: dict[str, Any],
        new: dict[str, Any],
    ) -> Created:  # fmt: skip
        """`update`, or, when the provider or `replace_on` says so, CloudFormation's
        replacement: create the new one (its own generated name), then delete the old."""
        provider = self.provider(type_name)
        ctx = self.ctx(logical_id)
        if not any(old.get(k) != new.get(k) for k in provider.replace_on):
            try:
                return self.run(provider.update(ctx, physical_id, old, new))
            except NeedsReplacement:
                pass
        ctx.generated_name = f"teststack-{logical_id}-REPLACEMENT1"
        created = self.run(provider.create(ctx, new))
        self.run(provider.delete(ctx, physical_id, old))
        return created

    def delete(
        self, type_name: str, logical_id: str, physical_id: str, props: dict[str, Any]
    ) -> None:
        self.run(self.provider(type_name).delete(self.ctx(logical_id), physical_id, props))
