"""Which bytes a run's data source held when its split was made (split.json's `source_identity`), told without
decoding an image.

Why: split.json's counts, ids and pixel checksums describe the data as it was, but comparing them means decoding the
data again. Some re-uses do not decode at all (a finished study re-run only re-makes its tables from its rows), and
those that do could not say whether the file at the recorded path is still the one that was read (data moved away,
another file put there, or one edited in place), only whether its pixels in the split differ. The identity is cheap:

* a file (an .npz, a .tar.gz, the embedded sample): its size, mtime_ns and the sha256 of its bytes;
* a folder (an image tree, CIFAR-10's batches): the files the readers read in it (image files by their extension and
  CIFAR-10's batch files; hidden entries and wildgan run or study folders left out, as readers.walk_data_folder
  does), as three sha256: of their sorted relative paths with their sizes (`names_sha256`), of those with their
  mtime_ns too (`listing_sha256`), and of their bytes (`content_sha256`, read once when the split is made).

Compared without decoding: a file whose size and mtime_ns are the recorded ones is taken as the same (no hashing);
otherwise its bytes are hashed, so a file merely touched or copied (the same bytes) is still the same. A folder whose
listing (paths, sizes, mtimes) is the recorded one is the same without reading a file; one with a file added,
removed, renamed or resized is not; where only mtimes differ (a copy that did not keep them: `cp -r`, a download,
a checkout), its bytes decide, so a copy is the same and an image edited in place at the same size is not.
The blind spot, as for a file: an edit that keeps a file's size and mtime_ns (a tool that restores the mtime) is not
seen. Files the readers do not read (a README, a .csv, a .heic) are not in the listing: adding one changes nothing.
Records of another scheme (IDENTITY_SCHEME) and split.json files without the field are not compared.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Iterator

from ..errors import shell_word
from ..fileio import file_digest
from .dataset_files import CIFAR_BATCH_FILES
from .image_decode import IMAGE_EXTS
from .readers import walk_data_folder      # (the readers' own walk: the files they leave out are left out here)

# the rule the identity is made by, in its record: a record of another scheme is not compared (never a false warning).
# 2: a folder's listing is of the files the readers read, with names_sha256 and content_sha256 (1 listed every file,
# and only with its mtime, so a README added or a copy without mtimes read as other data)
IDENTITY_SCHEME = 2
# the files of a folder that a reader reads: a tree's images (by extension, as readers._is_image_file), CIFAR-10's
# batches (dataset_files.read_cifar_batches)
_READ_NAMES = frozenset(CIFAR_BATCH_FILES + ["batches.meta"])
_CHUNK = 1 << 20


def _stat_of(path: Path) -> dict[str, Any] | None:
    """A file's quick identity (size, mtime_ns), a folder's whole one (its listing), or None (neither: gone)."""
    try:
        st = path.stat()
    except OSError:
        return None
    if path.is_dir():
        return _folder_identity(_read_folder(path))
    return {"scheme": IDENTITY_SCHEME, "kind": "file", "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def _read_folder(folder: Path) -> Path:
    """The folder whose files the reader reads: a folder's own cifar-10-batches-py where it has one (the reader reads
    only that: readers._cifar_batch_folder), so that the folder a download made and its batches folder, either of
    which split.json's source can name, have one identity."""
    batches = folder / "cifar-10-batches-py"
    return batches if batches.is_dir() else folder


def _read_files(root: Path) -> Iterator[tuple[str, str]]:
    """(relative posix path, path) of the files under root that the readers read, in the walk's sorted order."""
    for dirpath, filenames in walk_data_folder(root):
        for name in filenames:
            if name in _READ_NAMES or name.lower().endswith(IMAGE_EXTS):
                p = os.path.join(dirpath, name)
                yield Path(p).relative_to(root).as_posix(), p


