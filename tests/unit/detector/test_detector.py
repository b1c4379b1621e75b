"""wildgan.Detector: the scikit-learn / PyOD estimator contract on a tiny model (one fit shared by the module).

The fitted model is tiny (preset 'tiny', 0.5 kimg at 16x16 on 64 MNIST-sample zeros), so the tests check the
contract (errors, shapes, sign convention, thresholds, persistence, input types), not detection quality.
"""

from __future__ import annotations

import copy
import csv
import gc
import json
import re
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from wildgan.config import DataConfig
from wildgan.data import default_sample_path
from wildgan.data.inputs import input_float_range
from wildgan.detector import (Detector, NotFittedError, read_3d, run_threshold, run_training_scores,
                              threshold_columns, to_images)
from wildgan.errors import CheckpointError, ConfigError, DataError, WildganError, WildganWarning
from wildgan.thresholds import MAD_SCALE

N_TRAIN = 64
TINY = dict(preset="tiny", total_kimg=0.5, phase_kimg=0.1, resolution=16, device="cpu")
# the warning of a fit that ends before full growth: the short fits below (total_kimg 0.05) end at 4x4 on purpose
NOT_GROWN = "training ended at "
# the warning of a short fit on images without labels, naming score='L_r' (test_detector_warning_advice): every fit
# this short gets it
SHORT_FIT = r"fit trained [\d.]+ kimg on images without labels, a short training"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def x_train(mnist) -> np.ndarray:
    return mnist["x_train"][mnist["y_train"] == 0][:N_TRAIN]          # uint8 [64, 28, 28]


@pytest.fixture(scope="module")
def det(x_train, tmp_path_factory) -> Detector:
    run = tmp_path_factory.mktemp("det") / "run"
    return Detector(contamination=0.1, run_dir=str(run), **TINY).fit(x_train)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (16, 28, 28), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------------- contract
def test_init_only_stores_params() -> None:
    d = Detector("search", preset="tiny", contamination=0.2, threshold="mad", score="L_r")
    p = d.get_params()
    assert p["method"] == "search" and p["contamination"] == 0.2 and p["threshold"] == "mad" and p["score"] == "L_r"
    assert not hasattr(d, "threshold_") and not hasattr(d, "decision_scores_") and not hasattr(d, "model_")
    assert d.set_params(mad_k=2.0) is d and d.mad_k == 2.0
    assert "method='search'" in repr(d)
    with pytest.raises(ConfigError, match="invalid parameter"):
        d.set_params(nope=1)
    Detector(method="bogus")  # invalid values are only checked by fit (sklearn convention)
    from sklearn.base import clone

    assert clone(d).get_params() == d.get_params()          # sklearn can clone it (pipelines, grid search)


@pytest.mark.parametrize("call", ["decision_function", "predict", "predict_proba", "score_all", "heatmaps"])
def test_not_fitted_errors(call: str, x_train) -> None:
    d = Detector(**TINY)
    with pytest.raises(NotFittedError) as e:
        getattr(d, call)(x_train[:4])
    assert isinstance(e.value, ValueError) and isinstance(e.value, WildganError)
    assert "not fitted" in str(e.value)
    with pytest.raises(NotFittedError):
        d.save("nowhere")
    with pytest.raises(NotFittedError):
        d.set_threshold("mad")


@pytest.mark.parametrize("kw, match", [({"method": "x"}, "method"), ({"threshold": "x"}, "threshold"),
                                       ({"score": "x"}, "score"), ({"batch_mode": "x"}, "batch_mode"),
                                       ({"contamination": 0.7}, "contamination"),
                                       ({"width": 0}, "width"), ({"width": True}, "width"), ({"width": 8.5}, "width"),
                                       ({"threshold": "f1"}, "validation")])
def test_fit_rejects_bad_params_before_training(kw, match, x_train, tmp_path) -> None:
    with pytest.raises(ConfigError, match=match):
        Detector(**{**TINY, **kw}, run_dir=str(tmp_path / "r")).fit(x_train)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("y_val, match", [([0, 0, 0, 0], "no anomaly"), ([0, 2, 1, 0], "0 .normal. or 1")])
def test_bad_validation_labels_are_refused_before_training(y_val, match, x_train, tmp_path, monkeypatch) -> None:
    import wildgan.training.run as training_run

    from wildgan.errors import DataError

    monkeypatch.setattr(training_run, "train_run", lambda *a, **k: pytest.fail("trained before checking y_val"))
    with pytest.raises(DataError, match=match):
        Detector(**TINY, threshold="f1", run_dir=str(tmp_path / "r")).fit(x_train, X_val=x_train[:4],
                                                                            y_val=np.array(y_val))
    assert not (tmp_path / "r").exists()


def test_fitted_attributes(det: Detector) -> None:
    assert det.decision_scores_.shape == (N_TRAIN,) and det.decision_scores_.dtype == np.float64
    assert isinstance(det.threshold_, float) and det.threshold_rule_.rule == "contamination"
    assert det.threshold_rule_.value == det.threshold_
    assert det.labels_.shape == (N_TRAIN,) and set(np.unique(det.labels_)) <= {0, 1}
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))
    assert det.run_dir_.is_dir() and (det.run_dir_ / "network-final.json").is_file()
    assert (det.run_dir_ / "train_scores.csv").is_file() and (det.run_dir_ / "train_scores-isolated.csv").is_file()
    assert det.resolution_ == 16 and det.channels_ == 1
    assert det.model_.lod == 0 and det.trained_resolution_ == 16           # 0.5 kimg: grown to 16x16 at 0.4


def test_shapes_and_dtypes(det: Detector, mnist) -> None:
    x = mnist["x_test"][:10]
    s, p, pr = det.decision_function(x), det.predict(x), det.predict_proba(x)
    assert s.shape == (10,) and s.dtype == np.float64 and np.isfinite(s).all()
    assert p.shape == (10,) and p.dtype == np.int64 and set(np.unique(p)) <= {0, 1}
    assert pr.shape == (10, 2) and np.allclose(pr.sum(1), 1) and ((pr >= 0) & (pr <= 1)).all()
    np.testing.assert_array_equal(p, (s > det.threshold_).astype(int))
    order = np.argsort(s)
    assert np.all(np.diff(pr[order, 1]) >= 0)            # probability is monotone in the score
    allsc = det.score_all(x)
    assert set(allsc) >= {"a", "L_n", "L_o", "L_r", "A"}
    np.testing.assert_array_equal(allsc["a"], s)


def test_decision_function_runs_the_critic_only_for_the_A_score(det: Detector, mnist, monkeypatch) -> None:
    x = mnist["x_test"][:8]
    D = det.model_.nets.D
    real, calls = D.features, []
    monkeypatch.setattr(D, "features", lambda *a, **k: calls.append(1) or real(*a, **k))
    s = det.decision_function(x)                          # score 'a': E and G only
    assert not calls
    np.testing.assert_array_equal(s, det.score_all(x)["a"])
    assert calls                                          # score_all: every score, A included
    calls.clear()
    other = copy.copy(det).set_params(score="A")
    np.testing.assert_array_equal(other.decision_function(x), det.score_all(x)["A"])
    assert calls


def test_same_image_set_same_scores(det: Detector, x_train) -> None:
    # fixed protocol: the training set scored again gives exactly the training scores
    np.testing.assert_array_equal(det.decision_function(x_train), det.decision_scores_)
    np.testing.assert_array_equal(det.decision_function(x_train[:20]), det.decision_function(x_train[:20]))


def test_isolated_mode_scores_each_image_alone(det: Detector, x_train) -> None:
    iso = copy.copy(det).set_params(batch_mode="isolated")
    full = iso.decision_function(x_train[:9])
    one = np.array([iso.decision_function(x_train[i:i + 1])[0] for i in (0, 4, 8)])
    np.testing.assert_allclose(one, full[[0, 4, 8]], rtol=0, atol=1e-6)


def test_predict_proba_is_the_min_max_of_the_training_scores(det: Detector, mnist, noise) -> None:
    # the tests above hold for any monotone map of each call's own scores: a min-max fitted on the images being scored
    # (not decision_scores_) passed them, and gave the most normal image of any batch p = 0 and its most anomalous 1
    x = np.concatenate([mnist["x_test"][:10], noise[:2]])
    s, t = det.decision_function(x), det.decision_scores_
    want = np.clip((s - t.min()) / (t.max() - t.min()), 0.0, 1.0)
    np.testing.assert_allclose(det.predict_proba(x)[:, 1], want, rtol=0, atol=1e-12)


def test_sign_convention_higher_is_more_anomalous(det: Detector, noise, x_train) -> None:
    # uniform noise is far from every digit: its latent lands near the origin and its residual is large
    s_noise = det.decision_function(noise)
    assert s_noise.mean() > np.percentile(det.decision_scores_, 95)
    assert det.predict(noise).mean() >= 0.9
    assert det.predict_proba(noise)[:, 1].mean() > det.predict_proba(x_train)[:, 1].mean()


# ---------------------------------------------------------------------------------------------------- thresholds
def test_contamination_threshold_hits_expected_fraction(det: Detector) -> None:
    frac = det.labels_.mean()
    assert abs(frac - 0.1) <= 1.0 / N_TRAIN
    d2 = copy.copy(det).set_threshold("contamination", contamination=0.25)
    assert abs(d2.labels_.mean() - 0.25) <= 1.0 / N_TRAIN
    assert det.threshold_rule_.params["contamination"] == 0.1      # the copy did not touch the original


def test_mad_threshold(det: Detector) -> None:
    d2 = copy.copy(det).set_threshold("mad", mad_k=2.0)
    s = det.decision_scores_
    med = np.median(s)
    assert d2.threshold_ == pytest.approx(med + 2.0 * MAD_SCALE * np.median(np.abs(s - med)))
    assert d2.threshold_rule_.rule == "mad" and d2.threshold == "mad" and d2.mad_k == 2.0
    assert d2.labels_.mean() < 0.5


def test_refused_threshold_change_leaves_the_detector_as_it_was(det: Detector) -> None:
    d2 = copy.copy(det)
    before = (d2.get_params(), d2.threshold_, d2.threshold_rule_)
    with pytest.raises(ConfigError, match="contamination"):
        d2.set_threshold("contamination", contamination=0.9)
    assert (d2.get_params(), d2.threshold_, d2.threshold_rule_) == before


def test_a_new_score_lam_or_batch_mode_after_fit_rederives_decision_scores_and_threshold(det: Detector, x_train,
                                                                                        noise, tmp_path) -> None:
    from wildgan.thresholds import fit_threshold

    mixed, isolated = det.score_all(x_train), copy.copy(det).set_params(batch_mode="isolated").score_all(x_train)
    np.testing.assert_array_equal(det.decision_scores_, mixed["a"])        # what the cases below compare with

    def follows(d: Detector, train: np.ndarray, score: str) -> None:
        np.testing.assert_allclose(d.decision_scores_, train, rtol=1e-12, atol=1e-12)
        assert d.threshold_ == pytest.approx(fit_threshold("contamination", train, contamination=0.1).value)
        assert d.threshold_rule_.params["score"] == score
        np.testing.assert_array_equal(d.labels_, (train > d.threshold_).astype(np.int64))
        np.testing.assert_array_equal(d.predict(x_train), d.labels_)       # predict agrees with its threshold

    follows(copy.copy(det).set_params(score="L_n"), mixed["L_n"], "L_n")
    # (a at lam 0.9 as the scoring computes it, in float32: 0.9 * L_n + 0.1 * L_o in float64 is a few 1e-9 off)
    at_09 = copy.copy(det).set_params(lam=0.9)
    np.testing.assert_allclose(at_09.decision_scores_, 0.9 * mixed["L_n"] + 0.1 * mixed["L_o"], rtol=1e-6)
    follows(at_09, at_09.decision_function(x_train), "a")
    follows(copy.copy(det).set_params(batch_mode="isolated"), isolated["a"], "a")
    direct = copy.copy(det)
    direct.score = "L_r"                                # assigned, not set: predict catches up all the same
    direct.predict(x_train[:2])
    follows(direct, mixed["L_r"], "L_r")
    # saved after the change: the file's parameters, scores and threshold describe one another
    path = copy.copy(det).set_params(score="L_n").save(tmp_path / "ln")
    saved = json.loads(path.read_text())
    assert saved["params"]["score"] == "L_n" and np.allclose(saved["decision_scores"], mixed["L_n"])
    # not at hand: a loaded Detector without its run directory; the f1 rule (its validation set): refused, unchanged
    gone = Detector.load(path)
    gone.run_dir_ = None
    with pytest.raises(ConfigError, match="'L_n' -> 'A'.*not at hand"):
        gone.set_params(score="A")
    assert gone.score == "L_n"
    f1 = copy.copy(det).set_threshold("f1", X_val=np.concatenate([x_train[:16], noise]),
                                      y_val=np.r_[np.zeros(16, int), np.ones(len(noise), int)])
    with pytest.raises(ConfigError, match="f1 threshold comes from the validation set"):
        f1.set_params(score="L_n")
    assert f1.score is None and f1.score_ == "a" and f1.threshold_rule_.rule == "f1"
    # a parameter of another rule would change nothing: refused
    with pytest.raises(ConfigError, match=r"contamination belongs to the 'contamination' rule, and the rule is 'mad'"):
        copy.copy(det).set_threshold("mad").set_threshold(contamination=0.2)
    # a refused set_threshold after a directly assigned score leaves a consistent Detector (it re-derives at predict)
    direct = copy.copy(det)
    direct.score = "L_n"
    with pytest.raises(ConfigError, match="contamination"):
        direct.set_threshold(contamination=0.9)
    np.testing.assert_array_equal(direct.decision_scores_, det.decision_scores_)
    assert direct.threshold_ == det.threshold_
    direct.predict(x_train[:2])
    follows(direct, mixed["L_n"], "L_n")
    # a score change refits the *fitted* rule; a new threshold parameter waits for set_threshold (or fit)
    waits = copy.copy(det).set_params(threshold="mad").set_params(score="L_n")
    follows(waits, mixed["L_n"], "L_n")
    assert waits.threshold_rule_.rule == "contamination" and waits.threshold == "mad"
    # a Detector pickled before a parameter existed (read as its default) takes set_params as any other; one pickled
    # before the scoring settings were recorded goes by the score its threshold rule names
    old = copy.copy(det)
    del old.__dict__["pixel_range"]
    follows(old.set_params(score="L_n"), mixed["L_n"], "L_n")
    older = copy.copy(det)
    del older.__dict__["_scoring"]
    follows(older.set_params(score="L_n"), mixed["L_n"], "L_n")
    # a loaded Detector whose run directory still holds its networks reads that run's cache, and leaves it as it was
    cache = {p.name: p.read_bytes() for p in det.run_dir_.glob("train_scores*")}
    loaded = Detector.load(copy.copy(det).save(tmp_path / "a"))
    assert loaded.run_dir_ == det.run_dir_
    follows(loaded.set_params(score="L_r"), mixed["L_r"], "L_r")
    follows(loaded.set_params(batch_mode="isolated", score="a"), isolated["a"], "a")
    # and so does one saved from a loaded one (its networks are still the run's, though its weights file is not
    # byte for byte the run's since the weights' header names their kind)
    again = Detector.load(loaded.set_params(batch_mode="mixed").save(tmp_path / "b"))
    follows(again.set_params(score="L_r"), mixed["L_r"], "L_r")
    assert {p.name: p.read_bytes() for p in det.run_dir_.glob("train_scores*")} == cache
    # a file saved before save() synced (params say L_n, scores and threshold are a's): predict re-derives them
    meta = json.loads(copy.copy(det).save(tmp_path / "old").read_text())
    meta["params"]["score"] = "L_n"
    (tmp_path / "old.json").write_text(json.dumps(meta))
    stale = Detector.load(tmp_path / "old")
    stale.predict(x_train[:2])
    follows(stale, mixed["L_n"], "L_n")
    # numpy integers are taken for threads (and saved as plain JSON numbers)
    assert json.loads(copy.copy(det).set_params(threads=np.int64(1)).save(tmp_path / "t").read_text())["params"][
        "threads"] == 1


def test_a_saved_detector_of_other_scoring_rules_says_so_when_loaded(det: Detector, tmp_path) -> None:
    """A saved Detector keeps its training scores and threshold but recorded no version of the score formulas: after
    a formula changed, its threshold was compared with scores of the new formula without a word. It cannot score its
    training images again (the file holds none), so loading it says so, naming the file and the versions."""
    from wildgan.scoring.scores import SCORES_VERSION

    path = copy.copy(det).save(tmp_path / "d")
    meta = json.loads(path.read_text())
    # version 1 is what a file without the field is read as: left out, so an older wildgan reads it as before
    assert "scores_version" not in meta and SCORES_VERSION == 1
    path.write_text(json.dumps({**meta, "scores_version": SCORES_VERSION - 1}))
    with pytest.warns(WildganWarning, match=re.escape(f"{path}: its training scores and threshold were computed by "
                                                      f"the scoring rules of version {SCORES_VERSION - 1}, and this "
                                                      f"wildgan scores by version {SCORES_VERSION}")):
        Detector.load(path)
    path.write_text(json.dumps({k: v for k, v in meta.items() if k != "scores_version"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # saved before the field: version 1's rules, this wildgan's
        Detector.load(path)


def test_threads_are_used_and_the_callers_setting_restored(det: Detector, x_train, monkeypatch) -> None:
    seen = []
    score = type(det.model_).score

    def spy(self, *a, **kw):
        seen.append(torch.get_num_threads())
        return score(self, *a, **kw)

    monkeypatch.setattr(type(det.model_), "score", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        copy.copy(det).set_params(threads=1).decision_function(x_train[:4])
        assert seen == [1] and torch.get_num_threads() == 2            # used during the call, restored after
        copy.copy(det).set_params(threads=0).decision_function(x_train[:4])
        assert seen == [1, 2]                                           # 0 = the caller's setting, as --threads 0
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="threads"):
        Detector(**TINY, threads=-1).fit(x_train)


def test_fit_refuses_one_image_that_looks_like_a_batch(x_train) -> None:
    """[H, W, 1] / [H, W, 3] given to fit is one image, not H images of W x 1 (a 4x4 model on 1-pixel strips)."""
    for a in (x_train[0][..., None], np.repeat(x_train[0][..., None], 3, axis=-1)):
        with pytest.raises(DataError, match="one image"):
            Detector(**TINY).fit(a)


def _warnings_saying(about: str) -> Callable[[Callable[[], object]], list[str]]:
    """A function that makes the call it is given and returns the messages of the warnings it gave that say `about`
    (each one, also where the same is said again)."""
    def said(call: Callable[[], object]) -> list[str]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            call()
        return [str(w.message) for w in got if about in str(w.message)]
    return said


def test_an_f1_validation_set_of_training_images_is_warned_about(tmp_path) -> None:
    """fit(X_val=, y_val=) chose the f1 threshold on whatever X_val held, its own training images too, whose scores
    (of images the networks saw, which tend to score as normal) bias it: now a warning counts them, from the
    checksums the run keeps (as `evaluate --data` counts a run's training images among its test images); from_run and
    set_threshold say it too. A validation set of other images says nothing."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (24, 16, 16), dtype=np.uint8)
    other = rng.integers(0, 256, (5, 16, 16), dtype=np.uint8)
    y = np.r_[np.ones(3), np.zeros(5)]
    val = np.concatenate([x[:3], other])                         # 3 training images (labelled anomalous) of 8

    said = _warnings_saying("this Detector was trained on")

    run = tmp_path / "det"
    fit = said(lambda: Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                                threshold="f1").fit(x, X_val=val, y_val=y))
    assert fit == ["X_val: 3 of its 8 images (0 normal, 3 anomalous) are images this Detector was trained on (the same "
                   "pixels): their scores are of images the networks saw, which tend to score as normal, so the f1 "
                   "threshold chosen on them is not that of new images; choose it on images the Detector did not "
                   "train on"], fit
    assert len(said(lambda: Detector.from_run(run, device="cpu", threshold="f1", X_val=x[:8], y_val=y))) == 1
    back = Detector.from_run(run, device="cpu", threshold="contamination")
    assert said(lambda: back.set_threshold("f1", X_val=np.concatenate([other, other[:3]]), y_val=y)) == []


def test_an_f1_validation_set_given_as_a_folder_or_a_tar_archive_is_checked_for_training_images(tmp_path) -> None:
    """X_val given as a folder of image files or a tar archive of them (read and scored in chunks, not held at once)
    was not checked for the Detector's own training images at all: only arrays were. They are now counted by the
    checksums of their images as they are scored (score_files(hashes=True)), as arrays are, by fit, set_threshold and
    from_run alike; a folder of other images says nothing."""
    import tarfile

    from PIL import Image

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (24, 16, 16), dtype=np.uint8)
    other = rng.integers(0, 256, (6, 16, 16), dtype=np.uint8)

    def folder(name: str, images: np.ndarray) -> Path:
        where = tmp_path / name
        where.mkdir()
        for i, im in enumerate(images):
            Image.fromarray(im).save(where / f"{i:02d}.png")          # (read back in this order: the labels' one)
        return where

    said = _warnings_saying("this Detector was trained on")

    # 3 training images of 8, one labelled normal and two anomalous
    val = folder("val", np.concatenate([x[:1], other[:5], x[10:12]]))
    y = np.r_[0, np.zeros(5), 1, 1]
    run = tmp_path / "det"
    fit = said(lambda: Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                                threshold="f1").fit(x, X_val=val, y_val=y))
    assert len(fit) == 1 and fit[0].startswith("X_val: 3 of its 8 images (1 normal, 2 anomalous) are images this "
                                               "Detector was trained on (the same pixels)"), fit
    # a tar archive of image files: 2 of 6, both anomalous
    val2 = folder("val2", np.concatenate([other[:4], x[5:7]]))
    with tarfile.open(tmp_path / "val.tar.gz", "w:gz") as tf:
        tf.add(val2, arcname="val")
    y2 = np.r_[np.zeros(4), 1, 1]
    back = Detector.from_run(run, device="cpu", threshold="contamination")
    got = said(lambda: back.set_threshold("f1", X_val=tmp_path / "val.tar.gz", y_val=y2))
    assert len(got) == 1 and got[0].startswith("X_val: 2 of its 6 images (0 normal, 2 anomalous) are images"), got
    assert len(said(lambda: Detector.from_run(run, device="cpu", threshold="f1", X_val=val, y_val=y))) == 1
    # none of them: nothing said
    assert said(lambda: back.set_threshold("f1", X_val=folder("new", other), y_val=np.r_[np.zeros(4), 1, 1])) == []


def test_an_f1_validation_set_not_checked_for_training_images_says_so_once(tmp_path) -> None:
    """A run without train_hashes.npz (trained before it was kept, or the file removed): fit, from_run and
    set_threshold chose the f1 threshold on X_val without a word that it was not checked for the Detector's own
    training images, where `wildgan evaluate` (and evaluate_run) says a note that its data was not checked. Now the
    API says that note too, once per call, with why; a run that keeps its checksums says nothing."""
    from wildgan.data.splits import TRAIN_HASHES_FILE

    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (24, 16, 16), dtype=np.uint8)
    val = rng.integers(0, 256, (8, 16, 16), dtype=np.uint8)
    y = np.r_[np.ones(3), np.zeros(5)]

    notes = _warnings_saying("not checked")

    run = tmp_path / "det"
    assert notes(lambda: Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                                  threshold="f1").fit(x, X_val=val, y_val=y)) == []
    back = Detector.from_run(run, device="cpu", threshold="contamination")
    assert notes(lambda: back.set_threshold("f1", X_val=val, y_val=y)) == []
    (run / TRAIN_HASHES_FILE).unlink()
    # (images given in memory: not rebuilt, as `wildgan evaluate` says it, evaluation.run.rebuilt_train_hashes)
    # (worded as the warnings beside it, _warn_val_trained_on's: no 'note:' of the CLI's log lines before it)
    want = f"X_val: not checked for images this Detector was trained on (its run {run}: it keeps no " \
           f"{TRAIN_HASHES_FILE}, and Detector.fit's images given in memory or as a list of files cannot be read " \
           f"again): any among them score as images the networks saw, and bias the f1 threshold chosen on them"
    assert notes(lambda: back.set_threshold("f1", X_val=val, y_val=y)) == [want]
    assert notes(lambda: Detector.from_run(run, device="cpu", threshold="f1", X_val=val, y_val=y)) == [want]
    # (not said where X_val is not used: another rule ignores it, with its own warning)
    assert notes(lambda: back.set_threshold("contamination")) == []
    (run / TRAIN_HASHES_FILE).write_bytes(b"not an npz")
    said = notes(lambda: back.set_threshold("f1", X_val=val, y_val=y))
    assert len(said) == 1 and f"(its run {run}: its {TRAIN_HASHES_FILE} cannot be read (damaged), and " in said[0], said
    back.run_dir_ = None                       # (as Detector.load leaves it where the run folder is gone)
    said = notes(lambda: back.set_threshold("f1", X_val=val, y_val=y))
    assert len(said) == 1 and "(it has no run folder here, which keeps their checksums)" in said[0], said


def test_a_run_on_array_data_without_train_hashes_has_them_rebuilt_and_x_val_checked(tmp_path) -> None:
    """A Detector whose run keeps no train_hashes.npz said 'not checked' for X_val where `wildgan evaluate` rebuilds
    the run's training images (cheap for an array data set: one read, no file decoded), checks its data and keeps
    the file for next time (evaluation.run.rebuilt_train_hashes). The API now does the same, with the same
    function: an .npz run's X_val holding its training images is warned of, counted, and the file is written again."""
    from wildgan.config import read_run_config
    from wildgan.data.splits import TRAIN_HASHES_FILE
    from wildgan.evaluation.run import rebuilt_train_hashes
    from wildgan.scoring.run import read_split_info

    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (24, 16, 16), dtype=np.uint8)
    np.savez(tmp_path / "train.npz", x=x)
    # 3 of its training images (one normal, two anomalous) among 8
    val = np.concatenate([x[:1], rng.integers(0, 256, (5, 16, 16), dtype=np.uint8), x[10:12]])
    y = np.r_[0, np.zeros(5), 1, 1]

    said = _warnings_saying("this Detector was trained on")

    run = tmp_path / "det"
    Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run)).fit(
        tmp_path / "train.npz")
    (run / TRAIN_HASHES_FILE).unlink()
    back = Detector.from_run(run, device="cpu", threshold="contamination")
    got = said(lambda: back.set_threshold("f1", X_val=val, y_val=y))
    assert len(got) == 1 and got[0].startswith("X_val: 3 of its 8 images (1 normal, 2 anomalous) are images this "
                                               "Detector was trained on (the same pixels)"), got
    assert (run / TRAIN_HASHES_FILE).is_file()          # (kept for next time: read, not rebuilt, from now on)
    assert len(said(lambda: Detector.from_run(run, device="cpu", threshold="f1", X_val=val, y_val=y))) == 1
    # evaluate's rebuild of such a run (a Detector.fit's split.json records no format: it was taken for image files
    # to decode again, more than the images scored)
    (run / TRAIN_HASHES_FILE).unlink()
    hashes, why = rebuilt_train_hashes(run, read_run_config(run), read_split_info(run), n_scored=0)
    assert why == "" and hashes is not None and len(hashes) == len(x) and (run / TRAIN_HASHES_FILE).is_file()


def test_f1_threshold_from_validation_set(det: Detector, x_train, noise) -> None:
    xv = np.concatenate([x_train[:16], noise])
    yv = np.r_[np.zeros(16, int), np.ones(len(noise), int)]
    d2 = copy.copy(det).set_threshold("f1", X_val=xv, y_val=yv)
    assert d2.threshold_rule_.rule == "f1" and d2.threshold_rule_.params["f1"] > 0.9
    with pytest.raises(ConfigError, match="validation"):
        copy.copy(det).set_threshold("f1")


# ---------------------------------------------------------------------------------------------------- inputs
def test_input_types_give_the_same_scores(det: Detector, x_train, tmp_path, monkeypatch) -> None:
    from PIL import Image

    x = x_train[:8]
    ref = det.decision_function(x)
    paths = []
    for i, a in enumerate(x):
        p = tmp_path / "imgs" / f"{i:02d}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(a).save(p)
        paths.append(p)
    import tarfile

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    np.savez(tmp_path / "x.npz", x_train=x[:5], y_train=np.zeros(5, np.int64), x_test=x[5:],
             y_test=np.zeros(3, np.int64))
    with tarfile.open(tmp_path / "imgs.tar.gz", "w:gz") as tf:
        tf.add(tmp_path / "imgs", arcname="imgs")
    variants = {
        "npz (train + test parts)": tmp_path / "x.npz",
        "tar.gz of images": str(tmp_path / "imgs.tar.gz"),
        "NHWC": x[..., None],
        "float01": x.astype(np.float32) / 255.0,
        "float-1..1": x.astype(np.float32) * (2 / 255) - 1,
        "torch u8 NCHW": torch.from_numpy(x[:, None].copy()),
        "torch float NCHW": torch.from_numpy(x[:, None].astype(np.float32) / 255.0),
        # bf16 has no numpy dtype (GPU pipelines make it); 0..255 integers are exact in it
        "torch bf16 NCHW": torch.from_numpy(x[:, None].astype(np.float32)).to(torch.bfloat16),
        "RGB": np.repeat(x[..., None], 3, axis=-1),
        "PIL list": [Image.fromarray(a) for a in x],
        "path list": [str(p) for p in paths],
        "folder": tmp_path / "imgs",
        "array list": list(x),
    }
    for name, v in variants.items():
        np.testing.assert_array_equal(det.decision_function(v), ref, err_msg=name)


class _UserTensor(torch.Tensor):
    """A torch.Tensor subclass defined outside torch, as a user's own (its __module__ is this test module's)."""


