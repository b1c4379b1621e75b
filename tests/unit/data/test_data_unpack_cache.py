"""The cache of unpacked archives (download.unpack_cached) where things go wrong around it: a record (.source) that
cannot be written, another wildgan (an older one too) unpacking the same archive at the same time, a tar that ends
with a lone zero block, and a .tar.gz whose gzip header is garbage."""

from __future__ import annotations

import errno
import gzip
import io
import os
import re
import shutil
import struct
import tarfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.data import load_dataset
from wildgan.data import download as dl
from wildgan.errors import DataError


def _png(value: int) -> bytes:
    b = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(b, "PNG")
    return b.getvalue()


def _tar_bytes(n: int = 3, *, dot_mtime: float | None = None) -> bytes:
    """A plain tar of n small PNGs under pile/, as tarfile writes it (end-of-archive blocks, then zeros to a whole
    record); with dot_mtime, first a './' member of that time, as 'tar -C folder -cf x.tar .' writes one."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        if dot_mtime is not None:
            top = tarfile.TarInfo(".")
            top.type, top.mode, top.mtime = tarfile.DIRTYPE, 0o755, dot_mtime
            t.addfile(top)
        for i in range(n):
            info = tarfile.TarInfo(f"pile/{i:03d}.png")
            data = _png(20 * i)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def _data_end(tar: bytes) -> int:
    """Where the last member's data ends in `tar` (_tar_bytes'), rounded up to a whole block: the end-of-archive
    blocks start there."""
    end = tar.rfind(b"IEND") + 8                        # (each member is a PNG, which ends with its IEND chunk)
    return -(-end // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _said(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught]


# -- 1. the record of an unpack (.source) that cannot be written ------------------------------------------------------

def test_an_unpack_whose_record_cannot_be_written_is_used_and_said_once_naming_the_file(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .source that could not be written (a full disk, a cache turned read-only) was passed over without a word:
    the unpack was used, but with no record of its archive no sweep could ever tell what it holds, so it stayed for
    good once the archive changed. It is still used (the run goes on), and said once, naming the file and why; at a
    later use where it can be written, it is."""
    archive = tmp_path / "pile.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes()))

    def full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as m:
        m.setattr(dl, "atomic_write_text", full)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tree = dl.unpack_cached(archive)
            assert dl.unpack_cached(archive) == tree
            assert len(load_dataset(archive)[0]) == 3
    source = _cache / f"{tree.name}.source"
    assert sorted(os.listdir(tree / "pile")) == ["000.png", "001.png", "002.png"] and not source.exists()
    said = _said(caught)
    assert len(said) == 1, said                                     # (once, however often the unpack is used)
    assert said[0].startswith(f"{source}: could not write it ([Errno 28] No space left on device), the record "
                              f"that the unpack {tree.name} holds {archive.resolve()}: the unpack is used as it is"), \
        said[0]
    assert str(archive.name) in said[0] and "tried again" in said[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dl.unpack_cached(archive) == tree                    # (room again: written, without a word)
    assert dl._read_source(source) == (str(archive.resolve()), dl.UNPACK_VERSION)
    # an earlier wildgan's record of the archive (its path alone) in a cache that cannot be written: the sweep can
    # tell what the unpack holds; only its version stays behind (checked again at each use): nothing said
    source.write_text(f"{archive.resolve()}\n")
    with monkeypatch.context() as m:
        m.setattr(dl, "atomic_write_text", full)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert dl.unpack_cached(archive) == tree
    assert source.read_text() == f"{archive.resolve()}\n"


def test_a_record_that_a_sweep_took_while_it_was_touched_is_written_again(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A use touches the unpack's .source; where the file went between the read of its version and the touch (the
    sweep of another process took it as left over, its folder not yet renamed in), the touch failed and nothing was
    written: the unpack stayed without a record, never swept. It is written instead."""
    archive = tmp_path / "pile.tar"
    archive.write_bytes(_tar_bytes())
    tree = dl.unpack_cached(archive)
    source = _cache / f"{tree.name}.source"
    real_utime = os.utime

    def swept_first(path: object, *a: object, **k: object) -> None:
        if str(path) == str(source):
            Path(source).unlink()
        real_utime(path, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(dl.os, "utime", swept_first)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert dl.unpack_cached(archive) == tree
    assert dl._read_source(source) == (str(archive.resolve()), dl.UNPACK_VERSION)


def test_a_new_unpack_writes_its_record_once_and_touches_it_no_more(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new unpack writes its .source before its folder is renamed in (a kill between the two leaves a record that
    is swept, not a folder that no sweep can tell the archive of), and marked its use again after the rename, which
    on the way every unpack takes only touched the record it had just written. That second mark is left to the loser
    of two renames (test_an_unpack_that_an_older_wildgan_renamed_into_place_first_is_used_as_it_is): the record is
    written once, and touched only at later uses."""
    archive = tmp_path / "pile.tar"
    archive.write_bytes(_tar_bytes())
    written: list[str] = []
    touched: list[str] = []
    real_write, real_utime = dl.atomic_write_text, os.utime

    def write(path: Path, text: str) -> None:
        written.append(str(path))
        real_write(path, text)

    def utime(path: object, *a: object, **k: object) -> None:
        touched.append(str(path))
        real_utime(path, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(dl, "atomic_write_text", write)
        m.setattr(dl.os, "utime", utime)
        tree = dl.unpack_cached(archive)
        source = str(_cache / f"{tree.name}.source")
        assert written == [source] and source not in touched, (written, touched)
        assert dl.unpack_cached(archive) == tree                    # (a later use: touched, not written again)
        assert written == [source] and touched.count(source) == 1, (written, touched)
    assert dl._read_source(Path(source)) == (str(archive.resolve()), dl.UNPACK_VERSION)


# -- 2. another wildgan unpacking the same archive at the same time ---------------------------------------------------

def test_an_unfinished_unpack_of_another_process_changed_within_the_day_is_not_swept(
        tmp_path: Path, _cache: Path) -> None:
    """Unfinished unpacks ('.tmp-*') a day old are swept: a kill left them. Their age was their folder's mtime, which
    tarfile sets from the archive's './' member once every member is written (tar -C folder -cf x.tar . writes one):
    the unpack of another process (of any wildgan), complete and about to be renamed into place, looked years old,
    and was removed under it (its rename then moved what was left of it, or failed). Its age is now the last change
    of the folder in any way (its ctime too), which no archive sets."""
    archive = tmp_path / "pile.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes()))
    _cache.mkdir()
    theirs = _cache / ".tmp-pile-theirs"
    (theirs / "pile").mkdir(parents=True)
    (theirs / "pile" / "000.png").write_bytes(_png(1))
    years = time.time() - 3 * 365 * 86400
    os.utime(theirs, (years, years))                    # (as tarfile sets it from a './' member: changed just now)
    dl.unpack_cached(archive)
    assert (theirs / "pile" / "000.png").is_file()


def test_an_unpack_of_an_archive_with_a_dot_member_is_not_swept_by_a_process_that_starts_as_it_ends(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race itself: a process starts unpacking the same archive just as another one's unpack (of an archive with
    an old './' member) is complete and is being renamed into place. The first one's unfinished unpack is kept, and
    both end with the one whole unpack; its folder's time is that of the unpack, not the archive's './' (an earlier
    wildgan judges by mtime alone: it does not take it for a day-old leftover either)."""
    years = time.time() - 3 * 365 * 86400
    archive = tmp_path / "pile.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes(dot_mtime=years)))
    real_rename = os.rename
    seen: dict[str, object] = {}

    def other_process_starts(src: str, dst: str) -> None:
        if not seen:
            seen["age"] = time.time() - Path(src).stat().st_mtime
            seen["other"] = dl.unpack_cached(archive)              # (its sweep runs before it unpacks)
            seen["kept"] = sorted(os.listdir(Path(src) / "pile")) if Path(src).is_dir() else None
        real_rename(src, dst)

    with monkeypatch.context() as m:
        m.setattr(dl.os, "rename", other_process_starts)
        tree = dl.unpack_cached(archive)
    assert seen["age"] < 60, seen                                   # (what an earlier wildgan's sweep sees: recent)
    assert seen["kept"] == ["000.png", "001.png", "002.png"], seen
    assert seen["other"] == tree and sorted(os.listdir(tree / "pile")) == ["000.png", "001.png", "002.png"]
    assert not list(_cache.glob(".tmp-*"))


@pytest.mark.parametrize("between", ["used", "renamed in", "used, then renamed in"])
def test_the_sweep_of_earlier_unpacks_keeps_one_used_or_renamed_in_after_it_judged_it_old(
        tmp_path: Path, _cache: Path, between: str) -> None:
    """The sweep of an archive's earlier unpacks judged a record a day old, then removed its folder without looking
    again: another process may, in between, have used that unpack (its record touched: the archive's earlier
    contents back at that path, of the same time), or renamed a fresh unpack into the place of one whose folder was
    gone (its record written first, then its folder renamed in). Either was removed under it, its record too. The
    folder is renamed out of reach first (atomic), its record judged again, and put back where it says a use since;
    here the other process acts right after the first look at the record, the moment that decided it before (and,
    last, a third one renames its own unpack of that key into the place the sweep emptied for a moment: as good, it is
    kept, and the one renamed aside goes)."""
    archive = tmp_path / "pile.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes()))
    current = dl.unpack_cached(archive)
    old = _cache / "pile-0123456789ab"
    src, decoded = Path(f"{old}.source"), Path(f"{old}.decoded-v1-x.npz")
    src.write_text(f"{archive.resolve()}\n{dl._UNPACK_MARK}{dl.UNPACK_VERSION}\n")
    decoded.write_bytes(b"npz")
    if between != "renamed in":
        (old / "pile").mkdir(parents=True)
        (old / "pile" / "000.png").write_bytes(_png(1))
    stale = time.time() - dl.STALE_UNPACK_S - 60
    for f in (src, decoded):
        os.utime(f, (stale, stale))
    acted: list[str] = []

    def other_process() -> None:
        if acted:                                           # (a third process, at the sweep's second look)
            (old / "pile").mkdir(parents=True)
            (old / "pile" / "009.png").write_bytes(_png(9))
        elif between != "renamed in":
            os.utime(src)                                   # (_mark_used: a touch)
        else:
            src.write_text(f"{archive.resolve()}\n{dl._UNPACK_MARK}{dl.UNPACK_VERSION}\n")
            (old / "pile").mkdir(parents=True)              # (then its whole unpack renamed in)
            (old / "pile" / "000.png").write_bytes(_png(1))
        acted.append(between)

    class Watched(type(_cache)):                            # type: ignore[misc]
        def stat(self, *a: object, **k: object) -> os.stat_result:
            st = super().stat(*a, **k)
            if self.name == src.name and len(acted) < (2 if between.endswith(", then renamed in") else 1):
                other_process()                             # (right after the sweep's look at the record)
            return st

    dl._drop_earlier_unpacks(Watched(_cache), ("pile",), current, archive.resolve())
    kept = "009.png" if len(acted) == 2 else "000.png"
    assert sorted(os.listdir(old / "pile")) == [kept] and src.is_file() and decoded.is_file()
    assert dl._read_source(src) == (str(archive.resolve()), dl.UNPACK_VERSION)
    assert not list(_cache.glob(".tmp-*"))
    # judged again a day on, nothing in between: removed, with its record and decoded cache
    os.utime(src, (stale, stale))
    dl._drop_earlier_unpacks(_cache, ("pile",), current, archive.resolve())
    assert not old.exists() and not src.exists() and not decoded.exists() and not list(_cache.glob(".tmp-*"))
    assert current.is_dir()


def test_an_unpack_that_a_sweep_took_as_it_was_found_is_unpacked_again(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other half of the sweep's race: unpack_cached found the unpack, and another process's sweep, which had
    judged its record old just before, took it before the use was marked. The path of a folder no longer there was
    returned, for the read to fail on ('no such file'). Looked at again after the mark: unpacked again."""
    archive = tmp_path / "pile.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes()))
    tree = dl.unpack_cached(archive)
    real_mark = dl._mark_used
    swept: list[Path] = []

    def swept_first(unpacked: Path, archive: Path) -> None:
        if not swept:
            shutil.rmtree(unpacked)                         # (the sweep's rename and removal, just before the mark)
            swept.append(unpacked)
        real_mark(unpacked, archive)

    monkeypatch.setattr(dl, "_mark_used", swept_first)
    again = dl.unpack_cached(archive)
    assert swept == [tree] and again == tree and sorted(os.listdir(again / "pile")) == ["000.png", "001.png",
                                                                                         "002.png"]
    assert dl._read_source(Path(f"{tree}.source")) == (str(archive.resolve()), dl.UNPACK_VERSION)


def test_an_unpack_that_an_older_wildgan_renamed_into_place_first_is_used_as_it_is(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every wildgan unpacks into a '.tmp-*' folder and renames it into place whole: an unpack at a key is whole or
    absent. One whose rename lost to an older wildgan's (whose .source is written after its rename, or not at all)
    uses that unpack and removes nothing of it; its own .source (written once its own unpack had passed this
    wildgan's checks, on that archive, in that cache) stays beside it. A .source an older wildgan was still writing
    (cut anywhere) is read as an older one: checked again, written whole, and no sweep removes an unpack for it."""
    archive = tmp_path / "pile.tar"
    archive.write_bytes(_tar_bytes())
    real_rename = os.rename

    def older_wildgan_first(src: str, dst: str) -> None:
        if Path(dst).name.startswith("pile-") and not Path(dst).exists():
            (Path(dst) / "pile").mkdir(parents=True)                # (the older one's whole unpack, renamed in)
            (Path(dst) / "pile" / "theirs.png").write_bytes(_png(7))
        real_rename(src, dst)

    with monkeypatch.context() as m:
        m.setattr(dl.os, "rename", older_wildgan_first)
        tree = dl.unpack_cached(archive)
    assert os.listdir(tree / "pile") == ["theirs.png"] and not list(_cache.glob(".tmp-*"))
    source = _cache / f"{tree.name}.source"
    assert dl._read_source(source) == (str(archive.resolve()), dl.UNPACK_VERSION)
    for cut in ("", str(archive.resolve())[:5], f"{archive.resolve()}\n"):     # (the older one's, as it writes it)
        source.write_text(cut)
        assert dl._unpack_version(tree) < dl.UNPACK_VERSION
        assert dl.unpack_cached(archive) == tree
        assert dl._read_source(source) == (str(archive.resolve()), dl.UNPACK_VERSION)
    other = tmp_path / "other" / "pile.tar"                         # (another archive of that name: its sweep)
    other.parent.mkdir()
    other.write_bytes(_tar_bytes(2))
    source.write_text(str(archive.resolve())[:5])
    old = time.time() - dl.STALE_UNPACK_S - 60
    os.utime(source, (old, old))
    dl.unpack_cached(other)
    assert (tree / "pile" / "theirs.png").is_file()


def _backslash_tar() -> bytes:
    """A tar of two class folders named as some Windows writers name them: 'normal\\000.png'."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for i, name in enumerate(("normal\\000.png", "normal\\001.png", "anomaly\\000.png")):
            info = tarfile.TarInfo(name)
            data = _png(40 * i)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def _flatten(tree: Path) -> None:
    """Make `tree`, an unpack of _backslash_tar, what a wildgan before backslashes were read as folders left: each
    member a file at the top, its whole name with its backslashes (already so: left as it is)."""
    if not (tree / "normal").is_dir():
        return
    for name in ("normal\\000.png", "normal\\001.png", "anomaly\\000.png"):
        (tree / name).write_bytes((tree / name.replace("\\", "/")).read_bytes())
    for d in ("normal", "anomaly"):
        for f in (tree / d).iterdir():
            f.unlink()
        (tree / d).rmdir()


@pytest.mark.skipif(os.sep == "\\", reason="'\\' is a separator there: no unpack was ever flat")
def test_an_earlier_unpack_that_kept_backslash_names_flat_is_made_again_beside_it(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wildgan before tar members' backslashes were read as folders (after .source files, before UNPACK_VERSION 2;
    zips' were so a little earlier) unpacked 'normal\\000.png' as one file of that name at the top: its classes lost,
    read as a pile. Found at the archive's key with an earlier record (or none), it was reused once the case check
    passed, and its record brought up to date: read flat for good. It is made again beside it (an unpack that keeps
    the folders, found first from then on), left in place (an earlier wildgan may be reading it; its record is not
    touched, so it is swept a day after that wildgan last used it); an earlier unpack with folders is reused."""
    archive = tmp_path / "cells.tar"
    archive.write_bytes(_backslash_tar())
    tree = dl.unpack_cached(archive)
    assert sorted(os.listdir(tree)) == ["anomaly", "normal"]
    source = _cache / f"{tree.name}.source"
    source.write_text(f"{archive.resolve()}\n")                 # (an earlier wildgan's record, with folders: reused)
    assert dl.unpack_cached(archive) == tree and dl._unpack_version(tree) == dl.UNPACK_VERSION
    for record in (f"{archive.resolve()}\n", None):             # (version 1's record; version 0's, none)
        monkeypatch.setattr(dl, "_EARLIER_CHECKED", {}, raising=False)     # (each a later process: nothing checked)
        _flatten(tree)
        if record is None:
            source.unlink()
        else:
            source.write_text(record)
            old = time.time() - 3600
            os.utime(source, (old, old))
        again = dl.unpack_cached(archive)
        assert again != tree and again.parent == _cache and sorted(os.listdir(again)) == ["anomaly", "normal"]
        assert sorted(os.listdir(again / "normal")) == ["000.png", "001.png"]
        assert dl._read_source(_cache / f"{again.name}.source") == (str(archive.resolve()), dl.UNPACK_VERSION)
        assert sorted(os.listdir(tree)) == ["anomaly\\000.png", "normal\\000.png", "normal\\001.png"]  # (kept)
        if record is None:
            assert not source.exists()
        else:
            assert source.read_text() == record and time.time() - source.stat().st_mtime > 3000
        assert dl.unpack_cached(archive) == again == dl.unpacked_already(archive)      # (found first from then on)
        assert sorted(load_dataset(archive)[0].class_names) == ["anomaly", "normal"]
        shutil.rmtree(again)
        Path(f"{again}.source").unlink()
    # the flat one, its record a day old (no earlier wildgan used it since): swept by the next use of the new one
    source.write_text(f"{archive.resolve()}\n")
    again = dl.unpack_cached(archive)
    old = time.time() - dl.STALE_UNPACK_S - 60
    os.utime(source, (old, old))
    assert dl.unpack_cached(archive) == again and not tree.exists() and not source.exists()


@pytest.mark.skipif(os.sep == "\\", reason="'\\' is a separator there: no unpack was ever flat")
def test_a_flat_unpack_that_an_earlier_wildgan_renamed_into_place_first_is_not_used(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loser of two renames uses the winner's unpack, and its own record (written before its rename) stays beside
    it: the winner's names passed this wildgan's checks. Where the winner is a wildgan that unpacked backslash names
    flat, that record said a flat unpack was this wildgan's, never checked again. Its own goes beside it instead, and
    the winner's record says what made it (an earlier wildgan)."""
    archive = tmp_path / "cells.tar"
    archive.write_bytes(_backslash_tar())
    real_rename = os.rename

    def flat_wildgan_first(src: str, dst: str) -> None:
        if Path(dst).name.startswith("cells-") and not list(_cache.glob("cells-*/")):
            Path(dst).mkdir()                                       # (the earlier one's whole unpack, renamed in)
            (Path(dst) / "normal\\000.png").write_bytes(_png(7))
        real_rename(src, dst)

    with monkeypatch.context() as m:
        m.setattr(dl.os, "rename", flat_wildgan_first)
        tree = dl.unpack_cached(archive)
    assert sorted(os.listdir(tree)) == ["anomaly", "normal"] and not list(_cache.glob(".tmp-*"))
    flat = [d for d in _cache.iterdir() if d.is_dir() and d != tree]
    assert [os.listdir(d) for d in flat] == [["normal\\000.png"]]
    assert dl._read_source(_cache / f"{flat[0].name}.source") == (str(archive.resolve()), 1)
    assert dl.unpack_cached(archive) == tree


@pytest.mark.skipif(os.sep == "\\", reason="'\\' is a separator there: no unpack was ever flat")
def test_a_flat_unpack_in_a_cache_that_cannot_be_written_says_why_it_is_unpacked_again(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier wildgan's flat unpack is unpacked again beside it; in a cache that cannot be written that failed
    with the words of any unpack there ('cannot unpack it into the cache ...: Read-only file system'), which left a
    user whose archive had been unpacked there for months wondering why it was unpacked at all. It says why (that
    unpack's layout is an earlier wildgan's: which name it holds flat) and what to do ($WILDGAN_CACHE, or cache_dir=
    where that was given); the flat unpack is left as it is."""
    archive = tmp_path / "cells.tar"
    archive.write_bytes(_backslash_tar())
    tree = dl.unpack_cached(archive)
    _flatten(tree)
    source = _cache / f"{tree.name}.source"
    source.write_text(f"{archive.resolve()}\n")                 # (the record of a wildgan before UNPACK_VERSION 2)
    monkeypatch.setattr(dl, "_EARLIER_CHECKED", {}, raising=False)

    def read_only(*a: object, **k: object) -> str:
        raise OSError(errno.EROFS, "Read-only file system", str(_cache))

    monkeypatch.setattr(dl.tempfile, "mkdtemp", read_only)
    for cache_dir, what in ((None, r"point \$WILDGAN_CACHE at"), (_cache, "pass cache_dir=")):
        with pytest.raises(DataError) as e:
            dl.unpack_cached(archive, cache_dir)
        said = str(e.value)
        assert said.startswith(f"{archive}: cannot unpack it into ") and "Read-only file system" in said, said
        flat = r"'(normal|anomaly)\\\\00[01]\.png' as one file"
        assert re.search(rf"{re.escape(tree.name)}.*an earlier wildgan.*{flat}", said), said
        assert re.search(rf"{what} a writable folder", said), said
    assert sorted(os.listdir(tree)) == ["anomaly\\000.png", "normal\\000.png", "normal\\001.png"]
    assert source.read_text() == f"{archive.resolve()}\n"


def _read_only(path: Path, text: str) -> None:
    """atomic_write_text in a cache that cannot be written."""
    raise OSError(errno.EROFS, "Read-only file system", str(path))


def _earlier_unpack_of_names_that_differ_only_in_case(tmp_path: Path) -> tuple[Path, Path]:
    """(archive, its unpack): tmp_path/clash.tar.gz, whose pile/A.png and pile/a.png differ only in case, unpacked
    here (where case is kept apart) with an earlier wildgan's record, for a cache that folds case to refuse."""
    clash = tmp_path / "clash.tar.gz"
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name in ("pile/A.png", "pile/a.png"):
            data = _png(1)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    clash.write_bytes(gzip.compress(b.getvalue()))
    clashed = dl.unpack_cached(clash)
    Path(f"{clashed}.source").write_text(f"{clash.resolve()}\n")
    return clash, clashed


def test_an_earlier_unpack_that_cannot_be_brought_up_to_date_is_checked_once_in_a_process(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier wildgan's unpack is checked again where it is reused, and its record then brought up to date; in a
    cache that cannot be written (someone else's, read-only) on a file system that folds case, the record stayed
    behind, and each use listed the whole archive again (a run reads the same unpack for each split, and each data
    set): several listings of a large .tar.gz at each run. The check's result is remembered for the process, by the
    unpack and the archive's identity: it is done once, its refusal said again as it was; an archive replaced at
    that path is checked again."""
    archive = tmp_path / "pile.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes()))
    tree = dl.unpack_cached(archive)
    source = _cache / f"{tree.name}.source"
    listed: list[Path] = []
    real_members = dl._archive_members

    def members(path: Path, limit: int | None) -> list[tuple[str, str, bool]]:
        if limit is None:
            listed.append(path)
        return real_members(path, limit)

    monkeypatch.setattr(dl, "_EARLIER_CHECKED", {}, raising=False)      # (a fresh process)
    with monkeypatch.context() as m:
        m.setattr(dl, "_folds_case", lambda folder: True)
        m.setattr(dl, "atomic_write_text", _read_only)
        m.setattr(dl, "_archive_members", members)
        source.write_text(f"{archive.resolve()}\n")            # (an earlier wildgan's record, left as it is)
        for _ in range(3):
            assert dl.unpack_cached(archive) == tree
        assert len(load_dataset(archive)[0]) == 3
        assert len(listed) == 1 and source.read_text() == f"{archive.resolve()}\n", listed
        # the same bytes written again at that path, of the same time (the same key, the same unpack): another file,
        # checked again
        st = archive.stat()
        copy = tmp_path / "copy.tar.gz"
        copy.write_bytes(archive.read_bytes())
        os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(copy, archive)
        assert archive.stat().st_ino != st.st_ino
        for _ in range(2):
            assert dl.unpack_cached(archive) == tree
        assert len(listed) == 2, listed
    # a refusal (names that differ only in case, which that unpack kept one of) is said again, not listed again
    clash, clashed = _earlier_unpack_of_names_that_differ_only_in_case(tmp_path)
    listed.clear()
    with monkeypatch.context() as m:
        m.setattr(dl, "_folds_case", lambda folder: True)
        m.setattr(dl, "atomic_write_text", _read_only)
        m.setattr(dl, "_archive_members", members)
        said = []
        for _ in range(3):
            with pytest.raises(DataError) as e:
                dl.unpack_cached(clash)
            said.append(str(e.value))
    assert len(set(said)) == 1 and "names that differ only in case" in said[0] and len(listed) == 1, (said, listed)


def test_unpacked_already_names_only_an_unpack_that_unpack_cached_uses_as_it_is(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """unpacked_already (has_decoded_cache's look, which evaluation takes for 'rebuilding the training images is
    cheap') named the unpack at the archive's key whatever made it: an earlier wildgan's flat one, which
    unpack_cached unpacks again beside it (the decoded cache beside the flat one is never read), and one whose
    archive holds names that differ only in case where the cache folds them, which it refuses. Such an unpack is
    not named: by its names (cheap), and on a file system that folds case an earlier wildgan's is named only once
    this process has checked its archive (its listing is not cheap)."""
    from wildgan.data import readers

    opts = readers.parse_opts({})
    monkeypatch.setattr(dl, "_EARLIER_CHECKED", {}, raising=False)
    # (whether a decoded cache is whole is has_decoded_cache's own test's, test_data_readers: here any file is one)
    monkeypatch.setattr(readers, "_decoded_cache_loads", lambda path: path.is_file())
    if os.sep != "\\":
        cells = tmp_path / "cells.tar"
        cells.write_bytes(_backslash_tar())
        tree = dl.unpack_cached(cells)
        readers._cache_file(tree, readers._native_opts(opts)).write_bytes(b"")  # (its decoded cache)
        assert dl.unpacked_already(cells) == tree and readers.has_decoded_cache(cells)
        _flatten(tree)
        Path(f"{tree}.source").write_text(f"{cells.resolve()}\n")     # (an earlier wildgan's record)
        assert dl.unpacked_already(cells) is None and not readers.has_decoded_cache(cells)
    # an earlier wildgan's unpack of an archive with no such names: named, where case is kept apart; where it is
    # folded, once checked in this process (here in a cache whose record cannot be brought up to date)
    pile = tmp_path / "pile.tar.gz"
    pile.write_bytes(gzip.compress(_tar_bytes()))
    tree = dl.unpack_cached(pile)
    Path(f"{tree}.source").write_text(f"{pile.resolve()}\n")
    assert dl.unpacked_already(pile) == tree

    with monkeypatch.context() as m:
        m.setattr(dl, "_folds_case", lambda folder: True)
        m.setattr(dl, "atomic_write_text", _read_only)
        assert dl.unpacked_already(pile) is None
        assert dl.unpack_cached(pile) == tree and dl._unpack_version(tree) == 1
        assert dl.unpacked_already(pile) == tree
    # names that differ only in case, where the cache folds case: refused by unpack_cached, never named
    clash, clashed = _earlier_unpack_of_names_that_differ_only_in_case(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(dl, "_folds_case", lambda folder: True)
        m.setattr(dl, "atomic_write_text", _read_only)
        assert dl.unpacked_already(clash) is None
        with pytest.raises(DataError, match="names that differ only in case"):
            dl.unpack_cached(clash)
        assert dl.unpacked_already(clash) is None
    assert dl.unpacked_already(clash) == clashed            # (where case is kept apart: both names kept, used)


# -- 3. a tar that ends with a lone zero block ------------------------------------------------------------------------

def test_a_tar_that_ends_with_a_lone_zero_block_is_read_whole_without_a_word(tmp_path: Path, _cache: Path) -> None:
    """Tar's end is two zero blocks; some writers put one (GNU tar reads such an archive, with a note), or a copy
    stops after the first. Every member comes before it, whole: read as it is, by every entry, with no error and no
    warning (nothing is missing), plain or compressed, with or without zeros after it short of a block."""
    whole = _tar_bytes()
    lone = whole[:_data_end(whole)] + bytes(tarfile.BLOCKSIZE)
    with tarfile.open(fileobj=io.BytesIO(lone)) as t:               # (the tar as built: its members, one zero block)
        assert len(t.getmembers()) == 3 and t.offset == len(lone) - tarfile.BLOCKSIZE
    files = {"lone.tar": lone, "lone.tar.gz": gzip.compress(lone), "padded.tar": lone + bytes(100)}
    for name, data in files.items():
        archive = tmp_path / name
        archive.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert dl.archive_member_names(archive, None) == ["pile/000.png", "pile/001.png", "pile/002.png"], name
            dl.safe_extract(archive, tmp_path / f"out-{name}")
            assert sorted(os.listdir(tmp_path / f"out-{name}" / "pile")) == ["000.png", "001.png", "002.png"], name
            assert sorted(os.listdir(dl.unpack_cached(archive) / "pile")) == ["000.png", "001.png", "002.png"]
            assert len(load_dataset(archive)[0]) == 3, name


# -- 4. a .tar.gz whose gzip header is garbage ------------------------------------------------------------------------

def _gzip_header(flags: int, *fields: bytes, method: int = 8) -> bytes:
    """A gzip header of `flags`, then `fields` (the optional ones, as they follow the fixed 10 bytes)."""
    return b"\x1f\x8b" + bytes([method, flags]) + struct.pack("<I", 0) + b"\x00\xff" + b"".join(fields)


def test_a_tar_gz_whose_gzip_header_is_garbage_is_called_not_a_gzip_file_not_cut_short(
        tmp_path: Path, _cache: Path) -> None:
    """A .tar.gz that starts with gzip's two bytes but whose header is not a gzip header (its flags set reserved bits,
    an extra field that runs past the file's end and holds no subfields, a file name of control bytes, a method
    gzip does not have, a header checksum that does not match) was called cut short, an interrupted download (Python
    reads those header fields to the file's end), or 'not a gzip file' after 'truncated': it is said to be no gzip
    file, naming it and what is wrong, at every entry. A gzip cut short (inside its header too) is still said so."""
    whole = _tar_bytes()
    packed = gzip.compress(whole)
    head = _gzip_header(0x02)
    files = {
        "flags.tar.gz": (packed[:3] + b"\xff" + packed[4:], r"its header's flag byte 0xff sets bits that gzip "
                                                             r"reserves"),
        "extra.tar.gz": (_gzip_header(0x04, struct.pack("<H", 0xFFF0), b"AB", struct.pack("<H", 0xFFFF)) +
                         bytes(range(256)) * 4, r"its header's extra field does not hold gzip's subfields"),
        "name.tar.gz": (_gzip_header(0x08, b"\x01\x02\x1bgarbage\x7f" * 40), r"its header's file name holds "
                                                                              r"control bytes"),
        "method.tar.gz": (packed[:2] + b"\x07" + packed[3:], r"its compression method is 7, not gzip's 8 \(deflate\)"),
        "crc.tar.gz": (head + struct.pack("<H", (zlib.crc32(head) & 0xFFFF) ^ 0x5A5A) + packed[10:60],
                       r"its header's checksum does not match its header"),
    }
    for name, (data, why) in files.items():
        archive = tmp_path / name
        archive.write_bytes(data)
        said = rf"^{re.escape(str(archive))}: not a gzip file, whatever its name says \(its first two bytes are " \
               rf"gzip's, but {why}\): is it the right file\?$"
        entries = {"archive_problem": lambda: dl.archive_problem(archive),
                   "safe_extract": lambda: dl.safe_extract(archive, tmp_path / "dest"),
                   "unpack_cached": lambda: dl.unpack_cached(archive),
                   "archive_member_names": lambda: dl.archive_member_names(archive),
                   "load_dataset": lambda: load_dataset(archive)}
        for entry, call in entries.items():
            if entry == "archive_problem":
                got = call()
            else:
                with pytest.raises(DataError) as e:
                    call()
                got = str(e.value)
            assert re.match(said, got) and "cut short" not in got, (name, entry, got)
    assert not (tmp_path / "dest").exists() and not [p for p in _cache.glob("*") if p.is_dir()]
    cut_extra = _gzip_header(0x04, struct.pack("<H", 6), b"BC", struct.pack("<H", 2))     # (bgzip's, cut inside it)
    named = _gzip_header(0x08, b"pile.tar")                                                # (cut inside its name)
    crc_ok = head + struct.pack("<H", zlib.crc32(head) & 0xFFFF) + packed[10:60]          # (cut inside its data)
    for name, data in (("cut.tar.gz", packed[:60]), ("head.tar.gz", packed[:10]), ("magic.tar.gz", packed[:2]),
                       ("cutextra.tar.gz", cut_extra), ("cutname.tar.gz", named), ("crcok.tar.gz", crc_ok)):
        archive = tmp_path / name
        archive.write_bytes(data)
        assert re.match(rf"^{re.escape(str(archive))}: not a readable tar archive or truncated \(gzip-compressed, "
                        rf"but: its compressed data ends too soon: cut short", dl.archive_problem(archive)), name


# -- 5. an archive that holds nothing ---------------------------------------------------------------------------------

def _empty_tar() -> bytes:
    b = io.BytesIO()
    tarfile.open(fileobj=b, mode="w").close()           # (its end blocks and a record's padding: zeros)
    return b.getvalue()


def _empty_zip() -> bytes:
    b = io.BytesIO()
    zipfile.ZipFile(b, "w").close()                     # (its end-of-central-directory record alone)
    return b.getvalue()


@pytest.mark.parametrize("name, data, why", [
    ("zeros.tar", bytes(10240), r"an empty tar archive \(no files in it, so no images: its 10,240 bytes are all "
                                r"zeros\): is it the right file\?"),
    ("empty.tar", _empty_tar(), r"an empty tar archive \(no files in it, so no images: its 10,240 bytes are all "
                                r"zeros\): is it the right file\?"),
    ("zeros.tar.gz", bytes(1024), r"holds only zero bytes \(1,024 of them\), not the gzip-compressed tar its name "
                                  r"says, and no files: an interrupted copy or download\?"),
    ("zeros.tar.xz", bytes(1024), r"holds only zero bytes \(1,024 of them\), not the xz-compressed tar its name "
                                  r"says, and no files: an interrupted copy or download\?"),
    ("empty.tar.gz", gzip.compress(_empty_tar()), r"an empty tar archive \(gzip-compressed, with no files in it, so "
                                                  r"no images\): is it the right file\?"),
    ("empty.zip", _empty_zip(), r"an empty zip archive \(no files in it, so no images\): is it the right file\?"),
], ids=lambda v: v if isinstance(v, str) and v.startswith(("zeros.", "empty.")) else "")
def test_an_archive_that_holds_no_files_is_said_to_be_empty_naming_it(
        tmp_path: Path, _cache: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, why: str) -> None:
    """A file of zeros named .tar (or .tar.gz: tarfile reads what no compression opens as a plain tar) opens as a tar
    with no members, as does an empty archive: the unpack said nothing, and the read then said 'no image files
    (.png, .jpg, ...) and no class subfolders' of a folder the user never saw, not that the archive holds nothing.
    One line names the file and says so, at every entry (the CLI's too); nothing is left in the cache."""
    archive = tmp_path / name
    archive.write_bytes(data)
    said = rf"^{re.escape(str(archive))}: {why}$"
    for call in (lambda: dl.safe_extract(archive, tmp_path / "dest"), lambda: dl.unpack_cached(archive),
                 lambda: load_dataset(archive)):
        with pytest.raises(DataError) as e:
            call()
        assert re.match(said, str(e.value)), str(e.value)
    from wildgan.cli import main

    capsys.readouterr()
    assert main(["train", "--data", str(archive), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.match(rf"^wildgan: error: {said[1:]}", err), err
    assert not (tmp_path / "dest").exists() and not [p for p in _cache.glob("*") if p.is_dir()]


# -- an unpack that another user of a shared cache reads ---------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_an_unpack_has_the_umask_s_mode_so_that_a_shared_cache_s_other_users_can_read_it(tmp_path, _cache):
    """The unpack's folder was mkdtemp's, mode 0700, renamed into place as it was: a team's $WILDGAN_CACHE on a
    shared server gave every other user `[Errno 13] Permission denied` on the archive another had unpacked, whose
    files inside and decoded cache beside it are readable by all (the umask's modes)."""
    archive = tmp_path / "pile.tar"
    archive.write_bytes(_tar_bytes())
    saved = os.umask(0o022)
    try:
        unpacked = dl.unpack_cached(archive)
    finally:
        os.umask(saved)
    assert _mode(unpacked) == 0o755
    assert _mode(unpacked / "pile") == 0o755 and _mode(unpacked / "pile" / "000.png") == 0o644


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
