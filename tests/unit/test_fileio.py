"""fileio's log appends: one line per write, whole, and a log that may fail without stopping anything."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from wildgan.fileio import append_line, append_log_line


def _writer(path: str, tag: str) -> None:
    for _ in range(200):
        append_line(Path(path), tag * 20_000)          # far above any stdio buffer: one write keeps it whole


def test_lines_appended_by_several_processes_stay_whole(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("start\n")
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(log), t)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = log.read_text().splitlines()
    assert lines[0] == "start" and len(lines) == 401
    assert all(line in ("a" * 20_000, "b" * 20_000) for line in lines[1:])


def test_a_log_line_that_cannot_be_written_is_not_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "log.txt"
    with pytest.raises(OSError):
        append_line(missing, "x")
    append_log_line(missing, "x")                      # (the log copies the terminal: never why a run stops)
    append_line(tmp_path / "log.txt", "one\n")
    append_line(tmp_path / "log.txt", "two")
    assert (tmp_path / "log.txt").read_text() == "one\ntwo\n"


def test_version_state() -> None:
    from wildgan.fileio import version_state

    assert [version_state(v, 2) for v in (1, 2, 3)] == ["ok", "ok", "newer"]
    assert {version_state(v, 2) for v in (0, -1, True, 1.0, "1", None)} == {"damaged"}