def test_tensor_subclasses_are_read_as_tensors(det: Detector, x_train, recwarn) -> None:
    """Any torch.Tensor subclass is read as the tensor it is: one defined outside torch was told apart by its module
    name ('unsupported image input of type _UserTensor', 'image 0: a _UserTensor is not an image'), and in a list
    reached np.asarray, which refuses a tensor that requires grad or is bf16 (torch's bare RuntimeError)."""
    x = x_train[:8]
    ref = det.decision_function(x)
    t = torch.from_numpy(x[:, None].astype(np.float32) / 255.0)            # NCHW floats in [0, 1]
    variants = {
        "nn.Parameter": torch.nn.Parameter(t),
        "user subclass": t.as_subclass(_UserTensor),
        "user subclass, requires grad": t.clone().requires_grad_().as_subclass(_UserTensor),
        "user subclass, bf16": (t * 255).to(torch.bfloat16).as_subclass(_UserTensor),
        "list of user subclasses": list(t.clone().requires_grad_().as_subclass(_UserTensor)),
    }
    for name, v in variants.items():
        np.testing.assert_array_equal(det.decision_function(v), ref, err_msg=name)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]).as_subclass(_UserTensor)
    f1 = copy.copy(det).set_threshold("f1", X_val=t.as_subclass(_UserTensor), y_val=y)
    assert f1.threshold_rule_.rule == "f1"
    # training images too, the same images as the plain array gives
    d = Detector(**{**TINY, "total_kimg": 0.05}).fit(torch.from_numpy(x_train[:16].copy()).as_subclass(_UserTensor))
    assert d.n_train_ == 16 and d.image_shape_ == (28, 28, 1)


def test_a_tar_of_mixed_sizes_is_read_like_the_folder(tmp_path, monkeypatch) -> None:
    """A .tar.gz of images of different sizes gives the Detector the same images as the unpacked folder: its
    resize_mode (here letterbox: an edge defect survives) and resolution apply to the originals."""
    import tarfile

    from PIL import Image

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "imgs"
    d.mkdir()
    wide = np.zeros((20, 40), np.uint8)
    wide[:, 36:] = 255                                         # the defect at the long edge
    Image.fromarray(wide).save(d / "a-wide.png")
    for i in range(3):
        Image.fromarray(np.full((16, 16), 60, np.uint8)).save(d / f"b{i}.png")
    with tarfile.open(tmp_path / "imgs.tar.gz", "w:gz") as tf:
        tf.add(d, arcname="imgs")
    for mode in ("resize", "letterbox"):
        a, _ = to_images(d, 16, 1, resize_mode=mode)
        b, _ = to_images(tmp_path / "imgs.tar.gz", 16, 1, resize_mode=mode)
        np.testing.assert_array_equal(a, b)
        assert (a[0].max() == 255) == (mode == "letterbox")


def test_a_letterbox_detector_run_is_evaluated_with_letterbox(x_train, tmp_path) -> None:
    """The run records its resize_mode: evaluate --data converts labelled data like the training images."""
    from wildgan.evaluation.run import split_for_run

    run = tmp_path / "lb"
    Detector(**{**TINY, "total_kimg": 0.05}, resize_mode="letterbox", run_dir=str(run)).fit(x_train[:16])
    assert json.loads((run / "config.json").read_text())["data"]["fit"] == "letterbox"
    np.savez(tmp_path / "wide.npz", x=np.zeros((4, 20, 40), np.uint8), y=np.array([0, 0, 1, 1]))
    split = split_for_run(run, str(tmp_path / "wide.npz"), normal=("0",))
    assert split.info["conversion"]["fit"] == "letterbox" and split.info["test_size"] == "whole"


def test_fit_skip_bad_leaves_corrupt_files_out(x_train, tmp_path) -> None:
    from PIL import Image

    folder = tmp_path / "pile"
    folder.mkdir()
    for i, a in enumerate(x_train[:24]):
        Image.fromarray(a).save(folder / f"{i:02d}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png"):       # before any training
        Detector(**TINY, run_dir=str(tmp_path / "r0")).fit(folder)
    with pytest.warns(UserWarning, match="broken.png"):
        d = Detector(**{**TINY, "total_kimg": 0.1}, skip_bad=True, run_dir=str(tmp_path / "r1")).fit(folder)
    assert d.n_train_ == 24 and len(d.decision_scores_) == 24
    with pytest.raises(DataError, match="broken.png"):       # scoring stays aligned with its input: no skipping
        d.decision_function(folder)


def test_single_image_arrays_give_one_score(det: Detector, x_train) -> None:
    """One image as [H, W], [H, W, C] or [C, H, W] (numpy or torch) scores like the batch of that one image."""
    ref = det.decision_function(x_train[:1])
    one = x_train[0]                                                  # [28, 28], the training images' shape
    variants = {
        "HW": one, "HW1": one[..., None], "1HW": one[None], "HW3": np.repeat(one[..., None], 3, axis=-1),
        "torch HW": torch.from_numpy(one.copy()), "torch CHW": torch.from_numpy(one[None].copy()),
        "float HW1": one[..., None].astype(np.float32) / 255.0,
        "HW at the network resolution": to_images(one[None], 16, 1, resize_mode="resize")[0][0],   # [16, 16, 1]
    }
    for name, v in variants.items():
        s = det.decision_function(v)
        assert s.shape == (1,), name
        if name != "HW at the network resolution":
            np.testing.assert_array_equal(s, ref, err_msg=name)
    assert det.predict(one[..., None]).shape == (1,) and det.predict_proba(one[..., None]).shape == (1, 2)
    assert det.score_all(one)["a"].shape == (1,)
    # batches stay batches, also when N is 1 or 3 or the images have another size
    assert det.decision_function(x_train[:3]).shape == (3,)
    assert det.decision_function(x_train[:28]).shape == (28,)
    assert det.decision_function(np.zeros((5, 20, 20), np.uint8)).shape == (5,)


@pytest.mark.parametrize("shape", [(20, 20, 1), (28, 20, 3), (30, 28, 1)])
def test_ambiguous_3d_array_not_matching_the_model_raises(det: Detector, shape) -> None:
    # e.g. [20, 20, 1]: 20 images of 20 x 1, or one 20 x 20 image, and the model knows 28 x 28 (and 16 x 16) images
    with pytest.raises(DataError, match=re.escape(f"ambiguous image array shape {shape}")):
        det.decision_function(np.zeros(shape, np.uint8))
    with pytest.raises(DataError, match="ambiguous"):
        det.predict(np.zeros(shape, np.uint8))
    assert det.decision_function(np.zeros(shape, np.uint8)[None]).shape == (1,)   # explicit batch axis: fine


def test_read_3d_rules() -> None:
    gray, rgb = [(28, 28, 1), (16, 16, 1)], [(32, 32, 3)]
    assert read_3d((28, 28, 1), gray) == "hwc" and read_3d((28, 28, 3), gray) == "hwc"
    assert read_3d((16, 16, 1), gray) == "hwc" and read_3d((1, 28, 28), gray) == "chw"
    assert read_3d((3, 28, 28), gray) == "batch" and read_3d((10, 20, 20), gray) == "batch"
    with pytest.warns(UserWarning, match=r"\(3, 32, 32\) is read as one colour image .* \[3, 32, 32, 1\]"):
        assert read_3d((3, 32, 32), rgb) == "chw"      # or 3 gray images of the model's size: said
    assert read_3d((7, 32, 32), rgb) == "batch"
    with pytest.raises(DataError, match=r"\(3, 20, 20\)"):
        read_3d((3, 20, 20), rgb)       # 3 gray images or one RGB image, neither of the model's size
    assert read_3d((3, 20, 20), gray) == "batch"
    x, _ = to_images(np.zeros((5, 28, 28), np.uint8))   # no fitted shape: a 3-D array is a batch [N, H, W] ...
    assert len(x) == 5
    with pytest.raises(DataError, match="looks like one image"):   # ... unless it is plainly one [H, W, 1 or 3]
        to_images(np.zeros((28, 28, 1), np.uint8))


def test_single_image_shape_survives_save_load_and_from_run(det: Detector, x_train, tmp_path) -> None:
    ref = det.decision_function(x_train[:1])
    back = Detector.load(det.save(tmp_path / "m"))
    assert back.image_shape_ == det.image_shape_ == (28, 28, 1)
    np.testing.assert_array_equal(back.decision_function(x_train[0][..., None]), ref)
    run = Detector.from_run(det.run_dir_, contamination=0.1, device="cpu")
    assert run.image_shape_ == (28, 28, 1)
    np.testing.assert_array_equal(run.decision_function(x_train[0][..., None]), ref)


def _temp_runs(d: Path) -> list[Path]:
    return sorted(d.glob("wildgan-detector-*"))


def test_failed_fit_removes_its_temporary_run_dir(x_train, tmp_path, monkeypatch) -> None:
    import wildgan.detector as detector_mod
    import wildgan.training.run as training_run

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tiny = {**TINY, "total_kimg": 0.05}

    def boom(*a, **k):
        raise RuntimeError("training failed")

    with monkeypatch.context() as m:
        m.setattr(training_run, "train_run", boom)
        with pytest.raises(RuntimeError, match="training failed"):
            Detector(**tiny).fit(x_train[:16])
    assert _temp_runs(tmp_path) == []
    with monkeypatch.context() as m:                  # a failure after training: unfitted, but the trained run is kept
        m.setattr(detector_mod, "write_train_scores", boom)
        d = Detector(**tiny)
        with pytest.raises(RuntimeError, match="training failed"), \
                pytest.warns(UserWarning, match=r"fit failed after training .RuntimeError.; the trained networks "
                                                r"are kept in .*: score_files\(load_model\('.*'\), \[IMAGES\]\) "
                                                r"\(wildgan.scoring.run\), or `wildgan score "):
            d.fit(x_train[:16])
    kept = _temp_runs(tmp_path)
    assert len(kept) == 1 and (kept[0] / "network-final.json").is_file()
    del d
    import gc

    gc.collect()
    assert _temp_runs(tmp_path) == kept               # not removed with the Detector either: the user's to delete
    from PIL import Image

    from wildgan.scoring.run import load_model, score_files  # and usable as the warning says

    model = load_model(kept[0], "cpu")
    r, c = model.cfg.net.resolution, model.cfg.net.channels
    assert len(model.score(np.zeros((8, r, r, c), np.uint8)).scores["a"]) == 8
    for i in range(4):                                # (a score batch's group: no warning about a lone image)
        Image.fromarray(x_train[i]).save(tmp_path / f"{i}.png")
    assert len(score_files(load_model(kept[0]), sorted(tmp_path.glob("?.png"))).scores["a"]) == 4
    import shutil

    shutil.rmtree(kept[0])
    d = Detector(**tiny)
    with monkeypatch.context() as m:
        m.setattr(training_run, "train_run", boom)
        with pytest.raises(RuntimeError):
            d.fit(x_train[:16])
    assert not hasattr(d, "model_") and not hasattr(d, "run_dir_")
    with pytest.raises(NotFittedError):
        d.predict(x_train[:2])
    own = tmp_path / "own"                           # a run_dir the user chose is theirs: kept
    with monkeypatch.context() as m:
        m.setattr(detector_mod, "write_train_scores", boom)
        with pytest.raises(RuntimeError):
            Detector(**tiny, run_dir=str(own)).fit(x_train[:16])
    assert (own / "log.txt").is_file()


def test_a_marker_that_cannot_be_written_keeps_the_finished_training(x_train, tmp_path, monkeypatch) -> None:
    """DETECTOR.txt is written by train_run's before_unlock; its failure (a full disk) was raised from inside
    train_run, as if training had failed, and the temporary run with its finished networks was deleted."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real_write = Path.write_text

    def write_text(self, *a, **k):
        if self.name == "DETECTOR.txt":
            raise OSError(28, "No space left on device", str(self))
        return real_write(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    d = Detector(**{**TINY, "total_kimg": 0.05})
    with pytest.raises(OSError, match="No space left"), \
            pytest.warns(UserWarning, match="fit failed after training .OSError.; the trained networks are kept"):
        d.fit(x_train[:16])
    kept = _temp_runs(tmp_path)
    assert len(kept) == 1 and (kept[0] / "network-final.json").is_file() and not hasattr(d, "model_")
    import shutil

    shutil.rmtree(kept[0])


def test_temporary_run_dir_lives_as_long_as_the_detector(x_train, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    d = Detector(**{**TINY, "total_kimg": 0.05}).fit(x_train[:16])
    run = d.run_dir_
    assert run.parent == tmp_path / "tmp" and (run / "network-final.json").is_file()
    s = d.decision_function(x_train[:4])
    c = copy.deepcopy(d)
    del d
    gc.collect()
    assert run.is_dir()                              # a copy still uses it
    np.testing.assert_array_equal(c.decision_function(x_train[:4]), s)
    saved = c.save(tmp_path / "m")                   # the networks are in memory: save needs no run directory
    c.fit(x_train[:16])                              # a new fit gets a new directory; the old one goes
    gc.collect()
    assert not run.exists() and _temp_runs(tmp_path / "tmp") == [c.run_dir_]
    del c
    gc.collect()
    assert _temp_runs(tmp_path / "tmp") == []
    back = Detector.load(saved)
    np.testing.assert_array_equal(back.decision_function(x_train[:4]), s)
    assert back.run_dir_ is None                     # its temporary run directory is gone: no dangling path
    again = back.save(tmp_path / "m2")               # and a loaded Detector saves again
    assert Detector.load(again).run_dir_ is None


def test_zero_one_floats_given_to_a_detector_fitted_on_0_255_floats_are_warned_about(x_train, tmp_path) -> None:
    # read in the learned [0, 255] they are black images (at most 1 of 255): scored so without a word before
    import wildgan

    d = Detector(**{**TINY, "total_kimg": 0.05}, run_dir=str(tmp_path / "r")).fit(x_train[:16].astype(np.float32))
    assert d.pixel_range_ == "[0,255]"
    with pytest.warns(wildgan.WildganWarning, match=r"none of these 16 float images has a value above 1, yet this "
                                                    r"Detector reads floats as \[0, 255\].*pass them as x \* 255"):
        d.decision_function(x_train[:16].astype(np.float32) / 255)
    with warnings.catch_warnings():
        warnings.simplefilter("error", wildgan.WildganWarning)
        d.decision_function(x_train[16:32].astype(np.float32))        # [0, 255] floats: as learned, nothing said
        d.decision_function(np.full((4, 28, 28), 0.5, np.float32))     # four near-black images: too few to tell


def test_float_pixel_range_is_learned_at_fit_and_kept(x_train, tmp_path) -> None:
    # a [-1, 1] data set with a bright image: alone (no negative value) a per-call guess would read it as [0, 1]
    floats = x_train[:16].astype(np.float32) / 127.5 - 1.0
    bright = np.clip(floats[3], 0.1, 1.0)
    d = Detector(**{**TINY, "total_kimg": 0.05}, batch_mode="isolated", run_dir=str(tmp_path / "r")).fit(floats)
    assert d.pixel_range_ == "[-1,1]"
    u8 = np.rint((bright.astype(np.float64) + 1) * 127.5).astype(np.uint8)
    alone, together = d.decision_function(bright[None]), d.decision_function(np.stack([bright, floats[0]]))[0]
    assert alone[0] == pytest.approx(together, abs=1e-6)                 # (before: -0.43 against -0.08)
    assert alone[0] == d.decision_function(u8[None])[0]
    # kept by save/load and from_run (split.json records it), and values outside it are refused by name
    for back in (Detector.load(d.save(tmp_path / "m")), Detector.from_run(d.run_dir_, device="cpu",
                                                                         batch_mode="isolated")):
        assert back.pixel_range_ == "[-1,1]" and back.decision_function(bright[None])[0] == alone[0]
    with pytest.raises(DataError, match=r"outside \[-1, 1\]"):
        d.decision_function(floats[:2] * 100)
    # many [0, 1] floats given to it (none negative): read as [-1, 1] as told, but said (one bright image is not)
    with pytest.warns(UserWarning, match="none of these 16 float images has a negative value"):
        d.decision_function(x_train[:16].astype(np.float32) / 255)
    import warnings

    import wildgan

    with warnings.catch_warnings():
        warnings.simplefilter("error", wildgan.WildganWarning)
        d.decision_function(np.abs(floats[0]))            # one [28, 28] image: its 28 rows are not 28 images
    # an explicit range wins, and is checked like a learned one
    d255 = Detector(**{**TINY, "total_kimg": 0.05}, pixel_range="[0,255]", run_dir=str(tmp_path / "r2"))
    d255.fit(x_train[:16].astype(np.float32))
    dark = np.full((1, 28, 28), 0.6, np.float32)              # a near-black [0, 255] image, not a grey [0, 1] one
    assert d255.pixel_range_ == "[0,255]"
    assert d255.decision_function(dark)[0] == d255.decision_function(np.ones((1, 28, 28), np.uint8))[0]
    with pytest.raises(ConfigError, match="pixel_range"):
        Detector(**TINY, pixel_range="0-1").fit(x_train[:16])
    # ... and a folder of image files is still scored (the range is a float-array matter, not a file reader's)
    folder = tmp_path / "pngs"
    folder.mkdir()
    from PIL import Image

    for i in range(5):
        Image.fromarray(x_train[i]).save(folder / f"{i}.png")
    assert np.isfinite(d.decision_function(folder)).all() and len(d.decision_function(folder)) == 5


def test_a_detector_fitted_on_integers_guesses_float_ranges_per_call(det: Detector, x_train) -> None:
    assert det.pixel_range_ is None
    u8 = x_train[:4]
    as_unit, as_sym = u8.astype(np.float32) / 255, u8.astype(np.float32) / 127.5 - 1
    np.testing.assert_array_equal(det.decision_function(as_unit), det.decision_function(u8))
    np.testing.assert_array_equal(det.decision_function(as_sym), det.decision_function(u8))
    # [0, 1] floats that overshoot 1 a little (a bicubic resize) would be read as [0, 255]: nearly black, so said
    over = as_unit.copy()
    over[0, 0, 0] = 1.001
    with pytest.warns(UserWarning, match=r"\[0, 1.001\] are read as \[0, 255\].*nearly black.*np.clip"):
        det.decision_function(over)
    # a Detector pickled before pixel_range existed still works (read as 'auto')
    import copy

    old = copy.copy(det)
    del old.__dict__["pixel_range"]
    assert old.get_params()["pixel_range"] == "auto" and old.pixel_range_ is None
    # a pixel_range set on the fitted Detector reads the floats of later calls at once (as set_params says): [0, 255]
    # floats, which 'auto' would read per call as [0, 1] where they all lie below 1.001, read on the 0..255 scale
    dark = x_train[:4] // 255                                  # (values 0 and 1 only, as uint8)
    assert dark.max() == 1
    thr = det.threshold_
    new = copy.copy(det).set_params(pixel_range="[0,255]")
    assert new.pixel_range_ == "[0,255]" and new.threshold_ == thr
    np.testing.assert_array_equal(new.decision_function(dark.astype(np.float32)), det.decision_function(dark))



def test_a_detector_pickled_before_pixel_range_existed_fits_again(det: Detector, x_train, tmp_path) -> None:
    """Every other use of such a Detector reads the missing parameter as its default ('auto'); a refit did not (an
    AttributeError once the images were decoded)."""
    import copy

    old = copy.copy(det)
    del old.__dict__["pixel_range"]
    old.set_params(total_kimg=0.05, run_dir=str(tmp_path / "refit"))
    with pytest.warns(UserWarning, match=NOT_GROWN):
        old.fit(x_train[:16].astype(np.float32) / 255)
    assert old.pixel_range_ == "[0,1]"        # guessed from the training floats, as 'auto' does

def test_float_range_is_guessed_over_an_object_array_s_and_nested_lists_images() -> None:
    # a [-1, 1] set with one bright image (no negative value): as a list of arrays the guess is over all of them, so
    # the bright image is read as [-1, 1]; an object array of them (images of different sizes kept in one array) and
    # images given as nested lists were each guessed alone, the bright one read as [0, 1], in silence
    rng = np.random.default_rng(0)
    imgs = [rng.uniform(-1, 1, (8, 8)).astype(np.float32) for _ in range(3)]
    imgs.append(rng.uniform(0.2, 0.9, (8, 8)).astype(np.float32))
    want = np.rint((imgs[3].astype(np.float64) + 1.0) * 127.5).astype(np.uint8)
    as_object = np.empty(len(imgs), dtype=object)
    as_object[:] = imgs
    for name, X in (("list", imgs), ("object array", as_object), ("nested lists", [a.tolist() for a in imgs]),
                    ("tuple of nested lists", tuple(a.tolist() for a in imgs))):
        assert input_float_range(X) == "[-1,1]", name
        x, _ = to_images(X, 8, 1)
        np.testing.assert_array_equal(x[3, ..., 0], want, err_msg=name)


def _count_list_reads(monkeypatch) -> list[str]:
    """The names data.inputs.to_numpy is called with for nested lists, appended as it runs."""
    from wildgan.data import inputs

    read: list[str] = []
    to_numpy = inputs.to_numpy

    def counted(a, what="images"):
        if isinstance(a, (list, tuple)):
            read.append(what)
        return to_numpy(a, what)
    monkeypatch.setattr(inputs, "to_numpy", counted)
    return read


def test_images_given_as_nested_lists_are_read_once(monkeypatch) -> None:
    # (read for the float range, then again as each image: a list of nested-list images took twice as long)
    read = _count_list_reads(monkeypatch)
    imgs = [np.random.default_rng(i).random((8, 8)).tolist() for i in range(3)]
    x, _ = to_images(imgs, 8, 1)
    assert x.shape == (3, 8, 8, 1) and read == ["image 0", "image 1", "image 2"]


def test_a_detector_reads_images_given_as_nested_lists_once(x_train, monkeypatch, recwarn) -> None:
    """fit read X's nested lists twice (its float range, then its images), X_val's twice (the check before training,
    then the read after it) and decision_function twice where it warns about [0, 1] floats (to_images, then the
    float range for the warning): each list is now read once, and to the same scores as the arrays it holds, but for
    X_val's, read for the check before training and again after it: its converted copy (int64 / float64, ~8x the
    images) is not held through the training. X_val's count is now known before training too (nested lists had none:
    y_val's count was checked after it)."""
    read = _count_list_reads(monkeypatch)
    x = x_train[:16].astype(np.float32) * (2 / 255) - 1                    # [-1, 1] floats
    d = Detector(**{**TINY, "total_kimg": 0.05}, threshold="f1").fit([a.tolist() for a in x],
                                                                       X_val=[a.tolist() for a in x[:4]],
                                                                       y_val=[0, 1, 0, 1])
    # (X_val checked first, X read, then X_val read by the f1 threshold)
    assert read == [f"X_val[{i}]" for i in range(4)] + [f"image {i}" for i in range(16)] + \
        [f"image {i}" for i in range(4)]
    assert d.pixel_range_ == "[-1,1]"
    read.clear()
    bright = list(x_train[:8].astype(np.float32) / 255)                   # [0, 1] floats: warned about
    with pytest.warns(WildganWarning, match="none of these 8 float images has a negative value"):
        s = d.decision_function([a.tolist() for a in bright])
    assert read == [f"image {i}" for i in range(8)]
    np.testing.assert_array_equal(s, d.decision_function(bright))
    from wildgan.training import run as training_run

    monkeypatch.setattr(training_run, "train_run", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(DataError, match=r"^y_val: 3 labels for X_val, which holds 4 image\(s\)"):
        Detector(**TINY, threshold="f1").fit(x_train[:16], X_val=[a.tolist() for a in x_train[:4]], y_val=[0, 1, 0])


def test_to_images_rules() -> None:
    with pytest.warns(UserWarning) as seen:
        x, ids = to_images([np.zeros((20, 30), np.uint8), np.full((40, 40, 3), (255, 0, 0), np.uint8),
                            np.ones((20, 30), np.uint8)])
    assert x.shape == (3, 32, 32, 3) and x.dtype == np.uint8 and ids == ["image:0", "image:1", "image:2"]
    said = " ".join(str(w.message) for w in seen)
    assert "different sizes" in said and "2 of the 3 images are gray and 1 colour" in said
    assert "colour, e.g.: image:1" in said, said           # (the one that decided RGB, named)
    # each warning points at the caller's line (here), not at a line inside the package
    assert {w.filename for w in seen} == {__file__}
    # a few gray images among colour ones lose nothing made RGB: nothing said (a warning that always fires is skipped)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, _ = to_images([rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(9)]
                         + [np.ones((8, 8), np.uint8)])
    assert x.shape == (10, 8, 8, 3)
    # the CLI's rule: one outsized image does not set the resolution of all (median short side, not the largest)
    with pytest.warns(UserWarning, match="median short side"):
        x, _ = to_images([np.zeros((28, 28), np.uint8)] * 5 + [np.zeros((224, 224), np.uint8)])
    assert x.shape == (6, 32, 32, 1)
    # images of different sizes kept in one object array: read as the list they are
    imgs = [np.zeros((20, 30), np.uint8), np.full((40, 40, 3), 255, np.uint8)]
    as_object = np.empty(2, dtype=object)
    as_object[:] = imgs
    with pytest.warns(UserWarning):
        y, ids = to_images(as_object)
        x, _ = to_images(imgs)
    np.testing.assert_array_equal(x, y)
    assert ids == ["image:0", "image:1"]
    x, _ = to_images(np.zeros((3, 28, 28), np.uint8))
    assert x.shape == (3, 32, 32, 1)
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        to_images(np.full((2, 8, 8), -2.0))
    with pytest.raises(DataError, match="unsupported image input"):
        to_images(42)
    with pytest.raises(DataError, match="no such file"):
        to_images("/nonexistent/folder")
    # a list item that is not an image (a None left by a failed load, a number): named by its index and type
    for item, kind in ((None, "NoneType"), (3, "int"), ({"x": 1}, "dict"), (np.float32(1), "float32")):
        with pytest.raises(DataError, match=rf"image 1: a {kind} is not an image: a list holds PIL images, file paths "
                                            r"or single-image arrays"):
            to_images([np.zeros((8, 8), np.uint8), item])
    x, _ = to_images([np.zeros((8, 8), np.uint8), [[0] * 8] * 8])     # a nested list is still one image
    assert x.shape == (2, 8, 8, 1)
    # a batch put in a list: said so, with its own shape (it named (1, 4, 28, 28), a shape never given)
    with pytest.raises(DataError, match=r"image 0: an array of shape \(4, 28, 28\) is not one image .*a batch "
                                        r"\[N, H, W\] is given as the array itself, not inside a list"):
        to_images([np.zeros((4, 28, 28), np.uint8)])
    chw, rgba = np.zeros((3, 28, 28), np.uint8), np.zeros((28, 28, 4), np.uint8)
    chw[0], rgba[..., 0], rgba[..., 3] = 200, 200, 255       # (of colour content: all-zero RGB(A) is gray)
    for one in (chw, rgba):                                                                 # CHW and RGBA: images
        assert to_images([one])[0].shape == (1, 32, 32, 3)
    assert to_images([np.zeros((28, 28, 4), np.uint8)])[0].shape == (1, 32, 32, 1)      # gray content: gray
    # an array of another dimension: the message lists what is read, one [H, W] image included (it said "must have
    # 3 (NHW) or 4 (NHWC / NCHW) dimensions"), and a 5-D stack of batches gets the reshape that makes it one batch
    with pytest.raises(DataError, match=r"images: an array of shape \(28,\) \(1-D\) is neither one image nor a batch: "
                                        r"pass one image as \[H, W\] \(or \[H, W, C\]\) and a batch as \[N, H, W\]"):
        to_images(np.zeros(28, np.uint8))
    with pytest.raises(DataError, match=r"\(5-D\) is neither .*further axis: x.reshape\(-1, \*x.shape\[-3:\]\)"):
        to_images(torch.zeros((2, 4, 8, 8, 1), dtype=torch.uint8))


# ---------------------------------------------------------------------------------------------------- persistence
def test_save_load_identical_scores(det: Detector, mnist, noise, tmp_path) -> None:
    x = np.concatenate([mnist["x_test"][:20], noise[:4]])
    path = det.save(tmp_path / "model")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["model.json", "model.safetensors"]           # safetensors + JSON, nothing pickled
    back = Detector.load(tmp_path / "model")
    assert back.get_params() == det.get_params()
    np.testing.assert_array_equal(back.decision_function(x), det.decision_function(x))
    np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)
    assert back.threshold_ == det.threshold_ and back.threshold_rule_ == det.threshold_rule_
    np.testing.assert_array_equal(back.labels_, det.labels_)      # (load derives them: checked apart from predict)
    np.testing.assert_array_equal(back.predict_proba(x), det.predict_proba(x))
    assert Detector.load(path).threshold_ == det.threshold_       # the .json path works too
    with pytest.raises(CheckpointError, match="not a saved wildgan Detector .*it is a checkpoint of the run"):
        Detector.load(det.run_dir_ / "network-final.json")


def test_save_to_a_path_without_a_file_name_is_refused(det: Detector, tmp_path, monkeypatch) -> None:
    # '' wrote the hidden pair .json + .safetensors into the working folder, and 'x/..' wrote '...json'; '.' and '..'
    # are existing folders, which save(DIR) puts the Detector in (test_save_into_an_existing_folder)
    monkeypatch.chdir(tmp_path)
    for given in ("", "nothing/.."):
        with pytest.raises(ConfigError, match=r"no file name to save to: give PATH, e.g. det.save\('model'\)"):
            det.save(given)
    assert list(tmp_path.iterdir()) == []
    assert det.save("m") == Path("m.json") and Detector.load("m").threshold_ == det.threshold_


