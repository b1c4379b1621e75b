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
    # the rest of fit's parameters too (channels None included: fit took them from the images, as its clone does)
    assert got == first.get_params()
    assert got["channels"] is None and det.pixel_range_ == first.pixel_range_ == "[-1,1]"
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


def _cli_run(tmp_path: Path, name: str, *args: str, size: int = 8) -> Path:
    """A `wildgan train` run of a tiny labelled .npz (class 0 normal), with `args` beside the usual tiny ones."""
    import contextlib
    import io

    from wildgan.cli import main

    data = tmp_path / f"data{size}.npz"
    if not data.is_file():
        rng = np.random.default_rng(0)
        np.savez(data, x=rng.integers(0, 255, (60, size, size), dtype=np.uint8), y=np.arange(60) % 2)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(["train", "--data", str(data), "--normal", "0", "--device", "cpu", "--threads", "1",
                   "--no-progress", "--out", str(tmp_path / name), *args])
    assert rc == 0, err.getvalue()
    return tmp_path / name


def test_a_clone_of_from_run_of_an_f_anogan_run_trains_as_long(tmp_path: Path) -> None:
    # from_run gave an f-AnoGAN run's total_kimg as its train.total_kimg, the pGAN schedule's that such a run records
    # unused: a clone's fit, which turns total_kimg into total_kimg * 1000 / 16 iterations of each stage, trained
    # another length (250000 and 250000 iterations for a run of the official 7 epochs and 50000)
    from dataclasses import replace

    from sklearn.base import clone

    from wildgan import Detector
    from wildgan.config import DataConfig

    run = _cli_run(tmp_path, "fanogan", "--method", "fanogan", "--fanogan-iters", "2", "--fanogan-enc-iters", "2",
                   "--fanogan-dim", "8", size=32)
    saved = json.loads((run / "config.json").read_text())
    det = Detector.from_run(run, device="cpu")
    assert det.get_params()["total_kimg"] == 0.032 and det.get_params()["width"] == 8
    twin = clone(det).set_params(run_dir=str(tmp_path / "twin"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        twin.fit(DataConfig(data=saved["data"]["data"], normal=("0",)))
    again = json.loads((tmp_path / "twin" / "config.json").read_text())
    assert again["fanogan"] == saved["fanogan"], (again["fanogan"], saved["fanogan"])
    # the official length (no total_kimg given to fit) is given back as total_kimg None, which a refit trains again
    from wildgan.detector import _run_total_kimg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)                # (the preset's words, unused by f-AnoGAN)
        official = Detector("fanogan", device="cpu")._run_config(DataConfig(), 32, 1)
    assert (official.fanogan.gan_iters, official.fanogan.enc_iters) == (None, 50000)
    assert _run_total_kimg(official) is None
    assert _run_total_kimg(replace(official, fanogan=replace(official.fanogan, gan_iters=10, enc_iters=12))) is None


def test_from_run_says_which_settings_of_a_cli_run_a_refit_would_not_keep(tmp_path: Path) -> None:
    # a `wildgan train` run's --lr and --transition-kimg have no Detector parameter: a clone's fit (with a run_dir of
    # its own) trained at lr 0.001 without transition_kimg, without a word
    from wildgan import Detector

    tiny = ("--preset", "tiny", "--resolution", "8", "--total-kimg", "0.032", "--phase-kimg", "0.1")
    plain = _cli_run(tmp_path, "plain", *tiny)
    tuned = _cli_run(tmp_path, "tuned", *tiny, "--lr", "0.002", "--transition-kimg", "0.05")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # a run of the defaults: a refit trains it again, nothing said
        Detector.from_run(plain, device="cpu")
    with pytest.warns(WildganWarning) as said:
        Detector.from_run(tuned, device="cpu")
    words = [str(w.message) for w in said if "no parameter for" in str(w.message)]
    assert words == [f"{tuned}: the run has settings that Detector has no parameter for, so a fit of this Detector or "
                     f"of a clone of it (sklearn.base.clone) would not train the run's model again: "
                     f"train.transition_kimg: 0.05 -> None; train.lr: 0.002 -> 0.001 (the run's -> a fit's); from_run "
                     f"scores the run's own networks as they are"], [str(w.message) for w in said]


def test_a_refit_of_from_run_of_a_run_config_with_preset_custom_says_train_run_trains_it_again(tmp_path: Path) -> None:
    # a RunConfig built in Python says preset 'custom' (its default): from_run of its run keeps it, and a refit of
    # that Detector (or of a clone) was refused as "unknown preset 'custom' ... choose one of fast, paper, tiny",
    # after its images were decoded, as if its caller had typed a wrong name
    from sklearn.base import clone

    from wildgan import Detector
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.errors import ConfigError
    from wildgan.training.run import train_run

    rng = np.random.default_rng(0)
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.repeat([0, 1], 20))
    cfg = RunConfig(data=DataConfig(data=str(npz), normal=("0",), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.032, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", threads=1))
    assert cfg.preset == "custom"
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)      # (networks not grown)
        train_run(cfg, run, progress=False, log=lambda m: None)
    written = (run / "config.json").read_bytes()
    with pytest.warns(WildganWarning) as said:
        det = Detector.from_run(run, device="cpu")
    assert det.get_params()["preset"] == "custom"            # what the run is, as get_params says it
    words = f"preset 'custom' is a RunConfig's (built in Python and trained by wildgan.training.run.train_run, as " \
            f"{run / 'config.json'} says), which Detector cannot fit"
    # from_run's warning that a refit would not train the run's model says why, in the same words
    assert any(words in str(w.message) for w in said), [str(w.message) for w in said]
    for refit in (det, clone(det)):
        with pytest.raises(ConfigError) as e:
            refit.fit(rng.integers(0, 255, (20, 8, 8), dtype=np.uint8))
        msg = str(e.value)
        assert msg.startswith(words), msg
        assert "train_run(read_run_config(RUN), NEW_RUN_DIR)" in msg and "unknown preset" not in msg, msg
    assert (run / "config.json").read_bytes() == written         # refused before anything is written


@pytest.mark.parametrize("preset, said", [
    ("fastt", r"^unknown preset fastt \(did you mean fast\?\): choose one of fast, paper, tiny$"),
    ("huge", r"^unknown preset huge: choose one of fast, paper, tiny$"),
    (None, r"^unknown preset None: choose one of fast, paper, tiny$"),
])
def test_a_fit_with_an_unknown_preset_is_refused_before_its_images_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: object, said: str) -> None:
    # only 'custom' was refused before the images were read: a mistyped preset was refused by _run_config, after a
    # folder's images were decoded (minutes for a big one), and nothing of that reading was of use
    import wildgan.data.inputs as inputs
    import wildgan.detector as detector
    from wildgan import Detector
    from wildgan.errors import ConfigError

    def no_read(*a: object, **k: object) -> None:
        raise AssertionError("the images were read before the preset was refused")

    for module in (inputs, detector):
        monkeypatch.setattr(module, "decode_items", no_read)
    monkeypatch.setattr(Detector, "_training_split", no_read)
    folder = tmp_path / "imgs"
    folder.mkdir()
    np.save(folder / "unused.npy", np.zeros((4, 8, 8), np.uint8))
    for det in (Detector(preset=preset), Detector().set_params(preset=preset)):
        with pytest.raises(ConfigError, match=said):
            det.fit(str(folder))
        with pytest.raises(ConfigError, match=said):
            det.fit(np.zeros((20, 8, 8), np.uint8))
    assert not list(tmp_path.glob("imgs/*.json"))


