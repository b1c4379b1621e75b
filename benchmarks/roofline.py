#!/usr/bin/env python
"""A device-free model of one training iteration's GPU time: every aten op of the real iteration (StepRunner's fast
path, bf16 autocast and channels_last as on CUDA), counted on the CPU, priced on a roofline.

Why: the GPU is lent rarely and briefly, so a speed change should be aimed before it is measured. The iteration runs
for real on the CPU under a TorchDispatchMode that records, for each op after autocast (so the dtypes are the ones
CUDA would see, with one exception below): its FLOPs (convolutions and matmuls, torch.utils.flop_counter's
formulas), the bytes it reads and writes (every tensor argument and result, once each; arguments the op mutates as
writes), and one kernel. Views, allocations and profiler ranges cost nothing. The exception: CPU autocast keeps
pow and rsqrt in bf16 where CUDA autocast runs them in fp32, so the plain pixel norm's CUDA traffic (an fp32 copy of
the activation, fp32 square and mean) is undercounted, and with it what the fused RMS norm saves. Each op is
then priced as max(floor, FLOPs / matrix rate, bytes / memory bandwidth) and the iteration is the sum.

The defaults are one H200 as measured on 2026-11-29 (benchmarks/RESULTS.md): the bf16 matmul ceiling bench.py
measured (786.7 TFLOP/s), half of it for fp32 convolutions (TF32) and for fp32 matmuls a quarter; 3.6 TB/s
achieved memory bandwidth (75% of the 4.8 TB/s peak); a floor per kernel inside a CUDA graph. The model's output
is only as good as those numbers: compare its "predicted img/s" with the measured ones in RESULTS.md before using
it to rank changes. The table splits the time into matrix-bound, memory-bound and floor-bound ops, and lists the
op kinds that cost most, so a change can be priced by rerunning with it.

  python benchmarks/roofline.py --preset paper:256 --res 4,8,16,32
  python benchmarks/roofline.py --preset paper:256 --res 32 --gp-precision amp --top 25 --csv ops.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from wildgan.config import PRESETS, TrainConfig, net_config_for_preset
from wildgan.nets import build_pgan, layers
from wildgan.training.loop import FastOptions, StepRunner, build_pyramid, make_optimizer
from wildgan.training.schedule import Phase

aten = torch.ops.aten
# no kernel: metadata, allocation, profiler ranges or host-side ops
FREE = {"empty", "empty_strided", "empty_like", "new_empty", "new_empty_strided", "_local_scalar_dense", "lift_fresh",
        "is_same_size", "sym_size", "sym_stride", "sym_numel", "detach", "alias", "set_", "resize_", "record_stream",
        "_has_compatible_shallow_copy_type", "is_nonzero", "equal", "_unsafe_view", "_record_function_enter_new",
        "_record_function_exit"}


@dataclass
class OpStat:
    calls: int = 0
    flops: float = 0.0
    bytes: float = 0.0
    flops_fp32: float = 0.0                 # FLOPs whose inputs are fp32 (TF32 convolutions / fp32 matmuls)
    # per call: flops, bytes, fp32 ("conv" or "mm" when fp32 FLOPs: TF32 convolutions run faster than fp32 matmuls)
    items: list[tuple[float, float, str]] = field(default_factory=list)


def _tensors(x: Any) -> list[torch.Tensor]:
    return [t for t in tree_flatten(x)[0] if isinstance(t, torch.Tensor)]


def _nbytes(ts: list[torch.Tensor]) -> int:
    seen, total = set(), 0
    for t in ts:
        try:
            key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        except Exception:  # noqa: BLE001 - a tensor without storage (meta, sparse): count it by size
            key = id(t)
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def _written_args(func: Any, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """The tensors among `args`/`kwargs` that `func`'s schema marks as mutated (Tensor(a!), Tensor(a!)[])."""
    out: list[torch.Tensor] = []
    for i, a in enumerate(func._schema.arguments):
        if a.alias_info is None or not a.alias_info.is_write:
            continue
        v = args[i] if i < len(args) else kwargs.get(a.name)
        out += _tensors(v)
    return out


