"""Stack operations on top of the engine's resource steps: create, update, delete, the
rollbacks of a failed create or update, and what a restart does to an interrupted one.

Statuses follow CloudFormation's state machine as botocore's waiters read it:
CREATE_IN_PROGRESS -> CREATE_COMPLETE | ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE;
UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE |
UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS ->
UPDATE_ROLLBACK_COMPLETE; DELETE_IN_PROGRESS -> DELETE_COMPLETE | DELETE_FAILED.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.cloudformation import exports
from fireside.cloudformation.engine import Engine
from fireside.cloudformation.graph import references, run_graph
from fireside.cloudformation.intrinsics import TemplateError
from fireside.cloudformation.model import Resource, Stack

__all__ = ["create", "delete", "resume", "update"]

_RESTARTED = "Fireside stopped during the stack operation"


def _waits(stack: Stack, active: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for logical, definition in active.items():
        depends = definition.get("DependsOn", [])
        named = {depends} if isinstance(depends, str) else set(depends)
        graph[logical] = (references(definition) | named) & set(active) - {logical}
    return graph


def _export_problem(engine: Engine, stack: Stack, new: list[dict[str, str]]) -> str | None:
    """Why the stack's exports cannot change this way (in use, or taken), if they cannot."""
    others = [s for s in engine.stacks.values() if s.stack_id != stack.stack_id]
    new_values = {o["ExportName"]: o["OutputValue"] for o in new if "ExportName" in o}
    for name in new_values:
        taken = exports.find(others, stack.account, stack.region, name)
        if taken is not None:
            return f"Export with name {name} is already exported by stack {taken[0].name}"
    for output in stack.outputs:
        exported = output.get("ExportName")
        if exported is None:
            continue
        users = exports.importers(others, stack.account, stack.region, exported)
        if not users:
            continue
        if exported not in new_values:
            return f"Export {exported} cannot be deleted as it is in use by {', '.join(users)}"
        if new_values[exported] != output["OutputValue"]:
            return f"Cannot update export {exported} as it is in use by {', '.join(users)}"
    return None


async def create(engine: Engine, stack: Stack) -> None:
    imported: list[str] = []
    resolver = engine.resolver(stack, imported)
    failed: list[str] = []
    reason = ""
    try:
        active = engine.active(stack, resolver)
    except TemplateError as error:
        active, reason = {}, str(error)

    async def one(logical: str) -> bool:
        ok = await engine.create_resource(stack, logical, active[logical], resolver)
        if not ok:
            failed.append(logical)
        return ok

    stop = asyncio.Event()
    timer = None
    if stack.timeout:  # TimeoutInMinutes: what is running then is cancelled
        timer = asyncio.get_running_loop().call_later(stack.timeout * engine.minute, stop.set)
    try:
        ok = not reason and await run_graph(_waits(stack, active), one, stop=stop)
    finally:
        if timer is not None:
            timer.cancel()
    for resource in list(stack.resources.values()):
        if resource.status == "CREATE_IN_PROGRESS":
            await engine.resource_event(
                stack, resource, "CREATE_FAILED", "Resource creation cancelled"
            )
    if ok:
        try:
            outputs = engine.outputs(stack, resolver)
        except (TemplateError, ServiceError) as error:
            ok, reason = False, str(error)
        else:
            problem = _export_problem(engine, stack, outputs)
            if problem is None:
                stack.outputs, stack.imports = outputs, imported
            else:
                ok, reason = False, problem
    if ok:
        await engine.set_status(stack, "CREATE_COMPLETE")
        return
    if failed:
        reason = f"The following resource(s) failed to create: [{', '.join(sorted(failed))}]. "
    if stop.is_set():
        reason = "Stack creation time exceeded the specified timeout. "
    if stack.disable_rollback:
        await engine.set_status(stack, "CREATE_FAILED", reason)
        return
    asked = "Delete" if stack.on_failure_delete else "Rollback"
    await engine.set_status(stack, "ROLLBACK_IN_PROGRESS", f"{reason}{asked} requested by user.")
    await _rollback_create(engine, stack)


async def _rollback_create(engine: Engine, stack: Stack) -> None:
    names = [n for n, r in stack.resources.items() if r.status != "DELETE_COMPLETE"]
    failed = await engine.delete_resources(stack, names, create_rollback=True)
    stack.outputs = []
    if failed:
        reason = f"The following resource(s) failed to delete: [{', '.join(failed)}]. "
        await engine.set_status(stack, "ROLLBACK_FAILED", reason)
        return
    await engine.set_status(stack, "ROLLBACK_COMPLETE")
    if stack.on_failure_delete:
        await delete(engine, stack)


async def delete(engine: Engine, stack: Stack) -> None:
    if stack.status == "DELETE_COMPLETE":
        return
    if stack.status != "DELETE_IN_PROGRESS":
        await engine.set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
    others = [s for s in engine.stacks.values() if s.stack_id != stack.stack_id]
    for output in stack.outputs:
        name = output.get("ExportName")
        users = exports.importers(others, stack.account, stack.region, name) if name else []
        if users:
            reason = f"Export {name} cannot be deleted as it is in use by {', '.join(users)}"
            await engine.set_status(stack, "DELETE_FAILED", reason)
            return
    names = [n for n, r in stack.resources.items() if r.status != "DELETE_COMPLETE"]
    failed = await engine.delete_resources(stack, names)
    if failed:
        reason = f"The following resource(s) failed to delete: [{', '.join(failed)}]. "
        await engine.set_status(stack, "DELETE_FAILED", reason)
        return
    stack.deleted = time.time()
    stack.outputs, stack.imports = [], []
    await engine.set_status(stack, "DELETE_COMPLETE")


