"""A run an earlier wildgan trained with method wildgan and no encoder (train.encoder_loss none): read back as what it
is, with a warning (once per run) that its scores came from an untrained encoder (Detector.from_run's parameters say
none, and its scoring parameters can still be changed), while training one again is refused in words that say where
the none came from and how to train an encoder instead; and Detector's refusal of an encoder loss says what is taken
for its method. A user must be able to read an old run's results, and be told why a new training is refused in
terms of the method."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from toy_labelled_npz import labelled_npz

from wildgan.errors import ConfigError, WildganWarning


@pytest.fixture
def untrained_encoder_run(tmp_path: Path) -> Path:
    """A tiny fitted run whose config.json is then made to say encoder_loss none (what an earlier wildgan's
    Detector(encoder_loss='none').fit wrote; the networks' weights do not matter here)."""
    from wildgan import Detector

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    run = tmp_path / "old-run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (networks not grown: a fit this short ends at 4x4)
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                 run_dir=str(run)).fit(x)
    whole = json.loads((run / "config.json").read_text())
    assert whole["method"] == "wildgan"
    whole["train"]["encoder_loss"] = "none"
    (run / "config.json").write_text(json.dumps(whole))
    (run / "config.yaml").write_text(yaml.safe_dump(whole, sort_keys=False))
    return run


