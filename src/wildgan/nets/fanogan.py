"""f-AnoGAN baseline networks (spec 5): the residual WGAN-GP generator and critic of the official TF release
(`wgangp_64x64.py`, itself Gulrajani et al.'s "Good" 64x64 ResNet) and the izi_f encoder (`z_encoding_izif.py`).

64x64 (the official configuration), DIM = d:
  G: Linear z -> 8d*4*4, up-blocks 8d->8d (8), 8d->4d (16), 4d->2d (32), 2d->d (64), BN, ReLU, conv3x3 d->C, tanh
  D: conv3x3 C->d, down-blocks d->2d (32), 2d->4d (16), 4d->8d (8), 8d->8d (4), flatten = f(x) (8d*16), Linear -> 1
  E: like D but with BatchNorm instead of LayerNorm, Linear 8d*16 -> N_z, tanh
32x32 (paper 4.2: "remove one residual block in D, G and E", spec 5.4): G drops its last up-block (2d->d), D and E
drop their last down-block (8d->8d), so f(x) stays 8d*4*4 = 8192-d at d = 64.

Tensor layout: images [N, C, H, W] in [-1, 1]; latents [N, N_z].
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config import FAnoGANConfig
from ..errors import ConfigError

SUPPORTED_RESOLUTIONS = (32, 64)


# ------------------------------------------------------------------------------------------------------------------
# Initialisation: tflib draws U(-s*sqrt(3), s*sqrt(3)), i.e. a uniform with standard deviation s, where
#   s = sqrt(4 / (fan_in + fan_out))  ("he_init", the default of its Conv2D)
#   s = sqrt(2 / (fan_in + fan_out))  (Glorot: input convs, 1x1 shortcuts, every Linear)
# with fan_in = k*k*C_in and fan_out = k*k*C_out (all convs here have stride 1). Biases start at zero.

def _uniform_std_(w: torch.Tensor, std: float) -> None:
    bound = std * math.sqrt(3.0)
    with torch.no_grad():
        w.uniform_(-bound, bound)


def conv(c_in: int, c_out: int, k: int, *, he: bool = True, bias: bool = True) -> nn.Conv2d:
    """k x k conv, stride 1, TF 'SAME' padding, tflib init."""
    m = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)
    _uniform_std_(m.weight, math.sqrt((4.0 if he else 2.0) / (k * k * c_in + k * k * c_out)))
    if m.bias is not None:
        nn.init.zeros_(m.bias)
    return m


def linear(n_in: int, n_out: int) -> nn.Linear:
    """Linear with tflib's default (Glorot uniform) init."""
    m = nn.Linear(n_in, n_out)
    _uniform_std_(m.weight, math.sqrt(2.0 / (n_in + n_out)))
    nn.init.zeros_(m.bias)
    return m


# ------------------------------------------------------------------------------------------------------------------
# Normalisation.

