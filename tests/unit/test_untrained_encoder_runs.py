"""A run an earlier wildgan trained with method wildgan and no encoder (train.encoder_loss none): read back as what it
is (Detector.from_run's parameters say none, and its scoring parameters can still be changed), while training one
again is refused in words that say where the none came from and how to train an encoder instead."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from wildgan.errors import ConfigError, WildganWarning


@pytest.fixture
def untrained_encoder_run(tmp_path: Path) -> Path:
    """A tiny fitted run whose config.json is then made to say encoder_loss none (what an earlier wildgan's
    Detector(encoder_loss='none').fit wrote; the networks' weights do not matter here)."""
    from wildgan import Detector

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    run = tmp_path / "old-run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (networks not grown: a fit this short ends at 4x4)
        Detector(preset="tiny", total_kimg=0.032, phase_kimg=0.1, resolution=8, device="cpu", threads=1,
                 run_dir=str(run)).fit(x)
    whole = json.loads((run / "config.json").read_text())
    assert whole["method"] == "wildgan"
    whole["train"]["encoder_loss"] = "none"
    (run / "config.json").write_text(json.dumps(whole))
    (run / "config.yaml").write_text(yaml.safe_dump(whole, sort_keys=False))
    return run


def test_from_run_of_a_run_without_an_encoder_says_so_in_its_params(untrained_encoder_run: Path) -> None:
    # from_run turned the run's none into 'image': get_params said the networks had a trained encoder, and a save of
    # the Detector wrote that too
    from wildgan import Detector
    from wildgan.config import UNTRAINED_ENCODER_SAID

    UNTRAINED_ENCODER_SAID.clear()
    with pytest.warns(WildganWarning, match="trained without an encoder"):
        det = Detector.from_run(untrained_encoder_run, device="cpu", threshold="contamination")
    assert det.get_params()["encoder_loss"] == "none"
    # the Detector does not refuse itself: its scoring parameters and threshold still change
    det.set_params(lam=0.5)
    det.set_threshold("mad")
    assert det.threshold == "mad" and det.lam == 0.5
    assert len(det.decision_function(np.zeros((4, 8, 8), np.uint8))) == 4
    # saved, it is loaded as what it is (an earlier wildgan's saved Detector(encoder_loss='none') alike), and its
    # scoring parameters change there too (set_params(lam=) was refused as if it asked for a training without E)
    with pytest.warns(WildganWarning, match="trained without an encoder"):
        back = Detector.load(det.save(untrained_encoder_run.parent / "saved"))
    assert back.get_params()["encoder_loss"] == "none"
    back.set_params(lam=0.25)
    # a refit is refused before anything is trained, in words that say where none came from and what trains an E
    with pytest.raises(ConfigError) as e:
        det.fit(np.zeros((8, 8, 8), np.uint8))
    msg = str(e.value)
    assert "got 'none'" in msg and "trained with, by an earlier wildgan" in msg, msg
    assert "set_params(encoder_loss='image')" in msg, msg
    # ... which is so
    det.set_params(encoder_loss="image")
    det._validate(training=True)


def test_a_fresh_detector_with_none_is_refused_as_before() -> None:
    # the words about an earlier wildgan's networks are for a Detector read from one, not for a caller's own none
    from wildgan import Detector

    with pytest.raises(ConfigError) as e:
        Detector(encoder_loss="none", preset="tiny", total_kimg=0.1, phase_kimg=0.1).fit(np.zeros((8, 8, 8), np.uint8))
    assert str(e.value).endswith("got 'none'"), str(e.value)
