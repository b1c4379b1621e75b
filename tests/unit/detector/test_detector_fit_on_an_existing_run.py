"""Detector.fit on a run folder that already holds a run. fit(DataConfig, resume=True) continues by the image
conversion (data.fit) the run recorded, whatever wildgan version wrote it and whether the Detector came from
from_run or was made anew with another resize_mode, saying where that rule differs from the Detector's, never
refusing its own run nor changing the rule in silence. A fit that replaces the run (a copy's, a loaded or
from_run Detector's) says so, and does not claim the folder holds the run the Detector came with where that run was
trained again since."""

from __future__ import annotations

import gc
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan import Detector
from wildgan.config import DataConfig
from wildgan.errors import WildganWarning

pytestmark = pytest.mark.usefixtures("one_thread")


# a tiny fit of 8x8 images (about a second; it ends at 4x4, whose warning is not what is tested)
FIT = dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1, seed=5)


def _fit_quietly(det: Detector, X, **kw) -> Detector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        return det.fit(X, **kw)


def _resumed_unrefused(det: Detector, spec: DataConfig, refused: str) -> None:
    """det.fit(spec, resume=True), quietly; a ConfigError fails the test as `refused` (what such a refusal is)."""
    from wildgan.errors import ConfigError

    try:
        _fit_quietly(det, spec, resume=True)
    except ConfigError as e:
        raise AssertionError(f"{refused}: {e}") from None


def _small_npz(where: Path) -> DataConfig:
    """A DataConfig of where/small.npz: 40 random 6x6 images of classes 0 and 1 (normal 0), which a fit converts to
    8x8 by its resize_mode (the DataConfig's fit)."""
    rng = np.random.default_rng(0)
    np.savez(where / "small.npz", x=rng.integers(1, 255, (40, 6, 6), dtype=np.uint8), y=np.repeat([0, 1], 20))
    return DataConfig(data=str(where / "small.npz"), dataset="npz", normal=("0",))


def test_from_run_of_a_data_config_fit_continues_it(tmp_path: Path) -> None:
    # from_run of a Detector().fit(DataConfig(MNIST)) run has resize_mode 'pad' (the run's rule); its
    # fit(resume=True) of its own run goes on by that rule, not refused for 'data.fit: None -> 'pad'' (resize_mode
    # is the DataConfig's fit, which the run recorded as null)
    from wildgan.config import SAMPLE_TOKEN

    spec = DataConfig(data=SAMPLE_TOKEN, dataset="mnist")
    run = tmp_path / "run"
    _fit_quietly(Detector(run_dir=str(run), **FIT), spec)
    assert json.loads((run / "split.json").read_text())["conversion"]["fit"] == "pad"      # (MNIST's rule)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        det = Detector.from_run(run, device="cpu").set_params(total_kimg=0.064)
    _resumed_unrefused(det, spec, "from_run's Detector is refused the resume of its own run")
    assert det.conversion_["fit"] == "pad"


def test_a_data_config_fit_of_an_earlier_wildgan_resumes_with_the_same_detector(tmp_path: Path) -> None:
    # a run an earlier wildgan's Detector(resize_mode='pad').fit(DataConfig) wrote (data.fit null, trained by the
    # protocol's rule) is resumed by the same Detector, by the rule its images were trained by, although resize_mode
    # is now the DataConfig's fit
    spec = _small_npz(tmp_path)
    run = tmp_path / "run"
    # the run folder an earlier wildgan (f5a6eaf2) wrote for Detector(resize_mode='pad').fit(spec): it ignored
    # resize_mode there, so the run is the one resize_mode='resize' writes now (nothing in it records resize_mode;
    # checked by hand against f5a6eaf2's own output)
    _fit_quietly(Detector(run_dir=str(run), resize_mode="resize", **FIT), spec)
    assert json.loads((run / "config.json").read_text())["data"]["fit"] is None
    # the same Detector as the one that started it continues it (total_kimg may change on a resume)
    det = Detector(run_dir=str(run), resize_mode="pad", **{**FIT, "total_kimg": 0.064})
    _resumed_unrefused(det, spec, "the run of an earlier wildgan's fit is refused its resume")
    # continued by the rule its images were trained by, not by another one from here on
    assert det.conversion_["fit"] == "resize"


