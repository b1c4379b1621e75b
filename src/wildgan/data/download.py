"""Archives and downloads: the cache directory, safe tar and zip extraction, atomic writes, and the CIFAR-10
download."""

from __future__ import annotations

import errno
import fnmatch
import glob
import hashlib
import http.client
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import unicodedata
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from ..errors import DataError, option_words, warn_user
from ..fileio import atomic_write_stream, atomic_write_text, file_digest, holding_off_writes, size_text, umask

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
# the batches of a cifar-10-batches-py folder, each needed to read it (dataset_files.read_cifar_batches); its
# batches.meta is not (the class names are CIFAR-10's without it)
CIFAR_BATCH_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"      # what download_cifar10 fetches, kept beside the data set
CIFAR10_FOLDER = "cifar-10-batches-py"          # the data set, unpacked from it
# what download_cifar10 leaves in its folder besides those two, by name: an unpack of a call killed before it was
# renamed into place, the partial download atomic_write_stream writes beside the archive (both taken back by a later
# download), and a cifar-10-batches-py cut short that a download moved aside (_cifar_into_place: kept for the user).
# Defined here once: the readers skip them (readers._skipped_dir), as a folder of class folders would read the one
# moved aside as a class without images and refuse the whole data set for it
_CIFAR_UNPACK_PREFIX = ".tmp-cifar10-"
_CIFAR_PARTIAL_GLOB = f".{CIFAR10_ARCHIVE}.*.tmp"
_CIFAR_ASIDE = re.compile(re.escape(CIFAR10_FOLDER) + r"\.incomplete-\d{8}-\d{6}(-\d+)?")


def _cifar_aside_name(stamp: str, n: int) -> str:
    """The name _cifar_into_place moves a not-whole cifar-10-batches-py aside to (matched by _CIFAR_ASIDE)."""
    return f"{CIFAR10_FOLDER}.incomplete-{stamp}" + (f"-{n}" if n > 1 else "")


def is_cifar_download_leftover(name: str) -> bool:
    """Whether a file or folder name is one download_cifar10 leaves beside the data set that is not data (see
    _CIFAR_UNPACK_PREFIX): never read as part of a data set."""
    return (name.startswith(_CIFAR_UNPACK_PREFIX) or fnmatch.fnmatchcase(name, _CIFAR_PARTIAL_GLOB)
            or _CIFAR_ASIDE.fullmatch(name) is not None)


def cache_root() -> Path:
    """$WILDGAN_CACHE, else ~/.cache/wildgan."""
    env = os.environ.get("WILDGAN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wildgan"


def _check_member(name: str, other: str | None, archive: Path) -> None:
    """Refuse the member `name` of `archive` (a tar's or a zip's) that could land outside the unpack folder: an
    absolute path, a '..', or one that is neither a plain file nor a folder (`other` says what it is: 'a symbolic
    link', ...; None for a plain file or folder)."""
    shown = name
    name = name.replace("\\", "/")
    # (each refusal says how to make an archive that is read: a member named alone left the user to guess)
    relative = "make the archive again with paths relative to the data set's folder (tar -C FOLDER -czf ARCHIVE .)"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"{archive}: refusing archive member with an absolute path: {shown!r}; {relative}")
    if ".." in name.split("/"):
        raise DataError(f"{archive}: refusing archive member that escapes the target folder: {shown!r}; {relative}")
    if other is not None:
        # links, devices and fifos are never part of an image data set; refusing them closes the link tricks. A
        # folder of links is read as it is (docs/data.md), and its tar holds them: stored followed, it is read too
        again = ("make the archive again holding the files its links point to (tar -h; zip without -y)"
                 if "link" in other else "make the archive again without it")
        raise DataError(f"{archive}: refusing archive member that is not a plain file or folder ({other}): "
                        f"{shown!r}; {again}")


def _check_no_clash(members: list[tuple[str, str, bool]], archive: Path) -> None:
    """Refuse `archive` where one name is both a file and a folder: `members` as (the name as the archive says it, the
    name it is written under, whether it is a folder). Unpacked, the second of the two fails on the first with a bare
    'Not a directory: CACHE/.tmp-.../a/000.png', said as a truncated archive: one to download again, in a folder the
    user never made."""
    files: dict[str, str] = {}
    folders: dict[str, str] = {}        # each folder an unpack makes -> the first member that makes it
    for shown, name, is_dir in members:
        parts = [q for q in name.split("/") if q not in ("", ".")]
        for i in range(1, len(parts)):
            folders.setdefault("/".join(parts[:i]), shown)
        if parts:
            (folders if is_dir else files).setdefault("/".join(parts), shown)
    for path, shown in files.items():
        if path in folders:
            raise DataError(f"{archive}: refusing archive members that make one name both a file and a folder: "
                            f"{shown!r} (a file) and {folders[path]!r}; make the archive again without one of them")


def _check_case_clash(members: list[tuple[str, str, bool]], archive: Path, dest: Path, elsewhere: str) -> None:
    """Refuse `archive` (its `members` as _check_no_clash's) where two of its names differ only in case ('a/X.png'
    and 'a/x.png', or folders 'Normal/' and 'normal/') and dest's file system does not tell them apart (macOS's and
    Windows' by default, a FAT or exFAT drive): unpacked there, the second file overwrote the first and the second
    folder's images joined the first's class, without a word. Where names keep their case (Linux), both are kept.
    elsewhere: as safe_extract's."""
    clash = _case_clash(members)
    if clash is None or not _folds_case(dest):
        return
    raise DataError(f"{archive}: holds {clash[0]!r} and {clash[1]!r}, names that differ only in case, which the file "
                    f"system of {dest.parent} does not tell apart: unpacked there, one would overwrite or merge into "
                    f"the other; rename one and make the archive again, or "
                    f"{elsewhere.format('a folder on a file system that keeps case apart')}")


def _case_clash(members: list[tuple[str, str, bool]]) -> tuple[str, str] | None:
    """The first two names of `members` (as _check_no_clash's) that differ only in case, as the unpack writes them
    (a folder's with a '/'), or None."""
    seen: dict[str, str] = {}       # each name an unpack makes, folded as such a file system folds it -> that name
    clash: tuple[str, str] | None = None
    for _, name, is_dir in members:
        parts = [q for q in name.split("/") if q not in ("", ".")]
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i]) + ("/" if i < len(parts) or is_dir else "")
            # (NFC too: macOS's file systems also take a composed and a decomposed accent for one name. lower(), not
            # casefold(): APFS, NTFS and FAT keep 'straße' and 'strasse' apart, which casefold() makes one name)
            first = seen.setdefault(unicodedata.normalize("NFC", path.rstrip("/")).lower(), path)
            if first.rstrip("/") != path.rstrip("/"):      # (the same name a file and a folder: _check_no_clash's)
                clash = clash or (first, path)
    return clash


def _folds_case(folder: Path) -> bool:
    """Whether the file system of `folder` (or of its nearest existing parent) takes two names that differ only in
    case for one: a probe file's name, upper-cased, is found there. Where no probe can be written (a shared cache
    of someone else's, whose earlier unpacks are still read: _check_earlier_unpack), the folder's own name in
    another case is the probe; False where it has no letters."""
    at = next((d for d in (folder, *folder.parents) if d.is_dir()), None)
    if at is None:
        return False
    try:
        fd, probe = tempfile.mkstemp(prefix=".wildgan-case-", dir=at)
    except OSError:
        other = at.parent / at.name.swapcase()
        try:
            # (the same folder, not merely one of that name: case-keeping systems can hold both)
            return other != at and os.path.samefile(at, other)
        except OSError:
            return False
    os.close(fd)
    try:
        return os.path.exists(os.path.join(at, os.path.basename(probe).upper()))
    finally:
        os.unlink(probe)


def _tar_member_other(m: tarfile.TarInfo) -> str | None:
    """What a tar member that is not a plain file or folder is (for _check_member), or None."""
    if m.isfile() or m.isdir():
        return None
    return "a symbolic link" if m.issym() else "a hard link" if m.islnk() else "a device or fifo"


def _zip_member_other(m: zipfile.ZipInfo) -> str | None:
    """What a zip member that is not a plain file or folder is (for _check_member), or None: by its Unix file type,
    the high bits of external_attr, which zips made on Unix and macOS keep (0 from other systems, whose zips hold
    no links)."""
    kind = stat.S_IFMT(m.external_attr >> 16)
    if kind in (0, stat.S_IFREG, stat.S_IFDIR):
        return None
    return "a symbolic link" if kind == stat.S_IFLNK else "a device, fifo or socket"


class _KeptHeader(tarfile.TarInfo):
    """A TarInfo whose class (one made for each open, as tarinfo=) keeps the last header block tarfile read: tarfile
    ends a listing at any bad header after the first without a word (its members then left out of the unpack), and
    that block says whether the listing stopped at the archive's end or at damage (_tar_end_problem)."""
    last_block: bytes | None = None

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo:
        cls.last_block = bytes(buf)
        return super().frombuf(buf, encoding, errors)


