"""Readers: image-folder trees, .tar.gz trees (cached), CIFAR-10 batches (restricted unpickler), .npz, load_images."""

from __future__ import annotations

import math
import os
import pickle
import re
import shutil
import tarfile
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from wildgan.data import default_sample_path, load_dataset, load_images, readers, resolve_data_root
from wildgan.data.dataset_files import CIFAR10_CLASSES, restricted_unpickle
from wildgan.data.image_decode import read_image
from wildgan.errors import ConfigError, DataError, WildganError, WildganWarning


def save(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path


def make_tree(root: Path, classes=("a", "b"), n=3, size=(8, 8), split=None, ext=".png") -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        for i in range(n):
            d = root / split / c if split else root / c
            save(d / f"{i:03d}{ext}", rng.integers(0, 256, size + (3,), dtype=np.uint8))
    return root


def make_cifar_batches(folder: Path, n_per_batch=20) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n_per_batch)],
             b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
             b"filenames": [b"x.png"] * n_per_batch}
        (folder / name).write_bytes(pickle.dumps(d, protocol=3))
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    return folder


# ------------------------------------------------------------------------------------------------ folder trees
def test_folder_tree_flat(tmp_path):
    make_tree(tmp_path / "d", classes=("cat", "dog"), n=4)
    (tmp_path / "d" / "README.txt").write_text("ignored")
    train, test, kind = load_dataset(tmp_path / "d")
    assert kind == "folder" and test is None
    assert train.x.shape == (8, 8, 8, 3) and train.x.dtype == np.uint8
    assert train.class_names == ["cat", "dog"] and train.y.tolist() == [0] * 4 + [1] * 4
    assert train.ids[0] == "cat/000.png" and train.y.dtype == np.int64


def _fake_run(run: Path) -> Path:
    """What `wildgan train` writes before it trains (config.json beside split.json), and a sample grid."""
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text('{"data": {}, "net": {"resolution": 8}, "train": {}}')
    (run / "split.json").write_text("{}")
    save(run / "samples" / "fakes-000000.128kimg.png", np.zeros((8, 8), np.uint8))
    return run


def test_a_run_or_study_folder_inside_the_data_is_not_read_as_data(tmp_path):
    """An older wildgan could write a run into its own data folder: its sample grids are not images of the data, it
    is no class, and beside a pile's images it must not turn the pile into a labelled tree (its subfolders)."""
    make_tree(tmp_path / "d", classes=("cat", "dog"), n=4)
    _fake_run(tmp_path / "d" / "run")
    _fake_run(tmp_path / "d" / "study" / "runs" / "cell")
    (tmp_path / "d" / "study" / "results.jsonl").write_text("")
    train, _, kind = load_dataset(tmp_path / "d")
    assert kind == "folder" and train.class_names == ["cat", "dog"] and len(train.x) == 8
    pile = tmp_path / "pile"
    for i in range(4):
        save(pile / f"{i}.png", np.full((8, 8), 50 * i, np.uint8))
    _fake_run(pile / "run")
    train, test, kind = load_dataset(pile)
    assert kind == "unlabelled-folder" and len(train.x) == 4 and test is None
    assert [Path(p).name for p in load_images([pile], 8, 1)[1]] == [f"{i}.png" for i in range(4)]


def test_folder_tree_train_test_and_case_insensitive_ext(tmp_path):
    make_tree(tmp_path / "d", split="train", ext=".PNG")
    make_tree(tmp_path / "d", split="test", classes=("a", "b", "c"), ext=".Jpg")
    train, test, _ = load_dataset(tmp_path / "d", "folder")
    assert test is not None and test.class_names == ["a", "b", "c"] == train.class_names
    assert len(test) == 9 and test.ids[0] == "test/a/000.Jpg"


def test_folder_wrapper_dir_and_sorted_order(tmp_path):
    root = tmp_path / "wrap" / "inner"
    for name in ("b.png", "a.png", "c.bmp", "sub/z.tif"):
        save(root / "k" / name, np.full((4, 4), 7, np.uint8))
    save(root / "j" / "x.jpeg", np.full((4, 4), 9, np.uint8))
    train, _, _ = load_dataset(tmp_path / "wrap")
    assert train.ids == ["j/x.jpeg", "k/a.png", "k/b.png", "k/c.bmp", "k/sub/z.tif"]
    assert train.x.shape == (5, 4, 4, 1)  # all gray -> 1 channel


def _red(h: int, w: int) -> np.ndarray:
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = 200                    # (colour by its pixels: an all-zero RGB array is gray content)
    return a


def test_mixed_gray_and_rgb_become_rgb(tmp_path):
    save(tmp_path / "d" / "a" / "1.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "d" / "a" / "2.png", _red(4, 4))
    save(tmp_path / "d" / "a" / "3.png", np.full((4, 4), 9, np.uint8))
    with pytest.warns(UserWarning, match=r"2 of the 3 images are gray and 1 colour \(by their pixels.*: all are "
                                         r"converted to RGB"):
        train, _, _ = load_dataset(tmp_path / "d")
    assert train.x.shape == (3, 4, 4, 3)
    train, _, _ = load_dataset(tmp_path / "d", channels=1)
    assert train.x.shape == (3, 4, 4, 1)


def test_mixed_kinds_and_sizes_name_a_file_of_the_fewer_kind_and_the_rarest_size(tmp_path):
    # one stray colour file (or one odd size) among a pile of gray crops: the warning counted it but did not say
    # which file it was, so the user could not find it
    for i in range(3):
        save(tmp_path / "d" / f"{i}.png", np.zeros((8, 8), np.uint8))
    save(tmp_path / "d" / "stray colour.png", _red(8, 8))
    save(tmp_path / "d" / "tiny.png", np.zeros((1, 1), np.uint8))
    with pytest.warns(UserWarning) as got:
        load_dataset(tmp_path / "d")
    said = [str(w.message) for w in got]
    kinds = [m for m in said if "4 of the 5 images are gray and 1 colour" in m]
    assert len(kinds) == 1 and f"; colour, e.g.: {tmp_path / 'd' / 'stray colour.png'}" in kinds[0], said
    sizes = [m for m in said if "2 different sizes" in m]
    tiny = tmp_path / "d" / "tiny.png"
    assert len(sizes) == 1 and f"(most common: 8x8 (4), 1x1 (1)), 1x1 e.g.: {tiny};" in sizes[0], said


def test_rgb_files_of_gray_content_are_gray_in_training_as_in_scoring(tmp_path):
    # an RGBA (or RGB) file of a gray scan among gray files counted as colour by its mode: the whole run went RGB
    # (3x the input), while `wildgan score` counts such a file as gray; and its content decides alike when large
    rng = np.random.default_rng(1)
    for i in range(3):
        save(tmp_path / "d" / f"{i}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
    g = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    save(tmp_path / "d" / "rgba.png", np.dstack([g, g, g, np.full_like(g, 255)]), "RGBA")
    big = np.repeat(rng.integers(0, 256, (300, 300, 1), dtype=np.uint8), 3, axis=2)
    big[..., 1] = np.clip(big[..., 1].astype(int) + 1, 0, 255)     # (RGB within 2 levels: gray content)
    save(tmp_path / "d" / "wide rgb.png", big)
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no 'colour and gray images: all converted to RGB'
        x = load_dataset(tmp_path / "d", "unlabelled", resolution=8)[0]
    assert x.x.shape == (5, 8, 8, 1) and x.info["native_gray"] is True
    # the pixels of training are those scoring reads for a gray run (gray first, then shrunk)
    ids = x.ids
    scored, _ = load_images([tmp_path / "d" / i for i in ids], 8, 1)
    assert np.array_equal(x.x, scored), np.abs(x.x.astype(int) - scored).max()
    # one file of colour content makes the run RGB, and the warning names it as the file that decided it
    save(tmp_path / "d" / "z colour.png", _red(8, 8))
    with pytest.warns(UserWarning, match="5 of the 6 images are gray and 1 colour") as got:
        x = load_dataset(tmp_path / "d", "unlabelled", resolution=8)[0]
    assert x.x.shape[3] == 3
    said = [str(w.message) for w in got if "are gray and" in str(w.message)]
    assert f"colour, e.g.: {tmp_path / 'd' / 'z colour.png'}" in said[0], said


def _mixed_tree(root: Path, gray: dict[tuple[str, str], int], n: int = 16) -> Path:
    """root/{train,test}/{a,b}/: n colour images per folder, of which gray[(split, class)] are gray instead."""
    rng = np.random.default_rng(3)
    for split in ("train", "test"):
        for c in ("a", "b"):
            for i in range(n):
                if i < gray.get((split, c), 0):
                    save(root / split / c / f"{i:03d}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
                else:
                    save(root / split / c / f"{i:03d}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return root


def test_a_few_gray_images_among_colour_ones_are_not_warned_about(tmp_path, monkeypatch):
    # every read of CIFAR-10 (1.3% gray photos) gave two warnings, one per split, advising --channels 1 for a
    # data set 98.7% colour, and so did nearly any pile of photos: gray images spread as chance spreads them, and
    # the fewer, lose nothing made RGB. A tree, its tar (decoded, then from its cache) and a pile say nothing
    tree = _mixed_tree(tmp_path / "tree", {("train", "a"): 1, ("train", "b"): 1, ("test", "b"): 1})
    tgz = tmp_path / "tree.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tree, arcname="tree")
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, test, _ = load_dataset(tree)
        for _ in ("decoded", "from the cache"):
            load_dataset(tgz)
        pile = load_dataset(tree / "train", "unlabelled")[0]
    assert train.x.shape[-1] == test.x.shape[-1] == pile.x.shape[-1] == 3
    # (one gray image alone in one class of six, none among five: chance, not a sign)
    one = _mixed_tree(tmp_path / "one", {("train", "a"): 1}, n=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(one)


@pytest.mark.parametrize("where, gray, said", [
    ("class", {("train", "b"): 12, ("test", "b"): 12}, r"gray images are 75% of class 'b' \(24 of 32\) against 0% of "
                                                       r"the other classes"),
    ("split", {("test", "a"): 8, ("test", "b"): 8}, r"gray images are 50% of the test split \(16 of 32\) against 0% "
                                                    r"of the training split"),
])
def test_gray_images_that_follow_the_labels_are_warned_about_once(tmp_path, monkeypatch, where, gray, said):
    # gray images far more common in one class or in the test split than elsewhere: a network trained mostly on
    # colour images can score them as anomalous for their missing colour, and an AUC between them measures colour.
    # Said once for the data set (not once per split), from a tar's cache too
    tree = _mixed_tree(tmp_path / "tree", gray)
    with pytest.warns(UserWarning) as got:
        load_dataset(tree)
    mixed = [str(w.message) for w in got if "gray images are" in str(w.message)]
    assert len(mixed) == 1 and re.search(said, mixed[0]), mixed
    assert f"{tree}: " in mixed[0] and "--channels 1" not in mixed[0] and "channels=1 makes them all gray" in mixed[0]
    tgz = tmp_path / "tree.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tree, arcname="tree")
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    for _ in ("decoded", "from the cache"):
        with pytest.warns(UserWarning) as got:
            load_dataset(tgz)
        mixed = [str(w.message) for w in got if "gray images are" in str(w.message)]
        assert len(mixed) == 1 and re.search(said, mixed[0]), mixed
    # chosen channels: nothing to choose, nothing said
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(tree, channels=3)


def test_the_detector_chooses_gray_by_content_and_names_a_file_of_mixed_kinds(tmp_path):
    from wildgan.data.inputs import decode_items, infer_geometry
    rng = np.random.default_rng(2)
    g = rng.integers(0, 256, (4, 8, 8, 1), dtype=np.uint8)
    items = [g[0], np.repeat(g[1], 3, axis=2), g[2]]       # an RGB array of gray content among gray
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert infer_geometry(items, 8, None) == (8, 1)
    p = save(tmp_path / "c.png", _red(8, 8))
    x, ids = decode_items([g[0], g[1], str(p)], "per-image", stats={})
    with pytest.warns(UserWarning, match="2 of the 3 images are gray and 1 colour") as got:
        assert infer_geometry(x, 8, None, ids) == (8, 3)
    assert any(f"colour, e.g.: {p}" in str(w.message) for w in got), [str(w.message) for w in got]


def test_images_far_smaller_than_the_resolution_are_named_in_a_warning(tmp_path):
    # a 1x1 file among 64x64 crops was stretched to a flat 64x64 image with only the generic mixed-sizes warning,
    # and then scored as the most normal image of the pile
    rng = np.random.default_rng(3)
    for i in range(4):
        save(tmp_path / "d" / f"{i}.png", rng.integers(0, 256, (64, 64), dtype=np.uint8))
    save(tmp_path / "d" / "dot.png", np.zeros((1, 1), np.uint8))
    save(tmp_path / "d" / "thumb.png", np.zeros((12, 9), np.uint8))     # (9 px: above 64/8, not named)
    with pytest.warns(UserWarning) as got:
        x = load_dataset(tmp_path / "d", "unlabelled")[0]
    assert len(x.x) == 6                      # kept: readable images are not dropped
    said = [str(w.message) for w in got if "far smaller" in str(w.message)]
    assert len(said) == 1 and "1 image is far smaller than the training resolution 64x64" in said[0], said
    assert f"{tmp_path / 'd' / 'dot.png'} (1x1)" in said[0] and "thumb.png" not in said[0], said
    # the Python API's fit says the same, naming the image by its index
    from wildgan.detector import Detector
    imgs = [rng.integers(0, 256, (64, 64), dtype=np.uint8) for _ in range(4)] + [np.zeros((1, 1), np.uint8)]
    with pytest.warns(UserWarning) as got:
        Detector(device="cpu")._images_split(imgs)
    said = [str(w.message) for w in got if "far smaller" in str(w.message)]
    assert len(said) == 1 and "image:4 (1x1)" in said[0] and "resolution=" in said[0], said


def test_mixed_sizes_resized(tmp_path):
    save(tmp_path / "d" / "a" / "1.png", _red(10, 12))
    save(tmp_path / "d" / "a" / "2.png", _red(20, 20))
    # the warning names the median, so a user sees why 10 px images give 16x16 and not 8x8
    with pytest.warns(UserWarning, match="2 different sizes.*resized to 16x16, the next power of two of the median "
                                         "short side, 10 px"):
        train, _, _ = load_dataset(tmp_path / "d")
    assert train.x.shape == (2, 16, 16, 3)  # next power of two of the (lower) median short side, 10
    train, _, _ = load_dataset(tmp_path / "d", resolution=8)
    assert train.x.shape == (2, 8, 8, 3)


def test_one_outsized_image_does_not_set_the_resolution(tmp_path):
    """One 64x48 photo among 28x28 digits used to make the whole run 64x64 (4x the compute), silently."""
    for i in range(5):
        save(tmp_path / "d" / "a" / f"{i}.png", np.zeros((28, 28), np.uint8))
    save(tmp_path / "d" / "a" / "big.png", np.zeros((48, 64), np.uint8))
    with pytest.warns(UserWarning, match=r"resized to 32x32.*\(choose another with resolution=\)"):
        train, _, _ = load_dataset(tmp_path / "d")
    assert train.x.shape == (6, 32, 32, 1)


def test_large_images_shrunk_while_decoding(tmp_path):
    make_tree(tmp_path / "d", n=2, size=(40, 50))
    train, _, _ = load_dataset(tmp_path / "d", resolution=16)
    assert train.x.shape == (4, 16, 16, 3)


def test_unknown_option_and_dataset(tmp_path):
    make_tree(tmp_path / "d")
    with pytest.raises(ConfigError, match="unknown data option"):
        load_dataset(tmp_path / "d", resolutoin=32)
    with pytest.raises(ConfigError, match="unknown dataset"):
        load_dataset(tmp_path / "d", "imagenet")
    with pytest.raises(DataError, match=r"dataset='npz' reads an \.npz of image arrays, but this is a folder tree of "
                                        r"class folders$"):
        load_dataset(tmp_path / "d", "npz")


def test_skip_bad_records_paths(tmp_path):
    make_tree(tmp_path / "d", n=3)
    bad = tmp_path / "d" / "a" / "bad.png"
    bad.write_bytes(b"")
    with pytest.raises(DataError, match="bad.png"):
        load_dataset(tmp_path / "d")
    train, _, _ = load_dataset(tmp_path / "d", skip_bad=True)
    assert len(train) == 6
    assert train.info["skipped"] == [{"path": str(bad), "reason": f"{bad}: empty file (0 bytes)"}]


# ------------------------------------------------------------------------------------------------ tar.gz trees
def make_tar(tmp_path: Path) -> Path:
    src = make_tree(tmp_path / "src" / "cifarish", classes=("a", "b"), n=3, split="train")
    make_tree(src, classes=("a", "b"), n=2, split="test")
    tgz = tmp_path / "tree.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src, arcname="cifarish")
    return tgz


def test_tar_tree_unpacks_once_and_caches_decoded(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path)
    train, test, kind = load_dataset(tgz)
    assert kind == "folder-tar" and len(train) == 6 and len(test) == 4
    assert train.ids[0] == "train/a/000.png"
    unpacked = [p for p in cache.iterdir() if p.is_dir()]
    decoded = list(cache.glob("*.decoded-*.npz"))
    assert len(unpacked) == 1 and len(decoded) == 1 and not list(cache.glob(".tmp-*"))
    # second load comes from the decoded cache: delete the images to prove it
    for p in (unpacked[0] / "cifarish" / "train" / "a").iterdir():
        p.unlink()
    train2, test2, _ = load_dataset(tgz)
    assert np.array_equal(train2.x, train.x) and train2.ids == train.ids and np.array_equal(test2.y, test.y)


def test_a_tar_s_decoded_cache_of_one_fit_is_not_read_for_another(tmp_path, monkeypatch):
    # images above 256 pixels are cached converted, per option set (Opts.decode_key): a cache whose key left the fit
    # out gave a letterboxed read the centre-cropped pixels of an earlier read, in silence
    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    src = make_tree(tmp_path / "src" / "tall", classes=("a", "b"), n=2, size=(300, 200))
    tgz = tmp_path / "tall.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src, arcname="tall")
    with pytest.warns(WildganWarning, match="centre-cropped"):
        cropped = load_dataset(tgz, resolution=16, fit="resize")[0].x
    boxed = load_dataset(tgz, resolution=16, fit="letterbox")[0].x
    assert np.array_equal(boxed, load_dataset(src, resolution=16, fit="letterbox")[0].x)    # as the folder reads
    with pytest.warns(WildganWarning, match="centre-cropped"):
        assert np.array_equal(cropped, load_dataset(src, resolution=16, fit="resize")[0].x)
    assert not np.array_equal(cropped, boxed) and len(list(cache.glob("*.decoded-*.npz"))) == 2


def test_a_tar_read_at_chosen_channels_does_not_say_that_its_gray_images_are_made_rgb(tmp_path, monkeypatch):
    # a tar is decoded at its native channels (one cache for every choice), and that decode said "all are converted to
    # RGB (choose gray with --channels 1)" even for a caller whose channels are chosen (the cifar10 protocol's RGB,
    # CIFAR-10's JPEG tar with 633 gray photos): advice for a choice already made, and only on the first read. A
    # folder read at chosen channels said nothing; the tar now too, and the same tar read with channels left to the
    # data still says it where it matters (its gray images the majority: mixed_channels_warning), from its cache too
    import warnings

    tgz = make_tar(tmp_path)
    src = tmp_path / "src" / "cifarish"
    save(src / "train" / "a" / "009.png", np.full((8, 8, 3), 90, np.uint8))          # gray content, RGB file
    tgz.unlink()
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src, arcname="cifarish")
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, _, _ = load_dataset(tgz, channels=3)
        load_dataset(src, channels=3)                                               # (as the folder itself reads)
    assert train.x.shape[-1] == 3 and len(train) == 7
    for i in range(10, 22):
        save(src / "train" / "a" / f"{i:03d}.png", np.full((8, 8), 10 * i, np.uint8))
    tgz.unlink()
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src, arcname="cifarish")
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache2"))
    for _ in ("decoded", "from the cache"):
        with pytest.warns(UserWarning, match=r"13 of the 23 images are gray and 10 colour .*all are converted to RGB"):
            load_dataset(tgz)


def test_a_cache_that_is_no_folder_is_named_as_the_cache(tmp_path, monkeypatch):
    # $WILDGAN_CACHE set to a file gave '[Errno 17] File exists: PATH', naming neither the cache nor the variable
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "afile"))
    (tmp_path / "afile").write_text("x")
    tgz = make_tar(tmp_path)
    with pytest.raises(DataError, match=rf"{tgz}: cannot unpack it into the cache \(\$WILDGAN_CACHE.*\) "
                                        rf"{tmp_path / 'afile'}: not a folder; point \$WILDGAN_CACHE at a writable"):
        load_dataset(tgz)
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "afile" / "sub"))     # under a file: not a directory
    # (said 'Not a directory' of the cache, which is not there: the file in the way is the one to name)
    with pytest.raises(DataError, match=rf"cannot unpack it into the cache .* {tmp_path / 'afile' / 'sub'}: "
                                        rf"{tmp_path / 'afile'} is a file, not a folder; point \$WILDGAN_CACHE at"):
        load_dataset(tgz)


def test_tar_interrupted_unpack_not_reused(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path)
    from wildgan.data import download as dl

    def boom(archive, dest, **kwargs):
        (Path(dest) / "partial").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(dl, "safe_extract", boom)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(tgz)
    assert not [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".tmp")]
    monkeypatch.undo()
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    train, _, _ = load_dataset(tgz)
    assert len(train) == 6


def test_an_archive_s_decoded_cache_is_looked_for_without_unpacking_it(tmp_path, monkeypatch):
    """data.splits.reads_decoded_cache, which evaluate weighs the cost of rebuilding a run's training images by: True
    once a read left the archive's unpack and decoded cache (its small images' native one serves any resolution and
    channels); False before it, and asking unpacks nothing; False as unlabelled images (a pile's read keeps no
    decoded cache), with other decoding options, without the decoded cache, and for the archive's changed contents."""
    from dataclasses import replace

    from wildgan.config import DataConfig
    from wildgan.data.splits import reads_decoded_cache

    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path)
    dc = DataConfig(data=str(tgz), normal=("a",), resolution=8, channels=3)
    assert not reads_decoded_cache(dc) and not cache.exists()
    assert not reads_decoded_cache(replace(dc, data=str(tmp_path / "gone.tar.gz")))
    load_dataset(tgz)
    assert reads_decoded_cache(dc) and reads_decoded_cache(replace(dc, resolution=4, channels=1))
    assert not reads_decoded_cache(replace(dc, dataset="unlabelled"))
    assert not reads_decoded_cache(replace(dc, skip_bad=True))
    t = time.time() - 60
    os.utime(tgz, (t, t))                   # (another mtime: another unpack, not made yet)
    assert not reads_decoded_cache(dc)
    load_dataset(tgz)
    assert reads_decoded_cache(dc)
    for f in cache.glob("*.decoded-*.npz"):
        f.unlink()
    assert not reads_decoded_cache(dc)


