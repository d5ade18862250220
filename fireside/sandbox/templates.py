"""Snapshot templates of the namespace backend, and the environments forked from them.

A template is a namespace sandbox whose runtime ran the function's Init once and then serves
forks (`fireside.sandbox.snapshot`); one per snapshot key (a published version), made once
however many environments ask at the same time. What the runtime needs to become a template
(a fork server, flags, binds) is its `SnapshotHooks`. Each environment is a fork placed in
namespaces of its own inside the template's, with a resource group and a network of its own;
a spare fork per key is kept ready (`WarmPool`), so a start leaves only the restore.

Environments die with their template, so a template is stopped only once none is left: when it
is unused for the spares' lifetime, when more than `MAX_TEMPLATES` exist, when its version is
gone (`forget`), or before its Init's credentials expire (`TemplateSession.fork_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import math
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fireside.sandbox import limits, seccomp
from fireside.sandbox.base import ProcessSandbox, SandboxSpec, TemplateSession
from fireside.sandbox.netns import connect_network
from fireside.sandbox.snapshot import (
    ForkedSandbox,
    TemplateError,
    request_fork,
    wait_template_ready,
)
from fireside.sandbox.warm import WarmPool

TEMPLATE_INIT_TIMEOUT = 10.0  # seconds a snapshot template's Init may take, as Lambda's Init
#: Starts a template's sandbox: its spec, the runtime dir, and the child end of its control
#: socket (the backend's own start, which holds the runtime until `release()`).
StartTemplate = Callable[[SandboxSpec, Path, int], Awaitable[ProcessSandbox]]


def _group_of(
    pid: int, name: str, wanted: limits.Limits, backend: limits.LimitsBackend | None
) -> limits.ResourceGroup:
    """A new resource group holding `pid`. Blocking: run in a thread. Moving a process into a
    cgroup waits for an RCU grace period: 4-12 ms on the event loop per copy, measured."""
    group = limits.ResourceGroup.create(name, wanted, backend)
    try:
        group.add(pid)
    except BaseException:
        group.close()
        raise
    return group


@dataclass(slots=True, eq=False)  # eq=False: hashed by identity (`_retired`)
class Template:
    """A snapshot template: its sandbox and Fireside's end of its control socket (None until
    made), the environments alive that were forked from it, and when one was last made.

    Environments live in namespaces nested in the template's sandbox, so they die with it: a
    template is stopped only when none is left (and it was unused for the spares' lifetime,
    or more than MAX_TEMPLATES exist)."""

    ready: asyncio.Future[None]
    sandbox: ProcessSandbox | None = None
    control: socket.socket | None = None
    users: int = 0
    last_used: float = 0.0
    #: The credentials its Init ran with (revoked when it stops).
    session: TemplateSession | None = None
    #: When (monotonic) it stops forking environments: see `TemplateSession.fork_for`.
    fork_until: float = math.inf
    #: No longer forks: stopped once its last environment is gone.
    retired: bool = False
    #: Stops what Fireside serves on its network (`SandboxSpec.template_network`).
    stop_network: Callable[[], None] | None = None


MAX_TEMPLATES = 8
#: Unbound sockets a forked environment's network is given ahead, for what Fireside serves on
#: it besides `SandboxSpec.inside_ports` (`fireside.compute.aws_names`: HTTPS and HTTP
#: listeners, the resolver's); one more is made when needed.
SERVED_SOCKETS = (socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_DGRAM)


class Templates:
    """The templates of one backend, and a spare fork per snapshot key."""

    def __init__(
        self,
        start: StartTemplate,
        *,
        cache: Path,
        instance: str,
        limits_backend: limits.LimitsBackend,
        slirp: str | None,
        spares: int,
        lifetime: float,
    ) -> None:
        self._start = start
        self._cache = cache
        self._instance = instance
        self._limits = limits_backend
        self._slirp = slirp
        self._lifetime = lifetime
        # Each fork loads the full list plus a ban on new user namespaces.
        self._forked_seccomp = seccomp.build_filter(no_new_user_namespaces=True)
        self._templates: dict[str, Template] = {}
        #: Retired templates whose environments still run; and their pending stops.
        self._retired: set[Template] = set()
        self._stops: set[asyncio.Task[None]] = set()
        self._fork_specs: dict[str, tuple[SandboxSpec, Path]] = {}
        # A spare fork per version: its namespaces, cgroup and network are ready, so taking it
        # leaves only the restore itself.
        self._forks: WarmPool[str, ForkedSandbox] = WarmPool(
            self._fork,
            self._discard_fork,
            lambda forked: forked.alive(),
            spares=spares,
            lifetime=lifetime,
        )

    async def close(self) -> None:
        await self._forks.close()
        for key in list(self._templates):
            await self._drop_template(key, force=True)
        for template in list(self._retired):
            await self._stop_template(template)
        if self._stops:
            await asyncio.gather(*self._stops, return_exceptions=True)

    async def forget(self, prefix: str) -> None:
        """Versions whose keys start with `prefix` are gone: revoke their templates'
        credentials now, and stop each template once its environments are gone."""
        for key in [k for k in self._templates if k.startswith(prefix)]:
            self._forks.forget(key)
            self._fork_specs.pop(key, None)
            template = self._templates[key]
            if template.session is not None:
                template.session.revoke()  # now, even while its environments finish
            self._retire(key)

    async def start(self, spec: SandboxSpec, runtime_dir: Path) -> ForkedSandbox:
        """An environment from the version's snapshot: a spare fork made ahead (namespaces,
        cgroup and network ready) when there is one, else a fork made now."""
        key = spec.snapshot_key
        assert key is not None
        self._fork_specs[key] = (spec, runtime_dir)
        forked = self._forks.take(key)
        if forked is None:
            forked = await self._fork(key)
        forked.set_env(spec.env)
        return forked

    async def _fork(self, key: str) -> ForkedSandbox:
        spec, runtime_dir = self._fork_specs[key]
        template = await self._template_for(spec, runtime_dir)
        template.last_used = time.monotonic()
        assert template.control is not None
        pid, output_fd, own = await asyncio.to_thread(
            request_fork, template.control, spec.tmp_mb, self._forked_seccomp
        )
        template.users += 1

        def released() -> None:
            template.users -= 1
            template.last_used = time.monotonic()
            if template.retired and template.users == 0:
                self._spawn_stop(template)

        try:
            group = await asyncio.to_thread(
                _group_of,
                pid,
                f"{self._instance}-fork-{os.urandom(6).hex()}",
                limits.Limits(memory_mb=spec.memory_mb, burst_until_throttled=True),
                self._limits,
            )
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            own.close()
            os.close(output_fd)
            released()
            raise
        sandbox = ForkedSandbox(pid, output_fd, own, group, on_close=released)
        try:
            if spec.inside_ports:  # a private network: Fireside serves on it
                sandbox.prepare_sockets(spec.inside_ports, list(SERVED_SOCKETS))
                if spec.serve_network is not None:  # its endpoint and AWS's names, ahead
                    sandbox.serving = await spec.serve_network(sandbox)
                sandbox.announce_network()
            if spec.egress and self._slirp is not None:
                sandbox.network = await asyncio.to_thread(
                    connect_network,
                    self._slirp,
                    f"/proc/{pid}/ns/net",
                    pid,
                    owner=self._instance,
                    allow_private=spec.private_egress,
                )
        except BaseException:
            sandbox.kill()
            await sandbox.close()
            raise
        return sandbox

    async def _template_for(self, spec: SandboxSpec, runtime_dir: Path) -> Template:
        """The running template of `spec.snapshot_key`, made if needed: once, however many
        environments ask at the same time (they all wait for the one Init)."""
        key = spec.snapshot_key
        assert key is not None
        template = self._templates.get(key)
        if template is not None and template.sandbox is not None and not template.sandbox.running():
            await self._drop_template(key, force=True)
            template = None
        elif template is not None and time.monotonic() > template.fork_until:
            self._retire(key)  # its credentials expire soon: a new template, new credentials
            template = None
        if template is None:
            await self._expire_templates()
            template = Template(
                asyncio.get_running_loop().create_future(), last_used=time.monotonic()
            )
            self._templates[key] = template
            try:
                await self._make_template(template, spec, runtime_dir)
            except BaseException as exc:
                template.ready.set_exception(TemplateError(str(exc)))
                template.ready.exception()
                await self._drop_template(key, force=True)
                raise
            template.ready.set_result(None)
        await asyncio.shield(template.ready)
        return template

    async def _make_template(
        self, template: Template, spec: SandboxSpec, runtime_dir: Path
    ) -> None:
        assert spec.snapshot_key is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        template.control = ours
        name = "snap-" + hashlib.sha256(spec.snapshot_key.encode()).hexdigest()[:12]
        env = dict(spec.env)
        if spec.template_session is not None:
            template.session = spec.template_session()
            env.update(template.session.env)
            template.fork_until = time.monotonic() + template.session.fork_for
        template_spec = dataclasses.replace(
            spec,
            env=env,
            host=dataclasses.replace(spec.host, work_dir=Path(name)),
            snapshot_key=None,
            template_session=None,
            template_network=None,
        )
        if spec.snapshot is not None:  # what the runtime's template needs (a fork server...)
            plan = await asyncio.to_thread(spec.snapshot.template, spec.argv, self._cache)
            template_spec.argv = plan.argv
            template_spec.env.update(plan.env)
            template_spec.binds = [*spec.binds, *plan.binds]
        try:
            sandbox = await self._start(template_spec, runtime_dir, theirs.fileno())
        finally:
            theirs.close()
        template.sandbox = sandbox
        if spec.template_network is not None:
            template.stop_network = await spec.template_network(sandbox)
        sandbox.release()
        asyncio.get_running_loop().add_reader(sandbox.output_fd, _drain_quietly, sandbox.output_fd)
        await asyncio.to_thread(wait_template_ready, ours, TEMPLATE_INIT_TIMEOUT)

    async def _drop_template(self, key: str, *, force: bool = False) -> None:
        """Stop a template: only once no environment forked from it is alive, unless forced
        (it is broken, or Fireside is stopping)."""
        template = self._templates.get(key)
        if template is None or (template.users > 0 and not force):
            return
        del self._templates[key]
        await self._stop_template(template)

    def _retire(self, key: str) -> None:
        """No more environments from this template; it stops with the last one it made."""
        template = self._templates.pop(key)
        template.retired = True
        if template.users == 0 and template.ready.done():
            self._spawn_stop(template)
        else:
            self._retired.add(template)

    def _spawn_stop(self, template: Template) -> None:
        task = asyncio.get_running_loop().create_task(self._stop_template(template))
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    async def _stop_template(self, template: Template) -> None:
        self._retired.discard(template)
        if template.session is not None:
            template.session.revoke()
        if template.control is not None:
            template.control.close()  # EOF: the template's process exits
        if template.stop_network is not None:
            template.stop_network()
        sandbox = template.sandbox
        if sandbox is None:
            return
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(sandbox.output_fd)
        sandbox.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sandbox.wait(), 5)
        with contextlib.suppress(OSError):
            os.close(sandbox.output_fd)
        await sandbox.close()

    async def _expire_templates(self) -> None:
        """Stop templates unused for the spares' lifetime, and the oldest unused ones beyond
        MAX_TEMPLATES; never one with live environments."""
        now = time.monotonic()
        idle = {k: t for k, t in self._templates.items() if t.users == 0 and t.ready.done()}
        for key, template in idle.items():
            if now - template.last_used > self._lifetime:
                await self._drop_template(key)
        while len(self._templates) >= MAX_TEMPLATES:
            candidates = [k for k, t in self._templates.items() if t.users == 0 and t.ready.done()]
            if not candidates:
                break
            oldest = min(candidates, key=lambda k: self._templates[k].last_used)
            await self._drop_template(oldest)

    async def _discard_fork(self, forked: ForkedSandbox) -> None:
        forked.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(forked.wait(), 5)
        with contextlib.suppress(OSError):
            os.close(forked.output_fd)
        await forked.close()


def _drain_quietly(fd: int) -> None:
    """A template's own output (Init's prints) is read and dropped: its environments each
    have a pipe of their own."""
    with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
        while os.read(fd, 65536):
            pass
        asyncio.get_running_loop().remove_reader(fd)  # end of file: the template is gone
