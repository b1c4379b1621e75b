"""A process run in a terminal of its own whose connection then drops (an ssh session closed without tmux or nohup):
shared by the hangup tests of one process (test_robust_training) and of a torchrun job (test_ddp_failures)."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time
from collections.abc import Callable


def own_terminal() -> None:
    """Popen's preexec_fn: the pty on fd 0 as the process's controlling terminal, as an ssh session's is, so that
    closing its other end hangs it up (the kernel sends SIGHUP to the session's leader)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def hang_up_when(master: int, proc: subprocess.Popen, ready: Callable[[], bool], limit_s: float = 120) -> None:
    """Read what the process shows on its terminal until ready() (or it ended, or limit_s passed), then close the
    terminal's other end `master`: the connection drops. Read, because a full terminal would block the process; and
    not by a thread blocked in read(), which would hold the terminal open past the close."""
    t0 = time.monotonic()
    try:
        while not ready() and proc.poll() is None and time.monotonic() - t0 < limit_s:
            while select.select([master], [], [], 0.02)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        os.close(master)