def _tar_end_problem(tar: tarfile.TarFile, kept: type[_KeptHeader], n: int) -> str | None:
    """Why the listing of `tar` (opened with tarinfo=kept, its `n` members listed) stopped before the archive's end,
    or None where it reached it: the end-of-archive block (zeros) with only zeros after it (a record's padding), or
    the end of the data where a header would start (no end block: tar tools read such an archive too). What follows
    the end block is read to the file's end, which also checks a compressed tar's own end (a gzip cut short there
    fails its read: EOFError)."""
    block = kept.last_block
    members = f"{n} member{'' if n == 1 else 's'}"
    if not block:
        return None
    if len(block) < tarfile.BLOCKSIZE:
        return f"its data ends inside the header that follows its first {members}: {_CUT}"
    if block.count(0) < tarfile.BLOCKSIZE:
        return (f"the header that follows its first {members}, at byte {tar.offset} of the tar, is damaged: the "
                f"members after it cannot be read")
    assert tar.fileobj is not None
    try:
        while chunk := tar.fileobj.read(1 << 20):
            if chunk.count(0) < len(chunk):
                return (f"it holds more after its end-of-archive block, which follows its first {members} (archives "
                        f"joined into one?): what follows would be left out")
    except EOFError:        # (a compressed tar's decompressor: its words said nothing of where, or of what to do)
        return (f"its compressed data ends before its own end, after the end-of-archive block that follows its "
                f"first {members}: {_CUT}")
    return None


def _warn_if_unended(archive: Path, kept: type[_KeptHeader], n: int) -> None:
    """Say so where `archive`, its `n` members listed (with tarinfo=kept, _tar_end_problem passing it), ends where a
    header would start, without the end-of-archive blocks every tar writer puts there: a copy cut short at a header
    boundary, whose members after the cut were left out without a word. Read still, as GNU tar reads it (a writer
    that never closed its archive leaves one so, whole). Said by the unpack only (not by each listing): once, where
    the members are taken."""
    if kept.last_block == b"":
        members = f"{n} member{'' if n == 1 else 's'}"
        warn_user(f"{archive}: ends without tar's end blocks after {members}; if it was cut short (an interrupted "
                  f"copy or download), members after those are missing: copy or download it again")


# how a listing says a tar whose data ends too soon: what happened, and so what to do
_CUT = "cut short, an interrupted copy or download?"


def _list_tar(tar: tarfile.TarFile, archive: Path, limit: int | None = None) -> list[tarfile.TarInfo]:
    """The members of `tar` (the archive `archive`, opened), the first `limit` of them (None: all). A listing that the
    data's end cuts short after a member is refused as _tar_end_problem's are, naming that member: tarfile said
    only 'unexpected end of data' (a plain tar cut inside a member), a compressed tar its decompressor's words."""
    members: list[tarfile.TarInfo] = []
    try:
        for m in tar:
            members.append(m)
            if limit is not None and len(members) >= limit:
                break
    except (tarfile.ReadError, EOFError) as e:
        if not members or (isinstance(e, tarfile.ReadError) and str(e) != "unexpected end of data"):
            raise           # (nothing listed: the file is not a tar, archive_problem's to say; or other damage)
        n = len(members)
        said = f"{n} member{'' if n == 1 else 's'}"
        where = (f"inside member {members[-1].name!r}, the last of its first {said}" if isinstance(e, tarfile.ReadError)
                 else f"after its first {said}, inside {members[-1].name!r} or the header after it")
        raise DataError(f"{archive}: not a readable tar archive or truncated (its data ends {where}: {_CUT})") from e
    return members


def _open_tar(archive: Path, kept: type[_KeptHeader]) -> tarfile.TarFile:
    """tarfile.open(archive, 'r:*', tarinfo=kept), a file it cannot open at all refused in archive_problem's one line:
    tarfile's own lists every compression it tried ('file could not be opened successfully: - method gz: ...'), and
    the unpack said it as it was to callers that do not detect the format first (CIFAR-10's download, unpack_cached).
    The system's refusal to read the file (an OSError with an errno) is left to the caller, as it is."""
    try:
        return tarfile.open(archive, "r:*", tarinfo=kept)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise DataError(archive_problem(archive)) from e
    except OSError as e:
        if e.errno is not None:
            raise
        raise DataError(archive_problem(archive)) from e


def safe_extract(archive: str | Path, dest: str | Path, *, elsewhere: str = "unpack it into {}") -> None:
    """Extract a tar(.gz) or a zip (is_zip) into dest, refusing absolute paths, '..' and links (also tarfile's 'data'
    filter for a tar), a zip's encrypted members (it has no password to give), and an archive whose members' declared
    sizes do not fit in the free space of dest's disk (_check_room).

    elsewhere: how the caller's user puts the unpack in another folder, for the advice when dest's disk is full or
    not writable; '{}' stands for that folder ('set $WILDGAN_CACHE to {}' where dest is in the cache)."""
    archive = Path(archive)
    written: list[tuple[str, str]] = []     # (a member's name as the archive says it, the name it is written under)
    try:
        if _kind(archive) == "zip":
            _extract_zip(archive, dest, elsewhere, written)
            return
        kept = type("_Kept", (_KeptHeader,), {})
        with _open_tar(archive, kept) as tar:
            members = _list_tar(tar, archive)
            ended = _tar_end_problem(tar, kept, len(members))
            if ended is not None:
                raise DataError(f"{archive}: not a readable tar archive or truncated ({ended})")
            if not members:
                raise DataError(_empty_archive(archive))
            _warn_if_unended(archive, kept, len(members))
            shown = [m.name for m in members]
            for m in members:
                _check_member(m.name, _tar_member_other(m), archive)
                m.name = _tar_name(m)
            written += zip(shown, (m.name for m in members))
            _check_no_clash([(n, m.name, m.isdir()) for n, m in zip(shown, members)], archive)
            _check_case_clash([(n, m.name, m.isdir()) for n, m in zip(shown, members)], archive, Path(dest), elsewhere)
            _check_room(archive, Path(dest), [m.size if m.isfile() else 0 for m in members], elsewhere)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # Python < 3.10.12: members were checked above
                tar.extractall(dest, members=members)
    except OSError as e:
        raise DataError(_unpack_os_error(e, archive, Path(dest), written, elsewhere)) from e
    except (tarfile.TarError, EOFError, zipfile.BadZipFile, zlib.error, lzma.LZMAError) as e:
        raise DataError(f"{archive}: not a readable {_kind(archive)} archive or truncated ({e})") from e


def _empty_archive(archive: Path) -> str:
    """What to say of `archive`, a tar or zip that opens and holds no member (refused by safe_extract: unpacked, the
    read of its empty folder said 'no image files (.png, .jpg, ...) and no class subfolders' of a folder the user
    never saw). A tar that no compression opens is read as a plain one, and a plain tar with no members is zeros
    only (_tar_end_problem has read it to its end): a file of zeros named .tar.gz is what an interrupted copy or a
    preallocated download leaves, not an empty archive."""
    if _kind(archive) == "zip":
        return f"{archive}: an empty zip archive (no files in it, so no images): is it the right file?"
    try:
        with open(archive, "rb") as f:
            head = f.read(8)
        size = os.stat(archive).st_size
    except OSError:
        head, size = b"", None
    used = next((name for magic, name, _ in _TAR_COMPRESSIONS if head.startswith(magic)), None)
    if used is not None:
        return f"{archive}: an empty tar archive ({used}-compressed, with no files in it, so no images): is it the " \
               f"right file?"
    low = archive.name.lower()
    named = next((name for ends, name in (((".gz", ".tgz"), "gzip"), ((".bz2", ".tbz", ".tbz2"), "bz2"),
                                          ((".xz", ".txz"), "xz")) if low.endswith(ends)), None)
    zeros = f" ({size:,} of them)" if size is not None else ""
    if named is not None:
        return (f"{archive}: holds only zero bytes{zeros}, not the {named}-compressed tar its name says, and no "
                f"files: an interrupted copy or download?")
    said = f": its {size:,} bytes are all zeros" if size is not None else ""
    return f"{archive}: an empty tar archive (no files in it, so no images{said}): is it the right file?"


