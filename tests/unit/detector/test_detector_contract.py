"""wildgan.Detector: parameter checks and estimator-contract details that need no trained model, or only the
shortest fits (tiny synthetic images)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tiny_detector_fit import blob_images, refuse_training
from wildgan.detector import Detector
from wildgan.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(preset="tiny", total_kimg=0.05, phase_kimg=0.1, resolution=16, device="cpu")


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    return blob_images()


@pytest.fixture
def no_training(monkeypatch):
    """Any training is a test failure: the parameter must be refused before it."""
    refuse_training(monkeypatch)


@pytest.mark.parametrize("kw, match", [
    # read after training whatever the rule: refused before it, not as a bare TypeError / ValueError after it
    ({"threshold": "mad", "contamination": "auto"}, "contamination must be a number"),
    ({"threshold": "mad", "contamination": None}, "contamination must be a number"),
    ({"contamination": "auto"}, "contamination must be a number"),            # (sklearn's IsolationForest default)
    ({"mad_k": None}, "mad_k must be a number"),
    ({"threshold": "mad", "mad_k": float("inf")}, "mad_k must be a number >= 0"),   # the rule refuses it after training
    # seeds: every fit is seeded (no random_state=None), whole numbers that torch takes
    ({"seed": None}, "seed must be a whole number"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"seed": -1}, "seed must be a whole number"),
    ({"seed": True}, "seed must be a whole number"),
    ({"seed": 2 ** 64 - 1}, "seed must be a whole number"),
    ({"total_kimg": "abc"}, "total_kimg must be a positive number"),
    ({"total_kimg": float("nan")}, "total_kimg must be a positive number"),
    ({"phase_kimg": None}, "phase_kimg must be a positive number"),
    # in fit's words, not TrainConfig's (train.minutes, train.encoder_loss: settings a Detector does not have)
    ({"minutes": 0}, r"^minutes must be a positive number \(None = no budget\), got 0$"),
    ({"minutes": "x"}, r"^minutes must be a positive number"),
    ({"method": "fanogan", "resolution": 32, "minutes": -1}, r"^minutes must be a positive number"),
    # the wildgan method's two losses, d_I and d_z: its E scores, so 'none' (no encoder) is no choice of it
    # (the method named, which decides what is taken; the other methods take none too: they train no such E)
    ({"encoder_loss": "x"}, r"^encoder_loss must be image \(d_I\) or latent \(d_z\) with method='wildgan', whose "
                            r"scores need its encoder \(none, no encoder, is for method='fanogan' or 'search'\), "
                            r"got 'x'$"),
    ({"encoder_loss": "none"}, r"^encoder_loss must be image \(d_I\) or latent \(d_z\) with method='wildgan'.*"
                               r"got 'none'$"),
    ({"method": "fanogan", "resolution": 32, "encoder_loss": "x"},
     r"^encoder_loss must be image \(d_I\), latent \(d_z\) or none with method='fanogan', which trains no such "
     r"encoder \(the setting is unused there\), got 'x'$"),
    ({"run_dir": 123}, "run_dir must be a folder path"),
    # a string resolution was accepted and saved as a string; a float one cut without a word
    ({"resolution": "16"}, "resolution must be a whole number, a power of two >= 4, got '16'"),
    ({"resolution": 16.5}, "resolution must be a whole number"),
    ({"resolution": 24}, "resolution must be a power of two >= 4"),
    ({"channels": "3"}, "channels must be 1 or 3"),
    ({"channels": 2}, "channels must be 1 or 3"),
    # the latent search's steps: refused at fit for every method (a typo must not wait for method='search')
    ({"search_steps": -1}, r"search_steps must be a whole number >= 0 .*got -1$"),
    ({"search_steps": 2.5}, "search_steps must be a whole number >= 0"),
    ({"search_steps": True}, "search_steps must be a whole number >= 0"),
    ({"search_steps": "10"}, "search_steps must be a whole number >= 0"),
    ({"search_steps": None}, "search_steps must be a whole number >= 0"),
    ({"method": "search", "search_steps": -5}, "search_steps must be a whole number >= 0"),
])
def test_bad_parameters_are_config_errors_before_training(kw, match, blobs, no_training) -> None:
    with pytest.raises(ConfigError, match=match):
        Detector(**{**TINY, **kw}).fit(blobs)


def test_set_params_takes_an_out_of_range_contamination_and_fit_refuses_it_naming_it(blobs, no_training) -> None:
    # scikit-learn's rule: set_params stores, fit validates; the refusal names the parameter, its range and the value
    det = Detector(**TINY)
    assert det.set_params(contamination=2) is det and det.contamination == 2
    # (2 reads as a percent: the refusal says the fraction it means, as DataConfig's contamination does)
    for bad, said, pct in ((2, "2", " (the expected fraction of anomalies: for 2% give 0.02)"), (0, "0", ""),
                           (-0.1, "-0.1", ""), (0.75, "0.75", ""), (float("nan"), "nan", "")):
        det.set_params(contamination=bad)
        with pytest.raises(ConfigError, match=rf"^contamination must be in \(0, 0\.5\]{re.escape(pct)}, got "
                                              rf"{re.escape(said)}$"):
            det.fit(blobs)
    assert not hasattr(det, "threshold_")


def test_numpy_numbers_are_valid_parameters() -> None:
    # what a grid search over np.arange / np.linspace passes
    Detector(**{**TINY, "total_kimg": np.float64(0.05)}, seed=np.int64(3), contamination=np.float32(0.1),
             mad_k=np.float64(2.0), lam=np.float32(0.1), channels=np.int64(1))._validate()
    Detector(resolution=np.int64(16))._validate()
    Detector("search", search_steps=np.int64(0))._validate()
    Detector(resolution=32.0)._validate()                  # (a whole number written as a float, e.g. from YAML)
    Detector(**TINY, seed=2 ** 64 - 2, threshold="mad", contamination=0.9)._validate()   # (contamination unused)


def test_a_run_dir_another_detector_has_left_is_not_said_to_be_its(blobs, tmp_path) -> None:
    import warnings

    from wildgan.errors import WildganWarning

    a = Detector(**TINY, run_dir=str(tmp_path / "r1")).fit(blobs)
    a.set_params(run_dir=str(tmp_path / "r2")).fit(blobs)          # a's run is now r2: r1 is nobody's
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always", WildganWarning)
        Detector(**TINY, run_dir=str(tmp_path / "r1")).fit(blobs)
    assert not [w for w in got if "another live Detector" in str(w.message)]
    assert a.run_dir_ == tmp_path / "r2"


def test_a_saved_detector_with_unknown_parameters_is_a_checkpoint_error(blobs, tmp_path) -> None:
    import json

    from wildgan.errors import CheckpointError

    path = Detector(**TINY).fit(blobs).save(tmp_path / "m")
    meta = json.loads(path.read_text())
    meta["params"]["from_the_future"] = 1          # a parameter of a newer wildgan
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"m\.json: .*parameters this wildgan does not have \(from_the_future\)"):
        Detector.load(tmp_path / "m")


def test_sklearns_check_is_fitted_and_tags_work(blobs) -> None:
    """sklearn >= 1.6 asks every estimator for its tags (check_is_fitted failed with an AttributeError about
    __sklearn_tags__); the tags must not claim sklearn's outlier-detector type, whose conventions are inverted."""
    sk = pytest.importorskip("sklearn")
    from sklearn.base import is_outlier_detector
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    det = Detector(**TINY)
    with pytest.raises(SkNotFitted):
        check_is_fitted(det)
    assert not is_outlier_detector(det)
    det.fit(blobs)
    check_is_fitted(det)
    assert sk.base.clone(det).__sklearn_is_fitted__() is False


