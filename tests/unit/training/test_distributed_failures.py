"""How a torchrun job's failure is told in its run folder (training.distributed: record_failure, explain_failure),
and on the terminal of sharded scoring (peer_failure), without processes: the contexts are made by hand, a
collective's error is one torch.distributed raises here. And the timeouts init_distributed gives the process groups
(one process: a world of 1)."""

from __future__ import annotations

import os
import pickle
import shlex
import signal
import textwrap
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import torch.distributed as tdist

from wildgan.errors import Terminated
from wildgan.training import distributed as dist
from wildgan.training.distributed import (DistContext, StartFailed, explain_failure, nccl_timeout_unenforced,
                                          peer_failure, raised_in_collective, record_failure, record_no_answer,
                                          start_together, stops_deferred, timed_out)


@pytest.fixture
def command_words():
    """The messages made in the words of `wildgan train --distributed` / `score --distributed` (errors.option_words'
    setting during a command), which the tests marked with it compare against; a Python caller's words:
    test_a_python_caller_of_a_torchrun_job_is_told_its_own_arguments."""
    from wildgan.errors import CLI_SKIP_BAD, skip_bad_said_as

    with skip_bad_said_as(CLI_SKIP_BAD):
        yield


def _ctx(rank: int, job: str = "job-a") -> DistContext:
    return DistContext(rank=rank, world=2, local_rank=rank, device=torch.device("cpu"), backend="gloo", job=job)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as e:
        return e


def _raised_by(call: Callable[[], None]) -> BaseException:
    try:
        call()
    except BaseException as e:
        return e
    raise AssertionError(f"{call} raised nothing")


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
def test_sigterm_waits_for_the_failure_record(other_thread: bool, handlers_kept):
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
    signal.signal(signal.SIGTERM, term)
    done = []
    try:
        with pytest.raises(Term):
            with stops_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)             # (time for another thread to take the signal, as in CI)
                done.append("written")
        assert done == ["written"]
    finally:
        stop.set()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_deferred_puts_back_the_default_for_a_handler_installed_from_c(monkeypatch, signum: int):
    """signal.signal returns None for a handler installed from C (an embedding program), which it cannot take back:
    the block's end raised TypeError putting None back. It puts the default action back instead."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    real = signal.signal
    put: list[tuple[int, object]] = []

    def fake(s: int, handler: object) -> object:
        put.append((s, handler))
        old = real(s, handler)
        return None if s == signum and len([p for p in put if p[0] == s]) == 1 else old    # (as for a C handler)

    monkeypatch.setattr(signal, "signal", fake)
    try:
        with stops_deferred():
            pass
        assert [h for s, h in put if s == signum][-1] is signal.SIG_DFL
        assert [h for s, h in put if s != signum][-1] is saved[next(s for s in saved if s != signum)]
    finally:
        for s, h in saved.items():
            real(s, h)


def test_a_ctrl_c_in_a_deferred_block_waits_for_its_end():
    """A Ctrl-C (SIGINT) as a commit was written (`wildgan score`'s CSV and the removal of its chunk folder, the
    final networks' two files) raised KeyboardInterrupt in the middle of it: it is held until the block ends, then
    raised by Python's own handler, which is back in place."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    done = []
    with pytest.raises(KeyboardInterrupt):
        with stops_deferred() as held:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            done.append(list(held))
    assert done == [[signal.SIGINT]]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_held_stops_are_delivered_in_order_to_the_handlers_put_back_exactly(handlers_kept):
    got: list[int] = []

    def term(signum: int, frame: object) -> None:
        got.append(signum)

    signal.signal(signal.SIGTERM, term)
    signal.signal(signal.SIGINT, term)
    with stops_deferred():
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)       # (one stop: delivered once)
        assert got == []
    assert got == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is term and signal.getsignal(signal.SIGINT) is term
    # a caller that tells the stop itself clears what was held: nothing is delivered
    with stops_deferred() as held:
        signal.raise_signal(signal.SIGTERM)
        held.clear()
    assert got == [signal.SIGTERM, signal.SIGINT]
    # an ignored SIGINT (nohup's, a background job's) stays ignored: nothing held, nothing raised
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with stops_deferred() as held:
        signal.raise_signal(signal.SIGINT)
        assert held == [] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and got == [signal.SIGTERM, signal.SIGINT]


def test_a_second_ctrl_c_ends_a_deferred_block_at_once():
    """The way out of a commit that does not end (a stalled disk), as in training's loop: the second Ctrl-C raises
    KeyboardInterrupt there, once (not again as the block ends)."""
    steps = []
    with pytest.raises(KeyboardInterrupt) as e:
        with stops_deferred():
            signal.raise_signal(signal.SIGINT)
            steps.append("held")
            signal.raise_signal(signal.SIGINT)
            steps.append("not reached")
    assert steps == ["held"] and e.value.__context__ is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_block_that_fails_raises_its_own_error_not_the_stop_it_held(signum: int, handlers_kept):
    """A stop held through a commit that then failed (a full disk) was delivered over the error: the stop's exception
    (Ctrl-C's KeyboardInterrupt, the CLI's Terminated) took its place, and the error was never said. The error goes
    up; the stop is not delivered, and the handlers are back."""
    got: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, f: got.append(s))
    with pytest.raises(OSError, match="No space left"):
        with stops_deferred() as held:
            signal.raise_signal(signum)
            assert held == [signum]
            raise OSError(28, "No space left on device")
    assert got == [] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with stops_deferred():                     # (nothing held over from the failed block)
        pass
    assert got == []


def test_after_a_stop_the_first_ctrl_c_in_a_deferred_block_is_the_second(handlers_kept):
    """Training's end is written after a Ctrl-C in the last round (resume.StopFlag, where a second one raises at
    once): the block held the next Ctrl-C as a first, and only a third got out of a write that did not end."""
    got: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, f: got.append(s))
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with stops_deferred(stopping=True) as held:
            signal.raise_signal(signal.SIGTERM)        # (a scheduler's: still held)
            steps.append(list(held))
            signal.raise_signal(signal.SIGINT)
            steps.append("not reached")
    assert steps == [[signal.SIGTERM]] and got == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_stops_deferred_off_the_main_thread_changes_nothing():
    import threading

    seen: list[object] = []

    def work() -> None:
        with stops_deferred() as held:
            seen.append((held, signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)))

    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [([], *before)]


@pytest.mark.usefixtures("command_words")
def test_a_timed_out_collective_is_told_as_a_hung_rank(tmp_path: Path):
    """A peer that hangs makes the collective give up after --dist-timeout: rank 0 says so, and what to raise when
    the wait was legitimate work of one rank; not that a peer stopped without a word."""
    echo = _raised(tdist.DistError("[gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting 6000ms for recv "
                                   "operation to complete"))
    ctx = DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"), backend="gloo", job="j",
                      timeout_s=6.0)
    assert timed_out(echo) and not timed_out(_collective_error()) and not timed_out(_raised(TimeoutError("x")))
    assert explain_failure(tmp_path, ctx, echo) == (
        "no answer from another rank within 0.1 min (--dist-timeout): a rank hung, or worked alone longer than that "
        "(then give a larger --dist-timeout); torchrun's report on the terminal shows the ranks it had to stop with a "
        f"signal. On rank 0: {echo}")


def _timeout_error() -> BaseException:
    return _raised(tdist.DistError("[gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting 6000ms for recv "
                                   "operation to complete"))


@pytest.mark.usefixtures("command_words")
def test_a_rank_whose_collective_timed_out_says_so_in_the_log(tmp_path: Path):
    """Rank 0 hung (it writes no `stopped:` line, and torchrun's SIGTERM ends it without one): rank 1, which waited for
    it in vain, leaves the log's last word, unless a rank of this job recorded an error of its own (the cause; the
    timeout is then its noise). Neither rank 0 (its `stopped:` line says it) nor an error that is not a timeout."""
    (tmp_path / "log.txt").write_text("training ...\n")
    ctx = DistContext(rank=1, world=3, local_rank=1, device=torch.device("cpu"), backend="gloo", job="job-a",
                      timeout_s=6.0)
    hung = _timeout_error()
    assert record_no_answer(tmp_path, hung, ctx)
    line = ("rank 1 of 3 stopped: no answer from another rank within 0.1 min (--dist-timeout): a rank hung, or worked "
            "alone longer than that (then give a larger --dist-timeout); torchrun's report on the terminal shows the "
            f"ranks it had to stop with a signal. On rank 1: DistError: {hung}")
    assert (tmp_path / "log.txt").read_text().splitlines() == ["training ...", line]
    try:                                       # torchrun's SIGTERM while the timeout was handled: still its line
        try:
            raise hung
        except Exception:
            raise KeyboardInterrupt
    except KeyboardInterrupt as e:
        assert record_no_answer(tmp_path, e, ctx)
    assert (tmp_path / "log.txt").read_text().splitlines()[-1] == line

    (tmp_path / "log.txt").write_text("")
    assert not record_no_answer(tmp_path, hung, _ctx(0))
    assert not record_no_answer(tmp_path, _collective_error(), ctx)          # a peer gone: told by its record or rank 0
    assert not record_no_answer(tmp_path, _raised(RuntimeError("timed out reading the data")), ctx)     # its own
    assert not record_no_answer(tmp_path / "nothere", hung, ctx) and not (tmp_path / "nothere").exists()
    record_failure(tmp_path, _raised(RuntimeError("CUDA out of memory")), DistContext(
        rank=2, world=3, local_rank=2, device=torch.device("cpu"), backend="gloo", job="job-a"))
    (tmp_path / "log.txt").write_text("")
    assert not record_no_answer(tmp_path, hung, ctx)                          # rank 2's own error is the cause
    assert record_no_answer(tmp_path, hung, DistContext(rank=1, world=3, local_rank=1, device=torch.device("cpu"),
                                                        backend="gloo", job="job-b", timeout_s=6.0))  # an earlier job's
    assert (tmp_path / "log.txt").read_text().startswith("rank 1 of 3 stopped: no answer from another rank")


