"""Bad input given through the Python API (the twin of the CLI's bad-input sweep): each is refused with a wildgan
error naming the argument or file, before any training, instead of a bare TypeError / AttributeError from deep inside
or a silent wrong read (an empty string read as the working folder)."""

from __future__ import annotations

import copy
import fractions
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, run_config_to_dict
from wildgan.data.inputs import to_numpy
from wildgan.detector import Detector
from wildgan.errors import CheckpointError, ConfigError, DataError, WildganWarning
from wildgan.studies.study import run_study
from wildgan.thresholds import check_val_labels
from wildgan.training import run as training_run
from wildgan.training.run import train_run

pytestmark = pytest.mark.usefixtures("one_thread")

# 16 images of 8x8 at 0.02 kimg: a fit of about a second, stopped at 4x4 (its warning is not what is tested)
SHORT = dict(preset="tiny", total_kimg=0.02, phase_kimg=0.1, resolution=8, device="cpu")


@pytest.fixture(scope="module")
def x16() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)


@pytest.fixture(scope="module")
def det(x16, tmp_path_factory) -> Detector:
    with pytest.warns(UserWarning):
        return Detector(**SHORT, run_dir=str(tmp_path_factory.mktemp("d") / "run")).fit(x16)


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a, **k):
        raise AssertionError("training started")
    monkeypatch.setattr(training_run, "train_run", refuse)


def test_an_empty_string_is_not_read_as_the_working_folder(det, x16, tmp_path, monkeypatch) -> None:
    # ('' is Path('.'): before, decision_function('') scored every image in the working folder, and fit('') would
    # have trained on them)
    for i in range(4):
        Image.fromarray(x16[i]).save(tmp_path / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    assert len(det.decision_function(".")) == 4           # the working folder, asked for by name, is read
    for bad in ("", [x16[0], ""]):
        with pytest.raises(DataError, match="empty path"):
            det.decision_function(bad)
    with pytest.raises(DataError, match="empty path"):
        det.heatmaps("")
    _no_training(monkeypatch)
    with pytest.raises(DataError, match=r"^X: an empty path"):
        Detector(**SHORT).fit("")
    with pytest.raises(DataError, match=r"^X_val: an empty path"):
        Detector(**SHORT, threshold="f1").fit(x16, X_val="", y_val=[0, 1])


def test_bytes_paths_are_refused_naming_the_argument(det, tmp_path) -> None:
    # (pathlib's bare "argument should be a str object or an os.PathLike object returning str, not <class 'bytes'>")
    b = os.fsencode(str(tmp_path / "m"))
    with pytest.raises(ConfigError, match=r"save's path must be a path .*os\.fsdecode"):
        det.save(b)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="Detector.load's path must be a path"):
        Detector.load(b)
    with pytest.raises(ConfigError, match="Detector.from_run's run_dir must be a path"):
        Detector.from_run(b)
    with pytest.raises(DataError, match=r"os\.fsdecode"):
        det.decision_function(b)


def test_validation_labels_that_cannot_fit_X_val_are_refused_before_training(x16, monkeypatch) -> None:
    _no_training(monkeypatch)
    f1 = Detector(**SHORT, threshold="f1")
    # a 3-D X_val is 4 images (or one image, decided once the model reads it): 3 labels fit neither
    with pytest.raises(DataError, match="3 labels for X_val, which holds 4 or 1 image"):
        f1.fit(x16, X_val=x16[:4], y_val=[0, 1, 0])
    with pytest.raises(DataError, match="3 labels for X_val, which holds 1 image"):
        f1.fit(x16, X_val=x16[0], y_val=[0, 1, 0])
    # [5, 16, 16] is no one image (no axis at either end of 1 to 4 channels): one label was let through, and refused
    # only after training, whose networks were then left in a temporary folder
    with pytest.raises(DataError, match=r"^y_val: 1 labels for X_val, which holds 5 image\(s\)$"):
        f1.fit(x16, X_val=x16[:5], y_val=[1])
    # a [2, 2] array was raveled into 4 labels in silence
    with pytest.raises(DataError, match=r"one label per image .*shape \(2, 2\)"):
        f1.fit(x16, X_val=x16[:4], y_val=np.array([[0, 1], [0, 1]]))
    assert check_val_labels(np.array([[0], [1], [0], [1]]), 4).tolist() == [0, 1, 0, 1]     # a column still reads


def test_a_saved_detector_with_a_bad_image_shape_names_the_file(det, tmp_path) -> None:
    meta_path = det.save(tmp_path / "m")
    meta = json.loads(meta_path.read_text())
    for bad in (["x", 8, 1], [8, 8], "8x8", [8, 8, -1]):
        meta["image_shape"] = bad
        meta_path.write_text(json.dumps(meta))
        with pytest.raises(CheckpointError, match=r"m\.json: bad 'image_shape' value"):
            Detector.load(tmp_path / "m")


def test_train_run_and_run_study_name_a_wrong_argument(tmp_path) -> None:
    cfg = RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02, minibatch={4: 16, 8: 16}))
    with pytest.raises(ConfigError, match="train_run: cfg must be a wildgan.config.RunConfig, got NoneType"):
        train_run(None, tmp_path / "r")
    with pytest.raises(ConfigError, match="got dict: .*run_config_from_dict"):
        train_run({"method": "wildgan"}, tmp_path / "r")
    with pytest.raises(ConfigError, match="train_run: run_dir must be a path"):
        train_run(cfg, os.fsencode(str(tmp_path / "r")))
    with pytest.raises(ConfigError, match="run_study: base must be a wildgan.config.RunConfig"):
        run_study(None, [], tmp_path / "s")
    with pytest.raises(ConfigError, match="run_study: cells must be a list"):
        run_study(cfg, None, tmp_path / "s")
    # a part left a dict was taken by the dataclass and failed as an AttributeError deep inside train_run
    with pytest.raises(ConfigError, match=r"RunConfig: data must be a wildgan\.config\.DataConfig, got dict "
                                          r"\(a dict is made one by DataConfig\(\*\*d\)"):
        replace(cfg, data={"resolution": 8})
    with pytest.raises(ConfigError, match=r"RunConfig: train must be a wildgan\.config\.TrainConfig, got NoneType$"):
        RunConfig(data=cfg.data, net=cfg.net, train=None)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="contamination must be in \\[0, 1\\), got '0.1'"):
        DataConfig(contamination="0.1")
    # numbers other than int / float are taken as floats: a numpy float32 was accepted, then no JSON number
    for c in (np.float32(0.25), fractions.Fraction(1, 4)):
        d = DataConfig(contamination=c, resolution=8)
        assert type(d.contamination) is float and d.contamination == 0.25
        json.dumps(run_config_to_dict(replace(cfg, data=d)))


