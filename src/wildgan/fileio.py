"""Atomic file writes: a crash leaves either the old file or the new one, never a torn one."""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
import threading
import weakref
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence

from .errors import ConfigError, warn_user

# the OSErrors that say a place cannot be written (not that the path is wrong), in the words the user is told
_UNWRITABLE = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
               errno.EPERM: "operation not permitted", errno.ENOSPC: "no space left on the device",
               getattr(errno, "EDQUOT", -1): "disk quota exceeded"}        # (not in every platform's errno)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old file or the new one."""
    atomic_write_stream(lambda f: f.write(data), path)


# a folder of file-descriptor links (Linux's /proc/PID/fd, /proc/PID/task/TID/fd; /dev/fd and /proc/self/fd lead
# there): its entries name a process's open files, which the caller may have opened in append mode
_FD_FOLDER = re.compile(r"/proc/[^/]+/(task/[^/]+/)?fd")


def size_text(n: int) -> str:
    """A size in bytes as a person reads it: GiB from 1 GiB up, MiB below ("0.3 MiB")."""
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def is_stream(path: str | Path) -> bool:
    """Whether `path` is a stream to write into rather than a file to replace: an existing path that is not a regular
    file nor a folder (a character device such as /dev/null or a terminal, a FIFO, a socket), or a file-descriptor
    link (/dev/stdout, /dev/fd/N, /proc/self/fd/N) even when it leads to a regular file. `score --out /dev/stdout >>
    old.log` resolved the link to old.log and renamed a new file over it: the log was lost where the shell said
    append."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):            # a new path, a dangling link, a name too long
        return False
    if stat.S_ISDIR(st.st_mode):
        return False
    return not stat.S_ISREG(st.st_mode) or _through_fd_link(os.fspath(path))


def _through_fd_link(path: str) -> bool:
    """Whether following `path`'s symlinks passes a file-descriptor link (in an _FD_FOLDER): told apart by the folder
    the link is in, since its stat is that of the open file (a regular file, under `>> old.log`)."""
    p = os.path.abspath(path)
    for _ in range(40):                     # (the kernel's own limit on a chain of links)
        if not os.path.islink(p):
            return False
        folder = os.path.realpath(os.path.dirname(p))
        if _FD_FOLDER.fullmatch(folder):
            return True
        p = os.path.join(folder, os.readlink(p))
    return False


def atomic_write_stream(write: "Callable[[BinaryIO], object]", path: Path) -> None:
    """Call write(fileobj) on a temp file next to `path`, fsync, then rename over `path`.

    A symlink is written through (its target is replaced, not the link), and a stream (is_stream: /dev/null, a FIFO,
    a terminal, /dev/stdout) is written to directly, as given: renaming over a device node would replace it with a
    plain file, for every process on the machine when run as root, and over /dev/stdout's file would lose what
    `>> old.log` appends to. Opened to append, so that a regular file reached through /dev/stdout is not truncated
    (O_APPEND changes nothing on a device or a FIFO)."""
    path = Path(path)
    if is_stream(path):
        with open(path, "ab") as f:
            write(f)
        return
    path = _written_path(path)
    with _removing_temps() as temps:
        tmp = _write_temp(write, path, temps)
        os.replace(tmp, path)
        temps.remove(tmp)
    _fsync_dir(path.parent)


def atomic_write_by_name(fill: "Callable[[Path], object]", path: Path) -> None:
    """atomic_write_stream for a writer that writes a file by its name (fill(temp_path): torch.onnx.export, onnx.save,
    which open it themselves): the temp file is _write_temp's (".NAME.XXXXXXXX.tmp" beside `path`, made empty, this
    call's own: two writes of one path at once never write into one temp file, which a fixed name let one of them
    delete under the other before its rename), fsynced once fill() returns, renamed over `path` (a symlink written
    through), and the folder fsynced; on any failure the temp file is removed and the error raised. No stream: the
    callers refuse one first (is_stream)."""
    path = _written_path(Path(path))
    with _removing_temps() as temps:
        tmp = _write_temp(lambda f: None, path, temps)
        # (a full disk met by fill, torch.onnx.export's or onnx.save's own writes, named no file: `wildgan export`
        # ended on a bare `[Errno 28] No space left on device`)
        with full_disk_named(path):
            fill(Path(tmp))
            # (fill wrote it through descriptors of its own, maybe not synced; opened to write, not read: Windows'
            # fsync, FlushFileBuffers, refuses a read-only handle, where POSIX syncs through any descriptor)
            with open(tmp, "r+b") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        temps.remove(tmp)
    _fsync_dir(path.parent)


def _written_path(path: Path) -> Path:
    """The file a write to `path` replaces: a symlink's target (the link is written through, not replaced)."""
    return path.resolve() if path.is_symlink() else path


# _write_temp's temp files: ".NAME." + mkstemp's random letters (no dot among them) + ".tmp", beside NAME
_TEMP_SUFFIX = ".tmp"


_UMASK_LOCK = threading.Lock()


class ObjectLocks:
    """A re-entrant lock per live object, made at its first ask (`of`): what scoring holds while a set of networks
    scores (pgan_scores.scoring_lock) and a Detector while it reads its run's training scores (detector), each kept
    here rather than on the object, which must pickle and deep-copy (a lock cannot). Weakly keyed: an object's lock
    goes with it. The objects that cannot be keys (a class with __eq__ and no __hash__) share one lock. A process
    forked while a thread of its parent held one of them starts with none held: that thread is not in the child,
    and the lock would be held there for ever (os.register_at_fork), so a module's instance lives as long as the
    process does."""

    def __init__(self) -> None:
        self._forget()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
        self._unhashable = threading.RLock()
        self._guard = threading.Lock()           # (making an object's lock)

    def of(self, obj: Any) -> threading.RLock:
        """`obj`'s lock (the one shared by objects that cannot be weak keys, for such an object)."""
        with self._guard:
            try:
                lock = self._locks.get(obj)
                if lock is None:
                    lock = self._locks[obj] = threading.RLock()
            except TypeError:
                lock = self._unhashable
            return lock

    def __len__(self) -> int:
        """How many objects have a lock now."""
        return len(self._locks)


