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
    # the kimg said as every message says it (kimg_to_the_image), not as the JSON holds it (1.0)
    assert text == "Networks: network-final.json (kimg 1), trained by wildgan 0.1.0 with torch 2.13.0."


def _train_cli(npz: Path, out: Path, *extra: str) -> None:
    from wildgan.cli import main

    args = ["train", "--no-progress", "--no-train-scores", "--threads", "1", "--out", str(out)]
    assert main(args + (list(extra) or ["--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg",
                                        "0.05", "--phase-kimg", "0.02"])) == 0


def test_a_config_replay_on_changed_data_says_it_is_not_the_run_it_replays(tmp_path, capsys):
    """`train --config RUN/config.yaml` replays RUN exactly, but on data changed since (an image replaced), it trained
    other networks without a word, while evaluate, score and --resume of RUN warn. The replay now says so too, in the
    terminal and in the new run's log.txt; a replay of unchanged data, or one that asks for other data on purpose
    (another --seed), says nothing."""
    npz = _toy_npz(tmp_path / "toy.npz")
    _train_cli(npz, tmp_path / "run")
    _train_cli(npz, tmp_path / "same", "--config", str(tmp_path / "run" / "config.yaml"))
    assert "replays the run" not in capsys.readouterr().err
    d = dict(np.load(npz))
    d["x"][3] = 255 - d["x"][3]                       # a normal training image edited, the ids unchanged
    np.savez(npz, **d)
    _train_cli(npz, tmp_path / "other", "--config", str(tmp_path / "run" / "config.yaml"))
    err = capsys.readouterr().err
    assert f"{tmp_path / 'run' / 'config.yaml'} replays the run in {tmp_path / 'run'}, but its training images are " \
           f"not the ones that run trained on (the training images' pixels, under the same image ids" in err, err
    assert "this trains another run, not a replay of it" in err and "is not the file the run read" in err
    assert "replays the run" in (tmp_path / "other" / "log.txt").read_text()
    _train_cli(npz, tmp_path / "seed1", "--config", str(tmp_path / "run" / "config.yaml"), "--seed", "1")
    assert "replays the run" not in capsys.readouterr().err
