"""The Python API puts back what it changes in the caller's process: torch's intra-op thread count (training sets
TrainConfig.threads) and its global RNG (training seeds it with its run's seed), when it returns and when it raises.
A user who calls train_run / run_study / Detector.fit and then runs their own torch code must find both as they were."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from wildgan import Detector
from wildgan.cli import main
from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.errors import TrainingInterrupted, WildganWarning
from wildgan.studies import grid, run_study
from wildgan.training import loop
from wildgan.training.loop import train_pgan
from wildgan.training.run import train_run

CALLER_THREADS, RUN_THREADS = 1, 2          # the run's count differs from the caller's, so a leak shows


def _npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = (rng.random((80, 8, 8)) * 255).astype(np.uint8)
    x[40:] //= 4
    np.savez(path, x=x, y=np.repeat(np.arange(2), 40))
    return path


def _cfg(tmp_path: Path) -> RunConfig:
    tc = TrainConfig(total_kimg=0.032, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], device="cpu",
                     threads=RUN_THREADS, seed=5)
    data = DataConfig(data=str(_npz(tmp_path / "d.npz")), normal=("0",), resolution=8, channels=1)
    return RunConfig(data=data, net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")


def _x() -> np.ndarray:
    return (np.random.default_rng(0).random((32, 8, 8)) * 255).astype(np.uint8)


def _train_run(tmp_path: Path) -> None:
    train_run(_cfg(tmp_path), tmp_path / "run", progress=False, log=lambda m: None)


def _train_pgan(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    train_pgan(_x()[..., None], cfg, tmp_path / "run", progress=False, log=lambda m: None)


def _run_study(tmp_path: Path) -> None:
    cells = grid(["0"], [0.0], ["wildgan"], ["image"], [5])
    run_study(_cfg(tmp_path), cells, tmp_path / "study", progress=False, log=lambda m: None)


def _fit(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WildganWarning)     # (it stops before growing to 8x8, and says so)
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, threads=RUN_THREADS, seed=5,
                 run_dir=str(tmp_path / "fit")).fit(_x())


def _cli_train(tmp_path: Path) -> None:
    code = main(["train", "--data", str(_npz(tmp_path / "d.npz")), "--normal", "0", "--preset", "tiny",
                 "--resolution", "8", "--total-kimg", "0.032", "--threads", str(RUN_THREADS), "--seed", "5",
                 "--out", str(tmp_path / "cli"), "--no-progress"])
    if code:
        raise RuntimeError(f"wildgan train exited {code}")


ENTRY_POINTS: dict[str, Callable[[Path], None]] = {
    "train_run": _train_run, "train_pgan": _train_pgan, "run_study": _run_study, "Detector.fit": _fit,
    "cli.main train": _cli_train}


@pytest.fixture(autouse=True)
def _threads_put_back():
    """These tests set the caller's count themselves (_caller): put back the count they found, which is 2 on a 2-core
    machine run without xdist (1 per xdist worker, where the leak went unseen), so the suite's own check of what a
    test leaves changed (conftest) passes however the suite is run."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _caller() -> tuple[int, torch.Tensor]:
    """The caller's state: one thread, and its own seed."""
    torch.set_num_threads(CALLER_THREADS)
    torch.manual_seed(123)
    return torch.get_num_threads(), torch.get_rng_state()


def _assert_kept(before: tuple[int, torch.Tensor]) -> None:
    assert torch.get_num_threads() == before[0], "the thread count was not put back"
    assert torch.equal(torch.get_rng_state(), before[1]), "the global RNG was not put back"


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_an_entry_point_leaves_the_callers_threads_and_rng_as_they_were(tmp_path, name) -> None:
    seen: list[int] = []
    real = loop.build_pyramid

    def watched(*a: Any, **k: Any) -> Any:
        seen.append(torch.get_num_threads())        # (training did set its own count)
        return real(*a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "build_pyramid", watched)
        before = _caller()
        ENTRY_POINTS[name](tmp_path)
        _assert_kept(before)
    assert seen and set(seen) == {RUN_THREADS}, seen


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_an_entry_point_stopped_mid_training_leaves_them_as_they_were(tmp_path, name, error) -> None:
    # raised once the run has set its threads and seeded the global RNG: the networks are built, the data not placed
    seen: list[int] = []

    def stop(*a: Any, **k: Any) -> Any:
        seen.append(torch.get_num_threads())
        raise error("stopped mid-training")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "build_pyramid", stop)
        before = _caller()
        # (the CLI says an error in a line and exits non-zero; the API raises it, a study's or a fit's Ctrl-C as
        # TrainingInterrupted)
        with pytest.raises((error, TrainingInterrupted, RuntimeError)):
            ENTRY_POINTS[name](tmp_path)
        _assert_kept(before)
    assert seen == [RUN_THREADS], seen


