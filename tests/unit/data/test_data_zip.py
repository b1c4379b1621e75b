"""A .zip of images is read as a tar archive is: unpacked once into the cache, class folders as labels, __MACOSX
skipped, its members checked before anything is written, a damaged one named; an .npz (a zip too) stays an .npz."""

from __future__ import annotations

import io
import os
import re
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildgan.data import load_dataset
from wildgan.data import download as dl
from wildgan.data.readers import detect_format, list_image_files
from wildgan.errors import DataError


def _png(value: int) -> bytes:
    b = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(b, "PNG")
    return b.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _tree(top: str = "cells") -> dict[str, bytes]:
    """Two class folders of three 8x8 PNGs each, and what a macOS zip adds beside them."""
    got = {f"{top}/{c}/{i:03d}.png": _png(10 * i + (100 if c == "bad" else 0)) for c in ("bad", "good")
           for i in range(3)}
    got[f"__MACOSX/{top}/good/._000.png"] = b"\x00\x05\x16\x07 resource fork"
    got[f"__MACOSX/{top}/._good"] = b"\x00\x05\x16\x07 resource fork"
    return got


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_zip_of_class_folders_is_read_as_its_tar_is(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "cells.zip", _tree())
    with tarfile.open(tmp_path / "cells.tar.gz", "w:gz") as t:
        for name, data in _tree().items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    train, test, kind = load_dataset(archive)
    want, want_test, want_kind = load_dataset(tmp_path / "cells.tar.gz")
    assert kind == want_kind == "folder-tar" and test is None and want_test is None
    assert train.ids == want.ids and train.ids[0] == "bad/000.png" and len(train) == 6     # (no __MACOSX file)
    np.testing.assert_array_equal(train.x, want.x)
    np.testing.assert_array_equal(train.y, want.y)
    assert train.info["source"] == str(archive.resolve()) and train.info["format"] == "folder-tar"
    assert train.info.get("class_names") == want.info.get("class_names")


def test_a_zip_of_a_pile_is_unlabelled_and_read_from_its_unpack_the_second_time(tmp_path: Path, _cache: Path,
                                                                                monkeypatch: pytest.MonkeyPatch
                                                                                ) -> None:
    archive = _zip(tmp_path / "pile.zip", {f"pile/{i:03d}.png": _png(i) for i in range(4)}
                   | {"__MACOSX/pile/._000.png": b"junk"})
    train, test, kind = load_dataset(archive)
    assert kind == "unlabelled-tar" and test is None and train.ids == [f"pile/{i:03d}.png" for i in range(4)]
    (unpacked,) = [p for p in _cache.iterdir() if p.is_dir()]
    assert unpacked.name.startswith("pile-") and (unpacked / "__MACOSX").is_dir()      # (unpacked, then skipped)

    def unpacked_again(*a: object, **k: object) -> None:
        raise AssertionError("the zip was unpacked a second time")

    monkeypatch.setattr(dl, "safe_extract", unpacked_again)
    again, _, _ = load_dataset(archive)
    assert again.ids == train.ids
    np.testing.assert_array_equal(again.x, train.x)
    assert len([p for p in _cache.iterdir() if p.is_dir()]) == 1 and not list(_cache.glob(".tmp-*"))


_RELATIVE = "make the archive again with paths relative to the data set's folder (tar -C FOLDER -czf ARCHIVE .)"


@pytest.mark.parametrize("name, why", [
    ("../evil.png", f"refusing archive member that escapes the target folder: '../evil.png'; {_RELATIVE}"),
    ("pile/../../evil.png", f"refusing archive member that escapes the target folder: 'pile/../../evil.png'; "
                            f"{_RELATIVE}"),
    ("/tmp/evil.png", f"refusing archive member with an absolute path: '/tmp/evil.png'; {_RELATIVE}"),
    ("link", "refusing archive member that is not a plain file or folder (a symbolic link): 'pile/link.png'; make the "
             "archive again holding the files its links point to (tar -h; zip without -y)"),
])
def test_a_zip_member_that_could_land_outside_the_unpack_is_refused_before_anything_is_written(
        tmp_path: Path, _cache: Path, name: str, why: str) -> None:
    archive = tmp_path / "pile.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(3):
            z.writestr(f"pile/{i:03d}.png", _png(i))
        if name == "link":
            info = zipfile.ZipInfo("pile/link.png")
            info.create_system = 3                              # (Unix: external_attr holds the file's mode)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
        else:
            z.writestr(zipfile.ZipInfo(name), _png(9))
    with pytest.raises(DataError, match=f"^{re.escape(f'{archive}: {why}')}$"):
        load_dataset(archive)
    assert not (tmp_path / "evil.png").exists() and not Path("/tmp/evil.png").exists()
    assert not [p for p in _cache.iterdir() if p.is_dir()]            # nothing unpacked, nothing left half-done


def test_an_encrypted_zip_member_is_refused_naming_it(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "pile.zip", {f"pile/{i:03d}.png": _png(i) for i in range(3)})
    data = bytearray(archive.read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):         # the encrypted bit, in the local and the central header
        at = data.find(sig)
        flags = 6 if sig == b"PK\x03\x04" else 8
        data[at + flags] |= 0x1
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"^{archive}: member 'pile/000.png' is encrypted \(the zip has a password\)"):
        load_dataset(archive)


def test_a_damaged_zip_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    good = _zip(tmp_path / "good.zip", {f"pile/{i:03d}.png": _png(i) for i in range(3)}).read_bytes()
    (tmp_path / "cut.zip").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.zip").write_bytes(b"these are notes, not a zip archive")
    (tmp_path / "empty.zip").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "stored.zip", "w", zipfile.ZIP_STORED) as z:      # (its bytes as they are)
        z.writestr("pile/000.png", _png(0))
    crc = bytearray((tmp_path / "stored.zip").read_bytes())
    crc[crc.find(b"IDAT") + 6] ^= 0xFF                                  # a bit flipped in the image: its CRC fails
    (tmp_path / "crc.zip").write_bytes(bytes(crc))
    said = {
        "cut.zip": "not a readable zip archive or truncated (it starts as a zip archive but its end is missing: an "
                   "interrupted copy or download?)",
        "text.zip": "not a zip archive (its first bytes are not a zip's, whatever its name says): is it the right "
                    "file?",
        "empty.zip": "empty file (0 bytes), not a zip archive",
        "crc.zip": "not a readable zip archive or truncated (Bad CRC-32 for file 'pile/000.png')",
    }
    for name, why in said.items():
        with pytest.raises(DataError) as e:
            load_dataset(tmp_path / name)
        assert str(e.value) == f"{tmp_path / name}: {why}", name


