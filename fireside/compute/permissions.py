"""Whether Lambda may invoke a function on an account's behalf: the one owner check that
every reference from one resource to a function goes through (async invocation destinations
today; event-source mappings, subscriptions and API integrations as they come).

AWS allows it when the function is the acting account's own, or when the function's resource
policy grants the acting account (AddPermission). Fireside has no resource policies yet, so
only a function's own account may have it invoked; the check is written once here so that
the policies, when they land, apply everywhere at once.

The refusal is worded as AWS words an execution role that may not call an action, and is the
same whether or not the function exists: another account learns nothing from it.
"""

from __future__ import annotations

from fireside.aws.errors import ServiceError
from fireside.compute.destinations import Target
from fireside.compute.errors import invalid

__all__ = ["check_invoke", "invoke_allowed"]


def invoke_allowed(acting_account: str, target: Target) -> bool:
    """Whether `acting_account` may have Lambda invoke `target`."""
    return target.account == acting_account


def check_invoke(acting_account: str, target: Target) -> None:
    """Raise AWS's InvalidParameterValueException unless `invoke_allowed`."""
    if not invoke_allowed(acting_account, target):
        raise not_permitted()


def not_permitted() -> ServiceError:
    return invalid(
        "The provided execution role does not have permissions to call InvokeFunction on Lambda"
    )