class Census(TorchDispatchMode):
    """Records every dispatched aten op (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: dict[str, OpStat] = defaultdict(OpStat)
        self.on = True
        self.section = "EMA"
        self.sections: dict[str, OpStat] = defaultdict(OpStat)

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not self.on:
            return out
        name = func.__name__.split(".")[0]
        if getattr(func, "is_view", False) or name in FREE:
            return out
        ins, outs = _tensors((args, kwargs)), _tensors(out)
        flops = 0.0
        packet = func._overloadpacket
        if packet in flop_registry:
            try:
                flops = float(flop_registry[packet](*args, **kwargs, out_val=out))
            except TypeError:
                flops = float(flop_registry[packet](*args, **kwargs))
        fp32 = flops > 0 and any(t.dtype == torch.float32 for t in ins if t.dim() >= 2)
        # Reads: every tensor argument (copy_'s destination excepted). Writes: the results and every argument the
        # schema marks as written; an in-place op (add_) so counts its first argument once read and once written,
        # and ops that return nothing (fused Adam, _foreach_lerp_) still count what they write.
        written = _written_args(func, args, kwargs)
        reads = [t for t in ins if not (name.endswith("copy_") and any(t is w for w in written))]
        nbytes = float(_nbytes(reads) + _nbytes(outs + written))
        st = self.ops[name]
        st.calls += 1
        st.flops += flops
        st.bytes += nbytes
        if fp32:
            st.flops_fp32 += flops
        item = (flops, nbytes, ("conv" if "conv" in name else "mm") if fp32 else "")
        st.items.append(item)
        self.sections[self.section].items.append(item)
        return out


# CUDA runs G's pixel norms as torch's fused RMS norm (layers.pixel_norm): one kernel forward, one backward. On the
# CPU torch's rms_norm is the composite formula, so the census would count ~15 kernels; these two custom ops stand in
# for the CUDA kernels with their inputs and outputs (forward: read x, write y and rstd; backward: read g, x and
# rstd, write dx).
@torch.library.custom_op("wildgan_roofline::rms_norm", mutates_args=())
def _rms_norm(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    xf = x.float()
    rstd = torch.rsqrt(xf.square().mean(-1, keepdim=True) + eps)
    return (xf * rstd).to(x.dtype), rstd


@torch.library.custom_op("wildgan_roofline::rms_norm_backward", mutates_args=())
def _rms_norm_backward(g: torch.Tensor, x: torch.Tensor, rstd: torch.Tensor) -> torch.Tensor:
    y = x.float() * rstd
    gf = g.float()
    return (rstd * (gf - y * (gf * y).mean(-1, keepdim=True))).to(x.dtype)


def _rms_setup(ctx: Any, inputs: tuple, output: tuple) -> None:
    ctx.save_for_backward(inputs[0], output[1])


def _rms_grad(ctx: Any, gy: torch.Tensor, grstd: torch.Tensor) -> tuple[torch.Tensor, None]:
    x, rstd = ctx.saved_tensors
    return _rms_norm_backward(gy, x, rstd), None


_rms_norm.register_autograd(_rms_grad, setup_context=_rms_setup)


def model_cuda_kernels() -> None:
    """Make the CPU iteration take the CUDA code paths whose kernels differ (see above)."""
    layers.FUSED_PIXEL_NORM_DEVICES.add("cpu")
    layers.VAR_STDDEV_DEVICES.add("cpu")          # (CUDA's minibatch-stddev variance, one kernel)
    layers._rms_norm_last = lambda x, eps: _rms_norm(x, eps)[0]     # type: ignore[assignment]


@dataclass
class Device:
    bf16_tflops: float = 786.7
    tf32_factor: float = 0.5        # fp32 convolutions run as TF32 (cuDNN default): half the bf16 rate
    mm_fp32_factor: float = 0.068   # true fp32 matmuls (H200: ~67 TFLOP/s)
    tbps: float = 3.6
    floor_us: float = 1.2           # per kernel inside a CUDA graph: fits the measured 4x4 phase (RESULTS.md)

    def price(self, flops: float, nbytes: float, fp32: str) -> tuple[float, str]:
        """(seconds, bound) of one kernel; fp32: "" (bf16 FLOPs), "conv" or "mm"."""
        rate = self.bf16_tflops * 1e12
        if fp32:
            rate *= self.tf32_factor if fp32 == "conv" else self.mm_fp32_factor
        t_mat = flops / rate
        t_mem = nbytes / (self.tbps * 1e12)
        t_floor = self.floor_us * 1e-6
        t = max(t_mat, t_mem, t_floor)
        bound = "matrix" if t == t_mat and flops else "memory" if t == t_mem else "floor"
        return t, bound


def build_runner(preset: str, res: int, fade: bool, gp_precision: str,
                 batch: int | None, separate_critic: bool = False,
                 layer_weights: bool = False) -> tuple[StepRunner, Phase]:
    name, _, width = preset.partition(":")
    nc = net_config_for_preset(name, 32, 3)
    if width:
        nc = replace(nc, fmap_max=int(width), fmap_base=max(nc.fmap_base, int(width) * 16))
    mb = dict(PRESETS[name]["minibatch"])
    if batch:
        mb = {r: batch for r in mb}
    dev = torch.device("cpu")
    tc = TrainConfig(minibatch=mb, device="cpu", seed=0, cuda_graphs=False, gp_precision=gp_precision,
                     amp="bf16", channels_last=True)
    fast = FastOptions(amp=torch.bfloat16, channels_last=True)
    nets = build_pgan(nc, 0)
    # CUDA's fast path uses fused Adam (one kernel per optimiser step); so does the CPU build of torch
    opts = {k: make_optimizer(getattr(nets, k).parameters(), tc, tc.lr, fused=True) for k in ("G", "D", "E")}
    x = (np.random.default_rng(0).random((max(2 * max(mb.values()), 256), 32, 32, 3)) * 255).astype(np.uint8)
    runner = StepRunner(nets, opts, tc, nc, dev, build_pyramid(x, dev), torch.Generator().manual_seed(0),
                        fast=fast, force_fast=True, log=lambda m: None)
    runner.pair_critic = not separate_critic
    runner.flat_weights = not layer_weights
    L = nc.resolution_log2
    lev = int(math.log2(res))
    lod = float(L - lev) + (0.5 if fade and lev > 2 else 0.0)
    return runner, Phase(lod=lod, resolution=res, batch=mb[res], fade=lod - math.floor(lod))


def census(runner: StepRunner, phase: Phase) -> tuple[dict[str, OpStat], dict[str, OpStat]]:
    """(ops by aten name, ops by section): the sections are the EMA, then each step's forward and its backward +
    Adam step ('D fwd', 'D bwd+adam', 'G fwd', ...), found by wrapping StepRunner._update."""
    runner.iteration(phase)                     # lazy Adam state, first-call allocations
    mode = Census()
    update, body = runner._update, runner._body

    def marked_update(name: str, loss: torch.Tensor) -> None:
        mode.section = f"{name} bwd+adam"
        update(name, loss)
        mode.section = {"D": "G fwd", "G": "E fwd"}.get(name, "end")

    def marked_body(*a: Any, **k: Any) -> Any:
        mode.section = "D fwd"
        return body(*a, **k)

    runner._update, runner._body = marked_update, marked_body     # type: ignore[method-assign]
    try:
        with mode:
            runner.iteration(phase)
    finally:
        runner._update, runner._body = update, body              # type: ignore[method-assign]
    return dict(mode.ops), dict(mode.sections)


def price(ops: dict[str, OpStat], dev: Device) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    per_op: dict[str, dict[str, float]] = {}
    tot: dict[str, float] = defaultdict(float)
    for name, st in ops.items():
        row: dict[str, float] = defaultdict(float)
        for flops, nbytes, fp32 in st.items:
            t, bound = dev.price(flops, nbytes, fp32)
            row["s"] += t
            row[f"s_{bound}"] += t
            tot[f"s_{bound}"] += t
            tot["s"] += t
            tot["kernels"] += 1
            tot["flops"] += flops
            tot["bytes"] += nbytes
        row.update(calls=len(st.items), flops=sum(f for f, _, _ in st.items),
                   bytes=sum(b for _, b, _ in st.items), flops_fp32=sum(f for f, _, x in st.items if x))
        per_op[name] = dict(row)
    return per_op, dict(tot)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="paper:256", help="NAME or NAME:WIDTH (fmap_max), as bench.py")
    ap.add_argument("--res", default="4,8,16,32")
    ap.add_argument("--fade", action="store_true", help="fade-in phases instead of stable ones")
    ap.add_argument("--gp-precision", choices=("fp32", "amp"), default="fp32")
    ap.add_argument("--batch", type=int, help="override the preset's minibatch (FLOPs and bytes scale with it)")
    ap.add_argument("--top", type=int, default=12, help="op kinds listed per phase")
    ap.add_argument("--tflops", type=float, default=Device.bf16_tflops, help="bf16 matrix rate, TFLOP/s")
    ap.add_argument("--tbps", type=float, default=Device.tbps, help="achieved memory bandwidth, TB/s")
    ap.add_argument("--floor-us", type=float, default=Device.floor_us, help="minimum time per kernel, us")
    ap.add_argument("--csv", help="every (phase, op) row here")
    ap.add_argument("--unfused-norm", action="store_true",
                    help="price G's pixel norms as the plain formula (the CUDA path before the fused RMS norm)")
    ap.add_argument("--separate-critic", action="store_true",
                    help="the D step's D(real), D(fake) as two forwards (before the merged pass, as bench.py)")
    ap.add_argument("--layer-weights", action="store_true",
                    help="each layer scales and casts its own weights (before the flat run-time weights, as bench.py)")
    a = ap.parse_args(argv)
    if not a.unfused_norm:
        model_cuda_kernels()
    dev = Device(bf16_tflops=a.tflops, tbps=a.tbps, floor_us=a.floor_us)
    torch.manual_seed(0)
    rows: list[dict[str, Any]] = []
    summary = []
    print(f"{a.preset}, gp_precision {a.gp_precision}; priced at {dev.bf16_tflops} TFLOP/s bf16, {dev.tbps} TB/s, "
          f"{dev.floor_us} us per kernel")
    for res in (int(r) for r in a.res.split(",")):
        runner, phase = build_runner(a.preset, res, a.fade, a.gp_precision, a.batch, a.separate_critic,
                                     a.layer_weights)
        t0 = time.perf_counter()
        ops, sections = census(runner, phase)
        per_op, tot = price(ops, dev)
        per_sec, _ = price(sections, dev)
        label = f"{res}x{res} {'fade' if phase.fade else 'stable'}"
        ips = phase.batch / tot["s"]
        summary.append((label, phase.batch, tot, ips))
        print(f"\n{label}, batch {phase.batch} (counted in {time.perf_counter() - t0:.0f} s on the CPU): "
              f"{tot['kernels']:.0f} kernels, {tot['flops'] / 1e12:.3f} TFLOP, {tot['bytes'] / 1e9:.2f} GB moved; "
              f"predicted {tot['s'] * 1e3:.2f} ms/iter = {ips:,.0f} img/s "
              f"(matrix {tot.get('s_matrix', 0) * 1e3:.2f}, memory {tot.get('s_memory', 0) * 1e3:.2f}, "
              f"floor {tot.get('s_floor', 0) * 1e3:.2f} ms)")
        print(f"{'% time':>7} {'ms':>7} {'calls':>6} {'GFLOP':>8} {'GB':>7} {'fp32 GFLOP':>10}  op")
        for name, r in sorted(per_op.items(), key=lambda kv: -kv[1]["s"])[: a.top]:
            print(f"{100 * r['s'] / tot['s']:6.1f}% {r['s'] * 1e3:7.3f} {r['calls']:6.0f} {r['flops'] / 1e9:8.1f} "
                  f"{r['bytes'] / 1e9:7.3f} {r['flops_fp32'] / 1e9:10.1f}  {name}")
        print("  by step: " + ", ".join(f"{k} {r['s'] * 1e3:.2f} ms ({r['calls']:.0f} k, "
                                        f"{r['flops'] / 1e9:.0f} GF, {r['bytes'] / 1e9:.2f} GB)"
                                        for k, r in per_sec.items()))
        for name, r in per_op.items():
            rows.append({"phase": label, "batch": phase.batch, "op": name, **{k: r.get(k, 0.0) for k in (
                "calls", "flops", "bytes", "flops_fp32", "s", "s_matrix", "s_memory", "s_floor")}})
    print("\n| phase | batch | kernels | TFLOP | GB moved | matrix ms | memory ms | floor ms | predicted img/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, b, tot, ips in summary:
        print(f"| {label} | {b} | {tot['kernels']:.0f} | {tot['flops'] / 1e12:.3f} | {tot['bytes'] / 1e9:.2f} | "
              f"{tot.get('s_matrix', 0) * 1e3:.2f} | {tot.get('s_memory', 0) * 1e3:.2f} | "
              f"{tot.get('s_floor', 0) * 1e3:.2f} | {ips:,.0f} |")
    if a.csv:
        with open(a.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        print(f"\n{len(rows)} rows in {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