def test_an_earlier_wildgans_run_without_an_encoder_loss_is_still_read(tmp_path: Path, capsys) -> None:
    """An earlier wildgan took Detector(method='wildgan', encoder_loss='none') and a run config of the same, and
    trained without an encoder (loop.py: use_encoder = encoder_loss != 'none'). read_run_config, which `wildgan score`,
    `evaluate`, `report` and Detector.from_run all go through, must still read such a run, with a warning (once per
    run) that its scores come from an untrained encoder: refusing its folder as if its config.json were a typo would
    leave nothing readable (curves, samples, a report), and words that suggest editing the file would only hide that E
    was never trained. A new training of one, anew or by a resume, stays refused, from Python and from the command
    line."""
    from wildgan.cli import main
    from wildgan.config import read_run_config

    data = labelled_npz(tmp_path)
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                 "--out", str(tmp_path / "unused"), "--dry-run"]) == 0, capsys.readouterr().err
    whole = json.loads(capsys.readouterr().out)
    assert whole["method"] == "wildgan"
    whole["train"]["encoder_loss"] = "none"          # (what an earlier Detector(encoder_loss='none').fit wrote)
    run = tmp_path / "old-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(whole))
    # (in the one wording of every refusal of such a run, config.untrained_encoder_words)
    with pytest.warns(WildganWarning, match=r"old-run: it was trained without an encoder \(which an earlier wildgan "
                                            r"took\), so its scores came from an untrained one: they are not the "
                                            r"method's .*; to train one, train it again with encoder loss image "
                                            r"\(d_I, the method's\) or latent \(d_z, its ablation\)$"):
        cfg = read_run_config(run)
    assert cfg.train.encoder_loss == "none"
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # once per run: a command reads the config several times
        assert read_run_config(run).train.encoder_loss == "none"
    # what stays refused: training one, anew (in train_run's words, before anything is written) or on (a resume,
    # told to train it again), from Python and from the command line
    from wildgan.training.run import train_run

    with pytest.raises(ConfigError, match=r"^train\.encoder_loss must be image \(d_I\) or latent \(d_z\) with "
                                          r"method wildgan"):
        train_run(cfg, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    with pytest.raises(ConfigError, match=r"old-run: it was trained without an encoder \(which an earlier wildgan "
                                          r"took\), so its scores came from an untrained one: a resume cannot "
                                          r"continue it .*; to train one, train it again into a new folder with "
                                          r"encoder loss image \(d_I, the method's\) or latent \(d_z, its "
                                          r"ablation\)$"):
        train_run(cfg, run, resume=True)
    (run / "config.yaml").write_text(yaml.safe_dump(whole, sort_keys=False))
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "trained without an encoder" in err and "train it again into a new folder" in err, err


def test_detectors_encoder_loss_refusal_says_what_is_taken_for_the_method() -> None:
    """The wildgan method refuses the encoder loss none (its scores need E), and Detector's refusal says so: not one
    sentence for every case ('encoder_loss must be image (d_I) or latent (d_z), got 'none''), which names neither
    the method that makes none wrong for Detector(encoder_loss='none') (method wildgan, the default), nor, for
    set_params(method='wildgan') on a Detector(method='search', encoder_loss='none'), the method, which is the one
    thing the caller changed; while Detector(method='fanogan', encoder_loss='imgae') is told that none is taken
    there."""
    from wildgan import Detector

    x = np.zeros((8, 8, 8), np.uint8)
    with pytest.raises(ConfigError) as wild:
        Detector(encoder_loss="none", preset="tiny", total_kimg=0.1, phase_kimg=0.1).fit(x)
    with pytest.raises(ConfigError) as fan:
        Detector(method="fanogan", encoder_loss="imgae", preset="tiny", total_kimg=0.1, phase_kimg=0.1).fit(x)
    assert "wildgan" in str(wild.value), str(wild.value)
    assert "none" in str(fan.value).replace("got 'imgae'", ""), str(fan.value)
    # only the method changed, by set_params: the refusal names the method, the one thing the caller changed
    with pytest.raises(ConfigError, match=r"with method='wildgan', whose scores need its encoder.*got 'none'$"):
        Detector(method="search", encoder_loss="none", preset="tiny", total_kimg=0.1,
                 phase_kimg=0.1).set_params(method="wildgan").fit(x)


def test_from_run_of_a_run_without_an_encoder_says_so_in_its_params(untrained_encoder_run: Path) -> None:
    # from_run turned the run's none into 'image': get_params said the networks had a trained encoder, and a save of
    # the Detector wrote that too
    from wildgan import Detector
    from wildgan.config import UNTRAINED_ENCODER_SAID

    UNTRAINED_ENCODER_SAID.clear()
    with pytest.warns(WildganWarning, match="trained without an encoder"):
        det = Detector.from_run(untrained_encoder_run, device="cpu", threshold="contamination")
    assert det.get_params()["encoder_loss"] == "none"
    # the Detector does not refuse itself: its scoring parameters and threshold still change
    det.set_params(lam=0.5)
    det.set_threshold("mad")
    assert det.threshold == "mad" and det.lam == 0.5
    assert len(det.decision_function(np.zeros((4, 8, 8), np.uint8))) == 4
    # saved, it is loaded as what it is (an earlier wildgan's saved Detector(encoder_loss='none') alike), and its
    # scoring parameters change there too (set_params(lam=) was refused as if it asked for a training without E)
    with pytest.warns(WildganWarning, match="trained without an encoder"):
        back = Detector.load(det.save(untrained_encoder_run.parent / "saved"))
    assert back.get_params()["encoder_loss"] == "none"
    back.set_params(lam=0.25)
    # a refit is refused before anything is trained, in words that say where none came from and what trains an E
    with pytest.raises(ConfigError) as e:
        det.fit(np.zeros((8, 8, 8), np.uint8))
    msg = str(e.value)
    assert msg.endswith("got 'none': the run or saved Detector this one was read from (Detector.from_run, "
                        "Detector.load) was " + SHARED + "set encoder_loss to " + CHOICES
                        + ": set_params(encoder_loss='image') before fit"), msg
    # ... which is so
    det.set_params(encoder_loss="image")
    det._validate(training=True)


def test_a_fresh_detector_with_none_is_refused_as_before() -> None:
    # the words about an earlier wildgan's networks are for a Detector read from one, not for a caller's own none
    from wildgan import Detector

    with pytest.raises(ConfigError) as e:
        Detector(encoder_loss="none", preset="tiny", total_kimg=0.1, phase_kimg=0.1).fit(np.zeros((8, 8, 8), np.uint8))
    assert str(e.value).endswith("got 'none'"), str(e.value)


def test_train_config_of_a_run_without_an_encoder_says_so_and_encoder_loss_image_beside_it_trains_one(
        tmp_path: Path, capsys) -> None:
    # `wildgan train --config OLDRUN/config.yaml` was refused with the general words (train.encoder_loss must be
    # image or latent, got 'none'), as if wildgan's own file held a typo: nothing said its run had no trained encoder
    from wildgan.cli import main

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(data, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                 "--total-kimg", "0.032", "--phase-kimg", "0.1", "--device", "cpu", "--threads", "1",
                 "--out", str(tmp_path / "unused"), "--dry-run"]) == 0, capsys.readouterr().err
    whole = json.loads(capsys.readouterr().out)
    whole["train"]["encoder_loss"] = "none"          # (what an earlier Detector(encoder_loss='none').fit wrote)
    whole["train"]["log_every"] = 1                  # (a stats row per iteration: E's loss is in it where E trains)
    old = tmp_path / "old-run"
    old.mkdir()
    (old / "config.yaml").write_text(yaml.safe_dump(whole, sort_keys=False))
    new = tmp_path / "new"
    assert main(["train", "--config", str(old / "config.yaml"), "--out", str(new)]) == 2
    err = capsys.readouterr().err
    assert f"{old / 'config.yaml'}: train.encoder_loss must be image (d_I) or latent (d_z) with method wildgan" in err
    assert "(the --encoder-loss setting): the file's run was trained without an encoder" in err, err
    assert ("to train one, give --encoder-loss image (d_I, the method's) or latent (d_z, its ablation) beside the "
            "file") in err, err
    assert not new.exists()
    # ... which it does: the new run's config says image, and its encoder trained (E's loss in every stats row)
    assert main(["train", "--config", str(old / "config.yaml"), "--encoder-loss", "image", "--out", str(new)]) == 0, \
        capsys.readouterr().err
    assert yaml.safe_load((new / "config.yaml").read_text())["train"]["encoder_loss"] == "image"
    rows = [json.loads(line) for line in (new / "stats.jsonl").read_text().splitlines()]
    assert rows and all("E/loss" in r for r in rows), rows
    # a none typed beside the file is the command line's own, not the file's run's
    assert main(["train", "--config", str(old / "config.yaml"), "--encoder-loss", "none",
                 "--out", str(tmp_path / "other"), "--dry-run"]) == 2
    assert "the file's run" not in capsys.readouterr().err


