"""Two NCCL risks of a GPU job, tested on the CPU without processes (training.distributed's module docstring lists
which group each collective runs on):

* a compiled job's ranks meet at a barrier of the CPU (gloo) group before each gradient all-reduce of a phase's first
  iteration (loop.StepRunner._compiled): a rank that compiles for longer then holds the others there, under the
  --dist-timeout, not inside NCCL's all-reduce, whose watchdog kills the process after torch's 10 minutes;
* a GPU job whose ranks did not end together aborts its process groups (distributed.shutdown) instead of destroying
  them: destroy_process_group flushes the NCCL work a rank queued, which a peer that stopped elsewhere never joins;
  where that abort (a private torch API) or the destroy fails, the groups are still left and the rank's own error,
  not the teardown's, goes up.

A GPU job is played on gloo here; tests/integration/test_ddp_compile_skew.py runs the first with 2 processes."""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.distributed as tdist

from wildgan.config import PRESETS, TrainConfig, net_config_for_preset
from wildgan.nets import build_pgan
from wildgan.training import distributed as dist
from wildgan.training.loop import FastOptions, StepRunner, build_pyramid, make_optimizers
from wildgan.training.schedule import schedule


class _Ranks:
    """Rank 0 of 2 as StepRunner sees it, noting the order of its barriers and gradient all-reduces."""

    world, rank = 2, 0

    def __init__(self) -> None:
        self.calls: list[str] = []

    def barrier(self) -> None:
        self.calls.append("barrier")

    def average_gradients(self, params) -> None:
        list(params)
        self.calls.append("reduce")


def _runner(compile_mode: str) -> tuple[StepRunner, _Ranks]:
    nc = net_config_for_preset("tiny", 8, 1)
    tc = TrainConfig(total_kimg=1, phase_kimg=0.032, minibatch=PRESETS["tiny"]["minibatch"], seed=5)
    x = (np.random.default_rng(0).random((40, 8, 8, 1)) * 255).astype(np.uint8)
    nets = build_pgan(nc, tc.seed)
    fast = FastOptions(compile=compile_mode)
    cpu = torch.device("cpu")
    ranks = _Ranks()
    run = StepRunner(nets, make_optimizers(nets, tc, fast, cpu), tc, nc, cpu, build_pyramid(x, cpu),
                     torch.Generator().manual_seed(tc.seed), fast=fast, dist=ranks, log=lambda m: None)
    return run, ranks


@pytest.mark.parametrize("compile_mode", ["default", "off"])
def test_compiled_ranks_meet_before_each_all_reduce_of_a_phases_first_iteration(compile_mode: str, monkeypatch,
                                                                                 one_thread):
    # (dynamo with a backend that runs the traced graph as it is: seconds, where inductor on this CPU takes minutes)
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda f, mode=None, dynamic=None: real_compile(
        f, backend=lambda gm, inputs: gm.forward, dynamic=dynamic))
    run, ranks = _runner(compile_mode)
    stable, fading, later = (schedule(nimg, 8, 0.032, 0.032, run.tc.minibatch) for nimg in (0, 40, 48))
    assert (stable.resolution, stable.fade, fading.resolution) == (4, 0.0, 8) and 1 > fading.fade > later.fade > 0
    seen = []
    try:
        # (the fade's weight changes every round, its graphs do not: a tensor input, compiled once per phase)
        for phase in (stable, stable, fading, later, stable):
            run.iteration(phase)
            seen.append(ranks.calls[:])
            ranks.calls.clear()
    finally:
        torch._dynamo.reset()       # (the graphs cached on the forwards' code are this backend's)
    met = ["barrier", "reduce"] * 3          # the D, G and E steps' all-reduces, each after a barrier
    alone = ["reduce"] * 3
    if compile_mode == "off":              # nothing compiles: nothing to wait for
        assert seen == [alone] * 5
    else:                                  # each phase's first iteration only (a phase seen before compiled then)
        assert seen == [met, alone, met, alone, alone]


@pytest.mark.parametrize("nccl", [True, False])
def test_a_gpu_job_that_did_not_end_together_aborts_its_groups(nccl: bool, world_of_one,
                                                               monkeypatch: pytest.MonkeyPatch):
    """shutdown(together=False), or a together=True whose barrier failed (a peer gone), aborts a GPU job's groups
    (torch's bail-out, which ends the queued NCCL kernels); an end together destroys them (its flush has nothing a
    peer does not join). A CPU job destroys them either way."""
    c10d = tdist.distributed_c10d
    how: list[str] = []
    real_abort, real_destroy = c10d._abort_process_group, tdist.destroy_process_group
    monkeypatch.setattr(c10d, "_abort_process_group", lambda group=None: (how.append("abort"), real_abort(group)))
    monkeypatch.setattr(tdist, "destroy_process_group", lambda group=None: (how.append("destroy"),
                                                                            real_destroy(group)))
    if nccl:      # the default group as a GPU job's runs device tensors (NCCL), here on gloo
        monkeypatch.setattr(dist, "_group_backend", lambda device_type: "nccl" if device_type == "cuda" else "gloo")

    real_barrier, gone = tdist.barrier, []

    def barrier(group=None):
        if gone:
            raise tdist.DistBackendError("Connection closed by peer")
        real_barrier(group=group)

    monkeypatch.setattr(tdist, "barrier", barrier)

    def ended(together: bool, peer_gone: bool = False) -> str:
        dist.init_distributed("cpu")
        gone[:] = [True] if peer_gone else []
        dist.shutdown(together=together)
        assert not tdist.is_initialized() and dist.current() is None
        return how.pop()

    assert ended(together=True) == "destroy"
    assert ended(together=False) == ("abort" if nccl else "destroy")
    assert ended(together=True, peer_gone=True) == ("abort" if nccl else "destroy")
    assert how == []


