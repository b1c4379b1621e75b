"""Test-time scores of the f-AnoGAN baseline (spec 5.3): z = E(x), X_rec = G(z), f = the critic's 8192-d features.

  A   = mean (x - G(E(x)))^2 + kappa * mean (f(x) - f(G(E(x))))^2    f-AnoGAN's own score
  L_r, L_n, L_o, a                                                      the Berg paper's rows, same formulas as for
                                                                        the proposed method (scores.all_scores)
L_o = -||E(x)|| / sqrt(N_z) with N_z = 128 (latent_origin_score divides by sqrt(z.shape[1]));
E's codes are tanh-bounded.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from ..data.transforms import to_float
from ..nets.fanogan import FAnoGANNetworks
from ..progress import progress_bar
from .pgan_scores import ScoreResult
from .scores import SCORE_NAMES, all_scores


@contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Put modules in eval mode and restore each one's previous train/eval flag afterwards."""
    flags = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, f in zip(modules, flags):
            m.train(f)


@torch.no_grad()
def score_fanogan(nets: FAnoGANNetworks, x_uint8: np.ndarray, *, batch_size: int = 64, lam: float = 0.05,
                  kappa: float = 1.0, device: str | torch.device = "cpu", return_recon: bool = False,
                  progress: bool = False) -> ScoreResult:
    """Score uint8 [N, H, W, C] images. result.scores = {'A', 'L_r', 'L_n', 'L_o', 'a', 'z_norm'} -> float64 [N] in
    the order of x_uint8 (higher = more anomalous); result.z = E(x) [N, N_z]; result.recon = G(E(x)) as float32
    [N, H, W, C] in [-1, 1] when asked. Moves the networks to `device`; restores their train/eval flags.

    Every image is scored, including the last partial batch (the official script drops it with n // 64 batches):
    all networks are in eval mode, BN uses its running statistics and the critic's LayerNorm is per sample, so a
    score does not depend on which images share its batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    nets.to(device)
    G, D, E = nets.G, nets.D, nets.E
    parts: dict[str, list[torch.Tensor]] = {}
    zs, recs = [], []
    n = len(x_uint8)
    with eval_mode(G, D, E):
        for s in progress_bar(range(0, n, batch_size), disable=not progress, desc="score f-AnoGAN", unit="batch"):
            q = to_float(x_uint8[s:s + batch_size]).to(device)
            z = E(q)
            rec = G(z)
            sc = all_scores(q, rec, z, D.features(q), D.features(rec), lam=lam, kappa=kappa)
            for k, v in sc.items():
                parts.setdefault(k, []).append(v.double().cpu())
            zs.append(z.float().cpu())
            if return_recon:
                recs.append(rec.permute(0, 2, 3, 1).float().cpu())
    scores = {k: (torch.cat(parts[k]).numpy() if parts else np.zeros(0)) for k in (*SCORE_NAMES, "z_norm")}
    z_all = torch.cat(zs).numpy() if zs else np.zeros((0, E.latent_size), np.float32)
    recon = None
    if return_recon:
        recon = torch.cat(recs).numpy() if recs else np.zeros(np.shape(x_uint8), np.float32)
    return ScoreResult(scores=scores, z=z_all, recon=recon,
                       info={"method": "fanogan", "batch_size": batch_size, "lam": lam, "kappa": kappa})


__all__ = ["score_fanogan", "eval_mode"]
