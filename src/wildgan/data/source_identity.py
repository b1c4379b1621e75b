"""Which bytes a run's data source held when its split was made (split.json's `source_identity`), told without
decoding an image.

Why: split.json's counts, ids and pixel checksums describe the data as it was, but comparing them means decoding the
data again. Some re-uses do not decode at all (a finished study re-run only re-makes its tables from its rows), and
those that do could not say whether the file at the recorded path is still the one that was read (data moved away,
another file put there, or one edited in place), only whether its pixels in the split differ. The identity is cheap:

* a file (an .npz, a .tar.gz, the embedded sample): its size, mtime_ns and the sha256 of its bytes;
* a folder (an image tree, CIFAR-10's batches): a sha256 over the sorted relative paths of the files the readers
  would look at (hidden entries and wildgan run or study folders left out, as readers.walk_data_folder does), each
  with its size and mtime_ns, not their bytes.

Compared without decoding: a file whose size and mtime_ns are the recorded ones is taken as the same (no hashing);
otherwise its bytes are hashed, so a file merely touched or copied (the same bytes) is still the same. A folder's
listing is compared whole: a file added, removed, resized or touched in it is a change. Records of another scheme
(IDENTITY_SCHEME) and split.json files without the field are not compared.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from ..fileio import file_digest
from .readers import walk_data_folder      # (the readers' own walk: the files they leave out are left out here)

# the rule the identity is made by, in its record: a record of another scheme is not compared (never a false warning)
IDENTITY_SCHEME = 1


def _stat_of(path: Path) -> dict[str, Any] | None:
    """A file's quick identity (size, mtime_ns), a folder's whole one (its listing), or None (neither: gone)."""
    try:
        st = path.stat()
    except OSError:
        return None
    if path.is_dir():
        return _folder_identity(path)
    return {"scheme": IDENTITY_SCHEME, "kind": "file", "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def _folder_identity(root: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    n = total = 0
    for dirpath, filenames in walk_data_folder(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.stat(p)
            except OSError:        # (a broken link: the reader names it when it reads)
                continue
            rel = Path(p).relative_to(root).as_posix()
            h.update(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
            n += 1
            total += int(st.st_size)
    return {"scheme": IDENTITY_SCHEME, "kind": "folder", "n_files": n, "bytes": total,
            "listing_sha256": h.hexdigest()}


def quick_identity(path: str | Path) -> dict[str, Any] | None:
    """What source_identity needs to know of `path` before it is read: a file's size and mtime_ns (its bytes are
    hashed later, and only if it still has them), a folder's whole identity; None when there is nothing there."""
    return _stat_of(Path(path))


def _same_stat(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("scheme", "kind", "size", "mtime_ns"))


def known_for(quick: dict[str, Any] | None, known: Any) -> bool:
    """Whether the recorded identity `known` is that of the file `quick` describes without hashing it: a file's
    record of this scheme, with a sha256, whose size and mtime_ns are the file's."""
    return isinstance(quick, dict) and isinstance(known, dict) and quick.get("kind") == "file" and \
        _same_stat(known, quick) and isinstance(known.get("sha256"), str)


def complete_identity(path: str | Path, quick: dict[str, Any] | None,
                      known: Any = None) -> dict[str, Any] | None:
    """The identity of the source at `path` as it was when `quick` (quick_identity) was taken: a folder's is `quick`
    itself; a file's adds the sha256 of its bytes, or is `known` (a recorded identity) where that has the same size
    and mtime_ns, without hashing. None where the file changed since `quick` (its bytes are then not those read)."""
    if quick is None or quick.get("kind") != "file":
        return quick
    if known_for(quick, known):
        return dict(known)
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
                f"{str(d.get('listing_sha256'))[:12]}")
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
