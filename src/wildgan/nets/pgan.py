"""Progressive generator, discriminator and encoder (spec 1-2): plain nn.Modules, no training logic.

All three run at the *current* (native) resolution given by `lod` (level of detail):
  lod = log2(R) - log2(current resolution) + t,  t = frac(lod) in [0, 1) is the fade weight of the old path.
G blends images during a fade; D and E blend features; real images are blended by the caller (process_reals).
Tensor layout: images [N, C, H, W] in [-1, 1]; latents [N, N_z].
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import NetConfig
from .layers import SQRT2, EqConv2d, EqLinear, downsample2, lerp, lrelu, minibatch_stddev, pixel_norm, upsample2


def split_lod(lod: float, resolution_log2: int) -> tuple[int, float]:
    """(current level r, fade weight t): the current resolution is 2^r; t > 0 means fading in level r."""
    lod = min(max(float(lod), 0.0), float(resolution_log2 - 2))
    base = math.floor(lod)
    return resolution_log2 - base, lod - base


class Generator(nn.Module):
    """G_paper: latent -> pixel-norm -> 4x4 block -> (up-conv, conv) per level -> toRGB at the current level."""

    def __init__(self, cfg: NetConfig, fused: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        nf, L = cfg.nf, cfg.resolution_log2
        # 4x4 block: dense to nf(1)*16 (gain sqrt(2)/4, one bias per channel), then conv 3x3.
        self.dense = EqLinear(cfg.latent_size, nf(1) * 16, gain=SQRT2 / 4, bias=False)
        self.dense_bias = nn.Parameter(torch.zeros(nf(1)))
        self.conv4 = EqConv2d(nf(1), nf(1), 3)
        self.up = nn.ModuleDict()
        self.conv = nn.ModuleDict()
        for r in range(3, L + 1):
            self.up[str(r)] = EqConv2d(nf(r - 2), nf(r - 1), 3, mode="up", fused=fused)
            self.conv[str(r)] = EqConv2d(nf(r - 1), nf(r - 1), 3)
        self.to_rgb = nn.ModuleDict({str(r): EqConv2d(nf(r - 1), cfg.channels, 1, gain=1.0) for r in range(2, L + 1)})

    def dense_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The dense layer's output as [N, nf(1), 4, 4] maps, its bias added (in x's dtype: see EqConv2d.forward).
        In channels_last when the convolutions' weights are (the fast path's layout): the view of the dense output is
        NCHW, and the pixel norm after it then ran as the plain formula (5 kernels forward, ~10 backward) where a
        channels_last map takes the fused RMS norm (layers.FUSED_PIXEL_NORM_DEVICES) for one copy here. The copy
        keeps the values; on CUDA the fused norm after it rounds as the other pixel norms do (training and scoring)."""
        # the channel count spelled out: with -1, an exported graph's Reshape cannot infer it for an empty batch
        x = self.dense(x).view(x.shape[0], self.dense_bias.shape[0], 4, 4)
        w = self.conv4.weight
        if not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        return x + self.dense_bias.to(x.dtype).view(1, -1, 1, 1)

    def forward(self, z: torch.Tensor, lod: float = 0.0) -> torch.Tensor:
        r_cur, t = split_lod(lod, self.cfg.resolution_log2)
        x = pixel_norm(z)                                        # G sees z / RMS(z): the scale of z is irrelevant
        x = pixel_norm(lrelu(self.dense_maps(x)))
        h = pixel_norm(lrelu(self.conv4(x)))                     # [N, nf(1), 4, 4]
        h_prev = h
        for r in range(3, r_cur + 1):
            h_prev = h
            h = pixel_norm(lrelu(self.up[str(r)](h)))
            h = pixel_norm(lrelu(self.conv[str(r)](h)))
        img = self.to_rgb[str(r_cur)](h)                         # linear output, nominally [-1, 1], not clipped
        if t > 0 and r_cur > 2:
            img = lerp(img, upsample2(self.to_rgb[str(r_cur - 1)](h_prev)), t)
        return img


class _Trunk(nn.Module):
    """Shared shape of D and E: fromRGB at every level, (conv, down-conv) blocks, then the 4x4 block's conv."""

    def __init__(self, cfg: NetConfig, fused: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.mbstd_group = cfg.mbstd_group
        self.mbstd_batch: int | None = None     # set by scoring to stack several minibatches in one forward
        nf, L = cfg.nf, cfg.resolution_log2
        self.from_rgb = nn.ModuleDict({str(r): EqConv2d(cfg.channels, nf(r - 1), 1) for r in range(2, L + 1)})
        self.conv = nn.ModuleDict()
        self.down = nn.ModuleDict()
        for r in range(3, L + 1):
            self.conv[str(r)] = EqConv2d(nf(r - 1), nf(r - 1), 3)
            self.down[str(r)] = EqConv2d(nf(r - 1), nf(r - 2), 3, mode="down", fused=fused)
        self.conv4 = EqConv2d(nf(1) + 1, nf(1), 3)

    def features(self, img: torch.Tensor, lod: float = 0.0) -> torch.Tensor:
        """[N, nf(1), 4, 4] map entering the 4x4 block (before mbstd): f(.) of the 'A' score (spec 4.3)."""
        r_cur, t = split_lod(lod, self.cfg.resolution_log2)
        if img.shape[-1] != 2 ** r_cur:
            raise ValueError(f"expected images of {2 ** r_cur}x{2 ** r_cur} at lod {lod}, got {tuple(img.shape)}")
        x = lrelu(self.from_rgb[str(r_cur)](img))
        for r in range(r_cur, 2, -1):
            x = lrelu(self.conv[str(r)](x))
            x = lrelu(self.down[str(r)](x))
            if r == r_cur and t > 0:
                x = lerp(x, lrelu(self.from_rgb[str(r_cur - 1)](downsample2(img))), t)
        return x

    def head_input(self, feat: torch.Tensor, sub_batch: int | None = None) -> torch.Tensor:
        """mbstd + conv 3x3 of the 4x4 block, flattened: [N, nf(1) * 16]. `sub_batch` (default self.mbstd_batch):
        feat holds N / sub_batch minibatches stacked along dim 0, each with its own stddev groups."""
        x = minibatch_stddev(feat, self.mbstd_group, self.mbstd_batch if sub_batch is None else sub_batch)
        x = lrelu(self.conv4(x))
        return x.flatten(1)


class Discriminator(_Trunk):
    """D_paper: trunk -> Dense0 (nf(1)*16 -> nf(0), lrelu) -> Dense1 (-> 1, gain 1). Output: WGAN critic [N]."""

    def __init__(self, cfg: NetConfig, fused: bool = True) -> None:
        super().__init__(cfg, fused)
        self.dense0 = EqLinear(cfg.nf(1) * 16, cfg.nf(0))
        self.dense1 = EqLinear(cfg.nf(0), 1, gain=1.0)

    def forward(self, img: torch.Tensor, lod: float = 0.0) -> torch.Tensor:
        x = self.head_input(self.features(img, lod))
        return self.dense1(lrelu(self.dense0(x))).squeeze(1)


class Encoder(_Trunk):
    """E_clusterGAN: D without Dense1; output lrelu(Dense0) in R^{N_z}, not normalised (its norm is L_o)."""

    def __init__(self, cfg: NetConfig, fused: bool = True) -> None:
        super().__init__(cfg, fused)
        self.dense0 = EqLinear(cfg.nf(1) * 16, cfg.latent_size)

    def forward(self, img: torch.Tensor, lod: float = 0.0) -> torch.Tensor:
        return lrelu(self.dense0(self.head_input(self.features(img, lod))))
