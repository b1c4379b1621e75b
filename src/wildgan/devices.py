"""Device selection, shared by training and scoring."""

from __future__ import annotations

import torch

from .config import as_typed
from .errors import ConfigError, WildganError

# the --device spellings wildgan documents (torch takes more, e.g. mps, which no part of wildgan is tested on)
DEVICE_SPELLINGS = "auto, cpu, cuda or cuda:N (N: a GPU's number, from 0)"


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' = CUDA when available, else CPU; asking for CUDA without one is a clear error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = check_device_name(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise WildganError(f"device {as_typed(name)} was requested but no CUDA device is available")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        # torch's own "invalid device ordinal" comes later, from deep inside the first kernel
        n = torch.cuda.device_count()
        raise WildganError(f"device {as_typed(name)} was requested but this machine has {n} CUDA "
                           f"device{'s' * (n != 1)} (cuda:0{f' to cuda:{n - 1}' if n > 1 else ''})")
    return dev


def check_device_name(name: str) -> torch.device:
    """The torch.device a --device value names; a ConfigError for a typo (torch's own message is a RuntimeError
    listing a dozen backends, and it came only once the run folder had been written)."""
    try:
        return torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        # said as typed (gpu, not Python's 'gpu'), with the spellings to use; "gpu" is the usual guess for a GPU
        gpu = " (a GPU is cuda)" if isinstance(name, str) and name.strip().lower().startswith("gpu") else ""
        raise ConfigError(f"device {as_typed(name)} is not a device{gpu}: use {DEVICE_SPELLINGS}") from None
