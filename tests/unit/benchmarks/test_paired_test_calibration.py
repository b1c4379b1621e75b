"""benchmarks/paired_test_calibration.py measured DeLong's paired test with its own p (auc_difference runs the
permutation test instead on the small classes the benchmark is about); a p computed otherwise than auc_difference's
would have put numbers that are not DeLong's into RESULTS.md and the choice of where auc_difference uses which test."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from repo_root import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import paired_test_calibration as calib  # noqa: E402

sys.path.pop(0)

from wildgan.evaluation.metrics import auc_difference  # noqa: E402


def test_its_delong_p_is_auc_differences_where_that_uses_delongs_test() -> None:
    rng = np.random.default_rng(3)
    for m, n, auc, rho, sd2 in ((10, 40, 0.75, 0.5, 1.0), (30, 300, 0.95, 0.9, 2.0), (12, 12, 0.6, 0.0, 2.0)):
        y, a, b = calib.draw(rng, m, n, auc, auc, rho, sd2, False)
        d = auc_difference(y, a, b)
        assert d["test"] == "DeLong"
        assert calib.delong_p(y, a, b) == pytest.approx(d["p"], rel=1e-9)
    # a perfect score against one of all ties: DeLong's variance 0 with unequal AUCs, Newcombe's hybrid se, as
    # auc_difference gives it (not p 0)
    y = np.r_[np.ones(12, int), np.zeros(12, int)]
    a, b = y.astype(float), np.zeros(24)
    assert calib.delong_p(y, a, b) == pytest.approx(auc_difference(y, a, b)["p"], rel=1e-12)
    assert 0.0 < calib.delong_p(y, a, b) < 0.05


def test_a_cell_counts_rejections_of_every_test() -> None:
    """A cell's rates are the share of its test sets each test rejects (DeLong's, the permutation test and the
    studentized one, 2026-12-03), at the timed calls' own p-values."""
    row = calib.cell(np.random.default_rng(0), 60, 5, 0.75, 0.5, 2.0, 40)
    assert row["crossing"] and row["reps"] == 40 and row["wildgan_uses"] == "permutation"
    for t in calib.TESTS:
        assert 0.0 <= row[t] <= 1.0 and (row[t] * 40) == pytest.approx(round(row[t] * 40))
        assert row[f"{t}_ms"] > 0.0
    # the same draws again, tested here one by one: the same counts
    rng = np.random.default_rng(0)
    from wildgan.evaluation.metrics import paired_permutation_p, paired_studentized_permutation_p

    assert calib.TESTS == ("delong", "permutation", "studentized")
    want = {"delong": 0, "permutation": 0, "studentized": 0}
    for _ in range(40):
        y, a, b = calib.draw(rng, 5, 55, 0.75, 0.75, 0.5, 2.0, False)
        want["delong"] += calib.delong_p(y, a, b) < 0.05
        want["permutation"] += paired_permutation_p(y, a, b)[0] <= 0.05
        want["studentized"] += paired_studentized_permutation_p(y, a, b)[0] <= 0.05
    assert {t: row[t] for t in calib.TESTS} == {t: v / 40 for t, v in want.items()}