def test_tensors_without_readable_pixels_are_named() -> None:
    with pytest.raises(DataError, match="meta tensor"):
        to_numpy(torch.empty(2, 8, 8, device="meta"))
    with pytest.raises(DataError, match="sparse_coo"):
        to_numpy(torch.zeros(2, 8, 8).to_sparse())
    assert to_numpy(torch.zeros(2, 8, 8, requires_grad=True)).shape == (2, 8, 8)


def test_y_val_tensors_numpy_cannot_take_read_after_training(det, x16) -> None:
    # (the check before training took them through to_numpy, the threshold after it through np.asarray: a y_val that
    # requires grad or is bf16 -- or lives on a GPU -- passed the first and failed once the training was spent)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning):
        f1 = Detector(**SHORT, threshold="f1").fit(x16, X_val=x16[:4], y_val=y)
    assert f1.threshold_rule_.rule == "f1"
    d = copy.deepcopy(det)
    d.set_threshold("f1", X_val=x16[:4], y_val=torch.tensor([0, 1, 0, 1], dtype=torch.bfloat16))
    assert d.threshold_rule_.rule == "f1"


def test_y_val_errors_name_y_val_and_x_val(x16, tmp_path, monkeypatch) -> None:
    for i in range(4):
        Image.fromarray(x16[i]).save(tmp_path / f"{i}.png")
    _no_training(monkeypatch)
    f1 = Detector(**SHORT, threshold="f1")
    with pytest.raises(DataError, match=r"^y_val: a meta tensor"):         # (was "images: a meta tensor")
        f1.fit(x16, X_val=x16[:4], y_val=torch.empty(4, device="meta"))
    # (was "3 labels for 4 scores", before anything was scored)
    with pytest.raises(DataError, match=f"3 labels for X_val {re.escape(str(tmp_path))}, which holds 4 image"):
        f1.fit(x16, X_val=str(tmp_path), y_val=[0, 1, 0])
    with pytest.raises(DataError, match=r"^y_val: not read as one array"):      # (was numpy's bare ValueError)
        f1.fit(x16, X_val=x16[:2], y_val=[[0], [1, 0]])


def test_a_masked_array_is_refused_unless_nothing_is_masked(det, x16, monkeypatch) -> None:
    """np.ma.MaskedArray as X or as scores was read by its data with the mask dropped in silence: masked pixels were
    scored (and trained on) as whatever value lay under the mask, masked scores chose the threshold. A mask has no
    meaning for the networks (they see every pixel) nor for a threshold: now it is a DataError naming the argument
    and how many values are masked; an array with nothing masked is read as its data."""
    from wildgan.thresholds import Threshold, contamination_threshold

    masked = np.ma.masked_array(x16[:4], mask=np.zeros(x16[:4].shape, dtype=bool))
    masked.mask[1, 2, 3] = True
    for call in (det.decision_function, det.predict, lambda x: det.decision_function(list(x))):
        with pytest.raises(DataError, match=r"^image(s|\s1): 1 of \d+ values are masked"):
            call(masked)
    with pytest.raises(DataError, match="images: 1 of 256 values are masked"):
        det.decision_function(masked.astype(np.float32) / 255)        # (floats: read for their range first)
    _no_training(monkeypatch)
    with pytest.raises(DataError, match="images: 1 of 256 values are masked"):
        Detector(**SHORT).fit(masked)
    scores = np.ma.masked_array([0.1, 0.5, 9.0, 0.2], mask=[0, 0, 1, 0])
    with pytest.raises(DataError, match="training scores: 1 of 4 values are masked"):
        contamination_threshold(scores, 0.25)
    with pytest.raises(DataError, match="scores: 1 of 4 values are masked"):
        Threshold(1.0, "contamination").apply(scores)
    with pytest.raises(DataError, match="y_val: 1 of 4 values are masked"):
        Detector(**SHORT, threshold="f1").fit(x16, X_val=x16[:4], y_val=np.ma.masked_array([0, 1, 0, 1],
                                                                                            mask=[0, 0, 1, 0]))
    # nothing masked (np.ma.nomask, or a mask of False): its data
    for plain in (np.ma.masked_array(x16[:4]), np.ma.masked_array(x16[:4], mask=np.zeros(x16[:4].shape, bool))):
        np.testing.assert_array_equal(det.decision_function(plain), det.decision_function(x16[:4]))
    assert contamination_threshold(np.ma.masked_array([0.1, 0.5]), 0.5).value == 0.3


def test_a_masked_item_of_a_list_of_images_is_named_by_its_item() -> None:
    """With the float range known (a fitted Detector's pixel_range_, or float_range=) the list's items were read by
    _single_image's to_numpy under the default name: 'images: 1 of 64 values are masked' for the second image."""
    from wildgan.data.inputs import to_images

    x = np.random.default_rng(0).random((2, 8, 8))
    masked = np.ma.masked_array(x[1], mask=np.arange(64).reshape(8, 8) == 5)
    with pytest.raises(DataError, match=r"^image 1: 1 of 64 values are masked"):
        to_images([x[0], masked], 8, 1, float_range="[0,1]")


def test_x_val_s_unreadable_arrays_are_refused_before_training_by_its_name(x16, monkeypatch) -> None:
    """X_val's images are read after training (decision_function): a masked value or a NaN pixel in them cost the
    whole training before the refusal, which named 'images' / 'image 1', not X_val. Now they are refused first."""
    _no_training(monkeypatch)
    f1 = Detector(**SHORT, threshold="f1")
    y = [0, 1, 0, 1]
    masked = np.ma.masked_array(x16[:4], mask=np.zeros(x16[:4].shape, dtype=bool))
    masked.mask[1, 2, 3] = True
    nan = x16[:4] / 255.0
    nan[2, 0, 0] = np.nan
    for X_val, said in ((masked, r"X_val: 1 of 256 values are masked"),
                        ([x16[0], masked[1], x16[2], x16[3]], r"X_val\[1\]: 1 of 64 values are masked"),
                        (nan, r"X_val: image values contain NaN or inf"),
                        (list(nan), r"X_val\[2\]: image values contain NaN or inf"),
                        ([x16[0], [[0, 1], [2]]], r"X_val\[1\]: not read as one array")):
        with pytest.raises(DataError, match=f"^{said}"):
            f1.fit(x16, X_val=X_val, y_val=y)


