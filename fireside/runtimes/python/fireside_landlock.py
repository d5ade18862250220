"""Landlock for the runtime process: a second fence inside the namespace sandbox.

The mount namespace already decides what exists; Landlock, applied by the process to itself
and inherited by everything it starts, confines what it may do with it:
- reading and executing anywhere it can see, as on Lambda;
- writing and creating only under /tmp, /dev and /proc (files the kernel still guards);
- with Landlock ABI 6 and later, no signals to processes outside its domain (the sandbox's
  init) and no abstract unix sockets outside it.

Runs inside the sandbox, so standard library only: Fireside's Python bootstrap imports it
before loading the handler, and `fireside_exec` (which starts every other runtime) before it
execs the runtime.
"""

from __future__ import annotations

import ctypes
import os

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3 and 5
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
#: What /tmp allows: everything Landlock knows of (it is the function's scratch space).
ALL_V1 = (1 << 13) - 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def abi_version(libc: ctypes.CDLL | None = None) -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    libc = libc or ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(0, int(version))


def handled(abi: int) -> int:
    access = ALL_V1
    if abi >= 2:
        access |= REFER
    if abi >= 3:
        access |= TRUNCATE
    if abi >= 5:
        access |= IOCTL_DEV
    return access


def restrict(
    readable: tuple[str, ...] = ("/",),
    writable: tuple[str, ...] = ("/tmp",),
    devices: tuple[str, ...] = ("/dev", "/proc"),
) -> int:
    """Restrict this process (and its future children); returns the ABI used, 0 if none."""
    libc = ctypes.CDLL(None, use_errno=True)
    abi = abi_version(libc)
    if abi == 0:
        return 0
    access = handled(abi)
    attr = _RulesetAttr(access, 0, SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 8  # older kernels reject fields they do not know
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        file_rights = WRITE_FILE | READ_FILE | ((TRUNCATE | IOCTL_DEV) & access)
        for paths, allowed in (
            (readable, READ),
            (writable, access),
            (devices, READ | file_rights),
        ):
            for path in paths:
                _allow(libc, ruleset, path, allowed)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, allowed: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not in this sandbox: nothing to allow
    try:
        rule = _PathBeneathAttr(allowed, fd)
        if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
    finally:
        os.close(fd)
