"""Other data evaluated or scored for a run (`evaluate RUN --data OTHER`, `score RUN --data OTHER.npz`,
split_for_run(run, OTHER)) is only tested on: its split's training part trains nothing. It was built with the run's
rotations, so a chula-rbc12 run rotated 3 copies of every training crop of OTHER (about 1 ms an image, four times the
memory) for nothing; the test split is the same without them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


def _crops(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    photos = np.repeat(np.arange(1, 21), 10)
    y = np.where(rng.random(len(photos)) < 0.5, 0, 1)
    np.savez(path, x=rng.integers(0, 256, (len(y), 8, 8), dtype=np.uint8), y=y, image_id=photos.astype(np.int16),
             is_anomaly=y.astype(np.uint8), class_names=np.array(["normal", "abnormal"]))
    return path


def test_other_data_for_a_rotating_run_is_split_without_rotated_copies(tmp_path):
    from wildgan.cli import main
    from wildgan.config import read_run_config
    from wildgan.data import build_split
    from wildgan.evaluation.run import split_for_run

    run = tmp_path / "run"
    assert main(["train", "--data", str(_crops(tmp_path / "own.npz", 0)), "--dataset", "chula-rbc12", "--resolution",
                 "8", "--preset", "tiny", "--total-kimg", "0.03", "--phase-kimg", "0.03", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    own = split_for_run(run, log=lambda m: None)
    assert own.info["rotations"] == 3 and len(own.train_x) == 4 * own.info["n_normal_train"]
    other = _crops(tmp_path / "other.npz", 1)
    split = split_for_run(run, str(other), log=lambda m: None)
    assert split.info["rotations"] == 0 and len(split.train_x) == split.info["n_normal_train"]
    # the test split is the one the run's rotations gave
    rotated = build_split(replace(read_run_config(run).data, data=str(other)))
    assert rotated.info["rotations"] == 3
    assert split.test_ids == rotated.test_ids and np.array_equal(split.test_x, rotated.test_x)
