"""checkpoint.remove_orphan_weights: the weights file of a checkpoint write cut before its JSON (an orphan) is
removed, and never renamed over the weights of a checkpoint set aside whole as corrupt (kept for the user to look
at), so that the set-aside pair still belongs together."""

from __future__ import annotations

from pathlib import Path


def test_an_orphan_beside_a_whole_set_aside_checkpoint_is_removed_not_moved_over_it(tmp_path: Path) -> None:
    """A checkpoint set aside whole (ckpt-N.corrupt.json and .corrupt.safetensors, kept for a look), then a new write
    of ckpt-N (a rollback retrains to the same image count) cut before its JSON: the new orphan weights are not the
    set-aside one's other half (that half is there already), so they are removed as any orphan is, not renamed over
    the kept bad weights, which would lose them and leave a set-aside pair that no longer goes together."""
    from wildgan import checkpoint as ckpt

    name = ckpt.checkpoint_name(1000)
    (tmp_path / f"{name}.corrupt.json").write_text("{}")
    (tmp_path / f"{name}.corrupt.safetensors").write_bytes(b"the bad checkpoint's weights")
    (tmp_path / f"{name}.safetensors").write_bytes(b"a cut write's weights")
    gone = ckpt.remove_orphan_weights(tmp_path)
    assert gone == [tmp_path / f"{name}.safetensors"]
    assert (tmp_path / f"{name}.corrupt.safetensors").read_bytes() == b"the bad checkpoint's weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.corrupt.json", f"{name}.corrupt.safetensors"]