def test_a_damaged_decoded_cache_is_not_counted_as_one_to_load(tmp_path, monkeypatch):
    """has_decoded_cache counted any cache file there, one cut short or without an array the read needs too, which the
    read then decodes again: evaluate took the rebuild of a run's training images for a load, and decoded them all.
    Its zip directory, arrays and .npy headers are looked at (no pixels read)."""
    import zipfile
    from dataclasses import replace

    from wildgan.config import DataConfig
    from wildgan.data.splits import reads_decoded_cache

    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path)
    dc = DataConfig(data=str(tgz), normal=("a",), resolution=8, channels=3)
    load_dataset(tgz)
    (f,) = cache.glob("*.decoded-*.npz")
    whole = f.read_bytes()
    assert reads_decoded_cache(dc)
    f.write_bytes(whole[: len(whole) // 2])                   # cut short: no zip directory
    assert not reads_decoded_cache(dc) and not reads_decoded_cache(replace(dc, resolution=4))
    f.write_bytes(whole)
    with zipfile.ZipFile(f) as zf:                            # an array shorter than its header says
        members = {m.filename: zf.read(m) for m in zf.infolist()}
    with zipfile.ZipFile(f, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data[:-3] if name == "x_train.npy" else data)
    assert not reads_decoded_cache(dc)
    with zipfile.ZipFile(f, "w") as zf:                       # an array the read needs, missing
        for name, data in members.items():
            if name != "native_sides_train.npy":
                zf.writestr(name, data)
    assert not reads_decoded_cache(dc)
    f.write_bytes(whole)
    assert reads_decoded_cache(dc)
    # (and the read agrees: a damaged cache is decoded again, and replaced by a whole one)
    f.write_bytes(whole[:100])
    load_dataset(tgz)
    assert reads_decoded_cache(dc)


def _decoded_cache_of_a_tar(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """(a tar of a train/test tree, its one decoded cache, whole), in a cache of the test's own."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    tgz = make_tar(tmp_path)
    load_dataset(tgz)
    (f,) = (tmp_path / "cache").glob("*.decoded-*.npz")
    return tgz, f


def _rewrite_zip(f: Path, drop: str = "", add: dict[str, bytes] | None = None) -> None:
    import zipfile

    with zipfile.ZipFile(f) as zf:
        members = {m.filename: zf.read(m) for m in zf.infolist()}
    with zipfile.ZipFile(f, "w") as zf:
        for name, data in {**members, **(add or {})}.items():
            if name != drop:
                zf.writestr(name, data)


@pytest.mark.parametrize("key", readers._decoded_keys("train") + readers._decoded_keys("test"))
def test_a_decoded_cache_missing_any_one_array_it_needs_is_not_whole_and_is_decoded_again(tmp_path, monkeypatch,
                                                                                          key):
    """Each array of the one definition of what a decoded cache needs (_decoded_keys: the train set's, and the test
    set's in a cache with a test set): a cache without it is found not whole by the look that reads no pixels
    (_decoded_cache_loads) and by the load itself, which agree, and the read decodes again. A cache missing x_test
    alone was taken for one without a test set: whole to the look, and loaded without the test images."""
    tgz, f = _decoded_cache_of_a_tar(tmp_path, monkeypatch)
    assert readers._decoded_cache_loads(f) and readers._load_decoded(f) is not None
    _rewrite_zip(f, drop=f"{key}.npy")
    assert not readers._decoded_cache_loads(f)
    assert readers._load_decoded(f) is None
    train, test, _ = load_dataset(tgz)
    assert len(train) == 6 and test is not None and len(test) == 4
    assert readers._decoded_cache_loads(f) and readers._load_decoded(f) is not None      # (written again, whole)


def test_an_array_added_to_what_a_decoded_cache_needs_is_needed_by_the_load_too(tmp_path, monkeypatch):
    """The look at a decoded cache and its load need the same arrays, by one definition: the completeness check
    kept a list of its own beside the keys the load read, which one change could leave stale."""
    import io

    _, f = _decoded_cache_of_a_tar(tmp_path, monkeypatch)
    monkeypatch.setitem(readers._DECODED_SET_ARRAYS, "extra_train", (True, lambda s: np.zeros(3, np.int64)))
    assert not readers._decoded_cache_loads(f)
    assert readers._load_decoded(f) is None
    buf = io.BytesIO()
    np.save(buf, np.zeros(3, np.int64))
    _rewrite_zip(f, add={"extra_train.npy": buf.getvalue()})
    assert readers._decoded_cache_loads(f) and readers._load_decoded(f) is not None

def test_a_decoded_cache_is_written_by_the_one_definition_its_load_needs(tmp_path, monkeypatch):
    """_save_decoded wrote the cache's arrays under names of its own, beside the definition of those the load and
    the look need (then _DECODED_KEYS): a name changed in one place and not the other made every cache fail its load,
    decoded again each time without a word. Now both come of one table: what the save writes is its names, the
    needed ones among them, and an array added to it is written and needed alike."""
    import zipfile

    def names(f: Path) -> set[str]:
        with zipfile.ZipFile(f) as zf:
            return {m.filename.removesuffix(".npy") for m in zf.infolist()}

    tgz, f = _decoded_cache_of_a_tar(tmp_path, monkeypatch)
    split_names = {f"{k}_{split}" for k in readers._DECODED_SPLIT_ARRAYS for split in ("train", "test")}
    assert names(f) == set(readers._DECODED_SET_ARRAYS) | split_names
    assert set(readers._decoded_keys("train") + readers._decoded_keys("test")) < names(f)
    loaded = readers._load_decoded(f)
    assert loaded is not None and loaded[1] is not None
    train, test, _ = load_dataset(tgz)           # (from the cache: the same sets as the decode gave)
    assert np.array_equal(loaded[0].x, train.x) and loaded[0].ids == train.ids and loaded[1].ids == test.ids
    # a needed array added to the definition: the save writes it, and the look and the load need it
    monkeypatch.setitem(readers._DECODED_SPLIT_ARRAYS, "extra", (True, lambda s: np.zeros(len(s.x))))
    readers._save_decoded(f, train, test)
    assert {"extra_train", "extra_test"} <= names(f)
    assert readers._decoded_cache_loads(f) and readers._load_decoded(f) is not None
    _rewrite_zip(f, drop="extra_test.npy")
    assert not readers._decoded_cache_loads(f) and readers._load_decoded(f) is None
    # a data set without a test set: the train set's and the data set's own arrays alone
    readers._save_decoded(f, train, None)
    assert names(f) == set(readers._DECODED_SET_ARRAYS) | {f"{k}_train" for k in readers._DECODED_SPLIT_ARRAYS}
    assert readers._load_decoded(f)[1] is None


def test_a_decoded_cache_gives_back_every_array_its_save_writes(tmp_path):
    """_load_decoded spelled each array's name in the file (x_train, unread_test, ...) beside the tables the save
    and the look go by; it reads them by the tables now, each put back by _DECODED_READ: one for every array the save
    writes, and the sets it loads are those it was given, their info whole."""
    from wildgan.data.imageset import ImageSet

    assert set(readers._DECODED_READ) == set(readers._DECODED_SPLIT_ARRAYS) | set(readers._DECODED_SET_ARRAYS)
    x = np.arange(5 * 4 * 4 * 1, dtype=np.uint8).reshape(5, 4, 4, 1)
    info = {"native_sides": [[4, 4]], "n_gray_files": 3, "unread": ["b/1.png"], "tiny_images": {"n": 1},
            "skipped": [["c.png", "truncated"]]}
    train = ImageSet(x[:3], np.array([0, 1, 0]), ["a", "b"], ["a/0.png", "b/0.png", "a/1.png"],
                     info={**info, "decode_stats": {"n8": 3}, "native_gray": True,
                           "data_warnings": ["d: images of 2 different sizes"],
                           "data_warnings_worded": [{"[false, null, false]": "d: images of 2 different sizes"}]})
    test = ImageSet(x[3:], np.array([1, 0]), ["a", "b"], ["t/0.png", "t/1.png"], info=dict(info))
    f = tmp_path / "d.decoded.npz"
    for sets in ((train, test), (train, None)):
        readers._save_decoded(f, *sets)
        loaded = readers._load_decoded(f)
        assert loaded is not None and (loaded[1] is None) == (sets[1] is None)
        for got, want in zip(loaded, sets):
            if want is None:
                continue
            assert np.array_equal(got.x, want.x) and got.y.dtype == np.int64 and np.array_equal(got.y, want.y)
            assert (got.class_names, got.ids, got.info) == (want.class_names, want.ids, want.info)


def test_the_unpacks_of_an_archive_s_earlier_contents_are_removed_once_unused_for_a_day(tmp_path, monkeypatch):
    from wildgan.data import download as dl

    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path)
    load_dataset(tgz)                                           # unpacked and decoded: version 1 of the archive
    (first,) = [p for p in cache.iterdir() if p.is_dir()]
    assert (cache / f"{first.name}.source").read_text().splitlines()[0] == str(tgz.resolve())
    decoded_first = sorted(cache.glob(f"{first.name}.decoded-*.npz"))
    assert decoded_first
    other = make_tar(tmp_path / "elsewhere")                   # another archive of the same name: never touched
    other_dir = dl.unpack_cached(other, cache)
    with tarfile.open(tgz, "w:gz") as tar:                      # the archive is replaced: version 2
        tar.add(tmp_path / "src" / "cifarish", arcname="cifarish")
        tar.add(tmp_path / "src" / "cifarish" / "train" / "a" / "000.png", arcname="cifarish/train/a/extra.png")
    t = time.time() - 60
    os.utime(tgz, (t, t))
    second = dl.unpack_cached(tgz, cache)
    assert second != first and first.is_dir()                  # used within the day (a job may be reading it): kept
    old = time.time() - dl.STALE_UNPACK_S - 60
    for p in (cache / f"{first.name}.source", cache / f"{other_dir.name}.source"):
        os.utime(p, (old, old))
    assert dl.unpack_cached(tgz, cache) == second
    assert not first.exists() and not (cache / f"{first.name}.source").exists()
    assert not any(p.exists() for p in decoded_first)
    assert other_dir.is_dir() and second.is_dir()
    assert len(load_dataset(tgz)[0]) == 7


def test_the_unpack_of_an_upper_case_archive_name_made_by_an_earlier_wildgan_is_used_then_swept(tmp_path, monkeypatch):
    """A tar's suffix was stripped in lower case only, so X.TAR.GZ unpacked into X.TAR.GZ-KEY; stripped in any case
    now (X-KEY), that unpack was neither found (the archive unpacked and decoded again beside it) nor swept once the
    archive changed (kept for good). It is used as it is, with its decoded cache; once the archive's contents
    change and it is a day unused, it goes as an unpack of earlier contents does."""
    from wildgan.data import download as dl

    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path).rename(tmp_path / "TREE.TAR.GZ")
    load_dataset(tgz)
    (made,) = [p for p in cache.iterdir() if p.is_dir()]
    key = made.name.rsplit("-", 1)[1]
    assert made.name == f"TREE-{key}"
    earlier = cache / f"TREE.TAR.GZ-{key}"                     # as the earlier wildgan named it, and its files
    for p in sorted(cache.iterdir()):
        p.rename(cache / p.name.replace(made.name, earlier.name))
    assert (cache / f"{earlier.name}.source").is_file() and list(cache.glob(f"{earlier.name}.decoded-*.npz"))

    def unpacked_again(*a, **k):
        raise AssertionError("unpacked again beside the earlier unpack")

    with monkeypatch.context() as m:
        m.setattr(dl, "safe_extract", unpacked_again)
        assert dl.unpack_cached(tgz) == earlier
        train, test, _ = load_dataset(tgz)
    assert len(train) == 6 and len(test) == 4 and [p for p in cache.iterdir() if p.is_dir()] == [earlier]
    with tarfile.open(tgz, "w:gz") as tar:                      # other contents: unpacked anew, under today's name
        tar.add(tmp_path / "src" / "cifarish", arcname="cifarish")
    t = time.time() - 60
    os.utime(tgz, (t, t))
    old = time.time() - dl.STALE_UNPACK_S - 60
    os.utime(cache / f"{earlier.name}.source", (old, old))
    now = dl.unpack_cached(tgz)
    assert now.name.startswith("TREE-") and now != made and now.is_dir()
    assert not earlier.exists() and not list(cache.glob(f"{earlier.name}*"))


def _replace_tar(tgz: Path, tmp_path: Path) -> None:
    """Make the archive of make_tar again, with other contents (a minute old: another key)."""
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifarish", arcname="cifarish")
    t = time.time() - 60
    os.utime(tgz, (t, t))


def test_an_unpack_killed_before_its_source_was_written_is_still_swept(tmp_path, monkeypatch):
    """The .source was written after the unpack's rename: one killed between the two was a folder without it, which
    no sweep can tell the archive of, kept for good once the archive changed. Written before, it goes as any unpack
    of earlier contents."""
    from wildgan.data import download as dl

    cache = tmp_path / "cache"
    tgz = make_tar(tmp_path)
    real_rename = os.rename

    def killed(src, dst):
        real_rename(src, dst)
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(dl.os, "rename", killed)
        with pytest.raises(KeyboardInterrupt):
            dl.unpack_cached(tgz, cache)
    (killed_dir,) = [p for p in cache.iterdir() if p.is_dir()]
    old = time.time() - dl.STALE_UNPACK_S - 60
    for p in cache.iterdir():
        os.utime(p, (old, old))
    _replace_tar(tgz, tmp_path)
    now = dl.unpack_cached(tgz, cache)
    assert sorted(p.name for p in cache.iterdir()) == [now.name, f"{now.name}.source"]


def test_the_sweep_takes_earlier_wildgans_unpacks_and_what_is_left_of_an_unpack_whose_folder_is_gone(tmp_path):
    """What an archive's sweep left for good: a .source whose folder is gone that names another archive of that name,
    and decoded caches whose folder and .source are both gone. Once a day old they go; so does an earlier wildgan's
    unpack of the archive (a .source of its path alone). Kept: a folder without .source (an older wildgan's, of an
    archive not known, which that wildgan may be reading), another archive's unpack, and what was used within the
    day."""
    from wildgan.data import download as dl

    cache = tmp_path / "cache"
    tgz = make_tar(tmp_path)
    dl.unpack_cached(tgz, cache)
    for name, source, folder in (("v1", f"{tgz.resolve()}\n", True),          # an earlier wildgan's, of this archive
                                 ("v0", None, True),                           # no .source: not known whose
                                 ("theirs", f"{tmp_path / 'b' / 'tree.tar.gz'}\nwildgan-unpack 2\n", True),
                                 ("orphan", f"{tmp_path / 'gone' / 'tree.tar.gz'}\nwildgan-unpack 2\n", False),
                                 ("recent", f"{tmp_path / 'gone' / 'tree.tar.gz'}\nwildgan-unpack 2\n", False),
                                 ("decoded", None, False), ("recent-decoded", None, False)):
        p = cache / f"tree-{name}"
        if folder:
            (p / "cifarish").mkdir(parents=True)
        if source is not None:
            (cache / f"{p.name}.source").write_text(source)
        (cache / f"{p.name}.decoded-v9-0123456789.npz").write_bytes(b"x")
    old = time.time() - dl.STALE_UNPACK_S - 60
    for p in cache.iterdir():
        if "recent" not in p.name:
            os.utime(p, (old, old))
    _replace_tar(tgz, tmp_path)
    now = dl.unpack_cached(tgz, cache)
    left = sorted(p.name for p in cache.iterdir())
    kept = {"tree-v0": 2, "tree-theirs": 3, "tree-recent": 2, "tree-recent-decoded": 1, now.name: 2}
    assert len(left) == sum(kept.values()), left
    for name, n in kept.items():
        assert len([x for x in left if x == name or x.startswith(name + ".")]) == n, (name, left)


def test_decoded_caches_of_earlier_decoding_rules_are_removed(tmp_path, monkeypatch):
    from wildgan.data import imageset

    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path)
    load_dataset(tgz)
    (tree,) = [p for p in cache.iterdir() if p.is_dir()]
    now = sorted(cache.glob(f"{tree.name}.decoded-*.npz"))
    assert now and all(p.name.startswith(f"{tree.name}.decoded-v{imageset.DECODE_CACHE_VERSION}-") for p in now)
    stale = [cache / f"{tree.name}.decoded-0123456789.npz", cache / f"{tree.name}.decoded-v6-0123456789.npz"]
    newer = cache / f"{tree.name}.decoded-v{imageset.DECODE_CACHE_VERSION + 1}-0123456789.npz"    # another wildgan's
    for p in (*stale, newer):
        p.write_bytes(b"old")
    load_dataset(tgz, resolution=8)                            # another option set: a new cache file is written
    assert not any(p.exists() for p in stale) and all(p.exists() for p in now) and newer.exists()


def test_decoded_caches_named_before_the_decoders_keyed_them_are_removed(tmp_path, monkeypatch):
    """A cache of reader version 7 written before its name was keyed by the decoders too (an earlier wildgan's,
    `NAME.decoded-v7-KEY.npz` as this one's) is never read again: it was kept for good, a copy of the whole data set
    on disk for each option set, as a cache of the same rules is."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tgz = make_tar(tmp_path)
    load_dataset(tgz)
    (tree,) = [p for p in cache.iterdir() if p.is_dir()]
    before = cache / f"{tree.name}.decoded-v7-0123456789.npz"
    before.write_bytes(b"old")
    load_dataset(tgz, resolution=8)
    assert not before.exists()


def test_a_decoded_cache_written_under_other_decoders_is_decoded_again(tmp_path, monkeypatch):
    """The cache was keyed by the reader version only: pixels another Pillow/libjpeg decoded (a level apart) were
    read back and recorded in split.json as this one's, so once the cache was gone a resume on the same files was
    refused as "the files themselves changed"."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split, imageset, split_differences, split_summary, splits

    def decoders(name: str) -> None:
        for module in (imageset, splits):
            monkeypatch.setattr(module, "decoder_versions", lambda: name)

    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    tree = make_tree(tmp_path / "src" / "t", n=16, split="train")
    make_tree(tree, n=2, split="test")
    with tarfile.open(tmp_path / "t.tar.gz", "w:gz") as tar:
        tar.add(tree, arcname="t")
    cfg = DataConfig(data=str(tmp_path / "t.tar.gz"), normal=("a",))
    decoders("Pillow old")
    real = build_split(cfg).train_x
    (written,) = cache.glob("*.decoded-*.npz")
    with np.load(written) as z:                       # what the old decoders made: a level off this one's
        arrays = dict(z)
    arrays["x_train"] = arrays["x_train"] ^ np.uint8(1)
    np.savez(written, **arrays)
    decoders("Pillow new")
    s = build_split(cfg)
    assert np.array_equal(s.train_x, real)            # decoded by the new decoders, not read from the old cache
    recorded = split_summary(s)
    decoders("Pillow old")                            # the old decoders' cache is kept, and still theirs
    assert not np.array_equal(build_split(cfg).train_x, real)
    decoders("Pillow new")
    for f in cache.glob("*.decoded-*.npz"):
        f.unlink()
    assert split_differences(build_split(cfg), recorded) == []     # the same files, the same decoders: no change


def test_tar_unpack_takes_back_a_killed_unpack_and_names_a_full_disk(tmp_path, monkeypatch):
    import errno

    from wildgan.data import download as dl

    cache = tmp_path / "cache"
    tgz = make_tar(tmp_path)
    stem = tgz.name.split(".")[0]
    cache.mkdir()
    old, recent = cache / f".tmp-{stem}-killed", cache / f".tmp-{stem}-running"
    for d in (old, recent):
        d.mkdir()
        (d / "x").write_bytes(b"0" * 100)
    # (a day passes: the sweep goes by the folder's last change of any kind, its ctime too, which no test can set
    # back, so its clock goes on instead, and the running one is written to then)
    later = time.time() + dl.STALE_UNPACK_S + 60
    os.utime(recent, (later - 60, later - 60))
    with monkeypatch.context() as m:
        m.setattr(dl, "time", types.SimpleNamespace(time=lambda: later))
        dl.unpack_cached(tgz, cache)
    assert not old.exists() and recent.exists()        # a day-old unfinished unpack goes; one that may run stays

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dl.tarfile.TarFile, "extractall", full)
    with pytest.raises(DataError, match=r"could not write its unpacked files into .*free space there or make it "
                                        r"writable, or unpack it into another folder$") as e:
        dl.safe_extract(tgz, tmp_path / "dest")
    assert "not a readable tar archive" not in str(e.value)

    def unreadable(*a, **k):                          # the archive itself cannot be read: not the destination's fault
        raise PermissionError(errno.EACCES, "Permission denied", str(tgz))

    monkeypatch.setattr(dl.tarfile, "open", unreadable)
    with pytest.raises(DataError, match=r"tree\.tar\.gz: cannot read it \(\[Errno 13\] Permission denied\)$"):
        dl.safe_extract(tgz, tmp_path / "dest")


def test_tar_cache_key_changes_with_mtime(tmp_path, monkeypatch):
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    tgz = make_tar(tmp_path)
    load_dataset(tgz)
    os.utime(tgz, (time.time() + 100, time.time() + 100))
    load_dataset(tgz)
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 2


# ------------------------------------------------------------------------------------------------ CIFAR batches
def test_cifar_batches_dir_parent_and_tar(tmp_path, monkeypatch):
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    folder = make_cifar_batches(tmp_path / "c" / "cifar-10-batches-py")
    train, test, kind = load_dataset(folder)
    assert kind == "cifar-batches" and train.x.shape == (100, 32, 32, 3) and len(test) == 20
    assert train.class_names == CIFAR10_CLASSES and train.ids[5] == "cifar10:train:5"
    raw = restricted_unpickle(folder / "data_batch_1")[b"data"]
    assert np.array_equal(train.x[0, :, :, 0].ravel(), raw[0, :1024])  # planar R channel
    t2, _, _ = load_dataset(tmp_path / "c", "cifar-batches")
    assert np.array_equal(t2.x, train.x)
    tgz = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    t3, _, kind3 = load_dataset(tgz)
    assert kind3 == "cifar-batches" and np.array_equal(t3.x, train.x)


def test_a_tar_is_cifar_by_the_folder_rule(tmp_path, monkeypatch):
    """A tar archive is CIFAR-10's batches by the rule a folder is (batch files at its top, in its one top folder or
    in a cifar-10-batches-py folder), and refused with images beside them, naming the archive. A batch-named stray
    file inside an image tree used to make the whole archive read as batches ('not a complete cifar-10-batches-py
    folder', naming the unpack cache)."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))

    def tar(name: str, folder: Path, arcname: str) -> Path:
        out = tmp_path / name
        with tarfile.open(out, "w:gz") as t:
            t.add(folder, arcname=arcname)
        return out

    make_tree(tmp_path / "tree", classes=("cat", "dog"), n=4)
    (tmp_path / "tree" / "cat" / "data_batch_1").write_bytes(b"not a batch")
    train, _, kind = load_dataset(tar("stray.tar.gz", tmp_path / "tree", "tree"))
    assert kind == "folder-tar" and len(train) == 8
    batches = make_cifar_batches(tmp_path / "mine")                    # a top folder not named cifar-10-batches-py
    train, test, kind = load_dataset(tar("mine.tar.gz", batches, "mine"))
    assert kind == "cifar-batches" and train.x.shape == (100, 32, 32, 3) and len(test) == 20
    (tmp_path / "tree" / "data_batch_1").write_bytes(b"beside the classes")
    with pytest.raises(DataError) as e:
        load_dataset(tar("mixed.tar.gz", tmp_path / "tree", "tree"))
    assert str(e.value).startswith(f"{tmp_path / 'mixed.tar.gz'}: holds both image files (e.g. tree/cat/")
    assert "CIFAR-10 batches (tree/data_batch_1)" in str(e.value) and "cache" not in str(e.value)
    shutil.copytree(batches, tmp_path / "tree" / "cifar-10-batches-py")   # images beside a batch folder, past 200 names
    for i in range(200):
        (tmp_path / "tree" / "cifar-10-batches-py" / f"note{i:03d}.txt").write_text("x")
    (tmp_path / "tree" / "data_batch_1").unlink()
    shutil.rmtree(tmp_path / "tree" / "cat")                          # (its images came before the batch folder)
    with pytest.raises(DataError, match=r"holds both image files \(e\.g\. tree/dog/.*tree/cifar-10-batches-py/data_b"):
        load_dataset(tar("mixed2.tar.gz", tmp_path / "tree", "tree"))
    # batches after the first 200 names, past the images: refused on the unpack (image_tar_tree), by every read of it
    make_tree(tmp_path / "big", classes=("a", "b"), n=101)
    (tmp_path / "big" / "data_batch_1").write_bytes(b"after 202 images")
    big = tar("big.tar.gz", tmp_path / "big", "big")
    want = (f"{big}:big: holds both image files (e.g. a/000.png) and CIFAR-10 batches (data_batch_1), so which to "
            f"read is not clear: make the archive again without one of them")
    from wildgan.data.readers import is_pile, listed_labels

    for read in (lambda: load_dataset(big), lambda: load_dataset(big, "unlabelled"), lambda: is_pile(big)):
        with pytest.raises(DataError) as e:
            read()
        assert str(e.value).startswith(want), str(e.value)
    assert listed_labels(big) is None                 # (as load_dataset refuses it: the read says why)


def test_a_tar_of_only_an_npz_lists_no_labels(tmp_path, monkeypatch):
    """A tar holding only an .npz is refused by the read (an archive is read as image folders); listing its labels
    said ('folder-tar', []), a labelled tree without classes, where it must say None as for every refused read."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    from wildgan.data.readers import listed_labels

    npz = tmp_path / "d.npz"
    np.savez(npz, x=np.zeros((4, 8, 8, 3), np.uint8), y=np.array([0, 1, 0, 1]))
    out = tmp_path / "npz.tar.gz"
    with tarfile.open(out, "w:gz") as t:
        t.add(npz, arcname="d.npz")
    with pytest.raises(DataError, match="no image files"):
        load_dataset(out)
    assert listed_labels(out) is None


def test_a_batch_tar_made_on_macos_reads_and_an_incomplete_one_names_the_archive(tmp_path, monkeypatch):
    """A tar of one folder of batches made on macOS has hidden ('._mine', AppleDouble) or __MACOSX entries beside
    that folder at its top; they are skipped, as every folder walk skips them, so its one top folder is still the
    batches' (they made it read as an image tree: 'class folder contains no image files'). An incomplete archive of
    batches is named in the error, not its unpack in the cache."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    from wildgan.data.readers import listed_labels

    batches = make_cifar_batches(tmp_path / "mine")
    for i, extra in enumerate(("._mine", "__MACOSX/mine/._data_batch_1", ".DS_Store")):
        out = tmp_path / f"mac{i}.tar.gz"
        with tarfile.open(out, "w:gz") as t:
            t.add(batches, arcname="mine")
            (tmp_path / "x").write_bytes(b"\0\5\26\7")
            t.add(tmp_path / "x", arcname=extra)
        train, test, kind = load_dataset(out)
        assert kind == "cifar-batches" and len(train) == 100 and len(test) == 20, extra
        assert listed_labels(out)[0] == "cifar-batches", extra
    (batches / "test_batch").unlink()
    for name, arcname in (("part.tar.gz", "mine"), ("part-top.tar.gz", ".")):
        with tarfile.open(tmp_path / name, "w:gz") as t:
            t.add(batches, arcname=arcname)
        for dataset in ("auto", "unlabelled"):
            with pytest.raises(DataError, match=r"not a complete cifar-10-batches-py folder") as e:
                load_dataset(tmp_path / name, dataset)
            assert str(e.value).startswith(str(tmp_path / name)) and "cache" not in str(e.value), str(e.value)


def test_unlabelled_reads_cifar_batches_whole(tmp_path, monkeypatch):
    """--dataset unlabelled refused CIFAR-10's batches ('looks like a cifar-batches data set'), which it reads in an
    .npz, and which Detector.fit reads whole and records as unlabelled: that run's config could not be replayed.
    Every image now, the training batches then the test batch, labels ignored, from the folder or its archive."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split
    from wildgan.data.readers import FORMATS

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    folder = make_cifar_batches(tmp_path / "c" / "cifar-10-batches-py")
    train, test, _ = load_dataset(folder)
    tgz = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    for p in (folder, tmp_path / "c", tgz):
        pile, none, kind = load_dataset(p, "unlabelled")
        assert kind == "unlabelled-cifar-batches" and kind in FORMATS and none is None, p
        assert np.array_equal(pile.x, np.concatenate([train.x, test.x])) and pile.ids == train.ids + test.ids
        assert pile.class_names == ["unlabelled"] and not pile.y.any()
    # the read options apply as to the labelled read (shrunk to the resolution asked), and it is an unlabelled split
    small, _, _ = load_dataset(folder, "unlabelled", resolution=16, channels=1)
    assert small.x.shape == (120, 16, 16, 1)
    split = build_split(DataConfig(data=str(folder), dataset="unlabelled"))
    assert split.info["protocol"] == "unlabelled" and len(split.train_x) == 120 and len(split.test_x) == 0
    assert split.info["native_sides"] == [32, 32]


def test_cifar_labels_beyond_the_class_names_of_batches_meta_are_refused_naming_the_files(tmp_path):
    """A batches.meta naming fewer classes than the batches' labels reach was accepted: the class of label 9 was
    then looked up past the names (an IndexError far from the data) or, in a split by name, a wrong class. Refused
    on the read, naming the batch and batches.meta; a label_names that is not a list of names too."""
    from wildgan.data.readers import listed_labels

    folder = make_cifar_batches(tmp_path / "cifar-10-batches-py")
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES[:5]], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    with pytest.raises(DataError) as e:
        load_dataset(folder)
    assert str(e.value).startswith(f"{folder / 'data_batch_1'}: labels up to 9, but {folder / 'batches.meta'} "
                                   f"names 5 classes (label_names)"), str(e.value)
    # more names than the labels reach is sound (a class without images)
    meta[b"label_names"] = [c.encode() for c in CIFAR10_CLASSES] + [b"unicorn"]
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    train, test, _ = load_dataset(folder)
    assert train.class_names[-1] == "unicorn" and len(train) == 100 and len(test) == 20
    # two classes of one name (--normal cat took the first, the second one's images anomalies): refused
    meta[b"label_names"] = [c.encode() for c in CIFAR10_CLASSES[:9]] + [b"cat"]
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    with pytest.raises(DataError, match=re.escape(f"{folder / 'batches.meta'}: label_names names 'cat' twice "
                                                  f"(classes 3 and 9): give each class a name of its own")):
        load_dataset(folder)
    meta[b"label_names"] = 7
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=3))
    with pytest.raises(DataError, match=re.escape(f"{folder / 'batches.meta'}: 'label_names' must be a list of "
                                                  f"class names, got int")):
        load_dataset(folder)
    assert listed_labels(folder) is None              # (as the read refuses it)


def test_an_unlabelled_read_of_cifar_batches_does_not_read_their_labels(tmp_path):
    """--dataset unlabelled reads CIFAR-10's batches with their labels ignored, as it reads a labelled .npz: damaged
    labels (outside 0..9, one short, more than batches.meta names) or an unreadable batches.meta refused the pile,
    whose reading never uses them. The images and ids are those of the labelled read."""
    folder = make_cifar_batches(tmp_path / "cifar-10-batches-py")
    train, test, _ = load_dataset(folder)
    want = np.concatenate([train.x, test.x])
    d = restricted_unpickle(folder / "data_batch_2")
    (folder / "data_batch_2").write_bytes(pickle.dumps({**d, b"labels": d[b"labels"][:-1]}, protocol=3))
    d = restricted_unpickle(folder / "test_batch")
    (folder / "test_batch").write_bytes(pickle.dumps({**d, b"labels": [12] * len(d[b"labels"])}, protocol=3))
    (folder / "batches.meta").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="batches.meta: refusing to unpickle"):   # (the labelled read: refused)
        load_dataset(folder)
    pile, _, kind = load_dataset(folder, "unlabelled")
    assert kind == "unlabelled-cifar-batches" and np.array_equal(pile.x, want)
    assert pile.ids == train.ids + test.ids and pile.class_names == ["unlabelled"] and not pile.y.any()


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvilOpen:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("evil", [_Evil, _EvilOpen])
def test_restricted_unpickler_refuses_code(tmp_path, evil):
    marker = tmp_path / "pwned"
    folder = make_cifar_batches(tmp_path / "cifar-10-batches-py")
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": evil(marker)}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_3.*refusing to unpickle.*not allowed"):
        load_dataset(folder)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------------ npz
def test_npz_single_and_split_forms(tmp_path):
    p1 = tmp_path / "one.npz"
    np.savez(p1, x=np.zeros((6, 5, 5), np.uint8), y=np.array([0, 1, 2, 0, 1, 2]),
             image_id=np.array([1, 1, 2, 2, 3, 3]), is_anomaly=np.array([0, 1, 1, 0, 1, 1]),
             class_names=np.array(["n", "p", "q"]))
    train, test, kind = load_dataset(p1)
    assert kind == "npz" and test is None and train.x.shape == (6, 5, 5, 1)
    assert train.group.tolist() == [1, 1, 2, 2, 3, 3] and train.is_anomaly.dtype == np.int8
    assert train.ids[2] == "one:all:2" and train.class_names == ["n", "p", "q"]
    p2 = tmp_path / "two.npz"
    np.savez(p2, x_train=np.zeros((4, 3, 6, 6), np.float32), y_train=np.array([0, 1, 0, 1], np.uint8),
             x_test=np.ones((2, 3, 6, 6), np.float32), y_test=np.array([1, 0]))
    train, test, _ = load_dataset(p2)
    assert train.x.shape == (4, 6, 6, 3) and test.x.max() == 255 and train.class_names == ["0", "1"]
    assert test.ids == ["two:test:0", "two:test:1"]


def test_npz_string_labels(tmp_path):
    p = tmp_path / "s.npz"
    np.savez(p, x=np.zeros((3, 4, 4), np.uint8), y=np.array(["dog", "cat", "dog"]))
    train, _, _ = load_dataset(p)
    assert train.class_names == ["cat", "dog"] and train.y.tolist() == [1, 0, 1]


def test_sample_and_data_root(monkeypatch, tmp_path):
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    assert resolve_data_root(None) == default_sample_path()
    assert default_sample_path().is_file() and default_sample_path().stat().st_size < 3e6
    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path))
    assert resolve_data_root(None) == tmp_path
    assert resolve_data_root("x/y") == Path("x/y")
    # a root of several data sets: a relative --data is looked up under it, and --dataset NAME finds NAME/'s one file
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "m.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.array([0, 1]))
    (tmp_path / "cifar10").mkdir()
    for name in ("a.npz", "b.tar.gz"):
        (tmp_path / "cifar10" / name).write_bytes(b"x")
    monkeypatch.chdir(tmp_path / "cifar10")
    assert resolve_data_root("mnist/m.npz") == tmp_path / "mnist" / "m.npz"       # not in the current folder
    assert resolve_data_root("a.npz") == Path("a.npz")                            # in it: as given
    assert resolve_data_root(None, "mnist") == tmp_path / "mnist" / "m.npz"
    with pytest.raises(DataError,
                       match=r"2 data sets for dataset='cifar10' .*\(a.npz, b.tar.gz\).*data='cifar10/a.npz'"):
        resolve_data_root(None, "cifar10")
    # without a choice, not read as one tree of class folders named cifar10/ and mnist/ (a misleading error after)
    with pytest.raises(DataError, match=r"\$WILDGAN_DATA \(.*\) holds data sets \(cifar10, mnist\): choose one with "
                                        r"dataset='cifar10' or data='cifar10/FILE'"):
        resolve_data_root(None, "auto")
    with pytest.raises(DataError, match=r"dataset='chula-rbc12' finds none under it"):
        resolve_data_root(None, "chula-rbc12")
    # a root of unrelated folders, no data set in it: it was read as a tree of class folders and refused naming one
    # of them ('other/b: class folder contains no image files'), not the data set --dataset names
    other = tmp_path / "other"
    (other / "a").mkdir(parents=True)
    (other / "a" / "notes.txt").write_text("x")
    (other / "b").mkdir()
    monkeypatch.setenv("WILDGAN_DATA", str(other))
    with pytest.raises(DataError, match=r"dataset='mnist' finds no .*other/mnist, and .*other holds no data set "
                                        r"itself \(no image, .npz or archive files in it\)"):
        load_dataset(resolve_data_root(None, "mnist"))
    # a class tree of images there is the data set itself, as before
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(other / "a" / "0.png")
    assert resolve_data_root(None, "mnist") == other
    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"nothere.npz: no such file or folder, here or under \$WILDGAN_DATA"):
        load_dataset("nothere.npz")
    (tmp_path / "cifar10" / "cifar-10-batches-py").mkdir()                        # the download's usual layout:
    assert resolve_data_root(None, "cifar10") == tmp_path / "cifar10" / "cifar-10-batches-py"   # one data set
    from wildgan.data.readers import absolute_data_path

    assert absolute_data_path(None, "mnist") == str(tmp_path / "mnist" / "m.npz")  # what the run records
    assert absolute_data_path("mnist/m.npz") == str(tmp_path / "mnist" / "m.npz")
    monkeypatch.delenv("WILDGAN_DATA")
    assert absolute_data_path(None) == "wildgan:mnist-sample"                     # the embedded sample, by name
    assert absolute_data_path(str(default_sample_path())) == "wildgan:mnist-sample"   # ... also named by its path
    assert resolve_data_root("wildgan:mnist-sample") == default_sample_path()
    # ... and by its path in another installation (a reinstall elsewhere, a moved checkout), there or gone: this one's
    elsewhere = "/gone/venv/lib/python3.11/site-packages/wildgan/data/sample/mnist-sample.npz"
    assert absolute_data_path(elsewhere) == "wildgan:mnist-sample"
    assert resolve_data_root(elsewhere) == default_sample_path()
    # (a file of that name elsewhere is not the sample: the path must be the package's)
    (tmp_path / "sample").mkdir()
    np.savez(tmp_path / "sample" / "mnist-sample.npz", x_train=np.zeros((4, 8, 8), np.uint8), y_train=np.zeros(4))
    assert absolute_data_path(str(tmp_path / "sample" / "mnist-sample.npz")) == str(tmp_path / "sample" /
                                                                                    "mnist-sample.npz")
    train, test, kind = load_dataset(None)
    assert kind == "npz" and train.x.shape == (6000, 28, 28, 1) and test.x.shape == (2000, 28, 28, 1)
    assert np.bincount(train.y).tolist() == [600] * 10 and np.bincount(test.y).tolist() == [200] * 10



def test_a_root_holding_only_a_download_s_leftovers_holds_no_data_set(monkeypatch, tmp_path):
    """$WILDGAN_DATA without the folder --dataset names, holding only what a CIFAR-10 download leaves (a
    cifar-10-batches-py cut short that it moved aside, a killed call's .tmp-cifar10-* unpack and partial download):
    _holds_data counted the batches inside them as data, so the root was read as a class tree and refused a folder
    the user never meant as a class. The readers skip those names (download.is_cifar_download_leftover), and so
    does _holds_data: the error says the data set is missing and how to fetch it."""
    from wildgan.data import download as dl

    root = tmp_path / "data"
    aside = root / dl._cifar_aside_name("20261205-120000", 2)
    unpack = root / ".tmp-cifar10-abc" / "cifar-10-batches-py"
    for d in (aside, unpack):
        d.mkdir(parents=True)
        (d / "data_batch_1").write_bytes(b"batch")
    save(aside / "x.png", np.zeros((4, 4, 3), np.uint8))          # (an image the user left there is no data set)
    partial = root / ".cifar-10-python.tar.gz.xyz.tmp"
    partial.write_bytes(b"part")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("x")
    assert all(dl.is_cifar_download_leftover(p.name) for p in (aside, unpack.parent, partial))
    monkeypatch.setenv("WILDGAN_DATA", str(root))
    for dataset, fetch in (("cifar10", r" \(with download=True to fetch CIFAR-10 there"), ("mnist", "$")):
        with pytest.raises(DataError, match=rf"dataset='{dataset}' finds no .*data/{dataset}, and .*data holds no data "
                                            rf"set itself \(no image, .npz or archive files in it\).*{fetch}"):
            resolve_data_root(None, dataset)
    save(root / "notes" / "0.png", np.zeros((4, 4), np.uint8))    # a class folder of images: the root is the data set
    assert resolve_data_root(None, "mnist") == root


def test_a_download_s_leftover_file_is_not_read_whatever_its_name_starts_with(monkeypatch, tmp_path):
    """The walk of a data folder skipped a CIFAR-10 download's leftover folders by their one definition
    (download.is_cifar_download_leftover) but its files only for a name that starts with a dot, which the partial
    download's does today: a pattern of the download's without the dot would have been read as data. Here that
    pattern names images, which a pile's read, load_images and the walk itself leave out."""
    from wildgan.data import download as dl

    monkeypatch.setattr(dl, "_CIFAR_PARTIAL_GLOB", "cifar-10-python.tar.gz.*.png")
    pile = tmp_path / "pile"
    for i in range(3):
        save(pile / f"{i}.png", np.full((8, 8), 50 * i, np.uint8))
    save(pile / "cifar-10-python.tar.gz.abc.png", np.full((8, 8), 255, np.uint8))
    assert dl.is_cifar_download_leftover("cifar-10-python.tar.gz.abc.png")
    assert [names for _, names in readers.walk_data_folder(pile)] == [["0.png", "1.png", "2.png"]]
    train, test, kind = load_dataset(pile)
    assert kind == "unlabelled-folder" and len(train.x) == 3 and test is None
    assert [Path(p).name for p in load_images([pile], 8, 1)[1]] == [f"{i}.png" for i in range(3)]


def test_holds_data_stops_at_the_first_data_file_whatever_the_file_system_s_order(monkeypatch, tmp_path):
    """_holds_data answers yes at the first data file of a top-down walk in sorted order: a data set's tree beside
    many other folders is not walked through them first. The file system here lists each folder in reverse order
    (any order is a file system's to choose), which made the walk enter every other folder before the data's."""
    from wildgan.data import readers

    save(tmp_path / "a" / "0.png", np.zeros((4, 4), np.uint8))
    for i in range(20):
        (tmp_path / f"z{i:02d}" / "deep" / "deeper").mkdir(parents=True)
    (tmp_path / ".cache" / "many").mkdir(parents=True)
    listed: list[str] = []
    real = os.scandir

    class Reversed:
        """An os.scandir iterator listing the folder in reverse name order, counted."""

        def __init__(self, path):
            listed.append(os.fspath(path))
            with real(path) as it:
                self.entries = iter(sorted(it, key=lambda e: e.name, reverse=True))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.entries)

        def close(self):
            pass

    monkeypatch.setattr(os, "scandir", lambda path=".": Reversed(path))
    assert readers._holds_data(tmp_path)
    assert len(listed) <= 2, listed                                # the root, then a/ (not z00/ ... nor .cache/)

# ------------------------------------------------------------------------------------------------ load_images
def test_chula_rbc12_folder_with_its_download_zip_beside_the_npz_takes_the_npz(monkeypatch, tmp_path):
    """$WILDGAN_DATA/chula-rbc12/ holding the prepared .npz and the original download (a zip of smear photos) took
    the .npz until zips were read as data, then was refused as "2 data sets". The chula-rbc12 protocol needs photo
    ids, which only an .npz holds: an archive beside one is no data set of it. Two .npz files stay ambiguous, an
    archive alone is still the one found (for the protocol to refuse by name), and for the other data sets an .npz
    and an archive are two data sets, as before."""
    from wildgan.data.readers import absolute_data_path

    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path))
    sub = tmp_path / "chula-rbc12"
    sub.mkdir()
    (sub / "Chula-RBC-12-Dataset-main.zip").write_bytes(b"PK")
    assert resolve_data_root(None, "chula-rbc12") == sub / "Chula-RBC-12-Dataset-main.zip"
    (sub / "cells.tar.gz").write_bytes(b"x")
    with pytest.raises(DataError, match=r"2 data sets for dataset='chula-rbc12'"):
        resolve_data_root(None, "chula-rbc12")
    np.savez(sub / "chula.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.array([0, 1]),
             is_anomaly=np.array([0, 1]), image_id=np.array([0, 1]))
    assert resolve_data_root(None, "chula-rbc12") == sub / "chula.npz"
    assert absolute_data_path(None, "chula-rbc12") == str(sub / "chula.npz")
    (sub / "Chula.NPZ").write_bytes(b"x")
    with pytest.raises(DataError, match=r"2 data sets for dataset='chula-rbc12' .*\(Chula.NPZ, chula.npz\)"):
        resolve_data_root(None, "chula-rbc12")
    (tmp_path / "mnist").mkdir()
    for name in ("m.npz", "m.zip"):
        (tmp_path / "mnist" / name).write_bytes(b"x")
    with pytest.raises(DataError, match=r"2 data sets for dataset='mnist' .*\(m.npz, m.zip\)"):
        resolve_data_root(None, "mnist")


def test_load_images_files_and_folders(tmp_path):
    make_tree(tmp_path / "d", n=2, size=(20, 30))
    single = save(tmp_path / "one.jpg", np.zeros((8, 8), np.uint8))
    x, ids = load_images([single, tmp_path / "d"], 16, 3)
    assert x.shape == (5, 16, 16, 3) and ids[0] == str(single) and ids[1].endswith("a/000.png")
    x, _ = load_images([single], 32, 1, fit="pad")
    assert x.shape == (1, 32, 32, 1)
    with pytest.raises(DataError, match="nope.png"):
        load_images([tmp_path / "nope.png"], 16, 1)


def test_load_images_skip_bad(tmp_path):
    good = save(tmp_path / "g.png", np.zeros((8, 8), np.uint8))
    bad = tmp_path / "b.png"
    bad.write_text("not a png")
    with pytest.warns(UserWarning, match="b.png"):
        x, ids = load_images([good, bad], 8, 1, skip_bad=True)
    assert ids == [str(good)]


# ------------------------------------------------------------------------------------------------ properties
MODES = ["L", "RGB", "RGBA", "LA", "P", "1", "I;16", "CMYK"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 48), w=st.integers(1, 48), mode=st.sampled_from(MODES),
       fmt=st.sampled_from(["png", "tiff", "jpeg", "bmp"]), res=st.sampled_from([4, 16, 32]),
       channels=st.sampled_from([1, 3]), seed=st.integers(0, 2**16))
def test_any_image_round_trips_to_shape(tmp_path, h, w, mode, fmt, res, channels, seed):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    elif mode == "P":
        img = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode == "CMYK":
        img = Image.fromarray(rgb).convert("CMYK")
    else:
        img = Image.fromarray(rgb).convert(mode)
    ok = {"png": {"L", "RGB", "RGBA", "LA", "P", "1", "I;16"}, "tiff": set(MODES), "jpeg": {"L", "RGB", "CMYK"},
          "bmp": {"L", "RGB", "P", "1"}}[fmt]
    if mode not in ok:
        return
    path = tmp_path / f"img-{seed}-{h}x{w}.{fmt}"
    img.save(path)
    a = read_image(path)
    assert a.dtype == np.uint8 and a.shape[:2] == (h, w) and a.shape[2] in (1, 3)
    if fmt in ("png", "tiff") and mode in ("L", "RGB"):
        assert np.array_equal(a, np.asarray(img).reshape(a.shape))  # lossless formats keep pixels exactly
    x, ids = load_images([path], res, channels)
    assert x.shape == (1, res, res, channels) and x.dtype == np.uint8 and ids == [str(path)]


def test_load_images_matches_split_conversion(tmp_path):
    from wildgan.config import DataConfig
    from wildgan.data import build_split, conversion_opts

    s = build_split(DataConfig(contamination=0.0))  # embedded MNIST sample: 28 -> 32 by padding
    sample = np.load(default_sample_path())
    digit = sample["x_test"][sample["y_test"] == 2][0]
    p = save(tmp_path / "two.png", digit)
    x, _ = load_images([p], s.resolution, s.channels, **conversion_opts(s.info))
    assert np.array_equal(x[0], s.test_x[0])  # the first normal test image is that digit


def test_big_photos_are_capped_at_the_largest_automatic_resolution(tmp_path):
    """Inspection photos of 600x400: decoded straight to 256x256 (memory), trained at 256, with a warning;
    --resolution chooses otherwise."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split

    d = tmp_path / "photos"
    d.mkdir()
    for i in range(16):
        Image.fromarray(np.full((400, 600, 3), (i * 10, 0, 90), np.uint8)).save(d / f"p{i:02d}.png")
    with pytest.warns(UserWarning, match=r"16 images larger than 256 px \(up to 600 px: p00.png\) reduced to 256"):
        s = build_split(DataConfig(data=str(d)))
    assert s.resolution == 256 and s.train_x.shape[1:] == (256, 256, 3)
    assert build_split(DataConfig(data=str(d), resolution=64)).train_x.shape[1:] == (64, 64, 3)


def test_the_capped_photos_warning_names_the_largest_by_its_path_in_the_folder(tmp_path):
    """A camera's day folders hold the same names: the warning named 'IMG_0001.png', in every folder; its path
    under the folder read names the one file."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split

    d = tmp_path / "photos"
    for day, w in (("2024-01-05", 600), ("2024-01-06", 700)):
        (d / day).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(np.full((400, w, 3), (i * 10, 0, 90), np.uint8)).save(d / day / f"IMG_{i:04d}.png")
    with pytest.warns(UserWarning, match=r"larger than 256 px \(up to 700 px: 2024-01-06/IMG_0000.png\) reduced"):
        build_split(DataConfig(data=str(d), dataset="unlabelled"))


def test_a_tree_with_one_folder_is_a_pile(tmp_path, monkeypatch):
    """One class folder cannot make a one-vs-rest split: loose images beside one folder, or one folder of images
    (also as a tar, e.g. `tar czf pile.tar.gz pile/`), are an unlabelled pile, read recursively; two class folders
    are a labelled tree (its loose images left out with a warning)."""
    import tarfile

    from wildgan.data.readers import detect_format

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    pile = make_tree(tmp_path / "pile", classes=("sub",), n=3)
    for i in range(2):
        save(pile / f"loose{i}.png", np.full((8, 8), 40 * i, np.uint8))
    assert detect_format(pile) == "unlabelled-folder"
    train, test, kind = load_dataset(pile)
    assert kind == "unlabelled-folder" and test is None and len(train) == 5
    assert detect_format(make_tree(tmp_path / "one", classes=("only",), n=3)) == "unlabelled-folder"
    with tarfile.open(tmp_path / "pile.tar.gz", "w:gz") as tf:
        tf.add(pile, arcname="pile")
    train, test, kind = load_dataset(tmp_path / "pile.tar.gz")
    assert kind == "unlabelled-tar" and len(train) == 5
    two = make_tree(tmp_path / "two", classes=("a", "b"), n=3)
    save(two / "loose.png", np.zeros((8, 8), np.uint8))
    assert detect_format(two) == "folder"
    with pytest.warns(UserWarning, match="1 image file directly in it is not in a class folder and is left out"):
        train, _, kind = load_dataset(two)
    assert kind == "folder" and train.class_names == ["a", "b"]
    # a wrapper folder with a stray image around a labelled tree is not a pile
    from wildgan.data.readers import is_pile

    mvtec = make_tree(tmp_path / "F2" / "bottle", classes=("good",), n=2, split="train")
    make_tree(mvtec, classes=("good", "crack"), n=2, split="test")
    save(mvtec / "preview.png", np.zeros((8, 8), np.uint8))
    wrapped = make_tree(tmp_path / "A" / "data", classes=("cat", "dog"), n=2)
    save(wrapped.parent / "preview.png", np.zeros((8, 8), np.uint8))
    assert not is_pile(tmp_path / "F2") and not is_pile(tmp_path / "A") and is_pile(pile)
    train, test, kind = load_dataset(tmp_path / "F2")          # read through the wrapper, preview left out
    assert kind == "folder" and train.class_names == ["crack", "good"] and len(train) == 2 and len(test) == 4



def test_a_class_tree_wrapped_in_one_folder_with_a_stray_image_beside_its_classes_is_read_as_the_tree(tmp_path,
                                                                                                      monkeypatch):
    # `tar czf t.tar.gz data/` of data/{cat,dog}/ with a data/preview.png (or a folder holding data/) was read as one
    # class 'data' of every image, stray one included, where data/ itself is read as cat and dog with the stray image
    # said to be left out: the wrapper is now seen through alike, from the archive's first read and from its cache
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    data = make_tree(tmp_path / "out" / "data", classes=("cat", "dog"), n=2)
    save(data / "preview.png", np.zeros((8, 8), np.uint8))
    with tarfile.open(tmp_path / "t.tar.gz", "w:gz") as tar:
        tar.add(data, arcname="data")
    for path in (data, tmp_path / "out", tmp_path / "t.tar.gz", tmp_path / "t.tar.gz"):
        with pytest.warns(UserWarning, match=r"data: 1 image file directly in it is not in a class folder and is "
                                             r"left out \(e.g. preview.png\)"):
            train, _, _ = load_dataset(path)
        assert train.class_names == ["cat", "dog"] and train.ids == ["cat/000.png", "cat/001.png", "dog/000.png",
                                                                     "dog/001.png"], path
    assert readers.folder_class_names(tmp_path / "out") == ["cat", "dog"]

# ------------------------------------------------------------------------------------------------ symlinks, formats
def _link(target: Path, link: Path) -> None:
    try:
        os.symlink(target, link, target_is_directory=target.is_dir())
    except (OSError, NotImplementedError) as e:       # e.g. Windows without the symlink privilege
        pytest.skip(f"cannot make symlinks here: {e}")


def test_symlinked_folders_and_files_are_followed_and_a_cycle_ends(tmp_path):
    """`ln -s /photos/cars d/cars`: the images behind a link (folder or file) are read, ids keep the path through
    the link, the order stays sorted; a link back to an ancestor (or a second link to one folder) is entered once."""
    from wildgan.data.readers import list_image_files

    store = tmp_path / "store"
    for i in range(3):
        save(store / "cars" / f"{i}.png", np.full((8, 8, 3), 40 * i, np.uint8))
    save(store / "cars" / "deeper" / "3.png", np.full((8, 8, 3), 150, np.uint8))
    _link(store / "cars", store / "cars" / "deeper" / "up")      # a cycle: a link to an ancestor
    save(store / "one.png", np.full((8, 8, 3), 200, np.uint8))
    d = tmp_path / "d"
    d.mkdir()
    _link(store / "cars", d / "cars")
    _link(store / "one.png", d / "z.png")             # a symlinked file
    want = ["cars/0.png", "cars/1.png", "cars/2.png", "cars/deeper/3.png", "z.png"]
    assert [f.relative_to(d).as_posix() for f in list_image_files([d])] == want
    x, ids = load_images([d], 8, 3)
    assert len(x) == 5 and ids[0] == str(d / "cars" / "0.png") and x[4].max() == 200
    train, _, kind = load_dataset(d)                   # loose image + one folder: a pile, read through the links
    assert kind == "unlabelled-folder" and train.ids == want
    e = tmp_path / "e"
    e.mkdir()
    _link(store / "cars", e / "cars")
    _link(e, e / "cars-again")                         # back to the folder itself
    _link(store / "cars", e / "cars2")                 # the same folder twice: entered once
    assert [f.relative_to(e).as_posix() for f in list_image_files([e])] == want[:4]

    # a labelled tree whose class folders hold links (to folders, and back up to the tree)
    tree = make_tree(tmp_path / "tree", classes=("a", "b"), n=2)
    _link(store / "cars", tree / "a" / "more")
    _link(tree, tree / "b" / "loop")
    train, _, kind = load_dataset(tree)
    assert kind == "folder" and train.class_names == ["a", "b"]
    ids = [i for i, y in zip(train.ids, train.y) if y == 0]
    assert ids == ["a/000.png", "a/001.png", "a/more/0.png", "a/more/1.png", "a/more/2.png", "a/more/deeper/3.png"]


def test_a_broken_link_in_a_folder_given_alone_is_left_out_by_skip_bad_as_in_a_list(tmp_path):
    """A folder given alone (Detector.fit('photos/'), to_images('photos/')) was listed, and then its files listed
    again one by one: a broken link in it (a moved target) failed that second listing, whatever skip_bad, where the
    same folder in a list (['photos/']), `wildgan score --skip-bad` and training's reader left it out."""
    from wildgan.data.inputs import to_images

    d = tmp_path / "photos"
    for i in range(3):
        save(d / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    _link(tmp_path / "moved.png", d / "gone.png")
    with pytest.warns(WildganWarning, match="skipped .*gone.png"):
        alone, ids = to_images(str(d), 8, 1, skip_bad=True)
    with pytest.warns(WildganWarning, match="skipped .*gone.png"):
        listed, listed_ids = to_images([str(d)], 8, 1, skip_bad=True)
    assert ids == listed_ids == [str(d / f"{i}.png") for i in range(3)] and np.array_equal(alone, listed)
    # without skip_bad, one refusal naming every unreadable file, as for the list
    with pytest.raises(DataError, match="gone.png") as alone_error:
        to_images(str(d), 8, 1)
    with pytest.raises(DataError) as listed_error:
        to_images([str(d)], 8, 1)
    assert str(alone_error.value) == str(listed_error.value)


def test_image_folders_beside_train_and_test_are_said_to_be_left_out(tmp_path):
    """A tree with train/ and test/ reads only those: a val/ beside them (train/val/test trees), or loose images
    there, were left out without a word, where loose images beside class folders are said."""
    root = tmp_path / "tree"
    for split in ("train", "test", "val"):
        make_tree(root, split=split)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        load_dataset(make_tree(tmp_path / "plain", split="train"))       # train/ alone: nothing to say
    with pytest.warns(WildganWarning, match=re.escape(f"{root}: val/ beside train/ and test/ is not read (6 image "
                                                      f"files, e.g. val/a/000.png); only train/ and test/ are")):
        train, test, _ = load_dataset(root)
    assert len(train) == len(test) == 6
    save(root / "preview.png", np.zeros((8, 8), np.uint8))
    with pytest.warns(WildganWarning, match=re.escape(f"{root}: val/ and preview.png beside train/ and test/ are not "
                                                      f"read (7 image files, e.g. val/a/000.png)")):
        load_dataset(root)


def test_a_link_back_up_a_labelled_tree_is_no_class_and_labels_no_image_twice(tmp_path):
    """`ln -s . loop` in a class tree was read as a class folder holding every image again, and a link inside a class
    back to the tree (`b/up -> ..`) gave class b the images of class a: each image once, under its own class."""
    tree = make_tree(tmp_path / "tree", classes=("a", "b"), n=2)
    _link(tree, tree / "loop")                         # the tree itself, as a sibling of its classes
    _link(tree, tree / "b" / "up")                     # from inside a class back to the tree
    _link(tree / "a", tree / "b" / "a-again")          # into another class
    train, test, kind = load_dataset(tree)
    assert kind == "folder" and train.class_names == ["a", "b"]
    ids = sorted(train.ids + (test.ids if test is not None else []))
    assert ids == ["a/000.png", "a/001.png", "b/000.png", "b/001.png"]
    split = make_tree(tmp_path / "split", classes=("a", "b"), n=2, split="train")
    make_tree(split, classes=("a", "b"), n=2, split="test")
    _link(split / "test", split / "train" / "a" / "peek")   # from the training split into the test split
    train, test, kind = load_dataset(split)
    assert not [i for i in train.ids if "peek" in i] and len(train.ids) == 4 and len(test.ids) == 4


def test_two_class_folders_linked_to_one_real_folder_are_refused(tmp_path):
    """`good -> normal` (or `a/` and a link `b -> a`) read the same images under both labels: refused, naming both
    class folders and the real one, in a tree and in a split's class folders."""
    tree = make_tree(tmp_path / "tree", classes=("a", "normal"), n=2)
    _link(tree / "normal", tree / "good")
    with pytest.raises(DataError) as e:
        load_dataset(tree)
    msg = str(e.value)
    assert "good" in msg and str(tree / "normal") in msg and "same folder" in msg
    outer = tmp_path / "store" / "cars"
    save(outer / "0.png", np.zeros((8, 8, 3), np.uint8))
    two = make_tree(tmp_path / "two", classes=("x",), n=2, split="train")
    make_tree(two, classes=("x", "y"), n=2, split="test")
    _link(outer, two / "train" / "c1")
    _link(outer, two / "train" / "c2")
    with pytest.raises(DataError, match=r"c1.*c2.*same folder") as e:
        load_dataset(two)
    assert str(outer) in str(e.value)
    make_tree(tmp_path / "ok", classes=("a", "b"), n=2)
    _link(tmp_path / "ok" / "a", tmp_path / "ok-link")       # a link to one class from outside: no second class
    assert load_dataset(tmp_path / "ok")[2] == "folder"


def test_a_class_folder_linked_into_the_other_split_is_refused(tmp_path):
    """train/good -> test/good read the test split's images as training images too (the fence of f949d55c kept a
    class folder's walk out of the other split, but not the class folder itself): refused, naming both."""
    split = make_tree(tmp_path / "split", classes=("bad",), n=2, split="train")
    make_tree(split, classes=("good", "bad"), n=2, split="test")
    _link(split / "test" / "good", split / "train" / "good")
    with pytest.raises(DataError) as e:
        load_dataset(split)
    msg = str(e.value)
    assert str(split / "train" / "good") in msg and str(split / "test" / "good") in msg and "test split" in msg, msg


def test_a_nas_s_thumbnail_and_recycle_folders_are_no_data(tmp_path):
    """A pile on a Synology share holds @eaDir/IMG_0001.jpg/SYNOPHOTO_THUMB_S.jpg, a thumbnail of every photo, which
    were read as more images (each photo trained on again at other sizes), and a class tree there had a class
    '@eaDir'; a Windows drive's $RECYCLE.BIN and System Volume Information are no data either."""
    from wildgan.data.readers import list_image_files

    pile = tmp_path / "pile"
    for i in range(3):
        save(pile / f"IMG_{i:04d}.png", np.full((8, 8, 3), 40 * i, np.uint8))
        save(pile / "@eaDir" / f"IMG_{i:04d}.png" / "SYNOPHOTO_THUMB_S.png", np.full((4, 4, 3), 40 * i, np.uint8))
    for junk in ("#recycle", "#snapshot", "$RECYCLE.BIN", "System Volume Information"):
        save(pile / junk / "old.png", np.zeros((8, 8, 3), np.uint8))
    assert [f.relative_to(pile).as_posix() for f in list_image_files([pile])] == [f"IMG_{i:04d}.png" for i in range(3)]
    tree = make_tree(tmp_path / "tree", classes=("good", "bad"), n=2)
    save(tree / "@eaDir" / "x.png" / "SYNOPHOTO_THUMB_S.png", np.zeros((4, 4, 3), np.uint8))
    save(tree / "good" / "@eaDir" / "000.png" / "SYNOPHOTO_THUMB_S.png", np.zeros((4, 4, 3), np.uint8))
    train, test, kind = load_dataset(tree)
    assert kind == "folder" and train.class_names == ["bad", "good"]
    assert not [i for i in train.ids + (test.ids if test is not None else []) if "@eaDir" in i]


def test_gif_and_webp_are_read(tmp_path):
    """A folder of png/jpg/bmp/tif plus a .webp and a palette .gif: all six are read (none dropped); a gray
    palette GIF stays gray, a transparent one is composited on black, an animation gives its first frame."""
    from PIL import features

    if not features.check("webp"):
        pytest.skip("this Pillow cannot decode WebP (PIL.features.check('webp') is False): .webp is not read")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    d = tmp_path / "pile"
    for ext in (".png", ".jpg", ".bmp", ".tif"):
        save(d / f"img{ext}", rgb)
    Image.fromarray(rgb).save(d / "extra.webp", lossless=True)
    pal = Image.fromarray(rgb).quantize(16)
    pal.save(d / "palette.gif")
    train, _, kind = load_dataset(d)
    assert kind == "unlabelled-folder" and len(train) == 6 and "extra.webp" in train.ids
    assert (read_image(d / "extra.webp") == rgb).all()
    assert (read_image(d / "palette.gif") == np.asarray(pal.convert("RGB"))).all()
    gray = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    save(d / "gray.gif", gray)
    assert read_image(d / "gray.gif").shape == (8, 8, 1) and (read_image(d / "gray.gif")[..., 0] == gray).all()
    frames = [Image.fromarray(np.full((8, 8, 3), c, np.uint8)) for c in (10, 200)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])
    assert (read_image(d / "anim.gif") == 10).all()
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:4, ..., 3] = 255                              # top half opaque red, bottom transparent
    Image.fromarray(rgba).save(d / "alpha.gif")
    a = read_image(d / "alpha.gif")
    assert (a[:4, :, 0] == 255).all() and (a[4:] == 0).all()
    x, ids = load_images([d], 8, 3)
    assert len(x) == 9 and sum(i.endswith(".gif") for i in ids) == 4


def test_unsupported_image_files_are_named_once(tmp_path):
    """.heic/.avif files beside the images: one warning per folder read, with counts by extension (hidden files and
    non-images such as .txt left out); a folder holding only such files says what it found."""
    import warnings

    def ignored(record):
        return [str(w.message) for w in record if "unsupported extensions" in str(w.message)]

    d = tmp_path / "pile"
    for i in range(2):
        save(d / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    for name in ("a.heic", "sub/b.HEIC", "c.avif", ".d.heic", "notes.txt", "labels.csv"):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(b"not decoded")
    for read in (lambda: load_images([d], 8, 1), lambda: load_dataset(d)):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            read()
        msgs = ignored(record)
        assert len(msgs) == 1, msgs
        assert msgs[0].startswith(f"ignored 3 files with unsupported extensions in {d} (.heic: 2, .avif: 1)")
    tree = make_tree(tmp_path / "tree", classes=("a", "b"), n=2)
    for c in ("a", "b"):
        (tree / c / "x.heic").write_bytes(b"")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        load_dataset(tree)
    msgs = ignored(record)
    assert len(msgs) == 1 and f"ignored 2 files with unsupported extensions in {tree} (.heic: 2)" in msgs[0]

    only = tmp_path / "only"
    only.mkdir()
    for i in range(50):
        (only / f"{i:02d}.heic").write_bytes(b"")
    (only / "x.avif").write_bytes(b"")
    with pytest.raises(DataError, match=r"only: folder contains no supported image files \(\.png, .*\); "
                                        r"found 50 \.heic files, 1 \.avif file"):
        load_images([only], 8, 1)
    with pytest.raises(DataError, match=r"only: no supported image files .*; found 50 \.heic files"):
        load_dataset(only)
    with pytest.raises(DataError, match=r"only: folder contains no supported image files .*found 50 \.heic"):
        load_dataset(only, "unlabelled")
    (tree / "c").mkdir()
    (tree / "c" / "y.avif").write_bytes(b"")
    with pytest.raises(DataError, match=r"c: class folder contains no supported image files .*; found 1 \.avif "
                                        r"file$"):
        load_dataset(tree)


def test_warnings_point_at_the_callers_line(tmp_path):
    # a fixed stacklevel pointed into the package on one call path or another (detector.py:622 for Detector.fit)
    from PIL import Image

    from wildgan.data.readers import load_dataset

    for i, size in enumerate([(8, 8), (8, 8), (16, 16)]):
        Image.fromarray(np.zeros(size, np.uint8)).save(tmp_path / f"{i}.png")
    with pytest.warns(UserWarning, match="different sizes") as seen:
        load_dataset(tmp_path, "unlabelled", progress=False)
    assert {w.filename for w in seen} == {__file__}


def test_scoring_colour_images_with_a_run_that_went_gray_on_its_gray_data_warns(tmp_path, monkeypatch):
    # colour photos scored with a run whose data was all gray (so it chose gray) are converted, but probably meant
    # for another run; a run told to train gray on colour images (--channels 1) is not warned about
    import warnings

    from wildgan.data import build_split, conversion_opts
    from wildgan.config import DataConfig
    from wildgan.data.readers import load_images

    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200
    colour, gray = tmp_path / "colour", tmp_path / "gray"
    colour.mkdir()
    gray.mkdir()
    for i in range(20):
        Image.fromarray(rgb).save(colour / f"c{i}.png")
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(gray / f"g{i}.png")
    went_gray = conversion_opts(build_split(DataConfig(data=str(gray))).info)
    told_gray = conversion_opts(build_split(DataConfig(data=str(colour), channels=1)).info)
    assert went_gray.get("gray_data") and not told_gray.get("gray_data")
    # a resume or --config replay names the recorded channel count: the gray data is still gray data (it was recorded
    # as chosen, and the warning lost), from the files themselves and from a second read out of the decode cache
    import tarfile

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    assert conversion_opts(build_split(DataConfig(data=str(gray), channels=1)).info)["gray_data"] is True
    with tarfile.open(tmp_path / "gray.tar.gz", "w:gz") as tf:   # a labelled tree: decoded into the cache
        for c in "ab":
            tf.add(gray, f"gray/{c}")
    info = build_split(DataConfig(data=str(tmp_path / "gray.tar.gz"), normal=("a",), channels=1)).info
    assert conversion_opts(info)["gray_data"] is True
    from wildgan.data import readers

    def no_decode(*a, **kw):
        raise AssertionError("decoded again: the second read must come from the cache")

    monkeypatch.setattr(readers, "read_folder", no_decode)
    info = build_split(DataConfig(data=str(tmp_path / "gray.tar.gz"), normal=("a",), channels=1)).info
    assert conversion_opts(info)["gray_data"] is True
    # an .npz keeps its own channel count too, also when a colour one is trained gray (--channels 1): not gray data
    np.savez(tmp_path / "c.npz", x=np.stack([rgb] * 20))
    assert not conversion_opts(build_split(DataConfig(data=str(tmp_path / "c.npz"), channels=1)).info).get("gray_data")
    assert list((tmp_path / "cache").rglob("*.decoded-*.npz")), "the tar's second read was not from the cache"
    np.savez(tmp_path / "g.npz", x=np.zeros((20, 8, 8), np.uint8))
    assert conversion_opts(build_split(DataConfig(data=str(tmp_path / "g.npz"), channels=1)).info).get("gray_data")
    with pytest.warns(UserWarning, match="colour images are converted to gray: the network was trained on gray"):
        x, _ = load_images([colour], 8, 1, **went_gray)
    assert x.shape == (20, 8, 8, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_images([colour], 8, 1, **told_gray)          # the run's own kind of image: nothing to say
        load_images([gray], 8, 1, **went_gray)


def _colour_mixed_and_gray_piles(where: Path, rng: np.random.Generator) -> tuple[Path, Path, Path]:
    """Three piles of 8x8 PNGs in where: colour/ (20 random RGB images), mixed/ (20 others and one RGB image whose
    channels are equal: gray, though stored as RGB) and gray/ (20 gray images)."""
    colour, mixed, gray = where / "colour", where / "mixed", where / "gray"
    for d in (colour, mixed, gray):
        d.mkdir()
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(colour / f"c{i}.png")
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(mixed / f"c{i}.png")
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(gray / f"g{i}.png")
    Image.fromarray(np.repeat(np.full((8, 8, 1), 90, np.uint8), 3, axis=2)).save(mixed / "rgb-but-gray.png")
    return colour, mixed, gray


def test_a_run_on_all_colour_data_warns_about_gray_images_to_score(tmp_path):
    # a folder run that went RGB because its images had colour records it (conversion.colour_data): gray images
    # scored with it are warned about. One gray image among its colour ones (RGB file with R == G == B, or a gray
    # file) and it is not all colour: gray images to score are judged by that share
    # (test_a_colour_run_with_some_gray_training_images_warns_when_far_more_images_to_score_are_gray)
    from wildgan.config import DataConfig
    from wildgan.data import build_split, conversion_opts
    from wildgan.data.readers import load_images
    from wildgan.data.splits import all_colour

    rng = np.random.default_rng(0)
    colour, mixed, gray = _colour_mixed_and_gray_piles(tmp_path, rng)
    went_colour = build_split(DataConfig(data=str(colour), dataset="unlabelled")).info
    assert went_colour["conversion"].get("colour_data") is True
    opts = conversion_opts(went_colour)
    assert opts.get("colour_data") is True
    with pytest.warns(UserWarning, match="20 gray images are scored by a network trained on colour images"):
        load_images([gray], 8, 3, **opts)
    not_all = conversion_opts(build_split(DataConfig(data=str(mixed), dataset="unlabelled")).info)
    assert "colour_data" not in not_all and not_all["gray_trained"] == [1, 21]
    # in blocks: a gray image in a later block counts as much as one in the first
    x = rng.integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    assert all_colour(x, block=3)
    x[8] = x[8, ..., :1]
    assert not all_colour(x, block=3) and not all_colour(x[..., :1]) and not all_colour(x[:0])


def test_a_colour_run_with_some_gray_training_images_warns_when_far_more_images_to_score_are_gray(tmp_path):
    """A colour run whose training images were not all colour (one gray among 21) recorded nothing of them, and gray
    images scored with it went unwarned, whatever their share. Now its split.json records how many of its training
    images were gray (conversion.gray_trained), and gray images to score are warned about when their share is far
    above that one (twice, and not chance: readers.gray_share_unexpected); images like its own are not. A record
    from before (no gray_trained) says nothing, as before. A labelled run whose training images were all colour,
    though its data set was not (a gray anomaly class): any gray image to score, as for an all-colour run."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split, conversion_opts
    from wildgan.data.readers import gray_share_unexpected, load_images

    rng = np.random.default_rng(0)
    some, mixed, gray = _colour_mixed_and_gray_piles(tmp_path, rng)
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(some / "g.png")     # (1 gray of 21, as mixed's)
    info = build_split(DataConfig(data=str(mixed), dataset="unlabelled")).info
    assert info["conversion"]["gray_trained"] == [1, 21] and "colour_data" not in info["conversion"]
    opts = conversion_opts(info)
    with pytest.warns(UserWarning, match=r"^20 of the 20 images \(100%\) are gray, against 4.8% of the images the "
                                         r"network was trained on: .* missing colour"):
        load_images([gray], 8, 3, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_images([some], 8, 3, **opts)            # 1 gray of 21, as in training
        load_images([mixed], 8, 3, **opts)
        del info["conversion"]["gray_trained"]          # a split.json from before it was recorded
        load_images([gray], 8, 3, **conversion_opts(info))
    for bad in ([1], [1, 0], [-1, 5], "1/21", [1.0, 21]):    # damaged: nothing, no error
        info["conversion"]["gray_trained"] = bad
        assert "gray_trained" not in conversion_opts(info)

    # the rule: at least twice the training share, and a share that high unlikely by chance (below 1%)
    assert not gray_share_unexpected(1, 1, 0.05) and gray_share_unexpected(2, 2, 0.05)
    assert not gray_share_unexpected(10, 100, 0.05) and gray_share_unexpected(30, 100, 0.05)
    assert not gray_share_unexpected(9, 100, 0.05)                      # (below twice the share)
    assert gray_share_unexpected(1, 1000, 0.0) and not gray_share_unexpected(0, 10, 0.0)
    assert not gray_share_unexpected(10, 10, 0.6) and not gray_share_unexpected(5, 5, 1.0)

    # labelled: its normal class all colour (the training images, no contamination), the other class gray
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "b").mkdir()
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tree / "a" / f"c{i}.png")
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(tree / "b" / f"g{i}.png")
    labelled = build_split(DataConfig(data=str(tree), normal=("a",), channels=3)).info
    assert "colour_data" not in labelled["conversion"]
    assert labelled["conversion"]["gray_trained"][0] == 0 < labelled["conversion"]["gray_trained"][1]
    with pytest.warns(UserWarning, match="^1 gray image is scored by a network trained on colour images"):
        load_images([gray / "g3.png"], 8, 3, **conversion_opts(labelled))


def test_gray_stored_as_rgb_is_gray_to_the_channel_warning(tmp_path):
    """RGB files (and in-memory RGB arrays) whose three channels are equal, gray scans saved as RGB, scored with a run
    trained on gray images were warned about as '3 colour images are converted to gray' although making them gray
    loses nothing (PIL's 'L' rule gives that gray back exactly). Now they count as gray, as all_colour counts the
    training images: a gray run says nothing of them, a colour run says what it says of gray files, and one real
    colour image is still warned about."""
    from wildgan.data.inputs import to_images

    rng = np.random.default_rng(0)
    plane = rng.integers(0, 256, (8, 8, 1), dtype=np.uint8)
    rgb_gray, photo = tmp_path / "rgb-gray", tmp_path / "photo"
    rgb_gray.mkdir()
    photo.mkdir()
    for i in range(3):
        Image.fromarray(np.repeat(plane, 3, axis=2)).save(rgb_gray / f"g{i}.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(photo / "c.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, _ = load_images([rgb_gray], 8, 1, gray_data=True)
        to_images(np.repeat(plane[None], 3, axis=3).repeat(3, axis=0), 8, 1, trained_on="gray")
    np.testing.assert_array_equal(x, np.repeat(plane[None], 3, axis=0))            # the same gray, nothing lost
    with pytest.warns(UserWarning, match="^1 colour image is converted to gray: the network was trained on gray"):
        load_images([rgb_gray, photo], 8, 1, gray_data=True)
    with pytest.warns(UserWarning, match="^3 gray images are scored by a network trained on colour images"):
        load_images([rgb_gray], 8, 3, colour_data=True, colour_rule="content")


def test_a_colour_record_of_the_files_rule_counts_images_to_score_by_their_files(tmp_path):
    """A colour record decided by the files' mode, not by what the images hold: a run recorded before colour_rule (a
    Detector fitted on RGB arrays of gray content recorded colour_data by their shape) and CIFAR-10's protocol, whose
    colour files hold some gray photos (colour_data by its files). Counting RGB-stored gray images to score as gray
    warned '3 gray images are scored by a network trained on colour images' of the very kind of image it was trained
    on. Now such a record counts them by their files' mode, as it counted its own; the content rule only where the
    record says so (colour_rule 'content')."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split, conversion_opts
    from wildgan.data.inputs import to_images

    rng = np.random.default_rng(0)
    rgb_gray, gray = tmp_path / "rgb-gray", tmp_path / "gray"
    for i in range(3):
        save(rgb_gray / f"g{i}.png", np.repeat(rng.integers(0, 256, (8, 8, 1), dtype=np.uint8), 3, axis=2))
        save(gray / f"g{i}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
    arrays = np.repeat(rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8), 3, axis=3)
    # a CIFAR-10 tree (its class names, dataset cifar10) with one colour file of gray content among its photos
    cifar = tmp_path / "cifar"
    for c in CIFAR10_CLASSES:
        for i in range(20):
            a = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            save(cifar / c / f"{i}.png", np.repeat(a[..., :1], 3, axis=2) if (c, i) == ("cat", 1) else a)
    conv = build_split(DataConfig(data=str(cifar), dataset="cifar10")).info["conversion"]
    assert (conv.get("colour_data"), conv.get("colour_rule")) == (True, "files"), conv
    old = {"colour_data": True}                        # a split.json / Detector record from before colour_rule
    for opts in (conversion_opts({"conversion": conv, "protocol": "cifar10", "channels": 3}), old):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_images([rgb_gray], 8, 3, **opts)
            to_images(arrays, 8, 3, trained_on="colour", by_content=False)
        with pytest.warns(UserWarning, match="^3 gray images are scored by a network trained on colour images"):
            load_images([gray], 8, 3, **opts)            # gray files are gray by either rule
    with pytest.warns(UserWarning, match="^3 gray images are scored by a network trained on colour images"):
        to_images(arrays, 8, 3, trained_on="colour")
    # all colour by content: recorded so, and RGB-stored gray to score counts as gray
    save(cifar / "cat" / "1.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    conv = build_split(DataConfig(data=str(cifar), dataset="cifar10")).info["conversion"]
    assert conv.get("colour_rule") == "content", conv
    with pytest.warns(UserWarning, match="^3 gray images are scored by a network trained on colour images"):
        load_images([rgb_gray], 8, 3, **conversion_opts({"conversion": conv}))


def test_gray_stored_as_rgb_larger_than_the_decode_limit_is_gray_in_a_list_of_paths(tmp_path):
    """The Python API given a list of file paths larger than the decode limit made them gray while reading
    (_files_to_items) and kept their native shape, C = 3, so RGB-stored gray files counted as colour: '3 colour
    images are converted to gray' where the same files in a folder said nothing. What they hold is taken before they
    are made gray now."""
    from wildgan.data.inputs import to_images

    rng = np.random.default_rng(3)
    files = [save(tmp_path / f"b{i}.png", np.repeat(rng.integers(0, 256, (64, 64, 1), dtype=np.uint8), 3, axis=2))
             for i in range(3)]
    colour = save(tmp_path / "c" / "c.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, _ = to_images(files, 8, 1, trained_on="gray")
    assert x.shape == (3, 8, 8, 1)
    with pytest.warns(UserWarning, match="^1 colour image is converted to gray: the network was trained on gray"):
        to_images([*files, colour], 8, 1, trained_on="gray")


def test_a_gray_image_in_a_lossy_colour_format_is_gray(tmp_path):
    """A gray image saved as lossy WebP decodes as RGB whose channels differ by a level at a few per cent of its
    pixels: it counted as a colour image ('1 colour image is converted to gray'), and a run trained on such files was
    recorded as all colour. R, G and B within GRAY_TOLERANCE (2 levels) are gray now, by one rule for the warning
    (own_channels) and for the record (all_colour); 3 levels apart is colour."""
    from PIL import features

    from wildgan.data.splits import all_colour
    from wildgan.data.transforms import GRAY_TOLERANCE, own_channels

    assert GRAY_TOLERANCE == 2
    rng = np.random.default_rng(0)
    plane = rng.integers(0, 256, (32, 32, 1), dtype=np.uint8)
    if features.check("webp"):
        path = tmp_path / "webp" / "g.webp"
        path.parent.mkdir()
        Image.fromarray(plane[..., 0]).save(path, quality=80)
        a = read_image(path)
        assert a.shape[2] == 3 and (a[..., 0] != a[..., 1]).any(), "no lossy WebP here: the test shows nothing"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_images([path.parent], 8, 1, gray_data=True)
    else:                         # a synthetic one: the channels a level or two apart at a few pixels
        a = np.repeat(plane, 3, axis=2)
        a[::7, ::5, 0] = np.minimum(a[::7, ::5, 0].astype(int) + 2, 255)
        a[::9, ::4, 2] = np.maximum(a[::9, ::4, 2].astype(int) - 1, 0)
    assert own_channels(a) == 1 and not all_colour(a[None])
    far = np.repeat(plane, 3, axis=2)
    far[5, 5, 1] = 3 if far[5, 5, 1] < 128 else far[5, 5, 1] - 3
    far[5, 5, 0] = far[5, 5, 2] = 0 if far[5, 5, 1] == 3 else far[5, 5, 0]
    assert own_channels(far) == 3 and all_colour(far[None])
    # a colour photo is told by its first rows; gray is only known after every row, also past the first block
    late = np.repeat(rng.integers(0, 256, (200, 8, 1), dtype=np.uint8), 3, axis=2)
    late[150, 3] = (0, 100, 200)
    assert own_channels(late) == 3 and own_channels(late[:150]) == 1


def test_what_a_file_holds_is_taken_only_when_a_warning_needs_it(tmp_path, monkeypatch):
    """own_channels (a pass over the pixels of a gray image stored as RGB: 16 ms at 12 MP) ran on every decoded file,
    training reads too, which never use it. Now only a read that may warn about images of another kind takes it:
    scoring for a run that has a kind (gray_data, colour_data by content) and evaluate's read (count_held); and a
    training read whose channels are not chosen, which chooses them by it (gray content in RGB files is gray)."""
    from wildgan.data import decode_pool

    for i in range(3):
        save(tmp_path / "d" / f"{i}.png", np.repeat(np.full((8, 8, 1), 40 * i, np.uint8), 3, axis=2))
    calls = []
    real = decode_pool.own_channels
    monkeypatch.setattr(decode_pool, "own_channels", lambda a: calls.append(1) or real(a))
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "1")
    load_dataset(tmp_path / "d", "unlabelled", channels=3)
    load_images([tmp_path / "d"], 8, 3)
    load_images([tmp_path / "d"], 8, 3, colour_data=True)                    # by mode: nothing to take
    assert calls == []
    load_images([tmp_path / "d"], 8, 1, gray_data=True)
    assert len(calls) == 3
    train, _, _ = load_dataset(tmp_path / "d", "unlabelled", count_held=True)
    assert len(calls) == 6 and train.info["n_gray_held"] == 3 and train.info["n_gray_files"] == 0
    assert train.x.shape[3] == 1                 # (chosen by what the files hold: taken once, not twice)
    load_dataset(tmp_path / "d", "unlabelled")
    assert len(calls) == 9


def test_native_sides_and_the_scale_warning():
    from wildgan.data.imageset import native_sides, scale_warning

    assert native_sides([(80, 96), (64, 120)]) == [64, 120] and native_sides([]) is None
    trained = [64, 96]
    assert scale_warning({(300, 380): "ok.png", (16, 20): "small-ok.png"}, trained, 64) is None   # within 4x
    msg = scale_warning({(80, 80): "a.png", (2048, 1536): Path("frames/big.tif")}, trained, 64)
    assert msg.startswith("images much larger than the run's training images (e.g. frames/big.tif: 1536x2048; the "
                          "training images were 64 to 96 px a side): each is fitted whole into 64x64")
    assert "smaller" in scale_warning({(8, 12): "tiny.png"}, [64, 64], 64) and "64x64)" in \
        scale_warning({(8, 12): "tiny.png"}, [64, 64], 64)


def test_the_scale_warning_names_a_file_by_its_path_not_its_base_name(tmp_path):
    """Day folders of a camera hold the same file names: the much-smaller warning of `wildgan score --data day/`
    named '0000.jpg', which is in every folder; its path names the one file."""
    for day, side in (("2024-01-05", 64), ("2024-01-06", 4)):
        save(tmp_path / "day" / day / "0000.png", np.zeros((side, side, 3), np.uint8))
    with pytest.warns(UserWarning, match=r"much smaller than the run's training images \(e\.g\. \S*day/2024-01-06/"
                                         r"0000\.png: 4x4"):
        load_images([tmp_path / "day"], 16, 3, native_sides=[64, 64])


def test_the_resize_warning_names_images_scaled_unlike_the_training_images():
    from wildgan.data.imageset import resize_warning
    from wildgan.data.transforms import scaled_side

    assert [scaled_side(*hw, 32) for hw in [(32, 32), (96, 96), (32, 48), (48, 64)]] == [None, 96, None, 48]
    assert scaled_side(28, 28, 32, "pad") is None and scaled_side(40, 40, 32, "pad") == 40     # MNIST's padding
    assert scaled_side(32, 20, 32, "letterbox") is None and scaled_side(64, 20, 32, "letterbox") == 64
    msg = resize_warning({(96, 96): Path("photos/a.png"), (48, 48): "b.png", (32, 32): "c.png"}, [32, 32], 32)
    assert msg.startswith("images were resized to the network's 32x32 input from a size its training images did not "
                          "have (e.g. photos/a.png: 96x96; 1 other size too; the training images were 32x32)"), msg
    assert resize_warning({(32, 32): "c.png", (32, 40): "wide.png"}, [32, 32], 32) is None   # as trained; cropped
    # a run of mixed sizes resized 20..24 -> 16: a 22 px image is scaled as its training images were, a 30 px one not
    assert resize_warning({(22, 22): "x.png"}, [20, 24], 16) is None
    assert "e.g. y.png: 30x30; the training images were 20 to 24 px a side" in resize_warning({(30, 30): "y.png"},
                                                                                              [20, 24], 16)
    assert resize_warning({(20, 20): "z.png"}, [28, 28], 32, "pad") is None                  # padded, not scaled


def test_images_not_scaled_where_the_training_images_were_are_warned_about_too():
    # a run of 96x96 photos shrunk 3x to its 32x32 input sees 32x32 images at 3x their scale: nothing was said, as
    # only images that were themselves resized could be named (the same 3x the other way round was warned about)
    from wildgan.data.imageset import resize_warning

    msg = resize_warning({(32, 32): "small.png"}, [96, 96], 32)
    assert msg.startswith("images went into the network's 32x32 input at their own scale, not resized as its training "
                          "images were (e.g. small.png: 32x32; the training images were 96x96)"), msg
    assert "e.g. c.png: 20x20" in resize_warning({(20, 20): "c.png"}, [64, 64], 32, "pad")   # padded, trained shrunk
    assert "e.g. w.png: 48x32" in resize_warning({(32, 48): "w.png"}, [64, 64], 32)         # cropped, trained shrunk
    # not scaled, as training images were: the input's size among the training sizes, or a run that pads (MNIST's
    # 28 -> 32) scoring images no larger than its input
    assert resize_warning({(32, 32): "a.png", (32, 40): "b.png"}, [30, 34], 32) is None
    assert resize_warning({(32, 32): "a.png", (28, 28): "b.png", (20, 20): "c.png"}, [28, 28], 32, "pad") is None
    assert resize_warning({(20, 20): "a.png", (40, 40): "b.png"}, [20, 40], 32, "pad") is None
    assert "e.g. b.png: 40x40" in resize_warning({(40, 40): "b.png"}, [28, 28], 32, "pad")   # padded run, shrunk


def test_scoring_images_resized_within_the_scale_factor_is_said_once(tmp_path):
    # 96x96 and 48x48 photos scored with a run of 32x32 ones: shrunk 3x and 1.5x, which nothing said (only a scale
    # change beyond 4x was); one warning for the call, however many chunks, naming a file and the sizes
    from wildgan.data.readers import iter_images

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    files = [save(photos / f"{i}.png", rng.integers(0, 255, (s, s, 3), np.uint8)) for i, s in
             enumerate([32, 96, 48, 96])]
    with pytest.warns(UserWarning) as got:
        x, _ = load_images([photos], 32, 3, native_sides=[32, 32])
    said = [str(w.message) for w in got if "resized to the network" in str(w.message)]
    assert x.shape == (4, 32, 32, 3) and len(said) == 1 and f"e.g. {files[1]}: 96x96; 1 other size too; the " \
        "training images were 32x32)" in said[0], said
    with pytest.warns(UserWarning) as got:
        list(iter_images(files, 32, 3, chunks=[[0], [1], [2], [3]], native_sides=[32, 32]))
    assert sum("resized to the network" in str(w.message) for w in got) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_images([files[0]], 32, 3, native_sides=[32, 32])             # the training images' size: nothing
        load_images(files, 32, 3)                                         # no record of the training sizes
    with pytest.warns(UserWarning) as got:                                # beyond 4x: the scale warning alone
        load_images([save(tmp_path / "big.png", rng.integers(0, 255, (200, 200, 3), np.uint8)), files[1]], 32, 3,
                    native_sides=[32, 32])
    assert [str(w.message).split(" (")[0] for w in got] == ["images much larger than the run's training images"]


def test_scoring_whole_frames_with_a_run_of_small_crops_warns(tmp_path, monkeypatch):
    # e.g. a run trained on 24x24 cell crops scoring whole 128x128 microscope frames: each frame is resized whole
    # to the network's 16x16, its cells shrunk 5x; the scores say little and the user is told why
    import warnings

    from wildgan.config import DataConfig
    from wildgan.data import build_split, conversion_opts

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    crops, frames = tmp_path / "crops", tmp_path / "frames"
    crops.mkdir()
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        save(crops / f"c{i}.png", rng.integers(0, 255, (20 + i % 5,) * 2, np.uint8))
    save(frames / "frame.png", rng.integers(0, 255, (128, 160), np.uint8))
    info = build_split(DataConfig(data=str(crops), dataset="unlabelled", resolution=16)).info
    assert info["native_sides"] == [20, 24]
    opts = conversion_opts(info)
    assert opts["native_sides"] == [20, 24]
    with pytest.warns(UserWarning, match=r"images much larger than the run's training images \(e.g. "
                                         r"\S+/frames/frame.png: 160x128; the training images were 20 to 24 px "
                                         r"a side\)"):
        load_images([frames], 16, 1, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_images([crops], 16, 1, **opts)                 # the run's own kind of image: nothing to say
    # labelled trees, npz arrays and the tar cache record the native size too, not the converted one
    tree = make_tree(tmp_path / "tree", n=24, size=(40, 40))
    assert build_split(DataConfig(data=str(tree), normal=("a",), resolution=8)).info["native_sides"] == [40, 40]
    np.savez(tmp_path / "d.npz", x=np.zeros((48, 28, 28), np.uint8), y=np.repeat([0, 1], 24))
    assert build_split(DataConfig(data=str(tmp_path / "d.npz"), normal=("0",))).info["native_sides"] == [28, 28]
    with tarfile.open(tmp_path / "tree.tar.gz", "w:gz") as t:
        t.add(tree, arcname="tree")
    for _ in range(2):                                       # decoded, then from the decode cache
        got = build_split(DataConfig(data=str(tmp_path / "tree.tar.gz"), normal=("a",), resolution=8))
        assert got.info["native_sides"] == [40, 40]


# ------------------------------------------------------------------------------------------------ pixel audit
def png16(path: Path, a: np.ndarray) -> Path:
    """A 16-bit PNG written by hand (Pillow writes no 16-bit colour PNG): gray, gray+alpha, RGB (48-bit), RGBA."""
    import struct
    import zlib

    a = np.asarray(a, np.uint16)
    a = a[..., None] if a.ndim == 2 else a
    h, w, c = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    head = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw)) +
                     chunk(b"IEND", b""))
    return path


def tiff16_rgb(path: Path, a: np.ndarray) -> Path:
    """An uncompressed 48-bit RGB (or 64-bit RGBA) TIFF written by hand."""
    import struct

    a = np.asarray(a, np.uint16)
    h, w, c = a.shape
    pix = a.astype("<u2").tobytes()
    off_bps = 8 + len(pix)
    off_ifd = off_bps + 2 * c
    tags = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, c, off_bps), (259, 3, 1, 1), (262, 3, 1, 2), (273, 4, 1, 8),
            (277, 3, 1, c), (278, 4, 1, h), (279, 4, 1, len(pix))] + ([(338, 3, 1, 2)] if c == 4 else [])
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHII", t, k, n, v) if (k == 4 or n > 2) else struct.pack("<HHIHH", t, k, n, v, 0)
        for t, k, n, v in tags) + struct.pack("<I", 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"II*\x00" + struct.pack("<I", off_ifd) + pix + struct.pack("<" + "H" * c, *[16] * c) + ifd)
    return path


