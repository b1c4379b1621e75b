"""Device selection, shared by training and scoring."""

from __future__ import annotations

import torch

from .errors import WildganError


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' = CUDA when available, else CPU; asking for CUDA without one is a clear error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WildganError(f"device {name!r} was requested but no CUDA device is available")
    return torch.device(name)
