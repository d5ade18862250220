"""Stack exports and imports within one account and region.

An export is an output with `Export.Name` of a stack that exists (not deleted, not rolled
back); a stack imports it with `Fn::ImportValue`. While imported, an export cannot be
deleted or changed, with CloudFormation's messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from fireside.cloudformation.model import Stack

__all__ = ["find", "importers", "listed", "live"]

_GONE: Final = frozenset({"DELETE_COMPLETE", "ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"})


def live(stack: Stack) -> bool:
    return stack.status not in _GONE


def listed(stacks: Iterable[Stack], account: str, region: str) -> list[tuple[Stack, str, str]]:
    """(exporting stack, name, value) of every export, by name."""
    found = [
        (stack, output["ExportName"], output["OutputValue"])
        for stack in stacks
        if stack.account == account and stack.region == region and live(stack)
        for output in stack.outputs
        if "ExportName" in output
    ]
    return sorted(found, key=lambda item: item[1])


def find(stacks: Iterable[Stack], account: str, region: str, name: str) -> tuple[Stack, str] | None:
    for stack, export, value in listed(stacks, account, region):
        if export == name:
            return stack, value
    return None


def importers(stacks: Iterable[Stack], account: str, region: str, name: str) -> list[str]:
    """Names of the stacks importing export `name`."""
    return sorted(
        stack.name
        for stack in stacks
        if stack.account == account
        and stack.region == region
        and stack.status != "DELETE_COMPLETE"
        and name in stack.imports
    )
