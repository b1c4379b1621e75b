"""Detector's g_image_loss and gp_target: the two training ablations of `wildgan train` (--g-image-loss W,
--gp-target T) as constructor parameters, refused in the CLI's words, recorded in the run's config, kept by
get_params / clone / save / load / from_run, and left out of a saved Detector's JSON at their defaults."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from tiny_detector_fit import blob_images, refuse_training
from wildgan.config import GP_TARGET_PROBLEM, read_run_config
from wildgan.detector import Detector
from wildgan.errors import ConfigError, WildganWarning

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(preset="tiny", total_kimg=0.05, phase_kimg=0.1, resolution=16, device="cpu")


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    return blob_images()


@pytest.fixture
def no_training(monkeypatch):
    """Any training is a test failure: the parameter must be refused before it."""
    refuse_training(monkeypatch)


@pytest.mark.parametrize("kw, said", [
    # the CLI's words (TrainConfig's and RunConfig's, config.GP_TARGET_PROBLEM ...), the Detector's parameter named
    ({"gp_target": 0}, f"gp_target {GP_TARGET_PROBLEM}, got 0"),
    ({"gp_target": -750.0}, f"gp_target {GP_TARGET_PROBLEM}, got -750.0"),
    ({"gp_target": float("nan")}, f"gp_target {GP_TARGET_PROBLEM}, got nan"),
    ({"gp_target": "750"}, f"gp_target {GP_TARGET_PROBLEM}, got '750'"),
    ({"gp_target": None}, f"gp_target {GP_TARGET_PROBLEM}, got None"),
    ({"g_image_loss": -1}, "g_image_loss must be a number >= 0, got -1"),
    ({"g_image_loss": True}, "g_image_loss must be a number >= 0, got True"),
    ({"g_image_loss": float("inf")}, "g_image_loss must be a number >= 0, got inf"),
    ({"g_image_loss": 0.5, "encoder_loss": "latent"},
     "g_image_loss=0.5 adds the image-space encoder loss d_I to G's loss, which needs the encoder trained with d_I "
     "(encoder loss image), not encoder_loss='latent'"),
    ({"g_image_loss": 0.5, "method": "search"},
     "g_image_loss must be 0 with method='search', which trains no encoder (it adds the encoder loss d_I to G's "
     "loss), got 0.5"),
    ({"g_image_loss": 0.5, "method": "fanogan", "resolution": 32},
     "g_image_loss must be 0 with method='fanogan', which trains its own generator and encoder by their own losses "
     "(it adds the encoder loss d_I to the pGAN G's loss), got 0.5"),
])
def test_bad_ablation_parameters_are_refused_before_training_in_the_clis_words(kw, said, blobs, no_training) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(said)}$"):
        Detector(**{**TINY, **kw}).fit(blobs)


def test_the_cli_refuses_the_same_values_with_the_same_problem() -> None:
    # the words are shared, not copied: the CLI's TrainConfig says the same problem of its own field
    from wildgan.config import TrainConfig

    with pytest.raises(ConfigError, match=re.escape(f"train.gp_target {GP_TARGET_PROBLEM}, got 0")):
        TrainConfig(gp_target=0)
    with pytest.raises(ConfigError, match=re.escape("train.g_image_loss=0.5 adds the image-space encoder loss d_I to "
                                                    "G's loss, which needs the encoder trained with d_I (encoder loss "
                                                    "image), not train.encoder_loss='latent'")):
        TrainConfig(g_image_loss=0.5, encoder_loss="latent")


def test_they_are_sklearn_parameters() -> None:
    import sklearn.base

    det = Detector(**TINY, g_image_loss=0.5, gp_target=750.0)
    params = det.get_params()
    assert (params["g_image_loss"], params["gp_target"]) == (0.5, 750.0)
    assert "g_image_loss=0.5" in repr(det) and "gp_target=750.0" in repr(det)
    twin = sklearn.base.clone(det)
    assert (twin.g_image_loss, twin.gp_target) == (0.5, 750.0)
    assert det.set_params(g_image_loss=0.25, gp_target=2.0) is det and (det.g_image_loss, det.gp_target) == (0.25, 2.0)
    # numpy numbers, as a grid search over np.linspace gives them
    Detector(**TINY, g_image_loss=np.float64(0.5), gp_target=np.float32(750))._validate()
    # the defaults are TrainConfig's: an unchanged Detector's repr does not name them
    assert "g_image_loss" not in repr(Detector()) and "gp_target" not in repr(Detector())


def test_a_fit_records_them_and_from_run_save_and_load_keep_them(blobs, tmp_path) -> None:
    """The run's config records what the fit trained with (train.g_image_loss, train.gp_target); from_run reads both
    back without a warning that a refit would drop them (it gave one before); save / load keep them."""
    run = tmp_path / "run"
    np_g = np.float64(0.5)
    det = Detector(**TINY, g_image_loss=np_g, gp_target=750, run_dir=str(run)).fit(blobs)
    cfg = read_run_config(run)
    assert (cfg.train.g_image_loss, cfg.train.gp_target) == (0.5, 750.0)
    assert json.loads((run / "config.json").read_text())["train"]["gp_target"] == 750.0
    # trained with, not only recorded: the same seed without them gives other networks (each one's effect on the
    # loop is tested with TrainConfig, tests/unit/test_losses.py)
    plain = Detector(**TINY).fit(blobs)
    assert not np.array_equal(plain.decision_scores_, det.decision_scores_)

    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always", WildganWarning)
        back = Detector.from_run(run, device="cpu")
    assert not [w for w in got if "no parameter for" in str(w.message)], [str(w.message) for w in got]
    assert (back.g_image_loss, back.gp_target) == (0.5, 750.0)

    path = det.save(tmp_path / "m")
    saved = json.loads(path.read_text())["params"]
    assert (saved["g_image_loss"], saved["gp_target"]) == (0.5, 750)
    loaded = Detector.load(path)
    assert (loaded.g_image_loss, loaded.gp_target) == (0.5, 750)
    x = blobs[:4]
    np.testing.assert_array_equal(loaded.decision_function(x), det.decision_function(x))


def test_at_their_defaults_a_saved_detector_leaves_them_out_and_a_file_without_them_loads(blobs, tmp_path) -> None:
    """A Detector trained without the ablations saves the params a wildgan from before them wrote (and reads: it
    refuses parameters it does not know); a file without them reads them from its config, which is what the networks
    were trained with (from_run of a `wildgan train --gp-target 750` run, saved by a wildgan from before them)."""
    det = Detector(**TINY, run_dir=str(tmp_path / "run")).fit(blobs)
    path = det.save(tmp_path / "m")
    meta = json.loads(path.read_text())
    assert "g_image_loss" not in meta["params"] and "gp_target" not in meta["params"]
    loaded = Detector.load(path)
    assert (loaded.g_image_loss, loaded.gp_target) == (0.0, 1.0)
    meta["config"]["train"]["gp_target"] = 750.0
    path.write_text(json.dumps(meta))
    assert Detector.load(path).gp_target == 750.0


def test_a_fanogan_fit_with_a_gp_target_says_it_is_not_used(monkeypatch) -> None:
    # f-AnoGAN's loop trains its critic with target 1 (fanogan_loop): a value given is recorded (as the CLI records a
    # typed --gp-target) and said to be unused, not taken in silence
    det = Detector("fanogan", resolution=32, total_kimg=0.05, gp_target=750.0)
    from wildgan.config import DataConfig

    with pytest.warns(WildganWarning, match=r"gp_target=750\.0 is the pGAN critic's target gradient norm; f-AnoGAN"):
        cfg = det._run_config(DataConfig(), 32, 1)
    assert cfg.train.gp_target == 750.0


def test_set_back_to_their_defaults_after_a_fit_with_others_save_and_load_keep_the_defaults(blobs, tmp_path) -> None:
    # save left a default value out, and load read an absent one from the networks' config: a Detector fitted with
    # gp_target=750 (or from_run of such a run) then set_params(gp_target=1.0) came back as 750, and its refit
    # trained with it
    det = Detector(**TINY, gp_target=750.0, run_dir=str(tmp_path / "run")).fit(blobs)
    det.set_params(gp_target=1.0)
    loaded = Detector.load(det.save(tmp_path / "m"))
    assert loaded.gp_target == 1.0 and loaded.get_params() == det.get_params()
