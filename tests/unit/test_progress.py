"""Progress bars do not flood a log file: redrawn every LOG_INTERVAL_S seconds off a terminal."""

from __future__ import annotations

import io
import re
import sys

import pytest

from wildgan.progress import LOG_INTERVAL_S, progress_bar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_written_to_a_file_is_redrawn_rarely_and_one_on_a_terminal_as_tqdm_does(monkeypatch) -> None:
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    log = io.StringIO()
    with progress_bar(total=10, file=log) as bar:
        assert bar.mininterval == LOG_INTERVAL_S
        for _ in range(10):
            bar.update(1)
    # the first and the last redraw only (it was one per update at tqdm's 0.1 s in a fast loop: 1,100 in the demo)
    assert log.getvalue().count("\r") <= 3, log.getvalue()
    with progress_bar(total=10, file=_Tty()) as bar:
        assert bar.mininterval == 0.1                                   # tqdm's default on a terminal
    with progress_bar(total=10, file=io.StringIO(), mininterval=2.0) as bar:
        assert bar.mininterval == 2.0                                   # asked for: kept
    monkeypatch.setenv("TQDM_MININTERVAL", "7")
    with progress_bar(total=10, file=io.StringIO()) as bar:
        assert bar.mininterval != LOG_INTERVAL_S                        # tqdm's own variable wins


def test_a_bar_in_a_file_is_not_redrawn_sooner_by_tqdms_monitor_thread(monkeypatch) -> None:
    # the monitor (every 10 s) redraws a bar whose last redraw is `maxinterval` old once it draws several steps at a
    # time: with tqdm's maxinterval of 10 s the log got a line 10 s after each 30 s redraw, with the count unchanged
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    monkeypatch.delenv("TQDM_MAXINTERVAL", raising=False)
    with progress_bar(total=10, file=io.StringIO()) as bar:
        assert bar.maxinterval > bar.mininterval == LOG_INTERVAL_S     # (equal, the two raced: a duplicate line)
    with progress_bar(total=10, file=_Tty()) as bar:
        assert bar.maxinterval == 10                                    # a terminal: tqdm's own
    with progress_bar(total=10, file=io.StringIO(), maxinterval=5.0) as bar:
        assert bar.maxinterval == 5.0                                   # asked for: kept


def _read_all(fd: int) -> str:
    """Everything written to the pty so far: one os.read returns what the pty had buffered at that moment, which on
    a loaded machine (CI, 2026-12-03) was the bar's first frame alone."""
    import os
    import select

    got = b""
    while select.select([fd], [], [], 0.5)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        got += chunk
    return got.decode()


@pytest.mark.parametrize("dynamic", [True, False])
def test_a_bar_on_a_terminal_of_no_size_still_shows_its_count_and_eta(monkeypatch, dynamic) -> None:
    # a fresh pty has 0 columns and rows (`script -c` in a batch job): tqdm drew blank lines in place of the bar
    import os
    import pty

    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    master, slave = pty.openpty()
    try:
        assert os.get_terminal_size(slave).columns == 0
        with os.fdopen(slave, "w", closefd=False) as tty:
            monkeypatch.setattr(sys, "stderr", tty)              # (tqdm asks the screen's size of stderr's bars)
            with progress_bar(total=10, dynamic_ncols=dynamic, mininterval=0) as bar:
                for _ in range(10):
                    bar.update(1)
            tty.flush()
        shown = _read_all(master)
    finally:
        os.close(slave)
        os.close(master)
    assert "10/10" in shown and "<00:00" in shown, repr(shown)


