"""`wildgan report RUN --batch-mode isolated` of a run without cached training scores has no threshold to say its
record pixels by: its advice names the command that caches the isolated protocol's training scores (`wildgan score
RUN --batch-mode isolated --threshold contamination`), beside the resume that caches the mixed ones. Followed, the
isolated report has its threshold."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from wildgan.cli import main


def test_record_pixels_advice_of_an_isolated_report_names_the_isolated_scoring() -> None:
    # train --resume --train-scores caches the mixed protocol's training scores only, so the advice for an isolated
    # report names the isolated scoring too (an isolated report would still have no threshold after the resume)
    from wildgan.evaluation.report import _record_pixels_advice

    said = _record_pixels_advice("RUN", "wildgan", " --batch-mode isolated")
    assert "`wildgan train --out RUN --resume --train-scores`" in said
    assert "`wildgan score RUN --batch-mode isolated --threshold contamination --out scores.csv`" in said, said
    assert "--batch-mode" not in _record_pixels_advice("RUN", "wildgan", "")
    # (f-AnoGAN has one protocol: the resume's cache serves an isolated report too)
    assert "wildgan score" not in _record_pixels_advice("RUN", "fanogan", " --batch-mode isolated")


def test_the_isolated_report_s_record_pixels_advice_followed_gives_it_a_threshold(tmp_path: Path,
                                                                                 capsys: pytest.CaptureFixture[str]
                                                                                 ) -> None:
    import sys

    from test_cli import _decode_a_level_up

    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y_test=np.arange(20) % 2)
    run = tmp_path / "run"
    assert main(["train", "--data", str(npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.05",
                 "--phase-kimg", "0.05", "--threads", "1", "--no-progress", "--no-train-scores", "--out",
                 str(run)]) == 0
    _decode_a_level_up(npz, run)
    report = ["report", str(run), "--batch-mode", "isolated", "--top-k", "2", "--threads", "1", "--no-progress",
              "--tsne-points", "5", "--no-controls"]

    def said() -> list[str]:
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda m, *_a, **_k: print(f"wildgan: warning: {m}", file=sys.stderr)
            assert main(report) == 0
        return [ln for ln in capsys.readouterr().err.splitlines() if "changed since" in ln]

    (first,) = said()
    score = f"`wildgan score {run} --batch-mode isolated --threshold contamination --out scores.csv`"
    assert score in first and f"`wildgan train --out {run} --resume --train-scores`" in first, first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--out", str(run), "--resume", "--train-scores", "--no-progress"]) == 0
        assert main([w if w != "scores.csv" else str(tmp_path / "scores.csv") for w in score.strip("`").split()[1:]]) \
            == 0
    assert said() == []                              # (the advice followed: the isolated report has its threshold)
    assert "taken from the 20 training images' scores" in (run / "report" / "report.md").read_text()
