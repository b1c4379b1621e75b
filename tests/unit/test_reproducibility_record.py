"""What a run records so that two results can be told apart and a run replayed: the things its numbers depend on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.evaluation.report import _networks_text
from wildgan.training.run import train_run


def _toy_npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = (rng.random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    np.savez(path, x=x, y=np.repeat([0, 1], 40))
    return path


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_count_training_used_is_recorded_when_threads_is_left_unset(tmp_path, threads):
    """CPU weights depend on the intra-op thread count (float summation order): two runs of one command under
    OMP_NUM_THREADS=1 and 2 gave other network-final sha256s, while their config.json (threads: null) and checkpoint
    records were the same. The count training used is now in each checkpoint's JSON."""
    cfg = RunConfig(data=DataConfig(data=str(_toy_npz(tmp_path / "toy.npz")), normal=("0",), resolution=8,
                                    channels=1),
                    net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.05, phase_kimg=0.02, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu", train_scores=False), preset="tiny")
    assert cfg.train.threads is None
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    finally:
        torch.set_num_threads(before)
    final = json.loads((tmp_path / "run" / "network-final.json").read_text())
    assert final["config"]["train"]["threads"] is None
    assert final["intra_op_threads"] == threads
    for c in (tmp_path / "run" / "checkpoints").glob("*.json"):
        assert json.loads(c.read_text())["intra_op_threads"] == threads
    text = _networks_text({"source": "network-final.json", "kimg": final["kimg"], "versions": final["versions"],
                           "intra_op_threads": final["intra_op_threads"]})
    assert text.endswith(f" on {threads} intra-op thread{'s' if threads > 1 else ''}.")


def test_networks_recorded_without_a_thread_count_say_none():
    text = _networks_text({"source": "network-final.json", "kimg": 1.0, "versions": {"wildgan": "0.1.0",
                                                                                     "torch": "2.13.0"}})
    assert text == "Networks: network-final.json (kimg 1.0), trained by wildgan 0.1.0 with torch 2.13.0."
