"""StepRunner iterations along a schedule, for the tests of the CUDA-graph code on the CPU (test_graph_bookkeeping,
test_cuda_branches_on_cpu; conftest's fake_cuda stands in for torch.cuda)."""

from __future__ import annotations

from typing import Any, Callable

import wildgan.training.loop as L
from wildgan.training.schedule import schedule


def train_steps(r: L.StepRunner, state: dict[str, Any] | None, n: int, nc: Any, tc: Any,
                hook: Callable[[int], Any] | None = None) -> list[dict[str, float]]:
    """n iterations of r along the schedule of (nc, tc), the optimisers reset where a phase starts, as the training
    loop does; hook(i) before iteration i; the losses as floats. state: fake_cuda's (its runner is set), or None."""
    if state is not None:
        state["runner"] = r
    nimg, bounds, losses = 0, None, []
    for i in range(n):
        if i % 4 == 0:
            ph = schedule(nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)
            if ph.lod_bounds != bounds:
                r.reset_optimizers()
                bounds = ph.lod_bounds
        if hook:
            hook(i)
        losses.append({k: float(v) for k, v in r.iteration(ph, L.ema_beta_at(tc, i)).items()})
        nimg += ph.batch
    return losses
