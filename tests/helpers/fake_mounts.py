"""A mount table of one's own for fileio's file system lookup (fileio.mount_type_of reads Linux's
/proc/self/mountinfo): a folder "mounted" as any file system type (nfs4, cifs, fuse.sshfs, ext4, ...) without a mount,
so that what fileio's folder holds do on a network file system can be tested on the local disk; and, for macOS and
FreeBSD, where fileio asks statfs(2) instead, a statfs of one's own that fills their struct (statfs_as,
freebsd_statfs_as)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import pytest

# the device (MAJ:MIN) of every mount listed without one: 0:0, which no file system has (Linux numbers its unnamed
# devices from 0:1, its disks from major 1), so that the lookup goes by mount point, as where the table does not list
# a folder's device (btrfs's subvolumes), and never by the device of the test's own folder
_NO_DEVICE = "0:0"
# a root mount as a real table lists it (optional fields "shared:1" before the "-")
_ROOT = f"22 1 {_NO_DEVICE} / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro"

# (mount point, type), or (mount point, type, st_dev) for a mount the table lists with that device
Mount = Union[tuple[str, str], tuple[str, str, int]]


def mountinfo_escaped(path: str) -> str:
    """`path` as mountinfo writes it: a space, tab, newline and backslash as octal escapes."""
    return "".join({" ": "\\040", "\t": "\\011", "\n": "\\012", "\\": "\\134"}.get(c, c) for c in path)


def mountinfo_text(mounts: Sequence[Mount]) -> str:
    """A mount table of the root (ext4) and each mount after it, in that order (the later mounted over the earlier at
    the same point), every other line with no optional fields as some mounts have none."""
    lines = [_ROOT]
    for i, (point, kind, *device) in enumerate(mounts):
        optional = f" shared:{i + 2}" if i % 2 else ""
        dev = f"{os.major(device[0])}:{os.minor(device[0])}" if device else _NO_DEVICE
        lines.append(f"{i + 40} 22 {dev} / {mountinfo_escaped(point)} rw,relatime{optional} - {kind} "
                     f"server:/export rw,vers=4.2")
    return "\n".join(lines) + "\n"


def mount_as(monkeypatch: pytest.MonkeyPatch, table: Path, mounts: "Sequence[tuple[Path, str] | tuple[Path, str, int]]"
             ) -> None:
    """Make fileio read `table`, written with `mounts` (each folder by its real path, as the lookup resolves it), as
    the mount table, with its cache emptied; on macOS and FreeBSD too, which fileio otherwise asks statfs(2)
    (sys.platform made Linux's for the test: the table alone then tells every folder's type, as the tests mean).
    raising=False: the test runs, and fails on what it checks, against a fileio without the lookup."""
    import sys

    import wildgan.fileio as fileio

    table.write_text(mountinfo_text([(os.path.realpath(p), *rest) for p, *rest in mounts]))
    monkeypatch.setattr(fileio, "_MOUNTINFO", str(table), raising=False)
    monkeypatch.setattr(fileio, "_MOUNT_TABLE", {}, raising=False)
    if sys.platform == "darwin" or sys.platform.startswith("freebsd"):
        monkeypatch.setattr(sys, "platform", "linux")


# macOS's struct statfs of 64-bit inodes as <sys/mount.h> lays it out (written here from the header, not from
# fileio's ctypes structure, so that a wrong offset there fails the tests): f_flags (uint32) at byte 64,
# f_fstypename (char[16]) at byte 72, 2,168 bytes in all; MNT_LOCAL, f_flags' bit of a volume on this machine's storage
DARWIN_FLAGS_AT, DARWIN_TYPE_AT, DARWIN_STATFS_BYTES = 64, 72, 2168
MNT_LOCAL = 0x00001000


def statfs_as(monkeypatch: pytest.MonkeyPatch, volumes: "Sequence[tuple[Path, str, bool]]", *, root: str = "apfs",
              failing: bool = False) -> list[bytes]:
    """Make fileio run as on macOS (sys.platform "darwin") with a statfs(2) of one's own in place of libc's: a folder
    inside one of `volumes` (folder, f_fstypename, local: whether f_flags has MNT_LOCAL; the longest folder that
    holds it) gets its struct filled as macOS fills it, any other folder a local `root` volume's; `failing`: every
    call fails (-1), as for a folder that cannot be reached. Returns the list of the paths it is asked of (bytes, as
    libc is given them)."""
    import ctypes
    import struct
    import sys

    import wildgan.fileio as fileio

    asked: list[bytes] = []
    by_length = sorted(((os.fsencode(os.path.realpath(p)), kind, local) for p, kind, local in volumes),
                       key=lambda v: -len(v[0]))

    def statfs(path: bytes, buf: ctypes.Array) -> int:
        asked.append(path)
        assert ctypes.sizeof(buf) >= DARWIN_STATFS_BYTES     # (room for the whole struct, as libc writes it whole)
        if failing:
            return -1
        kind, local = next(((k, loc) for point, k, loc in by_length if path == point or path.startswith(point + b"/")),
                           (root, True))
        ctypes.memset(buf, 0, DARWIN_STATFS_BYTES)
        struct.pack_into("=I", buf, DARWIN_FLAGS_AT, 0x0000_0010 | (MNT_LOCAL if local else 0))   # (MNT_NOSUID too)
        struct.pack_into("16s", buf, DARWIN_TYPE_AT, kind.encode())
        return 0

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(fileio, "_darwin_statfs_function", lambda: statfs)
    return asked


# FreeBSD's struct statfs as <sys/mount.h> lays it out (from the header, not from fileio's offsets): f_flags (uint64)
# at byte 8 (after f_version and f_type, uint32 each), f_fstypename (char[16]) at byte 280 (then eleven uint64 counts,
# f_spare[10], f_namemax, f_owner, f_fsid[2] and f_charspare[80]), 2,344 bytes in all since FreeBSD 12 (MNAMELEN 1024)
FREEBSD_FLAGS_AT, FREEBSD_TYPE_AT, FREEBSD_STATFS_BYTES = 8, 280, 2344


def freebsd_statfs_as(monkeypatch: pytest.MonkeyPatch, volumes: "Sequence[tuple[Path, str, bool]]", *,
                      root: str = "zfs", failing: bool = False) -> list[bytes]:
    """statfs_as for FreeBSD (sys.platform "freebsd14"): its statfs(2), of one's own, fills FreeBSD's struct; a
    folder in none of `volumes` is on a local `root` file system. Returns the paths it is asked of."""
    import ctypes
    import struct
    import sys

    import wildgan.fileio as fileio

    asked: list[bytes] = []
    by_length = sorted(((os.fsencode(os.path.realpath(p)), kind, local) for p, kind, local in volumes),
                       key=lambda v: -len(v[0]))

    def statfs(path: bytes, buf: ctypes.Array) -> int:
        asked.append(path)
        assert ctypes.sizeof(buf) >= FREEBSD_STATFS_BYTES
        if failing:
            return -1
        kind, local = next(((k, loc) for point, k, loc in by_length if path == point or path.startswith(point + b"/")),
                           (root, True))
        ctypes.memset(buf, 0xAB, FREEBSD_STATFS_BYTES)       # (every other field not zero: a wrong offset reads it)
        struct.pack_into("=II", buf, 0, 0x20140518, 0xDE)   # (f_version, f_type)
        # MNT_NOSUID too, and MNT_SUJ (1 << 32): a flag above the low 32 bits, as only a 64-bit f_flags holds it
        struct.pack_into("=Q", buf, FREEBSD_FLAGS_AT, 0x8 | (1 << 32) | (MNT_LOCAL if local else 0))
        struct.pack_into("16s", buf, FREEBSD_TYPE_AT, kind.encode())
        return 0

    monkeypatch.setattr(sys, "platform", "freebsd14")
    monkeypatch.setattr(fileio, "_freebsd_statfs_function", lambda: statfs, raising=False)
    return asked
