"""The joint training loop of the proposed method (spec 3.2): per iteration a D step (+ Gs EMA), a G step and an
E step, on a progressive schedule that is a pure function of the number of real images shown.

Everything a run writes goes to its run directory:
  stats.jsonl               one JSON row per `log_every` iterations (losses, kimg, resolution, img/s, memory)
  log.txt                   human-readable log
  checkpoints/ckpt-*.{safetensors,json}   periodic, atomic, checksummed; the newest good one is used by --resume
  network-final.{safetensors,json}        the trained networks (written when the schedule or budget ends)
  samples/fakes-*.png       Gs samples for a fixed set of latents
"""

from __future__ import annotations

import json
import math
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint as ckpt
from ..config import NetConfig, RunConfig, TrainConfig, run_config_to_dict
from ..errors import DivergenceError, WildganError
from ..losses import critic_loss, encoder_image_loss, encoder_latent_loss, generator_loss
from ..nets import PGANNetworks, build_pgan
from ..nets.layers import downsample2, lerp, upsample2
from .schedule import Phase, schedule

Log = Callable[[str], None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WildganError("--device cuda was requested but no CUDA device is available")
    return torch.device(name)


# ------------------------------------------------------------------------------------------------------------------
# Data on the device: a uint8 resolution pyramid, sampled in a seeded order that crosses epoch boundaries.

def build_pyramid(x_nhwc: np.ndarray, device: torch.device) -> dict[int, torch.Tensor]:
    """{res: uint8 [N, C, res, res]}: each level is the exact box average of the full image, rounded (spec 1.5)."""
    full = torch.from_numpy(np.ascontiguousarray(x_nhwc)).permute(0, 3, 1, 2).contiguous()
    pyr = {full.shape[-1]: full.to(device)}
    res, f = full.shape[-1], 2
    while res // f >= 4:
        level = F.avg_pool2d(full.float(), f).round().clamp(0, 255).to(torch.uint8)
        pyr[res // f] = level.to(device)
        f *= 2
    return pyr


def u8_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1] as x * 2/255 - 1 (spec 6.1); same rule as wildgan.data.to_float."""
    return x.float() * (2.0 / 255.0) - 1.0


def process_reals(x_u8: torch.Tensor, fade: float) -> torch.Tensor:
    """Real images are faded like G's output: lerp(x, up2(avgpool2(x)), t). Forgetting this is a common bug."""
    x = u8_to_float(x_u8)
    if fade > 0:
        x = lerp(x, upsample2(downsample2(x)), fade)
    return x


class BatchSampler:
    """Seeded shuffled order, one permutation per epoch (derived from (seed, epoch)), so resume needs two ints."""

    def __init__(self, n: int, seed: int, epoch: int = 0, pos: int = 0) -> None:
        self.n, self.seed, self.epoch, self.pos = n, seed, epoch, pos
        self._perm = self._make_perm()

    def _make_perm(self) -> np.ndarray:
        return np.random.default_rng([self.seed, 7919, self.epoch]).permutation(self.n)

    def next(self, b: int) -> np.ndarray:
        out = []
        while b > 0:
            take = min(b, self.n - self.pos)
            out.append(self._perm[self.pos:self.pos + take])
            self.pos += take
            b -= take
            if self.pos == self.n:
                self.epoch, self.pos = self.epoch + 1, 0
                self._perm = self._make_perm()
        return np.concatenate(out)


# ------------------------------------------------------------------------------------------------------------------
# One iteration, split into the three steps so that each can be tested on its own.

def make_optimizer(params: Iterator[torch.nn.Parameter], cfg: TrainConfig, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps)


def reset_optimizer(opt: torch.optim.Optimizer) -> None:
    """Drop Adam's moments and step counters (spec 3.2: at every start and end of a fade-in)."""
    opt.state.clear()


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


@torch.no_grad()
def ema_update(Gs: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """Gs <- beta * Gs + (1 - beta) * G for every parameter and buffer (weights and biases)."""
    gs = list(Gs.parameters())
    torch._foreach_lerp_(gs, [p.detach() for p in G.parameters()], 1.0 - beta)


def g_step(nets: PGANNetworks, opt: torch.optim.Optimizer, z: torch.Tensor, lod: float) -> dict[str, torch.Tensor]:
    nets.D.requires_grad_(False)               # D gets no gradients from the G loss
    try:
        loss, terms = generator_loss(lambda x: nets.D(x, lod), nets.G(z, lod))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    finally:
        nets.D.requires_grad_(True)
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
# Checkpoint state.

def _opt_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{prefix}.{idx}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def _load_opt(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], lr: float) -> None:
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[name] = v
    sd["state"] = state
    for g in sd["param_groups"]:
        g["lr"] = lr
    opt.load_state_dict(sd)


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


def _save(run_dir: Path, nets: PGANNetworks, opts: dict[str, torch.optim.Optimizer], state: TrainState,
          rng: torch.Generator, cfg: RunConfig, keep: int) -> Path:
    tensors = ckpt.networks_to_tensors(nets.modules())
    for name, opt in opts.items():
        tensors.update(_opt_tensors(f"opt.{name}", opt))
    tensors["rng.z"] = rng.get_state()
    meta = {"kind": "wildgan-train-state", "nimg": state.nimg, "kimg": state.nimg / 1000, "iteration": state.iteration,
            "epoch": state.epoch, "pos": state.pos, "lod_bounds": list(state.lod_bounds or ()),
            "lr": state.lr, "elapsed_s": state.elapsed, "rollbacks": state.rollbacks, "seed": cfg.train.seed,
            "net": run_config_to_dict(cfg)["net"], "config": run_config_to_dict(cfg)}
    path = ckpt.save_checkpoint(run_dir / "checkpoints", ckpt.checkpoint_name(state.nimg), tensors, meta)
    ckpt.prune_checkpoints(run_dir / "checkpoints", keep + 1)
    return path


def _restore(tensors: dict[str, torch.Tensor], meta: dict[str, Any], nets: PGANNetworks,
             opts: dict[str, torch.optim.Optimizer], rng: torch.Generator, src: Path) -> TrainState:
    ckpt.tensors_to_networks(tensors, nets.modules(), src)
    state = TrainState(nimg=int(meta["nimg"]), iteration=int(meta["iteration"]), epoch=int(meta["epoch"]),
                       pos=int(meta["pos"]), lod_bounds=tuple(meta["lod_bounds"]) or None,  # type: ignore[arg-type]
                       lr=float(meta["lr"]), elapsed=float(meta["elapsed_s"]), rollbacks=int(meta.get("rollbacks", 0)))
    for name, opt in opts.items():
        _load_opt(f"opt.{name}", opt, tensors, state.lr)
    rng.set_state(tensors["rng.z"])
    return state


def all_finite(modules: dict[str, torch.nn.Module]) -> str | None:
    """Name of the first network with a NaN/inf weight, or None."""
    for name, m in modules.items():
        ps = [p.detach() for p in m.parameters()]
        if ps and not bool(torch.stack([torch.isfinite(p).all() for p in ps]).all()):
            return name
    return None


# ------------------------------------------------------------------------------------------------------------------

class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the next round boundary and stops."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        if self.signum is not None:            # a second Ctrl-C aborts at once
            raise KeyboardInterrupt
        self.signum = signum


@contextmanager
def _signals(flag: _StopFlag) -> Iterator[None]:
    old = {}
    try:
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                old[s] = signal.signal(s, flag)
            except ValueError:                 # not the main thread (e.g. a notebook worker): no handler
                pass
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class TrainingInterrupted(WildganError):
    """Raised after SIGINT/SIGTERM, once a checkpoint has been saved."""


@dataclass
class TrainResult:
    run_dir: Path
    nimg: int
    final: Path | None
    status: str                 # done | budget


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
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr[..., 0] if c == 1 else arr).save(path)


