"""`wildgan train --overwrite`'s removal of an old run (training.run._clear_old_run) started while another write into
the run holds its folder (an evaluation's, a det.save's), for the tests that it waits for that write and says so
(test_overwrite_beside_an_evaluation, test_detector_save_temps)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable


def overwrite_during(run: Path, write: Callable[[], object], under_way: threading.Event) -> list[str]:
    """Run write() in a thread of its own; once it sets `under_way` (holding its folder, and slow enough that the
    removal starts inside its write), remove `run` as `--overwrite` does. Returns what the removal said, after checking
    that the write ended, and without an error (one it raised is re-raised here, in the test's thread). The removal
    says its wait at once (fileio._WAIT_SAID_AFTER = 0, put back after), so that a write of a second is long enough to
    be said: the grace before a wait is said is checked by a test of its own."""
    import wildgan.fileio as fileio
    from wildgan.training.run import _clear_old_run

    errors: list[BaseException] = []

    def writer() -> None:
        try:
            write()
        except BaseException as e:   # (re-raised below, in the test's thread)
            errors.append(e)
            under_way.set()

    t = threading.Thread(target=writer)
    t.start()
    assert under_way.wait(30)
    said: list[str] = []
    grace = fileio._WAIT_SAID_AFTER
    fileio._WAIT_SAID_AFTER = 0.0
    try:
        _clear_old_run(run, is_main=True, resume=False, overwrite=True, log=said.append)
    finally:
        fileio._WAIT_SAID_AFTER = grace
    t.join(30)
    assert not t.is_alive()
    if errors:
        raise errors[0]
    return said