@pytest.mark.usefixtures("command_words")
def test_a_rank_0_that_was_only_slow_says_the_timeout_was_too_short(tmp_path: Path):
    """Rank 0 worked alone longer than --dist-timeout (not hung): rank 1 gave up and left; rank 0 woke to a closed
    connection. Its line said a peer vanished without a word, under rank 1's 'no answer' line: a contradiction that hid
    the cause, a timeout too short for the work."""
    (tmp_path / "log.txt").write_text("")
    ctx1 = DistContext(rank=1, world=2, local_rank=1, device=torch.device("cpu"), backend="gloo", job="job-a",
                       timeout_s=6.0)
    assert record_no_answer(tmp_path, _timeout_error(), ctx1)
    ctx0 = DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"), backend="gloo", job="job-a",
                       timeout_s=6.0)
    echo = _collective_error()
    assert explain_failure(tmp_path, ctx0, echo) == (
        "rank 1 of 2 gave up waiting for rank 0 after 0.1 min (--dist-timeout) and stopped, while rank 0 worked alone "
        f"for longer (a checkpoint write, a slow disk?): give a larger --dist-timeout. On rank 0: {echo}")
    # an earlier job's note is not this job's cause
    other = DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"), backend="gloo", job="job-b")
    assert explain_failure(tmp_path, other, echo).startswith("another rank of the job stopped or hung")


@pytest.mark.usefixtures("command_words")
def test_a_rank_that_waited_in_vain_for_rank_0s_start_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """start_together's agreement timed out (rank 0 stuck reading the data or the run folder): rank 1, which started,
    says so in log.txt; one that failed itself raises its own error, as before, without the line."""
    hung = _timeout_error()

    def gather(*args, **kw):
        raise hung

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    (tmp_path / "log.txt").write_text("")
    ctx = DistContext(rank=1, world=2, local_rank=1, device=torch.device("cpu"), backend="gloo", job="j",
                      timeout_s=6.0)
    with pytest.raises(tdist.DistError):
        start_together(ctx, lambda: "started", tmp_path)
    assert (tmp_path / "log.txt").read_text().startswith("rank 1 of 2 stopped: no answer from another rank within "
                                                         "0.1 min (--dist-timeout)")

    def refuse() -> None:
        raise RuntimeError("no such data")

    (tmp_path / "log.txt").write_text("")
    with pytest.raises(RuntimeError, match="no such data"):
        start_together(ctx, refuse, tmp_path)
    assert (tmp_path / "log.txt").read_text() == ""


def test_a_rank_that_could_not_start_is_named_without_an_echo_of_rank_0(tmp_path: Path):
    """start_together's account: every rank started but rank 1, which recorded why; rank 0 had no error of its own."""
    record = record_failure(tmp_path, _raised(RuntimeError("CUDA error: out of memory")), _ctx(1))
    assert explain_failure(tmp_path, _ctx(0), StartFailed("rank 1 of 2 could not start: ...")) == (
        f"rank 1 of 2 could not start: RuntimeError: CUDA error: out of memory (traceback in {record})")


@pytest.mark.usefixtures("command_words")
def test_scoring_ranks_say_when_their_error_is_another_ranks_end():
    echo = _collective_error()
    said = peer_failure(echo, 0, 1800.0)
    assert said is not None and said.startswith("another rank of the job stopped (its own error, if it could "
                                                "print one, is on the terminal above, tagged with its rank")
    assert said.endswith(f"On rank 0: {type(echo).__name__}: {echo}")
    try:                                       # torchrun's SIGTERM in the middle of it: the echo is still quoted
        try:
            raise echo
        except Exception:
            raise KeyboardInterrupt
    except KeyboardInterrupt as e:
        assert peer_failure(e, 0, 1800.0) == said
    hung = _raised(tdist.DistError("Timed out waiting 1800000ms for recv operation to complete"))
    assert peer_failure(hung, 2, 1800.0).startswith("no answer from another rank within 30 min (--dist-timeout)")
    assert peer_failure(_raised(OSError("disk full")), 0, 1800.0) is None      # its own


# A collective that fails as gloo's does once its peer has ended (a plain RuntimeError as the wait returns), played by
# code that Python takes for torch.distributed's own: `then()` is the first Python code that runs after the failure,
# where the handler of a signal that came during the wait runs (torch's c10d_logger wrapper handles the error there).
_FAKE_COLLECTIVE = compile(textwrap.dedent("""
    def collective(then):
        try:
            raise RuntimeError("Connection closed by peer [127.0.0.1]:29500")
        except Exception:
            then()
            raise

    def wait():
        raise KeyboardInterrupt        # Ctrl-C's handler (C code: no frame of its own) as a wait that went well returns
"""), os.path.join(os.path.dirname(tdist.__file__), "_wildgan_test_collective.py"), "exec")


def _fake_collective(name: str = "collective") -> Callable:
    space: dict = {}
    exec(_FAKE_COLLECTIVE, space)
    return space[name]


def _signalled(while_waiting: bool, kind: type[BaseException] = Terminated) -> BaseException:
    """The exception a rank's signal handler raised (`kind`, as the CLI's for SIGTERM) after its collective failed:
    `while_waiting`, the signal came during the wait (its handler runs inside the call, as it returns); else after it
    (in the rank's own handling of the error: torchrun's SIGTERM once a peer ended)."""
    def handler() -> None:
        raise kind("terminated by SIGTERM") if kind is Terminated else kind()

    collective = _fake_collective()
    try:
        if while_waiting:
            collective(handler)
        else:
            try:
                collective(lambda: None)
            except RuntimeError:
                handler()
    except kind as e:
        return e
    raise AssertionError("no signal raised")


@pytest.mark.parametrize("kind", [Terminated, KeyboardInterrupt])
def test_a_signal_that_came_while_a_rank_waited_is_its_own_stop_not_an_echo(tmp_path: Path, kind: type):
    """Rank 0 had finished its part and waited for the others (a gather, a barrier) when the job's SIGTERM (or Ctrl-C)
    came, then the collective failed as the peers ended on the same signal. Its handler runs as the wait returns: the
    rank said that another rank stopped (sharded scoring: `error: another rank of the job stopped`, exit 2; training's
    log.txt: `stopped: another rank of the job stopped or hung`) instead of terminated. One that comes after the
    failure (torchrun's, once a peer ended) stays the echo."""
    during, after = _signalled(True, kind), _signalled(False, kind)
    assert not raised_in_collective(during) and not timed_out(during)
    assert peer_failure(during, 0, 1800.0) is None                         # the CLI then says `terminated`, 143
    own = "terminated by SIGTERM" if kind is Terminated else "interrupted by SIGINT (Ctrl-C)"
    assert explain_failure(tmp_path, _ctx(0), during) == own
    assert raised_in_collective(after)
    assert peer_failure(after, 0, 1800.0).startswith("another rank of the job stopped")
    assert explain_failure(tmp_path, _ctx(0), after).startswith("another rank of the job stopped or hung")
    # (no collective failed: a Ctrl-C raised in torch.distributed's frames is no collective's error either)
    assert not raised_in_collective(_raised_by(_fake_collective("wait")))


@pytest.mark.parametrize("rank", [0, 1])
def test_sigterm_while_a_rank_waits_for_the_gather_ends_it_as_terminated(rank: int, scoring_pile: Callable,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture):
    """`score --distributed`: a rank that has scored its chunk waits for the others in the gather when torchrun passes
    the job's SIGTERM on; the others end on it and the gather fails. The rank says it was terminated (tagged) and exits
    143, as during its own scoring, not `error: another rank of the job stopped`, exit 2."""
    from wildgan.cli import main

    pile, run, model = scoring_pile(8)
    collective = _fake_collective()
    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: _ctx(rank))
    for name, value in (("RANK", rank), ("WORLD_SIZE", 2), ("LOCAL_RANK", rank)):
        monkeypatch.setenv(name, str(value))
    monkeypatch.setattr(tdist, "all_gather_object", lambda *a, **k: collective(
        lambda: os.kill(os.getpid(), signal.SIGTERM)))
    assert main(["score", str(run), "--data", str(pile), "--distributed", "--device", "cpu",
                 "--out", "-", "--no-progress"]) == 143
    err = capsys.readouterr().err
    tag = " (rank 1 of 2)" if rank else ""
    assert err.startswith(f"wildgan{tag}: terminated by SIGTERM: torchrun sends it to every rank"), err


def test_nccl_timeout_is_enforced_unless_async_error_handling_is_off():
    assert nccl_timeout_unenforced({}) is None                                  # torch >= 2.2: 3
    assert nccl_timeout_unenforced({"TORCH_NCCL_ASYNC_ERROR_HANDLING": "1"}) is None   # torchrun's
    assert "TORCH_NCCL_ASYNC_ERROR_HANDLING=0" in nccl_timeout_unenforced({"TORCH_NCCL_ASYNC_ERROR_HANDLING": "0"})
    assert nccl_timeout_unenforced({"NCCL_ASYNC_ERROR_HANDLING": "0"}) is not None     # its name before torch 2.2
    assert nccl_timeout_unenforced({"TORCH_NCCL_ASYNC_ERROR_HANDLING": "0", "TORCH_NCCL_BLOCKING_WAIT": "1"}) is None


def _timeout(group: object) -> timedelta:
    # (torch's own record of a gloo group's timeout: no public accessor)
    return group._get_backend(torch.device("cpu")).options._timeout  # type: ignore[attr-defined]


@pytest.mark.usefixtures("command_words")
def test_the_timeout_reaches_every_process_group(world_of_one, monkeypatch: pytest.MonkeyPatch):
    """--dist-timeout is the gloo groups' timeout; on a GPU job the CPU-side group (new_group does not inherit the
    default group's) gets it too, and NCCL's keeps torch's own unless given. A GPU job is played on gloo here."""
    ctx = dist.init_distributed("cpu", timeout_min=0.5)
    assert _timeout(tdist.group.WORLD) == timedelta(seconds=30) and ctx.timeout_s == 30
    dist.shutdown()

    asked: list[dict] = []
    real = tdist.init_process_group
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.setattr(tdist, "init_process_group", lambda backend, **kw: (asked.append(kw), real("gloo", **kw)))
    for minutes, nccl, ctrl in ((0.5, {"timeout": timedelta(seconds=30)}, timedelta(seconds=30)),
                                (None, {}, timedelta(minutes=30))):
        ctx = dist.init_distributed("cuda", timeout_min=minutes)
        assert ctx.backend == "nccl" and asked[-1] == nccl and _timeout(ctx.ctrl_group) == ctrl, minutes
        dist.shutdown()
    with pytest.raises(dist.WildganError, match="--dist-timeout must be a number of minutes above 0"):
        dist.init_distributed("cpu", timeout_min=0)


