"""A Detector fitted with a relative run_dir, saved, and loaded from another working directory: load found its run
by the relative path the file recorded, resolved against the new working directory, so run_dir_ was None (the run
"gone") and a set_params of batch_mode, which needs the run's training scores, was refused, though the run was
there all along. The file records the run's absolute path."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan import Detector


def test_a_saved_detector_finds_its_run_from_another_working_directory(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    fitted_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    fitted_in.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(fitted_in)
    x = np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # (networks not grown, a short training)
        det = Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                       run_dir="run").fit(x)
    want = det.set_params(batch_mode="isolated").threshold_
    det.set_params(batch_mode="mixed")
    saved = det.save(str(tmp_path / "model"))

    monkeypatch.chdir(elsewhere)
    loaded = Detector.load(saved)
    assert loaded.run_dir_ is not None and Path(loaded.run_dir_).resolve() == (fitted_in / "run").resolve()
    assert loaded.set_params(batch_mode="isolated").threshold_ == pytest.approx(want, rel=1e-6)
