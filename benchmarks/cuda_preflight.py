#!/usr/bin/env python
"""The GPU session's first step (benchmarks/gpu_session.py): the versions, then, on CUDA, seconds of the code that
only a GPU runs, taken as `wildgan train --device cuda` and `wildgan evaluate --device cuda` take it, so that a fault
there shows before minutes of training rather than after them (or never: a CUDA-graph capture that fails or does
not match eager only makes training fall back to the eager fast path, at a fraction of the speed, with one log line).

Checks, in one process, each timed:
  training   iterations of the fast path at 4x4 and in the 8x8 fade-in (bf16 autocast, channels_last, the fused
             pixel norm, the torch.var stddev, flat run-time weights, the merged real/fake critic pass, fused
             capturable Adam, whole-iteration CUDA graphs), with WILDGAN_STRICT_GRAPHS=1: a capture that fails or
             differs from eager raises with its cause; every loss finite;
  data       where the training images go (data_device: the GPU's free memory) and a minibatch gathered in host
             memory and copied through pinned memory (host_gather), against the same rows selected on the GPU;
  scoring    score_pgan as the evaluation runs it (channels_last, several batches per forward, each with its own
             minibatch-stddev groups) against one batch per forward: the same scores up to float rounding;
  rng        the caller's torch state put back once CUDA is up and its generator has served captured graphs
             (devices.caller_torch_state_kept): the CPU stream as it was, CUDA's seeded with the caller's seed.
On the CPU (gpu_session's --smoke, the tests) the same checks without the CUDA-only parts: the wiring of this file.

Exit status 0 when every check passed; 1 with the failing check's traceback. Where the failure is a mismatch (two
computations of the same values apart by more than a tolerance: a captured graph against eager, stacked scoring
against one batch per forward), the last line says so (MISMATCH_SAID), as numerical noise just over the line or a
nondeterministic capture need not repeat: gpu_session then runs this once more with the same (fused) kernels. Where
that fails too, or the failure was of another kind, it runs it with WILDGAN_KERNELS=plain, and if that passes, the
main run and its evaluation use the plain kernels.

  python benchmarks/cuda_preflight.py [--device cuda] [--gp-precision amp] [--width 256]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
import traceback
from typing import Any, Callable

import numpy as np
import torch

import wildgan
from wildgan.config import ScoreConfig, TrainConfig, kernels_from_env, net_config_for_preset
from wildgan.devices import caller_torch_state_kept
from wildgan.nets import build_pgan
from wildgan.scoring.pgan_scores import score_pgan
from wildgan.training.data_placement import data_device, host_gather, pyramid_bytes
from wildgan.training.loop import GraphMismatch, StepRunner, build_pyramid, make_optimizers, resolve_fast_options
from wildgan.training.schedule import Phase

BATCH = 16            # a multiple of the minibatch-stddev group (4); small: the checks are of paths, not speed
N_IMAGES = 64
# the end of the last line after a mismatch (benchmarks/gpu_session.py's fused_retry_may_pass reads it)
MISMATCH_SAID = "a mismatch beyond a tolerance, which may not repeat"


class Mismatch(RuntimeError):
    """Two computations of the same values differ by more than the check's tolerance."""


def is_mismatch(e: BaseException) -> bool:
    """Whether `e` is a mismatch (this file's checks, or training's strict check of a captured graph against eager),
    not a crash: only the exception raised, not its context, as a CUDA error raised while handling a mismatch is the
    CUDA error's failure."""
    return isinstance(e, (Mismatch, GraphMismatch))


