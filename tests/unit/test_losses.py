"""Losses and gradient hygiene."""

import copy

import numpy as np

import torch

from wildgan.config import TrainConfig, net_config_for_preset
from wildgan.losses import (critic_loss, encoder_image_loss, encoder_latent_loss, generator_image_loss,
                            gradient_penalty)
from wildgan.nets import build_pgan
from wildgan.training.loop import d_step, e_step, ema_update, g_step, make_optimizer


def test_gradient_penalty_on_a_linear_critic():
    # D(x) = sum(w * x): gradient is w everywhere, so the penalty is (||w|| * scale - target)^2 / target^2
    w = torch.randn(1, 3, 4, 4)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    for scale, target in [(1.0, 1.0), (0.25, 1.0), (1.0, 750.0)]:
        gp, norm = gradient_penalty(critic, real, fake, target=target, grad_scale=scale)
        expect = (w.norm() * scale - target) ** 2 / target**2
        assert torch.allclose(norm, torch.full((5,), (w.norm() * scale).item()), rtol=1e-5)
        assert torch.allclose(gp, expect.expand(5), rtol=1e-5)


def test_the_penalty_with_pgan_s_cifar_target_is_normalised_by_the_target_squared():
    # spec 7 row 9: lambda (||grad|| - 750)^2 / 750^2, by hand. D(x) = 300 sum(x) over 2x2 pixels: ||grad|| = 300 * 2
    # = 600 for every x_hat, so the penalty is (600 - 750)^2 / 750^2 = 0.04 per sample and 10 * 0.04 = 0.4 in the loss
    # (D(real) = D(fake) = 0 at zero images, no drift). Unnormalised it would be 22,500; with target 1, 359,201
    critic = lambda x: 300.0 * x.flatten(1).sum(1)  # noqa: E731
    zeros = torch.zeros(3, 1, 2, 2)
    loss, terms = critic_loss(critic, zeros, zeros, gp_lambda=10.0, gp_target=750.0, drift=0.0)
    assert terms["D/grad_norm"].item() == 600.0
    assert abs(terms["D/gp"].item() - 0.04) < 1e-7 and abs(loss.item() - 0.4) < 1e-6


def test_the_d_step_uses_the_configured_gp_target():
    # TrainConfig.gp_target (--gp-target) reaches the D step's penalty: the same penalty as gradient_penalty's with
    # that target on the same x_hat, and not the one of target 1
    cfg = net_config_for_preset("tiny", 8, 1)
    nets = build_pgan(cfg, 0)
    reals, u = torch.rand(8, 1, 8, 8) * 2 - 1, torch.rand(8, 1, 1, 1)
    z = torch.randn(8, cfg.latent_size) * 0.1
    with torch.no_grad():
        fake = nets.G(z, 0.0)
    critic = lambda x: nets.D(x, 0.0)  # noqa: E731
    want = {t: gradient_penalty(critic, reals, fake, target=t, u=u)[0].mean().item() for t in (1.0, 750.0)}
    tc = TrainConfig(total_kimg=1, gp_target=750.0)
    terms = d_step(nets, make_optimizer(nets.D.parameters(), tc, 1e-3), reals, z, u, 0.0, tc, 1.0)
    assert abs(terms["D/gp"].item() - want[750.0]) <= 1e-6 * want[750.0]
    assert abs(want[750.0] - want[1.0]) > 1e-3


def test_gradient_penalty_on_a_quadratic_critic():
    # D(x) = 0.5 ||x||^2: gradient at xhat is xhat itself
    critic = lambda x: 0.5 * x.flatten(1).square().sum(1)  # noqa: E731
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    u = torch.rand(3, 1, 1, 1)
    gp, norm = gradient_penalty(critic, real, fake, u=u)
    xhat = real + u * (fake - real)
    assert torch.allclose(norm, xhat.flatten(1).norm(dim=1), rtol=1e-5)
    assert torch.allclose(gp, (xhat.flatten(1).norm(dim=1) - 1) ** 2, rtol=1e-5)


def test_critic_loss_terms():
    critic = lambda x: x.flatten(1).mean(1)  # noqa: E731
    real, fake = torch.ones(4, 1, 2, 2), -torch.ones(4, 1, 2, 2)
    loss, terms = critic_loss(critic, real, fake, gp_lambda=0.0, drift=0.5)
    assert torch.allclose(loss, torch.tensor(-1.0 - 1.0 + 0.5))
    assert terms["D/real"].item() == 1.0 and terms["D/fake"].item() == -1.0