def umask() -> int:
    """The process umask, read without setting it where Linux's /proc tells it: os.umask sets it process-wide, and a
    file another thread creates in that moment is made under the umask set (os.umask(0): writable by every user)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # no /proc (macOS, Windows) or no Umask line (Linux before 4.7): read by setting it. 0o022 was assumed here once,
    # and a umask of 0o077 gave weights readable by every user beside their 0600 JSON. Set to 0o077 for the moment,
    # not 0: a file another thread creates meanwhile is made private, not writable by all. Under a lock: two threads'
    # writes reading it at once, the second read the first's 0o077 and set that back last, for good
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _write_temp(write: "Callable[[BinaryIO], object]", path: Path, temps: "list[str]") -> str:
    """write(fileobj) into a new temp file beside `path` (which is not touched), flushed and fsynced; its name, which
    is put in `temps` (_removing_temps' list) as soon as the file exists, so that the caller's block removes it
    wherever an error or a Ctrl-C lands before the caller renames it (and takes it out of the list)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    temps.append(tmp)
    # (named as the file being written, not its temp file, which is removed)
    with full_disk_named(path):
        with os.fdopen(fd, "wb") as f:
            # mkstemp creates 0600 files; give the result the usual umask-based mode so reports can be shared
            os.chmod(tmp, 0o666 & ~umask())
            write(f)
            f.flush()
            os.fsync(f.fileno())
    return tmp


# the errors of a write that the file system refuses for its size: a full disk, a full quota, a file-size limit
FULL_DISK = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG})    # (no EDQUOT on Windows)


@contextmanager
def full_disk_named(path: str | Path) -> Iterator[None]:
    """The block's OSError of a full disk, a full quota or a file-size limit raised again naming `path`, where it
    named no file: a write to a file object fails without one, and a full disk as train_scores.csv or a stats.jsonl
    row was written ended `wildgan train` on `error: [Errno 28] No space left on device`, naming no file nor disk.
    Only those errors, so that an OSError of what the block itself reads (a download's network error) keeps its
    words."""
    try:
        yield
    except OSError as e:
        if e.filename is not None or e.errno not in FULL_DISK:
            raise
        raise OSError(e.errno, e.strerror, str(path)) from e


@contextmanager
def _removing_temps() -> Iterator[list[str]]:
    """A list for the block's temp files (_write_temp puts each in as it makes it; the block takes out those it
    renamed into place): those still in it when the block ends, by an error or a Ctrl-C anywhere between a temp
    file's creation and its rename, are removed. A caller that kept a temp file's name only once _write_temp had
    returned left it behind when a Ctrl-C landed before its own clean-up began."""
    temps: list[str] = []
    try:
        yield temps
    finally:
        _remove_temps(temps)


def _remove_temps(temps: "list[str]") -> None:
    for tmp in temps:
        if os.path.exists(tmp):
            os.unlink(tmp)


def temp_files(folder: Path, names: Iterable[str]) -> list[Path]:
    """The temp files that atomic writes (_write_temp: atomic_write_bytes, atomic_write_files, ...) of files named
    `names` make in `folder`, sorted: ".NAME.XXXXXXXX.tmp", and only that (not ".NAME.bak.XXXXXXXX.tmp", a temp file
    of NAME.bak). A process killed while it wrote them leaves them there: the one rule for "a temp file of the writer
    of NAME", shared by what removes them (only while no other process writes there: writing_temps) and what reports
    them (`wildgan info RUN`)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    ours = re.compile("|".join(rf"\.{re.escape(n)}\.[^./]+{re.escape(_TEMP_SUFFIX)}" for n in names) or "(?!)")
    return sorted(p for p in folder.iterdir() if ours.fullmatch(p.name))


# a temp file of _write_temp's, whatever its target: ".NAME." + mkstemp's 8 random letters (lower case, digits and
# "_": tempfile's alphabet) + ".tmp". Not a checkpoint's ".NAME.PID.HEX.safetensors.tmp" (checkpoint.save_checkpoint
# names its own). An ONNX export's temp file is one of these too (atomic_write_by_name)
_ANY_WRITE_TEMP = re.compile(rf"\.(.+)\.[a-z0-9_]{{8}}{re.escape(_TEMP_SUFFIX)}")


def write_temp_target(name: str) -> str | None:
    """The name of the file whose atomic write (_write_temp: atomic_write_bytes, atomic_write_stream,
    atomic_write_text, atomic_write_files) makes a temp file named `name` (".config.json.k2x9q0aa.tmp" ->
    "config.json"); None for a name that is no such temp file's."""
    m = _ANY_WRITE_TEMP.fullmatch(name)
    return m.group(1) if m else None