class Checks:
    """Runs named checks in order and says each one's time; the first failure ends the run (a CUDA fault is sticky:
    nothing after it would say anything)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.failed: str | None = None
        self.mismatch = False

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        if self.failed is not None:
            return False
        t = time.perf_counter()
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported the same way, with its traceback
            self.failed, self.mismatch = name, is_mismatch(e)
            print(f"FAILED {name} after {time.perf_counter() - t:.1f} s:\n{traceback.format_exc()}", flush=True)
            return False
        print(f"ok {name} ({time.perf_counter() - t:.1f} s): {detail}", flush=True)
        return True


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _runner(dev: torch.device, gp_precision: str, width: int) -> tuple[Any, StepRunner, np.ndarray]:
    """The paper preset's networks at `width` (32x32 colour, as the session's CIFAR run) and a StepRunner with the
    fast options `wildgan train` resolves for `dev`, over random images."""
    nc = net_config_for_preset("paper", 32, 3)
    nc = dataclasses.replace(nc, fmap_max=width, fmap_base=max(nc.fmap_base, width * 16))
    amp = "auto" if dev.type == "cuda" else "bf16"          # (the CPU takes the same fast-path code in bf16)
    tc = TrainConfig(minibatch={r: BATCH for r in (4, 8, 16, 32)}, device=str(dev), seed=0, amp=amp,
                     channels_last=None if dev.type == "cuda" else True, gp_precision=gp_precision)
    fast = resolve_fast_options(tc, dev)
    torch.manual_seed(0)                                    # as training does (put back by caller_torch_state_kept)
    nets = build_pgan(nc, 0).to(dev)
    x = (np.random.default_rng(0).random((N_IMAGES, 32, 32, 3)) * 255).astype(np.uint8)
    rng = torch.Generator(device=dev).manual_seed(0)
    runner = StepRunner(nets, make_optimizers(nets, tc, fast, dev), tc, nc, dev, build_pyramid(x, dev), rng,
                        fast=fast, log=lambda m: print("   ", m, flush=True))
    return nets, runner, x


def check_training(runner: StepRunner) -> str:
    dev, said, top = runner.device, [], runner.nc.resolution_log2
    for lod in (top - 2.0, top - 2.5):                      # 4x4 stable, then the 8x8 fade-in
        phase = Phase(lod=lod, resolution=2 ** (top - math.floor(lod)), batch=BATCH, fade=lod - math.floor(lod))
        runner.reset_optimizers()
        for _ in range(3):                                  # on CUDA: the capture (and its check), then replays
            terms = runner.iteration(phase)
        vals = {k: float(v) for k, v in terms.items()}
        bad = [k for k, v in vals.items() if not math.isfinite(v)]
        if bad:
            raise RuntimeError(f"non-finite losses at lod {lod}: {', '.join(bad)}")
        where = f"{phase.resolution}x{phase.resolution}{' fade' if phase.fade else ''}"
        if runner.fast.cuda_graphs:
            # (with WILDGAN_STRICT_GRAPHS=1 a failed or mismatching capture raised already; this catches a runner that
            # switched its graphs off, or replayed none, without raising)
            if not (runner._graphs_on and runner._graph is not None and not runner._bad_keys):
                raise RuntimeError(f"no CUDA graph replayed at {where}")
            where += " graphed"
        said.append(where)
    _sync(dev)
    return (f"{', '.join(said)}; fast path {runner.fast}, flat weights {runner.flat_weights}, merged critic "
            f"{runner.pair_critic}, kernels {kernels_from_env()}")


def check_data(dev: torch.device, runner: StepRunner, x: np.ndarray) -> str:
    need = pyramid_bytes(len(x), 32, 3)
    where = data_device(need, dev)
    host = build_pyramid(x, torch.device("cpu"))
    idx = np.random.default_rng(1).permutation(len(x))[:BATCH]
    got = host_gather(host[8], idx, dev)
    want = runner.pyramid[8].index_select(0, torch.from_numpy(idx).to(dev))
    if not torch.equal(got, want):
        raise RuntimeError("a minibatch gathered on the host and copied over differs from the rows on the device")
    return f"{need} bytes of images go to {where}; host-gathered minibatch equals the device rows"


def check_scoring(dev: torch.device, nets: Any, x: np.ndarray) -> str:
    cfg = ScoreConfig(batch_size=BATCH)
    stacked = score_pgan(nets, x, cfg, device=dev, batches_per_forward=N_IMAGES // BATCH).scores
    single = score_pgan(nets, x, cfg, device=dev, batches_per_forward=1).scores
    worst = 0.0
    for k, v in single.items():
        if not (np.isfinite(v).all() and np.isfinite(stacked[k]).all()):
            raise RuntimeError(f"score {k} is not finite")
        # the same scores up to float rounding (cuDNN may pick other algorithms for the stacked shapes): loose, as
        # a false alarm here costs a second pre-flight, and if it comes again the main run its fused kernels
        if not np.allclose(stacked[k], v, rtol=1e-2, atol=1e-3):
            raise Mismatch(f"score {k}: {N_IMAGES // BATCH} batches per forward differ from one per forward "
                           f"(max difference {np.abs(stacked[k] - v).max():.3g})")
        worst = max(worst, float(np.abs(stacked[k] - v).max()))
    return f"{len(x)} images, {N_IMAGES // BATCH} batches per forward as one, max difference {worst:.2g}"


def check_rng_put_back(dev: torch.device, before_cpu: torch.Tensor, seed: int) -> str:
    if not torch.equal(torch.get_rng_state(), before_cpu):
        raise RuntimeError("the CPU random stream was not put back")
    if dev.type == "cuda":
        got = torch.cuda.initial_seed()
        if got != seed:
            raise RuntimeError(f"CUDA's generator was seeded with {got}, not the caller's seed {seed}")
        return f"CPU stream put back, CUDA's generator reseeded with the caller's seed {seed}"
    return "CPU stream put back"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (the checks' wiring, without CUDA's parts)")
    ap.add_argument("--gp-precision", choices=("fp32", "amp"), default="fp32", help="as the main run's")
    ap.add_argument("--width", type=int, default=256, help="the networks' fmap_max (default 256, the main run's)")
    ap.add_argument("--versions-only", action="store_true", help="print the versions line and stop")
    a = ap.parse_args(argv)
    print(torch.__version__, torch.cuda.is_available(), wildgan.__version__, flush=True)
    if a.versions_only:
        return 0
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("FAILED: --device cuda but torch sees no CUDA device", flush=True)
        return 1
    # a capture that fails or does not match eager raises with its cause, where training goes on without graphs
    os.environ["WILDGAN_STRICT_GRAPHS"] = "1"
    checks = Checks()
    seed, before = torch.initial_seed(), torch.get_rng_state()
    state: dict[str, Any] = {}

    def build() -> str:
        state["nets"], state["runner"], state["x"] = _runner(dev, a.gp_precision, a.width)
        return f"paper preset at width {a.width}, batch {BATCH}, on {dev}"

    with caller_torch_state_kept():
        checks.run("setup", build)
        checks.run("training", lambda: check_training(state["runner"]))
        checks.run("data", lambda: check_data(dev, state["runner"], state["x"]))
        checks.run("scoring", lambda: check_scoring(dev, state["nets"], state["x"]))
    checks.run("rng", lambda: check_rng_put_back(dev, before, seed))
    total = time.perf_counter() - checks.t0
    if checks.failed is not None:
        print(f"pre-flight FAILED at {checks.failed} ({total:.1f} s, kernels {kernels_from_env()})"
              + (f": {MISMATCH_SAID}" if checks.mismatch else ""), flush=True)
        return 1
    print(f"pre-flight passed ({total:.1f} s, kernels {kernels_from_env()})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
