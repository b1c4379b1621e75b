"""The paper's anomaly scores as pure functions of tensors (spec 4.2, 4.3). Higher = more anomalous.

  L_r = ||Q - X_rec||_2                                 plain residual
  L_n = ||w(Q) - w(X_rec)||_2 / N_X                     w = per-image min-max over all C*H*W elements jointly
  L_o = -||z_hat||_2 / sqrt(N_z)                        anomalies land near the origin of the latent space
  a   = lam * L_n + (1 - lam) * L_o                     lam = 0.05 in the paper
  A   = mean (Q - X_rec)^2 + kappa * mean (f(Q) - f(X_rec))^2   f-AnoGAN's score, f = critic trunk features
"""

from __future__ import annotations

import math

import torch

from ..config import SCORE_NAMES  # noqa: F401 -- re-exported

# The version of the scoring rules. Bump it when any score's formula or its normalisation changes (here, in
# pgan_scores.py, fanogan_scores.py, latent_search.py: e.g. the min-max of L_n, the 1/sqrt(N_z) of L_o, the batch
# composition, the latent search's objective or schedule), so that the scores cached under the old rules are told
# apart and computed again rather than mixed with new ones (a `wildgan score` resume folder, RUN/train_scores*.csv,
# eval.json, test_search.npz and a study's results.jsonl rows; a saved Detector, which cannot score its training
# images again, warns when loaded): wildgan.__version__ cannot tell, it does not change between commits.
SCORES_VERSION = 1
# The version a cache written before the field existed is read as: the rules of that time, version 1. It equals
# SCORES_VERSION now, so that no cache is thrown away at the upgrade that introduced the field; after a bump such a
# cache is of the older rules, and computed again like any other.
UNRECORDED_SCORES_VERSION = 1
# ... which is why the field is written only above it (fileio.leave_out_defaults(record, SCORES_VERSION_ABSENT)): an
# older wildgan, which takes an unknown field of a cache key for a change, reads this version's caches as its own
SCORES_VERSION_ABSENT = {"scores_version": UNRECORDED_SCORES_VERSION}


def minmax(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Per-image min-max to [0, 1] over all of C*H*W jointly; eps guards constant images."""
    flat = x.flatten(1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(eps)).view_as(x)


def residual_norm(q: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
    """L_r: [N]."""
    return (q - rec).flatten(1).norm(dim=1)


def normalised_residual(q: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
    """L_n: [N]."""
    n_x = q[0].numel()
    return (minmax(q) - minmax(rec)).flatten(1).norm(dim=1) / n_x


def latent_origin_score(z: torch.Tensor) -> torch.Tensor:
    """L_o: [N]. Uses the raw encoder output (before G's pixel norm)."""
    return -z.norm(dim=1) / math.sqrt(z.shape[1])


def combined_score(l_n: torch.Tensor, l_o: torch.Tensor, lam: float = 0.05) -> torch.Tensor:
    """a = lam * L_n + (1 - lam) * L_o."""
    return lam * l_n + (1.0 - lam) * l_o


def fanogan_score(q: torch.Tensor, rec: torch.Tensor, feat_q: torch.Tensor, feat_rec: torch.Tensor,
                  kappa: float = 1.0) -> torch.Tensor:
    """A: [N]."""
    pix = (q - rec).flatten(1).square().mean(dim=1)
    feat = (feat_q - feat_rec).flatten(1).square().mean(dim=1)
    return pix + kappa * feat


def all_scores(q: torch.Tensor, rec: torch.Tensor, z: torch.Tensor, feat_q: torch.Tensor, feat_rec: torch.Tensor,
               lam: float = 0.05, kappa: float = 1.0) -> dict[str, torch.Tensor]:
    """Every score for one batch, computed in float32. Also returns z_norm (= ||z_hat||) for diagnostics."""
    q, rec, z = q.float(), rec.float(), z.float()
    return {**encoder_scores(q, rec, z, lam),
            "A": fanogan_score(q, rec, feat_q.float(), feat_rec.float(), kappa), "z_norm": z.norm(dim=1)}


def encoder_scores(q: torch.Tensor, rec: torch.Tensor, z: torch.Tensor, lam: float = 0.05) -> dict[str, torch.Tensor]:
    """a, L_n, L_o and L_r of one batch (the scores that need no discriminator), in float32."""
    q, rec, z = q.float(), rec.float(), z.float()
    l_n = normalised_residual(q, rec)
    l_o = latent_origin_score(z)
    return {"a": combined_score(l_n, l_o, lam), "L_n": l_n, "L_o": l_o, "L_r": residual_norm(q, rec)}
