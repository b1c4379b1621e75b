"""The report's table of a saved labelled evaluation (eval.json, an unlabelled run's) read nan without a word where
some test image's score was not finite, while the labelled run's Metrics table says why (_not_finite_text). It now
says so too: counted from the evaluation's own test_scores.csv, or, without that file, from eval.json alone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from wildgan.data.eval_files import SCORES_CSV
from wildgan.evaluation.report import _Page, _saved_evaluation
from wildgan.evaluation.run import evaluate_run
from wildgan.scoring.run import LoadedModel, load_model


def _notes(run: Path) -> list[str]:
    page = _Page("t", run)
    _saved_evaluation(page, run, load_model(run, "cpu"))
    return [part for part in page.md_parts if "not finite" in part]


def test_a_saved_evaluation_with_a_score_not_finite_says_why_it_reads_nan(trained_run: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    assert _notes(run) == []                    # every score finite: no note
    real = LoadedModel.score

    def diverged(self: LoadedModel, x: np.ndarray, **kw: object):
        res = real(self, x, **kw)
        res.scores["a"] = res.scores["a"].copy()
        res.scores["a"][1] = np.nan             # the networks diverged on one image
        return res

    with monkeypatch.context() as mp:
        mp.setattr(LoadedModel, "score", diverged)
        ev = evaluate_run(run, device="cpu", controls=False, log=lambda m: None)
    assert np.isnan(ev["auc"]["a"]) and np.isfinite(ev["auc"]["L_r"])
    notes = _notes(run)
    assert len(notes) == 1 and re.search(rf"The scores of 1 of the {ev['n_test']} test images are not finite", notes[0])
    assert "of a are undefined (nan)" in notes[0], notes
    # without the per-image file: no count, but the undefined score named all the same
    (run / SCORES_CSV).unlink()
    notes = _notes(run)
    assert len(notes) == 1 and "The AUC, AP and interval of a in eval.json are undefined (nan)" in notes[0], notes
