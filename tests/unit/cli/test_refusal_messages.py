"""A refusal of what the user typed names it as they typed it, and says what to give instead: a path that names
nothing is refused naming its option (train's, study's and evaluate's --data, train's --config, --out with --resume),
while a $WILDGAN_DATA default root that is gone names the variable; --expected-contamination given as a percent says
to give a fraction (in the CLI and in the Python API); and a --resume with another --preset names the preset before
the settings it changes. A message that names only an absolute path, or only settings the user never typed, leaves
them guessing which of their words was wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildgan.cli import main


@pytest.mark.parametrize("command", [["train", "--out", "r"], ["train", "--out", "r", "--dry-run"],
                                     ["study", "--out", "s"]])
def test_a_missing_data_path_is_refused_naming_the_data_option(tmp_path, capsys, monkeypatch, command):
    """`wildgan train --data nope/` (or study's) says 'nope/: no such file or folder (--data)': the path as typed,
    not made absolute, and the option, as score's --data says it. Refused before a folder is made."""
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--data", "nope/", "--preset", "tiny", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error: nope/: no such file or folder (--data)\n" in err, err
    assert not (tmp_path / command[2]).exists()
    # a relative path is looked for under $WILDGAN_DATA too: both places said, and the option
    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path / "root"))
    (tmp_path / "root").mkdir()
    assert main([*command, "--data", "nope", "--preset", "tiny", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"nope: no such file or folder, here or under $WILDGAN_DATA ({tmp_path / 'root'}) (--data)\n" in err, err


@pytest.mark.parametrize("command", [["train", "--out", "r"], ["train", "--out", "r", "--dry-run"],
                                     ["study", "--out", "s"]])
def test_a_missing_default_data_root_names_the_variable_not_the_data_option(tmp_path, capsys, monkeypatch, command):
    """No --data: the data root is $WILDGAN_DATA's, which the user never typed as --data: the error names the
    variable (and --data as the way round it), not '(--data)' as if the option had been given."""
    monkeypatch.setenv("WILDGAN_DATA", str(tmp_path / "gone"))
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--preset", "tiny", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'gone'}: no such file or folder (from $WILDGAN_DATA; pass --data PATH or fix the " \
           f"variable)\n" in err, err
    assert "(--data)" not in err


def test_a_missing_data_path_with_download_keeps_its_hint(tmp_path, capsys, monkeypatch):
    """--download on a data set other than CIFAR-10: the reader's word that it fetches CIFAR-10 only is kept after the
    option; with --dataset cifar10 a missing folder is where the download goes, not refused up front."""
    from wildgan.data.readers import given_data_missing

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--out", "r", "--data", "nope", "--download", "--dry-run"]) == 2
    assert "nope: no such file or folder (--data); --download fetches CIFAR-10 only with --dataset cifar10" in \
        capsys.readouterr().err
    assert given_data_missing("nope", "--data", "cifar10", download=True) is None
    assert given_data_missing("nope", "--data", "cifar10", download=False) is not None
    assert given_data_missing(None, "--data") is None                 # (the default root: not an option's)


def test_evaluate_of_a_missing_data_path_names_the_option(trained_run, tmp_path, capsys, monkeypatch):
    """`wildgan evaluate RUN --data nope/` names --data; evaluate_run's caller is told of its data= argument
    (errors.option_words), as report's images= is."""
    from wildgan.errors import DataError
    from wildgan.evaluation.run import evaluate_run

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(trained_run), "--data", "nope/", "--no-progress"]) == 2
    assert "error: nope/: no such file or folder (--data)\n" in capsys.readouterr().err
    with pytest.raises(DataError, match=r"^nope/: no such file or folder \(data=\)$"):
        evaluate_run(trained_run, "nope/", progress=False, write=False)


def test_a_missing_config_file_names_the_config_option(tmp_path, capsys, monkeypatch):
    """`--config nope.yaml` says 'nope.yaml: config file not found (--config)', naming the option as the --data and
    --out refusals do. The Python reader (load_config_file) has no option to name."""
    from wildgan.config import load_config_file
    from wildgan.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", "nope.yaml", "--out", "r", "--dry-run"]) == 2
    assert "error: nope.yaml: config file not found (--config)\n" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^nope\.yaml: config file not found$"):
        load_config_file("nope.yaml")


def test_resume_of_a_missing_out_folder_names_the_out_option(tmp_path, capsys, monkeypatch):
    """`train --out nope --resume`: the folder is named as --out's; train_run's caller is told of it as run_dir is
    named by Python callers: the path alone."""
    from wildgan.errors import ConfigError
    from wildgan.training.run import check_out_dir

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--out", "nope", "--resume", "--preset", "tiny"]) == 2
    assert "error: nope (--out): nothing to resume (no such folder); start a run there without --resume" in \
        capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^nope: nothing to resume \(no such folder\); start a run there without "
                                          r"resume=True"):
        check_out_dir(Path("nope"), None, resume=True)


