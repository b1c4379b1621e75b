"""A study rewrites a trained cell's config.json (its score settings, before the cell is evaluated) under the cell's
run lock, as every write of a run's config.json is made: a resume deletes the temp files of those writes that it finds
(data.run_temps), which must never be this write's in progress, and a process training the cell now is not written
under."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from wildgan.config import DataConfig, RunConfig, ScoreConfig, TrainConfig, net_config_for_preset, write_run_config
from wildgan.errors import ConfigError


def test_a_cells_config_is_rewritten_only_under_its_lock(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    from wildgan.studies.study import _take_score_settings
    from wildgan.training.run import run_lock

    cell = tmp_path / "study" / "runs" / "0"
    cfg = RunConfig(data=DataConfig(resolution=8), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(total_kimg=0.02), preset="tiny")
    write_run_config(cfg, cell)
    before = (cell / "config.json").read_bytes()
    said: list[str] = []
    now = replace(cfg, score=ScoreConfig(lam=0.5))
    with run_lock(cell):                          # (a process training the cell holds it so)
        with pytest.raises(ConfigError, match="in use by another wildgan process"):
            _take_score_settings(now, cell, said.append)
    assert (cell / "config.json").read_bytes() == before and said == []
    _take_score_settings(now, cell, said.append)
    assert b'"lam": 0.5' in (cell / "config.json").read_bytes(), said
    assert not (cell / ".wildgan.lock").exists()  # (the lock file goes with the lock)
