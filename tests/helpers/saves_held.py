"""Threads for the tests of Detector.save holding its folder alone while it writes (test_detector_saves_at_once,
test_detector_save_temps): a call run in a thread of its own, and the event of det.save saying that it waits."""

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
