"""fixJT: the revGA review's fixes beyond its own regression tests (tests/unit/test_review_revGA.py): StopFlag's rule
for which signal aborts, the loops' end after a stop that was not a Ctrl-C, and the minor findings."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from wildgan.cli import main

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")


def _train_tiny(tiny_npz: Path, out: Path) -> int:
    """`wildgan train` of 0.1 kimg into out (its last checkpoint ckpt-000000000128): its exit code."""
    return main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", "--no-progress", "--no-train-scores", "--threads", "1", "--out", str(out)])


@posix_only
@pytest.mark.parametrize("first, then", [("SIGTERM", "SIGTERM"), ("SIGHUP", "SIGTERM"), ("SIGTERM", "SIGHUP"),
                                         ("SIGPIPE", "SIGINT"), ("SIGTERM", "SIGINT")])
def test_stopflag_takes_a_repeated_stop_that_is_no_second_ctrl_c_as_the_same_stop(first: str, then: str) -> None:
    """revGA 1: only a second Ctrl-C aborts; any other second stop (a SIGTERM twice, one after a SIGHUP, a first
    Ctrl-C after a closed output pipe) is the stop already asked for, told by its first signal."""
    from wildgan.training.resume import StopFlag

    flag = StopFlag()
    if first == "SIGPIPE":
        flag.output_closed(BrokenPipeError())
    else:
        flag(getattr(signal, first), None)
    try:
        flag(getattr(signal, then), None)
    except KeyboardInterrupt:       # (caught: pytest would take it for the user's own Ctrl-C and stop)
        pytest.fail(f"{then} after {first} aborted as a second Ctrl-C")
    assert flag.signum == getattr(signal, first)


@pytest.mark.parametrize("first", ["SIGINT", "SIGTERM"])
def test_stopflag_aborts_on_a_second_ctrl_c(first: str) -> None:
    from wildgan.training.resume import StopFlag

    flag = StopFlag()
    flag(getattr(signal, first), None)
    if first != "SIGINT":
        try:
            flag(signal.SIGINT, None)       # (a first Ctrl-C after a SIGTERM: the same stop, revGA 1)
        except KeyboardInterrupt:
            pytest.fail("a first Ctrl-C after a SIGTERM aborted")
    with pytest.raises(KeyboardInterrupt):
        flag(signal.SIGINT, None)
    assert flag.signum == getattr(signal, first)


@posix_only
def test_a_first_ctrl_c_as_the_end_is_written_after_a_sigterm_keeps_the_end(tiny_npz: Path, tmp_path: Path,
                                                                            monkeypatch, capsys) -> None:
    """revGA 1 at the loop's end: a SIGTERM in the last round, then a first Ctrl-C as the final networks are written.
    The end's commit (stops_deferred) took any stop before it for a Ctrl-C (`stopping`) and raised at once on that
    first Ctrl-C: exit 130 and no network-final. It is held now, and the command ends as SIGTERM's stop of a complete
    training."""
    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    sent: list[str] = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        name = Path(str(path)).name
        if name.startswith("ckpt-") and name.endswith(".json") and int(name[5:-5]) >= 100 and not sent:
            sent.append(name)
            signal.raise_signal(signal.SIGTERM)
        elif name == "network-final.json" and sent:
            sent.append(name)
            signal.raise_signal(signal.SIGINT)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    out = tmp_path / "run"
    got = _train_tiny(tiny_npz, out)
    err = capsys.readouterr().err
    assert sent == ["ckpt-000000000128.json", "network-final.json"], sent
    assert got == 143, (got, err)
    assert "terminated by SIGTERM as training ended" in err and "Ctrl-C" not in err, err
    assert (out / "network-final.json").is_file()


@posix_only
def test_a_sigterm_ignored_by_the_launcher_stays_ignored_in_training(tiny_npz: Path, tmp_path: Path, monkeypatch,
                                                                     capsys) -> None:
    """revGA 2, SIGTERM's side: 'any signal the launcher ignored' stays ignored. cli.on_sigterm set its handler over
    an ignored SIGTERM, so training's install_signals found that handler, not SIG_IGN, and a SIGTERM stopped the
    training. The training now completes, and main leaves SIGTERM ignored as it found it."""
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
        got = _train_tiny(tiny_npz, tmp_path / "run")
        after = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
    err = capsys.readouterr().err
    assert seen == [signal.SIG_IGN], seen
    assert got == 0 and (tmp_path / "run" / "network-final.json").is_file(), (got, err)
    assert after is signal.SIG_IGN


# an application that embeds Python after setting its own C handlers for SIGINT, SIGTERM and SIGHUP (Python's
# signal.getsignal then says None for them), and runs the Python code of argv[1]
_EMBEDDING_APP = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>
#include <string.h>
static void app_handler(int sig) { (void)sig; }
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
    return rc == 0 ? 0 : 1;
}
"""

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
    """revGA 4, beside its own test: distributed.stops_deferred put SIG_DFL back for a handler set from C (None), and
    the CLI's SIGHUP did too, so an application that embeds Python lost its own SIGTERM and SIGHUP handling for good
    after a training's end or a command (a SIGTERM then killed it). Python cannot put such a handler back: it is now
    left in place, as training's install_signals and the CLI's SIGTERM leave it."""

    from embedding import build_embedding_app, run_embedded

    app = build_embedding_app(tmp_path, _EMBEDDING_APP)
    done = run_embedded(app, _AFTER_C_HANDLERS)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert done.stdout.splitlines() == ["deferred: None None", "main: None None", "alive"], done.stdout


