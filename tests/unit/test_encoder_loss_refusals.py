"""The encoder loss 'none' (no encoder) with method wildgan, whose scores need the encoder: a run an earlier wildgan
trained so is still read back, with a warning that its scores came from an untrained encoder, while training one,
anew or by a resume, is refused; and Detector's refusal of an encoder loss says what is taken for its method. A user
must be able to read an old run's results, and must be told why a new training is refused in terms of the method."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from toy_labelled_npz import labelled_npz


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
    """The wildgan method refuses the encoder loss none (its scores need E), and Detector's refusal says so: not one
    sentence for every case ('encoder_loss must be image (d_I) or latent (d_z), got 'none''), which names neither
    the method that makes none wrong for Detector(encoder_loss='none') (method wildgan, the default), nor, for
    set_params(method='wildgan') on a Detector(method='search', encoder_loss='none'), the method, which is the one
    thing the caller changed; while Detector(method='fanogan', encoder_loss='imgae') is told that none is taken
    there."""
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