class _Listing:
    """The three hashes of a folder's identity, fed one file at a time."""

    def __init__(self) -> None:
        self.names, self.listing, self.content = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
        self.n = self.total = 0

    def add(self, rel: str, st: os.stat_result) -> None:
        line = f"{rel}\t{st.st_size}".encode("utf-8", "surrogateescape")
        self.names.update(line + b"\n")
        self.listing.update(line + f"\t{st.st_mtime_ns}\n".encode())
        self.n += 1
        self.total += int(st.st_size)

    def record(self) -> dict[str, Any]:
        return {"scheme": IDENTITY_SCHEME, "kind": "folder", "n_files": self.n, "bytes": self.total,
                "names_sha256": self.names.hexdigest(), "listing_sha256": self.listing.hexdigest()}


def _folder_identity(root: Path) -> dict[str, Any]:
    out = _Listing()
    for rel, p in _read_files(root):
        try:
            st = os.stat(p)
        except OSError:        # (a broken link: the reader names it when it reads)
            continue
        out.add(rel, st)
    return out.record()


def _folder_content(root: Path) -> tuple[dict[str, Any], str]:
    """(the folder's listing as _folder_identity gives it, the sha256 of its files' bytes), in one pass: each file's
    size and mtime are taken after its bytes were read, so a file written to meanwhile is another listing. A file
    that cannot be opened (permission denied), or is no regular file (a named pipe, whose open waits for a writer:
    the split hung for good), is hashed as its path alone, as the reader leaves it out."""
    out = _Listing()
    for rel, p in _read_files(root):
        out.content.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        try:
            if not os.path.isfile(p):
                raise OSError(f"{p}: not a regular file")
            with open(p, "rb") as f:
                while chunk := f.read(_CHUNK):
                    out.content.update(chunk)
                st = os.fstat(f.fileno())
            out.content.update(b"\0read\n")
        except OSError:
            try:
                st = os.stat(p)
            except OSError:
                continue
            out.content.update(b"\0unreadable\n")
        out.add(rel, st)
    return out.record(), out.content.hexdigest()


def quick_identity(path: str | Path) -> dict[str, Any] | None:
    """What source_identity needs to know of `path` before it is read: a file's size and mtime_ns (its bytes are
    hashed later, and only if it still has them), a folder's whole identity; None when there is nothing there."""
    return _stat_of(Path(path))


def _same_stat(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("scheme", "kind", "size", "mtime_ns"))


def known_for(quick: dict[str, Any] | None, known: Any) -> bool:
    """Whether the recorded identity `known` is that of the source `quick` describes without reading its bytes: a
    record of this scheme with their hash, of a file of the same size and mtime_ns, or of a folder of the same
    listing."""
    if not isinstance(quick, dict) or not isinstance(known, dict):
        return False
    if quick.get("kind") == "folder":
        return known.get("kind") == "folder" and known.get("scheme") == quick.get("scheme") and \
            known.get("listing_sha256") == quick.get("listing_sha256") and isinstance(known.get("content_sha256"), str)
    return quick.get("kind") == "file" and _same_stat(known, quick) and isinstance(known.get("sha256"), str)


def complete_identity(path: str | Path, quick: dict[str, Any] | None,
                      known: Any = None) -> dict[str, Any] | None:
    """The identity of the source at `path` as it was when `quick` (quick_identity) was taken: `quick` with the
    sha256 of a file's bytes or a folder's (content_sha256), or `known` (a recorded identity) where that has the same
    size and mtime_ns, or listing, without reading them. None where the source changed since `quick` (its bytes are
    then not those read)."""
    if quick is None or quick.get("kind") not in ("file", "folder"):
        return quick
    if known_for(quick, known):
        return dict(known)
    if quick["kind"] == "folder":
        listing, content = _folder_content(_read_folder(Path(path)))
        # (a file added, removed or written to while it was read: no identity of the files read can be given)
        return {**quick, "content_sha256": content} if listing == quick else None
    digest = file_digest(Path(path))
    after = _stat_of(Path(path))
    if after is None or not _same_stat(after, quick):
        return None                # (written to while it was hashed: no identity of the bytes read can be given)
    return {**quick, "sha256": digest}


