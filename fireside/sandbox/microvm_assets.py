"""The `microvm` backend's guest assets: a Debian kernel and an initramfs, built once.

Under `<share>/microvm/` (see `build_assets`), blocking, by the backend under its lock:
- Debian's *generic* 6.1 kernel (`linux-image-amd64`'s versioned package, via `apt-get download`
  and `dpkg-deb -x`: nothing is installed). Not the faster-booting `-cloud-amd64` flavour: it is
  built without 9p (`# CONFIG_NET_9P is not set`), and 9p is how the guest sees host trees.
  Its xz payload is unpacked to an ELF `vmlinux` that QEMU boots directly (PVH entry).
- an initramfs written here in the newc cpio format: a static busybox (from `busybox-static`),
  the virtio/9p kernel modules (load order computed from their `depends=` tags, as there is no
  modules.dep), and `/init`.
- the guest's `/etc`: copies of the host files the namespace backend shows.
"""

from __future__ import annotations

import gzip
import logging
import lzma
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from fireside.sandbox.base import ETC_FILES
from fireside.store.durable import publish_tree, replace_durably, write_durably

log = logging.getLogger(__name__)

#: The guest kernel's package: the meta package names the current versioned one.
KERNEL_META = "linux-image-amd64"
BUSYBOX_PACKAGE = "busybox-static"
#: Modules the guest needs (their dependencies are added from the modules' own tags).
MODULES = ("virtio_mmio", "virtio_console", "virtio_net", "9pnet_virtio", "9p")
#: Busybox applets /init and the generated scripts use.
APPLETS = (
    "sh", "mount", "umount", "insmod", "ip", "mkdir", "cat", "echo", "grep", "poweroff",
    "stty", "sleep", "ln", "rm", "env", "hostname", "dmesg", "true", "test", "[", "date", "mkfifo", "kill",
)  # fmt: skip

INIT_SCRIPT = """#!/fireside/bin/sh
# Fireside microvm init: base mounts and modules here; the rest is per environment (boot.sh).
export PATH=/fireside/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in $(cat /fireside/modules/order); do
  insmod /fireside/modules/$module.ko
done
# The console is a virtio one (hvc0): the emulated UART moves a byte per I/O exit, far too
# slow for a chatty function under TCG. Its port appears asynchronously.
tries=0
while [ ! -c /dev/hvc0 ] && [ $tries -lt 500 ]; do
  sleep 0.01
  tries=$((tries + 1))
done
exec </dev/hvc0 >/dev/hvc0 2>&1
if grep -q fireside.probe /proc/cmdline; then
  echo FIRESIDE-PROBE ok
  poweroff -f
fi
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 guest /guest
. /guest/boot.sh
poweroff -f
"""


# -- the initramfs ----------------------------------------------------------------------------


class Cpio:
    """A writer of the `newc` cpio format the kernel unpacks as its initramfs."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._inode = 1

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        encoded = name.encode() + b"\0"
        fields = (
            self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0,
        )  # fmt: skip
        self._inode += 1
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self._parts.append(header + encoded + _pad(len(header) + len(encoded)))
        self._parts.append(data + _pad(len(data)))

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self._parts)


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def module_depends(data: bytes) -> list[str]:
    """A kernel module's `depends=` tag (from its .modinfo section, found in the raw bytes)."""
    match = re.search(rb"\0depends=([^\0]*)\0", data)
    if match is None or not match[1]:
        return []
    return match[1].decode().split(",")


