"""AnoGAN-style latent search on a pGAN G/D (spec 4.5): loss decreases, seeded, batch-independent, G/D untouched."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

from wildgan.config import SearchConfig, net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.scoring.latent_search import initial_latents, latent_search, search_loss, search_scores

SCORE_KEYS = {"A", "L_r", "L_n", "L_o", "a", "z_norm"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=[1, 3], ids=["gray", "rgb"])
def nets(request: pytest.FixtureRequest):
    return build_pgan(net_config_for_preset("tiny", 32, request.param), seed=0)


def queries(nets, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, nets.G.cfg.channels, 32, 32, generator=g) * 2 - 1


def test_search_reduces_loss_and_is_seeded(nets) -> None:
    q = queries(nets, 5)
    cfg = SearchConfig(steps=25, lr=0.05, batch_size=8, seed=7)
    z = latent_search(nets.G, nets.D, q, cfg)
    assert z.shape == (5, nets.G.cfg.latent_size) and z.dtype == torch.float32
    z0 = initial_latents(5, nets.G.cfg.latent_size, 7)
    assert z0.min() >= -1 and z0.max() <= 1
    with torch.no_grad():
        before = search_loss(nets.G, nets.D, q, z0, cfg.feature_weight)
        after = search_loss(nets.G, nets.D, q, z, cfg.feature_weight)
    assert (after < before).all(), (before, after)            # every image's own loss goes down
    assert torch.equal(z, latent_search(nets.G, nets.D, q, cfg))
    assert not torch.equal(z, latent_search(nets.G, nets.D, q, dataclasses.replace(cfg, seed=8)))


def test_search_loss_is_the_weighted_sum_of_pixel_and_feature_l1(nets) -> None:
    """Spec 4.5: (1 - w) * sum|Q - G(z)| + w * sum|f(Q) - f(G(z))| per image, sums (not means) over pixels and over
    the critic trunk's features, computed here from G and D.features directly. At w = 0.1 the weights are far
    apart, so a swapped weighting or a mean in place of a sum changes the value by a large factor."""
    q = queries(nets, 3, seed=4)
    z = initial_latents(3, nets.G.cfg.latent_size, 1)
    with torch.no_grad():
        rec = nets.G(z)
        pix = (q - rec).abs().flatten(1).sum(1)
        feat = (nets.D.features(q) - nets.D.features(rec)).abs().flatten(1).sum(1)
        for w in (0.1, 0.7):
            torch.testing.assert_close(search_loss(nets.G, nets.D, q, z, w), (1 - w) * pix + w * feat)


def test_initial_latents_are_uniform_on_minus_one_to_one() -> None:
    # spec 4.5: z_0 ~ U(-1, 1)^N_z (the authors' ano_z initialiser): both signs, filling the interval, mean ~0
    z0 = initial_latents(64, 128, 0)
    assert z0.min() >= -1 and z0.max() <= 1
    assert z0.min() < -0.99 and z0.max() > 0.99
    assert abs(float(z0.mean())) < 0.02 and float(z0.var()) == pytest.approx(1 / 3, rel=0.05)


def test_search_is_batch_independent(nets) -> None:
    """Searching the images together or one at a time gives the same z (the loss is a sum of per-image terms and
    Adam's state is per element); only float noise from differently batched convolutions remains.

    Run in float64: Adam's first steps are ~lr * sign(grad), so in float32 a gradient component that is ~0 can flip
    sign under 1e-7 noise and move z by a whole lr (seen: 1e-3 after 15 steps). That is noise, not coupling; in
    float64 the noise is 1e-16 and the comparison is tight."""
    G, D = copy.deepcopy(nets.G).double(), copy.deepcopy(nets.D).double()
    q = queries(nets, 6, seed=1).double()
    cfg = SearchConfig(steps=15, lr=0.02, batch_size=6, seed=3)
    together = latent_search(G, D, q, cfg)
    alone = latent_search(G, D, q, dataclasses.replace(cfg, batch_size=1))
    chunks = latent_search(G, D, q, dataclasses.replace(cfg, batch_size=4))   # 4 + 2
    assert together.dtype == torch.float64
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-9)
    torch.testing.assert_close(together, chunks, rtol=0, atol=1e-9)


def test_search_freezes_and_restores_networks(nets) -> None:
    G, D = nets.G, nets.D
    G.train(), D.train()
    D.dense1.weight.requires_grad_(False)                     # a caller's own setting must survive as well
    before = {k: v.clone() for k, v in {**G.state_dict(), **{"D." + k: v for k, v in D.state_dict().items()}}.items()}
    with torch.no_grad():                                     # works even when called under no_grad
        latent_search(G, D, queries(nets, 2), SearchConfig(steps=3, batch_size=2))
    after = {**G.state_dict(), **{"D." + k: v for k, v in D.state_dict().items()}}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert G.training and D.training
    assert all(p.requires_grad for p in G.parameters())
    assert not D.dense1.weight.requires_grad and D.dense0.weight.requires_grad
    assert all(p.grad is None for p in (*G.parameters(), *D.parameters()))
    D.dense1.weight.requires_grad_(True)


def test_search_at_lower_resolution(nets) -> None:
    q = queries(nets, 3)[:, :, ::2, ::2]                      # 16x16 at lod 1
    z = latent_search(nets.G, nets.D, q, SearchConfig(steps=2, batch_size=4), lod=1.0)
    assert z.shape == (3, nets.G.cfg.latent_size) and torch.isfinite(z).all()


def test_search_scores_and_sign_convention(nets) -> None:
    """Normal = images G itself makes (reachable by the search); anomaly = uniform noise. The noise must score
    higher in L_r and A (higher = more anomalous), whatever the (untrained) weights."""
    c = nets.G.cfg.channels
    with torch.no_grad():
        fake = nets.G(torch.randn(5, nets.G.cfg.latent_size, generator=torch.Generator().manual_seed(2)))
    normal = ((fake.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    noise = np.random.default_rng(0).integers(0, 256, (5, 32, 32, c), dtype=np.uint8)
    cfg = SearchConfig(steps=20, lr=0.05, batch_size=4, seed=0)
    res = search_scores(nets.G, nets.D, np.concatenate([normal, noise]), cfg, lam=0.05, kappa=1.0, device="cpu",
                        return_recon=True)
    s = res.scores
    assert res.z.shape == (10, nets.G.cfg.latent_size) and res.recon.shape == (10, 32, 32, c)
    np.testing.assert_allclose(np.linalg.norm(res.z, axis=1), s["z_norm"], rtol=1e-5)
    # the searched z is latent_search's, and G(z) is the reconstruction
    z = latent_search(nets.G, nets.D, torch.from_numpy(np.concatenate([normal, noise])).permute(0, 3, 1, 2)
                      .float() * (2 / 255) - 1, cfg)
    np.testing.assert_allclose(res.z, z.numpy(), atol=1e-5)
    assert set(s) == SCORE_KEYS
    for v in s.values():
        assert v.shape == (10,) and np.isfinite(v).all()
    np.testing.assert_allclose(s["L_o"], -s["z_norm"] / math.sqrt(nets.G.cfg.latent_size), rtol=1e-6)
    np.testing.assert_allclose(s["a"], 0.05 * s["L_n"] + 0.95 * s["L_o"], rtol=1e-6, atol=1e-9)
    assert s["L_r"][5:].min() > s["L_r"][:5].max()
    assert s["A"][5:].mean() > s["A"][:5].mean()
    empty = search_scores(nets.G, nets.D, noise[:0], cfg)
    assert empty.scores["a"].shape == (0,) and empty.z.shape == (0, nets.G.cfg.latent_size)


def test_search_scores_at_a_run_lod_use_reduced_queries(nets) -> None:
    """A run stopped at lod 1 is scored at 16x16: the search sees the 2x2 box-averaged queries (as in training),
    and the reconstruction comes back at the input's 32x32."""
    c = nets.G.cfg.channels
    x = np.random.default_rng(1).integers(0, 256, (3, 32, 32, c), dtype=np.uint8)
    cfg = SearchConfig(steps=3, lr=0.05, batch_size=4, seed=0)
    res = search_scores(nets.G, nets.D, x, cfg, lod=1.0, return_recon=True)
    q = torch.nn.functional.avg_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2).float() * (2 / 255) - 1, 2)
    z = latent_search(nets.G, nets.D, q, cfg, lod=1.0)
    np.testing.assert_allclose(res.z, z.numpy(), atol=1e-5)
    assert res.recon.shape == (3, 32, 32, c) and res.info["lod"] == 1.0
    full = search_scores(nets.G, nets.D, x, cfg)
    assert not np.allclose(full.scores["L_r"], res.scores["L_r"])


def test_the_search_bar_counts_image_steps_so_a_smaller_last_chunk_weighs_less(nets, monkeypatch) -> None:
    # 6 images in chunks of 4 + 2: a step of the 2 costs about half one of the 4, and its ETA must say so
    from wildgan.scoring import latent_search as ls

    made: list[dict] = []
    updates: list[float] = []
    real = ls.progress_bar

    def recording(*a, **kw):
        made.append(kw)
        bar = real(*a, **{**kw, "disable": True})
        bar.update = updates.append
        return bar

    monkeypatch.setattr(ls, "progress_bar", recording)
    latent_search(nets.G, nets.D, queries(nets, 6), SearchConfig(steps=3, batch_size=4), progress=True)
    assert made[0]["total"] == 6 * 3 and sum(updates) == 18
    assert updates == [4, 4, 4, 2, 2, 2]
