"""What a run's records say of the processes that trained it (training.loop's processes record): a resume that
trains nothing keeps the count of the session that trained the weights, so `wildgan info` advises the right resume;
and the report's throughput curve draws each count apart, since img_per_s counts every process's images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


def _throughput_lines(rows: list[dict], monkeypatch) -> list:
    """The lines the training curves' throughput panel draws from `rows` (the resolution's dotted ones left out)."""
    from wildgan.evaluation import plots

    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    plots.training_curves(Path("unused.png"), rows)
    ax = figs[0].axes[2]
    assert ax.get_title() == "throughput (img/s)"
    return [ln for ln in ax.get_lines() if ln.get_linestyle() != ":"]


def _throughput_legend(rows: list[dict], monkeypatch) -> list[tuple[str, list[float]]]:
    """(label, kimg of its points) of each line of the throughput panel."""
    return [(ln.get_label(), [float(v) for v in ln.get_xdata()]) for ln in _throughput_lines(rows, monkeypatch)]


def _row(kimg: float, ips: float, **world: object) -> dict:
    return {"kimg": kimg, "resolution": 8, "img_per_s": ips, "D/loss": 1.0, **world}


def test_the_throughput_curve_draws_each_number_of_processes_apart(monkeypatch) -> None:
    """img_per_s counts the images of every rank (docs/cli.md: compare it only between rows of one world_size), yet
    the report drew a run trained in 2 processes, then resumed in 1, as one line whose step read as the training
    slowing down. Each count is a line of its own, named in the legend; a later stretch of a count is not named
    twice."""
    two, one = {"world_size": 2, "dist_backend": "gloo"}, {"world_size": 1, "dist_backend": None}
    rows = [_row(0.32, 900.0, **two), _row(0.64, 950.0, **two), _row(0.96, 480.0, **one), _row(1.28, 470.0, **one),
            _row(1.6, 940.0, **two)]
    lines = _throughput_legend(rows, monkeypatch)
    assert [x for _, x in lines] == [[0.32, 0.64], [0.96, 1.28], [1.6]]
    assert lines[0][0] == "img_per_s (2 processes)" and lines[1][0] == "img_per_s (1 process)"
    assert lines[2][0].startswith("_")                 # (matplotlib's legend leaves such a label out)
    colours = [ln.get_color() for ln in _throughput_lines(rows, monkeypatch)]
    assert colours[0] == colours[2] != colours[1]      # (a count in one colour throughout)


def test_the_throughput_curve_of_one_count_or_of_rows_without_it_is_one_line(monkeypatch) -> None:
    """An older wildgan's rows (no world_size), or one count throughout, keep the one img_per_s line they had; rows
    of an older session before a resume by this wildgan are named as not recorded."""
    old = [_row(0.32, 900.0), _row(0.64, 950.0)]
    assert _throughput_legend(old, monkeypatch) == [("img_per_s", [0.32, 0.64])]
    one = [_row(0.32, 900.0, world_size=1, dist_backend=None), _row(0.64, 950.0, world_size=1, dist_backend=None)]
    assert _throughput_legend(one, monkeypatch) == [("img_per_s", [0.32, 0.64])]
    mixed = [*old, _row(0.96, 480.0, world_size=1, dist_backend=None)]
    assert [label for label, _ in _throughput_legend(mixed, monkeypatch)] == [
        "img_per_s (processes not recorded)", "img_per_s (1 process)"]


@pytest.mark.filterwarnings("ignore:training ended at")   # (a run of 0.128 kimg is not grown: not the point)
def test_a_resume_whose_minutes_are_spent_says_no_change_of_processes_or_threads(tmp_path: Path, one_thread) -> None:
    """A resume whose --minutes budget is already spent trains nothing (as one of a finished run), yet log.txt said
    'trained in 2 processes up to this checkpoint, in 1 process from here on' and warned that the weights now train
    on another thread count: of a 'here on' that never came. Said only where the session trains; the same resume with
    a budget left still says both."""
    from wildgan import checkpoint as ckpt
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training.loop import train_pgan

    def cfg(**train: object) -> RunConfig:
        tc = dict(total_kimg=0.128, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.128,
                  log_every=4, device="cpu")
        tc.update(train)
        return RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(**tc))

    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    train_pgan(x, cfg(), tmp_path, progress=False, log=lambda m: None)
    # the checkpoint as a 2-process session on 2 intra-op threads wrote it, 30 s into the run
    path = tmp_path / "checkpoints" / f"{ckpt.checkpoint_name(128)}.json"
    meta = json.loads(path.read_text())
    meta.update(world_size=2, dist_backend="gloo", intra_op_threads=2, elapsed_s=30.0)
    path.write_text(json.dumps(meta))
    kept = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def resumed(minutes: float | None) -> str:
        for p in tmp_path.rglob("*"):               # (each resume from the same files)
            if p.is_file() and p.name not in kept:
                p.unlink()
        for name, data in kept.items():
            next(tmp_path.rglob(name)).write_bytes(data)
        said: list[str] = []
        train_pgan(x, cfg(total_kimg=0.256, minutes=minutes), tmp_path, resume=True, progress=False,
                   log=said.append)
        return "\n".join(said)

    spent = resumed(0.25)                              # a 15 s budget, 30 s spent: nothing to train
    assert "nothing to train" in spent, spent
    assert "from here on" not in spent and "intra-op thread" not in spent, spent
    left = resumed(None)                               # trains on: both changes said
    assert "trained in 2 processes up to this checkpoint, in 1 process from here on" in left, left
    assert "was trained on 2 intra-op threads, and this process runs 1" in left, left
