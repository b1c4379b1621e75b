"""`wildgan train --resume`, replay_run(CONFIG, RUN, resume=True) and training.run.check_run_dir compare the settings
asked for with the saved run's before anything is trained. A resume with other data, seed or normal class is refused
before any image is decoded (minutes for a large folder, for a refusal the settings alone decide); a resume of the
run's own settings is taken, `normal: null` counting as leaving it out; the run's record is read once, so the checks
and the resume see the same version of it; check_run_dir and RunConfig refuse wrong argument types at entry, naming
the argument and what it must be."""

from __future__ import annotations

import builtins
import io
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wildgan.errors import ConfigError
from wildgan.training.run import replay_run


@pytest.mark.parametrize("name", ["config.json", "config.yaml"])
def test_replay_run_resuming_its_own_run_reads_split_json_once(trained_run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # replay_run reads RUN/split.json and the config once, for its checks and for the resume alike (train_run is
    # handed the same ReplayFiles, not its own saved_run_files): two reads would let a split.json saved in between
    # give the checks one version and the resume another. Counted by the opens of the run's record until the run
    # writes it anew
    import wildgan.training.run as run_mod

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    watched = {os.path.realpath(run / n): n for n in ("config.json", "split.json", "config.yaml")}
    reads: list[str] = []
    real_open = io.open

    def counted(file, mode="r", *args, **kw):  # type: ignore[no-untyped-def]
        if isinstance(file, (str, os.PathLike)) and not any(c in mode for c in "wax+"):
            seen = watched.get(os.path.realpath(file))
            if seen is not None:
                reads.append(seen)
        return real_open(file, mode, *args, **kw)

    monkeypatch.setattr(io, "open", counted)
    monkeypatch.setattr(builtins, "open", counted)
    real_write = run_mod.write_run_config

    def written(*args, **kw):  # type: ignore[no-untyped-def]
        watched.clear()
        return real_write(*args, **kw)

    monkeypatch.setattr(run_mod, "write_run_config", written)
    replay_run(run / name, run, resume=True, progress=False, log=lambda m: None, warn_not_grown=False)
    assert reads.count("split.json") == 1, reads
    assert reads.count(name) == 1, reads


def test_a_config_s_null_normal_is_the_protocol_default_as_leaving_it_out(tmp_path: Path) -> None:
    # `data: {normal: null}` (or DataConfig(normal=None)) is read as (), the protocol's default, the same config as
    # one without it: kept as None, it would differ, and a resume of its run be refused for 'data.normal: None -> []'
    from wildgan.config import (DataConfig, RunConfig, TrainConfig, net_config_for_preset, read_config_file,
                                run_config_in, run_config_to_dict)
    from wildgan.training.run import run_differences

    assert DataConfig(normal=None, exclude_classes=None) == DataConfig()
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  normal: null\n  exclude_classes: null\nnet: {resolution: 8, channels: 1}\ntrain: {}\n")
    cfg = run_config_in(read_config_file(p).contents, p)
    assert cfg is not None and cfg.data.normal == () and cfg.data.exclude_classes == ()
    assert run_config_to_dict(cfg)["data"]["normal"] == []
    net = net_config_for_preset("tiny", 8, 1)
    written = RunConfig(data=DataConfig(normal=None), net=net, train=TrainConfig())
    assert run_differences(written, RunConfig(data=DataConfig(), net=net, train=TrainConfig())) == []


def _tiny_npz(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    return path


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_split refused: a check asked after it fails the test (each module's own name of it)."""
    import wildgan.cli.config_args  # noqa: F401  (the modules that bind build_split, loaded before they are patched)
    import wildgan.data
    import wildgan.training.run

    def decoded(*args, **kw):  # type: ignore[no-untyped-def]
        raise AssertionError("the data was decoded before the resume was refused")

    for mod in (wildgan.data, wildgan.training.run):
        monkeypatch.setattr(mod, "build_split", decoded)


@pytest.mark.parametrize("args, said", [
    (["--data", "OTHER"], "data.data: "), (["--seed", "3"], "data.seed: 0 -> 3; train.seed: 0 -> 3"),
    (["--normal", "1"], "data.normal: ['0'] -> ['1']")])
def test_a_resume_on_other_data_settings_is_refused_before_the_data_is_decoded(
        trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], said: str) -> None:
    # `wildgan train --resume` with another --data, --seed or --normal is refused (check_run_dir: the settings
    # differ from the saved run's) before build_split decodes any image of the data (minutes for a large folder),
    # since the settings alone decide it
    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    other = _tiny_npz(tmp_path / "other.npz", 5)
    _no_decoding(monkeypatch)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress",
                 *[str(other) if a == "OTHER" else a for a in args]]) == 2
    err = capsys.readouterr().err
    assert "--resume with settings that differ from the saved run: " + said in err, err


