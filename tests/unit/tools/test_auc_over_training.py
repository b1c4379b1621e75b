"""tools/auc_over_training.py: one row per checkpoint, the same numbers as `wildgan evaluate` on that checkpoint."""

from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pytest
from repo_root import REPO

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.evaluation.run import evaluate_model, split_for_run
from wildgan.scoring.run import load_model
from wildgan.training.run import train_run

TOOL = REPO / "tools" / "auc_over_training.py"

pytestmark = pytest.mark.usefixtures("one_thread")


def test_one_row_per_checkpoint_with_evaluates_numbers(tmp_path):
    rng = np.random.default_rng(0)
    npz = tmp_path / "toy.npz"
    x = (rng.random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    np.savez(npz, x=x, y=np.repeat([0, 1], 40))
    cfg = RunConfig(data=DataConfig(data=str(npz), normal=("0",), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.2, phase_kimg=0.04, minibatch=PRESETS["tiny"]["minibatch"],
                                      checkpoint_kimg=0.05, keep_checkpoints=5, device="cpu"), preset="tiny")
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    spec = importlib.util.spec_from_file_location("auc_over_training", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    # a prefix with a dot in it (the results' naming, e.g. ...-g0.02-auc) keeps it
    assert tool.main([str(run), "--out", str(tmp_path / "aot-g0.02")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "aot-g0.02.csv", newline="")))
    kimg = [float(r["kimg"]) for r in rows]
    assert len(rows) >= 3 and kimg == sorted(kimg) and rows[-1]["checkpoint"] == "network-final.json"
    ev = evaluate_model(load_model(run, "cpu", checkpoint=run / "checkpoints" / rows[0]["checkpoint"]),
                        split_for_run(run))
    assert float(rows[0]["auc_a"]) == pytest.approx(ev["auc"]["a"], abs=1e-4)
    assert float(rows[0]["untrained_a"]) == pytest.approx(ev["controls"]["untrained"]["a"], abs=1e-4)
    # the untrained control follows each checkpoint's lod (it was computed once, at the first checkpoint's)
    last = evaluate_model(load_model(run, "cpu"), split_for_run(run))
    assert float(rows[0]["lod"]) > 0 and float(rows[-1]["lod"]) == 0.0
    assert float(rows[-1]["untrained_a"]) == pytest.approx(last["controls"]["untrained"]["a"], abs=1e-4)
    assert (tmp_path / "aot-g0.02.png").stat().st_size > 1000
