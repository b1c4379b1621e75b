"""The untrained-networks control of an evaluation is scored at the level of detail the trained networks are: a run
stopped before full growth (lod > 0) is scored at its reached resolution, and its control must see the same reduced
queries, or the trained AUC is compared with untrained networks of another resolution."""

from __future__ import annotations

from pathlib import Path

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.data import build_split
from wildgan.evaluation import run as evaluation_run
from wildgan.scoring.run import untrained_model


def test_the_untrained_control_is_scored_at_the_trained_networks_lod(tiny_npz: Path, monkeypatch) -> None:
    cfg = RunConfig(data=DataConfig(data=str(tiny_npz), normal=("0",), resolution=8, channels=1),
                    net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0, seed=1))
    split = build_split(cfg.data)
    model = untrained_model(cfg, "cpu")          # (networks to score: which weights does not matter here)
    model.meta["lod"] = 1.0                      # stopped at 4x4
    made = []
    monkeypatch.setattr(evaluation_run, "untrained_model",
                        lambda *a, **k: made.append(untrained_model(*a, **k)) or made[-1])
    scored_at = []
    real = type(model).score
    monkeypatch.setattr(type(model), "score", lambda self, *a, **k: scored_at.append(self.lod) or real(self, *a, **k))
    evaluation_run.evaluate_model(model, split, controls=True)
    assert len(made) == 1 and made[0].lod == 1.0
    assert scored_at and set(scored_at) == {1.0}     # the trained networks, the other generator and the control
