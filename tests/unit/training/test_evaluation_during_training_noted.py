"""An evaluation saved while the run trained (`wildgan evaluate RUN` in another terminal, which evaluates the newest
checkpoint with a warning) is said, as the training ends, to be of earlier networks, as after a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_train_commands import train_tiny_with_a_periodic_checkpoint


def test_an_eval_json_of_a_checkpoint_saved_as_the_first_session_trained_is_noted_at_its_end(
        tiny_npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Measured on MNIST, tiny: `wildgan evaluate RUN` during training wrote eval.json of ckpt 5.056 kimg; the
    training then ended at 10.016 kimg saying nothing of it (the note was a resume's only), and the file's AUCs read
    as the run's. Here the evaluation's record (eval.json's `model`, as evaluate writes it) is written beside the
    first periodic checkpoint."""
    from wildgan import checkpoint
    from wildgan.training.run import networks_record

    out = tmp_path / "run"
    real = checkpoint.save_checkpoint

    def save(folder: Path, name: str, *a: object, **k: object) -> Path:
        path = real(folder, name, *a, **k)
        if name.startswith("ckpt-") and not (out / "eval.json").exists():
            (out / "eval.json").write_text(json.dumps({"model": networks_record(checkpoint.read_meta(path))}))
        return path

    monkeypatch.setattr(checkpoint, "save_checkpoint", save)
    assert train_tiny_with_a_periodic_checkpoint(tiny_npz, out) == 0, capsys.readouterr().err
    note = (f"note: {out / 'eval.json'} is an evaluation of earlier networks (0.064 kimg; the run is now at 0.192 "
            f"kimg): kept as it is; `wildgan evaluate {out}` evaluates the networks trained now")
    assert f"wildgan: {note}" in capsys.readouterr().err.splitlines()
    assert note in (out / "log.txt").read_text().splitlines()
