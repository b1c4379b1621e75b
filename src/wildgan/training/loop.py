"""The joint training loop of the proposed method (spec 3.2): per iteration a D step (+ Gs EMA), a G step and an
E step, on a progressive schedule that is a pure function of the number of real images shown.

Where to look, in file order:
  build_pyramid, process_reals     the training images on the device, and real images faded like G's output
  d_step, ema_update, g_step, e_step   one iteration, written plainly: the reference for what the steps compute
  g_forward ... FastOptions        the fast path's functional forwards (bf16 autocast, channels_last, torch.compile)
                                   and the layers each uses at a phase (g_layers, trunk_layers: for FlatWeights);
                                   compile_limits, torch._dynamo's limits raised while training runs (train_pgan's
                                   loop), or around each compiled forward a caller of StepRunner runs outside it
  StepRunner                       one iteration as train_pgan runs it: iteration() draws the minibatch and latents,
                                   then the plain steps above (_plain_iteration), or _body (the same maths on the
                                   fast path, optionally data-parallel, captured whole as a CUDA graph on a GPU)
  TrainState, _save, _restore      what a checkpoint holds
  train_pgan                       the loop: setup / resume, then rounds of `minibatch_repeats` iterations at one
                                   schedule phase, a stats row every `log_every` iterations, a checkpoint and the
                                   stop checks (signal, --minutes) between rounds; the final networks at the end
  _StatsLog, _stats_row, _eta      stats.jsonl / TensorBoard rows and the progress bar's ETA

Everything a run writes goes to its run directory:
  stats.jsonl               one JSON row per `log_every` iterations (losses, kimg, resolution, img/s, memory)
  log.txt                   human-readable log
  checkpoints/ckpt-*.{safetensors,json}   periodic, atomic, checksummed; the newest good one is used by --resume
  network-final.{safetensors,json}        the trained networks (written when the schedule or budget ends)
  samples/fakes-*.png       Gs samples for a fixed set of latents
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
import traceback
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import u8_to_unit
from .. import checkpoint as ckpt
from ..config import (NetConfig, RunConfig, TrainConfig, kernels_from_env, largest_minibatch, paper_total_kimg,
                      run_config_to_dict, threads_record)
from ..errors import (DataError, DivergenceError, TrainingInterrupted, WildganError, left_after_training,
                      option_words, resume_advice, stop_words, warn_user)
from ..fileio import atomic_write_stream, full_disk_named, truncate_jsonl
from ..losses import critic_loss, encoder_image_loss, encoder_latent_loss, generator_image_loss, generator_loss
from ..nets import PGANNetworks, build_pgan
from ..nets import layers
from ..nets.layers import FlatWeights, downsample2, lerp, lrelu, pixel_norm, upsample2
from ..devices import caller_torch_state_kept, resolve_device
from .data_placement import (BatchSampler, data_device, data_on_gpu_setting, host_gather, pyramid_bytes,
                             tell_host_placement)
from .distributed import processes_record
from .divergence import halve_lr, rollback_checkpoint
from .resume import (StopFlag, all_finite, install_signals, quiet_log, restore_generator, stop_on_signals,
                     thread_count_change)
from .schedule import (Phase, end_of_rounds, kimg_text, kimg_to_the_image, lod_at, not_grown_text, schedule,
                       schedule_work)
from .tblog import TensorBoardLog

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------------------------------
# Data on the device: a uint8 resolution pyramid, sampled in a seeded order that crosses epoch boundaries.

PYRAMID_CHUNK_BYTES = 2**26    # float bytes per chunk of build_pyramid (the float copy of a whole set is 4x its size)


def build_pyramid(x_nhwc: np.ndarray, device: torch.device) -> dict[int, torch.Tensor]:
    """{res: uint8 [N, C, res, res]}: each level is the exact box average of the full image, rounded (spec 1.5).

    Levels are computed in chunks of PYRAMID_CHUNK_BYTES of floats (the same values, each image is pooled alone), so
    that building them needs the pyramid plus one chunk, not a float copy of the whole set.

    In host memory the full-resolution level is x_nhwc itself, seen as NCHW (no copy: a pile of photos is the
    largest thing training holds, and the caller keeps x_nhwc for the training scores anyway); minibatches are
    gathered with index_select, whose result is contiguous whatever the source's strides. On a GPU it is a
    contiguous copy made chunk by chunk (no host-side NCHW copy of the whole set either)."""
    full = torch.from_numpy(np.ascontiguousarray(x_nhwc)).permute(0, 3, 1, 2)
    n, c, res = full.shape[0], full.shape[1], full.shape[-1]
    chunk = max(1, PYRAMID_CHUNK_BYTES // (full[:1].numel() * 4))
    if device.type == "cpu":
        top = full
    else:
        top = torch.empty((n, c, res, res), dtype=torch.uint8, device=device)
        for a in range(0, n, chunk):
            top[a:a + chunk].copy_(full[a:a + chunk].contiguous())
    pyr = {res: top}
    f = 2
    while res // f >= 4:
        level = torch.empty((n, c, res // f, res // f), dtype=torch.uint8)
        for a in range(0, n, chunk):
            # contiguous first: pooling a channels-last view could sum in another order (a .5 rounding flip)
            level[a:a + chunk] = F.avg_pool2d(full[a:a + chunk].contiguous().float(), f).round().clamp(0, 255)
        pyr[res // f] = level.to(device)
        f *= 2
    return pyr


def u8_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] NCHW -> float [-1, 1] (data.transforms.u8_to_unit, the one pixel rule)."""
    return u8_to_unit(x)


def process_reals(x_u8: torch.Tensor, fade: float) -> torch.Tensor:
    """Real images are faded like G's output: lerp(x, up2(avgpool2(x)), t). Forgetting this is a common bug."""
    x = u8_to_float(x_u8)
    if fade > 0:
        x = lerp(x, upsample2(downsample2(x)), fade)
    return x


# ------------------------------------------------------------------------------------------------------------------
# Optimisers, and one iteration written plainly, split into its steps so that each can be tested on its own: the
# reference that the fast path below must match.

def make_optimizer(params: Iterator[torch.nn.Parameter], cfg: TrainConfig, lr: float, **kw: Any) -> torch.optim.Adam:
    """Adam(beta1, beta2, eps) of the spec; `kw` (fused=, capturable=) only selects the implementation."""
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps, **kw)


def make_optimizers(nets: PGANNetworks, tc: TrainConfig, fast: FastOptions, device: torch.device,
                    lr: float | None = None) -> dict[str, torch.optim.Optimizer]:
    """Adam for G, D (and E). On CUDA the fast path uses the fused implementation (capturable when graphed)."""
    kw: dict[str, Any] = {}
    if fast.active and device.type == "cuda":
        kw["fused"] = True
        if fast.cuda_graphs:
            kw["capturable"] = True
    lr = tc.lr if lr is None else lr
    opts = {"G": make_optimizer(nets.G.parameters(), tc, lr, **kw),
            "D": make_optimizer(nets.D.parameters(), tc, lr, **kw)}
    if tc.encoder_loss != "none":
        opts["E"] = make_optimizer(nets.E.parameters(), tc, lr, **kw)
    return opts


def d_step(nets: PGANNetworks, opt: torch.optim.Optimizer, reals: torch.Tensor, z: torch.Tensor, u: torch.Tensor,
           lod: float, cfg: TrainConfig, grad_scale: float) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        fake = nets.G(z, lod)                  # no graph through G: the D step cannot change G
    critic = lambda x: nets.D(x, lod)          # noqa: E731
    loss, terms = critic_loss(critic, reals, fake, gp_lambda=cfg.gp_lambda, gp_target=cfg.gp_target,
                              drift=cfg.drift, grad_scale=grad_scale, u=u)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return terms


def ema_beta_at(tc: TrainConfig, iteration: int) -> float:
    """The Gs EMA coefficient of iteration `iteration` (0-based): TrainConfig.ema_beta, warmed up if ema_warmup."""
    if not tc.ema_warmup:
        return tc.ema_beta
    return min(tc.ema_beta, (1.0 + iteration) / (10.0 + iteration))


@torch.no_grad()
def ema_update(Gs: torch.nn.Module, G: torch.nn.Module, beta: float,
               params: tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]] | None = None) -> None:
    """Gs <- beta * Gs + (1 - beta) * G for every parameter (weights and biases; G has no buffers).

    `params`: (Gs's, G's) parameter lists kept by the caller. Listing them walks every submodule: 55-140 us of host
    time per call for the paper's G, against 22-28 us for the lerp itself (benchmarks/host_overhead.py), and at 4x4 a
    graphed iteration's GPU time is about 1 ms."""
    gs, g = params if params is not None else (list(Gs.parameters()), list(G.parameters()))
    torch._foreach_lerp_(gs, g, 1.0 - beta)


def g_step(nets: PGANNetworks, opt: torch.optim.Optimizer, z: torch.Tensor, lod: float,
           image_weight: float = 0.0) -> dict[str, torch.Tensor]:
    """-D(G(z)), plus image_weight * d_I where TrainConfig.g_image_loss asks for it (spec 7 row 3's ablation).

    d_I in G's loss is the paper's joint objective for G: the same z as the adversarial term (no latent drawn, so the
    random stream is the one without the ablation), and the gradient of |G(z) - G(E(G(z)))| reaches G along every
    path: through G(z) itself, through E's input G(z), and through G(E(G(z))). Detaching either G(z) would be a
    choice of ours that the paper does not make. E is frozen here, as D is: its weights move by its own step only,
    so the E step stays the released code's. G/loss logs the whole loss G minimises, G/d_I the unweighted term."""
    nets.D.requires_grad_(False)               # D gets no gradients from the G loss
    if image_weight:
        nets.E.requires_grad_(False)           # nor E from d_I in it (E has its own step)
    try:
        fake = nets.G(z, lod)
        loss, terms = generator_loss(lambda x: nets.D(x, lod), fake)
        if image_weight:
            add, t_img = generator_image_loss(fake, nets.G(nets.E(fake, lod), lod), image_weight)
            loss = loss + add
            terms.update(t_img, **{"G/loss": loss.detach()})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    finally:
        nets.D.requires_grad_(True)
        if image_weight:
            nets.E.requires_grad_(True)
    return terms


def e_step(nets: PGANNetworks, opt: torch.optim.Optimizer, z: torch.Tensor, lod: float,
           encoder_loss: str) -> dict[str, torch.Tensor]:
    """d_I (or d_z) updates E only: the first G(z) is detached and G is frozen, so nothing leaks into G."""
    with torch.no_grad():
        x = nets.G(z, lod)
    nets.G.requires_grad_(False)
    try:
        z_hat = nets.E(x, lod)
        if encoder_loss == "image":
            loss, terms = encoder_image_loss(x, nets.G(z_hat, lod))
        else:
            loss, terms = encoder_latent_loss(z, z_hat)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    finally:
        nets.G.requires_grad_(True)
    terms["E/z_norm"] = z_hat.detach().norm(dim=1).mean()
    return terms


# ------------------------------------------------------------------------------------------------------------------
# Fast path: the same iteration as d_step / ema_update / g_step / e_step above, restructured so that it can
# run with bf16 autocast, channels_last, torch.compile and whole-iteration CUDA graphs, with no host sync.
#
# Precision (amp="bf16"): autocast covers the G, D and E forwards of all three steps (and hence their backward
# passes). Kept in fp32: the gradient penalty's critic evaluation on x_hat, its input gradient, the gradient norm and
# the double backward through it (autocast is switched off for that D call, unless gp_precision="amp": bf16 double
# backward is less accurate, see config.TrainConfig.gp_precision); every loss and logged term (network outputs are
# cast to fp32 before any loss arithmetic); D's last (1-output) dense layer; x_hat = real + u (fake - real) (the bf16
# fake is cast to fp32 first); minibatch-stddev (layers.py computes it in fp32); the parameters, gradients, Adam
# moments and the Gs EMA (autocast never changes them). "fp32" on CUDA means PyTorch's defaults: fp32 matmuls (dense
# layers) are true fp32, but cuDNN convolutions in fp32 may use TF32 tensor cores (torch.backends.cudnn.allow_tf32, on
# by default), so the gradient penalty's convolutions run with a 10-bit mantissa, like the TF1 code on Ampere+ cards
# would. We keep that default (full-fp32 convolutions would make the GP's double backward several times slower); set
# torch.backends.cudnn.allow_tf32 = False before training for strict fp32.
#
# The fade weight t = frac(lod) is a 0-dim device tensor, not a Python float, so a captured CUDA graph or a compiled
# region stays valid through a whole fade-in (lod changes every round). The networks' own forward() takes lod as a
# Python float, so the fast path uses the functional forwards below: the same submodules, the same ops in the same
# order (tests/unit/training/test_fast_path.py checks that they are bit-identical to G/D/E.forward at several lods).
#
# Run-time weights: on the fast path (unless compiled) each G/D/E forward runs inside its network's
# nets.layers.FlatWeights block (StepRunner._weights): the weights * scales and their bf16 casts are made for all the
# layers of the phase at once, three kernels, instead of by each layer. The same values; fewer kernel launches.

