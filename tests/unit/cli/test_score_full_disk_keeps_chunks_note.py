"""`wildgan score` whose CSV cannot be written for a full disk: the finished chunks it keeps are said, with the
command that continues from them, as after a stop by a signal; the same command then writes the same CSV."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from wildgan.cli import main


def test_a_full_disk_as_the_csv_is_written_says_the_chunks_kept(scoring_pile, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Measured on a 60 kB tmpfs: `error: [Errno 28] No space left on device: 'tinyfs/s.csv'` alone, with 2 chunks
    kept in s.csv.chunks that the same command went on from once there was room."""
    from wildgan.scoring import run as scoring

    pile, run, _ = scoring_pile(12)
    out = tmp_path / "p.csv"
    base = ["score", str(run), "--data", str(pile), "--device", "cpu", "--chunk-size", "4", "--no-progress",
            "--out", str(out)]
    real = scoring.write_scores_csv

    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(out))

    monkeypatch.setattr(scoring, "write_scores_csv", full)
    assert main(base) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-2:] == [f"wildgan: note: 3 of 3 chunks scored and kept in {out}.chunks: the same command continues "
                        f"from them, scoring only the rest",
                        f"wildgan: error: [Errno 28] No space left on device: '{out}'"], err
    monkeypatch.setattr(scoring, "write_scores_csv", real)
    assert main(base) == 0
    assert "3 of them resumed from" in capsys.readouterr().err
    assert out.is_file() and not Path(f"{out}.chunks").exists()
