"""Data-parallel training over several processes (issue 5), launched by torchrun, and the process group that sharded
scoring (scoring.run.score_files with ctx=current()) uses:

    torchrun --nproc_per_node=2 -m wildgan train --distributed ...        (GPUs: one per process, NCCL)
    python -m torch.distributed.run --nproc_per_node=2 -m wildgan train --distributed --device cpu ...   (gloo)

Process management (spawning, rendezvous, RANK / WORLD_SIZE / LOCAL_RANK, signal forwarding) is entirely torchrun's.

Why plain modules + an explicit gradient all-reduce instead of the DistributedDataParallel wrapper:
  * the D step calls D twice before one backward (real and fake stacked in one call, and x_hat for the gradient
    penalty, whose torch.autograd.grad(create_graph=True) DDP's reducer does not support: its hooks fire during the
    inner autograd.grad, and the double backward visits every parameter twice);
  * the G step runs D with frozen parameters and the E step runs G frozen, so a DDP-wrapped module would have
    "unused parameters" that change from step to step (find_unused_parameters + static_graph do not fit);
  * with an all-reduce after each backward every rank applies the same averaged gradient to the same weights with
    the same Adam, so the weights stay bit-identical across ranks, the checkpoint code is unchanged, and the update
    order is exactly the one-process order (D step + EMA, G step, E step).
  What is lost against DDP: overlapping the all-reduce with the backward pass (gradients here are 3 x 20.7M params
  at width 512, one bucketed all-reduce per step).

Batch split: the global minibatch of N images and latents is drawn on every rank exactly as one process draws it
(same seeded sampler and generator); each rank keeps N / world rows. Minibatch-stddev couples the images of a group:
one process forms groups of G strided samples (m, m + N/G, m + 2N/G, ...). Rank r keeps the groups
[r * M_r, (r + 1) * M_r) (M_r = N / (G * world)) in the order that makes its local strided grouping form exactly those
groups (`local_rows`), so every per-image value equals the one-process value and the losses (means over the batch)
average to the one-process losses: gradients averaged over ranks = the one-process gradients, up to float noise.

Which group each collective runs on. On a GPU job the default group is NCCL and `ctrl_group` a gloo group (CPU
tensors, no device sync, the --dist-timeout); on a CPU job both are the one gloo group.
  * NCCL (default group), device tensors, queued without a host wait: the gradient all-reduce
    (DistContext.average_gradients, after each of the D, G and E backwards), the stats rows' mean
    (DistContext.mean_tensors, every log_every iterations) and the start's weights (DistContext.broadcast_modules).
  * gloo (ctrl_group): everything the ranks decide together, and every wait for one rank's long work: max_ints /
    any_flags (the stop and budget agreement each round, the images' placement), barrier (after a checkpoint, in
    run.py around rank 0's writes, before each gradient all-reduce of a compiled phase's first iteration:
    loop.StepRunner._compiled, in shutdown), all_gather_object (start_together, failing_alike,
    same_checkpoint_restored / _rolled_back, sharded scoring's gather and its rank-0 answers), broadcast_object_list
    (the job id, run.py's record), gather_object (score_pgan_sharded). A barrier there needs no device_ids (gloo
    runs it on the CPU).
A host read of a device tensor right after an NCCL collective (the stats row's .cpu() after mean_tensors, the weights'
finite check, rank 0's checkpoint) is no agreement: every rank reads the same all-reduced values and weights, so
they decide alike. It waits for the collective, and where a peer died it waits until torch's watchdog ends the
process after the NCCL timeout (torch's 10 minutes, or --dist-timeout), or torchrun stops it first (SIGTERM, then
SIGKILL 30 s later, once any rank has ended). The watchdog acts unless TORCH_NCCL_ASYNC_ERROR_HANDLING is 0, which
init_distributed warns of (nccl_timeout_unenforced); the wait is never for good.
One wait for rank 0's work alone is in an NCCL collective, not under a gloo barrier: the sample grid
(loop._write_samples: Gs on the 64 fixed latents, the 8x8 PNG, with --tensorboard its copy in the event file), which
rank 0 writes after a checkpoint's barrier, or between checkpoints (--sample-kimg), while the other ranks go on into
the next iteration's gradient all-reduce. It is left synchronous: measured on a 2-core Xeon VM (benchmarks/RESULTS.md,
"the sample grid under torchrun"), the PNG takes 1.0 s at 256x256, 4.1 s at 512x512 and 19 s at 1024x1024, and
--tensorboard's copy 3.5, 18 and 82 s more; Gs's forward is a third of one global iteration's FLOPs (2.3 TFLOP for
the paper preset at 256x256 and minibatch 8: milliseconds at a GPU's rate, not measured here; 27 s on one CPU thread,
of the order of a CPU job's own iteration). At most ~100 s
against NCCL's 10 minutes and gloo's 30, so it cannot reach the default timeouts; a --dist-timeout given below it
would stop the job there, as one below a checkpoint's write does. Meanwhile rank 0's GPU idles (and the others wait in
the all-reduce), the same pause one process takes to write the grid: once per checkpoint unless --sample-kimg asks for
more.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
import time
import traceback
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import torch
import torch.distributed as tdist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from ..config import NetConfig, dist_timeout_problem
from ..devices import check_device_name
from ..errors import (CARRIED_ERRORS, CheckpointError, ConfigError, DataError, DivergenceError, Terminated,
                      TrainingInterrupted, WildganError, eprint, error_kind, option_words, rebuilt_error, shared_kind,
                      stop_asked, stop_text, take_stops, warn_user)
from ..fileio import append_line, append_log_line, atomic_write_text

_CTX: "DistContext | None" = None
_BUCKET_BYTES = 64 * 2**20
_T = TypeVar("_T")

# How long a rank waits in a collective on the CPU side (the gloo groups: every collective of a CPU job, the barriers
# and agreements of a GPU job) before the job stops, unless --dist-timeout says otherwise. A hung rank holds the others
# this long. It must stay above what one rank legitimately does while the others wait: rank 0 writing a checkpoint
# (G, Gs, D, E and Adam's moments, under 1 GB at the paper preset: seconds, minutes on slow network storage) or
# deleting the old run for --overwrite, the ranks reading the same data at different speeds, and in `score
# --threshold` rank 0 scoring the training images first when the run has none saved (a latent-search run, a
# --checkpoint), which can take longer: the --dist-timeout help says so. 30 minutes is torch's gloo default, which
# these waits had before.
DEFAULT_TIMEOUT_MIN = 30.0


@dataclass
class DistContext:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str
    ctrl_group: Any = field(default=None, repr=False)   # gloo group for CPU-side agreement (no device sync)
    # the same on every rank of one torchrun job: a rank's failure record (record_failure) names its job, so that
    # rank 0 never quotes one left in the run folder by an earlier job
    job: str = ""
    # the CPU-side groups' timeout (init_distributed), named when a collective timed out
    timeout_s: float = DEFAULT_TIMEOUT_MIN * 60

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- training ---------------------------------------------------------------------------------------------
    def average_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """grad <- mean over ranks, in buckets of flattened gradients (no host sync: async device collectives)."""
        grads = [p.grad for p in params if p.grad is not None]
        bucket: list[torch.Tensor] = []
        size = 0
        for g in grads + [None]:  # type: ignore[operator]
            if g is not None:
                bucket.append(g)
                size += g.numel() * g.element_size()
            if bucket and (g is None or size >= _BUCKET_BYTES):
                flat = _flatten_dense_tensors(bucket)
                tdist.all_reduce(flat)
                flat.div_(self.world)
                for dst, src in zip(bucket, _unflatten_dense_tensors(flat, bucket)):
                    dst.copy_(src)
                bucket, size = [], 0

    def mean_tensors(self, acc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Mean over ranks of logged scalars (once per log interval)."""
        if not acc:
            return acc
        flat = torch.stack([v.float().reshape(()) for v in acc.values()])
        tdist.all_reduce(flat)
        flat.div_(self.world)
        return dict(zip(acc.keys(), flat.unbind(0)))

    def any_flags(self, *flags: bool) -> tuple[bool, ...]:
        """Logical OR of host flags over ranks, on the CPU (gloo) group: no GPU synchronisation."""
        return tuple(bool(v) for v in self.max_ints(*(int(f) for f in flags)))

    def max_ints(self, *values: int) -> tuple[int, ...]:
        """The largest of each host integer over ranks, on the CPU (gloo) group (e.g. the signal a stop came by, 0
        for none: SIGTERM's 15 above Ctrl-C's 2, a scheduler's stop is the one the job reports)."""
        t = torch.tensor(list(values), dtype=torch.int32)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX, group=self.ctrl_group)
        return tuple(int(v) for v in t.tolist())

    def barrier(self) -> None:
        tdist.barrier(group=self.ctrl_group)

    @torch.no_grad()
    def broadcast_modules(self, modules: dict[str, torch.nn.Module]) -> None:
        """Start every rank from rank 0's weights (they are equal anyway: same seed)."""
        for m in modules.values():
            ts = list(m.parameters()) + list(m.buffers())
            if not ts:
                continue
            flat = _flatten_dense_tensors([t.detach() for t in ts])
            tdist.broadcast(flat, src=0)
            for dst, src in zip(ts, _unflatten_dense_tensors(flat, ts)):
                dst.copy_(src)


