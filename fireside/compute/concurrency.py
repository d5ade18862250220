"""Concurrency: how many invokes may run at once, per function and per account, as on Lambda.

Each account (per region) has a concurrency limit (`account_concurrency`, default 1,000). A
function may reserve part of it (PutFunctionConcurrency): it then runs at most that many
invokes at once, and the others share what is left, the *unreserved* pool, of which at least
100 (or the whole limit, if smaller) must stay unreserved. Past a limit an invoke is refused at
once with 429 `TooManyRequestsException` and AWS's `Reason`:
`ReservedFunctionConcurrentInvocationLimitExceeded` or `ConcurrentInvocationLimitExceeded`.
Reserved concurrency 0 throttles every invoke.

Counting happens on the event loop thread, before the first `await` of an invoke, so the limit
is exact: never more invokes in flight than allowed, whatever the load.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from fireside.aws.context import RequestContext
from fireside.compute.errors import invalid, lambda_error, throttled
from fireside.compute.functions import FunctionConfig
from fireside.compute.registry import FunctionRegistry, not_found, parse_function_name

UNRESERVED_MINIMUM = 100
CODE_STORAGE_LIMIT = 80_530_636_800  # 75 GB per region
CODE_SIZE_UNZIPPED = 262_144_000
CODE_SIZE_ZIPPED = 52_428_800

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class Concurrency:
    def __init__(self, functions: FunctionRegistry, account_limit: int = 1000) -> None:
        self._functions = functions
        self.account_limit = account_limit
        self._in_flight: Counter[tuple[str, str, str]] = Counter()
        self._unreserved_in_flight: Counter[tuple[str, str]] = Counter()

    @property
    def unreserved_minimum(self) -> int:
        return min(UNRESERVED_MINIMUM, self.account_limit)

    def reserved_total(self, account: str, region: str, *, besides: str | None = None) -> int:
        return sum(
            config.reserved_concurrency or 0
            for config in self._functions.in_region(account, region)
            if config.name != besides
        )

    @contextlib.contextmanager
    def slot(self, latest: FunctionConfig) -> Iterator[None]:
        """Hold one unit of the function's concurrency for the duration of an invoke."""
        key = (latest.account, latest.region, latest.name)
        pool = (latest.account, latest.region)
        reserved = latest.reserved_concurrency
        if reserved is not None:
            if self._in_flight[key] >= reserved:
                raise throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        elif (running := self._unreserved_in_flight[pool]) >= self.unreserved_minimum and (
            running >= self.account_limit - self.reserved_total(*pool)
        ):
            # Reservations always leave the minimum unreserved, so below it no invoke can be
            # over the limit: the sum over the region's functions is made only near it.
            raise throttled("ConcurrentInvocationLimitExceeded")
        self._in_flight[key] += 1
        if reserved is None:
            self._unreserved_in_flight[pool] += 1
        try:
            yield
        finally:
            self._in_flight[key] -= 1
            if reserved is None:
                self._unreserved_in_flight[pool] -= 1

    def in_flight(self, latest: FunctionConfig) -> int:
        return self._in_flight[(latest.account, latest.region, latest.name)]


class ConcurrencyApi:
    """PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency and
    GetAccountSettings."""

    def __init__(
        self,
        concurrency: Concurrency,
        functions: FunctionRegistry,
        provisioned_total: Callable[[str, str, str], int],
    ) -> None:
        self._concurrency = concurrency
        self._functions = functions
        #: The provisioned concurrency a function's versions and aliases ask for, together.
        self._provisioned_total = provisioned_total

    def operations(self) -> dict[str, Operation]:
        return {
            "PutFunctionConcurrency": self.put_function_concurrency,
            "GetFunctionConcurrency": self.get_function_concurrency,
            "DeleteFunctionConcurrency": self.delete_function_concurrency,
            "GetAccountSettings": self.get_account_settings,
        }

    def _latest(self, ctx: RequestContext, params: dict[str, Any]) -> FunctionConfig:
        name, _ = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        return self._functions.require(ctx.account_id, ctx.region, name)

    async def put_function_concurrency(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        if qualifier is not None:
            raise invalid(
                "This operation is permitted on Lambda functions only. Aliases and versions do "
                "not support this operation. Please specify either a function name or an "
                "unqualified function ARN."
            )
        latest = self._functions.get(ctx.account_id, ctx.region, name)
        if latest is None:  # AWS names $LATEST here
            raise not_found(f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{name}:$LATEST")
        wanted = params["ReservedConcurrentExecutions"]
        others = self._concurrency.reserved_total(ctx.account_id, ctx.region, besides=latest.name)
        limit, minimum = self._concurrency.account_limit, self._concurrency.unreserved_minimum
        if limit - others - wanted < minimum:
            raise lambda_error(
                "InvalidParameterValueException",
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{minimum}].",
                Type="User",
            )
        provisioned = self._provisioned_total(ctx.account_id, ctx.region, name)
        if provisioned > wanted:
            raise invalid(  # AWS's spacing, two spaces and all
                f" ReservedConcurrentExecutions  {wanted} should not be lower than function's "
                f"total provisioned concurrency [{provisioned}]."
            )
        self._functions.put(latest.evolve(reserved_concurrency=wanted))
        return {"ReservedConcurrentExecutions": wanted}

    async def get_function_concurrency(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        reserved = self._latest(ctx, params).reserved_concurrency
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    async def delete_function_concurrency(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        latest = self._latest(ctx, params)
        if latest.reserved_concurrency is not None:
            self._functions.put(latest.evolve(reserved_concurrency=None))
        return {}

    async def get_account_settings(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        functions = self._functions.in_region(ctx.account_id, ctx.region)
        versions = [
            version
            for latest in functions
            for version in self._functions.versions(ctx.account_id, ctx.region, latest.name)
        ]
        limit = self._concurrency.account_limit
        return {
            "AccountLimit": {
                "TotalCodeSize": CODE_STORAGE_LIMIT,
                "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
                "CodeSizeZipped": CODE_SIZE_ZIPPED,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit
                - self._concurrency.reserved_total(ctx.account_id, ctx.region),
            },
            "AccountUsage": {
                "TotalCodeSize": sum(c.code_size for c in [*functions, *versions]),
                "FunctionCount": len(functions),
            },
        }