async def update(engine: Engine, stack: Stack) -> None:
    """Runs an update whose new template and parameters are already on `stack` (the old
    ones in `stack.previous`), committed in UPDATE_IN_PROGRESS."""
    imported: list[str] = []
    resolver = engine.resolver(stack, imported)
    failed: list[str] = []
    reason = ""
    try:
        active = engine.active(stack, resolver)
    except TemplateError as error:
        active, reason = {}, str(error)
    if not reason:
        for logical, resource in stack.resources.items():
            resource.removed = logical not in active

    async def one(logical: str) -> bool:
        if stack.stack_id in engine.cancelling:  # CancelUpdateStack: start nothing more
            return False
        existing = stack.resources.get(logical)
        if existing is None or existing.status in ("DELETE_COMPLETE",):
            ok = await engine.create_resource(stack, logical, active[logical], resolver)
            stack.resources[logical].action = "Add"
        else:
            ok = await engine.update_resource(stack, logical, active[logical], resolver)
        if not ok:
            failed.append(logical)
        return ok

    ok = not reason and await run_graph(_waits(stack, active), one)
    if ok:
        try:
            outputs = engine.outputs(stack, resolver)
        except (TemplateError, ServiceError) as error:
            ok, reason = False, str(error)
        else:
            problem = _export_problem(engine, stack, outputs)
            if problem is None:
                stack.outputs, stack.imports = outputs, imported
            else:
                ok, reason = False, problem
    cancelled = stack.stack_id in engine.cancelling
    engine.cancelling.discard(stack.stack_id)
    if cancelled:
        ok, reason = False, "Stack update cancelled"
    if not ok:
        if failed and not cancelled:
            reason = f"The following resource(s) failed to update: [{', '.join(sorted(failed))}]. "
        if stack.disable_rollback and not cancelled:
            await engine.set_status(stack, "UPDATE_FAILED", reason)
            return
        await engine.set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        await _rollback_update(engine, stack)
        return
    await engine.set_status(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    await _cleanup(engine, stack)


async def _cleanup(engine: Engine, stack: Stack) -> None:
    """After a successful update: delete what was replaced and what the template dropped."""
    for resource in sorted(stack.resources.values(), key=lambda r: -r.updated):
        if resource.action == "Replace" and resource.old is not None:
            old = resource.old
            if old["physical_id"] != resource.physical_id:
                await engine.delete_physical(
                    stack,
                    resource,
                    old["physical_id"],
                    old["properties"],
                    resource.update_replace_policy,
                    old["type"],
                )
        resource.action, resource.old = "", None
    removed = [n for n, r in stack.resources.items() if r.removed]
    await engine.delete_resources(stack, removed)
    for name in removed:
        stack.resources.pop(name, None)
    stack.previous = None
    stack.touch_templates()
    stack.updated = time.time()
    await engine.set_status(stack, "UPDATE_COMPLETE")


async def _rollback_update(engine: Engine, stack: Stack) -> None:
    previous = stack.previous or {}
    new_physicals: list[tuple[Resource, str, dict[str, Any], str]] = []
    added: list[str] = []
    for resource in sorted(stack.resources.values(), key=lambda r: -r.updated):
        if resource.action == "Add":
            added.append(resource.logical_id)
        elif resource.action == "Modify" and resource.old is not None:
            old = resource.old
            await engine.restore_resource(stack, resource, old)
        elif resource.action == "Replace" and resource.old is not None:
            old = resource.old
            if resource.physical_id and resource.physical_id != old["physical_id"]:
                new_physicals.append(
                    (resource, resource.physical_id, resource.properties, resource.type)
                )
            _put_back(resource, old)
            await engine.resource_event(stack, resource, "UPDATE_COMPLETE")
    # The template as it was: what the rollback's deletes follow.
    for key in ("template", "template_body", "parameters", "raw_parameters",
                "parameter_values", "outputs", "imports", "tags", "description"):  # fmt: skip
        if key in previous:
            setattr(stack, key, previous[key])
    stack.touch_templates()
    await engine.set_status(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    for resource, physical, properties, kind in new_physicals:
        await engine.delete_physical(stack, resource, physical, properties, "Delete", kind)
    for name in added:
        resource = stack.resources[name]
        await engine.delete_physical(
            stack, resource, resource.physical_id, resource.properties, "Delete"
        )
        stack.resources.pop(name, None)
    for resource in stack.resources.values():
        resource.action, resource.old, resource.removed = "", None, False
    stack.previous = None
    stack.touch_templates()
    await engine.set_status(stack, "UPDATE_ROLLBACK_COMPLETE")


def _put_back(resource: Resource, old: dict[str, Any]) -> None:
    resource.type = old["type"]
    resource.physical_id = old["physical_id"]
    resource.properties = old["properties"]
    resource.attributes = old["attributes"]


async def resume(engine: Engine, stack: Stack) -> None:
    """Settles a stack whose operation a stop (or a kill) interrupted."""
    status = stack.status
    if status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
        if status == "CREATE_IN_PROGRESS":
            await engine.set_status(stack, "ROLLBACK_IN_PROGRESS", _RESTARTED)
        await _rollback_create(engine, stack)
    elif status == "DELETE_IN_PROGRESS":
        await delete(engine, stack)
    elif status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
        await _cleanup(engine, stack)
    elif status in (
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    ):
        if status == "UPDATE_IN_PROGRESS":
            await engine.set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", _RESTARTED)
        await _rollback_update(engine, stack)