@pytest.mark.usefixtures("command_words")
def test_each_rank_takes_the_gpu_of_its_local_rank_or_the_cpu(monkeypatch: pytest.MonkeyPatch):
    """rank_device: cuda:LOCAL_RANK with NCCL (also on a multi-node job, whose RANK is not the GPU's number), the CPU
    with gloo; a GPU number, a device with no collectives, and a LOCAL_RANK beyond the GPUs seen are refused with
    what to give instead (torch's own was "invalid device ordinal" from set_device, or training on the CPU)."""
    from wildgan.errors import ConfigError, WildganError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dist.rank_device("auto", 1) == (torch.device("cpu"), "gloo")
    assert dist.rank_device("cpu", 3) == (torch.device("cpu"), "gloo")
    with pytest.raises(WildganError, match="no CUDA device is available"):
        dist.rank_device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    for asked in ("auto", "cuda"):
        assert dist.rank_device(asked, 3) == (torch.device("cuda", 3), "nccl")
    assert dist.rank_device("cpu", 3) == (torch.device("cpu"), "gloo")
    with pytest.raises(ConfigError, match=r"--device cuda:1 with --distributed: each rank uses the GPU of its "
                                          r"LOCAL_RANK.*give --device cuda"):
        dist.rank_device("cuda:1", 1)
    with pytest.raises(ConfigError, match="--distributed runs on cpu .gloo. or cuda .NCCL., not on mps"):
        dist.rank_device("mps", 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)     # one GPU seen, by each of two processes
    with pytest.raises(ConfigError, match=r"LOCAL_RANK=1 but sees 1 CUDA device: .*--nproc_per_node must be at most"):
        dist.rank_device("auto", 1)


def test_a_gpu_rank_binds_its_own_gpu_before_any_collective(world_of_one, monkeypatch: pytest.MonkeyPatch):
    """init_distributed on a GPU job (played on gloo, RANK 0 with LOCAL_RANK 2: a node's third process) takes the
    GPU of LOCAL_RANK, not of RANK, and makes it the current device before the process group exists: NCCL binds its
    communicator, and its object collectives stage their bytes, on the current device (else cuda:0 on every rank
    of the node)."""
    real = tdist.init_process_group
    order: list[str] = []
    monkeypatch.setenv("LOCAL_RANK", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: order.append(f"set_device {device}"))
    monkeypatch.setattr(tdist, "init_process_group",
                        lambda backend, **kw: (order.append(f"init {backend}"), real("gloo", **kw)))
    ctx = dist.init_distributed("cuda")
    assert (ctx.device, ctx.backend, ctx.local_rank) == (torch.device("cuda", 2), "nccl", 2)
    assert order == ["set_device cuda:2", "init nccl"]


def test_minibatches_the_ranks_cannot_split_are_refused_before_the_run_folder_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A minibatch whose minibatch-stddev groups (16 images: 4 groups) do not split over the ranks (3) was refused by
    the loop only, after train_run had written the folder: with --overwrite the old run was gone. Now train_run
    refuses it first (rank 0 of 3 is played here: its context set by hand), and with 2 ranks it goes on as before."""
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.errors import ConfigError
    from wildgan.training.run import train_run

    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.arange(40) % 2)
    cfg = RunConfig(data=DataConfig(data=str(data), normal=[0]), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.032, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"],
                                      device="cpu"))
    run = tmp_path / "run"
    train_run(cfg, run, progress=False, log=lambda m: None)
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    monkeypatch.setattr(dist, "_CTX", replace(_ctx(0), world=3))
    for where, overwrite in ((tmp_path / "new", False), (run, True)):
        with pytest.raises(ConfigError, match=r"a minibatch of 16 cannot be split over 3 ranks with minibatch-stddev "
                                              r"groups of 4: the number of groups \(4\) must be a multiple"):
            train_run(cfg, where, overwrite=overwrite, progress=False, log=lambda m: None)
    assert not (tmp_path / "new").exists()
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before       # the old run is all there


def test_train_run_refuses_fanogan_under_torchrun_before_the_run_folder_is_written(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch):
    """f-AnoGAN's loop has no ranks. `wildgan train --distributed --method fanogan` refused it, but the refusal lived
    in the CLI: train_run called in a process that ran init_distributed (rank 0 of 2 is played here: its context
    set by hand) went on, every rank training alone into the same folder. Now train_run refuses it first, in its own
    words (training.run.refuse_fanogan_over_ranks, the CLI's check too), and a wildgan run still goes on to the
    folder."""
    from wildgan.config import DataConfig, FAnoGANConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.errors import ConfigError
    from wildgan.training.run import train_run

    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.integers(0, 255, (40, 32, 32), dtype=np.uint8), y=np.arange(40) % 2)
    cfg = RunConfig(data=DataConfig(data=str(data), normal=[0]), net=net_config_for_preset("tiny", 32, 1),
                    train=TrainConfig(total_kimg=0.032, device="cpu"), method="fanogan",
                    fanogan=FAnoGANConfig(device="cpu", gan_iters=1, enc_iters=1))
    monkeypatch.setattr(dist, "_CTX", _ctx(0))
    with pytest.raises(ConfigError, match=r"^train_run under torchrun \(training.distributed.init_distributed\) trains "
                                          r"the wildgan method \(and search\) over several processes; f-AnoGAN trains "
                                          r"in one process: train it in a process of its own"):
        train_run(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_a_process_group_of_another_backend_is_refused(world_of_one, monkeypatch: pytest.MonkeyPatch):
    """A caller's own process group is used as it is, unless its backend is not the one the device trains with: a
    gloo group for a GPU job (played here) or an NCCL one for a CPU job ran the device collectives on the wrong one
    (NCCL refuses CPU tensors)."""
    from wildgan.errors import ConfigError

    tdist.init_process_group(backend="gloo")
    assert dist.init_distributed("cpu").backend == "gloo"           # the caller's group, as it is
    dist._CTX = None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    with pytest.raises(ConfigError, match="the process group was set up with cpu:gloo,cuda:gloo, which runs cuda "
                                          "tensors on gloo, but device cuda trains with nccl"):
        dist.init_distributed("cuda")


def test_a_process_group_of_one_backend_per_device_is_taken_by_its_device_s_backend(world_of_one,
                                                                                    monkeypatch: pytest.MonkeyPatch):
    """A caller's group set up with no backend (torch's default: gloo for the CPU, NCCL for CUDA; named 'undefined')
    or with 'cpu:gloo,cuda:nccl' runs each device's tensors on that device's backend: taken, not refused for its
    name (get_backend gives 'undefined' or the whole string, never 'gloo' or 'nccl')."""
    tdist.init_process_group()                          # (this CPU build: cpu:gloo)
    assert tdist.get_backend() == "undefined"
    assert dist.init_distributed("cpu").backend == "gloo"
    dist._CTX = None
    # a GPU job (played on gloo) in a group that runs CUDA tensors on NCCL and CPU ones on gloo
    monkeypatch.setattr(tdist, "get_backend_config", lambda group=None: "cpu:gloo,cuda:nccl")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    ctx = dist.init_distributed("cuda")
    assert (ctx.backend, ctx.device) == ("nccl", torch.device("cuda", 0)) and ctx.ctrl_group is not None


def test_train_refusing_its_out_or_a_dry_run_leaves_the_process_group(world_of_one, tmp_path: Path, capsys):
    """`train --distributed` that stops before training (its --out refused before the data is read, or --dry-run)
    frees its process group, as a failed start does, instead of leaving it to the interpreter's exit."""
    from wildgan.cli import main

    assert main(["train", "--distributed", "--device", "cpu", "--out", str(tmp_path / "nothere"), "--resume",
                 "--no-progress"]) == 2
    assert "nothing to resume (no such folder)" in capsys.readouterr().err
    assert not tdist.is_initialized()
    assert main(["train", "--distributed", "--device", "cpu", "--out", str(tmp_path / "run"), "--dry-run",
                 "--no-progress"]) == 0
    assert not tdist.is_initialized()


def test_a_divergence_every_rank_stopped_on_is_not_recorded_as_rank_1s_own(tmp_path: Path, monkeypatch):
    """The ranks decide a divergence together (from all-reduced losses, and weights alike on every rank): rank 1's
    DivergenceError is the job's, not a failure of its own that rank 0's `stopped:` line would blame on it. Rank 1 of
    a job is played in this process (its context made by hand, the collectives stubbed)."""
    import numpy as np

    from wildgan.cli import main
    from wildgan.errors import DivergenceError
    from wildgan.training import run as run_module

    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.arange(40) % 2)
    out = tmp_path / "run"
    failures = {"diverged": DivergenceError("training diverged: non-finite G/loss at 0.04 kimg"),
                "own": RuntimeError("CUDA out of memory")}

    def train_run(cfg, run_dir, **kw):
        Path(run_dir).mkdir(exist_ok=True)
        raise failures[how]

    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: _ctx(1))
    monkeypatch.setattr(dist, "start_together", lambda ctx, setup, run_dir, log=None: setup())
    monkeypatch.setattr(run_module, "train_run", train_run)
    monkeypatch.setattr(run_module, "check_training_memory", lambda cfg, device: None)
    for how in failures:
        with pytest.raises(type(failures[how])):
            main(["--debug", "train", "--distributed", "--data", str(data), "--normal", "0", "--device", "cpu",
                  "--out", str(out), "--no-progress", *(["--overwrite"] if out.exists() else [])])
        assert (out / "rank-1-error.txt").is_file() == (how == "own"), how


