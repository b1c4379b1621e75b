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
    with pytest.raises(DivergenceError, match=r"after 3 rollbacks.*now 0.000125.*start again with a lower train\.lr"):
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


def _end_cfg(**train: Any) -> RunConfig:
    # 0.55 kimg: 36 iterations of 16 images in rounds of 4, checkpoints at 128, 256, 320, 448 and 512 images, the end
    # at 576, between checkpoints; no stats row (log_every 1000), so only the weights' check can see a NaN
    return _cfg(**{"total_kimg": 0.55, "log_every": 1000, **train})


def test_weights_gone_nan_in_the_last_round_roll_back_and_train_on(tmp_path, monkeypatch, one_thread) -> None:
    _nan_critic(monkeypatch, lambda n: n in (33, 34))     # the last round: iterations 33-36
    logs: list[str] = []
    res = train_pgan(_x(), _end_cfg(), tmp_path, progress=False, log=logs.append)
    assert res.status == "done" and res.nimg == 576
    assert [m for m in logs if "rolled back" in m] == [
        "warning: non-finite weights in G at 0.576 kimg; rolled back to 0.512 kimg with lr 0.0005"], logs
    from wildgan import checkpoint as ckpt

    final, meta = ckpt.load_checkpoint(tmp_path / "network-final.json")
    assert meta["nimg"] == 576 and not ckpt.nonfinite_tensors(list(final.values()))
    end = ckpt.read_meta(tmp_path / "checkpoints" / f"{ckpt.checkpoint_name(576)}.json")
    assert end["lr"] == 0.0005 and end["rollbacks"] == 1


def test_weights_gone_nan_in_the_last_round_stop_as_anywhere_else(tmp_path, monkeypatch, one_thread) -> None:
    # --on-divergence stop: the usual divergence error (with its way on), no final networks, no checkpoint of the end
    _nan_critic(monkeypatch, lambda n: n in (33, 34))
    with pytest.raises(DivergenceError, match=r"non-finite weights in G at 0\.576 kimg.*continue with resume=True "
                                              r"and train\.on_divergence='rollback'"):
        train_pgan(_x(), _end_cfg(on_divergence="stop"), tmp_path, progress=False, log=lambda m: None)
    assert not list(tmp_path.glob("network-final.*"))
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.json"))[-1] == "ckpt-000000000512.json"


@pytest.mark.parametrize("total_kimg", [0.55, 0.5])     # the end between checkpoints, and on one (512 images)
def test_a_signal_in_the_last_round_ends_a_complete_training(tmp_path, monkeypatch, one_thread, total_kimg) -> None:
    # the last round is checked and saved in the loop: a signal seen there must not say "continue with --resume"
    # about a training that is complete, nor leave it without its final networks
    import contextlib
    import signal

    from wildgan.errors import TrainingInterrupted

    seen: dict[str, Any] = {}

    @contextlib.contextmanager
    def keep_flag(flag: Any) -> Any:
        seen["flag"] = flag
        yield

    monkeypatch.setattr(loop, "stop_on_signals", keep_flag)
    last = 33 if total_kimg == 0.55 else 29                # an iteration of the last round
    real, calls = loop.critic_loss, {"n": 0}

    def signalling(*a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == last:
            seen["flag"].signum = signal.SIGTERM
        return real(*a, **k)

    monkeypatch.setattr(loop, "critic_loss", signalling)
    grids: list[int] = []
    real_grid = loop._write_samples

    def counted(*a: Any) -> Any:
        grids.append(a[-1])
        return real_grid(*a)

    monkeypatch.setattr(loop, "_write_samples", counted)
    nimg = 576 if total_kimg == 0.55 else 512
    with pytest.raises(TrainingInterrupted, match=rf"as training ended at {nimg / 1000:.3f} kimg; the training is "
                                                  r"complete and its networks are saved"):
        train_pgan(_x(), _end_cfg(total_kimg=total_kimg, sample_kimg=0.05), tmp_path, progress=False,
                   log=lambda m: None)
    from wildgan import checkpoint as ckpt

    assert ckpt.read_meta(tmp_path / "network-final.json")["nimg"] == nimg
    # the sample grid of the round is written once, by its checkpoint (twice, TensorBoard showed the step twice)
    assert grids[-1] == nimg and len(grids) == len(set(grids)), grids


def test_divergence_messages_say_the_images_shown_as_the_rest_of_the_loop(tmp_path, monkeypatch, one_thread) -> None:
    # kimg with one decimal said 0.3 for both 320 and 256 images (kimg_text: 0.32, 0.256), in the losses' message as
    # in the weights' (test_weights_gone_nan_in_the_last_round_roll_back_and_train_on)
    _nan_critic(monkeypatch, lambda n: 16 < n <= 18)
    logs: list[str] = []
    train_pgan(_x(), _cfg(), tmp_path, progress=False, log=logs.append)
    said = [m for m in logs if "rolled back" in m]
    assert len(said) == 1 and said[0].startswith("warning: non-finite D/"), logs
    assert said[0].endswith(" at 0.32 kimg; rolled back to 0.256 kimg with lr 0.0005"), logs


@pytest.mark.parametrize("spent_in_round,status,nimg", [(9, "done", 576), (8, "budget", 512)])
def test_a_budget_spent_in_the_round_that_completes_the_schedule_is_a_done_training(
        tmp_path, monkeypatch, one_thread, spent_in_round, status, nimg) -> None:
    # 9 rounds of 4 iterations (_end_cfg); the budget is asked once before the loop and once per round. Spent in the
    # last round, the training is complete all the same: network-final.json said "budget"
    calls = {"n": 0}

    def spent(*a: Any) -> bool:
        calls["n"] += 1
        return calls["n"] > spent_in_round

    monkeypatch.setattr(loop, "_over_budget", spent)
    logs: list[str] = []
    res = train_pgan(_x(), _end_cfg(minutes=100.0), tmp_path, progress=False, log=logs.append)
    from wildgan import checkpoint as ckpt

    meta = ckpt.read_meta(tmp_path / "network-final.json")
    assert (res.status, res.nimg, meta["status"], meta["nimg"]) == (status, nimg, status, nimg)
    assert any("wall-clock budget" in m for m in logs) == (status == "budget"), logs


def test_a_rollback_that_finds_no_checkpoint_says_why(tmp_path, monkeypatch, one_thread) -> None:
    # the reason the checkpoint search gave (a file of another kind of run, none that loads) reaches the user, not
    # only "no good checkpoint"
    from wildgan import checkpoint as ckpt
    from wildgan.errors import CheckpointError

    def refused(ck_dir: Any, **k: Any) -> Any:
        raise CheckpointError(f"{ck_dir}/ckpt-x.json: a checkpoint of the wrong kind (kind 'fanogan')")

    _nan_critic(monkeypatch, lambda n: n > 16)
    monkeypatch.setattr(ckpt, "latest_good_checkpoint", refused)
    with pytest.raises(DivergenceError, match=r"no good checkpoint to roll back to \(.*ckpt-x\.json: a checkpoint of "
                                              r"the wrong kind \(kind 'fanogan'\)\)"):
        train_pgan(_x(), _cfg(), tmp_path, progress=False, log=lambda m: None)
