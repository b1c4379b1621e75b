"""`kill PID` (SIGTERM) of a command whose stdout or stderr is a pipe that its reader stopped reading (the signals'
watch, cli.signals.StuckOutputs): the command still stops, with its line and exit code, even where its write blocked
on the full pipe and no signal cut that write; and a reader that is only slow, pausing a few seconds, still gets every
line, the stop's among them. A user who pipes `wildgan` into a pager or a slow consumer must be able to stop it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipe_reading import blocked_in_a_pipe_write, buffered_env, full_pipe_program, read_until

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP") or not os.path.isdir("/proc/self"),
                                reason="no POSIX signals, pipes that fill or /proc on this platform")


# an LD_PRELOAD shim: a write to stdout or stderr that would block (a full pipe) first spends half a second in user
# space, as a process preempted on a loaded machine may between its call into write and the system call: a SIGTERM
# that lands there is taken by Python's C-level handler before the call blocks, and the blocked call never sees it
_SLOW_WRITE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
ssize_t write(int fd, const void *buf, size_t n) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fd == 1 || fd == 2) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 0) == 0) {
            struct timespec t0, t;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            do clock_gettime(CLOCK_MONOTONIC, &t);
            while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 500000000L);
        }
    }
    return real(fd, buf, n);
}
"""


@pytest.fixture(scope="module")
def slow_write(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shim of _SLOW_WRITE built (skipped where no C compiler, or a dynamic loader without LD_PRELOAD)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None or not sys.platform.startswith("linux"):
        pytest.skip("no C compiler, or not Linux's LD_PRELOAD")
    where = tmp_path_factory.mktemp("shim")
    (where / "slowwrite.c").write_text(_SLOW_WRITE)
    built = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(where / "slowwrite.so"),
                            str(where / "slowwrite.c"), "-ldl"], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"the shim does not build: {built.stderr[-500:]}")
    return str(where / "slowwrite.so")


def _ended_within(proc: subprocess.Popen, seconds: float) -> bool:
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < seconds:
        time.sleep(0.05)
    return proc.poll() is not None


