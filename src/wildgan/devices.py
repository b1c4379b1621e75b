"""Device selection, shared by training and scoring."""

from __future__ import annotations

import torch

from .errors import ConfigError, WildganError


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' = CUDA when available, else CPU; asking for CUDA without one is a clear error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = check_device_name(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise WildganError(f"device {name!r} was requested but no CUDA device is available")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        # torch's own "invalid device ordinal" comes later, from deep inside the first kernel
        n = torch.cuda.device_count()
        raise WildganError(f"device {name!r} was requested but this machine has {n} CUDA device{'s' * (n != 1)} "
                           f"(cuda:0{f' to cuda:{n - 1}' if n > 1 else ''})")
    return dev


def check_device_name(name: str) -> torch.device:
    """The torch.device a --device value names; a ConfigError for a typo (torch's own message is a RuntimeError
    listing a dozen backends, and it came only once the run folder had been written)."""
    try:
        return torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device {name!r} is not a device: use auto, cpu, cuda or cuda:N") from None
