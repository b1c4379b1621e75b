"""sklearn.base.clone of a Detector made by Detector.from_run: the clone holds from_run's parameters, and its fit
trains a fresh model with the settings the run was fitted with (sklearn's promise: the same parameters, not fitted),
the pixel_range given to that fit included. The clone of a run without an encoder is
test_untrained_encoder_runs's."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan.errors import WildganWarning

pytestmark = pytest.mark.usefixtures("one_thread")

# a tiny fit of 8x8 images: settings away from the defaults, each of which from_run must give back
FIT = dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1, seed=5,
           encoder_loss="latent", lam=0.3, width=8, resize_mode="pad", contamination=0.1)


def _fit_quietly(det, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)      # (networks not grown: a fit this short ends at 4x4)
        return det.fit(x)


def test_a_clone_of_from_run_fits_a_fresh_model_with_the_runs_settings_its_pixel_range_too(tmp_path: Path) -> None:
    # floats that lie in [0, 1], given as [-1, 1]: from_run's parameters said pixel_range='auto' (split.json kept only
    # the range read, not that it was given), so the clone's fit guessed [0, 1] and trained on other pixels
    from sklearn.base import clone

    from wildgan import Detector

    x = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    first = _fit_quietly(Detector(pixel_range="[-1,1]", run_dir=str(tmp_path / "first"), **FIT), x)
    det = Detector.from_run(tmp_path / "first", device="cpu")
    got = det.get_params()
    assert got["pixel_range"] == "[-1,1]", got
    # the rest of fit's parameters too (channels: the networks', where fit took them from the images)
    assert {k: v for k, v in got.items() if k != "channels"} == \
        {k: v for k, v in first.get_params().items() if k != "channels"}
    assert got["channels"] == 1 and det.pixel_range_ == first.pixel_range_ == "[-1,1]"
    twin = clone(det)
    assert twin.get_params() == got and not hasattr(twin, "model_")
    # fitted on the same images in a folder of its own: the same run config, the same pixels, the same networks
    _fit_quietly(twin.set_params(run_dir=str(tmp_path / "twin")), x)
    assert twin.pixel_range_ == "[-1,1]" and twin.conversion_["float_range"] == "[-1,1]"
    assert json.loads((tmp_path / "twin" / "config.json").read_text()) == \
        json.loads((tmp_path / "first" / "config.json").read_text())
    np.testing.assert_array_equal(twin.decision_scores_, first.decision_scores_)


def test_from_run_of_a_fit_with_the_range_guessed_says_auto(tmp_path: Path) -> None:
    # a range guessed by 'auto' is recorded too (float_range), but was no setting: from_run keeps 'auto', so that its
    # clone guesses again for its own images, as the Detector fitted did
    from wildgan import Detector

    x = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    _fit_quietly(Detector(run_dir=str(tmp_path / "run"), **FIT), x)
    det = Detector.from_run(tmp_path / "run", device="cpu")
    assert det.get_params()["pixel_range"] == "auto" and det.pixel_range_ == "[0,1]"