def load_order(modules: dict[str, bytes], wanted: tuple[str, ...]) -> list[str]:
    """`wanted` and everything they depend on, dependencies first."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"kernel module dependency cycle: {' -> '.join(path)}")
        if name not in modules:
            raise ValueError(f"kernel module {name} is missing from the kernel package")
        for dependency in module_depends(modules[name]):
            visit(dependency, (*path, name))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def build_initramfs(busybox: bytes, modules: dict[str, bytes], wanted: tuple[str, ...]) -> bytes:
    order = load_order(modules, wanted)
    cpio = Cpio()
    for directory in (
        "dev", "proc", "sys", "tmp", "usr", "etc", "opt", "run", "guest", "var", "var/task",
        "var/runtime", "var/lang", "fireside", "fireside/bin", "fireside/modules",
    ):  # fmt: skip
        cpio.directory(directory)
    # The kernel opens /dev/console for init before anything is mounted.
    cpio.char_device("dev/console", 5, 1)
    # The host's merged-/usr links, so paths under /bin and /lib resolve once /usr is mounted.
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        if os.path.islink(f"/{name}"):
            cpio.symlink(name, os.readlink(f"/{name}"))
        elif os.path.isdir(f"/{name}"):
            cpio.symlink(name, f"usr/{name}")
    cpio.file("fireside/bin/busybox", busybox, 0o755)
    for applet in APPLETS:
        cpio.symlink(f"fireside/bin/{applet}", "busybox")
    for name in order:
        cpio.file(f"fireside/modules/{name}.ko", modules[name])
    cpio.file("fireside/modules/order", ("\n".join(order) + "\n").encode())
    cpio.file("init", INIT_SCRIPT.encode(), 0o755)
    return gzip.compress(cpio.finish(), compresslevel=6)


# -- assets -----------------------------------------------------------------------------------


def _run(argv: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ValueError(f"{' '.join(argv)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


def kernel_package() -> str:
    """The versioned package `linux-image-amd64` depends on (linux-image-6.1.0-N-amd64)."""
    output = _run(["apt-cache", "depends", KERNEL_META])
    match = re.search(r"Depends: (linux-image-[0-9][^\s]*)", output)
    if match is None:
        raise ValueError(f"cannot tell which kernel {KERNEL_META} stands for")
    return match[1]


def uncompressed_kernel(bzimage: bytes) -> bytes | None:
    """The ELF `vmlinux` inside an xz-compressed bzImage, or None for other formats.

    QEMU boots an ELF kernel with a PVH note directly, skipping the decompressor: under TCG that
    is 2.2 s instead of 5.3 s per boot (the decompressor runs as emulated code)."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        return None
    setup_sectors = bzimage[0x1F1] or 4
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sectors + 1) * 512 + offset
    payload = bzimage[start : start + length]
    if not payload.startswith(b"\xfd7zXZ\0"):
        return None
    try:
        vmlinux = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    except lzma.LZMAError:
        return None
    return vmlinux if vmlinux.startswith(b"\x7fELF") else None


def build_assets(root: Path) -> tuple[Path, Path]:
    """The guest kernel and initramfs under `root`, downloading and building them if missing."""
    root.mkdir(parents=True, exist_ok=True)
    current = root / "current"
    if current.exists():
        asset_dir = root / current.read_text().strip()
        if (asset_dir / "initrd.cpio.gz").exists():
            return asset_dir / "kernel", asset_dir / "initrd.cpio.gz"
    package = kernel_package()
    log.info("building the microvm guest from %s and %s (once)", package, BUSYBOX_PACKAGE)
    with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as scratch:
        work = Path(scratch)
        os.chmod(work, 0o755)  # apt-get download drops privileges to _apt where it can
        _run(["apt-get", "download", "-q", package, BUSYBOX_PACKAGE], cwd=work)
        tree = work / "tree"
        for deb in sorted(work.glob("*.deb")):
            _run(["dpkg-deb", "-x", str(deb), str(tree)])
        kernels = sorted((tree / "boot").glob("vmlinuz-*"))
        busybox = tree / "bin" / "busybox"
        if not kernels or not busybox.exists():
            raise ValueError("the downloaded packages hold no kernel or no busybox")
        modules = {
            path.name.removesuffix(".ko"): path.read_bytes()
            for path in (tree / "lib" / "modules").rglob("*.ko")
        }
        initramfs = build_initramfs(busybox.read_bytes(), modules, MODULES)
        version = kernels[-1].name.removeprefix("vmlinuz-")
        staging = work / "out"
        staging.mkdir()
        vmlinux = uncompressed_kernel(kernels[-1].read_bytes())
        if vmlinux is not None:
            (staging / "kernel").write_bytes(vmlinux)
        else:
            shutil.copy2(kernels[-1], staging / "kernel")
        (staging / "initrd.cpio.gz").write_bytes(initramfs)
        final = root / version
        if final.exists():
            shutil.rmtree(final)
        publish_tree(staging, final)
    write_durably(current, version.encode())
    return final / "kernel", final / "initrd.cpio.gz"


def copy_etc(target: Path, nameserver: str) -> None:
    """The guest's /etc: copies of the host files the namespace backend shows, and a
    resolv.conf naming `nameserver` (Fireside's resolver, at the guest's gateway)."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".etc-"))
    for path in ETC_FILES:
        if path == "/etc/resolv.conf" or not os.path.exists(path):
            continue
        destination = staging / os.path.basename(path)
        if os.path.isdir(path):
            shutil.copytree(path, destination, symlinks=True)
        else:
            shutil.copy2(path, destination)
    (staging / "resolv.conf").write_text(f"nameserver {nameserver}\noptions timeout:2 attempts:2\n")
    (staging / "hostname").write_text("sandbox\n")
    os.chmod(staging, 0o755)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        replace_durably(target, old)
    publish_tree(staging, target)
    shutil.rmtree(old, ignore_errors=True)
