"""What a Detector's fit says before it replaces a run it did not choose itself: a copy (pickle, copy.copy,
copy.deepcopy) of a fitted Detector, or one Detector.load gave back, holds the run folder its original was fitted in,
as a clone does. Its fit trains there in place of that run, and the user must be told which run is replaced (the
original's, or one trained there since the save), and not be told it is replaced while the original still lives."""

from __future__ import annotations

import copy
import gc
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from tiny_detector_fit import FIT, fit_quietly, random_images, tiny_fit_kwargs

from wildgan import Detector

pytestmark = pytest.mark.usefixtures("one_thread")


def _replaced_said(det: Detector, x, run_dir: Path) -> list[str]:
    """What a fit of det says of the run it replaces in run_dir."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        det.fit(x)
    return [str(w.message) for w in got if str(run_dir) in str(w.message) and "replaces" in str(w.message)]


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_a_copy_of_a_fitted_detector_that_fits_into_its_run_says_it_replaces_the_run(tmp_path: Path, how) -> None:
    # a copy holds the run of the Detector it copies without its caller choosing run_dir, as a clone or Detector.load's
    # Detector does: once the original is gone, its fit replaces that run in place, and must say so
    x = random_images()
    run = tmp_path / "r"
    first = fit_quietly(Detector(run_dir=str(run), **FIT), x)
    twin = {"pickle": lambda d: pickle.loads(pickle.dumps(d)), "deepcopy": copy.deepcopy, "copy": copy.copy}[how](first)
    assert getattr(first, "_inherited_run", None) is None          # the original's refit stays its own
    del first
    gc.collect()
    said = _replaced_said(twin, x, run)
    assert len(said) == 1 and "copy" in said[0], said
    assert _replaced_said(twin, x, run) == []                       # its own run now
    # a copy of a Detector fitted in a temporary folder has no run_dir: nothing to replace, nothing said
    temp = fit_quietly(Detector(**FIT), x)
    assert getattr(pickle.loads(pickle.dumps(temp)), "_inherited_run", None) is None


def test_a_loaded_detector_whose_run_was_trained_again_since_its_save_says_so(tmp_path: Path) -> None:
    # fit -> save -> load -> fit: the run there is the saved Detector's, and its fit says it replaces it (true). A run
    # trained again after the save (its Detector refitted there) is not, and the warning must not call it "the run
    # this Detector was fitted in": it holds other networks
    x = random_images()
    run = tmp_path / "r"
    first = fit_quietly(Detector(run_dir=str(run), **FIT), x)
    saved = first.save(tmp_path / "model")
    del first
    gc.collect()
    # (saved again by the Detector loaded: its networks came from that file, and are still the run's)
    saved = Detector.load(saved, device="cpu").save(tmp_path / "resaved")
    gc.collect()
    said = _replaced_said(Detector.load(saved, device="cpu"), x, run)
    assert len(said) == 1 and "holds the run this Detector was fitted in before it was saved" in said[0], said
    # (that fit made the same networks again: same seed, same images) its own save, loaded: said the same
    gc.collect()
    again = fit_quietly(Detector(run_dir=str(run), **FIT), x)
    saved = again.save(tmp_path / "again")
    fit_quietly(again, random_images(1))            # trained there again after the save: other networks
    del again
    gc.collect()
    said = _replaced_said(Detector.load(saved, device="cpu"), x, run)
    assert len(said) == 1 and "holds a run trained there since this Detector was saved" in said[0], said
    assert "holds the run this Detector" not in said[0], said


def test_a_resume_of_a_clone_does_not_say_it_replaces_the_run_while_its_original_lives(tmp_path: Path) -> None:
    # a clone resumed in its live original's run continues that run rather than replacing it: it must say so, and
    # not that it replaces the run
    from sklearn.base import clone

    x = np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = Detector(**tiny_fit_kwargs(tmp_path / "run")).fit(x)
    copy = clone(original)
    copy.set_params(total_kimg=0.064)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        copy.fit(x, resume=True)
    replaces = [str(w.message) for w in said if "replaces" in str(w.message)]
    assert original.run_dir_ is not None          # (alive: the live-Detector warning's case)
    assert not replaces, replaces
    # ...but it still says the folder will no longer hold the live original's networks
    assert any("continues it" in str(w.message) and "another live Detector" in str(w.message) for w in said), \
        [str(w.message) for w in said]
