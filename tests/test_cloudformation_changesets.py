"""Change sets against a live server, and the real `aws cloudformation deploy` flow; a
stack operation interrupted by `kill -9` settles after a restart."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.conftest import Server
from tests.test_cloudformation import HANDLE, WAIT, error_of, name
from tests.test_cloudformation_engine import QUEUES, params, queue_names

EMPTY = (
    "The submitted information didn't contain changes. Submit different information to "
    "create a change set."
)


def changes(cf: Any, change_set: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in cf.get_paginator("describe_change_set").paginate(ChangeSetName=change_set):
        found += [c["ResourceChange"] for c in page["Changes"]]
    return found


def test_change_sets_create_preview_execute_and_empty(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    first = f"{stack_name}-a"
    made = cf.create_change_set(
        StackName=stack_name,
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=QUEUES,
        Parameters=params(Visibility="30", Name=first),
    )
    stack = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert stack["StackId"] == made["StackId"]
    cf.get_waiter("change_set_create_complete").wait(ChangeSetName=made["Id"], WaiterConfig=WAIT)
    described = cf.describe_change_set(ChangeSetName="first", StackName=stack_name)
    assert described["Status"] == "CREATE_COMPLETE"
    assert described["ExecutionStatus"] == "AVAILABLE"
    assert sorted((c["Action"], c["LogicalResourceId"]) for c in changes(cf, made["Id"])) == [
        ("Add", "Named"),
        ("Add", "Watcher"),
    ]
    assert queue_names(sqs, stack_name) == []  # nothing made before execution
    summaries = cf.list_change_sets(StackName=stack_name)["Summaries"]
    assert [s["ChangeSetName"] for s in summaries] == ["first"]
    cf.execute_change_set(ChangeSetName="first", StackName=stack_name)
    cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    described = cf.describe_change_set(ChangeSetName=made["Id"])
    assert described["ExecutionStatus"] == "EXECUTE_COMPLETE"
    assert len(queue_names(sqs, stack_name)) == 2

    # An update preview: a new name replaces Named, which Watcher refers to.
    update = cf.create_change_set(
        StackName=stack_name,
        ChangeSetName="rename",
        TemplateBody=QUEUES,
        Parameters=params(Visibility="45", Name=f"{stack_name}-b"),
    )
    cf.get_waiter("change_set_create_complete").wait(ChangeSetName=update["Id"], WaiterConfig=WAIT)
    found = {c["LogicalResourceId"]: c for c in changes(cf, update["Id"])}
    assert found["Named"]["Action"] == "Modify"
    assert found["Named"]["Replacement"] == "True"
    details = {d["Target"]["Name"]: d for d in found["Named"]["Details"]}
    assert details["QueueName"]["Target"]["RequiresRecreation"] == "Always"
    assert details["VisibilityTimeout"]["Target"]["RequiresRecreation"] == "Never"
    assert details["VisibilityTimeout"]["ChangeSource"] == "ParameterReference"
    assert details["VisibilityTimeout"]["CausingEntity"] == "Visibility"
    assert found["Watcher"]["Replacement"] == "False"
    assert found["Watcher"]["Details"][0]["Evaluation"] == "Dynamic"
    assert found["Watcher"]["Details"][0]["ChangeSource"] == "ResourceReference"
    assert found["Watcher"]["Details"][0]["CausingEntity"] == "Named"
    # Deleting it leaves the stack as it was.
    cf.delete_change_set(ChangeSetName=update["Id"])
    with pytest.raises(ClientError) as caught:
        cf.describe_change_set(ChangeSetName=update["Id"])
    assert error_of(caught)[0] == "ChangeSetNotFound"
    assert error_of(caught)[2] == 404

    # An empty change set: FAILED with CloudFormation's reason, and cannot be executed.
    empty = cf.create_change_set(
        StackName=stack_name,
        ChangeSetName="same",
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Visibility", "UsePreviousValue": True},
            {"ParameterKey": "Name", "UsePreviousValue": True},
        ],
    )
    with pytest.raises(WaiterError):
        cf.get_waiter("change_set_create_complete").wait(
            ChangeSetName=empty["Id"], WaiterConfig=WAIT
        )
    described = cf.describe_change_set(ChangeSetName=empty["Id"])
    assert described["Status"] == "FAILED"
    assert described["StatusReason"] == EMPTY
    with pytest.raises(ClientError) as caught:
        cf.execute_change_set(ChangeSetName=empty["Id"])
    assert error_of(caught)[0] == "InvalidChangeSetStatus"

    with pytest.raises(ClientError) as caught:
        cf.create_change_set(StackName=stack_name, ChangeSetName="again", ChangeSetType="CREATE",
                             TemplateBody=QUEUES)  # fmt: skip
    assert "already exists and cannot be created again" in error_of(caught)[1]
    with pytest.raises(ClientError) as caught:
        cf.create_change_set(StackName=name(), ChangeSetName="x", TemplateBody=QUEUES)
    assert error_of(caught)[1].endswith("does not exist")
    with pytest.raises(ClientError) as caught:
        cf.create_change_set(
            StackName=name(), ChangeSetName="x", TemplateBody=QUEUES, ChangeSetType="IMPORT"
        )
    assert error_of(caught)[0] == "ValidationError"
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert queue_names(sqs, stack_name) == []


def test_a_review_stack_is_deleted_at_once(server: Server) -> None:
    cf = server.client("cloudformation")
    stack_name = name()
    made = cf.create_change_set(StackName=stack_name, ChangeSetName="c", ChangeSetType="CREATE",
                                TemplateBody="Resources:\n" + HANDLE)  # fmt: skip
    cf.delete_stack(StackName=stack_name)
    with pytest.raises(ClientError):
        cf.describe_stacks(StackName=stack_name)
    with pytest.raises(ClientError) as caught:
        cf.describe_change_set(ChangeSetName=made["Id"])
    assert error_of(caught)[0] == "ChangeSetNotFound"


def chain(count: int) -> str:
    """Queues made one after another (each waits for the one before)."""
    resources: dict[str, Any] = {}
    for index in range(count):
        queue: dict[str, Any] = {"Type": "AWS::SQS::Queue"}
        if index:
            queue["DependsOn"] = f"Q{index - 1}"
        resources[f"Q{index}"] = queue
    return json.dumps({"Resources": resources})


def test_a_create_killed_midway_rolls_back_after_a_restart(fresh_server: Any) -> None:
    srv = fresh_server()
    cf, sqs = srv.client("cloudformation"), srv.client("sqs")
    cf.create_stack(StackName="killed", TemplateBody=chain(150))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # some queues made, the stack still creating
        resources = cf.list_stack_resources(StackName="killed")["StackResourceSummaries"]
        if sum(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources) >= 3:
            break
    assert cf.describe_stacks(StackName="killed")["Stacks"][0]["StackStatus"] == (
        "CREATE_IN_PROGRESS"
    )
    srv.stop(signal.SIGKILL)
    again = fresh_server(srv.data_dir)
    cf, sqs = again.client("cloudformation"), again.client("sqs")
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        stack = cf.describe_stacks(StackName="killed")["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
    assert status == "ROLLBACK_COMPLETE"
    pages = cf.get_paginator("describe_stack_events").paginate(StackName="killed")
    events = [e for page in pages for e in page["StackEvents"]]
    rolling = next(e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert rolling["ResourceStatusReason"] == "Fireside stopped during the stack operation"
    made = [r for r in cf.list_stack_resources(StackName="killed")["StackResourceSummaries"]]
    assert made and all(r["ResourceStatus"] == "DELETE_COMPLETE" for r in made)
    left = queue_names(sqs, "killed")
    # At most the one queue whose creation the kill cut short before it was recorded.
    assert len(left) <= 1, left


def test_stacks_and_change_sets_survive_a_restart(fresh_server: Any) -> None:
    srv = fresh_server()
    cf = srv.client("cloudformation")
    body = "Resources:\n" + HANDLE + "Outputs:\n  H:\n    Value: !Ref Handle\n"
    cf.create_stack(StackName="kept", TemplateBody=body)
    cf.get_waiter("stack_create_complete").wait(StackName="kept", WaiterConfig=WAIT)
    updated = body + "    Export:\n      Name: kept-handle\n"
    cf.update_stack(StackName="kept", TemplateBody=updated)
    cf.get_waiter("stack_update_complete").wait(StackName="kept", WaiterConfig=WAIT)
    cf.create_change_set(StackName="kept", ChangeSetName="later", TemplateBody=body)
    before = cf.describe_stacks(StackName="kept")["Stacks"][0]
    events = cf.describe_stack_events(StackName="kept")["StackEvents"]
    srv.stop(signal.SIGKILL)
    again = fresh_server(srv.data_dir)
    cf = again.client("cloudformation")
    after = cf.describe_stacks(StackName="kept")["Stacks"][0]
    assert after == before
    assert cf.get_template(StackName="kept")["TemplateBody"] == updated
    assert cf.describe_stack_events(StackName="kept")["StackEvents"] == events
    assert [e["Name"] for e in cf.list_exports()["Exports"]] == ["kept-handle"]
    assert cf.describe_change_set(ChangeSetName="later", StackName="kept")["Status"] == (
        "CREATE_COMPLETE"
    )
    cf.execute_change_set(ChangeSetName="later", StackName="kept")
    cf.get_waiter("stack_update_complete").wait(StackName="kept", WaiterConfig=WAIT)
    assert cf.list_exports()["Exports"] == []


def test_cancel_update_stack_rolls_the_update_back(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    cf.create_stack(StackName=stack_name, TemplateBody="Resources:\n" + HANDLE)
    cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    with pytest.raises(ClientError) as caught:
        cf.cancel_update_stack(StackName=stack_name)
    assert error_of(caught)[1] == "CancelUpdateStack cannot be called from current stack status"
    cf.update_stack(StackName=stack_name, TemplateBody=chain(150))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        resources = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
        if sum(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources) >= 3:
            break
    cf.cancel_update_stack(StackName=stack_name)
    cf.get_waiter("stack_rollback_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    pages = cf.get_paginator("describe_stack_events").paginate(StackName=stack_name)
    events = [e for page in pages for e in page["StackEvents"]]
    rolling = next(e for e in events if e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS")
    assert rolling["ResourceStatusReason"] == "Stack update cancelled"
    resources = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    assert [r["LogicalResourceId"] for r in resources] == ["Handle"]
    assert queue_names(sqs, stack_name) == []
