"""fixKH: a run trained under torchrun (`wildgan train --distributed` in several processes) recorded nowhere how many
processes trained it, so `wildgan info RUN` advised a plain `--resume` for it, which continues it in one process, not
as it trained. Checkpoints and the final networks now record world_size and dist_backend (training.loop.
processes_record), and info advises the torchrun command of docs/cli.md where the newest record says several."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_newGK import pile_run, png_pile
from wildgan.cli import main

PLAIN = "continue it with `wildgan train --out {run} --resume`"


def _stop_before_final(run: Path) -> Path:
    """The run as a kill before its final networks leaves it; its newest checkpoint's JSON."""
    for f in ("network-final.json", "network-final.safetensors"):
        (run / f).unlink()
    return sorted((run / "checkpoints").glob("ckpt-*.json"))[-1]


def _info(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict]:
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert main(["info", str(run), "--json"]) == 0
    return out, json.loads(capsys.readouterr().out)["training"]


def test_a_two_process_gloo_run_records_its_world_size_and_info_advises_torchrun(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    npz, run = tmp_path / "toy.npz", tmp_path / "run"
    np.savez(npz, x=(rng.random((96, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 48))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # (as test_ddp's torchrun runs: CPU ranks on gloo, a free port each)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", "-m", "wildgan", "train", "--distributed",
           "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
           "--checkpoint-kimg", "0.016", "--threads", "1", "--device", "cpu", "--no-progress", "--no-train-scores",
           "--out", str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = json.loads((run / "network-final.json").read_text())
    assert (final["world_size"], final["dist_backend"]) == (2, "gloo")
    for c in (run / "checkpoints").glob("ckpt-*.json"):
        meta = json.loads(c.read_text())
        assert (meta["world_size"], meta["dist_backend"]) == (2, "gloo"), c
    out, got = _info(run, capsys)
    assert got["world_size"] == 2 and got["final"], got
    assert "--resume" not in out, out              # (finished: nothing to continue)

    newest = _stop_before_final(run)
    out, got = _info(run, capsys)
    assert got["world_size"] == 2, got
    assert (f"({newest}), stopped or killed; continue it with `torchrun --nproc_per_node=2 -m wildgan train --out "
            f"{run} --resume --distributed` (as it trained, in 2 processes; a plain `wildgan train --out {run} "
            f"--resume` continues it in one process too)") in out, out
    # as said: the plain resume continues it in one process, whose final networks then say so
    assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress", "--no-train-scores"]) == 0
    final = json.loads((run / "network-final.json").read_text())
    assert (final["world_size"], final["dist_backend"]) == (1, None)


def test_a_one_process_run_records_a_world_of_one_and_keeps_the_plain_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = pile_run(tmp_path)
    final = json.loads((run / "network-final.json").read_text())
    assert (final["world_size"], final["dist_backend"]) == (1, None)
    newest = _stop_before_final(run)
    assert json.loads(newest.read_text())["world_size"] == 1
    out, got = _info(run, capsys)
    assert got["world_size"] == 1, got
    assert PLAIN.format(run=run) + "\n" in out and "torchrun" not in out, out

    # an older wildgan's checkpoint, without the keys: today's advice, not recorded in --json, and it still resumes
    meta = json.loads(newest.read_text())
    del meta["world_size"], meta["dist_backend"]
    newest.write_text(json.dumps(meta))
    out, got = _info(run, capsys)
    assert got["world_size"] is None, got
    assert PLAIN.format(run=run) + "\n" in out and "torchrun" not in out, out
    assert main(["train", "--out", str(run), "--resume", "--threads", "1", "--no-progress",
                 "--no-train-scores"]) == 0
    assert json.loads((run / "network-final.json").read_text())["world_size"] == 1
    # a hand-edited count is not taken as several processes (the plain resume works whatever it was)
    newest = _stop_before_final(run)
    meta = json.loads(newest.read_text())
    meta["world_size"] = "2"
    newest.write_text(json.dumps(meta))
    out, got = _info(run, capsys)
    assert got["world_size"] is None and "torchrun" not in out, out


def test_a_budget_stopped_torchrun_run_is_told_the_torchrun_command_with_minutes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its final networks say several processes: the --minutes advice is the torchrun command too (recorded by hand:
    the two-process run above covers the recording)."""
    pile, run = tmp_path / "pile", tmp_path / "run"
    png_pile(pile)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
                 "--threads", "1", "--no-progress", "--no-train-scores", "--out", str(run)]) == 0
    path = run / "network-final.json"
    meta = json.loads(path.read_text())
    meta.update(status="budget", world_size=4, dist_backend="nccl")
    path.write_text(json.dumps(meta))
    out, got = _info(run, capsys)
    assert got["world_size"] == 4, got
    assert (f"continue it with `torchrun --nproc_per_node=4 -m wildgan train --out {run} --resume --minutes MINUTES "
            f"--distributed`") in out, out
    assert "in 4 processes; without torchrun and --distributed it continues in one process too" in out, out