def test_replay_run_s_resume_on_other_data_is_refused_before_the_data_is_decoded(
        trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # replay_run(CONFIG, RUN, data=OTHER, resume=True) is refused before the split is built (OTHER decoded)
    from wildgan.errors import ConfigError

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    other = _tiny_npz(tmp_path / "other.npz", 5)
    _no_decoding(monkeypatch)
    with pytest.raises(ConfigError, match=re.escape(f"data.data: '{trained_run.parent / 'tiny.npz'}' -> '{other}'")):
        replay_run(run / "config.json", run, data=other, resume=True, progress=False, log=lambda m: None)


def _misused(cfg: Any, run: Path) -> dict[str, tuple[Any, Any]]:
    """check_run_dir's (cfg, files) as a caller might get them wrong: the data section passed for the RunConfig, a
    config file's path passed for the ReplayFiles."""
    return {"DataConfig for cfg": (cfg.data, None), "path for files": (cfg, run / "config.yaml")}


@pytest.mark.parametrize("how", ["DataConfig for cfg", "path for files"])
def test_check_run_dir_refuses_wrong_types_at_entry(cifar_run: Path, how: str) -> None:
    """check_run_dir (a resume reads the saved run and, where a Detector.fit of an earlier wildgan recorded 'auto',
    takes as_fit_read's reading of it over when cfg's DataConfig reads the data so) given a wrong object raises a
    TypeError at entry naming the argument and what it must be, not an AttributeError from inside ("'DataConfig'
    object has no attribute 'data'", "... 'run_json'"); the run is left as it was."""
    from wildgan.config import read_run_config
    from wildgan.training.run import check_run_dir

    before = sorted(p.name for p in cifar_run.iterdir())
    cfg, files = _misused(read_run_config(cifar_run), cifar_run)[how]
    with pytest.raises(TypeError, match=r"^check_run_dir: ") as e:
        check_run_dir(cfg, cifar_run, resume=True, files=files)
    said = str(e.value)
    want = "files must be a wildgan.data.replay.ReplayFiles" if how == "path for files" else \
        "cfg must be a wildgan.config.RunConfig, got a DataConfig"
    assert want in said, said
    assert sorted(p.name for p in cifar_run.iterdir()) == before


@pytest.mark.parametrize("data", [{"resolution": 8}, "some/path"])
def test_a_run_config_whose_data_is_no_data_config_cannot_be_made(cifar_run: Path, data: Any) -> None:
    """A RunConfig whose data is a dict (dataclasses.asdict) or a path is refused where it is made (RunConfig),
    naming the field, before any caller can pass it on to check_run_dir."""
    import dataclasses

    from wildgan.config import read_run_config

    with pytest.raises(ConfigError, match=r"^RunConfig: data must be a wildgan\.config\.DataConfig, got "):
        dataclasses.replace(read_run_config(cifar_run), data=data)


def test_check_run_dir_takes_a_sound_resume(cifar_run: Path) -> None:
    """The check at entry lets the run's own config through (a resume with nothing changed is not refused), with the
    run's files read by check_run_dir or passed in, and touches nothing; the same run with a setting that defines it
    changed, or trained afresh without resume, is refused: what lets the sound resume through is the comparison with
    the saved run, not a check left out."""
    import dataclasses

    from wildgan.config import read_run_config
    from wildgan.training.run import check_run_dir, saved_run_files

    def files() -> dict[Path, bytes]:
        return {p.relative_to(cifar_run): p.read_bytes() for p in sorted(cifar_run.rglob("*")) if p.is_file()}

    cfg = read_run_config(cifar_run)
    before = files()
    assert check_run_dir(cfg, cifar_run, resume=True) is None
    assert check_run_dir(cfg, cifar_run, resume=True, files=saved_run_files(cifar_run)) is None
    assert files() == before
    wider = dataclasses.replace(cfg, net=dataclasses.replace(cfg.net, latent_size=2 * cfg.net.latent_size))
    with pytest.raises(ConfigError, match="with settings that differ from the saved run: .*latent_size"):
        check_run_dir(wider, cifar_run, resume=True)
    with pytest.raises(ConfigError):
        check_run_dir(cfg, cifar_run)
    assert files() == before


@pytest.mark.parametrize("args, said", [(["--g-image-loss", "0.5"], "train.g_image_loss: 0.0 -> 0.5"),
                                        (["--gp-target", "750"], "train.gp_target: 1.0 -> 750.0")])
def test_a_resume_with_another_g_image_loss_or_gp_target_is_refused(
        trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], said: str) -> None:
    # both change what each step trains, so a resume that changes either is refused as other changed settings are.
    # The saved run's config.json has no g_image_loss (off is left out, as every run from before the field): it reads
    # as 0, and a plain resume of it is not refused (test_a_resume_of_a_run_without_g_image_loss_is_taken below)
    from wildgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert "g_image_loss" not in (run / "config.json").read_text()
    _no_decoding(monkeypatch)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert "--resume with settings that differ from the saved run: " + said in err, err