def test_an_fanogan_detector_scores_by_its_own_score_A_by_default(blobs, tmp_path) -> None:
    """score=None (the default) is the method's own score, as the CLI's: A for f-AnoGAN (its a, from the izi_f
    encoder, is not what it was made for). It stays None in get_params (clone, grid searches) and through save /
    load; from_run resolves it from the run's method; an explicit score still wins."""
    sk = pytest.importorskip("sklearn")

    det = Detector("fanogan", total_kimg=0.016, width=8, device="cpu", run_dir=str(tmp_path / "run")).fit(blobs)
    assert det.get_params()["score"] is None and det.score_ == "A"
    every = det.score_all(blobs)
    np.testing.assert_allclose(det.decision_function(blobs), every["A"], rtol=1e-6)
    np.testing.assert_allclose(det.decision_scores_, every["A"], rtol=1e-6)
    assert det.threshold_rule_.params["score"] == "A"
    assert sk.base.clone(det).get_params()["score"] is None

    loaded = Detector.load(det.save(tmp_path / "m"))
    assert loaded.score is None and loaded.score_ == "A" and loaded.threshold_ == det.threshold_
    run = Detector.from_run(det.run_dir_, device="cpu")
    assert run.score_ == "A" and run.threshold_ == pytest.approx(det.threshold_, rel=1e-6)

    chosen = det.set_params(score="a")
    assert chosen.score_ == "a" and chosen.threshold_rule_.params["score"] == "a"
    np.testing.assert_allclose(chosen.decision_function(blobs), every["a"], rtol=1e-6)
    np.testing.assert_allclose(chosen.decision_scores_, every["a"], rtol=1e-6)
    assert Detector.from_run(det.run_dir_, device="cpu", score="a").score_ == "a"
    assert det.set_params(score=None).threshold_rule_.params["score"] == "A"


