"""Reading a child's pipe up to a marker within a time limit, for the tests that stop a command blocked on a full
pipe (test_cli's full-pipe tests, test_sigterm_on_full_output_pipe): a thread reads, so that a child that never says
it cannot hang the test, and the failure shows what did come. The environment of a child whose output into a pipe is
buffered as a user's is (buffered_env), for those and the tests of a pipe closed early (test_cli,
test_cli_streams_and_teardown)."""

from __future__ import annotations

import os
import subprocess
import threading
import time


def buffered_env(**more: str) -> dict[str, str]:
    """os.environ, with `more`, for a child Python whose stdout into a pipe is block-buffered, as Python's is by
    default: without PYTHONUNBUFFERED, which a CI or an IDE's shell may set (where it was set, what a buffer held at
    the end did went unseen)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update(more)
    return env


def read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    """What the pipe `fd` holds up to and with `wanted`, read within `seconds` (else what came, for the failure)."""
    got = bytearray()

    def read() -> None:
        while wanted not in got:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            got.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert wanted in got, f"no {wanted!r} within {seconds} s: {bytes(got)[-2000:]!r}"
    return bytes(got)


# a command run by the program (cli.run) whose stdout is a pipe filled to the brim that nobody reads (its stderr that
# same pipe where the test joins them, `2>&1 |`): it says "running" on the fd `ready` once the pipe is full, then
# goes on writing ("writes"), or fails ("fails": its error line, said once the outcome is decided, blocks on the full
# pipe; the "running" comes as main says it). before_writes / before_fails run first in each (a line of Python).
_FULL_PIPE = ("import os, signal, sys, threading, time, wildgan.cli as c\n"
              "from wildgan.errors import WildganError\n"
              "def fill():\n"
              "    os.set_blocking(1, False)\n"
              "    try:\n"
              "        while True:\n            os.write(1, b'x' * 4096)\n"
              "    except BlockingIOError:\n        pass\n"
              "    os.set_blocking(1, True)\n"
              "def ready():\n    os.write({ready}, b'running\\n')\n"
              "def writes(a):\n"
              "    {before_writes}\n"
              "    fill()\n    ready()\n"
              "    while True:\n        sys.stdout.buffer.write(b'a line of output\\n')\n"
              "def fails(a):\n    {before_fails}\n    fill()\n    raise WildganError('stopped')\n"
              "real = c.say_end\n"
              "def said(line):\n    ready()\n    real(line)\n"
              "c.cmd_info = {command}\n"
              "if {command!r} == 'fails':\n    c.say_end = said\n"
              "sys.argv = ['wildgan', 'info']\n"
              "raise SystemExit(c.run())\n")


def full_pipe_program(ready: int, command: str, before_writes: str = "pass", before_fails: str = "pass",
                      stuck_s: float | None = None) -> str:
    """The Python source (for `python -c`) of _FULL_PIPE's `command`, "writes" or "fails", saying "running" on the
    fd `ready`. stuck_s: the seconds that the signals' watch gives a blocked output before it lets it go
    (cli.signals._STUCK_S; its bound on the whole way out, _WAY_OUT_S, stays the real 7 s, past it as in the module),
    for a test of the way out whose every run would otherwise wait the real 5 s for a reader that never comes; None:
    the real one (the tests of that bound)."""
    program = _FULL_PIPE.format(ready=ready, command=command, before_writes=before_writes, before_fails=before_fails)
    if stuck_s is None:
        return program
    return f"import wildgan.cli.signals as _signals\n_signals._STUCK_S = {stuck_s!r}\n" + program


def blocked_in_a_pipe_write(proc: "subprocess.Popen[bytes] | subprocess.Popen[str]", seconds: float = 30,
                            fallback_s: float = 0.5) -> None:
    """Wait until `proc` sleeps in a write to a pipe (Linux: its /proc wchan, pipe_write or anon_pipe_write), for a
    signal meant to meet that blocked write. A child that says it is ready just before the write is not there yet:
    a signal that lands between its call into write and the system call (a few microseconds, but a preempted child
    on a loaded machine sits there for milliseconds) is taken by Python's C handler before the call blocks, and the
    blocked call, never interrupted, does not run the Python handler: the child hangs on its first SIGTERM, a failure
    of the test's timing, not of the way out it checks. Where the kernel does not say (no /proc), `fallback_s`
    seconds for the child to reach its write; where it says nothing of a pipe within `seconds`, the caller's signal
    is sent all the same, for the test to judge what follows."""
    wchan = f"/proc/{proc.pid}/wchan"
    if not os.path.exists(wchan):
        time.sleep(fallback_s)
        return
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < seconds:
        try:
            with open(wchan) as f:
                if "pipe_write" in f.read():
                    return
        except OSError:         # (the child gone meanwhile: what follows says how it ended)
            return
        time.sleep(0.01)