def _messages(rec) -> str:
    return "\n".join(str(w.message) for w in rec)


def test_per_image_stretch_warns_and_bits_keeps_exposure_differences(tmp_path, monkeypatch) -> None:
    import warnings

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    base = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 7 + 10) * 8    # a 12-bit camera: up to 3608
    pile = tmp_path / "pile"
    png16(pile / "bright.png", base)
    png16(pile / "dark.png", base // 8)                                 # 8x darker exposure
    with pytest.warns(UserWarning) as rec:
        train, _, kind = load_dataset(pile)
    assert kind == "unlabelled-folder"
    np.testing.assert_array_equal(train.x[0], train.x[1])                # per-image: the exposures read the same
    msg = _messages(rec)
    assert "2 16-bit images were stretched each to its own min..max" in msg
    assert "brightness differences between images are thereby removed" in msg
    # (DataConfig's depth16 from Python; the command's --depth16, test_npz_16bit_arrays_warn_...)
    assert "the largest raw value seen is 3608: to keep them use depth16='bits:12' (0..4095 -> 0..255) or " \
        "depth16='global'" in msg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, _, _ = load_dataset(pile, depth16="bits:12")             # the camera's range: nothing to say
        assert train.x[0].mean() > 6 * train.x[1].mean()                 # and the exposures stay apart
        x, _ = load_images([pile], 8, 1)                                 # scoring files: never this warning
    # a tar of the pile warns too, also when its decode comes from the cache
    import tarfile

    with tarfile.open(tmp_path / "pile.tar.gz", "w:gz") as tf:
        tf.add(pile, arcname="pile")
    for _ in range(2):
        with pytest.warns(UserWarning, match="stretched each to its own min..max"):
            load_dataset(tmp_path / "pile.tar.gz")


def test_npz_16bit_arrays_warn_about_the_per_image_stretch(tmp_path) -> None:
    x = (np.arange(2 * 8 * 8, dtype=np.uint16).reshape(2, 8, 8) * 30)
    np.savez(tmp_path / "a.npz", x=x)
    with pytest.warns(UserWarning, match=r"a.npz: 2 16-bit images were stretched.*depth16='bits:12'"):
        load_dataset(tmp_path / "a.npz")
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    with skip_bad_said_as(CLI_SKIP_BAD), \
            pytest.warns(UserWarning, match=r"a.npz: 2 16-bit images were stretched.*--depth16 bits:12"):
        load_dataset(tmp_path / "a.npz")


def test_16bit_colour_files_warn_that_they_are_read_by_their_high_byte(tmp_path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 65536, (8, 8, 3))
    pile = tmp_path / "pile"
    png16(pile / "a48.png", rgb)
    tiff16_rgb(pile / "b64.tif", np.concatenate([rgb, np.full((8, 8, 1), 65535)], axis=-1))
    png16(pile / "c_la.png", rng.integers(0, 65536, (8, 8, 2)))
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(pile / "d8.png")
    np.testing.assert_array_equal(read_image(pile / "a48.png"), (rgb >> 8).astype(np.uint8))
    for read in (lambda: load_dataset(pile), lambda: load_images([pile], 8, 3)):
        with pytest.warns(UserWarning) as rec:
            read()
        msg = _messages(rec)
        assert re.search(r"3 16-bit colour images are read by their high byte \(Pillow\): depth16 does not apply "
                         r"to them \(e\.g\. .*a48\.png\)", msg), msg
        assert "stretched" not in msg and "8-bit and" not in msg       # colour: not the 16-bit gray rules


def test_mixed_8_and_16_bit_files_warn(tmp_path) -> None:
    pile = tmp_path / "pile"
    for i in range(3):
        Image.fromarray(np.full((8, 8), 50 * i, np.uint8)).save(save_dir(pile) / f"e{i}.png")
    png16(pile / "s.png", np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    with pytest.warns(UserWarning, match=r"3 8-bit and 1 16-bit images mixed .*: the 16-bit ones follow the depth16 "
                                         r"rule \(global\) while the 8-bit ones are kept as they are"):
        load_dataset(pile, depth16="global")


def test_float_tiffs_read_like_float_arrays(tmp_path) -> None:
    # 32-bit float gray TIFFs (ImageJ's processed images): [0, 1] scaled by 255, [0, 255] kept, like float arrays
    pile = save_dir(tmp_path / "pile")
    unit = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(unit).save(pile / "a.tif")
    Image.fromarray(unit * 200).save(pile / "b.tif")
    np.testing.assert_array_equal(read_image(pile / "a.tif")[..., 0], np.rint(unit * 255).astype(np.uint8))
    np.testing.assert_array_equal(read_image(pile / "b.tif")[..., 0], np.rint(unit * 200).astype(np.uint8))
    with pytest.warns(UserWarning, match=r"float images read on two scales: 1 with values in \[0, 1\].*a\.tif.*"
                                         r"1 with values above 1.*b\.tif"):
        train, _, _ = load_dataset(pile)
    assert train.x.shape == (2, 8, 8, 1)
    import warnings

    Image.fromarray(unit * 100).save(pile / "a.tif")                 # one scale: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(pile)


def save_dir(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_multi_page_files_warn_that_only_the_first_page_is_read(tmp_path) -> None:
    pile = save_dir(tmp_path / "pile")
    pages = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 200, 90)]
    pages[0].save(pile / "stack.tif", save_all=True, append_images=pages[1:])
    pages[0].convert("P").save(pile / "anim.gif", save_all=True, append_images=[p.convert("P") for p in pages[1:2]])
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(pile / "one.tif")
    assert (read_image(pile / "stack.tif") == 10).all()
    from wildgan.data.readers import iter_images, list_image_files

    def chunked() -> None:        # as scoring reads a folder: chunk by chunk, the generator never resumed at the end
        files = list_image_files([pile])
        data = iter_images(files, 8, 1, chunks=[[0], [1], [2]])
        for _ in range(3):
            next(data)

    for read in (lambda: load_dataset(pile), lambda: load_images([pile], 8, 1), chunked):
        with pytest.warns(UserWarning, match=r"2 files have several pages or frames \(e\.g\. .*anim\.gif: 2 pages\): "
                                             r"only the first page is read"):
            read()
    # a camera JPEG with an MPF preview opens as MPO with 2 frames: one photo, nothing to say
    photo = save_dir(tmp_path / "photos") / "photo.jpg"
    big = Image.fromarray(np.full((16, 16, 3), 120, np.uint8))
    big.save(photo, format="MPO", save_all=True, append_images=[big.resize((8, 8))])
    with Image.open(photo) as im:
        assert im.format == "MPO" and im.n_frames == 2
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_images([photo], 16, 3)


def test_macosx_folders_are_skipped_like_hidden_ones(tmp_path) -> None:
    pile = save_dir(tmp_path / "pile")
    for i in range(3):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(pile / f"{i}.png")
    (save_dir(pile / "__MACOSX")) .joinpath("._0.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    save_dir(pile / "__MACOSX" / "sub").joinpath("._x.png").write_bytes(b"junk")
    train, _, kind = load_dataset(pile)
    assert kind == "unlabelled-folder" and len(train) == 3
    assert load_images([pile], 8, 1)[0].shape[0] == 3
    tree = make_tree(tmp_path / "tree", classes=("a", "b"), n=2)
    save_dir(tree / "__MACOSX" / "a").joinpath("._000.png").write_bytes(b"junk")
    train, _, kind = load_dataset(tree)
    assert kind == "folder" and train.class_names == ["a", "b"]


def test_microscopy_formats_are_named_not_dropped(tmp_path) -> None:
    pile = make_tree(tmp_path / "pile", classes=("x",), n=2)
    for name in ("a.czi", "b.nd2", "c.lif"):
        (pile / "x" / name).write_bytes(b"not read")
    with pytest.warns(UserWarning, match=r"ignored 3 files with unsupported extensions .*\.czi: 1"):
        load_dataset(pile)
    with pytest.raises(DataError, match=r"a\.czi: the \.czi format is not read .*export the images to TIFF or PNG"):
        load_images([pile / "x" / "a.czi"], 8, 1)
    with pytest.raises(DataError, match=r"\.nd2 format is not read"):
        load_dataset(pile / "x" / "b.nd2")


def test_decompression_bomb_warning_names_the_file(tmp_path, monkeypatch) -> None:
    save(tmp_path / "big.png", np.zeros((8, 8), np.uint8))
    save(tmp_path / "huge.png", np.zeros((12, 12), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    with pytest.warns(UserWarning, match=r"big\.png: a very large image \(8x8") as rec:
        read_image(tmp_path / "big.png")
    assert not [w for w in rec if issubclass(w.category, Image.DecompressionBombWarning)]
    with pytest.raises(DataError, match=r"huge\.png: image too large to decode safely"):
        read_image(tmp_path / "huge.png")


def test_mixed_size_warning_names_the_files_native_sizes(tmp_path) -> None:
    pile = save_dir(tmp_path / "pile")
    for i in range(3):
        Image.fromarray(np.zeros((300, 300), np.uint8)).save(pile / f"big{i}.png")
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(pile / "small.png")
    with pytest.warns(UserWarning, match=r"images of 2 different sizes \(most common: 300x300 \(3\), 100x100 \(1\)\)"):
        load_dataset(pile)


def test_npz_test_images_of_another_size_warn(tmp_path) -> None:
    np.savez(tmp_path / "d.npz", x_train=np.zeros((4, 8, 8), np.uint8), y_train=np.zeros(4, np.int64),
             x_test=np.zeros((2, 16, 16, 3), np.uint8), y_test=np.zeros(2, np.int64))
    with pytest.warns(UserWarning, match=r"d\.npz: its test images 'x_test' \(16x16, 3 channels\) differ from its "
                                         r"training images 'x_train' \(8x8, 1 channel\)"):
        load_dataset(tmp_path / "d.npz")


def test_a_zip_is_a_data_set_read_whole_as_a_tar_is(tmp_path, monkeypatch) -> None:
    import zipfile

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    make_tree(tmp_path / "d", classes=("a",), n=2)
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        zf.write(tmp_path / "d" / "a" / "000.png", "a/000.png")
    train, _, kind = load_dataset(tmp_path / "d.zip")
    assert kind == "unlabelled-tar" and train.ids == ["a/000.png"]
    with pytest.raises(DataError, match=r"d\.zip: a data-set file \(a zip archive\), not an image"):
        load_images([tmp_path / "d.zip"], 8, 1)


def test_a_bare_npy_array_is_refused_with_the_npz_recipe(tmp_path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((3, 8, 8), np.uint8))
    for read in (lambda: load_dataset(tmp_path / "x.npy"), lambda: load_images([tmp_path / "x.npy"], 8, 1)):
        with pytest.raises(DataError, match=r"x\.npy: a bare \.npy array is not read: save it as an \.npz, e\.g\. "
                                            r"np\.savez\('images\.npz', x=array\)"):
            read()


def test_every_format_load_dataset_names_is_listed(tmp_path):
    from wildgan.data.readers import FORMATS

    tree = make_tree(tmp_path / "tree")
    np.savez(tmp_path / "l.npz", x=np.zeros((4, 8, 8), np.uint8), y=np.arange(4) % 2)
    np.savez(tmp_path / "u.npz", x=np.zeros((4, 8, 8), np.uint8))
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(3):
        save(pile / f"{i}.png", np.zeros((8, 8), np.uint8))
    kinds = {load_dataset(p)[2] for p in (tree, tmp_path / "l.npz", tmp_path / "u.npz", pile)}
    assert kinds == {"folder", "npz", "unlabelled-npz", "unlabelled-folder"} and kinds <= set(FORMATS)


def test_a_bad_file_in_a_tar_is_named_inside_the_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(20):
        save(pile / f"{i}.png", np.full((8, 8), i, np.uint8))
    (pile / "trunc.png").write_bytes((pile / "0.png").read_bytes()[:30])
    with tarfile.open(tmp_path / "pile.tar.gz", "w:gz") as t:
        t.add(pile, arcname="pile")
    for dataset in ("auto", "unlabelled"):
        with pytest.raises(DataError) as e:
            load_dataset(tmp_path / "pile.tar.gz", dataset)
        assert f"{tmp_path / 'pile.tar.gz'}:pile/trunc.png" in str(e.value) and "cache" not in str(e.value)


def test_warnings_about_a_tar_name_the_archive_not_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "tree"
    for c in ("a", "b"):
        (tree / c).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(np.full((8, 8), 1000 + 300 * i, np.uint16)).save(tree / c / f"{i}.png")
    with tarfile.open(tmp_path / "tree.tar.gz", "w:gz") as t:
        t.add(tree, arcname="tree")
    for _ in range(2):                                   # decoded, then from the decode cache
        with pytest.warns(UserWarning, match="stretched each to its own") as got:
            load_dataset(tmp_path / "tree.tar.gz")
        said = " ".join(str(w.message) for w in got)
        assert str(tmp_path / "tree.tar.gz") in said and "cache" not in said, said


def test_bits_rule_says_when_it_clips(tmp_path):
    import warnings

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 1000 * (i + 1), np.uint16)).save(pile / f"{i}.png")    # up to 4000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(pile, "unlabelled", depth16="bits:12")                    # 4000 <= 4095: nothing clipped
    with pytest.warns(UserWarning, match=r"raw 16-bit values up to 4000 lie above the top of depth16 bits:10 \(1023\) "
                                         r"and are clipped to 255; if the data is deeper, use bits:12"):
        load_dataset(pile, "unlabelled", depth16="bits:10")


def _parallel_pile(root: Path) -> Path:
    """Images of several sizes and kinds, one corrupt and one empty file: what a pool must decode like one process."""
    rng = np.random.default_rng(0)
    root.mkdir()
    for i in range(30):
        side = (12, 16, 20)[i % 3]
        a = rng.integers(0, 256, (side, side) if i % 2 else (side, side, 3), dtype=np.uint8)
        Image.fromarray(a).save(root / f"{i:02d}.png")
    Image.fromarray(rng.integers(0, 65535, (12, 12), dtype=np.uint16)).save(root / "16bit.png")
    (root / "15-corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "25-empty.png").write_bytes(b"")
    return root


def _decode(root: Path, workers: str, monkeypatch, **kw):
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", workers)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            got = load_images([root], 16, 3, **kw)
        except DataError as e:
            got = str(e)
    assert all(w.filename == __file__ for w in said if "a very large image" in str(w.message))   # the caller's line
    return got, [(w.category, str(w.message)) for w in said]


@pytest.fixture
def pool_spy(monkeypatch) -> list[int]:
    """The sizes of the process pools made while the test runs (each is still a real pool)."""
    import concurrent.futures

    pools: list[int] = []

    class Spy(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, n, **kw):
            pools.append(n)
            super().__init__(n, **kw)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Spy)
    return pools


def test_a_pool_of_processes_decodes_exactly_like_one(tmp_path, monkeypatch, pool_spy):
    # the same arrays, ids, skipped files, errors and warnings (also one given inside a worker: Pillow's size limit,
    # the caller's, which the workers take over), whatever the number of processes
    from wildgan.data import decode_pool, imageset, readers
    from PIL import Image as PILImage

    root = _parallel_pile(tmp_path / "pile")
    monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 0)
    monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 4)         # several tasks, more than the pool holds at once
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 300)          # 20x20 images: 'a very large image' warnings
    pools = pool_spy
    for kw in ({"skip_bad": True}, {}):
        (one, said1), (pool, said2) = _decode(root, "1", monkeypatch, **kw), _decode(root, "2", monkeypatch, **kw)
        if kw:
            np.testing.assert_array_equal(one[0], pool[0])
            assert one[1] == pool[1] and len(one[1]) == 31
        else:
            assert isinstance(one, str) and one == pool and "2 unreadable image files" in one
        assert said1 == said2 and any("a very large image" in m for _, m in said1)
        if kw:
            assert sum("skipped" in m for _, m in said1) == 2
    assert pools == [2, 2]                                          # the pool did the decoding (one per call)
    # a native-size probe stops at the first other size: one process, never a pool already decoding far beyond it
    from dataclasses import replace

    pools.clear()
    probe = replace(imageset.parse_opts({}), probe_uniform=True)
    with pytest.raises(imageset.MixedSizes):
        decode_pool.decode_files(readers.list_image_files([root]), probe, [])
    assert pools == []