def test_a_pgan_detector_scores_by_a_by_default_and_a_bad_score_is_refused(blobs, no_training) -> None:
    with pytest.raises(ConfigError, match="score must be one of .*or None for the method's own, got 'b'"):
        Detector(**TINY, score="b").fit(blobs)
    with pytest.raises(AttributeError):          # (NotFittedError) score_ names the fitted networks' score
        Detector(**TINY).score_


def test_search_steps_is_recorded_in_the_run_used_by_its_scoring_and_kept_by_save_load_and_from_run(
        blobs, tmp_path) -> None:
    """Detector(search_steps=N) is `wildgan train --search-steps N`: the run's config records search.steps, every
    scoring of the fitted search networks runs N steps, and from_run / save / load give the value back; a Detector
    saved before the parameter existed loads with its config's steps (500) and no warning."""
    import json
    import warnings

    from wildgan.config import SearchConfig
    from wildgan.scoring.latent_search import search_scores

    det = Detector("search", **TINY, search_steps=2, run_dir=str(tmp_path / "run")).fit(blobs)
    assert det.get_params()["search_steps"] == 2 and "search_steps=2" in repr(det)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["search"]["steps"] == 2
    assert det.model_.cfg.search.steps == 2
    x = blobs[:4]
    got = det.decision_function(x)
    m = det.model_

    def searched(steps: int) -> np.ndarray:
        res = search_scores(m.nets.Gs, m.nets.D, det._images(x), SearchConfig(steps=steps), det.lam,
                            m.cfg.score.kappa, m.device, lod=m.lod)
        return np.asarray(res.scores["a"], dtype=np.float64)

    np.testing.assert_allclose(got, searched(2), rtol=1e-6, atol=1e-7)
    assert not np.allclose(got, searched(0), rtol=1e-6, atol=1e-7)       # the steps change the scores

    run = Detector.from_run(tmp_path / "run", device="cpu")
    assert run.search_steps == 2
    np.testing.assert_allclose(run.decision_function(x), got, rtol=1e-6, atol=1e-7)

    path = det.save(tmp_path / "m")
    loaded = Detector.load(path)
    assert loaded.search_steps == 2
    np.testing.assert_array_equal(loaded.decision_function(x), got)

    # a Detector saved before search_steps existed: no such parameter, and the search section Detectors wrote then
    meta = json.loads(path.read_text())
    del meta["params"]["search_steps"]
    meta["config"]["search"]["steps"] = 500
    path.write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        older = Detector.load(path)
    assert older.search_steps == 500 and older.get_params()["search_steps"] == 500


