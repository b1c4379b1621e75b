"""Training of the f-AnoGAN baseline (spec 5), faithful to the official TF release unless noted.

Stage 1, WGAN-GP (`wgangp_64x64.py`): outer loops of 1 G step (skipped on the very first loop) followed by
n_critic = 5 critic steps, each on a fresh real batch; Adam(1e-4, betas (0, 0.9)) for G and D; z ~ N(0, I_128);
gradient penalty lambda = 10 with target 1, no drift term, no EMA; random horizontal flips. Length: cfg.epochs
epochs of (floor(N / B) - 5) critic iterations each, unless cfg.gan_iters is set.

Stage 2, izi_f encoder (`z_encoding_izif.py`): G (eval mode: BN running statistics) and the critic are frozen;
E minimises MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x)))) with TF1-style RMSProp(5e-5) for cfg.enc_iters steps.

Files written to run_dir:
  stats.jsonl                                one JSON row every `log_every` steps (stage, iter, losses, img/s)
  checkpoints/ckpt-<step>.{safetensors,json} periodic, atomic; `resume=True` continues from the newest good one
  fanogan-final.{safetensors,json}           the trained networks (also written when cfg.minutes runs out)
<step> counts critic steps + encoder steps, so checkpoint names sort across both stages.

NaN/inf in a loss row or in the weights at a checkpoint stops the run (on_divergence "stop"), or ("rollback") sends it
back to the newest good checkpoint of its stage with that stage's lr halved, as the pGAN loop does
(training/divergence.py).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint as ckpt
from ..config import FAnoGANConfig, threads_record, to_dict
from ..fileio import truncate_jsonl
from ..progress import progress_bar
from ..data.transforms import to_float
from ..errors import (ConfigError, DataError, DivergenceError, TrainingInterrupted, left_after_training,
                      option_words, resume_advice, stop_words)
from ..devices import resolve_device
from ..losses import critic_loss, generator_loss
from ..nets.fanogan import (SUPPORTED_RESOLUTIONS, FAnoGANNetworks, build_fanogan, set_bn_momentum)
from .data_placement import BatchSampler, data_device, data_on_gpu_setting, host_gather, tell_host_placement
from .distributed import processes_record, stops_deferred
from .divergence import halve_lr, rollback_checkpoint
from .resume import StopFlag, all_finite, install_signals, quiet_log, restore_generator, thread_count_change

Log = Callable[[str], None]
FINAL_NAME = "fanogan-final"
CHECKPOINT_DIR = "checkpoints"

# Cost of one encoder step relative to one critic step (per image; the critic step includes its 1/n_critic share of
# G steps), until it is measured: it splits a cfg.minutes budget between the stages in proportion to their planned
# work, and prices the encoder stage in the first bar's "ETA total" (_total_eta) from the critic steps' measured time.
# Measured 0.65-0.77 on CPU at 32x32x3, dim 64, batch 16 (the FLOP count, spec 5.4 forward costs, gives ~0.73), but
# 0.59 at dim 16, where the per-operator overhead weighs more: so once the critic steps are timed the run times a few
# encoder steps of its own (_encoder_step_seconds, on copies of the networks) and uses that ratio instead.
ENC_STEP_COST = 0.7
# encoder steps timed for that ratio (after one untimed), and the critic steps and seconds timed before it is taken:
# at least two G steps' worth (every n_critic-th critic step also trains G) and half a second
ENC_PROBE_STEPS = 3
ENC_PROBE_AFTER_S = 0.5


# ------------------------------------------------------------------------------------------------------------------
# TF1 RMSProp.

class TF1RMSprop(torch.optim.Optimizer):
    """tf.compat.v1.train.RMSPropOptimizer (centered=False):
        ms  <- decay * ms + (1 - decay) * g^2          ms starts at 1.0 (TF1 initialises the 'rms' slot with ones)
        mom <- momentum * mom + lr * g / sqrt(ms + eps)  eps inside the square root
        p   <- p - mom
    torch.optim.RMSprop cannot express this: its eps is added outside the root and its accumulator starts at 0, so its
    first step is ~lr * sign(g) / sqrt(1 - decay) = 3.2 lr per weight whatever the gradient's size, while TF's is
    ~lr * g / sqrt(decay) for the small gradients of a GAN (|g| << 1): about 3/|g| times smaller. The 1.0 start
    acts as a warm-up that lasts until the accumulator has decayed to the gradients' own scale."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3, decay: float = 0.9,
                 momentum: float = 0.0, eps: float = 1e-10, initial_accumulator: float = 1.0) -> None:
        if lr <= 0 or not 0.0 <= decay < 1.0 or momentum < 0 or eps < 0:
            raise ConfigError(f"invalid RMSProp settings lr={lr}, decay={decay}, momentum={momentum}, eps={eps}")
        super().__init__(params, dict(lr=lr, decay=decay, momentum=momentum, eps=eps,
                                      initial_accumulator=initial_accumulator))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                st = self.state[p]
                if "ms" not in st:
                    st["ms"] = torch.full_like(p, group["initial_accumulator"], memory_format=torch.preserve_format)
                ms = st["ms"]
                ms.mul_(group["decay"]).addcmul_(g, g, value=1.0 - group["decay"])
                upd = g / (ms + group["eps"]).sqrt()
                if group["momentum"] > 0:
                    mom = st.setdefault("mom", torch.zeros_like(p, memory_format=torch.preserve_format))
                    mom.mul_(group["momentum"]).add_(upd, alpha=group["lr"])
                    p.sub_(mom)
                else:
                    p.sub_(upd, alpha=group["lr"])
        return loss


