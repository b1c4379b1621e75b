"""Building blocks shared by the progressive G, D and E (spec 1.2).

Equalised learning rate: weights are stored as N(0, 1) and multiplied at run time by gain / sqrt(fan_in), so
Adam sees every layer at the same scale. Biases start at zero and are not scaled.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..config import kernels_from_env

SQRT2 = math.sqrt(2.0)


# Devices on which pixel_norm runs as torch's RMS norm over the channel dimension: on CUDA that is one fused kernel
# forward (_fused_rms_norm) and one backward, where the plain formula is 5 kernels forward and about 10 backward,
# each a full pass over the activation (G's pixel norms are ~15% of an iteration's memory traffic; on the CPU
# torch's rms_norm is that same plain formula). benchmarks/roofline.py adds "cpu" to price the fused kernels.
FUSED_PIXEL_NORM_DEVICES: set[str] = {"cuda"}

# Devices on which minibatch_stddev takes the group variance as one torch.var kernel instead of the TF code's
# mean((y - mean(y))^2) (mean, sub, square, mean: its sums in another order, so equal up to float rounding, ~1e-7
# relative), with a shorter backward too: 36 fewer kernels per training iteration (the critic and encoder forwards,
# the GP's double backward), 4-7% of the low-resolution phases' (benchmarks/roofline.py, RESULTS.md 2026-12-02).
# Not on the CPU, whose var kernel (Welford over a 4-element strided dimension) was 5-8x slower than the four ops.
VAR_STDDEV_DEVICES: set[str] = {"cuda"}

# Devices on which the training loop makes each forward's run-time weights in one FlatWeights block (StepRunner):
# on CUDA, where a kernel launch costs more than these kernels' work; on the CPU it measured 0-15% slower at low
# resolution (benchmarks/RESULTS.md, 2026-12-02).
FLAT_WEIGHTS_DEVICES: set[str] = {"cuda"}


@contextmanager
def forward_as_on(device_type: str, stand_in: str = "meta") -> Iterator[None]:
    """Within it, a forward on the `stand_in` device takes the kernel choices of `device_type` (the fused pixel norm,
    the stddev's var): networks copied to the meta device then call the operators they call on the run's device,
    which is what the training ETA counts (training.loop._phase_costs)."""
    sets = [s for s in (FUSED_PIXEL_NORM_DEVICES, VAR_STDDEV_DEVICES) if device_type in s and stand_in not in s]
    for s in sets:
        s.add(stand_in)
    try:
        yield
    finally:
        for s in sets:
            s.discard(stand_in)
# (none of these three device sets is used with WILDGAN_KERNELS=plain: config.kernels_from_env)


def _rms_norm_last(x: torch.Tensor, eps: float) -> torch.Tensor:
    """torch's RMS norm over the last (contiguous) dimension, autocast off: the dtype of x in and out."""
    if x.device.type == "meta":                # (no autocast there, nor an autocast to name: forward_as_on's counts)
        return F.rms_norm(x, (x.shape[-1],), eps=eps)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return F.rms_norm(x, (x.shape[-1],), eps=eps)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean over channels of x^2 + eps); works for [N, C] and [N, C, H, W].

    Plain formula: the scale is cast back to x's dtype (CUDA autocast runs rsqrt in fp32, and without the cast every
    G activation after a pixel norm would be promoted to fp32 under bf16 autocast; a no-op in fp32).
    Fused (FUSED_PIXEL_NORM_DEVICES, [N, C] or channels_last [N, C, H, W], whose channels are then the contiguous last
    dimension): F.rms_norm with autocast off, so a bf16 x stays bf16 in and out (the kernel accumulates in fp32)."""
    if x.device.type in FUSED_PIXEL_NORM_DEVICES and kernels_from_env() == "auto":
        if x.dim() == 2:
            return _rms_norm_last(x, eps)
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return _rms_norm_last(x.permute(0, 2, 3, 1), eps).permute(0, 3, 1, 2)
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps).to(x.dtype)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class EqLinear(nn.Module):
    """Dense layer with equalised learning rate."""

    # (class-level defaults as well: a module pickled before these attributes existed still runs its forward)
    _pw: torch.Tensor | None = None
    _pb: torch.Tensor | None = None

    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.scale = gain / math.sqrt(in_features)
        # run-time weight and bias set by FlatWeights for the forwards inside its `applied` block, else None
        self._pw: torch.Tensor | None = None
        self._pb: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.scale if self._pw is None else self._pw
        return F.linear(x, w, self.bias if self._pb is None else self._pb)


class EqConv2d(nn.Module):
    """k x k conv with equalised learning rate and TF 'SAME' padding.

    mode='up':   nearest x2 upsample followed by the conv, fused as TF does (stride-2 transposed conv with the
                 3x3 kernel summed at 4 shifts into a 4x4 kernel: 2.25x fewer MACs than upsample + conv).
    mode='down': the conv followed by 2x2 average pooling, fused as a stride-2 conv with the 4x4 kernel made
                 from the 4 shifted 3x3 kernels times 0.25.
    fan_in stays k*k*C_in in both fused modes, as in the TF code.
    """

    # (class-level defaults as well: a module pickled before these attributes existed still runs its forward)
    _pw: torch.Tensor | None = None
    _pb: torch.Tensor | None = None
    _pwc: torch.Tensor | None = None

    def __init__(self, in_ch: int, out_ch: int, kernel: int, gain: float = SQRT2, bias: bool = True,
                 mode: str | None = None, fused: bool = True) -> None:
        super().__init__()
        assert mode in (None, "up", "down")
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = gain / math.sqrt(in_ch * kernel * kernel)
        self.mode = mode
        self.fused = fused and kernel == 3
        self.pad = kernel // 2
        self._pw: torch.Tensor | None = None     # see EqLinear
        self._pb: torch.Tensor | None = None
        self._pwc: torch.Tensor | None = None    # a fused layer's convolution weight made by FlatWeights (fused_weight)

    @property
    def fused_kernel(self) -> bool:
        """Whether the forward builds a 4x4 kernel from the 3x3 weight (fused up/down)."""
        return self.fused and self.mode is not None

    def fused_weight(self) -> torch.Tensor:
        """A fused layer's convolution weight, fp32: the 4x4 kernel, flipped and transposed for 'up'.

        The fused 4x4 kernel: the mean of the 3x3 kernel at its 4 one-pixel shifts (times 4 for 'up', folded into the
        scale: a power of two, so exact), one avg-pool instead of pad + 4 slices + 3 adds. The same function (its
        sums are taken in another order: equal up to float rounding), but its backward is one kernel instead of 4
        zero-filled slice_backward copies and 3 adds per use (benchmarks/roofline.py, 32x32 at width 256: 240 fewer
        kernels per iteration, 12% less memory traffic). conv_transpose2d wants [in, out, kh, kw]; flipping makes
        it the exact adjoint of the unfused op."""
        w = self.weight * (self.scale * 4.0 if self.mode == "up" else self.scale) if self._pw is None else self._pw
        w = F.avg_pool2d(F.pad(w, (1, 1, 1, 1)), 2, stride=1)
        return w.flip(2, 3).transpose(0, 1) if self.mode == "up" else w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused_kernel:
            # (made once per FlatWeights block, which may serve several forwards; else here, per forward)
            w = self._pwc if self._pwc is not None else self.fused_weight()
            if self.mode == "up":
                x = F.conv_transpose2d(x, w, stride=2, padding=1)
            else:
                x = F.conv2d(x, w, stride=2, padding=1)
        else:
            w = self.weight * self.scale if self._pw is None else self._pw
            if self.mode == "up":
                x = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), w, padding=self.pad)
            elif self.mode == "down":
                x = F.avg_pool2d(F.conv2d(x, w, padding=self.pad), 2)
            else:
                x = F.conv2d(x, w, padding=self.pad)
        b = self.bias if self._pb is None else self._pb
        if b is not None:
            # in x's dtype: under bf16 autocast an fp32 bias would promote every activation back to fp32 (and
            # autograd would keep both copies); in fp32, and for FlatWeights' bf16 bias, the cast is a no-op
            x = x + b.to(x.dtype).view(1, -1, 1, 1)
        return x


class FlatWeights:
    """The run-time weights of a list of equalised layers made in three kernels instead of two or three per tensor.

    Why: each EqLinear / EqConv2d forward multiplies its weight by its scale and, under bf16 autocast, casts the
    weight and the bias: small kernels whose launch costs more than their work. In the training loop's low-resolution
    phases these were about a third of an iteration's kernels (benchmarks/RESULTS.md, 2026-12-01), and their backward
    passes as many again. `applied(dtype)` instead concatenates every tensor into one vector, multiplies it by the
    per-element scales (one kernel) and casts it (one), and each layer's forward takes its view of the result: the
    same values as the layers' own arithmetic, since weight * scale and the cast are elementwise. Its backward is one
    cast, one multiply and one concatenation, and the weights' gradients are views of one buffer.

    The fused up/down convolutions keep their weight out of the vector: their 4x4 kernel is built in fp32 from the
    scaled weight (an average of four shifted copies), and casting before that sum would round differently. The
    block builds it (EqConv2d.fused_weight) and casts it once, where each forward built it (four kernels, and as
    many in the backward): a block may serve several forwards with the same weights (the training loop's D step
    and G step share G's, the D step's critic passes D's). Their biases are in the vector. A block must be entered
    with grad enabled if any forward inside it needs the weights' gradients (what it makes under no_grad has no graph).
    Only layers that the forwards inside the block use may be listed: a listed layer that is not used would get a
    zero gradient instead of none (with the paper's beta1 = 0 and the Adam reset per phase that moves no weight, but
    it changes Adam's second moment, DDP's traffic, and with momentum it would move the weight).
    The values are used only inside the `applied` block, so a later forward (after an optimiser step) sees the new
    weights; a block nested in another over the same layers gives them back to the outer one when it ends.
    Works with channels_last weights (their NHWC order is contiguous, so flattening is a view)."""

    # each view (weight or bias) starts at a multiple of this many elements (16 bytes in bf16) in the vector
    ALIGN = 8

    def __init__(self, layers: Sequence[EqLinear | EqConv2d]) -> None:
        self.layers = list(layers)
        self._scale: torch.Tensor | None = None     # the per-element scales, built on first use on the weights' device
        self._zeros: torch.Tensor | None = None     # what pads a tensor of another size to the next aligned offset

    def _tensors(self) -> list[tuple[EqLinear | EqConv2d, str, torch.Tensor]]:
        # every weight before every bias: interleaved, a 3-element to_rgb bias put the next weight 3 elements off, a
        # misaligned view handed to cuDNN (values the same either way). Every tensor whose element count is no
        # multiple of ALIGN (to_rgb's 3-element bias; a --width of 20 makes to_rgb's weight 60 and each bias 20) is
        # followed by zeros up to the next aligned offset (_pads), so that every view starts 16 bytes aligned in bf16;
        # with weights first, the presets need such zeros only after the to_rgb biases.
        weights = [(m, "w", m.weight) for m in self.layers if not (isinstance(m, EqConv2d) and m.fused_kernel)]
        biases = [(m, "b", m.bias) for m in self.layers if m.bias is not None]
        return weights + biases

    def _pads(self, items: list[tuple[EqLinear | EqConv2d, str, torch.Tensor]]) -> list[int]:
        """The zeros after each item but the last: up to the next multiple of ALIGN elements. Biases too: an
        EqLinear's bias view goes to cuBLASLt as its epilogue's bias pointer, whose alignment its kernel choice does
        not check (a view 8 bytes off, as D's dense0 bias at --width 20 or 100 in a fade, can fault with 'misaligned
        address' on some GPUs: pytorch/pytorch#194497)."""
        return [-t.numel() % self.ALIGN if i + 1 < len(items) else 0 for i, (_, _, t) in enumerate(items)]

    @staticmethod
    def _flat(t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
            return t.permute(0, 2, 3, 1).reshape(-1)
        return t.reshape(-1)

    @staticmethod
    def _unflat(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if like.dim() == 4 and not like.is_contiguous() and like.is_contiguous(memory_format=torch.channels_last):
            o, i, kh, kw = like.shape
            return v.view(o, kh, kw, i).permute(0, 3, 1, 2)
        return v.view(like.shape)

    def _scales(self, items: list[tuple[EqLinear | EqConv2d, str, torch.Tensor]], pads: list[int]) -> torch.Tensor:
        n = sum(t.numel() for _, _, t in items) + sum(pads)
        dev = items[0][2].device
        if self._scale is None or self._scale.device != dev or self._scale.numel() != n:
            # made on the device (fill kernels, no host-to-device copy, which a CUDA graph capture would refuse);
            # remade if the layers changed (a fused flag, a shape), which would otherwise be a size mismatch
            parts = []
            for (m, kind, t), pad in zip(items, pads):
                parts.append(torch.full((t.numel(),), m.scale if kind == "w" else 1.0, dtype=torch.float32,
                                        device=dev))
                if pad:
                    parts.append(torch.zeros(pad, dtype=torch.float32, device=dev))
            self._scale = torch.cat(parts)
        return self._scale

    def _pieces(self, items: list[tuple[EqLinear | EqConv2d, str, torch.Tensor]], pads: list[int]
                ) -> list[torch.Tensor]:
        """The flattened tensors with their pads between them, for one concatenation."""
        out = []
        for (_, _, t), pad in zip(items, pads):
            out.append(self._flat(t))
            if pad:
                if self._zeros is None or self._zeros.device != t.device or self._zeros.dtype != t.dtype:
                    self._zeros = torch.zeros(self.ALIGN, dtype=t.dtype, device=t.device)   # (made once)
                # (narrow, not [:pad]: Python indexing takes a device guard, which the fake CUDA tensors of
                # tests/unit/training/test_cuda_branches_on_cpu.py cannot have on a CPU build)
                out.append(self._zeros.narrow(0, 0, pad))
        return out

    @contextmanager
    def applied(self, dtype: torch.dtype = torch.float32) -> Iterator[None]:
        """Inside the block, the listed layers' forwards use weights and biases of `dtype` made here."""
        items = self._tensors()
        if not items:
            yield
            return
        pads = self._pads(items)
        flat = torch.cat(self._pieces(items, pads))
        flat = (flat * self._scales(items, pads)).to(dtype)
        sizes = [n for (_, _, t), pad in zip(items, pads) for n in ((t.numel(), pad) if pad else (t.numel(),))]
        views = iter(flat.split(sizes))
        # an enclosing block's, given back at the end
        outer = [(m._pw, m._pb, getattr(m, "_pwc", None)) for m in self.layers]
        try:
            for (m, kind, t), pad in zip(items, pads):
                v = next(views)
                if pad:
                    next(views)                                  # (the zeros)
                if kind == "w":
                    m._pw = self._unflat(v, t)
                else:
                    m._pb = v
            for m in self.layers:
                if isinstance(m, EqConv2d) and m.fused_kernel:
                    m._pwc = m.fused_weight().to(dtype)      # (the cast autocast makes in the convolution, once)
            yield
        finally:
            for m, (pw, pb, pwc) in zip(self.layers, outer):
                m._pw, m._pb = pw, pb
                if isinstance(m, EqConv2d):
                    m._pwc = pwc


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, sub_batch: int | None = None) -> torch.Tensor:
    """Append one channel: the mean over C,H,W of the per-group stddev (spec 1.2, exact TF grouping).

    Group members are strided (samples m, m + N/G, ...), which `view(G, -1, ...)` reproduces. The batch size must
    be divisible by the group size; group_size=1 makes every image independent of its batch mates (std = 1e-4).
    `sub_batch` = B treats x as N/B independent minibatches of B stacked along dim 0, each grouped as above: one
    large forward then computes exactly what N/B forwards of B would (scoring on a GPU in batches of 64 x 16).
    """
    n, c, h, w = x.shape
    if n == 0:                                         # (no groups; the checks below would divide by 0)
        return torch.cat([x, x[:, :1]], dim=1)
    one = sub_batch is None or sub_batch >= n          # one minibatch (a Python bool, also while tracing)
    b = n if one else sub_batch
    if n % b:
        raise ValueError(f"minibatch-stddev: batch size {n} is not a multiple of the sub-batch {b}")
    g = min(group_size, b)
    if b % g:
        raise ValueError(f"minibatch-stddev: batch size {b} is not divisible by the group size {g}")
    # Every image its own group in one minibatch (isolated scoring, the ONNX export): the same tensors as the view
    # below, by indexing. A traced graph keeps the view's shape arithmetic, n // n, a division by zero on an empty
    # batch, and ONNX's Reshape reads a 0 in a target shape as "keep the input's size there".
    alone = one and g == 1
    k = 1 if one else n // b
    y = x.float()[None, None] if alone else x.float().view(k, g, -1, c, h, w)   # [K, G, M, C, H, W]
    if x.device.type in VAR_STDDEV_DEVICES and kernels_from_env() == "auto":
        var = torch.var(y, dim=1, correction=0)
    else:
        y = y - y.mean(dim=1, keepdim=True)
        var = y.square().mean(dim=1)
    y = torch.sqrt(var + 1e-8)                         # [K, M, C, H, W] population std over the group
    y = y.mean(dim=(2, 3, 4)).to(x.dtype)              # [K, M]
    if alone:
        y = y[0, :, None, None, None].expand(-1, 1, h, w)
    else:
        y = y.view(k, 1, -1, 1, 1, 1).expand(k, g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """a + (b - a) * t. In fades, t = frac(lod) is the weight of the old (lower-resolution) path."""
    return a + (b - a) * t


def upsample2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def downsample2(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)