@pytest.mark.parametrize("value, pct", [("5", "5% give 0.05"), ("10", "10% give 0.1")])
def test_expected_contamination_given_as_a_percent_says_to_give_a_fraction(value: str, pct: str,
                                                                           capsys) -> None:
    """`--expected-contamination 5` (meant: 5%) is refused with the hint train's --contamination 5 gives ('for 5% give
    0.05'), not with 'must be in (0, 0.5], got 5' alone, and before any run is read."""
    from wildgan.cli import main

    assert main(["score", "no-such-run", "--data", "x.png", "--out", "-", "--threshold", "contamination",
                 "--expected-contamination", value]) == 2
    err = capsys.readouterr().err
    assert (f"--expected-contamination must be in (0, 0.5] (the expected fraction of anomalies: for {pct}), "
            f"got {value}\n") in err, err


def test_expected_contamination_hint_in_the_python_api() -> None:
    """The Python API's words for the same refusal carry the same hint (contamination_threshold, Detector)."""
    from wildgan import Detector
    from wildgan.errors import ConfigError
    from wildgan.thresholds import contamination_threshold

    with pytest.raises(ConfigError, match=r"contamination .*must be in \(0, 0\.5\] \(.*for 5% give 0\.05\), got 5$"):
        contamination_threshold(np.arange(10.0), 5)
    with pytest.raises(ConfigError, match=r"^contamination must be in \(0, 0\.5\] \(the expected fraction of "
                                          r"anomalies: for 5% give 0\.05\), got 5$"):
        Detector(contamination=5).fit(np.zeros((8, 16, 16), np.uint8))
    # (a value that is no percent, e.g. 0.7 or -1, is refused without the hint)
    with pytest.raises(ConfigError) as e:
        contamination_threshold(np.arange(10.0), 0.7)
    assert "give" not in str(e.value)


@pytest.mark.parametrize("extra", [[], ["--width", "16", "--latent-size", "16"]])
def test_resume_with_another_preset_names_the_preset(mnist: dict, tmp_path: Path, capsys, extra: list[str]) -> None:
    """`wildgan train --out RUN --resume --preset fast` on a tiny run is refused saying `--preset: 'tiny' -> 'fast'`
    first, the option the user typed, not only what the preset sets (net.fmap_base: 256 -> 1024; ...;
    train.minibatch: {...} -> {...}); also where --width keeps the networks and only the minibatch sizes differ."""
    from wildgan.cli import main
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import train_run

    np.savez(tmp_path / "pile.npz", x=mnist["x_train"][:32])
    run = tmp_path / "run"
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile.npz"), dataset="unlabelled", resolution=16, channels=1),
                    net=net_config_for_preset("tiny", 16, 1),
                    train=TrainConfig(total_kimg=0.032, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", train_scores=False), preset="tiny")
    with pytest.warns(Warning):
        train_run(cfg, run, progress=False, log=lambda m: None)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--preset", "fast", *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "differ from the saved run: --preset: 'tiny' -> 'fast'; " in err, err
    # the same resume with the run's own preset names no preset
    assert main(["train", "--out", str(run), "--resume", "--lr", "0.5", "--no-progress"]) == 2
    assert "--preset" not in capsys.readouterr().err


@pytest.mark.parametrize("command", [["train", "--out", "r", "--dry-run"], ["study", "--out", "s"]])
def test_a_download_that_would_fetch_nothing_is_refused_naming_both_options(tmp_path, capsys, monkeypatch, command):
    """`--data x.npz --download` (or a CIFAR-10 protocol on a file or a folder of the user's own images) read the data
    as it was and ignored --download without a word, as though the download had been tried: refused, naming --download
    and --data, before a folder is made."""
    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    np.savez("x.npz", x=np.zeros((20, 8, 8), np.uint8), y=np.arange(20) % 2)
    (tmp_path / "tree" / "a").mkdir(parents=True)
    for extra, why in ((["--data", "x.npz"], "fetches CIFAR-10 only with --dataset cifar10, and this is --dataset "
                                             "auto"),
                       (["--dataset", "cifar10", "--data", "x.npz"], "--data x.npz is a file, read as it is"),
                       (["--dataset", "cifar10", "--data", "tree"], "--data tree is a folder that holds data of its "
                                                                    "own, read as it is"),
                       ([], "fetches CIFAR-10 only with --dataset cifar10")):
        assert main([*command, *extra, "--download", "--normal", "0", "--preset", "tiny", "--no-progress"]) == 2
        err = capsys.readouterr().err
        data = f" with --data {extra[-1]}" if extra else ""
        assert f"error: --download{data}: --download " in err and why in err and "drop --download" in err, err
        assert not (tmp_path / command[2]).exists()


def test_a_download_into_a_new_folder_or_onto_whole_batches_is_not_refused(tmp_path, monkeypatch):
    """Where the download fetches (a folder not there yet) or has nothing to fetch (CIFAR-10's batches whole, which it
    leaves as they are), --download is what it says: not refused."""
    from damaged_data import small_batches, write_meta

    from wildgan.data.readers import unused_download

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    assert unused_download(tmp_path / "new", "cifar10") is None
    assert unused_download(None, "cifar10") is None
    folder = small_batches(tmp_path / "c" / "cifar-10-batches-py", {})
    write_meta(folder, names=True)
    assert unused_download(folder, "cifar10") is None
    assert unused_download(tmp_path / "c", "cifar10") is None
    assert unused_download(tmp_path / "c", "auto") is not None          # (another protocol: nothing is fetched)
