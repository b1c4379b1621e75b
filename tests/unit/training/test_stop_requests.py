"""How a stop request is taken (training.resume.StopFlag, the loops' end, the program's teardown): only a second
Ctrl-C aborts at once; any other repeated stop (a SIGTERM twice, one after a hangup, a Ctrl-C after a SIGTERM or a
closed output) is the stop already asked for, told by its first signal; a stop as training's end is written keeps
that end whole; a Ctrl-C once the command's outcome is decided is ignored; and a closed output stops training on a
platform without SIGPIPE too. A job scheduler or a user must get a complete checkpoint, the right exit code and the
command that resumes the run, not an abort in the middle of a write."""

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


@posix_only
@pytest.mark.parametrize("first, then", [("SIGTERM", "SIGTERM"), ("SIGHUP", "SIGTERM"), ("SIGTERM", "SIGHUP"),
                                         ("SIGPIPE", "SIGINT"), ("SIGTERM", "SIGINT")])
def test_stopflag_takes_a_repeated_stop_that_is_no_second_ctrl_c_as_the_same_stop(first: str, then: str) -> None:
    """Only a second Ctrl-C aborts; any other second stop (a SIGTERM twice, one after a SIGHUP, a first Ctrl-C after
    a closed output pipe) is the stop already asked for, told by its first signal."""
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
    """A second Ctrl-C aborts at once (KeyboardInterrupt), after a first Ctrl-C or after a SIGTERM and a first
    Ctrl-C; the stop is still told by its first signal."""
    from wildgan.training.resume import StopFlag

    flag = StopFlag()
    flag(getattr(signal, first), None)
    if first != "SIGINT":
        try:
            flag(signal.SIGINT, None)       # (a first Ctrl-C after a SIGTERM: the same stop)
        except KeyboardInterrupt:
            pytest.fail("a first Ctrl-C after a SIGTERM aborted")
    with pytest.raises(KeyboardInterrupt):
        flag(signal.SIGINT, None)
    assert flag.signum == getattr(signal, first)


@posix_with_fork
def test_a_sigterm_delivered_twice_stops_training_as_one_sigterm(tiny_npz: Path, tmp_path: Path, monkeypatch,
                                                                  capsys) -> None:
    """A job scheduler's SIGTERM often reaches a rank twice within milliseconds (its own to every process of the job
    step, then torchrun's, which ends its workers with SIGTERM when it gets one). That is one stop, asked by nobody
    typing Ctrl-C: it must end as `terminated by SIGTERM` with exit 143 and the command that resumes the run, as
    distributed.stops_deferred takes a repeated SIGTERM (only a second Ctrl-C aborts there), not as an impatient
    second Ctrl-C: a KeyboardInterrupt in the middle of the checkpoint being written, said as
    `interrupted by SIGINT (Ctrl-C)`, exit 130 (what a scheduler then reports)."""
    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    sent = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        name = Path(str(path)).name
        if name.startswith("ckpt-") and name.endswith(".json") and not sent:
            sent.append(name)
            signal.raise_signal(signal.SIGTERM)      # the scheduler's
            signal.raise_signal(signal.SIGTERM)      # torchrun's, passed on
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    out = tmp_path / "run"
    got = train_tiny_with_a_periodic_checkpoint(tiny_npz, out)
    err = capsys.readouterr().err
    assert sent, "no checkpoint was written"
    assert got == 143, (got, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("wildgan: terminated by SIGTERM") and "Ctrl-C" not in err, err
    assert f"continue with `wildgan train --out {out} --resume`" in last, err


@posix_only
def test_a_first_ctrl_c_as_the_end_is_written_after_a_sigterm_keeps_the_end(tiny_npz: Path, tmp_path: Path,
                                                                            monkeypatch, capsys) -> None:
    """A SIGTERM in the last round, then a first Ctrl-C as the final networks are written: the end's commit
    (stops_deferred) holds that Ctrl-C as the same stop, not as a second Ctrl-C that aborts (which would exit 130 with
    no network-final), and the command ends as SIGTERM's stop of a complete training (143, network-final written)."""
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
    got = train_tiny(tiny_npz, out)
    err = capsys.readouterr().err
    assert sent == ["ckpt-000000000128.json", "network-final.json"], sent
    assert got == 143, (got, err)
    assert "terminated by SIGTERM as training ended" in err and "Ctrl-C" not in err, err
    assert (out / "network-final.json").is_file()


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="no SIGINT")
def test_a_ctrl_c_in_the_teardown_of_a_bare_wildgan_is_ignored() -> None:
    """cli.run's docstring: 'Ctrl-C is ignored' in the teardown once the command's outcome is decided. That holds for
    a bare `wildgan` too (the commands' list, exit 2), which returns early: a Ctrl-C in its teardown (here from an
    atexit hook) gives no KeyboardInterrupt traceback and leaves the exit code 2."""
    code = ("import atexit, os, signal, sys, time, wildgan.cli as c\n"
            "def teardown():\n    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(0.2)\n"
            "atexit.register(teardown)\n"
            "sys.argv = ['wildgan']\n"
            "raise SystemExit(c.run())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "KeyboardInterrupt" not in proc.stderr, (proc.returncode, proc.stderr)


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
    """On Windows, which has no SIGPIPE (errors.SIGPIPE is None there), a closed output still sets StopFlag and so
    stops training: the stop has SIGPIPE's number there too (13: exit 141, the shell's for it, and errors.stop_words'
    OUTPUT_CLOSED), not None, which would leave the flag unset."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", _WITHOUT_SIGPIPE], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["13", "True"], done.stdout