def test_the_words_of_a_run_config_without_an_encoder_outside_the_cli(tmp_path: Path) -> None:
    # replay_run / run_config_file: no flag to type, so the file's setting is named instead
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, run_config_file, \
        write_run_config

    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    write_run_config(cfg, tmp_path)
    whole = json.loads((tmp_path / "config.json").read_text())
    whole["train"]["encoder_loss"] = "none"
    (tmp_path / "config.json").write_text(json.dumps(whole))
    with pytest.raises(ConfigError, match=r"config\.json: train\.encoder_loss must be .*got 'none': the file's run "
                                          r"was trained without an encoder .* set train\.encoder_loss to image "
                                          r"\(d_I, the method's\) or latent \(d_z, its ablation\) in a copy of the "
                                          r"file$"):
        run_config_file(tmp_path / "config.json")


# the words every refusal of a training without an encoder shares (config.untrained_encoder_words), whichever way it
# is reached: a run config file, train_run, a study's cells
SHARED = ("trained without an encoder (which an earlier wildgan took), so its scores came from an untrained one; to "
          "train one, ")
CHOICES = "image (d_I, the method's) or latent (d_z, its ablation)"
# the refusal of a training's none, in the one wording of every refusal of it (config.untrained_encoder_problem)
REFUSED = ("train.encoder_loss must be image (d_I) or latent (d_z) with method wildgan, whose scores need its encoder "
           "(none, no encoder, is for method fanogan or search), got 'none'")