def test_a_resume_may_change_search_steps_as_the_clis_does(blobs, tmp_path) -> None:
    """The search section only matters at scoring time: a CLI --resume does not compare it
    (training.run.run_differences), and neither does fit(resume=True); the resumed run records the new steps."""
    import json

    kw = dict(TINY, run_dir=str(tmp_path / "run"))
    Detector("search", **kw, search_steps=2).fit(blobs)
    det = Detector("search", **{**kw, "total_kimg": 0.1}, search_steps=0).fit(blobs, resume=True)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["search"]["steps"] == 0
    assert det.model_.cfg.search.steps == 0


@pytest.mark.parametrize("name", ["threshold_", "decision_scores_", "labels_", "threshold_rule_", "model_",
                                  "run_dir_", "n_train_", "resolution_", "score_", "trained_resolution_",
                                  "pixel_range_"])
def test_a_fitted_attribute_read_before_fit_is_a_not_fitted_error_naming_it(name) -> None:
    """det.threshold_ before fit said only "'Detector' object has no attribute 'threshold_'", where the methods
    raise NotFittedError saying to fit first. It is an AttributeError, so hasattr / getattr with a default (and
    sklearn's and the Detector's own checks, which use them) answer as before."""
    from wildgan.detector import NotFittedError

    det = Detector(**TINY)
    with pytest.raises(NotFittedError, match=rf"not fitted yet, so it has no {name}; call fit\(X\)"):
        getattr(det, name)
    assert not hasattr(det, name) and getattr(det, name, "default") == "default"
    # a name that is no attribute at all is Python's own error, not a claim that fitting would make it
    with pytest.raises(AttributeError, match="^'Detector' object has no attribute 'thresholds_'$") as e:
        getattr(det, "thresholds_")
    assert not isinstance(e.value, NotFittedError)