def write_temp_files(folder: Path) -> list[Path]:
    """Every temp file of an atomic write in `folder` (not its subfolders), whatever file it was written for,
    sorted: those a process killed between its temp file and the rename left, and those being written now, which
    only the locks of their writers tell apart (temp_files for the temp files of given names)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if write_temp_target(p.name) is not None and p.is_file())


def remove_files(paths: Iterable[Path]) -> list[Path]:
    """Delete each path; returns those deleted. A file another process removed meanwhile, or one whose deletion the
    file system refuses (permissions), is passed over and the rest still deleted: the callers are clean-ups of
    leftovers that must not stop the work they precede, and say what they deleted (a refusal raised here lost the
    names of the files deleted before it)."""
    gone = []
    for p in paths:
        try:
            Path(p).unlink()
            gone.append(Path(p))
        except OSError:
            pass
    return gone


# Linux's names (the type field of /proc/self/mountinfo) of the file systems on which flock(2) on a folder locks it
# on this machine only, while other machines can write into the same folder: their clients' folder operations have
# no flock of their own, so the kernel serves it from its local lock table (NFS v2 to v4: nfs_dir_operations; SMB:
# cifs_dir_ops; Lustre: ll_dir_operations; 9p; every FUSE file system, sshfs and ceph-fuse included:
# fuse_dir_operations; virtiofs, vboxsf, prl_fs (Parallels), vmhgfs (VMware's kernel client; its FUSE one is
# "fuse.vmhgfs-fuse"): a VM's folders shared with its host; coda), or one whose folder locks could not be checked
# (GPFS, BeeGFS, WekaFS, AFS, ...). There a folder found free may be a live write's on another machine. Not CephFS's
# or GFS2's kernel clients: their folders' flock goes to the cluster (ceph_flock, gfs2_flock). A WebDAV share mounted
# by davfs2 is listed as "fuse" or "coda" (the kernel file system it mounts through; "davfs" is only its mtab's word),
# GlusterFS's and ceph-fuse's as "fuse.glusterfs" and "fuse.ceph-fuse": every "fuse.*" is taken (host_only_locks)
_HOST_ONLY_FOLDER_LOCKS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "9p", "lustre", "gpfs", "beegfs",
                                     "wekafs", "afs", "coda", "glusterfs", "pvfs2", "orangefs", "panfs", "virtiofs",
                                     "vboxsf", "prl_fs", "vmhgfs", "fuse",
                                     # macOS's names (statfs(2)'s f_fstypename, _darwin_mount): AFP, WebDAV, FTP
                                     # shares, beside its "nfs" and "smbfs" above (its FUSE ones: _DARWIN_FUSE)
                                     "afpfs", "webdav", "ftp"})
# the types macOS's FUSE kernel extensions give their volumes (macFUSE 4, OSXFUSE 3 and 2, fuse4x, Google's MacFUSE),
# sshfs's and every other FUSE file system's: taken as "fuse.*" is on Linux. A volume mounted with `-o fstypename=NAME`
# is named TYPE_NAME ("macfuse_sshfs"), and with `-o local` it has MNT_LOCAL too: only its name tells it
_DARWIN_FUSE = ("macfuse", "osxfuse", "osxfusefs", "fuse4x", "fusefs")
# the FUSE file systems ("fuse.*") of one machine's own disk, whose folders only its processes write into: not taken
# for a network one. fuse-overlayfs is the root (and every folder) of a rootless container where the kernel's overlay
# cannot serve: there the killed writers' temp files were no longer deleted, and info called them another machine's
_LOCAL_FUSE = frozenset({"fuse.fuse-overlayfs"})
_MOUNTINFO = "/proc/self/mountinfo"
# the mount table last read and its mounts (_mounts): parsed again only once it changes (a mount made or gone), as
# writing_temps asks at every write. Read at every lookup, not remembered for a device: a device number freed by an
# unmount is given to the next mount (the lowest free one), which may be a share where a local disk was
_MOUNT_TABLE: dict[str, "list[tuple[str, str, str]]"] = {}


def _mount_point(field: str) -> str:
    # (mountinfo writes a space, tab, newline or backslash of a path as an octal escape: "\040", "\011", "\012", "\134")
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts(mountinfo: str) -> list[tuple[str, str, str]]:
    """(device "MAJ:MIN", mount point, type) of each mount in the text of a mount table (mount_type), in its order;
    the lines that cannot be read as a mount's are left out."""
    mounts = []
    # (split at "\n" only: the kernel escapes no other line break in a mount point, which splitlines() also breaks at:
    # "\r", "\x0c", "\x85", "\u2028", ...)
    for line in mountinfo.split("\n"):
        fields = line.split(" ")
        # "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL FIELDS...] - TYPE SOURCE SUPER_OPTIONS"
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 2:
            continue
        mounts.append((fields[2], _mount_point(fields[4]), fields[sep + 1]))
    return mounts


def mount_type(path: str, mountinfo: str, device: "int | None" = None) -> str:
    """The file system type of the absolute, symlink-free `path` by the mount table `mountinfo` (the text of Linux's
    /proc/self/mountinfo): where `device` (path's st_dev) is given and the table lists a mount of it, that mount's
    type (the kernel's own answer: all the mounts of a device are of one file system); else that of the mount whose
    mount point is the longest leading part of `path`, the last one listed where one is mounted over another; "" where
    none is (or the table cannot be read as one). By the device first because the table's mount points can mislead: a
    mount hides those below its mount point made before it (a share mounted on /mnt/share after a local disk on
    /mnt/share/scratch), and one moved beneath another (Linux 6.5's MOVE_MOUNT_BENEATH) is listed after it. By path
    where the device is not listed (btrfs's subvolumes, which stat gives devices of their own)."""
    return _mount_type(path, _mounts(mountinfo), device)


def _mount_type(path: str, mounts: "list[tuple[str, str, str]]", device: "int | None") -> str:
    """mount_type by the parsed table `mounts` (_mounts)."""
    if device is not None:
        listed = f"{os.major(device)}:{os.minor(device)}"
        for dev, _, kind in mounts:
            if dev == listed:
                return kind
    best, best_len = "", -1
    for _, point, kind in mounts:
        inside = point == "/" or path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best_len:
            best, best_len = kind, len(point)
    return best


# macOS's <sys/mount.h>: a volume on this machine's own storage (not a share), in statfs(2)'s f_flags
_MNT_LOCAL = 0x00001000
# the bytes given to macOS's statfs(2) to fill: more than its struct statfs's 2,168 (_darwin_statfs_struct), so that a
# libc whose struct were longer would not write past them
_DARWIN_STATFS_BUFFER = 4096


@functools.cache
def _darwin_statfs_struct() -> type:
    """macOS's struct statfs of 64-bit inodes (<sys/mount.h>, the one statfs64, statfs$INODE64 and arm64's statfs
    fill), as a ctypes structure. Made at the first use: ctypes is imported only on macOS."""
    import ctypes

    class DarwinStatfs(ctypes.Structure):
        _fields_ = [("f_bsize", ctypes.c_uint32), ("f_iosize", ctypes.c_int32), ("f_blocks", ctypes.c_uint64),
                    ("f_bfree", ctypes.c_uint64), ("f_bavail", ctypes.c_uint64), ("f_files", ctypes.c_uint64),
                    ("f_ffree", ctypes.c_uint64), ("f_fsid", ctypes.c_int32 * 2), ("f_owner", ctypes.c_uint32),
                    ("f_type", ctypes.c_uint32), ("f_flags", ctypes.c_uint32), ("f_fssubtype", ctypes.c_uint32),
                    ("f_fstypename", ctypes.c_char * 16), ("f_mntonname", ctypes.c_char * 1024),
                    ("f_mntfromname", ctypes.c_char * 1024), ("f_flags_ext", ctypes.c_uint32),
                    ("f_reserved", ctypes.c_uint32 * 7)]

    return DarwinStatfs


