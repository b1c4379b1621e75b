"""Exceptions a user sees. The CLI prints their message (no traceback unless --debug) and exits non-zero."""

from __future__ import annotations


class WildganError(Exception):
    """Base class of every error wildgan raises on purpose."""


class DataError(WildganError):
    """Bad input data: the message names the file (or array) and the problem."""


class ConfigError(WildganError):
    """An option or config file value is invalid."""


class CheckpointError(WildganError):
    """A checkpoint is missing, truncated, corrupt, or not a wildgan checkpoint."""


class DivergenceError(WildganError):
    """Training produced NaN/inf in a loss or a weight."""


class TrainingInterrupted(WildganError):
    """Raised after SIGINT/SIGTERM, once a checkpoint has been saved. `signum`: the signal (the CLI exits with
    128 + signum, the shell's convention: 130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, message: str, signum: int | None = None) -> None:
        super().__init__(message)
        self.signum = signum
