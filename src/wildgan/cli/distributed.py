"""train and score --distributed (torchrun): joining the job's process group, a setup the ranks agree on, freeing the
groups, and the errors of a rank that only echo another rank's end; the refusal of torchrun without
--distributed."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, Terminated, WildganError
from ..runlog import RunLog
from .common import warn


def warn_dist_timeout_alone(a: argparse.Namespace) -> None:
    """train / score --dist-timeout without --distributed: there are no ranks to wait for, and the value was taken
    silently, as if a one-process run honoured it."""
    if a.dist_timeout is not None and not a.distributed:
        warn("warning: --dist-timeout only matters with --distributed (how long its ranks wait for each other): "
             "ignored")


def distributed_context(a: argparse.Namespace) -> Any:
    """train / score --distributed: join torchrun's process group (RANK/WORLD_SIZE/LOCAL_RANK; NCCL or gloo) and
    return its context, None without --distributed. Only rank 0 shows progress bars."""
    if not a.distributed:
        return None
    from ..training.distributed import init_distributed

    ctx = init_distributed(a.device, timeout_min=a.dist_timeout)
    if not ctx.is_main:
        a.no_progress = True
    return ctx


def on_every_rank(ctx: Any, setup: Callable[[], Any], run_dir: Path, run_log: RunLog | None = None) -> Any:
    """setup(), through start_together under --distributed: the ranks agree on how it went, and a refusal frees the
    process group as a failed start does, rather than leaving it to the interpreter's exit, where gloo can abort the
    process. run_log: the run's log, which rank 0's `stopped:` line goes through (after the warnings it holds)."""
    if ctx is None:
        return setup()
    from ..training.distributed import start_together

    return start_together(ctx, setup, run_dir, log=None if run_log is None else run_log.write)


def shutdown_ranks(ctx: Any, together: bool = True) -> None:
    """Free a --distributed job's process groups now, not at interpreter exit (where gloo can abort the process)."""
    if ctx is not None:
        from ..training.distributed import shutdown

        shutdown(together=together)


def refuse_torchrun_without_distributed(a: argparse.Namespace) -> None:
    """Under torchrun (several ranks) without --distributed every rank would run the whole command: train's second
    rank was refused by the run lock with no word of --distributed, score's ranks each scored everything into the
    same CSV and chunk folder. Refused at once instead, on every rank: `train` and `score` name --distributed; the
    other commands that write (evaluate, study, report, export, demo) run in one process. `info` only prints."""
    if "WORLD_SIZE" not in os.environ or a.cmd == "info" or getattr(a, "distributed", False):
        return
    from ..training.distributed import torchrun_world

    rank, world = torchrun_world()
    if world <= 1:
        return
    where = (f"this process is rank {rank} of {world} started by torchrun (WORLD_SIZE={world}), but --distributed "
             f"was not given")
    if a.cmd in ("train", "score"):
        raise ConfigError(f"{where}: each of the {world} processes would {a.cmd} alone and write the same files. Add "
                          f"--distributed to share the work (torchrun --nproc_per_node={world} -m wildgan {a.cmd} "
                          f"{'RUN --data FILES ' if a.cmd == 'score' else ''}--distributed ...), or run it without "
                          f"torchrun")
    raise ConfigError(f"{where}, and `wildgan {a.cmd}` runs in one process (it has no --distributed): each of the "
                      f"{world} processes would run it alone and write the same files. Run it without torchrun")


def peer_failures_told(cmd: Callable[..., int]) -> Callable[..., int]:
    """Under --distributed, a rank's error that is only the echo of another rank's end (gloo's "Connection closed by
    peer", a collective that timed out, torchrun's SIGTERM) says so and where that rank's own error is: sharded
    scoring has no run folder to record it in, as training has (training.distributed.explain_failure)."""
    def run(a: argparse.Namespace, *args: Any) -> int:
        try:
            return cmd(a, *args)
        except (Exception, Terminated) as e:
            if not a.distributed:
                raise
            from ..training.distributed import DEFAULT_TIMEOUT_MIN, peer_failure, torchrun_world

            rank, world = torchrun_world()
            # (a SIGTERM raised while a failed collective was handled is torchrun's, after that peer's end: the echo;
            # one that came while this rank still waited in it is this rank's own stop, said as `terminated`)
            why = peer_failure(e, rank, 60 * (a.dist_timeout or DEFAULT_TIMEOUT_MIN))
            if why is not None:
                raise WildganError(why) from e
            if isinstance(e, Terminated) and world > 1:
                # a scheduler's stop, or torchrun's after another rank ended: which, this rank cannot tell (one
                # rank alone has no other to point to)
                raise Terminated(f"{e}: torchrun sends it to every rank when the job is stopped, and to the ranks "
                                 f"still running once one has ended; if another rank failed, its error is on the "
                                 f"terminal above, tagged with its rank, and torchrun's report names it") from e
            raise
    return run
