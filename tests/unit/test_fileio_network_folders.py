"""fileio's folder holds (writing_temps, holding_off_writes, temps_being_written) on a network file system, where Linux
lets flock on a folder succeed with a lock of this machine's only (NFS, SMB, Lustre, sshfs and other FUSE file systems
have no flock of their own for folders): a folder found free there may be written into from another machine, so
nothing is deleted there and nothing said stale; on a local file system the killed writer's temp files go as before.
And the lookup of a folder's file system type in the mount table: escaped mount points, nested and stacked mounts,
its cache, and no exception ever."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fake_mounts import mount_as, mountinfo_escaped, mountinfo_text

pytest.importorskip("fcntl")          # (no folder locks without it: nothing is held or deleted anywhere)

# (wekafs: WekaFS's client; prl_fs, vmhgfs: Parallels' and VMware's shared folders of a VM; coda, and "fuse": what
# davfs2's WebDAV mounts are listed as, by the kernel file system they go through)
NETWORK = ["nfs4", "nfs", "cifs", "smb3", "fuse.sshfs", "lustre", "9p", "gpfs", "wekafs", "prl_fs", "vmhgfs", "coda",
           "fuse", "fuse.glusterfs", "fuse.vmhgfs-fuse"]
# (fuse-overlayfs: a rootless container's root, one machine's disk; fuseblk: a FUSE driver of a local disk, ntfs-3g)
LOCAL = ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "fuseblk", "ceph", "fuse.fuse-overlayfs"]


def _stale(folder: Path) -> Path:
    """A temp file of a.csv's atomic write in folder, as a killed writer leaves it."""
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / ".a.csv.k2x9q0aa.tmp"
    stale.write_bytes(b"half")
    return stale


@pytest.mark.parametrize("kind", NETWORK)
def test_a_folder_on_a_network_file_system_keeps_a_stale_looking_temp_file(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Free by this machine's locks is not free there: another machine's evaluation may be writing that temp file
    now, and deleting it made its rename fail. Kept, said as possibly written, and not yielded as held off."""
    from wildgan.fileio import holding_off_writes, temp_files, temps_being_written, writing_temps

    folder = tmp_path / "shared run"           # (a space: "\040" in the mount table)
    stale = _stale(folder)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(folder, kind)])
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file()
    assert temps_being_written(folder)
    with holding_off_writes([folder]) as held:
        assert held == []
    assert stale.is_file()


@pytest.mark.parametrize("kind", LOCAL)
def test_a_folder_on_a_local_file_system_loses_the_killed_writers_temp_file(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock reaches every writer there: a temp file found while no process holds the folder is a killed one's."""
    from wildgan.fileio import holding_off_writes, temp_files, temps_being_written, writing_temps

    folder = tmp_path / "local run"
    stale = _stale(folder)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(folder, kind)])
    assert not temps_being_written(folder)
    with holding_off_writes([folder]) as held:
        assert held == [folder]
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == [stale]
    assert not stale.exists()


def test_a_folder_below_a_network_mount_is_on_it_through_a_symlink_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mount is that of the folder's real path: a run reached through a symlink from a local folder, or a
    subfolder of the mount point (RUN/eval-*/), is on the network file system."""
    from wildgan.fileio import host_only_locks, temp_files, writing_temps

    share = tmp_path / "share"
    folder = share / "runs" / "a" / "eval-x"
    stale = _stale(folder)
    link = tmp_path / "local" / "link"
    link.parent.mkdir()
    link.symlink_to(share / "runs")
    mount_as(monkeypatch, tmp_path / "mountinfo", [(share, "nfs4")])
    assert host_only_locks(link / "a" / "eval-x") == "nfs4"
    with writing_temps(link / "a" / "eval-x", lambda: temp_files(link / "a" / "eval-x", ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file()


def test_mount_type_takes_the_longest_mount_point_whole_components_and_the_last_stacked() -> None:
    from wildgan.fileio import mount_type

    table = mountinfo_text([("/mnt/share", "nfs4"), ("/mnt/share/scratch", "ext4"), ("/mnt/my share", "cifs"),
                            ("/data", "ext4"), ("/data", "fuse.sshfs"), ("/a\\b", "lustre")])
    assert mount_type("/mnt/share", table) == "nfs4"
    assert mount_type("/mnt/share/run/eval-x", table) == "nfs4"
    assert mount_type("/mnt/share/scratch/run", table) == "ext4"        # (a local disk mounted inside the share)
    assert mount_type("/mnt/share/scratchy", table) == "nfs4"           # (a leading string, not a component)
    assert mount_type("/mnt/sharep/run", table) == "ext4"               # (the root's)
    assert mount_type("/mnt/my share/run", table) == "cifs"             # ("\040")
    assert mount_type("/data/run", table) == "fuse.sshfs"               # (mounted over the ext4 one: the last)
    assert mount_type("/a\\b/run", table) == "lustre"                   # ("\134")
    assert mount_type("/home/me", table) == "ext4"
    assert mount_type("/home/me", "") == ""
    assert mount_type("/home/me", "garbage\n1 2 3\n\n" + mountinfo_text([])) == "ext4"
    assert mountinfo_escaped("/mnt/my share") in table


def test_host_only_locks_names_the_network_types_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.fileio import host_only_locks

    for kind in NETWORK + ["fuse.s3fs", "fuse.ceph-fuse", "virtiofs"]:
        mount_as(monkeypatch, tmp_path / "mountinfo", [(tmp_path, kind)])
        assert host_only_locks(tmp_path) == kind
    for kind in LOCAL:
        mount_as(monkeypatch, tmp_path / "mountinfo", [(tmp_path, kind)])
        assert host_only_locks(tmp_path) == ""


def test_the_table_is_parsed_once_while_it_stays_the_same_and_the_lookup_never_raises(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One parse of the mount table while it does not change (writing_temps asks at every write), again once it does;
    no table (Windows), a missing folder or a table that cannot be read: unknown, and the folder is locked as
    before."""
    import wildgan.fileio as fileio
    from wildgan.fileio import host_only_locks, mount_type_of, temp_files, writing_temps

    table = tmp_path / "mountinfo"
    mount_as(monkeypatch, table, [(tmp_path, "nfs4")])
    parsed: list[str] = []
    parse = fileio._mounts
    monkeypatch.setattr(fileio, "_mounts", lambda text: parsed.append(text) or parse(text))
    assert mount_type_of(tmp_path / "x" / "..") == "nfs4"
    assert mount_type_of(tmp_path) == "nfs4" and host_only_locks(tmp_path / "x" / "..") == "nfs4"
    assert len(parsed) == 1
    table.write_text(mountinfo_text([]))                     # (the share gone: the root's)
    assert mount_type_of(tmp_path) == "ext4" and mount_type_of(tmp_path) == "ext4"
    assert len(parsed) == 2

    monkeypatch.setattr(fileio, "_MOUNT_TABLE", {})
    monkeypatch.setattr(fileio, "_MOUNTINFO", str(tmp_path / "no such table"))
    assert mount_type_of(tmp_path) == "" and host_only_locks(tmp_path) == ""
    assert mount_type_of(tmp_path / "missing") == ""
    monkeypatch.setattr(fileio, "_MOUNTINFO", str(tmp_path))  # (a folder: open fails with IsADirectoryError)
    assert mount_type_of(tmp_path) == ""
    stale = _stale(tmp_path / "run")
    with writing_temps(tmp_path / "run", lambda: temp_files(tmp_path / "run", ["a.csv"])) as gone:
        assert gone == [stale]


