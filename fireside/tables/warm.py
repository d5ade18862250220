"""Warm throughput: the read and write units per second a table or GSI can serve at once.

DynamoDB reports it for every table and GSI. A new on-demand table or GSI starts at 12,000
read and 4,000 write units per second; a provisioned one at its provisioned capacity, and
raising the provisioned capacity past the warm values raises them too. CreateTable and
UpdateTable may ask for more ("pre-warming"), never for less, and warm values never go down.
Fireside enforces no throughput, so the values are stored and reported (always `ACTIVE`:
pre-warming has nothing to wait for here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireside.tables.errors import INVALID, validation

__all__ = [
    "baseline",
    "check_increase",
    "check_initial",
    "describe_warm",
    "effective",
    "requested",
]

#: Where a new on-demand table or GSI starts (DynamoDB's documented values).
ON_DEMAND_READ = 12_000
ON_DEMAND_WRITE = 4_000

Warm = dict[str, int]


def baseline(billing: str, throughput: Mapping[str, int] | None) -> Warm:
    """The warm throughput a table or GSI has without pre-warming."""
    if billing == "PAY_PER_REQUEST" or not throughput:
        return {"ReadUnitsPerSecond": ON_DEMAND_READ, "WriteUnitsPerSecond": ON_DEMAND_WRITE}
    return {
        "ReadUnitsPerSecond": int(throughput["ReadCapacityUnits"]),
        "WriteUnitsPerSecond": int(throughput["WriteCapacityUnits"]),
    }


def effective(stored: Mapping[str, int] | None, billing: str, throughput: Any) -> Warm:
    """The stored (pre-warmed) values, raised to the baseline where that is higher."""
    floor = baseline(billing, throughput)
    stored = stored or {}
    return {name: max(int(stored.get(name, 0)), low) for name, low in floor.items()}


def describe_warm(
    stored: Mapping[str, int] | None, billing: str, throughput: Any, status: str = "ACTIVE"
) -> dict[str, Any]:
    return {**effective(stored, billing, throughput), "Status": status}


def requested(spec: Mapping[str, Any] | None) -> Warm | None:
    """The members a WarmThroughput parameter sets (None when it is absent)."""
    if spec is None:
        return None
    return {k: int(v) for k, v in spec.items() if k.endswith("UnitsPerSecond") and v is not None}


def _whose(index: str | None) -> str:
    return "table" if index is None else f"index {index}"


def check_initial(
    spec: Mapping[str, Any] | None, billing: str, throughput: Any, index: str | None = None
) -> None:
    """CreateTable (and a new GSI): a requested value below the starting point is refused."""
    wanted = requested(spec)
    if not wanted:
        return
    floor = baseline(billing, throughput)
    on_demand = billing == "PAY_PER_REQUEST" or not throughput
    for name, capacity in (
        ("ReadUnitsPerSecond", "ReadCapacityUnits"),
        ("WriteUnitsPerSecond", "WriteCapacityUnits"),
    ):
        if name in wanted and wanted[name] < floor[name]:
            lower_than = (
                "initial throughput for OnDemand"
                if on_demand
                else f"{capacity} of ProvisionedThroughput"
            )
            raise validation(
                f"{INVALID}Requested {name} for WarmThroughput for {_whose(index)} is lower "
                f"than {lower_than}"
            )


def check_increase(
    spec: Mapping[str, Any] | None,
    current: Mapping[str, int] | None,
    billing: str,
    throughput: Any,
    index: str | None = None,
) -> Warm | None:
    """UpdateTable: the new stored values (warm throughput only goes up), or None if unset."""
    wanted = requested(spec)
    if not wanted:
        return None
    now = effective(current, billing, throughput)
    for name, value in wanted.items():
        if value < now[name]:
            raise validation(
                f"{INVALID}Requested {name} for WarmThroughput for {_whose(index)} is lower "
                f"than the current WarmThroughput ({now[name]}): warm throughput cannot be "
                "decreased"
            )
    return {**now, **wanted}