def test_an_npz_is_still_an_npz_and_a_zip_inside_a_folder_is_left_out_as_a_tar_is(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 8, 8), np.uint8))
    assert detect_format(tmp_path / "x.npz") == "npz" and load_dataset(tmp_path / "x.npz")[2] == "unlabelled-npz"
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(_png(i))
    _zip(folder / "more.zip", {"more/0.png": _png(7)})
    with tarfile.open(folder / "more.tar.gz", "w:gz") as t:
        t.add(folder / "0.png", "more/0.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, _, kind = load_dataset(folder)
    assert kind == "unlabelled-folder" and train.ids == ["0.png", "1.png", "2.png"]
    assert [p.name for p in list_image_files([folder])] == ["0.png", "1.png", "2.png"]
    for archive, kind in ((folder / "more.zip", "a zip archive"), (folder / "more.tar.gz", "a tar archive")):
        with pytest.raises(DataError, match=rf"^{archive}: a data-set file \({kind}\), not an image"):
            list_image_files([folder / "0.png", archive])


def test_detector_reads_a_zip_as_the_folder_it_holds(tmp_path: Path) -> None:
    from wildgan.data.inputs import to_images

    archive = _zip(tmp_path / "pile.zip", {f"pile/{i:03d}.png": _png(20 * i) for i in range(4)})
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    x, ids = to_images(archive, 8, 1)
    want, want_ids = to_images(folder / "pile", 8, 1)
    np.testing.assert_array_equal(x, want)
    assert ids == [f"pile/{Path(i).name}" for i in want_ids]


def test_detector_fits_and_scores_a_zip(tmp_path: Path) -> None:
    from wildgan import Detector

    rng = np.random.default_rng(0)
    members = {}
    for i in range(20):
        b = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(b, "PNG")
        members[f"pile/{i:02d}.png"] = b.getvalue()
    archive = _zip(tmp_path / "pile.zip", members)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (the short fit ends before full growth, on purpose)
        det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.1, resolution=8, device="cpu",
                       run_dir=str(tmp_path / "run")).fit(archive)
        scores = det.decision_function(archive)
    assert det.n_train_ == 20 and scores.shape == (20,) and np.isfinite(scores).all()


def test_score_files_and_wildgan_score_read_a_zip_of_images(scoring_pile, tmp_path: Path) -> None:
    from wildgan.cli import main
    from wildgan.scoring.run import score_files

    pile, run, model = scoring_pile(5)
    archive = tmp_path / "pile.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(pile.iterdir()):
            z.write(f, f"pile/{f.name}")
    folder = score_files(model, [pile])
    got = score_files(model, [archive])
    assert got.ids == [f"pile/{Path(i).name}" for i in folder.ids]
    for k in folder.scores:
        np.testing.assert_array_equal(got.scores[k], folder.scores[k], err_msg=k)
    out = tmp_path / "s.csv"
    assert main(["score", str(run), "--data", str(archive), "--out", str(out), "--no-progress"]) == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 6 and rows[1].split(",")[0] == "pile/0.png"
    with pytest.raises(DataError, match=rf"^{archive}: a data-set file \(a zip archive\), not an image: it cannot "
                                        r"be mixed with image files or folders"):
        score_files(model, [pile, archive])


def test_the_unpack_of_a_zip_is_named_after_it(tmp_path: Path, _cache: Path) -> None:
    archive = _zip(tmp_path / "Export.ZIP", {"a/0.png": _png(1), "b/0.png": _png(2)})
    tree = dl.unpack_cached(archive)
    assert tree.parent == _cache and tree.name.startswith("Export-") and ".zip" not in tree.name.lower()
    assert sorted(os.listdir(tree)) == ["a", "b"] and (tree / "a" / "0.png").read_bytes() == _png(1)


def test_a_run_trained_on_a_zip_records_it_and_a_resume_notices_it_replaced(tmp_path: Path, capsys) -> None:
    import json

    from wildgan.cli import main
    from wildgan.data import source_identity as si

    def pile_zip(seed: int) -> Path:
        rng = np.random.default_rng(seed)
        members = {}
        for i in range(20):        # (at least 16 images: one minibatch of the tiny preset)
            b = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(b, "PNG")
            members[f"pile/{i:02d}.png"] = b.getvalue()
        return _zip(tmp_path / "pile.zip", members)

    archive, run = pile_zip(0), tmp_path / "run"
    train = ["train", "--data", str(archive), "--preset", "tiny", "--threads", "1", "--no-progress",
             "--phase-kimg", "0.1", "--no-train-scores", "--out", str(run)]
    assert main([*train, "--total-kimg", "0.032"]) == 0
    split = json.loads((run / "split.json").read_text())
    assert split["source"] == str(archive.resolve()) and split["source_identity"] == si.source_identity(archive)
    assert "sha256" in split["source_identity"] and split["n_train"] == 20
    pile_zip(1)                                      # other images under the same name
    capsys.readouterr()
    assert main([*train, "--total-kimg", "0.064", "--resume"]) != 0
    err = capsys.readouterr().err
    assert "the training images changed since this run started" in err and f"{archive}" in err, err


def test_an_evaluation_on_a_zip_is_named_after_it_as_one_on_a_tar_is() -> None:
    from wildgan.evaluation.run import evaluation_dir

    recorded = {"source": "/a/train.tar.gz", "protocol": "folder", "normal_classes": ["good"]}
    for name in ("cells.zip", "cells.tar.gz"):
        got = evaluation_dir(Path("/r"), recorded, {"source": f"/d/{name}", "normal_classes": ["good"]})
        assert got.parent == Path("/r") and got.name.startswith("eval-cells-") and "zip" not in got.name, got


def test_a_zip_named_with_windows_backslashes_keeps_its_class_folders(tmp_path: Path, _cache: Path) -> None:
    """Some Windows tools write member names as 'cells\\bad\\000.png', which zipfile unpacked on Linux as files of
    those names at the unpack's top: the class folders, and so the labels, were lost. Read as the zip with '/' is;
    a '..' or an absolute path said with backslashes is still refused."""
    forward = _tree()
    archive = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in forward.items():
            z.writestr(zipfile.ZipInfo(name.replace("/", "\\")), data)     # (ZipInfo keeps a backslash on Linux)
        z.writestr(zipfile.ZipInfo("cells\\good\\"), b"")                # a folder entry, as such tools add
    train, _, kind = load_dataset(archive)
    want, _, want_kind = load_dataset(_zip(tmp_path / "slashes.zip", forward))
    assert kind == want_kind == "folder-tar" and train.ids == want.ids and train.ids[0] == "bad/000.png"
    np.testing.assert_array_equal(train.y, want.y)
    assert train.info.get("class_names") == want.info.get("class_names")
    (tree,) = [p for p in _cache.iterdir() if p.is_dir() and p.name.startswith("cells-")]
    assert sorted(os.listdir(tree / "cells")) == ["bad", "good"] and "\\" not in "".join(map(str, tree.rglob("*")))
    for name, why in (("cells\\..\\..\\evil.png", "escapes the target folder"), ("C:\\evil.png", "absolute path")):
        bad = tmp_path / "bad.zip"
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr(zipfile.ZipInfo("cells\\good\\000.png"), _png(1))
            z.writestr(zipfile.ZipInfo(name), _png(9))
        with pytest.raises(DataError, match=re.escape(f"{why}: {name!r}")):
            dl.safe_extract(bad, tmp_path / "dest")
        assert not (tmp_path / "evil.png").exists() and not (tmp_path / "dest").exists()


