"""The training iteration and the loop's Adam resets against a reference written from METHOD_SPEC.md alone.

The reference below shares no training code with wildgan.training.loop: it builds its own losses, reals, latents and
optimiser steps from spec 1.5 (faded reals, GP scaled by res / R), 3.1 (losses, what each step updates) and 3.2 (EMA
of the G before this iteration's G step, then D, G, E, with fresh latents 0.1 N(0, I)), so that a change to the order
of the steps, the EMA's timing, the GP scale, the fade of the reals or the latents' scale shows up here as a
difference, not only as a worse AUC after a GPU run of the full schedule.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wildgan import checkpoint as ckpt
from wildgan.config import DataConfig, NetConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.nets import PGANNetworks, build_pgan
from wildgan.training.data_placement import BatchSampler
from wildgan.training.loop import FastOptions, StepRunner, build_pyramid, ema_beta_at, make_optimizers, train_pgan
from wildgan.training.schedule import schedule

RES = 16
MB = {4: 8, 8: 8, 16: 4}


def _reals(x: np.ndarray, idx: np.ndarray, res: int, t: float) -> torch.Tensor:
    """Spec 1.5: the 2^k box average of the uint8 image rounded to uint8, to [-1, 1], faded with weight t."""
    full = torch.from_numpy(x[idx]).permute(0, 3, 1, 2).double()
    f = RES // res
    lvl = F.avg_pool2d(full, f).round() if f > 1 else full
    r = (lvl * 2 / 255 - 1).float()
    return r + (F.interpolate(F.avg_pool2d(r, 2), scale_factor=2.0, mode="nearest") - r) * t if t > 0 else r


def _adam_step(params: list[torch.nn.Parameter], loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
    """Gradients of `loss` for `params` only (nothing reaches any other network), then one step."""
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()


def _flat(m: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in m.parameters()]).double()


def _sync(dst: torch.nn.Module, src: torch.nn.Module) -> None:
    with torch.no_grad():
        for p, q in zip(dst.parameters(), src.parameters()):
            p.copy_(q)


def _reference_iteration(ref: PGANNetworks, opts: dict[str, torch.optim.Optimizer], x: np.ndarray,
                         sampler: BatchSampler, rng: torch.Generator, lod: float, res: int, t: float, batch: int,
                         beta: float, nz: int, encoder_loss: str, step_done: Callable[[str], None],
                         g_image_loss: float = 0.0) -> None:
    """One iteration of spec 3.2 on `ref`. After each network's step, step_done(name) compares it with wildgan's
    and hands the reference wildgan's result for the next step, so that each step starts from the same weights."""
    with torch.no_grad():                                  # Gs <- beta Gs + (1 - beta) G, G before its step
        for gs, g in zip(ref.Gs.parameters(), ref.G.parameters()):
            gs.add_((1 - beta) * (g - gs))
    step_done("Gs")
    real = _reals(x, sampler.next(batch), res, t)
    z = torch.randn(batch, nz, generator=rng) * 0.1
    u = torch.rand(batch, 1, 1, 1, generator=rng)
    with torch.no_grad():
        fake = ref.G(z, lod)
    xh = (real + u * (fake - real)).requires_grad_(True)
    d_real, d_fake = ref.D(real, lod), ref.D(fake, lod)
    (grad,) = torch.autograd.grad(ref.D(xh, lod).sum(), xh, create_graph=True)
    norm = grad.flatten(1).norm(dim=1) * res / RES
    d_loss = (d_fake - d_real + 10.0 * (norm - 1.0) ** 2 + 0.001 * d_real ** 2).mean()
    _adam_step(list(ref.D.parameters()), d_loss, opts["D"])
    step_done("D")
    z = torch.randn(batch, nz, generator=rng) * 0.1
    fake = ref.G(z, lod)
    g_loss = -ref.D(fake, lod).mean()
    if g_image_loss:
        # spec 7 row 3's ablation, the paper's joint objective for G: d_I of the same z, differentiated along every
        # path into G (only G's parameters are stepped, so nothing of it reaches E or D)
        g_loss = g_loss + g_image_loss * (fake - ref.G(ref.E(fake, lod), lod)).abs().mean()
    _adam_step(list(ref.G.parameters()), g_loss, opts["G"])
    step_done("G")
    z = torch.randn(batch, nz, generator=rng) * 0.1
    with torch.no_grad():
        xg = ref.G(z, lod)
    z_hat = ref.E(xg, lod)
    e_loss = (xg - ref.G(z_hat, lod)).abs().mean() if encoder_loss == "image" else (z - z_hat).abs().mean()
    _adam_step(list(ref.E.parameters()), e_loss, opts["E"])
    step_done("E")