def test_a_clone_of_from_run_takes_the_channels_from_its_images_where_the_fit_did(tmp_path: Path) -> None:
    # from_run gave the networks' channels (1) as a parameter where the fit had taken them from its gray images: the
    # clone's fit, given channels=1, recorded no gray_data, and colour images scored on it were not warned about as
    # they are on the Detector fitted (its networks never saw colour)
    from sklearn.base import clone

    from wildgan import Detector

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    colour = rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)
    first = _fit_quietly(Detector(run_dir=str(tmp_path / "first"), **{**FIT, "resize_mode": "resize"}), x)
    assert first.get_params()["channels"] is None and first.conversion_.get("gray_data"), first.conversion_
    det = Detector.from_run(tmp_path / "first", device="cpu")
    assert det.get_params() == first.get_params()
    assert det.channels_ == 1 and det.conversion_.get("gray_data")
    twin = _fit_quietly(clone(det).set_params(run_dir=str(tmp_path / "twin")), x)
    assert twin.conversion_.get("gray_data"), twin.conversion_
    for fitted in (first, twin):
        with pytest.warns(WildganWarning, match="colour"):
            fitted.decision_function(colour)
    assert json.loads((tmp_path / "twin" / "config.json").read_text()) == \
        json.loads((tmp_path / "first" / "config.json").read_text())
    # channels given to the fit stay given: its clone records no more than it did
    given = _fit_quietly(Detector(run_dir=str(tmp_path / "given"), channels=1, **FIT), x)
    assert "gray_data" not in given.conversion_
    assert Detector.from_run(tmp_path / "given", device="cpu").get_params()["channels"] == 1


