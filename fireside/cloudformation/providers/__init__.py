"""The resource providers, one module per service, each exporting `providers()`."""

from __future__ import annotations

import importlib

from fireside.cloudformation.resource_types import ResourceType, ResourceTypes

__all__ = ["MODULES", "all_providers"]

#: Provider modules under this package, by name.
MODULES: tuple[str, ...] = (
    "apigateway",
    "apigatewayv2",
    "awslambda",
    "dynamodb",
    "dynamodb_global",
    "ec2",
    "ec2_groups",
    "ecr",
    "elbv2",
    "events",
    "iam",
    "logs",
    "msk",
    "scheduler",
    "sns",
    "sqs",
    "ssm",
    "s3",
)


def all_providers() -> ResourceTypes:
    types = ResourceTypes()
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        provided: list[ResourceType] = module.providers()
        for provider in provided:
            types.register(provider)
    return types