def test_the_penalty_trains_the_critic():
    # a linear critic D(x) = sum(w * x) with w a parameter: the loss is mean(d_fake - d_real) + lambda (||w|| - 1)^2
    # + drift mean(d_real^2), and its gradient w.r.t. w holds the penalty's 2 lambda (||w|| - 1) w / ||w|| (the
    # double backward: with create_graph off, or the penalty's sign flipped, D would not be pushed to norm 1)
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(1, 3, 4, 4) * 0.5)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    lam, drift = 10.0, 0.001
    loss, terms = critic_loss(critic, real, fake, gp_lambda=lam, drift=drift)
    d_real, d_fake = critic(real).detach(), critic(fake).detach()
    wn = w.detach().norm()
    expect = (d_fake - d_real).mean() + lam * (wn - 1) ** 2 + drift * d_real.square().mean()
    torch.testing.assert_close(loss.detach(), expect, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(terms["D/gp"], (wn - 1) ** 2, rtol=1e-5, atol=1e-6)
    loss.backward()
    wd = w.detach()
    grad = (fake - real).mean(0, keepdim=True) + lam * 2 * (wn - 1) * wd / wn \
        + drift * 2 * (d_real[:, None, None, None] * real).mean(0, keepdim=True)
    torch.testing.assert_close(w.grad, grad, rtol=1e-4, atol=1e-5)


def test_encoder_loss_is_mean_l1():
    x, r = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2) * 3
    assert encoder_image_loss(x, r)[0].item() == 3.0


def test_latent_encoder_loss_is_mean_l1():
    # d_z (paper Eq. 7) = mean |z - E(G(z))|: differences of 1 and 3 give 2 (a squared error would give 5, a sum 8)
    z = torch.zeros(2, 2)
    z_hat = torch.tensor([[1.0, -3.0], [3.0, -1.0]])
    loss, terms = encoder_latent_loss(z, z_hat)
    assert loss.item() == 2.0 and terms["E/loss"].item() == 2.0


def test_gradient_penalty_draws_one_interpolation_weight_per_sample():
    # spec 3.1: u ~ U(0, 1) per sample. With D(x) = 0.5 ||x||^2, real = 0 and fake = 1 the gradient at x_hat is u
    # itself, so the norms give back each sample's u: distinct across the batch (one u for the whole batch would
    # make them all equal) and inside (0, 1)
    critic = lambda x: 0.5 * x.flatten(1).square().sum(1)  # noqa: E731
    real, fake = torch.zeros(64, 1, 2, 2), torch.ones(64, 1, 2, 2)
    torch.manual_seed(0)
    _, norm = gradient_penalty(critic, real, fake)
    u = norm / 2.0                                     # ||u * ones(4)|| = 2u
    assert ((u > 0) & (u < 1)).all()
    assert len(torch.unique(u)) == 64


def _snapshot(m):
    return [p.detach().clone() for p in m.parameters()]


def _same(a, m):
    return all(torch.equal(p, q) for p, q in zip(a, m.parameters()))


def test_gradient_hygiene_each_step_updates_only_its_network():
    cfg = net_config_for_preset("tiny", 8, 1)
    tc = TrainConfig(total_kimg=1)
    nets = build_pgan(cfg, 0)
    opts = {k: make_optimizer(getattr(nets, k).parameters(), tc, 1e-3) for k in ("G", "D", "E")}
    reals = torch.rand(8, 1, 8, 8) * 2 - 1
    z = torch.randn(8, cfg.latent_size) * 0.1
    u = torch.rand(8, 1, 1, 1)

    g0, d0, e0 = _snapshot(nets.G), _snapshot(nets.D), _snapshot(nets.E)
    d_step(nets, opts["D"], reals, z, u, 0.0, tc, 1.0)
    assert _same(g0, nets.G) and _same(e0, nets.E) and not _same(d0, nets.D)
    assert all(p.grad is None for p in nets.G.parameters())

    d1 = _snapshot(nets.D)
    d_grads = [None if p.grad is None else p.grad.clone() for p in nets.D.parameters()]
    g_step(nets, opts["G"], z, 0.0)
    assert _same(d1, nets.D) and _same(e0, nets.E) and not _same(g0, nets.G)
    # the G loss adds nothing to D's gradients (and D's step zeroes them first anyway)
    assert all((p.grad is None and q is None) or torch.equal(p.grad, q) for p, q in zip(nets.D.parameters(), d_grads))
    assert all(p.requires_grad for p in nets.D.parameters())

    g1 = _snapshot(nets.G)
    g_grads = [None if p.grad is None else p.grad.clone() for p in nets.G.parameters()]
    e_step(nets, opts["E"], z, 0.0, "image")
    assert _same(g1, nets.G) and _same(d1, nets.D) and not _same(e0, nets.E)
    # d_I never reaches G: G's gradients are exactly those its own step left
    assert all((p.grad is None and q is None) or torch.equal(p.grad, q) for p, q in zip(nets.G.parameters(), g_grads))
    assert all(p.requires_grad for p in nets.G.parameters())

    e1 = _snapshot(nets.E)
    e_step(nets, opts["E"], z, 0.0, "latent")
    assert _same(g1, nets.G) and not _same(e1, nets.E)