# ------------------------------------------------------------------------------------------------------------------
# Small helpers.

def check_image_shape(h: int, w: int, c: int) -> None:
    """Refuse images the f-AnoGAN networks cannot take (train_run calls it before the run folder is written)."""
    if h != w or h not in SUPPORTED_RESOLUTIONS:
        raise DataError(f"f-AnoGAN needs square {SUPPORTED_RESOLUTIONS} images, got {h}x{w} "
                        f"({option_words('--resolution 32 or 64', 'resolution=32 or 64')} converts them)")
    if c not in (1, 3):
        raise DataError(f"f-AnoGAN needs 1 or 3 channels, got {c}")


def _check_train_x(x: np.ndarray) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4:
        raise DataError(f"f-AnoGAN training data must be a uint8 array [N, H, W, C], got "
                        f"{getattr(x, 'dtype', type(x))} with shape {getattr(x, 'shape', None)}")
    check_image_shape(*x.shape[1:])
    return np.ascontiguousarray(x)


def check_fanogan_training(cfg: FAnoGANConfig, n: int, h: int, w: int, c: int) -> None:
    """Refuse what train_fanogan would refuse of n training images of h x w x c with cfg, before it is called (a study
    checks each of its f-AnoGAN cells before any cell trains)."""
    check_image_shape(h, w, c)
    _check_cfg(cfg, n)


def _check_cfg(cfg: FAnoGANConfig, n: int) -> None:
    for name in ("dim", "latent_size", "batch_size", "n_critic", "enc_batch_size"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"f-AnoGAN {name} must be >= 1, got {getattr(cfg, name)}")
    if (cfg.gan_iters is not None and cfg.gan_iters < 0) or cfg.enc_iters < 0 or cfg.epochs < 0:
        raise ConfigError("f-AnoGAN gan_iters, enc_iters and epochs must be >= 0")
    if cfg.minutes is not None and cfg.minutes <= 0:
        raise ConfigError(f"minutes must be positive, got {cfg.minutes}")
    if not (cfg.bn_eps > 0 and 0.0 <= cfg.bn_decay < 1.0):
        raise ConfigError(f"f-AnoGAN BatchNorm needs bn_eps > 0 and 0 <= bn_decay < 1, got {cfg.bn_eps}, "
                          f"{cfg.bn_decay}")
    if n < max(cfg.batch_size, cfg.enc_batch_size):
        raise DataError(f"f-AnoGAN needs at least batch_size = {max(cfg.batch_size, cfg.enc_batch_size)} training "
                        f"images, got {n}")


def bn_momentum(updates_done: int, cfg: FAnoGANConfig) -> float:
    """PyTorch BatchNorm momentum (= 1 - TF decay) for the next moving-statistics update, after updates_done
    earlier ones: 1 - cfg.bn_decay, or with cfg.bn_warmup 1 - min(bn_decay, (1 + t)/(10 + t)) (see FAnoGANConfig)."""
    decay = cfg.bn_decay
    if cfg.bn_warmup:
        t = max(int(updates_done), 0)
        decay = min(decay, (1.0 + t) / (10.0 + t))
    return 1.0 - decay


