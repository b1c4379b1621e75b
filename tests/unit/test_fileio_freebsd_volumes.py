"""fileio's file system lookup on FreeBSD, which has no /proc/self/mountinfo either: statfs(2) (through ctypes, as
on macOS) gives the file system's type and whether it is this machine's own storage (MNT_LOCAL). Without it every
NFS or SMB share there was taken for a local disk, whose folder locks reach every writer, and a temp file another
machine was writing there was deleted as a killed writer's. Run on Linux with a statfs of the tests' own
(fake_mounts.freebsd_statfs_as) that fills the struct as FreeBSD's <sys/mount.h> lays it out."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_mounts import freebsd_statfs_as, mount_as

pytest.importorskip("fcntl")          # (no folder locks without it: nothing is held or deleted anywhere)


def _stale(folder: Path) -> Path:
    """A temp file of a.csv's atomic write in folder, as a killed writer leaves it."""
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / ".a.csv.k2x9q0aa.tmp"
    stale.write_bytes(b"half")
    return stale


@pytest.mark.parametrize("kind, local, network", [
    ("nfs", False, True), ("smbfs", False, True),
    ("fusefs", False, True), ("fusefs.sshfs", False, True),
    ("fusefs.sshfs", True, True),       # (a FUSE file system that says local: its folder locks do not reach)
    ("p9fs", False, True),              # (a share of a type not named: not MNT_LOCAL is enough)
    ("zfs", True, False), ("ufs", True, False), ("tmpfs", True, False)])
def test_a_freebsd_file_system_is_told_by_statfs(kind: str, local: bool, network: bool, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, temps_being_written, writing_temps

    share = tmp_path / "mnt" / "share"
    folder = share / "runs" / "a"
    stale = _stale(folder)
    link = tmp_path / "link"
    link.symlink_to(share)
    asked = freebsd_statfs_as(monkeypatch, [(share, kind, local)])
    assert mount_type_of(folder) == kind
    assert host_only_locks(link / "runs" / "a") == (kind if network else "")     # (its real path's)
    assert str(folder.resolve()).encode() in asked
    assert temps_being_written(folder) is network
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == ([] if network else [stale])
    assert stale.is_file() is network


def test_a_failed_statfs_is_a_file_system_not_known_and_never_an_error(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """As on macOS: "" (a local folder, locked as before), never an exception out of a lookup that only decides what
    to delete; so too where libc has no statfs."""
    import wildgan.fileio as fileio
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, writing_temps

    folder = tmp_path / "run"
    stale = _stale(folder)
    asked = freebsd_statfs_as(monkeypatch, [], failing=True)
    assert mount_type_of(folder) == "" and host_only_locks(folder) == "" and asked

    def no_statfs() -> None:
        raise AttributeError("undefined symbol: statfs")

    monkeypatch.setattr(fileio, "_freebsd_statfs_function", no_statfs)
    assert mount_type_of(folder) == "" and host_only_locks(folder) == ""
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == [stale]


def test_a_mount_table_of_the_tests_own_is_read_on_freebsd_too(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests that mount a folder as a network one with a table of their own (fake_mounts.mount_as) run on a
    FreeBSD machine as on Linux: there fileio now asks statfs, and mount_as makes it read the table instead."""
    from wildgan.fileio import host_only_locks, mount_type_of

    freebsd_statfs_as(monkeypatch, [])              # (a real FreeBSD machine: every folder on its own disk)
    share = tmp_path / "share"
    share.mkdir()
    mount_as(monkeypatch, tmp_path / "mountinfo", [(share, "nfs4")])
    assert mount_type_of(share) == "nfs4" and host_only_locks(share) == "nfs4"
    assert mount_type_of(tmp_path) == "ext4" and host_only_locks(tmp_path) == ""
