#!/usr/bin/env python
"""Where one training iteration spends its time, per resolution phase: the kernels (CUDA) or leaf ops (CPU) of the
real iteration (wildgan.training.loop.StepRunner, the device's fast-path options) by total time, with their count.

Why: on one H200 the paper preset at width 256 ran at 21k img/s at 8x8 and 2.6k at 32x32 (8% and 19% of the bf16
matmul rate; benchmarks/RESULTS.md), so the time goes somewhere other than the convolutions' arithmetic. bench.py
says how fast; this says where, so the next change is aimed, not guessed.

The profiled iterations run without CUDA graphs (a graph replays the same kernels, but the profiler would attribute
them to one replay); the wall time per iteration is therefore the eager one, and the table's "device time per
iteration" is what a graph replay can approach at best. One CSV (`--csv`) with every (phase, kernel) row, and a
top-N table per phase on stdout.

  python benchmarks/profile_step.py --device cuda --preset paper:256 --res 8,32 --csv prof.csv
  python benchmarks/profile_step.py --device cpu --preset tiny --res 8 --iters 1          (a smoke test)
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from wildgan.config import PRESETS, TrainConfig, net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.training.loop import StepRunner, build_pyramid, make_optimizers, resolve_fast_options
from wildgan.training.schedule import Phase


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _short(name: str, width: int = 90) -> str:
    """Kernel names are C++ template instantiations hundreds of characters long: keep the readable head."""
    name = re.sub(r"\s+", " ", name)
    return name if len(name) <= width else name[: width - 3] + "..."


def kernel_times(prof: Any, device: torch.device) -> dict[str, list[float]]:
    """{name: [calls, total microseconds]} of the device kernels (CUDA) or the aten ops' self time (CPU)."""
    out: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for e in prof.events():
        if device.type == "cuda":
            # record_function ranges (Optimizer.step#Adam.step, ...) come back on the device too and span the
            # kernels inside them: counting them would count those kernels twice (torch's own tables skip them)
            if e.device_type != DeviceType.CUDA or getattr(e, "is_user_annotation", False):
                continue
            us = e.time_range.elapsed_us()
        else:
            # self time: every op's own share, so composite ops (a convolution that calls aten::empty) still count
            if not e.name.startswith("aten::"):
                continue
            us = e.self_cpu_time_total
        rec = out[e.name]
        rec[0] += 1
        rec[1] += us
    return dict(out)


def profile_phase(runner: StepRunner, phase: Phase, dev: torch.device, iters: int) -> tuple[dict[str, list[float]],
                                                                                                   float]:
    for _ in range(2):                                   # cuDNN autotuning, lazy Adam state
        runner.iteration(phase)
    _sync(dev)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        for _ in range(iters):
            runner.iteration(phase)
        _sync(dev)
        wall = (time.perf_counter() - t0) / iters
    return kernel_times(prof, dev), wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--preset", default="paper:256", help="NAME or NAME:WIDTH (fmap_max), as bench.py")
    ap.add_argument("--res", default="8,32", help="resolution phases, comma-separated")
    ap.add_argument("--kinds", default="stable", choices=("stable", "fade", "stable,fade", "fade,stable"),
                    help="stable, fade, or stable,fade for both")
    ap.add_argument("--iters", type=int, default=3, help="profiled iterations per phase")
    ap.add_argument("--top", type=int, default=15, help="rows per phase on stdout")
    ap.add_argument("--gp-precision", choices=("fp32", "amp"), default="fp32")
    ap.add_argument("--csv", help="every (phase, kernel) row here")
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    name, _, width = a.preset.partition(":")
    if name not in PRESETS:
        ap.error(f"unknown preset {name!r}: {', '.join(PRESETS)}")
    nc = net_config_for_preset(name, 32, 3)
    if width:
        nc = replace(nc, fmap_max=int(width), fmap_base=max(nc.fmap_base, int(width) * 16))
    mb = dict(PRESETS[name]["minibatch"])
    # graphs off: the profiler sees the kernels one by one (see the module docstring)
    tc = TrainConfig(minibatch=mb, device=str(dev), seed=0, cuda_graphs=False, gp_precision=a.gp_precision,
                     channels_last=True if dev.type == "cuda" else None)
    fast = resolve_fast_options(tc, dev)
    nets = build_pgan(nc, 0).to(dev)
    opts = make_optimizers(nets, tc, fast, dev)
    x = (np.random.default_rng(0).random((max(4 * max(mb.values()), 256), 32, 32, 3)) * 255).astype(np.uint8)
    runner = StepRunner(nets, opts, tc, nc, dev, build_pyramid(x, dev), torch.Generator(device=dev).manual_seed(0),
                        fast=fast, force_fast=True, log=lambda m: None)
    L = nc.resolution_log2
    rows: list[dict[str, Any]] = []
    print(f"{a.preset} on {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'CPU'}), "
          f"fast path {fast}, gp_precision {a.gp_precision}; {a.iters} profiled iterations per phase, no CUDA graphs")
    for res in (int(r) for r in a.res.split(",")):
        lev = int(math.log2(res))
        for kind in a.kinds.split(","):
            if kind == "fade" and lev == 2:
                continue
            lod = float(L - lev) + (0.5 if kind == "fade" else 0.0)
            phase = Phase(lod=lod, resolution=res, batch=mb[res], fade=lod - math.floor(lod))
            runner.reset_optimizers()
            times, wall = profile_phase(runner, phase, dev, a.iters)
            total = sum(t for _, t in times.values())
            n_calls = sum(c for c, _ in times.values())
            label = f"{res}x{res} {kind}"
            unit = "kernels" if dev.type == "cuda" else "ops"
            print(f"\n{label}, batch {phase.batch}: {n_calls / a.iters:.0f} {unit}"
                  f" per iteration, {'device' if dev.type == 'cuda' else 'op'} time {total / a.iters / 1e3:.2f} ms"
                  f" per iteration, eager wall {wall * 1e3:.2f} ms ({phase.batch / wall:.0f} img/s eager)")
            print(f"{'% time':>7} {'ms/iter':>8} {'calls/iter':>10}  kernel")
            ranked = sorted(times.items(), key=lambda kv: -kv[1][1])
            for k, (c, t) in ranked[: a.top]:
                print(f"{100 * t / max(total, 1e-9):6.1f}% {t / a.iters / 1e3:8.3f} {c / a.iters:10.1f}  {_short(k)}")
            for k, (c, t) in ranked:
                rows.append({"phase": label, "batch": phase.batch, "kernel": k, "calls_per_iter": c / a.iters,
                             "ms_per_iter": t / a.iters / 1e3, "share": t / max(total, 1e-9),
                             "eager_wall_ms": wall * 1e3})
    if a.csv:
        with open(a.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["phase"])
            w.writeheader()
            w.writerows(rows)
        print(f"\n{len(rows)} rows in {Path(a.csv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