@functools.cache
def _darwin_statfs_function() -> "Callable[[bytes, Any], int]":
    """libc's statfs(2) that fills the struct of 64-bit inodes (_darwin_statfs_struct): statfs$INODE64 on Intel
    Macs (their plain statfs fills the older struct of 32-bit inodes, of another layout), statfs64 where it is still
    exported, and on Apple silicon the plain statfs, which has only that struct. OSError where none is there (not
    kept: asked again at the next lookup). Looked up once: writing_temps asks at every write."""
    import ctypes
    import platform

    libc = ctypes.CDLL(None, use_errno=True)
    for name in ("statfs$INODE64", "statfs64", *(("statfs",) if platform.machine() == "arm64" else ())):
        try:
            fn = libc[name]
        except AttributeError:
            continue
        fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        fn.restype = ctypes.c_int
        return fn
    raise OSError("no statfs of 64-bit inodes in this libc")


def _darwin_mount(folder: Path) -> tuple[str, bool]:
    """(type, local) of the volume `folder` is on, by macOS's statfs(2) of its real path: its f_fstypename ("apfs",
    "nfs", "smbfs", "afpfs", "webdav", "macfuse", ...) and whether its f_flags say MNT_LOCAL (this machine's own
    storage). OSError where statfs fails (a folder that cannot be reached)."""
    import ctypes

    buf = ctypes.create_string_buffer(_DARWIN_STATFS_BUFFER)
    if _darwin_statfs_function()(os.fsencode(os.path.realpath(folder)), buf) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(folder))
    st = _darwin_statfs_struct().from_buffer(buf)
    return st.f_fstypename.decode("utf-8", "replace"), bool(st.f_flags & _MNT_LOCAL)


# FreeBSD's struct statfs (<sys/mount.h>): f_flags (uint64) at byte 8 and f_fstypename (char[MFSNAMELEN = 16]) at
# byte 280, after f_version and f_type (uint32 each), eleven 64-bit counts, f_spare[10] (uint64), f_namemax and
# f_owner (uint32 each), f_fsid (int32[2]) and f_charspare[80]; the same there in FreeBSD 12's struct (64-bit inodes,
# MNAMELEN 1024: 2,344 bytes in all) and in the one before it (MNAMELEN 88), which differ only after f_fstypename.
# MNT_LOCAL is its bit of a file system on this machine's own storage, as on macOS
_FREEBSD_FLAGS_AT, _FREEBSD_TYPE_AT, _FREEBSD_TYPE_LEN = 8, 280, 16
# the bytes given to FreeBSD's statfs(2) to fill: more than its struct's 2,344
_FREEBSD_STATFS_BUFFER = 4096


@functools.cache
def _freebsd_statfs_function() -> "Callable[[bytes, Any], int]":
    """libc's statfs(2) on FreeBSD (the symbol's default version: since FreeBSD 12, the struct of 64-bit inodes).
    Looked up once: writing_temps asks at every write."""
    import ctypes

    fn = ctypes.CDLL(None, use_errno=True).statfs
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn


def _freebsd_mount(folder: Path) -> tuple[str, bool]:
    """(type, local) of the file system `folder` is on, by FreeBSD's statfs(2) of its real path: its f_fstypename
    ("ufs", "zfs", "nfs", "smbfs", "fusefs.sshfs", ...) and whether its f_flags say MNT_LOCAL. OSError where statfs
    fails (a folder that cannot be reached)."""
    import ctypes
    import struct

    buf = ctypes.create_string_buffer(_FREEBSD_STATFS_BUFFER)
    if _freebsd_statfs_function()(os.fsencode(os.path.realpath(folder)), buf) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(folder))
    (flags,) = struct.unpack_from("=Q", buf, _FREEBSD_FLAGS_AT)
    name = buf.raw[_FREEBSD_TYPE_AT:_FREEBSD_TYPE_AT + _FREEBSD_TYPE_LEN].split(b"\0", 1)[0]
    return name.decode("utf-8", "replace"), bool(flags & _MNT_LOCAL)


def _statfs_mount(folder: Path) -> "tuple[str, bool] | None":
    """(type, local) of `folder`'s file system by statfs(2) where this platform's struct is known here (macOS:
    _darwin_mount; FreeBSD: _freebsd_mount), None elsewhere (Linux reads its mount table instead). OSError where
    statfs fails."""
    if sys.platform == "darwin":
        return _darwin_mount(folder)
    if sys.platform.startswith("freebsd"):
        return _freebsd_mount(folder)
    return None


def mount_type_of(folder: Path) -> str:
    """The type of the file system `folder` is on ("ext4", "nfs4", "fuse.sshfs"), by Linux's mount table and the
    folder's device after resolving symlinks (mount_type), on macOS and FreeBSD by statfs(2) ("apfs", "nfs", "smbfs":
    _darwin_mount; "zfs", "ufs", "nfs", "fusefs.sshfs": _freebsd_mount); "" where not known: none of them (Windows,
    OpenBSD, NetBSD and DragonFly, whose statfs is laid out otherwise), a folder that cannot be reached. Never raises.
    Linux's table is read at every call, and parsed again only where it changed (_MOUNT_TABLE)."""
    if sys.platform == "darwin" or sys.platform.startswith("freebsd"):
        try:
            mount = _statfs_mount(folder)
            return mount[0] if mount else ""
        except Exception:            # (as below: a lookup that fails says "not known", and the folder is local)
            return ""
    try:
        real = os.path.realpath(folder)
        dev = os.stat(real).st_dev
        # (newline="": no universal newlines, which made a "\r" in a mount point a line break)
        with open(_MOUNTINFO, encoding="utf-8", errors="surrogateescape", newline="") as f:
            table = f.read()
        if table not in _MOUNT_TABLE:
            _MOUNT_TABLE.clear()
            _MOUNT_TABLE[table] = _mounts(table)
        return _mount_type(real, _MOUNT_TABLE[table], dev)
    except Exception:                # (a check that decides only what to delete must never stop a write)
        return ""