def test_a_resume_continues_by_the_runs_recorded_fit_and_says_where_resize_mode_differs(tmp_path: Path) -> None:
    # fit(DataConfig, resume=True) goes on by the fit the run recorded, with a warning where the Detector's own rule
    # is another, neither refused nor changed in silence; the same rule resumes without a word
    from wildgan.config import SAMPLE_TOKEN

    spec = _small_npz(tmp_path)
    run = tmp_path / "run"
    _fit_quietly(Detector(run_dir=str(run), resize_mode="pad", **FIT), spec)
    assert json.loads((run / "config.json").read_text())["data"]["fit"] == "pad"

    def resumed(det: Detector, data: DataConfig, kimg: float) -> list[str]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            det.set_params(total_kimg=kimg).fit(data, resume=True)
        assert det.conversion_["fit"] == json.loads((det.run_dir_ / "split.json").read_text())["conversion"]["fit"]
        return [str(w.message) for w in got if "fit(resume=True) continues it so" in str(w.message)]

    assert resumed(Detector(run_dir=str(run), resize_mode="pad", **FIT), spec, 0.048) == []
    det = Detector(run_dir=str(run), **FIT)                  # (resize_mode 'resize': the protocol's, here resize)
    said = resumed(det, spec, 0.064)
    assert det.conversion_["fit"] == "pad" and len(said) == 1, said
    assert "converted by fit 'pad'" in said[0] and "not by 'resize'" in said[0], said[0]
    # a run whose wildgan recorded MNIST's own rule as data.fit 'pad' (one version did): from_run's Detector resumes
    # it as it is
    mnist = DataConfig(data=SAMPLE_TOKEN, dataset="mnist")
    run = tmp_path / "mnist"
    _fit_quietly(Detector(run_dir=str(run), **FIT), mnist)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["fit"] is None
    cfg["data"]["fit"] = "pad"
    (run / "config.json").write_text(json.dumps(cfg))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        det = Detector.from_run(run, device="cpu")
    assert resumed(det, mnist, 0.064) == [] and det.conversion_["fit"] == "pad"
    assert json.loads((run / "config.json").read_text())["data"]["fit"] == "pad"


def test_a_pickled_copy_whose_run_was_trained_again_since_does_not_say_it_holds_its_run(tmp_path: Path) -> None:
    # an unpickled copy whose run was trained again after the pickle: its fit replaces the run saying so, and does not
    # claim the folder holds the run this Detector came with (the check that the run still holds its networks is
    # asked of an unpickled copy too)
    run = tmp_path / "r"
    first = _fit_quietly(Detector(run_dir=str(run), **FIT), np.random.default_rng(0).integers(0, 255, (20, 8, 8),
                                                                                                dtype=np.uint8))
    blob = pickle.dumps(first)
    # the original trained there again after the pickle (other images): the run holds other networks now
    _fit_quietly(first, np.random.default_rng(1).integers(0, 255, (20, 8, 8), dtype=np.uint8))
    del first
    gc.collect()
    twin = pickle.loads(blob)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        twin.fit(np.random.default_rng(2).integers(0, 255, (20, 8, 8), dtype=np.uint8))
    said = [str(w.message) for w in got if str(run) in str(w.message) and "replaces" in str(w.message)]
    assert len(said) == 1, said                             # (the replacement is said)
    assert "holds the run this Detector came with as a copy" not in said[0], said[0]


@pytest.mark.parametrize("how", ["deepcopy", "load", "from_run"])
def test_a_detector_whose_run_was_trained_again_after_it_came_says_so_when_its_fit_replaces_it(
        tmp_path: Path, how: str) -> None:
    # the check is asked when the fit replaces the run, not at copy / load time: a refit of the original after the
    # copy, the load or from_run made another run of the folder, which the Detector's fit must say
    import copy

    run = tmp_path / "r"
    first = _fit_quietly(Detector(run_dir=str(run), **FIT), np.random.default_rng(0).integers(0, 255, (20, 8, 8),
                                                                                                dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        if how == "deepcopy":
            twin = copy.deepcopy(first)
        elif how == "load":
            twin = Detector.load(first.save(tmp_path / "model"), device="cpu")
        else:
            twin = Detector.from_run(run, device="cpu")
    _fit_quietly(first, np.random.default_rng(1).integers(0, 255, (20, 8, 8), dtype=np.uint8))
    del first
    gc.collect()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        twin.fit(np.random.default_rng(2).integers(0, 255, (20, 8, 8), dtype=np.uint8))
    said = [str(w.message) for w in got if str(run) in str(w.message) and "replaces" in str(w.message)]
    assert len(said) == 1 and "holds a run trained there since this Detector" in said[0], said
    assert "holds the run this Detector" not in said[0], said[0]
