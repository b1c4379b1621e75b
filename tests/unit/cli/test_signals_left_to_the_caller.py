"""Signals the caller owns are left to it, by main, training's loops, a commit's stops_deferred and the program's
teardown (cli.signals.TeardownExit): a signal ignored by whoever started the program (nohup's SIGHUP, a script's
background job's SIGINT, `trap '' TERM`) stays ignored and stops nothing; a handler that an application embedding
Python set from C (signal.getsignal's None, which Python cannot put back) is never replaced, so the application still
takes its own SIGINT, SIGTERM and SIGHUP after a command or a training, even after Py_FinalizeEx."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_train_commands import train_tiny, train_tiny_with_a_periodic_checkpoint

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")
posix_with_fork = pytest.mark.skipif(not hasattr(signal, "SIGHUP") or not hasattr(os, "register_at_fork"),
                                     reason="no POSIX signals or fork on this platform")


# Signals ignored by the launcher

@posix_only
def test_a_sigterm_ignored_by_the_launcher_stays_ignored_in_training(tiny_npz: Path, tmp_path: Path, monkeypatch,
                                                                     capsys) -> None:
    """Any signal the launcher ignored stays ignored, SIGTERM included: training's install_signals finds SIG_IGN
    (main's on_sigterm sets nothing over an ignored SIGTERM), so a SIGTERM in training does not stop it; the training
    completes, and main leaves SIGTERM ignored as it found it."""
    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    seen: list[object] = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        name = Path(str(path)).name
        if name.startswith("ckpt-") and name.endswith(".json") and not seen:
            seen.append(signal.getsignal(signal.SIGTERM))
            signal.raise_signal(signal.SIGTERM)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        got = train_tiny(tiny_npz, tmp_path / "run")
        after = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
    err = capsys.readouterr().err
    assert seen == [signal.SIG_IGN], seen
    assert got == 0 and (tmp_path / "run" / "network-final.json").is_file(), (got, err)
    assert after is signal.SIG_IGN


@posix_with_fork
def test_a_sigint_ignored_by_the_launcher_stays_ignored_in_training(tiny_npz: Path, tmp_path: Path, monkeypatch,
                                                                     capsys) -> None:
    """POSIX shells start a non-interactive script's background commands (`wildgan train ... &` in a script) with
    SIGINT ignored, so that a Ctrl-C at the terminal, which reaches the script's whole process group, does not stop
    them; Python keeps such a SIGINT ignored (no KeyboardInterrupt handler), and so do the CLI's teardown, the decode
    pool and distributed.stops_deferred ('A signal that is ignored (SIG_IGN: nohup's SIGINT, a background job's) is
    left so'). The training loops' install_signals leave it too, so that Ctrl-C does not stop every background
    training of the script as `interrupted by SIGINT (Ctrl-C)`, exit 130: the training completes."""
    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    sent = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        name = Path(str(path)).name
        if name.startswith("ckpt-") and name.endswith(".json") and not sent:
            sent.append(signal.getsignal(signal.SIGINT))
            signal.raise_signal(signal.SIGINT)      # the terminal's Ctrl-C, meant for the script's foreground
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)      # (as the shell started the background command)
    try:
        got = train_tiny_with_a_periodic_checkpoint(tiny_npz, tmp_path / "run")
    finally:
        signal.signal(signal.SIGINT, before)
    err = capsys.readouterr().err
    assert sent, "no checkpoint was written"
    assert sent[0] is signal.SIG_IGN, f"SIGINT's handler in the loop: {sent[0]!r}"
    assert got == 0 and (tmp_path / "run" / "network-final.json").is_file(), (got, err)


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
    """An ignored SIGINT, SIGTERM or SIGHUP (nohup's, `trap '' TERM INT`) is the caller's: TeardownExit.install sets
    nothing over it and records nothing to put back in abandon, as on_sigterm and on_sighup leave it; with none
    handled, no watcher is started."""
    done = subprocess.run([sys.executable, "-c", _INSTALL_WITH_ALL_IGNORED], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] {} None 1 1 1", done.stdout


# the program's way for `info` (returning 0 at once) where whoever started it ignored SIGINT, SIGTERM and SIGHUP
_RUN_IGNORED = """
import signal, sys, threading
import wildgan.cli as c
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
c.cmd_info = lambda a: 0
sys.argv = ["wildgan", "info"]
print("code:", c.run())
print("ignored:", all(signal.getsignal(s) is signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
print("watcher:", any(t.name == "wildgan-teardown-exit" for t in threading.enumerate()))
"""


@posix_only
def test_the_programs_teardown_leaves_ignored_signals_ignored() -> None:
    """The whole program's way (cli.run): signals the launcher ignored stay ignored through the teardown, and with
    nothing of its own to handle, no watcher thread is started."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", _RUN_IGNORED], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert done.stdout.splitlines() == ["code: 0", "ignored: True", "watcher: False"], done.stdout


# Handlers set from C by an application that embeds Python


def _c_app(signals: tuple[str, ...], count_after_finalize: bool = False) -> str:
    """The C source of an application that sets its own C handlers for `signals` (Python's signal.getsignal then
    says None for them), embeds Python and runs the Python code of argv[1]. With count_after_finalize, it then
    raises each of `signals` after Py_FinalizeEx and prints how many its handlers took: they must still be the ones
    to take them, not SIG_IGN or the default action."""
    handlers = "".join(f"    sigaction({sig}, &sa, NULL);\n" for sig in signals)
    after = "".join(f"    raise({sig});\n" for sig in signals)
    counted = count_after_finalize
    return (
        "#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n#include <signal.h>\n"
        + ("#include <stdio.h>\n" if counted else "") + "#include <string.h>\n"
        + ("static volatile sig_atomic_t taken = 0;\nstatic void app_handler(int sig) { (void)sig; taken++; }\n"
           if counted else "static void app_handler(int sig) { (void)sig; }\n")
        + "int main(int argc, char **argv) {\n    struct sigaction sa;\n    memset(&sa, 0, sizeof sa);\n"
        "    sa.sa_handler = app_handler;\n" + handlers
        + "    Py_Initialize();\n    int rc = PyRun_SimpleString(argv[1]);\n    if (Py_FinalizeEx() < 0) rc = 1;\n"
        + ("    fflush(stdout);\n    taken = 0;\n" + after + '    printf("after finalize: %d taken\\n", (int)taken);\n'
           if counted else "")
        + "    return rc == 0 ? 0 : 1;\n}\n")


_ALL_THREE = ("SIGINT", "SIGTERM", "SIGHUP")
# SIGINT, SIGTERM and SIGHUP handled in C
_APP_WITH_C_HANDLERS = _c_app(_ALL_THREE)
# SIGINT and SIGTERM only (SIGHUP left at its default)
_APP_WITH_C_SIGINT_SIGTERM = _c_app(("SIGINT", "SIGTERM"))
# all three, raised again after Py_FinalizeEx and counted
_APP_COUNTING_AFTER_FINALIZE = _c_app(_ALL_THREE, count_after_finalize=True)

# a commit's stops_deferred, then the CLI's main for a command that handles SIGHUP (its usage error: SystemExit),
# then a SIGTERM and a SIGHUP, which the application's own handlers must still take (they do nothing)
_AFTER_C_HANDLERS = """
import io, os, signal, sys
from wildgan.training.distributed import stops_deferred
with stops_deferred():
    pass
print("deferred:", signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
from wildgan.cli import main
sys.stderr = io.StringIO()
try:
    main(["score"])
except SystemExit:
    pass
sys.stderr = sys.__stderr__
print("main:", signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP))
os.kill(os.getpid(), signal.SIGTERM)
os.kill(os.getpid(), signal.SIGHUP)
print("alive")
"""


@posix_only
def test_handlers_set_from_c_are_left_to_the_application(tmp_path: Path) -> None:
    """distributed.stops_deferred and the CLI's SIGHUP handling leave a handler set from C (None) in place, as
    training's install_signals and the CLI's SIGTERM do: putting SIG_DFL back for it would take the application's own
    SIGTERM and SIGHUP handling away for good after a training's end or a command (a SIGTERM then killing it), since
    Python cannot put such a handler back."""

    from embedding import build_embedding_app, run_embedded

    app = build_embedding_app(tmp_path, _APP_WITH_C_HANDLERS)
    done = run_embedded(app, _AFTER_C_HANDLERS)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert done.stdout.splitlines() == ["deferred: None None", "main: None None", "alive"], done.stdout


# what the application runs: training's handlers put back (training.resume.install_signals, as both loops use it),
# then the CLI's main as a library call, each said on a line
_AFTER_HANDLERS_SET_FROM_C = """
import io, signal, sys
from wildgan.training.resume import StopFlag, install_signals
print("before:", signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
restore = install_signals(StopFlag())
try:
    restore()
    print("training: put back")
except Exception as e:
    print("training:", type(e).__name__, e)
from wildgan.cli import main
sys.stdout = io.StringIO()
main([])
sys.stdout = sys.__stdout__
# (None as before, or SIG_DFL: Python cannot put a C handler back, and the CLI's SIGHUP takes the default for it)
now = signal.getsignal(signal.SIGTERM)
print("main: SIGTERM", "put back" if now is None or now is signal.SIG_DFL else "left to main's handler")
"""


@posix_with_fork
def test_handlers_set_from_c_are_put_back_after_training_and_main(tmp_path: Path) -> None:
    """Where Python is embedded in an application that set its own C handlers for SIGINT and SIGTERM before
    Py_Initialize, signal.signal returns None for them ('not installed from Python'). Training's install_signals
    puts its handlers back without giving that None to signal.signal (a TypeError, 'signal handler must be ...', out
    of the loop's `finally` as training ends, would leave the network-final unwritten), and main() does not keep its
    own SIGTERM handler installed after it returns (with the command's outcome decided, `ending`, it lets every later
    SIGTERM pass without a word: the application could no longer be stopped by one)."""
    from embedding import build_embedding_app, run_embedded

    app = build_embedding_app(tmp_path, _APP_WITH_C_SIGINT_SIGTERM)
    done = run_embedded(app, _AFTER_HANDLERS_SET_FROM_C)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "before: None None", lines        # (the case at hand: handlers Python did not install)
    assert lines[1:] == ["training: put back", "main: SIGTERM put back"], lines


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
    """TeardownExit.install sets no handler of its own (SIGTERM's and SIGHUP's, SIG_IGN for SIGINT) over handlers set
    from C (getsignal's None), which Python cannot put back, as main's own handlers leave them: otherwise a SIGTERM
    after cli.run returned would end the embedding application with the command's exit code, and after Py_FinalizeEx
    its Ctrl-C would stay ignored and its SIGTERM and SIGHUP take the default action."""
    from embedding import build_embedding_app, run_embedded

    app = build_embedding_app(tmp_path, _APP_COUNTING_AFTER_FINALIZE)
    done = run_embedded(app, _RUN_AFTER_C_HANDLERS)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    said = [line for line in done.stdout.splitlines() if line.startswith(("run:", "alive", "after finalize:"))]
    assert said == ["run: 2 None None None", "alive", "after finalize: 3 taken"], done.stdout     # (not the usage)


# the program's way (cli.run, with its teardown's handlers) for `command`: `info` made to return 0 at once, `score`
# a usage error (SystemExit 2, through on_sighup's command list); then the handlers it leaves, and a SIGTERM, a SIGHUP
# and a Ctrl-C, which the application's own handlers must still take (they do nothing)
_RUN_THEN_SIGNALS = """
import io, os, signal, sys
import wildgan.cli as c
c.cmd_info = lambda a: 0
sys.argv = ["wildgan", {command!r}]
sys.stderr = io.StringIO()
try:
    print("code:", c.run())
except SystemExit as e:
    print("code:", e.code)
sys.stderr = sys.__stderr__
print("run:", *(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    os.kill(os.getpid(), s)
print("alive")
"""


@posix_only
@pytest.mark.parametrize("command, code", [("info", 0), ("score", 2)])
def test_the_programs_teardown_leaves_handlers_set_from_c_to_the_application(tmp_path: Path, command: str,
                                                                           code: int) -> None:
    """A command that returns (`info`) and one refused as a usage error (`score`), run the program's way: the
    teardown leaves the handlers an embedding application set from C (getsignal's None) in place, as main does, so
    the application's next SIGTERM or SIGHUP is its own to take, not an end with the command's exit code
    (os._exit)."""
    from embedding import build_embedding_app, run_embedded

    done = run_embedded(build_embedding_app(tmp_path, _APP_WITH_C_HANDLERS), _RUN_THEN_SIGNALS.format(command=command))
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert done.stdout.splitlines() == [f"code: {code}", "run: None None None", "alive"], done.stdout
