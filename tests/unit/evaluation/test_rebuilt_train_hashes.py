"""Rebuilding a run's training-image checksums (evaluation.run.rebuilt_train_hashes), by which an evaluation on other
data checks that its test images are not the run's training images, whose scores would not be those of new images.
The note of an evaluation left unchecked says what is wrong with the run's train_hashes.npz in true words: damaged (a
0-byte file left by a full disk, a copy cut short), missing, or of other images; calling a damaged file one of other
images says something false of the run at every evaluation, and nothing of what is wrong with it.

For a run trained on an archive (.tar.gz of class folders) before train_hashes.npz was kept, the rebuild is one load
of the archive's decoded cache where that is there (then kept in the run), and where it is not, the note says why
the data was not checked: the archive gone, or how many images decoding it again would take."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_the_not_checked_note_does_not_call_a_damaged_train_hashes_file_one_of_other_images(tmp_path: Path) -> None:
    """data.splits.read_train_hashes returns None alike for a file it cannot read (any Exception) and for one of
    other pixels; rebuilt_train_hashes must not word the first as the second ('its train_hashes.npz is of other
    images')."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.data.splits import TRAIN_HASHES_FILE, train_hashes_kept, write_train_hashes
    from wildgan.evaluation.run import rebuilt_train_hashes

    run = tmp_path / "run"
    run.mkdir()
    (run / TRAIN_HASHES_FILE).write_bytes(b"")          # (a full disk's leftover)
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile"), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    recorded = {"train_pixels_sha256": "0" * 64, "n_read": 500, "n_train": 400, "format": "folder"}
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=10)
    assert hashes is None, why
    assert "of other images" not in why, why
    assert why.startswith("its train_hashes.npz cannot be read (damaged)"), why
    # the three cases apart: cut short, missing, and a sound file of other pixels (which is still said so)
    x = np.zeros((3, 8, 8, 1), np.uint8)
    write_train_hashes(run, x, "1" * 64)
    whole = (run / TRAIN_HASHES_FILE).read_bytes()
    assert train_hashes_kept(run, {"train_pixels_sha256": "1" * 64, "n_train": 3})[1] == ""
    assert train_hashes_kept(run, recorded)[1] == "of other images"
    assert "is of other images" in rebuilt_train_hashes(run, cfg, recorded, n_scored=10)[1]
    (run / TRAIN_HASHES_FILE).write_bytes(whole[:len(whole) // 2])
    assert train_hashes_kept(run, recorded)[1] == "unreadable"
    (run / TRAIN_HASHES_FILE).unlink()
    assert train_hashes_kept(run, recorded)[1] == "missing"
    assert rebuilt_train_hashes(run, cfg, recorded, n_scored=10)[1].startswith("it keeps no train_hashes.npz")


# a run trained on an archive, without train_hashes.npz

def _an_archive_run(tmp_path: Path, monkeypatch):
    """(run folder without train_hashes.npz, its RunConfig, its split.json's record, its split) of a run trained on
    a .tar.gz of class folders, whose training read left the unpack and its decoded cache in $WILDGAN_CACHE."""
    import tarfile

    from PIL import Image

    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.data import build_split, split_summary

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    tree = tmp_path / "cells"
    for cls, n in (("good", 24), ("bad", 6)):
        (tree / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tree / cls / f"{i:02d}.png")
    archive = tmp_path / "cells.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(tree, arcname="cells")
    dc = DataConfig(data=str(archive), normal=("good",), resolution=8, channels=3)
    split = build_split(dc, progress=False)            # (training's read: the unpack and its decoded cache)
    assert list((tmp_path / "cache").glob("*.decoded-*.npz"))
    recorded = {**split.info, **split_summary(split)}
    cfg = RunConfig(data=dc, net=net_config_for_preset("tiny", 8, 3), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / "run"
    run.mkdir()
    return run, cfg, recorded, split


def test_train_hashes_are_rebuilt_from_an_archives_decoded_cache(tmp_path: Path, monkeypatch) -> None:
    """An archive's training read writes the unpack and its decoded cache (<unpack>.decoded-*.npz), which every later
    read of the archive loads instead of decoding. An evaluation on other data with fewer test images than the
    archive has rebuilds the checksums from that cache (here: the split's own read, just made, is cached), rather
    than saying 'rebuilding them would decode the N images of ARCHIVE again, more than the M scored here' and leaving
    the data unchecked: the checksums are the training images', and no image is decoded to make them."""
    from PIL import Image

    from wildgan.data.splits import image_hashes
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, split = _an_archive_run(tmp_path, monkeypatch)

    def decoded(*a: object, **k: object) -> None:
        raise AssertionError(f"an image decoded again, not loaded from the decoded cache: {a}")

    monkeypatch.setattr(Image, "open", decoded)
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert why == "" and hashes is not None and np.array_equal(hashes, image_hashes(split.train_x)), why


def test_train_hashes_rebuilt_from_an_archives_decoded_cache_are_its_training_images(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    """The rebuild from the decoded cache gives the training images' own checksums, kept in the run for next time;
    without the decoded cache the rebuild would decode every image again, and the note says so."""
    from wildgan.data.splits import TRAIN_HASHES_FILE, image_hashes
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, split = _an_archive_run(tmp_path, monkeypatch)
    for f in (tmp_path / "cache").glob("*.decoded-*.npz"):
        f.rename(f.with_name(f.name + ".aside"))
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert hashes is None and ("would decode the 30 images of the run's data again (its 19 training images are drawn "
                               "from them all), more than the 4 scored here") in why, why
    for f in (tmp_path / "cache").glob("*.aside"):
        f.rename(f.with_name(f.name[: -len(".aside")]))
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert why == "" and np.array_equal(hashes, image_hashes(split.train_x))
    assert (run / TRAIN_HASHES_FILE).is_file()


def test_a_deleted_archive_is_said_to_be_gone_not_too_costly_to_decode(tmp_path: Path, monkeypatch) -> None:
    """Whether a run's data is still there is weighed before the cost of rebuilding its training images: a run on a
    .tar.gz deleted since (its decoded cache is looked for by the archive, so none is found) is told that its data is
    gone, not that 'rebuilding it would decode the 30 images of its data again, more than the 4 scored here', as if a
    larger evaluation could."""
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, _ = _an_archive_run(tmp_path, monkeypatch)
    Path(cfg.data.data).unlink()
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=4)
    assert hashes is None and why.endswith(f"and the run's data {cfg.data.data} is gone") and "decode" not in why, why


def test_the_images_a_rebuild_would_decode_are_said_as_counted(tmp_path: Path, monkeypatch) -> None:
    """'rebuilding it would decode the N images of its data again, more than the M scored here', in a note about the
    run's training images: N is every image the data holds (split.json's n_read: the split is drawn from them all, a
    labelled set's test images and those of neither split too), not its training images. Said so where they differ
    (a pile's are all training images); and no count recorded is not said to be more than those scored."""
    from wildgan.evaluation.run import rebuilt_train_hashes

    run, cfg, recorded, split = _an_archive_run(tmp_path, monkeypatch)
    for f in (tmp_path / "cache").glob("*.decoded-*.npz"):
        f.unlink()
    assert recorded["n_read"] == 30 and recorded["n_train"] == len(split.train_x) == 19
    _, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=29)
    assert why.endswith("would decode the 30 images of the run's data again (its 19 training images are drawn from "
                        "them all), more than the 29 scored here"), why
    _, why = rebuilt_train_hashes(run, cfg, {**recorded, "n_train": 30}, n_scored=4)
    assert why.endswith("would decode the 30 images of the run's data again, more than the 4 scored here"), why
    _, why = rebuilt_train_hashes(run, cfg, {k: v for k, v in recorded.items() if k not in ("n_read", "n_train")},
                                   n_scored=4)
    assert why.endswith("would decode the images of the run's data again, how many split.json does not say"), why
