"""A seccomp-BPF program generator in pure Python, for `bwrap --seccomp FD`.

Execution environments run untrusted function code. Namespaces hide the host, but every syscall
still reaches the host kernel, so a deny list removes the calls a Lambda function never needs and
that either widen the kernel attack surface or help an escape. bubblewrap loads the program from
an fd holding a bare array of `struct sock_filter` in native byte order, which `build_filter`
produces and `filter_fd` packages.

The program only ever looks at `seccomp_data.arch` and `seccomp_data.nr`, never at arguments.
That keeps it short, and lets kernels >= 5.11 prove every allowed syscall constant and skip
running the filter for them altogether (the seccomp action cache).

Layout (offsets are resolved by a tiny label assembler, so no jump can silently overflow u8):

    ld arch; jeq X86_64 -> x86; jeq AARCH64 -> arm; ret KILL_PROCESS
    x86: ld nr; jge 0x40000000 -> deny; jeq u... -> nosys; ja 1; nosys: ret ENOSYS;
         jeq n... -> deny; ret ALLOW; deny: ret ERRNO
    arm: ld nr; (the same without the x32 test)

Long deny lists are cut into blocks that each end in their own `ret ERRNO`, so every conditional
jump stays short however many syscalls are listed.
"""

from __future__ import annotations

import errno as errno_codes
import os
import struct
from collections.abc import Iterable

__all__ = ["DENIED_SYSCALLS", "UNSUPPORTED_SYSCALLS", "build_filter", "filter_fd"]

# Classic BPF opcodes (linux/bpf_common.h) and seccomp constants (linux/seccomp.h, linux/audit.h).
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JMP_JA = 0x05 | 0x00  # BPF_JMP | BPF_JA
_JMP_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_JMP_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
_JMP_JSET_K = 0x05 | 0x40 | 0x00  # BPF_JMP | BPF_JSET | BPF_K
_OFFSET_ARG0_LOW = 16  # offsetof(struct seccomp_data, args[0]), low word on little-endian
_CLONE_NEWUSER = 0x10000000
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435  # the same on both: in the generic range

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

_OFFSET_NR = 0  # offsetof(struct seccomp_data, nr)
_OFFSET_ARCH = 4  # offsetof(struct seccomp_data, arch)

AUDIT_ARCH_X86_64 = 0xC000003E  # EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
AUDIT_ARCH_AARCH64 = 0xC00000B7  # EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
# x32 syscalls arrive with the x86_64 arch value and this bit set in nr; the x32 ABI is a second
# syscall table (its own compat paths) that no Lambda runtime uses, so all of it is refused.
_X32_SYSCALL_BIT = 0x40000000

_MAX_INSNS = 4096  # BPF_MAXINSNS: the kernel refuses longer programs
_BLOCK = 200  # compares per block; keeps every jt below 256
_INSN = struct.Struct("=HBBI")  # struct sock_filter, native byte order as the kernel reads it

# The default deny list. Everything here is either host administration (mounts, swap, modules,
# reboot, kexec, clocks, quotas, accounting, consoles), a way to reach into other processes
# (ptrace, process_vm_*, kcmp, pidfd_getfd), a large and frequently exploited kernel surface
# (bpf, perf_event_open, keyrings, userfaultfd, fanotify), or a namespace / file-handle trick used
# in container escapes (unshare, setns, open_by_handle_at). chroot is denied too: unprivileged it
# fails anyway, and where it would work it only helps an escape. Deliberately *not* denied:
# clone/clone3 (threads and subprocesses need them; new user namespaces via clone flags are cut
# off by bwrap's --disable-userns instead, since clone3 flags cannot be inspected by seccomp) and
# personality (some runtimes call it at start-up; its risky flags, such as turning off ASLR, only
# weaken the caller's own processes, and the kernel clears them across setuid execs).
DENIED_SYSCALLS: tuple[str, ...] = (
    # Mounts and the root filesystem.
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr",
    # Host administration.
    "swapon", "swapoff", "reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "create_module", "acct", "quotactl", "quotactl_fd", "lookup_dcookie",
    "syslog", "vhangup", "uselib", "nfsservctl", "iopl", "ioperm",
    # Clocks shared with the host.
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    # Other processes.
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # Large kernel attack surface.
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "fanotify_init",
    # Namespaces and file handles.
    "unshare", "setns", "open_by_handle_at", "name_to_handle_at",
)  # fmt: skip

