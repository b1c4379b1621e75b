"""Parameter counts, FLOPs per image (counted by torch's FlopCounterMode on the real modules) and operator calls per
iteration (each costs a fixed dispatch / launch time, whatever its size)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from ..config import NetConfig
from . import build_pgan, count_parameters


def forward_flops(fn: Any, *args: Any) -> int:
    return forward_flops_and_calls(fn, *args)[0]


class _CallCounter(TorchDispatchMode):
    """Counts the aten operators a block of code calls (each pays a fixed dispatch or kernel-launch time)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls += 1
        return func(*args, **(kwargs or {}))


def forward_flops_and_calls(fn: Any, *args: Any) -> tuple[int, int]:
    """FLOPs and aten operator calls of fn(*args), in one pass."""
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad(), _CallCounter() as calls:
            fn(*args)
    return int(fc.get_total_flops()), calls.calls


def train_flops_per_image(nets: Any, cfg: NetConfig, res: int, lod: float | None = None, batch: int = 4,
                          g_image_loss: bool = False) -> dict[str, float]:
    """FLOPs per real image of one training iteration at resolution `res` (lod: default the stable lod of res; a
    fading lod in (log2(R/res), log2(R/res) + 1) counts the fade's extra path): g, d, e forward and the spec's
    (8.2) 7g + 14d + 3e, on the networks' own device. "calls": the aten operator calls of one iteration, weighed
    alike (a backward calls about as many operators as its forward, as it costs about as many FLOPs), whatever the
    batch: a small network at a small resolution costs about this many fixed operator times, whatever its FLOPs
    (tiny on a CPU runs 16x16 at 2x the time of 8x8 per iteration, where the FLOPs grow 4.3x). g_image_loss: a run
    with d_I in G's loss (train.g_image_loss), 10g + 14d + 6e."""
    import math

    if lod is None:
        lod = math.log2(cfg.resolution // res)
    dev = next(nets.G.parameters()).device
    # zeros: FLOPs do not depend on the values, and a random draw would move the global RNG of a training run
    z = torch.zeros(batch, cfg.latent_size, device=dev)
    x = torch.zeros(batch, cfg.channels, res, res, device=dev)
    (g, gc), (d, dc), (e, ec) = (forward_flops_and_calls(lambda q: net(q, lod), arg)
                                 for net, arg in ((nets.G, z), (nets.D, x), (nets.E, x)))
    g, d, e = g / batch, d / batch, e / batch
    return {"g": g, "d": d, "e": e, "train": train_cost(g, d, e, g_image_loss),
            "calls": float(train_cost(gc, dc, ec, g_image_loss))}


def train_cost(g: float, d: float, e: float, g_image_loss: bool = False) -> float:
    """A training iteration's cost per image from the forward costs (FLOPs or operator calls) of G, D and E: the
    spec's (8.2) 7g + 14d + 3e, or 10g + 14d + 6e with d_I in G's loss (train.g_image_loss: each G step also runs E
    and G again, forward and backward)."""
    kg, ke = (10, 6) if g_image_loss else (7, 3)
    return kg * g + 14 * d + ke * e


def network_info(cfg: NetConfig, batch: int = 4, g_image_loss: bool = False) -> dict[str, Any]:
    """Params of G, D, E and forward GFLOP per image at full resolution (FLOP = 2 MAC, weight layers only).
    Training cost per real image follows the spec (8.2): 7g + 14d + 3e (train_cost; g_image_loss: 10g + 14d + 6e).

    On torch's meta device, tensors with shapes and no storage: parameter counts and FLOPs need only shapes, so this
    allocates nothing (`wildgan info --width 100000` asked for 640 GB and died in a traceback) and takes 0.05 s
    rather than 3 s for the paper preset; the counts are the same as on the CPU (tests/unit/nets/test_nets.py)."""
    with torch.device("meta"):
        nets = build_pgan(cfg, seed=0)
        z = torch.zeros(batch, cfg.latent_size)
        x = torch.zeros(batch, cfg.channels, cfg.resolution, cfg.resolution)
        g = forward_flops(nets.G, z) / batch / 1e9
        d = forward_flops(nets.D, x) / batch / 1e9
        e = forward_flops(nets.E, x) / batch / 1e9
    return {"resolution": cfg.resolution, "channels": cfg.channels, "latent_size": cfg.latent_size,
            "fmap_base": cfg.fmap_base, "fmap_max": cfg.fmap_max,
            "params": {"G": count_parameters(nets.G), "D": count_parameters(nets.D), "E": count_parameters(nets.E)},
            "forward_gflop": {"G": g, "D": d, "E": e}, "train_gflop_per_image": train_cost(g, d, e, g_image_loss)}
