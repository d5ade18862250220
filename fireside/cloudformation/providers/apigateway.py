"""Placeholder."""

from __future__ import annotations

from fireside.cloudformation.resource_types import ResourceType


def providers() -> list[ResourceType]:
    return []
