"""revGG's review of the last sessions' source changes (b83c7917..74466404): the percent hint of a refused rate
(config.percent_hint), the removal of a cut checkpoint write's orphan weights (checkpoint.remove_orphan_weights) and
the refusal of from_run's lazy read after the run was resumed (Detector._read_pending_run_scores)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import test_fixJY as lazy_run
from test_fixJY import _from_run, _x
from wildgan.config import DataConfig, percent_hint
from wildgan.errors import ConfigError, DataError

# (test_fixJY's fixtures: the tiny run built once, and a copy of it each test)
built, run = lazy_run.built, lazy_run.run


def test_a_huge_whole_contamination_is_refused_not_an_overflow() -> None:
    """percent_hint converted the value to a float before its range test: an int past a float's range (10**400)
    raised a bare OverflowError from DataConfig, where it had been refused naming data.contamination."""
    assert percent_hint(10**400, "a fraction") == ""
    with pytest.raises(ConfigError, match=r"data\.contamination must be in \[0, 1\), got 1000"):
        DataConfig(contamination=10**400)
    # the hint itself as it was
    assert percent_hint(5, "a fraction") == " (a fraction: for 5% give 0.05)"
    assert percent_hint(float("nan"), "a fraction") == "" and percent_hint(100, "a fraction") == ""


def test_an_orphan_beside_a_whole_set_aside_checkpoint_is_removed_not_moved_over_it(tmp_path: Path) -> None:
    """A checkpoint set aside whole (ckpt-N.corrupt.json and .corrupt.safetensors, kept for a look), then a new write
    of ckpt-N (a rollback retrains to the same image count) cut before its JSON: the new orphan weights are not the
    set-aside one's other half (that half is there already), so they are removed as any orphan is. They were renamed
    over the kept bad weights, which were lost, and the pair left set aside no longer went together."""
    from wildgan import checkpoint as ckpt

    name = ckpt.checkpoint_name(1000)
    (tmp_path / f"{name}.corrupt.json").write_text("{}")
    (tmp_path / f"{name}.corrupt.safetensors").write_bytes(b"the bad checkpoint's weights")
    (tmp_path / f"{name}.safetensors").write_bytes(b"a cut write's weights")
    gone = ckpt.remove_orphan_weights(tmp_path)
    assert gone == [tmp_path / f"{name}.safetensors"]
    assert (tmp_path / f"{name}.corrupt.safetensors").read_bytes() == b"the bad checkpoint's weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.corrupt.json", f"{name}.corrupt.safetensors"]


def test_a_run_resumed_since_a_lazy_from_run_is_not_said_to_have_a_new_training_set(run: Path) -> None:
    """A run resumed (trained further) since from_run holds other networks, so the lazy read is refused as for a run
    trained again; but a resume keeps the run's data and split, and the refusal said "its training set is now the new
    training's", which sent the user looking for a change of data there was not."""
    from wildgan.cli import main

    det = _from_run(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--out", str(run), "--resume", "--total-kimg", "0.128", "--threads", "1",
                     "--no-progress", "--no-train-scores"]) == 0
        with pytest.raises(DataError, match="trained again since") as e:
            det.predict(_x())
    msg = str(e.value)
    assert "new training's" not in msg and "resume" in msg and "Detector.predict" in msg, msg
    assert det.decision_function(_x()).shape == (5,)