def test_a_mount_point_with_a_carriage_return_or_a_line_separator_is_one_mount(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table escapes only a space, tab, newline and backslash of a mount point: a carriage return, form feed or
    Unicode line separator in it stands as it is. Read with Python's universal newlines, or split by splitlines(),
    such a line broke in two and its mount was lost: a share at such a path was taken for the local disk below it,
    and a temp file there that another machine writes now deleted."""
    from wildgan.fileio import host_only_locks, mount_type, temp_files, writing_temps

    for name in ("share\rA", "share\x0bB", "share\x0cC", "share\x1cD", "share\x85E", "share\u2028F"):
        assert mount_type(f"/mnt/{name}/run", mountinfo_text([(f"/mnt/{name}", "nfs4")])) == "nfs4", repr(name)
    folder = tmp_path / "share\rrun"
    stale = _stale(folder)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(folder, "nfs4")])
    assert host_only_locks(folder) == "nfs4"
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file()


def test_the_mount_a_folder_is_on_is_told_by_its_device_where_the_table_lists_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mount hides the mounts below its mount point made before it (a share mounted over /mnt/share after a local
    disk at /mnt/share/scratch): the longest mount point in the table is not the one a path below it is on then. Nor
    is the last one listed at a mount point always the one on top (one moved beneath another: Linux 6.5's
    MOVE_MOUNT_BENEATH). The folder's device (st_dev) tells: the table lists each mount's (MAJ:MIN), and a device's
    mounts are all of one file system. By mount point where the device is not listed (btrfs's subvolumes)."""
    from wildgan.fileio import host_only_locks, mount_type, temp_files, writing_temps

    share = tmp_path / "share"
    folder = share / "scratch" / "run"
    stale = _stale(folder)
    mount_as(monkeypatch, tmp_path / "mountinfo", [(share / "scratch", "ext4"),
                                                    (share, "nfs4", os.stat(folder).st_dev)])
    assert host_only_locks(folder) == "nfs4"
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file()

    nfs = os.makedev(0, 61)
    table = mountinfo_text([("/mnt/share/scratch", "ext4"), ("/mnt/share", "nfs4", nfs)])
    assert mount_type("/mnt/share/scratch/run", table, nfs) == "nfs4"
    assert mount_type("/mnt/share/scratch/run", table, os.makedev(0, 99)) == "ext4"     # (not listed: by path)
    assert mount_type("/mnt/share/scratch/run", table) == "ext4"
    beneath = mountinfo_text([("/mnt/share", "nfs4", nfs), ("/mnt/share", "ext4")])   # (listed after, below it)
    assert mount_type("/mnt/share/run", beneath, nfs) == "nfs4"


def test_a_share_mounted_later_in_a_long_process_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long process (a study, a notebook) outlives mounts: a local file system unmounted and a share mounted in its
    place may get its very device number (Linux hands out the lowest one free), and a type remembered for the device
    was the local one's: the share's temp files were deleted. The lookup follows the table as it is now."""
    from wildgan.fileio import host_only_locks, temp_files, writing_temps

    table = tmp_path / "mountinfo"
    folder = tmp_path / "run"
    stale = _stale(folder)
    mount_as(monkeypatch, table, [(folder, "tmpfs")])
    assert host_only_locks(folder) == ""
    table.write_text(mountinfo_text([(os.path.realpath(folder), "nfs4")]))      # (the same path and device: a share)
    assert host_only_locks(folder) == "nfs4"
    with writing_temps(folder, lambda: temp_files(folder, ["a.csv"])) as gone:
        assert gone == []
    assert stale.is_file()
