"""runlog: a run folder's log.txt gets the wildgan warnings said during its session (copying_warnings), those said
before its first line held for it, each once, and the warnings themselves shown as before."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from wildgan.errors import WildganWarning, warn_user
from wildgan.runlog import RunLog, copying_warnings


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_warnings_said_before_the_first_line_are_held_and_written_before_it(tmp_path):
    log = RunLog(tmp_path / "run" / "log.txt", make_folder=True)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with copying_warnings(log):
            warn_user("the data is odd")
            # the data is read before the run folder is written: nothing yet, not even the folder
            assert not (tmp_path / "run").exists()
            log("training")
            warn_user("later")
            log("done")
    assert lines(tmp_path / "run" / "log.txt") == ["warning: the data is odd", "training", "warning: later", "done"]
    # shown as before, each, where the warnings filters sent them (here: recorded)
    assert [str(w.message) for w in shown] == ["the data is odd", "later"]


def test_a_session_that_writes_no_line_writes_nothing(tmp_path):
    # a command refused after the data was read (its warnings said) and before its first line: no folder, no file
    log = RunLog(tmp_path / "run" / "log.txt", make_folder=True)
    with warnings.catch_warnings(record=True), pytest.raises(ValueError):
        warnings.simplefilter("always")
        with copying_warnings(log):
            warn_user("the data is odd")
            raise ValueError("refused")
    assert not (tmp_path / "run").exists()


def test_each_warning_is_written_once_and_not_after_a_line_of_the_same_words(tmp_path):
    log = RunLog(tmp_path / "log.txt")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with copying_warnings(log):
            log("warning: said both ways")
            warn_user("said both ways")       # (a quiet Detector's log line, then the same words as a warning)
            warn_user("said twice")
            warn_user("said twice")
            log("warning: said twice")         # a line said is always written
    assert lines(tmp_path / "log.txt") == ["warning: said both ways", "warning: said twice", "warning: said twice"]


def test_only_the_wildgan_warnings_the_filters_show_are_copied(tmp_path):
    log = RunLog(tmp_path / "log.txt")
    before = warnings.showwarning
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with copying_warnings(log):
            warnings.warn("another library's", UserWarning)
            warnings.filterwarnings("ignore", message="ignored")
            warn_user("ignored by the user's filter")
            warnings.filterwarnings("error", message="an error")
            with pytest.raises(WildganWarning, match="an error"):
                warn_user("an error now")
            log("line")
    assert lines(tmp_path / "log.txt") == ["line"]
    assert warnings.showwarning is before                 # restored


def test_nested_blocks_copy_into_both_logs_and_none_is_no_log(tmp_path):
    outer, inner = RunLog(tmp_path / "study.txt"), RunLog(tmp_path / "cell.txt")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with copying_warnings(outer):
            outer("study")
            warn_user("before the cell")
            with copying_warnings(inner, None):
                warn_user("in the cell")
                inner("cell")
            warn_user("after the cell")
    assert lines(tmp_path / "study.txt") == ["study", "warning: before the cell", "warning: in the cell",
                                             "warning: after the cell"]
    assert lines(tmp_path / "cell.txt") == ["warning: in the cell", "cell"]


def test_a_log_placed_late_holds_its_lines_until_then(tmp_path):
    # a Detector chooses its run folder after it has read the images
    log = RunLog()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with copying_warnings(log):
            warn_user("about the images")
            log.path = tmp_path / "log.txt"
            log("training")
    assert lines(tmp_path / "log.txt") == ["warning: about the images", "training"]


def test_blocks_left_out_of_order_leave_no_copying_behind(tmp_path):
    # two Detector.fit in two threads leave their blocks in the order they ended, not the one they entered: B's exit
    # put back A's hook, and every later wildgan warning of the process went into A's finished log.txt
    a, b = RunLog(tmp_path / "a.txt"), RunLog(tmp_path / "b.txt")
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        block_a, block_b = copying_warnings(a), copying_warnings(b)
        block_a.__enter__()
        block_b.__enter__()
        a("a starts")
        b("b starts")
        warn_user("said while both run")
        block_a.__exit__(None, None, None)
        warn_user("said while b alone runs")
        block_b.__exit__(None, None, None)
        warn_user("said after both")
        assert [str(w.message) for w in shown] == ["said while both run", "said while b alone runs",
                                                   "said after both"]          # each shown, once
        a("a ends")
        b("b ends")
    assert lines(tmp_path / "a.txt") == ["a starts", "warning: said while both run", "a ends"]
    assert lines(tmp_path / "b.txt") == ["b starts", "warning: said while both run", "warning: said while b alone runs",
                                         "b ends"]


def test_a_block_copies_the_warnings_of_its_own_thread_only(tmp_path):
    # two Detector.fit in two threads: showwarning is one for the process, and each fit's log.txt got the other's
    # warnings (the other's data, the other's options)
    import threading

    from wildgan.runlog import said

    a, b = RunLog(tmp_path / "a.txt"), RunLog(tmp_path / "b.txt")
    b_in, a_said = threading.Event(), threading.Event()

    def in_b() -> None:
        with copying_warnings(b):
            b("b starts")
            b_in.set()
            a_said.wait(10)
            warn_user("b's data is odd")
            b("b ends")

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with copying_warnings(a):
            a("a starts")
            t = threading.Thread(target=in_b)
            t.start()
            assert b_in.wait(10)
            warn_user("a's data is odd")
            said("a's option does not apply")
            a_said.set()
            t.join(10)
            a("a ends")
    assert sorted(str(w.message) for w in shown) == ["a's data is odd", "b's data is odd"]
    assert lines(tmp_path / "a.txt") == ["a starts", "warning: a's data is odd", "warning: a's option does not apply",
                                         "a ends"]
    assert lines(tmp_path / "b.txt") == ["b starts", "warning: b's data is odd", "b ends"]


def _say_the_data_is_odd() -> None:
    warn_user("the data is odd")      # one source location, as a study cell's data read or a fit's is each time


def test_a_warning_said_again_in_a_later_session_reaches_its_log(tmp_path):
    # Python's default filter shows a warning once per source location (the module's __warningregistry__): the
    # second study cell (or a second Detector.fit) that met the same warning as the first never had it shown, so its
    # log.txt missed it. Each session's log gets it; the terminal says it once per session, as Python did once per
    # process; within a session once; a user's 'ignore', 'error' and 'once' filters decide as before
    first, second = RunLog(tmp_path / "cell1.txt"), RunLog(tmp_path / "cell2.txt")
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        for log in (first, second):
            with copying_warnings(log):
                log("cell")
                _say_the_data_is_odd()
                _say_the_data_is_odd()
        assert [str(w.message) for w in shown] == ["the data is odd"] * 2
        with copying_warnings(None):      # (a rank other than 0: no log, the terminal as before)
            _say_the_data_is_odd()
        assert len(shown) == 2
        warnings.simplefilter("ignore")
        with copying_warnings(RunLog(tmp_path / "ignored.txt")):
            _say_the_data_is_odd()
        warnings.simplefilter("once")           # (a filter set anew clears Python's memory of those shown, as ever)
        for _ in range(2):
            with copying_warnings(RunLog(tmp_path / "once.txt")):
                _say_the_data_is_odd()
        assert len(shown) == 3
        warnings.simplefilter("error")
        with pytest.raises(WildganWarning, match="the data is odd"), copying_warnings(RunLog(tmp_path / "e.txt")):
            _say_the_data_is_odd()
    assert lines(tmp_path / "cell1.txt") == lines(tmp_path / "cell2.txt") == ["cell", "warning: the data is odd"]


def test_last_session_unclosed_reads_a_long_log_from_its_end_in_blocks(tmp_path: Path) -> None:
    """`wildgan info RUN` and a resume ask it of log.txt, which a long run with many warnings makes tens of MB: read
    whole (and split into a list of lines) it took 0.7 s and 128 MB of memory at 50 MB. Read backwards from the end
    it stops at the last session's end or start line, and holds one block at a time however far it reads."""
    import tracemalloc

    from wildgan.runlog import last_session_unclosed

    log = tmp_path / "log.txt"
    filler = ("warning: " + "x" * 90 + "\n") * 200_000            # 20 MB
    start = "training wildgan (tiny) on 20 images (an unlabelled pile: anomalies unknown), 8x8x1, seed 0 -> RUN\n"
    log.write_text(start + filler + "trained 0.064 kimg (done); networks in RUN/network-final.json\n")
    tracemalloc.start()
    try:
        assert last_session_unclosed(log) is False
        finished_peak = tracemalloc.get_traced_memory()[1]
        with open(log, "a") as f:            # resumed, then killed: its session's start with no end after it
            f.write(start.replace("training", "resuming") + filler)
        tracemalloc.reset_peak()
        assert last_session_unclosed(log) is True
        killed_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert finished_peak < 2_000_000 and killed_peak < 2_000_000, (finished_peak, killed_peak)
    # the lines as splitlines splits them (a '\r' inside a line too), a block's edge inside a line, and not UTF-8
    log.write_bytes(start.encode() + b"\xff\xfe caf\xc3\xa9\r" + b"y" * 70_000 + b"\rstopped: interrupted\n")
    assert last_session_unclosed(log) is False
    log.write_bytes(start.encode() + b"\xff" * 70_000 + b"\nstopped: x\n" + start.encode() + b"\xc3")
    assert last_session_unclosed(log) is True
    log.write_bytes(b"")
    assert last_session_unclosed(log) is False
    assert last_session_unclosed(tmp_path / "missing.txt") is False
