"""fileio's holds of a folder say so before they wait for one that another holds alone: a det.save holds its folder
alone for the whole save (writing_temps(alone=True)), so the writes that hold it shared (an evaluation's, the training
scores' cache's, a study's tables') and a Detector.load there (reading_held) waited behind it without a word, for ever
behind a save stopped with Ctrl-Z, where before they had waited only for another writer's deletions, an instant."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from saves_held import blocked_in_flock, in_thread

fcntl = pytest.importorskip("fcntl")      # (no folder locks without it: nothing is held, nothing waits)


def _said_by(monkeypatch: pytest.MonkeyPatch, who: str) -> list[str]:
    """The warnings fileio gives (its warn_user) in the thread named `who`. raising=False: run against a fileio that
    gives none, the test fails on what it checks."""
    import wildgan.fileio as fileio

    said: list[str] = []
    real = getattr(fileio, "warn_user", None)

    def warn(message: str, *args: Any) -> None:
        if threading.current_thread().name == who:
            said.append(message)
        elif real is not None:
            real(message, *args)

    monkeypatch.setattr(fileio, "warn_user", warn, raising=False)
    return said


def _held_alone(folder: Path) -> int:
    """An fd of `folder` holding it exclusively, as a det.save (or an --overwrite's removal) holds it."""
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.parametrize("reader", [False, True])
def test_a_hold_that_waits_for_a_folder_held_alone_says_so_first(reader: bool, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.fileio import reading_held, writing_temps

    folder = tmp_path / "run"
    folder.mkdir()
    said = _said_by(monkeypatch, "hold")
    monkeypatch.setattr("wildgan.fileio._WAIT_SAID_AFTER", 0.0, raising=False)    # (said at once: a quick test)

    def hold() -> str:
        with reading_held(folder) if reader else writing_temps(folder, lambda: []):
            return "held"

    blocked = blocked_in_flock(monkeypatch, "hold")
    fd = _held_alone(folder)
    out: dict[str, Any] = {}
    try:
        t = in_thread("hold", hold, threading.Event(), out)
        assert blocked.wait(60), out          # (the folder is held alone: it must wait)
        said_then = list(said)
    finally:
        os.close(fd)
    t.join(60)
    assert out == {"hold": "held"}
    assert len(said_then) == 1, said_then
    assert said_then[0].startswith(f"waiting for a write into {folder} to finish (a det.save there, or a `wildgan "
                                   f"train --overwrite` removing a run's files"), said_then
    assert "one stopped with Ctrl-Z holds it until it goes on" in said_then[0]


@pytest.mark.parametrize("reader", [False, True])
def test_a_hold_that_waits_an_instant_says_nothing(reader: bool, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer holds the folder alone for an instant too, while it deletes a killed write's temp files: a wait
    for that is no news (the grace before the word made long here, so that a loaded machine cannot outlast it)."""
    from wildgan.fileio import reading_held, writing_temps

    folder = tmp_path / "run"
    folder.mkdir()
    said = _said_by(monkeypatch, "hold")
    monkeypatch.setattr("wildgan.fileio._WAIT_SAID_AFTER", 600.0, raising=False)
    refused = threading.Event()
    real = fcntl.flock

    def flock(fd: int, op: int) -> None:
        # (its shared hold refused once, or about to block: the other lets go now)
        if threading.current_thread().name == "hold" and op & fcntl.LOCK_SH:
            try:
                return real(fd, op | fcntl.LOCK_NB)
            except BlockingIOError:
                refused.set()
                if op & fcntl.LOCK_NB:
                    raise
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)

    def hold() -> str:
        with reading_held(folder) if reader else writing_temps(folder, lambda: []):
            return "held"

    fd = _held_alone(folder)
    out: dict[str, Any] = {}
    try:
        t = in_thread("hold", hold, threading.Event(), out)
        assert refused.wait(60), out
    finally:
        os.close(fd)
    t.join(60)
    assert out == {"hold": "held"} and said == []


@pytest.mark.parametrize("reader", [False, True])
def test_the_word_of_a_wait_points_at_the_callers_line(reader: bool, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # errors.warn_user located the word in contextlib.py, the frame of the `with` that entered the hold (its
    # __enter__, outside the package), not at the caller's line as every other warning of wildgan's (to filter by
    # module, to see which line waited): det.save's word that it waits too (writing_temps(alone=True))
    from wildgan.errors import WildganWarning
    from wildgan.fileio import reading_held, writing_temps

    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch.setattr("wildgan.fileio._WAIT_SAID_AFTER", 0.0, raising=False)    # (said at once: a quick test)
    blocked = blocked_in_flock(monkeypatch, threading.current_thread().name)
    fd = _held_alone(folder)

    def let_go() -> None:
        blocked.wait(60)
        os.close(fd)

    t = threading.Thread(target=let_go)
    t.start()
    try:
        with pytest.warns(WildganWarning, match=f"^waiting for a write into {folder} ") as said:
            with reading_held(folder) if reader else writing_temps(folder, lambda: []):
                pass
    finally:
        t.join(120)
    assert [w.filename for w in said] == [__file__], [(w.filename, w.lineno) for w in said]
