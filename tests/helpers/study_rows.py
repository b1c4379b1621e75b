"""Study rows and a study's base config, for the tests of the study grid and its tables (test_study,
test_study_eta, test_study_tables_header): rows as results.jsonl holds them, with AUCs chosen so that every table
and plot of the tables is checked against numbers fixed here (FIXED), and the base config of a study of tiny cells
on an 8x8 .npz that trains in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset


def study_row(method: str, enc: str, gamma: float, seed: int, a: float, untrained: float = 0.6,
              pn: float = 0.62) -> dict[str, Any]:
    """A cell's row of a CIFAR-10 study of the normal class automobile, its a AUC `a`."""
    auc = {"A": 0.4, "L_r": 0.41, "L_n": 0.55, "L_o": a - 0.01, "a": a}
    return {"cell": f"automobile_g{gamma:g}_{method}_{enc}_s{seed}", "protocol": "cifar10", "normal": "automobile",
            "gamma": gamma, "method": method, "encoder_loss": enc, "seed": seed, "auc": auc,
            "ap": {k: v + 0.01 for k, v in auc.items()},
            "controls": {"untrained": {k: untrained for k in auc}, "pixel_norm": pn, "pixel_std": 0.5,
                         "pixel_mean": 0.45},
            "controls_ap": {"pixel_norm": 0.6, "pixel_std": 0.5, "pixel_mean": 0.45}, "kimg": 100.0}


FIXED = [study_row("wildgan", "image", 0.0, 0, 0.70), study_row("wildgan", "image", 0.0, 1, 0.74),
         study_row("wildgan", "image", 0.02, 0, 0.64), study_row("wildgan", "latent", 0.0, 0, 0.66),
         study_row("fanogan", "-", 0.0, 0, 0.45), study_row("fanogan", "-", 0.02, 0, 0.44)]


def study_base(tmp_path: Path) -> RunConfig:
    """A study's base config: tiny networks on an 8x8 .npz (tmp_path/toy.npz, normal class 0, class 1 darker)
    that trains 0.1 kimg in seconds."""
    rng = np.random.default_rng(0)
    p = tmp_path / "toy.npz"
    x = (rng.random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4                                          # class 1 darker: something to detect
    np.savez(p, x=x, y=np.repeat([0, 1], 40))
    data = DataConfig(data=str(p), normal=("0",), resolution=8, channels=1)
    tc = TrainConfig(total_kimg=0.1, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.05,
                     device="cpu")
    return RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