def test_the_chunks_of_a_job_share_one_pool(tmp_path, monkeypatch, pool_spy):
    """`wildgan score` decodes a pile chunk by chunk (64 MB each: 320 files at 256 px, so hundreds of chunks). One
    pool decodes every chunk of a job (starting one costs about a second), when the job is large or its files are
    big; a small job of small files has none. The pixels are those of one process, and the pool's processes end
    with the last chunk."""
    from wildgan.data import decode_pool, readers

    root = _parallel_pile(tmp_path / "pile")
    files = readers.list_image_files([root])
    monkeypatch.setattr(decode_pool, "_DECODE_TASK_FILES", 4)
    pools = pool_spy
    chunks = [range(0, 12), range(12, 24), range(24, len(files))]
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "2")
    list(readers.iter_images(files, 16, 3, chunks=chunks, skip_bad=True))
    assert pools == []                       # 31 small files: not worth a pool's start
    monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 20)     # the job (31 files) is large, a chunk is not
    closed = []
    real_close = decode_pool.DecodePool.close
    monkeypatch.setattr(decode_pool.DecodePool, "close", lambda self: (closed.append(self._ex is not None),
                                                                    real_close(self)))
    got = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("WILDGAN_DECODE_WORKERS", workers)
        it = readers.iter_images(files, 16, 3, chunks=chunks, skip_bad=True)
        got[workers] = [next(it)[:2] for _ in chunks]           # not resumed after the last chunk, as callers may
    assert pools == [2] and closed[0] is True                   # one pool for the three chunks, ended at the last
    monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 2048)
    monkeypatch.setattr(decode_pool, "CHUNK_POOL_MIN_BYTES", 1)          # a small job of big files (large photos)
    list(readers.iter_images(files, 16, 3, chunks=chunks, skip_bad=True))
    assert pools == [2, 2]
    for (xa, ka), (xb, kb) in zip(got["1"], got["2"]):
        np.testing.assert_array_equal(xa, xb)
        assert ka == kb


