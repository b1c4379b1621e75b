#!/usr/bin/env python
"""Training and scoring throughput of wildgan, per resolution phase (issue 5).

For every preset and every resolution phase (4, 8, 16, 32 [, 64]) at a stable lod and in the middle of the fade-in
to that resolution, it times full training iterations (D step + Gs EMA, G step, E step; the real training code,
wildgan.training.loop.StepRunner, with the TrainConfig fast-path options of the device) at the paper's minibatch,
and reports
  * images/s (real images per second),
  * achieved TFLOP/s, counting 7g + 14d + 3e FLOPs per real image (spec 8.2) with g, d, e the forward FLOPs of
    G, D, E at that lod, counted by torch's FlopCounterMode (wildgan.nets.info.forward_flops) on the real modules,
  * the fraction of a matrix-rate ceiling measured here on the same device (CUDA: a large square bf16 matmul; CPU:
    the faster of a square fp32 matmul and a 3x3 fp32 convolution of the model's shape, see matmul_ceiling),
  * peak memory of the phase (CUDA: torch.cuda.max_memory_allocated in the timed steady state, the warm-up with its
    graph capture reported apart as warmup_peak_mem_mb; CPU: peak RSS of the process sampled at 200 Hz
    during the phase, and its growth over the RSS at the phase start),
  * CUDA only: host synchronisations inside the timed iterations (torch.cuda.set_sync_debug_mode).
Scoring: images/s of score_pgan at full resolution (E + Gs + every score, incl. D features), in batches of 64
(the protocol), one batch per forward and, on CUDA, also 16 batches stacked in one forward (--score-stack).
An estimate of the paper's CIFAR schedule (600/600 kimg, 4,000 kimg at 32x32) from the per-phase rates is printed.

--quick on CPU (the shared 2-core machine): tiny and fast at the paper's minibatch with 1 warm-up + 2 timed
iterations; paper (width 512) at a reduced minibatch of 8, stable lods only, 1 timed iteration and no warm-up at
16x16 and above (one iteration at 32x32 is ~1.8 TFLOP) -- its images/s are per-image rates at that batch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import signal
import sys
import threading
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wildgan.config import PRESETS, ScoreConfig, TrainConfig, kernels_from_env, net_config_for_preset
from wildgan.nets import build_pgan, layers
from wildgan.nets.info import train_flops_per_image
from wildgan.scoring.pgan_scores import score_pgan
from wildgan.training.loop import StepRunner, build_pyramid, make_optimizers, resolve_fast_options
from wildgan.training.schedule import Phase


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def matmul_ceiling(dev: torch.device, quick: bool) -> dict[str, Any]:
    """Best-of-k rate of a large square matmul in the dtype the training runs its matrix work in."""
    if dev.type == "cuda":
        n, dtype, reps = 8192, torch.bfloat16, 20
    else:
        n, dtype, reps = (1024 if quick else 2048), torch.float32, 3
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    for _ in range(2):
        a @ b
    sync(dev)
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(dev)
        best = min(best, (time.perf_counter() - t) / reps)
    out = {"n": n, "dtype": str(dtype).replace("torch.", ""), "tflops": 2 * n**3 / best / 1e12}
    if dev.type == "cpu":
        # On some CPUs torch's fp32 matmul (BLAS) is slower than its convolutions (oneDNN): on the 2-core AMD EPYC
        # of 2026-11-29 the 1024^2 matmul ran at 0.10 TFLOP/s and the paper preset's training at 0.15, i.e. "144%
        # of the ceiling". The CPU ceiling is therefore the faster of the matmul and a 3x3 convolution of the
        # model's own shape (width 256 at 32x32); on CUDA it stays the bf16 matmul (issue 5's yardstick).
        x = torch.randn(8, 256, 32, 32)
        w = torch.randn(256, 256, 3, 3)
        torch.nn.functional.conv2d(x, w, padding=1)
        conv_best = math.inf
        for _ in range(3):
            t = time.perf_counter()
            torch.nn.functional.conv2d(x, w, padding=1)
            conv_best = min(conv_best, time.perf_counter() - t)
        out["matmul_tflops"] = out["tflops"]
        out["conv_tflops"] = 2 * 8 * 256 * 32 * 32 * 256 * 9 / conv_best / 1e12
        out["tflops"] = max(out["matmul_tflops"], out["conv_tflops"])
    return out


def earlier_ceiling(path: str, device_name: str) -> dict[str, Any]:
    """The "ceiling" of an earlier bench.py --json, measured on the same device (its machine's device_name); stops
    naming the file and the problem otherwise, as an unknown preset does (another device's ceiling is no
    denominator here)."""
    try:
        earlier = json.loads(Path(path).read_text(encoding="utf-8"))
        ceiling, measured_on = earlier["ceiling"], earlier["machine"]["device_name"]
        float(ceiling["tflops"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"bench.py: --ceiling-from {path}: no ceiling of an earlier bench.py --json there "
                         f"({type(e).__name__}: {e})") from None
    if measured_on != device_name:
        raise SystemExit(f"bench.py: --ceiling-from {path}: measured on {measured_on!r}, not on this device "
                         f"({device_name!r})")
    return ceiling


class RssSampler:
    """Peak RSS of this process while active (CPU memory per phase)."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = self.start = self.rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * self.page
        except OSError:   # not Linux: the high-water mark
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> "RssSampler":
        self._t.start()
        return self

    def __exit__(self, *a: Any) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.rss())