def planned_gan_iters(cfg: FAnoGANConfig, n: int) -> int:
    """Critic iterations of stage 1: cfg.gan_iters, else epochs * (floor(N / B) - 5) as the official code counts an
    epoch (at least 1 per epoch, so tiny data sets still train)."""
    if cfg.gan_iters is not None:
        return int(cfg.gan_iters)
    return int(round(cfg.epochs * max(1, n // cfg.batch_size - 5)))


def _batch(x_u8: torch.Tensor, idx: np.ndarray, flip: bool, rng: torch.Generator,
           to: torch.device | None = None) -> torch.Tensor:
    """Real batch in [-1, 1], NCHW, each image mirrored left-right with p = 0.5 (the official loader).

    x_u8 is the uint8 set [N, H, W, C] on the training device, or (`to` given: the training device) in host memory:
    then the batch is gathered there and only its uint8 images are copied over. The same images, flips and float
    conversion either way, so the same batch."""
    if to is not None:
        x = to_float(host_gather(x_u8, idx, to))
    else:
        x = to_float(x_u8[torch.from_numpy(idx).to(x_u8.device)])
    if flip:
        m = torch.rand(x.shape[0], generator=rng, device=x.device) < 0.5
        x = torch.where(m.view(-1, 1, 1, 1), x.flip(3), x)
    return x


@dataclass
class _State:
    gan_iter: int = 0             # critic steps done
    enc_iter: int = 0             # encoder steps done
    epoch: int = 0                # sampler position
    pos: int = 0
    elapsed: float = 0.0          # training seconds over all sessions of this run
    # each stage's learning rate, which a rollback halves: in the checkpoints, so that a resume goes on with it (None
    # only until _state_from puts the config's: a checkpoint written before they were recorded has none)
    gan_lr: float | None = None
    enc_lr: float | None = None
    rollbacks: int = 0            # --on-divergence rollback: divergences survived so far, both stages together

    @property
    def step(self) -> int:
        return self.gan_iter + self.enc_iter


def _state_from(saved: dict[str, Any], cfg: FAnoGANConfig) -> _State:
    st = _State(**saved)
    st.gan_lr = cfg.lr if st.gan_lr is None else float(st.gan_lr)
    st.enc_lr = cfg.enc_lr if st.enc_lr is None else float(st.enc_lr)
    return st


def _drop_stats_after(run_dir: Path, state: _State) -> int:
    """Drop the stats.jsonl rows of the steps after `state` (a resume or a rollback trains them again); returns how
    many were dropped."""
    done = {"gan": state.gan_iter, "encoder": state.enc_iter}
    return truncate_jsonl(run_dir / "stats.jsonl", lambda r: int(r["iter"]) <= done[r["stage"]])


# ------------------------------------------------------------------------------------------------------------------
# Training.

# f-AnoGAN's official width (DIM 64) on a CPU: seconds per iteration (1.5 s a critic one, 2.5 s an encoder one at
# 32x32x3 on 2 cores, docs/cli.md), where a short try at DIM 16, as docs/results.md's CPU runs, takes a third of it;
# nothing said so, neither --help nor the start of the run, while a pGAN run's --preset tiny is the known short try
CPU_TRY_DIM = 16
NOTE_FROM_DIM = FAnoGANConfig().dim          # the note's from the default width up (a DIM chosen smaller: none)


def cpu_width_note(dim: int, device: torch.device) -> str | None:
    """The note at the start of stage 1 of an f-AnoGAN run on the CPU at the official width or wider (dim >= 64) that
    a smaller DIM trains a short try several times faster; None elsewhere (a GPU, or a DIM already chosen smaller)."""
    if device.type != "cpu" or dim < NOTE_FROM_DIM:
        return None
    return (f"note: f-AnoGAN's DIM {dim} on the CPU takes seconds per critic iteration; for a short try "
            f"{option_words(f'--fanogan-dim {CPU_TRY_DIM}', f'width={CPU_TRY_DIM}')} trains several times faster "
            f"(docs/results.md's CPU runs use {CPU_TRY_DIM} and 32; DIM {dim} is the official width)")


def train_fanogan(train_x: np.ndarray, cfg: FAnoGANConfig, run_dir: Path, *, resume: bool = False,
                  progress: bool = True, log: Log | None = None, log_every: int = 50,
                  checkpoint_every: int = 1000, keep_checkpoints: int | None = 2, host_data: bool | None = None,
                  on_divergence: str = "stop") -> Path:
    """Train the f-AnoGAN WGAN-GP and then its izi_f encoder on uint8 [N, H, W, C] images (H = W in {32, 64}).

    Returns the path of fanogan-final.json. Networks are initialised from cfg.seed; z, the GP mixing weights and
    the flips come from one torch generator seeded with cfg.seed, the batch order from (cfg.seed, epoch), so a run
    is reproducible on the CPU and a resumed run continues bit-identically. cfg.minutes bounds the wall-clock
    training time over both stages (and over resumed sessions); it is split between the stages in proportion to
    their planned work, and stage 2 also gets whatever stage 1 leaves unused. Once stage 2 has begun, stage 1 is
    closed: a resumed run never trains G again after E has started training against it.
    checkpoint_every: iterations (critic and encoder steps counted together) between periodic checkpoints;
    keep_checkpoints: how many older good ones are kept beside the newest, as the pGAN loop's (None: every one).
    `resume` continues from the newest good periodic checkpoint in run_dir (rows of stats.jsonl written after that
    checkpoint by the killed session are dropped: they are written again).
    on_divergence: NaN/inf in a loss row, or in the weights at a checkpoint (each stage's last step and a stop by the
    budget or a signal write one too, so that no step goes unchecked), stops with DivergenceError ("stop"), or
    ("rollback", the pGAN loop's --on-divergence) goes back to the newest good checkpoint of the stage, with the
    stage's lr halved, at most training.divergence.MAX_ROLLBACKS times a run; the stats rows after it are dropped.
    The images stay on the device when they fit beside the networks, else in host memory, each batch copied over
    (training.data_placement.data_device, WILDGAN_DATA_ON_GPU; the same training either way). `host_data` True /
    False skips that decision (the tests pass True to run the host path on the CPU).
    """
    say: Log = log or (lambda s: None)
    x_np = _check_train_x(train_x)
    n, res, _, ch = x_np.shape
    _check_cfg(cfg, n)
    if on_divergence not in ("stop", "rollback"):
        raise ConfigError(f"on_divergence must be stop or rollback, got {on_divergence!r}")
    setting = data_on_gpu_setting()                # a typo in WILDGAN_DATA_ON_GPU fails before run_dir is written
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ck_dir = run_dir / CHECKPOINT_DIR
    device = resolve_device(cfg.device)

    nets = build_fanogan(cfg, res, ch).to(device)
    G, D, E = nets.G, nets.D, nets.E
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_E = TF1RMSprop(E.parameters(), lr=cfg.enc_lr)
    opts = {"opt_G": opt_G, "opt_D": opt_D, "opt_E": opt_E}
    rng = torch.Generator(device=device)
    rng.manual_seed(cfg.seed)                       # z, GP mixing weights and flips; init is seeded in build_fanogan
    state = _state_from({}, cfg)
    arch = nets.arch()
    saved_step: int | None = None                   # the step of the newest checkpoint on disk, None: not known

    def checkpoint_path(meta: dict[str, Any]) -> Path:
        # what a refusal of a checkpoint names: the file, not only the folder, which holds several
        return ck_dir / f"{Path(str(meta['weights'])).stem}.json"

    def restore(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> _State:
        ckpt.tensors_to_networks(tensors, nets.modules(), checkpoint_path(meta), meta["weights"],
                                 "the run's architecture")
        st = _state_from(meta["state"], cfg)
        for k, o in opts.items():
            ckpt.tensors_to_optimizer(k, o, tensors, st.enc_lr if o is opt_E else st.gan_lr)
        restore_generator(rng, tensors["rng"], meta.get("rng_device"), checkpoint_path(meta), cfg.seed, st.step)
        return st

    resumed_meta: dict[str, Any] | None = None      # the checkpoint a resume restored
    if resume:
        found = ckpt.latest_good_checkpoint(ck_dir, log=say, kind=ckpt.FANOGAN_KIND)
        if found is None:
            say(f"resume: no checkpoint in {ck_dir}; starting from scratch")
        else:
            tensors, meta = found
            if meta.get("arch") != arch:             # (its kind was checked by latest_good_checkpoint)
                raise ConfigError(f"{checkpoint_path(meta)}: cannot resume: checkpoint architecture {meta.get('arch')} "
                                  f"differs from the requested {arch}")
            if meta.get("n_train") != n:
                say(f"warning: resuming with {n} training images; the checkpoint saw {meta.get('n_train')}")
            state = restore(tensors, meta)
            saved_step = state.step
            say(f"resumed from critic step {state.gan_iter}, encoder step {state.enc_iter}")
            resumed_meta = meta
        # rows the interrupted session wrote after that checkpoint are about to be written again
        dropped = _drop_stats_after(run_dir, state)
        if dropped:
            say(f"stats.jsonl: dropped {dropped} rows written after the checkpoint")
    start_step = state.step

    def threads_used() -> int | list[int]:
        """intra_op_threads of the weights as they are (as the pGAN loop's): the resumed checkpoint's counts carried
        forward, this session's added once it has trained."""
        before = None if resumed_meta is None else resumed_meta.get("intra_op_threads")
        return threads_record(before, torch.get_num_threads(), trained=state.step != start_step)

    t_gan, t_enc = planned_gan_iters(cfg, n), int(cfg.enc_iters)
    if saved_step is not None and state.gan_iter >= t_gan and state.enc_iter >= t_enc:
        say(f"the run was already finished ({t_gan} critic and {t_enc} encoder iterations): nothing to train")
    elif resumed_meta is not None and not (cfg.minutes is not None and state.elapsed >= cfg.minutes * 60):
        # (as the pGAN loop's: the thread count the weights trained from here on depend on; not for a resume whose
        # minutes are already spent, which trains nothing: both stages stop before their first step)
        threads = thread_count_change(resumed_meta, ck_dir / str(resumed_meta.get("weights")), device)
        if threads:
            say(threads)
    sampler = BatchSampler(n, cfg.seed, state.epoch, state.pos)
    # The whole uint8 set [N, H, W, C] lives on the device when it fits beside the networks (CIFAR_CAR: 15 MB), else
    # in host memory (a large pile would not fit on the GPU): one level, no pyramid, so it takes x_np.nbytes.
    if host_data is None:
        host_data = data_device(x_np.nbytes, device, setting=setting).type != device.type
        if host_data:
            tell_host_placement(x_np.nbytes, device, setting, say)
    x_u8 = torch.from_numpy(x_np) if host_data else torch.from_numpy(x_np).to(device)
    budget = None if cfg.minutes is None else cfg.minutes * 60.0

    def stage_budget(enc_cost: float) -> float | None:
        """Stage 1's share of the budget: the stages' planned work, an encoder step weighed enc_cost of a critic step
        per image."""
        work_gan, work_enc = t_gan * cfg.batch_size, enc_cost * t_enc * cfg.enc_batch_size
        return None if budget is None else budget * work_gan / max(work_gan + work_enc, 1e-9)

    gan_budget = stage_budget(ENC_STEP_COST)
    t0, elapsed0 = time.monotonic(), state.elapsed
    stopped_early = False

    def elapsed() -> float:
        return elapsed0 + time.monotonic() - t0

    stage = "gan"                                   # the stage training now: its lr is the one a rollback halves

    def at_step() -> str:
        return f"critic step {state.gan_iter}" if stage == "gan" else f"encoder step {state.enc_iter}"

    def save_periodic() -> None:
        nonlocal saved_step
        state.epoch, state.pos, state.elapsed = sampler.epoch, sampler.pos, elapsed()
        tensors = ckpt.networks_to_tensors(nets.modules())
        for k, o in opts.items():
            tensors.update(ckpt.optimizer_to_tensors(k, o))
        tensors["rng"] = rng.get_state()
        meta = _meta(cfg, arch, state, n, t_gan, t_enc, stopped_early, device, threads_used())
        path = ckpt.save_checkpoint(ck_dir, ckpt.checkpoint_name(state.step), tensors, meta)
        # (None: every complete checkpoint kept; a cut write's orphan weights removed all the same, as the pGAN loop's)
        ckpt.prune_checkpoints(ck_dir, None if keep_checkpoints is None else keep_checkpoints + 1, protect=path)
        saved_step = state.step

    def checkpoint() -> bool:
        """Save a checkpoint of this step unless one is there; False: the weights were not finite, and the run rolled
        back instead (or DivergenceError)."""
        # the loss rows are checked only every log_every steps, and a checkpoint can fall between them: weights gone
        # NaN since the last row must not be saved, where a resume or the scoring would take them for a good
        # checkpoint (or a damaged file)
        bad = all_finite(nets.modules())
        if bad is not None:
            diverged(f"non-finite weights in {bad} at {at_step()}")
            return False
        if saved_step != state.step:
            save_periodic()
        return True

    def diverged(what: str) -> None:
        """Stop, or roll back to the newest good checkpoint of this stage with its lr halved (on_divergence)."""
        nonlocal sampler, acc, n_acc, t_row, saved_step, timed_from
        gan = stage == "gan"
        lr = state.gan_lr if gan else state.enc_lr
        tensors, meta = rollback_checkpoint(
            what, ck_dir, on_divergence=on_divergence, rollbacks=state.rollbacks, lr=lr, kind=ckpt.FANOGAN_KIND,
            lower_lr=f"fanogan.{'lr' if gan else 'enc_lr'}{option_words(' (in a --config file)', '')}",
            interval=f"a checkpoint every {checkpoint_every} iterations", log=say)
        if not gan and int(meta["state"]["gan_iter"]) != state.gan_iter:
            # (its G and D are not those E has trained against, and G is never trained again once E has begun)
            raise DivergenceError(f"training diverged: {what}, and the newest good checkpoint is one of the WGAN-GP "
                                  f"stage (critic step {meta['state']['gan_iter']}): no encoder stage to roll back to",
                                  what=what, lr_setting="fanogan.enc_lr")
        new = restore(tensors, meta)
        new.rollbacks = state.rollbacks + 1
        if gan:
            new.gan_lr = halve_lr((opt_G, opt_D), new.gan_lr, lr)
        else:
            new.enc_lr = halve_lr((opt_E,), new.enc_lr, lr)
        state.__dict__.update(new.__dict__)
        sampler = BatchSampler(n, cfg.seed, state.epoch, state.pos)
        saved_step = None                           # the checkpoint restored has the lr before the halving
        # the stats go on from the checkpoint's step, as after a --resume from it: the rows since (the diverged ones
        # among them) are dropped, the next row averages from here, its rate is measured from here
        acc, n_acc, t_row = {}, 0, time.monotonic()
        timed_from = None                           # (the total ETA's steps are timed again from the restored one)
        _drop_stats_after(run_dir, state)
        bar.n = state.gan_iter if gan else state.enc_iter
        bar.refresh()
        say(f"warning: {what}; rolled back to {at_step()} with lr {(state.gan_lr if gan else state.enc_lr):g}")

    stats_path = run_dir / "stats.jsonl"

    def write_row(row: dict[str, Any]) -> bool:
        """Append a stats row; False when a loss in it is not finite: the run then rolled back (or raised)."""
        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
        row["elapsed_s"] = round(elapsed(), 3)
        # as the pGAN loop's rows: f-AnoGAN trains in one process (refused under torchrun), so always a world of 1
        row.update(processes_record(None))
        with open(stats_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if bad:
            diverged(f"non-finite {', '.join(bad)} at {at_step()}")
            return False
        return True

    flag = StopFlag()                               # SIGINT / SIGTERM: checkpoint at the next step, then stop
    # a line shown into an output whose reader is gone (`2>&1 | head`) stops training at the next step too, with its
    # checkpoint (resume.quiet_log), as the bars' redraws do; the end's line, after the flag's last reading, as before
    say_at_end, say = say, quiet_log(say, flag)

    def interrupted() -> TrainingInterrupted:
        where = f"at critic step {state.gan_iter} of {t_gan}, encoder step {state.enc_iter} of {t_enc}"
        return TrainingInterrupted(f"{stop_words(flag.signum)} {where}; checkpoint saved in {ck_dir}", flag.signum,
                                   where=where, checkpoint_dir=str(ck_dir),
                                   resume_advice=resume_advice(run_dir, signum=flag.signum))

    # Every way out of a stage's loop (its last step, the budget, a signal) writes a checkpoint there, through the
    # weights' check: weights gone non-finite in the last steps then roll back and train on, as anywhere else, where
    # a check after the loop could only stop the run.
    # ---------------------------------------------------------------- stage 1: WGAN-GP
    gan_open = state.enc_iter == 0
    if gan_open and state.gan_iter < t_gan:
        say(f"f-AnoGAN stage 1: WGAN-GP, {t_gan} critic iterations at batch {cfg.batch_size} on {device}")
        note = cpu_width_note(cfg.dim, device)
        if note:
            say(note)
    G.train(), D.train(), E.train()
    acc: dict[str, torch.Tensor] = {}
    n_acc, t_row = 0, time.monotonic()
    # each stage's bar (and its ETA) covers that stage alone: its name says a second one follows, and the first says
    # the time left for both (_total_eta: the encoder stage priced from the critic steps timed here)
    bar = progress_bar(total=t_gan, initial=min(state.gan_iter, t_gan), desc="f-AnoGAN 1/2 WGAN-GP", unit="it",
               disable=not progress or not gan_open or state.gan_iter >= t_gan, dynamic_ncols=True, leave=False,
               on_closed=flag.output_closed)
    losses_shown = ""
    # (iteration, time) after this session's first critic step: the steps timed from there leave out the first one's
    # allocations
    timed_from: tuple[int, float] | None = None
    eta_said = 0.0                                  # when the total ETA was last worked out
    # an encoder step's cost per image relative to a critic step's: ENC_STEP_COST until measured, which the bar's
    # total ETA and a budget's split need (and only while encoder steps are left to train)
    enc_cost: float | None = None
    # the measured ratio, written into the next stats.jsonl row (and said in the log) so that a run's ETA and budget
    # split can be audited afterwards: the steps timed and the ratio that replaced ENC_STEP_COST
    enc_cost_row: dict[str, float] = {}
    measure_enc = (not bar.disable or budget is not None) and state.enc_iter < t_enc
    restore_signals = install_signals(flag)
    try:
        while gan_open and state.gan_iter < t_gan:
            if flag.signum is not None:
                if not checkpoint():
                    continue
                raise interrupted()
            if gan_budget is not None and elapsed() >= gan_budget:
                stopped_early = True
                if not checkpoint():
                    continue
                say(f"stage 1 budget used: stopping after {state.gan_iter}/{t_gan} critic iterations")
                break
            b = cfg.batch_size
            if state.gan_iter > 0 and state.gan_iter % cfg.n_critic == 0:
                # 1 G step per outer loop, skipped on the first loop (the official `if iteration > 0`)
                D.requires_grad_(False)                 # the G loss must not leave gradients in D
                # the official graph updates G's moving BN statistics with the G train op only: this is G step
                # number gan_iter // n_critic - 1 (0-based), hence that many earlier updates
                set_bn_momentum(G, bn_momentum(state.gan_iter // cfg.n_critic - 1, cfg))
                try:
                    g_loss, _ = generator_loss(D, G(torch.randn(b, cfg.latent_size, generator=rng, device=device)))
                    opt_G.zero_grad(set_to_none=True)
                    g_loss.backward()
                    opt_G.step()
                finally:
                    D.requires_grad_(True)
                acc["g_loss"] = g_loss.detach()         # last value; G steps are 1 in n_critic
            reals = _batch(x_u8, sampler.next(b), cfg.flip, rng, device if host_data else None)
            z = torch.randn(b, cfg.latent_size, generator=rng, device=device)
            u = torch.rand(b, 1, 1, 1, generator=rng, device=device)
            set_bn_momentum(G, 0.0)                     # batch statistics, moving statistics left alone (TF)
            with torch.no_grad():
                fake = G(z)                             # G in train mode (batch statistics) as in the TF graph
            d_loss, terms = critic_loss(D, reals, fake, gp_lambda=cfg.gp_lambda, gp_target=1.0, drift=0.0, u=u)
            opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_D.step()
            state.gan_iter += 1
            for k, v in (("d_loss", terms["D/loss"]), ("wdist", terms["D/real"] - terms["D/fake"]),
                         ("gp", terms["D/gp"])):
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            bar.update(1)
            if not bar.disable or measure_enc:
                now = time.monotonic()
                if timed_from is None:
                    timed_from = (state.gan_iter, now)
                elif measure_enc and enc_cost is None and state.gan_iter - timed_from[0] >= 2 * cfg.n_critic \
                        and now - timed_from[1] >= ENC_PROBE_AFTER_S:
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)      # the critic steps queued so far have run: their time
                        now = time.monotonic()
                    critic_s = (now - timed_from[1]) / (state.gan_iter - timed_from[0]) / cfg.batch_size
                    enc_s = _encoder_step_seconds(nets, cfg, (cfg.enc_batch_size, ch, res, res), device)
                    enc_cost = enc_s / cfg.enc_batch_size / critic_s
                    enc_cost_row = {"enc_step_cost": round(enc_cost, 4),
                                    "critic_ms_per_img": round(1000 * critic_s, 4),
                                    "enc_ms_per_img": round(1000 * enc_s / cfg.enc_batch_size, 4)}
                    say(f"encoder step timed: {enc_cost:.3g} of a critic step per image ({1000 * critic_s:.3g} ms a "
                        f"critic image, {1000 * enc_s / cfg.enc_batch_size:.3g} ms an encoder one; {ENC_STEP_COST} "
                        f"before it was timed), for the ETA total and the budget's split")
                    gan_budget = stage_budget(enc_cost)
                    timed_from = (state.gan_iter, time.monotonic())    # (the encoder steps' time is no critic's)
                elif not bar.disable and now - eta_said >= 0.5:
                    # (twice a second at most: the bar redraws no more often, and a small critic's steps take ~1 ms)
                    eta_said = now
                    left = _total_eta(cfg, state.gan_iter - timed_from[0], now - timed_from[1],
                                      t_gan - state.gan_iter, t_enc - state.enc_iter,
                                      None if budget is None else budget - elapsed(),
                                      ENC_STEP_COST if enc_cost is None else enc_cost)
                    # (refresh=False: shown at the bar's next redraw, which progress_bar spaces out in a log file)
                    bar.set_postfix_str(", ".join(x for x in (losses_shown, left) if x), refresh=False)
            if state.gan_iter % log_every == 0 or state.gan_iter == t_gan:
                row = {"stage": "gan", "iter": state.gan_iter}
                row.update({k: float(v) / (1 if k == "g_loss" else n_acc) for k, v in acc.items()})
                # the clock after float(), which waits for the queued GPU work: the GPU's rate, not the queueing's
                dt = max(time.monotonic() - t_row, 1e-9)
                row["img_per_s"] = round(n_acc * b / dt, 2)
                row["iters"] = n_acc                # steps averaged: fewer in the first row after a resume
                row.update(enc_cost_row)
                enc_cost_row = {}
                if not write_row(row):
                    continue
                losses_shown = f"d={row['d_loss']:.3f}, w={row['wdist']:.3f}"
                if timed_from is None or bar.disable:
                    bar.set_postfix_str(losses_shown, refresh=False)
                acc = {k: v for k, v in acc.items() if k == "g_loss"}
                n_acc, t_row = 0, time.monotonic()
            # the stage's end is also the stage boundary: where a resume, or a rollback of the encoder, starts it
            if state.step % checkpoint_every == 0 or state.gan_iter == t_gan:
                checkpoint()                        # (after a rollback, the loop goes on from the restored step)
    finally:
        # (the caller's handlers first: a bar that cannot close, its output gone some other way, must not leave the
        # loop's StopFlag installed for good)
        restore_signals()
        bar.close()

    # ---------------------------------------------------------------- stage 2: izi_f encoder
    # Frozen G in eval mode (BN running statistics, spec 5.2) and frozen critic; only E is trained.
    stage = "encoder"
    G.eval(), D.eval(), E.train()
    G.requires_grad_(False), D.requires_grad_(False)
    if state.enc_iter < t_enc and not (budget is not None and elapsed() >= budget):
        say(f"f-AnoGAN stage 2: izi_f encoder, {t_enc} iterations at batch {cfg.enc_batch_size}")
    acc, n_acc, t_row = {}, 0, time.monotonic()
    bar = progress_bar(total=t_enc, initial=min(state.enc_iter, t_enc), desc="f-AnoGAN 2/2 izi_f encoder", unit="it",
               disable=not progress or state.enc_iter >= t_enc, dynamic_ncols=True, leave=False,
               on_closed=flag.output_closed)
    restore_signals = install_signals(flag)
    try:
        while state.enc_iter < t_enc:
            if flag.signum is not None:
                if not checkpoint():
                    continue
                raise interrupted()
            if budget is not None and elapsed() >= budget:
                stopped_early = True
                if not checkpoint():
                    continue
                say(f"time budget used: stopping after {state.enc_iter}/{t_enc} encoder iterations")
                break
            b = cfg.enc_batch_size
            x = _batch(x_u8, sampler.next(b), cfg.flip, rng, device if host_data else None)
            set_bn_momentum(E, bn_momentum(state.enc_iter, cfg))   # E's moving statistics follow its train op
            loss, loss_img, loss_fts, z = _encoder_loss(E, G, D, x, cfg.kappa)
            opt_E.zero_grad(set_to_none=True)
            loss.backward()
            opt_E.step()
            state.enc_iter += 1
            for k, v in (("loss", loss), ("loss_img", loss_img), ("loss_fts", loss_fts),
                         ("z_norm", z.norm(dim=1).mean())):
                acc[k] = acc.get(k, 0.0) + v.detach()
            n_acc += 1
            bar.update(1)
            if state.enc_iter % log_every == 0 or state.enc_iter == t_enc:
                row = {"stage": "encoder", "iter": state.enc_iter}
                row.update({k: float(v) / n_acc for k, v in acc.items()})
                dt = max(time.monotonic() - t_row, 1e-9)      # after the sync in float(), as above
                row["img_per_s"] = round(n_acc * b / dt, 2)
                row["iters"] = n_acc                # steps averaged: fewer in the first row after a resume
                if not write_row(row):
                    continue
                bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
                acc, n_acc, t_row = {}, 0, time.monotonic()
            if state.step % checkpoint_every == 0 or state.enc_iter == t_enc:
                checkpoint()
    finally:
        restore_signals()
        bar.close()
        G.requires_grad_(True), D.requires_grad_(True)

    # ---------------------------------------------------------------- final
    # a checkpoint of the end, so that a later resume (e.g. with more minutes) can continue: the loops wrote it on
    # their way out, unless this session trained nothing
    bad = all_finite(nets.modules())
    if bad is not None:                             # (the loops checked the weights of every step they left at)
        raise DivergenceError(f"f-AnoGAN: non-finite weights in {bad} at the end of training; last good checkpoint "
                              f"in {ck_dir}", what=f"f-AnoGAN: non-finite weights in {bad} at the end of training",
                              lr_setting="fanogan.lr" if bad in ("G", "D") else "fanogan.enc_lr")
    # the end's files as one commit that a SIGTERM (a scheduler's) or a Ctrl-C waits for: one between them left
    # fanogan-final.safetensors without its .json (the loops' handlers are gone by now)
    with stops_deferred(stopping=flag.interrupted) as held:
        if saved_step != state.step:
            save_periodic()
        tensors = ckpt.networks_to_tensors(nets.modules())
        out = ckpt.save_checkpoint(run_dir, FINAL_NAME, tensors, _meta(cfg, arch, state, n, t_gan, t_enc,
                                                                       stopped_early, device, threads_used()))
        if flag.signum is None and held:
            flag.signum = held[0]
        held.clear()                                # told below, not delivered to the caller's handlers
    if flag.signum is not None:
        # a stop in the last step (or its checkpoint) or while the end was written: the loops only look at the flag
        # before a step, so one in the last was dropped and the caller went on (the training scores, --evaluate) as
        # if nobody had asked to stop. Told as a wildgan run's stop at its end is
        where = (f"as training ended at critic step {state.gan_iter} of {t_gan}, encoder step {state.enc_iter} of "
                 f"{t_enc}")
        raise TrainingInterrupted(f"{stop_words(flag.signum)} {where}; the training is complete and its "
                                  f"networks are saved ({out})", flag.signum, where=where, checkpoint_dir=str(ck_dir),
                                  complete=True, not_run=left_after_training())
    say_at_end(f"f-AnoGAN done: {state.gan_iter} critic + {state.enc_iter} encoder iterations in {elapsed():.1f} s "
               f"-> {out}")
    return out


def _encoder_loss(E: torch.nn.Module, G: torch.nn.Module, D: Any, x: torch.Tensor, kappa: float
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """An encoder step's forward (izi_f, spec 5.2): the loss, its image and feature terms, and z = E(x)."""
    z = E(x)
    rec = G(z)
    with torch.no_grad():
        f_x = D.features(x)
    loss_img = F.mse_loss(rec, x)
    loss_fts = F.mse_loss(D.features(rec), f_x)
    return loss_img + kappa * loss_fts, loss_img, loss_fts, z


def _encoder_step_seconds(nets: FAnoGANNetworks, cfg: FAnoGANConfig, shape: tuple[int, int, int, int],
                          device: torch.device, steps: int = ENC_PROBE_STEPS) -> float:
    """Seconds per encoder step of stage 2 (E trained through G and D frozen in eval mode, batch `shape`), timed on
    copies of the networks fed zeros, after one untimed step (allocations, cuDNN's choice of kernels): the run's
    networks, E's BatchNorm statistics, its optimiser and the run's random generator are left as they were, which a
    step of the real E would not (it moves E's moving statistics)."""
    import copy

    G, D, E = (copy.deepcopy(m) for m in (nets.G, nets.D, nets.E))
    G.eval(), D.eval(), E.train()
    G.requires_grad_(False), D.requires_grad_(False)
    opt = TF1RMSprop(E.parameters(), lr=cfg.enc_lr)
    x = torch.zeros(shape, device=device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)      # (the steps are queued: the clock would time the queueing)

    def step() -> None:
        loss = _encoder_loss(E, G, D, x, cfg.kappa)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t0) / steps


def _total_eta(cfg: FAnoGANConfig, steps_timed: int, seconds: float, gan_left: int, enc_left: int,
               budget_left: float | None = None, enc_cost: float = ENC_STEP_COST) -> str:
    """"ETA total ~M:SS" for the first stage's bar: the critic steps left at the time per step measured
    (`steps_timed` in `seconds`), plus the encoder steps, each enc_cost of a critic step per image (measured on a few
    encoder steps once the critic steps are timed, ENC_STEP_COST before: a forecast, as stage 2 has not run; its own
    bar then counts it down), or what is left of a cfg.minutes budget when that ends the run first; "" before a step
    was timed."""
    from tqdm import tqdm

    if steps_timed < 1 or seconds <= 0:
        return ""
    per_step = seconds / steps_timed
    left = per_step * (gan_left + enc_cost * enc_left * cfg.enc_batch_size / cfg.batch_size)
    if budget_left is not None:
        left = min(left, max(0.0, budget_left))
    return f"ETA total ~{tqdm.format_interval(left)}"


def _meta(cfg: FAnoGANConfig, arch: dict[str, int], state: _State, n: int, t_gan: int, t_enc: int,
          stopped_early: bool, device: torch.device, threads: int | list[int]) -> dict[str, Any]:
    return {"kind": ckpt.FANOGAN_KIND, "config": to_dict(cfg), "arch": arch, "resolution": arch["resolution"],
            "channels": arch["channels"], "n_train": n, "state": asdict(state),
            "gan_iters_done": state.gan_iter, "enc_iters_done": state.enc_iter,
            "gan_iters_planned": t_gan, "enc_iters_planned": t_enc, "stopped_early": stopped_early,
            "elapsed_s": round(state.elapsed, 3), "rng_device": device.type,
            # (as the pGAN loop's: the thread counts the weights depend on, which config.json may leave null)
            "intra_op_threads": threads}


__all__ = ["bn_momentum", "train_fanogan", "planned_gan_iters", "TF1RMSprop", "FAnoGANNetworks"]