def test_after_a_bad_chunk_the_later_files_are_checked_by_their_headers_only(tmp_path, monkeypatch):
    """One unreadable file in the first chunk: the error still names the bad files of later chunks, but the good ones
    there are not decoded (that took minutes for a large pile of photos, at native size, before the error)."""
    from wildgan.data import image_decode, readers

    root = _parallel_pile(tmp_path / "pile")
    files = readers.list_image_files([root])
    readable = [f for f in files if image_decode.header_opens(f)]
    first_bad, late_bad = readable[1], readable[-1]
    first_bad.write_bytes(b"not an image")
    late_bad.write_bytes(b"no image either")
    decoded = []
    real = readers.read_image
    monkeypatch.setattr(readers, "read_image", lambda f, *a, **k: decoded.append(Path(f)) or real(f, *a, **k))
    decode_calls = []                               # the chunks decoded whole (the later ones must not be)
    real_decode = readers.decode_files
    monkeypatch.setattr(readers, "decode_files",
                        lambda part, *a, **k: decode_calls.append(list(part)) or real_decode(part, *a, **k))
    n = len(files)
    chunks = [range(0, n // 3), range(n // 3, 2 * n // 3), range(2 * n // 3, n)]
    with pytest.raises(DataError) as e:
        list(readers.iter_images(files, 16, 3, chunks=chunks))
    assert decode_calls == [[files[i] for i in chunks[0]]]
    later = [files[i] for c in chunks[1:] for i in c]
    later_bad = [f for f in later if not image_decode.header_opens(f)]   # late_bad and the pile's own broken files
    assert late_bad in later_bad and len(later_bad) < len(later)
    assert all(f.name in str(e.value) for f in [first_bad, *later_bad])
    assert [f for f in decoded if f in set(later)] == later_bad      # only the bad ones, for their reasons


def test_a_decoding_process_that_dies_is_a_clear_error(tmp_path, monkeypatch):
    from wildgan.data import decode_pool
    from wildgan.errors import WildganError

    root = _parallel_pile(tmp_path / "pile")
    monkeypatch.setattr(decode_pool, "PARALLEL_DECODE_MIN_FILES", 0)
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "2")
    monkeypatch.setattr(decode_pool, "_decode_task", _dies)              # spawned workers import it from this module
    with pytest.raises(WildganError, match="a process decoding the image files died .*WILDGAN_DECODE_WORKERS=1"):
        load_images([root], 16, 3, skip_bad=True)


def _dies(*args):
    os._exit(3)                      # a worker killed (e.g. by the OOM killer)


def test_decode_workers_setting(monkeypatch):
    from wildgan.data import decode_pool

    n = decode_pool.PARALLEL_DECODE_MIN_FILES
    monkeypatch.delenv("WILDGAN_DECODE_WORKERS", raising=False)
    assert decode_pool.decode_workers(10 * n) == 1                      # the Python API: one process unless asked
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "3")
    assert decode_pool.decode_workers(10 * n) == 3 and decode_pool.decode_workers(n - 1) == 1
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "auto")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")                    # more processes on the node than cores
    assert decode_pool.decode_workers(10 * n) == 1
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "Many")
    for files in (10 * n, 3):                                       # a typo is said at once, not only for big piles
        with pytest.raises(ConfigError, match="WILDGAN_DECODE_WORKERS must be a number of processes") as e:
            decode_pool.decode_workers(files)
        assert str(e.value).endswith("got Many"), str(e.value)       # as typed, not Python's repr of it lowered
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "0")
    assert decode_pool.decode_workers(10 * n) == 1                      # none, as DataLoader's num_workers=0
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "-3")
    with pytest.raises(ConfigError, match=r"must be a number of processes \(0 or 1: none\).*got -3$"):
        decode_pool.decode_workers(10 * n)                              # was taken as 1 without a word


