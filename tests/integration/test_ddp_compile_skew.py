"""A compiled data-parallel run whose ranks compile at different speeds (2 processes launched by torchrun, gloo):
the rank done first waits for the other at the CPU group's barrier, under its long timeout, not inside the gradient
all-reduce of the default group, whose timeout on a GPU job is NCCL's (torch's 10 minutes, enforced by its watchdog
killing the process). A GPU job is played on gloo: a default group with a short timeout (NCCL's stand-in) and a CPU
group with a long one (the --dist-timeout); rank 1's first compilation takes longer than the short timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

DRIVER = textwrap.dedent('''
    import os, sys, time
    from datetime import timedelta
    from pathlib import Path
    import numpy as np, torch
    import torch.distributed as tdist
    torch.set_num_threads(1)
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training import distributed
    from wildgan.training.loop import train_pgan

    out, short_s, skew_s = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    rank = int(os.environ["RANK"])
    # (dynamo with a backend that runs the traced graph as it is: inductor on this CPU takes minutes; rank 1's first
    # graph takes skew_s longer, as a slower compilation would)
    real_compile, slow = torch.compile, [True] if rank == 1 else []
    def backend(gm, inputs):
        if slow:
            slow.clear()
            time.sleep(skew_s)
        return gm.forward
    torch.compile = lambda f, mode=None, dynamic=None: real_compile(f, backend=backend, dynamic=dynamic)

    tdist.init_process_group("gloo", timeout=timedelta(seconds=short_s))
    ctrl = tdist.new_group(backend="gloo", timeout=timedelta(seconds=120))
    ctx = distributed.DistContext(rank=rank, world=2, local_rank=rank, device=torch.device("cpu"), backend="gloo",
                                  ctrl_group=ctrl, job="skew", timeout_s=120)
    distributed._CTX = ctx
    x = (np.random.default_rng(0).random((48, 8, 8, 1)) * 255).astype(np.uint8)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(minibatch=PRESETS["tiny"]["minibatch"], device="cpu", compile="default",
                                      total_kimg=0.064, phase_kimg=1.0, checkpoint_kimg=1.0, log_every=1, seed=3))
    ctx.barrier()                   # (the ranks start training together: only the compilations differ)
    res = train_pgan(x, cfg, out / "run", progress=False, log=lambda m: None, dist=ctx)
    (out / f"rank-{rank}.done").write_text(str(res.nimg))
    distributed.shutdown()
''')


@pytest.mark.integration
def test_a_rank_that_compiles_longer_is_waited_for_under_the_long_timeout(tmp_path: Path):
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0", str(tmp_path / "driver.py"), str(tmp_path),
           "4", "8"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    # (without the barrier rank 0 waited in the D step's all-reduce and gave up after 5 s: "Timed out waiting". The
    # short timeout is 4 s and rank 1's compilation 8 s longer, twice it: 5 and 12 s before, 7 s more of waiting)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert [(tmp_path / f"rank-{r}.done").read_text() for r in (0, 1)] == ["64", "64"]
    rows = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in rows] == [1, 2, 3, 4] and all(np.isfinite(r["D/loss"]) for r in rows)
