"""Two det.save of one pair at once, and a Detector.load during a save: the pair on disk, and the pair a load reads,
is always one save's (Detector.save holds its folder alone while it writes, fileio.writing_temps(alone=True), and
Detector.load holds it shared while it reads, fileio.reading_held)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from saves_held import blocked_in_flock, in_thread, save_waits_said
from tiny_detector_fit import fit_quietly, random_images, tiny_fit_kwargs
from wildgan import Detector

pytestmark = pytest.mark.usefixtures("one_thread")
pytest.importorskip("fcntl")         # (no folder lock without it: Windows holds nothing, as before)


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Detector, Detector]:
    """Two Detectors of other networks and other thresholds."""
    where = tmp_path_factory.mktemp("saves_at_once")
    return (fit_quietly(Detector(**tiny_fit_kwargs(where / "a")), random_images(0)),
            fit_quietly(Detector(**tiny_fit_kwargs(where / "b")), random_images(1)))


class _Between:
    """os.replace that stops the thread named `who` after it renamed the file whose name ends with `after` (the
    weights, renamed before the JSON), until go_on is set: a save caught between its two renames."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, who: str, after: str) -> None:
        self.stopped, self.go_on = threading.Event(), threading.Event()
        real = os.replace

        def replace(src: Any, dst: Any, **kw: Any) -> None:
            real(src, dst, **kw)
            if threading.current_thread().name == who and str(dst).endswith(after):
                self.stopped.set()
                assert self.go_on.wait(120)

        monkeypatch.setattr(os, "replace", replace)

    def go_on_once_held_or_done(self, stopped: threading.Thread, other: threading.Thread, held: threading.Event,
                                done: threading.Event) -> None:
        """Let the save stopped here (thread `stopped`) go on once `other`, started meanwhile, is `held` (waiting for
        the folder) or `done` (it ran unheld), whichever comes: no timing decides which is looked at; then wait for
        both threads to end."""
        while not (held.wait(0.05) or done.is_set()):
            assert other.is_alive()
        self.go_on.set()
        stopped.join(120)
        other.join(120)


@pytest.mark.filterwarnings("ignore::wildgan.errors.WildganWarning")
def test_two_saves_of_one_pair_at_once_leave_one_saves_pair(two: tuple[Detector, Detector], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # save A stops between its weights' rename and its JSON's; save B of the same PATH then ran whole, and A's JSON
    # went in beside B's weights: a pair of two saves, which Detector.load refused (its sha256 another)
    a, b = two
    path = tmp_path / "models" / "m"
    between = _Between(monkeypatch, "A", ".safetensors")
    b_waits, b_done = save_waits_said(monkeypatch), threading.Event()
    out: dict[str, Any] = {}
    ta = in_thread("A", lambda: a.save(path), threading.Event(), out)
    assert between.stopped.wait(120)
    tb = in_thread("B", lambda: b.save(path), b_done, out)
    # B either waits for A (and says so) or, unheld, runs whole: no timing decides which is looked at
    between.go_on_once_held_or_done(ta, tb, b_waits, b_done)
    assert not isinstance(out.get("A"), BaseException) and not isinstance(out.get("B"), BaseException), out
    monkeypatch.undo()
    loaded = Detector.load(path)
    # B began after A had written its files, so B's is the pair there (A's, whole, in between)
    assert loaded.threshold_ == b.threshold_ and list(loaded.decision_scores_) == list(b.decision_scores_)
    assert b_waits.is_set()


@pytest.mark.filterwarnings("ignore::wildgan.errors.WildganWarning")      # (the load's word that it waits)
def test_a_load_during_a_save_reads_one_saves_pair(two: tuple[Detector, Detector], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # a load between a save's two renames read the new weights beside the old JSON: refused, its sha256 another
    a, b = two
    path = tmp_path / "m"
    a.save(path)
    between = _Between(monkeypatch, "save", ".safetensors")
    load_done = threading.Event()
    out: dict[str, Any] = {}
    ts = in_thread("save", lambda: b.save(path), threading.Event(), out)
    assert between.stopped.wait(120)
    # the load either waits for the save's renames (the folder held alone) or reads at once: let the save go on
    # once the load is blocked in its lock, or done (the lock watched before the load starts, which may reach it
    # at once)
    blocked = blocked_in_flock(monkeypatch, "load")
    tl = in_thread("load", lambda: Detector.load(path), load_done, out)
    between.go_on_once_held_or_done(ts, tl, blocked, load_done)
    assert not isinstance(out.get("save"), BaseException), out
    loaded = out["load"]
    assert not isinstance(loaded, BaseException), loaded
    assert loaded.threshold_ == b.threshold_



def test_a_load_that_waits_for_a_save_says_so_first(two: tuple[Detector, Detector], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # a load waited without a word for as long as a save held the folder: one stopped with Ctrl-Z (or at a debugger's
    # breakpoint) in another session kept every load of that folder waiting, in silence, until it went on
    import wildgan.detector as detector_module

    a, b = two
    path = tmp_path / "m"
    a.save(path)
    monkeypatch.setattr("wildgan.fileio._WAIT_SAID_AFTER", 0.0, raising=False)    # (said at once: a quick test)
    said: list[str] = []
    real = detector_module.warn_user
    monkeypatch.setattr(detector_module, "warn_user", lambda m, *args: said.append(m)
                        if threading.current_thread().name == "load" else real(m, *args))
    between = _Between(monkeypatch, "save", ".safetensors")
    out: dict[str, Any] = {}
    ts = in_thread("save", lambda: b.save(path), threading.Event(), out)
    assert between.stopped.wait(120)
    blocked = blocked_in_flock(monkeypatch, "load")
    tl = in_thread("load", lambda: Detector.load(path), threading.Event(), out)
    assert blocked.wait(120), out             # (the save holds the folder alone: the load must wait)
    said_then = list(said)
    between.go_on.set()
    ts.join(120)
    tl.join(120)
    assert not isinstance(out.get("load"), BaseException), out
    assert out["load"].threshold_ == b.threshold_
    assert said_then == [f"Detector.load({str(path)!r}) waits for a write into {tmp_path} to finish (a det.save "
                         f"there, or a `wildgan train --overwrite` removing a run's files; one stopped with Ctrl-Z "
                         f"holds it until it goes on)"], said_then