def test_a_tree_named_like_cifar10_records_the_colour_of_its_own_files(tmp_path):
    # class folders that carry CIFAR-10's names get its protocol, said in a note; the run's record of colour comes
    # from the files (some gray: gray images to score are not called odd), as for real CIFAR-10 (all colour files)
    import warnings

    from wildgan.config import DataConfig
    from wildgan.data import build_split, conversion_opts

    rng = np.random.default_rng(0)
    mixed, colour = tmp_path / "mixed", tmp_path / "colour"
    for c in CIFAR10_CLASSES:
        for i in range(20):
            save(colour / c / f"{i:02d}.jpg", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
            # every fifth file gray, and one colour file of gray content (CIFAR-10 has such photos)
            a = rng.integers(0, 256, (8, 8), dtype=np.uint8) if i % 5 == 0 else \
                np.repeat(rng.integers(0, 256, (8, 8, 1), dtype=np.uint8), 3, axis=2) if i == 1 else \
                rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            save(mixed / c / f"{i:02d}.jpg", a)
    with pytest.warns(UserWarning, match="its class folders are CIFAR-10's ten classes but its images are not "
                                         "CIFAR-10's 32x32 colour photos; the cifar10 protocol is used "
                                         ".*dataset='folder' uses the generic protocol"):
        info = build_split(DataConfig(data=str(mixed))).info
    assert info["protocol"] == "cifar10" and info["channels"] == 3 and info["conversion"]["gray_files"] == 40
    assert "colour_data" not in conversion_opts(info)
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # chosen explicitly: no note
        info = build_split(DataConfig(data=str(colour), dataset="cifar10")).info
    assert info["conversion"]["gray_files"] == 0 and conversion_opts(info)["colour_data"] is True
    # the generic protocol on request; and real CIFAR-10 batches: colour throughout, no note
    info = build_split(DataConfig(data=str(mixed), dataset="folder", normal=("cat",))).info
    assert info["protocol"] == "generic" and "colour_data" not in conversion_opts(info)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = build_split(DataConfig(data=str(make_cifar_batches(tmp_path / "cifar-10-batches-py", 60)))).info
    assert info["protocol"] == "cifar10" and conversion_opts(info)["colour_data"] is True
    # CIFAR-10 itself as a tree of files (32x32, colour; the shared JPEG archive is one), protocol auto: no note,
    # which would otherwise come again with every rebuild of its split
    real = tmp_path / "cifar-tree"
    for c in CIFAR10_CLASSES:
        for i in range(24):
            save(real / c / f"{i}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = build_split(DataConfig(data=str(real))).info
    assert info["protocol"] == "cifar10" and conversion_opts(info)["colour_data"] is True
    # a split.json recorded before the gray files were counted keeps the protocol's assumption
    old = {"protocol": "cifar10", "channels": 3, "conversion": {"fit": "resize"}}
    assert conversion_opts(old)["colour_data"] is True


def test_gray_file_counts_survive_the_tar_decode_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    src = make_tree(tmp_path / "src" / "t", classes=("a", "b"), n=3, split="train")
    save(src / "train" / "a" / "gray.png", np.zeros((8, 8), np.uint8))
    make_tree(src, classes=("a", "b"), n=2, split="test")
    with tarfile.open(tmp_path / "t.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="t")
    for _ in range(2):                               # decoded, then read back from the cache
        train, test, _ = load_dataset(tmp_path / "t.tar.gz")
        assert train.info["n_gray_files"] == 1 and test.info["n_gray_files"] == 0
    assert list((tmp_path / "cache").glob("*.decoded-*.npz"))


def _crop_warnings(call) -> list[str]:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in said if "not square" in str(w.message)]


def test_non_square_images_are_warned_about_once_per_data_set(tmp_path, monkeypatch):
    # a tree with train/ and test/, its tar (decoded, and from the cache) and an .npz with x_train / x_test: one
    # warning each, naming the data set, not one for its training and one for its test images
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    tree = make_tree(tmp_path / "t", n=3, size=(6, 8), split="train")
    make_tree(tree, n=2, size=(6, 8), split="test")
    said = _crop_warnings(lambda: load_dataset(tree))
    assert len(said) == 1 and said[0].startswith(f"{tree}: images that are not square (e.g. 8x6)")
    with tarfile.open(tmp_path / "t.tar.gz", "w:gz") as tar:
        tar.add(tree, arcname="t")
    for _ in range(2):
        assert len(_crop_warnings(lambda: load_dataset(tmp_path / "t.tar.gz"))) == 1
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8), y_train=np.zeros(4, int),
             x_test=rng.integers(0, 256, (2, 6, 8, 3), dtype=np.uint8), y_test=np.zeros(2, int))
    assert len(_crop_warnings(lambda: load_dataset(tmp_path / "d.npz"))) == 1


def test_a_data_set_file_among_image_files_is_named_as_one(tmp_path):
    # an .npz, a tar or a CIFAR batch given where image files are expected: not 'not a readable image'
    from wildgan.data.readers import list_image_files

    pile = make_tree(tmp_path / "pile", classes=("a",), n=2)
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 8, 8), np.uint8))
    with tarfile.open(tmp_path / "p.tar.gz", "w:gz") as tar:
        tar.add(pile, arcname="pile")
    batches = make_cifar_batches(tmp_path / "cifar-10-batches-py", 2)
    for f, kind in ((tmp_path / "x.npz", "an .npz archive"), (tmp_path / "p.tar.gz", "a tar archive"),
                    (batches / "data_batch_1", "a CIFAR-10 python batch"), (batches, "a CIFAR-10 batch folder")):
        want = rf"^{re.escape(str(f))}: a data-set file \({re.escape(kind)}\), not an image: it cannot be mixed"
        with pytest.raises(DataError, match=want):
            list_image_files([f, pile])
        with pytest.raises(DataError, match=want):
            load_images([pile, f], 8, 3, skip_bad=True)
        if f.is_file():
            with pytest.raises(DataError, match=want):
                read_image(f)


# ------------------------------------------------------------------------------------------------ memory
def test_a_pile_too_big_for_memory_is_said_before_decoding(tmp_path, monkeypatch):
    from wildgan.data import decode_pool

    root = make_tree(tmp_path / "d", classes=("a", "b"), n=2, size=(16, 16))
    monkeypatch.setattr(decode_pool, "ROOM_CHECK_MIN_BYTES", 0)
    decoded = 4 * 16 * 16 * 3
    monkeypatch.setattr(decode_pool, "host_memory_available", lambda: int(decoded * decode_pool.TRAINING_HOLDS) - 1)
    for dataset in ("unlabelled", "folder"):         # a pile, and a labelled tree (its files of every class)
        with pytest.warns(UserWarning, match=r"4 images decode to about .* GiB \(16x16x3 each, judged by the headers "
                                             r"of 4 files\) and training holds up to about 1.4x .* "
                                             r"resolution=, channels=1"):
            load_dataset(root, dataset=dataset)
    # room: quiet
    monkeypatch.setattr(decode_pool, "host_memory_available", lambda: math.ceil(decoded * decode_pool.TRAINING_HOLDS))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(root, dataset="unlabelled")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")              # under torchrun each process of the machine decodes it
    with pytest.warns(UserWarning, match="one copy in each of 2 processes"):
        load_dataset(root, dataset="unlabelled")
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    with pytest.warns(UserWarning, match=r"\(32x32x3 each"):      # converted to --resolution, larger or smaller
        load_dataset(root, dataset="unlabelled", resolution=32)
    monkeypatch.setattr(decode_pool, "host_memory_available", lambda: 10)
    monkeypatch.setattr(decode_pool, "ROOM_CHECK_MIN_BYTES", 4 * 8 * 8 * 3 + 1)
    with warnings.catch_warnings():       # the decode shrinks to --resolution: that is what is estimated
        warnings.simplefilter("error")
        load_dataset(root, dataset="unlabelled", resolution=8)