def _lying_zip(path: Path, real: bytes, said: int) -> Path:
    """A zip of pile/000.png holding `real` (deflated), whose headers (local and central) say it unpacks to `said`
    bytes: what a decompression bomb that hides its size, or a damaged zip, looks like."""
    import struct

    _zip(path, {"pile/000.png": real, "pile/001.png": _png(1)})
    data = bytearray(path.read_bytes())
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):      # (the uncompressed size in each header)
        struct.pack_into("<I", data, data.find(sig) + at, said)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_an_archive_that_does_not_fit_in_the_cache_s_free_space_is_refused_before_anything_is_written(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Neither a tar nor a zip was checked against the free space: a decompression bomb, or a data set larger than
    the disk, filled the cache's disk to its last byte before failing. The members' declared sizes (in whole blocks,
    with a margin) are weighed against the free space first, and the refusal names the archive, both sizes and
    $WILDGAN_CACHE; the cache is left as it was. With room, the same archive unpacks."""
    members = {f"pile/{i:03d}.png": _png(i) for i in range(3)} | {"pile/big.bin": bytes(3 << 20)}   # (3 MiB of 0s)
    if kind == "zip":
        archive = _zip(tmp_path / "pile.zip", members)
    else:
        archive = tmp_path / "pile.tar.gz"
        with tarfile.open(archive, "w:gz") as t:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    assert archive.stat().st_size < 100_000                          # (a small archive: the size is its unpack's)
    asked: list[Path] = []

    def free(folder: Path) -> int:
        asked.append(folder)
        return 50 << 20                                              # less than the 64 MiB margin plus 3 MiB

    monkeypatch.setattr(dl, "_free_bytes", free)
    with pytest.raises(DataError) as e:
        dl.unpack_cached(archive)
    assert re.fullmatch(rf"{re.escape(str(archive))}: unpacks to 3\.0 MiB in 4 files and folders, more than the "
                        rf"disk of {re.escape(str(_cache))} has free \(50\.0 MiB; it needs 67\.0 MiB, with a "
                        rf"margin\); free space there, or set \$WILDGAN_CACHE to a folder on a disk with more room",
                        str(e.value)), str(e.value)
    assert asked and all(p.parent == _cache for p in asked) and not list(_cache.iterdir())
    monkeypatch.setattr(dl, "_free_bytes", lambda folder: 68 << 20)
    tree = dl.unpack_cached(archive)
    assert (tree / "pile" / "big.bin").stat().st_size == 3 << 20


def test_a_file_system_that_reports_no_size_skips_the_free_space_check_with_a_warning(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FUSE mounts and some network file systems report 0 blocks (or more free than in all): read as a full disk,
    every unpack there was refused. Such numbers skip the check, said in one warning; a disk whose numbers can be so
    (blocks, none free) is still refused."""
    from wildgan.errors import WildganWarning

    archive = _zip(tmp_path / "pile.zip", {f"pile/{i:03d}.png": _png(i) for i in range(3)})
    said: list[int] = []

    def statvfs(blocks: int, free: int) -> object:
        def fake(path: object) -> os.statvfs_result:
            said.append(blocks)
            return os.statvfs_result((4096, 4096, blocks, free, free, 1000, 1000, 1000, 0, 255))
        return fake

    for blocks, free in ((0, 0), (1000, 5000)):
        monkeypatch.setattr(os, "statvfs", statvfs(blocks, free))
        with pytest.warns(WildganWarning) as w:
            tree = dl.safe_extract(archive, tmp_path / f"dest{blocks}")
        assert tree is None and (tmp_path / f"dest{blocks}" / "pile" / "002.png").is_file() and said[-1] == blocks
        assert [str(m.message) for m in w] == [f"{tmp_path}: its file system reports no usable size "
                                               f"({free} of {blocks} blocks free), as FUSE and some network file "
                                               f"systems do, so whether an archive's unpack fits there is not checked "
                                               f"before it is written"]
    monkeypatch.setattr(os, "statvfs", statvfs(1000, 0))         # (a full disk: credible, refused as it was)
    with pytest.raises(DataError, match=rf"^{re.escape(str(archive))}: unpacks to .* more than the disk of "
                                        rf"{re.escape(str(tmp_path))} has free \(0\.0 MiB; "):
        dl.safe_extract(archive, tmp_path / "full")
    assert not (tmp_path / "full").exists()


def test_an_archive_member_longer_than_it_says_writes_no_more_and_leaves_no_unpack(tmp_path: Path,
                                                                                    _cache: Path) -> None:
    """The free-space check trusts the declared sizes, which the readers hold each member to: zipfile stops a
    member at its declared size (a zip that says less than it holds then fails its CRC check), tarfile copies exactly
    the declared size. The unpack that failed is removed: nothing half-written is later taken for a complete one."""
    archive = _lying_zip(tmp_path / "pile.zip", bytes(1 << 20), 10)
    with pytest.raises(DataError, match=rf"^{re.escape(str(archive))}: not a readable zip archive or truncated "
                                        r"\(Bad CRC-32 for file 'pile/000.png'\)$"):
        dl.safe_extract(archive, tmp_path / "dest")
    assert (tmp_path / "dest" / "pile" / "000.png").stat().st_size <= 10
    with pytest.raises(DataError, match="Bad CRC-32"):
        load_dataset(archive)
    assert not [p for p in _cache.iterdir() if p.is_dir()]                 # (nor a '.tmp-*' unpack)
    # a tar's header that says 10 bytes of a longer file: 10 bytes written, the rest never read as that file's
    block = tarfile.TarInfo("pile/000.png")
    block.size = 10
    raw = block.tobuf(format=tarfile.GNU_FORMAT) + bytes(1 << 20) + bytes(1024)
    (tmp_path / "pile.tar").write_bytes(raw)
    dl.safe_extract(tmp_path / "pile.tar", tmp_path / "dest-tar")
    assert (tmp_path / "dest-tar" / "pile" / "000.png").stat().st_size == 10


def test_a_zip_that_zipfile_refuses_other_than_as_damaged_is_named_with_why(tmp_path: Path, _cache: Path) -> None:
    """A member name flagged UTF-8 that is not valid UTF-8 made zipfile raise a UnicodeDecodeError, and a zip
    version it does not read a NotImplementedError: neither was caught, so `wildgan train` ended in a traceback.
    Each is a DataError naming the archive and the problem, from the listing and from the unpack alike."""
    good = _zip(tmp_path / "good.zip", {"pile/\u00e9.png": _png(1), "pile/001.png": _png(2)}).read_bytes()
    assert b"\xc3\xa9" in good                                  # (the name's UTF-8, flagged as such by zipfile)
    badname = tmp_path / "badname.zip"
    badname.write_bytes(good.replace(b"\xc3\xa9", b"\xff\xfe"))
    version = bytearray(good)
    at = version.find(b"PK\x01\x02")
    version[at + 6] = 70                                        # (the version needed to extract: 7.0)
    (tmp_path / "version.zip").write_bytes(bytes(version))
    said = {"badname.zip": r"not a readable zip archive \(member name b'pile/\\xff\\xfe\.png' is marked as UTF-8 "
                           r"but is not valid UTF-8\); unzip it yourself",
            "version.zip": r"not a readable zip archive \(it uses what Python's zipfile does not read: zip file "
                           r"version 7\.0\); unzip it yourself"}
    for name, why in said.items():
        archive = tmp_path / name
        for read in (load_dataset, dl.archive_member_names, lambda a: dl.safe_extract(a, tmp_path / "dest")):
            with pytest.raises(DataError, match=f"^{re.escape(str(archive))}: {why}"):
                read(archive)
    # only the member's own (local) header flags its name UTF-8: zipfile finds it out while unpacking
    local = bytearray(_zip(tmp_path / "plain.zip", {"pile/ab.png": _png(1)}).read_bytes())
    local[local.find(b"PK\x03\x04") + 7] |= 0x08                # (flag bit 11, UTF-8 names)
    at = local.find(b"pile/ab.png")
    local[at + 5: at + 7] = b"\xff\xfe"
    (tmp_path / "local.zip").write_bytes(bytes(local))
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'local.zip'))}: not a readable zip archive "
                                        r"\(member name b'pile/\\xff\\xfe\.png' is marked as UTF-8"):
        dl.safe_extract(tmp_path / "local.zip", tmp_path / "dest-local")