def test_x_val_s_refusal_after_training_names_x_val(det, x16) -> None:
    # (what only the trained Detector can tell, e.g. floats outside the range it reads them in: named as X_val's)
    with pytest.raises(DataError, match=r"^X_val: images: float pixel values in \[-1, 2\] lie outside"):
        det.set_threshold("f1", X_val=np.linspace(-1, 2, 4 * 64).reshape(4, 8, 8), y_val=[0, 1, 0, 1])


def test_y_val_s_refusals_name_y_val(det, x16, monkeypatch) -> None:
    """Detector's y_val was refused as 'validation labels' (the thresholds' name), beside 'y_val: ...' for what
    to_numpy refused in the same argument: every refusal of it now names y_val, as the caller gave it."""
    for y, said in ((["a", "b", "a", "b"], "y_val: labels must be numbers"),
                    ([None, 1, 0, 1], "y_val: None where labels are needed"),
                    ([2, 1, 0, 1], r"y_val must be 0 \(normal\) or 1 \(anomaly\)"),
                    ([0, 0, 0, 0], r"y_val: no anomaly \(label 1\) among the labels, so F1 is undefined"),
                    (np.array([[0, 1], [0, 1]]), r"y_val must be one label per image .*shape \(2, 2\)")):
        with pytest.raises(DataError, match=f"^{said}"):
            det.set_threshold("f1", X_val=x16[:4], y_val=y)
        with monkeypatch.context() as m:
            _no_training(m)
            with pytest.raises(DataError, match=f"^{said}"):
                Detector(**SHORT, threshold="f1").fit(x16, X_val=x16[:4], y_val=y)
    with pytest.raises(DataError, match="^y_val: 3 labels for X_val, which holds 4 or 1 image"):
        Detector(**SHORT, threshold="f1").fit(x16, X_val=x16[:4], y_val=[0, 1, 0])
    # (said as fit says it: the caller gave X_val's images, not scores; was "3 labels for 4 scores")
    with pytest.raises(DataError, match=r"^y_val: 3 labels for X_val, which holds 4 image\(s\)$"):
        det.set_threshold("f1", X_val=x16[:4], y_val=[0, 1, 0])


def test_an_x_val_file_the_read_would_refuse_is_refused_before_training(x16, tmp_path, monkeypatch) -> None:
    """X_val's paths are read after training (decision_function): an .npz whose image array has a bad layout or bad
    pixels, or a path that is not there, cost the whole training before the refusal. Now the refusal comes first, in
    the read's own words, after 'X_val: '; an .npz the read takes passes the check."""
    _no_training(monkeypatch)
    f1 = Detector(**SHORT, threshold="f1")
    y = [0, 1, 0, 1]
    bad = {"flat": (dict(x=np.zeros((4, 64), np.uint8)), r"flat\.npz:x: image array must have 3 \(NHW\) or 4"),
           "stack": (dict(x=np.zeros((4, 8, 8, 1, 1), np.uint8)), r"stack\.npz:x: image array must have 3"),
           "two": (dict(x=np.zeros((4, 8, 8, 2), np.uint8)), r"two\.npz:x: image array of shape \(4, 8, 8, 2\) has 2 "
                                                              r"channels"),
           "five": (dict(x=np.zeros((4, 8, 8, 5), np.uint8)), r"five\.npz:x: image array shape \(4, 8, 8, 5\) has no "
                                                               r"channel axis"),
           "nan": (dict(x=np.full((4, 8, 8), np.nan, np.float32)), r"nan\.npz:x: image array contains NaN or inf"),
           "range": (dict(x=np.linspace(-1, 1, 256).reshape(4, 8, 8)), r"range\.npz:x: float image values must lie "
                                                                        r"in \[0, 1\] or \[0, 255\], found \[-1, 1\]")}
    for name, (arrays, said) in bad.items():
        np.savez(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(DataError, match=f"^X_val: {re.escape(str(tmp_path))}/{said}"):
            f1.fit(x16, X_val=str(tmp_path / f"{name}.npz"), y_val=y)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"^X_val: .*junk\.npz: not an \.npz file"):
        f1.fit(x16, X_val=tmp_path / "junk.npz", y_val=y)
    for missing in (str(tmp_path / "missing.npz"), tmp_path / "no_folder", [x16[0], str(tmp_path / "gone.png")]):
        with pytest.raises(DataError, match=r"^X_val: .*(missing\.npz|no_folder|gone\.png): no such file or folder"):
            f1.fit(x16, X_val=missing, y_val=y)
    np.savez(tmp_path / "good.npz", x=x16[:4].astype(np.float32) / 255)
    with pytest.raises(AssertionError, match="training started"):       # passed the checks
        f1.fit(x16, X_val=str(tmp_path / "good.npz"), y_val=y)
    # a damaged label array: its images are read without it (the read ignores labels; y_val gives them), said
    np.savez(tmp_path / "labels.npz", x=x16[:4], y=np.zeros(3, int))
    with pytest.raises(AssertionError, match="training started"), \
            pytest.warns(WildganWarning, match=r"labels\.npz: labels 'y' has 3 entries but there are 4 images; its "
                                               r"images are read without labels"):
        f1.fit(x16, X_val=str(tmp_path / "labels.npz"), y_val=y)


@pytest.mark.filterwarnings("ignore:training ended at")      # (the short fits stop at 4x4 on purpose)
def test_an_x_val_the_threshold_rule_ignores_is_not_read(det, x16, tmp_path, monkeypatch) -> None:
    """Only threshold='f1' uses X_val: it was scored after training all the same, so that a file in it the read
    refuses cost the fit its training, and set_threshold a refusal. fit, from_run and set_threshold say (one warning,
    the same words) that it is ignored, and it is neither read nor checked: fit refused a NaN or ragged X_val before
    training, and set_threshold took one without a word."""
    np.savez(tmp_path / "flat.npz", x=np.zeros((4, 64), np.uint8))
    unused = "X_val / y_val are used by threshold='f1' only"
    with pytest.warns(UserWarning, match=f"{unused}; fit thresholds by contamination"):
        d = Detector(**SHORT).fit(x16, X_val=str(tmp_path / "flat.npz"))
    assert d.threshold_rule_.rule == "contamination"
    nan = np.full((4, 8, 8), np.nan, np.float32)
    for X_val in (str(tmp_path / "flat.npz"), str(tmp_path / "missing.npz"), nan, [[[1, 2], [3]]], ""):
        with pytest.warns(UserWarning, match=fr"{unused}; set_threshold thresholds by mad \(k=3\)"):
            assert copy.deepcopy(det).set_threshold("mad", X_val=X_val, y_val=[0, 1, 2]).threshold_rule_.rule == "mad"
        with monkeypatch.context() as m:
            _no_training(m)
            with pytest.warns(UserWarning, match=f"{unused}; fit thresholds by mad"), \
                    pytest.raises(AssertionError, match="training started"):        # (passed every check)
                Detector(**SHORT, threshold="mad").fit(x16, X_val=X_val, y_val=[0, 1, 2])


