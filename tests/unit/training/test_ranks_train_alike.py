"""A torchrun job whose ranks were given other settings, or read other training images (a multi-node job whose
--data is each node's own copy), stops before it trains: every rank raises the same error naming how each rank
differs from rank 0 (training.distributed.same_training_on_every_rank, asked by train_run). Rank 1 of 2 is played
in this process: its context made by hand, rank 0's answer stubbed in the all-gather."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.distributed as tdist

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.errors import ConfigError, DataError
from wildgan.training import distributed as dist
from wildgan.training.distributed import DistContext, met_by_every_rank, same_training_on_every_rank

_IMAGES = {"n_train": 38, "train_ids_sha256": "a" * 64, "train_pixels_sha256": "b" * 64, "resolution": 8}
_SETTINGS = {"method": "wildgan", "net.resolution": 8, "train.seed": 0, "train.threads": 1, "train.device": "cpu"}


def _rank_1() -> DistContext:
    return DistContext(rank=1, world=2, local_rank=1, device=torch.device("cpu"), backend="gloo", job="job-a")


def _rank_0_says(monkeypatch: pytest.MonkeyPatch, change: Callable[[Any], Any]) -> list[Any]:
    """all_gather_object answering for rank 0 with `change` of this rank's own object; the gathered lists kept."""
    seen: list[Any] = []

    def gather(out: list, mine: Any, group: Any = None) -> None:
        out[0], out[1] = change(mine), mine
        seen.append(list(out))

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    return seen


def test_ranks_given_other_settings_stop_naming_them(monkeypatch: pytest.MonkeyPatch) -> None:
    _rank_0_says(monkeypatch, lambda m: ({**m[0], "train.seed": 7}, m[1]))
    with pytest.raises(ConfigError) as e:
        same_training_on_every_rank(_rank_1(), {**_SETTINGS, "train.seed": 1}, _IMAGES)
    assert "different training settings (rank 1: train.seed 1 (rank 0: 7))" in str(e.value)
    assert met_by_every_rank(e.value)
    # a Python caller's words: a RunConfig, not the options and command line it has none of
    assert "give every rank the same RunConfig" in str(e.value) and "command line" not in str(e.value)


def test_ranks_that_read_other_images_stop_naming_how(monkeypatch: pytest.MonkeyPatch) -> None:
    _rank_0_says(monkeypatch, lambda m: (m[0], {**m[1], "n_train": 40, "train_pixels_sha256": "c" * 64}))
    with pytest.raises(DataError) as e:
        same_training_on_every_rank(_rank_1(), _SETTINGS, _IMAGES)
    said = str(e.value)
    assert "different training images (rank 1: n_train 38 (rank 0: 40), train_pixels_sha256 differs)" in said
    assert "--data" not in said and met_by_every_rank(e.value)      # (a Python caller's words: no option)


def test_ranks_that_agree_or_differ_only_per_process_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _rank_0_says(monkeypatch, lambda m: ({**m[0]}, {**m[1]}))
    same_training_on_every_rank(_rank_1(), _SETTINGS, _IMAGES)
    # the thread count (the nodes' CPUs) and the device's spelling may differ between ranks
    seen = _rank_0_says(monkeypatch, lambda m: (m[0], m[1]))
    same_training_on_every_rank(_rank_1(), {**_SETTINGS, "train.threads": 8, "train.device": "auto"}, _IMAGES)
    assert "train.threads" not in seen[0][1][0] and "train.device" not in seen[0][1][0]
    # one process: nothing is gathered
    monkeypatch.setattr(tdist, "all_gather_object", None)
    same_training_on_every_rank(None, _SETTINGS, _IMAGES)


def _toy_run(tmp_path: Path) -> RunConfig:
    """A tiny run's settings (48 8x8 gray images, two phases of 32 images) on an .npz written into tmp_path."""
    data = tmp_path / "toy.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=(rng.random((48, 8, 8)) * 255).astype(np.uint8), y=np.repeat([0, 1], 24))
    return RunConfig(data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1),
                     net=net_config_for_preset("tiny", 8, 1),
                     train=TrainConfig(total_kimg=0.064, phase_kimg=0.032, minibatch=PRESETS["tiny"]["minibatch"],
                                       device="cpu", threads=1, train_scores=False), preset="tiny")


