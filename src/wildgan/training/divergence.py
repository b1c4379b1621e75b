"""--on-divergence, shared by the pGAN loop (loop.py) and the f-AnoGAN loop (fanogan_loop.py): whether a divergence
(NaN/inf in a loss or a weight) stops the run or rolls it back, the checkpoint it rolls back to, and the halved
learning rate it trains on with. Each loop restores its own state from that checkpoint and drops its own stats rows
(their checkpoints and rows differ), so that one rule decides for both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from .. import checkpoint as ckpt
from ..errors import CheckpointError, DivergenceError, option_words

MAX_ROLLBACKS = 3     # --on-divergence rollback: divergences survived per run before it stops


def rollback_checkpoint(what: str, ck_dir: Path, *, on_divergence: str, rollbacks: int, lr: float, kind: str,
                        lower_lr: str, interval: str, log: Callable[[str], None]
                        ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The newest good checkpoint in `ck_dir` to roll back to, or DivergenceError: on_divergence 'stop', the
    rollbacks used up, or nothing to go back to.

    `what`: what diverged and where; `rollbacks`: those done so far in the run; `lr`: the learning rate that
    diverged; `kind`: the checkpoint kind the loop writes. `lower_lr` names the setting that lowers the lr and
    `interval` the run's checkpoint interval, for the advice of the error. The ways on are named in the words of the
    call in progress (errors.option_words): the CLI's options during a command, train_run's keyword arguments and
    RunConfig's fields for a Python caller (`lower_lr` and `interval` come so from the loops)."""
    if on_divergence != "rollback" or rollbacks >= MAX_ROLLBACKS:
        rollback = option_words("--on-divergence rollback", "train.on_divergence='rollback'")
        if ckpt.list_checkpoints(ck_dir):
            # the lr is part of what a resume keeps: a lower one means a new run
            advice = (f"it diverged again after {rollbacks} rollbacks, each with half the lr (now {lr:g}): start "
                      f"again with a lower {lower_lr} ({option_words('--overwrite', 'overwrite=True')}, or "
                      f"{option_words('another --out', 'another run_dir')})"
                      if on_divergence == "rollback" else
                      f"continue with {option_words('--resume', 'resume=True and')} {rollback} (back to it with "
                      f"half the lr), or start again with a lower {lower_lr}")
            raise DivergenceError(f"training diverged: {what}. The last good checkpoint in {ck_dir} was kept; "
                                  f"{advice}", what=what, lr_setting=lower_lr)
        raise DivergenceError(f"training diverged: {what}. No checkpoint was written before it ({interval}), so "
                              f"there is nothing to resume or roll back to; try a lower {lower_lr}, and a smaller "
                              f"{option_words('--checkpoint-kimg', 'train.checkpoint_kimg')} with {rollback}",
                              what=what, lr_setting=lower_lr)
    try:
        # report only: every rank of a distributed run reads the folder here, and one renaming a file under the
        # others' reads would make them disagree on where they roll back to
        found = ckpt.latest_good_checkpoint(ck_dir, log=log, set_aside_bad=False, kind=kind)
    except CheckpointError as e:
        # (e.g. a checkpoint of another kind of run in the folder, or none that loads): its reason, not only ours
        raise DivergenceError(f"training diverged: {what}, and there is no good checkpoint to roll back to ({e})",
                              what=what, lr_setting=lower_lr) from None
    if found is None:
        raise DivergenceError(f"training diverged: {what}, and there is no good checkpoint to roll back to",
                              what=what, lr_setting=lower_lr)
    return found


def halve_lr(opts: Iterable[torch.optim.Optimizer], restored: float, diverged: float) -> float:
    """Set and return the lr a rollback trains on with: half the lr that diverged, not half the checkpoint's. A second
    rollback to the same checkpoint (written before the first) would otherwise retry the same halved lr, and diverge
    the same way, until the rollbacks ran out."""
    lr = min(restored, diverged) * 0.5
    for opt in opts:
        for g in opt.param_groups:
            g["lr"] = lr
    return lr