def source_identity(path: str | Path, known: Any = None) -> dict[str, Any] | None:
    """The identity of the data source at `path` now (see the module docstring); `known`: a recorded one, taken
    as it is where a file's size and mtime_ns are its own (no hashing). None where nothing is there."""
    return complete_identity(path, quick_identity(path), known)


def _when(mtime_ns: Any) -> str:
    if not isinstance(mtime_ns, int):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(mtime_ns / 1e9))


def describe_identity(d: dict[str, Any]) -> str:
    """An identity in words: '19,432,167 bytes, modified 2026-12-01 03:50:00 UTC, sha256 0a1b2c3d4e5f'."""
    if d.get("kind") == "folder":
        return (f"{d.get('n_files', '?'):,} files, {d.get('bytes', '?'):,} bytes, listing sha256 "
                f"{str(d.get('listing_sha256'))[:12]}, content sha256 {str(d.get('content_sha256'))[:12]}")
    return f"{d.get('size', '?'):,} bytes, modified {_when(d.get('mtime_ns'))}, sha256 {str(d.get('sha256'))[:12]}"


def identity_change(was: Any, now: Any) -> str | None:
    """How the source's identity `now` differs from the recorded `was` ('recorded: ...; now: ...'), or None: the
    same source, or one of the two unknown (a record without the field, of another scheme, or no source now)."""
    if not isinstance(was, dict) or not isinstance(now, dict) or was.get("scheme") != IDENTITY_SCHEME or \
            now.get("scheme") != IDENTITY_SCHEME:
        return None
    if was.get("kind") == now.get("kind") == "file":
        if _same_stat(was, now) or was.get("sha256") == now.get("sha256"):
            return None            # (the same size and time, or touched or copied: the same bytes)
    elif was.get("kind") == now.get("kind") == "folder":
        if was.get("listing_sha256") == now.get("listing_sha256"):
            return None
        if was.get("names_sha256") == now.get("names_sha256"):
            # the same files and sizes, other mtimes (a copy that did not keep them): their bytes decide; where
            # either hash is unknown, say nothing rather than call a copy other data
            wc, nc = was.get("content_sha256"), now.get("content_sha256")
            if not isinstance(wc, str) or not isinstance(nc, str) or wc == nc:
                return None
            return (f"the same {now.get('n_files', '?'):,} files with the same sizes, other bytes; recorded: "
                    f"{describe_identity(was)}; now: {describe_identity(now)}")
    elif was.get("kind") not in ("file", "folder"):
        return None
    kind = {"file": "a file", "folder": "a folder"}
    prefix = ("" if was.get("kind") == now.get("kind") else
              f"{kind.get(str(was.get('kind')), 'other')} then, {kind.get(str(now.get('kind')), 'other')} now; ")
    return f"{prefix}recorded: {describe_identity(was)}; now: {describe_identity(now)}"


def source_replaced(recorded: dict[str, Any], info: dict[str, Any]) -> str | None:
    """'SOURCE is not the file the run read when it was trained (recorded: ...; now: ...)' when the identity of the
    source a rebuilt split was read from (its info) is not the one its run's split.json `recorded`; None when it is,
    or either is unknown (a split.json from before the field)."""
    now = info.get("source_identity")
    change = identity_change(recorded.get("source_identity"), now)
    if change is None:
        return None
    what = "folder" if isinstance(now, dict) and now.get("kind") == "folder" else "file"
    return f"{info.get('source')} is not the {what} the run read when it was trained ({change})"


def restore_advice(source: Any) -> str:
    """What to do about a source that is not the one a run read (source_replaced), to end its warning with."""
    return (f"if the run's data was moved, put it back at {source} (or link its new place there: ln -s NEW_PLACE "
            f"{shell_word(source)}); if it was edited in place, restore it, or train a new run on it")