@pytest.mark.parametrize("encoder_loss, g_image_loss", [("image", 0.0), ("latent", 0.0), ("image", 0.5)])
def test_training_iterations_match_a_reference_written_from_the_spec(encoder_loss: str, g_image_loss: float) -> None:
    """Every iteration of a schedule through 4x4, two fade-ins and 16x16: StepRunner's plain path equals the
    reference, step by step. Each step starts from the same weights and Adam state on both sides, so that float
    rounding cannot compound (E's update is sensitive to it: Adam divides near-cancelling gradients by their size)."""
    nc = NetConfig(resolution=RES, channels=3, fmap_base=64, fmap_max=8)
    tc = TrainConfig(total_kimg=1.0, phase_kimg=0.032, transition_kimg=0.064, minibatch=MB, seed=3,
                     encoder_loss=encoder_loss, g_image_loss=g_image_loss)
    x = np.random.default_rng(0).integers(0, 256, (40, RES, RES, 3), dtype=np.uint8)
    nets = build_pgan(nc, 3)
    ref = copy.deepcopy(nets)
    cpu = torch.device("cpu")
    opts = make_optimizers(nets, tc, FastOptions(), cpu)
    ref_opts = {k: torch.optim.Adam(getattr(ref, k).parameters(), lr=1e-3, betas=(0.0, 0.99), eps=1e-8)
                for k in "GDE"}
    runner = StepRunner(nets, opts, tc, nc, cpu, build_pyramid(x, cpu), torch.Generator().manual_seed(3))
    rng, sampler = torch.Generator().manual_seed(3), BatchSampler(len(x), tc.seed)
    nimg, it, seen = 0, 0, set()
    while nimg < 240:
        ph = schedule(nimg, RES, tc.phase_kimg, tc.fade_kimg, MB)
        seen.add((ph.resolution, ph.fade > 0))
        for _ in range(tc.minibatch_repeats):
            for k in "GDE":
                _sync(getattr(ref, k), getattr(nets, k))
                # Adam's moments and step counts only: load_state_dict would also copy the loop's param_groups
                # (lr, betas, eps), so that a wrong TrainConfig default reached the reference too and went unseen
                sd = copy.deepcopy(opts[k].state_dict())
                sd["param_groups"] = ref_opts[k].state_dict()["param_groups"]
                ref_opts[k].load_state_dict(sd)
            _sync(ref.Gs, nets.Gs)
            before = {k: _flat(getattr(nets, k)) for k in ("G", "D", "E", "Gs")}
            runner.iteration(ph, ema_beta_at(tc, it))

            def step_done(k: str) -> None:
                # the two updates agree to float rounding (1e-5 of the update's size here), or to 1e-7 per weight
                # where the update is nil (Gs = G at the start); a change of what a step computes moves most weights
                # by a different step, a difference of the order of the update itself
                ours, theirs = _flat(getattr(nets, k)) - before[k], _flat(getattr(ref, k)) - before[k]
                off, size = float((ours - theirs).norm()), float(theirs.norm())
                assert off <= 1e-3 * size + 1e-7 * len(theirs) ** 0.5, \
                    f"{k} at iteration {it} (res {ph.resolution}, lod {ph.lod:.3f}): {off:.3g} of {size:.3g}"
                _sync(getattr(ref, k), getattr(nets, k))

            _reference_iteration(ref, ref_opts, x, sampler, rng, ph.lod, ph.resolution, ph.fade, ph.batch,
                                 min(0.999, (1 + it) / (10 + it)), nc.latent_size, encoder_loss, step_done,
                                 g_image_loss)
            nimg += ph.batch
            it += 1
    # the schedule went through a stable low resolution, fade-ins and the full resolution
    assert {(4, False), (8, True), (16, True), (16, False)} <= seen


