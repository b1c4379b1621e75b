"""`wildgan score --no-resume` deletes OUT.chunks (an interrupted scoring's finished chunks) only once everything else
is checked: it deleted them first, so a typo in the run path or a bad threshold option threw them away all the
same, and the command that would have continued from them had nothing left to continue from."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from wildgan.cli import main


def test_no_resume_keeps_the_chunks_when_the_command_is_refused(scoring_pile, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from wildgan.scoring import run as scoring

    real_load = scoring.load_model
    pile, run, _ = scoring_pile(12)
    out = tmp_path / "p.csv"
    chunks = Path(f"{out}.chunks")
    opts = ["--data", str(pile), "--device", "cpu", "--chunk-size", "4", "--no-progress", "--out", str(out)]
    real_write = scoring.write_scores_csv

    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(out))

    # three finished chunks kept: the CSV could not be written
    monkeypatch.setattr(scoring, "write_scores_csv", full)
    assert main(["score", str(run), *opts]) == 1
    monkeypatch.setattr(scoring, "write_scores_csv", real_write)
    kept = sorted(f.name for f in chunks.iterdir())
    assert len([k for k in kept if k.startswith("chunk-")]) == 3
    capsys.readouterr()

    # a bad threshold option: refused, the chunks kept
    assert main(["score", str(run), *opts, "--no-resume", "--threshold", "contamination",
                 "--expected-contamination", "1.5"]) != 0
    assert sorted(f.name for f in chunks.iterdir()) == kept
    # a typo in the run path: refused (the real loading), the chunks kept
    with monkeypatch.context() as mp:
        mp.setattr(scoring, "load_model", real_load)
        assert main(["score", str(tmp_path / "rnu"), *opts, "--no-resume"]) != 0
    assert sorted(f.name for f in chunks.iterdir()) == kept
    assert "deleted" not in capsys.readouterr().err

    # the corrected command: the chunks are deleted as asked, and every chunk is scored again
    assert main(["score", str(run), *opts, "--no-resume"]) == 0
    err = capsys.readouterr().err
    assert f"--no-resume: deleted {chunks}" in err and "resumed" not in err, err
    assert out.is_file() and not chunks.exists()
