"""A mount table of one's own for fileio's file system lookup (fileio.mount_type_of reads Linux's
/proc/self/mountinfo): a folder "mounted" as any file system type (nfs4, cifs, fuse.sshfs, ext4, ...) without a mount,
so that what fileio's folder holds do on a network file system can be tested on the local disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# a root mount as a real table lists it (optional fields "shared:1" before the "-")
_ROOT = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro"


def mountinfo_escaped(path: str) -> str:
    """`path` as mountinfo writes it: a space, tab, newline and backslash as octal escapes."""
    return "".join({" ": "\\040", "\t": "\\011", "\n": "\\012", "\\": "\\134"}.get(c, c) for c in path)


def mountinfo_text(mounts: "list[tuple[str, str]]") -> str:
    """A mount table of the root (ext4) and each (mount point, type) after it, in that order (the later mounted over
    the earlier at the same point), every other line with no optional fields as some mounts have none."""
    lines = [_ROOT]
    for i, (point, kind) in enumerate(mounts):
        optional = f" shared:{i + 2}" if i % 2 else ""
        lines.append(f"{i + 40} 22 0:{i + 50} / {mountinfo_escaped(point)} rw,relatime{optional} - {kind} "
                     f"server:/export rw,vers=4.2")
    return "\n".join(lines) + "\n"


def mount_as(monkeypatch: pytest.MonkeyPatch, table: Path, mounts: "list[tuple[Path, str]]") -> None:
    """Make fileio read `table`, written with `mounts` (each folder by its real path, as the lookup resolves it), as
    the mount table, with its cache of file system types emptied. raising=False: the test runs, and fails on what it
    checks, against a fileio without the lookup."""
    import wildgan.fileio as fileio

    table.write_text(mountinfo_text([(os.path.realpath(p), kind) for p, kind in mounts]))
    monkeypatch.setattr(fileio, "_MOUNTINFO", str(table), raising=False)
    monkeypatch.setattr(fileio, "_FS_TYPE_OF_DEVICE", {}, raising=False)
