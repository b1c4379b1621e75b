"""--on-divergence rollback on a tiny 8x8 run: what the run's files say after it rolled back."""

from __future__ import annotations

import json
import math
from typing import Any, Callable

import numpy as np
import pytest

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.errors import DivergenceError
from wildgan.training import loop
from wildgan.training.loop import train_pgan


def _cfg(**train: Any) -> RunConfig:
    tc = dict(total_kimg=0.6, phase_kimg=0.1, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.1,
              log_every=4, device="cpu", on_divergence="rollback")
    tc.update(train)
    return RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(**tc))


def _nan_critic(monkeypatch: pytest.MonkeyPatch, bad: Callable[[int], bool]) -> None:
    """critic_loss gives NaN on the calls (1-based, one per iteration) that bad() names."""
    real, calls = loop.critic_loss, {"n": 0}

    def poisoned(*a: Any, **k: Any) -> Any:
        loss, terms = real(*a, **k)
        calls["n"] += 1
        return (loss * float("nan") if bad(calls["n"]) else loss), terms

    monkeypatch.setattr(loop, "critic_loss", poisoned)


def _x() -> np.ndarray:
    return (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)


def test_each_rollback_halves_the_lr_that_diverged(tmp_path, monkeypatch, one_thread) -> None:
    # NaN from iteration 17 on, for good: every rollback lands on the same checkpoint (written before the first), and
    # each must try half the previous lr, not half the checkpoint's again
    _nan_critic(monkeypatch, lambda n: n > 16)
    logs: list[str] = []
    with pytest.raises(DivergenceError, match=r"after 3 rollbacks.*now 0.000125.*start again with a lower --lr"):
        train_pgan(_x(), _cfg(), tmp_path, progress=False, log=logs.append)
    said = [m.split("with lr ")[1] for m in logs if "rolled back" in m]
    assert said == ["0.0005", "0.00025", "0.000125"], logs


def test_stats_after_a_rollback_continue_from_the_checkpoint(tmp_path, monkeypatch, one_thread) -> None:
    # one burst of NaN losses, then healthy: the run rolls back once and finishes
    _nan_critic(monkeypatch, lambda n: 16 < n <= 18)
    logs: list[str] = []
    res = train_pgan(_x(), _cfg(), tmp_path, progress=False, log=logs.append)
    assert res.status == "done" and sum("rolled back" in m for m in logs) == 1
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    kimg = [r["kimg"] for r in rows]
    # the diverged rows are gone, and the rows of the retried stretch are not written twice
    assert all(a < b for a, b in zip(kimg, kimg[1:])), kimg
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float)), rows
    # the rate is measured from the restored count: not 0 images over the time since the diverged row
    assert all(r["img_per_s"] > 0 for r in rows), [r["img_per_s"] for r in rows]


def test_all_finite_names_the_network_with_a_nan_or_inf_and_passes_large_finite_weights() -> None:
    # screened by the weights' sums: a NaN or inf anywhere makes its sum so, and a sum that overflows from finite
    # weights is checked exactly before the network is called non-finite
    import torch

    from wildgan.training.resume import all_finite

    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
    assert all_finite({"a": a, "b": b}) is None
    with torch.no_grad():
        a.weight.fill_(3e38)                          # finite, but its sum is inf
    assert all_finite({"a": a, "b": b}) is None
    for bad in (float("nan"), float("inf"), float("-inf")):
        with torch.no_grad():
            b.bias[1] = bad
        assert all_finite({"a": a, "b": b}) == "b"
        with torch.no_grad():
            b.bias[1] = 0.0


def test_tensorboard_after_a_rollback_continues_from_the_checkpoint(tmp_path, monkeypatch, one_thread) -> None:
    # as stats.jsonl: the events written between the checkpoint and the divergence are not shown beside the retry's
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'wildgan[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _nan_critic(monkeypatch, lambda n: 16 < n <= 18)
    logs: list[str] = []
    res = train_pgan(_x(), _cfg(tensorboard=True, sample_kimg=0.05), tmp_path, progress=False, log=logs.append)
    assert res.status == "done" and sum("rolled back" in m for m in logs) == 1
    ea = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    for tag in ea.Tags()["scalars"]:
        steps = [e.step for e in ea.Scalars(tag)]
        assert all(a < b for a, b in zip(steps, steps[1:])), (tag, steps)
        assert all(math.isfinite(e.value) for e in ea.Scalars(tag)), tag
    assert [e.step for e in ea.Scalars("D/loss")] == [int(round(r["kimg"] * 1000)) for r in rows]
    grids = [e.step for e in ea.Images("samples/Gs")]
    assert all(a < b for a, b in zip(grids, grids[1:])) and grids[-1] == res.nimg, grids

