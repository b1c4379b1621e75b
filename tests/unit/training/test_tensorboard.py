"""Optional TensorBoard logging: event files appear next to stats.jsonl when asked for."""

import json
import time

import numpy as np
import pytest

from wildgan.config import PRESETS, DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.training.loop import train_pgan


def _tiny_run(total_kimg: float, phase_kimg: float, checkpoint_kimg: float) -> tuple[np.ndarray, RunConfig]:
    """32 random 8x8 gray images and a tiny run's config with TensorBoard on."""
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'wildgan[tensorboard]')")
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) * 255).astype(np.uint8)
    tc = TrainConfig(total_kimg=total_kimg, phase_kimg=phase_kimg, minibatch=PRESETS["tiny"]["minibatch"],
                     checkpoint_kimg=checkpoint_kimg, log_every=4, device="cpu", tensorboard=True)
    return x, RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=tc)


def test_tensorboard_event_files(tmp_path):
    x, cfg = _tiny_run(0.2, 0.05, 0.1)
    train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 200
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(tmp_path / "tensorboard"))
    ea.Reload()
    assert {"D/loss", "G/loss", "E/loss"} <= set(ea.Tags()["scalars"])
    assert "samples/Gs" in ea.Tags()["images"]


def read_steps(log_dir):
    """{tag: [steps]} of every scalar and image event, in the order TensorBoard reads them (all kept, none sampled)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    steps = {t: [e.step for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}
    steps.update({t: [e.step for e in ea.Images(t)] for t in ea.Tags()["images"]})
    return steps


def test_a_resume_hides_the_events_written_after_its_checkpoint(tmp_path, one_thread):
    # a session killed just before its checkpoint at 0.256 kimg (its rows and grids up to there written, the
    # checkpoint not): the resume trains 0.128-0.256 again, and TensorBoard must show that stretch once, as
    # stats.jsonl does, not both sessions' curves over each other
    x, cfg = _tiny_run(0.256, 0.1, 0.128)
    train_pgan(x, cfg, tmp_path, progress=False, log=lambda m: None)
    for p in [*tmp_path.glob("network-final.*"), *(tmp_path / "checkpoints").glob("ckpt-000000000256.*")]:
        p.unlink()
    # (event files sort by the second they were opened in, then by a per-process counter written as text: the
    # resume's must be opened in a later second to be read after the first session's, as a real resume's is)
    (first,) = (tmp_path / "tensorboard").glob("events.out.tfevents.*")
    while time.time() < int(first.name.split(".")[3]) + 1:
        time.sleep(0.05)
    train_pgan(x, cfg, tmp_path, resume=True, progress=False, log=lambda m: None)
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 2
    steps = read_steps(tmp_path / "tensorboard")
    for tag, s in steps.items():
        assert all(a < b for a, b in zip(s, s[1:])), (tag, s)
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert steps["D/loss"] == [int(round(r["kimg"] * 1000)) for r in rows]
    assert steps["samples/Gs"] == [128, 256]