def flops_per_image(nets: Any, nc: Any, lod: float, res: int, dev: torch.device) -> dict[str, float]:
    return train_flops_per_image(nets, nc, res, lod)


class Stop(BaseException):
    """SIGTERM (the GPU session driver's deadline): stop, keep and write what was measured. A BaseException: the
    training step's CUDA-graph capture catches Exception (to fall back to eager), and must not swallow the stop."""


def _on_sigterm(*_: Any) -> None:
    raise Stop()


def parse_preset(spec: str, width: int | None) -> tuple[str, int | None]:
    """'paper' or 'paper:256' (a preset at another width, fmap_max) -> (preset, width or the --width default)."""
    name, _, w = spec.partition(":")
    if name not in PRESETS:
        raise SystemExit(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return name, int(w) if w else width


def bench_preset(preset: str, args: argparse.Namespace, dev: torch.device, ceiling: float,
                 out: dict[str, Any] | None = None, save: Any = None) -> dict[str, Any]:
    """Measure one preset into `out` (filled row by row, `save()` called after each row, so that a stop keeps every
    finished row)."""
    save = save or (lambda: None)
    preset, width = parse_preset(preset, args.width)
    R, C = args.resolution, args.channels
    nc = net_config_for_preset(preset, R, C)
    if width:
        from dataclasses import replace

        nc = replace(nc, fmap_max=width, fmap_base=max(nc.fmap_base, width * 16))
    mb = dict(PRESETS[preset]["minibatch"])
    cpu_paper = dev.type == "cpu" and preset == "paper" and args.quick
    if cpu_paper:
        mb = {r: min(b, 8) for r, b in mb.items()}
    tc_kw: dict[str, Any] = {"minibatch": mb, "device": str(dev), "seed": 0}
    for k in ("amp", "compile", "gp_precision"):
        if getattr(args, k) is not None:
            tc_kw[k] = getattr(args, k)
    for k in ("channels_last", "cuda_graphs"):
        v = getattr(args, k)
        if v is not None:
            tc_kw[k] = v == "on"
    tc = TrainConfig(**tc_kw)
    fast = resolve_fast_options(tc, dev)
    nets = build_pgan(nc, 0).to(dev)
    opts = make_optimizers(nets, tc, fast, dev)
    n_data = max(4 * max(mb.values()), 256)
    x_u8 = (np.random.default_rng(0).random((n_data, R, R, C)) * 255).astype(np.uint8)
    pyr = build_pyramid(x_u8, dev)
    rng = torch.Generator(device=dev).manual_seed(0)
    runner = StepRunner(nets, opts, tc, nc, dev, pyr, rng, fast=fast, log=lambda m: print("   ", m))
    runner.pair_critic = runner.pair_critic and not args.separate_critic     # (off with WILDGAN_KERNELS=plain)
    runner.flat_weights = (runner.flat_weights or args.flat_weights) and not args.layer_weights
    L = nc.resolution_log2
    fused_ok = kernels_from_env() == "auto"
    out = {} if out is None else out
    out.update({"preset": preset, "fmap_max": nc.fmap_max, "fast_options": {
        "amp": str(fast.amp), "channels_last": fast.channels_last, "compile": fast.compile,
        "cuda_graphs": fast.cuda_graphs, "gp_precision": tc.gp_precision, "plain_path": not runner.fast_mode,
        "kernels": kernels_from_env(),     # (WILDGAN_KERNELS=plain: the plain pixel norm and stddev below)
        "pixel_norm": "fused" if dev.type in layers.FUSED_PIXEL_NORM_DEVICES and fused_ok else "plain",
        "plain_pixel_norm_forced": bool(args.plain_pixel_norm),
        "stddev_variance": "var" if dev.type in layers.VAR_STDDEV_DEVICES and fused_ok else "plain",
        # D(real), D(fake) of the D step: one merged forward (fast path's default) or two (the plain path's)
        "critic_pass": "merged" if runner.fast_mode and runner.pair_critic else "separate",
        # run-time weights: one flat vector per network and forward (nets.layers.FlatWeights) or per layer
        "weights": "flat" if runner.fast_mode and runner.flat_weights else "per layer"},
        "phases": [], "score": []})
    save()
    for lev in range(2, L + 1):
        res = 2 ** lev
        if args.res and res not in args.res:
            continue
        kinds = [("stable", float(L - lev))]
        if lev > 2 and not cpu_paper:
            kinds.insert(0, ("fade", L - lev + 0.5))
        for kind, lod in kinds:
            b = mb[res]
            phase = Phase(lod=lod, resolution=res, batch=b, fade=lod - math.floor(lod))
            runner.reset_optimizers()
            if dev.type == "cpu":
                warm = 0 if (cpu_paper and res >= 16) else 1
                iters = 1 if cpu_paper else (2 if args.quick else 5)
            else:
                warm, iters = (3, 10) if args.quick else (5, 30)
            fl = flops_per_image(nets, nc, lod, res, dev)
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            with RssSampler() as rs:
                t_warm = time.perf_counter()
                for _ in range(warm):
                    runner.iteration(phase)
                sync(dev)
                t_warm = time.perf_counter() - t_warm      # with the phase's compilation and graph capture
                warm_peak = None
                if dev.type == "cuda":
                    # the warm-up holds the graph capture (a snapshot of weights + Adam, an eager reference
                    # iteration): report it apart from the steady state
                    warm_peak = torch.cuda.max_memory_allocated(dev) / 2**20
                    torch.cuda.reset_peak_memory_stats(dev)
                n_sync = 0
                with warnings.catch_warnings(record=True) as wlist:
                    warnings.simplefilter("always")
                    if dev.type == "cuda":
                        torch.cuda.set_sync_debug_mode("warn")
                    try:
                        t0 = time.perf_counter()
                        for _ in range(iters):
                            runner.iteration(phase)
                    finally:
                        if dev.type == "cuda":
                            torch.cuda.set_sync_debug_mode("default")
                    sync(dev)
                    dt = time.perf_counter() - t0
                    n_sync = sum("synchroniz" in str(w.message) for w in wlist)
            ips = iters * b / dt
            row = {"res": res, "lod": lod, "kind": kind, "batch": b, "iters": iters, "warmup": warm,
                   "warmup_s": t_warm, "seconds": dt, "img_per_s": ips, "gflop_per_img": fl["train"] / 1e9,
                   "fwd_gflop": {k: fl[k] / 1e9 for k in ("g", "d", "e")},
                   "tflops": ips * fl["train"] / 1e12, "frac_ceiling": ips * fl["train"] / 1e12 / ceiling}
            if dev.type == "cuda":
                row["peak_mem_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
                # a captured graph keeps its private pool reserved, which max_memory_allocated does not count
                row["peak_reserved_mb"] = torch.cuda.max_memory_reserved(dev) / 2**20
                row["warmup_peak_mem_mb"] = warm_peak
                row["host_syncs"] = n_sync
            else:
                row["peak_mem_mb"] = rs.peak / 2**20
                row["mem_growth_mb"] = (rs.peak - rs.start) / 2**20
            # whether the timed iterations really replayed a CUDA graph (a failed capture or a replay that did not
            # match eager falls back to eager for that phase, with only a log line)
            row["graphed"] = bool(runner._graphs_on and runner._graph is not None
                                  and runner._graph_key not in runner._bad_keys)
            out["phases"].append(row)
            print(fmt_row(preset, row), flush=True)
            save()

    # the projection first (a stop during scoring keeps it): the paper's schedule at the measured per-phase rates
    out["schedule_minutes_est"] = schedule_estimate(out["phases"], R)
    save()

    if args.no_score:
        return out
    # scoring at full resolution, batches of 64
    n_score = (64 if cpu_paper else 256) if dev.type == "cpu" else (8192 if args.quick else 32768)
    xs = (np.random.default_rng(1).random((n_score, R, R, C)) * 255).astype(np.uint8)
    modes = [("fp32", None)] + ([("bf16", torch.bfloat16)] if dev.type == "cuda" else [])
    # The protocol's batch is 64 (E's minibatch stddev makes the batch size part of it); on a GPU several batches
    # go through one stacked forward with per-batch stddev (same scores, tests/unit/scoring/test_scores.py).
    sbs = args.score_stack or ([1, 16] if dev.type == "cuda" else [1])
    # every mode with all scores, then the fastest setting again without f-AnoGAN's A (no critic passes: E + G only)
    runs = [(name, dt_, sb, True) for name, dt_ in modes for sb in sbs] + [(*modes[-1], max(sbs), False)]
    for name, dt_, sb, with_a in runs:
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        with RssSampler() as rs:
            ctx = torch.autocast("cuda", dtype=dt_) if dt_ is not None else _null()
            with ctx:
                if dev.type == "cuda":
                    score_pgan(nets, xs[:64 * sb], ScoreConfig(batch_size=64), device=dev,
                               batches_per_forward=sb, with_A=with_a)   # warm-up
                sync(dev)
                t0 = time.perf_counter()
                score_pgan(nets, xs, ScoreConfig(batch_size=64), device=dev, batches_per_forward=sb,
                           with_A=with_a)
                sync(dev)
                dt = time.perf_counter() - t0
        srow = {"mode": name, "batch": 64, "stack": sb, "with_A": with_a, "images": n_score, "img_per_s": n_score / dt,
                "peak_mem_mb": (torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else rs.peak) / 2**20}
        out["score"].append(srow)
        save()
        print(f"{preset:>6} score {name:>4} 64 x {sb:>2} per forward{'' if with_a else ', without A'} "
              f"{n_score:>6} images "
              f"{srow['img_per_s']:>10.1f} img/s  "
              f"peak {srow['peak_mem_mb']:.0f} MB", flush=True)
    return out


def _null() -> Any:
    from contextlib import nullcontext

    return nullcontext()


def schedule_estimate(rows: list[dict[str, Any]], R: int, phase_kimg: float = 600.0,
                      total_kimg: float = 4000.0) -> float | None:
    """Minutes for the paper's schedule (stable/fade segments of phase_kimg each, total_kimg) at the measured rates;
    None when a segment was not measured (e.g. fades in the CPU paper run)."""
    rate = {(r["res"], r["kind"]): r["img_per_s"] for r in rows}
    L = int(math.log2(R))
    segs = [(4, "stable")]
    for lev in range(3, L + 1):
        segs += [(2 ** lev, "fade"), (2 ** lev, "stable")]
    secs, left = 0.0, total_kimg * 1000
    for i, key in enumerate(segs):
        kimg = phase_kimg * 1000 if i < len(segs) - 1 else left
        kimg = min(kimg, left)
        if key not in rate:
            return None
        secs += kimg / rate[key]
        left -= kimg
    return secs / 60


def fmt_row(preset: str, r: dict[str, Any]) -> str:
    extra = f"  syncs {r['host_syncs']}" if "host_syncs" in r else f"  (+{r.get('mem_growth_mb', 0):.0f})"
    return (f"{preset:>6} {r['res']:>3}x{r['res']:<3} {r['kind']:>6} lod {r['lod']:<4} B {r['batch']:>3} "
            f"{r['img_per_s']:>10.1f} img/s {r['gflop_per_img']:>8.3f} GF/img {r['tflops']:>8.4f} TF/s "
            f"{100 * r['frac_ceiling']:>6.1f}% peak {r['peak_mem_mb']:>7.0f} MB{extra}  "
            f"warm-up {r.get('warmup_s', 0):.1f} s")


def label(p: dict[str, Any]) -> str:
    """'paper', or 'paper:256' for a preset measured at another width."""
    return p["preset"] if p.get("fmap_max") == PRESETS[p["preset"]]["fmap_max"] else f"{p['preset']}:{p['fmap_max']}"


def table(results: dict[str, Any]) -> str:
    lines = [f"| preset | phase | lod | batch | img/s | GFLOP/img (7g+14d+3e) | TFLOP/s | "
             f"% of {results['ceiling']['dtype']} "
             f"matrix ceiling ({results['ceiling']['tflops']:.3g} TF/s) | peak mem MB | warm-up s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in results["presets"]:
        for r in p["phases"]:
            lines.append(f"| {label(p)} | {r['res']}x{r['res']} {r['kind']} | {r['lod']} | {r['batch']} | "
                         f"{r['img_per_s']:.1f} | {r['gflop_per_img']:.3f} | {r['tflops']:.4f} | "
                         f"{100 * r['frac_ceiling']:.1f}% | {r['peak_mem_mb']:.0f} | {r.get('warmup_s', 0):.1f} |")
    lines += ["", "| preset | scoring mode | images | img/s | peak mem MB |", "|---|---|---|---|---|"]
    for p in results["presets"]:
        for s in p["score"]:
            lines.append(f"| {label(p)} | {s['mode']}, 64 x {s.get('stack', 1)} per forward"
                         f"{'' if s.get('with_A', True) else ', without A'} | {s['images']} | {s['img_per_s']:.1f} | "
                         f"{s['peak_mem_mb']:.0f} |")
    # (one training estimate per preset: it was repeated on each of its scoring rows, which it has nothing to do with)
    lines += ["", "| preset | training time of the paper schedule (4,000 kimg) at the rates above |", "|---|---|"]
    for p in results["presets"]:
        est = p.get("schedule_minutes_est")
        lines.append(f"| {label(p)} | {'- (needs every phase measured)' if est is None else f'{est:.1f} min'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--preset", default="all",
                    help="tiny | fast | paper | all, or a comma-separated list; NAME:WIDTH measures a preset "
                         "at another width (fmap_max), e.g. paper:256")
    ap.add_argument("--quick", action="store_true", help="few iterations (see the module docstring)")
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--channels", type=int, choices=(1, 3), default=3)
    ap.add_argument("--width", type=int, help="override fmap_max (e.g. 256)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    ap.add_argument("--amp", choices=("auto", "off", "bf16"))
    ap.add_argument("--compile", choices=("off", "default", "reduce-overhead", "max-autotune-no-cudagraphs"))
    ap.add_argument("--gp-precision", choices=("fp32", "amp"),
                    help="the gradient penalty's critic pass: fp32 (default) or under the autocast (bf16 on CUDA)")
    ap.add_argument("--plain-pixel-norm", action="store_true",
                    help="G's pixel norms as the plain formula on every device (A/B of CUDA's fused RMS norm, "
                         "nets.layers.FUSED_PIXEL_NORM_DEVICES)")
    ap.add_argument("--plain-stddev", action="store_true",
                    help="the minibatch stddev's group variance as the plain formula on every device (A/B of CUDA's "
                         "one-kernel torch.var, nets.layers.VAR_STDDEV_DEVICES)")
    ap.add_argument("--no-score", action="store_true", help="training rows only (A/B runs of a training change)")
    ap.add_argument("--separate-critic", action="store_true",
                    help="the D step's D(real) and D(fake) as two forwards, as the plain path (A/B of the fast "
                         "path's merged pass, StepRunner.pair_critic)")
    ap.add_argument("--layer-weights", action="store_true",
                    help="each layer scales and casts its own weights, as the plain path (A/B of the fast path's "
                         "flat run-time weights, StepRunner.flat_weights)")
    ap.add_argument("--flat-weights", action="store_true",
                    help="the fast path's flat run-time weights on every device (by default CUDA only: on the CPU "
                         "they measured slower)")
    ap.add_argument("--channels-last", choices=("on", "off"))
    ap.add_argument("--cuda-graphs", choices=("on", "off"))
    ap.add_argument("--res", type=lambda v: [int(x) for x in v.split(",")],
                    help="measure only these resolution phases, comma-separated (e.g. 32: the full-resolution rows "
                         "and scoring, when device time is short); the schedule estimate then needs every phase")
    ap.add_argument("--score-stack", type=lambda v: [int(x) for x in v.split(",")],
                    help="scoring: batches of 64 per stacked forward, comma-separated (default 1 on CPU, 1,16 on CUDA)")
    ap.add_argument("--ceiling-from", metavar="JSON",
                    help="take the matrix-rate ceiling from an earlier --json of this device instead of measuring it "
                         "again: A/B rows (gpu_session --probe) then share one denominator for their %% of ceiling")
    a = ap.parse_args(argv)
    if a.plain_pixel_norm:
        layers.FUSED_PIXEL_NORM_DEVICES.clear()
    if a.plain_stddev:
        layers.VAR_STDDEV_DEVICES.clear()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    presets = ["tiny", "fast", "paper"] if a.preset == "all" else a.preset.split(",")
    info = {"date": date.today().isoformat(), "platform": platform.platform(), "python": sys.version.split()[0],
            "torch": torch.__version__, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "loadavg_start": os.getloadavg(), "argv": sys.argv[1:],
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor()}
    t_all = time.perf_counter()
    ceiling = earlier_ceiling(a.ceiling_from, info["device_name"]) if a.ceiling_from else matmul_ceiling(dev, a.quick)
    how = (f"the faster of a {ceiling['n']}^2 matmul ({ceiling['matmul_tflops']:.4g}) and a 3x3 conv "
           f"({ceiling['conv_tflops']:.4g})" if "conv_tflops" in ceiling else f"n={ceiling['n']}")
    how += f", from {a.ceiling_from}" if a.ceiling_from else ""
    print(f"matmul ceiling: {ceiling['tflops']:.4g} TFLOP/s ({ceiling['dtype']}, {how}) on {dev}; "
          f"load average {info['loadavg_start']}", flush=True)
    res: dict[str, Any] = {"machine": info, "ceiling": ceiling, "presets": [], "complete": False}

    def save() -> None:
        if a.json:       # rewritten after every row: a stop (deadline, crash) keeps what was measured
            tmp = Path(a.json).with_suffix(".tmp")
            tmp.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
            os.replace(tmp, a.json)

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for p in presets:
            res["presets"].append({"preset": p})
            bench_preset(p, a, dev, ceiling["tflops"], out=res["presets"][-1], save=save)
        res["complete"] = True
    except Stop:
        print("stopped (SIGTERM): keeping the rows measured so far", flush=True)
        res["presets"] = [p for p in res["presets"] if p.get("phases") or p.get("score")]
        for p in res["presets"]:
            p.setdefault("schedule_minutes_est", None)
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t_all
    rates = {p["preset"]: p for p in res["presets"] if p.get("fmap_max") == PRESETS[p["preset"]]["fmap_max"]}
    if "fast" in rates and "paper" in rates and rates["fast"].get("score") and rates["paper"].get("score") and \
            any(r["res"] == a.resolution for r in rates["paper"]["phases"]):
        # cost ratio at full resolution: FLOPs per image (the throughput ratio is also given)
        f = next(r for r in rates["fast"]["phases"] if r["res"] == a.resolution and r["kind"] == "stable")
        q = next(r for r in rates["paper"]["phases"] if r["res"] == a.resolution and r["kind"] == "stable")
        res["fast_vs_paper"] = {"flop_ratio": q["gflop_per_img"] / f["gflop_per_img"],
                                "train_img_per_s_ratio": f["img_per_s"] / q["img_per_s"],
                                "score_img_per_s_ratio": rates["fast"]["score"][0]["img_per_s"]
                                / rates["paper"]["score"][0]["img_per_s"]}
    print()
    print(table(res))
    if "fast_vs_paper" in res:
        fv = res["fast_vs_paper"]
        print(f"\nfast vs paper at {a.resolution}x{a.resolution}: {fv['flop_ratio']:.1f}x fewer FLOPs per image, "
              f"{fv['train_img_per_s_ratio']:.1f}x training img/s, {fv['score_img_per_s_ratio']:.1f}x scoring img/s")
    print(f"total wall time {res['wall_s']:.0f} s; load average at the end {res['machine']['loadavg_end']}")
    save()
    return 0 if res["complete"] else 124


if __name__ == "__main__":
    raise SystemExit(main())