@pytest.mark.parametrize("differs", ["seed", "images"])
def test_train_run_on_ranks_that_differ_stops_before_it_writes_the_run(differs: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """train_run on rank 1 of 2, whose rank 0 was given another --seed or read other images: it trained on (the
    gradients averaged over both) into a run that recorded rank 0's settings and images alone."""
    from wildgan.training import run as run_mod

    cfg = _toy_run(tmp_path)

    def rank_0(mine: Any) -> Any:
        if not (isinstance(mine, tuple) and len(mine) == 2 and isinstance(mine[0], dict)):
            return mine                          # (another agreement: rank 0 says the same)
        settings, images = mine
        if differs == "seed":
            return {**settings, "train.seed": 5}, images
        if differs == "images":
            return settings, {**images, "train_pixels_sha256": "0" * 64}
        return settings, images

    _rank_0_says(monkeypatch, rank_0)
    monkeypatch.setattr(tdist, "broadcast_object_list", lambda box, src=0, group=None: None)
    monkeypatch.setattr(DistContext, "barrier", lambda self: None)
    monkeypatch.setattr(dist, "_CTX", _rank_1())

    def trains(*a: Any, **k: Any) -> None:
        raise AssertionError("training began on ranks that differ")

    monkeypatch.setattr(run_mod, "_train_method", trains)
    run = tmp_path / "run"
    with pytest.raises(ConfigError if differs == "seed" else DataError) as e:
        run_mod.train_run(cfg, run, progress=False, log=lambda m: None)
    assert ("train.seed 0 (rank 0: 5)" if differs == "seed" else "train_pixels_sha256 differs") in str(e.value)
    assert not (run / "config.json").exists() and not (run / "split.json").exists()
    # the same settings and images go on to train
    differs = "none"
    monkeypatch.setattr(dist, "_CTX", replace(_rank_1()))
    with pytest.raises(AssertionError, match="training began"):
        run_mod.train_run(cfg, tmp_path / "run2", progress=False, log=lambda m: None)


def test_overwrite_on_ranks_that_differ_keeps_the_old_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train_run(overwrite=True) on rank 0 of 2, whose rank 1 was given another seed: rank 0 deleted the old run (and
    said the caller's word on the start, the demo's "replacing") before the ranks compared their settings, so the
    refused job left nothing of the run it was refused over. Rank 1's answer is stubbed in the all-gather."""
    from wildgan.training import run as run_mod

    cfg = _toy_run(tmp_path)
    seed_of_rank_1 = [3]

    def gather(out: list, mine: Any, group: Any = None) -> None:
        theirs = mine
        if isinstance(mine, tuple) and len(mine) == 2 and isinstance(mine[0], dict):
            theirs = ({**mine[0], "train.seed": seed_of_rank_1[0]}, mine[1])
        out[0], out[1] = mine, theirs

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    monkeypatch.setattr(tdist, "broadcast_object_list", lambda box, src=0, group=None: None)
    monkeypatch.setattr(DistContext, "barrier", lambda self: None)
    monkeypatch.setattr(dist, "_CTX", DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"),
                                                  backend="gloo", job="job-a"))

    def trains(*a: Any, **k: Any) -> None:
        raise AssertionError("training began")

    monkeypatch.setattr(run_mod, "_train_method", trains)
    run = tmp_path / "run"
    run.mkdir()
    old = {"stats.jsonl": '{"kimg": 1}\n', "network-final.json": "{}", "log.txt": "trained 1 kimg (done)\n"}
    for name, text in old.items():
        (run / name).write_text(text, encoding="utf-8")
    started: list[str] = []
    with pytest.raises(ConfigError, match=r"train\.seed 3 \(rank 0: 0\)"):
        run_mod.train_run(cfg, run, overwrite=True, progress=False, log=lambda m: None,
                          before_start=lambda: started.append("replacing"))
    assert started == []
    for name, text in old.items():
        assert (run / name).read_text(encoding="utf-8").startswith(text), name
    # ranks that agree: the old run is replaced, as --overwrite asks
    seed_of_rank_1[0] = 0
    with pytest.raises(AssertionError, match="training began"):
        run_mod.train_run(cfg, run, overwrite=True, progress=False, log=lambda m: None,
                          before_start=lambda: started.append("replacing"))
    assert started == ["replacing"] and not (run / "network-final.json").exists()