def test_a_log_line_said_while_a_bar_is_drawn_starts_a_line_of_its_own(capsys) -> None:
    # `wildgan train --minutes 2 2> log`: "... eta=00:08, res=64]wall-clock budget of 2.0 min reached at 11.104
    # kimg", the run's log line glued to the bar's text (on a terminal too: a bar leaves the cursor after its text)
    from wildgan.cli.common import show
    from wildgan.progress import progress_bar

    bar = progress_bar(total=10, file=sys.stderr, mininterval=0)
    bar.update(3)
    show("wall-clock budget of 2.0 min reached at 0.512 kimg")
    bar.close()
    err = capsys.readouterr().err
    assert re.search(r"3/10[^\n]*\nwall-clock budget of 2\.0 min reached at 0\.512 kimg\n", err), repr(err)
    assert "\r" not in err, repr(err)


def test_a_bar_in_a_log_file_writes_each_redraw_as_a_line_of_its_own() -> None:
    # `wildgan train ... 2> train.log`: every redraw began with a carriage return and none ended a line, so the log
    # was one line (`less` showed ^M between the redraws, `grep kimg` matched the whole run at once)
    log = io.StringIO()
    with progress_bar(total=10, file=log, mininterval=0, ncols=60) as bar:
        for _ in range(3):
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text, repr(text)
    lines = text.splitlines()
    assert [re.search(r"(\d+)/10", ln).group(1) for ln in lines] == ["0", "1", "2", "3", "3"], lines
    assert all(ln == ln.rstrip() for ln in lines) and text.endswith("\n"), repr(text)   # tqdm's padding dropped
    cleared = io.StringIO()
    with progress_bar(total=10, file=cleared, mininterval=0, leave=False) as bar:
        bar.update(5)
    shown = cleared.getvalue().splitlines()
    assert len(shown) == 2 and all("/10" in ln for ln in shown), shown   # the clear (blanks between carriage
    #                                                                      returns) at its close writes no line


def test_a_bar_on_a_terminal_or_in_a_notebook_still_redraws_in_place() -> None:
    class _Kernel(io.StringIO):                          # what ipykernel's OutStream looks like to the bar: no tty
        pass

    _Kernel.__module__ = "ipykernel.iostream"
    for stream in (_Tty(), _Kernel()):
        with progress_bar(total=10, file=stream, mininterval=0) as bar:
            bar.update(4)
        assert stream.getvalue().count("\r") >= 2, repr(stream.getvalue())


class _Gone(io.StringIO):
    """A stream whose reader has left: every write fails, as a pipe's does after `| head` exits."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_bar_whose_output_is_gone_tells_its_caller_instead_of_raising(monkeypatch) -> None:
    """`wildgan train ... 2>&1 | head`: a redraw into the closed pipe raised its BrokenPipeError out of the bar's
    update, in the middle of a training round. With on_closed the bar tells it (training stops at its next safe
    point), the stream is silenced, and the updates go on; a broken pipe that is not stdout's or stderr's (nothing
    closed there: another process's pipe) is raised as before."""
    from wildgan import errors

    silenced: list[int] = []
    monkeypatch.setattr(errors, "closed_outputs", lambda: [2])
    monkeypatch.setattr(errors, "silence_closed_outputs", lambda: silenced.append(1))
    told: list[BaseException] = []
    bar = progress_bar(total=10, file=_Gone(), mininterval=0, on_closed=told.append)
    for _ in range(10):
        bar.update(1)
    bar.close()
    assert told and all(isinstance(e, BrokenPipeError) for e in told) and silenced
    monkeypatch.setattr(errors, "closed_outputs", lambda: [])
    with pytest.raises(BrokenPipeError):
        progress_bar(total=10, file=_Gone(), mininterval=0, on_closed=told.append)


def test_a_bar_where_there_is_no_stderr_draws_nothing_and_does_not_raise(monkeypatch) -> None:
    """Under pythonw (an interpreter embedded without a console) sys.stderr is None: tqdm wrote its first frame to
    it, and the AttributeError ended the command the bar was counting (`wildgan score` after errors.eprint was made to
    drop its warnings there). The bar is off there, and the loop it counts runs to its end."""
    monkeypatch.setattr("sys.stderr", None)
    assert list(progress_bar(range(3))) == [0, 1, 2]
    with progress_bar(total=3, on_closed=lambda e: None) as bar:
        bar.update(3)
