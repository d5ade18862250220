"""Runtime hooks for snapshot starts, under the name and API of AWS's `snapshot-restore-py`
package (preinstalled on Lambda's Python runtimes), so functions written for SnapStart work:

    from snapshot_restore_py import register_before_snapshot, register_after_restore

    @register_after_restore
    def reconnect():
        ...

`before_snapshot` hooks run once, in the initialised template, before any environment is made
from it; `after_restore` hooks run in every environment made from it, before its first invoke.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []


def register_before_snapshot(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot() -> list[Hook]:
    return list(_before_snapshot)


def get_after_restore() -> list[Hook]:
    return list(_after_restore)
