"""What a run's saved record says, read as it is: a config.yaml copied into another run's folder is read by its own
header (fit_record as the replay's other checks), a hand-edited config.json's normal classes of the wrong type are
refused naming the file, and a resume whose run was rewritten between its reading and its lock is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, write_run_config
from wildgan.errors import ConfigError


def _run_config(tmp_path: Path, name: str, trained_on: dict) -> Path:
    """A run folder holding only the config.json and config.yaml wildgan writes (its header records `trained_on`)."""
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    run = tmp_path / name
    run.mkdir()
    write_run_config(cfg, run, trained_on=trained_on)
    return run


FIT_IN_MEMORY = {"detector_input": True, "source": "in-memory ndarray", "protocol": "detector", "n_train": 20}
TRAIN_RUN = {"protocol": "mnist", "source": "/data/mnist", "n_train": 20}


def test_a_config_yaml_copied_into_another_run_s_folder_is_read_by_its_own_header(tmp_path, capsys,
                                                                                    monkeypatch) -> None:
    # fit_record took the split.json beside the file for the file's record, where _training_record (the replay's
    # other checks) read the header that names the file's own run elsewhere: a Detector.fit's config on images in
    # memory, put in a `wildgan train` run's folder, was replayed on the default data without a word
    from wildgan.cli import main
    from wildgan.config import run_config_file
    from wildgan.data.replay import fit_record, refuse_in_memory_replay

    monkeypatch.delenv("WILDGAN_DATA", raising=False)
    memory = _run_config(tmp_path, "memory", FIT_IN_MEMORY)
    other = _run_config(tmp_path, "other", TRAIN_RUN)
    (other / "split.json").write_text(json.dumps(TRAIN_RUN))
    copy = other / "fit.yaml"
    shutil.copy(memory / "config.yaml", copy)
    assert fit_record(copy) == {**FIT_IN_MEMORY, "data_settings": json.loads((memory / "config.json").read_text())[
        "data"]}
    with pytest.raises(ConfigError, match="trained by Detector.fit on images given in memory") as e:
        refuse_in_memory_replay(copy, run_config_file(copy), DataConfig())
    assert e.value.file == str(copy)
    capsys.readouterr()
    assert main(["train", "--config", str(copy), "--out", str(tmp_path / "again"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{copy}: the run was trained by Detector.fit on images given in memory (in-memory ndarray)" in err, err

    # and the other way: a `wildgan train` run's config put in a fit's folder is no fit's
    (memory / "split.json").write_text(json.dumps(FIT_IN_MEMORY))
    shutil.copy(other / "config.yaml", memory / "train.yaml")
    assert fit_record(memory / "train.yaml") is None
    # the folder's own config (its header names that folder) and one without a header still read split.json
    assert fit_record(memory / "config.yaml") == FIT_IN_MEMORY
    bare = memory / "bare.yaml"
    bare.write_text("".join(line + "\n" for line in (memory / "config.yaml").read_text().splitlines()
                            if not line.startswith("#")))
    assert fit_record(bare) == FIT_IN_MEMORY


@pytest.mark.parametrize("field, value", [("normal", {"a": 1}), ("normal", 2.5), ("normal", True),
                                          ("normal", [{"a": 1}]), ("exclude_classes", {"a": 1}),
                                          ("exclude_classes", [0, 1.5])])
def test_a_run_s_config_json_with_normal_classes_of_the_wrong_type_is_refused_naming_it(
        tmp_path, capsys, field, value) -> None:
    # a hand-edited `"normal": {"a": 1}` was read with no refusal and stayed a mapping (a list of mappings became
    # their text, a number stayed a number): no class is named so, and the run's commands failed far from the file
    from wildgan.cli import main
    from wildgan.config import read_run_config

    run = _run_config(tmp_path, "run", TRAIN_RUN)
    d = json.loads((run / "config.json").read_text())
    d["data"][field] = value
    (run / "config.json").write_text(json.dumps(d))
    want = f"{run / 'config.json'}: data.{field} must be a class name or a whole-number label, or a list of them, got "
    with pytest.raises(ConfigError) as e:
        read_run_config(run)
    assert str(e.value).startswith(want) and e.value.file == str(run / "config.json"), e.value
    assert e.value.setting == f"data.{field}" and e.value.value == value
    capsys.readouterr()
    assert main(["score", str(run), "--no-progress", "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert f"wildgan: error: {want}" in err, err


@pytest.mark.parametrize("value, read", [("cat,dog", ("cat", "dog")), (3, ("3",)), ([0, "b"], ("0", "b")),
                                         ([], ()), (None, ())])
def test_normal_classes_of_the_types_a_run_config_writes_still_read(tmp_path, value, read) -> None:
    # (null is the protocol's default, as [] is: read as (), so that it compares equal to a config without it; see
    # test_resume_checks)
    from wildgan.config import read_run_config

    run = _run_config(tmp_path, "run", TRAIN_RUN)
    d = json.loads((run / "config.json").read_text())
    d["data"]["normal"] = value
    (run / "config.json").write_text(json.dumps(d))
    assert read_run_config(run).data.normal == read


def _rewritten_under(monkeypatch, run: Path, name: str) -> None:
    """Make run_lock save run/NAME again (as a resume that finished meanwhile does: a new file renamed over it, its
    text the same) just before the lock is taken, after the resume has read the run."""
    from contextlib import contextmanager

    import wildgan.training.run as run_mod
    from wildgan.fileio import atomic_write_text

    real = run_mod.run_lock

    @contextmanager
    def rewritten_first(run_dir):
        atomic_write_text(run / name, (run / name).read_text())
        with real(run_dir):
            yield

    monkeypatch.setattr(run_mod, "run_lock", rewritten_first)


def _state(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()
            and p.name != "log.txt"}


def test_a_resume_whose_run_was_rewritten_before_its_lock_is_refused(trained_run, tmp_path, monkeypatch) -> None:
    # since the run's files are read once a resume, they are read before the lock (and before the data is
    # decoded); a process that wrote the run in between left this resume going on by the record of before
    from dataclasses import replace

    from wildgan.config import read_run_config
    from wildgan.training.run import train_run

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    cfg = read_run_config(run)
    cfg = replace(cfg, train=replace(cfg.train, total_kimg=0.07))
    _rewritten_under(monkeypatch, run, "config.json")
    before = _state(run)
    with pytest.raises(ConfigError) as e:
        train_run(cfg, run, resume=True, progress=False, log=lambda m: None, warn_not_grown=False)
    assert str(e.value).startswith(f"{run / 'config.json'}: rewritten since this resume read it, before it took the "
                                   f"run's lock") and e.value.file == str(run / "config.json"), e.value
    assert _state(run) == before                  # (nothing written: the files as the other process left them)
    # split.json, which train_run first reads under the lock, is read as it is then: the resume goes on
    monkeypatch.undo()
    _rewritten_under(monkeypatch, run, "split.json")
    train_run(cfg, run, resume=True, progress=False, log=lambda m: None, warn_not_grown=False)


@pytest.mark.parametrize("name", ["config.yaml", "config.json", "split.json"])
def test_the_command_line_s_resume_of_a_run_rewritten_before_its_lock_is_refused(trained_run, tmp_path,
                                                                                 monkeypatch, capsys, name) -> None:
    # (`train --resume` reads all three before the lock: its settings from config.yaml, its checks of them)
    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    _rewritten_under(monkeypatch, run, name)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.07", "--no-progress",
                 "--no-train-scores"]) == 2
    err = capsys.readouterr().err
    assert f"wildgan: error: {run / name}: rewritten since this resume read it" in err, err
    # and left alone, the same resume goes on
    monkeypatch.undo()
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.07", "--no-progress",
                 "--no-train-scores"]) == 0, capsys.readouterr().err