# Answered ENOSYS whatever `errno` the deny list uses: io_uring is a large kernel surface with a
# long record of privilege escalations, and runtimes probe it (libuv on Node.js, Tokio, liburing
# users) and fall back to epoll and threads when the kernel "lacks" it. ENOSYS is what a kernel
# built without io_uring answers, the one case every such runtime must already handle.
UNSUPPORTED_SYSCALLS: tuple[str, ...] = ("io_uring_setup", "io_uring_enter", "io_uring_register")

# Syscall numbers, only for names the filter may deny. x86_64 from asm/unistd_64.h; aarch64 uses
# the asm-generic table. Names missing from a table do not exist on that architecture (iopl,
# uselib, ...), so there is nothing to deny there.
_X86_64: dict[str, int] = {
    "ptrace": 101, "syslog": 103, "uselib": 134, "vhangup": 153, "pivot_root": 155,
    "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165,
    "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "create_module": 174, "init_module": 175, "delete_module": 176, "quotactl": 179,
    "nfsservctl": 180, "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246,
    "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "fanotify_init": 300, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "clock_adjtime": 305, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "pidfd_getfd": 438, "mount_setattr": 442, "quotactl_fd": 443,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
}  # fmt: skip
_AARCH64: dict[str, int] = {
    "lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "nfsservctl": 42,
    "chroot": 51, "vhangup": 58, "quotactl": 60, "acct": 89, "unshare": 97, "kexec_load": 104,
    "init_module": 105, "delete_module": 106, "clock_settime": 112, "syslog": 116, "ptrace": 117,
    "reboot": 142, "settimeofday": 170, "adjtimex": 171, "add_key": 217, "request_key": 218,
    "keyctl": 219, "swapon": 224, "swapoff": 225, "perf_event_open": 241, "fanotify_init": 262,
    "name_to_handle_at": 264, "open_by_handle_at": 265, "clock_adjtime": 266, "setns": 268,
    "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "finit_module": 273,
    "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_getfd": 438,
    "mount_setattr": 442, "quotactl_fd": 443, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427,
}  # fmt: skip

# An instruction whose jump fields (or a `ja`'s k) may name a label; a bare string in a program
# marks where that label points. `_assemble` turns both into plain offsets.
_Insn = tuple[int, int | str, int | str, int | str]
_Item = _Insn | str