def processes_record(dist: Any) -> dict[str, Any]:
    """The processes that trained a session, as its checkpoints' and final networks' JSON and every stats.jsonl row
    record them: world_size (1 for one process) and dist_backend (gloo, nccl; None for one process). A torchrun run
    recorded nowhere how many processes trained it, so `wildgan info` advised a plain --resume for it, and a stats
    row's img_per_s (the images of all ranks) could not be compared with another run's. Older files lack both keys:
    the resume never reads them, `info` takes them as not recorded."""
    if dist is None or dist.world <= 1:
        return {"world_size": 1, "dist_backend": None}
    return {"world_size": int(dist.world), "dist_backend": str(dist.backend)}


def current() -> DistContext | None:
    """The context set up by init_distributed() in this process, if any."""
    return _CTX


def torchrun_world() -> tuple[int, int]:
    """(rank, world size) when the environment says this process is one of several that torchrun started
    (WORLD_SIZE > 1, with RANK or LOCAL_RANK), else (0, 1). Read from the environment alone, before any process
    group: a command run under torchrun without --distributed uses it to refuse at once (each rank would otherwise
    run the whole job and write the same files)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 0, 1
    if world <= 1 or not ("RANK" in os.environ or "LOCAL_RANK" in os.environ):
        return 0, 1
    try:
        rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
    except ValueError:
        rank = 0
    return rank, world


def init_distributed(device: str = "auto", timeout_min: float | None = None) -> DistContext:
    """Join the process group torchrun set up (env:// rendezvous). NCCL with one GPU per process when CUDA is used,
    gloo on CPU. Idempotent.

    `timeout_min` (--dist-timeout): how long a rank waits for the others in a collective before it fails, so that a
    hung rank stops the job instead of holding it; every group's. Default: DEFAULT_TIMEOUT_MIN for the gloo groups,
    torch's own for NCCL's GPU collectives (10 minutes), where no rank waits on another's long work."""
    global _CTX
    if _CTX is not None:
        return _CTX
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        raise WildganError(option_words(
            "--distributed must be launched by torchrun, e.g. torchrun --nproc_per_node=2 -m wildgan train "
            "--distributed ... (or wildgan score RUN --data FILES --distributed ...)",
            "init_distributed joins a job that torchrun launched: run the script with torchrun, e.g. torchrun "
            "--nproc_per_node=2 SCRIPT.py (RANK and WORLD_SIZE are not set)"))
    problem = None if timeout_min is None else dist_timeout_problem(timeout_min, f"{timeout_min:g}")
    if problem:
        raise WildganError(f"{option_words('--dist-timeout', 'timeout_min')} {problem}")
    rank, world, local = rank_environment(os.environ, rendezvous=not tdist.is_initialized())
    dev, backend = rank_device(device, local)
    if backend == "nccl":
        # before any collective: NCCL binds its communicator, and all_gather_object / broadcast_object_list on an
        # NCCL group stage their bytes, on the current device, which must be this rank's own GPU
        torch.cuda.set_device(dev)
        unenforced = nccl_timeout_unenforced(os.environ)
        if unenforced:
            warn_user(unenforced)
    # (new_group does not inherit the default group's timeout: without its own, the gloo group of a GPU job waited
    # torch's 30 minutes whatever was asked)
    cpu_timeout = timedelta(minutes=DEFAULT_TIMEOUT_MIN if timeout_min is None else timeout_min)
    if not tdist.is_initialized():
        given = {"timeout": cpu_timeout} if backend == "gloo" or timeout_min is not None else {}
        tdist.init_process_group(backend=backend, **given)
    elif _group_backend(dev.type) != backend:
        # a caller's own process group (the Python API): the device collectives (gradients, module broadcast) run
        # on it with this rank's tensors, which NCCL refuses on the CPU, and gloo would stage through the host
        raise ConfigError(f"the process group was set up with {tdist.get_backend_config()}, which runs {dev.type} "
                          f"tensors on {_group_backend(dev.type) or 'no backend'}, but device {device} trains with "
                          f"{backend}: set it up with {backend} (or let init_distributed set it up), or pass the "
                          f"device that matches it")
    ctrl = tdist.new_group(backend="gloo", timeout=cpu_timeout) if backend != "gloo" else None
    box = [uuid.uuid4().hex if rank == 0 else None]
    tdist.broadcast_object_list(box, src=0, group=ctrl)
    _CTX = DistContext(rank=rank, world=world, local_rank=local, device=dev, backend=backend, ctrl_group=ctrl,
                       job=str(box[0]), timeout_s=cpu_timeout.total_seconds())
    return _CTX


def rank_environment(env: Any, rendezvous: bool = True) -> tuple[int, int, int]:
    """(RANK, WORLD_SIZE, LOCAL_RANK) of this process as torchrun's environment `env` gives them (LOCAL_RANK: RANK
    where unset), refused as a ConfigError naming the variable and its value where they cannot be a rank of a job:
    not an integer, a WORLD_SIZE below 1, a RANK outside 0..WORLD_SIZE-1, a negative LOCAL_RANK; and with `rendezvous`
    (no process group set up yet: env:// joins it by them) a MASTER_ADDR or MASTER_PORT missing or a port that is no
    number. Set by hand (a scheduler's script, a shell that kept a job's variables) a bad value was int()'s bare
    ValueError, a traceback naming no variable; a missing MASTER_ADDR torch's own; and a RANK out of range waited in
    the rendezvous for peers that never come, until the timeout (30 minutes by default), without a word."""
    def number(name: str, default: int | None = None) -> int:
        raw = env.get(name)
        if raw is None and default is not None:
            return default
        if raw is None:
            raise ConfigError(f"{name} is not set: {_env_words()}")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an integer: {_env_words()}") from None

    world = number("WORLD_SIZE")
    rank = number("RANK")
    if world < 1:
        raise ConfigError(f"WORLD_SIZE={env.get('WORLD_SIZE')!r}: the number of processes must be at least 1: "
                          f"{_env_words()}")
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={env.get('RANK')!r} with WORLD_SIZE={env.get('WORLD_SIZE')!r}: the ranks of the job "
                          f"are 0 to {world - 1}, so this process would wait for peers that never come: {_env_words()}")
    local = number("LOCAL_RANK", rank)
    if local < 0:
        raise ConfigError(f"LOCAL_RANK={env.get('LOCAL_RANK')!r} is negative: {_env_words()}")
    if rendezvous:
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if not str(env.get(name, "")).strip():
                raise ConfigError(f"{name} is not set (the processes find each other at MASTER_ADDR:MASTER_PORT): "
                                  f"{_env_words()}")
        port = number("MASTER_PORT")
        if not 0 <= port <= 65535:
            raise ConfigError(f"MASTER_PORT={env.get('MASTER_PORT')!r} is not a port (0 to 65535): {_env_words()}")
    return rank, world, local


