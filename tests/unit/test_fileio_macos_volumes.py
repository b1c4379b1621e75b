"""fileio's file system lookup on macOS, where there is no /proc/self/mountinfo: statfs(2) (through ctypes) gives the
volume's type and whether it is this machine's own storage (MNT_LOCAL). Without it every NFS or SMB share there was
taken for a local disk, whose folder locks reach every writer, and a temp file another machine was writing there was
deleted as a killed writer's. Run on Linux with a statfs of the tests' own (fake_mounts.statfs_as) that fills the
struct as macOS's does."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_mounts import DARWIN_FLAGS_AT, DARWIN_STATFS_BYTES, DARWIN_TYPE_AT, mount_as, statfs_as

pytest.importorskip("fcntl")          # (no folder locks without it: nothing is held or deleted anywhere)


def _stale(folder: Path) -> Path:
    """A temp file of a.csv's atomic write in folder, as a killed writer leaves it."""
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / ".a.csv.k2x9q0aa.tmp"
    stale.write_bytes(b"half")
    return stale


@pytest.mark.parametrize("kind, local, network", [
    ("nfs", False, True), ("smbfs", False, True), ("afpfs", False, True), ("webdav", False, True),
    ("macfuse", True, True),            # (sshfs on macFUSE: its volume may say local, its folder locks do not reach)
    # (mounted with -o fstypename=NAME, "local": macFUSE, OSXFUSE 3 and 2, fuse4x and Google's MacFUSE name the volume
    # by their own type, "_" and NAME; their types alone too)
    ("macfuse_sshfs", True, True), ("osxfuse_sshfs", True, True), ("osxfusefs_sshfs", True, True),
    ("fuse4x_sshfs", True, True), ("fusefs_sshfs", True, True), ("fuse4x", True, True), ("fusefs", True, True),
    ("mtmfs", False, True),             # (a share of a type not named: not MNT_LOCAL is enough)
    ("apfs", True, False), ("hfs", True, False), ("exfat", True, False)])
def test_a_macos_volume_is_told_by_statfs(kind: str, local: bool, network: bool, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, temps_being_written, writing_temps

    share = tmp_path / "Volumes" / "share"
    folder = share / "runs" / "a"
    stale = _stale(folder)
    link = tmp_path / "link"
    link.symlink_to(share)
    asked = statfs_as(monkeypatch, [(share, kind, local)])
    assert mount_type_of(folder) == kind
    assert host_only_locks(link / "runs" / "a") == (kind if network else "")     # (its real path's volume)
    assert str(folder.resolve()).encode() in asked
    assert temps_being_written(folder) is network
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == ([] if network else [stale])
    assert stale.is_file() is network


def test_a_failed_statfs_is_a_volume_not_known_and_never_an_error(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """As where Linux's table cannot be read: "" (a local folder, locked as before), never an exception out of a
    lookup that only decides what to delete. So too where libc has no statfs of the struct known here."""
    import wildgan.fileio as fileio
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, writing_temps

    folder = tmp_path / "run"
    stale = _stale(folder)
    asked = statfs_as(monkeypatch, [], failing=True)
    assert mount_type_of(folder) == "" and host_only_locks(folder) == "" and asked

    def no_statfs() -> None:
        raise OSError("no statfs of 64-bit inodes in this libc")

    monkeypatch.setattr(fileio, "_darwin_statfs_function", no_statfs)
    assert mount_type_of(folder) == "" and host_only_locks(folder) == ""
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == [stale]


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


def test_a_mount_table_of_the_tests_own_is_read_on_macos_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests that mount a folder as a network one with a table of their own (fake_mounts.mount_as: fileio's
    tests of NFS, sshfs, ...; info's; the study's) ran on a Mac as on Linux while fileio read the table on every
    platform; since macOS asks statfs(2) they saw the Mac's own volume there (apfs: local) and failed. mount_as makes
    fileio read its table, as on Linux, on a Mac too: here a Mac made on any platform (statfs_as: every folder on a
    local apfs volume)."""
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, writing_temps

    statfs_as(monkeypatch, [])                      # (a real Mac: every folder on its own disk)
    share = tmp_path / "share"
    stale = _stale(share)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(share, "nfs4")])
    assert mount_type_of(share) == "nfs4" and host_only_locks(share) == "nfs4"
    with writing_temps(share, lambda: temp_files(share, ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file()
    assert mount_type_of(tmp_path) == "ext4" and host_only_locks(tmp_path) == ""
