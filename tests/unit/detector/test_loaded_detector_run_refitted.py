"""A saved Detector loaded after its run folder was fitted again: the training scores of another protocol are not
at hand (python_api.md: "a loaded Detector whose run directory is gone or holds other networks" -> ConfigError).
They were computed from the run's training data as it is now, which is the new fit's: the loaded Detector's
threshold_, decision_scores_ and labels_ came from images its networks never trained on (here 40 where it trained
on 20), with n_train_ still saying 20."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from png_piles import gray_png_pile

from wildgan import Detector
from wildgan.errors import ConfigError


def _fit(pile: Path, run: Path, seed: int) -> Detector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (networks not grown, a short training, the run replaced)
        return Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                        seed=seed, run_dir=str(run)).fit(str(pile))


def test_loaded_detector_whose_run_was_fitted_again_refuses_another_protocol(tmp_path: Path):
    pile, run = gray_png_pile(tmp_path / "pile", 20), tmp_path / "run"
    first = _fit(pile, run, seed=0)
    saved = first.save(str(tmp_path / "first"))
    # more images in the folder, and the notebook cell fitted again into the same run_dir
    rng = np.random.default_rng(1)
    for i in range(20, 40):
        Image.fromarray(rng.integers(0, 60, (8, 8), dtype=np.uint8)).save(pile / f"{i:03d}.png")
    _fit(pile, run, seed=1)

    loaded = Detector.load(saved)
    before = (loaded.threshold_, loaded.decision_scores_.copy())
    with pytest.raises(ConfigError, match="trained again"):
        loaded.set_params(batch_mode="isolated")
    # refused: the Detector stays as it was
    assert loaded.batch_mode == "mixed" and loaded.threshold_ == before[0]
    np.testing.assert_array_equal(loaded.decision_scores_, before[1])
    assert loaded.n_train_ == len(loaded.decision_scores_) == 20


def test_loaded_detector_whose_run_is_unchanged_takes_another_protocol(tmp_path: Path):
    # the control: the same steps without the second fit re-derive the threshold from the run's cache
    pile, run = gray_png_pile(tmp_path / "pile", 20), tmp_path / "run"
    first = _fit(pile, run, seed=0)
    saved = first.save(str(tmp_path / "first"))
    want = first.set_params(batch_mode="isolated").threshold_
    loaded = Detector.load(saved).set_params(batch_mode="isolated")
    assert loaded.threshold_ == pytest.approx(want, rel=1e-6) and len(loaded.decision_scores_) == 20


def test_f1_validation_set_is_not_checked_against_another_fits_training_images(tmp_path: Path):
    # set_threshold('f1') warns where X_val holds images the Detector trained on, by the checksums its run keeps. The
    # run fitted again since on other images keeps theirs: the loaded Detector called the new fit's images its own
    # training images (here all 20 of X_val), and would have said nothing of its own
    first_pile, other_pile, run = gray_png_pile(tmp_path / "a", 20), tmp_path / "b", tmp_path / "run"
    other_pile.mkdir()
    rng = np.random.default_rng(2)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(other_pile / f"{i:03d}.png")
    saved = _fit(first_pile, run, seed=0).save(str(tmp_path / "first"))
    _fit(other_pile, run, seed=1)

    loaded = Detector.load(saved)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        loaded.set_threshold("f1", X_val=str(other_pile), y_val=[0] * 10 + [1] * 10)
    said = [str(w.message) for w in got]
    assert not [m for m in said if "are images this Detector was trained on" in m], said
    assert [m for m in said if "not checked for images this Detector was trained on" in m and "trained again" in m], \
        said
