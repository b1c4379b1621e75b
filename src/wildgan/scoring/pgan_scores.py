"""Scoring with the proposed method's networks: z_hat = E(Q), X_rec = Gs(z_hat), all scores of scores.py.

Batch composition (why it matters): E ends with a minibatch-stddev layer, so E(Q) depends a little on the other
images in Q's batch. Following the spec (4.2) images are scored in *mixed, shuffled* batches of `batch_size`
(a multiple of the group size 4) in an order fixed by `shuffle_seed`; when the last batch is not a multiple of 4
it is filled up with images from the start of that order (to a full batch; their scores are taken from their first
batch), otherwise it stays short (2,000 CIFAR test images: 31 batches of 64 and one of 16). Per-image scores are
therefore a deterministic function of (the images in their order, shuffle_seed, batch_size). `batch_mode="isolated"`
removes the dependence entirely (group size 1: each image's stddev feature is that of an identical batch, as if the
image were scored with 4 copies of itself), at the price of differing slightly from the paper's protocol.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import math
import threading

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import u8_to_unit
from ..config import SCORE_NAMES, ScoreConfig
from ..errors import DataError, WildganError, option_words, warn_user
from ..fileio import ObjectLocks
from ..nets import PGANNetworks
from ..nets.pgan import Encoder
from .scores import all_scores, encoder_scores

if TYPE_CHECKING:
    from ..training.distributed import DistContext


def u8_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1] (data.transforms.u8_to_unit, the training rule)."""
    return u8_to_unit(x.permute(0, 3, 1, 2))


def at_lod(q: torch.Tensor, lod: float) -> torch.Tensor:
    """Full-resolution queries as the networks see them at `lod`: 2^floor(lod) box average, then the same fade
    as process_reals during a fade-in."""
    if lod <= 0:
        return q
    f = 2 ** math.floor(lod)
    if f > 1:
        q = F.avg_pool2d(q, f)
    t = lod - math.floor(lod)
    if t > 0:
        q = q + (F.interpolate(F.avg_pool2d(q, 2), scale_factor=2.0, mode="nearest") - q) * t
    return q


@dataclass
class ScoreResult:
    scores: dict[str, np.ndarray]                 # name -> [N] float64, higher = more anomalous
    z: np.ndarray                                 # [N, N_z] raw encoder output (or searched latent)
    recon: np.ndarray | None = None               # [N, H, W, C] float32 on the [-1, 1] scale (unclipped) when requested
    info: dict = field(default_factory=dict)


