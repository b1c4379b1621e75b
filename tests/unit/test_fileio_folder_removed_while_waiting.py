"""A write that waited for its folder while it was removed (`wildgan train --overwrite` holds an eval-*/ folder alone,
then removes it whole) held the removed folder, not the one the atomic writes make again at its path: it kept out no
other writer there, and its clean-up of killed writers' temp files listed the new folder's files, a live writer's
among them, as if no writer held it (fileio.writing_temps)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from saves_held import blocked_in_flock, in_thread

fcntl = pytest.importorskip("fcntl")      # (no folder locks without it: nothing is held, nothing waits)


@pytest.mark.usefixtures("local_folder_locks")
@pytest.mark.parametrize("alone", [False, True], ids=["shared", "alone"])
def test_a_write_that_waited_for_a_removed_folder_holds_the_one_made_again(alone: bool, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from wildgan.fileio import writing_temps

    folder = tmp_path / "run" / "eval-x"
    folder.mkdir(parents=True)
    # (waits at once in a blocking flock, which blocked_in_flock sees; its word is not what is checked)
    monkeypatch.setattr("wildgan.fileio._WAIT_SAID_AFTER", 0.0)
    monkeypatch.setattr("wildgan.fileio._said_waiting", lambda folder: None)
    remover = os.open(folder, os.O_RDONLY)
    fcntl.flock(remover, fcntl.LOCK_EX)                 # (the --overwrite's hold while it removes)
    blocked = blocked_in_flock(monkeypatch, "write")
    deleted: list[list[Path]] = []
    holders: list[bool] = []

    def write() -> str:
        with writing_temps(folder, lambda: sorted(folder.glob(".*.tmp")), alone=alone) as gone:
            deleted.append(gone)
            # is this hold one that another writer of the folder at the path now must wait for?
            probe = os.open(folder, os.O_RDONLY)
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                holders.append(False)
            except BlockingIOError:
                holders.append(True)
            finally:
                os.close(probe)
        return "written"

    out: dict[str, Any] = {}
    t = in_thread("write", write, threading.Event(), out)
    try:
        assert blocked.wait(60), out                    # (it waits for the removal)
        shutil.rmtree(folder)                           # (the removal: the folder goes whole)
        folder.mkdir()                                  # (and another writer makes it again, writing a temp file)
        temp = folder / ".scores.csv.abcdefgh.tmp"
        temp.write_bytes(b"id,label\n")
        live = os.open(folder, os.O_RDONLY)
        fcntl.flock(live, fcntl.LOCK_SH)                # (held while it writes, as writing_temps holds it)
        blocked.clear()
    finally:
        if not alone:
            os.close(live)                              # (a writer killed: its temp file left, the folder free)
        os.close(remover)
    if alone:
        # a live writer: the write, held alone, waits for it (or, holding the removed folder, ends at once, the
        # live writer's temp file deleted as a killed one's); then it ends, its temp file renamed
        deadline = time.monotonic() + 60
        while t.is_alive() and not blocked.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert temp.exists(), "a live writer's temp file deleted"
        temp.rename(folder / "scores.csv")
        os.close(live)
    t.join(60)
    assert out == {"write": "written"}, out
    assert holders == [True]                            # (the folder at the path is held, not the removed one)
    # (a killed writer's temp file in the folder made again is deleted, where the hold reaches every writer there)
    assert deleted == ([[]] if alone else [[temp]]), deleted