def test_the_memory_estimate_counts_rotated_copies_and_colour_files_after_gray_ones(tmp_path, monkeypatch):
    from wildgan.data import decode_pool, imageset
    from wildgan.config import DataConfig
    from wildgan.data import build_split

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(32):              # gray files first: the first file alone said gray, a third of the estimate
        a = np.full((16, 16), i, np.uint8) if i < 16 else np.full((16, 16, 3), i, np.uint8)
        Image.fromarray(a).save(pile / f"{i:03d}.png")
    files = sorted(pile.glob("*.png"))
    monkeypatch.setattr(decode_pool, "ROOM_CHECK_MIN_BYTES", 0)
    decoded = 32 * 16 * 16 * 3
    monkeypatch.setattr(decode_pool, "host_memory_available", lambda: int(decoded * decode_pool.TRAINING_HOLDS) - 1)
    with pytest.warns(UserWarning, match=r"\(16x16x3 each, judged by the headers of 16 files\)"):
        decode_pool.warn_if_no_room(files, imageset.Opts(), "pile")
    monkeypatch.setattr(decode_pool, "host_memory_available", lambda: int(decoded * decode_pool.TRAINING_HOLDS) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decode_pool.warn_if_no_room(files, imageset.Opts(), "pile")                        # room without rotations
        with pytest.raises(ConfigError, match="unknown data option"):
            load_dataset(pile, rotations=3, bogus=1)                       # (internal: accepted, not listed)
    with pytest.warns(UserWarning, match=r"training, with 3 rotated copies of each, holds up to about 5.6x .* fewer "
                                         r"rotations="):
        decode_pool.warn_if_no_room(files, imageset.Opts(rotations=3), "pile")
    with pytest.warns(UserWarning, match=r"with 3 rotated copies"):     # from the training's own config
        build_split(DataConfig(data=str(pile), dataset="unlabelled", rotations=3), progress=False)


def test_host_memory_available_is_known_here():
    from wildgan.data.decode_pool import host_memory_available

    got = host_memory_available()
    # >= 0, not > 0: in a container at its cgroup limit (memory.current, active page cache included, can sit at
    # memory.max) the room left is 0, which is a known amount, not a failure
    assert got is None or (isinstance(got, int) and got >= 0)


def test_a_16_bit_gray_pile_is_estimated_as_gray(tmp_path, monkeypatch):
    from wildgan.data import decode_pool, imageset

    for i in range(3):
        Image.fromarray(np.full((16, 16), 1000 * i, np.uint16)).save(tmp_path / f"{i}.png")     # mode I;16
    monkeypatch.setattr(decode_pool, "ROOM_CHECK_MIN_BYTES", 0)
    monkeypatch.setattr(decode_pool, "host_memory_available", lambda: 1)
    with pytest.warns(UserWarning, match=r"\(16x16x1 each"):
        decode_pool.warn_if_no_room(sorted(tmp_path.glob("*.png")), imageset.Opts(), "pile")


def test_stacking_hands_the_decoded_images_back_as_it_goes(tmp_path, monkeypatch):
    """The decoded list is consumed while the block fills, and freed memory is handed back along the way (glibc
    keeps freed small blocks: without it a pile is held twice while it is stacked)."""
    from wildgan.data import decode_pool, imageset

    calls = []
    monkeypatch.setattr(decode_pool, "release_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(decode_pool, "_TRIM_EVERY_BYTES", 8 * 8 * 3 * 2)                # every second image
    arrays = [np.full((8, 8, 3), i, np.uint8) for i in range(5)]
    out = decode_pool.stack(arrays, [f"f{i}" for i in range(5)], imageset.Opts(), "x")
    assert [int(a[0, 0, 0]) for a in out] == [0, 1, 2, 3, 4] and arrays == [None] * 5
    assert len(calls) == 3                                                   # after images 2 and 4, and at the end


def test_a_cgroup_limit_lowers_the_memory_available_and_its_page_cache_does_not(tmp_path, monkeypatch):
    from wildgan.data import decode_pool

    job, top = tmp_path / "job", tmp_path
    job.mkdir()
    (job / "memory.max").write_text(f"{10 * 2**30}\n")
    (job / "memory.current").write_text(f"{6 * 2**30}\n")
    (job / "memory.stat").write_text(f"anon 1\ninactive_file {2 * 2**30}\nactive_file 5\n")
    (top / "memory.max").write_text("max\n")
    monkeypatch.setattr(decode_pool, "_cgroup_dirs", lambda: [job, top])
    (tmp_path / "meminfo").write_text(f"MemTotal: 99 kB\nMemAvailable:   {32 * 2**20} kB\n")
    monkeypatch.setattr(decode_pool, "_MEMINFO", str(tmp_path / "meminfo"))
    assert decode_pool.host_memory_available() == 6 * 2**30    # 10 GiB limit - (6 GiB used - 2 GiB of page cache)
    (tmp_path / "meminfo").write_text(f"MemAvailable:   {3 * 2**20} kB\n")
    assert decode_pool.host_memory_available() == 3 * 2**30            # the machine's own, when lower
    monkeypatch.setattr(decode_pool, "_cgroup_dirs", lambda: [])
    (tmp_path / "meminfo").write_text(f"MemAvailable:   {32 * 2**20} kB\n")
    assert decode_pool.host_memory_available() == 32 * 2**30


def test_a_shared_pool_broken_between_chunks_is_the_plain_error(tmp_path):
    """A process of the job's pool killed while the caller scored the last chunk (the out-of-memory killer): the next
    chunk's first submit says what happened and the way around it, not a raw BrokenProcessPool."""
    from concurrent.futures.process import BrokenProcessPool

    from wildgan.data import decode_pool, imageset

    class Broken:
        def submit(self, *a, **k):
            raise BrokenProcessPool("A child process terminated abruptly")

    pool = decode_pool.DecodePool(2)
    pool._ex = Broken()
    files = [save(tmp_path / f"{i}.png", np.zeros((4, 4, 3), np.uint8)) for i in range(3)]
    with pytest.raises(WildganError, match="a process decoding the image files died .* WILDGAN_DECODE_WORKERS=1"):
        list(decode_pool._pooled(files, imageset.Opts(), None, 2, shared=pool))


# ---------------------------------------------------------------------------------------- large JPEGs: the draft
def _photo(path: Path, h: int, w: int, orientation: int | None = None, seed: int = 0) -> Path:
    """A JPEG with photo-like content (smooth shapes, texture and noise), optionally with an EXIF orientation."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 128 + 60 * np.sin(xx / 23.0 + seed) * np.cos(yy / 31.0) + 25 * np.sin((xx + yy) / 5.3)
    img = np.stack([base, np.roll(base, 17, 1), np.roll(base, 29, 0)], -1) + rng.normal(0, 10, (h, w, 3))
    img[h // 3:h // 2, w // 4:w // 2] = 30                      # an edge for the resampling to keep
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_with_its_own_size_reported(tmp_path) -> None:
    from wildgan.data.image_decode import JPEG_DRAFT_GAP, read_image_sized

    f = _photo(tmp_path / "big.jpg", 768, 1024)
    a, native = read_image_sized(f, reduce_for=64)
    assert native == (768, 1024)
    assert a.shape == (192, 256, 3)                           # 1/4: the largest scale keeping 2 x 64 = 128 a side
    assert min(a.shape[:2]) >= JPEG_DRAFT_GAP * 64
    full, native_full = read_image_sized(f)                   # no reduce_for: the whole image
    assert full.shape == (768, 1024, 3) and native_full == (768, 1024)
    assert read_image_sized(f, reduce_for=512)[0].shape == (768, 1024, 3)   # 2 x 512 > 768: nothing to gain
    # a small JPEG, and any other format, is read whole
    small = _photo(tmp_path / "small.jpg", 200, 200)
    assert read_image_sized(small, reduce_for=64)[0].shape == (200, 200, 3)
    png = tmp_path / "big.png"
    Image.fromarray(full).save(png)
    assert read_image_sized(png, reduce_for=64)[0].shape == (768, 1024, 3)


def test_a_drafted_jpeg_is_turned_by_its_exif_orientation_and_reports_the_turned_size(tmp_path) -> None:
    from wildgan.data.image_decode import read_image_sized

    f = _photo(tmp_path / "turned.jpg", 768, 1024, orientation=6)      # shown a quarter turn: 1024 high, 768 wide
    a, native = read_image_sized(f, reduce_for=64)
    assert native == (1024, 768) and a.shape == (256, 192, 3)
    full = read_image(f)
    assert full.shape == (1024, 768, 3)
    small = np.asarray(Image.fromarray(full).resize((192, 256), Image.Resampling.BILINEAR), dtype=np.int16)
    assert np.abs(a.astype(np.int16) - small).mean() < 6       # the same picture, the same way up


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_reading_large_jpegs_for_a_resolution_stays_close_to_shrinking_them_whole(tmp_path, resolution) -> None:
    """The draft's cost in fidelity: the pixels against resizing the full decode (benchmarks/jpeg_draft.py measures
    the same on larger photos)."""
    from wildgan.data.transforms import resize_one

    files = [_photo(tmp_path / f"{i}.jpg", 600 + 40 * i, 800, seed=i) for i in range(3)]
    x, ids = load_images([tmp_path], resolution, 3)
    assert ids == [str(f) for f in files]
    whole = np.stack([resize_one(read_image(f), resolution, "resize") for f in files])
    d = np.abs(x.astype(np.int16) - whole)
    assert d.mean() < 0.5 and d.max() <= 4, (d.mean(), d.max())     # (measured 0.08-0.3 and 1-3; at 1/8 up to 11)
    assert not np.array_equal(x, whole)                       # (drafted: else this test measures nothing)


@pytest.mark.parametrize("fit", ["resize", "pad", "letterbox"])
def test_training_scoring_and_the_detector_read_a_large_jpeg_to_the_same_pixels(tmp_path, fit) -> None:
    """One rule for every path that shrinks a file while reading it, so a model is scored on pixels made as its
    training pixels were: the data set reader (training), load_images (scoring files) and the Detector, also when
    the Detector reads at its limit first and then again at a smaller resolution."""
    import wildgan.data.inputs as D

    for i in range(4):
        _photo(tmp_path / "pile" / f"{i}.jpg", 520 + 30 * i, 700 - 20 * i, orientation=6 if i == 1 else None, seed=i)
    pile = tmp_path / "pile"
    for res in (16, 32):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train, _, _ = load_dataset(pile, resolution=res, channels=3, fit=fit)
            scored, ids = load_images([pile], res, 3, fit=fit)
            items, _ = D.decode_items(pile, "per-image", limit=64, fit=fit, channels=3)
            D.refit(items, res, "per-image", fit, 3)
            det = D.convert_items(items, res, 3, fit)
        order = [train.ids.index(Path(i).name) if Path(i).name in train.ids else train.ids.index(i) for i in ids]
        np.testing.assert_array_equal(train.x[order], scored)
        np.testing.assert_array_equal(det, scored)
    assert D.item_shapes(items)[1] == (700 - 20, 520 + 30, 3)    # the turned photo's own size, as shown


@pytest.mark.parametrize("orientation", [None, 6])
def test_a_jpeg_opened_with_pil_gives_the_pixels_of_its_file_read_by_path(tmp_path, orientation) -> None:
    """Detector.score(Image.open(f)) decoded the JPEG in full while Detector.score(f) drafts it (reduced-scale DCT):
    slightly different pixels for one photo. A JPEG not yet loaded now takes the path reader's draft, on a twin of
    the caller's image: theirs keeps its size and can still be loaded in full."""
    import io

    from wildgan.data.inputs import item_shapes, to_images

    f = _photo(tmp_path / "big.jpg", 768, 1024, orientation=orientation)
    by_path, _ = to_images(f, 32, 3)
    im = Image.open(f)
    x, ids = to_images(im, 32, 3)
    np.testing.assert_array_equal(x, by_path)
    assert ids == ["image:0"]
    assert im.size == (1024, 768) and im.tile                  # the caller's image: not drafted, not even loaded
    assert np.asarray(im).shape == (768, 1024, 3)              # ... and still whole when they load it
    opened = Image.open(io.BytesIO(f.read_bytes()))            # (bytes in memory, e.g. an upload)
    np.testing.assert_array_equal(to_images(opened, 32, 3)[0], by_path)
    # an image already loaded is decoded as it is (the draft can only be chosen before the pixels are decoded)
    loaded = Image.open(f)
    loaded.load()
    assert not np.array_equal(to_images(loaded, 32, 3)[0], by_path)
    # the size as shown, as a file's (the scale warnings and a fit's native_sides read it)
    from wildgan.data.inputs import decode_items

    items, _ = decode_items([Image.open(f)], "per-image", limit=32, channels=3)
    assert item_shapes(items) == [(1024, 768, 3) if orientation == 6 else (768, 1024, 3)]


def test_a_pil_jpeg_in_a_fit_of_automatic_resolution_gives_the_pixels_it_is_scored_with(tmp_path) -> None:
    """A fit that chooses its resolution reads images for the largest it can choose (256 px): a PIL JPEG drafted for
    256 kept that decode when the resolution came out smaller (64, a pile of small crops), while scoring it with the
    fitted resolution drafts it for 64, as does its file read by path, in the fit and in scoring. Its training pixels
    were not those it is scored with. It is decoded again for the final resolution, as a file is (refit)."""
    from wildgan.data.inputs import to_images

    f = _photo(tmp_path / "mid.jpg", 900, 1200)     # drafted for 64 px (1/2), not for 256 (the gap needs 512 px)
    small = [np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8) for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (the different sizes are said)
        by_path, _ = to_images([f, *small])
        fitted, _ = to_images([Image.open(f), *small])
    assert by_path.shape[1] == 64
    np.testing.assert_array_equal(to_images(f, 64, 3)[0][0], by_path[0])            # the file: as it is scored
    np.testing.assert_array_equal(to_images(Image.open(f), 64, 3)[0][0], by_path[0])
    np.testing.assert_array_equal(fitted, by_path)                                   # the PIL image in the fit too


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_a_pil_image_whose_file_was_closed_before_it_was_loaded_is_refused_as_such(tmp_path, fmt) -> None:
    """`with Image.open(f) as im: images.append(im)` keeps images whose file is closed and whose pixels were never
    read: refused as a 'truncated or corrupt image (AssertionError: )', which sent the user to check a sound file."""
    from wildgan.data.inputs import to_images

    f = tmp_path / f"a.{fmt}"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(f)
    with Image.open(f) as im:
        pass
    fh = open(f, "rb")
    im2 = Image.open(fh)
    fh.close()
    for closed in (im, im2):
        with pytest.raises(DataError, match=r"^image 0: its file was closed before its pixels were read") as e:
            to_images([closed], 32, 3)
        assert "corrupt" not in str(e.value)
    with Image.open(f) as im3:
        im3.load()                                      # loaded inside the block: its pixels are there
    assert to_images([im3], 32, 3)[0].shape == (1, 32, 32, 3)


def test_large_files_in_a_pile_of_small_ones_are_read_once_at_the_automatic_resolution(tmp_path) -> None:
    """A pile mostly of small crops (automatic resolution 64) with a few large files among them, shrunk to the 256-px
    cap while decoding: their training pixels are those scoring reads for 64 px (one resampling from the file), not
    a second shrinking of the 256-px copy (and a strip's short side is never enlarged on the way)."""
    pile = tmp_path / "pile"
    rng = np.random.default_rng(3)
    for i in range(9):
        pile.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(pile / f"crop{i}.png")
    big = [_photo(pile / "photo.jpg", 600, 800), pile / "strip.png"]
    Image.fromarray(rng.integers(0, 256, (100, 1200, 3), dtype=np.uint8)).save(big[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, _, _ = load_dataset(pile, dataset="unlabelled")
        scored, _ = load_images(big, 64, 3)
    assert train.x.shape[1:] == (64, 64, 3)
    for f, want in zip(big, scored):
        np.testing.assert_array_equal(train.x[train.ids.index(f.name)], want)


def test_the_draft_scale_keeps_the_gap_and_the_square_on_whole_blocks() -> None:
    from wildgan.data.image_decode import draft_scale

    assert draft_scale(3000, 4000, 64) == 4 and draft_scale(3024, 4032, 256) == 4 and draft_scale(1080, 1920, 64) == 4
    assert draft_scale(3000, 4000, 512) == 2                   # 1/4 would keep 750 < 2 x 512
    assert draft_scale(3000, 4000, 1024) == 1
    assert draft_scale(1500, 2000, 64) == 2                    # the crop offset, 250, is not a multiple of 4
    assert draft_scale(1501, 2000, 64) == 1                    # an odd side: no whole blocks
    assert draft_scale(4096, 4096, 16) == 4                    # never 1/8 (see _DRAFT_MAX_SCALE)
    assert draft_scale(256, 256, 16) == 1 and draft_scale(260, 260, 16) == 4   # not at most 256 a side (below)


def test_an_archive_of_small_jpegs_and_its_folder_give_the_same_pixels(tmp_path, monkeypatch) -> None:
    """An archive of images of at most 256 px is decoded once at full size and cached, then converted to the
    resolution asked for: the folder's files, read for that resolution, must not be read at a reduced scale."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "tree"
    for i in range(4):
        _photo(tree / "a" / f"{i}.jpg", 256, 256, seed=i)
        _photo(tree / "b" / f"{i}.jpg", 256, 256, seed=10 + i)
    tgz = tmp_path / "tree.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tree, arcname="tree")
    from_tar, _, _ = load_dataset(tgz, resolution=32)
    from_folder, _, _ = load_dataset(tree, resolution=32)
    scored, _ = load_images([tree], 32, 3)
    np.testing.assert_array_equal(from_tar.x, from_folder.x)
    np.testing.assert_array_equal(from_folder.x, scored)


@pytest.mark.parametrize("fit", ["resize", "letterbox"])
@pytest.mark.parametrize("size,resolution", [((90, 120), 32), ((30, 40), 64), ((100, 120), None)])
def test_a_gray_run_of_colour_images_gets_the_same_pixels_by_every_path(tmp_path, fit, size, resolution) -> None:
    """Colour made gray and resizing round differently in either order (1 level in about a fifth of the pixels),
    so every path makes gray first, then resizes (transforms.convert's order): files read for training (the split,
    which enlarges images smaller than the resolution), for scoring and by the Detector, and arrays given whole
    (an .npz, the Detector's in-memory images); images shrunk while decoding, enlarged after, and at the automatic
    resolution (100x120 -> 128)."""
    import wildgan.data.inputs as D
    from wildgan.config import DataConfig
    from wildgan.data import build_split

    rng = np.random.default_rng(5)
    pile = tmp_path / "pile"
    pile.mkdir()
    full = []
    for i in range(16):
        a = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(a).save(pile / f"{i:02d}.png")
        full.append(a)
    np.savez(tmp_path / "arrays.npz", x=np.stack(full))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = build_split(DataConfig(data=str(pile), dataset="unlabelled", resolution=resolution, channels=1,
                                       fit=fit))
        res = split.resolution
        scored, ids = load_images([pile], res, 1, fit=fit)
        train, _, _ = load_dataset(pile, dataset="unlabelled", resolution=resolution, channels=1, fit=fit)
        npz = build_split(DataConfig(data=str(tmp_path / "arrays.npz"), dataset="unlabelled", resolution=res,
                                     channels=1, fit=fit))
        det_files, _ = D.to_images(pile, resolution=res, channels=1, resize_mode=fit)
        det_arrays, _ = D.to_images(full, resolution=res, channels=1, resize_mode=fit)
        det_block, _ = D.to_images(np.stack(full), resolution=res, channels=1, resize_mode=fit)
    assert scored.shape == (16, res, res, 1) and res == (resolution or 128)
    assert train.info["n_gray_files"] == 0 and not train.info["native_gray"]    # colour files, though read gray
    by_id = dict(zip(split.train_ids, split.train_x))
    np.testing.assert_array_equal(np.stack([by_id[Path(i).name] for i in ids]), scored)
    by_id = dict(zip(npz.train_ids, npz.train_x))
    np.testing.assert_array_equal(np.stack([by_id[k] for k in sorted(by_id, key=lambda k: int(k.split(":")[-1]))]),
                                  scored)
    for other in (det_files, det_arrays, det_block):
        np.testing.assert_array_equal(other, scored)


def test_resize_error_reads_large_jpegs_as_scoring_does(tmp_path) -> None:
    """--resize error keeps the files' sizes to compare them (no shrinking while decoding), but its training pixels
    at the automatic 256 are those scoring reads for 256 (a reduced-scale decode), and two sizes that decode to one
    reduced size are still told apart."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split

    pile = tmp_path / "pile"
    # 16 photos (the tiny preset's one minibatch): one drawn, the others its pixels shifted sideways, each a different
    # image, since drawing 16 photos of 3 MP took 6 s of the test's 7
    with Image.open(_photo(pile / "00.jpg", 1536, 2048, seed=0)) as im:
        pixels = np.asarray(im)
    for i in range(1, 16):
        Image.fromarray(np.roll(pixels, 97 * i, axis=1)).save(pile / f"{i:02d}.jpg", "JPEG", quality=92)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = build_split(DataConfig(data=str(pile), dataset="unlabelled", resize="error"))
        scored, ids = load_images([pile], 256, 3)
    assert split.resolution == 256
    by_id = dict(zip(split.train_ids, split.train_x))
    np.testing.assert_array_equal(np.stack([by_id[Path(i).name] for i in ids]), scored)
    _photo(pile / "other.jpg", 768, 1024)         # read whole: 1024x768, as the others at 1/2
    with pytest.raises(DataError, match=r"image size 1024x768 differs from .*\(2048x1536\).*resize='error'"):
        load_dataset(pile, dataset="unlabelled", resize="error")


def test_an_npz_s_test_arrays_are_used_beside_x_and_x_with_x_train_is_refused(tmp_path) -> None:
    rng = np.random.default_rng(0)
    p = tmp_path / "d.npz"
    np.savez(p, x=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), y=np.arange(40) % 2,
             x_test=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8), y_test=np.arange(10) % 2)
    train, test, _ = load_dataset(p)
    assert len(train) == 40 and test is not None and len(test) == 10     # (the test arrays used to be ignored)
    q = tmp_path / "both.npz"
    np.savez(q, x=np.zeros((4, 8, 8), np.uint8), y=np.zeros(4, int), x_train=np.zeros((4, 8, 8), np.uint8),
             y_train=np.zeros(4, int))
    with pytest.raises(DataError, match=r"both\.npz: holds both 'x' and 'x_train'"):
        load_dataset(q)


def test_an_npz_s_arrays_the_reader_does_not_take_are_named_once_and_a_note_is_not(tmp_path) -> None:
    """Photo ids saved as 'image_id' beside x_train (whose are 'image_id_train', docs/data.md) were ignored without a
    word: a protocol that splits by photo then split without them. Now one warning names the file, each array left
    unread with the name it is probably meant as (of the image set its length fits), and the names the reader takes;
    a 0-d array, a note such as the shared data's 'source', is not said; the reading is otherwise as before."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8), np.arange(10) % 2
    p = tmp_path / "d.npz"
    np.savez(p, x_train=x, y_train=y, x_test=x[:4], y_test=y[:4], image_id=np.arange(4), mean=np.zeros(3),
             source=np.array("a note on where the file came from"))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        train, test, _ = load_dataset(p)
    texts = [str(w.message) for w in said if "not read" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in said]
    assert texts[0].startswith(f"{p}: arrays image_id (meant as image_id_test?), mean are not read and ignored: "
                               f"a labelled .npz is read from x/y or x_train/y_train"), texts[0]
    assert "image_id_train and is_anomaly_train beside x_train" in texts[0] and "source" not in texts[0]
    assert len(train) == 10 and test is not None and len(test) == 4 and test.group is None
    # one entry per training image: meant as the training set's; and a file of only what it reads says nothing
    np.savez(p, x_train=x, y_train=y, image_id=np.arange(10), source=np.array("note"))
    with pytest.warns(UserWarning, match=r"d\.npz: array image_id \(meant as image_id_train\?\) is not read"):
        load_dataset(p)
    np.savez(p, x=x, y=y, image_id=np.arange(10), is_anomaly=y, class_names=np.array(["a", "b"]),
             source=np.array("note"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, _, _ = load_dataset(p)
    assert train.group is not None and len(train) == 10


def test_an_npz_read_as_unlabelled_names_the_arrays_neither_reader_takes_but_not_its_labels(tmp_path) -> None:
    """read_npz_unlabelled ignored every array but the images without a word, where read_npz names those it does not
    take: labels saved misnamed ('y_trian' beside x_train) made the file one of unlabelled images (no y_train), read
    so in silence. Now it names the arrays neither reader takes, as read_npz does, and the labelled reading's arrays
    (labels, class names, photo ids, anomaly labels), which it leaves on purpose, are not said."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8)
    p = tmp_path / "d.npz"
    np.savez(p, x_train=x, y_trian=np.arange(10) % 2, x_test=x[:4], mean=np.zeros(3), source=np.array("a note"))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        train, test, kind = load_dataset(p)
    assert kind == "unlabelled-npz" and len(train) == 14 and test is None
    texts = [str(w.message) for w in said if "not read" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in said]
    assert texts[0].startswith(f"{p}: arrays mean, y_trian (meant as y_train?) are not read and ignored: an .npz "
                               f"read as unlabelled images is read from its image arrays x, x_train and x_test"), texts
    assert "source" not in texts[0]
    # a labelled .npz read as unlabelled images (dataset='unlabelled'): its labels and the rest are left in silence
    np.savez(p, x=x, y=np.arange(10) % 2, image_id=np.arange(10), is_anomaly=np.zeros(10, int),
             class_names=np.array(["a", "b"]), x_test=x[:4], y_test=np.arange(4) % 2, image_id_test=np.arange(4),
             is_anomaly_test=np.zeros(4, int), source=np.array("a note"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, _, kind = load_dataset(p, "unlabelled")
    assert kind == "unlabelled-npz" and len(train) == 14
    # but not the arrays of an image set the file does not have: y_test without x_test is read by neither reader
    np.savez(p, x_train=x, y_train=np.arange(10) % 2, y_test=np.arange(4) % 2)
    with pytest.warns(UserWarning, match=r"d\.npz: array y_test is not read and ignored: an \.npz read as unlabelled"):
        load_dataset(p, "unlabelled")


def test_a_protocol_named_with_dataset_must_fit_the_data(tmp_path) -> None:
    """--dataset mnist on CIFAR-10's folders trained on 'bird' (MNIST's normal class 2) at 16 px gray, without a
    word; --dataset chula-rbc12 on data without photo ids split crops of one photo into training and test."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split

    rng = np.random.default_rng(0)
    p = tmp_path / "cifarish.npz"
    np.savez(p, x=rng.integers(0, 256, (400, 32, 32, 3), dtype=np.uint8), y=np.arange(400) % 10,
             class_names=np.array(CIFAR10_CLASSES))
    with pytest.raises(ConfigError, match=r"dataset='mnist' chooses the mnist protocol, but its classes are "
                                          r"airplane, automobile.*not the digits 0-9; dataset='auto'"):
        build_split(DataConfig(data=str(p), dataset="mnist"))
    with pytest.raises(ConfigError, match=r"dataset='chula-rbc12' .* no photo ids"):
        build_split(DataConfig(data=str(p), dataset="chula-rbc12", normal=("cat",)))
    digits = tmp_path / "digits.npz"
    np.savez(digits, x=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8), y=np.arange(60) % 10)
    with pytest.raises(ConfigError, match=r"dataset='cifar10' .* its classes are 0, 1, 2, 3, 4, 5, \.\.\., not "
                                          r"CIFAR-10's"):
        build_split(DataConfig(data=str(digits), dataset="cifar10"))
    assert build_split(DataConfig(data=str(p), dataset="cifar10")).info["protocol"] == "cifar10"


def test_cifar_named_folders_of_large_photos_are_read_for_32_px_as_scoring_reads_them(tmp_path) -> None:
    """Class folders named as CIFAR-10's choose its protocol, and so 32 px, before the images are read: each photo is
    decoded for 32 (a reduced-scale JPEG decode, one resampling), as scoring reads it for the run, not first for the
    automatic 256 and then resized again."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split
    from wildgan.data.dataset_files import CIFAR10_CLASSES
    from wildgan.data.readers import folder_class_names

    tree = tmp_path / "tree"
    for k, c in enumerate(CIFAR10_CLASSES):
        for i in range(40 if c == "automobile" else 2):          # (16 normal training images at least)
            _photo(tree / c / f"{i}.jpg", 300, 400, seed=100 * k + i)
    assert folder_class_names(tree) == sorted(CIFAR10_CLASSES)
    assert folder_class_names(tree / "cat") is None                  # a pile, not a tree of classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = build_split(DataConfig(data=str(tree), test_fraction=0.5))
        files = sorted(tree.rglob("*.jpg"))
        scored, ids = load_images(files, 32, 3)
    assert split.info["protocol"] == "cifar10" and split.resolution == 32
    got = dict(zip(split.train_ids + split.test_ids, [*split.train_x, *split.test_x]))
    assert got
    for f, want in zip(files, scored):
        key = f.relative_to(tree).as_posix()
        if key in got:
            np.testing.assert_array_equal(got[key], want)


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_cifar_batches_load_whatever_pickle_protocol_wrote_them(tmp_path, protocol):
    # protocols 0-2 store bytes as _codecs.encode(text, 'latin1') and protocol 5 stores arrays as numpy's
    # _frombuffer: both were refused by the restricted unpickler, so a batch re-pickled with them did not load
    ref = make_cifar_batches(tmp_path / "ref" / "cifar-10-batches-py")
    folder = tmp_path / "p" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for f in ref.iterdir():
        (folder / f.name).write_bytes(pickle.dumps(pickle.loads(f.read_bytes(), encoding="bytes"), protocol=protocol))
    a, b = restricted_unpickle(ref / "data_batch_1"), restricted_unpickle(folder / "data_batch_1")
    assert set(a) == set(b) and b[b"filenames"] == a[b"filenames"] and b[b"batch_label"] == a[b"batch_label"]
    np.testing.assert_array_equal(b[b"data"], a[b"data"])
    assert b[b"data"].dtype == np.uint8 and b[b"data"].flags.writeable
    (tr, te, _), (tr2, te2, _) = load_dataset(ref), load_dataset(folder)
    np.testing.assert_array_equal(tr.x, tr2.x)
    np.testing.assert_array_equal(te.y, te2.y)


def test_restricted_unpickler_admits_only_latin1_text_and_plain_arrays(tmp_path):
    import codecs

    class OtherCodec:
        def __reduce__(self):
            return (codecs.encode, ("print('x')", "rot13"))

    class ObjectArray:
        def __reduce__(self):
            return (_np_frombuffer(), (b"\0" * 8, np.dtype(object), (1,), "C"))

    for evil, why in ((OtherCodec(), r"_codecs\.encode\(str, 'rot13'\) is not allowed"),
                      (ObjectArray(), r"an object array is not allowed")):
        p = tmp_path / "batch"
        p.write_bytes(pickle.dumps({b"data": evil}, protocol=2))
        with pytest.raises(DataError, match=rf"batch: refusing to unpickle: {why}"):
            restricted_unpickle(p)


def test_restricted_unpickler_stand_ins_cannot_be_altered_by_a_batch(tmp_path):
    # BUILD on a global sets attributes on it when it has no __setstate__: the stand-ins were module-level functions,
    # so one file could change them for every later load in the process (here their defaults)
    from wildgan.data import dataset_files

    for module, name, func in (("_codecs", "encode", dataset_files._latin1_encode),
                               ("numpy._core.numeric", "_frombuffer", dataset_files._frombuffer)):
        before = func.__defaults__
        state = b"N}X\x0c\x00\x00\x00__defaults__X\x01\x00\x00\x00C\x85s\x86"      # (None, {'__defaults__': ('C',)})
        p = tmp_path / "batch"
        p.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + state + b"b.")
        with pytest.raises(DataError, match="refusing to unpickle: a CIFAR-10 batch may not alter"):
            restricted_unpickle(p)
        assert func.__defaults__ == before


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_cifar_batch_with_an_empty_bytes_value_loads_under_old_protocols(tmp_path, protocol):
    # protocols 0-2 pickle b"" as __builtin__.bytes() (not _codecs.encode): such a batch was refused
    p = tmp_path / "batch"
    p.write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [3], b"batch_label": b""},
                               protocol=protocol))
    assert restricted_unpickle(p)[b"batch_label"] == b""

    class Alloc:                                      # bytes(n) allocates n bytes: refused
        def __reduce__(self):
            return (bytes, (10 ** 12,))

    p.write_bytes(pickle.dumps({b"data": Alloc()}, protocol=protocol))
    with pytest.raises(DataError, match=r"bytes\(\.\.\.\) with an argument is not allowed"):
        restricted_unpickle(p)