class ChannelLayerNorm(nn.Module):
    """tflib Layernorm as the critic uses it: statistics per sample over (C, H, W) jointly, biased variance,
    eps 1e-5, then a per-channel gain and offset. Per sample on purpose: batch statistics in the critic would couple
    the samples and break the per-sample gradient penalty (which is why WGAN-GP's critic has no BatchNorm)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(1, 2, 3), keepdim=True, unbiased=False)
        x = (x - mean) * torch.rsqrt(var + self.eps)
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def batch_norm(channels: int, eps: float = 1e-3) -> nn.BatchNorm2d:
    """BatchNorm for G and E as the official code's tf.layers.batch_normalization: eps 1e-3, moving-average decay
    0.99 (PyTorch momentum 0.01). Training sets the momentum per step (FAnoGANConfig.bn_decay / bn_warmup, and 0
    for the critic steps' G forward, whose moving statistics TF does not update). Eval mode uses the running
    statistics."""
    return nn.BatchNorm2d(channels, eps=eps, momentum=0.01)


def set_bn_momentum(module: nn.Module, momentum: float) -> None:
    """Set the running-statistics rate of every BatchNorm in module (0 = use batch statistics, update nothing)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum


Norm = Callable[[int], nn.Module]


# ------------------------------------------------------------------------------------------------------------------
# Pre-activation residual blocks (spec 5.1): Norm, ReLU, conv1, Norm, ReLU, conv2, plus a shortcut.

class ResBlockUp(nn.Module):
    """conv1 = nearest x2 upsample + 3x3 in->out (no bias); conv2 = 3x3 out->out; shortcut = upsample + 1x1 conv.
    (tflib upsamples by depth_to_space of 4 channel copies, which is exactly nearest-neighbour x2.)"""

    def __init__(self, c_in: int, c_out: int, norm: Norm) -> None:
        super().__init__()
        self.norm1 = norm(c_in)
        self.conv1 = conv(c_in, c_out, 3, bias=False)
        self.norm2 = norm(c_out)
        self.conv2 = conv(c_out, c_out, 3)
        self.shortcut = conv(c_in, c_out, 1, he=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        h = F.relu(self.norm1(x))
        h = self.conv1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.conv2(F.relu(self.norm2(h)))
        return skip + h


class ResBlockDown(nn.Module):
    """conv1 = 3x3 in->in (no bias); conv2 = 3x3 in->out then 2x2 mean-pool; shortcut = mean-pool then 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, norm: Norm) -> None:
        super().__init__()
        self.norm1 = norm(c_in)
        self.conv1 = conv(c_in, c_in, 3, bias=False)
        self.norm2 = norm(c_in)
        self.conv2 = conv(c_in, c_out, 3)
        self.shortcut = conv(c_in, c_out, 1, he=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.shortcut(F.avg_pool2d(x, 2))
        h = self.conv1(F.relu(self.norm1(x)))
        h = F.avg_pool2d(self.conv2(F.relu(self.norm2(h))), 2)
        return skip + h


def _n_blocks(resolution: int) -> int:
    if resolution not in SUPPORTED_RESOLUTIONS:
        raise ConfigError(f"f-AnoGAN supports resolutions {SUPPORTED_RESOLUTIONS}, got {resolution}")
    return int(math.log2(resolution)) - 2          # 4 blocks at 64x64 (official), 3 at 32x32 (spec 5.4)


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise ConfigError(f"f-AnoGAN supports 1 or 3 channels, got {channels}")


# ------------------------------------------------------------------------------------------------------------------
# Networks.

class FAnoGANGenerator(nn.Module):
    """z [N, latent] -> image [N, C, R, R] in (-1, 1).
    BatchNorm uses batch statistics in train() and its running statistics in eval()."""

    def __init__(self, resolution: int = 64, channels: int = 1, dim: int = 64, latent_size: int = 128,
                 bn_eps: float = 1e-3) -> None:
        super().__init__()
        _check_channels(channels)
        n = _n_blocks(resolution)
        self.resolution, self.channels, self.dim, self.latent_size = resolution, channels, dim, latent_size
        widths = [8 * dim] + [m * dim for m in (8, 4, 2, 1)[:n]]      # 32x32 drops the final 2d->d block
        norm = functools.partial(batch_norm, eps=bn_eps)
        self.input = linear(latent_size, 4 * 4 * 8 * dim)
        self.blocks = nn.Sequential(*[ResBlockUp(widths[i], widths[i + 1], norm) for i in range(n)])
        self.out_norm = norm(widths[-1])
        self.output = conv(widths[-1], channels, 3)                     # He init, as tflib's default Conv2D

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.input(z).view(z.shape[0], 8 * self.dim, 4, 4)         # NCHW reshape, same order as the TF code
        x = self.blocks(x)
        return torch.tanh(self.output(F.relu(self.out_norm(x))))


class _DownTrunk(nn.Module):
    """Shared trunk of the critic and the encoder: conv3x3 C->d (Glorot), down-blocks, flatten to 8d*16."""

    def __init__(self, resolution: int, channels: int, dim: int, norm: Norm) -> None:
        super().__init__()
        _check_channels(channels)
        n = _n_blocks(resolution)
        self.resolution, self.channels, self.dim = resolution, channels, dim
        widths = [m * dim for m in (1, 2, 4, 8, 8)[: n + 1]]           # 32x32 drops the final 8d->8d block
        self.input = conv(channels, dim, 3, he=False)
        self.blocks = nn.Sequential(*[ResBlockDown(widths[i], widths[i + 1], norm) for i in range(n)])
        self.feature_size = widths[-1] * 4 * 4

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 8d*16]: the flattened 4x4 trunk output (no final norm or activation), f-AnoGAN's f(x)."""
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution or x.shape[1] != self.channels:
            raise ValueError(f"expected images [N, {self.channels}, {self.resolution}, {self.resolution}], "
                             f"got {tuple(x.shape)}")
        return self.blocks(self.input(x)).flatten(1)


class FAnoGANCritic(_DownTrunk):
    """WGAN critic with per-sample LayerNorm; forward gives the critic value [N]."""

    def __init__(self, resolution: int = 64, channels: int = 1, dim: int = 64) -> None:
        super().__init__(resolution, channels, dim, ChannelLayerNorm)
        self.output = linear(self.feature_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x)).squeeze(1)


class FAnoGANEncoder(_DownTrunk):
    """izi_f encoder: critic-like trunk with BatchNorm, Linear -> latent, tanh ('tanh_fc', the paper default):
    codes live in (-1, 1)^N_z, which is why f-AnoGAN's codes 'end up on a hypercube' (paper Fig. 3)."""

    def __init__(self, resolution: int = 64, channels: int = 1, dim: int = 64, latent_size: int = 128,
                 bn_eps: float = 1e-3) -> None:
        super().__init__(resolution, channels, dim, functools.partial(batch_norm, eps=bn_eps))
        self.latent_size = latent_size
        self.output = linear(self.feature_size, latent_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.output(self.features(x)))


@dataclass
class FAnoGANNetworks:
    """The three networks of one f-AnoGAN run and the config they were built from."""

    G: FAnoGANGenerator
    D: FAnoGANCritic
    E: FAnoGANEncoder
    config: FAnoGANConfig

    @property
    def resolution(self) -> int:
        return self.G.resolution

    @property
    def channels(self) -> int:
        return self.G.channels

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "E": self.E}

    def to(self, device: torch.device | str) -> "FAnoGANNetworks":
        for m in self.modules().values():
            m.to(device)
        return self

    def arch(self) -> dict[str, Any]:
        """What checkpoint.load_fanogan needs to rebuild the networks."""
        return {"resolution": self.resolution, "channels": self.channels, "dim": self.config.dim,
                "latent_size": self.config.latent_size}


def build_fanogan(cfg: FAnoGANConfig, resolution: int, channels: int, seed: int | None = None) -> FAnoGANNetworks:
    """Freshly initialised G, D, E; the same (cfg, resolution, channels, seed) always gives the same weights.
    seed None = cfg.seed. The global torch RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        # (the CPU generator alone, as build_pgan: torch.manual_seed would seed CUDA's too, which fork_rng leaves)
        torch.default_generator.manual_seed(cfg.seed if seed is None else seed)
        G = FAnoGANGenerator(resolution, channels, cfg.dim, cfg.latent_size, bn_eps=cfg.bn_eps)
        D = FAnoGANCritic(resolution, channels, cfg.dim)
        E = FAnoGANEncoder(resolution, channels, cfg.dim, cfg.latent_size, bn_eps=cfg.bn_eps)
    return FAnoGANNetworks(G=G, D=D, E=E, config=cfg)


__all__ = ["set_bn_momentum", "FAnoGANGenerator", "FAnoGANCritic", "FAnoGANEncoder", "FAnoGANNetworks",
           "ChannelLayerNorm", "ResBlockUp", "ResBlockDown", "build_fanogan", "SUPPORTED_RESOLUTIONS"]