def host_only_locks(folder: Path) -> str:
    """The type of the file system `folder` is on where a lock on the folder holds on this machine only (NFS, SMB,
    Lustre, sshfs and other FUSE file systems, ...: _HOST_ONLY_FOLDER_LOCKS), so that a folder found free here may be
    written into from another machine; "" on a local file system (fuse-overlayfs too: _LOCAL_FUSE), or one not known
    (mount_type_of). On macOS also the FUSE volumes (_DARWIN_FUSE), on FreeBSD its FUSE file systems ("fusefs",
    "fusefs.sshfs"), and on both any file system that statfs(2) does not call local (no MNT_LOCAL: a share of a type
    not named in _HOST_ONLY_FOLDER_LOCKS)."""
    kind = mount_type_of(folder)
    network = (kind in _HOST_ONLY_FOLDER_LOCKS or (kind.startswith("fuse.") and kind not in _LOCAL_FUSE)
               or kind in _DARWIN_FUSE or kind.startswith(tuple(f"{t}_" for t in _DARWIN_FUSE))
               or kind.startswith("fusefs."))
    if not network and kind and (sys.platform == "darwin" or sys.platform.startswith("freebsd")):
        try:
            mount = _statfs_mount(folder)
            network = mount is not None and not mount[1]
        except Exception:            # (gone meanwhile: not known, as mount_type_of says it)
            pass
    return kind if network else ""


@contextmanager
def writing_temps(folder: Path, stale: Callable[[], list[Path]], *, alone: bool = False,
                  on_wait: "Callable[[Path], None] | None" = None) -> Iterator[list[Path]]:
    """Hold `folder` as a folder this process writes temp files in, for the block (the caller's atomic writes); and
    first, where no other process holds it so, delete stale(): the temp files there of the writes that hold it, left
    by a process killed while it wrote them (a kill skips the clean-up that removes them). Yields what was deleted.

    Every writer of those files holds the folder for as long as its temp files exist, so a temp file found while no
    process holds it is a killed one's: the hold is a shared flock on the folder itself (opened read-only; no lock
    file to leave behind), released by the kernel when its process ends however it ends; the deletion is done under
    the exclusive lock, which no other writer's shared one lets through, then turned into a shared one before this
    process writes (not atomically: another writer may come between and clean, while this one's files are not yet
    written). Where the folder cannot be locked (no fcntl on Windows, a flock refused) nothing is deleted: another
    process's files cannot be told from a killed one's there. Nor on a network file system whose folder locks hold on
    this machine only (NFS, SMB, Lustre, sshfs, ...: host_only_locks), where a folder found free may be written into
    from another machine: the folder is held shared all the same (writes on this machine still see each other), and
    the temp files are left for a person to delete once nothing writes there. (`folder` is made when missing, as the
    atomic writes would make it.)

    alone=True: the folder is held exclusively for the whole block, waiting for the writers that hold it now, for an
    output of several files whose renames must not interleave with another writer's of the same output
    (Detector.save's pair: two saves at once left one's weights beside the other's JSON). The stale temp files are
    deleted once it is held, as above. A hold that waits longer than _WAIT_SAID_AFTER for another's (alone: for any
    other; shared: for one held alone, a det.save's, an --overwrite's removal) calls on_wait(folder) first, so that
    the wait is said: by default a warning (_said_waiting)."""
    folder = Path(folder)
    said = on_wait if on_wait is not None else _said_waiting
    for attempt in range(_FOLDER_RETAKES + 1):
        folder.mkdir(parents=True, exist_ok=True)
        # (the unheld block runs after the except clauses, not inside them: there an error of the caller's write was
        # chained to the lookup that failed, "During handling of ... No module named 'fcntl'" in its traceback)
        fd = None
        try:
            import fcntl  # noqa: F401  (here: whether folder locks exist; _hold_for_writing takes them)
            fd = os.open(folder, os.O_RDONLY)
        except (ImportError, OSError):   # not POSIX, or a folder that cannot be opened
            pass
        if fd is None:
            yield []
            return
        try:
            gone = _hold_for_writing(fd, folder, stale, alone, said)
        except BaseException:
            os.close(fd)
            raise
        # the folder held may have been removed while this waited for it (a `wildgan train --overwrite` removes the
        # eval-*/ folders it holds alone): held, it kept out no writer of the folder made again at that path (the
        # atomic writes make it), whose temp files its clean-up took for a killed writer's. Taken again there (a
        # few times: on a file system whose inode numbers are not stable the check would never pass; held as found)
        if gone is not None or attempt == _FOLDER_RETAKES:
            break
        os.close(fd)
    try:
        yield gone or []
    finally:
        os.close(fd)                 # (releases the lock)


# how many times writing_temps opens and holds its folder again where the one it held was removed meanwhile
_FOLDER_RETAKES = 3


def _same_folder(fd: int, folder: Path) -> bool:
    """Whether the folder open at fd is the one at `folder` now (not removed, nor replaced, since it was opened)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(folder))
    except OSError:
        return False


def _hold_for_writing(fd: int, folder: Path, stale: Callable[[], list[Path]], alone: bool,
                      said: "Callable[[Path], None]") -> "list[Path] | None":
    """writing_temps' hold of the folder open at fd (see there), the stale temp files deleted first where no other
    writer holds it; returns those deleted, or None where the folder held is no longer the one at `folder` (removed
    while this waited for it), with nothing deleted: the caller opens it again."""
    import fcntl

    gone: list[Path] = []
    held = _held_alone(fd, folder, said) if alone else False
    # (on a network file system the lock holds this machine's writers only: a folder found free there may be
    # written into from another machine, so nothing is deleted, held alone or not)
    network = bool(host_only_locks(folder))
    if not alone and not network:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except OSError:
            pass
    if held and not network:
        if not _same_folder(fd, folder):
            # (stale() lists the folder at the path: a new one there, held by writers this hold keeps out of none)
            return None
        try:
            gone = remove_files(stale())
        except OSError:
            pass                     # (a clean-up refused, e.g. by permissions, must not stop the write it precedes)
    if not alone:
        try:
            # (waits while another holds it exclusively: a writer for its deletions, an instant, but a det.save
            # (alone) for the whole save, and an --overwrite while it removes: said, where it lasts)
            _flock_saying_wait(fd, fcntl.LOCK_SH, folder, said)
        except OSError:
            pass                     # not lockable here: written unheld, as before the lock, and nothing deleted
    return gone if _same_folder(fd, folder) else None


# how long a hold of a folder waits for another's before it says so (on_wait): another writer holds the folder alone
# for an instant while it deletes a killed write's temp files, which is no news; a det.save holds it for the whole
# save, and one stopped with Ctrl-Z (or at a debugger's breakpoint) for as long as it stays stopped
_WAIT_SAID_AFTER = 1.0


def _said_waiting(folder: Path) -> None:
    """writing_temps' word, by default, for a wait for a folder another holds alone."""
    warn_user(f"waiting for a write into {folder} to finish (a det.save there, or a `wildgan train --overwrite` "
              f"removing a run's files; one stopped with Ctrl-Z holds it until it goes on)")