def _np_frombuffer():
    try:
        from numpy._core.numeric import _frombuffer
    except ImportError:  # numpy 1.x
        from numpy.core.numeric import _frombuffer
    return _frombuffer


def test_files_without_an_extension_are_counted_not_dropped_in_silence(tmp_path):
    import warnings

    d = tmp_path / "pile"
    for i in range(2):
        save(d / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    save(d / "tmp.png", np.full((8, 8), 9, np.uint8)).rename(d / "frame0001")    # a PNG, named without .png
    (d / "sub").mkdir()
    save(d / "tmp.jpg", np.full((8, 8), 9, np.uint8)).rename(d / "sub" / "snapshot")         # a JPEG
    # a data set's own README, LICENSE or Makefile is no image: not counted (a false alarm in every download)
    for name in ("LICENSE", "README", "Makefile"):
        (d / "sub" / name).write_text("not an image")
    (d / ".hidden").write_text("hidden entries stay quiet")
    for read in (lambda: load_images([d], 8, 1), lambda: load_dataset(d)):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            read()
        msgs = [str(w.message) for w in record if "unsupported extensions" in str(w.message)]
        assert len(msgs) == 1 and f"ignored 2 files with unsupported extensions in {d} (no extension: 2)" in msgs[0]
        assert "files without an extension are not read" in msgs[0]
    only = tmp_path / "only"
    only.mkdir()
    (d / "frame0001").rename(only / "frame0001")
    with pytest.raises(DataError, match=r"only: folder contains no supported image files .*; found 1 file without "
                                        r"an extension \(files without an extension are not read"):
        load_images([only], 8, 1)


def test_a_data_set_with_its_own_config_and_split_json_is_data_not_a_run(tmp_path):
    # a release of a data set may ship a config.json and a split.json beside its class folders: it was refused as
    # 'a wildgan run directory', although nothing in it is a run's
    root = tmp_path / "release"
    for c in ("good", "bad"):
        for i in range(2):
            save(root / c / f"{i}.png", np.full((8, 8), 50 * i, np.uint8))
    (root / "config.json").write_text('{"name": "release", "version": 2}')
    (root / "split.json").write_text('{"train": ["good/0.png"], "test": ["bad/0.png"]}')
    train, _, kind = load_dataset(root)
    assert kind == "folder" and sorted(train.class_names) == ["bad", "good"]
    assert len(load_images([root], 8, 1)[0]) == 4


def test_the_files_left_out_of_a_tree_keep_their_place_also_from_the_tar_decode_cache(tmp_path, monkeypatch):
    """skip_bad: each file left out keeps its id, label and place among the rows read (info 'unread'), which a
    rebuild of a run's split draws over as if read (build_split's recorded); a tar's decode cache keeps them too."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    src = make_tree(tmp_path / "src" / "t", classes=("a", "b"), n=3, split="train")
    (src / "train" / "b" / "001.png").write_bytes(b"not an image")
    with tarfile.open(tmp_path / "t.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="t")
    for _ in range(2):                               # decoded, then read back from the cache
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train, _, _ = load_dataset(tmp_path / "t.tar.gz", skip_bad=True)
        [u] = train.info["unread"]
        assert (u["id"], u["y"], u["at"]) == ("train/b/001.png", 1, 4) and u["path"] == train.info["skipped"][0]["path"]
    assert list((tmp_path / "cache").glob("*.decoded-*.npz"))


def test_npz_image_count_is_what_reading_the_npz_whole_gives_without_reading_its_pixels(tmp_path, monkeypatch):
    """An .npz given as Detector.fit's X_val is read whole (x, or x_train, and x_test; labels ignored): its count,
    from the arrays' headers, lets y_val's count be checked before training. None where the headers do not tell it,
    for the read to say what is wrong."""
    from wildgan.data.dataset_files import npz_image_count
    from wildgan.data.inputs import count_images, decode_items

    rng = np.random.default_rng(0)

    def img(n: int, *rest: int) -> np.ndarray:
        return rng.integers(0, 255, (n, 8, 8, *rest), dtype=np.uint8)

    cases = {"x.npz": dict(x=img(5)), "xy.npz": dict(x=img(6, 3), y=np.arange(6) % 2),
             "parts.npz": dict(x_train=img(4), y_train=np.zeros(4, int), x_test=img(3), y_test=np.ones(3, int)),
             "pile.npz": dict(x_train=img(2, 1), x_test=img(7, 1)), "x_and_test.npz": dict(x=img(3), x_test=img(2)),
             # (unlabelled: every image array is read, x and x_train too; a labelled one with both is refused, below)
             "pile_x_and_x_train.npz": dict(x=img(3), x_train=img(3), x_test=img(1)),
             # (a labelled file whose test images have no labels: read as the pile it also is, as other damaged labels
             # are: test_score_damaged_data_advice)
             "unlabelled_test.npz": dict(x=img(3), y=np.zeros(3, int), x_test=img(2))}
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        read = len(decode_items(str(tmp_path / name), "per-image")[0])
        assert npz_image_count(tmp_path / name) == count_images(str(tmp_path / name)) == read, name
    # the count is the headers': no array is read
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda *a: pytest.fail("an array was read"))
    assert npz_image_count(tmp_path / "parts.npz") == 7
    monkeypatch.undo()
    unknown = {"both.npz": dict(x=img(3), y=np.zeros(3, int), x_train=img(3), y_train=np.zeros(3, int)),
               "flat.npz": dict(x=np.zeros((4, 64), np.uint8)),
               "none.npz": dict(y=np.zeros(3, int)),
               # refused by the read, which a count would have blamed y_val for: test images alone (no x or x_train)
               "test_only.npz": dict(x_test=img(3), y_test=np.ones(3, int))}
    for name, arrays in unknown.items():
        np.savez(tmp_path / name, **arrays)
        assert npz_image_count(tmp_path / name) is None, name
        with pytest.raises(DataError):
            decode_items(str(tmp_path / name), "per-image")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert npz_image_count(tmp_path / "bad.npz") is None
    # in a list, a path is read as image files, not as a data set: not counted as one
    assert count_images([str(tmp_path / "x.npz")]) is None


def _tiny_said(got: object) -> list[str]:
    return [str(w.message) for w in got if "far smaller than the training resolution" in str(w.message)]


def test_a_tar_read_from_its_decoded_cache_names_its_tiny_images_as_its_decode_did(tmp_path, monkeypatch):
    """The warning about images far smaller than the automatic resolution came from the decode (decode_pool.stack),
    which a tar's decoded cache skips: the second read of the same archive said nothing. Its cache records them, and
    a cache without the record (an earlier wildgan's) is read all the same, not decoded again."""
    from wildgan.data import decode_pool, readers

    cache = tmp_path / "cache"
    monkeypatch.setenv("WILDGAN_CACHE", str(cache))
    rng = np.random.default_rng(4)
    for c in ("a", "b"):
        for i in range(3):
            save(tmp_path / "src" / "t" / c / f"{i}.png", rng.integers(0, 256, (64, 64), dtype=np.uint8))
    save(tmp_path / "src" / "t" / "b" / "dot.png", np.zeros((1, 1), np.uint8))
    tgz = tmp_path / "t.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tmp_path / "src" / "t", arcname="t")
    with pytest.warns(UserWarning) as got:
        first = load_dataset(tgz)[0]
    said = _tiny_said(got)
    assert len(said) == 1 and f"{tgz}:t/b/dot.png (1x1)" in said[0], said
    assert "tiny_images" not in first.info
    decodes: list[int] = []
    real = decode_pool.decode_files
    monkeypatch.setattr(readers, "decode_files", lambda *a, **k: decodes.append(1) or real(*a, **k))
    with pytest.warns(UserWarning) as got:
        again = load_dataset(tgz)[0]
    assert not decodes and np.array_equal(again.x, first.x)          # from the cache ...
    assert _tiny_said(got) == said                                   # ... with the decode's warning
    assert "tiny_images" not in again.info
    # a cache written before the record: read, no warning about tiny images, not decoded again (the warning is
    # recorded among the data's warnings, test_image_reading_warnings.py: a cache before either holds neither)
    (path,) = [p for p in cache.glob("*.decoded-*.npz")]
    with np.load(path, allow_pickle=False) as z:
        old = {k: z[k] for k in z.files if not k.startswith(("tiny_images", "data_warnings"))}
    np.savez(path, **old)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        older = load_dataset(tgz)[0]
    assert not decodes and np.array_equal(older.x, first.x) and not _tiny_said(got)


def test_an_npz_of_images_far_smaller_than_its_protocols_resolution_is_warned_about(tmp_path):
    """An .npz's arrays are read whole, never through the decode that names tiny images: 2x2 images labelled with
    CIFAR-10's classes were made 32x32 (the protocol's resolution) without a word. A resolution chosen is the user's
    word, and an .npz whose own size sets the resolution has no image far below it."""
    from wildgan.config import DataConfig
    from wildgan.data.splits import load_split_data

    rng = np.random.default_rng(5)
    np.savez(tmp_path / "c.npz", x=rng.integers(0, 256, (20, 2, 2, 3), dtype=np.uint8),
             y=np.repeat(np.arange(10), 2), class_names=np.asarray(CIFAR10_CLASSES))
    with pytest.warns(UserWarning) as got:
        load_split_data(DataConfig(data=str(tmp_path / "c.npz")))
    said = _tiny_said(got)
    assert len(said) == 1 and "20 images are far smaller than the training resolution 32x32" in said[0], said
    assert "c:all:0 (2x2)" in said[0] and "and 15 more" in said[0], said
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        load_split_data(DataConfig(data=str(tmp_path / "c.npz"), resolution=32))
        np.savez(tmp_path / "p.npz", x=rng.integers(0, 256, (20, 3, 3), dtype=np.uint8))
        load_split_data(DataConfig(data=str(tmp_path / "p.npz"), dataset="unlabelled"))
    assert not _tiny_said(got), [str(w.message) for w in got]


def test_rgb_files_of_gray_content_larger_than_the_cap_are_decoded_once_in_a_gray_run(tmp_path, monkeypatch):
    """A gray run (by content) made its RGB files of gray content that were shrunk while decoding gray first by
    decoding each of them a second time (decode_pool.stack, and the Detector's refit): twice the cost of the read.
    Now the first decode also makes the gray twin, and the pixels are still those of scoring's gray read; one colour
    file makes the run RGB, and its gray-content files keep their RGB pixels, those of scoring's colour read."""
    from wildgan.data import decode_pool, image_decode, inputs
    from wildgan.detector import Detector

    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "1")
    rng = np.random.default_rng(6)
    d = tmp_path / "d"
    for i in range(4):
        g = rng.integers(0, 256, (300, 280, 1), dtype=np.uint8)
        save(d / f"{i}.png", np.repeat(g, 3, axis=2))
    files = sorted(d.glob("*.png"))
    calls: list[str] = []
    real_sized, real_read = image_decode.read_image_sized, image_decode.read_image
    monkeypatch.setattr(decode_pool, "read_image_sized", lambda f, *a, **k: calls.append(str(f)) or
                        real_sized(f, *a, **k))
    monkeypatch.setattr(inputs, "read_image_sized", lambda f, *a, **k: calls.append(str(f)) or
                        real_sized(f, *a, **k))
    monkeypatch.setattr(inputs, "read_image", lambda f, *a, **k: calls.append(str(f)) or real_read(f, *a, **k))
    for resolution in (None, 64):
        want, _ = load_images(files, resolution or 256, 1)
        calls.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")              # (the crop of 300x280)
            x = load_dataset(d, "unlabelled", resolution=resolution)[0].x
            assert sorted(calls) == [str(f) for f in files], calls        # once each
            assert np.array_equal(x, want)
            calls.clear()
            got = Detector(device="cpu", resolution=resolution)._images_split(str(d))[0].train_x
            assert sorted(calls) == [str(f) for f in files], calls
            assert np.array_equal(np.sort(got.reshape(len(got), -1), axis=0), np.sort(want.reshape(len(want), -1),
                                                                                        axis=0))
    save(d / "z colour.png", _red(300, 280))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = load_dataset(d, "unlabelled")[0].x
        want, _ = load_images(sorted(d.glob("*.png")), 256, 3)
    assert x.shape[3] == 3 and np.array_equal(x, want)


def test_a_decode_worker_leaves_ctrl_c_and_a_hangup_to_the_main_process(handlers_kept):
    """A dropped ssh session sends SIGHUP to the whole foreground job: decode workers killed by it before the main
    process stopped on it (the CLI's commands that train) made it say that a decoding process died, out of memory?"""
    import signal

    from wildgan.data.decode_pool import _worker_init

    _worker_init()          # (in the main process: no parent to watch)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_ids_relative_to_a_root_and_under_one_folder_share_one_rule(tmp_path) -> None:
    """A tar's files unpacked at a root (scoring's and the Detector's reads of an archive) and one folder's files
    (the CLI's CSV ids) are named by one rule: relative, with / between folders; an id not under the root is kept."""
    from wildgan.data.readers import ids_relative_to, ids_under_folder

    root = tmp_path / "cache" / "tree"
    (root / "a").mkdir(parents=True)
    ids = [str(root / "a" / "0.png"), str(root / "1.png"), "elsewhere/2.png"]
    assert ids_relative_to(ids, root) == ["a/0.png", "1.png", "elsewhere/2.png"]
    assert ids_under_folder(ids, [root]) == ids_relative_to(ids, str(root))
    assert ids_under_folder(ids, [root, tmp_path]) == ids          # several paths: no one root


def test_evaluate_on_other_data_warns_of_gray_images_by_the_run_s_gray_share(tmp_path):
    """`evaluate --data` on other data (evaluation.run._warn_other_channels) judges its gray images by the share of
    gray training images a colour run recorded (conversion.gray_trained), as score does: data all gray is warned
    about, data of the training mix is not, and a record from before the share was counted says nothing."""
    from wildgan.config import DataConfig
    from wildgan.data import build_split
    from wildgan.evaluation.run import _warn_other_channels

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8)
    x[:3] = x[:3, ..., :1]                              # 3 gray images (RGB-stored) in the normal class
    y = np.repeat([0, 1], 32)
    np.savez(tmp_path / "mixed.npz", x=x, y=y)
    np.savez(tmp_path / "gray.npz", x=np.repeat(x[..., :1], 3, axis=-1), y=y)
    recorded = build_split(DataConfig(data=str(tmp_path / "mixed.npz"), normal=("0",), resolution=8)).info
    k, n = recorded["conversion"]["gray_trained"]
    assert 0 < k < n and "colour_data" not in recorded["conversion"]

    def said(data: str, record: dict) -> list[str]:
        split = build_split(DataConfig(data=str(tmp_path / data), normal=("0",), resolution=8, channels=3),
                            count_held=True)
        out: list[str] = []
        _warn_other_channels(split, record, data, out.append)
        return out

    (gray,) = said("gray.npz", recorded)
    assert re.match(rf"warning: gray\.npz: (\d+) of the \1 images \(100%\) are gray, against {100 * k / n:.2g}% of "
                    rf"the images the network was trained on: ", gray), gray
    assert said("mixed.npz", recorded) == []
    before = {**recorded, "conversion": {c: v for c, v in recorded["conversion"].items() if c != "gray_trained"}}
    assert said("gray.npz", before) == []


def test_loose_images_beside_class_folders_of_a_tar_are_said_again_when_read_from_its_decoded_cache(tmp_path,
                                                                                                   monkeypatch):
    """The warning about images directly beside the class folders (left out) was said by the decode only: the second
    read of the same archive, from its decoded cache, left them out without a word, as the folders beside train/ and
    test/ (a warning about the data, warn_of_data) are not."""
    from wildgan.data import decode_pool, readers

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    src = make_tree(tmp_path / "src" / "t")
    save(src / "preview.png", np.zeros((8, 8), np.uint8))
    tgz = tmp_path / "t.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        for f in sorted(src.iterdir()):
            tar.add(f, arcname=f.name)      # (no wrapper folder: one holding loose images would be a class folder)
    loose = r"1 image file directly in it is not in a class folder and is left out \(e\.g\. preview\.png\)"
    with pytest.warns(WildganWarning, match=loose):
        first = load_dataset(tgz)[0]
    decodes: list[int] = []
    real = decode_pool.decode_files
    monkeypatch.setattr(readers, "decode_files", lambda *a, **k: decodes.append(1) or real(*a, **k))
    with pytest.warns(WildganWarning, match=loose) as got:
        again = load_dataset(tgz)[0]
    assert not decodes and np.array_equal(again.x, first.x)          # from the cache, with the decode's warning
    assert sum("preview.png" in str(w.message) for w in got) == 1     # (once)


def test_an_mvtec_ground_truth_folder_beside_train_and_test_is_not_warned_about(tmp_path):
    """MVTec AD's layout (train/good, test/<defect>, ground_truth/<defect>/*_mask.png): its masks are not images of
    the data, and were said to be 'not read' by every command on every read of such a tree (train, evaluate, report),
    a warning about nothing to mend; a val/ beside them still is."""
    root = tmp_path / "bottle"
    make_tree(root, classes=("good",), split="train")
    make_tree(root, classes=("good", "crack"), split="test")
    save(root / "ground_truth" / "crack" / "000_mask.png", np.zeros((8, 8), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", WildganWarning)
        train, test, _ = load_dataset(root)
    assert train.class_names == ["crack", "good"] and len(test) == 6
    make_tree(root, classes=("good",), split="val")
    with pytest.warns(WildganWarning, match=re.escape(f"{root}: val/ beside train/ and test/ is not read (3 image "
                                                      f"files, e.g. val/good/000.png)")):
        load_dataset(root)