def _cifar_batches(folder, n: int = 2) -> np.ndarray:
    """A complete fake cifar-10-batches-py folder of n 32x32x3 images per batch -> its images as the read orders
    them (data_batch_1..5, then test_batch), NHWC."""
    import pickle

    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    xs = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": [0] * n}, protocol=3))
        xs.append(data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))
    return np.concatenate(xs)


@pytest.mark.filterwarnings("ignore:training ended at", "ignore:.*colour images are converted to gray",
                            "ignore:images were resized to the network")    # (32x32 colour for an 8x8 gray one)
def test_a_cifar_batch_folder_is_scored_and_taken_as_x_val(det, x16, tmp_path) -> None:
    """A CIFAR-10 batch folder is a data-set file the inputs accept: a folder, decision_function sent it to the
    chunked reader of image files, which refused it ('a data-set file ..., not an image'), after the training when
    it was fit's f1 X_val. It is read whole, as its archive is."""
    x = _cifar_batches(tmp_path / "cifar-10-batches-py")
    folder = str(tmp_path / "cifar-10-batches-py")
    np.testing.assert_array_equal(det.decision_function(folder), det.decision_function(x))
    y = [0, 1] * 6
    assert copy.deepcopy(det).set_threshold("f1", X_val=folder, y_val=y).threshold_rule_.rule == "f1"
    assert Detector(**SHORT, threshold="f1").fit(x16, X_val=folder, y_val=y).threshold_rule_.rule == "f1"


