"""A hangup (SIGHUP: the terminal closed, an ssh session gone) stops a command at a safe point whatever SIGTERM's
disposition, since on_sighup passes it to whatever takes SIGTERM: with SIGTERM ignored by the launcher (`trap '' TERM`)
or set from C by an embedding application, the checkpoint or CSV being written is still finished whole before the
stop (exit 129), training's StopFlag still gets it, and once the command's outcome is decided it is let pass. A user
whose terminal closes must find a run that resumes from a complete checkpoint, not orphaned weights."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from wildgan.cli import main

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")


def _cli_handlers(command: str = "score") -> dict[str, Any]:
    """main's SIGTERM and SIGHUP handling for `command` (on_sigterm, then on_sighup): on_sigterm's state."""
    from wildgan.cli.signals import on_sighup, on_sigterm

    _, state = on_sigterm()
    assert on_sighup(command, state)[0]
    return state


@posix_only
def test_a_hangup_in_training_with_sigterm_ignored_still_checkpoints(tiny_npz: Path, tmp_path: Path,
                                                                     handlers_kept: None, monkeypatch,
                                                                     capsys) -> None:
    """on_sighup passes SIGHUP to whatever handles SIGTERM (the loop's StopFlag, a commit's stops_deferred). With
    SIGTERM ignored in main, the loop and stops_deferred (as the launcher left it), on_sighup's `hup` finds SIG_IGN,
    not callable; it must not raise Terminated wherever the main thread is, here inside the periodic checkpoint's
    write, between its .safetensors and its .json (the weights left orphaned, the run not resumable from it). The
    checkpoint being written is finished and the training stops: exit 129, the checkpoint's JSON beside its
    weights."""
    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    seen: list[str] = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        name = Path(str(path)).name
        if name.startswith("ckpt-") and name.endswith(".json") and not seen:
            seen.append(name)
            signal.raise_signal(signal.SIGHUP)      # (the terminal closed while the checkpoint is written)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # (`trap '' TERM` in the launching script)
    out = tmp_path / "run"
    got = main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                "--phase-kimg", "0.03", "--no-progress", "--no-train-scores", "--threads", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert seen, "no periodic checkpoint was written"
    assert got == 129, (got, err)
    # the checkpoint the hangup landed in is written whole (its JSON beside its weights), as StopFlag makes it
    assert (out / "checkpoints" / seen[0]).is_file(), (sorted(p.name for p in (out / "checkpoints").iterdir()), err)


@posix_only
@pytest.mark.parametrize("term", ["ignored", "set from C"])
def test_a_hangup_in_a_commit_with_sigterm_not_ours_waits_for_the_commit(term: str, handlers_kept: None,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """score's CSV commit (stops_deferred) with SIGTERM ignored, or set from C (getsignal's None, which no layer
    takes over): a SIGHUP in the commit is held to the block's end, so the commit is not cut in two, and then stops
    the command (129's Terminated)."""
    from wildgan.errors import Terminated
    from wildgan.training.distributed import stops_deferred

    if term == "ignored":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        real = signal.getsignal
        monkeypatch.setattr(signal, "getsignal", lambda s: None if s == signal.SIGTERM else real(s))
    _cli_handlers()
    done = []
    with pytest.raises(Terminated) as got:
        with stops_deferred() as held:
            signal.raise_signal(signal.SIGHUP)
            done.append("the commit's second half")
            assert held == [signal.SIGHUP]
    assert done and got.value.signum == signal.SIGHUP


@posix_only
def test_a_hangup_in_training_with_sigterm_set_from_c_reaches_the_loop(handlers_kept: None,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Training's loop with SIGTERM set from C: install_signals leaves that handler (getsignal's None), and a hangup
    reaches the loop's StopFlag all the same (a checkpoint, then the stop); the flag is let go as the loop ends."""
    from wildgan.errors import Terminated
    from wildgan.training.resume import StopFlag, install_signals

    real = signal.getsignal
    monkeypatch.setattr(signal, "getsignal", lambda s: None if s == signal.SIGTERM else real(s))
    _cli_handlers("train")
    flag = StopFlag()
    restore = install_signals(flag)
    try:
        signal.raise_signal(signal.SIGHUP)
    finally:
        restore()
    assert flag.signum == signal.SIGHUP
    with pytest.raises(Terminated):         # (after the loop: the command's stop, not the loop's flag)
        signal.raise_signal(signal.SIGHUP)


@posix_only
def test_a_hangup_as_the_outcome_is_decided_with_sigterm_ignored_is_let_pass(handlers_kept: None) -> None:
    """With SIGTERM ignored, a SIGHUP once main has decided its outcome (on_sigterm's "ending") is let pass and told
    to the teardown (`late`), as on_sigterm's handler does for a SIGTERM, not raised as Terminated while main says
    its line (a traceback, or the command's result replaced by 129)."""
    from wildgan.cli.signals import on_sighup, on_sigterm

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    late: list[bool] = []
    saved, state = on_sigterm(lambda: late.append(True))
    assert saved is signal.SIG_IGN and signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert on_sighup("train", state)[0]
    state["ending"] = True
    signal.raise_signal(signal.SIGHUP)
    assert late == [True]


@posix_only
def test_a_hangup_as_training_ends_with_sigterm_ignored_keeps_the_end(tiny_npz: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      handlers_kept: None) -> None:
    """The loops' end (stops_deferred) with SIGTERM ignored by the launcher: a SIGHUP as network-final is written
    does not leave network-final.safetensors without its .json. The end is written whole, and the command ends as a
    hangup's stop of a complete training (129), SIGTERM still ignored."""
    from wildgan import checkpoint

    real = checkpoint.atomic_write_text
    sent: list[str] = []

    def write(path: object, text: str, *a: object, **k: object) -> None:
        if Path(str(path)).name == "network-final.json" and not sent:
            sent.append("network-final.json")
            signal.raise_signal(signal.SIGHUP)
        return real(path, text, *a, **k)

    monkeypatch.setattr(checkpoint, "atomic_write_text", write)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = tmp_path / "run"
    got = main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                "--phase-kimg", "0.03", "--no-progress", "--no-train-scores", "--threads", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert sent and got == 129, (got, err)
    assert "hung up by SIGHUP" in err and "as training ended" in err, err
    assert (out / "network-final.json").is_file()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