def _flock_saying_wait(fd: int, op: int, folder: Path, on_wait: "Callable[[Path], None] | None") -> None:
    """fcntl.flock(fd, op), waiting for those who hold the lock; where that lasts longer than _WAIT_SAID_AFTER,
    on_wait(folder) is called first, once. An OSError other than the wait's (a file system that refuses flock) is
    raised, as flock raises it."""
    import fcntl
    import time

    deadline = time.monotonic() + _WAIT_SAID_AFTER
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
        time.sleep(0.02)
    if on_wait is not None:
        on_wait(folder)
    fcntl.flock(fd, op)


def _held_alone(fd: int, folder: Path, on_wait: "Callable[[Path], None] | None") -> bool:
    """Take the exclusive lock of the folder open at fd (writing_temps' alone), waiting for those who hold it
    (on_wait(folder) first, where that lasts: _flock_saying_wait); whether it was taken (False where the file system
    refuses flock: written unheld)."""
    import fcntl

    try:
        _flock_saying_wait(fd, fcntl.LOCK_EX, folder, on_wait)   # (waits while another writer or reader holds it)
        return True
    except OSError:
        return False


@contextmanager
def reading_held(folder: Path, on_wait: "Callable[[Path], None] | None" = None) -> Iterator[None]:
    """Hold `folder` shared for the block, for a reader of an output of several files that a writer replaces holding
    the folder alone (writing_temps' alone: Detector.save's pair): the reader waits for renames under way and finds
    the files of one write, not the first renamed beside the second not yet. Nothing is held where the folder cannot
    be opened or locked (as the writers hold nothing there), nor made where missing. A wait that lasts (a save
    stopped with Ctrl-Z holds the folder until it goes on) calls on_wait(folder) first, by default a warning, as
    writing_temps does (_flock_saying_wait)."""
    fd = None
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):   # not POSIX, a folder missing or that cannot be opened: the reader says what
        pass
    if fd is None:
        yield
        return
    try:
        try:
            _flock_saying_wait(fd, fcntl.LOCK_SH, folder, on_wait if on_wait is not None else _said_waiting)
        except OSError:
            pass                     # not lockable here: read unheld
        yield
    finally:
        os.close(fd)                 # (releases the lock)


@contextmanager
def holding_off_writes(folders: Iterable[Path], on_wait: "Callable[[Path], None] | None" = None
                       ) -> Iterator[list[Path]]:
    """Hold each of `folders` exclusively for the block: first wait for the writes in progress there that hold it
    (writing_temps: an evaluation's, seconds), then keep new ones waiting until the block ends. For a removal of their
    outputs (a run's --overwrite): one that ran under such a write took its temp files from under it, or the write
    made the folder again afterwards with its files in it. A folder missing or that cannot be locked is passed over
    (no fcntl: nothing is held, as writing_temps holds nothing there). on_wait(folder) is called where a wait for a
    folder a write holds lasts longer than _WAIT_SAID_AFTER, so that the wait is said (a writer suspended with Ctrl-Z
    would hold it until resumed) and an instant's is not.
    Yields the folders held (those locked) where the lock reaches every writer: a temp file of those writes found in
    one of them is a killed writer's. A folder on a file system whose folder locks hold on this machine only
    (host_only_locks) is locked (this machine's writes wait) but not yielded: a write on another machine is not
    held off there."""
    held_folders: list[Path] = []
    with ExitStack() as held:
        try:
            import fcntl
        except ImportError:          # pragma: no cover - not POSIX
            fcntl = None             # type: ignore[assignment]
        for folder in folders if fcntl is not None else ():
            try:
                fd = os.open(folder, os.O_RDONLY)
            except OSError:
                continue
            held.callback(os.close, fd)          # (releases the lock)
            try:
                # (blocks while a write holds it shared; said only past _WAIT_SAID_AFTER, as the other holds say
                # theirs: the training scores' cache write or a Detector.load there holds it for an instant)
                _flock_saying_wait(fd, fcntl.LOCK_EX, Path(folder), on_wait)
            except OSError:
                continue             # not lockable here
            if not host_only_locks(Path(folder)):
                held_folders.append(Path(folder))
        yield held_folders


def folder_lock_refused(folder: Path) -> str:
    """Why `folder` cannot be held as writing_temps holds it, in words ("" where it can): no fcntl (Windows), a
    folder that cannot be opened, a file system that refuses flock on it (ENOLCK, ENOSYS). There writing_temps holds
    nothing and deletes nothing, so a killed writer's temp files stay, for the caller to say. A glance: a shared lock
    taken and let go at once (one held exclusively by another writer is a lock that works)."""
    try:
        import fcntl
    except ImportError:
        return "no file locks on this platform (fcntl)"
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as e:
        return f"it cannot be opened: {e.strerror or e}"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return ""
    except OSError as e:
        return f"the file system refuses flock: {e.strerror or e}"
    finally:
        os.close(fd)                 # (releases the glance's lock, if taken)
    return ""


def temps_being_written(folder: Path) -> bool:
    """Whether a process may be writing temp files in `folder` now (writing_temps holds it), so that those there are
    not known to be stale: a glance that takes the exclusive lock and lets it go at once, writing nothing. True too
    where the folder cannot be locked, or its locks hold on this machine only (host_only_locks: a process on another
    machine may write there unseen), as writing_temps deletes nothing there either; False for a missing folder."""
    try:
        import fcntl
    except ImportError:              # pragma: no cover - not POSIX
        return True
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return Path(folder).exists()     # (missing: nothing written there; unreadable: not known)
    try:
        if host_only_locks(Path(folder)):
            return True
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)                 # (releases the glance's lock, if taken)
    return False


