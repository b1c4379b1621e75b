"""Progress bars do not flood a log file: redrawn every LOG_INTERVAL_S seconds off a terminal."""

from __future__ import annotations

import io

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