def _unpack_os_error(e: OSError, archive: Path, dest: Path, written: list[tuple[str, str]], elsewhere: str) -> str:
    """What to say of the OSError `e` from unpacking `archive` into dest (written: as safe_extract's; elsewhere: as
    safe_extract's). Only an OSError without an errno is damage (gzip's bad CRC, bz2's 'Invalid data stream'): one
    the system raised for a member's name ('File name too long') was called a truncated archive, to download again,
    under the cache's temporary path, which the user never made."""
    target = Path(e.filename) if e.filename else None
    if e.errno is None:
        return f"{archive}: not a readable {_kind(archive)} archive or truncated ({e})"
    said = f"[Errno {e.errno}] {e.strerror}"
    if target is not None and target.resolve() == archive.resolve():
        return f"{archive}: cannot read it ({said})"
    writing = target is None or dest.resolve() in (target.resolve(), *target.resolve().parents)
    if e.errno == errno.EFBIG and writing:
        # a file larger than dest's file system takes (FAT's 4 GiB) or than the process may write (ulimit -f): said
        # 'could not unpack it ([Errno 27] File too large)', naming neither where nor what to do (freeing space there
        # does not mend it)
        return (f"{archive}: could not write its unpacked files into {dest.parent} ({said}: a file larger than its "
                f"file system takes, FAT's 4 GiB, or than the limit on a file's size, ulimit -f); raise the limit, "
                f"or {elsewhere.format('a folder on another file system')}")
    if e.errno in _WRITE_ERRNOS and writing:
        # the destination, not the archive: a full disk said as a 'truncated archive' sent people to re-download.
        # (dest's folder, as _check_room names it: dest is the temporary folder its callers unpack into, and the
        # system's words name a file in it)
        return (f"{archive}: could not write its unpacked files into {dest.parent} ({said}); free space there or "
                f"make it writable, or {elsewhere.format('another folder')}")
    found = _member_at(target, dest, written) if target is not None and writing else None
    if found is None:
        return f"{archive}: could not unpack it ({said})"
    shown, parts, whole = found
    if e.errno == errno.ENAMETOOLONG:
        return _too_long(archive, dest, shown, parts, whole, target, said, elsewhere)
    return (f"{archive}: member {shown!r} could not be unpacked into {dest.parent}: the system refused it ({said}); "
            f"{elsewhere.format('another folder')}, or unpack the archive yourself and pass the folder")