def test_the_block_sets_the_count_and_nested_blocks_put_back_what_each_found() -> None:
    from wildgan.devices import caller_torch_state_kept

    before = _caller()
    with caller_torch_state_kept(3):
        assert torch.get_num_threads() == 3
        torch.manual_seed(7)
        with caller_torch_state_kept(2):
            torch.rand(3)
        assert torch.get_num_threads() == 3
        assert torch.equal(torch.get_rng_state(), torch.manual_seed(7).get_state())
    _assert_kept(before)
    with caller_torch_state_kept(None):             # None: the caller's count
        assert torch.get_num_threads() == CALLER_THREADS


def test_cuda_generators_are_put_back_when_initialised_and_seeded_as_torch_would_when_initialised_inside(
        monkeypatch) -> None:
    from wildgan.devices import caller_torch_state_kept

    # no GPU here: torch.cuda's calls stand in, to see which the block makes
    _caller()
    calls: list[tuple[str, Any]] = []
    initialised = [True]
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: initialised[0])
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: ["state of cuda:0"])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda s: calls.append(("set", s)))
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda s: calls.append(("seed", s)))
    with caller_torch_state_kept():
        pass
    assert calls == [("set", ["state of cuda:0"])]
    # not initialised before the block, initialised in it (training on the GPU): seeded with the caller's seed, as
    # torch would seed it at the caller's first CUDA use, not left at the run's stream
    calls.clear()
    initialised[0] = False
    with caller_torch_state_kept():
        initialised[0] = True
        torch.rand(3)
    assert calls == [("seed", 123)]
    # never initialised: CUDA is not touched (asking for its state would initialise it)
    calls.clear()
    initialised[0] = False
    with caller_torch_state_kept():
        pass
    assert calls == []


def test_a_seeding_in_the_block_leaves_cudas_first_use_the_callers_seed_where_cuda_is_not_initialised(
        monkeypatch) -> None:
    """torch.manual_seed queues CUDA's seed for its first use where CUDA is not initialised (torch.cuda._lazy_call):
    CPU training in the block (torch.manual_seed(run seed)) left that queued, so the caller's first CUDA use after it
    drew from the run's seed, not its own (a machine with a GPU, training on the CPU). The block queues the caller's."""
    from wildgan.devices import caller_torch_state_kept

    _caller()
    queued: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda s: queued.append(int(s)))   # (what _lazy_call queues)
    with caller_torch_state_kept():
        torch.manual_seed(5)                       # as train_pgan seeds its run
    assert queued and queued[-1] == 123, queued
    queued.clear()
    with caller_torch_state_kept():                # (no seeding in the block: nothing queued over the caller's)
        torch.rand(3)
    assert queued == []


def test_a_failure_putting_cuda_back_after_an_error_keeps_the_error(monkeypatch) -> None:
    """After a CUDA fault (a device-side assert) every CUDA call fails: torch.cuda.set_rng_state_all on the way out
    raised a second error that hid the one the block raised. The block's error now goes on, the failure to put the
    state back told in a note on it; with no error in the block, that failure is raised."""
    from wildgan.devices import caller_torch_state_kept

    before = _caller()
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: ["state of cuda:0"])

    def broken(states: Any) -> None:
        raise RuntimeError("CUDA error: device-side assert triggered (the context is lost)")

    monkeypatch.setattr(torch.cuda, "set_rng_state_all", broken)
    with pytest.raises(ValueError, match="the block's own error") as got:
        with caller_torch_state_kept(RUN_THREADS):
            torch.manual_seed(5)
            raise ValueError("the block's own error")
    notes = "\n".join(getattr(got.value, "__notes__", []))
    assert "device-side assert triggered" in notes and "torch's state" in notes, notes
    _assert_kept(before)                            # (what could be put back was: the count and the CPU RNG)
    with pytest.raises(RuntimeError, match="device-side assert"):
        with caller_torch_state_kept():
            pass