def _read_quietly(run: Path):
    """read_run_config of the run (its warning of the untrained encoder is
    test_an_earlier_wildgans_run_without_an_encoder_loss_is_still_read's)."""
    from wildgan.config import read_run_config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        return read_run_config(run)


def test_train_run_of_a_run_config_without_an_encoder_says_what_trains_one(untrained_encoder_run: Path,
                                                                         tmp_path: Path) -> None:
    # train_run(read_run_config(OLD), ...) was refused with the bare "train.encoder_loss must be image (d_I) or
    # latent (d_z) ..., got 'none'": nothing said that the none was the earlier run's, nor what to set
    from dataclasses import replace

    from wildgan.config import refuse_untrained_encoder
    from wildgan.training.run import train_run

    cfg = _read_quietly(untrained_encoder_run)
    with pytest.raises(ConfigError) as e:
        train_run(cfg, tmp_path / "new", progress=False)
    msg = str(e.value)
    assert msg.startswith(REFUSED + ": where cfg is an earlier run's (read_run_config), that run was "
                          + SHARED + "set train.encoder_loss to " + CHOICES), msg
    assert "dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, encoder_loss='image'))" in msg, msg
    # the setting's parts kept, as every refusal of one setting keeps them (run_config_in takes a typed flag by them)
    assert (e.value.setting, e.value.value) == ("train.encoder_loss", "none")
    assert not (tmp_path / "new").exists()
    # ... and what it says to do is taken
    refuse_untrained_encoder(replace(cfg, train=replace(cfg.train, encoder_loss="image")))


def test_a_study_cell_without_an_encoder_says_what_trains_one(untrained_encoder_run: Path, tmp_path: Path) -> None:
    # a study built on an earlier run's config, its cells' encoder loss taken from it, was refused with the same bare
    # words, which named train.encoder_loss, not the cells' encoder loss that a wildgan cell's config takes
    from dataclasses import replace

    from wildgan.config import DataConfig
    from wildgan.studies import grid, run_study

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(data, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    old = _read_quietly(untrained_encoder_run)
    base = replace(old, data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1))
    cells = grid(["0"], [0.0], ["wildgan"], [old.train.encoder_loss], [0])
    with pytest.raises(ConfigError) as e:
        run_study(base, cells, tmp_path / "study", progress=False, log=lambda _: None)
    msg = str(e.value)
    assert ("cell 0_g0_wildgan_none_s0 (normal 0, gamma 0, method wildgan, encoder loss none, seed 0): "
            + REFUSED + ": where that none is an earlier run's (read_run_config), that run was " + SHARED
            + "set the cell's encoder loss (Cell.encoder_loss; grid's encoder_losses) to " + CHOICES) in msg, msg
    assert not (tmp_path / "study" / "runs").exists()


def test_a_study_cell_without_an_encoder_unchecked_by_the_caller_says_the_studys_words(
        untrained_encoder_run: Path, tmp_path: Path) -> None:
    # run_study(..., cells_checked=True) skips check_cells (the caller says it ran it): a none cell it did not check
    # reached train_run, whose words (dataclasses.replace(cfg, ...)) name a cfg the study's caller never built
    from dataclasses import replace

    from wildgan.config import DataConfig
    from wildgan.studies import grid, run_study

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(data, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    old = _read_quietly(untrained_encoder_run)
    base = replace(old, data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1))
    cells = grid(["0"], [0.0], ["wildgan"], ["none"], [0])
    with pytest.raises(ConfigError) as e:
        run_study(base, cells, tmp_path / "study", progress=False, log=lambda _: None, cells_checked=True)
    msg = str(e.value)
    assert msg == ("cell 0_g0_wildgan_none_s0 (normal 0, gamma 0, method wildgan, encoder loss none, seed 0): "
                   + REFUSED + ": where that none is an earlier run's (read_run_config), that run was " + SHARED
                   + "set the cell's encoder loss (Cell.encoder_loss; grid's encoder_losses) to " + CHOICES), msg
    assert (e.value.setting, e.value.value) == ("train.encoder_loss", "none")
    assert not (tmp_path / "study" / "runs" / cells[0].key / "config.json").exists()