def test_pruning_removes_the_weights_of_a_checkpoint_whose_json_was_never_written(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    """revGA minor: a checkpoint write cut between its two files (here a second Ctrl-C as its JSON is written) left
    ckpt-N.safetensors alone, which pruning (by the JSONs) never removed: it stayed for good. The next checkpoint's
    pruning removes it now; the good checkpoints and their weights are kept."""
    import torch

    from wildgan import checkpoint as ckpt

    real = ckpt.atomic_write_text

    def cut(path: object, text: str, *a: object, **k: object) -> None:
        raise KeyboardInterrupt

    ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(1), {"w": torch.zeros(1)}, {})
    monkeypatch.setattr(ckpt, "atomic_write_text", cut)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(2), {"w": torch.zeros(1)}, {})
    monkeypatch.setattr(ckpt, "atomic_write_text", real)
    orphan = tmp_path / f"{ckpt.checkpoint_name(2)}.safetensors"
    assert orphan.is_file()             # (the cut write's weights, without their JSON)
    path = ckpt.save_checkpoint(tmp_path, ckpt.checkpoint_name(3), {"w": torch.zeros(1)}, {})
    ckpt.prune_checkpoints(tmp_path, 5, protect=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{ckpt.checkpoint_name(n)}.{ext}" for n in (1, 3) for ext in ("json", "safetensors"))


@posix_only
def test_a_signals_watch_that_cannot_start_leaves_no_handler_of_mains(monkeypatch) -> None:
    """revGA minor: cli._main set its SIGTERM and SIGHUP handlers and started the signals' watch (StuckOutputs.start)
    before the try whose finally puts them back: a thread that could not start (RuntimeError: can't start new thread)
    left main's handlers, its wakeup fd and its stop listener in place after the program gave up. Now the error goes
    up as before, with everything put back."""
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


# Windows' signal module, as far as SIGPIPE goes (it has none): a closed output must still stop training, said as such
_WITHOUT_SIGPIPE = """
import signal
del signal.SIGPIPE
from wildgan.errors import OUTPUT_CLOSED, stop_words
from wildgan.training.resume import StopFlag
flag = StopFlag()
flag.output_closed(BrokenPipeError(32, "Broken pipe"))
print(flag.signum)
print(stop_words(flag.signum) == OUTPUT_CLOSED)
"""


def test_a_closed_output_stops_training_where_the_platform_has_no_sigpipe() -> None:
    """revGA minor: StopFlag.output_closed set signum = errors.SIGPIPE, which is None on Windows (no such signal):
    the flag stayed unset, and a closed output never stopped training. The stop now has SIGPIPE's number there too
    (13: exit 141, the shell's for it, and errors.stop_words' OUTPUT_CLOSED)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", _WITHOUT_SIGPIPE], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["13", "True"], done.stdout
