"""data.run_temps: which temp files of atomic writes in a run folder belong to which writers, and the hold on the run
folder that every writer of the files other commands than training write there takes (writing_shared_files), so that
the next write, or a resume, deletes what a killed one left and never a write in progress."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest

from wildgan.data import run_temps

from killed_writes import temps_left_by_a_kill


def test_the_lists_name_the_files_their_writers_write() -> None:
    """The names are literals here (below the modules that define them): each is its writer's, and a run output."""
    from wildgan.data.splits import FIT_IDS_FILE, TRAIN_HASHES_FILE
    from wildgan.data.train_score_files import TRAIN_SCORE_FILES
    from wildgan.thresholds import FIT_THRESHOLD_FILE
    from wildgan.training.run import RUN_OUTPUTS

    assert set(run_temps.SHARED_FILES) == {*TRAIN_SCORE_FILES, TRAIN_HASHES_FILE, FIT_IDS_FILE, FIT_THRESHOLD_FILE}
    assert set(run_temps.TRAINING_FILES) <= set(RUN_OUTPUTS)
    assert not set(run_temps.TRAINING_FILES) & set(run_temps.SHARED_FILES)
    assert {sub for sub, _ in run_temps.TRAINING_SUBFOLDERS} <= set(RUN_OUTPUTS)


def test_each_temp_file_has_one_writer(tmp_path: Path) -> None:
    """training's, shared or other: every temp file of an atomic write in the run folder and below it is in exactly
    one of the three lists, but an evaluation's output's (the run folder's and an eval-*/ folder's), a checkpoint's
    weights' and a staging folder's, which are others' to report."""
    run = tmp_path / "run"
    training = temps_left_by_a_kill(run, ("config.json", "config.yaml", "skipped.txt", "network-final.json"))
    training += temps_left_by_a_kill(run / "checkpoints", ("ckpt-000000002000.json",))
    training += temps_left_by_a_kill(run / "samples", ("fakes000002.png",))
    shared = temps_left_by_a_kill(run, run_temps.SHARED_FILES)
    other = temps_left_by_a_kill(run, ("rank-1-error.txt", "scores.csv"))
    other += temps_left_by_a_kill(run / "checkpoints", ("notes.txt",))       # (not a checkpoint's JSON)
    other += temps_left_by_a_kill(run / "samples", ("grid.json",))
    other += temps_left_by_a_kill(run / "eval-cells-0a1b2c" / "mine", ("eval.json",))    # (below an eval-*/)
    temps_left_by_a_kill(run, ("eval.json", "test_scores.csv"))
    temps_left_by_a_kill(run / "eval-cells-0a1b2c", ("test_latents.npy",))
    temps_left_by_a_kill(run / ".report-partial-k2x9q0aa", ("report.md",))
    (run / "checkpoints" / ".ckpt-000000002000.4242.0a1b2c3d.safetensors.tmp").write_bytes(b"w")
    os.symlink(tmp_path / "elsewhere", run / "linked")
    temps_left_by_a_kill(tmp_path / "elsewhere", ("a.csv",))              # (another place's, through a link)
    assert run_temps.training_write_temps(run) == sorted(training)
    assert run_temps.shared_write_temps(run) == sorted(shared)
    assert run_temps.other_write_temps(run) == sorted(other)


def _threshold(run: Path) -> None:
    from wildgan.thresholds import Threshold, write_fit_threshold

    write_fit_threshold(run, Threshold(1.0, "contamination", {"score": "a", "contamination": 0.05}),
                        batch_mode="mixed", lam=0.1, weights_sha256=None)


def _train_scores(run: Path) -> None:
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.scoring.train_scores import write_train_scores

    cfg = RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02), preset="tiny")
    model = SimpleNamespace(cfg=cfg, meta={"sha256": "0" * 64}, source=run / "network-final.json", lod=0.0)
    write_train_scores(run, model, ["a.png", "b.png"], {"a": np.array([1.0, 2.0])}, "mixed")


def _train_hashes(run: Path) -> None:
    from wildgan.data.splits import write_train_hashes

    write_train_hashes(run, np.zeros((2, 8, 8, 1), np.uint8), "0" * 64)


def _fit_ids(run: Path) -> None:
    from wildgan.data.splits import write_fit_ids

    write_fit_ids(run, ["a.png", "b.png"])


@pytest.mark.parametrize("write", [_threshold, _train_scores, _train_hashes, _fit_ids],
                         ids=["detector_threshold", "train_scores", "train_hashes", "fit_ids"])
@pytest.mark.usefixtures("local_folder_locks")
def test_every_writer_of_a_shared_file_holds_the_run_folder(tmp_path: Path, write: Callable[[Path], None]) -> None:
    """Each deletes the temp files of the shared files that a killed writer left, as it begins (alone in the folder),
    and the training's and others' never; while another process holds the folder (a write in progress), none."""
    fcntl = pytest.importorskip("fcntl")
    run = tmp_path / "run"
    stale = temps_left_by_a_kill(run, ("train_scores-isolated.csv", "fit_ids.json"))
    kept = temps_left_by_a_kill(run, ("config.json", "mine.csv"))
    fd = os.open(run, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)            # (as another writer of them holds it while it writes)
        write(run)
        assert all(p.is_file() for p in stale + kept)
    finally:
        os.close(fd)
    write(run)
    assert not any(p.exists() for p in stale) and all(p.is_file() for p in kept)
    assert run_temps.shared_write_temps(run) == []
