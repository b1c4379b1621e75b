#!/usr/bin/env python
"""Host time that raising torch._dynamo's recompile limits adds to a training iteration with --compile.

The compiled G/D/E forwards need dynamo's recompile limits raised (training.loop.compile_limits). Raised around
every forward call, each call paid for reading and writing dynamo's config twice; train_pgan now holds them raised
for its whole loop and the forwards call straight through. This times both on the CPU: the paper's architecture at a
tiny width (tensors of a few elements, so what is left is Python and dispatch), with torch.compile's "eager" backend
(dynamo's guards and graph calls, no inductor: minutes of C++ compilation on a CPU, and the same in both columns).

  python benchmarks/compile_limits_overhead.py [--iters 500]

Columns: one StepRunner iteration (4x4 stable, batch 16, compile="default") run outside any compile_limits block,
each forward opening its own (how every iteration ran before), and inside one block (how train_pgan runs them now);
and one call of a wrapped compiled no-op both ways. The difference of the two iteration columns is the overhead.
The two kinds alternate iteration by iteration, and the medians are compared.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from contextlib import nullcontext

import numpy as np
import torch

from wildgan.config import TrainConfig, net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.training import loop
from wildgan.training.loop import FastOptions, StepRunner, build_pyramid, compile_limits, make_optimizers
from wildgan.training.schedule import schedule


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=500, help="timed iterations of each kind (default 500)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    real_compile = torch.compile
    # the eager backend: what is timed is dynamo's per-call work and ours, not inductor's kernels
    torch.compile = lambda f, mode=None, dynamic=None: real_compile(f, backend="eager", dynamic=dynamic)  # type: ignore
    nc = replace(net_config_for_preset("paper", 8, 1), fmap_max=4, fmap_base=64, latent_size=4)
    tc = TrainConfig(total_kimg=1, phase_kimg=1, minibatch={4: 16, 8: 16}, seed=0)
    x = (np.random.default_rng(0).random((64, 8, 8, 1)) * 255).astype(np.uint8)
    cpu = torch.device("cpu")
    nets = build_pgan(nc, 0)
    fast = FastOptions(compile="default")
    runner = StepRunner(nets, make_optimizers(nets, tc, fast, cpu), tc, nc, cpu, build_pyramid(x, cpu),
                        torch.Generator().manual_seed(0), fast=fast, log=lambda m: None)
    phase = schedule(0, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)

    calls = [0]
    counted_real = loop.compile_limits

    def counted(*a: object, **k: object) -> object:
        calls[0] += 1
        return counted_real(*a, **k)

    loop.compile_limits = counted  # type: ignore[assignment]
    runner.iteration(phase)        # compiles (eagerly); the forwards' calls per iteration counted on the next one
    calls[0] = 0
    runner.iteration(phase)
    per_iter_calls = calls[0]
    loop.compile_limits = counted_real  # type: ignore[assignment]

    f = loop._within_compile_limits(real_compile(lambda v: v + 1, backend="eager", dynamic=False))
    v = torch.ones(2)
    # iterations (and no-op calls) of the two kinds interleaved one by one and the medians compared, so that the
    # load of a shared machine, which drifts over seconds, weighs on both alike
    t_it: dict[bool, list[float]] = {False: [], True: []}
    t_f: dict[bool, list[float]] = {False: [], True: []}
    for i in range(2 * args.iters):
        held = i % 2 == 1
        with compile_limits() if held else nullcontext():
            t0 = time.perf_counter()
            runner.iteration(phase)
            t1 = time.perf_counter()
            for _ in range(20):
                f(v)
            t2 = time.perf_counter()
        t_it[held].append((t1 - t0) * 1e6)
        t_f[held].append((t2 - t1) / 20 * 1e6)
    torch.compile = real_compile  # type: ignore[assignment]
    (a, b), (fa, fb) = ([float(np.median(t[k])) for k in (False, True)] for t in (t_it, t_f))
    print(f"compiled forward calls per iteration: {per_iter_calls}; medians of {args.iters} iterations of each kind, "
          f"interleaved, 1 thread")
    print("| | limits raised per forward call (before) | raised once, held (now) | difference |")
    print("|---|---|---|---|")
    print(f"| one iteration, us | {a:.1f} | {b:.1f} | {a - b:.1f} ({(a - b) / a:.1%}) |")
    print(f"| one wrapped compiled no-op, us | {fa:.2f} | {fb:.2f} | {fa - fb:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
