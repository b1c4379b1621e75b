"""A mount table of one's own for fileio's file system lookup (fileio.mount_type_of reads Linux's
/proc/self/mountinfo): a folder "mounted" as any file system type (nfs4, cifs, fuse.sshfs, ext4, ...) without a mount,
so that what fileio's folder holds do on a network file system can be tested on the local disk."""

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
    the mount table, with its cache emptied. raising=False: the test runs, and fails on what it checks, against a
    fileio without the lookup."""
    import wildgan.fileio as fileio

    table.write_text(mountinfo_text([(os.path.realpath(p), *rest) for p, *rest in mounts]))
    monkeypatch.setattr(fileio, "_MOUNTINFO", str(table), raising=False)
    monkeypatch.setattr(fileio, "_MOUNT_TABLE", {}, raising=False)