def _stopped_on_a_full_pipe(command: str, joined: bool, code: int, env: dict[str, str], before: str = "pass",
                            after_ready: float = 0.0) -> None:
    """pipe_reading.full_pipe_program's `command` started under `env`, one SIGTERM sent `after_ready` seconds after
    it says it is ready: it ends within seconds with `code`, its stop said on stderr where that is a pipe of its
    own."""
    ready_r, ready_w = os.pipe()
    # (the watch lets the full pipe go after 1 s, not 5: what these tests check is that the stop gets there at all;
    # test_cli's full-pipe tests and the pausing reader's below keep the real 5 s and its bound)
    program = full_pipe_program(ready_w, command, before_writes=before, before_fails=before, stuck_s=1.0)
    proc = subprocess.Popen([sys.executable, "-c", program],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if joined else subprocess.PIPE,
                            env=env, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        read_until(ready_r, b"running\n", 60)
        time.sleep(after_ready)
        proc.send_signal(signal.SIGTERM)
        assert _ended_within(proc, 15), f"one SIGTERM did not end {command} (stdout a full pipe, joined={joined})"
        assert proc.returncode == code, proc.returncode
        if not joined:
            assert proc.stderr is not None and proc.stderr.read().decode() == "wildgan: terminated by SIGTERM\n"
    finally:
        os.close(ready_r)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_CASES = [("writes", False, 143), ("writes", True, 143), ("fails", True, 2)]


@pytest.mark.parametrize("command, joined, code", _CASES)
def test_a_sigterm_that_lands_just_before_a_write_blocks_still_stops_the_command(slow_write: str, command: str,
                                                                                 joined: bool, code: int) -> None:
    """`kill PID` of a command whose output's reader stopped reading: a SIGTERM that lands after the command's write
    to the full pipe has begun but before the system call blocks is only noted by Python's C-level handler, and the
    blocked write, which no signal cuts, never lets the Python handler run. The signals' watch wakes the main thread
    from that write (StuckOutputs.caught), so the command stops with its line and exit code instead of hanging until
    a SIGKILL."""
    # (a quarter second into the shim's half second before the blocked write)
    _stopped_on_a_full_pipe(command, joined, code, buffered_env(LD_PRELOAD=slow_write), after_ready=0.25)


@pytest.mark.parametrize("command, joined, code", _CASES)
def test_a_sigterm_taken_by_another_thread_still_stops_a_command_blocked_in_a_write(command: str, joined: bool,
                                                                                    code: int) -> None:
    """The same without a C compiler: the SIGTERM is taken by another thread of the process (here the main thread
    blocks it), whose C-level handler notes it, while the main thread's write stays blocked on the full pipe."""
    before = ("threading.Thread(target=time.sleep, args=(60,), daemon=True).start(); "
              "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})")
    _stopped_on_a_full_pipe(command, joined, code, buffered_env(), before=before)


def test_the_signals_watch_leaves_a_normal_run_as_it_was(tmp_path: Path) -> None:
    """The watch runs through every command of the program: a command that is not stopped says what it says, and
    ends with its code, its wakeup fd and wake-up's handler put back before the teardown's own."""
    prog = ("import signal, sys, wildgan.cli as c\n"
            "def says(a):\n    print('hello')\n"
            "    fd = signal.set_wakeup_fd(-1)\n    signal.set_wakeup_fd(fd)\n"
            "    print(fd >= 0, signal.getsignal(signal.SIGURG) is not signal.SIG_DFL)\n"
            "    return 3\n"
            "c.cmd_info = says\n"
            "sys.argv = ['wildgan', 'info']\n"
            "code = c.run()\n"
            "print(signal.getsignal(signal.SIGURG) is signal.SIG_DFL)\n"
            "raise SystemExit(code)\n")
    done = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=buffered_env(), timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (3, "hello\nTrue True\nTrue\n", "")


# a command run by the program (cli.run) that writes numbered lines to stdout until a signal stops it, then leaves
# the number of the last line its stdout took in the file `last`
_NUMBERED = ("import os, sys, wildgan.cli as c\n"
             "def writes(a):\n"
             "    os.write({ready}, b'running\\n')\n"
             "    took = 0\n"
             "    try:\n"
             "        while True:\n"
             "            sys.stdout.buffer.write(b'line %d\\n' % (took + 1))\n"
             "            took += 1\n"
             "    finally:\n"
             "        with open({last!r}, 'w') as f:\n            f.write(str(took))\n"
             "c.cmd_info = writes\n"
             "sys.argv = ['wildgan', 'info']\n"
             "raise SystemExit(c.run())\n")


@pytest.mark.parametrize("joined", [True, False])
@pytest.mark.parametrize("pause", [3.5, None])
def test_a_reader_that_pauses_for_seconds_after_a_sigterm_gets_the_commands_last_lines(tmp_path: Path, joined: bool,
                                                                                      pause: float | None) -> None:
    """`wildgan ... 2>&1 | (sleep 3; cat)`, a SIGTERM while the reader pauses with the pipe full: the output is not
    let go after a stop as soon as no write could go into it for a moment (2 s would lose both the stop's line and
    what stdout still held), so a reader that resumes within a few seconds gets every line, the stop's among them;
    one that never reads (`pause` None: read only once the process is gone) still cannot hold the process, and what
    it is left is the lines in order."""
    last = tmp_path / "last"
    ready_r, ready_w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", _NUMBERED.format(ready=ready_w, last=str(last))],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if joined else subprocess.PIPE,
                            env=buffered_env(), pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        read_until(ready_r, b"running\n", 60)
        blocked_in_a_pipe_write(proc)
        proc.send_signal(signal.SIGTERM)
        if pause is None:
            assert _ended_within(proc, 15), "a reader that never reads held the process after a SIGTERM"
        else:
            time.sleep(pause)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        assert _ended_within(proc, 15) and proc.returncode == 143, proc.returncode
        err = out if joined else proc.stderr.read().decode()     # type: ignore[union-attr]
    finally:
        os.close(ready_r)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [line for line in out.splitlines() if line != "wildgan: terminated by SIGTERM"]
    took = int(last.read_text())
    if pause is None:       # (what the pipe held when it was let go: the first lines, whole and in order)
        assert lines == [f"line {i}" for i in range(1, len(lines) + 1)] and len(lines) <= took, (took, lines[-3:])
        if not joined:
            assert err == "wildgan: terminated by SIGTERM\n", err
        return
    assert "wildgan: terminated by SIGTERM\n" in err, err[-300:]
    assert lines == [f"line {i}" for i in range(1, took + 1)], (took, lines[-3:])
