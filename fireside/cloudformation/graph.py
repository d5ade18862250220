"""What a template's resources depend on, checked and scheduled.

A resource depends on every resource its definition names through `Ref`, `Fn::GetAtt`,
`Fn::Sub` (`${Name}`, `${Name.Attr}`) or `DependsOn`. The names must exist (CloudFormation's
`Unresolved resource dependencies [X]`), the graph must be acyclic (`Circular dependency
between resources: [A, B]`), and `run_graph` runs an action per resource as soon as what it
waits for is done, so independent resources are created (or deleted) at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from fireside.cloudformation.intrinsics import FUNCTIONS, PSEUDO_NAMES, unsupported
from fireside.cloudformation.template import format_error, validation

__all__ = ["check_functions", "dependencies", "references", "run_graph"]

log = logging.getLogger(__name__)

_SUB_VAR: Final = re.compile(r"\$\{([^}!][^}]*)\}")
_SUPPORTED: Final = frozenset(FUNCTIONS)


def references(value: Any, out: set[str] | None = None) -> set[str]:
    """The names `value` refers to (resources, parameters, pseudo-parameters)."""
    found = set() if out is None else out
    if isinstance(value, dict):
        if len(value) == 1:
            ((name, args),) = value.items()
            if name == "Ref" and isinstance(args, str):
                found.add(args)
                return found
            if name == "Fn::GetAtt":
                if isinstance(args, str):
                    found.add(args.split(".", 1)[0])
                elif isinstance(args, list) and args:
                    found.add(str(args[0]))
                    references(args[1:], found)
                return found
            if name == "Fn::Sub":
                text = args[0] if isinstance(args, list) and args else args
                local = (
                    set(args[1])
                    if isinstance(args, list) and len(args) > 1 and isinstance(args[1], dict)
                    else set()
                )
                if isinstance(text, str):
                    for match in _SUB_VAR.finditer(text):
                        target = match[1].strip().split(".", 1)[0]
                        if target not in local:
                            found.add(target)
                if isinstance(args, list):
                    references(args[1:], found)
                return found
        for item in value.values():
            references(item, found)
    elif isinstance(value, list):
        for item in value:
            references(item, found)
    return found


def check_functions(value: Any) -> None:
    """CloudFormation's error for an intrinsic function it does not know."""
    if isinstance(value, dict):
        if len(value) == 1:
            name = next(iter(value))
            if name.startswith("Fn::") and name not in _SUPPORTED:
                raise unsupported(name)
        for item in value.values():
            check_functions(item)
    elif isinstance(value, list):
        for item in value:
            check_functions(item)


def dependencies(template: dict[str, Any], parameters: Iterable[str]) -> dict[str, set[str]]:
    """Resource -> the resources it waits for; raises on unknown names and cycles."""
    resources: dict[str, Any] = template["Resources"]
    known = set(resources) | set(parameters) | PSEUDO_NAMES
    graph: dict[str, set[str]] = {}
    unresolved: list[str] = []
    for logical, resource in resources.items():
        names = references({k: v for k, v in resource.items() if k != "DependsOn"})
        for name in sorted(names - known):
            if name not in unresolved:
                unresolved.append(name)
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        for name in depends:
            if name not in resources:
                raise format_error(
                    f"Unresolved resource dependencies [{name}] in the Resources block of the "
                    "template"
                )
        graph[logical] = {n for n in names if n in resources} | set(depends)
    for output in (template.get("Outputs") or {}).values():
        for name in sorted(references(output) - known):
            if name not in unresolved:
                unresolved.append(name)
    if unresolved:
        raise format_error(
            f"Unresolved resource dependencies [{', '.join(unresolved)}] in the Resources block "
            "of the template"
        )
    cycle = _cycle(graph)
    if cycle:
        raise validation(f"Circular dependency between resources: [{', '.join(sorted(cycle))}]")
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """The resources on or behind a cycle (what CloudFormation names), or []."""
    remaining = {node: set(deps) for node, deps in graph.items()}
    while True:
        free = [node for node, deps in remaining.items() if not deps]
        if not free:
            break
        for node in free:
            del remaining[node]
        for deps in remaining.values():
            deps.difference_update(free)
    return list(remaining)


async def run_graph(
    waits_for: dict[str, set[str]],
    action: Callable[[str], Awaitable[bool]],
    *,
    limit: int = 16,
    stop: asyncio.Event | None = None,
) -> bool:
    """Runs `action(node)` once each node's `waits_for` are done, up to `limit` at once.

    An action answers False when it failed: no further node starts, those running finish,
    and the answer is False. Nodes never started are simply not run. When `stop` is set
    (a stack's timeout), the running actions are cancelled and the answer is False."""
    pending = {node: set(deps) & set(waits_for) for node, deps in waits_for.items()}
    running: dict[asyncio.Task[bool], str] = {}
    ok = True
    try:
        while True:
            if ok:
                for node in sorted(n for n, deps in pending.items() if not deps):
                    if len(running) >= limit:
                        break
                    del pending[node]
                    running[asyncio.ensure_future(action(node))] = node
            if not running:
                return ok and not pending
            waiting: set[asyncio.Future[Any]] = set(running)
            stopped = None if stop is None else asyncio.ensure_future(stop.wait())
            if stopped is not None:
                waiting.add(stopped)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if stopped is not None:
                stopped.cancel()
                done.discard(stopped)
                if stop is not None and stop.is_set():
                    for step in running:
                        step.cancel()
                    await asyncio.gather(*running, return_exceptions=True)
                    return False
            for finished in done:
                node = running.pop(finished)  # type: ignore[call-overload]
                if finished.cancelled():
                    ok = False
                elif finished.exception() is not None:
                    log.error("%s failed", node, exc_info=finished.exception())
                    ok = False
                elif not finished.result():
                    ok = False
                for deps in pending.values():
                    deps.discard(node)
    finally:  # stopped (the server is stopping): nothing outlives the operation
        for step in running:
            step.cancel()