def _env_words() -> str:
    """The advice of rank_environment's refusals: torchrun sets these variables, each process its own."""
    return (f"torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for each process it starts "
            f"(e.g. torchrun --nproc_per_node=2 {option_words('-m wildgan ...', 'SCRIPT.py')}); set by hand, each "
            f"process needs its own RANK below WORLD_SIZE")


def _group_backend(device_type: str) -> str | None:
    """The backend the default process group runs `device_type`'s tensors on, by its backend config as torch
    dispatches a collective ('cpu:gloo,cuda:gloo' for a gloo group), not by its name: a group set up with no backend,
    torch's default, is named 'undefined', and one set up with 'cpu:gloo,cuda:nccl' so named, though each runs a
    device's tensors on that device's backend."""
    pairs = [p.split(":", 1) for p in str(tdist.get_backend_config()).split(",")]
    return {d.strip(): b.strip().lower() for d, b in (p for p in pairs if len(p) == 2)}.get(device_type)


def rank_device(device: str, local_rank: int) -> tuple[torch.device, str]:
    """(device, backend) of the rank with LOCAL_RANK `local_rank` for --device `device`: the GPU cuda:LOCAL_RANK
    with NCCL for cuda (auto where CUDA is available), the CPU with gloo for cpu. Refused: a GPU number (cuda:N
    names one GPU, and a job takes one per rank: each rank took cuda:LOCAL_RANK all the same, without a word), a
    device that is neither (mps: it has no collectives here, and training went on the CPU without a word), and a
    LOCAL_RANK beyond the GPUs this process sees (more processes per node than GPUs, or a launcher that gave each
    process one GPU through CUDA_VISIBLE_DEVICES: torch's "invalid device ordinal" came from set_device, naming
    neither)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = check_device_name(device)
    if dev.type == "cpu":
        return torch.device("cpu"), "gloo"
    if dev.type != "cuda":
        raise ConfigError(f"{_job_words()} runs on cpu (gloo) or cuda (NCCL), not on {device}: use "
                          f"{_device_words('cpu')}, cuda or auto")
    if dev.index is not None:
        raise ConfigError(f"{_device_words(device)} with {_job_words()}: each rank uses the GPU of its LOCAL_RANK "
                          f"(cuda:0 for the first process of a node, cuda:1 for the second, ...); give "
                          f"{_device_words('cuda')}, and choose the GPUs with CUDA_VISIBLE_DEVICES")
    if not torch.cuda.is_available():
        raise WildganError(f"{_device_words('cuda')} was requested but no CUDA device is available")
    n = torch.cuda.device_count()
    if not 0 <= local_rank < n:
        raise ConfigError(f"this process has LOCAL_RANK={local_rank} but sees {n} CUDA device{'s' * (n != 1)}: "
                          f"{_job_words()} takes one GPU per process, cuda:LOCAL_RANK, so --nproc_per_node must be at "
                          f"most the GPUs of a node (each process seeing them all: no per-process "
                          f"CUDA_VISIBLE_DEVICES); {_device_words('cpu')} runs the ranks on the CPU")
    return torch.device("cuda", local_rank), "nccl"


# the job's settings as the user of the call in progress gives them (errors.option_words): the command's options, or
# init_distributed's arguments for a Python script that torchrun runs
def _job_words() -> str:
    return option_words("--distributed", "a torchrun job")


def _device_words(device: str) -> str:
    return option_words(f"--device {device}", f"device={device!r}")


def _timeout_words() -> str:
    return option_words("--dist-timeout", "init_distributed(timeout_min=...)")


def _larger_timeout() -> str:
    return f"a larger {option_words('--dist-timeout', 'timeout_min')}"


def _out_words() -> str:
    return option_words("--out", "run_dir")


def nccl_timeout_unenforced(env: Any) -> str | None:
    """Why NCCL collectives would ignore the timeout under this environment, else None. NCCL's collectives run
    asynchronously: torch's watchdog thread enforces their timeout (aborting the process, which torchrun reports)
    unless TORCH_NCCL_ASYNC_ERROR_HANDLING (NCCL_ASYNC_ERROR_HANDLING before torch 2.2) is 0. torchrun sets it to 1
    and torch >= 2.2 defaults to 3, so only a user's 0 turns it off. Blocking wait would also enforce it, but makes
    every collective wait on the host, which the gradient all-reduce must not (it is queued with the backward pass),
    so it is not set here."""
    def value(name: str) -> str | None:
        for key in (f"TORCH_{name}", name):
            if key in env:
                return str(env[key]).strip()
        return None

    if value("NCCL_ASYNC_ERROR_HANDLING") == "0" and value("NCCL_BLOCKING_WAIT") not in ("1", "true", "True"):
        return ("TORCH_NCCL_ASYNC_ERROR_HANDLING=0: torch does not enforce the timeout of NCCL collectives, so a rank "
                f"that hangs holds the others for good instead of stopping the job after "
                f"{option_words('--dist-timeout', 'timeout_min')}; unset it")
    return None


def shutdown(together: bool = True) -> None:
    """Leave the process group: every rank together (unless `together` is False: after an error, when a peer may
    never arrive and waiting would hang the job instead of letting torchrun stop it), then the groups' threads and
    sockets freed while the interpreter is still whole.

    Why: a rank that tore its gloo pairs down while its peer was still finishing the last collective, or a group
    object freed only at interpreter exit, can abort the peer ("terminate called without an active exception",
    SIGABRT) after a run that succeeded; torchrun then reports the whole job as failed. Seen once in CI in ~100 runs.

    On a GPU job that did not end together (an error, a second Ctrl-C, or a peer gone before the barrier) the groups
    are aborted instead of destroyed: since torch 2.6 (PR 141510) destroy_process_group flushes the NCCL work queued
    by this rank (ncclCommFinalize) before it frees the communicators, and "for a bad program, a hang is expected"
    there, while _abort_process_group is torch's way out "upon hangs or failures" (PR 132291): it ends the
    queued kernels at once. A rank stopped in the middle of an iteration (its own error, a second Ctrl-C, torchrun's
    SIGTERM after a peer ended) may have queued all-reduces that a peer never joins (it stopped at another one, or
    died): the flush waited for them until torchrun's SIGKILL, 30 s after it asked the rank to stop, or the
    watchdog's NCCL timeout, and what the rank had to say, raised after this, was never printed. The gloo-only job
    keeps destroy_process_group: gloo runs no queued work (its collectives return before the next call), and an
    abort there waits for an unanswered collective just as a destroy does. An abort that fails falls back on the
    destroy, and a teardown that fails is said, never raised (_leave_after_failure, _destroy_groups): shutdown runs
    while the error that stopped the rank goes up."""
    global _CTX
    stopping_on = sys.exc_info()[1]              # (the caller's error being handled, if any: its warnings name it)
    if tdist.is_initialized():
        met = together
        if together:
            ctrl = _CTX.ctrl_group if _CTX is not None else None
            try:
                tdist.barrier(group=ctrl)        # on the CPU group: no rank closes its sockets while a peer still talks
            except RuntimeError:                 # a peer already gone (DistBackendError): still free what we hold
                met = False                      # (not Exception: a SIGTERM raised in the wait must go on up)
        if met:
            _destroy_groups(stopping_on)
        else:
            _leave_after_failure(stopping_on)
    _CTX = None
    gc.collect()                                 # free the C++ groups now, not during interpreter finalisation


def _leave_after_failure(stopping_on: BaseException | None) -> None:
    """shutdown's way out when the ranks did not end together: abort a GPU job's groups, destroy a CPU job's (see
    shutdown). Never raises (_destroy_groups says why); what fails is said, and the next way tried.

    _abort_process_group is private and experimental in torch: missing (torch < 2.5: not tried), or raising (its
    signature or checks changed, a communicator already in error), it left the groups initialised, so that a later
    process group in this process (a Python caller training twice, a test) failed with "already initialized". Then
    the groups are destroyed after all: on a GPU job that destroy may wait for NCCL work a peer never joins (see
    shutdown), until the NCCL timeout or torchrun's SIGKILL, which is why the warning, said before it, names the
    error the rank stopped on, `stopping_on` (otherwise said only after the wait, or never)."""
    abort = getattr(tdist.distributed_c10d, "_abort_process_group", None)     # (torch >= 2.5)
    if abort is not None and _group_backend("cuda") == "nccl":
        try:
            abort()
            return
        except Exception as e:                   # (torch calls it experimental)
            _say_in_shutdown(f"could not abort the process groups ({_one_line(e)}); destroying them instead, which "
                             f"waits for the NCCL work this rank queued that a stopped peer never joins (up to the "
                             f"NCCL timeout, or torchrun's SIGKILL)", stopping_on)
        if not tdist.is_initialized():           # (the abort got as far as freeing them)
            return
    _destroy_groups(stopping_on)


def _destroy_groups(stopping_on: BaseException | None) -> None:
    """destroy_process_group, never raising: shutdown runs while the error that ended the rank goes up (the CLI's
    and start_together's calls are in their except blocks), and an error of its own would replace that one, the
    rank's only word on why it stopped. A failure is said instead (the groups then stay initialised: a later process
    group in this process is refused)."""
    try:
        tdist.destroy_process_group()
    except Exception as e:
        _say_in_shutdown(f"could not leave the process group ({_one_line(e)}): a new process group in this process "
                         f"will be refused as already initialized", stopping_on)


def _say_in_shutdown(what: str, stopping_on: BaseException | None) -> None:
    """A warning of shutdown's, with the error this rank is stopping on (`stopping_on`, the one being handled where
    shutdown was called, if any: said now, before a teardown that may wait; its traceback comes when it reaches the
    top). A warnings filter that makes it an error
    (python -W error) must not replace that error either: the warning then goes to stderr as text."""
    text = what + (f"; this rank stopped on {_one_line(stopping_on)}" if stopping_on is not None else "")
    try:
        warn_user(text)
    except Exception:
        try:
            # as the CLI shows a warning: one write (the ranks share the terminal: print wrote the line and its
            # newline apart), naming the rank
            eprint(f"wildgan: warning{rank_tag()}: {text}")
        except Exception:                        # (stderr closed: nothing left to say it on)
            pass


def rank_tag() -> str:
    """' (rank R of W)' on a torchrun rank other than 0, else '': how a rank's warnings and errors say which rank they
    are from. The one spelling of it: cli.common.rank_tag calls it (this layer, the lowest that says it, may not
    import the CLI's; the two copies had to be kept in step by hand)."""
    rank, world = torchrun_world()
    return f" (rank {rank} of {world})" if rank > 0 else ""


FAILURE_FILE = "rank-{rank}-error.txt"
# the line of a FAILURE_FILE that names the class (errors.error_kind) rank 0 raises the rank's error as
_CARRIED_AS = "carried as: "
# record_no_answer's note that rank R gave up waiting: rank 0, if it was only slow (not hung), reads it and says that
# the --dist-timeout was too short, rather than that a peer vanished without a word
TIMEOUT_FILE = "rank-{rank}-timeout.txt"
_TORCH_DISTRIBUTED = os.path.dirname(os.path.abspath(tdist.__file__)) + os.sep


def raised_in_collective(exc: BaseException) -> bool:
    """Whether `exc` came out of a torch.distributed call, or was raised while one's error was handled (torchrun's
    SIGTERM, which follows a peer's end closely, as the CLI's errors.Terminated). On a healthy rank that is the echo
    of a peer that stopped (gloo: "Connection closed by peer" once the peer's process ends, a timeout when it hangs),
    not a cause of its own: gloo raises those as plain RuntimeErrors, so the place they were raised tells, not the
    type. Not a signal that reached this rank while it still waited in that call (_signalled_while_waiting): that
    is this rank's own stop."""
    return _collective_error(exc) is not None


def _collective_error(exc: BaseException) -> BaseException | None:
    """The error a torch.distributed call raised, `exc` itself or one it was raised while handling; else None. A
    signal's exception (SIGTERM's errors.Terminated, Ctrl-C's KeyboardInterrupt) is never that error itself, and one
    that came during the call whose error it follows makes the whole chain this rank's own: None."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (Terminated, KeyboardInterrupt)):
            # (KeyboardInterrupt's C handler adds no frame of its own: its last frame is the one it interrupted)
            if _signalled_while_waiting(e):
                return None
        else:
            frames = _frames(e)
            if isinstance(e, tdist.DistError) or (frames and _in_torch_distributed(frames[-1])):
                return e
        e = e.__context__
    return None


def _frames(exc: BaseException) -> list[Any]:
    """The frames `exc` went through, outermost first (the one it was raised in last)."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _in_torch_distributed(frame: Any) -> bool:
    return os.path.abspath(frame.f_code.co_filename).startswith(_TORCH_DISTRIBUTED)


def _signalled_while_waiting(signalled: BaseException) -> bool:
    """Whether the signal that `signalled` stands for reached this rank while it waited in a collective that then
    failed (the error `signalled` was raised while handling), rather than after the failure. Python runs a signal's
    handler only once the wait returns, so a signal that came during it is handled at once, still inside the
    torch.distributed frames of that call (which handle its error); torchrun's SIGTERM after a peer's end comes once
    this rank has left them. Then the signal is this rank's own stop: the peer likely ended on the same one (a
    scheduler's stop that torchrun passed to every rank), and this rank says `terminated`, not that a peer stopped."""
    failed = signalled.__context__
    if failed is None:
        return False
    call = [f for f in _frames(failed) if _in_torch_distributed(f)]
    return any(f is g for f in _frames(signalled) for g in call)


@contextmanager
def stops_deferred(stopping: bool = False) -> Iterator[list[int]]:
    """SIGTERM and SIGINT (Ctrl-C) held back until the block ends, then delivered to the handlers the block held them
    from, in the order they came (Ctrl-C: Python's KeyboardInterrupt). For a short commit (a CSV and the removal of
    its chunk folder, network-final's two files, a rank's failure record) that a stop must not cut in two: torchrun
    sends SIGTERM to the ranks still running as soon as one rank's process ends, which is about when they find their
    collectives failed, and the CLI's handler raised it in the middle of writing how the job stopped; a Ctrl-C as
    `wildgan score` committed its CSV left OUT.chunks/ beside the complete OUT.csv. A second Ctrl-C in the block
    raises KeyboardInterrupt at once, as in training's loop (resume.StopFlag): the way out of a commit that does not
    end (a stalled disk). `stopping`: a stop came before the block (training's StopFlag was set in its last round),
    so that a Ctrl-C in it is the second, raised at once as StopFlag would: held, it took a third. (Main thread only:
    Python's handlers run there.)

    Yields the signals held so far: a caller that tells the stop itself (the training end's TrainingInterrupted)
    clears the list, and nothing is delivered for them at the end.

    The Python-level handlers are swapped for one that only notes the signal, rather than the thread's signal mask
    blocked: a process with other threads (gloo's, torch's pools) has the kernel deliver a process-directed SIGTERM
    to a thread that does not block it, and CPython then runs the handler in the main thread all the same. A signal
    that is ignored (SIG_IGN: nohup's SIGINT, a background job's) is left so: nothing to hold, and no second Ctrl-C
    to raise on. So is one whose handler was set from C (None: an application that embeds Python), which Python
    cannot put back: the default action in its place took the application's own handling from it for good.

    A block that raises delivers nothing: its error goes up instead (it ends the command all the same). Delivered
    over it, the stop's exception took its place: a full disk under network-final after a Ctrl-C was said as a plain
    `interrupted`, log.txt's `stopped: KeyboardInterrupt`, the final weights left without their .json and the disk
    never named; and a rank's own failure, replaced by torchrun's SIGTERM, was not recorded as its own."""
    import threading

    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    def note(signum: int, frame: Any) -> None:
        stop_asked(signum)      # (held, but a stop: the CLI's outputs bounded from now on, as StopFlag's)
        if signum == signal.SIGINT and (stopping or signum in held):
            if signum in held:
                held.remove(signum)          # (raised now: not delivered again at the end)
            raise KeyboardInterrupt
        if signum not in held:
            held.append(signum)

    old: dict[int, Any] = {}
    # the CLI's SIGHUP is held too, whatever SIGTERM's disposition (errors.take_stops): with SIGTERM left ignored
    # here, it found no handler to pass to and was raised in the middle of the commit
    untake = take_stops(note)
    try:
        for s in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(s) not in (signal.SIG_IGN, None):
                old[s] = signal.signal(s, note)
        yield held
    except BaseException:
        held.clear()                     # (the error is the word on how it ended, not the stop held through it)
        raise
    finally:
        untake()                         # (first: a SIGHUP delivered below goes to the handler outside the block)
        for s, h in old.items():
            # (None, not taken over above, could only be a handler set from C since: the default action then, as
            # signal.signal cannot take None)
            signal.signal(s, signal.SIG_DFL if h is None else h)
        for s in list(held):
            signal.raise_signal(s)       # now, to the handler the block held it from (one that raises ends the rest)


_EVERY_RANK = "_wildgan_every_rank"      # set on an error that every rank of the job met alike (failing_alike)


@contextmanager
def failing_alike(ctx: "DistContext | None") -> Iterator[None]:
    """A step every rank takes alike, on what every rank reads the same (the run's checkpoints, for a --resume): the
    ranks tell each other whether it failed, and an error that every rank met with the same message is marked as the
    job's (met_by_every_rank), so that no rank records it as its own failure (record_failure) and rank 0 says that
    every rank met it (explain_failure). Without this a damaged checkpoint that stopped every rank was recorded by
    rank 1 as its own, and rank 0's line blamed rank 1 ("rank 1 of 2 failed: ...") or not, by which rank wrote first.

    An error that not every rank met is raised unmarked, as before (that rank's own, recorded as such); the ranks it
    did not stop go on and meet its end in their next collective, as before. Every rank must enter the block."""
    if ctx is None or ctx.world <= 1:
        yield
        return
    try:
        yield
    except Exception as e:
        try:
            said = _outcomes(ctx, _one_line(e))
        except Exception:        # a peer gone (killed): this rank's error is still its own, told as before
            said = []            # (not raised from here: its context would make it read as that peer's echo)
        if said and all(what == said[ctx.rank] for what in said):
            setattr(e, _EVERY_RANK, ctx.world)
        raise
    _outcomes(ctx, None)


def same_checkpoint_restored(ctx: "DistContext | None", restored: str, folder: Path) -> None:
    """After a --resume, stop every rank when the ranks restored different checkpoints from `folder` (`restored`:
    this rank's, its file, image count and sha256, or "none"). Each rank reads the run folder on its own: on a
    multi-node job whose --out is not one shared folder (local disks) the ranks found different checkpoints, or none,
    and trained on silently from different states (weights, Adam, data order), the gradients averaged over them.
    Every rank raises the same error, naming each rank's checkpoint, marked as the job's (met_by_every_rank). One
    process: nothing to compare, no collective."""
    if ctx is None or ctx.world <= 1:
        return
    said = _outcomes(ctx, restored)
    if len(set(said)) > 1:
        err = CheckpointError(f"the ranks resumed from different checkpoints in {folder}: "
                              + "; ".join(f"rank {r}: {what}" for r, what in enumerate(said))
                              + f". Every rank must read the same run folder: give {_out_words()} a folder that every "
                                f"node shares")
        setattr(err, _EVERY_RANK, ctx.world)       # every rank saw the same list: none raises another error
        raise err


def same_checkpoint_rolled_back(ctx: "DistContext | None", folder: Path, restored: str | None = None,
                                error: Exception | None = None) -> None:
    """After a rollback (--on-divergence rollback), which every rank does at the same step (the ranks agree on a
    divergence from all-reduced losses and weights alike), stop every rank together when they did not all roll back
    to the same checkpoint in `folder`: `restored` is this rank's (as same_checkpoint_restored's), `error` what
    stopped its rollback instead. As on a --resume, each rank reads the folder on its own: on a multi-node job whose
    --out is not one shared folder a rank found other checkpoints, or none, and trained on from another state
    (weights, Adam, data order, lr) with the gradients averaged over both; or it stopped alone with "no good
    checkpoint", a DivergenceError that is not recorded as a rank's own (the ranks decide a divergence together), so
    that rank 0, which went on, only met a closed connection. Every rank now raises the same CheckpointError naming
    each rank's outcome, marked as the job's (met_by_every_rank). An `error` that every rank met alike is raised as
    it is: a DivergenceError (the rollbacks used up, --on-divergence stop) as before, the ranks' decision; any other
    (an unreadable checkpoint folder) marked as the job's, as failing_alike marks a --resume's, or every rank but 0
    recorded it as its own and rank 0's line blamed rank 1. One process: `error` raised, nothing compared."""
    if ctx is None or ctx.world <= 1:
        if error is not None:
            raise error
        return
    said = _outcomes(ctx, restored if error is None else f"no rollback: {_one_line(error)}")
    if len(set(said)) == 1:
        if error is not None:
            if not isinstance(error, DivergenceError):
                setattr(error, _EVERY_RANK, ctx.world)
            raise error
        return
    err = CheckpointError(f"the ranks rolled back to different checkpoints in {folder}: "
                          + "; ".join(f"rank {r}: {what}" for r, what in enumerate(said))
                          + f". Every rank must read the same run folder: give {_out_words()} a folder that every node "
                            f"shares")
    setattr(err, _EVERY_RANK, ctx.world)       # every rank saw the same list: none raises another error
    raise err


# the settings that may differ between the ranks of one job: how many threads a process runs (the nodes' CPUs may
# differ), and the device, whose spellings (auto, cuda) name the same one per rank (rank_device)
_PER_PROCESS_SETTINGS = frozenset({"train.threads", "train.device"})


def same_training_on_every_rank(ctx: "DistContext | None", settings: dict[str, Any], images: dict[str, Any]) -> None:
    """Stop every rank together when the ranks are about to train on different settings or images: `settings`, this
    rank's training settings by name ('method', 'net.KEY', 'train.KEY'; _PER_PROCESS_SETTINGS left out), `images` its
    training images' summary (data.splits.TRAIN_FIELDS of split_summary: count, ids' and pixels' sha256). Each rank
    reads its options, config file and data on its own: on a multi-node job whose nodes were given another command
    line, or whose --data is a node's own copy that differs (files added, edited or missing on one node), the ranks
    trained on silently, each drawing its rows of the minibatch from its own images or by its own seed, with their
    gradients averaged into a run that is none of them, and split.json and config.json recorded rank 0's alone.
    Every rank raises the same error, naming each rank that differs from rank 0 and how, marked as the job's
    (met_by_every_rank): a ConfigError for settings that differ (which can make the images differ too: the seed
    shuffles the split), else a DataError for the images. One process: nothing to compare."""
    if ctx is None or ctx.world <= 1:
        return
    mine = ({k: v for k, v in settings.items() if k not in _PER_PROCESS_SETTINGS}, dict(images))
    said: list[Any] = [None] * ctx.world
    tdist.all_gather_object(said, mine, group=ctx.ctrl_group)
    settings0, images0 = said[0]
    setting_diffs, image_diffs = [], []
    for rank, (their_settings, their_images) in enumerate(said[1:], 1):
        apart = _apart(settings0, their_settings)
        if apart:
            setting_diffs.append(f"rank {rank}: {apart}")
        apart = _apart(images0, their_images)
        if apart:
            image_diffs.append(f"rank {rank}: {apart}")
    if not setting_diffs and not image_diffs:
        return
    if setting_diffs:
        # (the settings first: they can make the images differ too, the seed shuffling the split)
        err: WildganError = ConfigError(
            f"the ranks were given different training settings ({'; '.join(setting_diffs)})"
            f"{', and read different training images' if image_diffs else ''}: "
            + option_words("give every rank the same options and config file (each node's torchrun the same command "
                           "line)", "give every rank the same RunConfig (its seed, net and train settings)"))
    else:
        err = DataError(f"the ranks read different training images ({'; '.join(image_diffs)}): every rank must read "
                        f"the same images, so give {option_words('--data', 'cfg.data.data')} files that are the same "
                        f"on every node")
    setattr(err, _EVERY_RANK, ctx.world)       # every rank saw the same lists: none raises another error
    raise err


def _apart(first: dict[str, Any], other: dict[str, Any]) -> str:
    """How `other` differs from `first` (rank 0's), key by key: 'KEY VALUE (rank 0: VALUE)', a checksum as 'KEY
    differs'; '' where they agree."""
    said = []
    for k in sorted(set(first) | set(other)):
        a, b = first.get(k), other.get(k)
        if a == b:
            continue
        said.append(f"{k} differs" if k.endswith("sha256") else f"{k} {b!r} (rank 0: {a!r})")
    return ", ".join(said)


def _outcomes(ctx: "DistContext", mine: str | None) -> list[str | None]:
    said: list[Any] = [None] * ctx.world
    tdist.all_gather_object(said, mine, group=ctx.ctrl_group)
    return said


def met_by_every_rank(exc: BaseException) -> bool:
    """Whether `exc` is an error that every rank of the job met alike (failing_alike), not one rank's own."""
    return bool(getattr(exc, _EVERY_RANK, 0))


def _one_line(exc: BaseException, limit: int = 1000) -> str:
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[:limit] + " ..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def record_failure(run_dir: Path, exc: BaseException, ctx: DistContext) -> Path | None:
    """On a rank other than 0 that failed on its own: leave its error in the run folder, where rank 0 (which alone
    writes the run) and the user reading log.txt find it. Without this the folder showed only rank 0's echo of it, a
    gloo "Connection closed by peer", and the cause was on the terminal alone, among the ranks' interleaved output.

    Writes RUN/rank-R-error.txt (the traceback, the job it is from, and the class rank 0 raises it as: errors.
    error_kind, when it has one) and appends one line to RUN/log.txt,
    `rank R of W stopped: Type: message (traceback in ...)`. Call it before leaving the process group: the peers'
    collectives fail only once this rank's sockets close, so rank 0 finds the record when it looks. An error raised in
    a collective is skipped (another rank's failure seen from here; one that timed out is record_no_answer's), as are
    one that every rank met (failing_alike: rank 0 says so) and rank 0. Returns the file written, if any; never
    raises (a record that cannot be written must not hide the error it records)."""
    if ctx.rank == 0 or raised_in_collective(exc) or met_by_every_rank(exc):
        return None
    run_dir = Path(run_dir)
    path = run_dir / FAILURE_FILE.format(rank=ctx.rank)
    summary = _one_line(exc)
    try:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        line = f"rank {ctx.rank} of {ctx.world} stopped: {summary}"
        _write_record(path, line, ctx, tb, error_kind(exc))
        append_line(run_dir / "log.txt", f"{line} (traceback in {path})")
    except Exception:          # e.g. a full disk: the error being recorded still goes up, and torchrun reports it
        return None
    return path


def _write_record(path: Path, line: str, ctx: DistContext, detail: str = "", kind: str | None = None) -> None:
    """A rank's record in the run folder: its log line, then the job and time lines other_ranks_failures reads, and
    the `carried as:` line (`kind`, the error's errors.error_kind) it reads too, where there is one."""
    # (the class by name, as start_together sends it: rank 0 meets only gloo's closed connection, and its error said
    # a plain WildganError naming the class, which `except DataError` missed)
    carried = f"{_CARRIED_AS}{kind}\n" if kind is not None else ""
    atomic_write_text(path, f"{line}\njob: {ctx.job}\ntime: {time.time():.6f} ({time.strftime('%Y-%m-%d %H:%M:%S')}, "
                            f"pid {os.getpid()} on {socket.gethostname()})\n{carried}\n{detail}")


def other_ranks_failures(run_dir: Path, ctx: DistContext, name: str = FAILURE_FILE
                         ) -> list[tuple[int, str, Path, str | None]]:
    """(rank, one-line error, file, errors.error_kind or None) of each record_failure of this job's other ranks in
    run_dir, earliest first (name=TIMEOUT_FILE: each record_no_answer's instead)."""
    found: list[tuple[float, int, str, Path, str | None]] = []
    for path in Path(run_dir).glob(name.format(rank="*")):
        try:
            rank = int(path.name.split("-")[1])
            head = path.read_text(encoding="utf-8", errors="replace").split("\n", 4)
            if rank == ctx.rank or len(head) < 3 or head[1] != f"job: {ctx.job}":
                continue
            # (a record without the line: a class that is not carried, or one an older wildgan wrote)
            # (stripped: a record edited by hand, or copied through a tool that added a trailing space or a CR, still
            # names the class)
            kind = head[3][len(_CARRIED_AS):].strip() if len(head) > 3 and head[3].startswith(_CARRIED_AS) else None
            found.append((float(head[2].split()[1]), rank, head[0].split(" stopped: ", 1)[1], path, kind))
        except (OSError, ValueError, IndexError):
            continue
    return [(rank, what, path, kind) for _, rank, what, path, kind in sorted(found)]


def peers_error(run_dir: Path, ctx: DistContext, exc: BaseException) -> WildganError:
    """Rank 0's error when `exc` is its echo of other ranks' end in training (a failed collective): explain_failure's
    account, of the class the failed ranks' records name when they all name the same one (errors.rebuilt_error, the
    rule of start_together's StartFailed and of sharded scoring's gather), else a WildganError."""
    # (the records read once, for the class and the account: read twice, a rank's record landing in between made
    # an account of one set of ranks raised as the class of another)
    others = other_ranks_failures(run_dir, ctx)
    return rebuilt_error([kind for *_, kind in others], explain_failure(run_dir, ctx, exc, others))


def timed_out(exc: BaseException) -> bool:
    """Whether `exc` is a collective that gave up waiting (the --dist-timeout): a peer hung, or was busy for longer,
    rather than gone (gloo's "Timed out waiting 60000ms for recv operation", then "Application timeout caused pair
    closure" on the next one)."""
    cause = _collective_error(exc)
    text = str(cause).lower()
    return cause is not None and ("timed out" in text or "timeout" in text)


def _no_answer(timeout_s: float) -> str:
    return (f"no answer from another rank within {timeout_s / 60:g} min ({_timeout_words()}): a rank hung, or worked "
            f"alone longer than that (then give {_larger_timeout()}); torchrun's report on the terminal shows "
            f"the ranks it had to stop with a signal")


def record_no_answer(run_dir: Path, exc: BaseException, ctx: DistContext) -> bool:
    """On a rank other than 0 whose collective timed out (`exc`, see timed_out): one line in RUN/log.txt, `rank R of
    W stopped: no answer from another rank within N min (--dist-timeout) ...`, unless a rank of this job recorded an
    error of its own there (record_failure), which is then the cause and this timeout its noise. Returns whether the
    line was written; never raises.

    Why: when rank 0 hangs (alive but stuck: a stalled disk under a checkpoint) it never writes its `stopped:` line,
    and torchrun's SIGTERM, sent once a waiting rank gives up and exits, ends it without a word (a rank stuck in C
    code waits on until the SIGKILL, 30 s later). Without this line log.txt ended with training going on. Each rank
    that timed out writes its own line (with more than 2 ranks, several may): the ranks named in them are the ones
    that waited, so the hung rank is among those not named."""
    if ctx.rank == 0 or ctx.world <= 1 or not timed_out(exc):
        return False
    run_dir = Path(run_dir)
    try:
        if not run_dir.is_dir() or other_ranks_failures(run_dir, ctx):
            return False
        cause = _collective_error(exc)
        line = (f"rank {ctx.rank} of {ctx.world} stopped: {_no_answer(ctx.timeout_s)}. On rank {ctx.rank}: "
                f"{_one_line(cause if cause is not None else exc)}")
        _write_record(run_dir / TIMEOUT_FILE.format(rank=ctx.rank), line, ctx)
        append_line(run_dir / "log.txt", line)
    except Exception:          # the timeout still goes up, and torchrun reports it
        return False
    return True


def explain_failure(run_dir: Path, ctx: DistContext, exc: BaseException,
                    others: list[tuple[int, str, Path, str | None]] | None = None) -> str:
    """Rank 0's account of how the job stopped, for its `stopped:` line in log.txt: `every rank of W: ...` for an
    error that every rank met (failing_alike); else another rank's own error first when that rank recorded one (rank
    0's is then mostly its echo: a failed collective, or torchrun's SIGTERM), and when none did but a collective
    failed, that a peer stopped without a word (killed: out of memory, a signal) or hung (the collective timed out),
    with where to look. others: other_ranks_failures(run_dir, ctx), where the caller has read it already."""
    own = stop_text(exc)
    if ctx.world <= 1:
        return own
    if met_by_every_rank(exc):                 # no rank recorded it as its own: it is the job's cause
        return f"every rank of {ctx.world}: {type(exc).__name__}: {own}"
    others = other_ranks_failures(run_dir, ctx) if others is None else others
    if others:
        rank, what, path, _ = others[0]
        more = _and_others(len(others))
        if isinstance(exc, StartFailed):       # rank 0 itself was fine: it has no error of its own to add
            return f"rank {rank} of {ctx.world} could not start{more}: {what} (traceback in {path})"
        return f"rank {rank} of {ctx.world} failed{more}: {what} (traceback in {path}); then on rank 0: {own}"
    if timed_out(exc):
        return f"{_no_answer(ctx.timeout_s)}. On rank 0: {own}"
    if not raised_in_collective(exc):
        return own
    gave_up = other_ranks_failures(run_dir, ctx, TIMEOUT_FILE)
    if gave_up:
        # rank 0 was slow, not hung (it is here to say so): the peers' wait ran out while it worked alone
        return (f"rank {gave_up[0][0]} of {ctx.world} gave up waiting for rank 0 after {ctx.timeout_s / 60:g} min "
                f"({_timeout_words()}) and stopped, while rank 0 worked alone for longer (a checkpoint write, a slow "
                f"disk?): give {_larger_timeout()}. On rank 0: {own}")
    return (f"another rank of the job stopped or hung, leaving no error in {run_dir} (killed: out of memory, a "
            f"signal?); torchrun's report on the terminal names the rank and its exit code. On rank 0: {own}")


def _and_others(n: int) -> str:
    """' (and N other rank(s))' after the first of n ranks named, else ''."""
    return f" (and {n - 1} other rank{'s' if n > 2 else ''})" if n > 1 else ""


def peer_failure(exc: BaseException, rank: int, timeout_s: float) -> str | None:
    """What a rank says when `exc` is the echo of another rank's end (a failed collective) where there is no run
    folder to look in (sharded scoring): that another rank stopped, and where its own error is. None when `exc` is
    this rank's own error."""
    cause = _collective_error(exc)
    if cause is None:
        return None
    own = _one_line(cause)                     # (not torchrun's SIGTERM that followed it)
    if timed_out(exc):
        return f"{_no_answer(timeout_s)}. On rank {rank}: {own}"
    return (f"another rank of the job stopped (its own error, if it could print one, is on the terminal above, "
            f"tagged with its rank; torchrun's report names the rank and its exit code). On rank {rank}: {own}")


def record_how_training_ended(run_dir: Path, ctx: DistContext | None, exc: BaseException,
                              log: Callable[[str], None]) -> None:
    """A training session's end by `exc` in the run folder: rank 0 (or the one process) says how it stopped in
    log.txt through `log` (the run's RunLog.write, after the warnings it holds), another rank records its own failure
    or a peer that did not answer, so that rank 0 can name it. A refusal (ConfigError, e.g. the folder is another
    process's) ran nothing and must not write into someone else's run. ctx: the job's context, None for one
    process.

    An end is recorded once: `exc` is marked as recorded (and peer_end_error's answer is its cause's end, recorded
    already), so that a caller that records it again on its way out writes nothing twice (train_run records a rank's
    end for a Python caller, and the CLI around it records its own)."""
    if getattr(exc, _END_RECORDED, False) or getattr(exc, _PEER_ECHO, False):
        return
    _mark(exc, _END_RECORDED)
    with stops_deferred() if ctx is not None else nullcontext():
        if (ctx is None or ctx.is_main) and run_dir.is_dir() and not isinstance(exc, ConfigError):
            # under torchrun rank 0's own error is often the echo of another rank's (a failed collective): that
            # rank's error is named first, from what it left in the folder
            why = explain_failure(run_dir, ctx, exc) if ctx is not None else stop_text(exc)
            log(f"stopped: {why}")          # (after the warnings held, if it is the session's first line)
        elif ctx is not None and run_dir.is_dir() and timed_out(exc):
            # no answer from another rank (whatever came after it, torchrun's SIGTERM too): not a failure of
            # this rank's own, but log.txt's only word on how the job ended when the rank that hung is rank 0
            record_no_answer(run_dir, exc, ctx)
        elif ctx is not None and run_dir.is_dir() and not isinstance(
                exc, (ConfigError, DivergenceError, TrainingInterrupted, KeyboardInterrupt, Terminated)):
            # a rank's own failure (not a refusal every rank met, nor a divergence the ranks decided together
            # from their all-reduced losses and identical weights, nor a signal the whole job got): into the
            # folder, before its sockets close and the other ranks' collectives fail
            record_failure(run_dir, exc, ctx)


def peer_end_error(run_dir: Path, ctx: DistContext | None, exc: BaseException) -> WildganError | None:
    """A training rank's error that is only the echo of another rank's end (gloo's "Connection closed by peer" in a
    collective, one that timed out), as the one line its log.txt `stopped:` line says, not a traceback of torch's
    internals: rank 0 names the rank that failed and its traceback file when it recorded one (explain_failure), as
    that rank's class where it is carried (peers_error: a DataError stays one), the others say where that rank's
    error is (peer_failure, as sharded scoring does). Usually torchrun's SIGTERM comes first and the rank says
    `terminated`; a rank still busy when the peer died meets the closed connection first. None for a rank's own
    error, one every rank met, or one process (ctx None); and for an answer of this function's own (already told, by
    a callee that caught the echo first: train_run under a caller that tells it too)."""
    if ctx is None or ctx.world <= 1 or getattr(exc, _PEER_ECHO, False):
        return None
    why = peer_failure(exc, ctx.rank, ctx.timeout_s)
    if why is None or met_by_every_rank(exc):
        return None
    echo = peers_error(run_dir, ctx, exc) if ctx.is_main and run_dir.is_dir() else WildganError(why)
    _mark(echo, _PEER_ECHO)
    return echo


# how a rank's end was told, set on the exceptions (as _EVERY_RANK): recorded by record_how_training_ended, or the
# error peer_end_error made of an echo (whose cause's end was recorded). A caller and its callee can both tell the
# same end (train_run, and the CLI or replay_run around it) without a second record of it or an echo of the echo.
_END_RECORDED = "_wildgan_end_recorded"
_PEER_ECHO = "_wildgan_peer_echo"


def _mark(exc: BaseException, mark: str) -> None:
    try:
        setattr(exc, mark, True)
    except AttributeError:     # (an exception class with __slots__ and no __dict__: told again at worst)
        pass


class StartFailed(WildganError):
    """Raised by start_together on the ranks whose own start went well, when another rank's did not: an instance of
    that rank's error class too where it is one of errors.CARRIED_ERRORS, and every rank that failed had that one
    (errors.shared_kind: a DataError naming a file only that rank could not read is caught by `except DataError` on
    every rank, as in one process)."""


def _reduce_start_failed(self: StartFailed) -> tuple[Any, ...]:
    # pickle finds a class by its module and name, and the name "StartFailed" there is the plain class: it refused
    # these ("not the same object as ...StartFailed"), so a user's launcher that passes the error on between
    # processes (multiprocessing, concurrent.futures) got a PicklingError instead. Made again by its carried name.
    return _start_failed, (error_kind(self), str(self)), self.__dict__ or None


# StartFailed as each carried class too (StartFailed first: explain_failure still tells that this rank started well)
_START_FAILED_AS: dict[str, type[StartFailed]] = {
    name: type("StartFailed", (StartFailed, cls), {"__module__": __name__, "__doc__": StartFailed.__doc__,
                                                   "__reduce__": _reduce_start_failed})
    for name, cls in CARRIED_ERRORS.items()}


def _start_failed(kind: str | None, message: str) -> StartFailed:
    """StartFailed(message), of the carried class named `kind` too (the failed rank's error_kind) when it is one."""
    return _START_FAILED_AS.get(kind, StartFailed)(message) if kind is not None else StartFailed(message)


def start_together(ctx: DistContext, setup: Callable[[], _T], run_dir: Path,
                   log: Callable[[str], None] | None = None) -> _T:
    """Run this rank's `setup` (what each rank does alone before the ranks first work together: reading the data,
    checking the settings and the run folder), then agree with the other ranks on how it went, and stop every rank
    together when any failed.

    Without it a rank that failed alone here (data only it cannot read, a GPU smaller than the others') ended at once:
    torchrun then stopped rank 0 wherever it was, or rank 0 met the echo in its first collective and could only say
    that a peer stopped without a word; a refusal (ConfigError) could not be recorded, as it cannot be told from one
    every rank meets (e.g. the folder holds someone else's run). Here each rank learns every rank's error: when rank 0
    started and another rank did not, that rank's error is its own, and the folder is rank 0's to write in, so the
    rank records it there (record_failure: RUN/rank-R-error.txt and its line in log.txt) and rank 0's `stopped:` line
    in log.txt names it; when rank 0 failed too, each rank raises its own error and nothing is written (as one
    process refused). The ranks that started raise StartFailed naming the first that did not. Nothing is written
    where the folder does not exist yet. Every rank leaves the process group (shutdown) before it raises. Returns
    `setup()`'s result when every rank started. `log`: how rank 0 writes its `stopped:` line into log.txt (the CLI's
    run log, which writes the warnings it holds, those said while the data was read, before it); by default appended
    to RUN/log.txt."""

    def stopped(line: str) -> None:
        # (a log line that cannot be written, a full disk, must not replace the error that stopped the job: both ways
        # of writing it swallow an OSError)
        if log is not None:
            log(line)
        else:
            append_log_line(Path(run_dir) / "log.txt", line)

    try:
        result, error = setup(), None
    except Exception as e:     # (not Ctrl-C: torchrun stops every rank on it anyway)
        result, error = None, e
    if ctx.world <= 1:
        if error is not None:
            shutdown(together=False)          # as below: the caller stops here, its group freed now
            raise error
        return result  # type: ignore[return-value]
    said: list[Any] = [None] * ctx.world
    try:
        # (the class by name, beside its message: the other ranks rebuild it from errors.CARRIED_ERRORS alone)
        tdist.all_gather_object(said, None if error is None else (error_kind(error), _one_line(error)),
                                group=ctx.ctrl_group)
    except Exception as e:
        # a rank ended before it could say (killed while it read the data): told as in training, then own error first
        with stops_deferred():
            if ctx.is_main and error is None and Path(run_dir).is_dir():
                stopped(f"stopped: {explain_failure(Path(run_dir), ctx, e)}")
            elif error is None:
                record_no_answer(Path(run_dir), e, ctx)       # rank 0 hung while it started (a stalled disk)
        shutdown(together=False)
        if error is not None:
            raise error from None
        raise
    failed = [(rank, what) for rank, what in enumerate(said) if what is not None]
    if not failed:
        return result  # type: ignore[return-value]
    rank, (_, what) = failed[0]
    # of the failed ranks' class when they all had the same one, as sharded scoring's gather raises them
    stop = _start_failed(shared_kind(kind for _, (kind, _) in failed),
                         f"rank {rank} of {ctx.world} could not start{_and_others(len(failed))}: {what}")
    if said[0] is None:                        # (the same on every rank: all of them take this branch, or none)
        if error is not None:
            record_failure(Path(run_dir), error, ctx)
        ctx.barrier()                          # the records exist before rank 0 reads them
        if ctx.is_main and Path(run_dir).is_dir():
            stopped(f"stopped: {explain_failure(Path(run_dir), ctx, stop)}")
    shutdown(together=True)                    # every rank is here: none is left waiting, none closes too early
    if error is not None:
        raise error
    raise stop


def local_rows(n: int, world: int, rank: int, group: int = 4) -> torch.Tensor:
    """Rows of a global minibatch of n that rank `rank` processes, in the order that keeps minibatch-stddev groups
    identical to one process: global [G, M] (group member k of group m is row k*M + m) -> [G, world, M/world]."""
    g = min(group, n)
    if n % g or (n // g) % world:
        raise ConfigError(f"a minibatch of {n} cannot be split over {world} ranks with minibatch-stddev groups of "
                          f"{g}: the number of groups ({n // g}) must be a multiple of the number of ranks")
    return torch.arange(n).view(g, world, n // g // world)[:, rank].reshape(-1)


def check_batches(minibatch: dict[int, int], nc: NetConfig, world: int) -> None:
    """Refuse a minibatch table whose batches do not split evenly over `world` ranks (the split must keep the
    one-process batch exactly), as a ConfigError: a refusal every rank meets alike, asked before the run folder is
    written (training.run.check_the_settings, and `wildgan train --distributed` as its ranks start together)."""
    for res, b in minibatch.items():
        if res <= nc.resolution:
            if b < nc.mbstd_group:
                raise ConfigError(f"minibatch {b} at {res}x{res} is smaller than the minibatch-stddev group; "
                                  f"it cannot be split over {world} ranks")
            local_rows(b, world, 0, nc.mbstd_group)
