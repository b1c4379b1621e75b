"""Threads for the tests of Detector.save holding its folder alone while it writes (test_detector_saves_at_once,
test_detector_save_temps, test_fileio_waits_said): a call run in a thread of its own, the event of det.save saying
that it waits, and the event of a thread about to block in flock for a lock another holds."""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest


def in_thread(name: str, work: Callable[[], Any], done: threading.Event, out: dict[str, Any]) -> threading.Thread:
    """A started thread named `name` that puts work()'s result, or what it raised, in out[name], then sets done."""
    def run() -> None:
        try:
            out[name] = work()
        except BaseException as e:   # (looked at in the test's thread)
            out[name] = e
        finally:
            done.set()

    t = threading.Thread(target=run, name=name)
    t.start()
    return t


def save_waits_said(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set when det.save says that it waits for another write into its folder (the warning still given)."""
    import wildgan.detector as detector_module

    seen = threading.Event()
    real = detector_module.warn_user

    def warn(message: str, *args: Any) -> None:
        if " waits for another write into " in message:
            seen.set()
        real(message, *args)

    monkeypatch.setattr(detector_module, "warn_user", warn)
    return seen


def blocked_in_flock(monkeypatch: pytest.MonkeyPatch, who: str) -> threading.Event:
    """An event set when the thread named `who` is about to block in fcntl.flock for a lock another holds (a blocking
    request that a non-blocking one would have been refused), before it blocks."""
    import fcntl

    blocked = threading.Event()
    real = fcntl.flock

    def flock(fd: int, op: int) -> None:
        if threading.current_thread().name == who and not op & fcntl.LOCK_NB and op != fcntl.LOCK_UN:
            try:
                return real(fd, op | fcntl.LOCK_NB)
            except BlockingIOError:
                blocked.set()
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    return blocked
