"""`wildgan score RUN --data NEW --threshold contamination` after a short training on a pile: the README's quick tour,
copied as written, flagged 1 of 40 new images (20 of them anomalies) by the default score a, which after minutes of
training can still follow the pixels, and said nothing, where train's `next:` line and the report say to use L_r.
Score now adds a note naming --score L_r, for the default score only (a --score given is the user's choice), and not
after a training long enough (SHORT_TRAINING_KIMG) for a to be worth its threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from png_piles import gray_png_pile
from wildgan.cli import main

NOTE = "the default score a can still follow the pixels"

pytestmark = pytest.mark.usefixtures("one_thread")


def _pile_run(tmp_path: Path) -> tuple[Path, Path]:
    pile, run = tmp_path / "pile", tmp_path / "run"
    gray_png_pile(pile)
    assert main(["train", "--data", str(pile), "--preset", "tiny", "--total-kimg", "0.05", "--phase-kimg", "0.02",
                 "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    return pile, run


def _score_err(capsys: pytest.CaptureFixture, run: Path, pile: Path, out: Path, *extra: str) -> str:
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(pile), "--threshold", "contamination", "--no-progress",
                 "--out", str(out), *extra]) == 0
    return capsys.readouterr().err


def test_score_threshold_by_the_default_a_after_a_short_training_names_l_r(tmp_path: Path, capsys, recwarn,
                                                                           monkeypatch) -> None:
    pile, run = _pile_run(tmp_path)
    err = _score_err(capsys, run, pile, tmp_path / "s.csv")
    assert "threshold for score a:" in err, err
    said = " ".join(err.split())                              # (the note is wrapped as the threshold line is)
    assert f"note: after a short training (0.064 kimg) {NOTE}" in said, err
    assert "--score L_r flags by the residual instead (README, 'Which score after a short training')" in said, err
    # a score given is a choice: no note, for a as for L_r; nor without --threshold (nothing is flagged)
    for given in ("a", "L_r"):
        assert NOTE not in " ".join(_score_err(capsys, run, pile, tmp_path / f"{given}.csv", "--score", given).split())
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(pile), "--no-progress", "--out", str(tmp_path / "n.csv")]) == 0
    assert NOTE not in " ".join(capsys.readouterr().err.split())
    # a training long enough for a: no note (the limit moved under this run's 0.064 kimg)
    from wildgan import config

    monkeypatch.setattr(config, "SHORT_TRAINING_KIMG", 0.01)
    assert NOTE not in " ".join(_score_err(capsys, run, pile, tmp_path / "long.csv").split())
