"""What Detector.fit reads of its data, and what it records of it for later commands: a DataConfig fit converts the
images by the Detector's resize_mode (unless the DataConfig sets its own) and records that rule; an X_val given as a
CIFAR-10 batches folder is read once, not once to check it and again to score it; `wildgan train --resume` of such a
run keeps the record of what the fit left to the data; and a fit's config.yaml copied elsewhere is still replayed as
the fit's own read. A user who trains through the API must get the conversion asked for and later commands that read
the same images the fit did."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from tiny_detector_fit import FIT, fit_quietly, random_images

from wildgan import Detector
from wildgan.errors import WildganWarning

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_data_config_fit_converts_by_the_detectors_resize_mode_unless_the_data_config_sets_its_own(
        tmp_path: Path) -> None:
    # Detector(resize_mode='pad').fit(DataConfig(...)) must pad, and record 'pad' (conversion_, split.json,
    # config.json), rather than resize by the protocol's rule and ignore the parameter without a word
    from dataclasses import replace

    from wildgan.config import DataConfig
    from wildgan.data import build_split, split_summary

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "small.npz", x=rng.integers(1, 255, (40, 6, 6), dtype=np.uint8), y=np.repeat([0, 1], 20))
    spec = DataConfig(data=str(tmp_path / "small.npz"), dataset="npz", normal=("0",))

    def fitted(name: str, resize_mode: str, data_cfg: DataConfig) -> tuple[Detector, dict, dict]:
        run = tmp_path / name
        det = fit_quietly(Detector(run_dir=str(run), resize_mode=resize_mode, **FIT), data_cfg)
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
    """An f1 X_val that is CIFAR-10's batches folder is read once, for the check before training and the scoring
    after, as an .npz's is (test_detector's test_fit_reads_an_npz_x_val_once): reading a whole data set twice costs
    the user its decoding time again. A batch changed in place since the check is read again, and its new pixels
    scored."""
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
    once = fit_quietly(Detector(threshold="f1", **FIT), random_images(), X_val=folder, y_val=y_val)
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
    # `wildgan train --resume RUN` of a DataConfig fit must keep split.json's detector_fit record: without it
    # from_run gives the networks' resolution and channels as chosen by the user, and a clone's fit converts other
    # data to them
    from wildgan.cli import main
    from wildgan.config import DataConfig

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "small.npz", x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.repeat([0, 1], 20))
    run = tmp_path / "run"
    fit_quietly(Detector(run_dir=str(run), **{**FIT, "resolution": None}),
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


def _fit_config_text(fit_run: Path, data: Path) -> str:
    """A Detector.fit run's config.yaml as an earlier wildgan wrote it: dataset 'auto', and the comment header whose
    record says it was a fit's (detector_input), naming `fit_run` as its run."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, config_yaml_header, net_config_for_preset, \
        run_config_to_dict

    cfg = RunConfig(data=DataConfig(data=str(data), dataset="auto"), net=net_config_for_preset("tiny", 16, 3),
                    train=TrainConfig(total_kimg=1), preset="tiny")
    header = config_yaml_header(fit_run, {"detector_input": True, "n_train": 5, "source": str(data)})
    return header + yaml.safe_dump(run_config_to_dict(cfg))


def test_a_fits_config_copied_into_another_runs_folder_is_replayed_as_the_fits(tmp_path: Path) -> None:
    # a fit's config.yaml copied into another run's folder is replayed by its header's record (the fit's run), not by
    # the split.json of the folder it now lies in, which is another run's
    from wildgan.data.replay import ReplayFiles, as_fit_read, fit_record

    fit_run, train_run = tmp_path / "fit-run", tmp_path / "train-run"
    train_run.mkdir()
    text = _fit_config_text(fit_run, tmp_path / "pile")
    # the fit's config.yaml copied into a `wildgan train` run's folder: its split.json is that run's, not a fit's
    (train_run / "config.yaml").write_text(text)
    (train_run / "split.json").write_text(json.dumps({"protocol": "cifar10", "n_train": 10}))
    # the same copy where nothing is beside it (where the header alone says whose it is)
    alone = tmp_path / "copy"
    alone.mkdir()
    (alone / "config.yaml").write_text(text)

    for config in (alone / "config.yaml", train_run / "config.yaml"):
        files = ReplayFiles(config)
        # the replay's record is the header's, the fit's run, for both copies ...
        found = files.training()
        assert found is not None and found[0] == str(fit_run.absolute()), (config, found)
        # ... and so is the fit's: its 'auto' replayed as what fit read (every image, labels ignored)
        assert fit_record(config, files) is not None, config
        read = as_fit_read(files.file_config(), config, note=lambda _: None, files=files)
        assert read is not None and read.data.dataset == "unlabelled", config
