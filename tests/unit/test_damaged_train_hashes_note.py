"""The 'not checked' note of an evaluation on other data says what is wrong with the run's train_hashes.npz (the
checksums of its training images, by which `wildgan evaluate --data OTHER` checks whether the test images it scores
include images the networks were trained on): damaged (a 0-byte file left by a full disk, a copy cut short),
missing, or of other images. Calling a damaged file one of other images says something false of the run at every
evaluation, and nothing of what is wrong with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_the_not_checked_note_does_not_call_a_damaged_train_hashes_file_one_of_other_images(tmp_path: Path) -> None:
    """data.splits.read_train_hashes returns None alike for a file it cannot read (any Exception) and for one of
    other pixels; rebuilt_train_hashes must not word the first as the second ('its train_hashes.npz is of other
    images')."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.data.splits import TRAIN_HASHES_FILE
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
    from wildgan.data.splits import train_hashes_kept, write_train_hashes

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