def test_an_error_every_rank_met_is_the_jobs_not_one_ranks_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """failing_alike (a --resume's read of the checkpoints): an error every rank met with the same message is not
    recorded by rank 1 as its own, and rank 0 says every rank met it; one that another rank did not meet (it went on,
    or failed otherwise) stays the rank's own, as does one whose agreement failed (a peer killed meanwhile). The
    other ranks' outcomes are played by a stubbed all_gather_object."""
    from wildgan.errors import CheckpointError
    from wildgan.training.distributed import failing_alike, met_by_every_rank

    others: list = []

    def gather(said, mine, group=None):
        if others == ["gone"]:
            raise _collective_error()
        said[:] = [mine, *others] if others != ["same"] else [mine, mine]

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    (tmp_path / "log.txt").write_text("")
    damaged = f"{tmp_path}/checkpoints: none of its 2 checkpoint(s) loads"

    def fail(rank: int) -> BaseException:
        with pytest.raises(CheckpointError) as got:
            with failing_alike(_ctx(rank)):
                raise CheckpointError(damaged)
        return got.value

    others[:] = ["same"]
    e1, e0 = fail(1), fail(0)
    assert met_by_every_rank(e1) and record_failure(tmp_path, e1, _ctx(1)) is None
    assert explain_failure(tmp_path, _ctx(0), e0) == f"every rank of 2: CheckpointError: {damaged}"
    assert list(tmp_path.iterdir()) == [tmp_path / "log.txt"] and (tmp_path / "log.txt").read_text() == ""

    for other in (None, "OSError: rank 0's own"):           # rank 0 went on, or failed otherwise: rank 1's own
        others[:] = [other]
        e1 = fail(1)
        assert not met_by_every_rank(e1) and record_failure(tmp_path, e1, _ctx(1)) == tmp_path / "rank-1-error.txt"
    others[:] = ["gone"]
    e1 = fail(1)
    assert not met_by_every_rank(e1) and not raised_in_collective(e1)
    others[:] = [None]
    with failing_alike(_ctx(0)):          # no error on any rank: nothing to say
        pass
    with failing_alike(None):             # one process: no agreement
        pass