def test_a_resume_of_a_run_without_g_image_loss_is_taken(trained_run: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # a run whose config.json has no g_image_loss (every run from before the field): `--resume` continues it, and
    # the config it writes again still has none, so an earlier wildgan still reads the run. Through the command, as a
    # user resumes: check_run_dir of the run's own config against itself could not fail
    import json

    from wildgan.cli import main
    from wildgan.config import read_run_config

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert read_run_config(run).train.g_image_loss == 0.0
    assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.07", "--no-train-scores",
                 "--no-progress"]) == 0, capsys.readouterr().err
    train = json.loads((run / "config.json").read_text())["train"]
    assert train["total_kimg"] == 0.07 and "g_image_loss" not in train
    assert "g_image_loss" not in (run / "config.yaml").read_text()


@pytest.mark.parametrize("method", ["wildgan", "fanogan"])
def test_a_size_recorded_as_left_to_the_data_is_the_resolved_one_and_no_other(method: str) -> None:
    """run_differences takes a data.resolution / data.channels None (recorded by an earlier train_run, or the cfg of a
    Python caller) as the value the networks were built for, and only that one: a resume asking another size (or
    another with other networks: f-AnoGAN's net section is not compared) is still refused, naming the field."""
    from dataclasses import replace

    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.run import run_differences

    saved = RunConfig(method=method, data=DataConfig(data="x.npz", resolution=None, channels=None),
                      net=net_config_for_preset("tiny", 32, 1), train=TrainConfig())
    same = replace(saved, data=replace(saved.data, resolution=32, channels=1))
    assert run_differences(saved, same) == [] and run_differences(same, saved) == []
    assert "data.resolution: None -> 64" in run_differences(saved, replace(saved, data=replace(saved.data,
                                                                                              resolution=64)))
    assert "data.channels: None -> 3" in run_differences(saved, replace(saved, data=replace(saved.data, channels=3)))
    other = replace(saved, data=replace(saved.data, resolution=64), net=net_config_for_preset("tiny", 64, 1))
    assert "data.resolution: None -> 64" in run_differences(saved, other)
    back = run_differences(other, replace(other, data=saved.data, net=saved.net))
    if method == "fanogan":
        # (f-AnoGAN's networks are the size recorded, whatever net says: a None asked for now is taken as it, the
        # data then checked by the split's record, test_train_run_api)
        assert not [d for d in back if d.startswith("data.")], back
    else:
        assert "data.resolution: 64 -> None" in back


def test_a_refused_fanogan_resume_names_what_its_resume_takes(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # f-AnoGAN trains a fixed number of iterations (--fanogan-iters, --fanogan-enc-iters, compared like any setting)
    # and reads no --total-kimg: its refusal offered "e.g. --total-kimg", which a resume takes and then does nothing
    # with ("the run was already finished"). What may change is the time limit and where it runs
    from wildgan.cli import main

    run = tmp_path / "run"
    small = ["--preset", "tiny", "--method", "fanogan", "--fanogan-iters", "2", "--fanogan-dim", "8", "--threads",
             "1", "--no-progress", "--no-train-scores"]
    assert main(["train", "--out", str(run), *small, "--fanogan-enc-iters", "2"]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress", "--fanogan-enc-iters", "3"]) == 2
    err = capsys.readouterr().err
    assert "fanogan.enc_iters: 2 -> 3" in err, err
    assert "--total-kimg" not in err and "(e.g. --minutes, --device)" in err, err
