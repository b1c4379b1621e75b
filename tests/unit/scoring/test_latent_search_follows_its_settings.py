"""The latent search takes its settings as given (spec 4.5): its learning rate, its step count and a fresh gradient
at each step. The other latent-search tests use the default lr (0.01) or check only that the loss goes down, so a
search that ignored cfg.lr, ran one step fewer or let Adam's gradients accumulate over steps passed them all while
every searched z, and every score of the baseline, was another."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from wildgan.config import SearchConfig, net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.scoring.latent_search import initial_latents, latent_search, search_loss

pytestmark = pytest.mark.usefixtures("one_thread")


def _reference(G, D, q: torch.Tensor, cfg: SearchConfig) -> torch.Tensor:
    """The search written out from the spec: Adam(lr) over z alone, cfg.steps steps, each on the loss's own
    gradient; the networks' parameters take no part (no gradient asked of them)."""
    z = initial_latents(len(q), G.cfg.latent_size, cfg.seed).double().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cfg.lr)
    with torch.no_grad():
        feat_q = D.features(q)
    for _ in range(cfg.steps):
        loss = search_loss(G, D, q, z, cfg.feature_weight, 0.0, feat_q).sum()
        (grad,) = torch.autograd.grad(loss, [z])
        z.grad = grad
        opt.step()
    return z.detach()


def test_the_search_is_adam_at_its_lr_for_its_steps_on_each_steps_own_gradient() -> None:
    nets = build_pgan(net_config_for_preset("tiny", 32, 1), seed=0)
    G, D = nets.G.double(), nets.D.double()
    q = (torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1).double()
    cfg = SearchConfig(steps=6, lr=0.07, batch_size=3, seed=2)          # an lr other than the default 0.01
    for c in (cfg, dataclasses.replace(cfg, steps=1), dataclasses.replace(cfg, lr=0.003)):
        torch.testing.assert_close(latent_search(G, D, q, c), _reference(G, D, q, c), rtol=0, atol=1e-10)
    # and the settings matter here: another lr, one step fewer, each gives other latents
    z = latent_search(G, D, q, cfg)
    assert (z - latent_search(G, D, q, dataclasses.replace(cfg, lr=0.01))).abs().max() > 1e-3
    assert (z - latent_search(G, D, q, dataclasses.replace(cfg, steps=5))).abs().max() > 1e-3
