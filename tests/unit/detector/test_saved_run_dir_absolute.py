"""A Detector fitted with a relative run_dir, saved, and loaded from another working directory: load found its run
by the relative path the file recorded, resolved against the new working directory, so run_dir_ was None (the run
"gone") and a set_params of batch_mode, which needs the run's training scores, was refused, though the run was
there all along. The file records the run's absolute path."""

from __future__ import annotations

import json
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


def test_a_detector_saved_with_a_relative_run_dir_keeps_its_run_after_a_chdir(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    # every save before this one's fix recorded fit's run_dir as given: "run". Detector.load found it against the
    # working directory of the load and kept it relative (run_dir_), so after an os.chdir the run was "gone" (or,
    # with a folder of that name there, another run), and a set_params of batch_mode was refused
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
    saved = Path(det.save(str(tmp_path / "model")))
    meta = json.loads(saved.read_text())
    meta["run_dir"] = "run"                     # as an earlier wildgan wrote it
    saved.write_text(json.dumps(meta))

    loaded = Detector.load(str(saved))          # from the folder the run is in
    assert loaded.run_dir_ is not None
    monkeypatch.chdir(elsewhere)
    assert Path(loaded.run_dir_).resolve() == (fitted_in / "run").resolve()
    assert loaded.set_params(batch_mode="isolated").threshold_ == pytest.approx(want, rel=1e-6)
