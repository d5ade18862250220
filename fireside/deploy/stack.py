"""Deploying a packaged template as a stack, the way `aws cloudformation deploy` and
`sam deploy` do: a change set (CREATE for a new stack, or one left in REVIEW_IN_PROGRESS;
UPDATE otherwise), its changes printed, then executed, the stack's events printed as they
happen, and its outputs at the end. Parameters the template declares and the command does not
override keep their previous values on an update (`UsePreviousValue`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import ClientError

__all__ = ["Deployment", "deploy"]

#: CloudFormation's cap on an inline TemplateBody; larger templates go through S3.
MAX_TEMPLATE_BODY = 51_200
NO_CHANGES = "didn't contain changes"
_DONE = ("_COMPLETE", "_FAILED")


@dataclass(slots=True)
class Deployment:
    stack_name: str
    template: str
    parameters: dict[str, str] = field(default_factory=dict)
    declared: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    execute: bool = True
    #: Where a template over MAX_TEMPLATE_BODY is put: returns its URL.
    upload_template: Callable[[str], str] | None = None


def _existing(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return None if stack["StackStatus"] == "REVIEW_IN_PROGRESS" else stack


def _wait_change_set(cfn: Any, name: str, change_set: str, poll: float) -> dict[str, Any]:
    while True:
        described: dict[str, Any] = cfn.describe_change_set(
            StackName=name, ChangeSetName=change_set
        )
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        time.sleep(poll)


def _changes(cfn: Any, name: str, change_set: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for page in cfn.get_paginator("describe_change_set").paginate(
        StackName=name, ChangeSetName=change_set
    ):
        changes += [c["ResourceChange"] for c in page.get("Changes", [])]
    return changes


def _seen_events(cfn: Any, name: str) -> set[str]:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:
        return set()
    return {e["EventId"] for e in events}


def _follow(cfn: Any, name: str, seen: set[str], out: TextIO, poll: float) -> str:
    """Print the stack's new events, oldest first, until it settles; its final status."""
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        fresh = []
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
            new = [e for e in page["StackEvents"] if e["EventId"] not in seen]
            fresh += new
            if len(new) < len(page["StackEvents"]):
                break  # the rest is older
        for event in reversed(fresh):
            seen.add(event["EventId"])
            reason = event.get("ResourceStatusReason")
            print(
                f"  {event['Timestamp']:%H:%M:%S}  {event['ResourceStatus']:<36} "
                f"{event['ResourceType']:<34} {event['LogicalResourceId']}"
                + (f"\n      {reason}" if reason else ""),
                file=out,
                flush=True,
            )
        status: str = stack["StackStatus"]
        if status.endswith(_DONE) and not status.endswith("_IN_PROGRESS"):
            return status
        time.sleep(poll)


def deploy(cfn: Any, plan: Deployment, out: TextIO, poll: float = 0.3) -> int:
    """Deploy `plan`; 0 when the stack ends CREATE_COMPLETE or UPDATE_COMPLETE (or there was
    nothing to change), 1 otherwise."""
    started = time.monotonic()
    existing = _existing(cfn, plan.stack_name)
    previous = {p["ParameterKey"] for p in (existing or {}).get("Parameters", [])}
    parameters: list[dict[str, Any]] = []
    for key in plan.declared:
        if key in plan.parameters:
            parameters.append({"ParameterKey": key, "ParameterValue": plan.parameters[key]})
        elif key in previous:
            parameters.append({"ParameterKey": key, "UsePreviousValue": True})
    source: dict[str, str] = {"TemplateBody": plan.template}
    if len(plan.template.encode()) > MAX_TEMPLATE_BODY and plan.upload_template is not None:
        source = {"TemplateURL": plan.upload_template(plan.template)}
    kind = "UPDATE" if existing else "CREATE"
    change_set = f"fireside-deploy-{int(time.time() * 1000)}"
    print(f"Deploying stack {plan.stack_name} ({kind.lower()})...", file=out, flush=True)
    cfn.create_change_set(
        StackName=plan.stack_name,
        ChangeSetName=change_set,
        ChangeSetType=kind,
        Parameters=parameters,
        Capabilities=plan.capabilities,
        Tags=[{"Key": k, "Value": v} for k, v in plan.tags.items()],
        **source,
    )
    described = _wait_change_set(cfn, plan.stack_name, change_set, poll)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if NO_CHANGES in reason:
            print("No changes to deploy: the stack is up to date.", file=out, flush=True)
            cfn.delete_change_set(StackName=plan.stack_name, ChangeSetName=change_set)
            return 0
        print(f"The change set failed: {reason}", file=out, flush=True)
        return 1
    changes = _changes(cfn, plan.stack_name, change_set)
    print(f"Changes ({len(changes)}):", file=out)
    for change in changes:
        replacement = change.get("Replacement")
        note = f"  (replacement: {replacement})" if change["Action"] == "Modify" else ""
        print(
            f"  {change['Action']:<7} {change['ResourceType']:<34} "
            f"{change['LogicalResourceId']}{note}",
            file=out,
        )
    if not plan.execute:
        print(f"Change set {change_set} created, not executed (--no-execute).", file=out)
        return 0
    seen = _seen_events(cfn, plan.stack_name)
    cfn.execute_change_set(StackName=plan.stack_name, ChangeSetName=change_set)
    status = _follow(cfn, plan.stack_name, seen, out, poll)
    elapsed = time.monotonic() - started
    print(f"Stack {plan.stack_name}: {status} in {elapsed:.1f} s", file=out, flush=True)
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return 1
    outputs = cfn.describe_stacks(StackName=plan.stack_name)["Stacks"][0].get("Outputs", [])
    if outputs:
        print("Outputs:", file=out)
        for output in outputs:
            export = output.get("ExportName")
            print(
                f"  {output['OutputKey']:<24} {output['OutputValue']}"
                + (f"  (export {export})" if export else ""),
                file=out,
            )
    return 0