def test_a_run_dir_that_holds_images_is_refused_in_the_apis_words(blobs, tmp_path) -> None:
    """training.run refuses a new run in a folder of images (a mistyped run_dir: the folder of images to score);
    through fit its advice ended 'give a new or empty folder as --out', the CLI's option, which a Detector has not."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(blobs[0]).save(folder / "a.png")
    with pytest.raises(ConfigError) as got:
        Detector(**TINY, run_dir=str(folder)).fit(blobs)
    said = str(got.value)
    assert said.startswith(f"run_dir {folder} holds image files (e.g. a.png) and no run"), said
    assert said.endswith("give a new or empty folder as run_dir") and "--out" not in said, said
    assert sorted(p.name for p in folder.iterdir()) == ["a.png"]                  # the folder left as it was


def test_the_public_names_have_typed_signatures_and_docstrings_that_say_the_sign() -> None:
    """What `help(wildgan.Detector)` shows a new user: every public class of wildgan.__all__ and each of its public
    methods and properties has a docstring and type hints, and the class and its scoring methods say which way the
    scores point (higher = more anomalous: PyOD's sign, not scikit-learn's)."""
    import inspect

    import wildgan

    for name in wildgan.__all__:
        obj = getattr(wildgan, name)
        if not inspect.isclass(obj):
            continue
        assert (obj.__doc__ or "").strip(), name
        for attr, value in vars(obj).items():
            if attr.startswith("_") and attr != "__init__":
                continue
            f = value.__func__ if isinstance(value, (classmethod, staticmethod)) else \
                value.fget if isinstance(value, property) else value
            if not callable(f):
                continue
            if attr != "__init__":
                assert (f.__doc__ or "").strip(), f"{name}.{attr} has no docstring"
            sig = inspect.signature(f)
            untyped = [p for p, v in sig.parameters.items() if p not in ("self", "cls") and v.annotation is v.empty]
            assert not untyped and sig.return_annotation is not sig.empty, f"{name}.{attr}: {untyped} {sig}"
    for documented in (Detector, Detector.decision_function, Detector.score_all, wildgan.HeatMaps):
        assert "higher = more anomalous" in " ".join(documented.__doc__.split()), documented
    # run_dir takes a Path as well as a str (fit has always accepted both): the hint says so
    assert "Path" in str(inspect.signature(Detector.__init__).parameters["run_dir"].annotation)


def test_a_checkpoint_that_is_not_a_file_is_refused_naming_it_and_either_half_of_a_pair_is_one(blobs, tmp_path) -> None:
    """from_run(RUN, checkpoint=...) (load_model's checkpoint) with a mistyped file said "nope.json: checkpoint
    metadata not found", naming a file the caller never gave, and with the run's checkpoints/ folder the same of
    "checkpoints.json"; the .safetensors half of a pair was not the same networks as its .json."""
    run = tmp_path / "run"
    Detector(**TINY, run_dir=str(run)).fit(blobs)
    nope = tmp_path / "nope.safetensors"
    with pytest.raises(ConfigError, match=re.escape(f"checkpoint={str(nope)!r}: no such file (this run's "
                                                    f"checkpoints are in {run / 'checkpoints'})")):
        Detector.from_run(run, checkpoint=nope, device="cpu")
    (run / "checkpoints").mkdir(exist_ok=True)
    with pytest.raises(ConfigError, match=re.escape(f"checkpoint={str(run / 'checkpoints')!r}: a folder; give one "
                                                    "checkpoint file")):
        Detector.from_run(run, checkpoint=run / "checkpoints", device="cpu")
    # either half of the final pair is the run's own networks, with their cached training scores: the .safetensors
    # half was taken for other networks, whose scores a fit on in-memory images cannot rebuild (a DataError)
    plain = Detector.from_run(run, device="cpu")
    for half in ("network-final.json", "network-final.safetensors"):
        got = Detector.from_run(run, checkpoint=run / half, device="cpu")
        assert got.model_.source == plain.model_.source and got.threshold_ == plain.threshold_, half


def test_from_run_of_a_runs_checkpoints_folder_names_the_python_way_to_a_checkpoint(tmp_path) -> None:
    """Detector.from_run(RUN/checkpoints) said "(score RUN --checkpoint FILE scores with one of its checkpoints)",
    the CLI's way, to a Python caller."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text('{"net": {}, "train": {}}')
    with pytest.raises(ConfigError) as got:
        Detector.from_run(run / "checkpoints", device="cpu")
    assert str(got.value) == (f"{run / 'checkpoints'}: a folder inside the run {run.resolve()}, not a run directory: "
                              "give the run's folder (Detector.from_run(RUN, checkpoint=FILE) scores with one of "
                              "its checkpoints)")


@pytest.mark.parametrize("name", ["photo.png", "model.onnx", "det.pkl"])
def test_load_of_a_file_that_is_not_a_saved_detector_names_it(tmp_path, name) -> None:
    """Detector.load('photo.png') said "photo.png.json: checkpoint metadata not found", a file the caller never
    named, as if a saved Detector were there but incomplete."""
    from wildgan.errors import CheckpointError

    (tmp_path / name).write_bytes(b"not a detector")
    with pytest.raises(CheckpointError) as got:
        Detector.load(tmp_path / name)
    assert str(got.value) == (f"{tmp_path / name}: not a saved Detector (Detector.load reads the PATH.json + "
                              f"PATH.safetensors pair that det.save(PATH) writes, and {name}.json is not there)")
