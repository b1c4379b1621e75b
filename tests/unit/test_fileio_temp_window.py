"""The temp files of fileio's atomic writes between their creation and their rename: their mode, from the umask read
without setting it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import wildgan.fileio as fileio


def _proc_tells_the_umask() -> bool:
    try:
        return any(line.startswith("Umask:") for line in Path("/proc/self/status").read_text().splitlines())
    except OSError:
        return False


@pytest.mark.skipif(not _proc_tells_the_umask(), reason="needs Linux's /proc/self/status with a Umask line")
def test_a_write_reads_the_umask_without_setting_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # _write_temp read the umask with os.umask(0) and set it back: for that moment the process umask was 0, and a
    # file another thread created then was writable by every user
    old = os.umask(0o027)
    try:
        def never(mask: int) -> int:
            raise AssertionError(f"os.umask({mask:#o}) called: the process umask was changed for a moment")

        with monkeypatch.context() as m:
            m.setattr(os, "umask", never)
            fileio.atomic_write_bytes(tmp_path / "a.json", b"{}")
            assert fileio.umask() == 0o027
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
