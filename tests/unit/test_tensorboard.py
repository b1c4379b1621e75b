"""Optional TensorBoard logging: event files appear next to stats.jsonl when asked for."""

import numpy as np
import pytest

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.training.loop import train_pgan


def test_tensorboard_event_files(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'wildgan[tensorboard]')")
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    tc = TrainConfig(total_kimg=0.2, phase_kimg=0.05, minibatch=PRESETS["tiny"]["minibatch"], checkpoint_kimg=0.1,
                     log_every=4, device="cpu", tensorboard=True)
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc)
    train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 200
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(tmp_path / "tensorboard"))
    ea.Reload()
    assert {"D/loss", "G/loss", "E/loss"} <= set(ea.Tags()["scalars"])
    assert "samples/Gs" in ea.Tags()["images"]