def _start_as_rank_1(setup: Callable[[], object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """start_together on rank 1 (rank 0 started): what rank 1 sends the others, through pickle as gloo sends it."""
    sent = []

    def gather(said, mine, group=None):
        sent.append(pickle.loads(pickle.dumps(mine)))
        said[:] = [None, mine]

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    monkeypatch.setattr(DistContext, "barrier", lambda self: None)
    with pytest.raises(Exception):
        start_together(_ctx(1), setup, tmp_path)
    return sent[0]


@pytest.mark.parametrize("kind, carried", [("DataError", "DataError"), ("ConfigError", "ConfigError"),
                                           ("NewerFormatError", "CheckpointError"), ("RuntimeError", None)])
def test_a_rank_that_could_not_start_keeps_its_error_class_on_the_other_ranks(
        kind: str, carried: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Rank 1 could not start with a DataError naming a file only it could not read: rank 0 raised a StartFailed,
    which `except DataError` (or ValueError) missed. The ranks that started raise it as the failed rank's class too
    (a carried wildgan class, by name: a subclass goes as its carried base), still a StartFailed with the message;
    a class that is not carried (RuntimeError) stays a plain StartFailed."""
    from wildgan import errors
    from wildgan.checkpoint import NewerFormatError

    cls = {"NewerFormatError": NewerFormatError, "RuntimeError": RuntimeError}.get(kind) or getattr(errors, kind)
    message = "/data/pile/7.png: cannot identify image file"

    def setup() -> None:
        raise cls(message)

    said = _start_as_rank_1(setup, tmp_path, monkeypatch)
    monkeypatch.setattr(tdist, "all_gather_object", lambda got, mine, group=None: got.__setitem__(
        slice(None), [mine, said]))
    with pytest.raises(StartFailed) as got:
        start_together(_ctx(0), lambda: "started", tmp_path)
    assert str(got.value) == f"rank 1 of 2 could not start: {kind}: {message}"
    if carried is None:
        assert type(got.value) is StartFailed and not isinstance(got.value, ValueError)
    else:
        assert isinstance(got.value, getattr(errors, carried))
    assert isinstance(got.value, errors.DataError) == (carried == "DataError")


@pytest.mark.parametrize("kinds, raised", [(["ConfigError"], "ConfigError"), (["DataError"], "DataError"),
                                           (["DataError", "ConfigError"], "WildganError"),
                                           ([None], "WildganError"), (["os.system"], "WildganError"),
                                           # names in errors (or builtins) that are not carried: the table alone
                                           # makes a class, not whatever the module holds by that name
                                           (["TrainingInterrupted"], "WildganError"), (["Terminated"], "WildganError"),
                                           (["WildganWarning"], "WildganError"), (["ValueError"], "WildganError"),
                                           (["NewerFormatError"], "WildganError")])
def test_sharded_scoring_raises_a_ranks_error_as_its_class_on_every_rank(
        kinds: list, raised: str, monkeypatch: pytest.MonkeyPatch):
    """score --distributed (scoring.run._gather_ranks): a rank's ConfigError was raised as a plain WildganError on
    every rank, its own included (only a DataError kept its class). Now every failed rank's class, by name, and the
    one they share is raised; different classes, none carried, or a name outside errors.CARRIED_ERRORS: a
    WildganError."""
    from wildgan import errors
    from wildgan.scoring import run as scoring

    failures = [(f"rank {r}: bad {kind}", kind) for r, kind in enumerate(kinds, start=1)]
    monkeypatch.setattr(tdist, "all_gather_object", lambda got, mine, group=None: got.__setitem__(
        slice(None), [([], [], f, 0, {}) for f in [None, *failures]]))
    with pytest.raises(errors.WildganError) as got:
        scoring._gather_ranks(replace(_ctx(0), world=1 + len(kinds)), [], [], None, 0, {}, None)
    assert type(got.value) is getattr(errors, raised)
    assert str(got.value) == "; ".join(msg for msg, _ in failures)


@pytest.mark.parametrize("kind", [None, "DataError", "ConfigError", "CheckpointError", "DivergenceError"])
def test_a_start_failed_of_a_carried_class_survives_pickle(kind: str | None):
    """A StartFailed that is a DataError (ConfigError ...) too is of a class made at import: pickle looked it up as
    training.distributed.StartFailed, found the plain class, and raised a PicklingError, so a launcher passing the
    error between processes (multiprocessing, concurrent.futures) lost it. Now it comes back of the same class, with
    its message and attributes."""
    from wildgan import errors

    stop = dist._start_failed(kind, "rank 1 of 2 could not start: DataError: /data/7.png: cannot identify image file")
    stop.note = "kept"
    back = pickle.loads(pickle.dumps(stop))
    assert type(back) is type(stop) and isinstance(back, StartFailed)
    assert str(back) == str(stop) and back.note == "kept"
    assert kind is None or isinstance(back, getattr(errors, kind))


@pytest.mark.parametrize("kinds, raised", [(["DataError", "DataError"], "DataError"),
                                           (["DataError", "ConfigError"], None), (["DataError", None], None)])
def test_ranks_that_could_not_start_alike_or_not_are_told_by_the_scoring_rule(
        kinds: list, raised: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Ranks 1 and 2 of 3 could not start: the ranks that started raised the first failed rank's class, though the
    other's was another (a DataError that was half a ConfigError), where sharded scoring's gather raises a plain
    WildganError. Now both: the class when every failed rank had it, else a plain StartFailed."""
    from wildgan import errors

    said = [None, *((kind, f"{kind}: bad on rank {r}") for r, kind in enumerate(kinds, start=1))]
    monkeypatch.setattr(tdist, "all_gather_object", lambda got, mine, group=None: got.__setitem__(slice(None), said))
    monkeypatch.setattr(DistContext, "barrier", lambda self: None)
    with pytest.raises(StartFailed) as got:
        start_together(replace(_ctx(0), world=3), lambda: "started", tmp_path)
    assert str(got.value) == f"rank 1 of 3 could not start (and 1 other rank): {kinds[0]}: bad on rank 1"
    if raised is None:
        assert type(got.value) is StartFailed
    else:
        assert isinstance(got.value, getattr(errors, raised))


def test_a_scoring_rank_that_failed_raises_its_own_error_class(monkeypatch: pytest.MonkeyPatch):
    """score --distributed: the rank that failed raised the class rebuilt from its carried name, like the others (a
    NewerFormatError came out as a CheckpointError, its attributes lost; an OSError as a WildganError, exit 2 where
    one process exits 1). Now its own class and attributes, with every failed rank's message; an error that cannot be
    made from a message alone (an OSError with an errno) is raised as it is. Rank 1 of 3 is played; rank 2 failed
    too."""
    from wildgan.checkpoint import NewerFormatError
    from wildgan.errors import error_kind
    from wildgan.scoring import run as scoring

    other = ([], [], ("rank 2: RuntimeError: CUDA out of memory", None), 0, {})
    for err in (NewerFormatError("/run/checkpoints/c-000010.json: written by wildgan 9: upgrade wildgan"),
                MemoryError("decoded images"), OSError("/pile/7.png: input/output error")):
        err.where = "chunk 3"
        mine = (f"rank 1: {err}", error_kind(err))
        monkeypatch.setattr(tdist, "all_gather_object", lambda got, sent, group=None: got.__setitem__(
            slice(None), [([], [], None, 0, {}), sent, other]))
        with pytest.raises(Exception) as got:
            scoring._gather_ranks(replace(_ctx(1), world=3), [], [], mine, 0, {}, err)
        assert type(got.value) is type(err) and got.value.__cause__ is err
        assert str(got.value) == f"rank 1: {err}; rank 2: RuntimeError: CUDA out of memory"
        assert got.value.where == "chunk 3"
    err = FileNotFoundError(2, "No such file or directory", "/pile/7.png")
    with pytest.raises(FileNotFoundError) as got:
        scoring._gather_ranks(replace(_ctx(1), world=3), [], [], (f"rank 1: {err}", None), 0, {}, err)
    assert got.value is err


class _StrFromAttribute(Exception):
    """A user's class whose message is an attribute its raiser sets (not its args)."""
    made = 0

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        type(self).made += 1

    def __str__(self) -> str:
        return self.detail


class _WildganStrFromAttribute(Exception):
    """As a wildgan class would be whose __str__ reads an attribute its raiser sets."""
    __module__ = "wildgan.errors"

    def __str__(self) -> str:
        return self.detail


def test_a_scoring_rank_s_own_error_is_rebuilt_only_where_it_reads_as_the_message(monkeypatch: pytest.MonkeyPatch):
    """_own_error called str() on the rebuilt error outside its try, before copying the attributes: a class whose
    __str__ reads an attribute raised an AttributeError from the gather (or said its own old message), and a user's
    or a library's class was constructed again. Only wildgan's and built-in classes are rebuilt, attributes copied
    before the copy's message is compared; anything else is raised as it was."""
    from wildgan.scoring import run as scoring

    message = "rank 1: own; rank 2: RuntimeError: CUDA out of memory"
    made = _StrFromAttribute.made        # (a class attribute: counted from here, so a second run of the test passes)
    user = _StrFromAttribute("own")
    user.detail = "own"
    assert scoring._own_error(user, message) is user and _StrFromAttribute.made == made + 1    # (not constructed again)
    ours = _WildganStrFromAttribute("own")
    ours.detail = "own"
    assert scoring._own_error(ours, message) is ours          # (its copy reads 'own', not the message)
    rebuilt = scoring._own_error(MemoryError("decoded images"), message)
    assert type(rebuilt) is MemoryError and str(rebuilt) == message


def test_a_scoring_failure_s_unreadable_files_are_every_rank_s(monkeypatch: pytest.MonkeyPatch):
    """A DataError naming unreadable files keeps them as `unreadable` (scoring.train_scores says them again): the
    failing rank's rebuilt error copied its own list while its message named every rank's files. Every failed rank's
    list is merged, on every rank; where a failed rank sent none (another failure), the error has none."""
    from wildgan.data.decode_pool import unreadable_files_error
    from wildgan.errors import DataError, error_kind
    from wildgan.scoring import run as scoring

    def failure(rank: int, e: Exception) -> tuple:
        return (f"rank {rank}: {e}", error_kind(e), getattr(e, "unreadable", None))

    mine = unreadable_files_error(["/pile/1.png: truncated"])
    for other, merged in ((unreadable_files_error(["/pile/7.png: truncated", "/pile/9.png: not an image"]),
                           ["/pile/1.png: truncated", "/pile/7.png: truncated", "/pile/9.png: not an image"]),
                          (DataError("/pile/8.png: a folder"), None)):
        sent = [([], [], None, 0, {}), ([], [], failure(1, mine), 0, {}), ([], [], failure(2, other), 0, {})]
        monkeypatch.setattr(tdist, "all_gather_object", lambda got, _, group=None: got.__setitem__(slice(None), sent))
        for rank, err in ((1, mine), (0, None)):        # the failed rank, and one that did not fail
            with pytest.raises(DataError) as got:
                scoring._gather_ranks(replace(_ctx(rank), world=3), [], [], sent[rank][2], 0, {}, err)
            assert getattr(got.value, "unreadable", None) == merged, rank


@pytest.mark.parametrize("kinds, raised", [(["DataError"], "DataError"), (["DataError", "DataError"], "DataError"),
                                           (["DataError", "CheckpointError"], "WildganError"),
                                           (["RuntimeError"], "WildganError")])
def test_rank_0_raises_a_training_ranks_recorded_error_as_its_class(
        kinds: list, raised: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A rank that failed alone in training leaves RUN/rank-R-error.txt; rank 0 meets only gloo's closed connection,
    and raised a plain WildganError naming that rank's class, which `except DataError` missed. The record now names
    the class (its `carried as:` line, the file still read first line first by a person), and rank 0 raises it as
    that class when every recorded rank's is the same (errors.rebuilt_error). Ranks of 3 are played: their records
    written by record_failure, rank 0's training stubbed to fail in a collective; the CLI with --debug re-raises."""
    from wildgan import errors
    from wildgan.cli import main
    from wildgan.training import run as run_module

    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.arange(40) % 2)
    out = tmp_path / "run"
    made = {"RuntimeError": RuntimeError, **errors.CARRIED_ERRORS}

    def train_run(cfg, run_dir, **kw):
        Path(run_dir).mkdir(exist_ok=True)
        for r, kind in enumerate(kinds, start=1):
            record_failure(Path(run_dir), _raised(made[kind](f"/pile/{r}.png: truncated")),
                           replace(_ctx(r), world=3))
            time.sleep(0.01)                   # (records are read earliest first)
        raise _collective_error()

    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: replace(_ctx(0), world=3))
    monkeypatch.setattr(dist, "start_together", lambda ctx, setup, run_dir, log=None: setup())
    # (the default minibatches, 32 minibatch-stddev groups, do not split over 3 ranks: the start would refuse them)
    monkeypatch.setattr(dist, "check_batches", lambda minibatch, nc, world: None)
    monkeypatch.setattr(run_module, "train_run", train_run)
    monkeypatch.setattr(run_module, "check_training_memory", lambda cfg, device: None)
    with pytest.raises(errors.WildganError) as got:
        main(["--debug", "train", "--distributed", "--data", str(data), "--normal", "0", "--device", "cpu",
              "--out", str(out), "--no-progress"])
    assert type(got.value) is getattr(errors, raised)
    record = out / "rank-1-error.txt"
    assert str(got.value).startswith(f"rank 1 of 3 failed{' (and 1 other rank)' if len(kinds) > 1 else ''}: "
                                     f"{kinds[0]}: /pile/1.png: truncated (traceback in {record}); then on rank 0: ")
    head = record.read_text().splitlines()
    assert head[0] == f"rank 1 of 3 stopped: {kinds[0]}: /pile/1.png: truncated"
    assert (f"carried as: {kinds[0]}" in head) == (kinds[0] != "RuntimeError")


@pytest.mark.parametrize("rank, when, stop", [(0, "as training ended", "SIGTERM"),
                                              (1, "as training ended", "SIGTERM"),
                                              (0, "after the training", "SIGTERM"),
                                              (0, "after the training", "SIGHUP")])
def test_a_distributed_stop_as_training_ended_names_the_torchrun_command_that_finishes_it(
        rank: int, when: str, stop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """A stop as training ended, with the training scores and --evaluate still to come: under torchrun the command
    that finishes it is `--resume --distributed` in the same torchrun command (as a stop mid-training says), not a
    one-process `wildgan train --resume` (measured with 2 gloo ranks: the same words on both ranks and in log.txt,
    and that command finished the run). So for a stop after it, as rank 0 alone scores the training images (the other
    ranks are done). A rank of the job is played here: its context made by hand, the training stubbed to stop as the
    loops do when a SIGTERM comes while the final networks are written, or to end, and the scoring to meet one. A
    SIGHUP's advice adds how to outlive the terminal: torchrun passes it on under nohup too."""
    import wildgan.cli.train as train_cli
    from wildgan.cli import main, make_parser
    from wildgan.errors import TrainingInterrupted, left_after_training, stop_words
    from wildgan.training import run as run_module
    from wildgan.training.loop import TrainResult

    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.arange(40) % 2)
    out = tmp_path / "my run"

    def train_run(cfg, run_dir, **kw):
        Path(run_dir).mkdir(exist_ok=True)
        if when == "after the training":
            return TrainResult(run_dir=run_dir, nimg=128, final=run_dir / "network-final.json", status="done")
        raise TrainingInterrupted(f"terminated by SIGTERM as training ended at 0.128 kimg; the training is complete "
                                  f"and its networks are saved ({run_dir / 'network-final.json'})", signal.SIGTERM,
                                  where="as training ended at 0.128 kimg", checkpoint_dir=str(run_dir / "checkpoints"),
                                  complete=True, not_run=left_after_training())

    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: _ctx(rank))
    monkeypatch.setattr(dist, "start_together", lambda ctx, setup, run_dir, log=None: setup())
    monkeypatch.setattr(run_module, "train_run", train_run)
    monkeypatch.setattr(run_module, "check_training_memory", lambda cfg, device: None)
    signum = getattr(signal, stop)
    monkeypatch.setattr(train_cli, "_score_training_images", lambda *a, **k: signal.raise_signal(signum))
    monkeypatch.setenv("RANK", str(rank))             # (rank_tag and log.txt's writer read torchrun's variables)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--distributed", "--data", str(data), "--normal", "0", "--device", "cpu", "--out",
                 str(out), "--no-progress", "--evaluate"]) == 128 + signum
    err = capsys.readouterr().err
    again = f"wildgan train --out '{out}' --resume --evaluate --distributed"
    advice = (f"what was to follow it (the training scores, --evaluate) was not run; to finish, run the same torchrun "
              f"command with `{again}`")
    if stop == "SIGHUP":
        advice += (" (torchrun passes a closed terminal's SIGHUP on to every rank, under nohup too: to outlive the "
                   "terminal, run it in tmux or screen, or give torchrun --signals-to-handle SIGTERM,SIGINT,SIGQUIT)")
    tag = "" if rank == 0 else f" (rank {rank} of 2)"
    said = "as training ended at 0.128 kimg" if when == "as training ended" else \
        "after the training, while the training images were scored"
    assert f"wildgan{tag}: {stop_words(signum)} {said}" in err and err.rstrip().endswith(advice), err
    if rank == 0:
        assert (out / "log.txt").read_text(encoding="utf-8").splitlines()[-1].endswith(advice)
    # the command it names parses, --distributed included
    assert make_parser().parse_args(shlex.split(again)[1:]).distributed