def test_a_clone_of_from_run_takes_the_resolution_from_its_images_where_the_fit_did(tmp_path: Path) -> None:
    # from_run gave the networks' resolution (16) as a parameter where the fit had taken it from its images: a refit
    # of the clone on 32x32 images converted them to 16x16, where the Detector fitted would have trained at 32
    from sklearn.base import clone

    from wildgan import Detector

    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (20, 16, 16), dtype=np.uint8)
    large = rng.integers(0, 255, (20, 32, 32), dtype=np.uint8)
    inferred = {**FIT, "resolution": None, "resize_mode": "resize"}
    first = _fit_quietly(Detector(run_dir=str(tmp_path / "first"), **inferred), small)
    assert first.resolution_ == 16 and first.get_params()["resolution"] is None
    det = Detector.from_run(tmp_path / "first", device="cpu")
    assert det.get_params() == first.get_params() and det.resolution_ == 16
    twin = _fit_quietly(clone(det).set_params(run_dir=str(tmp_path / "twin")), large)
    assert twin.resolution_ == 32
    assert _fit_quietly(clone(first).set_params(run_dir=str(tmp_path / "re")), large).resolution_ == 32
    # a resolution given to the fit stays given: its clone converts other images to it, as the fit would
    _fit_quietly(Detector(run_dir=str(tmp_path / "given"), **{**inferred, "resolution": 16}), small)
    given = Detector.from_run(tmp_path / "given", device="cpu")
    assert given.get_params()["resolution"] == 16
    assert _fit_quietly(clone(given).set_params(run_dir=str(tmp_path / "given2")), large).resolution_ == 16
    # a run of a fit from before the record keeps the networks' resolution, as from_run gave it then
    split = tmp_path / "first" / "split.json"
    info = json.loads(split.read_text())
    info["conversion"] = {k: v for k, v in info["conversion"].items() if k != "resolution_from"}
    split.write_text(json.dumps(info))
    assert Detector.from_run(tmp_path / "first", device="cpu").get_params()["resolution"] == 16