def test_a_clone_of_from_run_of_a_run_without_an_encoder_refuses_its_fit_naming_where_none_came_from(
        untrained_encoder_run: Path, tmp_path: Path) -> None:
    # sklearn.base.clone of Detector.from_run(OLD) keeps its parameters, encoder_loss none included, as clone
    # promises; its fit was refused with the bare "... got 'none'" (the clone has no networks to tell where the none
    # came from), which its caller never typed. Its run_dir, kept too, is the earlier run's, which does tell
    from sklearn.base import clone

    from wildgan import Detector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)
        det = Detector.from_run(untrained_encoder_run, device="cpu")
    twin = clone(det)
    assert twin.get_params() == det.get_params() and twin.encoder_loss == "none"
    assert not hasattr(twin, "model_")
    written = (untrained_encoder_run / "config.json").read_bytes()
    x = np.random.default_rng(1).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    with pytest.raises(ConfigError) as e:
        twin.fit(x)
    msg = str(e.value)
    assert msg.startswith("encoder_loss must be image (d_I) or latent (d_z) with method='wildgan'"), msg
    assert (f"got 'none': the run in run_dir, {untrained_encoder_run}, whose none this Detector took (a clone of "
            f"Detector.from_run of it keeps it), was " + SHARED + "set encoder_loss to " + CHOICES
            + ": set_params(encoder_loss='image') before fit") in msg, msg
    assert (untrained_encoder_run / "config.json").read_bytes() == written        # refused before anything is written
    # a Detector of the caller's own none, in a run_dir of its own, is told the value alone (as before)
    with pytest.raises(ConfigError) as e:
        clone(twin).set_params(run_dir=str(tmp_path / "elsewhere")).fit(x)
    assert str(e.value).endswith("got 'none'"), str(e.value)
    # ... and what the words say trains one: a fresh model of the same settings but the encoder loss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)               # (networks not grown: a fit this short)
        twin.set_params(encoder_loss="image", run_dir=str(tmp_path / "new")).fit(x)
    new = json.loads((tmp_path / "new" / "config.json").read_text())
    old = json.loads(written)
    assert new["train"]["encoder_loss"] == "image"
    assert {**new["train"], "encoder_loss": "none"} == old["train"] and new["net"] == old["net"]


def test_a_training_and_a_detector_refuse_none_in_one_wording() -> None:
    # a training's config (refuse_untrained_encoder: train_run, a config file, a study's cell) said "must be image
    # (d_I) or latent (d_z) with method wildgan, whose scores need its encoder, got 'none'", a Detector the same with
    # "(none, no encoder, is for method='fanogan' or 'search')" beside it: one refusal, two wordings. Now one
    # (config.untrained_encoder_problem), the methods named as each caller's user spells them
    from wildgan import Detector
    from wildgan.config import DataConfig, NetConfig, RunConfig, TrainConfig, refuse_untrained_encoder, \
        untrained_encoder_problem

    with pytest.raises(ConfigError) as trained:
        refuse_untrained_encoder(RunConfig(data=DataConfig(), net=NetConfig(), train=TrainConfig(encoder_loss="none")))
    assert str(trained.value).startswith(f"train.encoder_loss {untrained_encoder_problem()}, got 'none': "), \
        str(trained.value)
    assert trained.value.problem == untrained_encoder_problem()
    with pytest.raises(ConfigError) as fitted:
        Detector(encoder_loss="none", preset="tiny", total_kimg=0.1, phase_kimg=0.1).fit(np.zeros((8, 8, 8), np.uint8))
    assert str(fitted.value) == ("encoder_loss " + untrained_encoder_problem("method='wildgan'",
                                                                            "method='fanogan' or 'search'")
                                 + ", got 'none'"), str(fitted.value)
