"""fileio's file system lookup on macOS and FreeBSD, where there is no /proc/self/mountinfo: statfs(2) (through
ctypes) gives the volume's type and whether it is this machine's own storage (MNT_LOCAL). Without it every NFS or SMB
share there was taken for a local disk, whose folder locks reach every writer, and a temp file another machine was
writing there was deleted as a killed writer's. Run on Linux with a statfs of the tests' own (fake_mounts.statfs_as,
fake_mounts.freebsd_statfs_as) that fills the struct as each platform's <sys/mount.h> lays it out: the tests of the
lookup run for both platforms (parametrized), beside a check of the layout of macOS's struct itself."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import pytest

from fake_mounts import (DARWIN_FLAGS_AT, DARWIN_STATFS_BYTES, DARWIN_TYPE_AT, freebsd_statfs_as, mount_as,
                         statfs_as)

pytest.importorskip("fcntl")          # (no folder locks without it: nothing is held or deleted anywhere)


class _Platform(NamedTuple):
    statfs_as: Callable[..., list[bytes]]       # (fake_mounts' statfs of the platform's struct)
    function: str                               # (fileio's getter of libc's statfs there)
    missing: BaseException                      # (what that getter raises where libc has no statfs of that struct)
    volumes: str                                # (where shares are mounted there)


_PLATFORMS = {
    "macos": _Platform(statfs_as, "_darwin_statfs_function", OSError("no statfs of 64-bit inodes in this libc"),
                       "Volumes"),
    "freebsd": _Platform(freebsd_statfs_as, "_freebsd_statfs_function", AttributeError("undefined symbol: statfs"),
                         "mnt"),
}


def _stale(folder: Path) -> Path:
    """A temp file of a.csv's atomic write in folder, as a killed writer leaves it."""
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / ".a.csv.k2x9q0aa.tmp"
    stale.write_bytes(b"half")
    return stale


@pytest.mark.parametrize("platform, kind, local, network", [
    ("macos", "nfs", False, True), ("macos", "smbfs", False, True), ("macos", "afpfs", False, True),
    ("macos", "webdav", False, True),
    ("macos", "macfuse", True, True),   # (sshfs on macFUSE: its volume may say local, its folder locks do not reach)
    # (mounted with -o fstypename=NAME, "local": macFUSE, OSXFUSE 3 and 2, fuse4x and Google's MacFUSE name the volume
    # by their own type, "_" and NAME; their types alone too)
    ("macos", "macfuse_sshfs", True, True), ("macos", "osxfuse_sshfs", True, True),
    ("macos", "osxfusefs_sshfs", True, True), ("macos", "fuse4x_sshfs", True, True),
    ("macos", "fusefs_sshfs", True, True), ("macos", "fuse4x", True, True), ("macos", "fusefs", True, True),
    ("macos", "mtmfs", False, True),    # (a share of a type not named: not MNT_LOCAL is enough)
    ("macos", "apfs", True, False), ("macos", "hfs", True, False), ("macos", "exfat", True, False),
    ("freebsd", "nfs", False, True), ("freebsd", "smbfs", False, True),
    ("freebsd", "fusefs", False, True), ("freebsd", "fusefs.sshfs", False, True),
    ("freebsd", "fusefs.sshfs", True, True),    # (a FUSE file system that says local: its folder locks do not reach)
    ("freebsd", "p9fs", False, True),           # (a share of a type not named: not MNT_LOCAL is enough)
    ("freebsd", "zfs", True, False), ("freebsd", "ufs", True, False), ("freebsd", "tmpfs", True, False)])
def test_a_volume_is_told_by_statfs(platform: str, kind: str, local: bool, network: bool, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, temps_being_written, writing_temps

    share = tmp_path / _PLATFORMS[platform].volumes / "share"
    folder = share / "runs" / "a"
    stale = _stale(folder)
    link = tmp_path / "link"
    link.symlink_to(share)
    asked = _PLATFORMS[platform].statfs_as(monkeypatch, [(share, kind, local)])
    assert mount_type_of(folder) == kind
    assert host_only_locks(link / "runs" / "a") == (kind if network else "")     # (its real path's volume)
    assert str(folder.resolve()).encode() in asked
    assert temps_being_written(folder) is network
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == ([] if network else [stale])
    assert stale.is_file() is network


@pytest.mark.parametrize("platform", sorted(_PLATFORMS))
def test_a_failed_statfs_is_a_volume_not_known_and_never_an_error(platform: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """As where Linux's table cannot be read: "" (a local folder, locked as before), never an exception out of a
    lookup that only decides what to delete. So too where libc has no statfs of the struct known here."""
    import wildgan.fileio as fileio
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, writing_temps

    folder = tmp_path / "run"
    stale = _stale(folder)
    asked = _PLATFORMS[platform].statfs_as(monkeypatch, [], failing=True)
    assert mount_type_of(folder) == "" and host_only_locks(folder) == "" and asked

    def no_statfs() -> None:
        raise _PLATFORMS[platform].missing

    monkeypatch.setattr(fileio, _PLATFORMS[platform].function, no_statfs)
    assert mount_type_of(folder) == "" and host_only_locks(folder) == ""
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == [stale]


@pytest.mark.parametrize("platform", sorted(_PLATFORMS))
def test_a_mount_table_of_the_tests_own_is_read_there_too(platform: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests that mount a folder as a network one with a table of their own (fake_mounts.mount_as: fileio's
    tests of NFS, sshfs, ...; info's; the study's) ran on a Mac as on Linux while fileio read the table on every
    platform; since macOS and FreeBSD ask statfs(2) they saw the machine's own volume there (apfs, zfs: local) and
    failed. mount_as makes fileio read its table, as on Linux, there too: here such a machine made on any platform
    (every folder on a local volume of its own)."""
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, writing_temps

    _PLATFORMS[platform].statfs_as(monkeypatch, [])      # (a real Mac or FreeBSD machine: every folder on its disk)
    share = tmp_path / "share"
    stale = _stale(share)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(share, "nfs4")])
    assert mount_type_of(share) == "nfs4" and host_only_locks(share) == "nfs4"
    with writing_temps(share, lambda: temp_files(share, ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file()
    assert mount_type_of(tmp_path) == "ext4" and host_only_locks(tmp_path) == ""


def test_the_struct_read_is_macos_struct_statfs_and_linux_asks_no_statfs(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The ctypes structure has <sys/mount.h>'s layout (where f_flags and f_fstypename lie, and its size); on Linux
    the mount table alone is read (statfs's f_type there is a magic number, not a name)."""
    import ctypes
    import sys

    import wildgan.fileio as fileio

    st = fileio._darwin_statfs_struct()
    assert (st.f_flags.offset, st.f_fstypename.offset, ctypes.sizeof(st)) == (DARWIN_FLAGS_AT, DARWIN_TYPE_AT,
                                                                             DARWIN_STATFS_BYTES)
    assert fileio._DARWIN_STATFS_BUFFER >= DARWIN_STATFS_BYTES
    if sys.platform == "darwin":
        return                           # (a real Mac: the rest is Linux's)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(tmp_path, "nfs4")])

    def no_statfs_on_linux() -> None:
        raise AssertionError("statfs asked on Linux")

    monkeypatch.setattr(fileio, "_darwin_statfs_function", no_statfs_on_linux)
    assert fileio.mount_type_of(tmp_path) == "nfs4" and fileio.host_only_locks(tmp_path) == "nfs4"

