"""fixJZ: the program's teardown leaves the signal handlers it cannot put back (set from C) and the ignored ones
alone, as main's own do (fixJT); and orphan checkpoint weights are removed under --keep-checkpoints all too."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")

# an application that embeds Python after setting its own C handlers for SIGINT, SIGTERM and SIGHUP (Python's
# signal.getsignal then says None for them), runs the Python code of argv[1], and then, after Py_FinalizeEx, raises
# each of the three: its handlers must still be the ones to take them (counted), not SIG_IGN or the default action
_EMBEDDING_APP = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
static volatile sig_atomic_t taken = 0;
static void app_handler(int sig) { (void)sig; taken++; }
int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = app_handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    Py_Initialize();
    int rc = PyRun_SimpleString(argv[1]);
    if (Py_FinalizeEx() < 0) rc = 1;
    fflush(stdout);
    taken = 0;
    raise(SIGINT);
    raise(SIGTERM);
    raise(SIGHUP);
    printf("after finalize: %d taken\n", (int)taken);
    return rc == 0 ? 0 : 1;
}
"""

# `wildgan` as a program (cli.run, which installs the teardown's handlers; bare: the commands' list, exit 2), then a
# SIGTERM, a SIGHUP and a Ctrl-C, which the application's own handlers must take (they only count)
_RUN_AFTER_C_HANDLERS = """
import io, os, signal, sys
import wildgan.cli as c
sys.argv = ["wildgan"]
sys.stderr = io.StringIO()
code = c.run()
sys.stderr = sys.__stderr__
print("run:", code, *(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    os.kill(os.getpid(), s)
print("alive")
"""


@posix_only
def test_the_teardown_leaves_handlers_set_from_c_to_the_application(tmp_path: Path) -> None:
    """TeardownExit.install set its own SIGTERM and SIGHUP handlers and SIG_IGN for SIGINT over handlers set from C
    (getsignal's None), which Python cannot put back: a SIGTERM after cli.run returned ended the embedding
    application with the command's exit code, and after Py_FinalizeEx its Ctrl-C stayed ignored and its SIGTERM and
    SIGHUP took the default action. main's own handlers leave those alone (fixJT); so does the teardown now."""
    cc = shutil.which("gcc") or shutil.which("cc")
    include, libdir, version = (sysconfig.get_config_var(k) for k in ("INCLUDEPY", "LIBDIR", "LDVERSION"))
    if cc is None or not sysconfig.get_config_var("Py_ENABLE_SHARED") or not sys.platform.startswith("linux"):
        pytest.skip("no C compiler or no shared libpython to embed")
    (tmp_path / "app.c").write_text(_EMBEDDING_APP)
    built = subprocess.run([cc, "-o", str(tmp_path / "app"), str(tmp_path / "app.c"), f"-I{include}", f"-L{libdir}",
                            f"-lpython{version}", f"-Wl,-rpath,{libdir}"], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"the embedding application did not build: {built.stderr[-300:]}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([str(tmp_path / "app"), _RUN_AFTER_C_HANDLERS], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    said = [line for line in done.stdout.splitlines() if line.startswith(("run:", "alive", "after finalize:"))]
    assert said == ["run: 2 None None None", "alive", "after finalize: 3 taken"], done.stdout     # (not the usage)


# install's handlers recorded where SIGINT, SIGTERM and SIGHUP were all ignored by whoever started the program
_INSTALL_WITH_ALL_IGNORED = """
import signal
from wildgan.cli.signals import TeardownExit
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
set_ = []
real = signal.signal
signal.signal = lambda s, h: (set_.append(signal.Signals(s).name), real(s, h))[1]
t = TeardownExit()
t.install(signal.SIG_IGN, False, None)
signal.signal = real
t.abandon()
print(set_, t.replaced, t.wakeup, *(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
"""


@posix_only
def test_the_teardown_leaves_ignored_signals_as_they_are() -> None:
    """An ignored SIGINT, SIGTERM or SIGHUP (nohup's, `trap '' TERM INT`) is the caller's: install sets nothing over
    it and records nothing to put back (it set SIG_IGN over SIG_IGN and kept it to put back in abandon), as on_sigterm
    and on_sighup leave it; with none handled, no watcher is started."""
    done = subprocess.run([sys.executable, "-c", _INSTALL_WITH_ALL_IGNORED], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] {} None 1 1 1", done.stdout