def test_rank_0_reads_the_ranks_records_once_and_their_class_as_named(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    """A rank's record edited by hand (a trailing space after its `carried as:` class) read as no class: rank 0
    raised a plain WildganError. And peers_error read the records twice, for the class and for explain_failure's
    account: a record landing in between made an account of some ranks raised as the class of others."""
    from wildgan import errors

    ctx = replace(_ctx(0), world=3)
    for r in (1, 2):
        record_failure(tmp_path, _raised(errors.DataError(f"/pile/{r}.png: truncated")), replace(_ctx(r), world=3))
        path = tmp_path / f"rank-{r}-error.txt"
        path.write_text(path.read_text().replace("carried as: DataError\n", "carried as: DataError \n"))
        time.sleep(0.01)                       # (records are read earliest first)
    assert [kind for *_, kind in dist.other_ranks_failures(tmp_path, ctx)] == ["DataError", "DataError"]
    reads, real = [], dist.other_ranks_failures
    monkeypatch.setattr(dist, "other_ranks_failures", lambda *a, **k: reads.append(a) or real(*a, **k))
    got = dist.peers_error(tmp_path, ctx, _collective_error())
    assert type(got) is errors.DataError and str(got).startswith("rank 1 of 3 failed (and 1 other rank)")
    assert len(reads) == 1


def test_a_full_disk_does_not_hide_why_the_ranks_could_not_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """start_together on rank 0 when rank 1 could not start and the run folder's disk is full: rank 0's `stopped:`
    line cannot be written, and rank 0 still raises what stopped the job (rank 1's start), not "No space left on
    device" for log.txt; likewise when a peer vanished during the agreement (its echo, not the disk's error)."""
    import errno

    from wildgan import fileio

    def full(path, line):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(fileio, "append_line", full)
    monkeypatch.setattr(dist, "append_line", full)
    monkeypatch.setattr(tdist, "all_gather_object", lambda said, mine, group=None: said.__setitem__(
        slice(None), [mine, (None, "RuntimeError: rank 1 cannot read its data")]))
    monkeypatch.setattr(DistContext, "barrier", lambda self: None)
    (tmp_path / "log.txt").write_text("")
    with pytest.raises(StartFailed, match="rank 1 of 2 could not start: RuntimeError: rank 1 cannot read its data"):
        start_together(_ctx(0), lambda: "started", tmp_path)

    echo = _collective_error()

    def gone(*args, **kw):
        raise echo

    monkeypatch.setattr(tdist, "all_gather_object", gone)
    with pytest.raises(type(echo)) as got:
        start_together(_ctx(0), lambda: "started", tmp_path)
    assert got.value is echo


@pytest.mark.parametrize("rank,world", [(0, 2), (1, 2), (0, 1)])
def test_sigterm_during_sharded_scoring_ends_it_as_terminated(rank: int, world: int, scoring_pile: Callable,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture):
    """A scheduler stopping `score --distributed` (torchrun passes its SIGTERM to every rank): each rank says it was
    terminated (rank 1 tagged as such) and exits 143, as training and one-process scoring do. score_files gathered
    the signal as the rank's failure, and the job ended with `error: rank 0: terminated by SIGTERM; rank 1: terminated
    (SIGTERM)`, exit 2. A rank of 2 is played here: its context made by hand, the collectives stubbed (the other rank
    terminated alike). Where another rank may have ended first, the line says where that one's error would be; a job of
    one rank has no other to point to."""
    from wildgan.cli import main

    pile, run, model = scoring_pile(8)       # (score batches of 4: two, one chunk each, one per rank)

    def stopped(*args, **kw):
        os.kill(os.getpid(), signal.SIGTERM)          # as torchrun passes a scheduler's stop on, mid-scoring
        time.sleep(5)                                 # (the CLI's handler raises before this ends)
        raise AssertionError("SIGTERM did not stop the scoring")

    monkeypatch.setattr(model, "score", stopped)
    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: replace(_ctx(rank), world=world))
    for name, value in (("RANK", rank), ("WORLD_SIZE", world), ("LOCAL_RANK", rank)):
        monkeypatch.setenv(name, str(value))
    other = ([], [], (f"rank {1 - rank}: terminated by SIGTERM", None), 0, {})

    def gather(said: list, mine: object, group: object = None) -> None:
        # (the file lists' agreement first, (count, digest): the other rank listed the same files)
        theirs = mine if isinstance(mine, tuple) and len(mine) == 2 else other
        said[:] = [mine, theirs][::1 - 2 * rank][:world]

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    assert main(["score", str(run), "--data", str(pile), "--distributed", "--device", "cpu",
                 "--out", "-", "--no-progress"]) == 143
    err = capsys.readouterr().err
    tag = " (rank 1 of 2)" if rank else ""
    if world == 1:
        assert err.strip() == "wildgan: terminated by SIGTERM", err
    else:
        assert err.startswith(f"wildgan{tag}: terminated by SIGTERM: torchrun sends it to every rank when the job is "
                              f"stopped, and to the ranks still running once one has ended; if another rank failed, "
                              f"its error is on the terminal above"), err


class _Trains(Exception):
    """Raised where train_pgan, past its resume, would start training (_resume_alone)."""


def _resume_alone(monkeypatch: pytest.MonkeyPatch, gather: Callable) -> type[Exception]:
    """train_pgan's resume played on one rank: the other ranks' answers from `gather` (all_gather_object), no module
    broadcast, and a stop (_Trains, returned) where every rank would go on to train."""
    from wildgan.training import loop

    def trains(*a, **kw):
        raise _Trains

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    monkeypatch.setattr(DistContext, "broadcast_modules", lambda self, modules: None)
    monkeypatch.setattr(loop, "build_pyramid", trains)
    return _Trains


@pytest.mark.usefixtures("command_words")
def test_ranks_that_resumed_from_different_checkpoints_stop_together(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    """--resume on a job whose ranks do not share the run folder (a multi-node job on local disks): the ranks found
    different checkpoints, or none, and trained on silently from different states. Now every rank stops, naming each
    rank's checkpoint, the error marked as the job's; the same checkpoint on every rank goes on, and one process
    compares nothing. Rank 1 of 2 is played here: its context made by hand, rank 0's answer stubbed."""
    import numpy as np

    from wildgan.checkpoint import list_checkpoints, read_meta
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.errors import CheckpointError
    from wildgan.training import loop
    from wildgan.training.distributed import met_by_every_rank

    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(
        total_kimg=0.05, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.05, device="cpu"))
    loop.train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    meta = read_meta(list_checkpoints(tmp_path / "checkpoints")[-1])
    mine = f"{meta['weights']} ({meta['nimg']} images, sha256 {meta['sha256'][:12]})"

    rank_0_said: list[str] = []

    def gather(said, this, group=None):
        if this is None:              # failing_alike's agreement: no rank failed to read the checkpoints
            said[:] = [None, None]
        else:
            assert this == mine
            said[:] = [rank_0_said[0], this]

    Trains = _resume_alone(monkeypatch, gather)
    for other in ("none", "ckpt-000000000020.safetensors (20 images, sha256 0123456789ab)"):
        rank_0_said[:] = [other]
        with pytest.raises(CheckpointError) as got:
            loop.train_pgan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None, dist=_ctx(1))
        assert str(got.value) == (f"the ranks resumed from different checkpoints in {tmp_path / 'checkpoints'}: "
                                  f"rank 0: {other}; rank 1: {mine}. Every rank must read the same run folder: give "
                                  f"--out a folder that every node shares")
        assert met_by_every_rank(got.value) and record_failure(tmp_path, got.value, _ctx(1)) is None
    rank_0_said[:] = [mine]
    with pytest.raises(Trains):
        loop.train_pgan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None, dist=_ctx(1))
    monkeypatch.setattr(tdist, "all_gather_object", lambda *a, **k: pytest.fail("one process asked another rank"))
    with pytest.raises(Trains):
        loop.train_pgan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None)


def test_rank_0_sets_damaged_checkpoints_aside_only_once_every_rank_has_read_them(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch):
    """--resume past a damaged newest checkpoint: every rank reads the folder; rank 0 renamed the damaged one aside
    while the others were still reading it, so a rank could find its file gone between its check and its read and
    fail alone, by timing. Now rank 0 (played here, rank 1's answers stubbed) leaves it in place until the ranks have
    agreed on the checkpoint they restored, and sets it aside after; not when they disagree (no resume)."""
    import numpy as np

    from wildgan.checkpoint import list_checkpoints, read_meta
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.errors import CheckpointError
    from wildgan.training import loop

    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(
        total_kimg=0.128, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.064, device="cpu"))
    loop.train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    good, damaged = list_checkpoints(tmp_path / "checkpoints")[-2:]
    weights = damaged.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-1000])                   # truncated: a checksum mismatch
    meta = read_meta(good)
    mine = f"{meta['weights']} ({meta['nimg']} images, sha256 {meta['sha256'][:12]})"

    in_place: list[bool] = []
    rank_1_said: list[str] = []

    def gather(said, this, group=None):
        in_place.append(damaged.is_file())   # what rank 1 may be reading while rank 0 waits for its answer
        said[:] = [None, None] if this is None else [this, rank_1_said[0]]

    Trains = _resume_alone(monkeypatch, gather)
    rank_1_said[:] = ["none"]         # rank 1 read another folder: no resume, nothing set aside
    with pytest.raises(CheckpointError, match="resumed from different checkpoints"):
        loop.train_pgan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None, dist=_ctx(0))
    assert in_place == [True, True] and damaged.is_file()
    in_place.clear()
    rank_1_said[:] = [mine]
    with pytest.raises(Trains):
        loop.train_pgan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None, dist=_ctx(0))
    assert in_place == [True, True]
    assert not damaged.exists() and damaged.with_name(damaged.stem + ".corrupt.json").is_file()