def train_pgan(train_x: np.ndarray, cfg: RunConfig, run_dir: Path, *, resume: bool = False, progress: bool = True,
               log: Log = print) -> TrainResult:
    """Train G, D, E (and Gs) on uint8 images [N, R, R, C]; see the module docstring for what is written."""
    from tqdm.auto import tqdm

    tc, nc = cfg.train, cfg.net
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(tc.device)
    if train_x.shape[1:] != (nc.resolution, nc.resolution, nc.channels):
        raise WildganError(f"training images have shape {train_x.shape[1:]}, the network expects "
                           f"{(nc.resolution, nc.resolution, nc.channels)}")
    if len(train_x) < max(tc.minibatch[nc.resolution], 1):
        raise WildganError(f"only {len(train_x)} training images; the minibatch at {nc.resolution}x{nc.resolution}"
                           f" is {tc.minibatch[nc.resolution]}")
    use_encoder = tc.encoder_loss != "none"

    torch.manual_seed(tc.seed)
    nets = build_pgan(nc, tc.seed).to(device)
    opts = {"G": make_optimizer(nets.G.parameters(), tc, tc.lr), "D": make_optimizer(nets.D.parameters(), tc, tc.lr)}
    if use_encoder:
        opts["E"] = make_optimizer(nets.E.parameters(), tc, tc.lr)
    rng = torch.Generator(device=device)
    rng.manual_seed(tc.seed)
    state = TrainState(lr=tc.lr)

    ck_dir = run_dir / "checkpoints"
    if resume:
        found = ckpt.latest_good_checkpoint(ck_dir, log=log)
        if found is None:
            log(f"no usable checkpoint in {ck_dir}: starting from scratch")
        else:
            state = _restore(found[0], found[1], nets, opts, rng, ck_dir)
            log(f"resumed from {state.nimg / 1000:.1f} kimg (iteration {state.iteration})")
    pyramid = build_pyramid(train_x, device)
    sampler = BatchSampler(len(train_x), tc.seed, state.epoch, state.pos)
    total_nimg = int(round(tc.total_kimg * 1000))
    fixed_z = torch.randn(64, nc.latent_size, generator=torch.Generator().manual_seed(tc.seed + 1)).to(device)

    stats_f = open(run_dir / "stats.jsonl", "a", encoding="utf-8")
    acc: dict[str, torch.Tensor] = {}
    acc_n = 0
    t_start = time.time()
    elapsed0 = state.elapsed
    t_log, nimg_log = time.time(), state.nimg
    next_ckpt = (state.nimg // int(tc.checkpoint_kimg * 1000) + 1) * int(tc.checkpoint_kimg * 1000)
    flag = _StopFlag()
    status = "done"
    phase: Phase = schedule(state.nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)
    bar = tqdm(total=total_nimg, initial=state.nimg, unit="img", unit_scale=True, disable=not progress,
               dynamic_ncols=True, desc="train")

    def save() -> Path:
        state.epoch, state.pos = sampler.epoch, sampler.pos
        state.elapsed = elapsed0 + time.time() - t_start
        return _save(run_dir, nets, opts, state, rng, cfg, tc.keep_checkpoints)

    try:
        with _signals(flag):
            while state.nimg < total_nimg:
                # Schedule update every `minibatch_repeats` iterations (a "round"), as the TF code does.
                phase = schedule(state.nimg, nc.resolution, tc.phase_kimg, tc.fade_kimg, tc.minibatch)
                if phase.lod_bounds != state.lod_bounds:
                    for opt in opts.values():
                        reset_optimizer(opt)
                    state.lod_bounds = phase.lod_bounds
                lod, b = phase.lod, phase.batch
                grad_scale = phase.resolution / nc.resolution
                for _ in range(tc.minibatch_repeats):
                    idx = torch.from_numpy(sampler.next(b)).to(device)
                    reals = process_reals(pyramid[phase.resolution].index_select(0, idx), phase.fade)
                    z = torch.randn(b, nc.latent_size, generator=rng, device=device) * tc.latent_scale
                    u = torch.rand(b, 1, 1, 1, generator=rng, device=device)
                    terms = d_step(nets, opts["D"], reals, z, u, lod, tc, grad_scale)
                    ema_update(nets.Gs, nets.G, tc.ema_beta)
                    state.nimg += b
                    z = torch.randn(b, nc.latent_size, generator=rng, device=device) * tc.latent_scale
                    terms.update(g_step(nets, opts["G"], z, lod))
                    if use_encoder:
                        z = torch.randn(b, nc.latent_size, generator=rng, device=device) * tc.latent_scale
                        terms.update(e_step(nets, opts["E"], z, lod, tc.encoder_loss))
                    state.iteration += 1
                    for k, v in terms.items():
                        acc[k] = acc[k] + v if k in acc else v.clone()
                    acc_n += 1
                    bar.update(b)

                    if state.iteration % tc.log_every == 0:
                        row = _stats_row(acc, acc_n, state, phase, time.time() - t_log, state.nimg - nimg_log, device)
                        acc, acc_n, t_log, nimg_log = {}, 0, time.time(), state.nimg
                        stats_f.write(json.dumps(row) + "\n")
                        stats_f.flush()
                        bar.set_postfix(res=phase.resolution, D=f"{row.get('D/loss', 0):.3g}",
                                        G=f"{row.get('G/loss', 0):.3g}", E=f"{row.get('E/loss', 0):.3g}")
                        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
                        if bad:
                            _diverged(f"non-finite {', '.join(bad)} at {state.nimg / 1000:.1f} kimg",
                                      run_dir, nets, opts, rng, cfg, state, log)
                            sampler = BatchSampler(len(train_x), tc.seed, state.epoch, state.pos)
                            acc, acc_n = {}, 0
                            break

                if state.nimg >= next_ckpt or flag.signum is not None or _over_budget(tc, elapsed0, t_start):
                    bad_net = all_finite(nets.modules())
                    if bad_net is not None:
                        _diverged(f"non-finite weights in {bad_net} at {state.nimg / 1000:.1f} kimg",
                                  run_dir, nets, opts, rng, cfg, state, log)
                        sampler = BatchSampler(len(train_x), tc.seed, state.epoch, state.pos)
                        acc, acc_n = {}, 0        # the accumulated stats contain the bad steps
                        continue
                    save()
                    _write_samples(run_dir, nets, fixed_z, phase, nc, state.nimg)
                    next_ckpt = (state.nimg // int(tc.checkpoint_kimg * 1000) + 1) * int(tc.checkpoint_kimg * 1000)
                    if flag.signum is not None:
                        raise TrainingInterrupted(
                            f"interrupted by signal {flag.signum} at {state.nimg / 1000:.1f} kimg; checkpoint saved "
                            f"in {ck_dir}; continue with --resume")
                    if _over_budget(tc, elapsed0, t_start):
                        status = "budget"
                        log(f"wall-clock budget of {tc.minutes} min reached at {state.nimg / 1000:.1f} kimg")
                        break
    finally:
        bar.close()
        stats_f.close()
    # Final networks: a full training-state checkpoint (so --resume with a larger --total-kimg continues) and a
    # nets-only file for scoring.
    bad_net = all_finite(nets.modules())
    if bad_net is not None:
        raise DivergenceError(f"non-finite weights in {bad_net} at the end of training; last good checkpoint kept")
    save()
    _write_samples(run_dir, nets, fixed_z, phase, nc, state.nimg)
    final = ckpt.save_checkpoint(run_dir, "network-final", ckpt.networks_to_tensors(nets.modules()), {
        "kind": "wildgan-networks", "nimg": state.nimg, "kimg": state.nimg / 1000, "status": status,
        "seed": tc.seed, "net": run_config_to_dict(cfg)["net"], "config": run_config_to_dict(cfg),
        "elapsed_s": elapsed0 + time.time() - t_start, "lod": phase.lod})
    return TrainResult(run_dir=run_dir, nimg=state.nimg, final=final, status=status)


def _over_budget(tc: TrainConfig, elapsed0: float, t_start: float) -> bool:
    return tc.minutes is not None and elapsed0 + time.time() - t_start >= tc.minutes * 60


def _stats_row(acc: dict[str, torch.Tensor], n: int, state: TrainState, phase: Phase, dt: float, dimg: int,
               device: torch.device) -> dict[str, Any]:
    vals = torch.stack([v.float() for v in acc.values()]).cpu().tolist() if acc else []   # one host sync
    row: dict[str, Any] = {"kimg": state.nimg / 1000, "iter": state.iteration, "resolution": phase.resolution,
                           "lod": round(phase.lod, 6), "batch": phase.batch, "lr": state.lr,
                           "img_per_s": dimg / max(dt, 1e-9), "time": time.time()}
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


def _diverged(what: str, run_dir: Path, nets: PGANNetworks, opts: dict[str, torch.optim.Optimizer],
              rng: torch.Generator, cfg: RunConfig, state: TrainState, log: Log) -> None:
    """Stop (default) or roll back to the newest good checkpoint with half the learning rate. Never saves bad
    weights: the caller only saves after this returns with restored, finite networks."""
    if cfg.train.on_divergence != "rollback" or state.rollbacks >= 3:
        raise DivergenceError(f"training diverged: {what}. The last good checkpoint in {run_dir / 'checkpoints'} "
                              f"was kept; try --on-divergence rollback or a lower --lr")
    found = ckpt.latest_good_checkpoint(run_dir / "checkpoints", log=log)
    if found is None:
        raise DivergenceError(f"training diverged: {what}, and there is no good checkpoint to roll back to")
    rollbacks = state.rollbacks + 1
    new = _restore(found[0], found[1], nets, opts, rng, run_dir / "checkpoints")
    new.lr = new.lr * 0.5
    new.rollbacks = rollbacks
    for opt in opts.values():
        for g in opt.param_groups:
            g["lr"] = new.lr
    state.__dict__.update(new.__dict__)
    log(f"warning: {what}; rolled back to {state.nimg / 1000:.1f} kimg with lr {state.lr:g}")


def _write_samples(run_dir: Path, nets: PGANNetworks, z: torch.Tensor, phase: Phase, nc: NetConfig, nimg: int) -> None:
    with torch.no_grad():
        imgs = nets.Gs(z, phase.lod)
    save_sample_grid(run_dir / "samples" / f"fakes-{nimg // 1000:06d}kimg.png", imgs, nc.resolution)