def test_the_loop_resets_adam_at_every_start_and_end_of_a_fade_in(tmp_path: Path) -> None:
    """Spec 3.2 / 9.7: G's, D's and E's Adam state and step counters start again whenever floor(lod) or ceil(lod)
    changes. 8x8, rounds of 4 x 16 images: 4x4 for 1 round (lod 1), a fade for 1 round (lod 0.5), then 8x8 from
    192 images on. The run ends at 448 images, so every state left holds (448 - 192) / 16 = 16 steps; without the
    resets it would hold up to 28."""
    tc = TrainConfig(total_kimg=0.448, phase_kimg=0.064, transition_kimg=0.128, minibatch={4: 16, 8: 16},
                     checkpoint_kimg=1.0, device="cpu", train_scores=False)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")
    assert [schedule(n, 8, 0.064, 0.128, tc.minibatch).lod for n in (0, 64, 128, 192, 256)] == [1, 1, 0.5, 0, 0]
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    res = train_pgan(x, cfg, tmp_path, progress=False)
    assert res.nimg == 448
    found, _ = ckpt.find_good_checkpoint(tmp_path / "checkpoints", kind=ckpt.TRAIN_STATE_KIND)
    tensors, meta = found
    assert meta["nimg"] == 448
    for name in ("G", "D", "E"):
        steps = {float(v) for k, v in tensors.items() if k.startswith(f"opt.{name}.") and k.endswith(".step")}
        assert steps == {16.0}, (name, steps)
    assert math.isclose(meta["lod"], 0.0)


def _halved_levels(x: np.ndarray) -> dict[int, np.ndarray]:
    """The authors' dataset tool's rule for the lower levels, written from spec 1.5 without pooling code: the float
    image halved again and again by averaging its 2x2 blocks (each level from the float level above, not from its
    rounded copy), each level rounded (np.rint, half to even) to uint8. {res: uint8 [N, C, res, res]}."""
    img = x.transpose(0, 3, 1, 2).astype(np.float32)
    out: dict[int, np.ndarray] = {img.shape[-1]: x.transpose(0, 3, 1, 2)}
    while img.shape[-1] > 4:
        img = (img[:, :, 0::2, 0::2] + img[:, :, 0::2, 1::2] + img[:, :, 1::2, 0::2] + img[:, :, 1::2, 1::2]) * 0.25
        out[img.shape[-1]] = np.rint(img).clip(0, 255).astype(np.uint8)
    return out


def test_the_pyramid_is_the_repeated_halving_of_the_float_image() -> None:
    # build_pyramid pools each level from the full image; the reference halves the float image level by level. The
    # two agree only where the pooling is exact and the rounding is the same at .5: blocks built to average to
    # exactly x.5 at 8x8 (2x2 blocks) and at 4x4 (4x4 blocks), where rounding half up or from the rounded level above
    # would differ
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
    x[0, :2, :2, 0] = [[0, 1], [1, 0]]                   # 2x2 mean 0.5 -> 0 (half to even)
    x[0, :2, 2:4, 0] = [[2, 3], [3, 2]]                  # 2x2 mean 2.5 -> 2
    x[1, :4, :4, 1] = np.array([[1, 2, 1, 2]] * 2 + [[2, 2, 2, 2]] * 2)   # 4x4 mean 1.75; its 2x2 levels 1.5 and 2
    x[2, :4, :4, 2] = 2
    x[2, 0, 0, 2] = 10                                   # 4x4 mean 2.5 -> 2 (half up: 3); 2x2 level 4, 2, 2, 2
    x[3] = 255
    x[4] = 0
    want = _halved_levels(x)
    got = build_pyramid(x, torch.device("cpu"))
    assert sorted(got) == sorted(want) == [4, 8, 16]
    for res in want:
        assert got[res].dtype == torch.uint8
        np.testing.assert_array_equal(got[res].numpy(), want[res], err_msg=f"level {res}x{res}")
    assert got[8][0, 0, 0, 0] == 0 and got[8][0, 0, 0, 1] == 2 and got[4][2, 2, 0, 0] == 2
