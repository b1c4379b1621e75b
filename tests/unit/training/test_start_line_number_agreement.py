"""The training's first line (training.run._log_start) read "1 injected anomalies", and with rotations "(1 crops)":
the nouns now agree with their numbers, as the line's other counts ('1 random rotation') did."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.training.run import _log_start


def _line(tmp_path: Path, n_train: int, anomalous: list[int], **info: object) -> str:
    split = SimpleNamespace(train_x=np.zeros((n_train, 8, 8), np.uint8),
                            train_is_anomaly=np.isin(np.arange(n_train), anomalous),
                            info={"normal_classes": ["0"], **info}, resolution=8, channels=1)
    cfg = RunConfig(data=DataConfig(normal=("0",), resolution=8, channels=1), net=net_config_for_preset("tiny", 8, 1),
                    train=TrainConfig(seed=0), preset="tiny")
    said: list[str] = []
    _log_start(cfg, split, tmp_path / "run", resume=False, log=said.append)
    return said[0]


@pytest.mark.parametrize("anomalous, words", [([], "0 injected anomalies"), ([3], "1 injected anomaly"),
                                              ([3, 5], "2 injected anomalies")])
def test_the_injected_anomalies_agree_with_their_number(tmp_path: Path, anomalous: list[int], words: str) -> None:
    assert f"(normal: 0; {words}), 8x8x1" in _line(tmp_path, 10, anomalous), words


def test_one_original_and_one_rotated_anomaly_are_said_in_the_singular(tmp_path: Path) -> None:
    # 1 crop at four angles, the first one anomalous: the originals come first, their rotations after them
    line = _line(tmp_path, 4, [0, 1, 2, 3], rotations=3, protocol="chula-rbc12")
    assert "on 4 images (1 crop, each also in 3 random rotations; normal: 0; 4 injected anomalies (1 crop))" \
        in line, line
    line = _line(tmp_path, 8, [0, 2, 4, 6], rotations=1)
    assert "(4 originals, each also in 1 random rotation; normal: 0; 4 injected anomalies (2 originals))" in line, line