def test_save_into_an_existing_folder(det: Detector, tmp_path, monkeypatch) -> None:
    # det.save("models") next to an existing folder models/ wrote models.json + models.safetensors beside it
    (tmp_path / "models").mkdir()
    path = det.save(tmp_path / "models")
    assert path == tmp_path / "models" / "detector.json"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["detector.json", "detector.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]
    back = Detector.load(tmp_path / "models")
    assert back.threshold_ == det.threshold_ and back.get_params() == det.get_params()
    with pytest.raises(ConfigError, match=r"models is a saved Detector \(det.save\), not a run directory: load it "
                                          r"with Detector.load\("):
        Detector.from_run(tmp_path / "models", device="cpu")
    assert det.save(tmp_path / "models") == path                 # an earlier one there is replaced
    # '.' and '..' are existing folders too (the working folder and its parent): the same rule, no special case
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert det.save(".") == Path("detector.json") and (tmp_path / "sub" / "detector.safetensors").is_file()
    assert det.save(Path("")) == Path("detector.json")           # (Path('') is Path('.'))
    assert det.save("..") == Path("../detector.json") and (tmp_path / "detector.safetensors").is_file()
    assert Detector.load(".").threshold_ == det.threshold_
    # a folder without one: said so, naming the paths looked for, the FOLDER/ form of save included (the message
    # said "no detector.json in it", and never that a folder is read as FOLDER/detector.json + .safetensors)
    (tmp_path / "empty").mkdir()
    e = tmp_path / "empty"
    with pytest.raises(CheckpointError) as err:
        Detector.load(e)
    said = str(err.value)
    assert said.startswith(f"{e} is a directory that holds no saved Detector: Detector.load(FOLDER) reads "
                           f"{e / 'detector.json'} + {e / 'detector.safetensors'} (what det.save(FOLDER) writes), "
                           f"and {e / 'detector.json'} is not there; "), said
    assert f"{tmp_path / 'empty.json'} + {tmp_path / 'empty.safetensors'} beside the folder" in said
    (e / "detector.safetensors").write_bytes(b"")              # half a pair: which half is there is said
    with pytest.raises(CheckpointError, match=r"detector\.json is not there \(detector\.safetensors is there\)"):
        Detector.load(str(e) + "/")
    (e / "detector.safetensors").unlink()
    # 'new/' names a folder though none is there yet: made, the pair put in it (it wrote new.json beside it)
    assert det.save(str(tmp_path / "new") + "/") == tmp_path / "new" / "detector.json"
    assert (tmp_path / "new" / "detector.safetensors").is_file() and not (tmp_path / "new.json").exists()
    assert Detector.load(str(tmp_path / "new") + "/").threshold_ == det.threshold_
    # a DIR.json beside the folder (what save(DIR) wrote before) is still read
    (tmp_path / "old").mkdir()
    det.save(tmp_path / "old.json")
    assert Detector.load(tmp_path / "old").threshold_ == det.threshold_


def test_save_replaces_a_saved_detector_but_no_other_file(det: Detector, tmp_path) -> None:
    # det.save(RUN / "network-final") overwrote the run's final networks (then a Detector, which `wildgan score RUN`
    # and from_run refuse), and det.save("config") a config.json of the user's, without a word
    import shutil

    run = tmp_path / "run"
    shutil.copytree(det.run_dir_, run)
    final = (run / "network-final.json").read_bytes()
    with pytest.raises(CheckpointError, match=r"network-final\.json exists and is not a saved Detector \(a wildgan "
                                              r"file of kind 'wildgan-networks', of the run .*run\): det.save "
                                              r"replaces only a saved Detector"):
        det.save(run / "network-final")
    assert (run / "network-final.json").read_bytes() == final
    (tmp_path / "config.json").write_text('{"lr": 0.1}')
    with pytest.raises(CheckpointError, match=r"config\.json exists and is not a saved Detector \(not a wildgan "
                                              r"file\)"):
        det.save(tmp_path / "config.json")
    assert (tmp_path / "config.json").read_text() == '{"lr": 0.1}' and not (tmp_path / "config.safetensors").exists()
    (tmp_path / "d.json").mkdir()
    with pytest.raises(CheckpointError, match=r"d\.json is a directory: det.save\(PATH\) writes the files"):
        det.save(tmp_path / "d")
    first = det.save(tmp_path / "m")                         # a saved Detector is replaced, as before
    assert det.save(tmp_path / "m") == first and Detector.load(first).threshold_ == det.threshold_


def test_save_refuses_a_runs_own_file_not_there_yet_and_its_report_folder(det: Detector, tmp_path) -> None:
    # the files that exist were refused (above), but not a run's own file not written yet: det.save(RUN /
    # "train_scores") wrote RUN/train_scores.json, which the run's training scores then replaced; nor a saved
    # Detector in RUN/report/, deleted with it by the next `wildgan report RUN`
    import shutil

    run = tmp_path / "run"
    shutil.copytree(det.run_dir_, run)
    for name in ("train_scores.json", "train_scores.safetensors"):
        (run / name).unlink(missing_ok=True)
    (run / "report").mkdir(exist_ok=True)
    before = {str(p): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    with pytest.raises(ConfigError, match=rf"det.save's file {re.escape(str(run / 'train_scores.json'))} is a file "
                                          rf"of the run {re.escape(str(run))}, which wildgan writes and reads; give "
                                          rf"another name, e.g. {re.escape(str(run / 'model'))}"):
        det.save(run / "train_scores")
    with pytest.raises(ConfigError, match=r"model\.json is inside the run .*, in its report/ folder"):
        det.save(run / "report" / "model")
    assert {str(p): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()} == before
    assert Detector.load(det.save(run / "model")).threshold_ == det.threshold_      # a name of its own: fine


def test_a_refused_save_makes_no_folder(det: Detector, tmp_path, monkeypatch) -> None:
    # the folder was made before the checks: a typo in WILDGAN_KERNELS (save_checkpoint's check of the environment
    # it records) left an empty new/, and so did a 'new/' refused for lying in a run's report folder
    import shutil

    monkeypatch.setenv("WILDGAN_KERNELS", "fused")
    for given in (tmp_path / "new" / "m", str(tmp_path / "new2") + "/"):
        with pytest.raises(ConfigError, match=r"^WILDGAN_KERNELS=fused: use auto"):
            det.save(given)
    monkeypatch.delenv("WILDGAN_KERNELS")
    run = tmp_path / "run"
    shutil.copytree(det.run_dir_, run)
    (run / "report").mkdir(exist_ok=True)
    with pytest.raises(ConfigError, match=r"detector\.json is inside the run .*, in its report/ folder"):
        det.save(str(run / "report" / "sub") + "/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"] and not (run / "report" / "sub").exists()
    assert det.save(str(tmp_path / "new2") + "/") == tmp_path / "new2" / "detector.json"   # (the variable fixed: made)


def test_save_replaces_a_lone_safetensors_only_when_it_is_a_saved_detectors(det: Detector, tmp_path) -> None:
    # only the JSON half was checked: a lone PATH.safetensors (someone's weights, a run's, a damaged file) was
    # overwritten by det.save(PATH) without a word
    import shutil

    from safetensors.torch import save_file

    def refused(stem: str, match: str) -> None:
        before = (tmp_path / f"{stem}.safetensors").read_bytes()
        with pytest.raises(CheckpointError, match=match):
            det.save(tmp_path / stem)
        assert (tmp_path / f"{stem}.safetensors").read_bytes() == before and not (tmp_path / f"{stem}.json").exists()

    save_file({"w": torch.zeros(3)}, str(tmp_path / "theirs.safetensors"))
    refused("theirs", r"theirs\.safetensors exists and is not a saved Detector's weights \(a safetensors file "
                      r"wildgan did not write; no theirs\.json beside it\): det.save replaces only a saved Detector")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    refused("junk", r"junk\.safetensors: not readable as a safetensors file \(.*\): it exists and det.save replaces "
                    r"only a saved Detector's weights")
    shutil.copy(det.run_dir_ / "network-final.safetensors", tmp_path / "nets.safetensors")
    refused("nets", r"nets\.safetensors exists and is not a saved Detector's weights \(wildgan weights that do not "
                    r"say they are a Detector's: a run's networks or checkpoint, or a Detector saved by an older "
                    r"wildgan; no nets\.json beside it\)")
    # weights of an older wildgan, which wrote no kind: not known to be a Detector's unless its JSON is beside it
    save_file({"w": torch.zeros(3)}, str(tmp_path / "old.safetensors"), metadata={"format": "wildgan/1"})
    refused("old", r"old\.safetensors exists and is not a saved Detector's weights \(wildgan weights that do not "
                   r"say they are a Detector's: .*; no old\.json beside it\)")
    first = det.save(tmp_path / "older")
    save_file({"w": torch.zeros(3)}, str(tmp_path / "older.safetensors"), metadata={"format": "wildgan/1"})
    assert det.save(tmp_path / "older") == first and Detector.load(first).threshold_ == det.threshold_
    # a saved Detector's weights say what they are: replaced also alone (a save killed between its two files)
    first = det.save(tmp_path / "m")
    first.unlink()
    assert det.save(tmp_path / "m") == first and Detector.load(first).threshold_ == det.threshold_
    # someone's weights beside a saved Detector's JSON are not the Detector's either
    save_file({"w": torch.zeros(3)}, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError, match=r"m\.safetensors exists and is not a saved Detector's weights \(a "
                                              r"safetensors file wildgan did not write; though beside a saved "
                                              r"Detector's m\.json\)"):
        det.save(tmp_path / "m")


def test_load_and_from_run_point_to_each_other(det: Detector, tmp_path) -> None:
    """A run folder given to load, or a saved Detector given to from_run: the message names the call to use."""
    run = str(det.run_dir_)
    with pytest.raises(CheckpointError, match=rf"is a run directory, not a saved Detector: load a run with "
                                              rf"Detector.from_run\('{re.escape(run)}'\)"):
        Detector.load(run)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="is a directory that holds no saved Detector"):
        Detector.load(tmp_path / "empty")
    path = det.save(tmp_path / "m")
    for given in (tmp_path / "m", path, tmp_path / "m.safetensors"):    # the stem, the .json, the weights
        with pytest.raises(ConfigError, match=rf"is a saved Detector \(det.save\), not a run directory: load it with "
                                              rf"Detector.load\('{re.escape(str(given))}'\)"):
            Detector.from_run(given, device="cpu")
    with pytest.raises(ConfigError, match=r"is a checkpoint file of the run .*checkpoint="):
        Detector.from_run(det.run_dir_ / "network-final.json", device="cpu")
    with pytest.raises(ConfigError, match="no such run directory"):      # anything else: the run reader's word
        Detector.from_run(tmp_path / "nothing", device="cpu")
    # a path with nothing there: said so (it read "checkpoint metadata not found", as if a file were incomplete)
    with pytest.raises(CheckpointError, match=r"nothing: no such file \(Detector.load reads the PATH.json"):
        Detector.load(tmp_path / "nothing")


def test_a_file_of_another_kind_is_refused_by_load_and_from_run(det: Detector, tmp_path) -> None:
    # from_run(checkpoint=) of a saved Detector scored with it as if it were one of the run's checkpoints
    path = det.save(tmp_path / "m")
    with pytest.raises(CheckpointError, match=r"m\.json: a checkpoint of the wrong kind \(kind 'wildgan-detector'.*"
                                              r"expected 'wildgan-networks' or 'wildgan-train-state'"):
        Detector.from_run(det.run_dir_, checkpoint=path, device="cpu")
    with pytest.raises(CheckpointError, match=r"network-final\.json: not a saved wildgan Detector \(kind "
                                              r"'wildgan-networks', where a saved Detector's is 'wildgan-detector'\)"):
        Detector.load(det.run_dir_ / "network-final.json")


def test_a_hand_edited_saved_detector_is_refused_naming_the_file_and_field(det: Detector, mnist, tmp_path) -> None:
    # a field load reads, removed or of the wrong kind: it was a bare KeyError / TypeError, and a missing 'lod' was
    # read as full growth, silently scoring with the untrained full-resolution layers of a short fit
    path = det.save(tmp_path / "m")
    meta = json.loads(path.read_text())
    for key in ("channels", "config", "conversion", "decision_scores", "params", "resolution", "threshold", "lod"):
        path.write_text(json.dumps({k: v for k, v in meta.items() if k != key}))
        with pytest.raises(CheckpointError, match=rf"m\.json: not a complete saved Detector: no '{key}' in it "
                                                  r"\(truncated or edited by hand\?\)"):
            Detector.load(path)
    for key, bad in (("params", [1]), ("resolution", "16"), ("decision_scores", ["x"]), ("decision_scores", []),
                     ("conversion", None), ("lod", None), ("channels", 1.5)):
        path.write_text(json.dumps({**meta, key: bad}))
        with pytest.raises(CheckpointError, match=rf"m\.json: bad '{key}' value .* in a saved Detector"):
            Detector.load(path)
    path.write_text(json.dumps(meta))                                 # the file as saved still loads
    x = mnist["x_test"][:8]
    np.testing.assert_array_equal(Detector.load(path).decision_function(x), det.decision_function(x))


def test_a_saved_detector_of_a_newer_wildgan_is_refused_naming_the_file(det: Detector, tmp_path) -> None:
    # a saved Detector carries two versions: its checkpoint format's and its run config's
    path = det.save(tmp_path / "m")
    meta = json.loads(path.read_text())
    assert meta["format_version"] == 1 and meta["config"]["format_version"] == 1
    # (a parameter this wildgan lacks: the version is what is said, not "saved with Detector parameters ...")
    path.write_text(json.dumps({**meta, "config": {**meta["config"], "format_version": 2},
                                "params": {**meta["params"], "new_param": 1}}))
    with pytest.raises(ConfigError, match=r"m\.json: written by a newer wildgan \(run config format_version 2; "
                                          r"wildgan .* reads up to 1\): upgrade wildgan"):
        Detector.load(path)
    path.write_text(json.dumps({**meta, "format_version": 2}))
    with pytest.raises(CheckpointError, match=r"m\.json: written by a newer wildgan \(checkpoint format_version 2; "
                                              r"wildgan .* reads 1\): upgrade wildgan"):
        Detector.load(path)


def test_a_saved_detector_has_a_format_version_of_its_own(det: Detector, tmp_path) -> None:
    # apart from the checkpoint's: a change to the Detector's fields must not make older wildgan refuse pGAN runs
    path = det.save(tmp_path / "m")
    meta = json.loads(path.read_text())
    assert meta["detector_format_version"] == 1 and meta["format_version"] == 1
    # (a parameter this wildgan lacks: the version is what is said, not "saved with Detector parameters ...")
    path.write_text(json.dumps({**meta, "detector_format_version": 2, "params": {**meta["params"], "new_param": 1}}))
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}: a Detector saved by a newer wildgan "
                                              r"\(detector_format_version 2; wildgan .* reads up to 1\): upgrade "
                                              r"wildgan to load it"):
        Detector.load(path)
    for bad in ("1", 1.0, True, 0, None):
        path.write_text(json.dumps({**meta, "detector_format_version": bad}))
        with pytest.raises(CheckpointError, match=rf"m\.json: bad detector_format_version {re.escape(repr(bad))} "
                                                  r".*the metadata is damaged"):
            Detector.load(path)
    # saved before the field existed: read as version 1
    path.write_text(json.dumps({k: v for k, v in meta.items() if k != "detector_format_version"}))
    back = Detector.load(path)
    assert back.threshold_ == det.threshold_
    np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)


def test_a_saved_detectors_damaged_threshold_is_an_error_naming_the_file(det: Detector, tmp_path) -> None:
    # a NaN value (refused by Threshold.from_dict: it would flag nothing) as any other malformed record
    path = det.save(tmp_path / "m")
    meta = json.loads(path.read_text())
    for value, why in ((float("nan"), "its value is nan"), ("high", "could not convert")):
        path.write_text(json.dumps({**meta, "threshold": {**meta["threshold"], "value": value}}))
        with pytest.raises(ConfigError, match=rf"m\.json: not a threshold record: .*{why}") as e:
            Detector.load(path)
        # said as the file writes it (the JSON of a file a person may open), not as Python's repr of what json read
        assert '"value": ' in str(e.value) and "'value'" not in str(e.value), str(e.value)


def test_from_run_of_a_detector_run_reuses_its_training_scores(det: Detector, x_train) -> None:
    back = Detector.from_run(det.run_dir_, contamination=0.1, device="cpu")
    np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)
    assert back.threshold_ == det.threshold_
    np.testing.assert_array_equal(back.decision_function(x_train[:8]), det.decision_function(x_train[:8]))


def test_a_training_score_cache_from_an_older_wildgan_stays_valid(det: Detector, tmp_path) -> None:
    """Keys written before `lod`, `scores_version` and `data.square`, `data.contamination_draw` existed (with the
    run's config.json of that time): a Detector.fit run cannot rebuild its images, so a
    stale-looking old cache would make the run unusable for thresholds."""
    import shutil

    run = tmp_path / "old"
    shutil.copytree(det.run_dir_, run)
    key = json.loads((run / "train_scores.json").read_text())
    key.pop("lod")
    key["data"].pop("square")
    # (today's writers leave out scores_version 1, and a clean run's contamination_draw: gone either way; a
    # contaminated run's old key is tested in test_cli's nested-draw test)
    key.pop("scores_version", None)
    key["data"].pop("contamination_draw", None)
    (run / "train_scores.json").write_text(json.dumps(key))
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"].pop("contamination_draw", None)            # (and the run's config from then)
    (run / "config.json").write_text(json.dumps(cfg))
    back = Detector.from_run(run, contamination=0.1, device="cpu")
    np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)
    key["weights_sha256"] = "0" * 64                       # other weights: stale, and refused for a Detector run
    (run / "train_scores.json").write_text(json.dumps(key))
    with pytest.raises(DataError, match="missing or stale"):
        Detector.from_run(run, device="cpu").threshold_        # (read at the first call that needs them)


def test_a_clean_runs_training_score_cache_that_names_its_draw_rule_stays_valid(det: Detector, tmp_path) -> None:
    """Keys written earlier (41cffad to 4894e6f) named a clean run's contamination_draw, which its key leaves out now
    (nothing is drawn at gamma 0): "nested", or "choice" for a run recorded before the rule. Still the same training
    scores: a Detector.fit run, which cannot score its images again, would otherwise lose its thresholds."""
    import shutil

    for rule in ("nested", "choice"):
        run = tmp_path / rule
        shutil.copytree(det.run_dir_, run)
        key = json.loads((run / "train_scores.json").read_text())
        assert "contamination_draw" not in key["data"]
        key["data"]["contamination_draw"] = rule
        (run / "train_scores.json").write_text(json.dumps(key))
        if rule == "nested":                               # (its config.json then named it too)
            cfg = json.loads((run / "config.json").read_text())
            cfg["data"]["contamination_draw"] = rule
            (run / "config.json").write_text(json.dumps(cfg))
        back = Detector.from_run(run, contamination=0.1, device="cpu")
        np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)


def test_report_of_a_detector_run_maps_named_images(det: Detector, x_train, tmp_path) -> None:
    """A run trained by Detector.fit has no test split and no rebuildable training images: the report still shows
    its curves and the heat maps of named images, placed among the cached training scores."""
    from PIL import Image

    from wildgan.evaluation.report import report

    img = tmp_path / "q.png"
    Image.fromarray(x_train[0]).save(img)
    html = report(det.run_dir_, images=[img], device="cpu", controls=False).read_text()
    assert "trained by Detector.fit on in-memory images" in html and "Named images" in html
    assert "a percentile among training images" in html and "Training" in html
    # a stale cache (other weights than the run's now) is never used for percentiles
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(det.run_dir_, copy)
    key = json.loads((copy / "train_scores.json").read_text())
    (copy / "train_scores.json").write_text(json.dumps({**key, "weights_sha256": "0" * 64}))
    html = report(copy, images=[img], device="cpu", controls=False).read_text()
    assert "Named images" in html and "percentile among training images" not in html


def test_a_number_given_as_the_threshold_says_where_a_value_or_a_share_goes(det: Detector) -> None:
    """threshold=0.5 (a value) or 0.05 (a share) was refused as not one of the rule names, without saying how to do
    either; the Detector stays as it was."""
    before = det.threshold_
    for value in (0.5, 0.05, 1):
        with pytest.raises(ConfigError, match=r"names the rule, not a value\. contamination=C flags the share C .*"
                                              r"det\.decision_function\(X\) > value"):
            det.set_threshold(value)
    with pytest.raises(ConfigError, match=r"got 'contamnation'$"):
        det.set_threshold("contamnation")
    assert det.threshold_ == before
    with pytest.raises(ConfigError, match="names the rule, not a value"):
        Detector(preset="tiny", threshold=0.05).fit(np.zeros((16, 16, 16), np.uint8))


def test_report_of_a_detector_run_shows_its_saved_labelled_evaluation(det: Detector, mnist, tmp_path) -> None:
    """`wildgan evaluate RUN --data LABELLED` of a Detector.fit run saves eval.json in the run folder (it has no test
    split of its own), as for an unlabelled run; the report showed it for the latter only, so a user who fit from
    Python and checked the networks on a few labelled images found no AUC, interval or control on the page."""
    import shutil

    from wildgan.evaluation.metrics import interval_text
    from wildgan.evaluation.report import report
    from wildgan.evaluation.run import evaluate_run

    run = tmp_path / "run"
    shutil.copytree(det.run_dir_, run)
    pick = np.concatenate([np.flatnonzero(mnist["y_test"] == c)[:n] for c, n in ((0, 30), (7, 8))])
    labelled = tmp_path / "labelled.npz"
    np.savez(labelled, x=mnist["x_test"][pick], y=mnist["y_test"][pick])
    ev = evaluate_run(run, str(labelled), device="cpu", normal=("0",))
    md = (report(run, device="cpu", controls=False).parent / "report.md").read_text()
    assert f"(38 images, 8 anomalous): AUC a {ev['auc']['a']:.3f} ({interval_text(ev['auc_ci95']['a'])})" in md, md
    assert "| pixel_norm (control) |" in md and "over these 38 labelled images only" in md


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    """A run trained from a data spec, like `wildgan train --data SAMPLE --normal 0 --resolution 16`."""
    run = tmp_path_factory.mktemp("cli") / "run"
    spec = DataConfig(data=str(default_sample_path()), dataset="mnist", normal=("0",), resolution=16)
    Detector(run_dir=str(run), **{**TINY, "total_kimg": 0.3}).fit(spec)
    return run


def test_from_run_scores_the_training_split_once(cli_run: Path) -> None:
    for f in ("train_scores.csv", "train_scores.json"):
        (cli_run / f).unlink()              # as after `wildgan train`: no cache yet
    d = Detector.from_run(cli_run, threshold="mad", device="cpu")
    split = json.loads((cli_run / "split.json").read_text())
    assert len(d.decision_scores_) == split["n_train"]
    assert d.conversion_["fit"] == "pad"     # the MNIST protocol's rule, recorded in split.json
    mtime = (cli_run / "train_scores.csv").stat().st_mtime_ns
    d2 = Detector.from_run(cli_run, threshold="contamination", contamination=0.05, device="cpu")
    assert (cli_run / "train_scores.csv").stat().st_mtime_ns == mtime   # cached
    np.testing.assert_array_equal(d2.decision_scores_, d.decision_scores_)
    assert abs(d2.labels_.mean() - 0.05) <= 1.0 / len(d2.decision_scores_)
    d3 = Detector.from_run(cli_run, lam=0.5, device="cpu")              # a recomputed from the cached L_n, L_o
    s = run_training_scores(cli_run, d.model_)
    np.testing.assert_allclose(d3.decision_scores_, 0.5 * s["L_n"] + 0.5 * s["L_o"])
    # networks other than the run's own current ones never write the run's cache (`wildgan score --threshold` reads
    # it): a chosen checkpoint, and a Detector saved inside the run folder; both still get their scores
    cache = {f.name: f.read_bytes() for f in cli_run.glob("train_scores*")}
    ck = sorted((cli_run / "checkpoints").glob("ckpt-*.json"))[0]
    old = Detector.from_run(cli_run, checkpoint=ck, device="cpu").set_params(batch_mode="isolated")
    assert old.decision_scores_.shape == d.decision_scores_.shape
    inside = Detector.load(d.save(cli_run / "saved-here"))
    np.testing.assert_allclose(inside.set_params(score="L_r").decision_scores_, s["L_r"])
    inside.set_params(batch_mode="isolated")
    assert {f.name: f.read_bytes() for f in cli_run.glob("train_scores*")} == cache


def test_training_scores_cached_by_other_scoring_rules_are_computed_again(cli_run: Path, tmp_path) -> None:
    """train_scores.json recorded no version of the score formulas (wildgan.__version__ never changes between
    commits): after a formula changed, thresholds came from the old formula's cached scores in silence. Now a cache of
    another SCORES_VERSION is scored again, said once naming the file and the versions; one from before the field is
    taken as version 1's, which is still read."""
    import shutil

    from wildgan.scoring.run import load_model
    from wildgan.scoring.scores import SCORES_VERSION

    run = tmp_path / "run"
    shutil.copytree(cli_run, run)
    model = load_model(run, "cpu")
    fresh = run_training_scores(run, model)
    key_path, csv_path = run / "train_scores.json", run / "train_scores.csv"
    key = json.loads(key_path.read_text())
    assert key.get("scores_version", 1) == SCORES_VERSION
    rows = list(csv.DictReader(csv_path.open()))
    with csv_path.open("w", newline="") as f:            # marked, to tell the cached numbers from recomputed ones
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([{**r, "a": "123.0"} for r in rows])
    key_path.write_text(json.dumps({**key, "scores_version": SCORES_VERSION - 1}))
    with pytest.warns(WildganWarning, match=re.escape(f"{csv_path}: computed by the scoring rules of version "
                                                      f"{SCORES_VERSION - 1}, this wildgan's are version "
                                                      f"{SCORES_VERSION}: not used")):
        again = run_training_scores(run, model)
    np.testing.assert_array_equal(again["a"], fresh["a"])
    assert json.loads(key_path.read_text()).get("scores_version", 1) == SCORES_VERSION     # rewritten: said once
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(run_training_scores(run, model)["a"], fresh["a"])
    # a cache from before the field (version 1's rules, this wildgan's): still read
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([{**r, "a": "123.0"} for r in rows])
    key_path.write_text(json.dumps({k: v for k, v in key.items() if k != "scores_version"}))
    assert set(run_training_scores(run, model)["a"]) == {123.0}


def test_the_training_score_key_writes_the_scores_version_only_above_1(cli_run: Path, tmp_path, monkeypatch) -> None:
    """An older wildgan (a01df7d, 1003024) compares train_scores.json's key field by field and takes a field it does
    not know for a stale cache: with `scores_version` in every key it scored the training images again, and a
    Detector.fit run (no data to rebuild them from) had no thresholds at all under it. The field is written only when
    it differs from what a key without it is read as (version 1); either form is read back."""
    import shutil

    import wildgan.scoring.train_scores as ts
    from wildgan.scoring.run import load_model

    run = tmp_path / "run"
    shutil.copytree(cli_run, run)
    model = load_model(run, "cpu")
    run_training_scores(run, model)
    key_path, csv_path = run / "train_scores.json", run / "train_scores.csv"
    key = json.loads(key_path.read_text())
    assert "scores_version" not in key and ts.SCORES_VERSION == 1
    rows = list(csv.DictReader(csv_path.open()))

    def mark() -> None:                                  # cached numbers told apart from recomputed ones
        with csv_path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows([{**r, "a": "123.0"} for r in rows])

    mark()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert set(run_training_scores(run, model)["a"]) == {123.0}            # read back without the field
        key_path.write_text(json.dumps({**key, "scores_version": 1}))         # as the commit that added it wrote
        assert set(run_training_scores(run, model)["a"]) == {123.0}
    # after a bump the field is written (an older reader then takes the cache for stale, as it must) and read back
    monkeypatch.setattr(ts, "SCORES_VERSION", 2)
    with pytest.warns(WildganWarning, match="version 1, this wildgan's are version 2: not used"):
        assert 123.0 not in set(run_training_scores(run, model)["a"])
    assert json.loads(key_path.read_text())["scores_version"] == 2
    mark()
    assert set(run_training_scores(run, model)["a"]) == {123.0}


def test_score_cli_threshold_columns(cli_run: Path, tmp_path) -> None:
    """What `wildgan score RUN --threshold contamination --expected-contamination 0.1` does."""
    from wildgan.evaluation.run import split_for_run
    from wildgan.scoring.run import load_model, write_scores_csv

    model = load_model(cli_run, "cpu")
    split = split_for_run(cli_run)
    idx = np.r_[np.flatnonzero(split.test_y == 0)[:20], np.flatnonzero(split.test_y == 1)[:20]]
    x, y, ids = split.test_x[idx], split.test_y[idx], [split.test_ids[i] for i in idx]
    res = model.score(x)
    thr = run_threshold(model, cli_run, "contamination", contamination=0.1)
    assert thr.params["source"] == "training split" and thr.params["score"] == "a"
    # the value itself: the 90th percentile of the training split's scores (mixed batches, as scored), which the
    # test split's scores would not give
    train_a = model.score(split.train_x).scores["a"]
    assert thr.value == pytest.approx(float(np.percentile(train_a, 90)), rel=1e-6, abs=1e-7)
    assert thr.value != pytest.approx(float(np.percentile(model.score(split.test_x).scores["a"], 90)), rel=1e-3)
    out = tmp_path / "scores.csv"
    write_scores_csv(out, ids, res, y, extra=threshold_columns(thr, res.scores["a"]))
    rows = list(csv.DictReader(open(out)))
    assert {r["threshold_rule"] for r in rows} == {"contamination"}
    assert all(int(r["is_anomaly"]) == int(float(r["a"]) > thr.value) for r in rows)
    f1 = run_threshold(model, cli_run, "f1", labelled_scores=res.scores["a"], labels=y)
    assert f1.rule == "f1" and "oracle" in f1.params["source"]
    with pytest.raises(ConfigError, match="labelled"):
        run_threshold(model, cli_run, "f1")


# ---------------------------------------------------------------------------------------------------- other methods
def test_fanogan_with_a_resolution_its_networks_lack_is_refused_in_the_apis_terms(x_train) -> None:
    # it was refused by training, after the images were read, as "--resolution 32 or 64 converts them" (the CLI's)
    with pytest.raises(ConfigError, match=r"method='fanogan' needs resolution 32 or 64 .*got 16; resolution=None "
                                          r"picks 32 or 64"):
        Detector("fanogan", resolution=16, device="cpu").fit(x_train[:16])
    for ok in (32, 64, None):
        Detector("fanogan", resolution=ok)._validate()
    Detector(resolution=16)._validate()                              # the pGAN methods grow to any power of two


# 20 search steps, not the default 500: the checks are of the round trip (fit, rescoring, save/load, from_run), which
# the number of Adam steps per image does not change, and 500 of them made this the slowest unit test (50 s loaded)
@pytest.mark.slow   # 3 + 5 s on 2 CPU cores (latent search; f-AnoGAN at width 16): the only Detector round trip
@pytest.mark.parametrize("method, kw", [("search", dict(TINY, total_kimg=0.3, search_steps=20)),
                                        ("fanogan", dict(total_kimg=0.1, device="cpu", width=16))])
def test_other_methods_fit_save_load(method, kw, x_train, tmp_path) -> None:
    d = Detector(method, contamination=0.1, run_dir=str(tmp_path / "run"), batch_mode="isolated", **kw).fit(x_train)
    assert abs(d.labels_.mean() - 0.1) <= 1.0 / N_TRAIN
    s = d.decision_function(x_train[:8])
    # these methods score each image alone, so batch_mode changes nothing, and a new score / lam re-derives
    for change in (dict(lam=0.5), dict(score="L_r"), dict(batch_mode="mixed")):
        c = copy.copy(d).set_params(**change)
        np.testing.assert_allclose(c.decision_scores_, c.decision_function(x_train), rtol=1e-6, atol=1e-6)
    d.save(tmp_path / "m")
    np.testing.assert_array_equal(Detector.load(tmp_path / "m").decision_function(x_train[:8]), s)
    assert Detector.from_run(d.run_dir_, contamination=0.1, device="cpu").threshold_ == d.threshold_
    # an older wildgan cached these one-protocol scores under the isolated name (fit with batch_mode='isolated')
    for f in ("csv", "json"):
        (d.run_dir_ / f"train_scores.{f}").rename(d.run_dir_ / f"train_scores-isolated.{f}")
    assert Detector.from_run(d.run_dir_, contamination=0.1, device="cpu").threshold_ == d.threshold_


