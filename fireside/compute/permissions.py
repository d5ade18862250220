"""Whether Lambda may invoke a function on an account's behalf: the one owner check that
every reference from one resource to a function goes through (async invocation destinations
today; event-source mappings, subscriptions and API integrations as they come).

AWS allows it when the function is the acting account's own, or when the function's resource
policy (AddPermission; `fireside.compute.policies`) grants the acting account
`lambda:InvokeFunction` on the ARN referenced: a grant on the function opens the unqualified
function, one on a version or alias opens that qualifier only.

The refusal is worded as AWS words an execution role that may not call an action, and is the
same whether or not the function exists: another account learns nothing from it.
"""

from __future__ import annotations

from fireside.aws.errors import ServiceError
from fireside.compute.destinations import Target
from fireside.compute.errors import invalid
from fireside.compute.policies import Policies

__all__ = ["check_invoke", "invoke_allowed", "service_may_invoke"]


def invoke_allowed(acting_account: str, target: Target, policies: Policies) -> bool:
    """Whether `acting_account` may have Lambda invoke `target`."""
    if target.account == acting_account:
        return True
    return policies.allows_invoke(
        target.account,
        target.region,
        target.function,
        target.qualifier,
        principal_account=acting_account,
    )


def check_invoke(acting_account: str, target: Target, policies: Policies) -> None:
    """Raise AWS's InvalidParameterValueException unless `invoke_allowed`."""
    if not invoke_allowed(acting_account, target, policies):
        raise not_permitted()


def not_permitted() -> ServiceError:
    return invalid(
        "The provided execution role does not have permissions to call InvokeFunction on Lambda"
    )


def service_may_invoke(
    target: Target, policies: Policies, *, service: str, source_arn: str, source_account: str
) -> bool:
    """Whether an AWS service (`events.amazonaws.com`, ...) may invoke `target` for the
    resource `source_arn` of `source_account` (an EventBridge rule, ...).

    Services always need a statement in the function's resource policy, the function's own
    account included: AWS documents that EventBridge, SNS and S3 invoke a function only
    through its resource-based policy (the consoles add the statement for you)."""
    return policies.allows_invoke(
        target.account,
        target.region,
        target.function,
        target.qualifier,
        principal_service=service,
        source_arn=source_arn,
        source_account=source_account,
    )
