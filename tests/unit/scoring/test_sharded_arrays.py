"""score_pgan_sharded (an in-memory array over the ranks of a torchrun job): rank 0 puts every rank's scored batches
in place by image index in its own array, so ranks given other images (another length, other pixels) or other scoring
settings (another batch order) stop on every rank, naming how they differ, before anything is scored; before, rank 0
met an IndexError, or wrote scores of other images under these images' rows without a word. Rank 0 of 2 is played
here: its context made by hand, the other rank's answers stubbed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.distributed as tdist

from wildgan.config import ScoreConfig, net_config_for_preset
from wildgan.errors import DataError
from wildgan.nets import build_pgan
from wildgan.scoring.pgan_scores import _sharded_input, batch_order, score_batches, score_pgan, score_pgan_sharded
from wildgan.training.distributed import DistContext

_CFG = ScoreConfig(batch_size=4)


def _rank_0() -> DistContext:
    return DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"), backend="gloo", job="job-a")


def _images(n: int = 12, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 8, 8, 1)) * 255).astype(np.uint8)


def _rank_1_passes(monkeypatch: pytest.MonkeyPatch, nets: Any, x1: np.ndarray, cfg1: ScoreConfig) -> None:
    """Rank 1 called score_pgan_sharded(nets, x1, cfg1): its answer to the agreement (what it sends), and its
    batches, scored here, in the gather."""
    def agree(out: list, mine: Any, group: Any = None) -> None:
        out[:] = [mine, _sharded_input(x1, cfg1, "mixed", 0.0)]

    def gather(mine: Any, gathered: list, dst: int = 0, group: Any = None) -> None:
        batches = batch_order(len(x1), cfg1.batch_size, cfg1.shuffle_seed)
        gathered[:] = [mine, score_batches(nets, x1, batches, range(1, len(batches), 2), cfg1,
                                           device=torch.device("cpu"))]

    monkeypatch.setattr(tdist, "all_gather_object", agree)
    monkeypatch.setattr(tdist, "gather_object", gather)


@pytest.mark.parametrize("rank_1, said", [
    (lambda x: (x[:10], _CFG), "rank 1: 10 images of 8x8x1 uint8 (rank 0: 12 images of 8x8x1 uint8)"),
    (lambda x: (_images(12, seed=1), _CFG), "rank 1: other pixels in the same shape"),
    (lambda x: (x, replace(_CFG, shuffle_seed=_CFG.shuffle_seed + 1)), "rank 1: scoring settings"),
])
def test_ranks_given_other_images_or_settings_stop_before_scoring(rank_1: Callable, said: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    nets = build_pgan(net_config_for_preset("tiny", 8, 1), 0)
    x = _images()
    x1, cfg1 = rank_1(x)
    _rank_1_passes(monkeypatch, nets, x1, cfg1)
    scored: list[int] = []
    monkeypatch.setattr(tdist, "gather_object", lambda *a, **k: scored.append(1))
    with pytest.raises(DataError, match="every rank must pass the same array") as e:
        score_pgan_sharded(nets, x, _CFG, ctx=_rank_0())
    assert said in str(e.value) and not scored


@pytest.mark.usefixtures("one_thread")
def test_ranks_given_the_same_images_score_as_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    nets = build_pgan(net_config_for_preset("tiny", 8, 1), 0)
    x = _images()
    _rank_1_passes(monkeypatch, nets, x.copy(), _CFG)
    got = score_pgan_sharded(nets, x, _CFG, ctx=_rank_0())
    one = score_pgan(nets, x, _CFG)
    for k, v in one.scores.items():
        np.testing.assert_allclose(got.scores[k], v, rtol=1e-6, err_msg=k)
