"""revFT: review of this morning's merges (the Detector's X_val check, the encoder loss's refusals, the short 'not
checked' note, the pythonw fix). Each test here shows one finding; each was a strict xfail until it was fixed, and
stays as the finding's regression test (/tmp/revFT_report.md has the details)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def _labelled_npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    p = tmp_path / "tiny.npz"
    np.savez(p, x=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y=np.arange(60) % 2)
    return p


def test_an_earlier_wildgans_run_without_an_encoder_loss_is_still_read(tmp_path: Path, capsys) -> None:
    """Before 57621364, Detector(method='wildgan', encoder_loss='none') and a run config of the same were taken, and
    trained (loop.py: use_encoder = encoder_loss != 'none'). The new check is in RunConfig.__post_init__, which runs
    on every read_run_config: the run's folder is refused as if its config.json were a typo ('RUN/config.json:
    train.encoder_loss must be image (d_I) or latent (d_z) with method wildgan ..., got 'none''), by `wildgan
    score`, `evaluate`, `report` and Detector.from_run alike; nothing can be read back from it (curves, samples,
    a report), and the words suggest editing the file, which would only hide that E was never trained. Refusing a
    new training is right; an existing run should be read, with a warning that its scores come from an untrained
    encoder (or refused in those words)."""
    from wildgan.cli import main
    from wildgan.config import read_run_config

    data = _labelled_npz(tmp_path)
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                 "--out", str(tmp_path / "unused"), "--dry-run"]) == 0, capsys.readouterr().err
    whole = json.loads(capsys.readouterr().out)
    assert whole["method"] == "wildgan"
    whole["train"]["encoder_loss"] = "none"          # (what an earlier Detector(encoder_loss='none').fit wrote)
    run = tmp_path / "old-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(whole))
    from wildgan.errors import ConfigError, WildganWarning

    # (in the one wording of every refusal of such a run, config.untrained_encoder_words)
    with pytest.warns(WildganWarning, match=r"old-run: it was trained without an encoder \(which an earlier wildgan "
                                            r"took\), so its scores came from an untrained one: they are not the "
                                            r"method's .*; to train one, train it again with encoder loss image "
                                            r"\(d_I, the method's\) or latent \(d_z, its ablation\)$"):
        cfg = read_run_config(run)
    assert cfg.train.encoder_loss == "none"
    import warnings

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
    import yaml

    (run / "config.yaml").write_text(yaml.safe_dump(whole, sort_keys=False))
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "trained without an encoder" in err and "train it again into a new folder" in err, err


def test_detectors_encoder_loss_refusal_says_what_is_taken_for_the_method() -> None:
    """57621364's subject: 'the encoder loss's refusals list what is taken where ... the wildgan method refuses none
    (its scores need E), as Detector does'. Detector's words are one sentence for every case:
    Detector(encoder_loss='none') (method wildgan, the default; accepted until this morning) is told 'encoder_loss
    must be image (d_I) or latent (d_z), got 'none'' with no word of the method, which is what makes none wrong (the
    same happens to set_params(method='wildgan') on a Detector(method='search', encoder_loss='none'), where the
    caller changed only the method); and Detector(method='fanogan', encoder_loss='imgae') is told the same, though
    none is taken there."""
    from wildgan import Detector
    from wildgan.errors import ConfigError

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


def test_the_not_checked_note_does_not_call_a_damaged_train_hashes_file_one_of_other_images(tmp_path: Path) -> None:
    """data.splits.read_train_hashes returns None alike for a file it cannot read (any Exception: a 0-byte file
    left by a full disk, a copy cut short) and for one of other pixels; rebuilt_train_hashes words the first as
    the second ('its train_hashes.npz is of other images'), so `evaluate --data OTHER` says, at every evaluation,
    something false of the run's file, and nothing of what is wrong with it."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.data.splits import TRAIN_HASHES_FILE
    from wildgan.evaluation.run import rebuilt_train_hashes

    run = tmp_path / "run"
    run.mkdir()
    (run / TRAIN_HASHES_FILE).write_bytes(b"")          # (a full disk's leftover)
    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "pile"), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    recorded = {"train_pixels_sha256": "0" * 64, "n_read": 500, "n_train": 400, "format": "folder"}
    hashes, why = rebuilt_train_hashes(run, cfg, recorded, n_scored=10)
    assert hashes is None, why
    assert "of other images" not in why, why
    assert why.startswith("its train_hashes.npz cannot be read (damaged)"), why
    # the three cases apart: cut short, missing, and a sound file of other pixels (which is still said so)
    from wildgan.data.splits import train_hashes_kept, write_train_hashes

    x = np.zeros((3, 8, 8, 1), np.uint8)
    write_train_hashes(run, x, "1" * 64)
    whole = (run / TRAIN_HASHES_FILE).read_bytes()
    assert train_hashes_kept(run, {"train_pixels_sha256": "1" * 64, "n_train": 3})[1] == ""
    assert train_hashes_kept(run, recorded)[1] == "of other images"
    assert "is of other images" in rebuilt_train_hashes(run, cfg, recorded, n_scored=10)[1]
    (run / TRAIN_HASHES_FILE).write_bytes(whole[:len(whole) // 2])
    assert train_hashes_kept(run, recorded)[1] == "unreadable"
    (run / TRAIN_HASHES_FILE).unlink()
    assert train_hashes_kept(run, recorded)[1] == "missing"
    assert rebuilt_train_hashes(run, cfg, recorded, n_scored=10)[1].startswith("it keeps no train_hashes.npz")


def test_a_command_that_warns_runs_where_there_is_neither_stdout_nor_stderr(tmp_path: Path, monkeypatch) -> None:
    """Under pythonw (and an interpreter embedded without a console) sys.stdout and sys.stderr are both None.
    say_end checks for it ('(pythonw)'), write_stdout now does, but eprint, moved to errors.py this morning and the
    writer of the CLI's warnings (common.warn), notes and result lines (score's 'scored N images ... wrote X',
    train's 'next:'), and of training.distributed's shutdown warning, calls None.write: `wildgan score RUN --data
    IMG --out scores.csv` raises AttributeError out of main (from its batch-mode warning) before the CSV is written,
    and so does this dry run, from its '--encoder-loss does not apply' warning. revFS's test of a command without
    stdout passed only because `wildgan info` says nothing on stderr."""
    from wildgan.cli import main

    data = _labelled_npz(tmp_path)
    monkeypatch.setattr("sys.stdout", None)
    monkeypatch.setattr("sys.stderr", None)
    assert main(["train", "--data", str(data), "--normal", "0", "--preset", "tiny", "--resolution", "8",
                 "--method", "search", "--encoder-loss", "latent", "--out", str(tmp_path / "r"), "--dry-run"]) == 0
