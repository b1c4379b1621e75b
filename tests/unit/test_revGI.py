"""revGI (a review of newGJ and newGK): `wildgan info RUN`'s training line on the runs newGK's test did not try."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from test_newGK import png_pile
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


def test_info_of_a_finished_run_resumed_and_stopped_says_the_training_after_its_final_networks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a finished run resumed with a longer --total-kimg and stopped before its new final networks keeps the earlier
    # ones: info said "trained: 0.064 kimg (done, schedule 0.15 kimg)", no word of the checkpoints past them
    pile, run = tmp_path / "pile", tmp_path / "run"
    png_pile(pile)
    common = ["--threads", "1", "--no-progress", "--out", str(run)]
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
                 "--checkpoint-kimg", "0.016", "--no-train-scores", *common]) == 0
    first = {n: (run / n).read_bytes() for n in ("network-final.json", "network-final.safetensors")}
    assert main(["train", "--resume", "--total-kimg", "0.1", *common]) == 0
    for n, b in first.items():          # as a kill of the resumed session leaves it: the first session's finals
        (run / n).write_bytes(b)
    newest = sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]
    kimg = json.loads(newest.read_text())["kimg"]
    assert kimg > 0.064
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert (f"trained: 0.064 kimg (done, schedule 0.1 kimg); networks in {run / 'network-final.json'}; a resume "
            f"trained on to the checkpoint at {kimg:g} of 0.1 kimg ({newest}) and was stopped or killed before its "
            f"final networks; continue it with `wildgan train --out {run} --resume`") in out, out
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["training"]["resumed_to"] == {"file": str(newest), "kimg": kimg}
