"""Tests for the seccomp-BPF generator (``fireside/sandbox/seccomp.py``).

Three layers: the program is decoded and checked for structure and run through a tiny classic-BPF
interpreter for every syscall number on every architecture; the number tables are compared with
the kernel headers when they are installed; and the filter is loaded into a real kernel, both by a
child that installs it itself through ctypes and (when bubblewrap is installed) through
``bwrap --seccomp FD``. The kernel probes use arguments that fail harmlessly (missing paths, bad
fds, invalid clocks) should the filter not be in force, and a non-default errno proves that the
filter, not the kernel, answered.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fireside.sandbox import seccomp
from fireside.sandbox.seccomp import (
    DENIED_SYSCALLS,
    UNSUPPORTED_SYSCALLS,
    build_filter,
    filter_fd,
)

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64", reason="Linux x86_64 only"
)

RET, JMP, LD = 0x06, 0x05, 0x00
ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
ALLOW, KILL_PROCESS = 0x7FFF0000, 0x80000000


def decode(program: bytes) -> list[tuple[int, int, int, int]]:
    return list(struct.iter_unpack("=HBBI", program))


def run_bpf(program: bytes, arch: int, nr: int) -> int:
    """Evaluate the program for one syscall, the way the kernel would (subset it uses)."""
    insns = decode(program)
    acc, pc = 0, 0
    for _ in range(len(insns)):  # classic BPF only jumps forward, so this bounds the run
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld w abs
            acc = {0: nr, 4: arch}[k]
        elif code == 0x06:
            return k
        elif code == 0x05:  # ja
            pc += k
        elif code == 0x15:
            pc += jt if acc == k else jf
        elif code == 0x35:
            pc += jt if acc >= k else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc}")
        pc += 1
    raise AssertionError("program did not return")


def test_structure() -> None:
    program = build_filter()
    assert len(program) % 8 == 0
    insns = decode(program)
    assert len(insns) <= 4096
    for pc, (code, jt, jf, k) in enumerate(insns):
        if code & 0x07 == JMP:
            targets = [pc + 1 + k] if code == 0x05 else [pc + 1 + jt, pc + 1 + jf]
            assert all(t < len(insns) for t in targets), (pc, targets)
        else:
            assert code & 0x07 in (RET, LD), code
    assert insns[-1][0] == RET


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_semantics_every_number(arch: str) -> None:
    table = {"x86_64": seccomp._X86_64, "aarch64": seccomp._AARCH64}[arch]
    denied = {table[name] for name in DENIED_SYSCALLS if name in table}
    unsupported = {table[name] for name in UNSUPPORTED_SYSCALLS}
    assert unsupported == {425, 426, 427}  # io_uring: the same numbers on both
    program = build_filter(errno=errno.EDOM)
    for nr in range(1024):
        expected = 0x00050000 | errno.EDOM if nr in denied else ALLOW
        if nr in unsupported:
            expected = 0x00050000 | errno.ENOSYS
        assert run_bpf(program, ARCHES[arch], nr) == expected, (arch, nr)
    x32_getpid = 0x40000000 | 39
    x32 = run_bpf(program, ARCHES[arch], x32_getpid)
    assert x32 == (0x00050000 | errno.EDOM if arch == "x86_64" else ALLOW)


def test_unknown_arch_is_killed() -> None:
    program = build_filter()
    for arch in (0x40000003, 0x40000028, 0):  # i386, arm, nonsense
        assert run_bpf(program, arch, 39) == KILL_PROCESS


def test_long_lists_are_split_into_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny blocks exercise the multi-block layout that a deny list of >200 names would need.
    monkeypatch.setattr(seccomp, "_BLOCK", 3)
    program = build_filter()
    assert program != build_filter(["mount"])
    denied = {seccomp._X86_64[n] for n in DENIED_SYSCALLS if n in seccomp._X86_64}
    for nr in range(512):
        expected = 0x00050000 | errno.EPERM if nr in denied else ALLOW
        if nr in (425, 426, 427):
            expected = 0x00050000 | errno.ENOSYS
        assert run_bpf(program, ARCHES["x86_64"], nr) == expected


def test_empty_list_allows_everything_but_x32() -> None:
    program = build_filter([], unsupported=[])
    assert run_bpf(program, ARCHES["x86_64"], 165) == ALLOW
    assert run_bpf(program, ARCHES["x86_64"], 425) == ALLOW
    assert run_bpf(program, ARCHES["x86_64"], 0x40000000) == 0x00050000 | errno.EPERM


def test_io_uring_answers_enosys_with_any_deny_errno() -> None:
    # Runtimes that probe io_uring (libuv, Tokio) fall back when the kernel "lacks" it: ENOSYS,
    # whatever errno the deny list uses, and also in the snapshot children's variant.
    for program in (build_filter(errno=errno.EDOM), build_filter(no_new_user_namespaces=True)):
        for arch in ARCHES.values():
            for nr in (425, 426, 427):
                assert run_bpf(program, arch, nr) == 0x00050000 | errno.ENOSYS


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="mountt"):
        build_filter(["mount", "mountt"])
    with pytest.raises(ValueError, match="errno"):
        build_filter(errno=0)
    with pytest.raises(ValueError, match="errno"):
        build_filter(errno=70000)


def test_no_thread_or_process_creation_denied() -> None:
    for name in ("clone", "clone3", "fork", "vfork", "execve", "personality"):
        assert name not in DENIED_SYSCALLS


@pytest.mark.parametrize(
    ("header", "table"),
    [
        ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", seccomp._X86_64),
        ("/usr/include/asm-generic/unistd.h", seccomp._AARCH64),
    ],
)
def test_numbers_match_kernel_headers(header: str, table: dict[str, int]) -> None:
    path = Path(header)
    if not path.exists():
        pytest.skip(f"{header} not installed")
    defined = {
        m[1]: int(m[2])
        for m in re.finditer(r"^#define __NR(?:3264)?_(\w+)\s+(\d+)\s*$", path.read_text(), re.M)
    }
    assert {name: defined.get(name) for name in table} == table
    # Every denied name missing from a table must really be absent on that architecture.
    assert all(name not in defined for name in DENIED_SYSCALLS if name not in table)
    assert all(name in table for name in UNSUPPORTED_SYSCALLS)


@pytest.mark.parametrize("use_pipe", [False, True])
def test_filter_fd(monkeypatch: pytest.MonkeyPatch, use_pipe: bool) -> None:
    if use_pipe:

        def no_memfd(name: str, flags: int = 0) -> int:
            raise OSError(errno.ENOSYS, "no memfd")

        monkeypatch.setattr(os, "memfd_create", no_memfd)
    program = build_filter()
    fd = filter_fd(program)
    try:
        assert not os.get_inheritable(fd)
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        assert data == program
    finally:
        os.close(fd)
    with pytest.raises(ValueError):
        filter_fd(b"\0" * 7)


# Runs in the child. argv[1] is JSON: the expected errno and, unless bwrap loads the filter, the
# program (hex) to install with prctl. Prints a JSON report of probe results.
PROBE = textwrap.dedent(
    r"""
    import ctypes, json, os, socket, subprocess, sys, tempfile, threading, time

    config = json.loads(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    L = ctypes.c_long

    if config.get("program"):
        program = bytes.fromhex(config["program"])

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        buf = ctypes.create_string_buffer(program, len(program))
        fprog = SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
        U = ctypes.c_ulong
        assert libc.prctl(38, U(1), U(0), U(0), U(0)) == 0, ctypes.get_errno()  # NO_NEW_PRIVS
        assert libc.prctl(22, U(2), ctypes.byref(fprog)) == 0, ctypes.get_errno()  # SECCOMP

    def err(result):
        return ctypes.get_errno() if result == -1 else 0

    missing = b"/nonexistent/fireside-seccomp"
    denied = {
        "unshare": lambda: err(libc.unshare(0x10000000 | 0x00020000)),  # NEWUSER | NEWNS
        "mount": lambda: err(libc.mount(b"none", missing, b"tmpfs", L(0), None)),
        "umount2": lambda: err(libc.umount2(missing, 0)),
        "chroot": lambda: err(libc.chroot(missing)),
        "ptrace": lambda: err(libc.syscall(L(101), L(16), L(2**22 + 1), L(0), L(0))),  # ATTACH
        "keyctl": lambda: err(libc.syscall(L(250), L(0), L(-3), L(0))),  # GET_KEYRING_ID
        "bpf": lambda: err(libc.syscall(L(321), L(5), None, L(0))),  # PROG_LOAD, NULL attr
        "perf_event_open": lambda: err(libc.syscall(L(298), None, L(0), L(-1), L(-1), L(0))),
        "setns": lambda: err(libc.syscall(L(308), L(-1), L(0))),
        "clock_settime": lambda: err(libc.syscall(L(227), L(0x7FFF), None)),  # bad clock
        "open_by_handle_at": lambda: err(libc.syscall(L(304), L(-1), None, L(0))),
        "pidfd_getfd": lambda: err(libc.syscall(L(438), L(-1), L(0), L(0))),
        "x32_getpid": lambda: err(libc.syscall(L(0x40000000 | 39))),
    }
    report = {"denied": {name: probe() for name, probe in denied.items()}}
    # io_uring_setup(1, NULL): EFAULT from a kernel that has it, ENOSYS from the filter.
    report["io_uring_setup"] = err(libc.syscall(L(425), L(1), None))

    def work():
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "f")
            with open(path, "w") as f:
                f.write("hello")
            with open(path) as f:
                assert f.read() == "hello"
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7
        out = []
        t = threading.Thread(target=lambda: out.append(sum(range(1000))))
        t.start(); t.join()
        assert out == [499500]
        a, b = socket.socketpair()
        a.sendall(b"ping"); assert b.recv(4) == b"ping"
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0)); server.listen()
            with socket.create_connection(server.getsockname()) as c:
                conn, _ = server.accept(); c.sendall(b"x"); assert conn.recv(1) == b"x"
                conn.close()
        start = time.monotonic(); time.sleep(0.01)
        assert time.monotonic() > start and time.time() > 1e9
        done = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True)
        assert done.stdout.strip() == b"42", done
        return "ok"

    report["work"] = work()
    print(json.dumps(report))
    """
)


def check_report(stdout: str, expected_errno: int) -> None:
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["work"] == "ok"
    assert report["denied"] == dict.fromkeys(report["denied"], expected_errno)
    assert report["io_uring_setup"] == errno.ENOSYS


# EPERM is what functions see; EDOM is something no probe returns on its own.
@pytest.mark.parametrize("code", [errno.EPERM, errno.EDOM])
def test_kernel_enforces_filter(code: int) -> None:
    config = {"program": build_filter(errno=code).hex(), "errno": code}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, code)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
@pytest.mark.parametrize("code", [errno.EPERM, errno.EDOM])
def test_bwrap_loads_filter(code: int) -> None:
    fd = filter_fd(build_filter(errno=code))
    try:
        argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        argv += ["--tmpfs", "/tmp", "--unshare-all", "--die-with-parent", "--seccomp", str(fd)]
        # The interpreter itself, not a virtualenv's link to it: a clone under /tmp (CI's) is
        # hidden by the sandbox's own /tmp, and the probe needs only the standard library.
        argv += [os.path.realpath(sys.executable), "-c", PROBE, json.dumps({"errno": code})]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, pass_fds=[fd])
    finally:
        os.close(fd)
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, code)