def atomic_write_files(files: "Sequence[tuple[Path, Callable[[BinaryIO], object] | None]]", *,
                       before_renames: "Callable[[], object] | None" = None,
                       written: "Sequence[tuple[Path, str | Path]]" = ()) -> None:
    """Write several files as one output: each (path, write) as atomic_write_stream writes it, and write None removes
    the path (a file of the output's that this one has not). Every file is first written whole into a temp file
    beside it; only once all are written are they renamed over their paths, in the order given. So a failure while
    writing any of them (a full disk, a writer that raises) leaves every path as it was and no temp file behind, and
    a reader that trusts the last one (the record, such as an evaluation's eval.json) finds the others already
    theirs: a kill in the renames (milliseconds, no writing) can leave new files beside the old record, never a new
    record beside old files. A stream (is_stream) is written into at its turn in the renames, as given.
    before_renames(): called once every temp file is written, just before the first rename; where it raises, nothing
    is replaced and the temp files are removed (the last moment to find that the output is no longer wanted: an
    evaluation whose networks were replaced while it wrote, evaluation.run).
    written: (path, temp file) pairs the caller has already written whole and fsynced beside their paths, by a writer
    that writes a file by name (safetensors' save_file: checkpoint.save_checkpoint's weights); renamed first, in
    order, before `files`, and removed on a failure as this call's own temp files are."""
    staged: list[tuple[Path, str | None, Callable[[BinaryIO], object] | None]] = [
        (Path(path), str(tmp), None) for path, tmp in written]
    with _removing_temps() as temps:
        temps += [str(tmp) for _, tmp in written]
        for given, write in files:
            if write is not None and is_stream(given):
                staged.append((Path(given), None, write))
                continue
            if write is None:
                staged.append((Path(given), None, None))      # (a link is removed, not its target)
                continue
            path = _written_path(Path(given))
            tmp = _write_temp(write, path, temps)
            staged.append((path, tmp, None))
        if before_renames is not None:
            before_renames()
        for path, tmp, into_stream in staged:
            if into_stream is not None:
                with open(path, "ab") as f:
                    into_stream(f)
            elif tmp is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(tmp, path)
                temps.remove(tmp)
    for folder in dict.fromkeys(path.parent for path, tmp, _ in staged if tmp is not None):
        _fsync_dir(folder)


class _Digesting:
    """A binary file that passes each write on to `f` and hashes what it passes (digesting's)."""

    def __init__(self, f: BinaryIO) -> None:
        self._f, self.sha256, self.size = f, hashlib.sha256(), 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")        # (np.save writes arrays' buffers: counted in bytes, not items)
        self.sha256.update(view)
        self.size += view.nbytes
        return self._f.write(view)


def digesting(write: "Callable[[BinaryIO], object]", name: str, into: dict[str, dict[str, Any]]
              ) -> "Callable[[BinaryIO], None]":
    """A writer that writes what write(f) writes and then sets into[name] = {"bytes": its size, "sha256": its hex
    digest}: the record of a file, taken from the bytes as they are written (no second read of the file) and only
    once the whole file is written. For a record that names the files written beside it (an evaluation's eval.json:
    a reader tells its own side files from another evaluation's by it, data.eval_files.unmatched_side_files)."""
    def write_digested(f: BinaryIO) -> None:
        tee = _Digesting(f)
        write(tee)                               # type: ignore[arg-type]
        into[name] = {"bytes": tee.size, "sha256": tee.sha256.hexdigest()}
    return write_digested


def atomic_write_text(path: Path, text: str, *, written: "Sequence[tuple[Path, str | Path]]" = ()) -> None:
    """atomic_write_bytes of `text` in UTF-8. written: (path, temp file) pairs already written whole, renamed over
    their paths first, once this file's temp file is written too (atomic_write_files' `written`: a checkpoint's
    weights, which its JSON follows)."""
    # surrogateescape: a file name that is not valid UTF-8 (Python decodes it with lone surrogates) is written back
    # as the bytes it has on disk, instead of failing after the work that produced the text
    data = text.encode("utf-8", "surrogateescape")
    if written:
        atomic_write_files([(path, lambda f: f.write(data))], written=written)
    else:
        atomic_write_bytes(path, data)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def truncate_jsonl(path: Path, keep: Callable[[dict], bool]) -> int:
    """Rewrite a JSONL log atomically with only the rows keep() accepts (and that parse); returns how many were
    dropped. A resumed run calls this with "written before the checkpoint it resumed from": the killed session's
    later rows would otherwise appear twice, and curves would plot both histories."""
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            ok = isinstance(row, dict) and keep(row)
        except (ValueError, TypeError, KeyError):
            ok = False                      # e.g. the half-written last line of a killed session
        if ok:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))
    return dropped


def json_lines(path: Path) -> list[tuple[int, str, Any]]:
    """(line number from 1, text, value) of each non-blank line of a JSON-lines file (none if there is no file); the
    value of a line that is not JSON is its json.JSONDecodeError, for the caller to name. A last line that is not JSON
    and has no newline is left out: it is a row torn by a writer killed mid-line (each row is written with its newline
    in one write), which the writer cuts before it appends the next (a study's _drop_torn_line; a resumed run's
    truncate_jsonl of stats.jsonl), so not worth a word."""
    p = Path(path)
    if not p.is_file():
        return []
    text = p.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    out: list[tuple[int, str, Any]] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value: Any = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines) and not text.endswith("\n"):
                continue
            value = e
        out.append((i, line, value))
    return out


def append_line(path: Path, line: str) -> None:
    """Append one line to a log (log.txt) in one write() on an O_APPEND descriptor. Several writers append to the
    same log (the ranks of a torchrun job, a study and its cell): their lines must not interleave, and Python's
    buffered file may split a long line into several writes."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)


def append_log_line(path: Path, line: str) -> None:
    """append_line for a log that copies what the terminal shows: a failure to write it (a full disk, a folder
    gone) is never the reason a run stops."""
    try:
        append_line(path, line)
    except OSError:
        pass


def leave_out_defaults(record: dict[str, Any], absent_means: Mapping[str, Any]) -> dict[str, Any]:
    """`record` without the fields whose value is the one a reader takes their absence to mean (absent_means: field ->
    that value; every reader reads `record.get(field, absent_means[field])`). The rule for a field added to a file
    that an older wildgan reads: such a reader may take any field it does not know for a change (a cache key compared
    whole is then stale: a Detector.fit run, which cannot score its training images again, lost its thresholds), so
    the field is written only once its value differs from what the file meant without it; a file that needs it is
    then one that reader treats as stale or refuses, as it must."""
    return {k: v for k, v in record.items() if not (k in absent_means and v == absent_means[k])}


def version_state(version: object, current: int) -> str:
    """How a file's format version reads to a wildgan that reads versions 1 to `current`: "ok", "newer" (written by
    a newer wildgan: ask for an upgrade, never read it as damaged) or "damaged" (not a whole number from 1: every
    wildgan wrote one). One rule for the checkpoint, run config and Detector versions; their messages are their own."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return "damaged"
    return "newer" if version > current else "ok"


