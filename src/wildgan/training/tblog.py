"""Optional TensorBoard logging next to stats.jsonl (stats.jsonl stays the source of truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, option_words


def require_tensorboard() -> Any:
    """torch's SummaryWriter class; a ConfigError when the tensorboard package is missing. train_run asks before it
    writes anything, so that the refusal does not leave a started run folder behind."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(option_words(
            "--tensorboard needs the tensorboard package: pip install tensorboard (or pip install "
            "'wildgan[tensorboard]'), or train without it (--no-tensorboard on a --resume of a run recorded with it)",
            "train.tensorboard=True needs the tensorboard package: pip install tensorboard (or pip install "
            "'wildgan[tensorboard]'), or train with train.tensorboard=False (also on a resume of a run recorded with "
            "it)")) from None
    return SummaryWriter


class TensorBoardLog:
    """Scalars from each stats row and the generated-sample grids, both at step nimg (kimg * 1000); a no-op when
    disabled.

    Like stats.jsonl, the log keeps no steps after the checkpoint that training goes on from: events are never
    deleted from a file, so those of the stretch trained again (after a --resume, or a rollback) are hidden instead,
    by a SessionLog.START event at the checkpoint's step + 1. TensorBoard drops every event it has read with a step
    at or above a START's (events at the checkpoint's own step, its stats row and sample grid, are kept, as in
    stats.jsonl); without it, it would draw both histories of that stretch, one over the other."""

    def __init__(self, run_dir: Path, enabled: bool, resume_nimg: int | None = None) -> None:
        """`resume_nimg`: the image count of the checkpoint a --resume continues from (None: a new run)."""
        self.writer = None
        if not enabled:
            return
        SummaryWriter = require_tensorboard()
        # (a new event file, written after the stopped session's: it sorts after them, as TensorBoard reads them)
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"),
                                    purge_step=None if resume_nimg is None else resume_nimg + 1)

    def restart_at(self, nimg: int) -> None:
        """Hide the events after step `nimg` (a rollback to the checkpoint of `nimg` images trains them again)."""
        if self.writer is None:
            return
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        # into the open event file rather than a new writer's (purge_step): files of one process opened within the
        # same second sort by a counter written as text ("10" before "9"), so a new file could be read first
        self.writer.file_writer.add_event(Event(step=nimg + 1, session_log=SessionLog(status=SessionLog.START)))
        self.writer.flush()

    def scalars(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = int(round(row["kimg"] * 1000))
        for k, v in row.items():
            # (world_size: the processes that trained, a record like dist_backend, not a curve)
            if k not in ("time", "kimg", "world_size") and isinstance(v, (int, float)):
                self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def image(self, png: Path, nimg: int) -> None:
        if self.writer is None or not Path(png).is_file():
            return
        from PIL import Image

        arr = np.asarray(Image.open(png).convert("RGB"))
        self.writer.add_image("samples/Gs", arr, nimg, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