def _member_at(target: Path, dest: Path, written: list[tuple[str, str]]) -> tuple[str, list[str], bool] | None:
    """The member (its name as the archive says it) that the unpack into dest was writing at `target`, a path under
    dest: the member written there, else the first one in the folder made there. With the parts of target's path
    under dest, and whether they are the member's whole name (not a folder of it); None where no member is."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(dest))
    parts = [q for q in rel.split(os.sep) if q not in ("", ".")]
    if not parts or parts[0] == "..":
        return None
    for shown, name in written:
        mine = [q for q in name.split("/") if q not in ("", ".")]
        if mine[: len(parts)] == parts:
            return shown, parts, len(mine) == len(parts)
    return None


def _limit(folder: Path, name: str) -> int | None:
    """os.pathconf(folder, name) (a file system's limit), or None where the system does not say."""
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return None


def _too_long(archive: Path, dest: Path, shown: str, parts: list[str], whole: bool, target: Path, said: str,
              elsewhere: str) -> str:
    """What to say of the member `shown` of `archive` whose name, written at `target` under dest (`parts` of it;
    whole: they are the member's own name, not a folder of it), the system refused as too long: the part longer
    than a name can be on dest's file system, or the path longer than a path can be there."""
    name_max, path_max = _limit(dest, "PC_NAME_MAX"), _limit(dest, "PC_PATH_MAX")
    head = f"{archive}: member {shown!r} cannot be unpacked:"
    for i, part in enumerate(parts):
        n = len(os.fsencode(part))
        if name_max is not None and n > name_max:
            what = "its name" if whole and i == len(parts) - 1 else f"its folder {part!r}"
            return (f"{head} {what} is {n} bytes long, and the file system of {dest.parent} takes names of at most "
                    f"{name_max} bytes; make the archive again with a shorter name")
    n = len(os.fsencode(os.path.abspath(target)))
    if path_max is not None and n >= path_max:
        # (the limit counts the byte that ends the path)
        return (f"{head} its path in the unpack under {dest.parent} is {n} bytes long, and the system takes paths "
                f"shorter than {path_max} bytes; make the archive again with fewer or shorter folder names, or "
                f"{elsewhere.format('a folder with a shorter path')}")
    return f"{head} its name is too long for the file system of {dest.parent} ({said}); make the archive again " \
           f"with a shorter name"


# Each member's declared size bounds what it writes: zipfile stops a member's output at its declared file_size (a
# zip whose header says less than its data holds fails its CRC check there), and tarfile copies exactly the declared
# size (what follows is read as the next header). So their sum is what an unpack can take, and a decompression bomb
# or a too-full disk is refused before anything is written, not found out by a disk filled to its last byte.
_BLOCK = 4096                   # a file takes whole blocks of its file system: 60,000 1 KiB images take 240 MiB
UNPACK_KEEP_FREE = 64 << 20     # left free beside an unpack, for everything else writing to that disk


def _free_bytes(folder: Path) -> int | None:
    """The free space of the disk that holds `folder` (or its nearest existing parent); None where not known: the
    system does not say, or its numbers say nothing (warned of)."""
    for d in (folder, *folder.parents):
        if d.exists():
            try:
                if not hasattr(os, "statvfs"):      # (Windows: its numbers come from GetDiskFreeSpaceEx, always real)
                    return shutil.disk_usage(d).free
                st = os.statvfs(d)
            except OSError:
                return None
            if st.f_blocks == 0 or st.f_frsize == 0 or st.f_bavail > st.f_blocks:
                # FUSE mounts (sshfs, rclone, gcsfuse) and some network file systems report 0 blocks, or more free
                # than in all: read as a full disk, every unpack there was refused with room to spare
                warn_user(f"{d}: its file system reports no usable size ({st.f_bavail} of {st.f_blocks} blocks "
                          f"free), as FUSE and some network file systems do, so whether an archive's unpack fits "
                          f"there is not checked before it is written")
                return None
            return st.f_bavail * st.f_frsize
    return None


def _check_room(archive: Path, dest: Path, sizes: list[int], elsewhere: str) -> None:
    """Refuse to unpack `archive`, whose members declare `sizes` (0 for a folder), into dest where the disk lacks the
    room: their sizes in whole blocks, and UNPACK_KEEP_FREE left over. elsewhere: as safe_extract's."""
    free = _free_bytes(dest)
    need = sum(max(1, -(-n // _BLOCK)) * _BLOCK for n in sizes) + UNPACK_KEEP_FREE
    if free is not None and need > free:
        raise DataError(f"{archive}: unpacks to {size_text(sum(sizes))} in {len(sizes)} files and folders, more "
                        f"than the disk of {dest.parent} has free ({size_text(free)}; it needs "
                        f"{size_text(need)}, with a margin); free space there, or "
                        f"{elsewhere.format('a folder on a disk with more room')}")


def _kind(archive: Path) -> str:
    return "zip" if archive.name.lower().endswith(".zip") else "tar"


def _tar_name(m: tarfile.TarInfo) -> str:
    """A tar member's name with '/' between its folders, as _zip_name: the tar format says '/', but some writers on
    Windows put '\\' there (.NET's TarFile.CreateFromDirectory, Go programs that store filepath.Rel's result as it
    is), which unpacked here as one file of that name at the unpack's top. (Windows' own tar.exe, libarchive, writes
    '/'.) A '..' or an absolute path said with backslashes is refused before (_check_member), as for a zip."""
    return m.name.replace("\\", "/")


def _zip_name(m: zipfile.ZipInfo) -> str:
    """A zip member's name with '/' between its folders: some Windows tools write 'normal\\001.png', which zipfile
    keeps as it is on Linux and macOS, where it unpacked as one file of that name, its class folder lost (as unzip
    does, a backslash is taken for the separator it was meant as)."""
    return m.filename.replace("\\", "/")


def zip_refusal(archive: Path, e: UnicodeDecodeError | NotImplementedError) -> str:
    """What to say (naming `archive`) of zipfile's refusals to read a zip that are not a BadZipFile: a member name
    flagged UTF-8 that is not valid UTF-8 (a UnicodeDecodeError, which no except of a damaged zip caught: a bare
    traceback), or a zip feature zipfile does not implement (a NotImplementedError: a newer zip version, compressed
    patched data, strong encryption)."""
    if isinstance(e, UnicodeDecodeError):
        return (f"{archive}: not a readable zip archive (member name {e.object!r} is marked as UTF-8 but is not "
                f"valid UTF-8); unzip it yourself and pass the folder, or make the zip again")
    return (f"{archive}: not a readable zip archive (it uses what Python's zipfile does not read: {e}); unzip it "
            f"yourself and pass the folder, or make the zip again (plain deflate) or a .tar.gz")


def _open_zip(archive: Path) -> zipfile.ZipFile:
    """zipfile.ZipFile(archive), its refusals that zip_refusal words raised as a DataError."""
    try:
        return zipfile.ZipFile(archive)
    except (UnicodeDecodeError, NotImplementedError) as e:
        raise DataError(zip_refusal(archive, e)) from e


def _extract_zip(archive: Path, dest: str | Path, elsewhere: str, written: list[tuple[str, str]]) -> None:
    """safe_extract of a zip: every member checked before any is written (each appended to `written`, as
    safe_extract's)."""
    try:
        z = _open_zip(archive)
    except (zipfile.BadZipFile, EOFError) as e:
        # (zipfile's 'File is not a zip file' of a zip cut short, or of an empty file: archive_problem says which)
        raise DataError(archive_problem(archive)) from e
    with z:
        members = z.infolist()
        if not members:
            raise DataError(_empty_archive(archive))
        for m in members:
            _check_member(m.filename, _zip_member_other(m), archive)
            if m.flag_bits & 0x1:
                raise DataError(f"{archive}: member {m.filename!r} is encrypted (the zip has a password): unzip it "
                                f"yourself and pass the folder")
            if m.compress_type not in _ZIP_METHODS:
                raise DataError(f"{archive}: member {m.filename!r} is compressed with a method Python's zipfile does "
                                f"not read (zip method {m.compress_type}): unzip it yourself and pass the folder, or "
                                f"make the zip again (plain deflate) or a .tar.gz")
            # (only .filename, where zipfile writes the member: the local header is checked against .orig_filename)
            m.filename = _zip_name(m)
        written += [(m.orig_filename, m.filename) for m in members]
        _check_no_clash([(m.orig_filename, m.filename, m.is_dir()) for m in members], archive)
        _check_case_clash([(m.orig_filename, m.filename, m.is_dir()) for m in members], archive, Path(dest), elsewhere)
        _check_room(archive, Path(dest), [0 if m.is_dir() else m.file_size for m in members], elsewhere)
        try:
            z.extractall(dest, members=members)
        except UnicodeDecodeError as e:
            # (a member's local header can flag its name UTF-8 where the central directory, read above, did not)
            raise DataError(zip_refusal(archive, e)) from e
        except (RuntimeError, NotImplementedError) as e:
            # (zipfile's own words for a method this Python lacks the module of, or a member it cannot read)
            raise DataError(f"{archive}: cannot unpack it ({e}): unzip it yourself and pass the folder") from e


# the compression methods zipfile reads here (stored, deflate; bzip2 and lzma when Python has those modules)
_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
STALE_UNPACK_S = 24 * 3600     # an unfinished '.tmp-*' unpack older than this was killed: its space is taken back


# the first bytes of each compression tarfile reads ('r:*'), and its mode for one of them
_TAR_COMPRESSIONS = ((b"\x1f\x8b", "gzip", "r:gz"), (b"BZh", "bz2", "r:bz2"), (b"\xfd7zXZ\x00", "xz", "r:xz"))


def archive_problem(p: Path) -> str:
    """Why a file named like a tar or zip archive cannot be opened as one, in one line: not an archive at all (by its
    first bytes), or a compressed / plain tar or a zip that is truncated or damaged (that format's own error). What
    its reader said instead lists, for a tar, every compression tarfile tried, one line each."""
    try:
        with open(p, "rb") as f:
            head = f.read(512)
    except OSError as e:
        return f"{p}: cannot read file ({e.strerror or e})"
    kind = _kind(p)
    if not head:
        return f"{p}: empty file (0 bytes), not a {kind} archive"
    if kind == "zip":
        return _zip_problem(p, head)
    for magic, name, mode in _TAR_COMPRESSIONS:
        if head.startswith(magic):
            garbage = _gzip_header_problem(p) if name == "gzip" else None
            if garbage is not None:
                named = ", whatever its name says" if p.name.lower().endswith((".gz", ".tgz")) else ""
                return (f"{p}: not a gzip file{named} (its first two bytes are gzip's, but {garbage}): is it the "
                        f"right file?")
            try:
                with tarfile.open(p, mode):
                    pass
                why = "its members cannot be listed"
            except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
                if isinstance(e, EOFError) or isinstance(e.__cause__, EOFError):
                    # (tarfile says a bz2 cut short is 'not a bzip2 file', and a gzip's words say nothing of what
                    # to do)
                    why = f"its compressed data ends too soon: {_CUT}"
                else:
                    why = str(e).splitlines()[0] if str(e) else type(e).__name__
            return f"{p}: not a readable tar archive or truncated ({name}-compressed, but: {why})"
    if head[257:262] == b"ustar":
        return f"{p}: not a readable tar archive or truncated (a plain tar whose members cannot be read)"
    return (f"{p}: not a tar archive (neither a gzip, bz2 or xz compressed tar nor a plain one, whatever its name "
            f"says): is it the right file?")


# gzip's header (RFC 1952): its flag bits (FTEXT is a hint only), and the longest header read to judge it (an extra
# field of up to 65,535 bytes, then a file name and a comment)
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 0x02, 0x04, 0x08, 0x10
_GZIP_HEADER_READ = 1 << 17


def _gzip_header_problem(p: Path) -> str | None:
    """Why the file `p`, which starts with gzip's two bytes, has no gzip header after them, or None where it may
    have one (said as archive_problem says it then: what the decompressor made of it). Python's gzip checks only
    the method; it reads an extra field, a file name or a comment to the file's end, so that random bytes after
    the two were 'cut short', an interrupted download. Refused here is what gzip itself refuses (a method other
    than deflate, reserved flag bits, a header checksum that does not match) and, in a header that runs past the
    file's end (which alone is a gzip cut inside its header, as gzip says it), fields that no gzip writer makes:
    an extra field whose first subfields do not fit in it, a file name or comment of control bytes."""
    try:
        with open(p, "rb") as f:
            data = f.read(_GZIP_HEADER_READ)
    except OSError:
        return None
    if len(data) < 4:
        return None
    method, flags = data[2], data[3]
    if method != 8:
        return f"its compression method is {method}, not gzip's 8 (deflate)"
    if flags & 0xE0:
        return f"its header's flag byte {flags:#04x} sets bits that gzip reserves"
    at = 10
    if flags & _FEXTRA:
        if len(data) < at + 2:
            return None
        xlen = int.from_bytes(data[at:at + 2], "little")
        at += 2
        if at + xlen > len(data):
            # (subfields: 2 bytes of id, 2 of length, that many of data; checked as far as the file goes)
            sub, end = at, at + xlen
            while sub + 4 <= min(end, len(data)):
                sub += 4 + int.from_bytes(data[sub + 2:sub + 4], "little")
                if sub > end:
                    return "its header's extra field does not hold gzip's subfields"
            return None
        at += xlen
    for flag, what, allowed in ((_FNAME, "file name", b""), (_FCOMMENT, "comment", b"\t\n\r")):
        if flags & flag:
            stop = data.find(b"\0", at)
            text = data[at:] if stop < 0 else data[at:stop]
            if stop < 0 and any(c < 0x20 and bytes([c]) not in allowed for c in text):
                return f"its header's {what} holds control bytes"
            if stop < 0:
                return None
            at = stop + 1
    if flags & _FHCRC:
        if len(data) < at + 2:
            return None
        if int.from_bytes(data[at:at + 2], "little") != zlib.crc32(data[:at]) & 0xFFFF:
            return "its header's checksum does not match its header"
    return None


def _zip_problem(p: Path, head: bytes) -> str:
    """archive_problem of a file named .zip, not empty, whose first bytes are `head`."""
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(p) as z:
                bad = z.testzip()
            why = f"member {bad!r} is damaged (its CRC check fails)" if bad else "its members cannot be read"
        except (UnicodeDecodeError, NotImplementedError) as e:
            return zip_refusal(p, e)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            if "not a zip file" in str(e):
                # (a zip's table of contents is written last: zipfile's 'File is not a zip file' of one cut short
                # sent the user looking for a wrong format, not for an interrupted copy)
                why = "it starts as a zip archive but its end is missing: an interrupted copy or download?"
            else:
                why = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"{p}: not a readable zip archive or truncated ({why})"
    return f"{p}: not a zip archive (its first bytes are not a zip's, whatever its name says): is it the right file?"


class UnreadableArchive(DataError):
    """archive_member_names' refusal of a file that its format's reader cannot open, said as archive_problem says it
    (not its reader's words: a tar's list every compression it tried, one line each; a zip cut short is 'not a zip
    file'). Its other refusals (a zip's bad member name, a tar whose listing stops early or whose data is damaged
    further on) are a DataError, said as they are."""


def archive_member_names(archive: str | Path, limit: int | None = 200) -> list[str]:
    """The first `limit` member names of a tar or zip (enough to tell an image tree from CIFAR python batches); None:
    every one. A tar listed to its end is refused where its listing stopped early (_tar_end_problem), as safe_extract
    refuses it: tarfile stops at a damaged header without a word, and the names before it told its layout wrong (a
    batch file first, images after the damage: CIFAR batches)."""
    return [name for _, name, _ in _archive_members(Path(archive), limit)]


def _archive_members(archive: Path, limit: int | None) -> list[tuple[str, str, bool]]:
    """archive_member_names' listing, each member as _check_no_clash takes it: (its name as the archive says it, the
    name its unpack has, whether it is a folder)."""
    names: list[tuple[str, str, bool]] = []
    opened = False
    try:
        if _kind(archive) == "zip":
            with _open_zip(archive) as z:
                names = [(m.orig_filename, _zip_name(m), m.is_dir()) for m in z.infolist()]
            return names if limit is None else names[:limit]
        kept = type("_Kept", (_KeptHeader,), {})
        with tarfile.open(archive, "r:*", tarinfo=kept) as tar:
            opened = True
            names = [(m.name, _tar_name(m), m.isdir()) for m in _list_tar(tar, archive, limit)]
            # A listing stopped at the limit is not judged (judging it reads the whole archive, which the limit
            # is there to spare): its one caller, readers._detect, takes from those names only a guess at the
            # layout, and each guess is read whole before any data is taken: CIFAR batches among them are listed
            # again to the end (readers._tar_kind, judged here), an image tree is unpacked (safe_extract, judged).
            if limit is None or len(names) < limit:
                ended = _tar_end_problem(tar, kept, len(names))
                if ended is not None:
                    raise DataError(f"{archive}: not a readable tar archive or truncated ({ended})")
    except OSError as e:
        if e.errno is not None:     # (the system's refusal to read the file: not damage, as safe_extract says)
            raise DataError(f"{archive}: cannot read it ([Errno {e.errno}] {e.strerror})") from e
        raise DataError(f"{archive}: not a readable {_kind(archive)} archive or truncated ({e})") from e
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError) as e:
        if not opened:
            raise UnreadableArchive(archive_problem(archive)) from e
        # (past the open, the reader's words say where the data is damaged: a gzip cut short, an xz's bad data)
        raise DataError(f"{archive}: not a readable {_kind(archive)} archive or truncated ({e})") from e
    return names


def unpack_cached(archive: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Unpack an archive once into <cache>/<name>-<hash of path+size+mtime>; later calls reuse it.

    The archive is extracted into a temporary sibling folder and renamed at the end, so an interrupted unpack leaves
    only a '.tmp-*' folder that is never mistaken for a finished one. Each unpack has a '<folder>.source' file
    naming its archive and what made it (UNPACK_VERSION: an earlier wildgan's unpack is checked again where it is
    reused), touched at every use: the unpacks of the same archive's earlier contents (it was replaced or changed
    since) are removed with their decoded caches once unused for STALE_UNPACK_S, since nothing can reach them
    again.
    """
    given = Path(archive)      # (what messages name: the path as the user gave it, as every other error does)
    archive = given.resolve()
    root, stems, key, found = _unpacks_of(archive, cache_dir)
    stem = stems[0]
    final = root / f"{stem}-{key}"
    # where an earlier wildgan's unpack at the key holds backslash names flat (_check_earlier_unpack), the archive is
    # unpacked again beside it, found first from then on (_unpacks_of); only this wildgan and later ones write there
    again = _unpacked_again(root, stem, key)
    # Another wildgan, an earlier one too, may unpack this archive at the same time. An unpack found here is whole:
    # every wildgan unpacks into a '.tmp-*' folder and renames it into place (atomic, and never over a folder that
    # holds anything), and the loser of two renames uses the winner's, removing nothing of it. A .source that a
    # wildgan before UNPACK_VERSION 2 was still writing (in place, after its rename) reads as an earlier one's,
    # wherever it was cut: checked again and written whole; the sweep keeps an unpack whose .source names another
    # path. Our own .source, written before a rename that lost to an earlier wildgan's unpack, stays beside that
    # one where that unpack is not flat: what it says (the archive's names passed this version's checks, in this
    # cache) then holds of it. A flat one is left to that wildgan (its record says an earlier one's), and ours goes
    # beside it, at `again`. The sweeps remove nothing used or changed within the day (_drop_earlier_unpacks;
    # '.tmp-*' below).
    elsewhere = "pass cache_dir= {}" if cache_dir is not None else "set $WILDGAN_CACHE to {}"
    flat: Path | None = None        # the earlier wildgan's flat unpack this one is made again beside
    if found is not None and _unpack_version(found) < UNPACK_VERSION and \
            not _check_earlier_unpack(given, found, elsewhere):
        # (its record left as it is: an earlier wildgan may be reading it, and it is swept a day after its last use)
        final, found, flat = again, None, found
    if found is not None:
        _mark_used(found, archive)
        # (looked at again after the mark: another process's sweep that judged it old before the mark has renamed it
        # away by now, and then puts it back or removes it; see _drop_earlier_unpacks. Gone: unpacked again)
        if found.is_dir():
            _drop_earlier_unpacks(root, stems, found, archive)
            return found
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{stem}-", dir=root))
    except OSError as e:
        # a bare '[Errno 17] File exists: PATH' (the cache path is a file) or 'Read-only file system' named neither
        # the cache nor the variable that moves it
        where = "the cache folder" if cache_dir is not None else "the cache ($WILDGAN_CACHE, default ~/.cache/wildgan)"
        # (an archive unpacked there long ago: without a word of why, the user was left to wonder why it was at all)
        why = "" if flat is None else \
            (f" (its unpack there, {flat.name}, is an earlier wildgan's, which holds {_flat_name(flat)!r} as one file, "
             f"its folders lost: this wildgan reads it only unpacked again, beside it)")
        raise DataError(f"{given}: cannot unpack it into {where} {root}{why}: "
                        f"{_not_a_folder(root) or e.strerror or e}; "
                        f"{'pass cache_dir=' if cache_dir is not None else 'point $WILDGAN_CACHE at'} a writable "
                        f"folder, or "
                        f"unpack the archive yourself and pass the folder") from None
    # unpacks of this archive's name that a kill left unfinished hold disk space that nothing else ever frees
    _take_back_stale(d for s in stems for d in root.glob(f".tmp-{glob.escape(s)}-*"))
    try:
        safe_extract(given, tmp, elsewhere=elsewhere)
        try:
            # (its mtime back to now, from the archive's './' member: an earlier wildgan's sweep goes by mtime alone)
            os.utime(tmp)
        except OSError:
            pass
        # mkdtemp makes its folder 0700, and the unpack kept that mode: in a cache a team shares ($WILDGAN_CACHE
        # on a shared server) every other user's read of it failed, `Permission denied`, as its folders and files
        # inside, and the decoded cache beside it, have the umask's modes. Given those too
        os.chmod(tmp, 0o777 & ~umask())
        # (its .source before the folder: one killed between the two was a folder without it, which no sweep can
        # tell the archive of, kept for good once the archive changed; a .source left without its folder is swept)
        _mark_used(final, archive)
        while not _renamed(tmp, final):
            # someone else finished first: theirs is as good as ours, unless an earlier wildgan's that holds backslash
            # names flat (never at `again`, where only this wildgan and later ones write). Its use is marked again
            # (ours, renamed in, has the record just written): an earlier wildgan writes its own after its rename,
            # maybe over ours
            if final == again or _flat_name(final) is None:
                _mark_used(final, archive)
                break
            # (the record ours wrote before the rename, said back as that wildgan's: checked again where it is found)
            _mark_earlier(final, archive)
            final = again
            _mark_used(final, archive)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _drop_earlier_unpacks(root, stems, final, archive)
    return final


def _not_a_folder(folder: Path) -> str:
    """Why `folder`, to be made, cannot be (in words: 'not a folder', 'PARENT is a file, not a folder'), where it or a
    folder above it is a file; '' where none is. Under a file the system says 'Not a directory' of the path to be
    made, which is not there, and names no file."""
    blocker = next((d for d in (folder, *folder.parents) if os.path.lexists(d)), None)
    if blocker is None or blocker.is_dir():
        return ""
    return "not a folder" if blocker == folder else f"{blocker} is a file, not a folder"


def _unpacks_of(archive: Path, cache_dir: str | Path | None) -> tuple[Path, tuple[str, ...], str, Path | None]:
    """(the cache folder, the unpack folders' name stems (_unpack_stems), the key of the archive's path, size and
    mtime, its finished unpack there or None) of the resolved `archive`."""
    st = archive.stat()
    # (surrogateescape: a path that is not valid UTF-8, which Python holds with lone surrogates, has its own bytes;
    # a valid one, the key it always had)
    key = hashlib.sha1(f"{archive}|{st.st_size}|{st.st_mtime_ns}".encode("utf-8", "surrogateescape")).hexdigest()[:12]
    stems = _unpack_stems(archive.name)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    # (under an earlier wildgan's name for it: the same key, so the same archive contents, and renamed there only
    # once complete, as here; its decoded caches, named after it, are read too. First the one made again beside an
    # earlier wildgan's flat one: unpack_cached's `again`)
    found = next((d for d in (_unpacked_again(root, stems[0], key), *(root / f"{s}-{key}" for s in stems))
                  if d.is_dir()), None)
    return root, stems, key, found


def _unpacked_again(root: Path, stem: str, key: str) -> Path:
    """Where unpack_cached unpacks again the archive whose unpack at its key (root / f'{stem}-{key}') is an earlier
    wildgan's that holds backslash names flat (_check_earlier_unpack)."""
    return root / f"{stem}-{key}-2"


def unpacked_already(archive: str | Path, cache_dir: str | Path | None = None) -> Path | None:
    """The unpack of `archive` that unpack_cached would reuse as it is, where there is one; None where it would
    unpack it, or refuse it (or the archive cannot be read: its read says why). Nothing is unpacked or marked as
    used: for a caller that weighs the cost of a read before making it (readers.has_decoded_cache).

    Checked cheaply only, as unpack_cached checks an earlier wildgan's unpack (_check_earlier_unpack): its record's
    version line, and for an earlier one its names (_flat_name: one it holds flat is unpacked again beside it, and
    the decoded cache beside it is never read). Where the cache's file system folds case, an earlier wildgan's unpack
    is reused only once its archive's whole listing shows no two names that differ only in case: not cheap (a large
    .tar.gz decompressed to its end), so such an unpack is named only where this process has checked it already
    (_EARLIER_CHECKED), None before. Once checked, its record is brought up to date where the cache can be written,
    and the version line says it from then on."""
    try:
        resolved = Path(archive).resolve()
        found = _unpacks_of(resolved, cache_dir)[3]
        if found is None or _unpack_version(found) >= UNPACK_VERSION:
            return found
        st = os.stat(resolved)
    except OSError:
        return None
    folds = _folds_case(found.parent)
    # (this process's check of it, said of the archive under any name and wording: the verdict is the same)
    known = [v for k, v in _EARLIER_CHECKED.items() if k[0] == str(found) and
             k[3:] == (folds, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)]
    if known:
        return found if all(v is True for v in known) else None
    return None if folds or _flat_name(found) is not None else found


def _take_back_stale(leftovers: Iterable[Path]) -> None:
    """Remove those of `leftovers` (what a kill left unfinished: '.tmp-*' unpack folders, a partial download) that
    are a day old (STALE_UNPACK_S), so not one a process is writing now. A day since it last changed in any way: an
    unpack folder's mtime alone is the archive's own where it has a './' member (tar -C folder -cf x.tar .), which
    tarfile sets once every member is written, so the whole unpack of another process (of any wildgan), about to be
    renamed into place, looked years old and was removed under it. Its ctime (on Windows, when it was made) no
    archive sets."""
    for old in leftovers:
        try:
            st = old.lstat()
            if time.time() - max(st.st_mtime, st.st_ctime) <= STALE_UNPACK_S:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        except OSError:
            pass


def _renamed(tmp: Path, final: Path) -> bool:
    """Rename the unpack `tmp` to `final`: False where someone else finished first (a folder is there: the rename
    never replaces one that holds anything)."""
    try:
        os.rename(tmp, final)
        return True
    except OSError:
        if not final.is_dir():
            raise
        return False


# the names a tar archive has (dataset_files.is_tar and the data-set names read them from here)
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


def _unpack_stems(name: str) -> tuple[str, ...]:
    """The start of the unpack folders' names of the archive named `name` (its name less its archive suffix, in any
    case: a zip from Windows is often NAME.ZIP), then the one a wildgan before zips were read gave it where that
    differs: a tar's suffix was stripped in lower case only, so X.TAR.GZ unpacked into X.TAR.GZ-KEY. An unpack under
    either is found and swept: one under the earlier name was otherwise unpacked again beside it, and kept for good."""
    stem = next((name[: -len(s)] for s in (*TAR_SUFFIXES, ".zip") if name.lower().endswith(s)), name)
    earlier = next((name[: -len(s)] for s in TAR_SUFFIXES if name.endswith(s)), name)
    # (a zip was never unpacked before: no earlier name)
    return (stem,) if earlier == stem or name.lower().endswith(".zip") else (stem, earlier)


# What made an unpack, its .source file's last line ('wildgan-unpack 2'): 2, names that differ only in case refused
# where the cache's file system folds case (_check_case_clash). Before it: 1, a .source of the archive's path alone;
# 0, no .source. An earlier one is checked again where it is reused (_check_earlier_unpack). Some of 1's, and all of
# 0's, wrote members named with backslashes (Windows writers' 'normal\\000.png') as files of that name, flat: a tar's
# were made folders (_tar_name) after .source files, a zip's (_zip_name) a little before; 2's are all folders.
UNPACK_VERSION = 2
_UNPACK_MARK = "wildgan-unpack "


def _source_file(unpacked: Path) -> Path:
    return unpacked.parent / f"{unpacked.name}.source"


def _read_source(src: Path) -> tuple[str, int]:
    """(the archive's path, the UNPACK_VERSION) that the .source file `src` records."""
    text = src.read_text(encoding="utf-8", errors="surrogateescape").rstrip("\n")    # (as atomic_write_text writes)
    path, _, last = text.rpartition("\n")
    if path and last.startswith(_UNPACK_MARK) and last[len(_UNPACK_MARK):].isdigit():
        return path, int(last[len(_UNPACK_MARK):])
    return text.strip(), 1


def _unpack_version(unpacked: Path) -> int:
    """The UNPACK_VERSION of the wildgan that made `unpacked` (0: no .source, or one that cannot be read)."""
    try:
        return _read_source(_source_file(unpacked))[1]
    except (OSError, UnicodeDecodeError):
        return 0


def _check_earlier_unpack(archive: Path, unpacked: Path, elsewhere: str) -> bool:
    """Whether `unpacked`, the unpack of `archive` that a wildgan before UNPACK_VERSION 2 made, can be used as it is:
    False where it holds a member named with backslashes as one file of that whole name (_flat_name), its folders
    lost (read as a pile, its classes gone): it is to be unpacked again. Refused where the archive holds names that
    differ only in case and the cache's file system folds case: that unpack kept one of each (an image overwritten,
    two class folders merged) without a word, and was reused as it was. Neither unpacks it again to see (which writes
    every file): the unpack's names are read, and the archive's listed only on such a file system (elsewhere both
    names were kept). elsewhere: as safe_extract's.

    Its answer (a refusal too) is remembered for the process (_EARLIER_CHECKED): where the unpack's record cannot be
    brought up to date (a cache the user cannot write), each use came here again, and listed the whole archive
    again on a file system that folds case, for each split and data set a run reads. (Whether it folds case, a
    probe file's worth, is asked each time: the answer is the listing's and the unpack's walk.)"""
    folds = _folds_case(unpacked.parent)
    try:
        st = os.stat(archive)
        # (the archive's identity, not only what the unpack's key holds: a file written again at that path, of the
        # same size and time, is another one)
        seen: tuple[object, ...] | None = (str(unpacked), str(archive), elsewhere, folds, st.st_dev, st.st_ino,
                                           st.st_size, st.st_mtime_ns)
    except OSError:
        seen = None
    verdict = _EARLIER_CHECKED.get(seen) if seen is not None else None
    if verdict is None:
        verdict = _earlier_unpack_verdict(archive, unpacked, elsewhere, folds)
        if seen is not None:
            _EARLIER_CHECKED[seen] = verdict
    if isinstance(verdict, str):
        # (left in place, not read: a job of the earlier wildgan may be reading it; swept a day after its last use
        # once the archive is made again, as the unpack of its earlier contents)
        raise DataError(verdict)
    return verdict


# _check_earlier_unpack's answers in this process: (the unpack, the archive as given, elsewhere, whether the cache
# folds case, the archive's device, inode, size and mtime) -> whether the unpack can be used as it is, or the
# refusal that says why not
_EARLIER_CHECKED: dict[tuple[object, ...], bool | str] = {}


def _earlier_unpack_verdict(archive: Path, unpacked: Path, elsewhere: str, folds: bool) -> bool | str:
    """_check_earlier_unpack's answer, worked out (folds: whether the cache's file system folds case): True, False,
    or its refusal (what it raises)."""
    if _flat_name(unpacked) is not None:
        return False
    if not folds:
        return True
    clash = _case_clash(_archive_members(archive, None))
    if clash is None:
        return True
    return (f"{archive}: holds {clash[0]!r} and {clash[1]!r}, names that differ only in case, which the file system "
            f"of {unpacked.parent} does not tell apart: its unpack there ({unpacked.name}, made by an earlier "
            f"wildgan) kept only one of them; rename one and make the archive again, or "
            f"{elsewhere.format('a folder on a file system that keeps case apart')}")


def _flat_name(unpacked: Path) -> str | None:
    """The first name in the unpack `unpacked` (its path there) that holds a backslash, or None: a member a wildgan
    before UNPACK_VERSION 2 wrote as a file of its whole name ('normal\\000.png'), where this one makes folders of it
    (_tar_name, _zip_name), which writes no backslash; None where '\\' separates folders (Windows: every wildgan made
    folders of it there). Its names only (no file is opened or statted), stopping at the first."""
    if "\\" in (os.sep, os.altsep):
        return None
    todo = [unpacked]
    while todo:
        try:
            with os.scandir(todo.pop()) as entries:
                for e in entries:
                    if "\\" in e.name:
                        return os.path.relpath(e.path, unpacked)
                    if e.is_dir(follow_symlinks=False):
                        todo.append(Path(e.path))
        except OSError:
            continue
    return None


def _mark_earlier(unpacked: Path, archive: Path) -> None:
    """Write the record of `unpacked`, an earlier wildgan's unpack of `archive`, as that wildgan wrote it (the
    archive's path alone, UNPACK_VERSION 1): where it is found it is checked again (_check_earlier_unpack), and the
    sweep can tell what it holds. Where it cannot be written, the record there (this wildgan's, written before a
    rename that lost) is removed: no record is read as an earlier wildgan's too."""
    src = _source_file(unpacked)
    try:
        atomic_write_text(src, f"{archive}\n")
    except OSError:
        try:
            src.unlink(missing_ok=True)
        except OSError:
            pass


def _mark_used(unpacked: Path, archive: Path) -> None:
    """Write (or touch) the unpack's .source file: which archive it holds, what made it (UNPACK_VERSION), and when it
    was last used. An earlier wildgan's is written again, once _check_earlier_unpack has passed it.

    Neither failure stops the run: the unpack is whole (renamed into place whole) and is read as it is. Where no
    record names the archive and none could be written (a full disk, a cache turned read-only), that is said once
    per file (_UNRECORDED): no sweep can tell which archive the unpack holds, so it stays for good once the archive
    changes; it is tried again at each use. An earlier wildgan's record of the archive that cannot be brought up to
    date costs a check again at each use (_check_earlier_unpack, where the cache folds case), and a touch that fails
    (a cache the user cannot write: someone else's) only dates the last use to an earlier one, which matters to a
    sweep once the archive has changed, when this unpack is of its earlier contents anyway: both without a word,
    which would come at every run of a user who can do nothing about it."""
    src = _source_file(unpacked)
    try:
        if _unpack_version(unpacked) >= UNPACK_VERSION:
            try:
                os.utime(src)
                return
            except FileNotFoundError:
                # gone since its version was read: another process's sweep took it for what a kill left (its folder
                # not yet renamed in); written again below, or the unpack is left without a record, kept for good
                pass
        atomic_write_text(src, f"{archive}\n{_UNPACK_MARK}{UNPACK_VERSION}\n")
    except OSError as e:
        try:
            recorded = _read_source(src)[0] == str(archive)
        except (OSError, UnicodeDecodeError):
            recorded = False
        if recorded or src in _UNRECORDED:
            return
        _UNRECORDED.add(src)
        said = f"[Errno {e.errno}] {e.strerror}" if e.errno is not None else str(e)
        warn_user(f"{src}: could not write it ({said}), the record that the unpack {unpacked.name} holds {archive}: "
                  f"the unpack is used as it is, but until its record is written (tried again at each use) no sweep "
                  f"can tell what it holds, and it stays for good once that archive changes; free space there or "
                  f"make the cache writable")


# the .source files that _mark_used could not write and has said so of, each once in a process (a run reads the same
# unpack for each split, and each of its data sets)
_UNRECORDED: set[Path] = set()


def _drop_earlier_unpacks(root: Path, stems: tuple[str, ...], current: Path, archive: Path) -> None:
    """Remove the unpacks of `archive`'s earlier contents (other keys, or the same under an earlier name: the folder
    names starting with one of `stems`, _unpack_stems; same archive path in their .source, as this wildgan or one
    before UNPACK_VERSION 2 wrote it) that were last used more than STALE_UNPACK_S ago, with their decoded caches
    ('<folder>.decoded-*.npz'). What is left of an unpack of any archive of that name whose folder is gone (a
    .source, decoded caches: a sweep or a kill between its steps, a folder removed by hand) goes too once as old:
    nothing can read it again. Unpacks without a .source (made by a wildgan before .source files) are left alone:
    which archive they hold is not known, and that wildgan, which marks no use, may be reading one.

    Another process may use an unpack (its record touched first), or rename a fresh one into the place of one whose
    folder is gone (its record written first, then its folder renamed in), between the look at its record and the
    removal: removed then, it was gone under that process. So the folder is first renamed out of reach, to a
    '.tmp-*' name (atomic: what is renamed is what is removed; one a kill leaves there is swept as any unfinished
    unpack), its record looked at again, and only then removed, or renamed back where the record now says a use.
    What is left is the moment between the second look and the rename of a process that found the folder just
    before: it reads for that moment a folder that is not there (unpack_cached looks again after its mark)."""
    now = time.time()
    for stem, src in ((s, f) for s in stems for f in root.glob(f"{glob.escape(s)}-*.source")):
        old = src.with_suffix("")
        if old == current or not old.name.startswith(f"{stem}-"):
            continue
        if not _old_record(src, archive, now, old.exists()):
            continue
        gone: Path | None = root / f".tmp-{stem}-swept-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            os.rename(old, gone)
        except FileNotFoundError:
            gone = None                 # (a record left without its folder: none renamed in since, so far)
        except OSError:
            continue
        if not _old_record(src, archive, now, gone is not None):
            if gone is not None:
                try:
                    os.rename(gone, old)
                except OSError:
                    # (a whole unpack of the same key renamed in meanwhile, as good as this one: that one is kept)
                    shutil.rmtree(gone, ignore_errors=True)
            continue
        # (the record first: one written for a fresh unpack from here on is another's, and is kept)
        src.unlink(missing_ok=True)
        if gone is not None:
            shutil.rmtree(gone, ignore_errors=True)
        for decoded in root.glob(f"{glob.escape(old.name)}.decoded-*.npz"):
            decoded.unlink(missing_ok=True)
    for decoded in (f for s in stems for f in root.glob(f"{glob.escape(s)}-*.decoded-*.npz")):
        old = root / decoded.name[: decoded.name.rindex(".decoded-")]
        try:
            if not old.exists() and not _source_file(old).exists() and \
                    now - decoded.stat().st_mtime > STALE_UNPACK_S:
                decoded.unlink()
        except OSError:
            pass


def _old_record(src: Path, archive: Path, now: float, kept: bool) -> bool:
    """Whether the unpack record `src` says an unpack that _drop_earlier_unpacks (its clock read at `now`) removes:
    last used more than STALE_UNPACK_S ago and, where its folder is kept (kept), of `archive` (a record of another
    archive of that name is that archive's sweep's). False where it cannot be read."""
    try:
        return now - src.stat().st_mtime > STALE_UNPACK_S and (not kept or _read_source(src)[0] == str(archive))
    except (OSError, UnicodeDecodeError):
        return False


def download_cifar10(root: str | Path, url: str | None = None, md5: str | None = None,
                     timeout: float = 60.0, progress: bool | None = None) -> Path:
    """Download + md5-check + safely unpack CIFAR-10 (python version) under root; returns root/cifar-10-batches-py.
    progress: the download's bar of bytes (True: shown, False: not, None: on a terminal only, tqdm's auto)."""
    url = url or CIFAR10_URL  # looked up at call time (tests patch the module constants)
    md5 = md5 or CIFAR10_MD5
    root = Path(root)
    target = root / CIFAR10_FOLDER
    # what a killed call left (its unpack, its partial download) holds the data set's size that nothing else frees;
    # taken back here, before the data set found whole returns: the call every later run makes
    if root.is_dir():
        _take_back_stale([*root.glob(f"{_CIFAR_UNPACK_PREFIX}*"), *root.glob(_CIFAR_PARTIAL_GLOB)])
    lacks = cifar_lacks(target)
    if lacks is None:
        return target
    # the folders this call makes: removed again (where still empty) when it fails, so that a failed download leaves
    # no trace
    made = [d for d in (root, *root.parents) if not d.exists()]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(_cifar_unwritable(root / CIFAR10_ARCHIVE, e)) from e
    try:
        # held alone while it downloads and unpacks: two calls at once (a study's cells, two terminals on a fresh
        # machine) each fetched the 163 MB; the second now waits for the first and finds the data set whole
        with holding_off_writes([root], on_wait=_said_waiting_for_download):
            return _download_cifar10_held(root, target, url, md5, timeout, progress)
    except BaseException:
        for d in made:
            try:
                d.rmdir()
            except OSError:
                break
        raise


def _said_waiting_for_download(root: Path) -> None:
    """download_cifar10's word where it waits for another call's download into the same folder."""
    warn_user(f"waiting for another download of CIFAR-10 into {root} to finish (another run started at the same time; "
              f"one stopped with Ctrl-Z holds it until it goes on)")


def _download_cifar10_held(root: Path, target: Path, url: str, md5: str, timeout: float,
                           progress: bool | None) -> Path:
    """download_cifar10's download, md5 check and unpack into root (an existing folder, held alone)."""
    lacks = cifar_lacks(target)
    if lacks is None:
        return target               # (another call's, finished while this one waited for it)
    archive = root / CIFAR10_ARCHIVE
    had = archive.is_file()
    if not had or _md5(archive) != md5:
        digest = hashlib.md5()

        def write(f: BinaryIO) -> None:
            # (the bar is drawn before the connection is made: the 163 MB took minutes without a word, and a network
            # that drops packets kept the command silent until the timeout, its error the first line of it)
            bar = _download_bar(root, progress)
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    headers = getattr(r, "headers", None)      # (a response without them: its size not said)
                    size = str(headers.get("Content-Length", "")) if headers is not None else ""
                    if bar is not None and size.isdigit():
                        bar.total = int(size)
                        bar.refresh()
                    got = 0
                    while True:
                        block = r.read(1 << 20)
                        if not block:
                            break
                        got += len(block)
                        digest.update(block)
                        try:
                            f.write(block)
                        except OSError as e:
                            # (the disk's refusal, not the network's: carried past the except below, which said a
                            # full disk as 'if this machine is offline')
                            raise _NotWritten(e) from e
                        if bar is not None:
                            bar.update(len(block))
            except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as e:
                # (http.client's own errors are no OSError: a proxy's answer that is not HTTP, a chunk cut short, ended
                # on a traceback; their words alone, 'HELLO', say nothing without their name)
                why = f"{type(e).__name__}: {str(e).strip()}" if isinstance(e, http.client.HTTPException) else str(e)
                # (a folder there that is not the whole data set is why a run that had it downloads again)
                there = f" ({target} is there, but {lacks})" if os.path.lexists(target) else ""
                # (an archive there whose md5 is not CIFAR-10's, a copy made by hand offline, was passed over unsaid)
                there += f" ({archive} is there, but its md5 is not CIFAR-10's: a copy cut short?)" if had else ""
                # (an HTTP error is the server's answer, so the machine is online: the URL moved or the server is
                # down; 'if this machine is offline' sent the user to a network that worked)
                when = (f"the server answered {e.code}: if the URL has moved or the server stays down, "
                        if isinstance(e, urllib.error.HTTPError) else "if this machine is offline, ")
                raise DataError(f"could not download CIFAR-10 from {url} ({why}){there}; {when}"
                                f"download it elsewhere, unpack it and pass "
                                f"{option_words('--data PATH/cifar-10-batches-py', 'data=PATH/cifar-10-batches-py')}"
                                ) from e
            finally:
                if bar is not None:
                    bar.close()
            # a connection closed before the server's Content-Length: http.client's read(n) then returns b'' without a
            # word, and the md5 check called an interrupted download corrupt, without a word of what to do
            if size.isdigit() and got < int(size):
                raise DataError(f"{url}: the download ended after {got:,} of its {int(size):,} bytes (the connection "
                                f"was closed: an interrupted download?); run again")
            if digest.hexdigest() != md5:
                raise DataError(f"{url}: md5 mismatch (got {digest.hexdigest()}, expected {md5}); the download is "
                                f"corrupt or not CIFAR-10, refusing to use it; run again, and where it fails so again, "
                                f"download {CIFAR10_ARCHIVE} elsewhere, unpack it and pass "
                                f"{option_words('--data PATH/cifar-10-batches-py', 'data=PATH/cifar-10-batches-py')}")

        try:
            atomic_write_stream(write, archive)
        except _NotWritten as e:
            raise DataError(_cifar_unwritable(archive, e.error)) from e.error
        except OSError as e:
            # (the temp file made, synced or renamed: never the network's, which write() says)
            raise DataError(_cifar_unwritable(archive, e)) from e
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_CIFAR_UNPACK_PREFIX, dir=root))
    except OSError as e:
        raise DataError(_cifar_unwritable(archive, e)) from e
    try:
        # (root is where the download goes: a folder the user gave, or the cache's, but not always the cache)
        safe_extract(archive, tmp, elsewhere=f"download CIFAR-10 into {{}} "
                                             f"({option_words('--data FOLDER --download', 'data=FOLDER')})")
        src = tmp / CIFAR10_FOLDER
        lacks = cifar_lacks(src)
        if lacks is not None:
            raise DataError(f"{archive}: not a whole CIFAR-10 archive: its cifar-10-batches-py {lacks}")
        _cifar_into_place(src, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class _NotWritten(Exception):
    """download_cifar10's write of a downloaded block, refused by the system (`error`: a full disk, a file-size
    limit): raised past the except that says the network's errors."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _cifar_unwritable(archive: Path, e: OSError) -> str:
    """What to say where CIFAR-10's download to `archive` (or its unpack beside it) could not be written there: the
    system's refusal `e` (a bare OSError naming a temp file or a folder, or none, where it came from a write), the
    folder to free or make writable, and where else to download it ($WILDGAN_CACHE's, where the folder is the
    cache's)."""
    root = archive.parent
    opt = option_words("--data FOLDER --download", "data=FOLDER, download=True")
    cache = cache_root().expanduser().absolute()
    move = (f"set $WILDGAN_CACHE to a writable folder with room, or download it into one ({opt})"
            if cache in (root.absolute(), *root.absolute().parents) else
            f"download it into another folder ({opt})")
    # (a path under a regular file: 'Not a directory' or 'File exists' named the folder to be made, not the file)
    blocker = next((d for d in (root, *root.parents) if os.path.lexists(d)), None)
    if blocker is not None and not blocker.is_dir():
        return f"{archive}: cannot download CIFAR-10 there: {blocker} is a file, not a folder; {move}"
    said = f"[Errno {e.errno}] {e.strerror}" if e.errno is not None else str(e)
    # (the folder that is there: where root is still to be made, its parent refused it)
    there = blocker if blocker is not None else root
    return (f"{archive}: could not write the download ({said}); free space in {there} (CIFAR-10 takes 163 MB, and "
            f"as much again unpacked) or make it writable, or {move}")


def _download_bar(root: Path, progress: bool | None) -> Any:
    """The bar of CIFAR-10's download into root (bytes; its total set once the server gives it), or None where it is
    not shown."""
    if progress is False:
        return None
    try:
        from ..progress import progress_bar
    except ImportError:  # tqdm is a dependency, but a bar is never worth a failed download
        return None
    return progress_bar(total=None, desc=f"download CIFAR-10 into {root}", unit="B", unit_scale=True,
                        unit_divisor=1024, disable=None if progress is None else False)


def cifar_lacks(folder: Path) -> str | None:
    """What `folder` lacks of a whole cifar-10-batches-py, in words ('has no data_batch_3, test_batch; its
    data_batch_2 is empty'), or None where each of CIFAR_BATCH_FILES is a file there that is not empty. Names and
    sizes only, nothing read: the check of every call that finds the data set there. A copy cut short, or a folder
    the user made for it, had the two batches looked for before (or none) and was returned as the data set, which
    its read then refused."""
    if not folder.is_dir():
        return "is not a folder" if os.path.lexists(folder) else "is not there"
    missing: list[str] = []
    empty: list[str] = []
    for name in CIFAR_BATCH_FILES:
        try:
            st = os.stat(folder / name)
        except OSError:
            missing.append(name)
            continue
        if not stat.S_ISREG(st.st_mode):
            missing.append(name)
        elif st.st_size == 0:
            empty.append(name)
    said = [f"has no {', '.join(missing)}"] if missing else []
    said += [f"its {', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty"] if empty else []
    return "; ".join(said) or None


def _cifar_into_place(src: Path, target: Path) -> None:
    """Rename the unpacked data set `src` (whole: cifar_lacks) to `target`. Where another call's is there already
    (whole), that one is kept. Where something else is there that is not the whole data set (a folder the user made
    or a copy cut short: see cifar_lacks), an empty folder is replaced (the rename does that); anything else is moved
    aside whole, beside it under a name of its own, and said, naming both: it may hold the user's own files, which
    are never removed."""
    for _ in range(3):      # (each try after another call moved or renamed something there in between)
        try:
            os.rename(src, target)
            return
        except OSError:
            if not os.path.lexists(target):
                raise
        lacks = cifar_lacks(target)
        if lacks is None:
            return
        stamp, n = time.strftime("%Y%m%d-%H%M%S"), 1
        aside = target.with_name(_cifar_aside_name(stamp, n))
        while os.path.lexists(aside):
            n += 1
            aside = target.with_name(_cifar_aside_name(stamp, n))
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            continue                    # (another call moved it first)
        if cifar_lacks(aside) is None:
            # another call's whole data set, renamed in after the check above: put back, or, where a third one is
            # there already, not kept twice (a download's unpack, not the user's)
            try:
                os.rename(aside, target)
            except OSError:
                shutil.rmtree(aside, ignore_errors=True)
            return
        warn_user(f"{target}: not a whole CIFAR-10 data set (it {lacks}): moved aside to {aside.name} beside it, "
                  f"and the downloaded one unpacked in its place; take what you need from {aside} and remove it")
    raise DataError(f"{target}: could not put the downloaded CIFAR-10 there: something else keeps taking its place "
                    f"(another download at the same time?); run again")


def _md5(path: Path) -> str:
    return file_digest(path, "md5")
