"""A pGAN run stopped at a checkpoint and resumed trains the same bits as the run never stopped, wherever the stop
falls in the schedule: inside a stable phase, just before a fade-in starts, inside the fade-in, and just before it
ends. The two turns are where Adam's state is reset (spec 3.2) and where the resolution, the fade weight and the real
images' fading change, so a resume that put back the weights but not lod_bounds, Adam's moments, the latents'
generator or the sampler's (epoch, pos) would drift there first. tests/integration/test_robust_training.py kills a
run at random moments, which need not fall on either turn; these stops are chosen."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wildgan import checkpoint as ckpt
from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.training.loop import train_pgan
from wildgan.training.schedule import schedule

# 8x8 in rounds of 4 x 16 images: 4x4 stable to 100 images, the fade to 8x8 from 100 to 200, 8x8 stable after
PHASE_KIMG = 0.1
TOTAL_KIMG = 0.32
MINIBATCH = PRESETS["tiny"]["minibatch"]


def _cfg() -> RunConfig:
    tc = TrainConfig(total_kimg=TOTAL_KIMG, phase_kimg=PHASE_KIMG, minibatch=MINIBATCH, checkpoint_kimg=0.064,
                     keep_checkpoints=None, log_every=4, device="cpu", seed=3, train_scores=False)
    return RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc, preset="tiny")


def _x() -> np.ndarray:
    # 24 images, not a multiple of the minibatch: minibatches cross the sampler's epochs, whose (epoch, pos) a
    # resume must put back
    return (np.random.default_rng(0).random((24, 8, 8, 1)) * 255).astype(np.uint8)


def _sha256(path: Path) -> str:
    return json.loads(path.read_text(encoding="utf-8"))["sha256"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    run = tmp_path_factory.mktemp("uninterrupted")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_pgan(_x(), _cfg(), run, progress=False, log=lambda m: None)
    finally:
        torch.set_num_threads(n)
    return run


@pytest.mark.parametrize("stop, where", [(64, "inside the 4x4 stable phase"),
                                         (128, "just before the fade-in starts"),
                                         (192, "inside the fade-in"),
                                         (256, "just before the fade-in ends")])
def test_a_resume_trains_the_bits_of_the_run_never_stopped(uninterrupted: Path, tmp_path: Path, stop: int,
                                                           where: str, one_thread) -> None:
    lods = {n: schedule(n, 8, PHASE_KIMG, PHASE_KIMG, MINIBATCH).lod for n in (64, 128, 192, 256)}
    assert lods[64] == 1.0 and 0 < lods[192] < lods[128] < 1 and lods[256] == 0.0, lods   # the stops are where said
    ref = uninterrupted / "checkpoints"
    written = [int(p.stem.split("-")[1]) for p in ckpt.list_checkpoints(ref)]
    assert written == [64, 128, 192, 256, 320], written
    # the run as a stop at `stop` leaves it: its checkpoints up to there, nothing after
    (tmp_path / "checkpoints").mkdir()
    for p in ckpt.list_checkpoints(ref):
        if int(p.stem.split("-")[1]) <= stop:
            for q in (p, p.with_suffix(".safetensors")):
                shutil.copy2(q, tmp_path / "checkpoints" / q.name)
    res = train_pgan(_x(), _cfg(), tmp_path, resume=True, progress=False, log=lambda m: None)
    assert res.nimg == 320
    # every later checkpoint (weights, Gs, Adam's moments and steps, the latents' generator) and the final networks
    for p in ckpt.list_checkpoints(ref):
        if int(p.stem.split("-")[1]) > stop:
            assert _sha256(tmp_path / "checkpoints" / p.name) == _sha256(p), (where, p.name)
            mine = json.loads((tmp_path / "checkpoints" / p.name).read_text(encoding="utf-8"))
            theirs = json.loads(p.read_text(encoding="utf-8"))
            for key in ("iteration", "epoch", "pos", "lod_bounds", "lod", "lr"):
                assert mine[key] == theirs[key], (where, p.name, key)
    assert _sha256(tmp_path / "network-final.json") == _sha256(uninterrupted / "network-final.json"), where
