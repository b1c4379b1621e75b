"""The temp files a writer killed outright leaves behind (a kill runs no clean-up), named as fileio's atomic writes
name them, for the tests of their removal by the next evaluation (test_evaluation_files_written_together) or a resume
(test_resume_removes_write_temps) and of their report by `wildgan info RUN` (test_info_leftover_files,
test_info_leftover_write_temps): made as such a writer names them (temps_left_by_a_kill), or by a real writer in the
middle of its write (writing_now), killed there (killed_mid_write); and the start of a program killed once a
JSON file's temp file is written (KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN: test_checkpoint_killed_save,
test_detector_save_temps)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator


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


# a writer of argv[1] (fileio.atomic_write_stream), stopped half way through its temp file: it writes half, says so by
# making the file argv[2], and waits for its kill; argv[3] == "shared": inside data.run_temps.writing_shared_files, as
# the writers of the training scores' cache and the records beside it write
_MID_WRITE = """
import sys, time
from contextlib import nullcontext
from pathlib import Path
from wildgan.fileio import atomic_write_stream
target, ready, shared = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "shared"
if shared:
    from wildgan.data.run_temps import writing_shared_files

def half_then_wait(f):
    f.write(b"half")
    f.flush()
    ready.write_text("")
    time.sleep(120)

with writing_shared_files(target.parent) if shared else nullcontext():
    atomic_write_stream(half_then_wait, target)
"""


@contextmanager
def writing_now(target: Path, *, shared: bool = False) -> Iterator[Path]:
    """A process in the middle of an atomic write of `target` for the block (its temp file half written; shared: it
    holds the folder as data.run_temps.writing_shared_files does); yields its temp file. The process is killed
    (SIGKILL, which runs no clean-up) when the block ends, so its temp file stays, as a kill between the temp file
    and the rename leaves it."""
    import signal
    import subprocess
    import sys
    import time

    from wildgan.fileio import temp_files

    target = Path(target)
    before = set(temp_files(target.parent, [target.name]))
    ready = Path(tempfile.mkdtemp()) / "ready"
    child = subprocess.Popen([sys.executable, "-c", _MID_WRITE, str(target), str(ready),
                              "shared" if shared else "alone"])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the writer ended before writing"
            time.sleep(0.02)
        new = [p for p in temp_files(target.parent, [target.name]) if p not in before]
        assert len(new) == 1, new
        yield new[0]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        ready.unlink(missing_ok=True)
        ready.parent.rmdir()


def killed_mid_write(target: Path) -> Path:
    """The temp file a process killed outright in the middle of an atomic write of `target` left (writing_now)."""
    with writing_now(target) as tmp:
        pass
    assert tmp.is_file()
    return tmp


# the start of a `python -c` program whose process is killed (os._exit(9): no clean-up runs, as under SIGKILL) once
# fileio has written and synced the temp file of a JSON file, before that file's rename: what a kill of a checkpoint's
# save (save_checkpoint, det.save) leaves. The program's own lines (the save to kill) follow it; exit status 9 says
# that the kill came where meant, not that the program failed before.
KILLED_ONCE_THE_JSON_TEMP_IS_WRITTEN = """
import os, sys
from pathlib import Path
import wildgan.fileio as fileio

real = fileio._write_temp

def then_killed(write, path, *rest):
    tmp = real(write, path, *rest)
    if Path(path).suffix == ".json":
        os._exit(9)
    return tmp

fileio._write_temp = then_killed
"""
