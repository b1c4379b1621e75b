"""AnoGAN-style iterative latent search (spec 4.5): the baseline that finds z by optimisation instead of an encoder.

For each query Q, starting from z ~ U(-1, 1)^N_z, Adam minimises
    (1 - w) * sum |Q - G(z)| + w * sum |f(Q) - f(G(z))|,    w = cfg.feature_weight (0.1), f = D.features
over z only (G and D frozen). The search works on the raw z; G pixel-normalises it, so only z's direction matters to
G while ||z|| drifts freely (L_o of a searched z says little; it is reported for completeness).

Batching does not couple images: the loss is a sum of per-image terms, pGAN's G has no batch statistics, D.features
stops before minibatch-stddev, and Adam's state is per element, so each z gets exactly its own gradient and update.
The initial z of image i depends only on (cfg.seed, i), not on the batch it is searched in.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch

from ..config import SearchConfig
from ..data.transforms import to_float
from ..nets.pgan import Discriminator, Generator
from ..progress import progress_bar
from .pgan_scores import ScoreResult, at_lod
from .scores import SCORE_NAMES, all_scores


@contextmanager
def frozen(*modules: torch.nn.Module) -> Iterator[None]:
    """Eval mode and requires_grad False for every parameter; both restored exactly afterwards."""
    saved = [(m, m.training, [(p, p.requires_grad) for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, rg in flags:
                p.requires_grad_(rg)


def search_loss(G: Generator, D: Discriminator, q: torch.Tensor, z: torch.Tensor, feature_weight: float,
                lod: float = 0.0, feat_q: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image search loss [N]: (1 - w) * sum|Q - G(z)| + w * sum|f(Q) - f(G(z))| (sums, not means, as AnoGAN)."""
    if feat_q is None:
        with torch.no_grad():
            feat_q = D.features(q, lod)
    rec = G(z, lod)
    pix = (q - rec).abs().flatten(1).sum(dim=1)
    feat = (feat_q - D.features(rec, lod)).abs().flatten(1).sum(dim=1)
    return (1.0 - feature_weight) * pix + feature_weight * feat