def _stopping_on(error: Exception, leave) -> None:
    """`leave()` called as the CLI calls shutdown: inside the except block of the error that stopped the rank."""
    try:
        raise error
    except type(error):
        leave()
        raise


def test_an_abort_that_fails_destroys_the_groups_and_names_the_ranks_error(world_of_one,
                                                                           monkeypatch: pytest.MonkeyPatch):
    """torch's _abort_process_group is private: where it raised, the groups stayed initialised (a later process group
    in this process was refused as "already initialized") and the warning did not say why the rank stopped. Now the
    groups are destroyed after all, the warning names the abort's error and the rank's own, and the rank's error is
    the one that goes up."""
    from wildgan.errors import WildganWarning

    def abort(group=None):
        raise RuntimeError("abort is not supported by this build")

    monkeypatch.setattr(tdist.distributed_c10d, "_abort_process_group", abort)
    monkeypatch.setattr(dist, "_group_backend", lambda device_type: "nccl" if device_type == "cuda" else "gloo")
    dist.init_distributed("cpu")
    with pytest.warns(WildganWarning) as got, pytest.raises(ValueError, match="the rank's own error"):
        _stopping_on(ValueError("the rank's own error"), lambda: dist.shutdown(together=False))
    assert not tdist.is_initialized() and dist.current() is None
    said = [str(w.message) for w in got]
    assert len(said) == 1 and said[0].startswith(
        "could not abort the process groups (RuntimeError: abort is not supported by this build); destroying them "
        "instead"), said
    assert said[0].endswith("; this rank stopped on ValueError: the rank's own error"), said
    dist.init_distributed("cpu")            # a later job in this process starts
    dist.shutdown()
    assert not tdist.is_initialized()


@pytest.mark.parametrize("together", [True, False])
def test_a_teardown_that_fails_is_said_not_raised_over_the_ranks_error(together: bool, world_of_one, capsys,
                                                                       monkeypatch: pytest.MonkeyPatch):
    """destroy_process_group raising (a CPU job, or a GPU job's end together) replaced the error the rank was stopping
    on, shutdown being called in its except block. Now it is said, even under a warnings filter that makes warnings
    errors (python -W error: then as text on stderr), and the rank's error goes up."""
    import warnings

    real_destroy = tdist.destroy_process_group

    def destroy(group=None):
        raise RuntimeError("gloo pair teardown failed")

    dist.init_distributed("cpu")
    monkeypatch.setattr(tdist, "destroy_process_group", destroy)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(KeyError, match="the rank's own error"):
                _stopping_on(KeyError("the rank's own error"), lambda: dist.shutdown(together=together))
        assert dist.current() is None
        err = capsys.readouterr().err
        assert ("wildgan: warning: could not leave the process group (RuntimeError: gloo pair teardown failed): a new "
                "process group in this process will be refused as already initialized; this rank stopped on KeyError: "
                "\"the rank's own error\"") in err, err
    finally:
        real_destroy()            # (the fixture's shutdown finds no group left)


def test_a_shutdown_warning_raised_by_a_filter_is_said_in_one_write_naming_the_rank(monkeypatch: pytest.MonkeyPatch):
    """Under python -W error, shutdown's warning went to stderr by print(): the line and its newline in two writes
    (another rank's line could land between them, the ranks sharing the terminal) and without the rank's tag that the
    CLI's warnings and errors carry. It is said as the CLI says a warning now, and a stderr that is closed says
    nothing rather than raising over the rank's error."""
    import io
    import sys
    import warnings

    writes: list[str] = []

    class Stderr(io.StringIO):
        def write(self, s: str) -> int:
            writes.append(s)
            return super().write(s)

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(sys, "stderr", Stderr())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist._say_in_shutdown("could not leave the process group", KeyError("the rank's own error"))
        assert writes == ["wildgan: warning (rank 1 of 2): could not leave the process group; this rank stopped on "
                          "KeyError: \"the rank's own error\"\n"], writes
        closed = io.StringIO()
        closed.close()
        monkeypatch.setattr(sys, "stderr", closed)
        dist._say_in_shutdown("could not leave the process group", None)