def test_one_process_still_sets_a_damaged_checkpoint_aside_on_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The ranks' read-then-set-aside split (find_good_checkpoint, set_aside_all) keeps one process's --resume (the
    CLI's, Detector.fit(resume=True)'s) as it was: the damaged newest checkpoint is set aside before training goes on,
    so that pruning after the resume cannot take it for the newest and delete the new ones instead."""
    import numpy as np

    from wildgan.checkpoint import list_checkpoints
    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.training import loop

    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(
        total_kimg=0.128, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.064, device="cpu"))
    loop.train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    damaged = list_checkpoints(tmp_path / "checkpoints")[-1]
    weights = damaged.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-1000])                   # truncated: a checksum mismatch
    Trains = _resume_alone(monkeypatch, lambda *a, **k: pytest.fail("one process asked another rank"))
    said: list[str] = []
    with pytest.raises(Trains):
        loop.train_pgan(x, cfg, tmp_path, resume=True, progress=False, log=said.append)
    assert not damaged.exists() and damaged.with_name(damaged.stem + ".corrupt.json").is_file()
    assert any("set the bad checkpoint aside" in m for m in said), said


@pytest.mark.parametrize("rank", [0, 1])
def test_a_training_rank_that_meets_a_peers_end_says_so_in_one_line(rank: int, tmp_path: Path, monkeypatch,
                                                                      capsys):
    """A rank still busy when another rank died meets gloo's closed connection before torchrun's SIGTERM: it printed
    a traceback of torch's internals and exited 1. Now one line: rank 0 names the rank that failed and its traceback
    file (its log.txt's `stopped:` words), another rank where that rank's error is. Rank R of a job is played in this
    process (its context made by hand, training stubbed to fail in a collective)."""
    import numpy as np

    from wildgan.cli import main
    from wildgan.training import run as run_module

    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.arange(40) % 2)
    out = tmp_path / "run"

    def train_run(cfg, run_dir, **kw):
        Path(run_dir).mkdir(exist_ok=True)
        if rank == 0:          # rank 1's own error, recorded as record_failure does
            record_failure(Path(run_dir), _raised(RuntimeError("CUDA out of memory")), _ctx(1))
        raise _collective_error()

    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: _ctx(rank))
    monkeypatch.setattr(dist, "start_together", lambda ctx, setup, run_dir, log=None: setup())
    monkeypatch.setattr(run_module, "train_run", train_run)
    monkeypatch.setattr(run_module, "check_training_memory", lambda cfg, device: None)
    assert main(["train", "--distributed", "--data", str(data), "--normal", "0", "--device", "cpu",
                 "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    said = err.strip().splitlines()[0]
    if rank == 0:
        assert said.startswith("wildgan: error: rank 1 of 2 failed: RuntimeError: CUDA out of memory "), said
        assert str(out / "rank-1-error.txt") in said
    else:
        # (the rank's tag comes from torchrun's environment, not set here)
        assert said.startswith("wildgan: error: another rank of the job stopped (its own error"), said
        assert said.endswith("On rank 1: ValueError: Default process group has not been initialized, please make "
                             "sure to call init_process_group."), said


def test_rank_0s_stopped_line_of_a_failed_start_comes_after_the_warnings_it_held(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch):
    """`train --distributed --resume` whose rank 1 could not start: rank 0's `stopped:` line was appended to log.txt
    directly, past its run log, so the warnings rank 0 said while it read the data (held for the session's first
    line) never reached log.txt. A rank of 2 is played: its context made by hand, the agreement stubbed."""
    from PIL import Image

    from wildgan import cli
    from wildgan.cli import train
    from wildgan.errors import WildganWarning

    pile = tmp_path / "pile"
    pile.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):       # 12x8 among 8x8: the data's warnings (mixed sizes, centre crop)
        Image.fromarray(rng.integers(0, 255, (8, 12) if i < 4 else (8, 8), dtype=np.uint8)).save(pile / f"{i:02d}.png")
    run = tmp_path / "run"
    common = ["--preset", "tiny", "--threads", "1", "--no-progress", "--no-train-scores", "--phase-kimg", "0.1"]
    with pytest.warns(WildganWarning):
        assert cli.main(["train", "--data", str(pile), "--total-kimg", "0.032", "--out", str(run), *common]) == 0
    before = (run / "log.txt").read_text()
    agreements = []

    def gather(said, mine, group=None):       # the out-folder check agreed; the setup: rank 1 could not start
        agreements.append(mine)
        said[:] = [mine, None if len(agreements) == 1 else (None, "RuntimeError: rank 1 cannot read its data")]

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    monkeypatch.setattr(DistContext, "barrier", lambda self: None)
    monkeypatch.setattr(dist, "shutdown", lambda together=True: None)
    monkeypatch.setattr(train, "distributed_context", lambda a: _ctx(0))     # (where cmd_train looks it up)
    with pytest.warns(WildganWarning, match="centre-cropped"):       # (the size is the run's: no word of it)
        assert cli.main(["train", "--data", str(pile), "--total-kimg", "0.064", "--out", str(run), "--resume",
                         "--distributed", *common]) == 2
    assert len(agreements) == 2
    new = (run / "log.txt").read_text()[len(before):].splitlines()
    # (the resume's own line first, as on the terminal: log.txt carries what the command line's reading said)
    assert len(new) == 3 and new[0].startswith(f"resuming with the settings of {run / 'config.yaml'}"), new
    assert new[1].startswith(f"warning: {pile}: images that are not square"), new
    assert new[2] == "stopped: rank 1 of 2 could not start: RuntimeError: rank 1 cannot read its data", new


def test_how_a_training_session_ended_is_recorded_by_the_rank_whose_word_it_is(tmp_path: Path):
    # what `wildgan train` does with the error that ended its session, called here without the CLI
    from wildgan.errors import ConfigError, WildganError
    from wildgan.training.distributed import peer_end_error, record_how_training_ended

    said: list[str] = []
    record_how_training_ended(tmp_path, None, _raised(RuntimeError("boom")), said.append)      # one process
    assert said == ["stopped: boom"]
    record_how_training_ended(tmp_path, None, _raised(ConfigError("not yours")), said.append)  # a refusal ran nothing
    record_how_training_ended(tmp_path / "gone", None, _raised(RuntimeError("x")), said.append)
    assert said == ["stopped: boom"]
    err = _raised(RuntimeError("rank 1 alone"))
    record_how_training_ended(tmp_path, _ctx(1), err, said.append)         # into the folder, for rank 0 to name
    assert said == ["stopped: boom"] and (tmp_path / "rank-1-error.txt").is_file()
    echo = _collective_error()
    record_how_training_ended(tmp_path, _ctx(0), echo, said.append)
    assert said[-1].startswith("stopped: rank 1 of 2 failed: RuntimeError: rank 1 alone"), said
    # the echo of a peer's end as one error: rank 0 names the peer, another rank says where to look; a rank's own
    # error, and one process's, are no echo
    told = peer_end_error(tmp_path, _ctx(0), echo)
    assert told is not None and str(told).startswith("rank 1 of 2 failed: RuntimeError: rank 1 alone"), told
    other = peer_end_error(tmp_path, _ctx(1), echo)
    assert type(other) is WildganError and str(other).startswith("another rank of the job stopped"), other
    assert peer_end_error(tmp_path, _ctx(1), err) is None
    assert peer_end_error(tmp_path, None, echo) is None


def test_an_end_told_by_train_run_is_not_told_again_by_its_caller(tmp_path: Path):
    """train_run tells a rank's end for a Python caller, and the CLI (or replay_run) around it tells it again on its
    way out: rank 1's record written once (not two lines in log.txt), the echo made of rank 0's or rank 1's closed
    connection raised as it is (not an echo of the echo)."""
    from wildgan.training.distributed import peer_end_error, record_how_training_ended

    said: list[str] = []
    err = _raised(RuntimeError("rank 1 alone"))
    for _ in range(2):
        record_how_training_ended(tmp_path, _ctx(1), err, said.append)
    lines = (tmp_path / "log.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("rank 1 of 2 stopped: RuntimeError: rank 1 alone"), lines
    for rank in (0, 1):
        echo = _collective_error()
        told = peer_end_error(tmp_path, _ctx(rank), echo)
        assert told is not None and peer_end_error(tmp_path, _ctx(rank), told) is None
        # the echo's end is its cause's: recorded (rank 0's `stopped:` line) once, from the cause
        record_how_training_ended(tmp_path, _ctx(rank), echo, said.append)
        record_how_training_ended(tmp_path, _ctx(rank), told, said.append)
    assert len(said) == 1 and said[0].startswith("stopped: rank 1 of 2 failed: RuntimeError: rank 1 alone"), said


def test_sharded_scoring_gathers_on_the_cpu_side_group(monkeypatch: pytest.MonkeyPatch):
    """score_pgan_sharded gathers the ranks' batches on the job's CPU-side group (gloo), as score_files does: on the
    default group of a GPU job (NCCL) the numpy scores were staged through the GPU, under NCCL's timeout rather than
    --dist-timeout. Rank 0 of 2 is played here, rank 1's batches scored in this process by the stubbed gather;
    the result is one process's."""
    from wildgan.config import ScoreConfig, net_config_for_preset
    from wildgan.nets import build_pgan
    from wildgan.scoring.pgan_scores import batch_order, score_batches, score_pgan, score_pgan_sharded

    nets = build_pgan(net_config_for_preset("tiny", 8, 1), 0)
    x = (np.random.default_rng(0).random((44, 8, 8, 1)) * 255).astype(np.uint8)
    cfg = ScoreConfig(batch_size=8)
    ctrl = object()
    groups: list[object] = []

    def gather(mine, gathered, dst=0, group=None):
        groups.append(group)
        batches = batch_order(len(x), cfg.batch_size, cfg.shuffle_seed)
        gathered[:] = [mine, score_batches(nets, x, batches, range(1, len(batches), 2), cfg,
                                           device=torch.device("cpu"))]

    def agree(out, mine, group=None):
        groups.append(group)
        out[:] = [mine, mine]                # (rank 1 was given the same images and settings)

    monkeypatch.setattr(tdist, "gather_object", gather)
    monkeypatch.setattr(tdist, "all_gather_object", agree)
    got = score_pgan_sharded(nets, x, cfg, ctx=replace(_ctx(0), ctrl_group=ctrl))
    assert groups == [ctrl, ctrl]            # the ranks' agreement on the images, then the gather
    one = score_pgan(nets, x, cfg)
    np.testing.assert_allclose(got.z, one.z, rtol=1e-6)
    for k, v in one.scores.items():
        np.testing.assert_allclose(got.scores[k], v, rtol=1e-6, err_msg=k)


@pytest.mark.usefixtures("command_words")
def test_ranks_that_rolled_back_to_different_checkpoints_stop_together(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch, one_thread):
    """--on-divergence rollback: every rank reads the run folder on its own, as on a --resume. A rank that found
    another checkpoint, or none (a multi-node job whose --out is not shared), trained on from another state, or
    stopped alone with a DivergenceError not recorded as its own while rank 0 went on. Now every rank raises the
    same CheckpointError naming each rank's outcome, marked as the job's; the same checkpoint everywhere trains on.
    Rank 0 of 2 is played (it writes the checkpoints): rank 1's answer stubbed, the device collectives no-ops."""
    import numpy as np

    from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.errors import CheckpointError
    from wildgan.training import loop
    from wildgan.training.distributed import met_by_every_rank

    real_loss, calls = loop.critic_loss, {"n": 0}

    def poisoned(*a, **k):                   # NaN losses at iterations 17-18 (after the checkpoint at 0.256 kimg)
        loss, terms = real_loss(*a, **k)
        calls["n"] += 1
        return (loss * float("nan") if 16 < calls["n"] <= 18 else loss), terms

    rank_1_said: list[str] = []
    mine: list[str] = []

    def gather(said, this, group=None):
        if this is not None and this.startswith("ckpt-"):
            mine.append(this)
        said[:] = [this, this if rank_1_said == ["same"] else rank_1_said[0]]

    monkeypatch.setattr(loop, "critic_loss", poisoned)
    monkeypatch.setattr(tdist, "all_gather_object", gather)
    for name in ("broadcast_modules", "average_gradients", "barrier"):
        monkeypatch.setattr(DistContext, name, lambda self, *a: None)
    monkeypatch.setattr(DistContext, "mean_tensors", lambda self, acc: acc)
    monkeypatch.setattr(DistContext, "max_ints", lambda self, *v: v)
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(
        total_kimg=0.4, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.1, log_every=4,
        device="cpu", on_divergence="rollback"))
    for i, other in enumerate(("no rollback: DivergenceError: training diverged: ..., and there is no good "
                               "checkpoint to roll back to", "ckpt-000000000128.safetensors (128 images, sha256 "
                                                             "0123456789ab)")):
        calls["n"], rank_1_said[:], mine[:] = 0, [other], []
        with pytest.raises(CheckpointError) as got:
            loop.train_pgan(x, cfg, tmp_path / f"run{i}", progress=False, log=lambda m: None, dist=_ctx(0))
        assert mine and mine[0].startswith("ckpt-000000000256.safetensors (256 images, sha256 "), mine
        assert str(got.value) == (f"the ranks rolled back to different checkpoints in {tmp_path / f'run{i}'}/"
                                  f"checkpoints: rank 0: {mine[0]}; rank 1: {other}. Every rank must read the same "
                                  f"run folder: give --out a folder that every node shares")
        assert met_by_every_rank(got.value)
    calls["n"], rank_1_said[:] = 0, ["same"]
    logs: list[str] = []
    res = loop.train_pgan(x, cfg, tmp_path / "run2", progress=False, log=logs.append, dist=_ctx(0))
    assert res.status == "done" and sum("rolled back" in m for m in logs) == 1, logs


