"""fixJX: a hangup stops at a safe point whatever SIGTERM's disposition (revGC 1, beyond its own regression test in
tests/unit/test_review_revGC.py), and two small ones: a study table's f-AnoGAN iterations where older rows recorded
none, and the MAD-0 threshold note."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from wildgan.cli import main

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no POSIX signals on this platform")


@pytest.fixture()
def handlers_kept() -> Iterator[None]:
    """SIGINT's, SIGTERM's and SIGHUP's handlers put back after the test, whatever it set."""
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in kept.items():
            signal.signal(s, h)


def _cli_handlers(command: str = "score") -> dict[str, Any]:
    """main's SIGTERM and SIGHUP handling for `command` (on_sigterm, then on_sighup): on_sigterm's state."""
    from wildgan.cli.signals import on_sighup, on_sigterm

    _, state = on_sigterm()
    assert on_sighup(command, state)[0]
    return state


@posix_only
@pytest.mark.parametrize("term", ["ignored", "set from C"])
def test_a_hangup_in_a_commit_with_sigterm_not_ours_waits_for_the_commit(term: str, handlers_kept: None,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """revGC 1 at score's CSV commit (stops_deferred): with SIGTERM ignored, or set from C (getsignal's None, which no
    layer takes over), a SIGHUP in the commit was raised there as the CLI's stop, the commit cut in two. It is held to
    the block's end now, then stops the command (129's Terminated)."""
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
    """revGC 1, the C-set SIGTERM case of training's loop: install_signals leaves it (getsignal's None) and a hangup
    reaches the loop's StopFlag all the same, a checkpoint then the stop; and the flag is let go as the loop ends."""
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
    """With SIGTERM ignored, a SIGHUP once main had decided its outcome (on_sigterm's "ending") was raised as
    Terminated while main said its line (a traceback, or the command's result replaced by 129); it is let pass and told
    to the teardown (`late`) now, as on_sigterm's handler does for a SIGTERM."""
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
    """revGC 1 at the loops' end (stops_deferred): a SIGHUP as network-final is written, SIGTERM ignored by the
    launcher, left network-final.safetensors without its .json. The end is written whole now, and the command ends as
    a hangup's stop of a complete training (129)."""
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


def test_a_study_table_with_fanogan_iters_not_recorded_beside_numbers() -> None:
    """A row whose fanogan_iters is [null, null] (its checkpoint did not say them) beside one with numbers stopped
    render_markdown with a TypeError in _fanogan_words' sort, and tables.csv said 'None+None'. Such a row now counts
    as not recording them, as a row without the field does."""
    from wildgan.studies import render_csv, render_markdown

    from test_study import FIXED

    rows = [*FIXED[:4], {**FIXED[4], "fanogan_iters": [60, 30]}, {**FIXED[5], "fanogan_iters": [None, None]}]
    md = render_markdown(rows)
    assert "f-AnoGAN: DIM not recorded, 60 critic + 30 encoder iterations per cell." in md, md
    csv_lines = render_csv(rows).splitlines()
    assert "None" not in "\n".join(csv_lines)
    assert sum(",60+30," in line for line in csv_lines) > 0
    alone = render_markdown([*FIXED[:4], {**FIXED[5], "fanogan_iters": [None, None]}])
    assert "f-AnoGAN: DIM and iterations not recorded." in alone, alone


def test_mad_note_with_mad_0_says_the_threshold_is_their_highest_score() -> None:
    """With MAD 0 (more than half the training scores tied) and none above, the threshold is their median and their
    highest score: the note said it 'is above every one of their scores' while the tied images score it exactly
    (unflagged because a flag is score > threshold, thresholds.Threshold.apply)."""

    from wildgan.cli import make_parser
    from wildgan.cli.threshold_notes import contamination_note
    from wildgan.thresholds import run_threshold

    a = make_parser().parse_args(["score", "RUN", "--out", "-", "--threshold", "mad"])
    train = np.array([0.5, 0.7, 0.7, 0.7, 0.7])
    thr = run_threshold(None, "unused", "mad", k=3.0, score="a", train_scores={"a": train})
    assert thr.params["mad"] == 0 and thr.params["n_above"] == 0 and thr.value == train.max()
    assert thr.apply(train).sum() == 0           # (the tied scores equal the threshold: not above it)
    note = contamination_note(a, 0.0, thr)
    assert "is above every one of their scores" not in note, note
    assert note.endswith("; it flags none of the 5 training images: the threshold 0.7 is their median and their "
                         "highest score (MAD 0: more than half of them tie there), and only a score above it is "
                         "flagged (no --mad-k flags more: with MAD 0 the threshold is the median whatever k)"), note