def _lerp_t(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return lerp(a, b, t)  # type: ignore[arg-type]   # a + (b - a) * t works for a 0-dim tensor t


def g_forward(G: torch.nn.Module, z: torch.Tensor, r_cur: int, fading: bool, t: torch.Tensor) -> torch.Tensor:
    """Generator.forward with the current level r_cur (resolution 2^r_cur) and fade weight t given separately."""
    x = pixel_norm(lrelu(G.dense_maps(pixel_norm(z))))
    h = pixel_norm(lrelu(G.conv4(x)))
    h_prev = h
    for r in range(3, r_cur + 1):
        h_prev = h
        h = pixel_norm(lrelu(G.up[str(r)](h)))
        h = pixel_norm(lrelu(G.conv[str(r)](h)))
    img = G.to_rgb[str(r_cur)](h)
    if fading and r_cur > 2:
        img = _lerp_t(img, upsample2(G.to_rgb[str(r_cur - 1)](h_prev)), t)
    return img


def trunk_features(net: torch.nn.Module, img: torch.Tensor, r_cur: int, fading: bool,
                   t: torch.Tensor) -> torch.Tensor:
    """_Trunk.features (D and E) with r_cur and a tensor fade weight."""
    x = lrelu(net.from_rgb[str(r_cur)](img))
    for r in range(r_cur, 2, -1):
        x = lrelu(net.conv[str(r)](x))
        x = lrelu(net.down[str(r)](x))
        if r == r_cur and fading:
            x = _lerp_t(x, lrelu(net.from_rgb[str(r_cur - 1)](downsample2(img))), t)
    return x


def d_forward(D: torch.nn.Module, img: torch.Tensor, r_cur: int, fading: bool, t: torch.Tensor,
              sub_batch: int | None = None) -> torch.Tensor:
    """D's critic; `sub_batch`: img is several minibatches stacked, each scored as if alone (Trunk.head_input)."""
    x = lrelu(D.dense0(D.head_input(trunk_features(D, img, r_cur, fading, t), sub_batch)))
    # The 1-output critic layer runs in fp32 under autocast: the loss gradient reaching D's output is
    # (-1 + 2 * drift * D(x)) / N, and in bf16 the drift part (~1e-3) is rounded away, so D's last bias never moved.
    with torch.autocast(device_type=x.device.type, enabled=False):
        return D.dense1(x.float()).squeeze(1)


def e_forward(E: torch.nn.Module, img: torch.Tensor, r_cur: int, fading: bool, t: torch.Tensor) -> torch.Tensor:
    return lrelu(E.dense0(E.head_input(trunk_features(E, img, r_cur, fading, t))))


def g_layers(G: torch.nn.Module, r_cur: int, fading: bool) -> list[torch.nn.Module]:
    """The equalised layers g_forward uses at (r_cur, fading), for FlatWeights (which must list only used layers)."""
    out = [G.dense, G.conv4]
    for r in range(3, r_cur + 1):
        out += [G.up[str(r)], G.conv[str(r)]]
    out.append(G.to_rgb[str(r_cur)])
    if fading and r_cur > 2:
        out.append(G.to_rgb[str(r_cur - 1)])
    return out


def trunk_layers(net: torch.nn.Module, r_cur: int, fading: bool) -> list[torch.nn.Module]:
    """The equalised layers d_forward / e_forward use under autocast at (r_cur, fading): D's 1-output layer is left
    out, as it runs in fp32 (d_forward)."""
    out = [net.from_rgb[str(r_cur)]]
    if fading and r_cur > 2:
        out.append(net.from_rgb[str(r_cur - 1)])
    for r in range(r_cur, 2, -1):
        out += [net.conv[str(r)], net.down[str(r)]]
    return out + [net.conv4, net.dense0]


def process_reals_t(x_u8: torch.Tensor, fading: bool, t: torch.Tensor) -> torch.Tensor:
    """process_reals with a tensor fade weight."""
    x = u8_to_float(x_u8)
    if fading:
        x = _lerp_t(x, upsample2(downsample2(x)), t)
    return x


@dataclass(frozen=True)
class FastOptions:
    """Resolved fast-path switches for one device (TrainConfig.amp / channels_last / compile / cuda_graphs)."""

    amp: torch.dtype | None = None        # autocast dtype of the G/D/E forwards, None = fp32
    channels_last: bool = False
    compile: str = "off"
    cuda_graphs: bool = False

    @property
    def active(self) -> bool:
        return self.amp is not None or self.channels_last or self.compile != "off" or self.cuda_graphs


def resolve_fast_options(tc: TrainConfig, device: torch.device, distributed: bool = False) -> FastOptions:
    cuda = device.type == "cuda"
    amp = {"auto": torch.bfloat16 if cuda else None, "off": None, "bf16": torch.bfloat16}[tc.amp]
    cl = cuda if tc.channels_last is None else bool(tc.channels_last)
    graphs = tc.cuda_graphs
    if graphs is None:
        graphs = cuda and not distributed and tc.compile != "reduce-overhead"
    if graphs and not cuda:
        raise WildganError("cuda_graphs=true needs a CUDA device")
    if graphs and distributed:
        raise WildganError(f"cuda_graphs=true is not supported with {option_words('--distributed', 'torchrun')} "
                           f"(collectives inside captured graphs are untested); leave it unset")
    return FastOptions(amp=amp, channels_last=cl, compile=tc.compile, cuda_graphs=bool(graphs))


class DeviceBatchSampler(BatchSampler):
    """BatchSampler (the same order) whose minibatch indices are slices of a device copy of each epoch's permutation:
    one non-blocking upload per epoch from pinned memory instead of a blocking host-to-device copy per iteration."""

    def __init__(self, n: int, seed: int, epoch: int = 0, pos: int = 0, device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        super().__init__(n, seed, epoch, pos)

    def _make_perm(self) -> np.ndarray:
        perm = super()._make_perm()
        t = torch.from_numpy(perm)
        if self.device.type == "cuda":
            # the caching host allocator keeps the pinned block until the copy has completed
            t = t.pin_memory().to(self.device, non_blocking=True)
        self._perm_dev = t
        return perm

    def next_device(self, b: int) -> torch.Tensor:
        out = self._walk(b, lambda: self._perm_dev)
        return out[0] if len(out) == 1 else torch.cat(out)


# torch._dynamo's per-function and process-wide recompile limits, each as (its current name, its older name, which
# newer torch keeps as an alias of it)
_COMPILE_LIMITS = (("recompile_limit", "cache_size_limit"),
                   ("accumulated_recompile_limit", "accumulated_cache_size_limit"))


@functools.lru_cache(maxsize=None)
def _compile_limit_names() -> tuple[str, ...]:
    """One name of each pair, whichever this torch has (the two of an alias pair are one setting); looked up once, as
    compile_limits may run around every call of a compiled forward (_within_compile_limits)."""
    import torch._dynamo

    cfg = torch._dynamo.config
    return tuple(n for new, old in _COMPILE_LIMITS for n in ((new,) if hasattr(cfg, new) else (old,))
                 if hasattr(cfg, n))


# the limits the training forwards compile under, and how many compile_limits blocks of at least that are open (nested
# ones count): a compiled forward called inside one finds them raised already and calls straight through
# (_within_compile_limits)
_FORWARD_LIMIT = 256
_limits_held = 0


@contextmanager
def compile_limits(at_least: int = _FORWARD_LIMIT) -> Iterator[None]:
    """torch._dynamo's recompile limits raised to at least `at_least` inside the block, and the caller's values put
    back after it, on an exception too. One graph per (network, resolution, fading, requires_grad pattern) is far more
    than dynamo's default limit of 8, past which it would run the forwards uncompiled; but the limits are the
    process's, and a user's own torch.compile after training must find the ones it had. train_pgan holds one block
    for its whole loop: entering one costs 10-20 us (dynamo's config set and put back), too much for every forward
    call (benchmarks/compile_limits_overhead.py)."""
    global _limits_held
    import torch._dynamo

    cfg = torch._dynamo.config
    before = {n: getattr(cfg, n) for n in _compile_limit_names()}
    held = False
    try:
        for n, v in before.items():
            setattr(cfg, n, max(at_least, v))
        if at_least >= _FORWARD_LIMIT:
            _limits_held, held = _limits_held + 1, True
        yield
    finally:
        if held:
            _limits_held -= 1
        for n, v in before.items():
            setattr(cfg, n, v)


def _within_compile_limits(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (a torch.compile'd forward) run with compile_limits raised. Dynamo compiles inside the call, so the raised
    limits hold whenever a forward may compile, whoever calls it (train_pgan, the benchmarks, a CUDA graph's capture),
    and nowhere else; a replayed CUDA graph does not call it at all. Inside an open compile_limits block (train_pgan's,
    around its loop) the call goes straight to `fn`; elsewhere (a StepRunner driven by a benchmark) each call opens
    its own block, as the forwards did before train_pgan held one."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _limits_held:
            return fn(*args, **kwargs)
        with compile_limits(_FORWARD_LIMIT):
            return fn(*args, **kwargs)

    return call


def _match_state_layout(opts: dict[str, torch.optim.Optimizer]) -> None:
    """Adam moments restored from a (contiguous) checkpoint get their parameter's memory format back."""
    for opt in opts.values():
        for p, st in opt.state.items():
            for k, v in list(st.items()):
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p).copy_(v)


# ------------------------------------------------------------------------------------------------------------------
# One iteration as train_pgan runs it, on the plain or the fast path.

class GraphMismatch(RuntimeError):
    """A captured iteration's replay differed from eager beyond the check's tolerance (raised with
    WILDGAN_STRICT_GRAPHS=1). A class of its own, for benchmarks/cuda_preflight.py to tell it from a capture that
    failed: a mismatch just over the tolerance, or of a nondeterministic kernel, need not repeat in a fresh process."""


class StepRunner:
    """One training iteration: sample the minibatch and latents, D step (+ Gs EMA), G step, E step.

    plain mode (no fast option, one process): exactly the reference d_step / ema_update / g_step / e_step.
    fast mode (_body): the same maths with the FastOptions, optionally data-parallel (`dist`, see distributed.py),
    optionally captured as one CUDA graph per phase (_graph_iteration).
    Random numbers are drawn from `rng` in the same order as the plain path (z_D, u, z_G, z_E, each over the global
    minibatch), so both modes see the same minibatches and latents.

    The pyramid normally lives on `device`, and a minibatch is an index_select there. A pyramid left in host memory
    (train_pgan does that when the images would not fit beside the networks on the GPU) is `host_data`: each
    minibatch is gathered on the host and copied over, outside any CUDA graph (the graph gets the images as its
    input instead of their indices). The same images either way, so the same training."""

    def __init__(self, nets: PGANNetworks, opts: dict[str, torch.optim.Optimizer], tc: TrainConfig, nc: NetConfig,
                 device: torch.device, pyramid: dict[int, torch.Tensor], rng: torch.Generator,
                 fast: FastOptions | None = None, dist: Any = None, log: Log = print, force_fast: bool = False,
                 epoch: int = 0, pos: int = 0, n: int | None = None, host_data: bool | None = None) -> None:
        self.nets, self.opts, self.tc, self.nc, self.device = nets, opts, tc, nc, device
        self.pyramid, self.rng, self.log = pyramid, rng, log
        self.fast = fast or FastOptions()
        self.dist = dist if dist is not None and dist.world > 1 else None
        self.fast_mode = self.fast.active or self.dist is not None or force_fast
        self.use_encoder = tc.encoder_loss != "none"
        self.n = n if n is not None else next(iter(pyramid.values())).shape[0]
        # None: whether the pyramid is on another kind of device than the training (by type: a pyramid on "cuda:0" is
        # on the training device "cuda"); the tests pass True on the CPU to run the host path
        self.host_data = (next(iter(pyramid.values())).device.type != device.type) if host_data is None else host_data
        self.reset_sampler(epoch, pos)
        self._phase: Phase | None = None
        self._t = torch.zeros((), device=device)
        self._graph: Any = None
        self._graph_key: Any = None
        self._graphs_on = self.fast.cuda_graphs
        self._bad_keys: set[Any] = set()             # graph keys whose replay did not match eager: run them eagerly
        self._rows: dict[int, tuple[np.ndarray, torch.Tensor]] = {}    # _local_rows per minibatch size
        # fast mode: D(real) and D(fake) of the D step in one forward (losses.critic_loss's critic_pair); False gives
        # two forwards as the plain path (benchmarks/bench.py --separate-critic, the A/B of this). Off with
        # WILDGAN_KERNELS=plain, on every device: the same values only up to float rounding (cuDNN picks its
        # algorithms for the stacked batch, D's weight gradient is summed over both halves in one bf16 output), and no
        # GPU has run it yet, where the two passes are the iteration that ran the paper's schedule on an H200
        # (benchmarks/RESULTS.md, 2026-11-30): the fallback leaves no untried fast path that could be the fault.
        self.pair_critic = kernels_from_env() == "auto"
        # fast mode: each network's run-time weights made once per forward in three kernels (nets.layers.FlatWeights)
        # instead of per layer; False gives the layers' own arithmetic (bench.py --layer-weights, the A/B of this).
        # On CUDA only (nets.layers.FLAT_WEIGHTS_DEVICES), where a kernel launch costs more than these kernels' work:
        # on the CPU (the fast path with --amp bf16, --channels-last on or DDP) it measured 0-15% slower at low
        # resolution (benchmarks/RESULTS.md, 2026-12-02). Not with torch.compile, which fuses that arithmetic itself
        # and would guard on the tensors. Nor with WILDGAN_KERNELS=plain (config.kernels_from_env).
        self.flat_weights = (self.fast.compile == "off" and self.device.type in layers.FLAT_WEIGHTS_DEVICES
                             and kernels_from_env() == "auto")
        self._flat: dict[tuple[str, int, int, bool], FlatWeights] = {}
        self._ema_key: tuple[int, int] | None = None  # (Gs, G) whose parameter lists _ema_params holds
        self._ema_params: Any = None
        # Compiled and data-parallel: the phases (resolution, fading, batch) an iteration has run at, whose forwards
        # and backwards dynamo has compiled, and whether the iteration in progress is the first at its phase. In that
        # one the ranks meet at a barrier of the CPU (gloo) group before each gradient all-reduce (_reduce): each
        # rank compiles on its own, for seconds to many minutes (max-autotune), and a rank done first would otherwise
        # wait for the slowest inside the all-reduce, on NCCL, whose timeout (torch's 10 minutes, or --dist-timeout)
        # its watchdog enforces by killing the process without a word of ours. At the barrier the wait counts against
        # the CPU group's timeout (--dist-timeout, 30 minutes by default), and one that runs out is told as such in
        # log.txt (distributed.record_no_answer). A barrier per all-reduce, not one per iteration: the G and E steps
        # compile their graphs after the D step's all-reduce. Only the first iteration of a phase: the forwards are
        # compiled with dynamic=False for its shapes, and the fade weight is a tensor input (no recompile per round).
        self._compiled: set[tuple[int, bool, int]] = set()
        self._meet_before_reduce = False
        if self.fast_mode:
            if self.fast.channels_last:
                for m in nets.modules().values():
                    m.to(memory_format=torch.channels_last)
            if device.type == "cuda":
                torch.backends.cudnn.benchmark = True
            if self.fast.compile != "off":
                mode = None if self.fast.compile == "default" else self.fast.compile
                self._gf, self._df, self._ef = (_within_compile_limits(torch.compile(f, mode=mode, dynamic=False))
                                                for f in (g_forward, d_forward, e_forward))
            else:
                self._gf, self._df, self._ef = g_forward, d_forward, e_forward

    # -- state shared with the training loop -------------------------------------------------------------------
    def reset_sampler(self, epoch: int, pos: int) -> None:
        if self.fast_mode and not self.host_data:
            self.sampler: BatchSampler = DeviceBatchSampler(self.n, self.tc.seed, epoch, pos, self.device)
        else:
            self.sampler = BatchSampler(self.n, self.tc.seed, epoch, pos)

    def reset_optimizers(self) -> None:
        """Drop Adam's moments and step counters (spec 3.2: at every start and end of a fade-in). With CUDA graphs
        the state tensors are zeroed in place (a captured graph holds their addresses); moments 0 and step 0 are
        exactly a fresh Adam state."""
        for opt in self.opts.values():
            if self._graphs_on and opt.state:
                with torch.no_grad():
                    for st in opt.state.values():
                        for v in st.values():
                            if torch.is_tensor(v):
                                v.zero_()
            else:
                opt.state.clear()

    def invalidate(self) -> None:
        """Drop captured graphs (after weights/optimiser state were replaced by a checkpoint, or lr changed)."""
        self._graph, self._graph_key = None, None
        self._flat.clear()          # (keyed by the networks' ids: replaced networks must not find the old layers)
        if self.fast.channels_last:
            _match_state_layout(self.opts)

    # -- one iteration ------------------------------------------------------------------------------------------
    def iteration(self, phase: Phase, ema_beta: float | None = None) -> dict[str, torch.Tensor]:
        """One iteration at `phase`; `ema_beta` (default TrainConfig.ema_beta) is this iteration's Gs EMA.

        The EMA runs first, eagerly, outside any CUDA graph (so beta may change every iteration): G does not change
        between the previous iteration's G step and this D step, so Gs sees exactly the G that the spec's
        'EMA after the D step' sees."""
        Gs, G = self.nets.Gs, self.nets.G
        if self._ema_key != (id(Gs), id(G)):
            self._ema_key, self._ema_params = (id(Gs), id(G)), (list(Gs.parameters()), list(G.parameters()))
        ema_update(Gs, G, self.tc.ema_beta if ema_beta is None else ema_beta, self._ema_params)
        if not self.fast_mode:
            return self._plain_iteration(phase)
        if self._phase is None or phase != self._phase:
            self._t.fill_(phase.fade)                # a device kernel, no sync
            self._phase = phase
        args = self._fast_inputs(phase)
        if self._graphs_on:
            return self._graph_iteration(phase, args)
        key = (phase.resolution, phase.fade > 0, phase.batch)
        self._meet_before_reduce = self.dist is not None and self.fast.compile != "off" and key not in self._compiled
        try:
            terms = self._body(phase, *args)
        finally:
            self._meet_before_reduce = False
        if self.dist is not None and self.fast.compile != "off":
            self._compiled.add(key)
        return terms

    def _fast_inputs(self, phase: Phase) -> tuple[torch.Tensor, ...]:
        """_body's inputs (idx, z_D, u, z_G, z_E), this rank's share of the global minibatch."""
        b, nz, dev, rng = phase.batch, self.nc.latent_size, self.device, self.rng
        # the minibatch's indices into the device pyramid, or (host_data) its images, gathered on the host (only this
        # rank's rows of them: the same images as selecting them on the device, without copying the others over)
        if self.host_data:
            idx_h = self.sampler.next(b)
            if self.dist is not None:
                idx_h = idx_h[self._local_rows(b)[0]]
            idx = self._host_batch(phase.resolution, idx_h)
        else:
            idx = self.sampler.next_device(b)        # type: ignore[attr-defined]
        zd = torch.randn(b, nz, generator=rng, device=dev)
        u = torch.rand(b, 1, 1, 1, generator=rng, device=dev)
        zg = torch.randn(b, nz, generator=rng, device=dev)
        ze = torch.randn(b, nz, generator=rng, device=dev) if self.use_encoder else zg
        if self.dist is not None:                    # this rank's share of the global minibatch
            rows = self._local_rows(b)[1]
            zd, u, zg, ze = (x.index_select(0, rows) for x in (zd, u, zg, ze))
            if not self.host_data:
                idx = idx.index_select(0, rows)
        return idx, zd, u, zg, ze

    def _local_rows(self, b: int) -> tuple[np.ndarray, torch.Tensor]:
        """This rank's rows of a global minibatch of b (distributed.local_rows), for the host and on the device."""
        if b not in self._rows:
            from .distributed import local_rows

            rows = local_rows(b, self.dist.world, self.dist.rank, self.nc.mbstd_group)
            self._rows[b] = (rows.numpy(), rows.to(self.device))
        return self._rows[b]

    def _host_batch(self, res: int, idx: np.ndarray) -> torch.Tensor:
        """uint8 images [b, C, res, res] of a host pyramid, on the device (pinned, so the copy does not block)."""
        return host_gather(self.pyramid[res], idx, self.device)

    def _reals_u8(self, res: int, src: torch.Tensor) -> torch.Tensor:
        """The minibatch's uint8 images from what iteration() passed: indices into the device pyramid, or the images
        themselves (host_data)."""
        return src if src.dtype == torch.uint8 else self.pyramid[res].index_select(0, src)

    def _plain_iteration(self, phase: Phase) -> dict[str, torch.Tensor]:
        nets, tc, nz, dev, rng = self.nets, self.tc, self.nc.latent_size, self.device, self.rng
        lod, b = phase.lod, phase.batch
        grad_scale = phase.resolution / self.nc.resolution
        idx = self.sampler.next(b)
        x_u8 = self._host_batch(phase.resolution, idx) if self.host_data else \
            self.pyramid[phase.resolution].index_select(0, torch.from_numpy(idx).to(dev))
        reals = process_reals(x_u8, phase.fade)
        z = torch.randn(b, nz, generator=rng, device=dev) * tc.latent_scale
        u = torch.rand(b, 1, 1, 1, generator=rng, device=dev)
        terms = d_step(nets, self.opts["D"], reals, z, u, lod, tc, grad_scale)
        z = torch.randn(b, nz, generator=rng, device=dev) * tc.latent_scale
        terms.update(g_step(nets, self.opts["G"], z, lod, tc.g_image_loss))
        if self.use_encoder:
            z = torch.randn(b, nz, generator=rng, device=dev) * tc.latent_scale
            terms.update(e_step(nets, self.opts["E"], z, lod, tc.encoder_loss))
        return terms

    def _autocast(self) -> Any:
        if self.fast.amp is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.fast.amp)

    def _weights(self, name: str, r: int, fading: bool, amp: bool = True) -> Any:
        """FlatWeights.applied for network `name` at (r, fading), in the autocast dtype (fp32 with amp=False or
        without autocast); a no-op when flat_weights is off."""
        if not self.flat_weights:
            return nullcontext()
        net = getattr(self.nets, name)
        key = (name, id(net), r, fading)         # the layers of this network object at this phase
        fw = self._flat.get(key)
        if fw is None:
            fw = FlatWeights(g_layers(net, r, fading) if name == "G" else trunk_layers(net, r, fading))
            self._flat[key] = fw
        dtype = self.fast.amp if amp and self.fast.amp is not None else torch.float32
        return fw.applied(dtype)

    def _reduce(self, m: torch.nn.Module) -> None:
        if self.dist is not None:
            if self._meet_before_reduce:
                self.dist.barrier()          # every rank has compiled up to here (see __init__, _compiled)
            self.dist.average_gradients(m.parameters())

    def _update(self, name: str, loss: torch.Tensor) -> None:
        """Backward `loss` into network `name` ('D', 'G', 'E'), average across ranks, one Adam step."""
        opt = self.opts[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        self._reduce(getattr(self.nets, name))
        opt.step()

    def _body(self, phase: Phase, idx: torch.Tensor, zd: torch.Tensor, u: torch.Tensor, zg: torch.Tensor,
              ze: torch.Tensor) -> dict[str, torch.Tensor]:
        """The iteration on device tensors only (this is what a CUDA graph captures)."""
        nets, tc, t = self.nets, self.tc, self._t
        r, fading = int(math.log2(phase.resolution)), phase.fade > 0
        grad_scale = phase.resolution / self.nc.resolution
        gf, df, ef, ac = self._gf, self._df, self._ef, self._autocast
        reals = process_reals_t(self._reals_u8(phase.resolution, idx), fading, t)
        if self.fast.channels_last:
            reals = reals.contiguous(memory_format=torch.channels_last)

        # D step. fake: bf16 forward, then fp32. Critic on real/fake under autocast, outputs cast to fp32; on the
        # GP's x_hat (the only critic input that requires grad) in fp32, eager (AOTAutograd has no double backward).
        # Run-time weights (FlatWeights blocks, when flat_weights): G's serve the D step's fake and the G step, as G
        # does not change between them (opened with grad enabled, for the G step's backward); D's serve D(real,
        # fake) and, with the GP under autocast, the GP's pass too (D changes only at the D step's update). D's two
        # weight gradients then meet in bf16, the shared block's dtype, before its cast back: one bf16 rounding more
        # than each pass's own block, whose gradients were summed in fp32 (tests/unit/training/test_fast_path.py).
        wts = self._weights
        amp_gp = tc.gp_precision == "amp"
        with wts("G", r, fading):
            with torch.no_grad(), ac():
                fake = gf(nets.G, zd * tc.latent_scale, r, fading, t).float()

            def critic(x: torch.Tensor) -> torch.Tensor:
                if x.requires_grad:                      # the GP's pass: eager (double backward), fp32 unless asked
                    if amp_gp:
                        with ac():                       # (D's weights: the D step's block)
                            return d_forward(nets.D, x, r, fading, t).float()
                    with torch.autocast(device_type=self.device.type, enabled=False), \
                            wts("D", r, fading, amp=False):
                        return d_forward(nets.D, x, r, fading, t)
                # D(real) and D(fake) as two forwards (pair_critic off: the A/B of the merged pass) each with its own
                # weights, as before the blocks were shared: their two weight gradients summed in fp32
                with ac(), (wts("D", r, fading) if not self.pair_critic else nullcontext()):
                    return df(nets.D, x, r, fading, t).float()

            def critic_pair(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                # one forward of both minibatches, each with its own minibatch-stddev groups (sub_batch): the values
                # of two separate calls, with half the kernels
                n = real.shape[0]
                assert fake.shape[0] == n, "critic_pair: the two minibatches must be the same size (sub_batch)"
                with ac():
                    out = df(nets.D, torch.cat([real, fake]), r, fading, t, n).float()
                d_real, d_fake = out.split(n)            # one cat in the backward (two slices: two zero-fills + add)
                return d_real, d_fake

            # (no shared block where no pass would use it: two separate passes and a GP in fp32 bring their own)
            with wts("D", r, fading) if self.pair_critic or amp_gp else nullcontext():
                loss, terms = critic_loss(critic, reals, fake, gp_lambda=tc.gp_lambda, gp_target=tc.gp_target,
                                          drift=tc.drift, grad_scale=grad_scale, u=u,
                                          critic_pair=critic_pair if self.pair_critic else None)
            self._update("D", loss)

            # G step (D frozen: its block for this step has no graph). With g_image_loss, d_I is added as g_step
            # adds it: E frozen (its block then has no graph either), and the gradient reaches G through both G(z)
            # and G(E(G(z))). The second G forward gets a block of its own (nested: the outer one's weights come
            # back after it), so that G's two weight gradients are summed in fp32 at the parameters, as the plain
            # path sums them, not in bf16 inside one shared block (12 bf16 steps on the CPU: one shared block left G's
            # weights up to 3e-4 off those trained with each layer's own weights; a block of its own, bit-identical)
            gw = tc.g_image_loss
            nets.D.requires_grad_(False)
            if gw:
                nets.E.requires_grad_(False)
            try:
                with ac():
                    fake = gf(nets.G, zg * tc.latent_scale, r, fading, t)

                def critic_g(x: torch.Tensor) -> torch.Tensor:
                    with ac(), wts("D", r, fading):
                        return df(nets.D, x, r, fading, t).float()

                loss, t2 = generator_loss(critic_g, fake)
                if gw:
                    fake32 = fake.float()        # (E's input in fp32, as the E step gives it G(z))
                    with ac(), wts("E", r, fading):
                        z_g = ef(nets.E, fake32, r, fading, t)
                    with ac(), wts("G", r, fading):
                        rec_g = gf(nets.G, z_g.float(), r, fading, t)
                    add, t_img = generator_image_loss(fake32, rec_g.float(), gw)
                    loss = loss + add
                    t2.update(t_img, **{"G/loss": loss.detach()})
                self._update("G", loss)
            finally:
                nets.D.requires_grad_(True)
                if gw:
                    nets.E.requires_grad_(True)
        terms.update(t2)

        # E step
        if self.use_encoder:
            z = ze * tc.latent_scale
            nets.G.requires_grad_(False)
            try:
                # G's weights are frozen in this step: one set of run-time weights serves both G forwards
                with wts("G", r, fading):
                    with torch.no_grad(), ac():
                        x = gf(nets.G, z, r, fading, t).float()
                    with ac(), wts("E", r, fading):
                        z_hat = ef(nets.E, x, r, fading, t)
                    z_hat = z_hat.float()
                    if tc.encoder_loss == "image":
                        with ac():
                            rec = gf(nets.G, z_hat, r, fading, t)
                        loss, t3 = encoder_image_loss(x, rec.float())
                    else:
                        loss, t3 = encoder_latent_loss(z, z_hat)
                self._update("E", loss)
            finally:
                nets.G.requires_grad_(True)
            t3["E/z_norm"] = z_hat.detach().norm(dim=1).mean()
            terms.update(t3)
        return terms

    # -- whole-iteration CUDA graphs ----------------------------------------------------------------------------
    def _graph_iteration(self, phase: Phase, args: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        key = (phase.resolution, phase.fade > 0, phase.batch, self.pair_critic, self.flat_weights,
               tuple(g["lr"] for o in self.opts.values() for g in o.param_groups))
        if key in self._bad_keys:
            return self._body(phase, *args)
        if self._graph_key != key:
            self._graph, self._graph_key = None, key
            self._capture(phase, args)
            if self._graph is None:                  # capture failed or did not validate: eager for this key
                return self._body(phase, *args)
        for buf, a in zip(self._static_in, args):
            buf.copy_(a)
        self._graph.replay()
        return self._static_out

    def _snapshot(self) -> tuple[list[torch.Tensor], list[tuple[dict, list[Any]]]]:
        params = [p.detach().clone() for m in self.nets.modules().values() for p in m.parameters()]
        states = []
        for opt in self.opts.values():
            before = {id(p): {k: v.detach().clone() for k, v in st.items() if torch.is_tensor(v)}
                      for p, st in opt.state.items()}
            states.append((before, [p for g in opt.param_groups for p in g["params"]]))
        return params, states

    @torch.no_grad()
    def _restore_snapshot(self, snap: Any) -> None:
        params, states = snap
        for p, v in zip([p for m in self.nets.modules().values() for p in m.parameters()], params):
            p.copy_(v)
        for opt, (before, plist) in zip(self.opts.values(), states):
            for p in plist:
                st = opt.state.get(p)
                if not st:
                    continue
                old = before.get(id(p))
                for k, v in st.items():
                    if torch.is_tensor(v):
                        if old is not None and k in old:
                            v.copy_(old[k])
                        else:                        # created by the warm-up: a fresh Adam state is all zeros
                            v.zero_()

    def _capture(self, phase: Phase, args: tuple[torch.Tensor, ...]) -> None:
        """Warm up, capture one iteration, replay it once and compare with an eager iteration from the same state
        (one host sync per capture, i.e. per phase). A mismatch -> this key runs eagerly; a capture error -> eager
        fast path from then on. WILDGAN_STRICT_GRAPHS=1 raises instead (the CUDA tests use it)."""
        snap = self._snapshot()
        static_in = tuple(a.clone() for a in args)
        prev_stream = torch.cuda.current_stream(self.device)
        t_capture = time.perf_counter()
        try:
            s = torch.cuda.Stream(self.device)
            s.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(s):
                for _ in range(3):                   # cudnn autotuning, lazy Adam state, compile
                    self._body(phase, *static_in)
            torch.cuda.current_stream(self.device).wait_stream(s)
            self._restore_snapshot(snap)
            ref_terms = {k: v.detach().clone() for k, v in self._body(phase, *static_in).items()}   # eager reference
            ref = [p.detach().clone() for m in self.nets.modules().values() for p in m.parameters()]
            self._restore_snapshot(snap)
            for opt in self.opts.values():
                opt.zero_grad(set_to_none=True)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = self._body(phase, *static_in)
            graph.replay()
            now = [p.detach() for m in self.nets.modules().values() for p in m.parameters()]
            # relative to the size of one update, over all weights: a value baked into the graph gives O(1); the
            # nondeterminism of atomics (an Adam sign flip on a near-zero gradient) gives ~1e-3 or less
            err = math.sqrt(sum(float((a - b).double().square().sum()) for a, b in zip(now, ref)))
            upd = math.sqrt(sum(float((b - c).double().square().sum()) for b, c in zip(ref, snap[0])))
            terr = max(abs(float(out[k]) - float(v)) / (abs(float(v)) + 1e-3) for k, v in ref_terms.items())
            self._restore_snapshot(snap)
            where = f"{phase.resolution}x{phase.resolution}{' fade' if phase.fade > 0 else ''} batch {phase.batch}"
            if not (err <= 2e-2 * upd + 1e-7 and terr <= 1e-2):
                msg = (f"CUDA graph replay differs from eager at {where} (weights {err:.3g} vs update {upd:.3g}, "
                       f"losses {terr:.3g})")
                if os.environ.get("WILDGAN_STRICT_GRAPHS") == "1":
                    raise GraphMismatch(msg)
                # per key: one phase's mismatch (e.g. a nondeterministic kernel choice) need not cost the others
                self.log(f"warning: {msg}; this phase runs without CUDA graphs")
                self._bad_keys.add(self._graph_key)
                return
            # its cost is logged: warm-up (cuDNN autotuning of every new shape) + eager reference + capture, paid once
            # per phase and per process, inside a short run's time budget
            self.log(f"CUDA graph captured at {where} in {time.perf_counter() - t_capture:.1f} s: replay vs eager "
                     f"{err / max(upd, 1e-30):.2e} of one update, losses {terr:.2e}")
            self._graph, self._static_in, self._static_out = graph, static_in, out
        except Exception as e:  # noqa: BLE001 - any capture problem falls back to the eager fast path
            # torch.cuda.graph's __exit__ calls capture_end before leaving its side stream: if the body broke the
            # capture, capture_end's error replaces the real one (kept in __context__) and the side stream stays
            # current. Put the stream back and report the root cause with its traceback.
            torch.cuda.set_stream(prev_stream)
            if isinstance(e, GraphMismatch):
                # (strict: the capture itself went through, its replay differs from eager; said as that, not as a
                # capture failure, and without a traceback of the check, which the raise below carries anyway)
                self.log(f"warning: {e}: a graph-vs-eager mismatch (WILDGAN_STRICT_GRAPHS=1 raises it)")
            else:
                root = e.__context__ or e
                self.log(f"warning: CUDA graph capture failed ({type(root).__name__}: {root}); continuing without "
                         f"CUDA graphs\n{traceback.format_exc()}")
            try:
                torch.cuda.synchronize(self.device)
            except Exception:  # noqa: BLE001 - a sticky CUDA error: the restore below will say so
                pass
            self._restore_snapshot(snap)
            self._graphs_on, self._graph = False, None
            if os.environ.get("WILDGAN_STRICT_GRAPHS") == "1":
                raise


# ------------------------------------------------------------------------------------------------------------------
# Checkpoint state.

@dataclass
class TrainState:
    nimg: int = 0
    iteration: int = 0
    epoch: int = 0
    pos: int = 0
    lod_bounds: tuple[int, int] | None = None
    lr: float = 1e-3
    elapsed: float = 0.0          # training seconds over all sessions of this run
    rollbacks: int = 0
    # the level of detail of the last round trained (None: nothing trained yet). Recorded with the networks, since
    # scoring uses it; schedule(nimg).lod is the *next* round's, which a resume that trains nothing (a finished run,
    # or a kill between the last checkpoint and network-final) must not record for the same weights
    trained_lod: float | None = None


def _save(run_dir: Path, nets: PGANNetworks, opts: dict[str, torch.optim.Optimizer], state: TrainState,
          rng: torch.Generator, cfg: RunConfig, keep: int | None, lod: float, threads: int | list[int],
          procs: dict[str, Any] | None = None) -> Path:
    """A full training-state checkpoint; `lod`: the level of detail the networks last trained at (what scoring an
    interrupted run uses, as network-final.json records it); `threads`: the intra-op thread counts that trained the
    weights (config.threads_record); `procs`: the processes that trained this session (processes_record)."""
    tensors = ckpt.networks_to_tensors(nets.modules())
    for name, opt in opts.items():
        tensors.update(ckpt.optimizer_to_tensors(f"opt.{name}", opt))
    tensors["rng.z"] = rng.get_state()
    meta = {"kind": ckpt.TRAIN_STATE_KIND, "nimg": state.nimg, "kimg": state.nimg / 1000, "iteration": state.iteration,
            "epoch": state.epoch, "pos": state.pos, "lod_bounds": list(state.lod_bounds or ()),
            "lr": state.lr, "elapsed_s": state.elapsed, "rollbacks": state.rollbacks, "seed": cfg.train.seed,
            "rng_device": rng.device.type,
            "net": run_config_to_dict(cfg)["net"], "config": run_config_to_dict(cfg),
            "lod": float(lod), "intra_op_threads": threads, **(procs or processes_record(None))}
    path = ckpt.save_checkpoint(run_dir / "checkpoints", ckpt.checkpoint_name(state.nimg), tensors, meta)
    # (None: every complete checkpoint kept, e.g. for the AUC over training; the weights of a write cut before its
    # JSON are removed all the same, which could never be loaded and otherwise stayed for good)
    ckpt.prune_checkpoints(run_dir / "checkpoints", None if keep is None else keep + 1, protect=path)
    return path


def _recorded_processes(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The processes_record a checkpoint's JSON holds, or None where it holds none that reads as one (an older
    wildgan's file; a hand-edited count): a resume that trains nothing then records its own session's, as before."""
    world = meta.get("world_size")
    if not isinstance(world, int) or isinstance(world, bool) or world < 1:
        return None
    backend = meta.get("dist_backend")
    return {"world_size": world, "dist_backend": backend if isinstance(backend, str) else None}


def _world_change(meta: dict[str, Any], dist: Any) -> str | None:
    """The note of a resume in another number of processes than the checkpoint's session trained in (its JSON's
    world_size), or None (the same, or not recorded: an older wildgan's file). Such a resume goes on, with the same
    global minibatch split over the new ranks (distributed.py): the weights differ from an unbroken run's by float
    noise only, but img_per_s does not compare across the two, so log.txt says where the count changed, as the stats
    rows and checkpoints record each session's."""
    recorded = _recorded_processes(meta)
    before = recorded["world_size"] if recorded else None
    now = processes_record(dist)["world_size"]
    if before is None or before == now:
        return None
    return (f"note: trained in {before} process{'es' if before > 1 else ''} up to this checkpoint, in {now} "
            f"process{'es' if now > 1 else ''} from here on (each stats.jsonl row and checkpoint records its "
            f"session's world_size)")


def _restore(tensors: dict[str, torch.Tensor], meta: dict[str, Any], nets: PGANNetworks,
             opts: dict[str, torch.optim.Optimizer], rng: torch.Generator, src: Path) -> TrainState:
    """The training state of the checkpoint (tensors, meta) in the folder `src`, put into nets, opts and rng."""
    # its refusals name the checkpoint, not only its folder: "RUN/checkpoints: weights of G do not match" (a
    # checkpoint of other networks copied in) did not say which of the folder's checkpoints to take out
    src = Path(src) / f"{Path(str(meta['weights'])).stem}.json"
    ckpt.tensors_to_networks(tensors, nets.modules(), src, meta["weights"], "the run's architecture")
    state = TrainState(nimg=int(meta["nimg"]), iteration=int(meta["iteration"]), epoch=int(meta["epoch"]),
                       pos=int(meta["pos"]), lod_bounds=tuple(meta["lod_bounds"]) or None,  # type: ignore[arg-type]
                       lr=float(meta["lr"]), elapsed=float(meta["elapsed_s"]), rollbacks=int(meta.get("rollbacks", 0)),
                       trained_lod=float(meta["lod"]) if meta.get("lod") is not None else None)
    for name, opt in opts.items():
        ckpt.tensors_to_optimizer(f"opt.{name}", opt, tensors, state.lr)
    restore_generator(rng, tensors["rng.z"], meta.get("rng_device"), src, int(meta.get("seed", 0)), state.iteration)
    return state


# ------------------------------------------------------------------------------------------------------------------
# The training loop.

@dataclass
class TrainResult:
    run_dir: Path
    nimg: int
    final: Path | None
    status: str                 # done | budget
    detail: str = ""            # what the count means where images shown is not the whole story (f-AnoGAN)


def check_training_set_size(n: int, tc: TrainConfig, nc: NetConfig) -> None:
    """Refuse a training set of n images smaller than the schedule's largest minibatch (a study checks each cell's
    before any cell trains).

    A minibatch must not be larger than the data set, or it would hold each image several times (the minibatch-stddev
    statistic assumes distinct images). A batch that crosses an epoch boundary draws from two permutations and can
    still repeat an image now and then (about 1 batch in 80 at 5000 images, batch 128), as TF's shuffle + repeat."""
    biggest = largest_minibatch(tc.minibatch, nc.resolution)
    if n < biggest:
        raise DataError(f"only {n} training image{'s' if n != 1 else ''}, fewer than the largest minibatch of the "
                        f"schedule ({biggest}); add images, or use a smaller preset "
                        f"({option_words('--preset tiny', 'preset=' + repr('tiny'))}: at most 16), or set "
                        f"train.minibatch{option_words(' in a --config file', ' (TrainConfig.minibatch)')}")


def train_pgan(train_x: np.ndarray, cfg: RunConfig, run_dir: Path, *, resume: bool = False, progress: bool = True,
               log: Log = print, dist: Any = None, threads_noted: bool = False,
               warn_not_grown: bool = True) -> TrainResult:
    """Train G, D, E (and Gs) on uint8 images [N, R, R, C]; see the module docstring for what is written.

    A run that cfg.train.total_kimg or its minutes budget ended before the networks grew to full resolution is said
    as a WildganWarning once its final networks are written (schedule.not_grown_text), on rank 0;
    warn_not_grown=False leaves it to a caller that says it itself (train_run, which warns in its own name).

    `threads_noted`: a resume whose caller already said that the threads setting changed (training.run's note of
    other numeric settings): the warning of another intra-op thread count than the checkpoint's is not said again.

    `dist`: a wildgan.training.distributed.DistContext for data-parallel training under torchrun (default: the one
    set up by distributed.init_distributed(), if any). Every rank runs this function; rank 0 alone writes.

    Trains at cfg.train.threads intra-op threads (None: the caller's count) from torch's global RNG seeded with
    cfg.train.seed, and puts both back as the caller had them on the way out (devices.caller_torch_state_kept)."""
    with caller_torch_state_kept(cfg.train.threads):
        result, short_lod = _train_pgan(train_x, cfg, run_dir, resume=resume, progress=progress, log=log, dist=dist,
                                        threads_noted=threads_noted)
    # (after the caller's torch state is back: a warnings filter that makes it an error raises it over a finished run)
    if warn_not_grown and short_lod is not None:
        warn_user(not_grown_text(cfg.train, cfg.net.resolution, result.nimg, short_lod, result.status == "budget",
                                 "train_pgan"))
    return result


def _train_pgan(train_x: np.ndarray, cfg: RunConfig, run_dir: Path, *, resume: bool, progress: bool, log: Log,
                dist: Any, threads_noted: bool) -> tuple[TrainResult, float | None]:
    """train_pgan's work, with the thread count set and the caller's state to put back held by train_pgan; and the
    lod (> 0) the run ended at where it ended before full resolution, on rank 0 (None elsewhere, and for a run
    grown), for train_pgan's warning."""
    from ..progress import progress_bar

    from . import distributed as _dist

    # -- setup: checks, networks, optimisers, the latents' generator (a --resume restores them), the data pyramid
    tc, nc = cfg.train, cfg.net
    if dist is None:
        dist = _dist.current()
    if dist is not None and dist.world <= 1:
        dist = None
    is_main = dist is None or dist.rank == 0
    if not is_main:
        log = _silent
        progress = False
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = dist.device if dist is not None else resolve_device(tc.device)
    if train_x.shape[1:] != (nc.resolution, nc.resolution, nc.channels):
        raise WildganError(f"training images have shape {train_x.shape[1:]}, the network expects "
                           f"{(nc.resolution, nc.resolution, nc.channels)}")
    check_training_set_size(len(train_x), tc, nc)
    if dist is not None:
        _dist.check_batches(tc.minibatch, nc, dist.world)
    fast = resolve_fast_options(tc, device, distributed=dist is not None)
    # (the fast path, whose merged critic pass plain turns off, runs on the CPU too: --amp bf16, --channels-last
    # on, DDP)
    if (device.type == "cuda" or fast.active or dist is not None) and kernels_from_env() == "plain":
        log("WILDGAN_KERNELS=plain: the plain pixel norm, minibatch-stddev variance and per-layer weights (no fused "
            "kernels), and D(real) and D(fake) as two critic passes")

    torch.manual_seed(tc.seed)          # (the caller's global RNG is put back by train_pgan)
    nets = build_pgan(nc, tc.seed).to(device)
    if dist is not None:
        dist.broadcast_modules(nets.modules())
    opts = make_optimizers(nets, tc, fast, device)
    rng = torch.Generator(device=device)
    rng.manual_seed(tc.seed)
    state = TrainState(lr=tc.lr)
    total_nimg = int(round(tc.total_kimg * 1000))
    restored_nimg: int | None = None  # the image count of a checkpoint a resume restored, of this run's settings
    threads_before: Any = None        # the intra-op thread counts that trained the checkpoint a resume restored
    procs_before: dict[str, Any] | None = None   # and the processes that trained it (its processes_record)
    spent_at_resume: bool | None = None          # whether the restored checkpoint's time used up --minutes already

    ck_dir = run_dir / "checkpoints"
    if resume:
        # every rank reads the same checkpoints: a damaged one stops them all alike, the job's cause, not one rank's.
        # They only read: rank 0 sets the damaged ones aside once every rank has restored (below), since renaming
        # them while the others read could make a file vanish under a rank mid-read, an error of that rank alone
        with _dist.failing_alike(dist):
            found, bad = ckpt.find_good_checkpoint(ck_dir, log=log, kind=ckpt.TRAIN_STATE_KIND)
            if found is not None:
                state = _restore(found[0], found[1], nets, opts, rng, ck_dir)
                threads_before = found[1].get("intra_op_threads")
                procs_before = _recorded_processes(found[1])
                # (a checkpoint of other settings is written again at the end, with this session's)
                same = found[1].get("config") == json.loads(json.dumps(run_config_to_dict(cfg)))
                restored_nimg = state.nimg if same else None
        # the same ones, unless the ranks' run folders differ (a multi-node job whose --out is not shared): then
        # every rank stops rather than train on from its own state
        restored = "none" if found is None else _checkpoint_text(found[1], state.nimg)
        _dist.same_checkpoint_restored(dist, restored, ck_dir)
        if is_main:
            ckpt.set_aside_all(bad, log)
        if found is None:
            log(f"no usable checkpoint in {ck_dir}: starting from scratch")
        else:
            # a finished run says so at once: what follows (its networks written again, the training scores kept)
            # is the end of a run, not another session's training
            done = state.nimg >= total_nimg
            log(f"resumed from {kimg_text(state.nimg)} kimg (iteration {state.iteration})"
                + (f": the run was already finished ({option_words('--total-kimg', 'train.total_kimg')} "
                   f"{kimg_to_the_image(tc.total_kimg)}), nothing to train" if done else ""))
            # a finished run, or one whose --minutes budget is already spent (said below), trains nothing more: its
            # weights stay those of the checkpoint's thread count and processes, and a note of either changing 'from
            # here on' would tell of training that never comes (nor where the resume's note named the threads
            # setting changed: one change, one message)
            spent_at_resume = _budget_spent(tc, state.elapsed)
            idle = done or spent_at_resume
            threads = None if idle or threads_noted else thread_count_change(found[1], ck_dir / str(
                found[1].get("weights")), device)
            if threads:
                log(threads)
            world = None if idle else _world_change(found[1], dist)
            if world:
                log(world)
        if is_main:
            # rows the interrupted session wrote after the checkpoint we resume from are about to be written again
            dropped = _drop_stats_after(run_dir, state.nimg)
            if dropped:
                log(f"stats.jsonl: dropped {dropped} rows written after {kimg_text(state.nimg)} kimg")
    pyramid = build_pyramid(train_x, _pyramid_device(train_x, device, dist, is_main, log))
    # StepRunner turns cuDNN autotuning on for the fast path: put the caller's setting back when training ends (a
    # Detector.fit or a study cell must not leave it changed for the user's own code and later scoring)
    cudnn_benchmark = torch.backends.cudnn.benchmark
    fixed_z = torch.randn(64, nc.latent_size, generator=torch.Generator().manual_seed(tc.seed + 1)).to(device)

    # -- logging, cadences (checkpoints, sample grids), stop requests, progress bar
    stats = _StatsLog(run_dir, is_main, tc.tensorboard, state.nimg if resume else None, state.nimg)
    t_start = time.time()
    elapsed0 = state.elapsed
    every = max(1, int(round(tc.checkpoint_kimg * 1000)))     # images between checkpoints
    next_ckpt = _next_multiple(state.nimg, every)
    # sample grids between checkpoints too (sample_kimg > 0): what G makes, more often than the checkpoints
    every_sample = max(1, int(round(tc.sample_kimg * 1000))) if tc.sample_kimg else None
    next_sample = _next_multiple(state.nimg, every_sample) if every_sample else None
    flag = StopFlag()
    # a log line or a bar redraw that meets the output's reader gone (`2>&1 | head`) stops training at the next round
    # boundary, with its checkpoint, as a signal does: raised from the write, it left the round half done and lost the
    # progress since the last checkpoint
    log = quiet_log(log, flag)
    stopped_at_end = False     # every rank agreed on a stop signal in the last round
    # the signal the ranks agreed on (0: none): one that reached another rank alone is this rank's stop too, told (and
    # exited, 128 + it) as that signal, a SIGTERM as 143, not as an unnamed one (the CLI's 130)
    agreed_signum = 0
    status = "done"
    # the lod at the images restored, from the formula alone: schedule() needs a size there, which a finished run
    # whose last round crossed into a resolution without one (its total stopped before it) does not have
    lod_now = lod_at(state.nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg)
    # (a resume's answer is the one its notes followed, asked once: a second clock read could fall the other side of
    # the budget)
    if state.nimg < total_nimg and (_over_budget(tc, elapsed0, t_start) if spent_at_resume is None
                                    else spent_at_resume):
        # a run resumed with its --minutes already spent (over all its sessions) trains nothing more: before, each
        # plain --resume trained one round past the budget
        status = "budget"
        log(f"wall-clock budget of {tc.minutes} min already used ({elapsed0 / 60:.2f} min over earlier sessions): "
            f"nothing to train; give a larger {option_words('--minutes', 'train.minutes')} to continue")
        total_nimg = state.nimg      # (before the progress bar is made: its total is where the run ends)

    if device.type == "cpu" and (total_nimg - state.nimg) / 1000 > 1000 and tc.minutes is None and is_main:
        _warn_long_cpu_run(total_nimg - state.nimg, nc)
    # The bar's own ETA (images left / images per second so far) is wrong by the cost ratio of the phases: 39.9k of
    # 4.00M images at 4x4 on a CPU projected 37 minutes for what takes over a day. The ETA shown instead prices the
    # images left at each resolution (schedule_work) by its measured or forecast cost per image (_eta).
    # (g_image_loss: its G step's extra E and G passes are priced too, for the resolutions the probe does not time)
    costs = _phase_costs(nc, device.type, bool(tc.g_image_loss)) if progress and state.nimg < total_nimg else None
    # Until three resolutions have run (ETA_PROBE_UNTIL), the ones ahead are priced by the iteration times of a
    # start-up probe at each (_probe_iterations), scaled to the current one's measured rate: the FLOPs alone put
    # tiny's 20-kimg run at <22:04 from 4x4 for 70 s. CPU only, one process, not compiled: on a GPU a few eager
    # iterations time cuDNN's autotuning and kernel queueing more than the graphed or compiled iterations the run
    # will make. Nor for a session of seconds (ETA_PROBE_SKIP_SECONDS), whose probe cost more than its ETA is worth.
    t_probe = time.time()
    try:
        # A Ctrl-C (or SIGTERM) in the probe sets the loop's flag, as it would in the first round: the probe stops at
        # its next iteration and the loop's first round ends on a checkpoint and the usual TrainingInterrupted with
        # its resume advice. Raised as a KeyboardInterrupt here, it ended the run as a Ctrl-C before training does
        # (the CLI's 'interrupted by SIGINT', a Python caller's KeyboardInterrupt), with no word of how to continue.
        probe: dict[int, float] = {}
        if costs is not None and device.type == "cpu" and dist is None and fast.compile == "off":
            restore_signals = install_signals(flag)
            try:
                probe = _probe_iterations(nets, tc, nc, device, fast, costs, state.nimg, total_nimg,
                                          stop=lambda: flag.signum is not None, say=log)
            finally:
                restore_signals()
    except Exception as e:
        # an estimate never stops a run: the probe trains copies (the run's state is as it was), and whatever failed
        # there (memory for a resolution hours ahead, say) is the run's to meet, or not, when it gets there
        probe = {}
        log(f"eta: the start-up probe failed ({type(e).__name__}: {e}); the resolutions ahead are priced by their "
            f"FLOPs until two have run")
    except BaseException:
        # a second Ctrl-C in the probe (StopFlag's abort at once), before the loop whose `finally` closes stats.jsonl
        # and TensorBoard's writer: a Python caller's process kept both open
        stats.close()
        raise
    stats.leave_out(time.time() - t_probe)      # (the first row's img_per_s measures training, not the probe)
    if probe:
        # the line's end says what the times are for: on the demo's first screen, "start-up probe" alone read as a
        # check that might have failed (benchmarks/eta_audit.py reads the times back up to the parenthesis)
        log("eta: an iteration of the start-up probe took " + " / ".join(f"{1000 * t:.3g}" for t in probe.values())
            + " ms at " + " / ".join(f"{r}x{r}" for r in probe)
            + " (timed on copies of the networks before training, to forecast the progress bar's eta)")
    nimg_session0 = state.nimg
    # (resolution, nimg, time) where this session's current resolution began: the ETA's rate comes from there
    eta_anchor: tuple[int, int, float] | None = None
    # (first image, last image, seconds) of each segment (a resolution's fade-in, or its stable phase) this session
    # finished, and (resolution, fading, first image, time.time()) of the one in progress: the ETA's forecast of the
    # resolutions ahead is fitted to them all, a noisy one outvoted by the rest
    eta_measured: list[tuple[int, int, float]] = []
    eta_segment: tuple[int, bool, int, float] | None = None
    bar_end = end_of_rounds(state.nimg, total_nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch,
                            tc.minibatch_repeats)
    bar = progress_bar(total=bar_end, initial=state.nimg, unit="img", unit_scale=True, disable=not progress,
                       dynamic_ncols=True, desc="train", on_closed=flag.output_closed,
                       bar_format=None if costs is None else
                       "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]")
    # the bar's last postfix (eta, resolution, losses), set at each stats row: the end puts its eta at 00:00
    bar_post: dict[str, Any] = {}

    def trained_lod() -> float:
        # the lod of the last round trained; before any (a fresh run stopped at once) the first round's
        return lod_now if state.trained_lod is None else state.trained_lod

    # the image count of the checkpoint (and sample grid) this session last wrote: the loop's last round writes one
    # (as a --minutes stop does), so the end has nothing to add to it unless the session trained nothing, and writing
    # it again cost a second full-state write (G, Gs, D, E and Adam) at every run's end. A resumed session has the
    # checkpoint it restored: one that trains nothing (a finished run, a spent --minutes budget) writes no copy of it,
    # unless it was written with other settings
    saved_nimg: int | None = restored_nimg
    start_nimg = state.nimg

    def threads_used() -> int | list[int]:
        """intra_op_threads of the weights as they are: a resumed run's earlier counts carried forward, this
        session's added once it has trained (a finished run's resume writes its networks again as they were)."""
        return threads_record(threads_before, torch.get_num_threads(), trained=state.nimg != start_nimg)

    def procs_used() -> dict[str, Any]:
        """world_size / dist_backend of the weights as they are: this session's once it has trained, else those of
        the checkpoint restored. A resume that trains nothing (a finished run; a kill between the last checkpoint
        and network-final) writes the networks again as they were: under its own count, a 2-process run's weights
        were recorded as a one-process run's, and `wildgan info` advised a plain --resume for them."""
        if state.nimg == start_nimg and procs_before is not None:
            return procs_before
        return processes_record(dist)

    def save() -> Path:
        nonlocal saved_nimg
        state.epoch, state.pos = runner.sampler.epoch, runner.sampler.pos
        state.elapsed = elapsed0 + time.time() - t_start
        path = ck_dir / f"{ckpt.checkpoint_name(state.nimg)}.json"
        if is_main:
            path = _save(run_dir, nets, opts, state, rng, cfg, tc.keep_checkpoints, trained_lod(), threads_used(),
                         procs_used())
        if dist is not None:
            dist.barrier()                     # the file exists for every rank (a rollback reads it)
        saved_nimg = state.nimg
        return path

    def diverged(what: str) -> None:
        """Stop (raises), or roll back to the newest good checkpoint (--on-divergence rollback) and go on from it."""
        nonlocal next_ckpt, next_sample, eta_anchor, eta_segment, saved_nimg
        # every rank rolls back at the same step; under torchrun they agree that they restored the same checkpoint
        # (one rank that found another, or none, stops them all together), as on a --resume
        restored, failed = None, None
        try:
            restored = _diverged(what, run_dir, nets, opts, rng, cfg, state, log)
        except Exception as e:
            failed = e
        _dist.same_checkpoint_rolled_back(dist, ck_dir, restored, failed)
        saved_nimg = None                      # the checkpoint restored has the lr before the halving
        runner.reset_sampler(state.epoch, state.pos)
        runner.invalidate()
        # The loop goes on from the checkpoint's image count, as a --resume from it would: the rows written since
        # then (the diverging ones among them) are dropped, or stats.jsonl would repeat their kimg and plot two
        # histories, and so are the loss terms summed since the last row (they contain the bad steps); the rate and
        # cadences are measured from the restored count, not from where it diverged.
        stats.restart(state.nimg)
        eta_anchor = eta_segment = None
        eta_measured[:] = [p for p in eta_measured if p[1] <= state.nimg]      # (those after it are trained again)
        next_ckpt = _next_multiple(state.nimg, every)
        if every_sample:
            next_sample = _next_multiple(state.nimg, every_sample)
        bar.n = state.nimg
        bar.refresh()

    # -- the loop: rounds of `minibatch_repeats` iterations; a checkpoint and the stop checks between rounds
    try:
        # made inside the try whose finally puts the cuDNN setting back (the runner changes it)
        runner = StepRunner(nets, opts, tc, nc, device, pyramid, rng, fast=fast, dist=dist, log=log,
                            epoch=state.epoch, pos=state.pos, n=len(train_x))
        runner.invalidate()
        # dynamo's recompile limits raised once for the whole loop, not around every compiled forward call; the
        # caller's values back when the loop ends or fails (a user's own torch.compile afterwards gets its own)
        with stop_on_signals(flag), (compile_limits() if fast.compile != "off" else nullcontext()):
            while state.nimg < total_nimg:
                # Schedule update every `minibatch_repeats` iterations (a "round"), as the TF code does.
                phase = schedule(state.nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)
                state.trained_lod = phase.lod
                if eta_anchor is None or eta_anchor[0] != phase.resolution:
                    eta_anchor = (phase.resolution, state.nimg, time.time())
                if eta_segment is None or eta_segment[:2] != (phase.resolution, phase.fade > 0):
                    if eta_segment is not None:
                        eta_measured.append((eta_segment[2], state.nimg, time.time() - eta_segment[3]))
                    eta_segment = (phase.resolution, phase.fade > 0, state.nimg, time.time())
                if phase.lod_bounds != state.lod_bounds:     # a fade-in starts or ends: fresh Adam state (spec 3.2)
                    runner.reset_optimizers()
                    state.lod_bounds = phase.lod_bounds
                for _ in range(tc.minibatch_repeats):
                    # one iteration: Gs EMA, D step, G step, E step (StepRunner.iteration)
                    terms = runner.iteration(phase, ema_beta_at(tc, state.iteration))
                    state.nimg += phase.batch
                    state.iteration += 1
                    stats.add(terms)
                    bar.update(phase.batch)

                    if state.iteration % tc.log_every == 0:
                        row = stats.write_row(state, phase, device, dist)
                        post = {"eta": _eta(costs, nc, tc, nimg_session0, state.nimg, total_nimg,
                                            time.time() - t_start, elapsed0, anchor=eta_anchor,
                                            measured=eta_measured,
                                            segment=None if eta_segment is None else eta_segment[2:],
                                            probe=probe)} \
                            if costs is not None else {}
                        # (refresh=False: shown at the bar's next redraw, which progress_bar spaces out in a log file;
                        # a forced redraw per row wrote a line every 20 iterations there)
                        bar_post = {**post, "res": phase.resolution, "D": f"{row.get('D/loss', 0):.3g}",
                                    "G": f"{row.get('G/loss', 0):.3g}", "E": f"{row.get('E/loss', 0):.3g}"}
                        bar.set_postfix(**bar_post, refresh=False)
                        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
                        if bad:
                            diverged(f"non-finite {', '.join(bad)} at {kimg_text(state.nimg)} kimg")
                            break

                agreed_signum, stop_budget = flag.signum or 0, _over_budget(tc, elapsed0, t_start)
                if dist is not None:                  # every rank must take the same branch (CPU-side agreement)
                    agreed_signum, over = dist.max_ints(agreed_signum, int(stop_budget))
                    stop_budget = bool(over)
                stop_sig = agreed_signum != 0
                # The last round ends on a checkpoint here, as any other, rather than after the loop: weights gone
                # non-finite in it (after the last stats row, the only check of the losses) then roll back and train
                # on as anywhere else, where a check after the loop could only stop the run.
                checkpoint_now = state.nimg >= next_ckpt or state.nimg >= total_nimg or stop_sig or stop_budget
                if next_sample is not None and state.nimg >= next_sample and not checkpoint_now:
                    # (a checkpoint writes the grid itself: a second one at the same step would repeat it)
                    if is_main:
                        _drain(device)                 # the queued iterations count as training, not as the grid
                        t_save = time.time()
                        stats.tb.image(_write_samples(run_dir, nets, fixed_z, trained_lod(), nc, state.nimg),
                                       state.nimg)
                        stats.leave_out(time.time() - t_save)
                    next_sample = _next_multiple(state.nimg, every_sample)
                if checkpoint_now:
                    bad_net = all_finite(nets.modules())
                    if bad_net is not None:
                        diverged(f"non-finite weights in {bad_net} at {kimg_text(state.nimg)} kimg")
                        continue
                    t_save = time.time()
                    save()
                    if is_main:
                        stats.tb.image(_write_samples(run_dir, nets, fixed_z, trained_lod(), nc, state.nimg),
                                       state.nimg)
                    stats.leave_out(time.time() - t_save)      # img_per_s measures training, not checkpoint writing
                    next_ckpt = _next_multiple(state.nimg, every)
                    if every_sample:
                        next_sample = _next_multiple(state.nimg, every_sample)
                    if stop_sig and state.nimg < total_nimg:
                        where = f"at {kimg_text(state.nimg)} of {kimg_to_the_image(tc.total_kimg)} kimg"
                        raise TrainingInterrupted(
                            f"{_stop_words(flag.signum, agreed_signum)} {where}; checkpoint saved in {ck_dir}",
                            flag.signum or agreed_signum, where=where, checkpoint_dir=str(ck_dir),
                            resume_advice=resume_advice(run_dir, dist is not None, flag.signum or agreed_signum))
                    # a signal in the last round: training is complete; it ends below, once its end is written
                    stopped_at_end = stop_sig
                    if stop_budget:
                        # a budget spent in the round that completes the schedule stopped nothing
                        if state.nimg < total_nimg:
                            status = "budget"
                            log(f"wall-clock budget of {tc.minutes} min reached at {kimg_text(state.nimg)} kimg")
                        break
    finally:
        if "eta" in bar_post and state.nimg >= total_nimg:
            # the eta is set at each stats row only (every log_every iterations): the full bar kept the time left
            # at the last one ("100% ... eta=00:03"). Done is nothing left, as tqdm's own remaining time says at
            # its end (shown by close's final redraw, not by a redraw of its own: one more line in a log file)
            bar.set_postfix(**{**bar_post, "eta": bar.format_interval(0)}, refresh=False)
        bar.close()
        stats.close()
        torch.backends.cudnn.benchmark = cudnn_benchmark

    # -- the end. Final networks: a full training-state checkpoint (so --resume with a larger --total-kimg continues;
    # the loop wrote it at its last round) and a nets-only file for scoring.
    # (the loop checked the weights of its last round, and rolled back from them if need be; this only guards a
    # session that trained nothing)
    bad_net = all_finite(nets.modules())
    if bad_net is not None:
        raise DivergenceError(f"non-finite weights in {bad_net} at the end of training; last good checkpoint kept",
                              what=f"non-finite weights in {bad_net} at the end of training", lr_setting="train.lr")
    fresh = saved_nimg != state.nimg
    final = run_dir / "network-final.json"
    # The end (the last checkpoint where the loop did not write it, the final networks' two files) as one commit
    # that a SIGTERM (a scheduler's, with its grace period) or a Ctrl-C waits for: one between the two files left
    # network-final.safetensors without its .json, which --resume had to finish. A stop held here is told as one in
    # the last round is (below), after the files; and under torchrun every rank learns of it in the collective that
    # was the barrier after the files: raised on rank 0 alone after its save, it skipped that barrier and rank 1,
    # left waiting in it, said that another rank of the job had stopped. (Held on every rank: a Ctrl-C reaches them
    # all, and one that waits in a collective cannot run a handler before it returns anyway.)
    with _dist.stops_deferred(stopping=flag.interrupted) as held:
        if fresh:
            save()
        if is_main:
            if fresh or not _samples_path(run_dir, state.nimg).is_file():
                # (also the grid of the checkpoint a resume restored, where a kill came between the two)
                _write_samples(run_dir, nets, fixed_z, trained_lod(), nc, state.nimg)
            final = ckpt.save_checkpoint(run_dir, "network-final", ckpt.networks_to_tensors(nets.modules()), {
                "kind": ckpt.NETWORKS_KIND, "nimg": state.nimg, "kimg": state.nimg / 1000, "status": status,
                "seed": tc.seed, "net": run_config_to_dict(cfg)["net"], "config": run_config_to_dict(cfg),
                "elapsed_s": elapsed0 + time.time() - t_start, "lod": trained_lod(),
                # the intra-op thread counts the weights trained with: they depend on it (float summation order),
                # and with --threads unset config.json says only null, so two runs that differ by it alone had
                # identical records; a resumed run's sessions each (threads_used: a list where they differ)
                "intra_op_threads": threads_used(), **procs_used()})
        # (a stop that reached this rank after the ranks' last agreement, as it wrote the last round's checkpoint,
        # set its flag outside this block: agreed here too, or under torchrun the job finished as if none had come)
        late = held[0] if held else flag.signum or 0
        if dist is not None:
            (late,) = dist.max_ints(late)      # (every rank waits here for the files, as at a barrier)
        if late:
            stopped_at_end = True
            if flag.signum is None:
                flag.signum = held[0] if held else None
                agreed_signum = agreed_signum or late
            held.clear()                       # told below, not delivered to the caller's handlers
    if stopped_at_end or (dist is None and flag.signum is not None):
        # a Ctrl-C / SIGTERM in the last round or while the end was written: training is complete and saved, but the
        # caller's next steps (the training scores, --evaluate) must not run as if nobody had asked to stop. (One
        # process only where the flag alone says so: a rank that stopped alone would leave its peers waiting in
        # their next collective; in the last round, and at the end, the ranks agreed.)
        where = f"as training ended at {kimg_text(state.nimg)} kimg"
        raise TrainingInterrupted(f"{_stop_words(flag.signum, agreed_signum)} {where}; the training "
                                  f"is complete and its networks are saved ({final})", flag.signum or agreed_signum,
                                  where=where, checkpoint_dir=str(ck_dir), complete=True,
                                  not_run=left_after_training())
    short_lod = trained_lod() if is_main and trained_lod() > 0 else None
    return TrainResult(run_dir=run_dir, nimg=state.nimg, final=final, status=status), short_lod


def _stop_words(own: int | None, agreed: int) -> str:
    """'terminated by SIGTERM' (errors.stop_words), or 'terminated by SIGTERM on another rank' for a stop this rank
    only learnt of from its peers."""
    return stop_words(own) if own is not None else f"{stop_words(agreed)} on another rank"


def _pyramid_device(train_x: np.ndarray, device: torch.device, dist: Any, is_main: bool, log: Log) -> torch.device:
    """Where the uint8 pyramid of train_x lives: on the training device when it fits beside the networks, else in
    host memory (data_placement.data_device; WILDGAN_DATA_ON_GPU forces either)."""
    need = pyramid_bytes(len(train_x), int(train_x.shape[1]), int(train_x.shape[3]))
    setting = data_on_gpu_setting()
    where = data_device(need, device, setting=setting)
    if dist is not None and device.type == "cuda":
        # one answer for every rank (each measured its own free memory, at its own moment)
        (host,) = dist.any_flags(where.type != device.type)
        where = torch.device("cpu") if host else device
    if where.type != device.type and is_main:
        tell_host_placement(need, device, setting, log, " as a uint8 pyramid")
    return where


def _warn_long_cpu_run(nimg_left: int, nc: NetConfig) -> None:
    """The paper-length default is what a newcomer gets without --total-kimg: say so before the first hour goes.
    The advice is the paper's schedule with 30-kimg phases at this resolution (200 kimg at 32x32, the CPU runs of
    docs/results.md): a fixed --total-kimg would end before the last fade-in at a higher resolution."""
    short = kimg_to_the_image(paper_total_kimg(nc.resolution, 30.0, 30.0))
    # (the options as the user of the call gives them: a train_run or Detector caller passes keywords)
    schedule = option_words(f"--total-kimg {short} --phase-kimg 30 --transition-kimg 30",
                            f"total_kimg={short}, phase_kimg=30, transition_kimg=30")
    warn_user(f"training {kimg_to_the_image(nimg_left / 1000)} kimg on a CPU can take days (the progress bar's "
              f"eta weighs each phase by its FLOPs); for a first model try {schedule} (the paper's schedule, "
              f"shortened), or {option_words('--minutes M', 'minutes=M')}")


def _next_multiple(nimg: int, every: int) -> int:
    """The first multiple of `every` images after `nimg`: when the next checkpoint (or sample grid) is due."""
    return (nimg // every + 1) * every


def _silent(msg: str) -> None:
    pass


def _over_budget(tc: TrainConfig, elapsed0: float, t_start: float) -> bool:
    return _budget_spent(tc, elapsed0 + time.time() - t_start)


def _budget_spent(tc: TrainConfig, elapsed: float) -> bool:
    """Whether `elapsed` seconds of training (over all the run's sessions) use up its --minutes budget."""
    return tc.minutes is not None and elapsed >= tc.minutes * 60


def _drain(device: torch.device) -> None:
    """Wait for the queued GPU work (before a clock read that must not include it)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _checkpoint_text(meta: dict[str, Any], nimg: int) -> str:
    """A restored checkpoint as the ranks compare it (distributed.same_checkpoint_restored / _rolled_back): its
    file, image count and the start of its sha256."""
    return f"{meta['weights']} ({nimg} images, sha256 {str(meta['sha256'])[:12]})"


def _diverged(what: str, run_dir: Path, nets: PGANNetworks, opts: dict[str, torch.optim.Optimizer],
              rng: torch.Generator, cfg: RunConfig, state: TrainState, log: Log) -> str:
    """Stop (default) or roll back to the newest good checkpoint with half the learning rate. Never saves bad
    weights: the caller only saves after this returns with restored, finite networks. Returns the checkpoint
    restored (_checkpoint_text)."""
    found = rollback_checkpoint(what, run_dir / "checkpoints", on_divergence=cfg.train.on_divergence,
                                rollbacks=state.rollbacks, lr=state.lr, kind=ckpt.TRAIN_STATE_KIND,
                                lower_lr=option_words("--lr", "train.lr"),
                                interval=option_words("--checkpoint-kimg ", "train.checkpoint_kimg=")
                                + kimg_to_the_image(cfg.train.checkpoint_kimg), log=log)
    new = _restore(found[0], found[1], nets, opts, rng, run_dir / "checkpoints")
    new.lr = halve_lr(opts.values(), new.lr, state.lr)
    new.rollbacks = state.rollbacks + 1
    state.__dict__.update(new.__dict__)
    log(f"warning: {what}; rolled back to {kimg_text(state.nimg)} kimg with lr {state.lr:g}")
    return _checkpoint_text(found[1], state.nimg)


# ------------------------------------------------------------------------------------------------------------------
# Logging: stats.jsonl rows, the progress bar's ETA, sample grids.

class _StatsLog:
    """stats.jsonl (rank 0 writes it) and TensorBoard: the loss terms are summed on the device every iteration (no
    host sync) and written as their mean every `log_every` iterations, one row with the image rate since the previous
    row (_stats_row)."""

    def __init__(self, run_dir: Path, is_main: bool, tensorboard: bool, resume_nimg: int | None, nimg: int) -> None:
        self.run_dir = run_dir
        self.f = open(run_dir / "stats.jsonl", "a", encoding="utf-8") if is_main else None
        self.tb = TensorBoardLog(run_dir, tensorboard and is_main, resume_nimg=resume_nimg)
        self._start(nimg)

    def _start(self, nimg: int) -> None:
        self.acc: dict[str, torch.Tensor] = {}
        self.n = 0                          # iterations summed in acc
        self.t_log, self.nimg_log = time.time(), nimg

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        self.acc = _accumulate(self.acc, terms)
        self.n += 1

    def leave_out(self, seconds: float) -> None:
        """Leave `seconds` (a checkpoint or sample grid being written) out of the next row's img_per_s."""
        self.t_log += seconds

    def write_row(self, state: TrainState, phase: Phase, device: torch.device, dist: Any) -> dict[str, Any]:
        if dist is not None:
            self.acc = dist.mean_tensors(self.acc)     # mean over ranks = mean over the global batch
        row = _stats_row(self.acc, self.n, state, phase, self.t_log, state.nimg - self.nimg_log, device, dist)
        self.acc, self.n, self.t_log, self.nimg_log = {}, 0, row["time"], state.nimg
        if self.f is not None:
            try:
                with full_disk_named(self.run_dir / "stats.jsonl"):
                    self.f.write(json.dumps(row) + "\n")
                    self.f.flush()
            except OSError:
                # closed now, its unwritten row dropped: close() in the loop's `finally` flushed it again, and that
                # second failure, which names no file, replaced this one
                f, self.f = self.f, None
                with suppress(OSError):
                    f.close()
                raise
            self.tb.scalars(row)
        return row

    def restart(self, nimg: int) -> None:
        """Go on from `nimg` images (a rollback): the rows after it are dropped (the truncation replaces the file,
        hence the reopening), TensorBoard's too, and the terms summed since the last row."""
        if self.f is not None:
            self.f.close()
            _drop_stats_after(self.run_dir, nimg)
            self.f = open(self.run_dir / "stats.jsonl", "a", encoding="utf-8")
        self.tb.restart_at(nimg)
        self._start(nimg)

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
        self.tb.close()


def _accumulate(acc: dict[str, torch.Tensor], terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """acc += terms, key by key; the sums are acc's own tensors (never the terms', which a CUDA graph overwrites).
    With the same keys (every iteration but the first after a log row) one foreach launch instead of one add per
    term: host time the graphed iteration at 4x4 waits for."""
    if acc.keys() == terms.keys():
        torch._foreach_add_(list(acc.values()), [terms[k] for k in acc])     # paired by key, whatever the order
        return acc
    return {**acc, **{k: acc[k] + v if k in acc else v.clone() for k, v in terms.items()}}


def _host_values(acc: dict[str, torch.Tensor]) -> list[float]:
    """The accumulated loss terms on the host: one transfer, which waits for every queued kernel."""
    return torch.stack([v.float() for v in acc.values()]).cpu().tolist() if acc else []


def _stats_row(acc: dict[str, torch.Tensor], n: int, state: TrainState, phase: Phase, t_log: float, dimg: int,
               device: torch.device, dist: Any = None) -> dict[str, Any]:
    """One stats.jsonl row. img_per_s is over the wall time since t_log, read after the host transfer: on CUDA the
    loop only queues kernels (no sync per iteration), so a clock read before it measured how fast the CPU queued
    work, not how fast the GPU did it (an H200 run logged 69k img/s for a phase that ran at 21k). img_per_s counts
    the images of every rank: the row says how many processes trained them (processes_record of `dist`, the
    session's; a run resumed in another number of processes writes its new count in the rows from then on)."""
    vals = _host_values(acc)
    now = time.time()
    row: dict[str, Any] = {"kimg": state.nimg / 1000, "iter": state.iteration, "resolution": phase.resolution,
                           "lod": round(phase.lod, 6), "batch": phase.batch, "lr": state.lr,
                           "img_per_s": dimg / max(now - t_log, 1e-9), "time": now,
                           # iterations the losses below average over: log_every, fewer in the first row after a
                           # resume (it counts from the checkpoint) or after a divergence check dropped bad steps
                           "iters": n, **processes_record(dist)}
    for k, v in zip(acc.keys(), vals):
        row[k] = v / n
    if device.type == "cuda":
        row["peak_gpu_mem_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource

        row["peak_cpu_mem_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # pragma: no cover - Windows
        pass
    return row


def _drop_stats_after(run_dir: Path, nimg: int) -> int:
    """Drop the stats.jsonl rows written after `nimg` images (a resume or a rollback trains them again); returns how
    many were dropped."""
    limit = nimg / 1000 + 1e-9
    return truncate_jsonl(run_dir / "stats.jsonl", lambda r: float(r["kimg"]) <= limit)


class EtaCosts(NamedTuple):
    """What the ETA knows of an iteration's cost before timing it, per resolution: training FLOPs per image and aten
    operator calls per iteration of its stable phase, and of its fade-in (from 8x8 on: the lower-resolution skip
    path and the blend add layers and calls). calls None: a fixed cost per iteration instead; fade_* None: a fade-in
    iteration costs what a stable one does."""
    flops: dict[int, float]
    calls: dict[int, float] | None = None
    fade_flops: dict[int, float] | None = None
    fade_calls: dict[int, float] | None = None


def _phase_costs(nc: NetConfig, device_type: str = "cpu", g_image_loss: bool = False) -> EtaCosts:
    """Training FLOPs per image, and operator calls per iteration, at each resolution of the schedule, stable and
    mid-fade-in (one counting pass each), for the ETA.

    Counted on a copy of the run's networks (build_pgan(nc), as the loop builds them) on the meta device, which has
    shapes and no storage, taking the kernel choices of the run's `device_type` (layers.forward_as_on): the same
    FLOPs and calls (tests/unit/training/test_schedule.py), without running the 2L - 1 passes for real on the
    run's device.
    On the CPU (one thread, a fresh process each, benchmarks/RESULTS.md 2026-12-03) the counting took 0.95-1.2 s
    for tiny and fast either way (most of it imports; a meta pass dispatches more and computes nothing) and 10.1 s /
    14.7 s for the paper preset at 128 / 256 pixels, now 1.2 / 1.3 s; on a GPU the real passes also ran (and could
    tune cuDNN for) batch-2 shapes that training never uses."""
    from ..nets.info import train_flops_per_image

    with torch.device("meta"):
        nets = build_pgan(nc, 0)                # (its own RNG: the run's global one is left alone)
    res = [4 * 2 ** j for j in range(nc.resolution_log2 - 1)]
    with layers.forward_as_on(device_type):
        stable = {r: train_flops_per_image(nets, nc, r, batch=2, g_image_loss=g_image_loss) for r in res}
        # any lod strictly inside the fade counts its extra path: the blend's weight changes values, not operators
        fade = {r: train_flops_per_image(nets, nc, r, lod=math.log2(nc.resolution // r) + 0.5, batch=2,
                                         g_image_loss=g_image_loss)
                for r in res[1:]}
    return EtaCosts({r: c["train"] for r, c in stable.items()}, {r: c["calls"] for r, c in stable.items()},
                    {r: c["train"] for r, c in fade.items()}, {r: c["calls"] for r, c in fade.items()})


# the ETA's start-up probe (_probe_iterations): one untimed iteration then ETA_PROBE_ITERS timed ones per resolution,
# within ETA_PROBE_SECONDS or ETA_PROBE_SHARE of the session's least possible length (all of it at the cost of an image
# at the first resolution probed), whichever is more, never above ETA_PROBE_MAX_SECONDS
ETA_PROBE_ITERS = 2
ETA_PROBE_SECONDS = 2.0
ETA_PROBE_SHARE = 0.01
ETA_PROBE_MAX_SECONDS = 60.0
# nor past the first resolution's first iteration where that least possible length is under this: the resolutions
# ahead of a run of a few seconds cost up to ETA_PROBE_SECONDS to probe, more than an ETA that short is worth (a tiny
# CLI train of 0.4 kimg on one thread: 6.3-6.9 s without them against 7.2-9.7 s with, benchmarks/RESULTS.md 2026-12-04)
ETA_PROBE_SKIP_SECONDS = 10.0
# a probe allowed this long or more says so before its resolutions ahead (the fast preset's, 2 CPU cores: ~40 s of
# silence after the start line, which read as a hang)
ETA_PROBE_SAY_SECONDS = 5.0


def _probe_iterations(nets: PGANNetworks, tc: TrainConfig, nc: NetConfig, device: torch.device, fast: FastOptions,
                      costs: EtaCosts, nimg: int, total: int, stop: Callable[[], bool] | None = None,
                      say: Callable[[str], None] | None = None) -> dict[int, float]:
    """Seconds per stable iteration (batch tc.minibatch[r]) at each resolution this session trains, from the
    current one up, for the ETA's cost ratios until three resolutions have run: a StepRunner's iterations on deep
    copies of the networks and fresh Adam states, fed a pyramid of zeros, with a generator of its own, so that the
    run's weights, moments, sampler and random numbers are as they were. A resolution is left out (and those above
    it) when its iterations, forecast by the FLOPs from the one below (an upper bound), would overrun the budget
    (ETA_PROBE_*), or the first untimed iteration alone did; none at all (an empty dict) where the session's least
    possible length, from the first resolution's untimed iteration (one iteration: a tiny session times no more) or
    else its timed ones, is under ETA_PROBE_SKIP_SECONDS. The timed iterations' fastest: another job's
    burst slows one, never speeds one up. `stop`: asked before each iteration; where it says True (a stop signal
    came), none either, at once: the run is stopping, and what it has left to train needs no estimate. `say`: told
    one line, once the first resolution is timed, where the rest may take ETA_PROBE_SAY_SECONDS or more."""
    import copy

    first = nc.resolution >> int(lod_at(nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg))
    last = nc.resolution >> int(lod_at(max(total - 1, nimg), nc.resolution, tc.phase_kimg, tc.fade_kimg))
    todo = [r for r in sorted(costs.flops) if first <= r <= last and r in tc.minibatch]
    if not todo:
        return {}
    n = max(tc.minibatch[r] for r in todo)
    copies = copy.deepcopy(nets)
    pyramid = {r: torch.zeros((n, nc.channels, r, r), dtype=torch.uint8, device=device)
               for r in sorted(costs.flops) if r <= todo[-1]}
    rng = torch.Generator(device=device)
    rng.manual_seed(0)
    runner = StepRunner(copies, make_optimizers(copies, tc, fast, device), tc, nc, device, pyramid, rng, fast=fast,
                        log=lambda _: None, n=n)
    out: dict[int, float] = {}
    spent, budget = 0.0, ETA_PROBE_SECONDS
    for r in todo:
        b = tc.minibatch[r]
        if out:
            below = max(out)
            ahead = out[below] * costs.flops[r] * b / (costs.flops[below] * tc.minibatch[below])
            if spent + ahead * (1 + ETA_PROBE_ITERS) > budget:
                break
        phase = Phase(lod=math.log2(nc.resolution // r), resolution=r, batch=b, fade=0.0)
        runner.reset_optimizers()
        if stop is not None and stop():
            return {}
        t0 = time.perf_counter()
        runner.iteration(phase)                  # untimed: allocations, Adam's lazy state
        took = time.perf_counter() - t0
        spent += took
        if not out and (total - nimg) * took / b < ETA_PROBE_SKIP_SECONDS:
            # the first iteration, with its allocations, costs at least what a later one does: a session under the
            # skip at its price is under it at theirs, and the timed iterations that would say so are not needed
            return {}
        if not out and took > ETA_PROBE_MAX_SECONDS / (1 + ETA_PROBE_ITERS):
            break
        times = []
        for _ in range(ETA_PROBE_ITERS):
            if stop is not None and stop():
                return {}
            t0 = time.perf_counter()
            runner.iteration(phase)
            times.append(time.perf_counter() - t0)
        spent += sum(times)
        out[r] = min(times)
        if len(out) == 1:
            # the session's least possible length: every image left at this resolution's cost per image
            least = (total - nimg) * out[r] / b
            if least < ETA_PROBE_SKIP_SECONDS:
                # (nothing, not this one alone: one resolution has no ratios for the ETA to price the others by)
                return {}
            budget = min(ETA_PROBE_MAX_SECONDS, max(ETA_PROBE_SECONDS, ETA_PROBE_SHARE * least))
            if say is not None and len(todo) > 1 and budget - spent >= ETA_PROBE_SAY_SECONDS:
                # (the progress bar's ETA is what it is for, so turning the bar off is what skips it)
                off = option_words("--no-progress", "progress=False (a Detector's verbose=False)")
                say(f"eta: timing a few iterations at each resolution ahead for the progress bar's ETA (up to "
                    f"{math.ceil(budget - spent)} s; {off} skips it)")
    return out


# the start-up probe's ratios price the resolutions ahead until this many resolutions have been measured, the fit
# over the measured segments (_forecast) from then on: a fit through the first two (4x4 and 8x8, overhead-bound both)
# was 20-37% off in replays of tiny's 8x8 phase where the probe was 3-12% (benchmarks/RESULTS.md, 2026-12-03)
ETA_PROBE_UNTIL = 3
# the ETA's rate comes from the current resolution once it has run this long (else from the whole session)
ETA_ANCHOR_SECONDS = 20.0
# a resolution's cost per image enters the forecast of those ahead once it has run this long: a short one (tiny's
# 4x4 phase lasts seconds) is all a small run has to go on, and the forecast never exceeds the FLOP-priced bound
ETA_FIT_SECONDS = 1.0


def _eta(costs: EtaCosts, nc: NetConfig, tc: TrainConfig, nimg0: int, nimg: int, total: int,
         seconds: float, elapsed_before: float = 0.0, anchor: tuple[int, int, float] | None = None,
         now: float | None = None,
         measured: dict[int, tuple[int, int, float]] | Sequence[tuple[int, int, float]] | None = None,
         segment: tuple[int, float] | None = None, probe: dict[int, float] | None = None) -> str:
    """Time left: the images left at each resolution, each at its measured or forecast time per image, or what is
    left of the --minutes budget (over all sessions) when that ends the run first.

    The rate is that of the current resolution (`anchor`: its resolution, and the nimg and time.time() where this
    session began it) once it has run ETA_ANCHOR_SECONDS, else this session's. A larger resolution uses the hardware
    better (small convolutions are overhead-bound: 31% of the matmul rate at 4x4 against 44% at 32x32 for `fast` on
    a CPU, far less at 4x4 on a GPU), so the session's mean rate, dragged down by the small phases, overstated the
    long 32x32 phase by that ratio; the current one's is the best guess for the current resolution.

    The resolutions ahead are priced by their FLOPs at that rate (an upper bound, said with "<") until this session
    has measured two resolutions: then by a cost per operator call plus one per FLOP, fitted to every segment
    measured (_forecast). A segment is a resolution's fade-in or its stable phase: `measured` holds the first and
    last image and the seconds of each one this session finished (ETA_FIT_SECONDS or more; a dict {resolution:
    span} of whole resolutions is taken too), `segment` the first image and time.time() of the one in progress
    (without it, the current resolution's span from `anchor` is that point). Fade-in and stable images are counted
    apart throughout (`costs`): the current resolution measured during its fade-in prices the stable images after
    it by the fit's ratio of the two, not at the fade's rate.

    With `probe` (the start-up probe's seconds per iteration at each resolution, _probe_iterations), until
    ETA_PROBE_UNTIL resolutions have been measured, the probed resolutions are priced by its ratios instead, scaled
    to the current resolution's measured rate (in its first ETA_FIT_SECONDS, to the last segment measured;
    _probe_model); "?" before anything is measured."""
    from tqdm import tqdm

    fade_flops = costs.flops if costs.fade_flops is None else costs.fade_flops

    def work(a: int, b: int) -> float:
        return schedule_work(a / 1000, b / 1000, nc.resolution, tc.phase_kimg, tc.fade_kimg, costs.flops, fade_flops)

    def split(r: int, a: int, b: int) -> tuple[float, float]:
        """(fade-in images, stable images) of resolution r among the images a..b."""
        one, none = {q: float(q == r) for q in costs.flops}, {q: 0.0 for q in costs.flops}
        return tuple(1000 * schedule_work(a / 1000, b / 1000, nc.resolution, tc.phase_kimg, tc.fade_kimg, s, f)
                     for s, f in ((none, one), (one, none)))                         # type: ignore[return-value]

    t_now = time.time() if now is None else now
    done, took = work(nimg0, nimg), seconds
    finished = list(measured.values()) if isinstance(measured, dict) else list(measured or ())
    spans = [p for p in finished if p[2] >= ETA_FIT_SECONDS]
    cur_span: tuple[float, float, float] | None = None    # the current resolution's (fade-in, stable, seconds)
    if anchor is not None:
        since = t_now - anchor[2]
        if since >= ETA_ANCHOR_SECONDS and work(anchor[1], nimg) > 0:
            done, took = work(anchor[1], nimg), since
        if since >= ETA_FIT_SECONDS and nimg > anchor[1]:
            cur_span = (*split(anchor[0], anchor[1], nimg), since)
            if segment is None:
                spans.append((anchor[1], nimg, since))
    if segment is not None and t_now - segment[1] >= ETA_FIT_SECONDS and nimg > segment[0]:
        spans.append((segment[0], nimg, t_now - segment[1]))
    if done <= 0 or took <= 0:
        return "?"

    def point(a: int, b: int, s: float) -> tuple[int, float, float, float]:
        """A span as (its resolution, fade-in images, stable images, seconds). The loop's segments change at a
        round, the schedule's formula at an image: the few images of a neighbouring phase in the span's last round
        are counted as the ones the round trained."""
        r = max(costs.flops, key=lambda q: sum(split(q, a, b)))
        nf, ns = split(r, a, b)
        scale = (b - a) / (nf + ns) if nf + ns > 0 else 0.0
        return r, nf * scale, ns * scale, s

    points = [point(*p) for p in spans]
    model = _forecast(costs, tc.minibatch, points)
    if probe and anchor is not None and len({p[0] for p in points}) < ETA_PROBE_UNTIL:
        # the resolutions ahead at the probe's cost ratios to the current one (_probe_model), where it has them (the
        # fit through the first two resolutions, else the FLOP bound, where it has not); in the first second of a
        # resolution, to the last segment measured (before: the FLOP bound, '<17:23' for 100 s at 8x8)
        ref = (anchor[0], *cur_span) if cur_span is not None else point(*spans[-1]) if spans else None
        if ref is None and model is None:
            # the session's first second: nothing measured to scale the probe to, and the FLOP bound it replaces
            # was 8-19x the time left at tiny's 4x4 (no ETA rather than that)
            return "?"
        probed = None if ref is None else _probe_model(costs, tc.minibatch, probe, ref[0], ref[1:])
        if probed is not None:
            fitted = model

            def model(r: int, nf: float, ns: float) -> float | None:
                v = probed(r, nf, ns)
                return v if v is not None or fitted is None else fitted(r, nf, ns)
    # the resolution trained now (a fade-in trains the larger one), from the formula alone: `nimg` is mid-round, and
    # the last round may end in a resolution without a minibatch size, which the run never trains at
    current = nc.resolution >> int(lod_at(nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg))
    left, bound = 0.0, False
    for r in costs.flops:
        n_fade, n_stable = split(r, nimg, total)
        if n_fade + n_stable <= 0:
            continue
        flop_priced = (n_fade * fade_flops.get(r, 0.0) + n_stable * costs.flops[r]) / 1000 * took / done
        guess = None if model is None else model(r, n_fade, n_stable)
        if anchor is not None and r == anchor[0] and cur_span is not None:
            # the current resolution (the same rate either way once anchored): before ETA_ANCHOR_SECONDS the
            # session's mean rate, dragged down by the smaller resolutions, put the last one of a tiny run at +40-67%;
            # its own first seconds (warm-up and all) overstate it too, so the lower of the two. Its own rate is
            # that of the images it measured: a fade-in's, which at tiny's 8x8 was 0.65-0.88 of the stable rate, so
            # what is left is priced by the fit's ratio of the images left to those measured
            p_fade, p_stable, s_cur = cur_span
            fit_then = None if model is None else model(r, p_fade, p_stable)
            own = s_cur * (n_fade + n_stable) / (p_fade + p_stable) if guess is None or not fit_then \
                else s_cur * guess / fit_then
            left += min(own, flop_priced)
        elif guess is not None:
            left += min(guess, flop_priced)
        else:
            left += flop_priced
            # A resolution ahead priced by its FLOPs at the current, overhead-bound rate: an upper bound, and a loose
            # one for small networks (the demo: 7-13x its real length at 4x4, 1.3-2x at 8x8 and 16x16; `fast` 1.4-3x
            # at 4x4). Said as "<".
            bound = bound or r > current
    if tc.minutes is not None and tc.minutes * 60 - elapsed_before - seconds < left:
        return tqdm.format_interval(max(0.0, tc.minutes * 60 - elapsed_before - seconds))   # the budget ends it
    return ("<" if bound else "") + tqdm.format_interval(left)


def _probe_model(costs: EtaCosts, minibatch: dict[int, int], probe: dict[int, float], current: int,
                 span: tuple[float, float, float]) -> Callable[[int, float, float], float | None] | None:
    """The seconds that `n_fade` fade-in and `n_stable` stable images at resolution r take, as model(r, n_fade,
    n_stable) of _forecast, from the probe's seconds per stable iteration at each resolution (_probe_iterations),
    scaled so that the current resolution's measured `span` (fade-in images, stable images, seconds) is exact: the
    probe's ratios between resolutions, the run's own rate. A fade-in image costs a stable one times the ratio of
    their operator calls (costs.fade_calls / costs.calls; 1 without them), the rule of the overhead-bound small
    networks whose resolutions the probe covers. None where r was not probed (the fit, or the FLOP-priced bound,
    then), or without the current resolution's time."""
    def unscaled(r: int, nf: float, ns: float) -> float | None:
        if r not in probe or r not in minibatch:
            return None
        calls, fade = costs.calls or {}, costs.fade_calls or {}
        ratio = fade[r] / calls[r] if calls.get(r) and fade.get(r) else 1.0
        return probe[r] / minibatch[r] * (ns + nf * ratio)

    base = unscaled(current, span[0], span[1])
    if not base or span[2] <= 0:
        return None
    scale = span[2] / base

    def model(r: int, nf: float, ns: float) -> float | None:
        u = unscaled(r, nf, ns)
        return None if u is None else scale * u
    return model


def _forecast(costs: EtaCosts, minibatch: dict[int, int],
              measured: dict[int, tuple[float, float, float]] | Sequence[tuple[int, float, float, float]]
              ) -> Callable[[int, float, float], float | None] | None:
    """The seconds that `n_fade` fade-in and `n_stable` stable images at resolution r take, fitted to the measured
    segments ([(resolution, fade-in images, stable images, seconds)], or {resolution: (fade-in images, stable
    images, seconds)}), as model(r, n_fade, n_stable) (None where r has no batch size or no counts); None with
    fewer than two resolutions measured, or no fit that is a cost.

    With operator calls (costs.calls): an iteration costs c per operator call (dispatch, launch, Python) plus k per
    FLOP. The calls grow with the layers, by about 1.3-1.5x per resolution, the FLOPs by 4-6x, so that a small
    network's per-image cost grows by far less than its FLOPs (tiny on a CPU: 1.9x per iteration from 4x4 to 8x8,
    1.9x to 16x16, 1.6x to 32x32 at half the batch). Without them, or where that fit is no cost: a fixed c per
    iteration plus k per FLOP, which put tiny's 16x16 and 32x32 at +50% and +80% from 4x4 and 8x8 (its fixed cost
    does not grow with the layers); the calls' fit +11% and +20% (the per-phase rates in benchmarks/RESULTS.md, ETA
    section). A segment is priced by its own calls and FLOPs: a fade-in iteration does more (tiny and fast: 1.19x
    the calls of a stable one at 8x8, 1.11x at 32x32).

    (c, k) are a least-squares fit over every segment, not an exact solve through two: a resolution's fade-in and
    stable parts are points of their own, so that one slowed by other jobs (tiny's 8x8 fade-in at 1.57x its stable
    phase, where the counts say 1.19x) moves it less than it moved the exact fit through it (a run's end there: 64
    points of error; the fit over segments took another run's 97% to 36%, benchmarks/RESULTS.md, 2026-12-03). The
    residuals are relative (a segment's cost per image is off by a ratio, whatever its resolution), each weighed by
    its images: weighed by its seconds, a slowed segment gained weight by being slow (three replayed runs' mean
    errors summed: 58.5 points against 52.6). With two points the fit is the exact solve; the gain is where a third
    says the two disagree. No fit is a cost where a coefficient is < 0 (noise from other jobs, or a CUDA graph's
    replay, which has no per-call cost): a bound of the weighted problem (c = 0) is not taken either, as it says the
    calls do not explain the times; the fixed cost per iteration is tried, then nothing (the FLOP-priced bound)."""
    pts = [(r, nf, ns, s) for r, (nf, ns, s) in measured.items()] if isinstance(measured, dict) else list(measured)
    usable = [p for p in pts if p[1] + p[2] > 0 and p[3] > 0 and p[0] in minibatch]
    if len({p[0] for p in usable}) < 2:
        return None                            # one resolution: calls and FLOPs grow together within it
    fade_flops = costs.flops if costs.fade_flops is None else costs.fade_flops
    calls = costs.calls
    fade_calls = calls if costs.fade_calls is None else costs.fade_calls

    def counts(r: int, nf: float, ns: float, per_call: bool) -> tuple[float, float] | None:
        """(operator calls or iterations, FLOPs) of nf fade-in and ns stable images at r."""
        if r not in minibatch or r not in costs.flops or (nf > 0 and r not in fade_flops):
            return None
        b = minibatch[r]
        if not per_call:
            ops = (nf + ns) / b
        elif calls is None or fade_calls is None or r not in calls or (nf > 0 and r not in fade_calls):
            return None
        else:
            ops = (nf * fade_calls.get(r, 0.0) + ns * calls[r]) / b
        return ops, nf * fade_flops.get(r, 0.0) + ns * costs.flops[r]

    for per_call in ((True, False) if calls is not None else (False,)):
        got = [counts(r, nf, ns, per_call) for r, nf, ns, _ in usable]
        if None in got:
            continue
        # relative residual (c o + k x - s) / s weighed by the segment's images n: rows (o, x, s) sqrt(n) / s
        a = np.array([[o, x] for o, x in got], dtype=np.float64)       # type: ignore[misc]
        s = np.array([p[3] for p in usable], dtype=np.float64)
        w = np.sqrt(np.array([p[1] + p[2] for p in usable], dtype=np.float64)) / s
        a_w, s_w = a * w[:, None], s * w
        scale = np.abs(a_w).max(axis=0)        # calls ~1e2-1e4 an iteration, FLOPs ~1e6-1e12: equilibrate
        if not np.all(scale > 0):
            continue
        sol, _, rank, _ = np.linalg.lstsq(a_w / scale, s_w, rcond=None)
        if rank < 2:
            continue                           # degenerate: calls proportional to FLOPs across the points
        c, k = (float(v) for v in sol / scale)
        if c >= 0 and k > 0:
            def model(r: int, nf: float, ns: float, c: float = c, k: float = k, per_call: bool = per_call
                      ) -> float | None:
                got = counts(r, nf, ns, per_call)
                return None if got is None else c * got[0] + k * got[1]
            return model
    return None


def save_sample_grid(path: Path, imgs: torch.Tensor, resolution: int) -> None:
    """Write a grid PNG of images in [-1, 1] (nearest-upsampled to `resolution`)."""
    from PIL import Image

    if imgs.shape[-1] != resolution:
        imgs = F.interpolate(imgs.float(), size=resolution, mode="nearest")
    x = ((imgs.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    n, c, h, w = x.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = torch.zeros(c, rows * h, cols * w, dtype=torch.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[:, r * h:(r + 1) * h, q * w:(q + 1) * w] = x[i]
    arr = grid.permute(1, 2, 0).numpy()
    # (whole or not at all: a kill while writing left a truncated PNG, which a resume takes as the grid drawn)
    atomic_write_stream(lambda f: Image.fromarray(arr[..., 0] if c == 1 else arr).save(f, format="PNG"), path)


def _write_samples(run_dir: Path, nets: PGANNetworks, z: torch.Tensor, lod: float, nc: NetConfig, nimg: int) -> Path:
    with torch.no_grad():
        imgs = nets.Gs(z, lod)
    path = _samples_path(run_dir, nimg)
    save_sample_grid(path, imgs, nc.resolution)
    return path


def _samples_path(run_dir: Path, nimg: int) -> Path:
    # kimg with 3 decimals, zero-padded: sorts by training time, and a short run's grid is not "000000kimg" (a file
    # name, not a message: messages say kimg by kimg_to_the_image, and the report's captions read this name back)
    return run_dir / "samples" / f"fakes-{nimg / 1000:010.3f}kimg.png"