def test_saved_detector_keeps_the_trained_lod(det, noise, tmp_path):
    """A detector whose schedule stopped before full resolution scores at that lod after save/load too."""
    path = det.save(tmp_path / "det")
    loaded = type(det).load(path)
    assert loaded.model_.lod == det.model_.lod
    np.testing.assert_array_equal(loaded.decision_function(noise), det.decision_function(noise))


def test_crop_warning_names_the_detector_option() -> None:
    x = np.random.default_rng(0).integers(0, 256, (16, 20, 40), dtype=np.uint8)     # not square
    with pytest.warns(UserWarning, match=r"^X: images that are not square .*Detector\(resize_mode='letterbox'\)"):
        Detector(**{**TINY, "total_kimg": 0.05}).fit(x)


def test_the_crop_warnings_of_x_and_x_val_name_their_set() -> None:
    """fit(X, X_val=...) with both sets not square said 'images that are not square ...' twice (word for word where
    their sizes agree), neither naming the set it was about: X's names X, X_val's X_val, each once."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 20, 40), dtype=np.uint8)
    x_val = rng.integers(0, 256, (8, 20, 40), dtype=np.uint8)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        Detector(**{**TINY, "total_kimg": 0.05}, threshold="f1").fit(x, X_val=x_val, y_val=[0, 1] * 4)
    crops = [str(w.message) for w in got if "images that are not square (e.g. 40x20)" in str(w.message)]
    assert len(crops) == 2 and crops[0].startswith("X: images") and crops[1].startswith("X_val: images"), crops


def test_a_folder_is_scored_in_chunks_with_the_same_scores(det, mnist, tmp_path, monkeypatch) -> None:
    """decision_function(folder) reads and scores it chunk by chunk (memory: one chunk), with the scores of
    reading it whole; also with another lam."""
    from PIL import Image

    import wildgan.scoring.run as scoring_run

    x = mnist["x_test"][:70]
    for i, im in enumerate(x):
        Image.fromarray(im).save(tmp_path / f"{i:03d}.png")
    whole = det._score_u8(det._images(tmp_path))
    monkeypatch.setattr(scoring_run, "SCORE_CHUNK_BYTES", 16 * 16 * 64)     # chunks of one score batch
    for k, v in det.score_all(tmp_path).items():
        np.testing.assert_allclose(v, whole[k], rtol=1e-6, atol=1e-7, err_msg=k)
    import copy

    d2 = copy.copy(det).set_params(lam=0.5)
    got = d2.decision_function(tmp_path)
    np.testing.assert_allclose(got, d2._score_u8(d2._images(tmp_path))["a"], rtol=1e-6)
    assert not np.allclose(got, whole["a"])                                # lam was used


def test_a_tar_of_images_is_scored_in_chunks_with_the_same_scores_and_ids(det, mnist, tmp_path, monkeypatch) -> None:
    """decision_function(ARCHIVE.tar.gz) read the whole archive into memory (to_images) before scoring it, while
    score_files and `wildgan score` read it a chunk at a time: it now goes the folder's way, in chunks, with the
    scores and ids of the whole read; and resume_dir, refused for it before, keeps its chunks."""
    import tarfile

    from PIL import Image

    import wildgan.detector as detector_module
    import wildgan.scoring.run as scoring_run

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    pile = tmp_path / "pile"
    (pile / "sub").mkdir(parents=True)
    for i, im in enumerate(mnist["x_test"][:70]):
        Image.fromarray(im).save(pile / ("sub" if i % 7 == 0 else ".") / f"{i:03d}.png")
    archive = tmp_path / "pile.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(pile, arcname="pile")
    whole, ids = det._images_ids(archive)
    want = det._score_u8(whole)
    monkeypatch.setattr(scoring_run, "SCORE_CHUNK_BYTES", 16 * 16 * 64)     # chunks of one score batch
    got, real_score_files, real_to_images = [], scoring_run.score_files, detector_module.to_images

    def spy(*a, **kw):
        got.append(real_score_files(*a, **kw))
        return got[-1]

    def no_whole_read(X, *a, **kw):
        assert not (isinstance(X, (str, Path)) and str(X).endswith(".tar.gz")), "the archive was read whole"
        return real_to_images(X, *a, **kw)

    monkeypatch.setattr(scoring_run, "score_files", spy)
    monkeypatch.setattr(detector_module, "to_images", no_whole_read)
    for k, v in det.score_all(archive).items():
        np.testing.assert_allclose(v, want[k], rtol=1e-6, atol=1e-7, err_msg=k)
    assert got[-1].chunks > 1 and got[-1].ids == ids and ids[0] == "pile/001.png" and "pile/sub/000.png" in ids
    np.testing.assert_allclose(det.decision_function(str(archive)), want[det.score_], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(det.predict(archive), det.threshold_rule_.apply(det.decision_function(pile)))
    rd = tmp_path / "pile-scores.chunks"
    np.testing.assert_allclose(det.decision_function(archive, resume_dir=rd), want[det.score_], rtol=1e-6,
                               atol=1e-7)
    assert not rd.exists()                                    # every chunk returned: the folder is deleted


def test_a_folder_scoring_resumes_after_an_interruption(det, mnist, tmp_path, monkeypatch) -> None:
    """decision_function(folder, resume_dir=D): finished chunks are kept in D; the same call after an interruption
    scores only the rest, gives the scores of an uninterrupted call, and deletes D."""
    import copy

    from PIL import Image

    import wildgan.scoring.run as scoring_run

    pile = tmp_path / "pile"
    pile.mkdir()
    for i, im in enumerate(mnist["x_test"][:150]):
        Image.fromarray(im).save(pile / f"{i:03d}.png")
    want = det.decision_function(pile)
    monkeypatch.setattr(scoring_run, "RESUME_CHUNK_BYTES", 16 * 16 * 64)   # chunks of one score batch: 3
    d2, calls = copy.copy(det), []
    d2.model_ = copy.copy(det.model_)
    real = det.model_.score

    def dies_on_third(x, **kw):
        calls.append(len(x))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(x, **kw)

    d2.model_.score = dies_on_third
    rd = tmp_path / "pile-scores.chunks"
    with pytest.raises(KeyboardInterrupt):
        d2.decision_function(pile, resume_dir=rd)
    assert len(list(rd.glob("chunk-*.npz"))) == 2
    calls.clear()
    d2.model_.score = lambda x, **kw: (calls.append(len(x)), real(x, **kw))[1]
    np.testing.assert_allclose(d2.decision_function(pile, resume_dir=rd), want, rtol=1e-6, atol=1e-7)
    assert len(calls) == 1 and not rd.exists()                # only the third chunk scored; D deleted
    with pytest.raises(ConfigError, match="resume_dir applies to a folder"):
        det.decision_function(mnist["x_test"][:4], resume_dir=rd)


def test_wildgan_warnings_are_filtered_by_their_category() -> None:
    import warnings

    import wildgan

    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=wildgan.WildganWarning)
        to_images([np.zeros((20, 30), np.uint8), np.full((40, 40, 3), 255, np.uint8)])
    assert got == []
    with pytest.warns(wildgan.WildganWarning, match="different sizes"):
        to_images([np.zeros((20, 30), np.uint8), np.full((40, 40, 3), 255, np.uint8)])


def test_the_mixed_size_warning_names_the_median_it_rounds_up_from() -> None:
    """As the CLI's readers say it: 'the power of two of the median short side' read as 40 px -> 32, not 64. 40 px
    made 64 are enlarged 1.6x: said in the same warning, with the resolution below that keeps to their size."""
    with pytest.warns(UserWarning, match=r"resized to 64x64, the next power of two of the median short side, "
                                         r"40 px, which enlarges them 1.6x, .*: resolution=32 keeps to their size "
                                         r"\(or choose another\)"):
        x, _ = to_images([np.zeros((40, 50), np.uint8), np.zeros((60, 60), np.uint8)])
    assert x.shape[1:3] == (64, 64)
    with pytest.warns(UserWarning, match=r"resized to 256x256, the next power of two of the median short side, "
                                         r"300 px, at most 256 "):
        to_images([np.zeros((300, 310), np.uint8), np.zeros((320, 320), np.uint8)])


def test_a_fit_into_a_run_dir_another_detector_wrote_says_so(x_train, tmp_path) -> None:
    from sklearn.base import clone

    a = Detector(**{**TINY, "total_kimg": 0.05}, run_dir=str(tmp_path / "r")).fit(x_train[:16])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        warnings.filterwarnings("ignore", message=SHORT_FIT)
        a.fit(x_train[:16])                               # its own run again: nothing to say
    with pytest.warns(UserWarning, match="holds the run of another live Detector"):
        b = clone(a).fit(x_train[16:32])                  # the clone keeps run_dir: the folder changes hands
    del a, b                                              # a re-run notebook cell: the old Detector is gone
    import gc

    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        warnings.filterwarnings("ignore", message=SHORT_FIT)
        Detector(**{**TINY, "total_kimg": 0.05}, run_dir=str(tmp_path / "r")).fit(x_train[:16])


def test_images_far_off_the_training_scale_are_warned_about(det: Detector, x_train, tmp_path) -> None:
    # 28x28 digits learned; 256x256 images (whole pages of digits, say) are resized whole to 32x32: another scale
    import warnings

    assert det.conversion_["native_sides"] == [28, 28]
    pages = np.zeros((4, 256, 256), np.uint8)
    with pytest.warns(UserWarning, match=r"images much larger than the run's training images \(e.g. array:0: "
                                         r"256x256; the training images were 28x28\)"):
        det.decision_function(pages)
    for back in (Detector.load(det.save(tmp_path / "m")), Detector.from_run(det.run_dir_, device="cpu")):
        assert back.conversion_["native_sides"] == [28, 28]
        with pytest.warns(UserWarning, match="images much larger"):
            back.decision_function(pages)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.decision_function(x_train[:4])                      # its own kind of image: nothing to say
    # 2.3x: not far off the scale, but shrunk unlike the training images, which is said (a folder scored in chunks
    # says it too: both read with the same rule, data.imageset.resize_warning)
    with pytest.warns(UserWarning, match=r"^images were resized to the network's 16x16 input from a size its "
                                         r"training images did not have \(e.g. array:0: 64x64; the training images "
                                         r"were 28x28\)") as got:
        det.decision_function(np.zeros((4, 64, 64), np.uint8))
    assert not [w for w in got if "much larger" in str(w.message)]


# ---------------------------------------------------------------------------------------------------- pixel audit
def test_depth16_parameter_is_used_by_fit_and_kept_for_scoring(det: Detector, x_train, tmp_path, monkeypatch
                                                               ) -> None:
    import warnings

    import wildgan.training.run as training_run

    x16 = (x_train[:16].astype(np.uint16) * 15 + 10)                  # 12-bit camera data: 10..3835
    with pytest.raises(ConfigError, match="bits:N"):
        Detector(**TINY, depth16="bits:99").fit(x16)
    run = tmp_path / "b12"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                  # bits:12: nothing stretched, nothing to say
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        warnings.filterwarnings("ignore", message=SHORT_FIT)
        d = Detector(**{**TINY, "total_kimg": 0.05}, depth16="bits:12", run_dir=str(run)).fit(x16)
    assert d.get_params()["depth16"] == "bits:12" and d.conversion_["depth16"] == "bits:12"
    assert json.loads((run / "config.json").read_text())["data"]["depth16"] == "bits:12"
    u8 = np.rint(x16 * (255 / 4095)).astype(np.uint8)
    ref = d.decision_function(u8)
    np.testing.assert_array_equal(d.decision_function(x16), ref)       # scored with the rule it was fitted with
    for back in (Detector.load(d.save(tmp_path / "m")), Detector.from_run(run, device="cpu")):
        assert back.depth16 == "bits:12" and back.conversion_["depth16"] == "bits:12"
        np.testing.assert_array_equal(back.decision_function(x16), ref)
    # the default stretches each image: fit says so (before any training) and names the rule that keeps brightness

    def stop(*a, **k):
        raise RuntimeError("stop before training")

    monkeypatch.setattr(training_run, "train_run", stop)
    with pytest.warns(UserWarning, match=r"16 16-bit images were stretched each to its own min..max .*largest raw "
                                         r"value seen is 3835: to keep them use depth16='bits:12'"):
        with pytest.raises(RuntimeError, match="stop"):
            Detector(**TINY, run_dir=str(tmp_path / "p")).fit(x16)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        det.decision_function(x16[:4])                  # scoring: never the stretch warning (a data set's)
    said = [str(w.message) for w in rec]
    # det was fitted on 8-bit images: 16-bit ones are read by value / 257, as their 8-bit copies, and named
    assert len(said) == 1 and said[0].startswith("4 16-bit images scored with a run trained on 8-bit images only "
                                                 "(images[0], images[1], images[2], images[3]): read by value / 257")
    np.testing.assert_array_equal(det.decision_function(x16[:4]),
                                  det.decision_function(np.rint(x16[:4] / 257).astype(np.uint8)))


def test_rgba_and_two_channel_single_images_are_not_read_as_batches(det: Detector, x_train) -> None:
    one = x_train[0]
    rgba = np.concatenate([np.repeat(one[..., None], 3, axis=-1), np.full((28, 28, 1), 255, np.uint8)], axis=-1)
    for c in (2, 4):
        with pytest.raises(DataError, match=rf"looks like one image \[H, W, C\], not 28 images of 28x{c}"):
            to_images(np.zeros((28, 28, c), np.uint8))
    gray = [(28, 28, 1), (16, 16, 1)]
    assert read_3d((28, 28, 4), gray) == "hwc" and read_3d((16, 16, 2), gray) == "hwc"
    with pytest.raises(DataError, match=r"ambiguous image array shape \(20, 20, 4\)"):
        read_3d((20, 20, 4), gray)
    np.testing.assert_array_equal(det.decision_function(rgba), det.decision_function(one))   # one RGBA image
    with pytest.raises(DataError, match="2 channels: wildgan reads 1"):
        det.decision_function(np.zeros((28, 28, 2), np.uint8))


def test_pil_images_are_oriented_and_checked_like_files(tmp_path) -> None:
    from PIL import Image

    from wildgan.data.image_decode import read_image
    from wildgan.data.inputs import decode_items

    a = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6                                                   # "rotate 90 CW to display"
    img.save(tmp_path / "rot.png", exif=exif)
    want = read_image(tmp_path / "rot.png")
    assert want.shape == (20, 12, 1)
    with Image.open(tmp_path / "rot.png") as im:
        got, _ = decode_items([im], "per-image")
        # rotated in memory by the user (format None, the EXIF tag still in .info): not rotated a second time
        turned, _ = decode_items([im.transpose(Image.Transpose.ROTATE_270)], "per-image")
    np.testing.assert_array_equal(got[0], want)
    assert turned[0].shape == (20, 12, 1)
    Image.fromarray(np.zeros((64, 64), np.uint8) + 7).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    good = Image.fromarray(a)
    with pytest.raises(DataError, match=r"image 1: truncated or corrupt image"):
        to_images([good, Image.open(tmp_path / "cut.png")], 16, 1)
    with pytest.warns(UserWarning, match=r"skipped image 1: truncated or corrupt"):
        x, ids = to_images([good, Image.open(tmp_path / "cut.png")], 16, 1, skip_bad=True)
    assert ids == ["image:0"] and len(x) == 1


def test_fit_predict_labels_the_training_images_as_predict_would(x_train, tmp_path) -> None:
    d = Detector(**{**TINY, "total_kimg": 0.1}, contamination=0.1, run_dir=str(tmp_path / "fp"))
    labels = d.fit_predict(x_train)
    assert labels.shape == (len(x_train),) and 6 <= labels.sum() <= 7              # about 10% of 64 flagged
    np.testing.assert_array_equal(labels, d.labels_)
    np.testing.assert_array_equal(labels, d.predict(x_train))       # the same images, scored the same way


# ---------------------------------------------------------------------------------------------------- API audit
def test_heatmaps_are_the_report_residual_of_the_scored_reconstructions(det: Detector, mnist, noise) -> None:
    from wildgan.detector import HeatMaps
    from wildgan.evaluation.heatmaps import residual_maps

    x = np.concatenate([mnist["x_test"][:10], noise[:2]])
    hm = det.heatmaps(x)
    assert isinstance(hm, HeatMaps) and len(hm) == 12 and hm.ids == [f"array:{i}" for i in range(12)]
    assert hm.images.shape == (12, 16, 16, 1) and hm.images.dtype == np.uint8
    np.testing.assert_array_equal(hm.images, det._images(x))
    assert hm.recon.shape == (12, 16, 16, 1) and hm.recon.dtype == np.float32
    assert hm.recon_u8.dtype == np.uint8 and hm.recon_u8.shape == hm.recon.shape     # recon itself is unclipped
    np.testing.assert_array_equal(hm.recon_u8, np.clip(np.rint((hm.recon.astype(np.float64) + 1) * 127.5), 0, 255))
    assert hm.maps.shape == (12, 16, 16) and hm.maps.dtype == np.float32
    assert hm.maps.min() >= 0 and hm.maps.max() <= 1 and hm.maps.max() > 0
    # the scores of the same pass are decision_function's (mixed batches: the same batches)
    np.testing.assert_array_equal(hm.scores, det.decision_function(x))
    assert hm.score == "a" and hm.lod == 0 and hm.generator == "Gs"
    # shown in a notebook: one line of what it holds (the dataclass's repr printed every array, hundreds of lines)
    shown = repr(hm)
    assert "\n" not in shown and len(shown) < 400, shown
    assert shown.startswith("HeatMaps(12 images ['array:0', 'array:1', 'array:2', ... (9 more)], images uint8[12, 16, "
                            "16, 1], recon float32[12, 16, 16, 1], maps float32[12, 16, 16], score='a', scores "), shown
    assert f"{hm.scores.min():.4g}..{hm.scores.max():.4g}" in shown and "lod=0, generator='Gs')" in shown
    for k, v in det.score_all(x).items():
        np.testing.assert_array_equal(hm.all_scores[k], v, err_msg=k)
    # the maps are exactly the report's, and relate to the scores as documented (gray, lod 0)
    np.testing.assert_array_equal(hm.maps, residual_maps(hm.images, hm.recon))
    q = hm.images.astype(np.float64) / 127.5 - 1
    np.testing.assert_allclose(hm.all_scores["L_n"], np.sqrt((hm.maps.astype(np.float64) ** 2).sum((1, 2))) / 16 ** 2,
                               rtol=1e-5)
    np.testing.assert_allclose(hm.all_scores["L_r"], np.linalg.norm((q - hm.recon).reshape(12, -1), axis=1),
                               rtol=1e-5)
    # a reconstruction equal to the query leaves nothing to show
    assert np.abs(residual_maps(hm.images, q.astype(np.float32))).max() < 1e-6
    # batch_mode is the Detector's: isolated maps of one image are those it gets among others
    iso = copy.copy(det).set_params(batch_mode="isolated")
    one, all_ = iso.heatmaps(x[3]), iso.heatmaps(x)
    np.testing.assert_array_equal(all_.scores, iso.decision_function(x))
    np.testing.assert_allclose(one.maps[0], all_.maps[3], atol=1e-5)
    assert one.scores[0] == pytest.approx(all_.scores[3], abs=1e-6)


def test_heatmaps_of_a_run_scored_below_full_resolution_are_those_of_its_scores(x_train, mnist) -> None:
    # a fit stopped at 4x4 (lod 2) scores 16x16 images at 4x4, but its maps compared the 16x16 query with the
    # reconstruction upsampled: detail no score saw, and sqrt(sum maps^2) was not L_n at any size
    with pytest.warns(UserWarning, match=NOT_GROWN):
        d = Detector(**{**TINY, "total_kimg": 0.05}).fit(x_train[:16])
    assert d.model_.lod == 2
    hm = d.heatmaps(mnist["x_test"][:8])
    assert hm.lod == 2 and hm.maps.shape == (8, 16, 16)
    small = hm.maps[:, ::4, ::4]
    # the map of a scored pixel fills its 4x4 block (nearest-neighbour enlargement)
    np.testing.assert_array_equal(hm.maps, small.repeat(4, 1).repeat(4, 2))
    # gray: L_n == sqrt(sum of the scored map^2) / h^2 at the scored h = 4
    np.testing.assert_allclose(hm.all_scores["L_n"], np.sqrt((small.astype(np.float64) ** 2).sum((1, 2))) / 4 ** 2,
                               rtol=1e-5)
    assert hm.block == 4 and np.array_equal(hm.scored_maps, small)


def test_heatmaps_of_a_folder(det: Detector, mnist, tmp_path) -> None:
    from PIL import Image

    x = mnist["x_test"][:8]
    for i, im in enumerate(x):
        Image.fromarray(im).save(tmp_path / f"{i:02d}.png")
    hm = det.heatmaps(tmp_path)
    assert hm.ids == [str(tmp_path / f"{i:02d}.png") for i in range(8)]          # sorted by path, like scoring
    assert hm.images.shape == (8, 16, 16, 1) and hm.maps.shape == (8, 16, 16)
    same = det.heatmaps(x)                                                        # the same pixels as arrays
    np.testing.assert_array_equal(hm.images, same.images)
    np.testing.assert_array_equal(hm.maps, same.maps)
    np.testing.assert_allclose(hm.scores, det.decision_function(tmp_path), rtol=1e-6, atol=1e-7)


def test_the_growth_warning_says_where_the_networks_are_grown_and_advises_no_less(tmp_path) -> None:
    # it said 'training ended at 0.064 kimg ... they reach 8x8 with a total_kimg above 0.064': the start of the first
    # round at full resolution, which was where this run ended. It now says where they are grown, and a fit with the
    # total it advises gets there
    import wildgan

    x = np.random.default_rng(0).integers(0, 256, (40, 8, 8), dtype=np.uint8)
    kw = {"preset": "tiny", "phase_kimg": 0.02, "resolution": 8, "threads": 1}
    with pytest.warns(wildgan.WildganWarning) as rec:
        d = Detector(**kw, total_kimg=0.05).fit(x)
    (said,) = [str(w.message) for w in rec if "finished growing" in str(w.message)]
    assert d.model_.lod == 1 and "training ended at 0.064 kimg" in said and "above 0.064" not in said, said
    assert "they are grown to 8x8 at 0.128 kimg" in said and "fit with total_kimg=0.128," in said, said
    assert Detector(**kw, total_kimg=0.128).fit(x).model_.lod == 0


def test_a_budget_stop_whose_own_total_grows_the_networks_is_advised_minutes_only() -> None:
    # it advised 'fit with total_kimg=0.128 (or None), minutes=None or a larger budget' after a fit of total_kimg=0.2,
    # which grows them (at 0.128): as if its total were the problem, where the CLI and train_run said minutes only
    import wildgan

    x = np.random.default_rng(0).integers(0, 256, (40, 8, 8), dtype=np.uint8)
    kw = {"preset": "tiny", "phase_kimg": 0.02, "resolution": 8, "threads": 1, "minutes": 1e-6}
    with pytest.warns(wildgan.WildganWarning) as rec:
        Detector(**kw, total_kimg=0.2).fit(x)
    (said,) = [str(w.message) for w in rec if "finished growing" in str(w.message)]
    assert "the wall-clock budget (minutes=1e-06) ran out" in said, said
    assert said.endswith("fit with minutes=None or a larger budget (its total_kimg=0.2 grows them), or a smaller "
                         "phase_kimg"), said
    # a total that falls short too: both, as before
    with pytest.warns(wildgan.WildganWarning) as rec:
        Detector(**kw, total_kimg=0.1).fit(x)
    (said,) = [str(w.message) for w in rec if "finished growing" in str(w.message)]
    assert "fit with total_kimg=0.128, minutes=None or a larger budget, or a smaller phase_kimg" in said, said


def test_a_fit_that_ends_before_full_growth_warns_and_says_where_it_got(x_train, tmp_path) -> None:
    import warnings

    import wildgan

    run = tmp_path / "r"
    with pytest.warns(wildgan.WildganWarning, match=r"\(total_kimg=0.05 ended it\), before the networks finished "
                                                    r"growing to 16x16: they reached 4x4 \(lod 2; "
                                                    r"trained_resolution_ = 4, "
                                                    r"while resolution_ = 16 is the input resolution\).* grown to "
                                                    r"16x16 at 0.512 kimg \(the end of the first round of "
                                                    r"minibatches at full resolution\): fit with total_kimg=0.512, "):
        d = Detector(**{**TINY, "total_kimg": 0.05}, run_dir=str(run)).fit(x_train[:16])
    assert d.resolution_ == 16 and d.trained_resolution_ == 4 and d.model_.lod == 2
    assert "warning: training ended at" in (run / "log.txt").read_text()
    assert Detector.load(d.save(tmp_path / "m")).trained_resolution_ == 4
    assert Detector.from_run(run, device="cpu").trained_resolution_ == 4
    with pytest.warns(wildgan.WildganWarning, match=r"the wall-clock budget \(minutes=1e-06\) ran out.*minutes=None"):
        Detector(**TINY, minutes=1e-6).fit(x_train[:16])
    with warnings.catch_warnings():
        warnings.simplefilter("error", wildgan.WildganWarning)
        warnings.filterwarnings("ignore", message=SHORT_FIT)
        # grown: 8x8 from 0.04 kimg on, and the second round of 4 x 16 images starts at 0.064 (the lod is the
        # schedule's at the start of the last round trained)
        g = Detector(**{**TINY, "total_kimg": 0.1, "phase_kimg": 0.02, "resolution": 8}).fit(x_train[:16])
    assert g.resolution_ == g.trained_resolution_ == 8
    # ended in the last fade-in: at the input resolution but not grown, which the warning must not call 'reached'
    with pytest.warns(wildgan.WildganWarning, match=r"before the networks finished growing to 8x8: they were still "
                                                    r"fading in 8x8 \(lod 0\.\d+; trained_resolution_ = 8") as got:
        f = Detector(**{**TINY, "total_kimg": 0.1, "phase_kimg": 0.05, "resolution": 8}).fit(x_train[:16])
    assert 0 < f.model_.lod < 1 and not [w for w in got if "reached 8x8" in str(w.message)]


def test_too_few_training_images_are_refused_in_python_api_terms(x_train, tmp_path) -> None:
    with pytest.raises(DataError, match=r"^only 3 training images: Detector\(preset='tiny'\) trains 16x16 networks in "
                                        r"minibatches of up to 16 images, so fit needs at least 16 images") as e:
        Detector(**TINY, run_dir=str(tmp_path / "r")).fit(x_train[:3])
    assert "--" not in str(e.value), e.value                     # (neither --preset nor `wildgan train --config`)
    assert str(e.value).endswith("(others need a run trained by wildgan.training.run.train_run with a RunConfig's "
                                 "train.minibatch, loaded with Detector.from_run)"), e.value
    assert not (tmp_path / "r").exists()                          # refused before a run directory is made
    with pytest.raises(DataError, match=r"^only 15 training images: Detector\(preset='fast'\) .*at least 128 images.*"
                                        r"Add images, or use preset='tiny' \(at least 16\)"):
        Detector(**{**TINY, "preset": "fast"}).fit(x_train[:15])


def test_a_detector_fitted_on_colour_images_with_a_few_gray_ones_warns_when_far_more_are_gray(x_train, tmp_path):
    """Fitted on colour images of which 4 in 64 were gray (not all colour: no colour_data), gray images to score
    went unwarned whatever their share. The fit records the share (conversion_['gray_trained']), kept by
    from_run, and 8 gray images of 8 are warned about; 1 gray among 16 (the training mix) is not."""
    import warnings

    tinted = np.repeat(x_train[:, :, :, None], 3, axis=-1)
    tinted[4:, ..., 0] //= 2                                           # 60 colour images, 4 gray in 3 channels
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        mixed = Detector(run_dir=str(tmp_path / "m"), **{**TINY, "total_kimg": 0.05}).fit(tinted)
    assert "colour_data" not in mixed.conversion_ and mixed.conversion_["gray_trained"] == [4, 64]
    for d in (mixed, Detector.from_run(mixed.run_dir_, device="cpu")):
        with pytest.warns(UserWarning, match=r"^8 of the 8 images \(100%\) are gray, against 6.2% of the images"):
            d.decision_function(x_train[:8])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            d.decision_function(np.concatenate([tinted[3:4], tinted[10:25]]))


def test_images_of_the_other_kind_than_the_training_images_are_warned_about(det, x_train, tmp_path) -> None:
    # det was fitted on gray digits: colour images are converted to gray, with a word
    rgb = np.repeat(x_train[:8, :, :, None], 3, axis=-1).copy()
    rgb[..., 0] //= 2                                                   # really colour, not gray in 3 channels
    with pytest.warns(UserWarning, match="8 colour images are converted to gray: the network was trained on gray"):
        det.decision_function(rgb)
    # fitted on colour images: gray ones lack the colour it learned, which alone can make them score high
    tinted = np.repeat(x_train[:, :, :, None], 3, axis=-1)
    tinted[..., 0] //= 2                                                # really colour, not gray in 3 channels
    colour = Detector(run_dir=str(tmp_path / "c"), **TINY).fit(tinted)
    assert colour.conversion_.get("colour_data") is True
    with pytest.warns(UserWarning, match="4 gray images are scored by a network trained on colour images"):
        colour.decision_function(x_train[:4])
    again = Detector.from_run(colour.run_dir_, device="cpu")            # recorded with the run: kept on reload
    with pytest.warns(UserWarning, match="4 gray images are scored by a network trained on colour images"):
        again.decision_function(x_train[:4])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        colour.decision_function(tinted[:4])                            # the same kind: nothing said
    # a Detector fitted before colour_rule was recorded decided colour_data by shape (RGB arrays of gray content
    # were colour to it): it counts images to score by shape too, so RGB-stored gray is not 'gray ... trained on
    # colour' (which it said once such images counted as gray), and a gray array still is
    assert colour.conversion_.get("colour_rule") == "content"
    del colour.conversion_["colour_rule"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        colour.decision_function(np.repeat(x_train[:4, :, :, None], 3, axis=-1))
    with pytest.warns(UserWarning, match="4 gray images are scored by a network trained on colour images"):
        colour.decision_function(x_train[:4])
    # gray digits stored as RGB are gray training images (the CLI's all_colour): no colour_data, so scoring more of
    # them says nothing (it said '4 gray images ... trained on colour' once they counted as gray)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        rgb_gray = Detector(run_dir=str(tmp_path / "g"), **{**TINY, "total_kimg": 0.05}).fit(
            np.repeat(x_train[:, :, :, None], 3, axis=-1))
    assert "colour_data" not in rgb_gray.conversion_
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb_gray.decision_function(np.repeat(x_train[:4, :, :, None], 3, axis=-1))


def test_fit_never_replaces_a_run_it_did_not_write(x_train, tmp_path) -> None:
    """The audit's case: Detector.from_run(cli_run).fit(X) deleted a `wildgan train` run (networks, evaluation,
    logs) without a word, since from_run sets run_dir and fit trains with overwrite. A Detector's own run is still
    replaced by the next fit (a re-run notebook cell)."""
    from wildgan.cli import main

    run = tmp_path / "cli"
    assert main(["train", "--preset", "tiny", "--normal", "1", "--resolution", "16", "--total-kimg", "0.1",
                 "--phase-kimg", "0.05", "--no-progress", "--threads", "1", "--no-train-scores", "--device", "cpu",
                 "--out", str(run)]) == 0
    opened = Detector.from_run(run, device="cpu")               # caches the training scores: a file more
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for det in (opened, Detector(run_dir=str(run), **TINY)):
        with pytest.raises(ConfigError, match="holds a run that Detector.fit did not write .*Detector.from_run"):
            det.fit(x_train[:16])
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    own = tmp_path / "own"
    Detector(run_dir=str(own), **{**TINY, "total_kimg": 0.05}).fit(x_train[:16])
    assert (own / "DETECTOR.txt").is_file()
    Detector(run_dir=str(own), **{**TINY, "total_kimg": 0.05, "seed": 1}).fit(x_train[:16])    # replaced, as before
    assert json.loads((own / "config.json").read_text())["train"]["seed"] == 1


def test_a_pickled_detector_drops_a_run_folder_that_is_gone(det, noise) -> None:
    import pickle

    assert det.run_dir_ is not None and det.run_dir_.is_dir()
    same = pickle.loads(pickle.dumps(det))
    assert same.run_dir_ == det.run_dir_                                    # still there: kept
    np.testing.assert_array_equal(same.decision_function(noise), det.decision_function(noise))
    state = det.__getstate__() if hasattr(det, "__getstate__") else dict(det.__dict__)
    gone = object.__new__(type(det))
    gone.__setstate__({**state, "run_dir_": det.run_dir_.parent / "no-such-run"})   # as in another process, later
    assert gone.run_dir_ is None
    np.testing.assert_array_equal(gone.decision_function(noise), det.decision_function(noise))


def test_a_detector_pickled_from_a_gpu_opens_on_a_machine_without_one(det, noise) -> None:
    """Its networks are pickled as CPU tensors (a pickle of CUDA tensors cannot be opened without CUDA) and go back to
    the Detector's device where it exists. No GPU here: the model says it is on CUDA while its tensors are not."""
    import copy
    import dataclasses
    import pickle

    import torch

    import wildgan

    ref = det.decision_function(noise)
    gpu = copy.copy(det)
    gpu.model_ = dataclasses.replace(det.model_, device=torch.device("cuda", 0))
    gpu.device = "cuda"
    state = gpu.__getstate__()
    assert state["_pickled_on"] == "cuda:0" and state["model_"].device.type == "cpu"
    assert state["model_"].nets is not det.model_.nets                      # a copy: the fitted one is untouched
    assert all(p.device.type == "cpu" for p in state["model_"].nets.G.parameters())
    assert gpu.model_.device.type == "cuda"
    with pytest.warns(wildgan.WildganWarning, match="fitted on cuda:0 is unpickled on the CPU"):
        back = pickle.loads(pickle.dumps(gpu))
    assert back.model_.device.type == "cpu" and "_pickled_on" not in back.__dict__
    back.set_params(device="cpu")
    np.testing.assert_allclose(back.decision_function(noise), ref, rtol=1e-6, atol=1e-9)
    cpu_det = pickle.loads(pickle.dumps(det))                                # a CPU Detector: as before, no copy
    assert "_pickled_on" not in det.__getstate__()
    np.testing.assert_array_equal(cpu_det.decision_function(noise), ref)
    # copies are not pickles: a shallow copy shares the networks on their device, a deep one copies them there
    assert copy.copy(gpu).model_.nets is gpu.model_.nets and copy.copy(gpu).model_.device.type == "cuda"
    deep = copy.deepcopy(gpu)
    assert deep.model_.nets is not gpu.model_.nets and deep.model_.device.type == "cuda"