def unwritable_error(e: OSError, given: str | Path, advice: str, *, label: str = "", at: str | Path | None = None
                     ) -> ConfigError | None:
    """The error to raise for an OSError that says a place cannot be written (read-only file system, permission
    denied, no space left): "cannot write LABEL GIVEN: WHY (at AT); ADVICE", GIVEN the path as the user gave it, AT
    the path that refused (e.filename when not given) when it is another one, such as a parent folder. None for other
    OSErrors, which say something else about the path and keep their own message."""
    why = _UNWRITABLE.get(e.errno or 0)
    if why is None:
        return None
    if at is None and e.filename:
        at = os.fsdecode(e.filename)
    where = f" (at {at})" if at is not None and Path(at) != Path(given) else ""
    return ConfigError(f"cannot write {f'{label} ' if label else ''}{given}: {why}{where}; {advice}")


def check_can_make_folder(path: str | Path, advice: str, *, label: str = "") -> None:
    """ConfigError (unwritable_error) when the folder `path` could not be made or written in, found by making and
    removing a probe folder in it, or in its nearest existing parent: asked before the long work that writes there
    (reading the data, training), and leaving nothing behind when it passes (a refused command writes nothing)."""
    where = Path(path) if Path(path).is_dir() else next((q for q in Path(path).parents if q.is_dir()), None)
    if where is None:
        return
    try:
        os.rmdir(tempfile.mkdtemp(dir=where, prefix=".wildgan-probe-"))
    except OSError as e:
        err = unwritable_error(e, path, advice, label=label, at=where)
        if err is None:
            raise
        raise err from None


def make_folder(path: str | Path, advice: str, *, label: str = "") -> None:
    """Path(path).mkdir(parents=True, exist_ok=True), a failure for want of a writable place said by
    unwritable_error."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        err = unwritable_error(e, path, advice, label=label)
        if err is None:
            raise
        raise err from None


def refuse_a_folder(path: str | Path, example: str, *, label: str) -> None:
    """ConfigError where `path`, given for a file the caller writes, is a folder (or is spelt as one, ending in /):
    as `wildgan ... --out DIR` is refused. From Python, export_onnx and write_scores_csv did the work, then failed as
    a bare OSError renaming their temporary file onto the folder ("Device or resource busy", "Is a directory"), and
    heatmap_panel('.') wrote a hidden '.png' and returned '.'. `example`: a file name to suggest inside it."""
    if Path(path).is_dir():
        raise ConfigError(f"{label} {path} is a folder; give a file name, e.g. {Path(path) / example}")
    if str(path).endswith(("/", os.sep)):
        # (not there yet: named as one, as `--out new/` is said to be)
        raise ConfigError(f"{label} {path} names a folder (it ends in '/'); give a file name, e.g. "
                          f"{Path(path) / example}")


def refuse_replacing_another_kind(path: str | Path, suffixes: tuple[str, ...], what: str, example: str, *,
                                  label: str, starts: bytes | None = None) -> None:
    """ConfigError when `path`, about to be replaced by a file the caller writes (`what`: 'a scores CSV', 'an ONNX
    model'), is an existing regular file of another kind: one whose name does not end in one of `suffixes` (lower
    case, with the dot) and, where `starts` is given, whose first bytes are not those of the caller's own output (a
    scores CSV written earlier under another name); where `starts` is given, a file of the right name that does not
    start so either (the user's labels.csv: `score --out labels.csv` replaced it, as any .csv was taken for a scores
    CSV written earlier). `wildgan score --out photo.jpg` replaced the photo with the CSV and exited 0: the user's file
    lost without a word. Replacing the caller's own kind of file (a scores.csv written earlier) stays the ordinary way
    to write it again, and so does replacing an empty file. `example`: a file name to suggest; `label`: what the
    message calls the path ('--out', "export_onnx's path")."""
    if is_stream(path):                 # (written into, as given: nothing is replaced)
        return
    refuse_a_folder(path, example, label=label)
    p = Path(path)
    if p.is_symlink():
        p = p.resolve()                 # (written through the link: its target is what would be replaced)
    named = p.suffix.lower() in suffixes
    if not p.is_file() or (named and starts is None) or p.stat().st_size == 0:
        # (an empty file holds nothing to lose: a script's `out=$(mktemp)`)
        return
    first = b""
    unread = None
    if starts is not None:
        try:
            with open(p, "rb") as f:
                first = f.read(max(len(starts) + 3, 64))
        except OSError as e:            # (unreadable: not known to be ours)
            unread = e.strerror or str(e)
        # (a UTF-8 byte-order mark before it: the CSV saved again by a spreadsheet, still the command's output)
        if first.removeprefix(b"\xef\xbb\xbf").startswith(starts):
            return
    if named:
        line = first.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        # (a first line that could not be read is said so, not as an empty one)
        seen = (f"not known to be {what} written by wildgan (it cannot be read: {unread})" if unread is not None else
                f"not {what} written by wildgan (it starts {line!r}, not {starts.decode()!r})")
        raise ConfigError(f"{label} {path} is an existing file that is {seen}: writing there would replace it; give a "
                          f"new name, e.g. {Path(path).parent / example}, or delete it first")
    kind = f"a {p.suffix} file" if p.suffix else "a file without an extension"
    raise ConfigError(f"{label} {path} is an existing file that is not {what} ({kind}): writing there would replace "
                      f"it; give a new name, or one ending in {suffixes[0]}, e.g. {Path(path).parent / example}")