def _g_grads(nets, z, weight):
    """G's gradients after one g_step with image weight `weight` on a copy of `nets`, and the copy."""
    nets = copy.deepcopy(nets)
    g_step(nets, make_optimizer(nets.G.parameters(), TrainConfig(total_kimg=1), 1e-3), z, 0.0, weight)
    # (None: a layer lod 0 does not use, the lower resolution's toRGB)
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in nets.G.parameters()], nets


def test_g_image_loss_adds_d_i_s_gradient_to_g_s_through_both_generators():
    # spec 7 row 3's ablation: G's step with weight w gets exactly w times the gradient of d_I = mean|G(z) -
    # G(E(G(z)))| beyond the adversarial one, along every path (the first G(z), E's input, the second G); with w = 0
    # G's gradient is the plain -D(G(z))'s, bit for bit, and E and D get no gradient and are left trainable
    cfg = net_config_for_preset("tiny", 8, 1)
    nets = build_pgan(cfg, 0)
    z = torch.randn(8, cfg.latent_size, generator=torch.Generator().manual_seed(1)) * 0.1
    off, _ = _g_grads(nets, z, 0.0)
    # (the adversarial gradient taken here, not by g_step again: g_step(w=0) against itself could not fail)
    adv = copy.deepcopy(nets)
    plain = [torch.zeros_like(p) if g is None else g for p, g in zip(adv.G.parameters(), torch.autograd.grad(
        -adv.D(adv.G(z, 0.0), 0.0).mean(), list(adv.G.parameters()), allow_unused=True))]
    assert all(torch.equal(a, b) for a, b in zip(off, plain))
    on, after = _g_grads(nets, z, 0.5)
    ref = copy.deepcopy(nets)
    fake = ref.G(z, 0.0)
    d_i = (fake - ref.G(ref.E(fake, 0.0), 0.0)).abs().mean()
    want = [torch.zeros_like(p) if g is None else g
            for p, g in zip(ref.G.parameters(), torch.autograd.grad(d_i, list(ref.G.parameters()), allow_unused=True))]
    assert max(float(g.abs().max()) for g in want) > 0
    for a, b, g in zip(on, off, want):
        torch.testing.assert_close(a - b, 0.5 * g, rtol=1e-4, atol=1e-7)
    # through the first G(z) too: the gradient with it detached differs (what a d_I on E's side alone would give)
    fake = ref.G(z, 0.0)
    second_only = [torch.zeros_like(p) if g is None else g for p, g in zip(ref.G.parameters(), torch.autograd.grad(
        (fake.detach() - ref.G(ref.E(fake.detach(), 0.0), 0.0)).abs().mean(), list(ref.G.parameters()),
        allow_unused=True))]
    assert any(not torch.allclose(g, h, atol=1e-6) for g, h in zip(want, second_only))
    assert all(p.grad is None and p.requires_grad for m in (after.E, after.D) for p in m.parameters())
    assert all(torch.equal(p, q) for p, q in zip(after.E.parameters(), nets.E.parameters()))


def test_generator_image_loss_weights_the_mean_l1_and_logs_it_unweighted():
    fake, rec = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2) * 3
    loss, terms = generator_image_loss(fake, rec, 0.25)
    assert loss.item() == 0.75 and terms["G/d_I"].item() == 3.0


def test_ema_update():
    cfg = net_config_for_preset("tiny", 8, 1)
    nets = build_pgan(cfg, 0)
    gs0 = copy.deepcopy(nets.Gs)
    with torch.no_grad():
        for p in nets.G.parameters():
            p.add_(1.0)
    ema_update(nets.Gs, nets.G, 0.999)
    for p0, p, g in zip(gs0.parameters(), nets.Gs.parameters(), nets.G.parameters()):
        assert torch.allclose(p, 0.999 * p0 + 0.001 * g, atol=1e-6)


def test_ema_warmup_schedule():
    from wildgan.config import TrainConfig
    from wildgan.training.loop import ema_beta_at

    on, off = TrainConfig(), TrainConfig(ema_warmup=False)
    assert on.ema_warmup and ema_beta_at(off, 0) == ema_beta_at(off, 10**6) == 0.999
    betas = [ema_beta_at(on, t) for t in range(20000)]
    assert betas[0] == 0.1 and all(b1 <= b2 for b1, b2 in zip(betas, betas[1:]))
    assert betas[8989] < 0.999 and betas[8990] == 0.999 == betas[-1]
    # what is left of the random initial Gs after t iterations: the reason for the warm-up
    left_on, left_off = np.prod(betas[:375]), 0.999 ** 375
    assert left_on < 1e-10 and 0.68 < left_off < 0.69


