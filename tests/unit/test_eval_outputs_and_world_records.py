"""What an evaluation leaves in its folder (data.eval_files) and what the records of a run say of the processes that
trained it (training.distributed.processes_record): the review of the lefto merge's edge cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from wildgan.cli import main

# 40 iterations of 16 images: a stats row every 20 (log_every), a checkpoint at each of them
_RUN = ["--normal", "0", "--preset", "tiny", "--total-kimg", "0.64", "--phase-kimg", "0.16", "--checkpoint-kimg",
        "0.32", "--threads", "1", "--device", "cpu", "--no-progress", "--no-train-scores"]


def _toy(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x=(rng.random((96, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 48))
    return path


def _world(path: Path) -> tuple[object, object]:
    meta = json.loads(path.read_text())
    return meta.get("world_size"), meta.get("dist_backend")


def _train_in_two_processes(tmp_path: Path) -> Path:
    """A run trained to its end by a 2-process torchrun job (CPU ranks on gloo, as tests/integration/test_ddp.py)."""
    npz, run = _toy(tmp_path / "toy.npz"), tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan", "train", "--distributed",
           "--data", str(npz), *_RUN, "--out", str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _world(run / "network-final.json") == (2, "gloo")
    return run


def test_a_resume_in_one_process_that_trains_nothing_keeps_the_two_process_record_of_the_weights(
        tmp_path: Path) -> None:
    """A resume that trains nothing writes the networks again as they were: their record must keep the processes
    that trained them, as it keeps their thread counts. It wrote the resuming session's world_size 1 over the 2 of
    the session that trained the weights, so `wildgan info` and the record called a torchrun run's weights a
    one-process run's."""
    run = _train_in_two_processes(tmp_path)
    resume = ["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress", "--no-train-scores"]
    # a finished run resumed in one process: nothing to train, its final networks written again
    assert main(resume) == 0
    assert _world(run / "network-final.json") == (2, "gloo")
    log = (run / "log.txt").read_text()
    assert "in 1 process from here on" not in log, log          # (nothing trained: no note of a change)

    # killed between its last checkpoint and the final networks: the resume restores the 2-process checkpoint,
    # trains nothing and writes the final networks of those weights
    for f in ("network-final.json", "network-final.safetensors"):
        (run / f).unlink()
    assert main(resume) == 0
    assert _world(run / "network-final.json") == (2, "gloo")
    assert _world(run / "checkpoints" / "ckpt-000000000640.json") == (2, "gloo")
