"""revGI (a review of newGJ and newGK): `wildgan info RUN`'s training line on the runs newGK's test did not try."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan.cli import main


def test_info_of_an_f_anogan_run_says_its_iterations_not_question_marks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # f-AnoGAN's networks record critic and encoder iterations, no kimg, nimg or status: `info` said
    # "trained: ? kimg (status not recorded)" of a finished run, and "at ? kimg" of a stopped one
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 255, (60, 32, 32), dtype=np.uint8), y=np.arange(60) % 2)
    run = tmp_path / "fa"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--normal", "0", "--device", "cpu", "--threads", "1",
                 "--no-progress", "--no-train-scores", "--method", "fanogan", "--fanogan-iters", "2",
                 "--fanogan-enc-iters", "2", "--fanogan-dim", "8", "--checkpoint-kimg", "0.016",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "?" not in out and "status not recorded" not in out, out
    assert (f"trained: 2 of 2 critic and 2 of 2 encoder iterations (done); networks in "
            f"{run / 'fanogan-final.json'}") in out, out
    assert main(["info", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["training"]
    assert got["status"] == "done" and got["iterations"] == {"critic": [2, 2], "encoder": [2, 2]}, got
    # stopped before its final networks: the newest checkpoint's iterations
    for f in ("fanogan-final.json", "fanogan-final.safetensors"):
        (run / f).unlink()
    newest = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    meta = json.loads(newest.read_text())
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert (f"not finished: no final networks, the newest checkpoint at {meta['gan_iters_done']} of 2 critic and "
            f"{meta['enc_iters_done']} of 2 encoder iterations ({newest})") in out, out


def test_info_of_a_stopped_fit_on_arrays_names_the_fit_that_continues_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a run Detector.fit trained on images given in memory: info advised `wildgan train --out RUN --resume`, which
    # then refuses it (it has no images to read); the fit call is the way on
    from wildgan import Detector

    x = np.random.default_rng(0).integers(0, 255, (40, 8, 8), dtype=np.uint8)
    run = tmp_path / "det"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector(preset="tiny", total_kimg=0.05, run_dir=str(run), device="cpu").fit(x)
    for f in ("network-final.json", "network-final.safetensors"):
        (run / f).unlink()
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "wildgan train" not in out, out
    assert (f"stopped or killed; continue it with Detector(..., run_dir={str(run)!r}).fit(X, resume=True), with the "
            f"same parameters and X\n") in out, out
