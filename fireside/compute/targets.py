"""Lambda as a target of other services (`fireside.targets`): an EventBridge rule, an SNS
subscription or a schedule invoking a function asynchronously.

A delivery whose `extra` holds `dry_run` is only judged, never invoked (S3 asks whether a
function would take its notifications). Each accepted delivery becomes an `Event` invoke in Lambda's durable queue
(`fireside.compute.async_queue`), all of one `accept_many` in one transaction, and is then
delivered at least once with the function's own retry and destination settings. The owner
check: a service acting for a resource needs the function's resource policy to name it with
that resource as `SourceArn` (`permissions.service_may_invoke`), in the function's own
account too; an account acting through its own role may invoke its own functions, and
another's where its policy grants the account (`permissions.invoke_allowed`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from fireside.compute.destinations import function_target
from fireside.compute.permissions import invoke_allowed, service_may_invoke
from fireside.compute.policies import Policies
from fireside.targets import Accepted, Delivery, Outcome, Refused

__all__ = ["FunctionTargets", "Invokes"]


class Invokes(Protocol):
    """Where asynchronous invokes go (`AsyncQueue.enqueue_many`)."""

    def enqueue_many(self, events: list[tuple[str, str, str, str, str, bytes]]) -> None: ...


class FunctionTargets:
    """The Lambda handler registered with `fireside.targets.Targets` under `lambda`."""

    def __init__(self, invokes: Invokes, policies: Policies) -> None:
        self._invokes = invokes
        self._policies = policies

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        queued: list[tuple[str, str, str, str, str, bytes]] = []
        for delivery in deliveries:
            function = function_target(delivery.arn)
            sender = delivery.sender
            if function is None:
                outcomes.append(
                    Refused("InvalidParameter", f"{delivery.arn} is not a function ARN.")
                )
                continue
            if sender.service is not None:
                allowed = service_may_invoke(
                    function,
                    self._policies,
                    service=sender.service,
                    source_arn=sender.source_arn or "",
                    source_account=sender.account,
                )
            else:
                allowed = invoke_allowed(sender.account, function, self._policies)
            if not allowed:
                outcomes.append(
                    Refused(
                        "AccessDeniedException",
                        f"The resource policy of {delivery.arn} does not allow "
                        f"{sender.service or sender.account} to invoke it"
                        + (f" for {sender.source_arn}" if sender.source_arn else "")
                        + ".",
                    )
                )
                continue
            if delivery.extra.get("dry_run"):  # only asked whether it may (S3's validation)
                outcomes.append(Accepted("dry-run"))
                continue
            request_id = str(uuid.uuid4())
            queued.append(
                (
                    function.account,
                    function.region,
                    function.function,
                    function.qualifier,
                    request_id,
                    delivery.body.encode("utf-8"),
                )
            )
            outcomes.append(Accepted(request_id))
        if queued:
            self._invokes.enqueue_many(queued)
        return outcomes
