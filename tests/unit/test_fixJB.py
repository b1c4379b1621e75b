"""Detector's hold on its run folder and its DataConfig fits: a copy (pickle, copy.copy, copy.deepcopy) of a fitted
Detector inherits its run as a clone does; Detector.load's warning names the run it finds; a DataConfig fit converts
by the Detector's resize_mode; a CIFAR-10 batches folder given as X_val is read once; `wildgan train --resume` keeps a
DataConfig fit's record."""

from __future__ import annotations

import copy
import gc
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan import Detector
from wildgan.errors import WildganWarning

pytestmark = pytest.mark.usefixtures("one_thread")

# a tiny fit of 8x8 images (about a second; it ends at 4x4, whose warning is not what is tested)
FIT = dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1, seed=5)


def _x(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (20, 8, 8), dtype=np.uint8)


def _fit_quietly(det: Detector, X, **kw) -> Detector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        return det.fit(X, **kw)


def _replaced_said(det: Detector, x, run_dir: Path) -> list[str]:
    """What a fit of det says of the run it replaces in run_dir."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        det.fit(x)
    return [str(w.message) for w in got if str(run_dir) in str(w.message) and "replaces" in str(w.message)]


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_a_copy_of_a_fitted_detector_that_fits_into_its_run_says_it_replaces_the_run(tmp_path: Path, how) -> None:
    # a copy holds the run of the Detector it copies without its caller choosing run_dir, as a clone or Detector.load's
    # Detector does: its fit replaced that run in place without a word once the original was gone
    x = _x()
    run = tmp_path / "r"
    first = _fit_quietly(Detector(run_dir=str(run), **FIT), x)
    twin = {"pickle": lambda d: pickle.loads(pickle.dumps(d)), "deepcopy": copy.deepcopy, "copy": copy.copy}[how](first)
    assert getattr(first, "_inherited_run", None) is None          # the original's refit stays its own
    del first
    gc.collect()
    said = _replaced_said(twin, x, run)
    assert len(said) == 1 and "copy" in said[0], said
    assert _replaced_said(twin, x, run) == []                       # its own run now
    # a copy of a Detector fitted in a temporary folder has no run_dir: nothing to replace, nothing said
    temp = _fit_quietly(Detector(**FIT), x)
    assert getattr(pickle.loads(pickle.dumps(temp)), "_inherited_run", None) is None


def test_a_loaded_detector_whose_run_was_trained_again_since_its_save_says_so(tmp_path: Path) -> None:
    # fit -> save -> load -> fit: the run there is the saved Detector's, and its fit says it replaces it (true). A run
    # trained again after the save (its Detector refitted there) is not: the warning said "holds the run this Detector
    # was fitted in", of a run of other networks
    x = _x()
    run = tmp_path / "r"
    first = _fit_quietly(Detector(run_dir=str(run), **FIT), x)
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
    again = _fit_quietly(Detector(run_dir=str(run), **FIT), x)
    saved = again.save(tmp_path / "again")
    _fit_quietly(again, _x(1))                      # trained there again after the save: other networks
    del again
    gc.collect()
    said = _replaced_said(Detector.load(saved, device="cpu"), x, run)
    assert len(said) == 1 and "holds a run trained there since this Detector was saved" in said[0], said
    assert "holds the run this Detector" not in said[0], said


def test_a_data_config_fit_converts_by_the_detectors_resize_mode_unless_the_data_config_sets_its_own(
        tmp_path: Path) -> None:
    # Detector(resize_mode='pad').fit(DataConfig(...)) resized the images by the protocol's rule, and recorded that
    # rule (conversion_, split.json, config.json): the parameter was ignored without a word
    import json
    from dataclasses import replace

    from wildgan.config import DataConfig
    from wildgan.data import build_split, split_summary

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "small.npz", x=rng.integers(1, 255, (40, 6, 6), dtype=np.uint8), y=np.repeat([0, 1], 20))
    spec = DataConfig(data=str(tmp_path / "small.npz"), dataset="npz", normal=("0",))

    def fitted(name: str, resize_mode: str, data_cfg: DataConfig) -> tuple[Detector, dict, dict]:
        run = tmp_path / name
        det = _fit_quietly(Detector(run_dir=str(run), resize_mode=resize_mode, **FIT), data_cfg)
        return (det, json.loads((run / "split.json").read_text()),
                json.loads((run / "config.json").read_text())["data"])

    det, split, recorded = fitted("pad", "pad", spec)
    assert det.conversion_["fit"] == split["conversion"]["fit"] == recorded["fit"] == "pad"
    # the pixels trained on are the padded ones (6x6 in an 8x8 frame of zeros), not the resized ones
    padded = split_summary(build_split(replace(spec, resolution=8, channels=1, fit="pad")))["train_pixels_sha256"]
    assert split["train_pixels_sha256"] == padded
    # a fit the DataConfig sets wins; the default resize_mode leaves the protocol's rule (MNIST's pad: cli tests)
    det, split, recorded = fitted("own", "pad", replace(spec, fit="resize"))
    assert det.conversion_["fit"] == split["conversion"]["fit"] == recorded["fit"] == "resize"
    assert split["train_pixels_sha256"] != padded
    det, split, _ = fitted("default", "resize", spec)
    assert det.conversion_["fit"] == split["conversion"]["fit"] == "resize"


def _cifar_batches(folder: Path, n: int = 2) -> None:
    """A complete fake cifar-10-batches-py folder of n 32x32x3 images per batch."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": [0] * n}, protocol=3))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))