def build_filter(
    denied: Iterable[str] = DENIED_SYSCALLS,
    *,
    errno: int = errno_codes.EPERM,
    no_new_user_namespaces: bool = False,
    unsupported: Iterable[str] = UNSUPPORTED_SYSCALLS,
) -> bytes:
    """The compiled program: denied syscalls fail with `errno`, `unsupported` ones with ENOSYS
    (as if the kernel lacked them), everything else is allowed.

    `no_new_user_namespaces` also refuses `clone` with CLONE_NEWUSER, and `clone3` with ENOSYS
    (its flags live in memory a filter cannot read; libc then falls back to `clone`), for
    processes bubblewrap's `--disable-userns` does not cover (snapshot starts).

    Raises ValueError for a name neither table knows (a typo must not silently allow a syscall)
    or an errno outside 1..4095. Pure and cheap, but callers should still build once and cache.
    """
    if not 1 <= errno <= 4095:  # the kernel clamps larger values to MAX_ERRNO anyway
        raise ValueError(f"errno must be in 1..4095, got {errno}")
    names, absent = set(denied), set(unsupported)
    unknown = sorted(n for n in names | absent if n not in _X86_64 and n not in _AARCH64)
    if unknown:
        raise ValueError(f"unknown syscall name(s): {', '.join(unknown)}")
    deny = _RET_ERRNO | errno

    program: list[_Item] = [
        (_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        (_JMP_JEQ_K, 0, 1, AUDIT_ARCH_X86_64),
        (_JMP_JA, 0, 0, "x86_64"),  # ja carries a 32-bit offset, so the table may be far away
        (_JMP_JEQ_K, 0, 1, AUDIT_ARCH_AARCH64),
        (_JMP_JA, 0, 0, "aarch64"),
        (_RET_K, 0, 0, _RET_KILL_PROCESS),  # i386 compat, arm32 compat, anything unknown
    ]
    for arch, table in (("x86_64", _X86_64), ("aarch64", _AARCH64)):
        missing = sorted({table[name] for name in absent if name in table})
        numbers = sorted({table[name] for name in names - absent if name in table})
        program += [arch, (_LD_W_ABS, 0, 0, _OFFSET_NR)]
        if arch == "x86_64":
            program.append((_JMP_JGE_K, f"{arch}.deny0", 0, _X32_SYSCALL_BIT))
        # ENOSYS answers first, with their return right behind them: every jump stays short.
        enosys = missing + ([_CLONE3] if no_new_user_namespaces else [])
        if enosys:
            program += [(_JMP_JEQ_K, f"{arch}.enosys", 0, number) for number in enosys]
            program += [(_JMP_JA, 0, 0, 1), f"{arch}.enosys"]
            program.append((_RET_K, 0, 0, _RET_ERRNO | errno_codes.ENOSYS))
        if no_new_user_namespaces:
            program.append((_JMP_JEQ_K, f"{arch}.clone", 0, _CLONE[arch]))
        program += _compare_blocks(arch, numbers, deny)
        if no_new_user_namespaces:
            program += [
                f"{arch}.clone",
                (_LD_W_ABS, 0, 0, _OFFSET_ARG0_LOW),
                (_JMP_JSET_K, 0, 1, _CLONE_NEWUSER),
                (_RET_K, 0, 0, deny),
                (_RET_K, 0, 0, _RET_ALLOW),
            ]

    insns = _assemble(program)
    if len(insns) > _MAX_INSNS:
        raise ValueError(f"filter has {len(insns)} instructions; the kernel allows {_MAX_INSNS}")
    return b"".join(_INSN.pack(*insn) for insn in insns)


def _compare_blocks(arch: str, numbers: list[int], deny: int) -> list[_Item]:
    """JEQ chains of at most `_BLOCK` compares, each block followed by its own deny return."""
    out: list[_Item] = []
    blocks = [numbers[i : i + _BLOCK] for i in range(0, len(numbers), _BLOCK)] or [[]]
    for index, block in enumerate(blocks):
        target = f"{arch}.deny{index}"
        out += [(_JMP_JEQ_K, target, 0, number) for number in block]
        last = index == len(blocks) - 1
        out.append((_RET_K, 0, 0, _RET_ALLOW) if last else (_JMP_JA, 0, 0, 1))
        out += [target, (_RET_K, 0, 0, deny)]
    return out


def _assemble(program: list[_Item]) -> list[tuple[int, int, int, int]]:
    """Resolve label references into relative offsets, refusing any that do not fit."""
    labels: dict[str, int] = {}
    insns: list[_Insn] = []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)

    def offset(pc: int, target: int | str, limit: int) -> int:
        rel = target if isinstance(target, int) else labels[target] - pc - 1
        if not 0 <= rel <= limit:
            raise ValueError(f"jump from {pc} to {target!r} out of range ({rel})")
        return rel

    out: list[tuple[int, int, int, int]] = []
    for pc, (code, jt, jf, k) in enumerate(insns):
        if code == _JMP_JA:
            out.append((code, 0, 0, offset(pc, k, 0xFFFFFFFF)))
        elif isinstance(k, str):
            raise ValueError(f"label {k!r} used as an operand at {pc}")
        else:
            out.append((code, offset(pc, jt, 0xFF), offset(pc, jf, 0xFF), k))
    return out


def filter_fd(program: bytes) -> int:
    """An fd holding `program`, positioned at its start, for `bwrap --seccomp FD`.

    The fd is close-on-exec; hand it over with `subprocess`'s `pass_fds`, which makes it
    inheritable in the child only (so concurrent spawns never leak it). The caller closes it.
    """
    if not program or len(program) % _INSN.size:
        raise ValueError("program must be a non-empty array of 8-byte sock_filter entries")
    try:
        fd = os.memfd_create("fireside-seccomp", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return _pipe_fd(program)
    try:
        _write_all(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _pipe_fd(program: bytes) -> int:
    # Without memfd the program is parked in a pipe: it must fit in the pipe buffer, since nobody
    # reads until bwrap starts. A non-blocking write turns "does not fit" into an error, not a hang.
    read_fd, write_fd = os.pipe()
    try:
        os.set_blocking(write_fd, False)
        _write_all(write_fd, program)
    except BlockingIOError:
        os.close(read_fd)
        raise OSError(errno_codes.EFBIG, "seccomp program does not fit in a pipe") from None
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # bwrap reads to EOF
    return read_fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