def test_an_archive_that_fails_while_unpacking_is_named_as_given(tmp_path: Path, _cache: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault found only while unpacking (a member's CRC, a tar cut inside a member's data) was reported under the
    absolute path unpack_cached had resolved, where one found while listing (a zip cut short) named the archive as
    the user gave it. Both name it as given."""
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile("stored.zip", "w", zipfile.ZIP_STORED) as z:
        z.writestr("pile/000.png", _png(0))
    crc = bytearray(Path("stored.zip").read_bytes())
    crc[crc.find(b"IDAT") + 6] ^= 0xFF                                  # (its CRC check fails, its listing does not)
    Path("crc.zip").write_bytes(bytes(crc))
    with tarfile.open("whole.tar", "w") as t:
        for i in range(2):
            info = tarfile.TarInfo(f"pile/{i:03d}.png")
            data = _png(i) + bytes(2000)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    Path("cut.tar").write_bytes(Path("whole.tar").read_bytes()[:3000])   # (inside the second member's data)
    said = {"crc.zip": "not a readable zip archive or truncated (Bad CRC-32 for file 'pile/000.png')",
            "cut.tar": "not a readable tar archive or truncated ("}           # (its listing's words, or tarfile's)
    for name, why in said.items():
        for read in (load_dataset, dl.unpack_cached):
            with pytest.raises(DataError) as e:
                read(name)
            assert str(e.value).startswith(f"{name}: {why}"), (name, read, str(e.value))
    assert not [p for p in _cache.iterdir() if p.is_dir()]


@pytest.mark.parametrize("kind", ["zip", "tar"])
@pytest.mark.parametrize("members, said", [
    (["pile/a", "pile/a/000.png"], "'pile/a' (a file) and 'pile/a/000.png'"),
    (["pile/a/000.png", "pile/a"], "'pile/a' (a file) and 'pile/a/000.png'"),
    (["pile/a/", "pile/b.png", "./pile/a"], "'./pile/a' (a file) and 'pile/a/'"),
])
def test_an_archive_with_a_name_that_is_both_a_file_and_a_folder_is_refused_naming_both(
        tmp_path: Path, _cache: Path, kind: str, members: list[str], said: str) -> None:
    """A file 'pile/a' beside a member 'pile/a/000.png' failed half-way through the unpack with 'not a readable zip
    archive or truncated ([Errno 20] Not a directory: CACHE/.tmp-.../pile/a/000.png)': it sent the user to download
    it again, and named the cache's temporary folder. Refused before anything is written, naming both members."""
    archive = tmp_path / f"clash.{kind}"
    if kind == "zip":
        _zip(archive, {name: b"" if name.endswith("/") else _png(1) for name in members})
    else:
        with tarfile.open(archive, "w") as t:
            for name in members:
                info = tarfile.TarInfo(name)
                data = _png(1)
                if name.endswith("/"):
                    info.type, data = tarfile.DIRTYPE, b""
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        said = said.replace("'pile/a/'", "'pile/a'")            # (tarfile drops a folder's trailing '/')
    with pytest.raises(DataError, match=f"^{re.escape(str(archive))}: refusing archive members that make one name "
                                        f"both a file and a folder: {re.escape(said)}; make the archive again"):
        load_dataset(archive)
    assert not list(_cache.iterdir())                           # (nothing unpacked, nothing half-done)


def _pile_tar(n: int = 3) -> bytes:
    """A plain tar of n small PNGs, as tarfile writes it (end-of-archive blocks, then zeros to a whole record)."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for i in range(n):
            info = tarfile.TarInfo(f"pile/{i:03d}.png")
            data = _png(i)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def test_a_tar_whose_listing_stops_before_its_end_is_refused(tmp_path: Path, _cache: Path) -> None:
    """tarfile ends its listing at any bad header after the first one without a word: a tar damaged in its second
    header unpacked its first member only, the rest left out with no error. Refused, naming the archive and where:
    a damaged header, data that ends inside a header, data after the end-of-archive block, a gzip cut short after
    the tar's end. A whole tar, and one without the end block (which tar tools read), still unpack."""
    import gzip

    whole = _pile_tar()
    second = whole.find(b"pile/001.png")                          # (the second member's header starts with its name)
    damaged = bytearray(whole)
    damaged[second] ^= 0xFF                                       # (its checksum no longer matches)
    end = whole.rfind(b"IEND") + 8                                # (the last member's data ends with its PNG's IEND)
    last = -(-end // 512) * 512                                   # (and the end-of-archive block starts after it)
    files = {"damaged.tar": bytes(damaged), "damaged.tar.gz": gzip.compress(bytes(damaged)),
             "cut.tar": whole[:last + 100], "joined.tar": whole + whole,
             "gzcut.tar.gz": gzip.compress(whole)[:-4]}
    said = {"damaged": r"the header that follows its first 1 member, at byte 1024 of the tar, is damaged: the "
                       r"members after it cannot be read",
            "cut": r"its data ends inside the header that follows its first 3 members: cut short, an interrupted "
                   r"copy or download\?",
            "joined": r"it holds more after its end-of-archive block, which follows its first 3 members \(archives "
                      r"joined into one\?\): what follows would be left out",
            "gzcut": r"its compressed data ends before its own end, after the end-of-archive block that follows "
                     r"its first 3 members: cut short, an interrupted copy or download\?"}
    for name, data in files.items():
        archive = tmp_path / name
        archive.write_bytes(data)
        why = said[name.split(".")[0]]
        with pytest.raises(DataError, match=rf"^{re.escape(str(archive))}: not a readable tar archive or truncated "
                                            rf"\({why}\)$"):
            dl.safe_extract(archive, tmp_path / "dest")
        with pytest.raises(DataError, match=re.escape(str(archive))):
            load_dataset(archive)
    assert not (tmp_path / "dest").exists() and not _cache.exists()     # (refused by the listing: no unpack begun)
    for name, data in (("whole.tar", whole), ("noend.tar", whole[:last]), ("whole.tar.gz", gzip.compress(whole))):
        (tmp_path / name).write_bytes(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tree = dl.unpack_cached(tmp_path / name)
        assert sorted(os.listdir(tree / "pile")) == ["000.png", "001.png", "002.png"], name
        # (without its end blocks: read, and said, _warn_if_unended)
        assert [str(w.message).split(": ")[0] for w in caught] == ([str(tmp_path / name)] if "noend" in name else [])


def test_a_plain_tar_cut_at_a_header_boundary_is_read_and_said_once(tmp_path: Path, _cache: Path) -> None:
    """A plain tar cut exactly where a header starts (no end-of-archive blocks) was read without a word, and the
    members after the cut were missing from the data set. GNU tar reads such an archive too (a writer that never
    closed its archive leaves one whole so): read, and said once, naming the archive and how many members it holds;
    a whole tar, plain or compressed, says nothing."""
    import gzip

    whole = _pile_tar(4)
    third = whole.find(b"pile/002.png")                          # (the third member's header starts with its name)
    assert third % 512 == 0
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[:third])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train, _, _ = load_dataset(cut)
    assert len(train) == 2
    assert [str(w.message) for w in caught] == [
        f"{cut}: ends without tar's end blocks after 2 members; if it was cut short (an interrupted copy or "
        f"download), members after those are missing: copy or download it again"]
    for name, data in (("whole.tar", whole), ("whole.tar.gz", gzip.compress(whole))):
        (tmp_path / name).write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert len(load_dataset(tmp_path / name)[0]) == 4, name
            dl.safe_extract(tmp_path / name, tmp_path / f"dest-{name}")


def test_a_full_or_read_only_destination_is_told_the_way_to_another_folder_that_it_has(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The advice for an unpack that does not fit, or cannot be written, named $WILDGAN_CACHE wherever it went: an
    unpack into cache_dir= (which the variable does not move), and CIFAR-10's download into the folder the user gave.
    Each is told the way that moves its own destination."""
    import errno
    import hashlib

    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    archive = _zip(tmp_path / "pile.zip", {f"pile/{i:03d}.png": _png(i) for i in range(3)})
    monkeypatch.setattr(dl, "_free_bytes", lambda folder: 1 << 20)
    with pytest.raises(DataError, match=r"; free space there, or set \$WILDGAN_CACHE to a folder on a disk with more "
                                        r"room$"):
        dl.unpack_cached(archive)
    with pytest.raises(DataError, match=r"; free space there, or pass cache_dir= a folder on a disk with more room$"):
        dl.unpack_cached(archive, tmp_path / "mine")
    (tmp_path / "data").mkdir()
    with tarfile.open(tmp_path / "data" / "cifar-10-python.tar.gz", "w:gz") as t:     # (downloaded: no network)
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 3
        t.addfile(info, io.BytesIO(b"abc"))
    md5 = hashlib.md5((tmp_path / "data" / "cifar-10-python.tar.gz").read_bytes()).hexdigest()
    with pytest.raises(DataError, match=r"; free space there, or download CIFAR-10 into a folder on a disk with more "
                                        r"room \(data=FOLDER\)$"):
        dl.download_cifar10(tmp_path / "data", md5=md5)
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(DataError, match=r"download CIFAR-10 into a folder on a "
                                                                          r"disk with more room \(--data FOLDER "
                                                                          r"--download\)$"):
        dl.download_cifar10(tmp_path / "data", md5=md5)
    monkeypatch.setattr(dl, "_free_bytes", lambda folder: None)

    def full(self: zipfile.ZipFile | tarfile.TarFile, path: str, *a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", os.path.join(path, "pile", "000.png"))

    monkeypatch.setattr(zipfile.ZipFile, "extractall", full)
    with pytest.raises(DataError) as e:
        dl.unpack_cached(archive, tmp_path / "mine")
    # (the folder the user gave, not the temporary one unpacked into there)
    assert str(e.value) == (f"{archive}: could not write its unpacked files into {tmp_path / 'mine'} ([Errno 28] No "
                            f"space left on device); free space there or make it writable, or pass cache_dir= another "
                            f"folder")
    monkeypatch.setattr(tarfile.TarFile, "extractall", full)
    with pytest.raises(DataError, match=r"free space there or make it writable, or download CIFAR-10 into another "
                                        r"folder \(data=FOLDER\)$"):
        dl.download_cifar10(tmp_path / "data", md5=md5)


def test_a_tar_named_with_windows_backslashes_keeps_its_class_folders(tmp_path: Path, _cache: Path) -> None:
    """As a zip's: some Windows writers (.NET's TarFile.CreateFromDirectory) put 'cells\\bad\\000.png' in a tar,
    which unpacked as files of those names at the unpack's top, its class folders (and so the labels) lost. Read as
    the tar with '/' is; a '..' said with backslashes is still refused."""
    def tar(path: Path, members: dict[str, bytes]) -> Path:
        with tarfile.open(path, "w:gz") as t:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        return path

    forward = _tree()
    archive = tar(tmp_path / "cells.tar.gz", {name.replace("/", "\\"): data for name, data in forward.items()})
    with tarfile.open(archive) as t:
        assert "cells\\bad\\000.png" in t.getnames()               # (tarfile keeps a backslash as it is)
    train, _, kind = load_dataset(archive)
    want, _, want_kind = load_dataset(tar(tmp_path / "slashes.tar.gz", forward))
    assert kind == want_kind == "folder-tar" and train.ids == want.ids and train.ids[0] == "bad/000.png"
    np.testing.assert_array_equal(train.y, want.y)
    (tree,) = [p for p in _cache.iterdir() if p.is_dir() and p.name.startswith("cells-")]
    assert sorted(os.listdir(tree / "cells")) == ["bad", "good"] and "\\" not in "".join(map(str, tree.rglob("*")))
    assert dl.archive_member_names(archive)[0] == "cells/bad/000.png"
    bad = tar(tmp_path / "bad.tar.gz", {"cells\\good\\000.png": _png(1), "cells\\..\\..\\evil.png": _png(9)})
    with pytest.raises(DataError, match=re.escape("escapes the target folder: 'cells\\\\..\\\\..\\\\evil.png'")):
        dl.safe_extract(bad, tmp_path / "dest")
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "dest").exists()


def test_a_member_name_the_file_system_refuses_is_named_with_why_not_called_damage(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OSError while unpacking that is not a full or read-only disk was called 'not a readable zip archive or
    truncated ([Errno 36] File name too long: CACHE/.tmp-.../pile/aaa...png)': damage, to download again, in a folder
    the user never made. A name or path too long is said as such, with the member as the archive names it and the
    limit; another refusal says what the system said; only damage (a gzip's CRC, xz's data) is called damage."""
    import errno
    import gzip
    import lzma

    long = "pile/" + "a" * 300 + ".png"
    deep = "pile/" + "/".join(f"{i:02d}" + "d" * 200 for i in range(21)) + "/000.png"
    folder = "pile/" + "b" * 260 + "/000.png"
    for name, why in ((long, "its name is 304 bytes long"), (folder, f"its folder {'b' * 260!r} is 260 bytes long")):
        for kind in ("zip", "tar"):
            archive = tmp_path / f"long.{kind}"
            if kind == "zip":
                _zip(archive, {"pile/000.png": _png(1), name: _png(2)})
            else:
                with tarfile.open(archive, "w") as t:
                    for n in ("pile/000.png", name):
                        info = tarfile.TarInfo(n)
                        info.size = len(_png(1))
                        t.addfile(info, io.BytesIO(_png(1)))
            with pytest.raises(DataError) as e:
                load_dataset(archive)
            assert str(e.value) == (f"{archive}: member {name!r} cannot be unpacked: {why}, and the file system of "
                                    f"{_cache} takes names of at most 255 bytes; make the archive again with a "
                                    f"shorter name"), str(e.value)
            assert ".tmp-" not in str(e.value) and "truncated" not in str(e.value)
    _zip(tmp_path / "deep.zip", {deep: _png(1)})
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'deep.zip'))}: member {re.escape(repr(deep))} "
                                        rf"cannot be unpacked: its path in the unpack under {re.escape(str(_cache))} "
                                        r"is \d+ bytes long, and the system takes paths shorter than 4096 bytes; make "
                                        r"the archive again with fewer or shorter folder names, or set "
                                        r"\$WILDGAN_CACHE to a folder with a shorter path$"):
        load_dataset(tmp_path / "deep.zip")
    # a file system that refuses some characters in names (FAT, or NTFS over SMB: ':'), as the system says it
    real_open = open

    def fat_open(path: object, *a: object, **k: object) -> object:
        if str(path).endswith("a:b.png"):
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return real_open(path, *a, **k)

    _zip(tmp_path / "colon.zip", {"pile\\000.png": _png(1), "pile\\a:b.png": _png(2)})
    monkeypatch.setattr(zipfile, "open", fat_open, raising=False)
    with pytest.raises(DataError) as e:
        dl.unpack_cached(tmp_path / "colon.zip")
    assert str(e.value) == (f"{tmp_path / 'colon.zip'}: member 'pile\\\\a:b.png' could not be unpacked into {_cache}: "
                            f"the system refused it ([Errno 22] Invalid argument); set $WILDGAN_CACHE to another "
                            f"folder, or unpack the archive yourself and pass the folder")
    assert not [p for p in _cache.iterdir() if p.is_dir()]
    # damage is still damage: a gzip's CRC, an xz's data (xz's own error, LZMAError, was a bare traceback)
    noise = io.BytesIO()          # (members that do not compress: a byte flipped in the middle is in their data)
    with tarfile.open(fileobj=noise, mode="w") as t:
        for i in range(3):
            info = tarfile.TarInfo(f"pile/{i:03d}.png")
            info.size = 20000
            t.addfile(info, io.BytesIO(np.random.default_rng(i).bytes(20000)))
    whole = noise.getvalue()
    for name, data, why in (("crc.tar.gz", bytearray(gzip.compress(whole)), "CRC check failed"),
                            ("bad.tar.xz", bytearray(lzma.compress(whole)), "Corrupt input data")):
        data[-8 if name.endswith("gz") else len(data) // 2] ^= 0xFF          # (the gzip CRC; xz data)
        (tmp_path / name).write_bytes(bytes(data))
        for read in (lambda a: dl.safe_extract(a, tmp_path / "dest"), dl.archive_member_names):
            with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / name))}: not a readable tar archive or "
                                                rf"truncated \({why}"):
                read(tmp_path / name)


