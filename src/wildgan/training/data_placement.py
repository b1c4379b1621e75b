"""Where a training loop keeps its uint8 training images, and how it draws minibatches from them.

Shared by the pGAN loop (loop.py, a resolution pyramid) and the f-AnoGAN loop (fanogan_loop.py, one level), so that
both decide the same way and read the same WILDGAN_DATA_ON_GPU. The images live on the training device when they fit
beside the networks, else in host memory, where each minibatch is gathered and copied over (host_gather). The
minibatch order is BatchSampler's either way, so where the images live never changes which images a step sees.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import torch

from ..errors import ConfigError, warn_user

Log = Callable[[str], None]


def pyramid_bytes(n: int, resolution: int, channels: int) -> int:
    """Bytes of build_pyramid's levels for n images: res^2 + (res/2)^2 + ... down to 4x4, uint8."""
    total, res = 0, resolution
    while res >= 4:
        total += n * channels * res * res
        res //= 2
    return total


def data_on_gpu_setting() -> str:
    """WILDGAN_DATA_ON_GPU: 'auto' (unset or empty), '1' or '0'; a ConfigError otherwise (train_run asks before it
    writes the run folder)."""
    raw = os.environ.get("WILDGAN_DATA_ON_GPU", "")
    setting = raw.strip().lower() or "auto"
    if setting not in ("auto", "1", "0"):
        raise ConfigError(f"WILDGAN_DATA_ON_GPU={raw!r}: use auto, 1 (the images on the GPU) or 0 (in host memory)")
    return setting


def gpu_free_bytes(device: torch.device) -> int:
    """Free memory of a CUDA device as this process can use it: the driver's free memory plus what torch's allocator
    holds cached but unused (a study's earlier cell left its pyramid there)."""
    free = torch.cuda.mem_get_info(device)[0]
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


def data_device(need: int, device: torch.device, free: int | None = None,
                setting: str | None = None) -> torch.device:
    """Where the training images (`need` bytes: a pGAN pyramid, or f-AnoGAN's one level) live: on a CUDA device when
    they take at most half of its free memory (`free`, default gpu_free_bytes; the rest is for the activations,
    which grow with the resolution, and the optimisers' state), else in host memory (each minibatch is gathered there
    and copied over by host_gather: slower, the same training up to a GPU's float noise). `setting` (default
    WILDGAN_DATA_ON_GPU) '1' / '0' forces either way."""
    setting = setting or data_on_gpu_setting()
    if device.type != "cuda" or setting == "1":
        return device
    if setting == "0":
        return torch.device("cpu")
    if free is None:
        free = gpu_free_bytes(device)
    return device if need <= free // 2 else torch.device("cpu")


def tell_host_placement(need: int, device: torch.device, setting: str, log: Log, what: str = "") -> None:
    """Say that the training images stay in host memory: a log line when WILDGAN_DATA_ON_GPU=0 asked for it, else a
    warning (the run is slower than the user may expect, and the way back is an environment variable they may not
    know). `what` describes the layout after the size (' as a uint8 pyramid')."""
    if setting == "0":
        log("WILDGAN_DATA_ON_GPU=0: the training images stay in host memory, each minibatch is copied over")
        return
    warn_user(f"the training images take {need / 2**30:.2f} GiB{what}, more than half of the "
              f"{gpu_free_bytes(device) / 2**30:.2f} GiB free on {device}: they stay in host memory and "
              f"each minibatch is copied over, which is slower (WILDGAN_DATA_ON_GPU=1 puts them on the GPU "
              f"anyway)")


def host_gather(images: torch.Tensor, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows `idx` of images held in host memory, on `device`. Gathered on the host so that only the minibatch crosses
    the bus; on CUDA through pinned memory, so that the copy does not block the host (the caching host allocator
    keeps the pinned block until the copy has completed)."""
    x = images.index_select(0, torch.from_numpy(idx))
    if device.type == "cuda":
        x = x.pin_memory()
    return x.to(device, non_blocking=True)


class BatchSampler:
    """Seeded shuffled order, one permutation per epoch (derived from (seed, epoch)), so resume needs two ints."""

    def __init__(self, n: int, seed: int, epoch: int = 0, pos: int = 0) -> None:
        self.n, self.seed, self.epoch, self.pos = n, seed, epoch, pos
        self._perm = self._make_perm()

    def _make_perm(self) -> np.ndarray:
        return np.random.default_rng([self.seed, 7919, self.epoch]).permutation(self.n)

    def _walk(self, b: int, current: Callable[[], Any]) -> list[Any]:
        """Slices of the current epoch's order (`current()`: the numpy or device copy) covering the next b images;
        a batch that crosses an epoch boundary continues in the next epoch's permutation."""
        out = []
        while b > 0:
            take = min(b, self.n - self.pos)
            out.append(current()[self.pos:self.pos + take])
            self.pos += take
            b -= take
            if self.pos == self.n:
                self.epoch, self.pos = self.epoch + 1, 0
                self._perm = self._make_perm()
        return out

    def next(self, b: int) -> np.ndarray:
        return np.concatenate(self._walk(b, lambda: self._perm))