def test_lam_out_of_range_and_an_unused_validation_set_are_said(x_train) -> None:
    import wildgan

    for bad in (2.0, -0.1, "0.5", True):
        with pytest.raises(ConfigError, match="lam must be a number in \\[0, 1\\]"):
            Detector(**TINY, lam=bad).fit(x_train[:16])
    with pytest.warns(wildgan.WildganWarning, match="X_val / y_val are used by threshold='f1' only"):
        Detector(**{**TINY, "total_kimg": 0.05}).fit(x_train[:16], X_val=x_train[:4], y_val=np.array([0, 0, 1, 1]))


def test_a_preset_given_to_fanogan_is_said_to_set_only_the_pgan_width() -> None:
    import warnings

    import wildgan
    from wildgan.config import DataConfig

    with pytest.warns(wildgan.WildganWarning, match="preset='tiny' sets the width of the pGAN networks; f-AnoGAN "
                                                    "trains at its official width \\(dim 64\\)"):
        Detector("fanogan", preset="tiny")._run_config(DataConfig(), 32, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", wildgan.WildganWarning)
        Detector("fanogan")._run_config(DataConfig(), 32, 1)              # the default preset: nothing to say
        Detector("wildgan", preset="tiny")._run_config(DataConfig(), 32, 1)


def test_width_sets_the_networks_and_survives_from_run_save_and_load(det: Detector, x_train, tmp_path) -> None:
    import warnings

    run = tmp_path / "w8"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        d = Detector(**{**TINY, "total_kimg": 0.05}, width=8, run_dir=str(run)).fit(x_train)
    net = d.model_.cfg.net
    assert (net.fmap_max, net.fmap_base, net.latent_size) == (8, 128, 8)          # as `wildgan train --width 8`
    assert {p.shape[0] for p in d.model_.nets.G.parameters() if p.dim() == 4} <= {1, 8}     # conv widths (toRGB: 1)
    assert Detector.from_run(run).get_params()["width"] == 8                       # a refit builds the same networks
    assert Detector.from_run(det.run_dir_).width is None                            # the preset's own width
    d.save(tmp_path / "saved")
    assert Detector.load(tmp_path / "saved").width == 8
    # f-AnoGAN: width is its dim (as --fanogan-dim); the pGAN networks of the config are the preset's
    cfg = Detector("fanogan", width=16)._run_config(DataConfig(), 32, 3)
    assert cfg.fanogan.dim == 16 and cfg.net.fmap_max == 64                      # fast, the default preset
    assert Detector("fanogan")._run_config(DataConfig(), 32, 3).fanogan.dim == 64
    with pytest.raises(ConfigError, match="channels"):             # a width too thin for the resolution: at fit
        Detector(preset="tiny", width=1)._run_config(DataConfig(), 256, 3)


def test_from_run_reads_back_width_and_latent_size_as_a_refit_would_build_them() -> None:
    from dataclasses import replace

    from wildgan.config import RunConfig, TrainConfig, net_config_for_preset
    from wildgan.detector import _run_latent_size, _run_width

    def run(net, method="wildgan"):
        return RunConfig(data=DataConfig(), net=net, train=TrainConfig(total_kimg=1.0), preset="tiny", method=method)

    tiny = net_config_for_preset("tiny", 16, 1)
    assert (_run_width(run(tiny)), _run_latent_size(run(tiny))) == (None, None)
    w8 = replace(tiny, fmap_base=128, fmap_max=8, latent_size=8)                   # `--preset tiny --width 8`
    assert (_run_width(run(w8)), _run_latent_size(run(w8))) == (8, None)
    w8z12 = replace(w8, latent_size=12)                                            # ... --latent-size 12
    assert (_run_width(run(w8z12)), _run_latent_size(run(w8z12))) == (8, 12)
    d = Detector(preset="tiny", width=8, latent_size=12)
    assert d._run_config(DataConfig(), 16, 1).net == w8z12                        # the refit builds the same
    with pytest.warns(UserWarning, match="not a preset's at any width"):
        assert _run_width(run(replace(tiny, fmap_base=100))) == 16
    with pytest.raises(ConfigError, match="latent_size is for the pGAN methods"):
        Detector("fanogan", latent_size=12)._validate()
    with pytest.raises(ConfigError, match="latent_size must be a positive integer"):
        Detector(latent_size=0)._validate()


def test_image_files_are_shrunk_while_read_with_their_own_sizes_kept(tmp_path, monkeypatch):
    """A folder of large photos is not held at full size: each file is shrunk to the largest resolution the call can
    use as soon as it is read. The pixels are those of converting the full-size image, and the automatic resolution,
    crop warning and recorded native sides still see each file's own size."""
    from PIL import Image

    import wildgan.data.inputs as D
    from wildgan.data.image_decode import read_image
    from wildgan.data.transforms import resize_one

    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(80, 100), (80, 100), (40, 40), (90, 70)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    files = sorted(tmp_path.glob("*.png"))
    items, ids = D.decode_items(tmp_path, "per-image", limit=32, fit="letterbox")
    assert [a.shape for a in items] == [(32, 32, 3), (32, 32, 3), (32, 32, 3), (32, 32, 3)]
    assert D.item_shapes(items) == [(80, 100, 3), (80, 100, 3), (40, 40, 3), (90, 70, 3)]
    x, _ = D.to_images(tmp_path, resolution=32, resize_mode="letterbox")
    assert np.array_equal(x, np.stack([resize_one(read_image(f), 32, "letterbox") for f in files]))

    for i in range(4, 16):                                  # fit needs a minibatch's worth
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    seen: list[int | None] = []
    real = D._files_to_items

    def spy(*a, **k):
        seen.append(a[4] if len(a) > 4 else k.get("limit"))
        return real(*a, **k)

    monkeypatch.setattr(D, "_files_to_items", spy)
    det = Detector(preset="tiny", resolution=16, total_kimg=0.01, device="cpu").fit(tmp_path)
    assert set(seen) == {16} and det.conversion_["native_sides"] == [40, 100]
    seen.clear()
    Detector(preset="tiny", total_kimg=0.01, device="cpu").fit(tmp_path)
    assert set(seen) == {D.MAX_AUTO_RESOLUTION}             # automatic: the largest resolution fit may choose


@pytest.mark.parametrize("mode", ["resize", "pad", "letterbox"])
@pytest.mark.parametrize("channels", [None, 1])
def test_shrinking_while_reading_gives_the_pixels_of_the_full_size_images(tmp_path, mode, channels):
    """Whatever resolution the call ends at (automatic, below the shrink limit): strips whose short side is below the
    limit, photos above it, colour files made gray. The pixels equal converting each full-size file once."""
    from PIL import Image

    import wildgan.data.inputs as D
    from wildgan.data.image_decode import read_image

    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate([(30, 90), (30, 90), (70, 50), (20, 20), (20, 24)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    files = sorted(tmp_path.glob("*.png"))
    items, _ = D.decode_items(tmp_path, "per-image", limit=32, fit=mode, channels=channels)
    assert set(items.shrunk) == {0, 1, 2}                     # shrunk to 32 while read: 90 or 70 px > 32
    res, ch = D.infer_geometry(items, None, channels)
    assert res == 32                                         # median short side 30 -> 32: the limit, nothing read again
    for limit in (32, 64):                                   # 64: the call ends below its limit, files read again
        items, _ = D.decode_items(tmp_path, "per-image", limit=limit, fit=mode, channels=channels)
        for target in (16, 32):
            D.refit(items, target, "per-image", mode, channels)
            got = D.convert_items(items, target, ch, mode)
            want = np.stack([resize_one_full(read_image(f), target, ch, mode) for f in files])
            np.testing.assert_array_equal(got, want)


def resize_one_full(a, res, ch, mode):
    from wildgan.data.transforms import resize_one, to_channels

    return resize_one(to_channels(a, ch), res, mode)


# ------------------------------------------------------------------------------------------- interruption, resume
def _signal_at(monkeypatch, n: int) -> None:
    """SIGTERM (as `kill PID` or a scheduler's stop) before the n-th training iteration."""
    import os
    import signal

    import wildgan.training.loop as loop

    real, calls = loop.StepRunner.iteration, {"n": 0}

    def signalled(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, *a, **k)

    monkeypatch.setattr(loop.StepRunner, "iteration", signalled)


@pytest.mark.parametrize("kept", [False, True])
def test_a_diverged_fit_names_the_ways_on_a_detector_has(x_train, tmp_path, monkeypatch, kept) -> None:
    """training's DivergenceError advised train_run's ways on: resume=True with train.on_divergence='rollback' (a
    Detector has neither, and a resume of the same fit diverges again), and for a fit in a temporary folder the
    "last good checkpoint kept" in a folder being removed. fit names its own: another seed, or train_run with a
    RunConfig and from_run."""
    from wildgan.errors import DivergenceError
    from wildgan.training import loop

    real = loop.critic_loss

    def poisoned(*a, **k):
        loss, terms = real(*a, **k)
        return loss * float("nan"), terms

    monkeypatch.setattr(loop, "critic_loss", poisoned)
    run = tmp_path / "r"
    with pytest.raises(DivergenceError) as e:
        Detector(**{**TINY, "total_kimg": 0.05}, seed=3, run_dir=str(run) if kept else None).fit(x_train[:16])
    said = str(e.value)
    assert said.startswith("Detector.fit: training diverged: non-finite weights in G at 0.064 kimg. "), said
    assert "fit again with another seed (this fit's was 3)" in said, said
    assert ("wildgan.training.run.train_run and a wildgan.config.RunConfig with a lower train.lr, or with "
            "train.on_divergence='rollback'") in said and said.endswith("Detector.from_run(run_dir)"), said
    assert "resume" not in said and "kept" not in said and "--" not in said, said
    assert (e.value.what, e.value.lr_setting) == ("non-finite weights in G at 0.064 kimg", "train.lr")
    import pickle

    copy_ = pickle.loads(pickle.dumps(e.value))      # (the fields travel with the error, as a launcher's pickle)
    assert (str(copy_), copy_.what, copy_.lr_setting) == (said, e.value.what, "train.lr")
    if kept:
        assert (run / "log.txt").read_text(encoding="utf-8").splitlines()[-1] == f"stopped: {said}"


def test_a_resume_whose_checkpoints_all_fail_names_fit_s_way_on(tmp_path) -> None:
    """fit(resume=True) over checkpoints none of which loads: the loop's CheckpointError said "start the run again
    (overwrite=True deletes it)", train_run's keyword, which fit has not (a fit without resume=True replaces the
    run)."""
    from wildgan import checkpoint as ckpt
    from wildgan.detector import _failed_fit

    for n in (1000, 2000):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(n), {"w": torch.zeros(3)}, {"nimg": n})
        w = tmp_path / (ckpt.checkpoint_name(n) + ".safetensors")
        w.write_bytes(w.read_bytes()[:10])
    with pytest.raises(CheckpointError) as e:
        ckpt.latest_good_checkpoint(tmp_path)
    said = _failed_fit(e.value, None, tmp_path, trained=False, resume=True)
    assert type(said) is CheckpointError and str(said).startswith(f"{tmp_path}: none of its 2 checkpoint(s) loads")
    assert str(said).endswith("Restore a good checkpoint there, or fit without resume=True to train afresh"), said
    assert _failed_fit(e.value, None, tmp_path, trained=False, resume=False) is None     # (a fresh fit: no resume)


def test_a_refused_resume_quotes_a_run_path_with_spaces_and_fit_words_it_without_the_command(tmp_path):
    # the refusal's `wildgan train --out RUN --resume` printed RUN raw (split by the shell where it has a space), and
    # fit(resume=True) found that advice again by a \S+ regex, which a quoted path no longer matches
    from dataclasses import replace

    from wildgan.config import PRESETS, RunConfig, TrainConfig, net_config_for_preset, write_run_config
    from wildgan.detector import _failed_fit
    from wildgan.training.run import check_run_dir

    run = tmp_path / "my runs" / "run 1"
    run.mkdir(parents=True)
    tc = TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"], device="cpu")
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
    write_run_config(cfg, run)
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    other = replace(cfg, train=replace(tc, phase_kimg=0.04))
    with skip_bad_said_as(CLI_SKIP_BAD), pytest.raises(ConfigError) as e:      # (a command of the CLI)
        check_run_dir(other, run, resume=True)
    assert f"`wildgan train --out '{run}' --resume` alone uses the run's own config.yaml" in str(e.value), e.value
    # (train_run's Python caller: the call, with the path as a Python string)
    with pytest.raises(ConfigError) as e:
        check_run_dir(other, run, resume=True)
    assert f"train_run(read_run_config({str(run)!r}), {str(run)!r}, resume=True) resumes" in str(e.value), e.value
    api = str(_failed_fit(e.value, None, run, trained=False, resume=True))
    assert api.startswith(f"{run}: fit(resume=True) with parameters that differ from the interrupted fit's: "
                          f"train.phase_kimg: 0.02 -> 0.04; only total_kimg and minutes may change; a Detector with "
                          f"the parameters of the interrupted fit continues it"), api
    assert "wildgan train" not in api and "--" not in api, api


def test_a_fit_stopped_by_its_closed_output_says_so_in_a_sentence(tmp_path):
    """A fit whose progress bar met its stdout or stderr gone (`python fit.py 2>&1 | head`) stops at the loop's next
    round with a checkpoint, as for SIGPIPE (training.resume.StopFlag.output_closed): its error read 'Detector.fit the
    reader of its output went away ...', the stop's words put after the name as a signal's verb is."""
    import signal

    from wildgan.detector import _failed_fit
    from wildgan.errors import TrainingInterrupted

    e = TrainingInterrupted("the loop's words", signal.SIGPIPE, where="at 0.064 of 0.2 kimg",
                            checkpoint_dir=str(tmp_path / "checkpoints"))
    said = str(_failed_fit(e, None, tmp_path, trained=False, resume=False))
    assert said.startswith("Detector.fit stopped as the reader of its output went away (a pipe closed early, e.g. "
                           "by `| head`) at 0.064 of 0.2 kimg; checkpoint saved in "), said


def test_a_stopped_fit_keeps_its_way_on_apart_as_resume_advice(tmp_path):
    """Detector.fit's stops put their way on (fit(X, resume=True) ...) into the message and left resume_advice None,
    where training.run's keep it apart: a caller could not read it, nor take it off to say its own (without_advice)."""
    import signal

    from wildgan.detector import _failed_fit
    from wildgan.errors import TrainingInterrupted

    class Temp:                       # a temporary run_dir: what _failed_fit does with it
        path = tmp_path / "tmp-run"

        def keep(self):
            pass

        def cleanup(self):
            pass

    def loop_stop(complete=False):
        return TrainingInterrupted("the loop's words", signal.SIGINT, where="at 0.064 of 0.2 kimg",
                                   checkpoint_dir=str(tmp_path / "checkpoints"), complete=complete,
                                   resume_advice="continue with `wildgan train --out RUN --resume`")

    run = str(tmp_path)
    for e, temp, said, advice in (
            (loop_stop(), None, f"checkpoint saved in {tmp_path / 'checkpoints'}",
             f"fit(X, resume=True) with the same X, by a Detector of the same parameters and run_dir={run!r}, "
             f"continues it"),
            (loop_stop(), Temp(), "nothing was kept: it trained in a temporary folder",
             "give Detector(run_dir=...) to keep its checkpoints; fit(X, resume=True) then continues an interrupted "
             "fit"),
            (loop_stop(complete=True), Temp(), f"the training is complete and its networks are kept in {tmp_path}",
             f"fit(X, resume=True) with the same X, by a Detector of the same parameters and run_dir={run!r}, "
             f"finishes the fit without training again (delete the folder when done)")):
        got = _failed_fit(e, temp, tmp_path, trained=False, resume=False)
        message = f"Detector.fit interrupted by SIGINT (Ctrl-C) at 0.064 of 0.2 kimg; {said}"
        assert isinstance(got, TrainingInterrupted) and got.resume_advice == advice, got.resume_advice
        assert got.without_advice == message and got.message == message
        assert str(got) == f"{message}; {advice}" and "--resume" not in str(got)
        assert got.signum == signal.SIGINT and got.where == "at 0.064 of 0.2 kimg" and got.complete == e.complete


def test_a_stopped_fit_that_does_not_say_where_leaves_no_space_before_its_semicolon(tmp_path):
    # a stop without `where` read 'Detector.fit interrupted by SIGINT (Ctrl-C) ; checkpoint saved in ...'
    import signal

    from wildgan.detector import _failed_fit
    from wildgan.errors import TrainingInterrupted

    e = TrainingInterrupted("the loop's words", signal.SIGINT, checkpoint_dir=str(tmp_path / "checkpoints"))
    got = _failed_fit(e, None, tmp_path, trained=False, resume=False)
    assert got.without_advice == f"Detector.fit interrupted by SIGINT (Ctrl-C); checkpoint saved in " \
                                 f"{tmp_path / 'checkpoints'}", got.without_advice


def test_an_interrupted_fit_says_what_was_kept_and_resume_continues_it_exactly(x_train, tmp_path, monkeypatch):
    import signal

    from wildgan.errors import TrainingInterrupted

    params = {**TINY, "total_kimg": 0.2, "threads": 1}
    with monkeypatch.context() as m:
        _signal_at(m, 3)
        with pytest.raises(TrainingInterrupted, match=r"Detector.fit terminated by SIGTERM at .* kimg; nothing was "
                                                      r"kept.*Detector\(run_dir=...\).*resume=True") as e:
            Detector(**params).fit(x_train)                    # a temporary folder: removed, and said so
        assert "--resume" not in str(e.value) and e.value.signum == signal.SIGTERM
        run = tmp_path / "run"
        _signal_at(m, 3)
        with pytest.raises(TrainingInterrupted, match=rf"checkpoint saved in {re.escape(str(run))}.*fit\(X, "
                                                      r"resume=True\)") as e:
            Detector(run_dir=str(run), **params).fit(x_train)
        # the run's log says how the fit ended, as a `wildgan train` run's does
        assert (run / "log.txt").read_text().splitlines()[-1] == f"stopped: {e.value}"
    resumed = Detector(run_dir=str(run), **params).fit(x_train, resume=True)
    whole = Detector(run_dir=str(tmp_path / "whole"), **params).fit(x_train)
    np.testing.assert_array_equal(resumed.decision_function(x_train), whole.decision_function(x_train))
    with pytest.raises(ConfigError, match=r"resume=True .* Detector\(run_dir=...\)"):
        Detector(**params).fit(x_train, resume=True)
    # training.run's refusals of a resume, in the API's terms (no --resume / --overwrite / `wildgan train`)
    for kw, X, said in (({"resolution": 8}, x_train, "fit(resume=True) with parameters that differ"),
                        ({}, x_train[:40], "fit(resume=True) must be given the same images"),
                        # as many images, in another order: told apart by split.json's pixel checksum
                        ({}, x_train[::-1], "fit(resume=True) must be given the same images")):
        with pytest.raises(ConfigError, match=re.escape(said)) as e:
            Detector(run_dir=str(run), **{**params, **kw}).fit(X, resume=True)
        assert "--" not in str(e.value) and "wildgan train" not in str(e.value), str(e.value)
    with pytest.raises(ConfigError, match=r"nothing to resume .* fit without resume=True trains there afresh"):
        Detector(run_dir=str(tmp_path / "none"), **params).fit(x_train, resume=True)


def test_a_stop_as_training_ends_keeps_the_complete_networks_and_resume_finishes_the_fit(x_train, tmp_path,
                                                                                       monkeypatch):
    """A SIGTERM or Ctrl-C as the final networks were written (or in the last round) comes after the whole training:
    a temporary run_dir was removed with it, "nothing was kept", hours of training with it. It is kept and named, and
    fit(X, resume=True) there finishes the fit without training again, as an uninterrupted fit would have ended."""
    import os
    import shutil
    import signal

    import wildgan.checkpoint as ckpt
    from wildgan.errors import TrainingInterrupted

    params = {**TINY, "total_kimg": 0.2, "threads": 1}
    real = ckpt.save_checkpoint

    def signalled(folder, name, *a, **k):
        if name == "network-final":
            os.kill(os.getpid(), signal.SIGTERM)                 # held until both files are written
        return real(folder, name, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(ckpt, "save_checkpoint", signalled)
        with pytest.raises(TrainingInterrupted, match=r"as training ended .*the training is complete and its "
                                                      r"networks are kept in .*resume=True.*delete the folder") as e:
            Detector(**params).fit(x_train)
    assert e.value.complete and e.value.signum == signal.SIGTERM
    (kept,) = re.findall(r"run_dir='([^']+)'", str(e.value))
    try:
        assert (Path(kept) / "network-final.json").is_file()
        resumed = Detector(run_dir=kept, **params).fit(x_train, resume=True)
        whole = Detector(run_dir=str(tmp_path / "whole"), **params).fit(x_train)
        np.testing.assert_array_equal(resumed.decision_function(x_train), whole.decision_function(x_train))
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def test_a_resume_s_warnings_are_said_in_the_api_s_terms(x_train, tmp_path, monkeypatch, capsys):
    """training.run's warning on a resume whose pixels differ after a change of decoders said "start again with
    --overwrite" to a Detector's user, in its log and on stdout; its refusals were already reworded."""
    import json

    from wildgan.errors import TrainingInterrupted

    params = {**TINY, "total_kimg": 0.2, "threads": 1}
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        _signal_at(m, 3)
        with pytest.raises(TrainingInterrupted):
            Detector(run_dir=str(run), **params).fit(x_train)
    rec = json.loads((run / "split.json").read_text())
    (run / "split.json").write_text(json.dumps(dict(rec, decoders="Pillow 9.0.0 (libjpeg 8.0)")))
    capsys.readouterr()
    Detector(run_dir=str(run), verbose=True, **params).fit(x_train[::-1], resume=True)   # other pixels, same ids
    for said in (capsys.readouterr().out, (run / "log.txt").read_text()):
        (warning,) = [line for line in said.splitlines() if "the decoding changed since it was recorded" in line]
        assert "or fit without resume=True to train afresh" in warning and "--" not in warning, warning
    # a quiet Detector (verbose=False, the default) says it as a Python warning, not only in log.txt
    (run / "split.json").write_text(json.dumps(dict(rec, decoders="Pillow 9.0.0 (libjpeg 8.0)")))
    with pytest.warns(WildganWarning, match="the decoding changed since it was recorded") as got:
        Detector(run_dir=str(run), **params).fit(x_train[::-1], resume=True)
    assert capsys.readouterr().out == ""
    (w,) = [w for w in got if "decoding changed" in str(w.message)]
    assert "fit without resume=True" in str(w.message) and not str(w.message).startswith("warning:")
    # warnings filtered to errors (a notebook's warnings.simplefilter("error")): the warning stops the fit, and
    # log.txt still says why (it was raised before the line was written, and the run's log had no word of it)
    (run / "split.json").write_text(json.dumps(dict(rec, decoders="Pillow 9.0.0 (libjpeg 8.0)")))
    said = (run / "log.txt").read_text().count("the decoding changed since it was recorded")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(WildganWarning, match="the decoding changed since it was recorded"):
            Detector(run_dir=str(run), **params).fit(x_train[::-1], resume=True)
    # (the warning's line, then how the fit stopped: on it)
    assert (run / "log.txt").read_text().count("the decoding changed since it was recorded") == said + 2
    assert (run / "log.txt").read_text().splitlines()[-1].startswith("stopped: ")


def test_parameters_used_after_training_are_refused_before_it(x_train, tmp_path) -> None:
    calls = []
    d = Detector(threshold="mad", mad_k=-1, **TINY)
    d._run_config = lambda *a, **k: calls.append(1)            # type: ignore[method-assign]  # never reached
    with pytest.raises(ConfigError, match="mad_k must be a number >= 0"):
        d.fit(x_train)
    y_val = np.r_[np.zeros(40), np.ones(10)].astype(int)
    for X_val in (x_train[:60, :, :, None], list(x_train[:60])):
        with pytest.raises(DataError, match="50 labels for X_val, which holds 60 image"):
            Detector(threshold="f1", **TINY).fit(x_train, X_val=X_val, y_val=y_val)
    folder = tmp_path / "val"
    folder.mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray(x_train[i]).save(folder / f"{i}.png")
    with pytest.raises(DataError, match=f"2 labels for X_val {re.escape(str(folder))}, which holds 3 image"):
        Detector(threshold="f1", **TINY).fit(x_train, X_val=folder, y_val=[0, 1])
    # an .npz, read whole (x_train and x_test, labels ignored): its count is in its arrays' headers. It was found
    # after training, when the validation scores were made ("50 labels for 60 scores"), the fit lost
    npz = tmp_path / "val.npz"
    np.savez(npz, x_train=x_train[:40], y_train=np.zeros(40, int), x_test=x_train[40:60], y_test=np.zeros(20, int))
    # (the error says that the file is read whole: labels of its x_test alone are the likely mistake)
    # ('which holds 60' follows the file, not x_test: 'x or x_train, and x_test, which holds 60' read as x_test's)
    with pytest.raises(DataError, match=f"50 labels for X_val {re.escape(str(npz))} \\(an .npz, read whole: x or "
                                        f"x_train, and x_test\\), which holds 60 image"):
        Detector(threshold="f1", **TINY).fit(x_train, X_val=npz, y_val=y_val)
    with pytest.raises(DataError, match=f"20 labels for X_val {re.escape(str(npz))} \\(an .npz, read whole: "):
        Detector(threshold="f1", **TINY).fit(x_train, X_val=npz, y_val=np.load(npz)["y_test"])
    assert not calls


def test_a_fit_on_a_folder_records_where_and_how_it_read_it(x_train, tmp_path, monkeypatch) -> None:
    """Replayed with `wildgan train --config` from another folder, the run reads the same files the same way."""
    from PIL import Image

    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(40):
        Image.fromarray(x_train[i]).save(pile / f"{i:03d}.png")
    (pile / "broken.png").write_bytes(b"not a png")
    monkeypatch.chdir(tmp_path)
    Detector(run_dir="run", skip_bad=True, **{**TINY, "total_kimg": 0.02}).fit("pile")
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["data"]["data"] == str(pile.resolve()) and cfg["data"]["skip_bad"] is True
    # a tree of class folders is read as a pile (every file): so is its record, not as labelled classes
    from wildgan.config import read_run_config
    from wildgan.data import build_split

    tree = tmp_path / "tree"
    for i in range(40):
        (tree / ("good" if i % 2 else "scratched")).mkdir(parents=True, exist_ok=True)
        Image.fromarray(x_train[i]).save(tree / ("good" if i % 2 else "scratched") / f"{i:03d}.png")
    Detector(run_dir="run2", **{**TINY, "total_kimg": 0.02}).fit("tree")
    replay = build_split(read_run_config(tmp_path / "run2").data)
    assert len(replay.train_x) == 40


def _data_set_file(kind: str, where: Path) -> Path:
    """A tiny data-set file of `kind` under `where`: a complete cifar-10-batches-py folder (4 images per batch, with
    CIFAR-10's class names, which 'auto' reads as the cifar10 protocol: normal class automobile), its .tar.gz, or an
    .npz with labels (which 'auto' reads as labelled data, wanting a normal class)."""
    import pickle
    import tarfile

    from wildgan.data.dataset_files import CIFAR10_CLASSES

    rng = np.random.default_rng(3)
    if kind == "npz":
        x = rng.integers(0, 256, (30, 16, 16), dtype=np.uint8)
        np.savez(where / "lab.npz", x_train=x[:20], y_train=np.arange(20) % 2, x_test=x[20:], y_test=np.arange(10) % 2)
        return where / "lab.npz"
    folder = where / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [1, 2, 3, 1]}
        (folder / name).write_bytes(pickle.dumps(d, protocol=3))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in CIFAR10_CLASSES]}))
    if kind == "cifar":
        return folder
    with tarfile.open(where / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return where / "cifar-10-python.tar.gz"


@pytest.mark.filterwarnings(f"ignore:{NOT_GROWN}")
@pytest.mark.parametrize("kind", ["cifar", "cifar-tar", "npz"])
def test_a_fit_on_a_data_set_file_records_a_config_that_replays_on_all_its_images(kind, tmp_path, monkeypatch) -> None:
    """fit reads a data-set file whole, labels ignored, but recorded dataset 'unlabelled' for CIFAR-10's batch folder
    (which the 'unlabelled' read refused: 'looks like a cifar-batches data set') and 'auto' for an .npz or a CIFAR-10
    archive (replayed by their protocols: a labelled .npz wants a normal class, CIFAR-10 trained on automobile
    alone). `wildgan train --config RUN/config.json` failed or trained on other images. The recorded data now reads
    the very images fit trained on, in the order fit read them."""
    import wildgan.training.run as training_run
    from wildgan.cli import main
    from wildgan.config import read_run_config
    from wildgan.data import build_split, load_dataset

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    data = _data_set_file(kind, tmp_path)
    trained, real = [], training_run.train_run
    monkeypatch.setattr(training_run, "train_run", lambda *a, **k: trained.append(k["split"]) or real(*a, **k))
    run = tmp_path / "run"
    Detector(run_dir=str(run), **{**TINY, "total_kimg": 0.02, "threads": 1}).fit(data)
    fitted = trained[0]
    recorded = read_run_config(run).data
    assert recorded.dataset == "unlabelled" and recorded.data == str(data)
    # the same images in the same order (fit keeps the order it read them in; the split below is shuffled)
    pile, _, _ = load_dataset(recorded.data, recorded.dataset, resolution=recorded.resolution,
                              channels=recorded.channels, fit=recorded.fit)
    np.testing.assert_array_equal(pile.x, fitted.train_x)
    replay = build_split(recorded)
    assert replay.info["protocol"] == "unlabelled" and sorted(replay.train_ids) == sorted(pile.ids)
    order = {i: n for n, i in enumerate(pile.ids)}
    np.testing.assert_array_equal(replay.train_x, fitted.train_x[[order[i] for i in replay.train_ids]])
    # rebuilt for the run (its split.json: trained in the order read), as a replay follows it: fit's order itself
    recorded_split = json.loads((run / "split.json").read_text())
    assert recorded_split["train_order"] == "as read"
    np.testing.assert_array_equal(build_split(recorded, recorded=recorded_split).train_x, fitted.train_x)
    assert main(["train", "--config", str(run / "config.json"), "--out", str(tmp_path / "again"), "--dry-run"]) == 0


@pytest.mark.filterwarnings(f"ignore:{NOT_GROWN}")
def test_a_fit_recorded_auto_for_a_data_set_file_by_an_earlier_wildgan_still_resumes(tmp_path, monkeypatch) -> None:
    """A fit of an earlier wildgan on an .npz recorded dataset 'auto' (now 'unlabelled'): fit(resume=True) compares
    every recorded field, so that interrupted fit could no longer be continued ('data.dataset: 'auto' ->
    'unlabelled''). It continues, compared as that fit read its data, and the resumed record says what it trained
    on, 'unlabelled', as a fit's on a folder and the command line's resume record it: it kept 'auto' (which replays
    the .npz by its protocol, every later reading noting it), while a folder's was rewritten."""
    data = _data_set_file("npz", tmp_path)
    run = tmp_path / "run"
    params = {**TINY, "total_kimg": 0.02, "threads": 1}
    Detector(run_dir=str(run), **params).fit(data)
    config = json.loads((run / "config.json").read_text())
    config["data"]["dataset"] = "auto"
    (run / "config.json").write_text(json.dumps(config))
    yaml = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(yaml.replace("  dataset: unlabelled\n", "  dataset: auto\n"))
    assert Detector(run_dir=str(run), **params).fit(data, resume=True).n_train_ == 30
    assert json.loads((run / "config.json").read_text())["data"]["dataset"] == "unlabelled"
    assert "\n  dataset: unlabelled\n" in (run / "config.yaml").read_text()
    # anything else that differs is still refused
    with pytest.raises(ConfigError, match="data.seed: 0 -> 1"):
        Detector(run_dir=str(run), **{**params, "seed": 1}).fit(data, resume=True)


@pytest.mark.filterwarnings(f"ignore:{NOT_GROWN}")
def test_only_a_fit_s_own_auto_record_of_a_data_set_file_is_taken_over_on_resume(tmp_path, monkeypatch) -> None:
    """fit(resume=True) took a recorded 'auto' over for any 'unlabelled' resume: a DataConfig's, and a run whose
    'auto' was a protocol (`wildgan train`'s, a DataConfig fit's: no detector_input in split.json), which then went on
    to the image check and its 'training images changed' instead of the difference that is the mistake. Only a fit on
    a data-set file resuming a fit's own run takes it over; a protocol's record ('npz', 'cifar10') never."""
    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    data = _data_set_file("npz", tmp_path)
    run = tmp_path / "run"
    params = {**TINY, "total_kimg": 0.02, "threads": 1}
    Detector(run_dir=str(run), **params).fit(data)
    config, split = (json.loads((run / name).read_text()) for name in ("config.json", "split.json"))

    def record(dataset: str, detector_input: bool = True) -> None:
        (run / "config.json").write_text(json.dumps({**config, "data": {**config["data"], "dataset": dataset}}))
        (run / "split.json").write_text(json.dumps({**split, "detector_input": detector_input}))

    spec = DataConfig(data=str(data), dataset="unlabelled", resolution=16)
    for dataset, detector_input, given in (("npz", True, data), ("cifar10", True, data), ("auto", False, data),
                                           ("auto", False, spec), ("auto", True, spec)):
        record(dataset, detector_input)
        with pytest.raises(ConfigError, match=f"data.dataset: '{dataset}' -> 'unlabelled'"):
            Detector(run_dir=str(run), **params).fit(given, resume=True)


def test_fit_into_a_run_dir_in_use_is_refused_before_the_data_is_decoded(tmp_path, monkeypatch) -> None:
    # the lock refused it only in train_run, after a DataConfig's images (or a folder's files) had been decoded
    import wildgan.data
    from wildgan.config import DataConfig
    from wildgan.data.readers import default_sample_path
    from wildgan.errors import ConfigError
    from wildgan.training.run import run_lock

    monkeypatch.setattr(wildgan.data, "build_split", lambda *a, **k: pytest.fail("the data was decoded first"))
    run = tmp_path / "run"
    run.mkdir()
    det = Detector(preset="tiny", run_dir=str(run), total_kimg=0.01)
    with run_lock(run):
        for X in (DataConfig(data=str(default_sample_path()), dataset="mnist", normal=("0",)),
                  str(default_sample_path())):
            with pytest.raises(ConfigError, match=rf"{run} is in use by another wildgan process"):
                det.fit(X)


def test_fit_marks_its_run_while_its_training_holds_the_run_lock(x_train, tmp_path, monkeypatch) -> None:
    """DETECTOR.txt lets a later fit replace the run. It was written after train_run returned, so after the run lock
    was released: a process that took the folder in between had its run marked as a fit's, for a later fit to delete.
    It is now written by train_run's before_unlock, while the fit's own training holds the lock."""
    from pathlib import Path

    from wildgan.training.run import check_lock_free

    real_write, held_when_written = Path.write_text, []

    def write_text(self, *a, **k):
        if self.name == "DETECTOR.txt":
            try:
                check_lock_free(self.parent)
                held_when_written.append(False)
            except ConfigError:
                held_when_written.append(True)
        return real_write(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    run = tmp_path / "own"
    Detector(run_dir=str(run), **{**TINY, "total_kimg": 0.05}).fit(x_train[:16])
    assert held_when_written == [True]


def test_a_fit_s_log_txt_ends_its_training_as_train_run_s_does(det) -> None:
    # a fit's log.txt said what it trained on, but not how the training ended, which `wildgan train` and train_run
    # write ("trained ... (done); networks in ..."); and its lines once, train_run leaving the file to the fit's log
    lines = (det.run_dir_ / "log.txt").read_text().splitlines()
    assert len([ln for ln in lines if ln.startswith("training wildgan (tiny) on ")]) == 1, lines
    (done,) = [ln for ln in lines if ln.startswith("trained ")]
    assert done.endswith(f" kimg (done); networks in {det.run_dir_ / 'network-final.json'}"), lines


def test_a_log_txt_that_cannot_be_written_does_not_stop_a_fit(x_train, tmp_path, monkeypatch, capsys) -> None:
    """log.txt is a copy of what the fit says, as a CLI run's is (fileio.append_log_line): a write that fails there (a
    full disk, a read-only file) stopped Detector.fit with an OSError, and since the line is written first (so that
    a warning filtered to an error still leaves it in the log) the line itself was not even shown."""
    import errno

    from wildgan import detector as detector_module
    from wildgan import fileio

    real = fileio.append_line

    def full(path, line):
        if Path(path).name == "log.txt":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, line)

    monkeypatch.setattr(fileio, "append_line", full)
    monkeypatch.setattr(detector_module, "append_line", full, raising=False)     # (its own name for it, if it has one)
    with pytest.warns(WildganWarning, match=NOT_GROWN):
        det = Detector(run_dir=str(tmp_path / "run"), verbose=True, **{**TINY, "total_kimg": 0.05, "threads": 1}
                       ).fit(x_train)
    out = capsys.readouterr().out
    assert "training wildgan (tiny) on 64 images" in out
    # images given to fit are an unlabelled pile, as the CLI's pile says: not '0 injected anomalies'
    assert "(an unlabelled pile: anomalies unknown)" in out and "injected" not in out, out
    assert len(det.decision_scores_) == N_TRAIN and not (tmp_path / "run" / "log.txt").exists()


def test_from_run_skip_bad_leaves_unreadable_training_files_out(pile_run_gone_bad) -> None:
    """Detector.from_run of a run one of whose training files became unreadable since training: a DataError naming
    the file without skip_bad, which says skip_bad=True (the CLI's --skip-bad is no argument of from_run); with it the
    threshold comes from the readable training images, the file named in a warning that says skip_bad=True too."""
    run, pile, _ = pile_run_gone_bad
    # (not cached: read at the first call that needs the training scores)
    with pytest.raises(DataError, match=rf"{re.escape(str(pile / '03.png'))}: not a readable image") as e:
        Detector.from_run(run, threshold="mad", device="cpu").threshold_
    assert "(skip_bad=True leaves unreadable files out)" in str(e.value) and "--skip-bad" not in str(e.value)
    for _ in range(2):                       # computed (and cached), then read from the cache
        with pytest.warns(WildganWarning) as got:
            d = Detector.from_run(run, threshold="mad", device="cpu", skip_bad=True)
            d.threshold_
        assert d.n_train_ == 19 and d.threshold_rule_.params["n"] == 19 and d.skip_bad
        said = [str(w.message) for w in got if "leave out 1 unreadable file" in str(w.message)]
        # in this API's terms: the CLI's --skip-bad is no argument of from_run
        assert len(said) == 1 and str(pile / "03.png") in said[0] and "--skip-bad" not in said[0], said
        assert "Without skip_bad=True they are read again" in said[0]
    assert "(scored with skip_bad=True)" in said[0]


def test_a_fits_cache_that_leaves_a_file_out_says_it_was_a_training_image_when_read(fit_run_gone_bad) -> None:
    """A Detector.fit on a folder trained on every file it read. Its training scores computed with skip_bad while a
    file was unreadable said so ("leave out 1 unreadable file ... (19 images scored)"); the same cache read back
    (from_run again, `wildgan score --threshold`) said the file was "a training, test or unused image each, which
    the rebuild cannot tell", as for a labelled run's split. Both now say it was a training image."""
    run, pile, _ = fit_run_gone_bad
    for _ in range(2):                       # computed (and cached), then read from the cache
        with pytest.warns(WildganWarning) as got:
            d = Detector.from_run(run, threshold="mad", device="cpu", skip_bad=True)
            d.threshold_                     # (not cached: read at the first call that needs them)
        assert d.n_train_ == 19, d.n_train_
        said = [str(w.message) for w in got if str(pile / "03.png") in str(w.message)]
        assert len(said) == 1 and "the training scores leave out 1 unreadable file of the run's data (19 images " \
            "scored)" in said[0], said
        assert "unused" not in said[0], said


def _f1_fit_run_cached_with_skip_bad(tmp_path: Path) -> tuple[Path, Path, bytes, Detector]:
    """A tiny Detector.fit(threshold='f1') run on the folder tmp_path/pile (20 grey 8x8 PNGs, fit without skip_bad),
    whose training scores were cached again with skip_bad after fit's cache was deleted and pile/03.png truncated (the
    cache leaves it out). Returns (run, pile, the file's good bytes, the fitted Detector)."""
    from PIL import Image

    pile, run = tmp_path / "pile", tmp_path / "run"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (networks not grown: a fit this short ends at 4x4)
        det = Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                       threshold="f1", run_dir=str(run)).fit(str(pile), X_val=rng.integers(0, 255, (8, 8, 8)),
                                                             y_val=np.r_[np.ones(3), np.zeros(5)])
    for f in run.glob("train_scores*"):
        f.unlink()
    good = (pile / "03.png").read_bytes()
    (pile / "03.png").write_bytes(good[:40])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training_scores(run, skip_bad=True, device="cpu")
    assert json.loads((run / "train_scores.json").read_text())["skipped"]       # (the cache leaves 03.png out)
    return run, pile, good, det


