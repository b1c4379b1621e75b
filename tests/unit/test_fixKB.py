"""fixKB: two usability faults of the newcomer walk-through. A path option that names nothing is refused naming the
option (train's and study's --data said only the absolute path, where score's --data already named itself; evaluate's
--data, train's --config, and --out with --resume likewise), while a $WILDGAN_DATA default root that is gone names the
variable; and a --dry-run says when --total-kimg ends the training before the networks grow to full resolution, by
the rule of the end-of-training warning, so that the two agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from wildgan.cli import main


@pytest.mark.parametrize("command", [["train", "--out", "r"], ["train", "--out", "r", "--dry-run"],
                                     ["study", "--out", "s"]])
def test_a_missing_data_path_is_refused_naming_the_data_option(tmp_path, capsys, monkeypatch, command):
    """`wildgan train --data nope/` said '/abs/nope: no such file or folder', naming neither the option nor the path
    as typed (score's --data said 'nope: no such file or folder (--data)'). Refused before a folder is made."""
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
    """`wildgan evaluate RUN --data nope/` said 'nope: no such file or folder'; evaluate_run's caller is told of its
    data= argument (errors.option_words), as report's images= is."""
    from wildgan.errors import DataError
    from wildgan.evaluation.run import evaluate_run

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(trained_run), "--data", "nope/", "--no-progress"]) == 2
    assert "error: nope/: no such file or folder (--data)\n" in capsys.readouterr().err
    with pytest.raises(DataError, match=r"^nope/: no such file or folder \(data=\)$"):
        evaluate_run(trained_run, "nope/", progress=False, write=False)


def test_a_missing_config_file_names_the_config_option(tmp_path, capsys, monkeypatch):
    """`--config nope.yaml` said 'nope.yaml: config file not found' beside --data and --out paths: the option named.
    The Python reader (load_config_file) has no option to name."""
    from wildgan.config import load_config_file
    from wildgan.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", "nope.yaml", "--out", "r", "--dry-run"]) == 2
    assert "error: nope.yaml: config file not found (--config)\n" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^nope\.yaml: config file not found$"):
        load_config_file("nope.yaml")


def test_resume_of_a_missing_out_folder_names_the_out_option(tmp_path, capsys, monkeypatch):
    """`train --out nope --resume`: the folder named as --out's (train_run's caller is told of it as run_dir is
    named: the path alone, as before)."""
    from wildgan.errors import ConfigError
    from wildgan.training.run import check_out_dir

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--out", "nope", "--resume", "--preset", "tiny"]) == 2
    assert "error: nope (--out): nothing to resume (no such folder); start a run there without --resume" in \
        capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^nope: nothing to resume \(no such folder\); start a run there without "
                                          r"resume=True"):
        check_out_dir(Path("nope"), None, resume=True)


def _said(pattern: str, text: str) -> tuple[str, ...] | None:
    import re

    m = re.search(pattern, text)
    return m.groups() if m else None


@pytest.mark.parametrize("schedule", [
    ["--total-kimg", "0.05", "--phase-kimg", "0.03"],                              # short: 4x4 of 8x8 (lod 1)
    ["--total-kimg", "0.1", "--phase-kimg", "0.05", "--transition-kimg", "0.1"],   # short, fading in (lod 0.86)
    ["--total-kimg", "0.2", "--phase-kimg", "0.03"],                               # grown: nothing said
])
def test_a_dry_run_says_what_the_end_of_training_warning_will_say(tiny_npz, tmp_path, capsys, schedule):
    """--dry-run printed the config of a --total-kimg too short for the networks to grow to full resolution without a
    word of it: only the training's end warned, after the minutes (or hours) it ran. The dry run says it now, on
    stderr (its stdout is the config's JSON, which --config reads back), by the rule of that warning: the dry run
    warns where the training does, and of the same end, the same growth and the same --total-kimg."""
    import json

    common = ["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--threads", "1",
              "--no-progress", "--no-train-scores", *schedule]
    assert main([*common, "--out", str(tmp_path / "dry"), "--dry-run"]) == 0
    out, plan = capsys.readouterr()
    assert json.loads(out)["train"]["total_kimg"] == float(schedule[1])        # (stdout: the JSON alone, as before)
    assert not (tmp_path / "dry").exists()
    assert main([*common, "--out", str(tmp_path / "run")]) == 0
    ended = capsys.readouterr().err
    said_at_end = _said(r"warning: training ended at ([\d.]+) kimg \(lod ([\d.]+)\), before the networks finished "
                        r"growing to (\d+x\d+): (with phases of .*?)\. The run is scored .*? --resume --total-kimg "
                        r"([\d.]+)`", ended)
    planned = _said(r"warning: the run reaches \d+x\d+ of \d+x\d+ at --total-kimg [\d.]+: training ends at ([\d.]+) "
                    r"kimg \(lod ([\d.]+)[^)]*\), before the networks finish growing to (\d+x\d+): (with phases of "
                    r".*?)\. It would be scored .*?; --total-kimg ([\d.]+) grows them", plan)
    assert planned == said_at_end, (plan, ended)
    if schedule[1] == "0.2":
        assert plan == "" and "before the networks finished growing" not in ended
    else:
        assert planned is not None, plan
        assert plan.count("\n") == 1 and plan.startswith("wildgan: warning: "), plan      # one line, a warning
    if schedule[1] == "0.05":
        assert "the run reaches 4x4 of 8x8 at --total-kimg 0.05: training ends at 0.064 kimg (lod 1)" in plan
    if schedule[1] == "0.1":
        assert "the run reaches 4x4 of 8x8 at --total-kimg 0.1: training ends at 0.128 kimg (lod 0.86, fading in " \
               "to 8x8)" in plan, plan
