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
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch
import torch.distributed as tdist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from ..config import NetConfig
from ..errors import WildganError

_CTX: "DistContext | None" = None
_BUCKET_BYTES = 64 * 2**20


@dataclass
class DistContext:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str
    ctrl_group: Any = field(default=None, repr=False)   # gloo group for CPU-side agreement (no device sync)

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
        t = torch.tensor([int(f) for f in flags], dtype=torch.int32)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX, group=self.ctrl_group)
        return tuple(bool(v) for v in t.tolist())

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


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group torchrun set up (env:// rendezvous). NCCL with one GPU per process when CUDA is used,
    gloo on CPU. Idempotent."""
    global _CTX
    if _CTX is not None:
        return _CTX
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        raise WildganError("--distributed must be launched by torchrun, e.g. torchrun --nproc_per_node=2 -m "
                           "wildgan train --distributed ... (or wildgan score RUN --data FILES --distributed ...)")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise WildganError("--device cuda was requested but no CUDA device is available")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev, backend = torch.device("cpu"), "gloo"
    if not tdist.is_initialized():
        tdist.init_process_group(backend=backend)
    ctrl = tdist.new_group(backend="gloo") if backend != "gloo" else None
    _CTX = DistContext(rank=rank, world=world, local_rank=local, device=dev, backend=backend, ctrl_group=ctrl)
    return _CTX


def shutdown(together: bool = True) -> None:
    """Leave the process group: every rank together (unless `together` is False: after an error, when a peer may
    never arrive and waiting would hang the job instead of letting torchrun stop it), then the groups' threads and sockets freed while the interpreter
    is still whole.

    Why: a rank that tore its gloo pairs down while its peer was still finishing the last collective, or a group
    object freed only at interpreter exit, can abort the peer ("terminate called without an active exception",
    SIGABRT) after a run that succeeded; torchrun then reports the whole job as failed. Seen once in CI in ~100 runs."""
    global _CTX
    if tdist.is_initialized():
        if together:
            ctrl = _CTX.ctrl_group if _CTX is not None else None
            try:
                tdist.barrier(group=ctrl)        # on the CPU group: no rank closes its sockets while a peer still talks
            except RuntimeError:                 # a peer already gone (DistBackendError): still free what we hold
                pass                             # (not Exception: a SIGTERM raised in the wait must go on up)
        tdist.destroy_process_group()
    _CTX = None
    gc.collect()                                 # free the C++ groups now, not during interpreter finalisation


def local_rows(n: int, world: int, rank: int, group: int = 4) -> torch.Tensor:
    """Rows of a global minibatch of n that rank `rank` processes, in the order that keeps minibatch-stddev groups
    identical to one process: global [G, M] (group member k of group m is row k*M + m) -> [G, world, M/world]."""
    g = min(group, n)
    if n % g or (n // g) % world:
        raise WildganError(f"a minibatch of {n} cannot be split over {world} ranks with minibatch-stddev groups of "
                           f"{g}: the number of groups ({n // g}) must be a multiple of the number of ranks")
    return torch.arange(n).view(g, world, n // g // world)[:, rank].reshape(-1)


def check_batches(minibatch: dict[int, int], nc: NetConfig, world: int) -> None:
    """Refuse a minibatch table whose batches do not split evenly over `world` ranks (the split must keep the
    one-process batch exactly)."""
    for res, b in minibatch.items():
        if res <= nc.resolution:
            if b < nc.mbstd_group:
                raise WildganError(f"minibatch {b} at {res}x{res} is smaller than the minibatch-stddev group; "
                                   f"it cannot be split over {world} ranks")
            local_rows(b, world, 0, nc.mbstd_group)