def test_from_run_skip_bad_keeps_fit_s_f1_threshold_over_a_cache_that_leaves_a_file_out(tmp_path) -> None:
    """A Detector.fit(threshold='f1') run whose training scores were cached with skip_bad while a file was unreadable:
    from_run(RUN, skip_bad=True) reads that cache for its training scores, but the check whether fit's f1 value still
    applies read it without skip_bad, found none, and said the scores were "no longer cached", thresholding by
    contamination instead. Now it keeps fit's f1 threshold, and the file left out is said once."""
    run, pile, _, det = _f1_fit_run_cached_with_skip_bad(tmp_path)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        back = Detector.from_run(run, device="cpu", skip_bad=True)
    said = [str(w.message) for w in got]
    assert (back.threshold, back.threshold_, back.n_train_) == ("f1", det.threshold_, 19), said
    assert not any("no longer cached" in w for w in said), said
    assert len([w for w in said if str(pile / "03.png") in w]) == 1, said


def test_from_run_without_skip_bad_keeps_fit_s_f1_threshold_where_the_cache_was_written_with_skip_bad(
        tmp_path) -> None:
    """fit's f1 threshold is a fixed value, chosen on a validation set the run does not keep; the training-score cache
    from_run checks is only evidence that the same networks' scores are still there. That check read the cache with
    from_run's skip_bad, so a plain from_run(RUN) of a run whose cache a scoring with skip_bad wrote lost fit's f1
    threshold, said the scores were "no longer cached", and thresholded by contamination: once the data is restored
    (the scores computed again, whole), and in a warning before the DataError while it is not."""
    run, pile, good, det = _f1_fit_run_cached_with_skip_bad(tmp_path)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        with pytest.raises(DataError, match="03.png"):        # (read without skip_bad: the file stops it)
            Detector.from_run(run, device="cpu").threshold_    # (at the first call that needs them)
    assert not any("no longer cached" in str(w.message) for w in got), [str(w.message) for w in got]
    (pile / "03.png").write_bytes(good)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        back = Detector.from_run(run, device="cpu")
        back.threshold_
    said = [str(w.message) for w in got]
    assert (back.threshold, back.threshold_, back.n_train_) == ("f1", det.threshold_, 20), said
    assert not any("no longer cached" in w for w in said), said


def test_the_report_shows_fit_s_f1_threshold_where_its_protocol_s_cache_was_written_with_skip_bad(tmp_path) -> None:
    """The report's row of fit's threshold read fit's protocol's training-score cache with the report's skip_bad:
    one written with skip_bad hid fit's f1 row, saying its scores were "missing or no longer of these networks'
    scoring", which they are not. fit's f1 is a recorded value (the cache is only evidence that these networks'
    scores are there, as from_run reads it): shown, its training images flagged counted among those the cache holds,
    which the page says. Here the report is of the isolated protocol, whose cache is whole (the file restored)."""
    from wildgan.evaluation.report import run_report

    run, pile, good, det = _f1_fit_run_cached_with_skip_bad(tmp_path)
    (pile / "03.png").write_bytes(good)
    run_training_scores(run, device="cpu", batch_mode="isolated")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        run_report(run, top_k_images=0, device="cpu", controls=False, batch_mode="isolated")
    assert not [str(w.message) for w in got if "03.png" in str(w.message)], [str(w.message) for w in got]
    md = (run / "report" / "report.md").read_text()
    assert "missing or no longer" not in md
    (row,) = [r for r in md.splitlines() if r.startswith("| Detector.fit's: f1 on fit's validation set, mixed ")]
    value, flagged = [c.strip() for c in row.strip("|").split("|")][1:]
    assert float(value) == pytest.approx(det.threshold_, rel=1e-5) and flagged.split()[1:3] == ["of", "19"], row
    assert "Its training images flagged are counted among the 19 whose scores train_scores.csv holds: computed " \
           "with skip_bad=True, which left out 1 file unreadable by then." in md
    assert "| contamination, c = 0.05 | " in md and "of 20 (" in md         # (the report's own rules: all 20)


def test_training_scores_refused_without_skip_bad_say_their_cache_is_there_but_leaves_a_file_out(tmp_path,
                                                                                                 capsys) -> None:
    """A training-score cache written with skip_bad is current but read only with skip_bad. Computing the scores
    again without it, the file still unreadable, the error called that cache "missing or stale": it is there, of
    these networks, and skip_bad (as the caller gives it: skip_bad=True, the CLI's --skip-bad) reads it."""
    from wildgan.cli import main

    run, pile, _, _ = _f1_fit_run_cached_with_skip_bad(tmp_path)
    with pytest.raises(DataError) as e:
        run_training_scores(run, device="cpu")
    said = str(e.value)
    assert said.startswith(f"{run / 'train_scores.csv'} was computed with skip_bad=True, which left out 1 file "
                           f"unreadable by then (such a cache is read only with skip_bad=True), and computing the "
                           f"training scores again needs the run's training images: "), said
    assert str(pile / "03.png") in said and "missing or stale" not in said, said
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(run), "--data", str(pile / "00.png"), "--threshold", "contamination",
                     "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "was computed with --skip-bad, which left out 1 file unreadable by then (such a cache is read only " \
           "with --skip-bad)" in err and "missing or stale" not in err, err


def test_training_scores_of_a_run_trained_with_skip_bad_do_not_say_skip_bad_was_asked(pile_run_gone_bad) -> None:
    """A run trained with --skip-bad reads its training images so whatever the caller asks: its training scores leave
    a file unreadable since training out without --skip-bad now, and take the cache as it is. The warning said they
    were 'scored with --skip-bad' and that without it the file is read again, neither of which is so there."""
    from dataclasses import replace

    from wildgan.scoring.run import load_model

    run, pile, _ = pile_run_gone_bad
    model = load_model(run, "cpu")
    model = replace(model, cfg=replace(model.cfg, data=replace(model.cfg.data, skip_bad=True)))
    for _ in range(2):                                  # computed and cached, then read from the cache
        with pytest.warns(WildganWarning) as got:
            assert len(run_training_scores(run, model)["a"]) == 19
        said = [str(w.message) for w in got if "leave out 1 unreadable file" in str(w.message)]
        assert len(said) == 1 and str(pile / "03.png") in said[0], said
        assert "they are read again" not in said[0] and "scored with" not in said[0]
        # (in the words of this caller, Python's: the CLI's --skip-bad is said by its commands, test_cli)
        assert "The run was trained with skip_bad=True" in said[0]