@pytest.mark.filterwarnings("ignore:.*colour images are converted to gray", "ignore:images were resized to the network")
def test_fit_reads_a_cifar_batches_folder_x_val_once(tmp_path: Path, monkeypatch) -> None:
    """An f1 X_val that is CIFAR-10's batches folder was read whole twice, in the check before training and to score
    it after, as an .npz was before its read was kept (test_detector's test_fit_reads_an_npz_x_val_once). A batch
    changed in place since the check is read again, and its new pixels scored."""
    import wildgan.data.inputs as inputs

    folder = tmp_path / "cifar-10-batches-py"
    _cifar_batches(folder)
    y_val = [0, 1] * 6
    reads = []
    real = inputs.load_dataset

    def counted(path, *a, **k):
        reads.append(Path(path))
        return real(path, *a, **k)

    monkeypatch.setattr(inputs, "load_dataset", counted)
    once = _fit_quietly(Detector(threshold="f1", **FIT), _x(), X_val=folder, y_val=y_val)
    assert reads == [folder] and once.threshold_rule_.rule == "f1"
    # the same threshold as one chosen on the folder read afresh
    reads.clear()
    assert once.set_threshold("f1", X_val=folder, y_val=y_val).threshold_ == once.threshold_ and reads == [folder]
    # a batch edited in place between the check and the scoring: read again
    kept = []
    inputs.check_image_paths(str(folder), "X_val", keep=kept)
    batch = folder / "data_batch_3"
    d = pickle.loads(batch.read_bytes())
    d[b"data"] = 255 - d[b"data"]
    batch.write_bytes(pickle.dumps(d, protocol=3))
    reads.clear()
    with inputs.reusing_read(kept[0] if kept else None):
        x, _ = inputs.decode_items(str(folder), "per-image")
    assert reads == [folder]
    np.testing.assert_array_equal(np.stack(x)[4:6].reshape(2, -1), d[b"data"].reshape(2, 3, 32, 32)
                                  .transpose(0, 2, 3, 1).reshape(2, -1))


def test_a_command_line_resume_of_a_data_config_fit_keeps_its_record_of_what_it_left_to_the_data(
        tmp_path: Path, capsys) -> None:
    # `wildgan train --resume RUN` wrote split.json afresh, without the fit's detector_fit record: from_run then gave
    # the networks' resolution and channels as chosen, and a clone's fit converted other data to them
    import json

    from wildgan.cli import main
    from wildgan.config import DataConfig

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "small.npz", x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.repeat([0, 1], 20))
    run = tmp_path / "run"
    _fit_quietly(Detector(run_dir=str(run), **{**FIT, "resolution": None}),
                 DataConfig(data=str(tmp_path / "small.npz"), dataset="npz", normal=("0",)))
    record = json.loads((run / "split.json").read_text())["detector_fit"]
    assert record == {"resolution_from": "data", "channels_from": "data"}
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
    assert json.loads((run / "split.json").read_text()).get("detector_fit") == record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        params = Detector.from_run(run, device="cpu").get_params()
    assert (params["resolution"], params["channels"]) == (None, None)
