#!/usr/bin/env python
"""A/B of one of the fast path's switches against the plain path's way, on any device.

--switch critic (default): the merged real/fake critic pass (StepRunner.pair_critic) against two passes.
--switch weights: the flat run-time weights (StepRunner.flat_weights, nets.layers.FlatWeights) against each layer
scaling its own weights.

Times StepRunner.iteration at a stable lod of each phase, with the fast path forced and no other option (fp32,
contiguous layout, no CUDA graphs, no compile), alternating the two settings to spread the machine's noise:

  python benchmarks/critic_pass.py --preset fast --res 4,8,16,32 --iters 5 --repeats 2 [--switch weights]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from wildgan.config import PRESETS, TrainConfig, net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.training.loop import FastOptions, StepRunner, build_pyramid, make_optimizers
from wildgan.training.schedule import Phase


def rate(preset: str, res: int, on: bool, iters: int, dev: torch.device, switch: str = "critic") -> float:
    nc = net_config_for_preset(preset, 32, 3)
    mb = dict(PRESETS[preset]["minibatch"])
    tc = TrainConfig(minibatch=mb, seed=0)
    x = (np.random.default_rng(0).random((max(512, 4 * mb[res]), 32, 32, 3)) * 255).astype(np.uint8)
    nets = build_pgan(nc, 0).to(dev)
    opts = make_optimizers(nets, tc, FastOptions(), dev)
    run = StepRunner(nets, opts, tc, nc, dev, build_pyramid(x, dev), torch.Generator(device=dev).manual_seed(0),
                     fast=FastOptions(), force_fast=True, log=lambda m: None)
    if switch == "critic":
        run.pair_critic = on
    else:
        run.flat_weights = on
    phase = Phase(lod=float(nc.resolution_log2 - int(math.log2(res))), resolution=res, batch=mb[res], fade=0.0)
    run.iteration(phase)                                  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    for _ in range(iters):
        run.iteration(phase)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return iters * phase.batch / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--res", default="4,8,16,32")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--switch", choices=["critic", "weights"], default="critic")
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    off, on = ("two passes", "merged") if a.switch == "critic" else ("layer weights", "flat weights")
    print(f"| phase | {off}, img/s | {on}, img/s |  ({a.preset}, {dev}, {torch.get_num_threads()} threads)")
    print("|---|---|---|")
    for res in (int(r) for r in a.res.split(",")):
        got: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(a.repeats):
            for on in (False, True):
                got[on].append(rate(a.preset, res, on, a.iters, dev, a.switch))
        print(f"| {res}x{res} | {' / '.join(f'{v:,.1f}' for v in got[False])} | "
              f"{' / '.join(f'{v:,.1f}' for v in got[True])} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
