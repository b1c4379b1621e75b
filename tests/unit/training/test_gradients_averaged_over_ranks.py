"""Data-parallel training's arithmetic (training.distributed.DistContext): each rank's gradients replaced by their
mean over the ranks, every bucket of them, and the logged scalars averaged alike, here on two real gloo ranks. The
torchrun test (integration/test_ddp.py) compares whole trainings with one process, and a sum in place of the mean
passed it: Adam divides a gradient by its own running scale, so doubling every gradient left the weights within
that test's 1e-3 of their update, while the sum is still the wrong gradient for any optimiser or clipping that is
not scale-free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# each rank: two parameters' gradients (rank-dependent values), averaged in buckets of at most 64 bytes (so that the
# three tensors take more than one bucket), and two logged scalars; its results written as JSON
_RANK = textwrap.dedent('''
    import json, sys
    import torch
    import torch.distributed as tdist
    from wildgan.training import distributed as dist

    rank, store, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    tdist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        dist._BUCKET_BYTES = 64
        ctx = dist.DistContext(rank=rank, world=2, local_rank=rank, device=torch.device("cpu"), backend="gloo")
        ps = [torch.nn.Parameter(torch.zeros(n)) for n in (3, 20, 5)]
        for i, p in enumerate(ps):
            p.grad = torch.arange(p.numel(), dtype=torch.float32) * (rank + 1) + 10 * i + 100 * rank
        ctx.average_gradients(ps)
        logged = ctx.mean_tensors({"D/loss": torch.tensor(1.0 + rank), "G/loss": torch.tensor(4.0 * rank)})
        json.dump({"grads": [p.grad.tolist() for p in ps], "logged": {k: float(v) for k, v in logged.items()}},
                  open(out, "w"))
    finally:
        tdist.destroy_process_group()
''')


@pytest.mark.skipif(sys.platform == "win32", reason="a file:// store of gloo on POSIX paths")
def test_two_ranks_gradients_and_logged_scalars_are_their_mean(tmp_path: Path) -> None:
    script = tmp_path / "rank.py"
    script.write_text(_RANK)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(tmp_path / "store"),
                               str(tmp_path / f"rank{r}.json")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    for p in procs:
        try:
            _, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == 0, err[-3000:]
    got = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    # rank r's gradient of parameter i, element j: j * (r + 1) + 10 i + 100 r; the mean over r = 0, 1:
    # 1.5 j + 10 i + 50
    want = [[1.5 * j + 10 * i + 50 for j in range(n)] for i, n in enumerate((3, 20, 5))]
    for g in got:
        for mine, expected in zip(g["grads"], want):
            assert mine == pytest.approx(expected, abs=1e-5)
        assert g["logged"] == pytest.approx({"D/loss": 1.5, "G/loss": 2.0})
