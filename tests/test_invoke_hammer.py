"""The invoke path under load: many concurrent invokes past the environment cap, runtimes
killed (kill -9) mid-invoke. The Python runtime pipelines `/next` behind each result and the
Runtime API holds its answer for the next event (`HttpServer(coalesce=True)`): every invoke
must still get exactly one answer, its own, and no environment may serve two at once.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import ROLE, make_zip
from tests.hammer_support import check_hammer, hammer, runtimes_of, serves_afterwards

CAP = 6
CLIENTS = 16
ROUNDS = 12
HANDLER = """
import os, time
ENVIRONMENT = os.urandom(8).hex()  # per process (pids repeat across pid namespaces)
def handler(event, context):
    started = time.time()
    time.sleep(event["sleep"])
    return {"n": event["n"], "id": context.aws_request_id, "env": ENVIRONMENT,
            "started": started, "ended": time.time()}
"""


def test_many_invokes_past_the_cap_with_runtimes_killed(fresh_server: Any) -> None:
    srv = fresh_server(FIRESIDE_MAX_ENVIRONMENTS=str(CAP))
    lam = srv.client(max_pool_connections=CLIENTS)
    lam.create_function(
        FunctionName="hammer", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": make_zip({"app.py": HANDLER})}, Timeout=30,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="hammer")
    assert srv.process is not None

    pid = srv.process.pid
    hammered = hammer(
        srv,
        lam,
        lambda: runtimes_of(pid, b"bootstrap.py"),
        clients=CLIENTS,
        rounds=ROUNDS,
        kill_every=20,
    )
    check_hammer(hammered, clients=CLIENTS, rounds=ROUNDS, cap=CAP)
    serves_afterwards(lam)
