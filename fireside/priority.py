"""The event loop's thread runs ahead of the processes it wakes.

Every request and every function's Runtime API exchange passes through one thread. Each of
its writes wakes a client or a runtime, and at equal priority the woken process often
preempts it mid-turn: everything else waiting on the loop then waits for that process's
time slice too. At a lower niceness than theirs the loop finishes its turn first, and the
processes run while it waits for the next events.

`SCHED_RESET_ON_FORK` keeps the boost to this one thread: threads it starts and processes
it spawns (sandboxes, runtimes, tools) begin at niceness 0, as if it had none.
"""

from __future__ import annotations

import os


def favour_this_thread(nice: int) -> str | None:
    """Give the calling thread niceness `nice` (<= 0); what stopped it, if it could not (an
    unprivileged process may not raise its priority: it then runs as before)."""
    if nice >= 0:
        return None
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # the calling thread (per-thread on Linux)
    except (OSError, AttributeError) as exc:  # AttributeError: not Linux
        return f"the event loop keeps the default priority ({exc})"
    return None