@pytest.mark.parametrize("rank", [0, 1])
def test_a_rollback_every_rank_failed_alike_is_the_job_s_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                               rank: int):
    """same_checkpoint_rolled_back: an error that stopped every rank's rollback alike is raised as it is; one that is
    no divergence (the checkpoint folder unreadable on every rank) is marked as the job's, as failing_alike marks a
    --resume's, so that no rank records it as its own and rank 0 says every rank met it; a DivergenceError (the
    rollbacks used up) stays the ranks' decision, unmarked, as before. Both ranks' answers played by the gather."""
    from wildgan.errors import DivergenceError
    from wildgan.training.distributed import met_by_every_rank, same_checkpoint_rolled_back

    monkeypatch.setattr(tdist, "all_gather_object", lambda said, this, group=None: said.__setitem__(
        slice(None), [this, this]))
    err = PermissionError(13, "Permission denied", str(tmp_path / "checkpoints"))
    with pytest.raises(PermissionError) as got:
        same_checkpoint_rolled_back(_ctx(rank), tmp_path / "checkpoints", error=err)
    assert got.value is err and met_by_every_rank(err)
    assert record_failure(tmp_path, err, _ctx(rank)) is None
    assert explain_failure(tmp_path, _ctx(0), err).startswith("every rank of 2: PermissionError: ")
    div = DivergenceError("training diverged: non-finite D/loss, and the rollbacks are used up")
    with pytest.raises(DivergenceError) as got:
        same_checkpoint_rolled_back(_ctx(rank), tmp_path / "checkpoints", error=div)
    assert got.value is div and not met_by_every_rank(div)


def test_a_python_caller_of_a_torchrun_job_is_told_its_own_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A script that torchrun runs calls init_distributed and train_run / replay_run: the job's refusals and its
    account of a hung peer named the command's --distributed, --device, --dist-timeout and --out, none of which it
    typed."""
    from wildgan.errors import ConfigError, WildganError

    for var in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(WildganError) as alone:
        dist.init_distributed("cpu")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(WildganError) as timeout:
        dist.init_distributed("cpu", timeout_min=0)
    with pytest.raises(ConfigError) as gpu:
        dist.rank_device("cuda:1", 0)
    hung = DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"), backend="gloo", job="j",
                       timeout_s=6.0)
    said = [str(alone.value), str(timeout.value), str(gpu.value), explain_failure(tmp_path, hung, _timeout_error())]
    assert said[0].startswith("init_distributed joins a job that torchrun launched: run the script with torchrun"), said
    assert said[1] == "timeout_min must be a number of minutes above 0, got 0", said
    assert said[2].startswith("device='cuda:1' with a torchrun job: each rank uses the GPU of its LOCAL_RANK"), said
    assert said[2].endswith("give device='cuda', and choose the GPUs with CUDA_VISIBLE_DEVICES"), said
    assert said[3].startswith("no answer from another rank within 0.1 min (init_distributed(timeout_min=...)): a rank "
                              "hung, or worked alone longer than that (then give a larger timeout_min)"), said
    assert not any("--dist" in t or "--device" in t for t in said), said


@pytest.mark.parametrize("rank, echo", [(0, False), (1, False), (0, True)])
def test_a_second_ctrl_c_on_rank_0_of_a_torchrun_job_says_the_torchrun_command_that_continues_it(
        rank: int, echo: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """A second Ctrl-C aborts a rank at once (resume.StopFlag's KeyboardInterrupt): a one-process run says the command
    that continues from its checkpoints, rank 0 of a torchrun job said only `interrupted by SIGINT (Ctrl-C)`. Now it
    says the same torchrun command with --resume --distributed, on the terminal and in log.txt; the other ranks keep
    their one line, the ranks still leave without waiting for each other (they did not agree on this stop), and a
    Ctrl-C that followed a failed collective stays the echo of a peer's end. A rank of the job is played here."""
    from wildgan.cli import main
    from wildgan.training import run as run_module

    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y=np.arange(40) % 2)
    out = tmp_path / "my run"

    def train_run(cfg, run_dir, **kw):
        (Path(run_dir) / "checkpoints").mkdir(parents=True)
        (Path(run_dir) / "checkpoints" / "ckpt-000064.json").write_text("{}")
        if echo:
            try:
                raise _collective_error()
            except Exception:
                raise KeyboardInterrupt from None       # (its context kept: the collective's error)
        raise KeyboardInterrupt

    left: list[bool] = []
    monkeypatch.setattr(dist, "init_distributed", lambda *a, **k: _ctx(rank))
    monkeypatch.setattr(dist, "start_together", lambda ctx, setup, run_dir, log=None: setup())
    monkeypatch.setattr(dist, "shutdown", lambda together=True: left.append(together))
    monkeypatch.setattr(run_module, "train_run", train_run)
    monkeypatch.setattr(run_module, "check_training_memory", lambda cfg, device: None)
    monkeypatch.setenv("RANK", str(rank))             # (rank_tag and log.txt's writer read torchrun's variables)
    monkeypatch.setenv("WORLD_SIZE", "2")
    got = main(["train", "--distributed", "--data", str(data), "--normal", "0", "--device", "cpu", "--out",
                str(out), "--no-progress"])
    err = capsys.readouterr().err.rstrip().splitlines()
    assert left == [False], left
    if echo:
        assert got == 2 and err[-1].startswith("wildgan: error: another rank of the job stopped or hung"), err
        return
    if rank != 0:
        # (tagged with its rank, as its other ends are: it was the one line of a rank's end without its tag)
        assert got == 130 and err[-1] == f"wildgan (rank {rank} of 2): interrupted by SIGINT (Ctrl-C)", err
        return
    said = (f"interrupted by SIGINT (Ctrl-C); checkpoints kept in {out / 'checkpoints'} (the newest: ckpt-000064); "
            f"continue with the same torchrun command and `wildgan train --out '{out}' --resume --distributed`")
    assert got == 130 and err[-1] == f"wildgan: {said}", err
    assert (out / "log.txt").read_text(encoding="utf-8").splitlines()[-1].endswith(f"stopped: {said}")


def test_the_rank_tag_has_one_spelling_shared_by_the_cli_and_the_training_layer(monkeypatch) -> None:
    """cli.common.rank_tag and training.distributed's shutdown warning each spelt ' (rank R of W)' (the training layer
    may not import the CLI's): two copies to keep in step. The CLI's now calls the training layer's."""
    from wildgan.cli import common
    from wildgan.training import distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert common.rank_tag() == distributed.rank_tag() == " (rank 1 of 2)"
    monkeypatch.setattr(distributed, "rank_tag", lambda: " (rank one)")
    assert common.rank_tag() == " (rank one)"
    monkeypatch.delenv("WORLD_SIZE")
    assert common.rank_tag() == ""                  # (without torchrun: torch not imported for it)
