"""revFV: review of the merges fixIF..fixIU. Each test here shows one finding, as a strict xfail until it is fixed
(the fixer removes the mark; the test then stays as the finding's regression test)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import yaml


def _fit_config_text(fit_run: Path, data: Path) -> str:
    """A Detector.fit run's config.yaml as an earlier wildgan wrote it: dataset 'auto', and the comment header whose
    record says it was a fit's (detector_input), naming `fit_run` as its run."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, config_yaml_header, net_config_for_preset, \
        run_config_to_dict

    cfg = RunConfig(data=DataConfig(data=str(data), dataset="auto"), net=net_config_for_preset("tiny", 16, 3),
                    train=TrainConfig(total_kimg=1), preset="tiny")
    header = config_yaml_header(fit_run, {"detector_input": True, "n_train": 5, "source": str(data)})
    return header + yaml.safe_dump(run_config_to_dict(cfg))


# revFV 1 (fit_record took the split.json beside a copied config.yaml whose header names another run)
# is fixed by fixIW (f75bf4a7).
def test_a_fits_config_copied_into_another_runs_folder_is_replayed_as_the_fits(tmp_path: Path) -> None:
    from wildgan.data.replay import ReplayFiles, as_fit_read, fit_record

    fit_run, train_run = tmp_path / "fit-run", tmp_path / "train-run"
    train_run.mkdir()
    text = _fit_config_text(fit_run, tmp_path / "pile")
    # the fit's config.yaml copied into a `wildgan train` run's folder: its split.json is that run's, not a fit's
    (train_run / "config.yaml").write_text(text)
    (train_run / "split.json").write_text(json.dumps({"protocol": "cifar10", "n_train": 10}))
    # the same copy where nothing is beside it (the case 91fd02ab made read the header)
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


def _tiny_fit_kwargs(run_dir: Path) -> dict:
    return dict(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                run_dir=str(run_dir))


def test_a_resume_of_a_clone_does_not_say_it_replaces_the_run_while_its_original_lives(tmp_path: Path) -> None:
    from sklearn.base import clone

    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = Detector(**_tiny_fit_kwargs(tmp_path / "run")).fit(x)
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


# revFV 3 (cli/score.py _labelled_split told a run without a protocol of its own, which scores a data-set file whole
# when --normal is left out, to use the Python API instead) is fixed by fixJA.
def test_score_tells_a_pile_runs_user_to_leave_out_normal(tmp_path: Path, capsys) -> None:
    from wildgan import Detector
    from wildgan.cli import main

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(**_tiny_fit_kwargs(tmp_path / "run")).fit(x)
    data = tmp_path / "damaged.npz"
    np.savez(data, x_train=x, y_train=np.zeros((20, 2), np.int64))       # labels of the wrong shape
    out = tmp_path / "scores.csv"
    # what the success line of `score RUN --data FILE` suggests (`--normal CLASS labels the rows`) is refused ...
    assert main(["score", str(tmp_path / "run"), "--data", str(data), "--normal", "0", "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    # ... and the way it names to score every image without labels should be the command's own, which works
    assert main(["score", str(tmp_path / "run"), "--data", str(data), "--out", str(out), "--no-progress"]) == 0
    assert "leave out --normal" in err, err
