"""Each method trains a few steps through the run API and evaluates with finite scores and controls."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wildgan.config import (PRESETS, DataConfig, FAnoGANConfig, RunConfig, SearchConfig, TrainConfig,
                            net_config_for_preset)
from wildgan.evaluation.run import evaluate_run
from wildgan.training.run import train_run


def _toy(tmp_path, res):
    rng = np.random.default_rng(0)
    x = (rng.random((64, res, res)) * 255).astype(np.uint8)
    x[32:, res // 4: res // 2, res // 4: res // 2] = 255          # class 1: a bright square
    p = tmp_path / "toy.npz"
    np.savez(p, x=x, y=np.repeat([0, 1], 32))
    return p


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("method", ["wildgan", "search", "fanogan"])
def test_method_trains_scores_and_evaluates(tmp_path, method):
    res = 32 if method == "fanogan" else 8
    data = DataConfig(data=str(_toy(tmp_path, res)), normal=("0",), resolution=res, channels=1)
    tc = TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"],
                     checkpoint_kimg=0.05, device="cpu", encoder_loss="none" if method == "search" else "image")
    cfg = RunConfig(data=data, net=net_config_for_preset("tiny", res, 1), train=tc, preset="tiny", method=method,
                    fanogan=FAnoGANConfig(dim=8, gan_iters=3, enc_iters=3, batch_size=8, device="cpu"),
                    search=SearchConfig(steps=5, batch_size=64))
    run = tmp_path / "run"
    result = train_run(cfg, run, progress=False, log=lambda m: None)
    assert result.final is not None and result.final.is_file()
    if method == "fanogan":
        # f-AnoGAN counts iterations; the images shown are critic iterations x batch, and the encoder's are extra
        assert result.nimg == 3 * 8
        assert result.detail == "3 critic iterations, 0.024 kimg shown to the critic; 3 encoder iterations"
    out = evaluate_run(run, device="cpu")
    assert set(out["auc"]) == {"a", "L_n", "L_o", "L_r", "A"}
    assert all(math.isfinite(v) for v in out["auc"].values())
    assert all(math.isfinite(v) for v in out["controls"]["untrained"].values())
    assert (run / "test_scores.csv").is_file()