def initial_latents(n: int, latent_size: int, seed: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """z_0 ~ U(-1, 1)^[n, N_z] from a CPU generator (device-independent, row i independent of batching and of n:
    the rows of a set drawn in consecutive parts from one `generator` seeded with `seed` are the rows of the whole)."""
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    return torch.rand(n, latent_size, generator=g) * 2.0 - 1.0


def latent_search(G: Generator, D: Discriminator, q: torch.Tensor, cfg: SearchConfig, *, lod: float = 0.0,
                  progress: bool = False, z0: torch.Tensor | None = None) -> torch.Tensor:
    """Searched latents z [N, N_z] (q's dtype and device) for float queries q [N, C, H, W] in [-1, 1] at `lod`'s
    resolution. G and D must be on q's device and in q's dtype; they are frozen (eval, no grad) during the search
    and restored after. `z0`: the initial latents (default initial_latents(N, N_z, cfg.seed))."""
    if cfg.steps < 0 or cfg.batch_size < 1 or cfg.lr <= 0:
        raise ValueError(f"invalid search config: steps={cfg.steps}, batch_size={cfg.batch_size}, lr={cfg.lr}")
    if not q.is_floating_point():
        raise TypeError(f"latent_search expects float queries in [-1, 1], got {q.dtype} (use wildgan.data to_float)")
    n, device = q.shape[0], q.device
    if z0 is not None and tuple(z0.shape) != (n, G.cfg.latent_size):
        raise ValueError(f"z0 has shape {tuple(z0.shape)}, expected ({n}, {G.cfg.latent_size})")
    z_all = (initial_latents(n, G.cfg.latent_size, cfg.seed) if z0 is None else z0).to(device=device, dtype=q.dtype)
    chunks = [(s, min(n, s + cfg.batch_size)) for s in range(0, n, cfg.batch_size)]
    # counted in image-steps, not steps: a step of the last, smaller chunk costs less (400 images in chunks of 256:
    # a step of the 144 about 56% of one of the 256), and counting steps alike put the ETA at +40-80% until then
    bar = progress_bar(total=n * cfg.steps, desc="latent search", unit="img-step", unit_scale=True,
                       disable=not progress, dynamic_ncols=True, leave=False)
    out = torch.empty_like(z_all)
    try:
        with frozen(G, D), torch.enable_grad():
            for s, e in chunks:
                qb = q[s:e]
                with torch.no_grad():
                    feat_q = D.features(qb, lod)
                z = z_all[s:e].clone().requires_grad_(True)
                opt = torch.optim.Adam([z], lr=cfg.lr)   # per-element state: images do not interact
                for _ in range(cfg.steps):
                    loss = search_loss(G, D, qb, z, cfg.feature_weight, lod, feat_q).sum()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    bar.update(e - s)
                out[s:e] = z.detach()
    finally:
        bar.close()
    return out


@torch.no_grad()
def search_scores(G: Generator, D: Discriminator, x_uint8: np.ndarray, cfg: SearchConfig, lam: float = 0.05,
                  kappa: float = 1.0, device: str | torch.device = "cpu", *, return_recon: bool = False,
                  progress: bool = False, lod: float = 0.0, z0: torch.Tensor | None = None,
                  z_star: np.ndarray | torch.Tensor | None = None, generator: str = "Gs") -> ScoreResult:
    """Scores of the latent-search baseline for uint8 [N, R, R, C] images (R = G's full resolution).

    result.scores = {'a', 'L_n', 'L_o', 'L_r', 'A', 'z_norm'} -> float64 [N] in input order, with G(z*) as the
    reconstruction and L_o = -||z*|| / sqrt(N_z) of the raw searched z*; result.z = z* [N, N_z]; result.recon =
    G(z*) as float32 [N, R, R, C] in [-1, 1] when asked. Moves G and D to `device`. Pass Gs for the EMA generator.
    `lod` > 0 (a run stopped before full growth) searches and scores at the resolution the networks reached, with
    the queries box-reduced as in training (pgan_scores.at_lod); the reconstruction is nearest-upsampled to R.
    `z0`: the initial latents (default initial_latents; a caller scoring a large set in parts passes each part's).
    `z_star`: latents an earlier search of these images found (e.g. the evaluation's, evaluation.run's search
    cache): no search, the scores and reconstructions of those latents, in one pass. `generator`: which of the
    run's generators G is ("Gs" or "G"), recorded in result.info: the latents are searched through it.
    """
    G.to(device)
    D.to(device)
    n = len(x_uint8)
    parts: dict[str, list[torch.Tensor]] = {}
    recs: list[torch.Tensor] = []
    if n:
        q_all = at_lod(to_float(x_uint8).to(device), lod)
        if z_star is None:
            z_all = latent_search(G, D, q_all, cfg, lod=lod, progress=progress, z0=z0)
        else:
            if tuple(z_star.shape) != (n, G.cfg.latent_size):
                raise ValueError(f"z_star has shape {tuple(z_star.shape)}, expected ({n}, {G.cfg.latent_size})")
            z_all = torch.as_tensor(z_star).to(device=device, dtype=q_all.dtype)
        with frozen(G, D):
            for s in range(0, n, cfg.batch_size):
                q, z = q_all[s:s + cfg.batch_size], z_all[s:s + cfg.batch_size]
                rec = G(z, lod)
                sc = all_scores(q, rec, z, D.features(q, lod), D.features(rec, lod), lam=lam, kappa=kappa)
                for k, v in sc.items():
                    parts.setdefault(k, []).append(v.double().cpu())
                if return_recon:
                    if lod > 0:
                        rec = torch.nn.functional.interpolate(rec.float(), size=x_uint8.shape[1], mode="nearest")
                    recs.append(rec.permute(0, 2, 3, 1).float().cpu())
        z_np = z_all.float().cpu().numpy()
    else:
        z_np = np.zeros((0, G.cfg.latent_size), np.float32)
    scores = {k: (torch.cat(parts[k]).numpy() if parts else np.zeros(0)) for k in (*SCORE_NAMES, "z_norm")}
    recon = None
    if return_recon:
        recon = torch.cat(recs).numpy() if recs else np.zeros(np.shape(x_uint8), np.float32)
    return ScoreResult(scores=scores, z=z_np, recon=recon, info=search_info(cfg, lam, kappa, lod, generator))


def search_info(cfg: SearchConfig, lam: float, kappa: float, lod: float, generator: str = "Gs") -> dict[str, Any]:
    """What a latent-search scoring depends on besides the networks and the images (ScoreResult.info). The
    generator too: the latents are searched through it, and the rescoring that checks kept latents
    (evaluation.run.SEARCH_CACHE) cannot tell them apart when the score it compares does not use it (a = L_o at
    lam 0 is a function of z alone)."""
    return {"method": "search", "steps": cfg.steps, "lr": cfg.lr, "seed": cfg.seed,
            "feature_weight": cfg.feature_weight, "lam": lam, "kappa": kappa, "lod": lod, "generator": generator}


__all__ = ["latent_search", "search_scores", "search_info", "search_loss", "initial_latents", "frozen"]