def batch_order(n: int, batch_size: int, seed: int, group: int = 4) -> list[np.ndarray]:
    """Shuffled batches covering 0..n-1; the last one is padded (wrap-around) to a multiple of the group size."""
    order = np.random.default_rng(seed).permutation(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if not batches:
        return []                      # no images: nothing to score (empty scores, not an IndexError)
    last = batches[-1]
    if n >= group and len(last) % group:
        need = (batch_size if n >= batch_size else -(-len(last) // group) * group) - len(last)
        batches[-1] = np.concatenate([last, order[:need]])
    return batches


# One scoring at a time per set of networks (keyed by its encoder module): a scoring sets state on the networks for
# the length of the call and puts it back after (E's minibatch-stddev sub-batch and group size, the train / eval
# flags, channels_last weights on CUDA; latent search's frozen parameters; f-AnoGAN's eval mode, whose BatchNorm in
# train mode would update its running statistics). Two threads scoring one fitted Detector (a threaded server, or a
# copy.copy, which shares the networks) read each other's settings: a 64-image forward grouped by another call's 12
# raised a ValueError, by its 16 gave other scores without one, and the call that finished last put the other's
# sub-batch back for good. Re-entrant: LoadedModel.score holds it around score_batches, which takes it too.
# (a child forked while a thread of the parent scored starts with none held: fileio.ObjectLocks)
_SCORING_LOCKS = ObjectLocks()


def scoring_lock(net: torch.nn.Module) -> threading.RLock:
    """The lock held while networks whose encoder is `net` score (see _SCORING_LOCKS)."""
    return _SCORING_LOCKS.of(net)


@contextmanager
def mbstd_group(net: Encoder, group: int) -> Iterator[None]:
    """The encoder's minibatch-stddev group size set to `group` for the block (1: isolated scoring)."""
    old = net.mbstd_group
    net.mbstd_group = group
    try:
        yield
    finally:
        net.mbstd_group = old


@contextmanager
def channels_last_weights(mods: Iterable[torch.nn.Module], on: bool = True) -> Iterator[None]:
    """The 4-D weights of `mods` in channels_last for the block, then their own tensors back (a training run's
    parameters keep their layout and identity). With channels_last weights and queries every activation is NHWC,
    the layout in which cuDNN's bf16/TF32 convolutions need no transposes, and G's pixel norms take the fused RMS
    norm (nets.layers.pixel_norm). Values are those of the contiguous layout up to float rounding."""
    saved: list[tuple[torch.nn.Parameter, torch.Tensor]] = []
    try:
        # inside the try: a conversion that fails half-way (out of memory) still puts back those already converted
        if on:
            with torch.no_grad():
                for m in mods:
                    for p in m.parameters():
                        if p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last):
                            saved.append((p, p.data))
                            p.data = p.data.contiguous(memory_format=torch.channels_last)
        yield
    finally:
        for p, d in saved:
            p.data = d


BatchOut = tuple[int, dict[str, np.ndarray], np.ndarray, "np.ndarray | None"]


def _check_protocol(cfg: ScoreConfig, batch_mode: str) -> None:
    if batch_mode not in ("mixed", "isolated"):
        raise ValueError(f"batch_mode must be mixed or isolated, got {batch_mode!r}")
    if cfg.batch_size % 4:
        raise ValueError(f"score batch size must be a multiple of 4 (minibatch-stddev groups), got {cfg.batch_size}")


def default_batches_per_forward(device: torch.device | str) -> int:
    """1 on CPU; 16 on CUDA, where one forward of 64 images is launch-bound (same scores either way)."""
    return 16 if torch.device(device).type == "cuda" else 1


def score_batches(nets: PGANNetworks, x_u8: np.ndarray, batches: list[np.ndarray], which: Iterable[int],
                  cfg: ScoreConfig, *, device: torch.device | str = "cpu", batch_mode: str = "mixed",
                  return_recon: bool = False, progress: bool = False, lod: float = 0.0,
                  batches_per_forward: int | None = None, with_A: bool = True,
                  channels_last: bool | None = None) -> list[BatchOut]:
    """Score the batches numbered `which` of `batches` (all of them, or one rank's shard):
    [(batch number, scores, z, reconstruction or None)].

    `with_A=False` leaves out f-AnoGAN's A: its critic features of Q and of G(E(Q)) are two D passes, about half of
    the scoring's FLOPs (E + G + 2 D trunks); a, L_n, L_o and L_r need E and G only and do not change.
    `channels_last` (default: on CUDA): queries and weights in channels_last for the scoring (channels_last_weights).

    `batches_per_forward` consecutive batches of equal size go through the networks as one stacked forward, with
    E's minibatch stddev computed per batch (nets.layers.minibatch_stddev's sub_batch): the scores are those of
    one forward per batch, up to float rounding; only the speed changes. A stacked forward that runs out of GPU
    memory (16 x 64 images at 32x32 and width 512 in fp32 peak near 35 GB; more at larger resolutions) is split in
    halves and retried, down to one batch per forward, with a warning; the rest of the call keeps the smaller stack."""
    # (one call at a time on these networks: it sets E's sub-batch and group and the modules' flags for its length)
    with scoring_lock(nets.E):
        return _score_batches(nets, x_u8, batches, which, cfg, device=device, batch_mode=batch_mode,
                              return_recon=return_recon, progress=progress, lod=lod,
                              batches_per_forward=batches_per_forward, with_A=with_A, channels_last=channels_last)


@torch.no_grad()
def _score_batches(nets: PGANNetworks, x_u8: np.ndarray, batches: list[np.ndarray], which: Iterable[int],
                   cfg: ScoreConfig, *, device: torch.device | str = "cpu", batch_mode: str = "mixed",
                   return_recon: bool = False, progress: bool = False, lod: float = 0.0,
                   batches_per_forward: int | None = None, with_A: bool = True,
                   channels_last: bool | None = None) -> list[BatchOut]:
    """score_batches' work, its lock held."""
    from ..progress import progress_bar

    _check_protocol(cfg, batch_mode)
    k = batches_per_forward or default_batches_per_forward(device)
    G = nets.Gs if cfg.generator == "Gs" else nets.G
    E: Encoder = nets.E
    # the stack that last ran out of memory for these networks on this device and image size, halved: later calls
    # (a Detector scores the training images twice, then every query) start there instead of failing again
    limits: dict[tuple[Any, ...], int] = E.__dict__.setdefault("_wildgan_score_stack_limit", {})
    key = (str(torch.device(device)), int(x_u8.shape[1]) if x_u8.ndim > 1 else 0, float(lod), cfg.batch_size,
           bool(with_A), bool(return_recon))
    k = min(k, limits.get(key, k))
    mods = (G, E, nets.D)
    was_training = [m.training for m in mods]
    for m in mods:
        m.eval()
    group = 1 if batch_mode == "isolated" else E.mbstd_group
    x_t = torch.from_numpy(np.ascontiguousarray(x_u8))

    def stacks(numbers: Iterable[int], k: int) -> list[list[int]]:
        """Consecutive batches of equal size, at most k per forward (E's stddev is computed per sizes[0] rows)."""
        chunks: list[list[int]] = []
        for bi in numbers:
            if chunks and len(chunks[-1]) < k and len(batches[bi]) == len(batches[chunks[-1][0]]):
                chunks[-1].append(bi)
            else:
                chunks.append([bi])
        return chunks

    chunks = stacks(which, k)
    out: list[BatchOut] = []
    old_sub = E.mbstd_batch
    cl = torch.device(device).type == "cuda" if channels_last is None else channels_last

    def forward(chunk: list[int]) -> None:
        sizes = [len(batches[bi]) for bi in chunk]
        E.mbstd_batch = sizes[0]
        idx = torch.from_numpy(np.concatenate([batches[bi] for bi in chunk]))
        q = at_lod(u8_to_float(x_t[idx].to(device)), lod)
        if cl:
            q = q.contiguous(memory_format=torch.channels_last)
        z = E(q, lod)
        rec = G(z, lod)
        # scores in fp32 also under autocast (bf16 outputs); no-ops in fp32
        if with_A:
            s = all_scores(q, rec.float(), z.float(), nets.D.features(q, lod).float(),
                           nets.D.features(rec, lod).float(), cfg.lam, cfg.kappa)
        else:
            s = {**encoder_scores(q, rec, z, cfg.lam), "z_norm": z.float().norm(dim=1)}
        s_np = {kk: v.double().cpu().numpy() for kk, v in s.items()}
        z_np = z.float().cpu().numpy()
        r = None
        if return_recon:
            full = F.interpolate(rec.float(), size=x_u8.shape[1], mode="nearest") if lod > 0 else rec
            r = full.permute(0, 2, 3, 1).float().cpu().numpy()
        for j, bi in enumerate(chunk):
            a, b = j * sizes[0], (j + 1) * sizes[0]
            out.append((bi, {kk: v[a:b] for kk, v in s_np.items()}, z_np[a:b],
                        None if r is None else r[a:b]))

    oom = tuple(t for t in (getattr(torch.cuda, "OutOfMemoryError", None), getattr(torch, "OutOfMemoryError", None))
                if isinstance(t, type))
    try:
        with mbstd_group(E, group), channels_last_weights((G, E, nets.D) if with_A else (G, E), cl), \
                progress_bar(total=len(chunks), disable=not progress, desc="score", unit="forward") as bar:
            todo = list(reversed(chunks))                # a stack: the next forward at the end
            while todo:
                chunk = todo.pop()
                try:
                    forward(chunk)
                except oom as e:
                    # (torch frees its cached blocks before it raises; the failed forward's tensors go with the
                    # traceback when this block ends, and the retry reuses that memory)
                    if len(chunk) == 1:
                        # from None: a chained error would keep the failed batch's activations on the GPU for as
                        # long as the exception lives (a notebook keeps the last one)
                        raise WildganError(f"out of GPU memory scoring one batch of {len(batches[chunk[0]])} images "
                                           f"({str(e).splitlines()[0] if str(e) else 'OutOfMemoryError'}); score "
                                           "on the CPU (device 'cpu', --device cpu) or free the GPU's "
                                           "memory") from None
                    k = (len(chunk) + 1) // 2
                    limits[key] = k
                    warn_user(f"scoring: out of GPU memory with {len(chunk)} batches of {len(batches[chunk[0]])} "
                              f"images per forward; going on with {k} per forward (the same scores up to float "
                              f"rounding)")
                    # this stack and every later one at most k batches per forward
                    todo = list(reversed(stacks([bi for c in [chunk, *reversed(todo)] for bi in c], k)))
                    bar.total = bar.n + len(todo)
                    bar.refresh()
                    continue
                bar.update(1)
    finally:
        E.mbstd_batch = old_sub
        for m, t in zip(mods, was_training):
            m.train(t)
    return out


def assemble(n: int, batches: list[np.ndarray], parts: list[BatchOut], latent_size: int,
             image_shape: tuple[int, ...] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """Per-image arrays from per-batch outputs. Wrap-around padding images keep the score of their first batch."""
    out: dict[str, np.ndarray] = {}
    z_all = np.zeros((n, latent_size), dtype=np.float32)
    recon = np.zeros((n, *image_shape), dtype=np.float32) if image_shape is not None else None
    done = np.zeros(n, dtype=bool)
    for bi, s, z, r in sorted(parts, key=lambda p: p[0]):
        idx = batches[bi]
        first = np.zeros(len(idx), dtype=bool)
        first[np.unique(idx, return_index=True)[1]] = True
        keep = first & ~done[idx]
        sel = idx[keep]
        for k, v in s.items():
            out.setdefault(k, np.zeros(n, dtype=np.float64))[sel] = v[keep]
        z_all[sel] = z[keep]
        if recon is not None and r is not None:
            recon[sel] = r[keep]
        done[sel] = True
    if not done.all():
        # (a ValueError, not an assert: under python -O the images no batch named kept scores of 0 in silence)
        missing = np.flatnonzero(~done)
        raise ValueError(f"batches cover {n - len(missing)} of the {n} images: {len(missing)} left out (the first: "
                         f"{', '.join(str(i) for i in missing[:5])}); each image must be in a batch")
    if n == 0:      # no images: every score as an empty array (a caller's scores["a"] must not be a KeyError)
        out = {k: np.zeros(0, dtype=np.float64) for k in (*SCORE_NAMES, "z_norm")}
    return out, z_all, recon


def score_pgan(nets: PGANNetworks, x_u8: np.ndarray, cfg: ScoreConfig = ScoreConfig(), *,
               device: torch.device | str | None = None, batch_mode: str = "mixed", return_recon: bool = False,
               progress: bool = False, lod: float = 0.0, batches_per_forward: int | None = None,
               batches: list[np.ndarray] | None = None, with_A: bool = True) -> ScoreResult:
    """Score uint8 images [N, R, R, C]. Normally at full resolution (lod 0); a run stopped before its schedule
    reached full resolution (e.g. by a wall-clock budget) is scored at the lod it reached, on queries reduced like
    its training images (box average, faded; without the pyramid's uint8 rounding), since its full-resolution
    layers are untrained.

    `batches` (default batch_order's): the batches to score, index arrays into x_u8 covering every image, each a
    multiple of 4 long unless it is the only one (a caller that scores a large set chunk by chunk passes the
    chunk's share of the whole set's batches, so that every image meets the batch it would have met anyway).
    `with_A=False`: every score but f-AnoGAN's A, at about half the cost (score_batches). `device` (default: where
    the networks are) is where the images are scored; the networks must be there."""
    _check_protocol(cfg, batch_mode)
    if batches is None:
        batches = batch_order(len(x_u8), cfg.batch_size, cfg.shuffle_seed)
    group = int(getattr(nets.E, "mbstd_group", 4))
    if batch_mode == "mixed" and any(len(b) < group for b in batches):
        # only when fewer images than a group are scored at all (every other batch is a multiple of the group)
        n = len(x_u8)
        # a Python caller usually holds a fitted Detector: Detector(batch_mode=...) would be a new, unfitted one,
        # while set_params re-derives the fitted one's threshold from its run without retraining
        isolated = option_words("--batch-mode isolated",
                                "batch mode 'isolated' (on a fitted Detector: det.set_params(batch_mode='isolated'), "
                                "no retraining; or Detector.from_run(RUN, batch_mode='isolated'))")
        warn_user(f"{n} image{'s' if n != 1 else ''} scored in batch mode 'mixed': the encoder's minibatch-"
                  f"stddev layer sees a group of {n} instead of {group} different images, which shifts the scores "
                  f"against those of training images (and thresholds made from them). To score images one at a "
                  f"time use {isolated}, or score them together with others")
    if device is None:
        device = next(nets.E.parameters()).device
    parts = score_batches(nets, x_u8, batches, range(len(batches)), cfg, device=device, batch_mode=batch_mode,
                          return_recon=return_recon, progress=progress, lod=lod,
                          batches_per_forward=batches_per_forward, with_A=with_A)
    scores, z, recon = assemble(len(x_u8), batches, parts, nets.E.cfg.latent_size,
                                x_u8.shape[1:] if return_recon else None)
    if not with_A:
        scores.pop("A", None)            # no images: assemble names every score
    return ScoreResult(scores=scores, z=z, recon=recon,
                       info={"batch_size": cfg.batch_size, "shuffle_seed": cfg.shuffle_seed, "batch_mode": batch_mode,
                             "lam": cfg.lam, "kappa": cfg.kappa, "generator": cfg.generator, "lod": lod})


def _sharded_input(x_u8: np.ndarray, cfg: ScoreConfig, batch_mode: str, lod: float) -> tuple[Any, ...]:
    """What the ranks of score_pgan_sharded compare: (image count, image shape, dtype, the pixels' sha256, the
    settings that draw the batches and score them)."""
    from ..data.splits import pixels_sha256

    x = np.asarray(x_u8)
    return len(x), tuple(x.shape[1:]), str(x.dtype), pixels_sha256(x), (cfg, batch_mode, float(lod))


def _same_input_on_every_rank(ctx: "DistContext", x_u8: np.ndarray, cfg: ScoreConfig, batch_mode: str,
                              lod: float) -> None:
    """score_pgan_sharded under torchrun: raise the same DataError on every rank when the ranks were given other
    images (their count, shape, dtype, and a sha256 of the pixels: about 0.5 s per GB, against minutes of scoring) or
    other scoring settings. Each rank scores its batches of its own array, and rank 0 puts the gathered scores in
    place by image index in its own: an array of another length on one rank was an IndexError on rank 0 or scores
    missing without a word, and other pixels (each process reading its own copy, a shuffle seeded otherwise) were
    scores of other images under these images' rows; another batch size or seed drew another batch order, whose
    batches rank 0 put in the wrong rows."""
    import torch.distributed as tdist

    said: list[Any] = [None] * ctx.world
    tdist.all_gather_object(said, _sharded_input(x_u8, cfg, batch_mode, lod), group=ctx.ctrl_group)
    if all(theirs == said[0] for theirs in said):
        return

    def images(s: tuple[Any, ...]) -> str:
        return f"{s[0]} images of {'x'.join(map(str, s[1])) or 'scalars'} {s[2]}"

    apart = []
    for rank, theirs in enumerate(said[1:], 1):
        if theirs == said[0]:
            continue
        if theirs[:3] != said[0][:3]:
            what = f"{images(theirs)} (rank 0: {images(said[0])})"
        elif theirs[3] != said[0][3]:
            what = "other pixels in the same shape"
        else:
            what = f"scoring settings {theirs[4]} (rank 0: {said[0][4]})"
        apart.append(f"rank {rank}: {what}")
    raise DataError(f"score_pgan_sharded: the ranks were given different images or settings ({'; '.join(apart)}): "
                    f"every rank must pass the same array, score config, batch_mode and lod (rank 0 puts each rank's "
                    f"scores in place by image index in its own array)")


def score_pgan_sharded(nets: PGANNetworks, x_u8: np.ndarray, cfg: ScoreConfig = ScoreConfig(), *,
                       ctx: "DistContext | None" = None, batch_mode: str = "mixed", lod: float = 0.0
                       ) -> ScoreResult | None:
    """score_pgan over all ranks of a torchrun job (an in-memory array; files: scoring.run.score_files): rank r
    scores batches r, r + world, ... of the same fixed batch order, so every batch (and hence every per-image score,
    minibatch stddev included) is exactly the one-process batch; rank 0 gathers them. Returns the ScoreResult on
    rank 0 and None elsewhere. `ctx`: a training.distributed.DistContext (default: the current one, if any). The
    networks are moved to the rank's device (in place: `nets` stays there after the call)."""
    from ..training.distributed import current

    ctx = ctx or current()
    world, rank = (ctx.world, ctx.rank) if ctx is not None else (1, 0)
    device = ctx.device if ctx is not None else next(nets.E.parameters()).device
    nets.to(device)          # the rank's device (cuda:LOCAL_RANK under NCCL); networks loaded by load_pgan are on
                             # the CPU
    if world > 1:
        # before any batch is scored: rank 0 assembles every rank's batches by image index into its own array
        _same_input_on_every_rank(ctx, x_u8, cfg, batch_mode, lod)
    n = len(x_u8)
    batches = batch_order(n, cfg.batch_size, cfg.shuffle_seed)
    mine = score_batches(nets, x_u8, batches, range(rank, len(batches), world), cfg, device=device,
                         batch_mode=batch_mode, lod=lod)
    if world > 1:
        import torch.distributed as tdist

        gathered: list[list[BatchOut]] = [[] for _ in range(world)] if rank == 0 else []
        # on the CPU-side group (gloo; the default one of a CPU job), as score_files gathers: host objects (numpy
        # scores), no GPU staging, and the --dist-timeout that a rank waiting for a slower one's extra batch
        # falls under, not NCCL's own
        tdist.gather_object(mine, gathered if rank == 0 else None, dst=0, group=ctx.ctrl_group)
        if rank != 0:
            return None
        mine = [p for g in gathered for p in g]
    scores, z, _ = assemble(n, batches, mine, nets.E.cfg.latent_size)
    return ScoreResult(scores=scores, z=z, recon=None,
                       info={"batch_size": cfg.batch_size, "shuffle_seed": cfg.shuffle_seed, "batch_mode": batch_mode,
                             "lam": cfg.lam, "kappa": cfg.kappa, "generator": cfg.generator, "lod": lod,
                             "ranks": world})