def test_a_refusal_said_while_listing_an_archive_is_kept_by_detection_and_the_cli(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Detection replaced every refusal of archive_member_names with archive_problem's one line for an archive its
    reader cannot list: one that said what is wrong (a tar whose listing stops early, a zip's bad member name) was
    lost there. Only the reader's own words are replaced; `--data` says the others, as the unpack does its own."""
    from wildgan.cli import main
    from wildgan.data import readers

    archive = tmp_path / "pile.tar"
    archive.write_bytes(_pile_tar())
    said = f"{archive}: not a readable tar archive or truncated (the header that follows its first 1 member ...)"

    def refused(p: Path, limit: int | None = 200) -> list[str]:
        raise DataError(said)

    with monkeypatch.context() as m:
        m.setattr(readers, "archive_member_names", refused)
        for read in (load_dataset, detect_format):
            with pytest.raises(DataError) as e:
                read(archive)
            assert str(e.value) == said
    # (the reader's own words are still said in one line, for the compression the file has: a gzip header, then
    # data that is not deflate's)
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b\x08" + bytes(7) + b"\xff" * 600)
    with pytest.raises(DataError, match=r"junk\.tar\.gz: not a readable tar archive or truncated \(gzip-compressed, "
                                        r"but: [^\n]*\)$"):
        detect_format(tmp_path / "junk.tar.gz")
    whole = _pile_tar()
    damaged = bytearray(whole)
    damaged[whole.find(b"pile/001.png")] ^= 0xFF
    (tmp_path / "damaged.tar").write_bytes(bytes(damaged))
    with tarfile.open(tmp_path / "clash.tar", "w") as t:
        for name in ("pile/a", "pile/a/000.png"):
            info = tarfile.TarInfo(name)
            info.size = len(_png(1))
            t.addfile(info, io.BytesIO(_png(1)))
    for name, why in (("damaged.tar", "not a readable tar archive or truncated (the header that follows its first 1 "
                                      "member, at byte 1024 of the tar, is damaged: the members after it cannot be "
                                      "read)"),
                      ("clash.tar", "refusing archive members that make one name both a file and a folder: 'pile/a' "
                                    "(a file) and 'pile/a/000.png'; make the archive again without one of them")):
        assert main(["train", "--data", str(tmp_path / name), "--out", str(tmp_path / "run")]) == 2
        assert f"{tmp_path / name}: {why}" in capsys.readouterr().err
    assert not [p for p in _cache.iterdir() if p.is_dir()] and not (tmp_path / "run").exists()


def test_a_tar_whose_listing_stops_early_is_refused_by_its_listing_not_taken_for_another_layout(
        tmp_path: Path, _cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The listing that detection reads stopped at a damaged header without a word, as the unpack's did: a tar whose
    first member is a CIFAR-10 batch and whose images follow the damage was taken for CIFAR batches, so
    `--dataset folder` refused it as 'CIFAR-10's python batches', not as damaged. The listing refuses it as the unpack
    does, and detection, load_dataset and `--data` say so."""
    import gzip

    from wildgan.cli import main

    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data in (("cells/data_batch_1", b"batch"), *((f"cells/good/{i:03d}.png", _png(i)) for i in range(3))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    whole = b.getvalue()
    damaged = bytearray(whole)
    damaged[whole.find(b"cells/good/000.png")] ^= 0xFF             # (the second header: its checksum fails)
    archive = tmp_path / "cells.tar"
    archive.write_bytes(bytes(damaged))
    said = (f"{archive}: not a readable tar archive or truncated (the header that follows its first 1 member, at "
            f"byte 1024 of the tar, is damaged: the members after it cannot be read)")
    for read in (dl.archive_member_names, detect_format, lambda a: load_dataset(a, dataset="folder")):
        with pytest.raises(DataError) as e:
            read(archive)
        assert str(e.value) == said
    assert main(["train", "--data", str(archive), "--dataset", "folder", "--out", str(tmp_path / "run")]) == 2
    assert said in capsys.readouterr().err
    # the other ways a listing stops early, and a gzip cut short after the tar's end (read to the file's end)
    pile = _pile_tar()
    end = -(-(pile.rfind(b"IEND") + 8) // 512) * 512
    for name, data, why in (("cut.tar", pile[:end + 100], "its data ends inside the header that follows its first 3 "
                                                          "members: cut short"),
                            ("joined.tar", pile + pile, "it holds more after its end-of-archive block"),
                            ("gzcut.tar.gz", gzip.compress(pile)[:-4], "its compressed data ends before its own "
                                                                       "end, after the end-of-archive block that "
                                                                       "follows its first 3 members: cut short, an "
                                                                       "interrupted copy or download?")):
        (tmp_path / name).write_bytes(data)
        for read in (dl.archive_member_names, load_dataset):
            with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / name))}: not a readable tar archive or "
                                                rf"truncated \({re.escape(why)}"):
                read(tmp_path / name)
    assert not _cache.exists()                                  # (refused before any unpack was begun)
    # a whole tar, and one without its end block, are listed as they were; a listing cut at its limit is not judged
    assert dl.archive_member_names(tmp_path / "cut.tar", limit=2) == ["pile/000.png", "pile/001.png"]
    (tmp_path / "noend.tar").write_bytes(pile[:end])
    assert dl.archive_member_names(tmp_path / "noend.tar") == [f"pile/{i:03d}.png" for i in range(3)]


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_names_that_differ_only_in_case_are_refused_where_the_file_system_folds_case(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """'cells/Normal/' beside 'cells/normal/' (or 'a/X.png' beside 'a/x.png') unpacked on a file system that takes
    both for one name (macOS's and Windows' by default, a FAT drive) merged the two class folders, or overwrote one
    image with the other, without a word. Refused there, naming both; where case is kept (here), both are read."""
    members = {"cells/Normal/000.png": _png(1), "cells/normal/000.png": _png(2), "cells/bad/X.png": _png(3),
               "cells/bad/x.png": _png(4)}
    archive = tmp_path / f"cells.{kind}"
    if kind == "zip":
        _zip(archive, members)
    else:
        with tarfile.open(archive, "w") as t:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    assert not dl._folds_case(tmp_path)                         # (this test's own file system keeps case apart)
    train, _, _ = load_dataset(archive)
    assert sorted(train.ids) == ["Normal/000.png", "bad/X.png", "bad/x.png", "normal/000.png"]
    monkeypatch.setattr(dl, "_folds_case", lambda folder: True)
    with pytest.raises(DataError) as e:
        dl.unpack_cached(archive, tmp_path / "mine")
    assert str(e.value) == (f"{archive}: holds 'cells/Normal/' and 'cells/normal/', names that differ only in case, "
                            f"which the file system of {tmp_path / 'mine'} does not tell apart: unpacked there, one "
                            f"would overwrite or merge into the other; rename one and make the archive again, or pass "
                            f"cache_dir= a folder on a file system that keeps case apart")
    assert not [p for p in (tmp_path / "mine").iterdir() if p.is_dir()]
    files = {"pile/X.png": _png(1), "pile/x.png": _png(2), "pile/e\u0301.png": _png(3), "pile/\u00e9.png": _png(4)}
    for pair, said in (((0, 1), "'pile/X.png' and 'pile/x.png'"), ((2, 3), "'pile/e\u0301.png' and 'pile/\u00e9.png'")):
        _zip(tmp_path / "pile.zip", {n: files[n] for n in (list(files)[i] for i in pair)})
        with pytest.raises(DataError, match=f"^{re.escape(str(tmp_path / 'pile.zip'))}: holds {said}, names that "):
            dl.safe_extract(tmp_path / "pile.zip", tmp_path / "dest")
    # names these file systems keep apart, though str.casefold() makes them one ('ß' is 'ss' to it): both unpacked
    _zip(tmp_path / "strasse.zip", {"cells/stra\u00dfe/0.png": _png(1), "cells/strasse/0.png": _png(2)})
    dl.safe_extract(tmp_path / "strasse.zip", tmp_path / "dest2")
    assert sorted(p.name for p in (tmp_path / "dest2" / "cells").iterdir()) == ["strasse", "stra\u00dfe"]


def test_an_unpack_made_before_the_case_check_is_checked_again_where_the_cache_folds_case(
        tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unpack that a wildgan before the case check made on a file system that folds case kept one of 'Normal/' and
    'normal/' (its images merged into one class) and was reused as it was. Its .source now records what made it: an
    earlier one (the archive's path alone, or no .source) is checked by listing the archive, refused where two names
    differ only in case, and otherwise kept, its .source written anew; where case is kept, it is not even listed."""
    members = {"cells/Normal/000.png": _png(1), "cells/normal/000.png": _png(2)}
    archive = tmp_path / "cells.tar"
    with tarfile.open(archive, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    tree = dl.unpack_cached(archive)
    source = _cache / f"{tree.name}.source"
    assert source.read_text() == f"{archive.resolve()}\nwildgan-unpack {dl.UNPACK_VERSION}\n"
    listed: list[Path] = []
    real_members = dl._archive_members

    def members_of(a: Path, limit: int | None) -> list[tuple[str, str, bool]]:
        listed.append(a)
        return real_members(a, limit)

    monkeypatch.setattr(dl, "_archive_members", members_of)
    for earlier in (f"{archive.resolve()}\n", None):           # (an earlier wildgan's .source, and none at all)
        monkeypatch.setattr(dl, "_EARLIER_CHECKED", {})        # (each as in a new process: the check not remembered)
        if earlier is None:
            source.unlink()
        else:
            source.write_text(earlier)
        monkeypatch.setattr(dl, "_folds_case", lambda folder: True)
        with pytest.raises(DataError) as e:
            dl.unpack_cached(archive)
        assert str(e.value) == (f"{archive}: holds 'cells/Normal/' and 'cells/normal/', names that differ only in "
                                f"case, which the file system of {_cache} does not tell apart: its unpack there "
                                f"({tree.name}, made by an earlier wildgan) kept only one of them; rename one and make "
                                f"the archive again, or set $WILDGAN_CACHE to a folder on a file system that keeps "
                                f"case apart")
        assert tree.is_dir() and (source.read_text() if source.exists() else None) == earlier     # (still refused)
        assert listed == [archive]
        monkeypatch.setattr(dl, "_folds_case", lambda folder: False)
        listed.clear()
        assert dl.unpack_cached(archive) == tree and not listed                  # (case kept: nothing to list)
        assert source.read_text() == f"{archive.resolve()}\nwildgan-unpack {dl.UNPACK_VERSION}\n"
        monkeypatch.setattr(dl, "_folds_case", lambda folder: True)
        assert dl.unpack_cached(archive) == tree and not listed                  # (checked once: not listed again)
    # an earlier unpack of an archive without such names, where case folds: listed once, then kept
    archive = _zip(tmp_path / "pile.zip", {"pile/a.png": _png(1), "pile/b.png": _png(2)})
    tree = dl.unpack_cached(archive)
    (_cache / f"{tree.name}.source").write_text(f"{archive.resolve()}\n")
    assert dl.unpack_cached(archive) == tree and dl.unpack_cached(archive) == tree and listed == [archive]
    assert (_cache / f"{tree.name}.source").read_text().endswith(f"\nwildgan-unpack {dl.UNPACK_VERSION}\n")


def test_a_cache_folder_that_cannot_be_probed_is_asked_by_its_own_name_in_another_case(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no probe file can be written (a shared cache of someone else's), whether the folder's file system folds
    case is asked by the folder's own name in another case: the same folder there, another or none elsewhere."""
    (tmp_path / "Cache").mkdir()
    (tmp_path / "cACHE").mkdir()                    # (a case-keeping system holds both: not the same folder)
    (tmp_path / "folded").mkdir()
    (tmp_path / "123").mkdir()                      # (a name without letters: nothing to ask)

    def refused(*a: object, **k: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dl.tempfile, "mkstemp", refused)
    assert not dl._folds_case(tmp_path / "Cache") and not dl._folds_case(tmp_path / "123")
    (tmp_path / "FOLDED").symlink_to(tmp_path / "folded")           # (as a file system that folds case finds it)
    assert dl._folds_case(tmp_path / "folded")


def _long_tar(first: str, n: int = 250) -> bytes:
    """A plain tar of `first`, then n small files: more than archive_member_names' first 200."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name in (first, *(f"cells/x/{i:03d}.bin" for i in range(n))):
            info = tarfile.TarInfo(name)
            info.size = 600
            t.addfile(info, io.BytesIO(bytes(range(200)) * 3))
    return b.getvalue()


def test_a_tar_cut_short_inside_a_member_is_named_as_cut_by_every_listing(tmp_path: Path, _cache: Path) -> None:
    """A tar cut short inside a member past the first 200 (the listing that detection reads first) was found by the
    second, whole listing of a tar with CIFAR batches among its first names (readers._tar_kind), and by the unpack's,
    which said tarfile's bare words: '(unexpected end of data)', or a compressed tar's decompressor's. Every listing
    says what is wrong in the words of the listing's other refusals, naming the member where the data ends."""
    import gzip

    whole = _long_tar("cells/data_batch_1")
    cut = whole[: whole.find(b"cells/x/230.bin") + 512 + 300]               # (300 bytes into member 232's data)
    (tmp_path / "cut.tar").write_bytes(cut)
    (tmp_path / "cut.tar.gz").write_bytes(gzip.compress(whole)[:len(gzip.compress(cut))])
    for name, why in (("cut.tar", "its data ends inside member 'cells/x/230.bin', the last of its first 232 members: "
                                  "cut short"),
                      ("cut.tar.gz", "its data ends after its first ")):
        archive = tmp_path / name
        assert len(dl.archive_member_names(archive)) == 200                     # (the first 200: no end judged)
        for read in (detect_format, load_dataset, lambda a: dl.archive_member_names(a, limit=None),
                     lambda a: dl.safe_extract(a, tmp_path / "dest")):
            with pytest.raises(DataError) as e:
                read(archive)
            assert str(e.value).startswith(f"{archive}: not a readable tar archive or truncated ({why}"), str(e.value)
            assert str(e.value).endswith(": cut short, an interrupted copy or download?)"), str(e.value)
    assert not _cache.exists() and not (tmp_path / "dest").exists()


def test_a_damaged_tar_guessed_from_its_first_200_names_is_refused_when_read(tmp_path: Path, _cache: Path) -> None:
    """archive_member_names' first 200 names are not judged for an early end: detection takes only a guess at the
    layout from them, and the read of an image tree unpacks it whole, which judges it: a tar damaged past its first
    200 members is refused there, not read as the part before the damage."""
    whole = _long_tar("cells/a/000.png")
    damaged = bytearray(whole)
    damaged[whole.find(b"cells/x/230.bin")] ^= 0xFF                         # (its header's checksum fails)
    archive = tmp_path / "cells.tar"
    archive.write_bytes(bytes(damaged))
    assert detect_format(archive) == "folder-tar"
    with pytest.raises(DataError) as e:
        load_dataset(archive)
    assert str(e.value) == (f"{archive}: not a readable tar archive or truncated (the header that follows its first "
                            f"231 members, at byte {whole.find(b'cells/x/230.bin')} of the tar, is damaged: the "
                            f"members after it cannot be read)")
    assert not [p for p in _cache.iterdir() if p.is_dir()]


def test_an_archive_whose_path_is_not_valid_utf8_is_unpacked_and_found_again(tmp_path: Path, _cache: Path) -> None:
    """A path of bytes that are not UTF-8 (an old Latin-1 file name on Linux), which Python holds with lone
    surrogates, failed the unpack's key with a bare UnicodeEncodeError. Its key and .source keep its own bytes."""
    archive = tmp_path / os.fsdecode(b"caf\xe9.zip")
    try:
        _zip(archive, {"pile/a.png": _png(1)})
    except OSError:
        pytest.skip("this file system takes UTF-8 names only")
    tree = dl.unpack_cached(archive)
    assert dl.unpack_cached(archive) == tree and (tree / "pile" / "a.png").is_file()
    assert dl._read_source(_cache / f"{tree.name}.source") == (str(archive.resolve()), dl.UNPACK_VERSION)


def test_an_archive_that_cannot_be_opened_is_one_line_naming_it_at_every_entry(
        tmp_path: Path, _cache: Path, scoring_pile, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A tar that tarfile cannot open at all was said in its words, one line for each compression it tried ('file
    could not be opened successfully:\\n- method gz: ...'), by the callers that do not detect the format first: the
    unpack (unpack_cached, safe_extract) and CIFAR-10's download. Each entry now says archive_problem's one line."""
    import bz2
    import gzip
    import hashlib

    from wildgan import Detector
    from wildgan.cli import main

    whole = _pile_tar()
    files = {"cut.tar.bz2": (bz2.compress(whole)[:40], r"bz2-compressed, but: its compressed data ends too soon: "
                                                       r"cut short, an interrupted copy or download\?"),
             "cut.tar.gz": (gzip.compress(whole)[:40], r"gzip-compressed, but: its compressed data ends too soon"),
             "text.tar.gz": (b"not gzip at all\n" * 40, None),
             "empty.tar.gz": (b"", None),
             "cut.zip": (_zip(tmp_path / "whole.zip", {"pile/000.png": _png(1)}).read_bytes()[:60],
                         r"it starts as a zip archive but its end is missing")}
    pile, run, _ = scoring_pile(2)
    for name, (data, why) in files.items():
        archive = tmp_path / name
        archive.write_bytes(data)
        said = {"text.tar.gz": r"not a tar archive \(neither a gzip, bz2 or xz compressed tar nor a plain one",
                "empty.tar.gz": r"empty file \(0 bytes\), not a tar archive$"}.get(name)
        said = said or rf"not a readable (tar|zip) archive or truncated \({why}"
        entries = {"safe_extract": lambda: dl.safe_extract(archive, tmp_path / "dest"),
                   "unpack_cached": lambda: dl.unpack_cached(archive),
                   "archive_member_names": lambda: dl.archive_member_names(archive),
                   "load_dataset": lambda: load_dataset(archive),
                   "Detector.fit": lambda: Detector(preset="tiny", resolution=8, device="cpu").fit(str(archive))}
        for entry, call in entries.items():
            with pytest.raises(DataError) as e:
                call()
            assert re.match(rf"{re.escape(str(archive))}: {said}", str(e.value)) and "\n" not in str(e.value), \
                (name, entry, str(e.value))
        assert main(["score", str(run), "--data", str(archive), "--out", str(tmp_path / "s.csv"), "--no-progress"]) != 0
        err = capsys.readouterr().err
        assert re.search(rf"{re.escape(str(archive))}: {said}", err) and "method gz" not in err, (name, err)
        if name.endswith(".tar.gz"):            # (CIFAR-10's archive, found in place with its md5: not downloaded)
            root = tmp_path / f"cifar-{name}"
            root.mkdir()
            (root / "cifar-10-python.tar.gz").write_bytes(data)
            with pytest.raises(DataError) as e:
                dl.download_cifar10(root, url="http://unused.invalid/", md5=hashlib.md5(data).hexdigest())
            assert re.match(rf"{re.escape(str(root / 'cifar-10-python.tar.gz'))}: {said}", str(e.value)) and \
                "\n" not in str(e.value), (name, str(e.value))
    assert not (tmp_path / "dest").exists() and not [p for p in _cache.glob("*") if p.is_dir()]


def test_detection_judges_an_archive_it_cannot_open_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """archive_member_names says an archive its reader cannot open in archive_problem's line; detection then said it
    again, reading the file once more (a damaged zip's every member, for its CRC check): the line it already has is
    kept."""
    from wildgan.data import readers

    calls: list[Path] = []
    real = dl.archive_problem

    def counted(p: Path) -> str:
        calls.append(p)
        return real(p)

    monkeypatch.setattr(dl, "archive_problem", counted)
    monkeypatch.setattr(readers, "archive_problem", counted, raising=False)     # (where detection said it itself)
    archive = tmp_path / "cut.zip"
    archive.write_bytes(_zip(tmp_path / "whole.zip", {"pile/000.png": _png(1)}).read_bytes()[:60])
    with pytest.raises(DataError, match=rf"^{re.escape(str(archive))}: not a readable zip archive or truncated \(it "
                                        r"starts as a zip archive but its end is missing"):
        detect_format(archive)
    assert calls == [archive]


def test_a_tar_cut_at_a_member_boundary_is_not_taken_as_whole_without_a_word(tmp_path: Path) -> None:
    """Copies and downloads stop at buffer sizes, multiples of tar's 512-byte blocks: a cut may fall exactly where the
    next header starts. Cut inside a member or a header, the tar is refused as cut short; cut there, it was listed
    and unpacked with its later members missing (a pile trained on fewer images) and nothing said;
    it is read with a warning."""
    from wildgan.errors import WildganWarning

    whole = tmp_path / "whole.tar"
    with tarfile.open(whole, "w", format=tarfile.USTAR_FORMAT) as t:
        for i in range(3):
            ti = tarfile.TarInfo(f"m{i}.bin")
            ti.size = 600
            t.addfile(ti, io.BytesIO(bytes([65 + i]) * 600))
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[:1536])           # (member 0: its header and 2 blocks of data; then nothing)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            dl.safe_extract(cut, tmp_path / "out")
        except DataError:
            return                                       # (refused: fine)
    unpacked = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert any(isinstance(w.message, WildganWarning) for w in said), unpacked
