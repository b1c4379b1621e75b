#!/usr/bin/env python
"""Host (Python) time of the per-iteration work around a graphed training iteration, outside the CUDA graph.

On a GPU with whole-iteration CUDA graphs, each iteration's host work is: the Gs EMA (one foreach lerp), the latent
draws, the minibatch indices, the static-input copies, the replay, and the training loop's sums of the logged terms.
When that host work takes longer than the graph's GPU time (4x4: about 1 ms at width 256), the GPU waits. This
times the host side on the CPU with the paper's architecture at a tiny width (tensors of a few elements, so what is
left is Python and dispatch), the way the code did it before the eighth session and the way it does it now:

  python benchmarks/host_overhead.py
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import torch

from wildgan.config import net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.training.loop import _accumulate, ema_update


def per_call_us(fn: Callable[[], object], n: int = 3000) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> int:
    torch.set_num_threads(1)
    nc = replace(net_config_for_preset("paper", 32, 3), fmap_max=4, fmap_base=64, latent_size=4)
    nets = build_pgan(nc, 0)
    G, Gs = nets.G, nets.Gs
    cached = (list(Gs.parameters()), list(G.parameters()))

    @torch.no_grad()
    def ema_listed() -> None:          # before: both parameter lists built on every call
        torch._foreach_lerp_(list(Gs.parameters()), [p.detach() for p in G.parameters()], 0.001)

    terms = {k: torch.tensor(1.0) for k in ("D/real", "D/fake", "D/gp", "D/grad_norm", "D/loss", "G/loss", "E/loss",
                                             "E/z_norm")}
    acc_old: dict[str, torch.Tensor] = {}

    def acc_per_key() -> None:         # before: one add per logged term
        for k, v in terms.items():
            acc_old[k] = acc_old[k] + v if k in acc_old else v.clone()

    acc_new = _accumulate({}, terms)
    rows = [("Gs EMA, parameter lists built per call (before)", per_call_us(ema_listed)),
            ("Gs EMA, cached lists (now)", per_call_us(lambda: ema_update(Gs, G, 0.999, cached))),
            ("sums of the 8 logged terms, one add each (before)", per_call_us(acc_per_key)),
            ("sums of the 8 logged terms, one foreach add (now)", per_call_us(lambda: _accumulate(acc_new, terms)))]
    print(f"| host work per iteration ({len(cached[1])} G parameters, 1 thread) | us |")
    print("|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
