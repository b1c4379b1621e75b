"""The training-score cache is read only under the key it was written with (scoring.train_scores): other weights,
other training pixels, or a key with a field the reader does not know, each make it stale. The tests beside this
one changed a written key's weights checksum by hand, which a score_key that recorded no checksum at all passed
too (both sides None), so a retrained run's thresholds came from the old networks' scores in silence."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.scoring.train_scores import read_train_scores, same_key, score_key, write_train_scores


def _model(tmp_path: Path, sha: str) -> SimpleNamespace:
    """What the cache's key reads of a loaded run: its config, its weights' checksum, its file and lod."""
    cfg = RunConfig(data=DataConfig(), net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0))
    return SimpleNamespace(cfg=cfg, meta={"sha256": sha}, source=str(tmp_path / "network-final.json"), lod=0)


def test_scores_of_other_weights_are_not_read(tmp_path: Path) -> None:
    old, new = _model(tmp_path, "a" * 64), _model(tmp_path, "b" * 64)
    write_train_scores(tmp_path, old, ["x.png", "y.png"], {"a": np.array([1.0, 2.0])}, "mixed")
    assert score_key(new, "mixed")["weights_sha256"] == "b" * 64
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # stale, not damaged: nothing said
        assert read_train_scores(tmp_path, old, "mixed")["a"].tolist() == [1.0, 2.0]
        assert read_train_scores(tmp_path, new, "mixed") is None


def test_scores_of_other_training_pixels_are_read_only_by_a_caller_with_those_pixels(tmp_path: Path) -> None:
    model = _model(tmp_path, "a" * 64)
    write_train_scores(tmp_path, model, ["x.png"], {"a": np.array([1.0])}, "mixed", pixels="c" * 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_train_scores(tmp_path, model, "mixed", pixels="c" * 64)["a"].tolist() == [1.0]
        assert read_train_scores(tmp_path, model, "mixed", pixels="d" * 64) is None
        assert read_train_scores(tmp_path, model, "mixed") is None          # (split.json's pixels: not these)
    write_train_scores(tmp_path, model, ["x.png"], {"a": np.array([1.0])}, "mixed")
    assert read_train_scores(tmp_path, model, "mixed", pixels="c" * 64) is None


def test_a_key_with_a_field_the_reader_does_not_know_is_another_key() -> None:
    # a newer wildgan's key (a setting added since) describes scores this reader cannot tell apart: stale, as is a
    # key missing a field that is not one of those added since keys were first written
    now = {"scores_version": 2, "weights_sha256": "a", "data": {"square": "crop", "fit": "resize"}}
    assert same_key(dict(now), now)
    assert not same_key({**now, "new_setting": 1}, now)
    assert not same_key({**now, "data": {**now["data"], "new_setting": 1}}, now)
    assert not same_key({k: v for k, v in now.items() if k != "weights_sha256"}, now)
    assert same_key({k: v for k, v in now.items() if k != "scores_version"}, now)     # (added since: KEY_FIELDS_ADDED)
