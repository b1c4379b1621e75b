"""Optional TensorBoard logging next to stats.jsonl (stats.jsonl stays the source of truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError


def require_tensorboard() -> Any:
    """torch's SummaryWriter class; a ConfigError when the tensorboard package is missing. train_run asks before it
    writes anything, so that the refusal does not leave a started run folder behind."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install tensorboard "
                          "(or pip install 'wildgan[tensorboard]'), or train without it (--no-tensorboard on a "
                          "--resume of a run recorded with it)") from None
    return SummaryWriter


class TensorBoardLog:
    """Scalars from each stats row (x axis: kimg) and the generated-sample grids; a no-op when disabled."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.writer = None
        if not enabled:
            return
        SummaryWriter = require_tensorboard()
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def scalars(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = int(round(row["kimg"] * 1000))
        for k, v in row.items():
            if k not in ("time", "kimg") and isinstance(v, (int, float)):
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