def _replaced_said(det, x, run_dir: Path, resume: bool = False) -> list[str]:
    """What a fit of det says of the run it replaces in run_dir."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        det.fit(x, resume=resume)
    return [str(w.message) for w in got if str(run_dir) in str(w.message) and "replaces" in str(w.message)]


def test_a_clone_that_fits_into_the_run_dir_it_inherited_says_it_replaces_the_run(tmp_path: Path) -> None:
    # a clone (sklearn.base.clone, or Detector.from_run) keeps run_dir: its fit replaced the run there without a word
    # once the Detector it was cloned from was gone (a live one is said by _claim_run_dir's other warning)
    import gc

    from sklearn.base import clone

    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    run = tmp_path / "r"
    first = _fit_quietly(Detector(run_dir=str(run), **FIT), x)
    twin = clone(first)
    del first
    gc.collect()
    said = _replaced_said(twin, x, run)
    assert len(said) == 1 and "cloned" in said[0], said
    assert _replaced_said(twin, x, run) == []                   # its own run now: refitted as any Detector's
    loaded = Detector.from_run(run, device="cpu")
    # a resume continues the run: it replaces nothing, and says nothing of it
    del twin
    gc.collect()
    assert _replaced_said(Detector.from_run(run, device="cpu"), x, run, resume=True) == []
    said = _replaced_said(loaded, x, run)
    assert len(said) == 1 and "from_run" in said[0], said
    # a clone of from_run's Detector, and a clone of a clone, inherit it too
    later = clone(clone(Detector.from_run(run, device="cpu")))
    gc.collect()
    assert len(_replaced_said(later, x, run)) == 1
    # asked for: a run_dir set on the clone, or a Detector made with that run_dir (a re-run notebook cell)
    again = clone(later).set_params(run_dir=str(run))
    del later
    gc.collect()
    assert _replaced_said(again, x, run) == []
    del again
    gc.collect()
    assert _replaced_said(Detector(run_dir=str(run), **FIT), x, run) == []
    gc.collect()
    # the Detector cloned from still alive: its own warning, not a second one
    alive = _fit_quietly(Detector(run_dir=str(run), **FIT), x)
    said = _replaced_said(clone(alive), x, run)
    assert len(said) == 1 and "another live Detector" in said[0], said


def test_a_loaded_detector_that_fits_into_the_run_it_was_fitted_in_says_it_replaces_the_run(tmp_path: Path) -> None:
    # Detector.load gives the saved run_dir back: in a later session (the Detector saved gone) its fit replaced the
    # run it was fitted in without a word, leaving the saved file's run_dir naming a run of other networks
    import gc

    from sklearn.base import clone

    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    run = tmp_path / "r"
    first = _fit_quietly(Detector(run_dir=str(run), **FIT), x)
    saved = first.save(tmp_path / "model")
    del first
    gc.collect()
    loaded = Detector.load(saved, device="cpu")
    said = _replaced_said(loaded, x, run)
    assert len(said) == 1 and "Detector.load" in said[0], said
    assert _replaced_said(loaded, x, run) == []                 # its own run now
    # a clone of it inherits it as any clone; a run_dir set on it says the replacement is meant
    del loaded
    gc.collect()
    assert len(_replaced_said(clone(Detector.load(saved, device="cpu")), x, run)) == 1
    gc.collect()
    assert _replaced_said(Detector.load(saved, device="cpu").set_params(run_dir=str(run)), x, run) == []
    gc.collect()
    # saved without a run folder (a temporary one), or loaded where it is gone: nothing to replace, nothing said
    other = _fit_quietly(Detector(**FIT), x).save(tmp_path / "temp")
    assert getattr(Detector.load(other, device="cpu"), "_inherited_run", None) is None


def test_from_run_of_a_fit_on_a_data_config_leaves_resolution_and_channels_to_the_data_where_the_fit_did(
        tmp_path: Path) -> None:
    # a DataConfig leaves the resolution and channels to its data (None: the protocol's default, from the images);
    # from_run gave the networks' as parameters all the same, so a clone's fit on other data converted it to them
    from sklearn.base import clone

    from wildgan import Detector
    from wildgan.config import DataConfig

    rng = np.random.default_rng(0)
    for name, side in (("small", 8), ("large", 16)):
        np.savez(tmp_path / f"{name}.npz", x=rng.integers(0, 255, (40, side, side), dtype=np.uint8),
                 y=np.repeat([0, 1], 20))
    spec = {"dataset": "npz", "normal": ("0",)}
    left = {**FIT, "resolution": None}
    first = _fit_quietly(Detector(run_dir=str(tmp_path / "first"), **left),
                         DataConfig(data=str(tmp_path / "small.npz"), **spec))
    assert first.resolution_ == 8 and first.channels_ == 1
    det = Detector.from_run(tmp_path / "first", device="cpu")
    assert (det.get_params()["resolution"], det.get_params()["channels"]) == (None, None)
    twin = _fit_quietly(clone(det).set_params(run_dir=str(tmp_path / "twin")),
                        DataConfig(data=str(tmp_path / "large.npz"), **spec))
    assert twin.resolution_ == 16
    # given to the Detector: kept, and a clone's fit converts other data to them, as the fit would
    _fit_quietly(Detector(run_dir=str(tmp_path / "given"), **{**left, "resolution": 8, "channels": 1}),
                 DataConfig(data=str(tmp_path / "small.npz"), **spec))
    given = Detector.from_run(tmp_path / "given", device="cpu")
    assert (given.get_params()["resolution"], given.get_params()["channels"]) == (8, 1)


def test_from_run_of_a_cli_run_with_the_ablations_keeps_them_and_says_nothing_of_them(tmp_path: Path) -> None:
    # --g-image-loss and --gp-target are Detector parameters (g_image_loss, gp_target): from_run reads them, so a
    # clone's fit trains the run's model again; it warned that a refit would train without them
    from sklearn.base import clone

    from wildgan import Detector
    from wildgan.config import read_run_config

    tiny = ("--preset", "tiny", "--resolution", "8", "--total-kimg", "0.032", "--phase-kimg", "0.1")
    run = _cli_run(tmp_path, "ablated", *tiny, "--g-image-loss", "0.5", "--gp-target", "750")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det = Detector.from_run(run, device="cpu")
    assert (det.g_image_loss, det.gp_target) == (0.5, 750.0)
    twin = clone(det).set_params(run_dir=str(tmp_path / "twin"))
    refit = twin._run_config(read_run_config(run).data, 8, 1)
    assert (refit.train.g_image_loss, refit.train.gp_target) == (0.5, 750.0)
