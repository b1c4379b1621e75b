"""The signals' watch that cli.run starts for every command (cli.signals.StuckOutputs: a thread and a pipe of its own)
starts, ends and cleans up after itself: where its thread cannot start, the program gives up with every handler,
wakeup fd and stop listener put back; after it ends, a fork of the process keeps the child's files open; its own fds
are closed once, quietly. A script, a test suite or an application that runs several commands in one process
must find the process as it was before each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from wildgan.cli import signals

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")
posix_with_fork = pytest.mark.skipif(not hasattr(signal, "SIGHUP") or not hasattr(os, "register_at_fork"),
                                     reason="no POSIX signals or fork on this platform")


def test_close_quietly_closes_an_fd_and_ignores_one_closed_already() -> None:
    """The watches close their own ends of pipes on their way out with one helper, which closes the fd and takes
    one closed already (as in a fork's child) without an OSError."""
    read, write = os.pipe()
    signals._close_quietly(read)
    signals._close_quietly(read)                # (closed already, as in a fork's child: no OSError)
    os.close(write)
    try:
        os.fstat(read)
    except OSError:
        pass
    else:
        raise AssertionError(f"fd {read} is still open")


@posix_only
def test_a_signals_watch_that_cannot_start_leaves_no_handler_of_mains(monkeypatch) -> None:
    """A thread that cannot start (RuntimeError: can't start new thread, on a process at its thread limit) for the
    signals' watch: the error goes up out of cli.run, with main's SIGINT, SIGTERM and SIGHUP handlers, its wakeup fd,
    its stop listener and WILDGAN_DECODE_WORKERS all put back, since they are set in the try whose finally puts them
    back, not before it."""
    import sys
    import threading

    from wildgan import cli, errors

    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name == "wildgan-stop-wake":
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    monkeypatch.setattr(sys, "argv", ["wildgan", "info"])
    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in signums}
    fd_before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd_before)
    workers = os.environ.get("WILDGAN_DECODE_WORKERS")
    try:
        with pytest.raises(RuntimeError, match="can't start new thread"):
            cli.run()
        assert {s: signal.getsignal(s) for s in signums} == before
    finally:
        fd_after = signal.set_wakeup_fd(fd_before)
        for s, h in before.items():
            signal.signal(s, h)
    assert fd_after == fd_before
    assert errors._STOP_LISTENERS == [] and os.environ.get("WILDGAN_DECODE_WORKERS") == workers


# a program that runs StuckOutputs' watch as cli.run does for one command (start, close), waits for its thread to end,
# then opens a file of its own under the number the watch's pipe had and forks: the child says whether that file is
# still open in it
_FORK_AFTER_A_COMMAND = """
import os, threading
from wildgan.cli.signals import StuckOutputs

watch = StuckOutputs()
watch.start()
fd = watch.caught_fd
assert fd is not None, "no signals' watch on this platform"
watch.close()
for t in threading.enumerate():
    if t.name == "wildgan-stop-wake":
        t.join(5)
mine = os.open(os.devnull, os.O_RDONLY)
os.dup2(mine, fd)           # (the lowest free number, as the next os.pipe() or open() of the program gets it)
pid = os.fork()
if pid == 0:
    try:
        os.fstat(fd)
        os._exit(0)
    except OSError:
        os._exit(1)
_, status = os.waitpid(pid, 0)
print("open in the child" if os.waitstatus_to_exitcode(status) == 0 else "closed in the child")
"""


@posix_with_fork
def test_a_fork_after_the_command_keeps_the_childs_files_open() -> None:
    """StuckOutputs.start registers its `forked` with os.register_at_fork, which cannot be undone, and close() ends
    the watch (its thread closes the pipe's read end on its way out). Every os.fork() after a command of cli.run, in
    the same process (run called again, a script or a test suite that runs several commands, a fork in the teardown,
    which TeardownExit.forked provides for), runs that hook in the child; it must not close an unrelated file opened
    since under the watch's old fd number: multiprocessing's fork start method creates the child's pipes just before
    os.fork, at the lowest free numbers, so a worker would lose its own pipe to the parent. The hook checks that the
    pipe is still the watch's own, as TeardownExit.forked does (`wakeup is not None`)."""
    done = subprocess.run([sys.executable, "-c", _FORK_AFTER_A_COMMAND], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "open in the child"
