"""revGE's review of 8bed1eb8 (fixJY: from_run's lazy training scores, read once under a lock): a run moved or
deleted since from_run is refused as gone, not as 'trained again since' with advice to call from_run on a folder that
is not there; two Detectors read their own runs at the same time (one lock for every Detector made a thread pool of
runs read them one after another); a process forked while another thread reads can read its own."""

from __future__ import annotations

import os
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import test_fixJY as lazy_run
from test_fixJY import _copy_run, _from_run, _x
from wildgan.errors import DataError

# (test_fixJY's fixtures: the tiny run built once, and a copy of it each test)
built, run = lazy_run.built, lazy_run.run


@pytest.mark.parametrize("how", ["moved", "deleted"])
def test_a_run_moved_or_deleted_since_from_run_is_refused_as_gone(run: Path, tmp_path: Path, how: str) -> None:
    det = _from_run(run)
    if how == "moved":
        shutil.move(str(run), str(tmp_path / "elsewhere"))
    else:
        shutil.rmtree(run)
    with pytest.raises(DataError) as e:
        det.predict(_x())
    msg = str(e.value)
    # (it said the run was trained again since, and advised from_run of the very folder that is gone)
    assert "trained again" not in msg and "Detector.predict" in msg and str(run) in msg, msg
    assert "is not there" in msg and "moved or deleted" in msg, msg
    assert det.decision_function(_x()).shape == (5,)     # (needs no training scores)
    assert "_pending_run_scores" in vars(det)            # still to be read once the run is back
    shutil.move(str(tmp_path / "elsewhere"), str(run)) if how == "moved" else None
    if how == "moved":
        assert np.isfinite(det.threshold_)


def _fake_scores(n: int = 40) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.normal(size=n) for k in ("a", "L_n", "L_o", "L_r", "A", "z_norm")}


def test_two_detectors_read_their_own_runs_at_the_same_time(built: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two Detectors of two runs, asked for their thresholds by two threads (a thread pool over runs): each read
    waits for the other to have started, which one lock for every Detector never let happen (the second read waited
    for the first to end: a pool of runs read one after another)."""
    import wildgan.scoring.train_scores as ts

    dets = [_from_run(_copy_run(built, tmp_path / str(i))) for i in range(2)]
    both = threading.Barrier(2, timeout=10)
    met: list[bool] = []

    def reading(*a: Any, **kw: Any) -> dict[str, np.ndarray]:
        try:
            both.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)
        return _fake_scores()

    monkeypatch.setattr(ts, "run_training_scores", reading)
    got: list[float] = []
    threads = [threading.Thread(target=lambda d=d: got.append(d.threshold_)) for d in dets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 2 and met == [True, True], met


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_process_forked_while_another_thread_reads_reads_its_own(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process forked (multiprocessing's fork, os.fork) while a thread of its parent reads a Detector's training
    scores: the child, where that thread is not, reads them itself (a lock held by the parent's reading thread was
    held in the child for ever: it hung)."""
    import wildgan.scoring.train_scores as ts

    det = _from_run(run)
    parent = os.getpid()
    started, go_on = threading.Event(), threading.Event()

    def reading(*a: Any, **kw: Any) -> dict[str, np.ndarray]:
        if os.getpid() == parent:
            started.set()
            go_on.wait(30)
        return _fake_scores()

    monkeypatch.setattr(ts, "run_training_scores", reading)
    reader = threading.Thread(target=lambda: det.threshold_)
    reader.start()
    try:
        assert started.wait(30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")             # (Python 3.12's warning of a fork with threads running)
            pid = os.fork()
        if pid == 0:                                    # the child: its own read, then out without pytest's exit
            code = 1
            try:
                code = 0 if np.isfinite(det.threshold_) else 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        assert done and os.waitstatus_to_exitcode(status) == 0, "the forked child hung reading its own scores"
    finally:
        go_on.set()
        reader.join(30)
    assert "_pending_run_scores" not in vars(det)