def test_a_fits_log_has_the_warnings_about_its_images_each_once(tmp_path) -> None:
    """log.txt has the warnings a fit gives about its images (said before the run folder is chosen: written before
    its first line), and a warning the fit both logs and says (a quiet Detector's) once, not twice."""
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 255, (12, 12) if i < 4 else (16, 16), dtype=np.uint8) for i in range(16)]
    with pytest.warns(WildganWarning) as said:
        Detector(run_dir=str(tmp_path / "run"), **{**TINY, "resolution": None, "total_kimg": 0.05}).fit(x)
    assert any("images of 2 different sizes" in str(w.message) for w in said)
    log = (tmp_path / "run" / "log.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(log) if line.startswith("training wildgan"))
    assert log[0].startswith("warning: images of 2 different sizes: all are made square and resized to 16x16"), log
    assert start == 1 and sum(line.startswith(f"warning: {NOT_GROWN}") for line in log) == 1, log
    assert len(set(log)) == len(log), log


def test_a_run_dir_inside_another_runs_own_folder_is_refused_in_the_apis_words(tmp_path) -> None:
    """training.run refuses a run inside another run's report/ (which `wildgan report` replaces): through fit it
    named the CLI's option ('--out RUN/report/x ... choose an --out outside it'), which a Detector has not."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"net": {}, "train": {}}')       # what tells a run's folder (is_run_dir)
    (run / "split.json").write_text("{}")
    x = np.random.default_rng(0).integers(0, 255, (40, 16, 16), dtype=np.uint8)
    with pytest.raises(ConfigError) as got:
        Detector(run_dir=str(run / "report" / "x"), **TINY).fit(x)
    assert str(got.value).startswith(f"run_dir {run / 'report' / 'x'} is inside the run {run}, in its report/ "
                                     f"folder"), got.value
    assert str(got.value).endswith("; choose another run_dir outside it") and "--out" not in str(got.value), got.value
    # and the refused fit made no folder there (it made RUN/report/x, inside the other run, before train_run refused)
    assert not (run / "report").exists()


def test_a_second_fit_in_the_process_logs_the_warnings_about_its_images_too(tmp_path) -> None:
    """Python shows a warning once per source location: two fits from one line (a loop) meet the same warning
    there, and the second fit's log.txt must have it too (runlog.copying_warnings forgets the wildgan warnings shown
    when a fit starts; a fit also happened to reset them by a catch_warnings block of its own, so this held before)."""
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 255, (12, 12) if i < 4 else (16, 16), dtype=np.uint8) for i in range(16)]
    import warnings

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        for name in ("one", "two"):
            Detector(run_dir=str(tmp_path / name), **{**TINY, "resolution": None, "total_kimg": 0.05}).fit(x)
    sizes = "images of 2 different sizes: all are made square and resized to 16x16"
    for name in ("one", "two"):
        assert (tmp_path / name / "log.txt").read_text().splitlines()[0].startswith(f"warning: {sizes}"), name
    assert sum(str(w.message).startswith(sizes) for w in shown) == 2       # once per fit on the terminal


def test_fit_into_a_run_dir_that_cannot_be_written_says_so(x_train, tmp_path, monkeypatch) -> None:
    # a read-only run_dir raised a bare OSError "[Errno 30] Read-only file system: 'run'" from training's mkdir
    import errno
    import os

    mkdir = os.mkdir

    def read_only(p, *a, **k):
        if Path(p).name == "run":
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(p))
        return mkdir(p, *a, **k)

    monkeypatch.setattr(os, "mkdir", read_only)
    with pytest.raises(ConfigError, match=rf"cannot write the run folder {tmp_path / 'run'}: read-only file system; "
                                          r"train into a folder that can be written \(run_dir=DIR\)$"):
        Detector(run_dir=str(tmp_path / "run"), **{**TINY, "total_kimg": 0.05}).fit(x_train)
    assert not (tmp_path / "run").exists()


def test_a_fit_on_the_embedded_sample_records_it_by_name(tmp_path, cli_run: Path) -> None:
    # fit(<the sample's .npz path>) recorded this installation's path to it in config.json and the saved Detector,
    # where CLI runs record config.SAMPLE_TOKEN: the path is another one wherever wildgan is installed next
    from wildgan.config import SAMPLE_TOKEN

    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", NOT_GROWN, WildganWarning)
        det = Detector(run_dir=str(run), **{**TINY, "total_kimg": 0.01}).fit(str(default_sample_path()))
    assert json.loads((run / "config.json").read_text())["data"]["data"] == SAMPLE_TOKEN
    assert json.loads(det.save(tmp_path / "saved").read_text())["config"]["data"]["data"] == SAMPLE_TOKEN
    # (what the images are is still told by their path, as a CLI run's split.json tells it)
    assert json.loads((run / "split.json").read_text())["source"] == str(default_sample_path().resolve())
    # and a fit on a DataConfig that names the sample by its path (the cli_run fixture's), the same
    assert json.loads((cli_run / "config.json").read_text())["data"]["data"] == SAMPLE_TOKEN


@pytest.mark.filterwarnings("ignore:training ended at")      # (a short run: grown to 4x4 only)
def test_a_fit_on_a_relative_data_path_records_it_absolute_as_the_cli_does(tmp_path, monkeypatch) -> None:
    """Detector.fit(DataConfig(data='toy.npz')) recorded the path as typed (the CLI records --data absolute): from
    another working folder its config.yaml replay did not find the data, and a run scored or evaluated there (which
    falls back on split.json's source only when the path is not found) read that folder's toy.npz instead. A run
    recorded relative (by an earlier fit) still scores and resumes from its own folder, and its resume then records
    the path absolute."""
    from wildgan.cli import main

    home, elsewhere, run = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "run"
    home.mkdir()
    elsewhere.mkdir()
    x = (np.random.default_rng(0).random((96, 16, 16)) * 255).astype(np.uint8)
    x[48:] //= 4
    np.savez(home / "toy.npz", x=x, y=np.repeat([0, 1], 48))
    params = {**TINY, "total_kimg": 0.064, "threads": 1}
    spec = DataConfig(data="toy.npz", normal=("0",))
    monkeypatch.chdir(home)
    Detector(run_dir=str(run), **params).fit(spec)
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["data"] == str(home / "toy.npz")
    n_train = json.loads((run / "split.json").read_text())["n_train"]
    # from another folder, which holds a toy.npz of its own: the run's training split (no cache: rebuilt from the
    # recorded data) and its evaluation read the run's data, not that file (a path recorded as typed named it there)
    np.savez(elsewhere / "toy.npz", x=x[::2], y=np.repeat([0, 1], 24))
    monkeypatch.chdir(elsewhere)
    for f in run.glob("train_scores*"):
        f.unlink()
    assert len(Detector.from_run(run, device="cpu").decision_scores_) == n_train
    assert main(["evaluate", str(run), "--no-controls", "--no-progress"]) == 0
    # a run recorded with the path as typed (an earlier wildgan's fit): from_run and resume=True from its folder
    (run / "config.json").write_text(json.dumps({**config, "data": {**config["data"], "data": "toy.npz"}}))
    for f in run.glob("train_scores*"):
        f.unlink()
    monkeypatch.chdir(home)
    assert len(Detector.from_run(run, device="cpu").decision_scores_) == n_train
    Detector(run_dir=str(run), **params).fit(spec, resume=True)
    assert json.loads((run / "config.json").read_text())["data"]["data"] == str(home / "toy.npz")


def _relative_run(tmp_path: Path, monkeypatch) -> tuple[Path, Path, np.ndarray]:
    """A tiny run fit from folder home on home/toy.npz (96 images, 38 of them training images) and recorded with
    the path as typed, 'toy.npz', as before train_run made it absolute: (home, run, the images)."""
    home, run = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    x = (np.random.default_rng(0).random((96, 16, 16)) * 255).astype(np.uint8)
    x[48:] //= 4
    np.savez(home / "toy.npz", x=x, y=np.repeat([0, 1], 48))
    monkeypatch.chdir(home)
    Detector(run_dir=str(run), **{**TINY, "total_kimg": 0.064, "threads": 1}).fit(
        DataConfig(data="toy.npz", normal=("0",)))
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "data": {**config["data"], "data": "toy.npz"}}))
    for f in run.glob("train_scores*"):
        f.unlink()
    return home, run, x


def _from_run_said(run: Path) -> tuple[int, list[str]]:
    """(how many training scores Detector.from_run(run) holds, the warnings it gave)."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        n = len(Detector.from_run(run, device="cpu").decision_scores_)
    return n, [str(w.message) for w in got]


@pytest.mark.filterwarnings("ignore:training ended at")      # (a short run: grown to 4x4 only)
def test_a_run_recorded_relative_reads_split_json_source_not_a_file_of_that_name_here(tmp_path, monkeypatch) -> None:
    """read_run_config fell back on split.json's absolute source only where the recorded relative path did not exist
    from the current folder: from a folder holding another toy.npz, from_run scored that file's 19 training images
    instead of the run's 38. The source, where the run's data really was, is preferred; a run whose data moved (the
    source gone) still reads the recorded path from where it is now."""
    from wildgan.config import read_run_config

    home, run, x = _relative_run(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.savez(elsewhere / "toy.npz", x=x[::2], y=np.repeat([0, 1], 24))       # the decoy: 19 training images
    monkeypatch.chdir(elsewhere)
    assert read_run_config(run).data.data == str(home / "toy.npz")
    n, said = _from_run_said(run)
    assert n == 38 and not [m for m in said if "changed since" in m], said
    # from the data's own folder: the same file either way
    monkeypatch.chdir(home)
    assert Path(read_run_config(run).data.data).resolve() == (home / "toy.npz").resolve()
    # the data moved with its folder (split.json's source is gone): the recorded relative path, read from there
    moved = tmp_path / "moved"
    home.rename(moved)
    monkeypatch.chdir(moved)
    assert read_run_config(run).data.data == "toy.npz"
    for f in run.glob("train_scores*"):
        f.unlink()
    n, said = _from_run_said(run)
    assert n == 38 and not [m for m in said if "changed since" in m], said


@pytest.mark.filterwarnings("ignore:training ended at")
def test_training_scores_of_changed_data_are_said_and_never_cached_as_the_runs(tmp_path, monkeypatch) -> None:
    """A run's training images decoded a level apart since training (another Pillow or libjpeg: the same files):
    from_run's training scores (the threshold's) are of the images as they decode now, said naming the run and the
    file; but they were also cached in train_scores.csv, under a key that does not name the pixels, so every later
    from_run, score --threshold or report took them for the run's scores without a word, even once the decoding was
    back. Now they are cached under those pixels' checksum, read only where the rebuilt split has those very pixels
    (said again each time, not scored again), and the run's own scores once the data is back. Other images than the
    run was trained on (a data file replaced by one with half its images) are refused: see the test after this one."""
    home, run, x = _relative_run(tmp_path, monkeypatch)
    data = home / "toy.npz"
    kept = data.read_bytes()
    n, said = _from_run_said(run)                      # unchanged data: no warning, and the cache written
    assert n == 38 and not [m for m in said if "changed since" in m], said
    assert (run / "train_scores.csv").is_file()
    for f in run.glob("train_scores*"):
        f.unlink()
    # every image a level brighter, as another decoder might give them, and split.json made by other decoders
    np.savez(data, x=np.minimum(x.astype(np.int16) + 1, 255).astype(np.uint8), y=np.repeat([0, 1], 48))
    split_json = run / "split.json"
    rec = json.loads(split_json.read_text())
    split_json.write_text(json.dumps({**rec, "decoders": "Pillow 9.0.0 (libjpeg 8.0)"}))
    written = None
    for _ in range(2):
        n, said = _from_run_said(run)
        (warning,) = [m for m in said if "changed since" in m]
        assert n == 38 and f"{data} changed since {run} was trained (the training images' pixels" in warning, warning
        assert "(38 of them, split.json: 38), their scores cached for these pixels only" in warning, warning
        cache = run / "train_scores.csv"
        # cached under those pixels' checksum: the second time read, not scored again (and said again)
        assert written in (None, (cache.stat().st_mtime_ns, cache.read_bytes()))
        written = cache.stat().st_mtime_ns, cache.read_bytes()
        assert "train_pixels_sha256" in json.loads((run / "train_scores.json").read_text())
    data.write_bytes(kept)
    split_json.write_text(json.dumps(rec))
    n, said = _from_run_said(run)
    assert n == 38 and not [m for m in said if "changed since" in m], said


@pytest.mark.filterwarnings("ignore:training ended at")
def test_from_run_of_changed_data_thresholds_on_the_images_trained_on_or_refuses(tmp_path, monkeypatch) -> None:
    """A run's data file replaced since training by one with half its images: from_run with the run's cached training
    scores thresholded on those (the 38 images trained on), and without them on the 19 images read now, said in a
    warning: two thresholds for one run depending on a cache file, the second from images the networks never saw.
    Now the cached scores are used, and without them from_run is refused, naming the file, what changed and that the
    scores of the images trained on are missing; nothing is cached of the images read now."""
    home, run, x = _relative_run(tmp_path, monkeypatch)
    data = home / "toy.npz"
    kept = data.read_bytes()
    first = Detector.from_run(run, device="cpu")
    first.threshold_                                    # unchanged data: scored and cached (at first use)
    cached = {f.name: f.read_bytes() for f in run.glob("train_scores*")}
    np.savez(data, x=x[::2], y=np.repeat([0, 1], 24))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # the data is not read: nothing to say
        again = Detector.from_run(run, device="cpu")
    assert again.threshold_ == first.threshold_ and again.n_train_ == 38
    for f in run.glob("train_scores*"):
        f.unlink()
    with pytest.raises(DataError, match=f"{re.escape(str(data))} changed since {re.escape(str(run))} was trained "
                                        f"\\(n_train 38 -> 19.*train_scores.csv, the scores of the training images "
                                        f"it was trained on, is missing or stale"):
        Detector.from_run(run, device="cpu").threshold_
    assert not list(run.glob("train_scores*"))
    data.write_bytes(kept)
    assert Detector.from_run(run, device="cpu").threshold_ == first.threshold_
    assert {f.name: f.read_bytes() for f in run.glob("train_scores*")} == cached


@pytest.mark.filterwarnings("ignore:training ended at")      # (a short run: grown to 4x4 only)
def test_a_fit_on_the_default_data_records_where_wildgan_data_points_as_the_cli_does(tmp_path, monkeypatch) -> None:
    """Detector.fit(DataConfig()) trains on $WILDGAN_DATA and recorded no path (the CLI records where the variable
    points): once the variable named another data set, the run's training split rebuilt from its config (from_run,
    evaluate, a --config replay) was that other data set's, without a word. Images in memory still record none."""
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    x = (np.random.default_rng(0).random((96, 16, 16)) * 255).astype(np.uint8)
    x[48:] //= 4
    np.savez(a, x=x, y=np.repeat([0, 1], 48))
    np.savez(b, x=x[::2], y=np.repeat([0, 1], 24))
    params = {**TINY, "total_kimg": 0.064, "threads": 1}
    monkeypatch.setenv("WILDGAN_DATA", str(a))
    run = tmp_path / "run"
    Detector(run_dir=str(run), **params).fit(DataConfig(normal=("0",)))
    assert json.loads((run / "config.json").read_text())["data"]["data"] == str(a)
    n_train = json.loads((run / "split.json").read_text())["n_train"]
    monkeypatch.setenv("WILDGAN_DATA", str(b))
    for f in run.glob("train_scores*"):
        f.unlink()
    assert len(Detector.from_run(run, device="cpu").decision_scores_) == n_train
    # images in memory: $WILDGAN_DATA is not what they are, so no path is recorded for them
    Detector(run_dir=str(tmp_path / "mem"), **params).fit(x[:48])
    assert json.loads((tmp_path / "mem" / "config.json").read_text())["data"]["data"] is None


@pytest.mark.filterwarnings("ignore:training ended at")
def test_a_run_recorded_relative_reads_the_same_config_and_cache_from_its_data_folder_and_elsewhere(
        tmp_path, monkeypatch) -> None:
    """From the data's own folder, read_run_config kept the relative 'toy.npz' (the very file split.json's source
    names), elsewhere it read the absolute source: two configs, so two training-score cache keys, and each change of
    folder scored the training images again (the cache written from one folder was stale in the other). Now the
    source is read from both, and a cache written from one folder is read from the other."""
    from wildgan.config import read_run_config

    home, run, _ = _relative_run(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert read_run_config(run).data.data == str(home / "toy.npz")
    n, said = _from_run_said(run)                       # from home: scored, and cached
    assert n == 38 and not [m for m in said if "changed since" in m], said
    cache = run / "train_scores.csv"
    written = cache.stat().st_mtime_ns, cache.read_bytes()
    monkeypatch.chdir(elsewhere)
    assert read_run_config(run).data.data == str(home / "toy.npz")
    n, said = _from_run_said(run)
    assert n == 38 and not [m for m in said if "changed since" in m], said
    assert (cache.stat().st_mtime_ns, cache.read_bytes()) == written      # read, not scored again


def _fit_a_tiny_run(tmp_path: Path, **params: object) -> tuple[np.ndarray, Path, Detector]:
    """24 random 16x16 gray images, and a tiny Detector fitted on them into tmp_path/det with `params` (an f1
    threshold with a validation set of the first 8, 3 of them anomalies): the images, the run, the Detector."""
    x = np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)
    run = tmp_path / "det"
    val = {"X_val": x[:8], "y_val": np.r_[np.ones(3), np.zeros(5)]} if params.get("threshold") == "f1" else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                       **params).fit(x, **val)
    return x, run, det


@pytest.mark.parametrize("params, other", [
    ({"contamination": 0.2}, {"contamination": 0.05}),
    ({"threshold": "mad", "mad_k": 2.0, "batch_mode": "isolated"}, {"mad_k": 3.0}),
    ({"threshold": "f1"}, {"threshold": "contamination"})])
def test_from_run_of_a_fit_run_thresholds_by_the_rule_fit_recorded(tmp_path, params, other) -> None:
    """Detector.from_run(RUN) of a run that Detector.fit wrote took its own defaults (contamination 0.05, mixed), not
    the rule fit recorded in RUN/detector_threshold.json: the reloaded Detector flagged other images than the fitted
    one, silently. Now it takes the recorded rule, parameter and protocol (an f1 threshold as recorded), the same
    value the report shows; an argument given still wins, said in one warning naming the file and both values."""
    from wildgan.evaluation.report import _fit_rule
    from wildgan.thresholds import FIT_THRESHOLD_FILE

    x, run, det = _fit_a_tiny_run(tmp_path, **params)
    record = (run / FIT_THRESHOLD_FILE).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # the record applies as it is: nothing to say
        back = Detector.from_run(run, device="cpu")
    assert back.threshold_ == det.threshold_ and back.threshold_rule_.rule == det.threshold_rule_.rule
    np.testing.assert_array_equal(back.labels_, det.labels_)
    keys = ("threshold", "contamination", "mad_k", "batch_mode", "score", "lam")
    assert {k: back.get_params()[k] for k in keys} == {k: det.get_params()[k] for k in keys}
    # the report's row of fit's threshold is the reloaded Detector's, also after a set_threshold (no file written)
    row, _ = _fit_rule(run, back.model_, "a")
    assert row is not None and row[1].value == back.threshold_
    back.set_threshold("mad", mad_k=1.0)
    assert (run / FIT_THRESHOLD_FILE).read_bytes() == record
    assert _fit_rule(run, back.model_, "a")[0][1].value == det.threshold_ != back.threshold_
    # an argument given wins, in one warning that names the file and both values
    with pytest.warns(WildganWarning) as got:
        given = Detector.from_run(run, device="cpu", **other)
    said = [str(w.message) for w in got if FIT_THRESHOLD_FILE in str(w.message)]
    assert len(said) == 1 and str(run / FIT_THRESHOLD_FILE) in said[0], said
    was = {"contamination": "contamination (c=0.2)", "mad": "mad (k=2)", "f1": "f1"}[det.threshold_rule_.rule]
    now = {"contamination": "contamination (c=0.05)", "mad": "mad (k=3)"}[given.threshold_rule_.rule]
    assert f"threshold {was} -> {now}" in said[0], said
    assert given.threshold_ != det.threshold_ or given.threshold_rule_.rule != det.threshold_rule_.rule
    # a run without the record (a `wildgan train` run) takes from_run's defaults, as before
    (run / FIT_THRESHOLD_FILE).unlink()
    plain = Detector.from_run(run, device="cpu")
    assert (plain.threshold, plain.contamination, plain.batch_mode) == ("contamination", 0.05, "mixed")
    # a record that cannot be read is said, not silently replaced by the defaults
    (run / FIT_THRESHOLD_FILE).write_text("{")
    with pytest.warns(WildganWarning, match=f"{re.escape(str(run / FIT_THRESHOLD_FILE))}: .*cannot be read"):
        assert Detector.from_run(run, device="cpu").threshold_ == plain.threshold_
    # a bad argument is still the ConfigError of the Detector's parameters, not a ValueError of the comparison
    (run / FIT_THRESHOLD_FILE).write_bytes(record)
    with pytest.raises(ConfigError, match="contamination must be a number"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector.from_run(run, device="cpu", contamination="high")
    if det.threshold_rule_.rule == "f1":
        # the method's own score named: the same settings, so fit's value, without a word
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert Detector.from_run(run, device="cpu", score="a").threshold_ == det.threshold_
        # fit's f1 value is of its networks: for others (trained on since) it is said, and the default rule taken
        rec = json.loads(record)
        (run / FIT_THRESHOLD_FILE).write_text(json.dumps({**rec, "weights_sha256": "0" * 64}))
        with pytest.warns(WildganWarning, match="f1 threshold is of other networks"):
            assert Detector.from_run(run, device="cpu").threshold_ == plain.threshold_
        # another score given: fit's f1 value does not apply to it; one warning says both (the argument taken and
        # the rule used instead), not two about the same record
        (run / FIT_THRESHOLD_FILE).write_bytes(record)
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            assert Detector.from_run(run, device="cpu", score="L_r").threshold_rule_.rule == "contamination"
        said = [str(w.message) for w in got if FIT_THRESHOLD_FILE in str(w.message)]
        assert len(said) == 1 and "(score a -> L_r), and Detector.fit's f1 threshold is of other score settings" \
            in said[0], said


@pytest.mark.filterwarnings("ignore:training ended at")
def test_from_run_says_only_what_happened_to_fit_s_record(tmp_path) -> None:
    """Detector.from_run of a Detector.fit run (its record, detector_threshold.json): a record edited by hand with a
    value fit never writes (k 'high', a rule 'bogus', lam 5...) stopped from_run with a bare ValueError or a
    ConfigError that did not name the file, and crashed the report's threshold row; an argument refused by the
    Detector's checks was first said in a warning to be 'taken instead'; a lam given for a threshold on L_r, which
    lam does not weigh, was said to make from_run threshold otherwise than fit. Now such a record is said to be
    unusable, naming the file and the value, and the defaults taken (the report goes without its row); a refused
    argument is its error alone; lam is said only where the threshold's score is a."""
    from wildgan.evaluation.report import _fit_rule
    from wildgan.thresholds import FIT_THRESHOLD_FILE

    x, run, det = _fit_a_tiny_run(tmp_path, threshold="mad", mad_k=2.0, score="L_r")
    path = run / FIT_THRESHOLD_FILE
    rec = json.loads(path.read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Detector.from_run(run, device="cpu", lam=0.5).threshold_ == det.threshold_
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        with pytest.raises(ConfigError, match="threshold must be one of"):
            Detector.from_run(run, device="cpu", threshold="madd")
    assert not [str(w.message) for w in got if FIT_THRESHOLD_FILE in str(w.message)]
    with pytest.warns(WildganWarning, match="from_run takes the arguments given instead"):
        plain = Detector.from_run(run, device="cpu", threshold="contamination", mad_k=3.0, score="a",
                                  contamination=0.05)
    thr = rec["threshold"]
    for edit, named in (({**rec, "threshold": {**thr, "params": {**thr["params"], "k": "high"}}}, "k 'high'"),
                        ({**rec, "threshold": {**thr, "rule": "bogus"}}, "rule 'bogus'"),
                        ({**rec, "threshold": {**thr, "params": {**thr["params"], "score": "z"}}}, "score 'z'"),
                        ({**rec, "lam": 5}, "lam 5"), ({**rec, "batch_mode": "both"}, "batch_mode 'both'")):
        path.write_text(json.dumps(edit))
        with pytest.warns(WildganWarning, match=f"{re.escape(str(path))}: Detector.fit's record of its threshold "
                                                f"cannot be read or used .*{re.escape(named)}"):
            back = Detector.from_run(run, device="cpu")
        assert back.threshold_ == plain.threshold_ and back.threshold_rule_.rule == "contamination"
        assert _fit_rule(run, det.model_, "L_r") == (None, "")


@pytest.mark.filterwarnings("ignore:training ended at")
def test_from_run_says_what_it_does_with_fit_s_record_of_other_networks_and_an_unused_validation_set(tmp_path) -> None:
    """Detector.from_run of a Detector.fit run: for other networks than fit's (the run trained on since, or
    from_run(checkpoint=...)) it applied fit's recorded rule without a word, while the report says the record is of
    other networks and does not show it; and X_val / y_val given for a record that is not f1 were ignored silently
    (fit warns then). Now the record of other networks is not taken, said in one warning naming the file and what it
    would have set; and the unused validation set is said, naming the rule used and where it came from."""
    from wildgan.thresholds import FIT_THRESHOLD_FILE

    x, run, det = _fit_a_tiny_run(tmp_path, threshold="mad", mad_k=2.0, batch_mode="isolated")
    path = run / FIT_THRESHOLD_FILE
    record = path.read_bytes()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        back = Detector.from_run(run, device="cpu", X_val=x[:8], y_val=np.r_[np.ones(3), np.zeros(5)])
    said = [str(w.message) for w in got if "X_val" in str(w.message)]
    assert back.threshold_ == det.threshold_ and len(said) == 1, said
    assert f"from_run thresholds by mad (k=2) (Detector.fit's rule, recorded in {path})" in said[0], said
    # fit's record of other networks (as after a resume that trained on): not taken, said once
    path.write_text(json.dumps({**json.loads(record), "weights_sha256": "0" * 64}))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        other = Detector.from_run(run, device="cpu")
    said = [str(w.message) for w in got if FIT_THRESHOLD_FILE in str(w.message)]
    assert len(said) == 1 and said[0].startswith(f"{path}: Detector.fit's mad (k=2) threshold is of other networks"), \
        said
    assert "(threshold mad (k=2); batch_mode isolated) and thresholds by contamination (c=0.05)" in said[0], said
    assert (other.threshold, other.batch_mode) == ("contamination", "mixed")
    # given the record's settings, nothing is left to say
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Detector.from_run(run, device="cpu", threshold="mad", mad_k=2.0, batch_mode="isolated")


@pytest.mark.filterwarnings("ignore:training ended at")
def test_from_run_takes_fit_s_recorded_c_for_any_score(tmp_path) -> None:
    """fit(score='L_o', contamination=0.2), then from_run(RUN, score='a') took the default c = 0.05 for a (as did
    `wildgan score --score a` and export_onnx), while the fitted Detector's set_params(score='a') kept c = 0.2: two
    thresholds of the same scores. c (k) is the user's choice of how many training images to flag, fitted again on
    the chosen score's own training scores, so fit's record now applies to any score (and batch_mode); the one warning
    says the score given is taken."""
    from wildgan.thresholds import FIT_THRESHOLD_FILE, fit_threshold

    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    run = tmp_path / "det"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu", run_dir=str(run),
                       contamination=0.2, score="L_o").fit(x)
    path = run / FIT_THRESHOLD_FILE
    own = det.threshold_

    def reload(**given: object) -> tuple[Detector, list[str]]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            back = Detector.from_run(run, device="cpu", **given)
        return back, [str(w.message) for w in got if FIT_THRESHOLD_FILE in str(w.message)]

    back, said = reload(score="a")
    assert (back.threshold, back.contamination, back.score_) == ("contamination", 0.2, "a")
    assert back.threshold_ == fit_threshold("contamination", back.decision_scores_, contamination=0.2).value
    det.set_params(score="a")
    assert back.threshold_ == det.threshold_                  # the fitted Detector's threshold of the same scores
    assert len(said) == 1 and said[0] == (f"{path} records the threshold of the Detector.fit that trained this run; "
                                          f"from_run takes the arguments given instead (score L_o -> a): leave them "
                                          f"out to threshold as fit did"), said
    # another protocol keeps fit's c too (see test_from_run_in_another_batch_mode_keeps_fit_s_c_as_export_does)
    back, said = reload(batch_mode="isolated")
    assert (back.contamination, back.batch_mode, back.score_) == (0.2, "isolated", "L_o")
    # a c given wins on any score; fit's own score and protocol give fit's own threshold, with nothing said
    back, said = reload(score="a", contamination=0.1)
    assert back.contamination == 0.1 and len(said) == 1, said
    back, said = reload(score="L_o", batch_mode="mixed")
    assert (back.contamination, back.threshold_, said) == (0.2, own, [])
    # fit's k likewise, left to the record or with mad asked for by name
    rec = json.loads(path.read_text())
    path.write_text(json.dumps({**rec, "threshold": {**rec["threshold"], "rule": "mad",
                                                     "params": {"k": 2.0, "n": 16, "score": "L_o"}}}))
    for given in ({}, {"threshold": "mad"}):
        back, said = reload(score="L_r", **given)
        assert (back.threshold, back.mad_k) == ("mad", 2.0) and len(said) == 1, (given, said)
        assert back.threshold_ == fit_threshold("mad", back.decision_scores_, k=2.0).value


def test_the_score_api_thresholds_a_fit_run_by_fit_s_recorded_c_as_the_cli_does(tmp_path) -> None:
    """wildgan.thresholds.run_threshold / flag_scores (`wildgan score --threshold` on scored images, in Python) took
    c = 0.05 for a run whose Detector.fit recorded c = 0.2, where `wildgan score --threshold contamination`,
    export_onnx and Detector.from_run all took 0.2: the rule lived in the CLI (and again in export). Now the one rule
    (thresholds.follow_fit_record) serves all: fit's c where it applies, the record named in the params; a c given
    wins; a record of other networks is not taken; a damaged one is said, naming the file, and the default taken."""
    from wildgan.scoring.run import load_model
    from wildgan.thresholds import FIT_THRESHOLD_FILE, fit_threshold, flag_scores, run_threshold
    from wildgan.scoring.train_scores import run_training_scores

    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    run = tmp_path / "det"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu", run_dir=str(run),
                 contamination=0.2, score="L_o").fit(x)
    path = run / FIT_THRESHOLD_FILE
    model = load_model(run, "cpu")
    train = run_training_scores(run, model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        thr = run_threshold(model, run, "contamination", score="a")
        flagged, _ = flag_scores(model, run, "contamination", {"a": train["a"][:4]}, score="a")
    assert thr.value == fit_threshold("contamination", train["a"], contamination=0.2).value
    assert thr.params["contamination"] == 0.2 and thr.params["param_from"] == f"Detector.fit's record, {path}", thr
    assert flagged == thr
    given = run_threshold(model, run, "contamination", score="a", contamination=0.05)
    assert given.params["contamination"] == 0.05 and "param_from" not in given.params
    # the record of other networks (the run trained on since): the default, as the CLI and from_run take it
    rec = json.loads(path.read_text())
    path.write_text(json.dumps({**rec, "weights_sha256": "0" * 64}))
    assert run_threshold(model, run, "contamination", score="a").params["contamination"] == 0.05
    # a damaged record: said, naming the file, and the default taken
    path.write_text("{")
    with pytest.warns(WildganWarning, match=f"{re.escape(str(path))}: Detector.fit's record of its threshold cannot "
                                            f"be read or used .*run_threshold takes the default contamination=0.05"):
        assert run_threshold(model, run, "contamination", score="a").params["contamination"] == 0.05


def test_from_run_on_another_score_keeps_fit_s_rule_but_not_its_f1_value(tmp_path) -> None:
    """The record x arguments table of from_run: with another score (or batch_mode) given and no rule, fit's mad (k)
    and contamination (c) are kept, fitted again on that score's training scores; an f1 value, chosen on fit's own
    score and protocol with a validation set the run does not keep, is not: contamination at c = 0.05."""
    from wildgan.thresholds import FIT_THRESHOLD_FILE, fit_threshold

    x = np.random.default_rng(1).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    run = tmp_path / "det"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu", run_dir=str(run),
                 threshold="mad", mad_k=2.0, score="L_o").fit(x)
    path = run / FIT_THRESHOLD_FILE
    rec = json.loads(path.read_text())

    def reload(**given: object) -> Detector:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Detector.from_run(run, device="cpu", **given)

    kept = {"mad": ("mad", 0.05, 2.0), "contamination": ("contamination", 0.2, 3.0)}
    for record in ({"rule": "mad", "params": {"k": 2.0, "n": 16, "score": "L_o"}},
                   {"rule": "contamination", "params": {"contamination": 0.2, "n": 16, "score": "L_o"}},
                   {"rule": "f1", "params": {"f1": 1.0, "n": 8, "n_anomalies": 2, "score": "L_o"}}):
        path.write_text(json.dumps({**rec, "threshold": {**rec["threshold"], **record}}))
        for given in ({"score": "L_r"}, {"batch_mode": "isolated"}):
            back = reload(**given)
            rule, c, k = kept.get(record["rule"], ("contamination", 0.05, 3.0))
            assert (back.threshold, back.contamination, back.mad_k) == (rule, c, k), (record, given)
            assert back.threshold_ == fit_threshold(rule, back.decision_scores_, contamination=c, k=k).value


def _f1_fit_in(run: Path) -> tuple[Detector, np.ndarray, np.ndarray]:
    """A tiny threshold='f1' fit in run (16 random 8x8 images), with its validation images and labels."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 8, 8), dtype=np.uint8)
    xv, yv = rng.integers(0, 256, (8, 8, 8), dtype=np.uint8), np.arange(8) % 2
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        fitted = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu",
                          run_dir=str(run), threshold="f1").fit(x, X_val=xv, y_val=yv)
    return fitted, xv, yv


@pytest.mark.filterwarnings("ignore:training ended at")
def test_from_run_with_half_a_validation_set_on_fit_s_f1_record_is_refused(tmp_path) -> None:
    """from_run(RUN, X_val=...) without y_val (or y_val alone) on a run whose recorded rule is f1 took fit's record
    and ignored the half given without a word; fit refuses a half-given set. Refused too, naming the half given;
    neither taken the record as before."""
    from wildgan.thresholds import FIT_THRESHOLD_FILE

    run = tmp_path / "det"
    fitted, xv, yv = _f1_fit_in(run)
    for half, given in (("X_val", {"X_val": xv}), ("y_val", {"y_val": yv})):
        record = re.escape(str(run / FIT_THRESHOLD_FILE))
        with pytest.raises(ConfigError, match=rf"from_run got only {half}; .*{record}"):
            Detector.from_run(run, device="cpu", **given)
    assert Detector.from_run(run, device="cpu").threshold_ == fitted.threshold_


def test_from_run_of_other_networks_with_fit_s_f1_record_chooses_f1_on_the_validation_set_given(tmp_path) -> None:
    """fit(threshold='f1', X_val=, y_val=), then the run's networks changed (trained on since, a checkpoint):
    from_run(RUN, X_val=, y_val=) chose f1 on that validation set for these networks until df6cb42, which left fit's
    record out for other networks whole: it thresholded by contamination, warned that X_val / y_val are ignored, and
    advised to pass the X_val / y_val it had been given. Now fit's f1 rule with a validation set given is chosen on
    it, with nothing to say (the score settings are the defaults, as fit's)."""
    from wildgan.thresholds import FIT_THRESHOLD_FILE, fit_threshold

    run = tmp_path / "det"
    _, xv, yv = _f1_fit_in(run)
    path = run / FIT_THRESHOLD_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "weights_sha256": "0" * 64}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = Detector.from_run(run, device="cpu", X_val=xv, y_val=yv)
    assert back.threshold == "f1" and back.threshold_rule_.rule == "f1"
    assert back.threshold_ == fit_threshold("f1", val_scores=back.decision_function(xv), val_labels=yv).value
    # without a validation set, the record's f1 (of other networks) is still not taken, and said
    with pytest.warns(UserWarning, match="threshold='f1', X_val=..., y_val=... for an f1 threshold of these"):
        assert Detector.from_run(run, device="cpu").threshold == "contamination"


def _fit_at_c(run: Path, data: object, **kw: object) -> Detector:
    """A tiny Detector(contamination=0.2).fit(data, **kw) into run (its not-grown warning, of a short fit, ignored)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        return Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run),
                        contamination=0.2).fit(data, **kw)


def _fit_without_its_train_scores(data: str, run: Path) -> None:
    """A tiny Detector.fit on `data` (a folder or data-set file), its training-score cache then deleted: what
    run_training_scores must compute again from the data as it is now."""
    from wildgan.scoring.train_scores import cache_paths

    _fit_at_c(run, data)
    for p in cache_paths(run, "mixed"):
        p.unlink()


@pytest.mark.parametrize("given", ["absolute", "relative"])
def test_a_fit_folder_with_a_file_renamed_is_not_told_it_may_be_unchanged(tmp_path, one_thread, monkeypatch,
                                                                         given) -> None:
    """A fit's folder with the same number of images but one renamed named the file gone and the one added, and then
    advised 'if it is unchanged, ... fit(X, resume=True)', as for a folder whose pixels alone differ (fit's reading
    not repeated): the list said it had changed. That advice is left to a folder whose names are all as fit read.
    A fit given a relative path named its images relative to its working directory: a file gone from the folder
    was said as that ("pngs/007.png"), beside the files added said in the folder (absolute), and from another
    directory the name led nowhere. Both are named in the folder."""
    folder = tmp_path / "pngs"
    _pngs(folder)
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)
    _fit_without_its_train_scores(str(folder) if given == "absolute" else "pngs", run)
    (folder / "007.png").rename(folder / "zzz.png")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(DataError) as e:
        run_training_scores(run, device="cpu")
    said = str(e.value)
    assert (f"(1 trained-on file not there now: {folder / '007.png'}; 1 file not trained on: "
            f"{folder / 'zzz.png'}), and ") in said, said
    assert "if it is unchanged" not in said, said


def test_a_fit_folder_file_moved_up_a_level_is_named_as_moved(tmp_path, one_thread) -> None:
    """Where fit's ids meet the folder's was taken from the first recorded id found there by any tail of its path:
    000/x.png moved up to x.png put it at pngs/000, and every other trained-on file was said gone and found again as
    a file not trained on. It is the place most recorded ids are found under."""
    folder = tmp_path / "pngs"
    _pngs(folder)
    (folder / "000").mkdir()
    (folder / "000.png").rename(folder / "000" / "x.png")
    run = tmp_path / "run"
    _fit_without_its_train_scores(str(folder), run)
    (folder / "000" / "x.png").rename(folder / "x.png")
    with pytest.raises(DataError) as e:
        run_training_scores(run, device="cpu")
    said = str(e.value)
    assert (f"(1 trained-on file not there now: {folder / '000' / 'x.png'}; 1 file not trained on: "
            f"{folder / 'x.png'}), and ") in said, said


def test_a_fit_npz_that_lost_an_image_is_not_said_to_have_lost_a_file(tmp_path, one_thread) -> None:
    """The files gone from a fit's folder are named; an .npz's images are places in its array, which a shorter array
    renumbers: one that lost its first image was said to have "1 trained-on file not there now: d:x:23"."""

    x = np.random.default_rng(0).integers(0, 256, (24, 16, 16), dtype=np.uint8)
    data = tmp_path / "d.npz"
    np.savez(data, x=x)
    run = tmp_path / "run"
    _fit_without_its_train_scores(str(data), run)
    np.savez(data, x=x[1:])
    with pytest.raises(DataError) as e:
        run_training_scores(run, device="cpu")
    said = str(e.value)
    assert f"{data} changed since {run} was trained (n_train 24 -> 23; " in said and "file not there" not in said, said


def test_the_training_scores_of_a_fit_on_a_folder_are_computed_again_from_it(tmp_path, one_thread) -> None:
    """run_training_scores refused every Detector.fit run (split.json's detector_input) as one on in-memory images,
    so a fit on a folder whose train_scores.csv was gone (or stale) had no threshold again, though the folder was
    there. Now the folder is read back, in the order fit read it, checked against split.json's pixels, and the caches
    come back byte for byte as fit wrote them (its ids included). A folder gone is named, with the way back; a fit on
    arrays, which records nowhere to read them from, is refused with the way to have them again."""
    from PIL import Image

    from wildgan.scoring.train_scores import cache_paths

    folder = tmp_path / "pngs"
    _pngs(folder)
    run = tmp_path / "run"
    det = _fit_at_c(run, str(folder))
    written = {bm: [p.read_bytes() for p in cache_paths(run, bm)] for bm in ("mixed", "isolated")}
    for bm in written:
        for p in cache_paths(run, bm):
            p.unlink()
    got = run_training_scores(run, device="cpu")
    assert np.array_equal(got["a"], det.decision_scores_)
    run_training_scores(run, device="cpu", batch_mode="isolated")
    assert {bm: [p.read_bytes() for p in cache_paths(run, bm)] for bm in written} == written
    # (and from_run's threshold, which comes from them)
    for p in cache_paths(run, "mixed"):
        p.unlink()
    assert Detector.from_run(run, device="cpu").threshold_ == det.threshold_

    for p in cache_paths(run, "mixed"):
        p.unlink()
    # a file gone from the folder and others added: named (the ids fit gave them are in the cache of the other batch
    # mode, which split.json's checksum of them confirms), where "n_train 24 -> 23" alone said neither
    (folder / "007.png").rename(tmp_path / "007.png")
    with pytest.raises(DataError, match=re.escape(f"(n_train 24 -> 23; 1 trained-on file not there now: "
                                                  f"{folder / '007.png'}), and ")):
        run_training_scores(run, device="cpu")
    for i in range(7):
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / f"new{i}.png")
    with pytest.raises(DataError, match=re.escape(f"(n_train 24 -> 30; 1 trained-on file not there now: "
                                                  f"{folder / '007.png'}; 7 files not trained on: "
                                                  f"{', '.join(str(folder / f'new{i}.png') for i in range(5))} and "
                                                  f"2 more), and ")):
        run_training_scores(run, device="cpu")
    for i in range(7):
        (folder / f"new{i}.png").unlink()
    (tmp_path / "007.png").rename(folder / "007.png")
    folder.rename(tmp_path / "moved")
    with pytest.raises(DataError, match=re.escape(f"{folder}: no such file or folder: the data {run} was trained "
                                                  f"on")):
        run_training_scores(run, device="cpu")

    _, arrays, _ = _fit_a_tiny_run(tmp_path)
    for p in cache_paths(arrays, "mixed"):
        p.unlink()
    with pytest.raises(DataError, match=r"trained by Detector\.fit on images given in memory \(in-memory ndarray\), "
                                        r"which the run cannot read again, and train_scores\.csv is missing or "
                                        r"stale: .*fit\(X, resume=True\)"):
        run_training_scores(arrays, device="cpu")


def _pngs(folder: Path, n: int = 24) -> list[Path]:
    """n small random PNGs written in `folder` (made), in name order."""
    from PIL import Image

    folder.mkdir()
    for i, im in enumerate(np.random.default_rng(0).integers(0, 256, (n, 16, 16), dtype=np.uint8)):
        Image.fromarray(im).save(folder / f"{i:03d}.png")
    return sorted(folder.iterdir())


def _unlink_train_scores(run: Path) -> None:
    """Every training-score cache of the run deleted (either batch mode's): the ids fit gave its images gone with
    them, but for fit_ids.json."""
    from wildgan.scoring.train_scores import cache_paths

    for bm in ("mixed", "isolated"):
        for p in cache_paths(run, bm):
            p.unlink(missing_ok=True)


def test_a_fit_s_gone_file_is_named_without_its_train_scores(tmp_path, one_thread) -> None:
    """split.json records only a checksum of fit's ids: a file gone from a fit's folder was named only while a
    training-score cache still held those ids, and once both caches were deleted the error said "n_train 24 -> 23"
    alone. fit now records its ids (fit_ids.json), which name the file with no cache left. A run without that file
    (trained before fit wrote it) says the count alone, as before; so does one whose file holds other ids than
    split.json's checksum (edited, copied from another run): never taken for fit's."""
    folder, run = tmp_path / "pngs", tmp_path / "run"
    _pngs(folder)
    _fit_without_its_train_scores(str(folder), run)
    _unlink_train_scores(run)
    (folder / "007.png").rename(tmp_path / "007.png")
    with pytest.raises(DataError, match=re.escape(f"(n_train 24 -> 23; 1 trained-on file not there now: "
                                                  f"{folder / '007.png'}), and ")):
        run_training_scores(run, device="cpu")
    ids = json.loads((run / "fit_ids.json").read_text())
    assert ids["ids"] == [str(folder / f"{i:03d}.png") for i in range(24)]
    # other ids than split.json's checksum (its own checksum field made to match them): ignored
    other = [*ids["ids"][:7], str(folder / "zzz.png"), *ids["ids"][8:]]
    from wildgan.data.splits import ids_sha256

    (run / "fit_ids.json").write_text(json.dumps({**ids, "ids": other, "train_ids_sha256": ids_sha256(other)}))
    for tampered in (True, False):
        if not tampered:
            (run / "fit_ids.json").unlink()           # a run of a wildgan before fit_ids.json
        with pytest.raises(DataError) as e:
            run_training_scores(run, device="cpu")
        said = str(e.value)
        assert f"{folder} changed since {run} was trained (n_train 24 -> 23; the training images' pixels" in said \
            and "not there now" not in said, said
    # (a run without the file, its folder as it was: read back, as before)
    (tmp_path / "007.png").rename(folder / "007.png")
    assert set(run_training_scores(run, device="cpu")) >= {"a"}


def test_a_rescore_keeps_an_older_fit_s_ids_from_its_stale_cache(tmp_path, one_thread, monkeypatch) -> None:
    """A run of a Detector.fit from before fit_ids.json holds fit's ids only in its training-score caches. Scored
    again with a file of its folder unreadable (skip_bad), the training images kept the reader's ids, and the
    stale cache was replaced under those: fit's ids, split.json's checksum of which names a file gone from the
    folder, were lost for good. They are kept in fit_ids.json (checked against that checksum) first."""
    from wildgan.data.splits import read_fit_ids
    from wildgan.scoring.train_scores import cache_paths

    folder, run = tmp_path / "pngs", tmp_path / "run"
    _pngs(folder)
    _fit_at_c(run, str(folder))
    fit_ids = json.loads((run / "fit_ids.json").read_text())["ids"]
    (run / "fit_ids.json").unlink()                      # a run of a wildgan before fit_ids.json
    for p in cache_paths(run, "isolated"):
        p.unlink()                                       # (the mixed cache: the only record of fit's ids left)
    key_path = cache_paths(run, "mixed")[1]
    key = json.loads(key_path.read_text())
    key_path.write_text(json.dumps({**key, "weights_sha256": "0" * 64}))      # stale: other weights
    kept = (folder / "003.png").read_bytes()
    (folder / "003.png").write_bytes(b"not a png")
    # where they cannot be written, the old cache is kept (said), not replaced
    import wildgan.data.splits as splits

    def unwritable(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(splits, "write_fit_ids", unwritable)
    stale = [p.read_bytes() for p in cache_paths(run, "mixed")]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert len(run_training_scores(run, device="cpu", skip_bad=True)["a"]) == 23
    assert any(str(w.message).startswith(f"could not write {run / 'fit_ids.json'} (") for w in said), said
    assert [p.read_bytes() for p in cache_paths(run, "mixed")] == stale
    monkeypatch.undo()
    with pytest.warns(WildganWarning, match="unreadable"):
        assert len(run_training_scores(run, device="cpu", skip_bad=True)["a"]) == 23
    assert cache_paths(run, "mixed")[0].read_text().splitlines()[1].startswith("000.png,")   # (the reader's ids)
    info = json.loads((run / "split.json").read_text())
    # (where fit's working directory was is nowhere in the cache: not recorded as this one)
    assert read_fit_ids(run, info) == (fit_ids, None)
    # and they still name a file gone from the folder, with no cache left
    (folder / "003.png").write_bytes(kept)
    _unlink_train_scores(run)
    (folder / "007.png").rename(tmp_path / "007.png")
    with pytest.raises(DataError, match=re.escape(f"(n_train 24 -> 23; 1 trained-on file not there now: "
                                                  f"{folder / '007.png'}), and ")):
        run_training_scores(run, device="cpu")


def test_a_fit_on_a_list_of_files_has_its_training_scores_computed_again(tmp_path, one_thread) -> None:
    """A fit on a list of files recorded no paths (split.json: 'in-memory list'), so its training scores could not
    be computed again once its caches were gone: run_training_scores, from_run's threshold and `wildgan score RUN
    --data IMAGES --threshold contamination` refused it as images given in memory. The files fit_ids.json names
    are read back in fit's order by fit's reader, checked against split.json's pixels, and give fit's caches byte
    for byte; a file gone is named. A run without fit_ids.json (an older wildgan's) is refused as before."""
    from wildgan.scoring.train_scores import cache_paths

    folder, run = tmp_path / "pngs", tmp_path / "run"
    files = [str(f) for f in _pngs(folder)][::-1]          # (not in name order: fit's own order is kept)
    det = _fit_at_c(run, files)
    written = {bm: [p.read_bytes() for p in cache_paths(run, bm)] for bm in ("mixed", "isolated")}
    _unlink_train_scores(run)
    assert np.array_equal(run_training_scores(run, device="cpu")["a"], det.decision_scores_)
    run_training_scores(run, device="cpu", batch_mode="isolated")
    assert {bm: [p.read_bytes() for p in cache_paths(run, bm)] for bm in written} == written
    for p in cache_paths(run, "mixed"):
        p.unlink()
    assert Detector.from_run(run, device="cpu").threshold_ == det.threshold_
    _unlink_train_scores(run)
    from wildgan.cli import main

    out = tmp_path / "scores.csv"
    assert main(["score", str(run), "--data", str(folder), "--threshold", "contamination", "--out", str(out),
                 "--no-progress"]) == 0
    (thr,) = {float(r["threshold"]) for r in csv.DictReader(out.open())}
    assert thr == pytest.approx(det.threshold_, rel=1e-8)

    _unlink_train_scores(run)
    (folder / "007.png").rename(tmp_path / "007.png")
    with pytest.raises(DataError, match=re.escape(f"(n_train 24 -> 23; 1 trained-on file not there now: "
                                                  f"{folder / '007.png'}), and ")):
        run_training_scores(run, device="cpu")
    (tmp_path / "007.png").rename(folder / "007.png")
    # a file unreadable now: named as such (not as gone), and with skip_bad left out as a folder's would be
    kept = (folder / "003.png").read_bytes()
    (folder / "003.png").write_bytes(b"not a png")
    unreadable = re.escape(f"{folder / '003.png'}: not a readable image")
    with pytest.raises(DataError, match=unreadable + r".*\(skip_bad=True leaves unreadable files out\)"):
        run_training_scores(run, device="cpu")
    # (only that: not refused as the files having changed, "the training images' pixels; ... edited in place")
    with pytest.warns(WildganWarning) as said:
        got = run_training_scores(run, device="cpu", skip_bad=True)
    (warned,) = [str(w.message) for w in said if "unreadable" in str(w.message)]
    assert re.search(r"the training scores leave out 1 unreadable file of the run's data \(23 images scored\).*: "
                     + unreadable, warned), warned
    assert len(got["a"]) == 23 and "changed since" not in warned and "not there now" not in warned
    _unlink_train_scores(run)
    (folder / "003.png").write_bytes(kept)
    (run / "fit_ids.json").unlink()
    with pytest.raises(DataError, match=r"trained by Detector\.fit on images given in memory \(in-memory list\)"):
        run_training_scores(run, device="cpu")


def _as_before_fit_ids(run: Path) -> None:
    """The run as a wildgan before fit_ids.json left it, its training-score cache then made stale (other weights):
    the cache's rows the only record of fit's ids, and the training scores to be computed again."""
    from wildgan.scoring.train_scores import cache_paths

    (run / "fit_ids.json").unlink()
    for p in cache_paths(run, "isolated"):
        p.unlink(missing_ok=True)
    key_path = cache_paths(run, "mixed")[1]
    key_path.write_text(json.dumps({**json.loads(key_path.read_text()), "weights_sha256": "0" * 64}))


def test_an_older_fit_on_a_list_of_files_is_read_back_from_its_cache(tmp_path, one_thread, monkeypatch) -> None:
    """A fit on a list of files by a wildgan before fit_ids.json, its training-score cache stale, was refused as
    "images given in memory" though the cache names the files. Where they are absolute paths of split.json's checksum
    and count, they are read back in fit's order (and kept in fit_ids.json as the cache is replaced); relative ones,
    of a working directory nothing records, are refused, saying so and what to do."""
    from wildgan.data.splits import read_fit_ids

    folder, run = tmp_path / "pngs", tmp_path / "run"
    files = [str(f) for f in _pngs(folder)][::-1]          # (not in name order: fit's own order is kept)
    det = _fit_at_c(run, files)
    _as_before_fit_ids(run)
    # fit_ids.json and the caches are read once for the list (they were read twice: tens of thousands of rows for
    # a large fit); the ids are kept in fit_ids.json only by a scoring that writes the cache (not this one)
    import wildgan.data.splits as splits

    reads: list[str] = []
    for name in ("read_fit_ids", "cached_fit_ids"):
        monkeypatch.setattr(splits, name, lambda *a, _f=getattr(splits, name), _n=name: reads.append(_n) or _f(*a))
    assert np.array_equal(run_training_scores(run, device="cpu", write=False)["a"], det.decision_scores_)
    assert sorted(reads) == ["cached_fit_ids", "read_fit_ids"], reads
    monkeypatch.undo()
    assert np.array_equal(run_training_scores(run, device="cpu")["a"], det.decision_scores_)
    assert read_fit_ids(run, json.loads((run / "split.json").read_text())) == (files, None)

    relative = tmp_path / "relative"
    monkeypatch.chdir(tmp_path)
    _fit_at_c(relative, [f"pngs/{i:03d}.png" for i in range(24)])
    _as_before_fit_ids(relative)
    with pytest.raises(DataError, match=re.escape(
            f"{relative}: trained by Detector.fit on a list of files named by relative paths (pngs/000.png, "
            f"pngs/001.png, pngs/002.png and 21 more), which only {relative / 'train_scores.csv'} records (an older "
            f"wildgan, before fit_ids.json), not the working directory they are relative to; and train_scores.csv "
            f"is missing or stale: the training scores cannot be computed from the run alone; from the directory "
            f"Detector.fit ran in, Detector(..., run_dir={str(relative)!r}).fit(X, resume=True)")):
        run_training_scores(relative, device="cpu")
    assert not (relative / "fit_ids.json").exists()


def _count_fit_id_reads(monkeypatch) -> list[str]:
    """The reads of a Detector.fit run's record of its ids (data.splits.read_fit_ids: fit_ids.json;
    cached_fit_ids: the training-score caches), by name, in the order made, wherever they are called from."""
    import wildgan.data.splits as splits

    reads: list[str] = []
    for name in ("read_fit_ids", "cached_fit_ids"):
        monkeypatch.setattr(splits, name, lambda *a, _f=getattr(splits, name), _n=name: reads.append(_n) or _f(*a))
    return reads


def test_a_fit_s_ids_are_read_once_by_a_training_scoring(tmp_path, one_thread, monkeypatch) -> None:
    """fit_ids.json and the training-score caches (tens of thousands of rows for a large fit) are read once by a
    scoring of a Detector.fit run: they were read again to keep the ids in fit_ids.json before the cache is written
    (data.splits.keep_cached_fit_ids), and, for a fit on a folder, again for the files changed since (the folder
    read back under fit's ids, then the gone ones named). The ids are still kept, and the files still named."""
    from wildgan.data.splits import read_fit_ids

    folder, run = tmp_path / "pngs", tmp_path / "run"
    _pngs(folder)
    _fit_at_c(run, str(folder))
    info = json.loads((run / "split.json").read_text())
    # an older run (no fit_ids.json, its cache stale): read back from the folder, the cache written, the ids kept
    _as_before_fit_ids(run)
    reads = _count_fit_id_reads(monkeypatch)
    run_training_scores(run, device="cpu")
    assert reads == ["read_fit_ids", "cached_fit_ids"], reads
    monkeypatch.undo()
    assert read_fit_ids(run, info) == ([str(folder / f"{i:03d}.png") for i in range(24)], None)
    # a file gone from the folder: named from the one read of fit_ids.json
    _unlink_train_scores(run)
    (folder / "007.png").rename(tmp_path / "007.png")
    reads = _count_fit_id_reads(monkeypatch)
    with pytest.raises(DataError, match=re.escape(f"(n_train 24 -> 23; 1 trained-on file not there now: "
                                                  f"{folder / '007.png'}), and ")):
        run_training_scores(run, device="cpu")
    assert reads == ["read_fit_ids"], reads
    monkeypatch.undo()
    # the same from an older run's cache alone (no fit_ids.json): read once, from the isolated mode's cache
    (tmp_path / "007.png").rename(folder / "007.png")
    run_training_scores(run, device="cpu", batch_mode="isolated")
    (run / "fit_ids.json").unlink()
    (folder / "007.png").rename(tmp_path / "007.png")
    reads = _count_fit_id_reads(monkeypatch)
    with pytest.raises(DataError, match=re.escape(f"(n_train 24 -> 23; 1 trained-on file not there now: "
                                                  f"{folder / '007.png'}), and ")):
        run_training_scores(run, device="cpu")
    assert reads == ["read_fit_ids", "cached_fit_ids"], reads
    monkeypatch.undo()

    # a fit on a list of files, as an older wildgan left it: its cache read once, for the files and the ids kept
    listed = tmp_path / "listed"
    files = [str(f) for f in _pngs(tmp_path / "more")]
    _fit_at_c(listed, files)
    _as_before_fit_ids(listed)
    reads = _count_fit_id_reads(monkeypatch)
    run_training_scores(listed, device="cpu")
    assert reads == ["read_fit_ids", "cached_fit_ids"], reads
    monkeypatch.undo()
    assert read_fit_ids(listed, json.loads((listed / "split.json").read_text())) == (files, None)


def test_an_older_fit_s_relative_files_kept_in_fit_ids_json_are_refused_as_from_its_cache(tmp_path, one_thread,
                                                                                         monkeypatch) -> None:
    """An older fit's relative paths, read from its training-score cache, are refused: nothing records the working
    directory they are relative to. A resume keeps them in fit_ids.json first (data.splits.keep_cached_fit_ids),
    with no working directory either, and stays so where it is refused (here: fit(resume=True) from another
    directory, whose pngs/ holds other images). They were then read relative to whatever the current directory was:
    taken without a word from fit's own, called "changed" from any other. Refused the same way now, from both."""
    import shutil

    run = tmp_path / "relative"
    files = _pngs(tmp_path / "pngs")
    monkeypatch.chdir(tmp_path)
    relative = [f"pngs/{i:03d}.png" for i in range(24)]
    _fit_at_c(run, relative)
    _as_before_fit_ids(run)
    other = tmp_path / "elsewhere"
    (other / "pngs").mkdir(parents=True)
    for i, f in enumerate(files):
        shutil.copy(f, other / "pngs" / f"{23 - i:03d}.png")          # (the same names, other pixels)
    monkeypatch.chdir(other)
    with pytest.raises(ConfigError, match=r"fit\(resume=True\) must be given the same images"):
        _fit_at_c(run, relative, resume=True)
    assert json.loads((run / "fit_ids.json").read_text())["cwd"] is None      # (kept from the cache before)
    for where in (tmp_path, other):
        monkeypatch.chdir(where)
        with pytest.raises(DataError, match=re.escape(
                f"{run}: trained by Detector.fit on a list of files named by relative paths (pngs/000.png, "
                f"pngs/001.png, pngs/002.png and 21 more), which {run / 'fit_ids.json'} records without the working "
                f"directory they are relative to (as where they were kept from the training-score cache of an older "
                f"wildgan, before fit_ids.json, which does not record it); and train_scores.csv is missing or stale: "
                f"the training scores cannot be computed from the run alone; from the directory Detector.fit ran in, "
                f"Detector(..., run_dir={str(run)!r}).fit(X, resume=True)")):
            run_training_scores(run, device="cpu")


def test_a_fit_on_a_list_of_files_all_gone_names_them_and_the_list(tmp_path, one_thread, monkeypatch) -> None:
    """With every file of a fit's list gone (and the training-score caches with them), the error said "none of the
    24 files is there now": neither a file nor fit_ids.json, where one file gone is named by its path. It names the
    list's file and the first paths, each as the one-file case does (a relative one under fit's working directory);
    and where the files are all there but unreadable (skip_bad left each out), it no longer calls them gone."""
    folder, run = tmp_path / "pngs", tmp_path / "run"
    _pngs(folder)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run)).fit(
            [f"pngs/{i:03d}.png" for i in range(24)])
    _unlink_train_scores(run)
    folder.rename(tmp_path / "moved")
    first = ", ".join(str(folder / f"{i:03d}.png") for i in range(5))
    with pytest.raises(DataError, match=re.escape(f"none of the files Detector.fit was given (listed in "
                                                  f"{run / 'fit_ids.json'}) is there now (24 files: {first} and 19 "
                                                  f"more)")):
        run_training_scores(run, device="cpu")
    # every file there but unreadable, each left out by skip_bad: said so, not said to be gone
    (tmp_path / "moved").rename(folder)
    for p in folder.iterdir():
        p.write_bytes(b"not a png")
    with pytest.raises(DataError, match=re.escape(f"none of the files Detector.fit was given (listed in "
                                                  f"{run / 'fit_ids.json'}) is readable now (24 unreadable: "
                                                  f"{folder / '000.png'}: not a readable image")):
        run_training_scores(run, device="cpu", skip_bad=True)


def test_a_fit_given_a_relative_folder_path_keeps_its_ids_when_scored_again(tmp_path, one_thread,
                                                                             monkeypatch) -> None:
    """The training scores of a fit's folder read back were cached under the ids fit gave them only for a fit given
    the folder's absolute path: one given "pngs" had its cache written anew under the reader's ids ("000.png"), not
    as fit wrote it (ids that split.json's checksum of fit's no longer matches). fit_ids.json maps them back
    whatever path fit was given, from any working directory."""
    from wildgan.scoring.train_scores import cache_paths

    _pngs(tmp_path / "pngs")
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)
    _fit_without_its_train_scores("pngs", run)
    written = [p.read_bytes() for p in cache_paths(run, "isolated")]
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    _unlink_train_scores(run)
    run_training_scores(run, device="cpu", batch_mode="isolated")
    assert [p.read_bytes() for p in cache_paths(run, "isolated")] == written
    assert cache_paths(run, "isolated")[0].read_text().splitlines()[1].startswith("pngs/000.png,")


def test_the_training_scores_of_an_earlier_fit_on_a_labelled_npz_are_computed_again_from_every_image(
        tmp_path, one_thread) -> None:
    """A fit of an earlier wildgan on a data-set file recorded dataset 'auto', which reads a labelled .npz by its
    protocol (a normal class asked for); fit read every image, labels ignored, and so does the rebuild of its
    training scores (data.replay.as_fit_read), which give fit's scores again."""
    from wildgan.scoring.train_scores import cache_paths

    rng = np.random.default_rng(0)
    npz = tmp_path / "d.npz"
    np.savez(npz, x=rng.integers(0, 256, (24, 16, 16), dtype=np.uint8), y=np.repeat([0, 1], 12))
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_GROWN)
        det = Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.05, device="cpu", run_dir=str(run)).fit(str(npz))
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["dataset"] == "unlabelled"
    (run / "config.json").write_text(json.dumps({**cfg, "data": {**cfg["data"], "dataset": "auto"}}))
    for p in cache_paths(run, "mixed"):
        p.unlink()
    assert np.array_equal(run_training_scores(run, device="cpu")["a"], det.decision_scores_)


def test_fit_of_an_npz_names_its_unread_array_once(tmp_path, one_thread) -> None:
    """Detector.fit of an .npz read it under a filter that silenced all its readers' warnings, so that an array the
    readers do not take (photo ids saved as 'photo') was named by `wildgan train --data` and never by fit. Said once,
    whether the file is read labelled or, its labels damaged (class_names short of them), again as a pile (in the pile
    reading's words then, not both), and before a refusal of the file."""
    from wildgan.data.dataset_files import UnreadArraysWarning

    x = np.random.default_rng(0).integers(0, 256, (24, 8, 8), dtype=np.uint8)
    files = {"sound": dict(x=x, y=np.repeat([0, 1], 12)),
             "damaged": dict(x=x, y=np.arange(24), class_names=np.array(["a", "b"])),
             "refused": dict(x_train=x[:20], y_train=np.zeros(20, np.int64), x_test=x[20:, :4, :4],
                             y_test=np.zeros(4, np.int64))}
    for name, arrays in files.items():
        np.savez(tmp_path / f"{name}.npz", photo=np.arange(24), **arrays)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            det = Detector(preset="tiny", total_kimg=0.016, phase_kimg=0.1, resolution=8, device="cpu")
            if name == "refused":
                with pytest.raises(DataError, match="its train and test images differ in size"):
                    det.fit(str(tmp_path / f"{name}.npz"))
            else:
                det.fit(str(tmp_path / f"{name}.npz"))
        told = [str(m.message) for m in w if m.category is UnreadArraysWarning]
        assert len(told) == 1, (name, told)
        assert told[0].startswith(f"{tmp_path / name}.npz: array photo is not read and ignored"), told
        assert ("read as unlabelled images" in told[0]) == (name == "damaged"), told
        assert [m.filename for m in w if m.category is UnreadArraysWarning] == [__file__], name   # (the user's line)


def test_fit_reads_an_npz_x_val_once(tmp_path, monkeypatch) -> None:
    """fit(X, threshold='f1', X_val='val.npz') read the file whole twice: in the check before training (its count,
    its arrays' layout and pixels) and again to score it for the threshold. What the check read is kept and scored,
    unless the file changed since (read again, and its new pixels scored)."""
    import wildgan.data.inputs as inputs

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    npz = tmp_path / "val.npz"
    np.savez(npz, x=rng.integers(0, 255, (10, 8, 8), dtype=np.uint8), y=np.zeros(10, int))
    y_val = np.r_[np.zeros(6), np.ones(4)].astype(int)
    reads = []
    real = inputs.load_dataset

    def counted(path, *a, **k):
        reads.append(Path(path))
        return real(path, *a, **k)

    monkeypatch.setattr(inputs, "load_dataset", counted)
    small = dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)          # (networks not grown: a fit this short ends at 4x4)
        once = Detector(threshold="f1", **small).fit(x, X_val=npz, y_val=y_val)
    assert reads == [npz]
    # the same threshold as a threshold chosen on the file read afresh
    reads.clear()
    assert once.set_threshold("f1", X_val=npz, y_val=y_val).threshold_ == once.threshold_ and reads == [npz]
    # from_run's f1 threshold: checked before the run's training images are scored, scored after: one read too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        plain = Detector(**small).fit(x)
    reads.clear()
    loaded = Detector.from_run(plain.run_dir_, threshold="f1", X_val=npz, y_val=y_val, device="cpu")
    assert reads == [npz] and loaded.threshold_rule_.rule == "f1"
    # read by another rule after the training than in the check: 16-bit images in X_val, 8-bit training images (read
    # 'global' then, 'per-image' before) are read again; 8-bit ones with 16-bit training images (stretched then) are
    # taken and stretched as the read does. Either way the threshold is that of a read afresh
    npz16 = tmp_path / "val16.npz"
    np.savez(npz16, x=rng.integers(0, 65535, (10, 8, 8), dtype=np.uint16), y=np.zeros(10, int))
    narrow = tmp_path / "narrow.npz"                     # (levels 50..150: the stretch changes them)
    np.savez(narrow, x=rng.integers(50, 150, (10, 8, 8), dtype=np.uint8), y=np.zeros(10, int))
    import wildgan.detector

    scored = []
    real_fit = wildgan.detector.fit_threshold

    def seen(*a, **k):
        scored.append(k["val_scores"])
        return real_fit(*a, **k)

    monkeypatch.setattr(wildgan.detector, "fit_threshold", seen)
    for train, val, n in ((x, npz16, 2), (rng.integers(0, 65535, (20, 8, 8), dtype=np.uint16), narrow, 1)):
        reads.clear()
        scored.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WildganWarning)
            d = Detector(threshold="f1", **small).fit(train, X_val=val, y_val=y_val)
            assert reads == [val] * n
            np.testing.assert_array_equal(scored[0], d.decision_function(str(val)))

    # changed during the training: read again, and the threshold is chosen on what it holds then
    def changing(self, *a, **k):
        np.savez(npz, x=np.zeros((10, 8, 8), np.uint8), y=np.zeros(10, int))
        return real_set(self, *a, **k)

    real_set = Detector._set_threshold
    monkeypatch.setattr(Detector, "_set_threshold", changing)
    reads.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        Detector(threshold="f1", **small).fit(x, X_val=npz, y_val=y_val)
    assert reads == [npz, npz]
