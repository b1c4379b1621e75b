"""os.fsync as it behaves on Windows, for the tests of the writers that sync a file written by a library that opens
it by name (safetensors' save_file, torch.onnx.export: checkpoint.save_checkpoint, fileio.atomic_write_by_name) and
so reopen it only to sync it: there os.fsync is _commit, i.e. FlushFileBuffers, which needs a handle with write access
and fails on one opened read-only (EBADF), where POSIX syncs through any descriptor of the file."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import Any

import pytest


def fsync_as_on_windows(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make os.fsync refuse, as Windows does, a descriptor opened read-only (a folder's included: fileio's folder
    syncs pass over a refusal, as they pass over Windows' refusal to open a folder); returns the list that each
    refusal appends what it refused to: "folder" or "file"."""
    real = os.fsync
    refused: list[str] = []

    def fsync(fd: Any) -> None:
        fd = fd if isinstance(fd, int) else fd.fileno()
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            refused.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return refused
