"""The temp files a writer killed outright leaves behind (a kill runs no clean-up), named as fileio's atomic writes
name them, for the tests of their removal by the next evaluation (test_evaluation_files_written_together) and of
their report by `wildgan info RUN` (test_info_leftover_files)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable


def temps_left_by_a_kill(folder: Path, names: Iterable[str], content: bytes = b"half") -> list[Path]:
    """For each output name, a temp file ".NAME.XXXXXXXX.tmp" (mkstemp's letters, as atomic_write_files makes them)
    holding `content`, in `folder` (made where missing); sorted."""
    folder.mkdir(parents=True, exist_ok=True)
    left = []
    for name in names:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        os.write(fd, content)
        os.close(fd)
        left.append(Path(tmp))
    return sorted(left)