def test_train_run_uses_the_warmed_up_ema(tmp_path):
    """Gs after a few iterations is nearly G with the warm-up, and nearly its initialisation without it."""
    from wildgan.config import DataConfig, RunConfig, TrainConfig
    from wildgan.training.loop import train_pgan

    x = (np.random.default_rng(0).random((64, 8, 8, 1)) * 255).astype(np.uint8)
    dist = {}
    for warm in (True, False):
        tc = TrainConfig(total_kimg=0.32, phase_kimg=0.16, minibatch={4: 16, 8: 16}, ema_warmup=warm,
                         checkpoint_kimg=1.0, device="cpu")
        cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
        init = build_pgan(cfg.net, tc.seed).Gs
        from wildgan.checkpoint import load_pgan

        res = train_pgan(x, cfg, tmp_path / str(warm), progress=False)
        nets, _ = load_pgan(res.final, "cpu")
        with torch.no_grad():
            d_g = sum((a - b).norm() ** 2 for a, b in zip(nets.Gs.parameters(), nets.G.parameters())) ** 0.5
            d_0 = sum((a - b).norm() ** 2 for a, b in zip(nets.Gs.parameters(), init.parameters())) ** 0.5
        dist[warm] = (float(d_g), float(d_0))
    assert dist[True][0] < dist[True][1] and dist[False][0] > dist[False][1]


def test_resume_across_device_types_reseeds_the_latent_stream(tmp_path):
    """A CPU generator state cannot be loaded into a CUDA generator: _restore warns and reseeds instead of failing
    (simulated here by a checkpoint that says it was written on CUDA)."""
    import pytest

    from wildgan import checkpoint as ckpt
    from wildgan.config import DataConfig, RunConfig
    from wildgan.training.loop import _restore, make_optimizers, resolve_fast_options, train_pgan

    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    tc = TrainConfig(total_kimg=0.064, phase_kimg=0.032, minibatch={4: 16, 8: 16}, checkpoint_kimg=0.032,
                     device="cpu")
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
    train_pgan(x, cfg, tmp_path, progress=False)
    tensors, meta = ckpt.load_checkpoint(ckpt.list_checkpoints(tmp_path / "checkpoints")[-1])
    assert meta["rng_device"] == "cpu"
    nets = build_pgan(cfg.net, 0)
    opts = make_optimizers(nets, tc, resolve_fast_options(tc, torch.device("cpu")), torch.device("cpu"))
    same = torch.Generator()
    _restore(tensors, meta, nets, opts, same, tmp_path)
    assert torch.equal(same.get_state(), tensors["rng.z"])
    other = torch.Generator()
    with pytest.warns(UserWarning, match="reseeded"):
        _restore(tensors, {**meta, "rng_device": "cuda"}, nets, opts, other, tmp_path)
    assert not torch.equal(other.get_state(), tensors["rng.z"])


def test_threads_setting_is_validated_and_applied(tmp_path, monkeypatch):
    import pytest

    from wildgan.config import DataConfig, RunConfig
    from wildgan.errors import ConfigError
    from wildgan.training import loop
    from wildgan.training.loop import train_pgan

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="threads"):
            TrainConfig(threads=bad)
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    tc = TrainConfig(total_kimg=0.032, phase_kimg=0.032, minibatch={4: 16, 8: 16}, device="cpu", threads=1)
    seen = []
    real = loop.build_pyramid

    def watched(*a, **k):
        seen.append(torch.get_num_threads())
        return real(*a, **k)

    monkeypatch.setattr(loop, "build_pyramid", watched)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        train_pgan(x, RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny"),
                   tmp_path, progress=False)
        assert seen == [1] and torch.get_num_threads() == 2       # trained at 1, the caller's count put back
    finally:
        torch.set_num_threads(before)


def test_real_images_are_faded_like_the_generator_output():
    # during a fade-in the reals are lerp(x, up2(avgpool2(x)), t): each 2x2 block blended towards its mean, computed
    # here by hand; t = 0 leaves them as they are. Both the plain and the fast path's (tensor t) version.
    from wildgan.training.loop import process_reals, process_reals_t

    rng = np.random.default_rng(0)
    u8 = torch.from_numpy(rng.integers(0, 256, (3, 2, 8, 8), dtype=np.uint8))
    x = u8.float() / 127.5 - 1
    block = x.reshape(3, 2, 4, 2, 4, 2).mean(dim=(3, 5))
    coarse = block.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    for t in (0.0, 0.3, 1.0):
        want = x + (coarse - x) * t
        torch.testing.assert_close(process_reals(u8, t), want, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(process_reals_t(u8, t > 0, torch.tensor(t)), want, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(process_reals(u8, 0.3), x)
