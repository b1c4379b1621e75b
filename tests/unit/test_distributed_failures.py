"""How a torchrun job's failure is told in its run folder (training.distributed: record_failure, explain_failure),
without processes: the contexts are made by hand, a collective's error is one torch.distributed raises here."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as tdist

from wildgan.training.distributed import (DistContext, explain_failure, raised_in_collective, record_failure,
                                          sigterm_deferred)


def _ctx(rank: int, job: str = "job-a") -> DistContext:
    return DistContext(rank=rank, world=2, local_rank=rank, device=torch.device("cpu"), backend="gloo", job=job)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as e:
        return e


def _collective_error() -> BaseException:
    try:
        tdist.all_reduce(torch.zeros(1))           # no process group: raised inside torch.distributed, as gloo's are
    except Exception as e:
        return e
    raise AssertionError("all_reduce without a process group did not fail")


def test_rank_1_records_its_error_and_rank_0_names_it(tmp_path: Path):
    (tmp_path / "log.txt").write_text("training ...\n")
    err = _raised(RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB"))
    path = record_failure(tmp_path, err, _ctx(1))
    assert path == tmp_path / "rank-1-error.txt"
    line = f"rank 1 of 2 stopped: RuntimeError: CUDA out of memory. Tried to allocate 2 GiB (traceback in {path})"
    assert (tmp_path / "log.txt").read_text().splitlines() == ["training ...", line]
    assert "Traceback (most recent call last)" in path.read_text()

    echo = _collective_error()
    assert explain_failure(tmp_path, _ctx(0), echo) == (
        f"rank 1 of 2 failed: RuntimeError: CUDA out of memory. Tried to allocate 2 GiB (traceback in {path}); "
        f"then on rank 0: {echo}")
    # the record of another job (an earlier one, in the same folder) is not this job's cause
    assert explain_failure(tmp_path, _ctx(0, job="job-b"), _raised(OSError("disk full"))) == "disk full"
    assert explain_failure(tmp_path, _ctx(0, job="job-b"), echo).startswith(
        f"another rank of the job stopped or hung, leaving no error in {tmp_path} ")


def test_a_collective_error_on_a_rank_is_not_recorded_as_its_own(tmp_path: Path):
    """Rank 0 failed first (and said so): rank 1's failed collective that follows is its echo, and must not be the
    last word in log.txt; nor is a SIGTERM raised while such an error was being handled (torchrun's, after a peer
    ended)."""
    echo = _collective_error()
    assert raised_in_collective(echo)
    try:
        try:
            raise echo
        except Exception:
            raise KeyboardInterrupt   # (what the CLI's SIGTERM handler does, mid-handling)
    except KeyboardInterrupt as e:
        assert raised_in_collective(e)
    assert not raised_in_collective(_raised(RuntimeError("bad")))
    assert record_failure(tmp_path, echo, _ctx(1)) is None
    assert record_failure(tmp_path, _raised(RuntimeError("bad")), _ctx(0)) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("other_thread", [False, True])
def test_sigterm_waits_for_the_failure_record(other_thread: bool):
    # (with another thread alive, as gloo's and torch's are, a blocked signal mask of the main thread alone let the
    # kernel hand SIGTERM to that thread, and the handler ran in the middle of the block: CI saw it)
    class Term(Exception):
        pass

    def term(signum: int, frame: object) -> None:
        raise Term

    import threading

    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    if other_thread:
        worker.start()
    saved = signal.signal(signal.SIGTERM, term)
    done = []
    try:
        with pytest.raises(Term):
            with sigterm_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)             # (time for another thread to take the signal, as in CI)
                done.append("written")
        assert done == ["written"]
    finally:
        signal.signal(signal.SIGTERM, saved)
        stop.set()