@pytest.mark.filterwarnings("ignore:.*colour images are converted to gray", "ignore:images were resized to the network")
def test_images_beside_cifar_batches_are_refused_by_every_read(det, x16, tmp_path, monkeypatch, capsys) -> None:
    """A folder of image files that also holds a cifar-10-batches-py folder was read as CIFAR-10 (decision_function
    gave the batches' scores, not the images'), a stray file named test_batch made it an incomplete CIFAR folder, and
    an f1 X_val was counted as its images (5) but read as the batches (12): no y_val passed. Every read and count
    takes such a folder alike now: refused, naming both."""
    from wildgan.cli import main
    from wildgan.data.inputs import check_image_paths, count_images
    from wildgan.data.readers import is_dataset_file, load_dataset

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    _no_training(monkeypatch)
    mixed, stray = tmp_path / "mixed", tmp_path / "stray"
    for folder in (mixed, stray):
        folder.mkdir()
        for i in range(5):
            Image.fromarray(x16[i]).save(folder / f"{i}.png")
    _cifar_batches(mixed / "cifar-10-batches-py")
    (stray / "test_batch").write_bytes(b"not a batch")
    for folder, batches in ((mixed, "cifar-10-batches-py/"), (stray, "test_batch")):
        said = rf"{re.escape(str(folder))}: holds both image files \(e\.g\. 0\.png\) and CIFAR-10 batches \({batches}\)"
        with pytest.raises(DataError, match=said):
            det.decision_function(str(folder))
        with pytest.raises(DataError, match=said):
            Detector(**SHORT).fit(str(folder))
        for n in (5, 12):        # (the images' count, the batches')
            with pytest.raises(DataError, match="^X_val: " + said):
                Detector(**SHORT, threshold="f1").fit(x16, X_val=str(folder), y_val=[0, 1] * (n // 2) + [0] * (n % 2))
        assert count_images(str(folder)) is None and not is_dataset_file(folder)
        with pytest.raises(DataError, match="^X_val: " + said):
            check_image_paths(str(folder), "X_val")
        with pytest.raises(DataError, match=said):
            load_dataset(folder)                    # `wildgan train --data`'s read
        capsys.readouterr()
        assert main(["score", det.run_dir, "--data", str(folder), "--out", str(tmp_path / "s.csv")]) == 2
        assert re.search(said, capsys.readouterr().err)
    # the batches' folder itself, and a folder holding only it (the download's layout), are CIFAR-10 still
    (mixed / "0.png").rename(tmp_path / "0.png")
    for i in range(1, 5):
        (mixed / f"{i}.png").unlink()
    batches = str(mixed / "cifar-10-batches-py")
    assert len(det.decision_function(str(mixed))) == len(det.decision_function(batches)) == 12


def test_a_tar_x_val_the_read_would_refuse_is_refused_before_training(det, x16, tmp_path, monkeypatch) -> None:
    """A tar archive as f1 X_val was only looked for: one without images, an incomplete CIFAR-10 archive or labels
    that cannot match its images were refused after training. It is unpacked (into the cache the read after
    training reuses) and listed, CIFAR batches read, before it; the archive is named, not its place in the cache."""
    import tarfile

    monkeypatch.setenv("WILDGAN_CACHE", str(tmp_path / "cache"))
    _no_training(monkeypatch)
    f1 = Detector(**SHORT, threshold="f1")

    def tar(name: str, folder) -> str:
        with tarfile.open(tmp_path / name, "w:gz") as t:
            t.add(folder, arcname=folder.name)
        return str(tmp_path / name)

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no images")
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.fromarray(x16[i]).save(tmp_path / "imgs" / f"{i}.png")
    _cifar_batches(tmp_path / "c" / "cifar-10-batches-py")
    cifar = tar("cifar.tar.gz", tmp_path / "c" / "cifar-10-batches-py")
    (tmp_path / "c" / "cifar-10-batches-py" / "data_batch_3").unlink()
    part = tar("part.tar.gz", tmp_path / "c" / "cifar-10-batches-py")
    notes = tar("notes.tar.gz", tmp_path / "notes")
    for X_val, y, said in ((notes, [0, 1], r"^X_val: .*notes\.tar\.gz: folder contains no image"),
                           (part, [0, 1] * 5, r"not a complete cifar-10-batches-py folder \(missing data_batch_3\)"),
                           (tar("imgs.tar.gz", tmp_path / "imgs"), [0, 1, 0],
                            r"^y_val: 3 labels for X_val .*imgs\.tar\.gz, which holds 4 image"),
                           (cifar, [0, 1, 0], r"^y_val: 3 labels for X_val .*cifar\.tar\.gz, which holds 12 image")):
        with pytest.raises(DataError, match=said):
            f1.fit(x16, X_val=X_val, y_val=y)
    with pytest.raises(DataError, match=r"^.*notes\.tar\.gz: folder contains no image"):   # the read's own words
        det.decision_function(notes)
    for X_val, y in ((str(tmp_path / "imgs.tar.gz"), [0, 1, 0, 1]), (cifar, [0, 1] * 6)):
        with pytest.raises(AssertionError, match="training started"):       # passed the checks
            f1.fit(x16, X_val=X_val, y_val=y)


def test_x_val_s_count_is_checked_whatever_skip_bad(x16, tmp_path, monkeypatch) -> None:
    """X_val is read after training by decision_function, which leaves no file out: with Detector(skip_bad=True) its
    count was not checked against y_val before training, though that read would refuse the mismatch."""
    for i in range(4):
        Image.fromarray(x16[i]).save(tmp_path / f"{i}.png")
    _no_training(monkeypatch)
    with pytest.raises(DataError, match=r"^y_val: 3 labels for X_val .*, which holds 4 image"):
        Detector(**SHORT, threshold="f1", skip_bad=True).fit(x16, X_val=str(tmp_path), y_val=[0, 1, 0])


@pytest.mark.filterwarnings("ignore:training ended at")
def test_fit_keeps_x_val_as_the_caller_gave_it(x16, monkeypatch) -> None:
    """X_val's nested lists are converted for the checks before training and dropped: fit held them through the
    training as int64 / float64 arrays (~8x the uint8 images); the read after training converts them again."""
    X_val = [x16[i].tolist() for i in range(4)]
    seen = []
    real = Detector._set_threshold

    def spy(self, X_val=None, y_val=None):
        seen.append(X_val)
        return real(self, X_val, y_val)

    monkeypatch.setattr(Detector, "_set_threshold", spy)
    d = Detector(**SHORT, threshold="f1").fit(x16, X_val=X_val, y_val=[0, 1, 0, 1])
    assert d.threshold_rule_.rule == "f1" and seen[0] is X_val


class _UserTensor(torch.Tensor):
    """A torch.Tensor subclass defined outside torch, as a user's own."""


def test_user_tensor_subclasses_in_lists_are_read_and_checked(det, x16, monkeypatch) -> None:
    """Rows of a nested list that are a user's tensor subclass requiring grad are read as tensors (numpy's asarray
    raised torch's bare RuntimeError); NaN in a list of them is refused before training, by X_val's item."""
    t = torch.from_numpy(x16[:4].astype(np.float32))
    rows = [[r.clone().requires_grad_().as_subclass(_UserTensor) for r in img] for img in t]
    np.testing.assert_array_equal(det.decision_function(rows), det.decision_function(list(x16[:4])))
    nan = (t / 255).clone()
    nan[1, 0, 0] = float("nan")
    _no_training(monkeypatch)
    f1 = Detector(**SHORT, threshold="f1")
    with pytest.raises(DataError, match=r"^X_val\[1\]: image values contain NaN or inf"):
        f1.fit(x16, X_val=list(nan.as_subclass(_UserTensor)), y_val=[0, 1, 0, 1])
    with pytest.raises(AssertionError, match="training started"):       # the rows pass the checks
        f1.fit(x16, X_val=rows, y_val=[0, 1, 0, 1])


@pytest.mark.filterwarnings("ignore:.*records the threshold of the Detector.fit")   # (the f1 asked for instead)
def test_from_run_checks_an_f1_x_val_before_scoring_the_training_images(det, x16, monkeypatch) -> None:
    """from_run(..., threshold='f1') scores the run's training images (minutes for a large set) before X_val: what
    the read of X_val refuses was refused only then. It is checked first, as fit checks it before training."""
    from wildgan.scoring import train_scores

    def refuse(*a, **k):
        raise AssertionError("training images scored")

    monkeypatch.setattr(train_scores, "run_training_scores", refuse)
    nan = x16[:4] / 255.0
    nan[2, 0, 0] = np.nan
    for X_val, y, said in ((nan, [0, 1, 0, 1], r"^X_val: image values contain NaN or inf"),
                           (x16[:4], [0, 1, 0], r"^y_val: 3 labels for X_val, which holds 4 or 1 image"),
                           ("/no/such/folder", [0, 1], r"^X_val: .*no such file or folder")):
        with pytest.raises(DataError, match=said):
            Detector.from_run(det.run_dir_, threshold="f1", X_val=X_val, y_val=y)
    with pytest.raises(AssertionError, match="training images scored"):
        Detector.from_run(det.run_dir_, threshold="f1", X_val=x16[:4], y_val=[0, 1, 0, 1])


def test_unreadable_files_are_all_named_in_the_api_s_own_terms(det, x16, tmp_path, monkeypatch) -> None:
    """A folder with two unreadable files: fit's error named only the first (a new user fixes it, fits again, and
    meets the second) and not skip_bad=True; decision_function on the folder said the CLI's --skip-bad, an option
    the Python API does not have, and scoring has no skip_bad at all (its rows are aligned with X)."""
    pile = tmp_path / "pile"
    pile.mkdir()
    for i in range(4):
        Image.fromarray(x16[i]).save(pile / f"{i}.png")
    (pile / "a-notes.png").write_text("not an image\n")
    (pile / "z-cut.png").write_bytes((pile / "0.png").read_bytes()[:40])
    _no_training(monkeypatch)
    with pytest.raises(DataError) as e:
        Detector(**SHORT).fit(str(pile))
    said = str(e.value)
    assert "2 unreadable image files (skip_bad=True leaves them out)" in said and "--skip-bad" not in said, said
    assert str(pile / "a-notes.png") in said and str(pile / "z-cut.png") in said, said
    for X in (str(pile), sorted(str(p) for p in pile.iterdir())):      # a folder (read in chunks) and a list
        with pytest.raises(DataError) as e:
            det.decision_function(X)
        said = str(e.value)
        assert said.startswith("2 unreadable image files: ") and "skip" not in said, said
        assert str(pile / "a-notes.png") in said and str(pile / "z-cut.png") in said, said
        assert "scoring gives every image of X a score" in said, said


def test_every_bad_pil_image_of_a_list_is_named_by_index_with_the_skip_bad_hint(det, x16, tmp_path,
                                                                              monkeypatch) -> None:
    """A list of PIL images with two truncated ones: fit stopped at the first, without the skip_bad=True hint that a
    folder of bad files gets; now every bad item is named by its index, once, with the hint."""
    import io

    buf = io.BytesIO()
    Image.fromarray(x16[0]).save(buf, format="PNG")
    cut = buf.getvalue()[:60]
    images = [Image.fromarray(x16[i]) for i in range(4)]
    images[1] = Image.open(io.BytesIO(cut))
    images.append(Image.open(io.BytesIO(cut)))
    _no_training(monkeypatch)
    with pytest.raises(DataError) as e:
        Detector(**SHORT).fit(images)
    said = str(e.value)
    assert said.startswith("2 unreadable images (skip_bad=True leaves them out): "), said
    assert "image 1" in said and "image 4" in said and "--skip-bad" not in said, said
    with pytest.raises(DataError) as e:
        det.decision_function([Image.open(io.BytesIO(cut)), Image.fromarray(x16[0]), Image.open(io.BytesIO(cut))])
    said = str(e.value)
    assert said.startswith("2 unreadable images: ") and "image 0" in said and "image 2" in said, said
    assert "scoring gives every image of X a score" in said, said


def _run_readers() -> dict:
    """Every Python reader of a run folder, by the name its refusal uses (the CLI's score, export, evaluate, report)."""
    from wildgan.evaluation.report import diagnose_run, report, run_report
    from wildgan.evaluation.run import evaluate_run
    from wildgan.export import export_onnx, scoring_graph
    from wildgan.scoring.run import load_model

    return {"load_model": lambda p, out: load_model(p, "cpu"), "scoring_graph": lambda p, out: scoring_graph(p),
            "export_onnx": lambda p, out: export_onnx(p, out / "m.onnx"),
            "evaluate_run": lambda p, out: evaluate_run(p, device="cpu"),
            "report": lambda p, out: report(p, device="cpu"), "run_report": lambda p, out: run_report(p, device="cpu"),
            "diagnose_run": lambda p, out: diagnose_run(p, device="cpu")}


@pytest.fixture(scope="module")
def saved(det, x16, tmp_path_factory):
    """A folder of saved Detectors: kept.* (its fit's run folder still holds its networks), model.* (fitted in a
    temporary run folder, gone now) and models/detector.* (det.save(DIR))."""
    where = tmp_path_factory.mktemp("saved")
    det.save(where / "kept")
    with pytest.warns(UserWarning):                                  # (stopped at 4x4 on purpose)
        Detector(**SHORT).fit(x16).save(where / "model")
    (where / "models").mkdir()
    Detector.load(where / "model").save(where / "models")
    return where


@pytest.mark.parametrize("reader", list(_run_readers()))
def test_a_saved_detector_given_to_a_run_reader_says_what_to_use(det, saved, tmp_path, reader) -> None:
    """`wildgan score model.json` named the saved Detector and what to use instead; load_model, export_onnx,
    evaluate_run and report said only that it "is a file, not a run directory" (or "no such run directory" for the
    stem of the pair, "no config.json" for a folder det.save wrote). Each now says it as the command does, in its own
    name, and writes nothing."""
    read = _run_readers()[reader]
    scores = reader not in ("export_onnx", "scoring_graph")          # (a saved Detector scores; it does not export)
    for given, json_path in (("model.json", "model.json"), ("model.safetensors", "model.json"),
                             ("model", "model.json"), ("models", "models/detector.json")):
        with pytest.raises(ConfigError) as e:
            read(saved / given, tmp_path)
        said = str(e.value)
        assert said.startswith(f"{saved / given} is a Detector saved by the Python API (Detector.save), not a run "
                               f"directory, which {reader} reads."), said
        assert (f"Detector.load({str(saved / json_path)!r}).decision_function(X)" in said) == scores, said
        assert f"Detector(run_dir=DIR, ...).fit(X) writes DIR, a run directory that {reader}(DIR) reads" in said, said
    with pytest.raises(ConfigError) as e:
        read(saved / "kept.json", tmp_path)
    assert f"Its networks are those of the run {det.run_dir_}: {reader}({str(det.run_dir_)!r}) reads that." \
        in str(e.value), str(e.value)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("reader", list(_run_readers()))
def test_a_detector_or_none_given_to_a_run_reader_is_named(det, saved, tmp_path, reader) -> None:
    """export_onnx(det, "m.onnx") (the Detector itself, not its run folder) and export_onnx(det.run_dir_, ...) of a
    loaded Detector whose run folder is gone (run_dir_ None) failed in pathlib with a bare TypeError ("expected str,
    bytes or os.PathLike object, not Detector"), in every run reader; Detector.load / from_run named the argument.
    Each reader now says what it takes, and for a Detector the folder to give it, or that it has none."""
    read = _run_readers()[reader]
    with pytest.raises(ConfigError) as e:
        read(det, tmp_path)
    said = str(e.value)
    assert said.startswith(f"{reader} reads a run folder (str or pathlib.Path), not a Detector"), said
    assert f"{reader}({str(det.run_dir_)!r})" in said, said
    gone = Detector.load(saved / "model")                            # its temporary run folder is gone: run_dir_ None
    assert gone.run_dir_ is None
    with pytest.raises(ConfigError) as e:
        read(gone, tmp_path)
    assert "this Detector has no run folder" in str(e.value) and "Detector(run_dir=DIR, ...).fit(X)" in str(e.value)
    for bad, kind in ((None, "NoneType"), (b"runs/x", "bytes"), (3, "int")):
        with pytest.raises(ConfigError) as e:
            read(bad, tmp_path)
        assert str(e.value).startswith(f"{reader}'s run folder must be a path (str or pathlib.Path), got {kind}"), \
            str(e.value)
    assert not (tmp_path / "m.onnx").exists()


def test_set_threshold_f1_without_its_labelled_set_says_how_before_scoring(det, x16, monkeypatch) -> None:
    """det.set_threshold('f1') said only "threshold rule 'f1' needs a labelled validation set (scores and 0/1
    labels)", in thresholds' words (scores? the caller has images), and set_threshold('f1', X_val=X) scored every
    image of X_val before saying it; fit and from_run name their call and refuse first. Now set_threshold does too,
    and the Detector stays as it was."""
    import copy as _copy

    d = _copy.copy(det)
    before = (d.threshold_, d.get_params())
    scored = []
    monkeypatch.setattr(Detector, "_scores", lambda self, *a, **k: scored.append(1) or {})
    with pytest.raises(ConfigError, match=re.escape("needs a labelled validation set: "
                                                    "set_threshold('f1', X_val=..., y_val=...)")):
        d.set_threshold("f1")
    for given in (dict(X_val=x16), dict(y_val=np.r_[np.zeros(8), np.ones(8)])):
        with pytest.raises(ConfigError, match=re.escape("takes X_val and y_val together: set_threshold got only "
                                                        f"{next(iter(given))}")):
            d.set_threshold("f1", **given)
    assert scored == [] and (d.threshold_, d.get_params()) == before


def test_labels_given_to_decision_function_are_not_read_as_its_resume_dir(det, x16) -> None:
    """det.decision_function(X, y) (as for a supervised model's score(X, y)) took the labels as resume_dir, the
    second positional parameter, and said "resume_dir applies to a folder of image files ...; got ndarray": about
    X, which is fine. resume_dir is keyword-only now (the docs always give it so), as scikit-learn's extra
    parameters are, and Python names the call."""
    y = np.zeros(len(x16), int)
    for call in (det.decision_function, det.score_all):
        with pytest.raises(TypeError, match=r"takes 2 positional arguments but 3 were given"):
            call(x16, y)


def test_a_resume_on_other_arrays_does_not_speak_of_changed_files(x16, tmp_path) -> None:
    """fit(other_array, resume=True) on a run fitted on an array was refused (right) with "... decoded by the same
    image reader and decoders as recorded, so the files themselves changed: e.g. images replaced or edited in place
    under the same names": there are no files, the caller gave other pixels. It now says so in those terms."""
    run = tmp_path / "run"
    with pytest.warns(UserWarning):
        Detector(**SHORT, run_dir=str(run)).fit(x16)
    other = x16[::-1].copy()                                          # the same count and ids (array:i), other pixels
    for given in (other, [Image.fromarray(a) for a in other]):
        with pytest.raises(ConfigError) as e:
            Detector(**SHORT, run_dir=str(run)).fit(given, resume=True)
        said = str(e.value)
        assert "the training images changed since this run started" in said, said
        assert "files themselves changed" not in said, said
        assert "the images given (arrays or PIL images, no files) hold other pixels than" in said, said


def test_a_torch_device_and_non_bool_switches_are_refused_before_training(x16, monkeypatch) -> None:
    """Detector(device=torch.device('cpu')).fit(X) trained, then failed writing the encoder's JSON ("Object of type
    device is not JSON serializable", in nets/encoder.py); skip_bad='no' and verbose='no' were taken as true (a
    non-empty string), so skip_bad='no' left unreadable files out with no error. Each is refused by fit before it
    trains, naming the parameter."""
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match=re.escape("device must be a str ('auto', 'cpu', 'cuda' or 'cuda:N'), "
                                                    "got torch.device: pass device='cpu'")):
        Detector(**{**SHORT, "device": torch.device("cpu")}).fit(x16)
    for name in ("skip_bad", "verbose"):
        with pytest.raises(ConfigError, match=re.escape(f"{name} must be True or False, got 'no'")):
            Detector(**SHORT, **{name: "no"}).fit(x16)
    with pytest.raises(AssertionError, match="training started"):     # numpy's bools are bools
        Detector(**SHORT, skip_bad=np.bool_(True), verbose=np.False_).fit(x16)


def test_a_loaded_detector_s_torch_device_and_integer_switches_still_score_and_threshold(det, x16, monkeypatch,
                                                                                     tmp_path) -> None:
    """The check above is fit's: a Detector that from_run made with device=torch.device(...) (load_model takes one)
    or verbose=1 (scikit-learn's integer verbosity) scored, and set_threshold / set_params refitted its threshold;
    refused there since by the same check, where nothing is trained or written. Integer switches 0 / 1 (verbose: any
    level >= 0) are taken by fit too, as before; other integers and strings are still refused."""
    for kw in ({"device": torch.device("cpu")}, {"device": "cpu", "verbose": 1}, {"device": "cpu", "skip_bad": 0}):
        loaded = Detector.from_run(det.run_dir_, **kw)
        loaded.set_threshold("mad")
        loaded.set_params(score="L_r")
        assert np.isfinite(loaded.threshold_), kw
    # and saved: its JSON took the torch.device as it was ("Object of type device is not JSON serializable"); saved as
    # its str, which a load reads as the same device
    loaded = Detector.from_run(det.run_dir_, device=torch.device("cpu"))
    path = loaded.save(tmp_path / "m")
    assert Detector.load(path).get_params()["device"] == "cpu"
    _no_training(monkeypatch)
    with pytest.raises(AssertionError, match="training started"):
        Detector(**SHORT, skip_bad=1, verbose=np.int64(2)).fit(x16)
    for name, bad in (("skip_bad", 2), ("verbose", -1)):
        with pytest.raises(ConfigError, match=f"{name} must be True or False"):
            Detector(**SHORT, **{name: bad}).fit(x16)


def test_evaluate_run_takes_one_normal_class_given_as_a_string(det, tmp_path) -> None:
    """evaluate_run(RUN, 'checks', normal='normal') read the string letter by letter (tuple('normal')) and said
    "normal class 'n' does not exist"; DataConfig(normal='normal'), the CLI's --normal normal and from_run's docs take
    it as one class (a comma-separated list, as on the command line). Now evaluate_run does too."""
    from wildgan.evaluation.run import evaluate_run

    rng = np.random.default_rng(1)
    for cls in ("normal", "abnormal"):
        (tmp_path / "checks" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "checks" / cls / f"{i}.png")
    kw = dict(device="cpu", controls=False, write=False, log=lambda m: None)
    as_tuple = evaluate_run(det.run_dir_, str(tmp_path / "checks"), normal=("normal",), **kw)
    as_str = evaluate_run(det.run_dir_, str(tmp_path / "checks"), normal="normal", **kw)
    assert as_str["auc"] == as_tuple["auc"] and as_str["n_anomalous"] == as_tuple["n_anomalous"] == 6
    # any other collection of names is taken as tuple() took it before (a set, a dict's keys), not refused as a
    # config file's data.normal; a whole-number label as DataConfig reads it
    for given in ({"normal"}, dict.fromkeys(["normal"]).keys()):
        got = evaluate_run(det.run_dir_, str(tmp_path / "checks"), normal=given, **kw)
        assert got["auc"] == as_tuple["auc"] and got["n_anomalous"] == 6, given


def test_one_path_given_as_a_string_is_one_path_not_its_letters(det, x16, tmp_path, monkeypatch) -> None:
    """score_files(model, 'pile'), load_images('pile', R, C) and report(RUN, images='a.png') iterated the string and
    said "p: no such file or folder" (or "r: ..."), or read a folder of that one-letter name where there was one.
    A str or Path there is one path now, as Detector.decision_function('pile') takes it."""
    from wildgan.data import load_image_files, load_images
    from wildgan.evaluation import report as report_mod
    from wildgan.scoring.run import load_model, score_files

    pile = tmp_path / "pile"
    pile.mkdir()
    for i, a in enumerate(x16[:6]):
        Image.fromarray(a).save(pile / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    model = load_model(det.run_dir_, "cpu")
    listed = score_files(model, ["pile"])
    for given in ("pile", pile, Path("pile")):
        got = score_files(model, given)
        assert [Path(i).name for i in got.ids] == [Path(i).name for i in listed.ids]   # (pile: absolute ids)
        assert np.array_equal(got.scores["a"], listed.scores["a"])
        assert load_images(given, 8, 1)[1] == load_images([given], 8, 1)[1]
        assert load_image_files(given, 8, 1)[3] == 6
    seen = []
    monkeypatch.setattr(report_mod, "_run_report", lambda run_dir, **k: seen.append(list(k["images"])))
    report_mod.report(det.run_dir_, images="pile/0.png")
    report_mod.run_report(det.run_dir_, images=pile / "1.png")
    assert seen == [["pile/0.png"], [pile / "1.png"]]


def test_the_auc_functions_name_a_two_column_score_array() -> None:
    """roc_auc(y, det.predict_proba(X)) (its [N, 2] columns, not [:, 1]) was flattened to 2N scores and refused as
    "labels (100,) and scores (200,) differ in length": not what was wrong. It says one score per image now, and
    which column of predict_proba is the score; a column [N, 1] is still read as N scores."""
    from wildgan.evaluation import auc_ci, auc_difference, roc_auc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    s = rng.normal(size=100) + y
    for call in (lambda a: roc_auc(y, a), lambda a: auc_ci(y, a), lambda a: auc_difference(y, s, a)):
        with pytest.raises(ValueError, match=re.escape("scores of shape (100, 2): one score per image (1-D) is "
                                                       "needed; of predict_proba's two columns, [:, 1]")):
            call(np.c_[1 - s, s])
    assert roc_auc(y, s[:, None]) == roc_auc(y, s)
    # a map scored against its mask, pixel by pixel (labels and scores of one 2-D shape: H x W pixels, as before),
    # and a row of N scores for N labels, are read raveled: only a shape whose ravel does not match the labels is one
    rows = rng.integers(0, 2, (10, 10))
    heat = rng.normal(size=(10, 10)) + rows
    assert roc_auc(rows, heat) == roc_auc(rows.ravel(), heat.ravel())
    assert roc_auc(y, s[None, :]) == roc_auc(y, s)


def test_export_onnx_refuses_a_folder_path_and_says_what_a_threshold_option_without_a_rule_does(det, tmp_path,
                                                                                                  monkeypatch) -> None:
    """export_onnx(RUN, '.') traced the graph, then failed renaming its temporary file onto the folder with a bare
    OSError ("Device or resource busy", its .tmp left in the parent); `wildgan export --out .` says "is a folder".
    export_onnx(RUN, 'm.onnx', contamination=0.1) without threshold= wrote a model without a threshold and said
    nothing, where `wildgan export --expected-contamination 0.1` warns that it only matters with --threshold."""
    from wildgan.export import export_onnx, onnx_threshold

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    for given, example in ((".", "model.onnx"), ("models", "models/model.onnx"), ("models/", "models/model.onnx")):
        with pytest.raises(ConfigError, match=re.escape(f"export_onnx's path {given} is a folder; give a file name, "
                                                        f"e.g. {example}")):
            export_onnx(det.run_dir_, given)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"] and not any((tmp_path / "models").iterdir())
    for kw, said in ((dict(contamination=0.1), "contamination="), (dict(mad_k=2.0, score="L_r"), "mad_k=, score=")):
        with pytest.warns(WildganWarning, match=re.escape(f"export_onnx: {said} only matter")):
            export_onnx(det.run_dir_, tmp_path / "m.onnx", **kw)
        assert onnx_threshold(tmp_path / "m.onnx") is None
    with pytest.warns(WildganWarning, match=re.escape("export_onnx: mad_k= is not used by threshold='contamination'")):
        export_onnx(det.run_dir_, tmp_path / "m.onnx", threshold="contamination", mad_k=2.0)


def test_write_scores_csv_and_heatmap_panel_refuse_a_folder_and_return_the_file_written(tmp_path,
                                                                                         monkeypatch) -> None:
    """write_scores_csv('.', ...) failed as a bare OSError ("Device or resource busy") and write_scores_csv('out/')
    as IsADirectoryError, after the work; heatmap_panel('.', ...) wrote a hidden '.png' and returned '.', and
    heatmap_panel('worst', ...) wrote worst.png (matplotlib adds the suffix) but returned 'worst', a file that is
    not there. Folders are refused, naming the path; the panel's path returned is the file written."""
    from wildgan.evaluation.plots import heatmap_panel
    from wildgan.scoring.run import write_scores_csv

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    img, heat = np.zeros((8, 8, 1), np.uint8), np.zeros((8, 8), np.float32)
    for given in (".", "out", "out/"):
        example = str(Path(given) / "scores.csv")
        with pytest.raises(ConfigError, match=re.escape(f"write_scores_csv's path {given} is a folder; give a file "
                                                        f"name, e.g. {example}")):
            write_scores_csv(given, ["a"], {"a": np.array([1.0])})
        with pytest.raises(ConfigError, match=re.escape(f"heatmap_panel's path {given} is a folder")):
            heatmap_panel(given, img, heat)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any((tmp_path / "out").iterdir())
    # a folder that is not there, spelt as one ('new/'): not said to be one, but to be named as one, as --out says
    with pytest.raises(ConfigError, match=re.escape("write_scores_csv's path new/ names a folder (it ends in '/'); "
                                                    "give a file name, e.g. new/scores.csv")):
        write_scores_csv("new/", ["a"], {"a": np.array([1.0])})
    got = heatmap_panel("worst", img, heat)
    assert got == Path("worst.png") and got.is_file() and not Path("worst").exists()
    assert heatmap_panel(tmp_path / "b.png", img, heat) == tmp_path / "b.png"


def test_run_study_names_a_cell_that_is_not_one_and_grid_takes_one_name_as_a_string(tmp_path) -> None:
    """run_study(cfg, ['normal'], DIR) failed as "AttributeError: 'str' object has no attribute 'key'" inside
    check_study_dir; grid('normal', ...) made one cell per letter (normal classes 'n', 'o', ...; methods 'w', 'i' ...),
    refused later as classes that do not exist, or not at all. run_study now names the item and what makes cells, and
    grid takes a string as the one value it is."""
    from wildgan.studies.study import Cell, grid

    cfg = RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02, minibatch={4: 16, 8: 16}))
    with pytest.raises(ConfigError, match=re.escape("run_study: cells must be Cell objects (wildgan.studies.study."
                                                    "grid makes them), got str 'normal' at index 0")):
        run_study(cfg, ["normal"], tmp_path / "s")
    assert not (tmp_path / "s").exists()
    assert grid("normal", [0.1], "wildgan", "image", [0]) == [Cell("normal", 0.1, "wildgan", "image", 0)]
    assert grid(["normal"], [0.1], ["search"], "image", [0]) == [Cell("normal", 0.1, "search", "-", 0)]
