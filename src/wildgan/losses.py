"""Losses as pure functions (spec 3.1). Backward passes, optimiser steps and requires_grad toggling live in the
training loop. Each returns (loss, terms) where terms are detached tensors for logging (no host sync here)."""

from __future__ import annotations

from typing import Callable

import torch

Critic = Callable[[torch.Tensor], torch.Tensor]
# (real, fake) -> (D(real), D(fake)) in one pass: the same two critic values, one forward and backward instead of
# two (half the kernels of the critic's real/fake passes; what launch-bound low-resolution steps on a GPU pay for)
PairCritic = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, *, target: float = 1.0,
                     grad_scale: float = 1.0, u: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample (||grad_xhat D(xhat)|| * grad_scale - target)^2 / target^2 at xhat = real + u (fake - real).

    grad_scale = res / R matches the TF code, which takes the gradient w.r.t. the nearest-upsampled full-resolution
    tensor: ||grad_upsampled|| = ||grad_native|| / 2^floor(lod) (spec 1.5). Returns (penalty [N], grad norm [N]).
    The training loop evaluates this critic pass in float32 unless TrainConfig.gp_precision = "amp" (double
    backward in bf16 is less accurate).
    """
    if u is None:
        u = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    xhat = (real + u * (fake - real)).detach().requires_grad_(True)
    out = critic(xhat)
    (grad,) = torch.autograd.grad(out.sum(), xhat, create_graph=True)
    norm = grad.flatten(1).norm(dim=1) * grad_scale
    return (norm - target).square() / (target * target), norm


def critic_loss(critic: Critic, real: torch.Tensor, fake: torch.Tensor, *, gp_lambda: float = 10.0,
                gp_target: float = 1.0, drift: float = 0.001, grad_scale: float = 1.0,
                u: torch.Tensor | None = None,
                critic_pair: PairCritic | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """WGAN-GP critic loss: mean of D(fake) - D(real) + lambda * GP + drift * D(real)^2.

    `critic_pair`, when given, computes D(real) and D(fake) together (it must equal two calls of `critic`); the
    gradient penalty always calls `critic`, alone, on x_hat."""
    fake = fake.detach()
    if critic_pair is not None:
        d_real, d_fake = critic_pair(real, fake)
    else:
        d_real = critic(real)
        d_fake = critic(fake)
    gp, gnorm = gradient_penalty(critic, real, fake, target=gp_target, grad_scale=grad_scale, u=u)
    loss = (d_fake - d_real + gp_lambda * gp + drift * d_real.square()).mean()
    terms = {"D/real": d_real.mean().detach(), "D/fake": d_fake.mean().detach(),
             "D/gp": gp.mean().detach(), "D/grad_norm": gnorm.mean().detach(), "D/loss": loss.detach()}
    return loss, terms


def generator_loss(critic: Critic, fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """-D(G(z))."""
    loss = -critic(fake).mean()
    return loss, {"G/loss": loss.detach()}


def generator_image_loss(fake: torch.Tensor, rec: torch.Tensor,
                         weight: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """weight * d_I for G's loss (TrainConfig.g_image_loss, the ablation of spec 7 row 3): fake = G(z) and rec =
    G(E(G(z))), both with their graphs (unlike encoder_image_loss's detached x), so that the gradient reaches G
    through both. The term logged, G/d_I, is d_I itself, unweighted, to compare with E/loss."""
    d_i = (fake - rec).abs().mean()
    return weight * d_i, {"G/d_I": d_i.detach()}


def encoder_image_loss(x: torch.Tensor, rec: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """d_I = mean over batch, channels and pixels of |G(z) - G(E(G(z)))|; x = G(z) must come in detached."""
    loss = (x - rec).abs().mean()
    return loss, {"E/loss": loss.detach()}


def encoder_latent_loss(z: torch.Tensor, z_hat: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """d_z ablation (paper Eq. 7): mean |z - E(G(z))| against the raw sampled z = 0.1 N(0, I)."""
    loss = (z - z_hat).abs().mean()
    return loss, {"E/loss": loss.detach()}
