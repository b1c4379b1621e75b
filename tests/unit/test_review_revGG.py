"""revGG's review of the last sessions' source changes (b83c7917..74466404): the percent hint of a refused rate
(config.percent_hint) and the removal of a cut checkpoint write's orphan weights (checkpoint.remove_orphan_weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wildgan.config import DataConfig, percent_hint
from wildgan.errors import ConfigError


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
