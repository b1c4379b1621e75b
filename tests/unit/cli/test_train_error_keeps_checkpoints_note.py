"""`wildgan train` ended by an OSError during the training (a full disk as a checkpoint is written): the exit code
of docs/cli.md's table (1), and the newest checkpoint kept with the command that continues from it, as a stop by a
signal says them; the resume then finishes the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tiny_train_commands import train_tiny_with_a_periodic_checkpoint

from wildgan.cli import main


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_file_size_limit_at_the_second_checkpoint_says_the_first_is_kept_and_how_to_go_on(
        tiny_npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A real refusal of the file system at the second checkpoint's weights (`ulimit -f` for the one write: Python
    ignores SIGXFSZ, so it gets EFBIG). It exited 2 ("bad input") and said only the error, on the terminal and in
    log.txt, nothing of the checkpoint at 64 images kept nor of --resume."""
    import resource

    from wildgan import checkpoint

    real = checkpoint.save_file
    calls: list[str] = []

    def limited(tensors: object, path: str, *a: object, **k: object) -> None:
        calls.append(path)
        if len(calls) != 2:
            return real(tensors, path, *a, **k)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            return real(tensors, path, *a, **k)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    monkeypatch.setattr(checkpoint, "save_file", limited)
    out = tmp_path / "run"
    code = train_tiny_with_a_periodic_checkpoint(tiny_npz, out)
    err = capsys.readouterr().err
    assert code == 1, (code, err)
    note = (f"the run's checkpoints up to ckpt-000000000064 are kept in {out / 'checkpoints'}: once the cause of the "
            f"error is fixed (space freed), continue with `wildgan train --out {out} --resume`")
    lines = err.strip().splitlines()
    assert lines[-2] == f"wildgan: note: {note}", err
    assert lines[-1].startswith("wildgan: error: [Errno 27] could not write the checkpoint: File too large"), err
    log = (out / "log.txt").read_text().splitlines()
    assert log[-2].startswith("stopped: [Errno 27]") and log[-1] == f"note: {note}", log
    assert [p.name for p in (out / "checkpoints").iterdir() if p.suffix == ".json"] == ["ckpt-000000000064.json"]
    monkeypatch.setattr(checkpoint, "save_file", real)
    assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
    assert (out / "network-final.json").is_file()
