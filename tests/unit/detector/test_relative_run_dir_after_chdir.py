"""A Detector from fit or from_run given a relative run_dir kept it relative (run_dir_, the networks' source), read
against whatever the working directory was later: after an os.chdir, from_run's lazy read of the training scores
refused the run as "moved or deleted", and a fitted Detector's save recorded a run folder that is not there (loaded,
its run_dir_ None). The run folder is made absolute when fit or from_run first reads it."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers.tiny_detector_fit import FIT, fit_quietly, random_images
from wildgan import Detector
from wildgan.scoring.train_scores import cache_paths


def test_a_relative_run_dir_still_names_the_run_after_a_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    home, elsewhere, pngs = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "pngs"
    for d in (home, elsewhere, pngs):
        d.mkdir()
    for i, im in enumerate(random_images(0)):       # a folder: from_run can read the training images again
        Image.fromarray(im).save(pngs / f"{i:03d}.png")
    monkeypatch.chdir(home)
    det = fit_quietly(Detector(run_dir="run", **FIT), str(pngs))
    assert det.run_dir == "run"                      # the parameter as given (fit does not change it)
    for p in cache_paths(Path("run"), "mixed"):
        p.unlink()                                   # from_run then leaves the training scores to be read later
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy = Detector.from_run("run")
    assert "_pending_run_scores" in lazy.__dict__

    monkeypatch.chdir(elsewhere)
    assert lazy.threshold_ == pytest.approx(det.threshold_, rel=1e-6)      # read from home/run, not "moved"
    assert Path(lazy.run_dir_) == home / "run"
    assert Path(det.run_dir_) == home / "run" and Path(det.model_.source).is_absolute()
    saved = det.save(str(tmp_path / "m"))
    assert Path(Detector.load(saved).run_dir_) == home / "run"
    assert not os.path.exists(elsewhere / "run")


def test_a_relative_checkpoint_still_names_the_networks_after_a_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    # from_run(checkpoint=...) given a relative file kept it relative (the networks' source): after an os.chdir the
    # lazy read of the training scores found neither that file nor the run's final networks by their sha256, and
    # refused the run as "trained again since"; a save recorded the checkpoint's path under the new directory
    home, elsewhere, pngs = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "pngs"
    for d in (home, elsewhere, pngs):
        d.mkdir()
    for i, im in enumerate(random_images(0)):       # a folder: from_run can read the training images again
        Image.fromarray(im).save(pngs / f"{i:03d}.png")
    monkeypatch.chdir(home)
    fit_quietly(Detector(run_dir="run", **FIT), str(pngs))
    ckpts = sorted(Path("run", "checkpoints").glob("ckpt-*.json"))
    assert ckpts, "the tiny fit wrote no checkpoint"
    given = str(ckpts[-1])                           # relative, as typed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_run("run", checkpoint=given)
    assert "_pending_run_scores" in det.__dict__     # (a checkpoint's training scores are not cached: read later)

    monkeypatch.chdir(elsewhere)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(det.decision_scores_) == 20       # read from home/run with the checkpoint's networks
    want = (home / given).resolve()                 # (resolved: the working directory is, where tmp_path may not be)
    assert Path(det.model_.source).is_absolute() and Path(det.model_.source).resolve() == want
    saved = det.save(str(tmp_path / "m"))
    assert Path(Detector.load(saved).model_.meta["source"]).resolve() == want
