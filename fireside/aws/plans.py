"""Per-operation plans (decoders, validators, encoders), each built the first time it is used.

A protocol used to compile a plan for every operation of its service when it was made, so a
server's start compiled thousands of operations it might never serve: EC2's alone took about
0.5 s, all services about 1.3 s of every `fireside up` (and of every server the tests start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

V = TypeVar("V")


class OnDemand(dict[str, V]):
    """A mapping from the operation names given to `build(name)`, computed once per name.

    A hit is a plain dict lookup; only a miss reaches Python code. A name outside `names`
    raises KeyError (and `get` answers its default), as a dict of every plan would."""

    __slots__ = ("_build", "_names")

    def __init__(self, names: Iterable[str], build: Callable[[str], V]) -> None:
        super().__init__()
        self._names = frozenset(names)
        self._build = build

    def __missing__(self, name: str) -> V:
        if name not in self._names:
            raise KeyError(name)
        # Two threads may build the same plan at once: both results are equal and either wins.
        value = self[name] = self._build(name)
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def get(self, name: str, default: V | None = None) -> V | None:  # type: ignore[override]
        return self[name] if name in self._names else default
