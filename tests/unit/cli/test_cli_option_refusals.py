"""A bad option is refused in the words of the command the user typed: the flag itself (`--lr`, `--total-kimg`,
`--expected-contamination`, `--dataset npz`), not a Python parameter or a config key; a protocol named on a pile of
loose images is refused rather than guessed at; and where `--normal` cannot label a run's data, `wildgan score` says
to leave it out, the way that works. The user must be able to fix the command line from the message alone."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from loose_image_piles import rgb_pile
from tiny_detector_fit import tiny_fit_kwargs

from wildgan.cli import main
from wildgan.config import DataConfig
from wildgan.errors import ConfigError


@pytest.mark.parametrize("dataset", ["cifar10", "mnist", "chula-rbc12"])
def test_a_protocol_named_on_a_pile_is_refused(tmp_path, dataset):
    from wildgan.data import build_split

    pile = rgb_pile(tmp_path / "pile")
    with pytest.raises(ConfigError, match=rf"chooses the {dataset} protocol"):
        build_split(DataConfig(data=str(pile), dataset=dataset))


def test_a_format_named_by_dataset_is_refused_in_the_cli_words(tmp_path, capsys):
    pile = rgb_pile(tmp_path / "pile")
    assert main(["train", "--data", str(pile), "--dataset", "npz", "--out", str(tmp_path / "run"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--dataset npz" in err and "dataset='npz'" not in err, err


def test_a_bad_expected_contamination_is_named_as_the_score_option(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    # the option is checked before the run is read: a folder that is no run is enough to reach it
    code = main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--threshold", "contamination",
                 "--expected-contamination", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "--expected-contamination" in err, err


@pytest.mark.parametrize("flag,value", [("--total-kimg", "0"), ("--lr", "0"), ("--minutes", "0"),
                                        ("--resolution", "30")])
def test_a_bad_training_option_is_named_as_the_flag(tmp_path, capsys, flag, value):
    pile = rgb_pile(tmp_path / "pile")
    code = main(["train", "--data", str(pile), "--out", str(tmp_path / "run"), "--preset", "tiny", flag, value,
                 "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and flag in err, err


def test_score_tells_a_pile_runs_user_to_leave_out_normal(tmp_path: Path, capsys) -> None:
    # a run without a protocol of its own scores a data-set file whole when --normal is left out: that is the advice
    # when its labels cannot be read, not to use the Python API instead
    from wildgan import Detector

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(**tiny_fit_kwargs(tmp_path / "run")).fit(x)
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
